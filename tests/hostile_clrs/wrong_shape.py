# expect: shape
# attack: none; a triplet function that returns (B, N, H) node features instead of (B, N, N, H) edge messages is
# refused before training with the shape it returned
import flax.linen as nn
import jax.numpy as jnp


class TripletMessages(nn.Module):
    @nn.compact
    def __call__(self, z, edge_fts, graph_fts):
        return nn.Dense(edge_fts.shape[-1])(jnp.max(edge_fts, axis=1))
