"""LLMatic's initial network (Nasir et al. 2023, section 4.1 and appendix A), adapted to MNIST-1D: one
convolution with one output channel and a 1-wide kernel, then one dense layer to the 10 classes (412
parameters). The search starts small, as neuroevolution does best from small networks."""

import flax.linen as nn


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train: bool = False):
        x = nn.relu(nn.Conv(1, (1,))(x[..., None]))
        x = x.reshape((x.shape[0], -1))
        return nn.Dense(10)(x)
