"""The seam between a run and its search method: `search.method` names one, and the run drives it round
by round, checkpointing the plain-data state it returns. Both methods share the Pipeline (sample, extract
and repair, deduplicate, evaluate, log)."""

from __future__ import annotations

import importlib
from typing import Any, Protocol

from evojax_nas.programs.program import Program
from evojax_nas.search.pipeline import Pipeline

METHODS = {"evoprompting": "evojax_nas.search.evoprompting:EvoPrompting",
           "llmatic": "evojax_nas.search.llmatic:Llmatic"}


class MethodState(Protocol):
    round: int  # the last completed round (0: the seeds or the initial network evaluated)
    history: list[dict[str, Any]]  # one stats row per round

    def to_dict(self) -> dict[str, Any]: ...


class SearchMethod(Protocol):
    """Built as Method(search_config, lm, evaluator, seeds, journal, min_val_accuracy, task, screen_seeds=,
    train_seed=)."""

    pipeline: Pipeline

    @staticmethod
    def lm_batches(config: Any, parent_tokens: int) -> dict[str, Any]:
        """{prompts, n, prompt_tokens, tuning}: the largest LM batches a round asks for."""
        ...

    def initial_state(self) -> MethodState: ...

    def state_from_dict(self, data: dict[str, Any]) -> MethodState: ...

    def run_round(self, state: Any) -> MethodState:
        """The next round's state (the input is not modified)."""
        ...

    def best(self, state: Any) -> list[Program]:
        """The programs the state holds, best first."""
        ...


def method_class(name: str) -> Any:
    """The class `search.method` names (ValueError for an unknown one)."""
    if name not in METHODS:
        raise ValueError(f"search.method must be one of {tuple(METHODS)}, not {name!r}")
    module, attr = METHODS[name].split(":")
    return getattr(importlib.import_module(module), attr)


def check_config(config: Any) -> None:
    """Raise ValueError, naming the field, for a search config its method cannot run."""
    method = method_class(config.get("method", "evoprompting"))
    importlib.import_module(method.__module__).check_config(config)


def check_confirm_seeds(config: Any) -> None:
    """search.confirm_seeds (both methods): the training seeds a would-be winner is trained on before it counts."""
    confirm = config.get("confirm_seeds", 1)
    if not isinstance(confirm, int) or isinstance(confirm, bool) or confirm < 1:
        raise ValueError(f"search.confirm_seeds must be a positive integer, not {confirm!r}")


def confirmation_seeds(config: Any, screen_seeds: int, train_seed: int) -> list[int]:
    """The training seeds a would-be winner is trained on after its screening seeds, up to search.confirm_seeds
    in all (none when confirm_seeds does not exceed the screening seeds)."""
    return list(range(train_seed + screen_seeds, train_seed + config.get("confirm_seeds", 1)))
