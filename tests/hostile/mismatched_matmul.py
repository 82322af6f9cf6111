# expect: shape
import flax.linen as nn
import jax.numpy as jnp


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        w = self.param("w", nn.initializers.lecun_normal(), (17, 10))
        return jnp.dot(x, w)
