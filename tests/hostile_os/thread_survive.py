# expect: ok
# kind: os-boundary
# attack: start non-daemon threads that loop forever (sleeping, and one that keeps appending to a file) hoping they outlive the trace; threads die with the sandbox process (os._exit, pid namespace), so nothing survives
import typing

import flax.linen as nn

AG = typing.operator.attrgetter
MODS = AG("modules")(AG("__globals__")(typing.cast)["sys"])
THREADING, TIME, OS = MODS["threading"], MODS["time"], MODS["os"]


def sleeper():
    while True:
        TIME.sleep(0.5)


def writer():
    fd = OS.open(AG("environ")(OS)["HOME"] + "/heartbeat", OS.O_CREAT | OS.O_WRONLY | OS.O_APPEND, 0o644)
    while True:
        OS.write(fd, b".")
        TIME.sleep(0.2)


for target in (sleeper, sleeper, writer):
    THREADING.Thread(target=target, daemon=False).start()


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return nn.Dense(10)(nn.relu(nn.Dense(33)(x)))
