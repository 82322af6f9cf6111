# expect: forbidden
# kind: forged-program
# attack: the QR kernel orthogonal initialisers use (lapack_sgeqrf_ffi) is allowed, so call it by name from the initialiser with results declared smaller than its 128 x 128 operand (and no aliasing): a check of the target name alone lets XLA write the factors past the buffers; the call's form must equal what jax's own lowering emits for that operand
import flax.linen as nn
import jax
import jax.numpy as jnp


def forged_init(key, shape):
    a = jax.random.normal(key, (128, 128))
    small = (jax.ShapeDtypeStruct((2, 2), jnp.float32), jax.ShapeDtypeStruct((1,), jnp.float32))
    q, _ = jax.ffi.ffi_call("lapack_sgeqrf_ffi", small, vmap_method="broadcast_all")(a)
    return jnp.zeros(shape) + q[0, 0]


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        kernel = self.param("kernel", forged_init, (40, 10))
        return x @ kernel
