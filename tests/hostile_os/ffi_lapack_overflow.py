# expect: forbidden
# kind: forged-program
# attack: jax.ffi.ffi_call is public, so a program can emit a LAPACK custom call (getrf, an LU the train stage never needs) whose declared results are far smaller than its operand, here in its parameters' initialiser (not differentiated); allowed by name, XLA wrote the 2048 x 2048 factorisation past a 4-byte buffer and killed the trusted worker with SIGSEGV (exit -11, measured on the landed code at 7653757). The train stage must refuse it before compilation
import flax.linen as nn
import jax
import jax.numpy as jnp


def forged_init(key, shape):
    a = jax.random.normal(key, (2048, 2048))
    small = (jax.ShapeDtypeStruct((1,), jnp.float32), jax.ShapeDtypeStruct((1,), jnp.int32),
             jax.ShapeDtypeStruct((), jnp.int32))
    lu, _, _ = jax.ffi.ffi_call("lapack_sgetrf_ffi", small, vmap_method="broadcast_all")(a)
    return jnp.zeros(shape) + lu[0]


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return x @ self.param("kernel", forged_init, (40, 10))
