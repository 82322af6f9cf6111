# logged LM child 067c301d38a944e8 (search_quality run, 1000 steps): crash: tracing the model raised ZeroDivisionError: division by zero
import functools
import flax.linen as nn
import jax
import jax.numpy as jnp

class Model(nn.Module):
    widths: tuple = (32, 48)
    channels: int = 25

    @nn.compact
    def __call__(self, x, train: bool=False):
        x = x[..., None]
        x = nn.relu(nn.Conv(self.channels, (4,), strides=2, padding=1)(x))
        x = nn.relu(nn.Conv(self.channels, (4,), strides=2, padding=1)(x))
        x = nn.relu(nn.Conv(self.channels, (4,), strides=2, padding=1)(x))
        x = nn.relu(nn.Conv(self.channels, (4,), strides=2, padding=1)(x))
        x = nn.relu(nn.Conv(self.channels, (4,), strides=2, padding=1)(x))
        x = nn.relu(nn.Conv(self.channels, (4,), strides=2, padding=1)(x))
        x = nn.relu(nn.Conv(self.channels, (4,), strides=2, padding=1)(x))
        x = x.reshape((x.shape[0], -1))
        return nn.Dense(10)(x.reshape(x.shape[0], -1))
