"""The MNIST-1D paper's CNN: three strided convolutions and a linear read-out (5,210 parameters; 94 %)."""

import flax.linen as nn


class Model(nn.Module):
    channels: int = 25

    @nn.compact
    def __call__(self, x, train: bool = False):
        x = x[..., None]
        x = nn.relu(nn.Conv(self.channels, (5,), strides=2, padding=1)(x))
        x = nn.relu(nn.Conv(self.channels, (3,), strides=2, padding=1)(x))
        x = nn.relu(nn.Conv(self.channels, (3,), strides=2, padding=1)(x))
        x = x.reshape((x.shape[0], -1))
        return nn.Dense(10)(x)
