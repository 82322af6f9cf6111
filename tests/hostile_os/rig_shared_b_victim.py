# expect: ok
# kind: rigged-score
# attack: victim of rig_shared_a_patch (evaluated after it): raises if any patch or marker of an earlier program is visible here (a shared-state leak between sandboxes); nothing should be, so it trains
import typing

import flax.linen as nn
import jax
import jax.numpy as jnp

AG = typing.operator.attrgetter
SYS = AG("__globals__")(typing.cast)["sys"]
MODS = AG("modules")(SYS)
LEAKS = []
if hasattr(jnp, "evonas_rigged") or hasattr(nn.Dense, "evonas_rigged") or hasattr(MODS["builtins"], "evonas_rigged"):
    LEAKS.append("module attributes")
if "evonas_rigged" in MODS or "EVONAS_RIGGED" in AG("environ")(MODS["os"]):
    LEAKS.append("sys.modules/environ")
if int(jnp.argmax(jnp.array([0.0, 2.0, 1.0]))) != 1 or float(jax.nn.relu(jnp.array(-1.0))) != 0.0:
    LEAKS.append("jnp.argmax/jax.nn.relu")
if float(jnp.dot(jnp.ones(3), jnp.ones(3))) != 3.0:
    LEAKS.append("jnp.dot")
if LEAKS:
    raise RuntimeError("rigged by an earlier program: " + ", ".join(LEAKS))


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return nn.Dense(10)(nn.relu(nn.Dense(23)(x)))
