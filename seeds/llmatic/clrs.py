"""LLMatic's initial network adapted to the CLRS triplet slot: the smallest triplet message function, one
node projection summed over the three nodes of each triplet, max over the first, and one dense read-out to
the hidden size (two layers, as the paper's one-conv one-dense net)."""

import flax.linen as nn
import jax.numpy as jnp


class TripletMessages(nn.Module):
    @nn.compact
    def __call__(self, z, edge_fts, graph_fts):
        # z: (B, N, 2H) node features and hidden state; edge_fts: (B, N, N, H); graph_fts: (B, H)
        hidden = edge_fts.shape[-1]
        tri = nn.Dense(8)(z)  # (B, N, 8)
        triplets = tri[:, :, None, None, :] + tri[:, None, :, None, :] + tri[:, None, None, :, :]  # (B, N, N, N, 8)
        return nn.Dense(hidden)(jnp.max(triplets, axis=1))  # (B, N, N, H)
