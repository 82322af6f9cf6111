# expect: forbidden
import flax.linen as nn

LEAK = "{0.__class__.__init__.__globals__}".format(nn)


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return nn.Dense(10)(x)
