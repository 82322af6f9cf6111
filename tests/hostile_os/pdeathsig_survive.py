# expect: timeout
# kind: os-boundary
# attack: clear the sandbox's parent-death signal (prctl(PR_SET_PDEATHSIG, 0) through ctypes from sys.modules) and sleep forever; on the deadline the zygote kills only the intermediate, so without the death signal the sandbox (pid 1 of its namespace) must still be killed some other way: no process may survive
import typing

import flax.linen as nn

AG = typing.operator.attrgetter
MODS = AG("modules")(AG("__globals__")(typing.cast)["sys"])
MODS["ctypes"].CDLL(None).prctl(1, 0, 0, 0, 0)
MODS["time"].sleep(1000)


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return nn.Dense(10)(x)
