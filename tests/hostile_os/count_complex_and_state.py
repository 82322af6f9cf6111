# expect: ok
# kind: rigged-size
# size: 3330
# attack: hide numbers from the parameter count: complex64 parameters hold two trained reals each (a 40 x 10 complex kernel and 10 complex biases: 820 reals, counted 410 if a complex number counts once), and a fixed 40 x 50 random projection kept in a variable collection other than "params" (2,000 numbers the network needs, counted 0 if only "params" counts); a real Dense read-out (510). The size must be every real it carries: 820 + 2,000 + 510
import flax.linen as nn
import jax
import jax.numpy as jnp


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        init = nn.initializers.lecun_normal(dtype=jnp.complex64)
        kernel = self.param("kernel", init, (40, 10), jnp.complex64)
        bias = self.param("bias", nn.initializers.zeros, (10,), jnp.complex64)
        projection = self.variable("features", "projection",
                                   lambda: jax.random.normal(jax.random.key(0), (40, 50))).value
        z = x.astype(jnp.complex64) @ kernel + bias
        return jnp.real(z) + jnp.imag(z) + nn.Dense(10)(jnp.tanh(x @ projection))
