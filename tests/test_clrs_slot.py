"""The triplet slot exported (b and n symbolic) and called from trusted code: values and gradients under
vmap over seeds equal the module's own."""

from __future__ import annotations

from pathlib import Path

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax import export

from clrs_tasks import slot
from evojax_nas.programs.loader import load_class

SEEDS = Path(__file__).resolve().parents[1] / "seeds" / "clrs_triplet"


def test_exported_slot_matches_the_module_in_value_and_gradient_over_vmapped_seeds():
    module = load_class((SEEDS / "reference.py").read_text(), "TripletMessages", base=nn.Module)()
    hidden, seeds = 8, 2
    blobs = slot.export_slot(module, hidden, (1, seeds))
    programs = {s: export.deserialize(blobs[f"slot/{s}"]) for s in (1, seeds)}
    keys = jax.random.key_data(jax.random.split(jax.random.key(0), seeds))
    params = export.deserialize(blobs[f"slot_init/{seeds}"]).call(keys)
    z, e, g = (jax.random.normal(jax.random.key(i), shape)
               for i, shape in enumerate(((3, 5, 2 * hidden), (3, 5, 5, hidden), (3, hidden))))

    def loss(call):
        def f(p, z):  # z: a differentiable input, as the trusted model's node features are
            return jnp.mean(call(p, z, e, g) ** 2)
        return jax.vmap(jax.value_and_grad(f, argnums=(0, 1)), in_axes=(0, None))

    exported = jax.jit(loss(lambda p, *x: slot.call(programs, p, *x)))(params, z)
    direct = loss(lambda p, *x: module.apply({"params": p}, *x))(params, z)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), exported, direct)
    one = jax.tree.map(lambda x: x[0], params)  # and unbatched, through the 1-seed program
    np.testing.assert_allclose(slot.call(programs, one, z, e, g), module.apply({"params": one}, z, e, g), rtol=1e-5,
                               atol=1e-6)


def test_the_trusted_model_made_once_starts_every_candidate_as_its_own_init_would():
    """CLRSTrainer.init reuses the trusted parameters (slot.SlotKey in the slot's place) and adds the slot's
    own: the same bits as initialising the whole model with the exported slot in it."""
    from clrs_tasks import data
    from clrs_tasks.model import Step, init
    from clrs_tasks.train import CLRSTrainer, TrainConfig, seed_keys

    probes, stream = data.train_stream("bfs", 0, (4,), batch_size=2)
    batch = next(stream)
    config = TrainConfig(hidden=8)
    for name in ("reference", "bilinear"):
        module = load_class((SEEDS / f"{name}.py").read_text(), "TripletMessages", base=nn.Module)()
        exported = slot.ExportedSlot.from_bytes(slot.export_slot(module, 8, (1, 2)), 8)
        triplet = slot.ExportedTriplet(exported)
        params, opt_state = CLRSTrainer(probes, triplet, config).init(batch, [3, 5])
        whole = jax.jit(jax.vmap(lambda k, t=triplet: init(Step(probes, 8, t), k, batch)))(seed_keys([3, 5], 0))
        assert jax.tree.structure(params) == jax.tree.structure(whole)
        jax.tree.map(np.testing.assert_array_equal, params, whole)
        assert jax.tree.structure(opt_state) == jax.tree.structure(jax.vmap(CLRSTrainer(probes, triplet, config)
                                                                              .tx.init)(whole))

