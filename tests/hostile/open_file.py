# expect: forbidden
import flax.linen as nn

SECRET = open("/etc/passwd").read()


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return nn.Dense(10)(x)
