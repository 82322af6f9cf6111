# logged LM child 27766ecb470fdce4 (search_quality run, 1000 steps): ok, 3626 params, val 0.924
import functools
import flax.linen as nn
import jax
import jax.numpy as jnp

class Model(nn.Module):
    hidden: int = 32
    activation: str = 'softmax'
    h: int = 32

    @nn.compact
    def __call__(self, x, train: bool=False):
        x = x[..., None]
        h = nn.RNN(nn.GRUCell(features=self.hidden))(x)
        return nn.Dense(10)(h[:, -1].reshape(h[:, -1].shape[0], -1))

    @nn.compact
    def forward(self, x):
        return self.h[x]
