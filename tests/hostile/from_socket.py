# expect: forbidden
from socket import create_connection

import flax.linen as nn


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        create_connection(("10.0.0.1", 80))
        return nn.Dense(10)(x)
