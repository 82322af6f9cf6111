# expect: interface
import flax.linen as nn


class Net(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return nn.Dense(10)(x)
