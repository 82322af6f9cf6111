# expect: timeout
import flax.linen as nn

while True:
    pass


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return nn.Dense(10)(x)
