# logged LM child 29fa86669782ad91 (search_quality run, 1000 steps): ok, 35530 params, val 0.960
import functools
import flax.linen as nn
import jax
import jax.numpy as jnp

class Model(nn.Module):
    hidden: int = 32
    input_size: int = 40

    @nn.compact
    def __call__(self, x, train: bool=False):
        x = x[..., None]
        x = nn.relu(nn.Conv(self.input_size, 3, padding=1)(x))
        x = nn.relu(nn.Conv(self.input_size, 3, padding=1)(x))
        x = nn.relu(nn.Conv(self.input_size, 3, padding=1)(x))
        x = nn.relu(nn.Conv(self.input_size, 3, padding=1)(x))
        x = nn.relu(nn.Conv(self.input_size, 3, padding=1)(x))
        x = x.reshape((x.shape[0], -1))
        return nn.Dense(10)(x.reshape(x.shape[0], -1))
