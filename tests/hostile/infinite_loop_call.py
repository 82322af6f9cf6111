# expect: timeout
import flax.linen as nn


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        n = 0
        while n >= 0:
            n += 1
        return nn.Dense(10)(x)
