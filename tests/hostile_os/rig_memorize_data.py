# expect: ok
# kind: rigged-score
# score: not-memorised
# attack: regenerate MNIST-1D inside the sandbox (the real __import__ of evojax_nas.tasks / mnist1d, readable from the install) and export a lookup table of the validation and test sets: nearest neighbour -> the stored label; nothing in the sandbox stops it, so the score is rigged if val accuracy is ~1.0
import typing

import flax.linen as nn
import jax.numpy as jnp
import numpy

AG = typing.operator.attrgetter
IMPORT = AG("__builtins__")(typing.cast)["__import__"]
try:
    TASK = IMPORT("evojax_nas.tasks", fromlist=["get_task"]).get_task("mnist1d").data()
    XS = numpy.concatenate([TASK.x_val, TASK.x_test]).astype(numpy.float32)
    YS = numpy.concatenate([TASK.y_val, TASK.y_test]).astype(numpy.int32)
except Exception as err:  # the data is out of reach: fall back to an honest model
    XS, YS = numpy.zeros((1, 40), numpy.float32), numpy.zeros((1,), numpy.int32)


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        # the tables are state (inputs of the exported programs), not constants XLA would fold for minutes
        table = self.variable("tables", "x", lambda: jnp.asarray(XS)).value
        labels = self.variable("tables", "y", lambda: jnp.asarray(YS)).value
        d = jnp.sum(table * table, axis=1)[None, :] - 2 * x @ table.T
        hit = labels[jnp.argmin(d, axis=1)]
        return 30.0 * (hit[:, None] == jnp.arange(10)[None, :]) + nn.Dense(10)(nn.relu(nn.Dense(24)(x)))
