# logged LM child 0912471b703852fe (search_quality run, 1000 steps): ok, 16385 params, val 0.952
import functools
import flax.linen as nn
import jax
import jax.numpy as jnp

class Model(nn.Module):
    channels: int = 25

    @nn.compact
    def __call__(self, x, train: bool=False):
        x = x[..., None]
        x = nn.relu(nn.Conv(self.channels, (4,), strides=1, padding=0)(x))
        x = nn.relu(nn.Conv(self.channels, (3,), strides=1, padding=0)(x))
        x = nn.relu(nn.Conv(self.channels, (3,), strides=1, padding=0)(x))
        x = nn.relu(nn.Conv(self.channels, (3,), strides=1, padding=0)(x))
        x = nn.relu(nn.Conv(self.channels, (3,), strides=1, padding=0)(x))
        x = nn.relu(nn.Conv(self.channels, (3,), strides=1, padding=0)(x))
        x = x.reshape((x.shape[0], -1))
        return nn.Dense(10)(x.reshape(x.shape[0], -1))
