# logged LM child 0357463d3051e8b6 (search_quality run, 1000 steps): ok, 40138 params, val 0.898
import functools
import flax.linen as nn
import jax
import jax.numpy as jnp

class Model(nn.Module):
    widths: tuple = (32, 48)

    @nn.compact
    def __call__(self, x, train: bool=False):
        x = x[..., None]
        x = nn.relu(nn.Conv(self.widths[0], (5,), strides=2, padding=1)(x))
        x = nn.relu(nn.Conv(self.widths[1], (3,), strides=2, padding=1)(x))
        x = nn.relu(nn.Conv(self.widths[1], (3,), strides=2, padding=1)(x))
        x = nn.relu(nn.Conv(self.widths[1], (3,), strides=2, padding=1)(x))
        x = nn.relu(nn.Conv(self.widths[1], (3,), strides=2, padding=1)(x))
        x = nn.relu(nn.Conv(self.widths[1], (3,), strides=2, padding=1)(x))
        x = nn.relu(nn.Conv(self.widths[1], (3,), strides=2, padding=1)(x))
        x = x.reshape((x.shape[0], -1))
        return nn.Dense(10)(x.reshape(x.shape[0], -1))
