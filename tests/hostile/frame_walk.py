# expect: forbidden
import flax.linen as nn


def gen():
    yield 1


FRAME = gen().gi_frame.f_back


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return nn.Dense(10)(x)
