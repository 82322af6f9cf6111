"""The trusted trainer on real MNIST-1D with the real seed programs, exported as the trace stage does
(the seeds are our own code, so they are traced here, in the test process)."""


import functools
import threading

import flax.linen as nn
import numpy as np
import pytest

from evojax_nas.programs.loader import load_class
from evojax_nas.tasks.classifier_trace import TraceSpec, export_class
from evojax_nas.train import Strategy, Trainer, TrainingError, default_config
from evojax_nas.train.exported import ExportedNetwork
from evojax_nas.train.strategy import rule
from tests.conftest import ROOT, seed_source


@functools.cache
def _seed_export(name: str, seed_counts: tuple[int, ...]) -> bytes:
    cls = load_class(seed_source(name), "Model", base=nn.Module)
    return export_class(cls, TraceSpec.of("Model", (40,)), seed_counts)


def model(name: str, seed_counts=(1, 2, 3)) -> ExportedNetwork:
    """A seed exported as the trace stage does (traced once per process: the export is most of a short test)."""
    return ExportedNetwork.from_bytes(_seed_export(name, tuple(seed_counts)))


def trainer(task, **overrides) -> Trainer:
    config = default_config()
    config.update(overrides)
    return Trainer(task, config)


@pytest.mark.slow
def test_seed_cnn_reaches_the_published_accuracy(task):
    # Greydanus 2020 (MNIST-1D README): the 5,210-parameter CNN reaches 94 % test accuracy with Adam, lr 1e-2,
    # batch 100, 8000 steps, trained on all 4000 examples. We train on 3500 (500 held out for validation) with
    # the same recipe and full budget, so the bar is a little lower: 90 %.
    result = trainer(task, num_seeds=2).train(model("cnn"))
    assert result.params == 5_210
    assert np.mean(result.test_accuracy) >= 0.90, result.test_accuracy
    assert min(result.val_accuracy) >= 0.88


def test_seed_mlp_reaches_the_published_accuracy(task):
    # Same source: the 15,210-parameter MLP reaches 68 %; with 3500 training examples we ask for 60 %.
    result = trainer(task, strategy="python-vmap").train(model("mlp"))
    assert result.params == 15_210
    assert result.test_accuracy[0] >= 0.60, result.test_accuracy


@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_vmapped_seeds_equal_each_seed_trained_alone(task, name):
    t = trainer(task, num_steps=100, strategy="python-vmap")
    together = t.train(model(name), seeds=[3, 4, 5])
    alone = [t.train(model(name), seeds=[s]) for s in (3, 4, 5)]
    np.testing.assert_allclose(together.final_loss, [a.final_loss[0] for a in alone], rtol=2e-3)
    np.testing.assert_allclose(together.val_accuracy, [a.val_accuracy[0] for a in alone], atol=0.006)
    assert len(set(np.round(together.final_loss, 6))) == 3  # three different models


@pytest.fixture(scope="module")
def cnn_reference(task):
    """The CNN on two seeds, 60 steps, python-vmap: what every strategy must train to."""
    return trainer(task, num_steps=60, scan_chunk=25).train(model("cnn"), seeds=[0, 1], strategy="python-vmap")


@pytest.mark.parametrize("strategy", [str(s) for s in Strategy.all(2) if str(s) != "python-vmap"])
def test_every_strategy_trains_the_same_models(task, cnn_reference, strategy):
    t = trainer(task, num_steps=60, scan_chunk=25)  # 2 full chunks and a rest of 10
    result = t.train(model("cnn"), seeds=[0, 1], strategy=strategy)
    assert result.strategy == strategy
    np.testing.assert_allclose(result.final_loss, cnn_reference.final_loss, rtol=2e-3)


def test_auto_strategy_follows_the_rule_from_the_programs_ops(task):
    # on CPU: a Python loop where there are convolutions or pooling, lax.scan otherwise; seeds vmapped; no timing
    ops = {name: model(name, seed_counts=(1,)).ops for name in ("cnn", "cnn_bn_dropout", "mlp", "gru")}
    assert [str(rule(ops[name], "cpu")) for name in ops] == ["python-vmap", "python-vmap", "scan-vmap", "scan-vmap"]
    assert {str(rule(o, "gpu")) for o in ops.values()} == {"scan-vmap"}
    # and the trainer applies it where the config says "auto"
    auto = trainer(task, num_steps=3, num_seeds=1, strategy="auto")
    assert auto.train(model("mlp", seed_counts=(1,))).strategy == "scan-vmap"


@pytest.mark.parametrize("name", ["cnn_bn_dropout", "gru"])
def test_batchnorm_dropout_and_recurrent_seeds_train(task, name):
    result = trainer(task, num_steps=150, num_seeds=2, strategy="python-serial").train(model(name))
    assert min(result.val_accuracy) > 0.3 and result.params > 1000
    assert result.flops > result.params  # at least one multiply-add per weight per example


def test_flops_count_the_multiply_adds_of_the_computation(task):
    result = trainer(task, num_steps=1, strategy="python-vmap").train(model("cnn"))
    # conv 1: 19 positions x 25 ch x 5 taps, conv 2/3: 10 and 5 positions x 25 x 25 x 3, dense: 125 x 10;
    # 2 FLOPs each, plus biases and relus
    multiply_adds = 19 * 25 * 5 + 10 * 25 * 75 + 5 * 25 * 75 + 125 * 10
    assert 2 * multiply_adds <= result.flops <= 2.1 * multiply_adds


