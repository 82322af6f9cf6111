# expect: oom
import flax.linen as nn

HOARD = [0] * (10 ** 11)


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return nn.Dense(10)(x)
