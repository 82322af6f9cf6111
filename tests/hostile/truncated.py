# expect: syntax
import flax.linen as nn


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        x = nn.Conv(16, (3,))(x[..., None]
