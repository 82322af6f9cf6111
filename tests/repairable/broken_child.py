# LM-style defects that the repairs fix (tests/test_lm_repair.py); kept as written, so not linted.
import sys  # an unused forbidden import

import flax.linen as nn


class ConvBlock(nn.Module):
    channels: int

    @nn.compact
    def __call__(self, x, train):
        x = nn.Conv(self.channels, (3,), kernel_size=(5,), padding="SAME")(x)
        x = nn.BatchNorm(use_running_average=not train)(x)
        return nn.ReLU()(x)


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train: bool = False):
        x = x[..., None]
        x = ConvBlock(self.channels)(x)
        x = nn.MaxPool1d(kernel_size=2, stride=2)(x)
        x = nn.LeakyReLU(0.1)(nn.Conv1d(self.features, 3)(x))
        x = nn.Flatten()(x)
        x = nn.Dropout(0.1)(x)
        return nn.Linear(10)(x)
