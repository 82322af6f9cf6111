# logged LM child 02ee1b7d2b782173 (search_quality run, 1000 steps): crash: loading raised ValueError: mutable default <class 'set'> for field weight_shape 
import functools
import flax.linen as nn
import jax
import jax.numpy as jnp

class Model(nn.Module):
    hidden: int = 8
    activation: str = 'relu'
    hidden_shapes: int = 10
    weight_shape: list = set([41, 47])

    @nn.compact
    def __call__(self, x, train: bool=False):
        x = x.flatten(start=x.shape[1])
        x = x.reshape((x.shape[0], x.shape[1], x.shape[2]))
        w = nn.max_pool(x, (2,) * (x.ndim - 2), strides=(2,) * (x.ndim - 2), padding='SAME')
        x = nn.Dropout(0.2, deterministic=not train)(w)
        return nn.Dense(10)(x.reshape(x.shape[0], -1))

    @nn.compact
    def __call__(self, x, train: bool=False):
        x = x.flatten(start=x.shape[1])
        y = x
        w = nn.Conv(self.weight_shape)
        x = nn.Dropout(0.2, deterministic=not train)(w)
        return nn.Dense(10)(x)
