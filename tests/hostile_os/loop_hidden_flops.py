# expect: ok
# kind: rigged-size
# flops: 2*40*64 + 64 + 50*(2*64*64 + 64) + 2*64*10 + 10
# width: 64
# depth: 3
# attack: hide the cost in a loop: XLA's cost analysis counts a while loop's body once, so 50 iterations of a 64 x 64 recurrent product report as one (about 14,700 FLOPs against the real 420,000); LLMatic places networks by those FLOPs
import flax.linen as nn
import jax
import jax.numpy as jnp


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        h = nn.Dense(64)(x)
        recurrent = self.param("recurrent", nn.initializers.orthogonal(), (64, 64))
        h = jax.lax.fori_loop(0, 50, lambda i, h: jnp.tanh(h @ recurrent), h)
        return nn.Dense(10)(h)
