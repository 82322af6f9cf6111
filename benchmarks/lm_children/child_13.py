# logged LM child 07e59de34c45c159 (search_quality run, 1000 steps): shape: tracing the model raised TypeError: max_pool() missing 1 required positional arg
import functools
import flax.linen as nn
import jax
import jax.numpy as jnp

class ConvBlock(nn.Module):
    channels: int
    kernel: int = 3

    @nn.compact
    def __call__(self, x, train: bool):
        norm = functools.partial(nn.BatchNorm, use_running_average=not train, momentum=0.9)
        y = nn.Conv(self.channels, (self.kernel,), padding='SAME', use_bias=False)(x)
        y = nn.relu(norm()(y))
        y = nn.Conv(self.channels, (self.kernel,), padding='SAME', use_bias=False)(y)
        y = norm()(y)
        if x.shape[-1] != self.channels:
            x = nn.Conv(self.channels, (1,), use_bias=False)(x)
        return nn.relu(x + y)

class Model(nn.Module):
    channels: int = 51
    widths: tuple = (32, 48)

    @nn.compact
    def __call__(self, x, train: bool=False):
        x = x[..., None]
        for width in self.widths:
            x = ConvBlock(self.channels, width)(x, train)
            x = nn.max_pool(x, strides=2, padding=0)(x)
        x = nn.relu(nn.Conv(self.channels, (3,), strides=2, padding=0)(x))
        x = nn.relu(nn.Conv(self.channels, (3,), strides=2, padding=0)(x))
        x = nn.relu(nn.Conv(self.channels, (3,), strides=2, padding=0)(x))
        x = nn.relu(nn.Conv(self.channels, (3,), strides=2, padding=0)(x))
        x = nn.relu(nn.Conv(self.channels, (3,), strides=2, padding=0)(x))
        x = x.reshape((x.shape[0], -1))
        return nn.Dense(10)(x.reshape(x.shape[0], -1))
