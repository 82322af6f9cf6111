# expect: forbidden
import flax.linen as nn
from numpy import testing


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        testing.assert_equal(1, 1)
        return nn.Dense(10)(x)
