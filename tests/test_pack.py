"""Packs: several exported candidates stepped by one compiled program. Each trains to the numbers it gets
alone, a bad one fails alone, the memory analysis shrinks a pack that does not fit, and jax's persistent
compilation cache answers a second evaluation of the same programs. The networks are the real seeds and
small programs of ours, exported as the trace stage does (traced here, in the test process)."""

import functools
import textwrap

import flax.linen as nn
import jax
import numpy as np
import pytest

from evojax_nas.evaluate import Evaluator, EvaluatorConfig
from evojax_nas.programs import Program
from evojax_nas.programs.loader import load_class
from evojax_nas.tasks.classifier_trace import TraceSpec, export_class
from evojax_nas.train import Trainer, default_config
from evojax_nas.train.exported import ExportedNetwork
from evojax_nas.train.trainer import TrainResult, memory_need, pack_evaluate, pack_init, pack_step
from tests.conftest import SEEDS, seed_source

NAN = textwrap.dedent("""
    import flax.linen as nn
    import jax.numpy as jnp

    class Model(nn.Module):
        @nn.compact
        def __call__(self, x, train=False):
            x = nn.Dense(10)(x)
            return x * jnp.log(-1.0 - jnp.abs(x).mean())  # the log of a negative number: NaN from the start
""")
WRONG_SHAPE = textwrap.dedent("""
    import flax.linen as nn

    class Model(nn.Module):
        @nn.compact
        def __call__(self, x, train=False):
            return nn.Dense(7)(x)
""")


def exported(source: str, seed_counts=(1, 2)) -> ExportedNetwork:
    cls = load_class(source, "Model", base=nn.Module)
    return ExportedNetwork.from_bytes(export_class(cls, TraceSpec.of("Model", (40,)), seed_counts))


def trainer(task, **overrides) -> Trainer:
    config = default_config()
    config.update({"num_steps": 60, "strategy": "python-vmap", **overrides})
    return Trainer(task, config)


def test_a_pack_trains_each_candidate_as_alone_and_a_bad_one_fails_alone(task):
    networks = [exported(seed_source("cnn")), exported(NAN), exported(WRONG_SHAPE), exported(seed_source("mlp"))]
    packed = trainer(task, pack=64).train_many(networks, seeds=[0, 1])
    alone = trainer(task, pack=1).train_many(networks, seeds=[0, 1])
    assert [r.kind for r in packed[1:3]] == ["nan", "shape"]  # type: ignore[union-attr]
    for together, single in ((packed[0], alone[0]), (packed[3], alone[3])):
        assert isinstance(together, TrainResult) and isinstance(single, TrainResult)
        assert together.pack == 3 and single.pack == 1  # the wrong shape never entered the pack; the NaN did
        # a different XLA program: equal up to the last bits, which 60 steps of Adam amplify a little
        np.testing.assert_allclose(together.final_loss, single.final_loss, rtol=1e-3)
        np.testing.assert_allclose(together.val_accuracy, single.val_accuracy, atol=0.004)
        assert together.params == single.params


def _need(t: Trainer, networks: tuple, seeds: list[int]) -> int:
    """The most memory any of the pack's programs needs (XLA's memory analysis)."""
    keys = jax.numpy.stack([jax.random.key(s) for s in seeds])
    states = jax.jit(functools.partial(pack_init, networks, t.recipe))(keys)
    schedules = jax.numpy.zeros((len(seeds), 1, 100), jax.numpy.int32)
    needs = []
    for fn, args in ((functools.partial(pack_init, networks, t.recipe), (keys,)),
                     (functools.partial(pack_step, networks, t.recipe), (states, t.data, schedules)),
                     (functools.partial(pack_evaluate, networks, t.recipe), (states, t.data))):
        needs.append(memory_need(jax.jit(fn).lower(*args).compile()))
    return max(needs)


def test_the_memory_analysis_shrinks_a_pack_that_does_not_fit(task):
    mlp = exported(seed_source("mlp"), seed_counts=(1,))
    networks = (mlp, mlp, mlp)
    t = trainer(task, pack=64, num_steps=5)
    one, three = _need(t, networks[:1], [0]), _need(t, networks, [0])
    assert three > one
    t.memory_budget_bytes = (one + three) // 2
    results = t.train_many(list(networks), seeds=[0])
    assert all(isinstance(r, TrainResult) for r in results), results
    assert max(r.pack for r in results) < 3  # type: ignore[union-attr]
    t.memory_budget_bytes = one // 2
    assert {r.kind for r in t.train_many(list(networks), seeds=[0])} == {"oom"}  # type: ignore[union-attr]


