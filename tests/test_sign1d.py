"""A third task is a module and a registry line: Sign-1D (evojax_nas/tasks/sign1d.py) shares the classifier's
contract with MNIST-1D, and one EvoPrompting round runs on it with the scripted LM through the real evaluator
(sandbox, worker, training). The LM writes MNIST-1D's 10-class read-out; the task's repairs make it 2."""

from __future__ import annotations

import numpy as np

from evojax_nas.evaluate import Evaluator, EvaluatorConfig
from evojax_nas.programs.program import Program
from evojax_nas.search.evoprompting import EvoPrompting, population
from evojax_nas.tasks import get_task
from evojax_nas.tasks.classifier import METRICS
from tests.test_search_logic import HEAD, MemoryJournal, ScriptedLM, body, config


def test_the_task_comes_from_the_registry_with_two_balanced_classes():
    task = get_task("sign1d", data_seed=3)
    data = task.data()
    assert task.name == "sign1d" and data.num_classes == 2 and data.input_shape == task.input_shape == (16,)
    assert len(data.x_train) == 1000 and len(data.x_val) == 200 and len(data.x_test) == 300
    assert 0.4 < data.y_train.mean() < 0.6
    assert np.array_equal(get_task("sign1d", data_seed=3).data().x_val, data.x_val)  # made from the seed alone
    assert "nn.Dense(2)" in task.repair(HEAD + body(24))  # the LM's 10-class read-out, repaired to 2


def test_one_search_round_on_the_third_task():
    task = get_task("sign1d")
    train = {**task.train_defaults(), "num_steps": 200}
    seeds = [Program(task.repair(HEAD + body(width)), origin={"kind": "seed", "name": f"mlp{width}"})
             for width in (32, 16)]
    with Evaluator(EvaluatorConfig(task="sign1d", train_config=train, data_seed=5)) as evaluator:
        search = EvoPrompting(config(num_rounds=1, confirm_seeds=1, retry_failed=False), ScriptedLM(), evaluator,
                              seeds, MemoryJournal(), 0.5, task)
        state = search.run_round(search.run_round(search.initial_state()))
    assert state.round == 1 and state.history[1]["trained"] >= 1, state.history
    children = [p for p in state.pool if p.origin.get("kind") != "seed"]
    assert children and all("nn.Dense(2)" in p.source for p in children)
    for program in population(state.pool, 10, METRICS):
        assert program.metrics["val_accuracy_mean"] > 0.6, (program.source, program.metrics)
