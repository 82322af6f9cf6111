"""CLRS: dm-clrs data, our Flax Triplet-GMPNN against dm-clrs' haiku model, training at small sizes."""

from __future__ import annotations

import sys
from pathlib import Path

import flax.linen as nn
import jax
import numpy as np
import pytest
from clrs_haiku import feedback_and_spec, haiku_model, to_flax

from clrs_tasks import data, losses
from clrs_tasks import model as clrs_model
from clrs_tasks.train import TrainConfig, train_and_test
from evojax_nas.programs.loader import load_class

SEEDS = Path(__file__).resolve().parents[1] / "seeds" / "clrs_triplet"
# Between them these algorithms hold every (stage, location, type) that CLRS-30 has after processing (28).
COVERING = ("dag_shortest_paths", "lcs_length", "bridges", "heapsort", "floyd_warshall", "articulation_points",
            "binary_search", "segments_intersect")


SEED_NAMES = sorted(p.stem for p in SEEDS.glob("*.py"))


def triplet(name: str = "reference") -> nn.Module:
    return load_class((SEEDS / f"{name}.py").read_text(), "TripletMessages", base=nn.Module)()


def _ours(algorithm: str, hidden: int, length: int = 6, batch: int = 3):
    feedback, spec = feedback_and_spec(algorithm, length, batch)
    hk = haiku_model(algorithm, feedback, spec, hidden)
    probes = data._probes(spec, feedback)
    return feedback, hk, data._to_batch(feedback), probes, clrs_model.Step(probes, hidden, triplet())


def test_string_matchers_sample_at_small_sizes():
    # run.py's needles (up to 8) do not fit a string of 13 nodes; they are capped to what dm-clrs can embed
    for algorithm in data.STRING_MATCHERS:
        _, stream = data.train_stream(algorithm, 0, (4, 7, 11))
        assert next(stream)["lengths"].shape == (data.BATCH_SIZE,)
        assert len(data.fixed_set(algorithm, "val", 1, 11, 8)[1]["lengths"]) == 8
    assert data.sampler_kwargs("kmp_matcher", 20)["length_needle"] == -8  # run.py's, at its size


def test_tensorflow_stays_out_of_the_import_path():
    data.train_stream("bfs", 0, (4,))
    assert "tensorflow" not in sys.modules and "clrs.models" not in sys.modules


@pytest.mark.parametrize("algorithm", COVERING)
def test_every_spec_type_encodes_and_decodes_as_haiku_does(algorithm):
    """With the haiku model's weights, our outputs and hints equal its own, in evaluation mode (hints fed
    back soft), on the algorithms that between them hold every probe kind."""
    feedback, hk, batch, probes, step = _ours(algorithm, hidden=16)
    outputs, hints = clrs_model.forward(step, to_flax(hk.params), batch, train=False, key=jax.random.key(0))
    hk_outputs, hk_hints = hk.net_fn.apply(hk.params, jax.random.key(0), [feedback.features], repred=True,
                                           algorithm_index=0, return_hints=True, return_all_outputs=False)
    assert set(outputs) == set(hk_outputs) and outputs
    for name in outputs:
        np.testing.assert_allclose(outputs[name], hk_outputs[name], atol=2e-5, rtol=1e-5)
    for name in hints:
        np.testing.assert_allclose(hints[name], np.stack([h[name] for h in hk_hints]), atol=2e-5, rtol=1e-5)


@pytest.mark.parametrize("algorithm, length", [("bfs", 7), pytest.param("graham_scan", 5, marks=pytest.mark.slow)])
def test_training_loss_and_gradients_equal_haiku(algorithm, length):
    feedback, hk, batch, probes, step = _ours(algorithm, hidden=16, length=length)
    nodes = clrs_model.dimensions(batch, probes)[1]

    def loss(params):
        outputs, hints = clrs_model.forward(step, params, batch, True, jax.random.key(0))
        return losses.total_loss(probes, batch, outputs, hints, nodes)

    ours, grads = jax.jit(jax.value_and_grad(loss))(to_flax(hk.params))
    theirs, hk_grads = jax.jit(jax.value_and_grad(hk._loss), static_argnums=3)(hk.params, jax.random.key(0),
                                                                                feedback, 0)
    assert np.isclose(ours, theirs, rtol=1e-5)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, atol=1e-5), grads, to_flax(hk_grads))
    # hints padded past the longest trajectory (training pads to a few step buckets) change nothing
    steps = next(iter(batch["hints"].values())).shape[0]
    batch = data.pad_steps(batch, steps + 5)
    padded, padded_grads = jax.jit(jax.value_and_grad(loss))(to_flax(hk.params))
    assert np.isclose(padded, ours, rtol=1e-6)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, atol=1e-6), padded_grads, grads)


def test_parameter_counts_equal_dm_clrs_at_hidden_128():
    """The issue's figures (dm-clrs 2.0.3): processor 258,872, of which 11,448 the triplet slot with its
    read-out; whole models per algorithm."""
    expected = {"bfs": 523_963, "articulation_points": 531_913, "graham_scan": 398_409, "mst_kruskal": 399_691}
    for algorithm, count in expected.items():
        feedback, spec = feedback_and_spec(algorithm, 5, 2)
        step = clrs_model.Step(data._probes(spec, feedback), 128, triplet())
        shapes = jax.eval_shape(lambda batch, step=step: clrs_model.init(step, jax.random.key(0), batch),
                                data._to_batch(feedback))["params"]
        size = lambda tree: sum(int(np.prod(x.shape)) for x in jax.tree.leaves(tree))  # noqa: E731
        assert size(shapes) == count, algorithm
        assert size(shapes["processor"]) + size(shapes["triplet"]) == 258_872
        assert size(shapes["triplet"]) == 11_448


@pytest.mark.parametrize("algorithm, lengths, test_length, steps, floor", [
    pytest.param("bfs", (4, 7), 12, 60, 0.6, marks=pytest.mark.slow),  # parent pointers: chance ~1 / degree
    pytest.param("bubble_sort", (5,), 8, 60, 0.3, marks=pytest.mark.slow),  # a permutation: chance 1/8
])
def test_trains_on_cpu_with_falling_loss_and_ood_score_above_chance(algorithm, lengths, test_length, steps, floor):
    config = TrainConfig(steps=steps, hidden=32, train_lengths=lengths, test_length=test_length, val_samples=32,
                         test_samples=32, eval_every=20, num_seeds=2)
    result = train_and_test(algorithm, triplet(), config, seed=0)
    loss = np.asarray(result["losses"])
    assert loss.shape == (steps, 2) and np.isfinite(loss).all()
    assert (loss[-10:].mean(0) < 0.6 * loss[:5].mean(0)).all()
    assert min(result["test"]) > floor
    assert result["test"][0] != result["test"][1] or result["best_val"][0] != result["best_val"][1]  # two seeds


def test_nine_seeds_ship():  # each trains in the model: test_clrs_task.py, through the sandbox
    assert len(SEED_NAMES) == 9 and "reference" in SEED_NAMES
