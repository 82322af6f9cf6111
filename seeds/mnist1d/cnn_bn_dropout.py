"""A wider CNN of residual conv blocks with batch norm, global pooling and dropout (about 26k parameters)."""

import functools

import flax.linen as nn
import jax.numpy as jnp


class ConvBlock(nn.Module):
    channels: int
    kernel: int = 3

    @nn.compact
    def __call__(self, x, train: bool):
        norm = functools.partial(nn.BatchNorm, use_running_average=not train, momentum=0.9)
        y = nn.Conv(self.channels, (self.kernel,), padding="SAME", use_bias=False)(x)
        y = nn.relu(norm()(y))
        y = nn.Conv(self.channels, (self.kernel,), padding="SAME", use_bias=False)(y)
        y = norm()(y)
        if x.shape[-1] != self.channels:
            x = nn.Conv(self.channels, (1,), use_bias=False)(x)
        return nn.relu(x + y)


class Model(nn.Module):
    widths: tuple = (32, 48)

    @nn.compact
    def __call__(self, x, train: bool = False):
        x = x[..., None]
        for width in self.widths:
            x = ConvBlock(width)(x, train)
            x = nn.max_pool(x, (2,), strides=(2,))
        x = jnp.concatenate([x.mean(axis=1), x.max(axis=1)], axis=-1)
        x = nn.Dropout(0.2, deterministic=not train)(x)
        return nn.Dense(10)(x)
