"""The batched trainer on real MNIST-1D with the real seed programs."""

import json

import flax.linen as nn
import numpy as np
import pytest

from evojax_nas.programs.loader import load_class
from evojax_nas.train import Strategy, Trainer, default_config
from evojax_nas.train.strategy import StrategyCache
from tests.conftest import seed_source


def model(name: str) -> type[nn.Module]:
    return load_class(seed_source(name), "Model", base=nn.Module)


def trainer(task, tmp_path, **overrides) -> Trainer:
    config = default_config()
    config.update(overrides)
    return Trainer(task, config, StrategyCache(tmp_path / "strategies.json"))


@pytest.mark.slow
def test_seed_cnn_reaches_the_published_accuracy(task, tmp_path):
    # Greydanus 2020 (MNIST-1D README): the 5,210-parameter CNN reaches 94 % test accuracy with Adam, lr 1e-2,
    # batch 100, 8000 steps, trained on all 4000 examples. We train on 3500 (500 held out for validation) with
    # the same recipe and full budget, so the bar is a little lower: 90 %.
    result = trainer(task, tmp_path, num_seeds=2).train(model("cnn"))
    assert result.params == 5_210
    assert np.mean(result.test_accuracy) >= 0.90, result.test_accuracy
    assert min(result.val_accuracy) >= 0.88


def test_seed_mlp_reaches_the_published_accuracy(task, tmp_path):
    # Same source: the 15,210-parameter MLP reaches 68 %; with 3500 training examples we ask for 60 %.
    result = trainer(task, tmp_path, strategy="python-vmap").train(model("mlp"))
    assert result.params == 15_210
    assert result.test_accuracy[0] >= 0.60, result.test_accuracy


@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_vmapped_seeds_equal_each_seed_trained_alone(task, tmp_path, name):
    t = trainer(task, tmp_path, num_steps=100, strategy="python-vmap")
    together = t.train(model(name), seeds=[3, 4, 5])
    alone = [t.train(model(name), seeds=[s]) for s in (3, 4, 5)]
    np.testing.assert_allclose(together.final_loss, [a.final_loss[0] for a in alone], rtol=2e-3)
    np.testing.assert_allclose(together.val_accuracy, [a.val_accuracy[0] for a in alone], atol=0.006)
    assert len(set(np.round(together.final_loss, 6))) == 3  # three different models


@pytest.mark.parametrize("strategy", [str(s) for s in Strategy.all(2)])
def test_every_strategy_trains_the_same_models(task, tmp_path, strategy):
    t = trainer(task, tmp_path, num_steps=60, scan_chunk=25)  # 2 full chunks and a rest of 10
    reference = t.train(model("cnn"), seeds=[0, 1], strategy="python-vmap")
    result = t.train(model("cnn"), seeds=[0, 1], strategy=strategy)
    assert result.strategy == strategy
    np.testing.assert_allclose(result.final_loss, reference.final_loss, rtol=2e-3)


def test_auto_strategy_is_measured_once_then_reused(task, tmp_path):
    t = trainer(task, tmp_path, num_steps=30, num_seeds=2)
    first = t.train(model("mlp"))
    entries = json.loads((tmp_path / "strategies.json").read_text())
    (entry,) = entries.values()
    assert set(entry["seconds_per_step"]) == {str(s) for s in Strategy.all(2)}
    assert first.strategy == entry["strategy"] == min(entry["seconds_per_step"], key=entry["seconds_per_step"].get)
    fresh = trainer(task, tmp_path, num_steps=30, num_seeds=2)  # a new process would read the file the same way
    assert fresh.train(model("mlp")).strategy == first.strategy
    assert json.loads((tmp_path / "strategies.json").read_text()) == entries


@pytest.mark.parametrize("name", ["cnn_bn_dropout", "gru"])
def test_batchnorm_dropout_and_recurrent_seeds_train(task, tmp_path, name):
    result = trainer(task, tmp_path, num_steps=150, num_seeds=2, strategy="python-serial").train(model(name))
    assert min(result.val_accuracy) > 0.3 and result.params > 1000
    assert result.flops > result.params  # at least one multiply-add per weight per example


def test_flops_come_from_xla_cost_analysis(task, tmp_path):
    result = trainer(task, tmp_path, num_steps=1, strategy="python-vmap").train(model("cnn"))
    # conv 1: 19 positions x 25 ch x 5 taps, conv 2/3: 10 and 5 positions x 25 x 25 x 3, dense: 125 x 10
    multiply_adds = 19 * 25 * 5 + 10 * 25 * 75 + 5 * 25 * 75 + 125 * 10
    assert 1.8 * multiply_adds <= result.flops <= 2.4 * multiply_adds  # XLA skips the zero padding
