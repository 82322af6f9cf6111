# expect: ok
# kind: take-down
# attack: os.kill(os.getppid(), 9) (getppid is 0 in the pid namespace: kill(0) hits the zygote's process group), killpg(0), kill(-1, 9), kill(1, 9) and SIGSTOP to the group; Landlock's signal scoping and the pid namespace protect the zygote and evaluator, so later programs still run
import typing

import flax.linen as nn

AG = typing.operator.attrgetter
OS = AG("modules")(AG("__globals__")(typing.cast)["sys"])["os"]
RESULTS = []
for attempt in (lambda: OS.kill(OS.getppid(), 9), lambda: OS.killpg(0, 9), lambda: OS.kill(0, 19),
                lambda: OS.kill(-1, 9), lambda: OS.kill(1, 9), lambda: OS.killpg(OS.getpgid(0), 9)):
    try:
        RESULTS.append(repr(attempt()))
    except Exception as err:
        RESULTS.append(repr(err))


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return nn.Dense(10)(nn.relu(nn.Dense(27)(x)))