def test_a_strategy_reproduces_its_numbers_exactly_and_loops_agree_on_the_gru(task):
    # The same exported program driven by a Python loop or lax.scan gives the GRU the same numbers; the
    # S-seed and 1-seed programs (vmap vs serial) are different XLA programs and drift apart over hundreds
    # of steps, which is why a search pins its measured strategies in its run directory.
    t = trainer(task, num_steps=200)
    gru = model("gru", seed_counts=(1, 2))
    first, again, scanned = (t.train(gru, seeds=[0, 1], strategy=s)
                             for s in ("python-vmap", "python-vmap", "scan-vmap"))
    assert first.final_loss == again.final_loss and first.val_accuracy == again.val_accuracy
    np.testing.assert_allclose(scanned.final_loss, first.final_loss, rtol=1e-4)


def test_a_program_over_the_memory_budget_is_refused_before_it_runs(task):
    config = default_config()
    config.update(num_steps=5, strategy="python-vmap")
    small = Trainer(task, config, memory_budget_bytes=1 << 20)
    with pytest.raises(TrainingError, match="over the budget") as err:
        small.train(model("mlp", seed_counts=(1,)))
    assert err.value.kind == "oom"


def test_a_program_over_the_compute_cap_is_refused_before_it_trains(task):
    # the MLP's forward pass: 2 x (40 x 100 + 100 x 100 + 100 x 10) multiply-adds, about 3.0e4 FLOPs; 1,000 steps
    # of 100 examples at 3 passes each: about 9e9
    over = trainer(task, num_steps=1000, strategy="python-vmap", max_train_flops=1e9)
    with pytest.raises(TrainingError, match="max_train_flops") as err:
        over.train(model("mlp", seed_counts=(1,)))
    assert err.value.kind == "timeout"
    under = trainer(task, num_steps=5, strategy="python-vmap", max_train_flops=1e9)
    assert under.train(model("mlp", seed_counts=(1,))).params == 15_210


def test_a_recurrent_net_on_two_seeds_inits_and_evaluates_without_hanging():
    # A 64-unit LSTM's init on two seeds batched the QR of its orthogonal initialisers, and jaxlib's batched
    # LAPACK QR deadlocked XLA's CPU thread pool (2 of 3 runs on a 2-core CPU: every thread waiting, the worker
    # idle until its deadline). Init now runs the one-seed program per seed. A thread bounds the wait.
    from evojax_nas.tasks.mnist1d import make_task

    class Net(nn.Module):
        @nn.compact
        def __call__(self, x, train=False):
            h = nn.RNN(nn.LSTMCell(64))(x[..., None])
            return nn.Dense(10)(h.reshape(h.shape[0], -1))

    network = ExportedNetwork.from_bytes(export_class(Net, TraceSpec.of("Model", (40,)), (1, 2)))
    out: list = []
    run = threading.Thread(target=lambda: out.append(
        trainer(make_task(seed=0), num_steps=1, strategy="python-vmap").train(network, seeds=[0, 1])),
        daemon=True)
    run.start()
    run.join(timeout=120)
    assert not run.is_alive(), "init or evaluation of a 2-seed LSTM hung"
    assert len(out[0].val_accuracy) == 2


def test_a_search_evaluates_on_its_run_directorys_private_data(tmp_path):
    from evojax_nas.config import load_config
    from evojax_nas.runs.search_run import evaluator_config

    config = load_config(f"{ROOT}/configs/mnist1d_evoprompting.py:small")
    evaluation = evaluator_config(config, tmp_path, new=True)
    assert evaluation.run_dir == str(tmp_path)
    assert evaluation.data == "private" and evaluation.data_seed == int((tmp_path / "data_seed").read_text())


# -- custom calls: only jax's own, in exactly the form jax emits ------------------------------------------------

def _exported(init_fn) -> dict:
    """Exported programs of a one-Dense network whose kernel comes from `init_fn(key, shape)`."""

    class Net(nn.Module):
        @nn.compact
        def __call__(self, x, train=False):
            return x @ self.param("kernel", init_fn, (40, 10))

    return export_class(Net, TraceSpec.of("Model", (40,)), (1,))


def test_the_qr_of_orthogonal_initialisers_passes_in_the_form_jax_emits(task):
    network = ExportedNetwork.from_bytes(_exported(nn.initializers.orthogonal()))
    assert trainer(task, num_steps=2, strategy="python-vmap").train(network).params == 400


def test_a_lapack_call_in_another_form_or_of_another_kernel_is_refused_before_compilation():
    import jax
    import jax.numpy as jnp

    from evojax_nas.train.exported import ExportError

    def forged(target, results):
        def init(key, shape):
            a = jax.random.normal(key, (64, 64))
            out = jax.ffi.ffi_call(target, results, vmap_method="broadcast_all")(a)
            return jnp.zeros(shape) + out[0].ravel()[0]
        return init

    f32, i32 = jnp.float32, jnp.int32
    cases = {  # results far smaller than the 64 x 64 operand: XLA would write past them
        "lapack_sgeqrf_ffi": (jax.ShapeDtypeStruct((2, 2), f32), jax.ShapeDtypeStruct((1,), f32)),
        "lapack_sgetrf_ffi": (jax.ShapeDtypeStruct((1,), f32), jax.ShapeDtypeStruct((1,), i32),
                              jax.ShapeDtypeStruct((), i32)),
        "lapack_strsm_ffi": (jax.ShapeDtypeStruct((1,), f32),),
    }
    for target, results in cases.items():
        blobs = _exported(forged(target, results))  # exporting compiles nothing; neither does the check
        with pytest.raises(ExportError) as refused:
            ExportedNetwork.from_bytes(blobs)
        assert refused.value.kind == "forbidden" and target in str(refused.value), target
