# expect: forbidden
import flax.linen as nn

sneaky = getattr(nn, "__" + "builtins__")


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return nn.Dense(10)(x)
