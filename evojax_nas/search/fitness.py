"""EvoPrompting's fitness: -(validation error) x (parameter count), with the score threshold; a candidate's
numbers are read through its task's MetricsSchema."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from evojax_nas.evaluate.result import Result
from evojax_nas.programs.program import Program

if TYPE_CHECKING:
    from evojax_nas.tasks.base import MetricsSchema


def fitness(val_score: float, params: int) -> float:
    """-(1 - val_score) * params: higher is better, small and accurate models win (the score: validation
    accuracy on MNIST-1D, dm-clrs' validation score on CLRS)."""
    return -(1.0 - val_score) * params


def program_fitness(program: Program, schema: MetricsSchema) -> float:
    """The fitness of an evaluated program (one with metrics, named as the task's `schema` names them)."""
    assert program.metrics is not None
    return fitness(*schema.of(program.metrics))


def screen_fitness(metrics: dict[str, Any], schema: MetricsSchema) -> float:
    """Fitness on the screening seeds alone (what decides whether a child is confirmed on more seeds)."""
    return fitness(metrics.get(f"screen_{schema.score_mean}", metrics[schema.score_mean]), metrics[schema.size])


@dataclasses.dataclass(frozen=True)
class Score:
    """A candidate's fitness and whether it may be selected (with the reason when not)."""

    fitness: float | None
    eligible: bool
    reason: str | None = None


def score(result: Result, min_val_score: float, schema: MetricsSchema) -> Score:
    """Score a result; failures and models under the validation-score threshold (the config's
    `min_val_accuracy`) are not eligible."""
    if not result.ok:
        failure = result.failure
        return Score(None, False, f"untrainable ({failure.kind}): {failure.message}" if failure else "no metrics")
    assert result.metrics is not None
    val, params = schema.of(result.metrics)
    value = fitness(val, params)
    if val < min_val_score:
        return Score(value, False, f"{schema.score_name} {val:.3f} under the threshold {min_val_score:.3f}")
    return Score(value, True)


def fittest(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The eligible candidates of logged records (runs/journal.py), fittest first."""
    return sorted((c for c in records if c["eligible"]), key=lambda c: -c["fitness"])
