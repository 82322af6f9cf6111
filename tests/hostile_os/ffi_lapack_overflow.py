# expect: forbidden
# kind: forged-program
# attack: jax.ffi.ffi_call is public, so a program can emit a LAPACK custom call (getrf, an LU the train stage never needs) whose declared results are far smaller than its operand, here in its parameters' initialiser (not differentiated); allowed by name, XLA would write the factorised 256 x 256 matrix past a 4-byte buffer and kill the trusted worker with SIGSEGV. The train stage must refuse it before compilation
import flax.linen as nn
import jax
import jax.numpy as jnp


def forged_init(key, shape):
    a = jax.random.normal(key, (256, 256))
    small = (jax.ShapeDtypeStruct((1,), jnp.float32), jax.ShapeDtypeStruct((1,), jnp.int32),
             jax.ShapeDtypeStruct((), jnp.int32))
    lu, _, _ = jax.ffi.ffi_call("lapack_sgetrf_ffi", small, vmap_method="broadcast_all")(a)
    return jnp.zeros(shape) + lu[0]


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return x @ self.param("kernel", forged_init, (40, 10))
