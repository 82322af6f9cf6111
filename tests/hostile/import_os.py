# expect: forbidden
import os

import flax.linen as nn


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        os.system("touch /tmp/pwned")
        return nn.Dense(10)(x)
