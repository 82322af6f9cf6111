"""Evaluation in two stages: candidate code is traced to StableHLO in OS sandboxes, and only the exported
programs are trained, by trusted worker processes.

The names below are imported on first use: a train worker imports this package and must confine itself
(namespaces, Landlock, seccomp) while it is still one thread, before numpy or jax start theirs."""

import importlib
from typing import Any

_EXPORTS = {"Evaluator": "pool", "EvaluatorConfig": "pool", "Result": "result", "IsolationUnavailable": "sandbox"}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"evojax_nas.evaluate.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'evojax_nas.evaluate' has no attribute {name!r}")
