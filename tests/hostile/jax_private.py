# expect: forbidden
import flax.linen as nn
import jax

INTERNALS = jax._src.config


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return nn.Dense(10)(x)
