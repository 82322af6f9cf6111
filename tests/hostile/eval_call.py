# expect: forbidden
import flax.linen as nn


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        eval("__import__('os').system('id')")
        return nn.Dense(10)(x)
