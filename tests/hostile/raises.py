# expect: crash
import flax.linen as nn


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        raise RuntimeError("the LM wrote this on purpose")
