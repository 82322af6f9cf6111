# expect: forbidden
import flax.linen as nn
import numpy as np

DATA = np.loadtxt("/etc/hostname", dtype=str)


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return nn.Dense(10)(x)
