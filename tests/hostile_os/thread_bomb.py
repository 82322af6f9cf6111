# expect: crash
# kind: os-boundary
# attack: a thread bomb: 10,000 sleeping threads with a 64 KiB stack (so the address-space limit does not stop it); RLIMIT_NPROC (256) should stop thread creation; it swallows the error, and raises if more than 300 threads started (with its 256 threads asleep, XLA cannot start its own: the sandbox dies, the parent reports it)
import typing

import flax.linen as nn

AG = typing.operator.attrgetter
MODS = AG("modules")(AG("__globals__")(typing.cast)["sys"])
THREADING, TIME = MODS["threading"], MODS["time"]
THREADING.stack_size(64 << 10)
STARTED = 0
try:
    for _ in range(10000):
        THREADING.Thread(target=TIME.sleep, args=(1000,), daemon=True).start()
        STARTED += 1
except Exception as err:
    STOP = repr(err)
if STARTED > 300:
    raise RuntimeError(f"thread limit did not hold: {STARTED} threads started")


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return nn.Dense(10)(nn.relu(nn.Dense(37)(x)))
