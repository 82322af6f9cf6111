# expect: crash
import flax.linen as nn


def deep(n):
    return deep(n + 1)


DEPTH = deep(0)


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return nn.Dense(10)(x)
