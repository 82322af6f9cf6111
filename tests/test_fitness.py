"""Fitness and the selection threshold."""

from evojax_nas.evaluate import Result
from evojax_nas.programs import Failure
from evojax_nas.search import fitness, score
from evojax_nas.tasks.classifier import METRICS


def test_fitness_is_minus_error_times_size():
    assert fitness(0.9, 5_000) == -(1 - 0.9) * 5_000
    assert fitness(0.95, 5_000) > fitness(0.9, 5_000) > fitness(0.9, 10_000)


def test_threshold_and_failures_exclude_with_a_reason():
    good = Result("a", metrics={"val_accuracy_mean": 0.8, "params": 1000})
    weak = Result("b", metrics={"val_accuracy_mean": 0.3, "params": 10})
    broken = Result("c", failure=Failure("nan", "loss not finite"))
    assert score(good, 0.5, METRICS).eligible and score(good, 0.5, METRICS).fitness == fitness(0.8, 1000)
    assert not score(weak, 0.5, METRICS).eligible and "threshold" in score(weak, 0.5, METRICS).reason
    assert score(broken, 0.5, METRICS).fitness is None and "nan" in score(broken, 0.5, METRICS).reason
