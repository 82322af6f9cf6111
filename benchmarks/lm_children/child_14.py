# logged LM child 06af586d94963ff9 (search_quality run, 1000 steps): crash: tracing the model raised AttributeError: "LSTMCell" object has no attribute "poo
import functools
import flax.linen as nn
import jax
import jax.numpy as jnp

class Model(nn.Module):
    hidden: int = 64

    @nn.compact
    def __call__(self, x, train: bool=False):
        x = x[..., None]
        h = nn.LSTMCell(features=[None, self.hidden, nn.RNN(nn.GRUCell(3))(x)]).pool(5)
        return nn.Dense(10)((h[:, 3] - h[:, self.hidden]).reshape((h[:, 3] - h[:, self.hidden]).shape[0], -1))
