# expect: forbidden
# kind: rigged-size
# attack: a loop whose trip count depends on the input, in the inference pass only (training cannot differentiate it, evaluation need not): a while_loop until a data-dependent bound has no constant that bounds its cost, so its FLOPs cannot be read from the computation; the train stage must refuse it rather than count its body once
import flax.linen as nn
import jax
import jax.numpy as jnp


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        h = nn.Dense(32)(x)
        if not train:
            bound = 1000.0 * jax.nn.sigmoid(x.sum())
            _, h = jax.lax.while_loop(lambda c: c[0] < bound, lambda c: (c[0] + 1.0, jnp.tanh(c[1])), (0.0, h))
        return nn.Dense(10)(h)
