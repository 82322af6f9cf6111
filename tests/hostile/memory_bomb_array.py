# expect: oom
import flax.linen as nn
import jax.numpy as jnp


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        big = self.param("big", nn.initializers.zeros, (1 << 20, 1 << 20))
        return nn.Dense(10)(x) + big[0, :10]
