# logged LM child 3363a8b73bcae834 (search_quality run, 1000 steps): ok, 4510 params, val 0.946
import functools
import flax.linen as nn
import jax
import jax.numpy as jnp

class Model(nn.Module):
    hidden: int = 36

    @nn.compact
    def __call__(self, x, train: bool=False):
        x = x[..., None]
        h = nn.RNN(nn.GRUCell(features=self.hidden))(x)
        return nn.Dense(10)(h[:, -1].reshape(h[:, -1].shape[0], -1))
