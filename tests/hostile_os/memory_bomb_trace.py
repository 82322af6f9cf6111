# expect: oom
# kind: os-boundary
# attack: a memory bomb during the trace (inside __call__): a 16 GB numpy buffer, then a concrete 16 GB jax array; RLIMIT_AS (4 GB) makes the allocation fail with MemoryError / RESOURCE_EXHAUSTED, reported as oom
import flax.linen as nn
import jax.numpy as jnp
import numpy


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        hoard = numpy.ones((1 << 31,), numpy.float64)
        extra = jnp.ones((1 << 32,), jnp.float32) + 1.0
        return nn.Dense(10)(x) + hoard[0] + extra[0]
