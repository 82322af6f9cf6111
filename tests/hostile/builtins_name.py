# expect: forbidden
import flax.linen as nn

os = __builtins__["__import__"]("os")


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return nn.Dense(10)(x)
