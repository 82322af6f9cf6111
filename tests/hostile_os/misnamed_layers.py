# expect: ok
# kind: rigged-size
# width: 10
# depth: 1
# attack: forge LLMatic's descriptors through names: 62 nested modules each holding a "bias" of 2,000 zeros that the forward pass never multiplies, beside a single Dense(10) that does all the work; read from the parameter tree this is depth 63 and width 2,000, from the computation depth 1 and width 10 (the junk still counts towards the size)
import flax.linen as nn
import jax.numpy as jnp


class Junk(nn.Module):
    depth: int

    @nn.compact
    def __call__(self):
        bias = self.param("bias", nn.initializers.zeros, (2000,))
        return bias.sum() + (Junk(self.depth - 1)() if self.depth > 1 else 0.0)


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return nn.Dense(10)(x) + 0.0 * Junk(62)()
