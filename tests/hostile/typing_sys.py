# expect: forbidden
import typing

import flax.linen as nn

OS = typing.sys.modules["os"]


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return nn.Dense(10)(x)
