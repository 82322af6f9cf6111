# expect: forbidden
# attack: a host callback inside the triplet function (it would run Python in the trusted train worker on
# every step); the export check refuses any program that calls back into the host
import flax.linen as nn
import jax
import jax.numpy as jnp


class TripletMessages(nn.Module):
    @nn.compact
    def __call__(self, z, edge_fts, graph_fts):
        out = nn.Dense(edge_fts.shape[-1])(edge_fts)
        return jax.pure_callback(lambda x: x, jax.ShapeDtypeStruct(out.shape, jnp.float32), out)
