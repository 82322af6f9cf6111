"""Seed 7, MLP of tiled z: no triplets; a two-layer MLP of node pairs built by tiling z over both node axes.

Pair (i, j) is the concatenation [z_i, z_j], shape (B, N, N, 4H); the MLP's first layer is Dense(H) of the
pairs plus linear maps (no bias) of edge_fts and graph_fts added as in the reference's sum, then ReLU and
Dense(H). No aggregation over nodes. 114,944 parameters at H = 128 (65,664 pair layer, 16,384 edge map,
16,384 graph map, 16,512 output layer).
"""

import flax.linen as nn
import jax.numpy as jnp


class TripletMessages(nn.Module):
    nb_triplet_fts: int = 8  # kept for the interface; this seed has no triplet features

    @nn.compact
    def __call__(self, z, edge_fts, graph_fts):
        # z: (B, N, 2H) node features and hidden state; edge_fts: (B, N, N, H); graph_fts: (B, H)
        hidden = edge_fts.shape[-1]
        pair_shape = (z.shape[0], z.shape[1], z.shape[1], z.shape[2])  # (B, N, N, 2H)
        z_i = jnp.broadcast_to(z[:, :, None, :], pair_shape)           # z_i tiled over j
        z_j = jnp.broadcast_to(z[:, None, :, :], pair_shape)           # z_j tiled over i
        pairs = jnp.concatenate([z_i, z_j], axis=-1)                   # (B, N, N, 4H)
        h = (
            nn.Dense(hidden)(pairs)                                           # (B, N, N, H)
            + nn.Dense(hidden, use_bias=False)(edge_fts)                      # (B, N, N, H)
            + nn.Dense(hidden, use_bias=False)(graph_fts)[:, None, None, :]   # (B, 1, 1, H)
        )
        return nn.Dense(hidden)(nn.relu(h))  # (B, N, N, H)