def test_the_compile_cache_answers_a_second_evaluation_of_the_same_program(tmp_path):
    train = default_config()
    train.update(num_steps=20, strategy="scan-vmap")
    config = EvaluatorConfig(train_config=train.to_dict(), compile_cache=str(tmp_path / "xla"))
    program = Program.from_file(SEEDS / "mlp.py")
    runs = []
    for _ in range(2):  # two evaluators, as a resumed run has: a fresh worker, fresh private data
        with Evaluator(config) as evaluator:
            (result,) = evaluator.evaluate([program])
        assert result.ok, result.failure
        runs.append((result.metrics, sorted(p.name for p in (tmp_path / "xla").iterdir())))
    (first, entries), (second, again) = runs
    assert first["cache_requests"] >= 3 and first["cache_hits"] == 0 and entries
    assert second["cache_hits"] == second["cache_requests"] == first["cache_requests"] and again == entries
    assert second["compile_seconds"] < first["compile_seconds"]


@pytest.fixture(scope="module")
def hostile_neighbour():
    return (SEEDS.parent.parent / "tests" / "hostile_pack" / "neighbour.py").read_text()


def test_candidates_packed_together_cannot_see_or_change_each_other(hostile_neighbour):
    # Through the whole evaluator: the neighbour is traced in the sandbox, both are packed into one program by a
    # worker. The victim's numbers equal its numbers alone (within the packing tolerance), its parameters and
    # data indices untouched; the neighbour's own numbers equal its own alone.
    train = default_config()
    train.update(num_steps=40, num_seeds=2, strategy="python-vmap")
    victim, neighbour = Program.from_file(SEEDS / "mlp.py"), Program(source=hostile_neighbour)
    results = {}
    for pack in (2, 1):
        config = EvaluatorConfig(train_config={**train.to_dict(), "pack": pack}, data_seed=7, compile_cache="")
        with Evaluator(config) as evaluator:
            results[pack] = evaluator.evaluate([victim, neighbour])
    for together, alone in zip(results[2], results[1], strict=True):
        assert together.ok and alone.ok, (together.failure, alone.failure)
        assert together.metrics["pack"] == 2 and alone.metrics["pack"] == 1
        np.testing.assert_allclose(together.metrics["final_loss"], alone.metrics["final_loss"], rtol=1e-3)
        np.testing.assert_allclose(together.metrics["val_accuracy"], alone.metrics["val_accuracy"], atol=0.004)
        assert together.metrics["params"] == alone.metrics["params"]


def test_a_rung_of_successive_halving_continues_from_the_state_the_last_one_left():
    # Two workers: a program's second rung may land on the other worker, which reads the state its first rung
    # left in the evaluator's folder. Continuing equals training the full budget at once, to the last bit.
    train = default_config()
    train.update(num_steps=30)
    programs = [Program.from_file(SEEDS / f"{name}.py") for name in ("mlp", "cnn", "gru")]
    config = EvaluatorConfig(train_config=train.to_dict(), num_workers=2, data_seed=11)
    with Evaluator(config) as evaluator:
        first = evaluator.evaluate(programs, steps=(0, 10))
        second = evaluator.evaluate(programs[::-1], steps=(10, 30))[::-1]
    with Evaluator(config) as evaluator:
        whole = evaluator.evaluate(programs)
    for a, b, full in zip(first, second, whole, strict=True):
        assert a.ok and b.ok and full.ok, (a.failure, b.failure, full.failure)
        assert a.metrics["steps"] == 10 and b.metrics["steps"] == full.metrics["steps"] == 30
        assert b.metrics["final_loss"] == full.metrics["final_loss"]
        assert b.metrics["val_accuracy"] == full.metrics["val_accuracy"]


def test_compiling_has_its_own_deadline_and_is_named_when_missed():
    train = default_config()
    train.update(num_steps=20)
    config = EvaluatorConfig(train_config=train.to_dict(), compile_timeout_s=0.2, compile_cache="", timeout_s=600)
    with Evaluator(config) as evaluator:
        (result,) = evaluator.evaluate([Program.from_file(SEEDS / "gru.py")])  # compiles in about 1.5 s here
        restarts = evaluator.restarts
    assert result.failure is not None and result.failure.kind == "timeout"
    assert "compiling took over 0.2 s" in result.failure.message and result.seconds < 60
    assert restarts == 1
