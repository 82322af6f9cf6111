# logged LM child 366140da4eb51acd (search_quality run, 1000 steps): ok, 17162 params, val 0.946
import functools
import flax.linen as nn
import jax
import jax.numpy as jnp

class Model(nn.Module):
    hidden: int = 32

    @nn.compact
    def __call__(self, x, train: bool=False):
        x = x[..., None]
        h = nn.RNN(nn.LSTMCell(self.hidden))(x)
        return nn.Dense(10)(h.reshape(h.shape[0], -1))
