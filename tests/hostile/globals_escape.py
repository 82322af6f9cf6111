# expect: forbidden
import flax.linen as nn

IMPORTER = (lambda: 0).__globals__["__builtins__"]["__import__"]


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return nn.Dense(10)(x)
