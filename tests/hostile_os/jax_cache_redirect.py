# expect: ok
# kind: file-access
# attack: point jax's persistent compilation cache at /var/tmp/evonas-pwned-cache (min compile time 0, min entry size 0) and compile, so jax writes cache entries outside the work dir; Landlock refuses, jax only warns
import typing

import flax.linen as nn
import jax
import jax.numpy as jnp

jax.config.update("jax_compilation_cache_dir", "/var/tmp/evonas-pwned-cache")
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
try:
    jax.jit(lambda a: jnp.sin(a) * 3 + 1)(jnp.ones((7,))).block_until_ready()
except Exception as err:
    ERROR = repr(err)


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return nn.Dense(10)(jnp.tanh(nn.Dense(19)(x)))
