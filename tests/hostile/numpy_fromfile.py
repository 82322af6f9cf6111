# expect: forbidden
import flax.linen as nn
import numpy as np

RAW = np.fromfile("/proc/self/environ", dtype=np.uint8)


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return nn.Dense(10)(x)
