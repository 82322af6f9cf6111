# expect: nan
import flax.linen as nn
import jax.numpy as jnp


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return nn.Dense(10)(x) * jnp.log(-1.0)
