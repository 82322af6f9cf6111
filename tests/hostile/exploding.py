# expect: nan
import flax.linen as nn
import jax.numpy as jnp


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        h = nn.Dense(10)(x)
        return jnp.exp(jnp.exp(jnp.exp(h * 100.0)))
