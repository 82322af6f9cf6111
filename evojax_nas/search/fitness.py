"""EvoPrompting's fitness: -(validation error) x (parameter count), with the accuracy threshold."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from evojax_nas.evaluate.result import Result
from evojax_nas.programs.program import Program


def fitness(val_accuracy: float, params: int) -> float:
    """-(1 - val_accuracy) * params: higher is better, small and accurate models win."""
    return -(1.0 - val_accuracy) * params


def program_fitness(program: Program) -> float:
    """The fitness of an evaluated program (one with metrics)."""
    assert program.metrics is not None
    return fitness(program.metrics["val_accuracy_mean"], program.metrics["params"])


def screen_fitness(metrics: dict[str, Any]) -> float:
    """Fitness on the screening seeds alone (what decides whether a child is confirmed on more seeds)."""
    return fitness(metrics.get("screen_val_accuracy_mean", metrics["val_accuracy_mean"]), metrics["params"])


@dataclasses.dataclass(frozen=True)
class Score:
    """A candidate's fitness and whether it may be selected (with the reason when not)."""

    fitness: float | None
    eligible: bool
    reason: str | None = None


def score(result: Result, min_val_accuracy: float) -> Score:
    """Score a result; failures and models under the validation-accuracy threshold are not eligible."""
    if not result.ok:
        failure = result.failure
        return Score(None, False, f"untrainable ({failure.kind}): {failure.message}" if failure else "no metrics")
    assert result.metrics is not None
    acc, params = result.metrics["val_accuracy_mean"], result.metrics["params"]
    value = fitness(acc, params)
    if acc < min_val_accuracy:
        return Score(value, False, f"validation accuracy {acc:.3f} under the threshold {min_val_accuracy:.3f}")
    return Score(value, True)


def fittest(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The eligible candidates of logged records (runs/journal.py), fittest first."""
    return sorted((c for c in records if c["eligible"]), key=lambda c: -c["fitness"])
