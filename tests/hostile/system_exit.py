# expect: crash
import flax.linen as nn

raise SystemExit(3)


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return nn.Dense(10)(x)
