# expect: forbidden
import flax.linen as nn
import jax


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        jax.debug.callback(print, x)
        return nn.Dense(10)(x)
