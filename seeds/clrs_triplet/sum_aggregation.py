"""Seed 2, sum aggregation: the reference's triplet messages with a sum instead of a max over the first node axis.

Everything else is the reference: seven linear projections to 8 triplet features, their broadcast sum, a linear
read-out to the hidden size. 11,448 parameters at H = 128, the same as the reference.
"""

import flax.linen as nn
import jax.numpy as jnp


class TripletMessages(nn.Module):
    nb_triplet_fts: int = 8

    @nn.compact
    def __call__(self, z, edge_fts, graph_fts):
        # z: (B, N, 2H) node features and hidden state; edge_fts: (B, N, N, H); graph_fts: (B, H)
        hidden = edge_fts.shape[-1]
        tri_1 = nn.Dense(self.nb_triplet_fts)(z)
        tri_2 = nn.Dense(self.nb_triplet_fts)(z)
        tri_3 = nn.Dense(self.nb_triplet_fts)(z)
        tri_e_1 = nn.Dense(self.nb_triplet_fts)(edge_fts)
        tri_e_2 = nn.Dense(self.nb_triplet_fts)(edge_fts)
        tri_e_3 = nn.Dense(self.nb_triplet_fts)(edge_fts)
        tri_g = nn.Dense(self.nb_triplet_fts)(graph_fts)
        triplets = (
            tri_1[:, :, None, None, :]        # (B, N, 1, 1, F)
            + tri_2[:, None, :, None, :]      # (B, 1, N, 1, F)
            + tri_3[:, None, None, :, :]      # (B, 1, 1, N, F)
            + tri_e_1[:, :, :, None, :]       # (B, N, N, 1, F)
            + tri_e_2[:, :, None, :, :]       # (B, N, 1, N, F)
            + tri_e_3[:, None, :, :, :]       # (B, 1, N, N, F)
            + tri_g[:, None, None, None, :]   # (B, 1, 1, 1, F)
        )                                     # (B, N, N, N, F)
        return nn.Dense(hidden)(jnp.sum(triplets, axis=1))  # (B, N, N, H)
