# logged LM child 2acc062ec18fd19d (search_quality run, 1000 steps): ok, 21060 params, val 0.930
import functools
import flax.linen as nn
import jax
import jax.numpy as jnp

class Model(nn.Module):
    widths: tuple = (512, 128)
    channels: int = 25

    @nn.compact
    def __call__(self, x, train: bool=False):
        x = x[..., None]
        x = nn.relu(nn.Conv(self.channels, (5,), strides=1, padding=1)(x))
        x = nn.relu(nn.Conv(self.channels, (3,), strides=1, padding=1)(x))
        x = nn.relu(nn.Conv(self.channels, (3,), strides=1, padding=1)(x))
        x = nn.relu(nn.Conv(self.channels, (3,), strides=1, padding=1)(x))
        x = nn.relu(nn.Conv(self.channels, (3,), strides=1, padding=1)(x))
        x = nn.relu(nn.Conv(self.channels, (3,), strides=1, padding=1)(x))
        x = nn.relu(nn.Conv(self.channels, (3,), strides=1, padding=1)(x))
        x = x.reshape((x.shape[0], -1))
        return nn.Dense(10)(x.reshape(x.shape[0], -1))
