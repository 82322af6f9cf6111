# expect: ok
# kind: rigged-score
# attack: patch shared modules (jnp.argmax, jnp.dot, jax.nn.relu, flax Dense, builtins, sys.modules, os.environ, the frames/trace helpers) to rig LATER programs; each program gets a fresh forked sandbox, so rig_shared_b_victim must see none of it
import typing

import flax.linen as nn
import jax
import jax.numpy as jnp

AG = typing.operator.attrgetter
SYS = AG("__globals__")(typing.cast)["sys"]
MODS = AG("modules")(SYS)
ZERO = lambda *a, **k: jnp.zeros(())  # noqa: E731
jnp.evonas_rigged = True
jnp.argmax = ZERO
jnp.dot = ZERO
jax.nn.relu = ZERO
nn.Dense.evonas_rigged = True
MODS["builtins"].evonas_rigged = True
MODS["evonas_rigged"] = MODS["os"]
AG("environ")(MODS["os"])["EVONAS_RIGGED"] = "1"
for name in ("evojax_nas.tasks.classifier_trace", "evojax_nas.programs.loader"):
    if name in MODS:
        MODS[name].evonas_rigged = True
if "evojax_nas.programs.static_check" in MODS:
    MODS["evojax_nas.programs.static_check"].FORBIDDEN_ATTRS = frozenset()
ORIGINAL_DENSE = AG("__call__")(nn.Dense)


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return nn.Dense(10)(jnp.tanh(nn.Dense(22)(x)))
