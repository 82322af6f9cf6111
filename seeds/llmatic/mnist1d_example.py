"""Add a convolutional layer (nn.Conv) to improve the above network"""

import flax.linen as nn


# The worked example LLMatic's prompts show a small LM before the real instruction: the initial network
# (seeds/llmatic/mnist1d.py), improved as the docstring says.
class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train: bool = False):
        x = nn.relu(nn.Conv(8, (3,))(x[..., None]))
        x = nn.relu(nn.Conv(8, (3,), strides=2)(x))
        x = x.reshape((x.shape[0], -1))
        return nn.Dense(10)(x)
