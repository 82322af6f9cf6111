# logged LM child 369bd0467f5e6e8e (search_quality run, 1000 steps): shape: model output is (4, 10), expected (2, 10) for a batch of 2
import functools
import flax.linen as nn
import jax
import jax.numpy as jnp

class Model(nn.Module):
    channels: int = 25

    @nn.compact
    def __call__(self, x, train: bool=False):
        x = x[..., None]
        x = nn.relu(nn.Conv(self.channels, (4,), strides=1, padding=1)(x))
        x = nn.relu(nn.Conv(self.channels, (3,), strides=1, padding=1)(x))
        x = nn.relu(nn.Conv(self.channels, (2,), strides=1, padding=1)(x))
        x = nn.relu(nn.Conv(self.channels, (2,), strides=1, padding=1)(x))
        x = nn.relu(nn.Conv(self.channels, (2,), strides=1, padding=1)(x))
        x = nn.relu(nn.Conv(self.channels, (2,), strides=1, padding=1)(x))
        x = nn.relu(nn.Conv(self.channels, (1, 2), strides=1, padding=1)(x))
        x = x.reshape((x.shape[0], -1))
        return nn.Dense(10)(x.reshape(x.shape[0], -1))
