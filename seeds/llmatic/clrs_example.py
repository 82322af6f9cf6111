"""Add a layer to improve the above network"""

import flax.linen as nn
import jax.numpy as jnp


# The worked example LLMatic's prompts show a small LM before the real instruction: the initial triplet
# function (seeds/llmatic/clrs.py), improved as the docstring says.
class TripletMessages(nn.Module):
    @nn.compact
    def __call__(self, z, edge_fts, graph_fts):
        # z: (B, N, 2H) node features and hidden state; edge_fts: (B, N, N, H); graph_fts: (B, H)
        hidden = edge_fts.shape[-1]
        tri = nn.Dense(8)(z)  # (B, N, 8)
        edges = nn.Dense(8)(edge_fts)  # (B, N, N, 8)
        triplets = tri[:, :, None, None, :] + tri[:, None, :, None, :] + tri[:, None, None, :, :]
        triplets = triplets + edges[:, :, :, None, :]  # (B, N, N, N, 8)
        return nn.Dense(hidden)(jnp.max(triplets, axis=1))  # (B, N, N, H)
