# expect: trains alone or fails alone
# attack: share a compiled program with another candidate and reach its arrays: index far past the ends of its
# own input, parameters and batch statistics (gathers, dynamic slices and updates at offsets of millions), in
# the hope that the packed program lays the neighbours' buffers out next to its own; scale its logits by the
# mean of what it read so a leak would show in its own score; XLA clamps every index to the array it indexes
import flax.linen as nn
import jax
import jax.numpy as jnp

FAR = 1 << 22


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        flat = x.reshape(-1)
        far = jnp.arange(FAR, FAR + 4096) * 7919
        beyond = flat.at[far].get(mode="clip").mean() + jax.lax.dynamic_slice(flat, (FAR,), (8,)).mean()
        kernel = self.param("kernel", nn.initializers.lecun_normal(), (x.shape[-1], 10))
        stats = self.variable("batch_stats", "peek", lambda: jnp.zeros((16,)))
        stolen = kernel.reshape(-1).at[far].get(mode="clip").mean()
        if train:
            stats.value = jax.lax.dynamic_update_slice(stats.value, jnp.full((16,), beyond), (FAR,))
        return x @ kernel * (1.0 + 1e-3 * jnp.tanh(stolen + stats.value.mean() + beyond))
