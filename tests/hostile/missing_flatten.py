# expect: shape
import flax.linen as nn


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        x = nn.relu(nn.Conv(8, (3,), padding="VALID")(x[..., None]))
        return nn.Dense(10)(x)
