"""The registry of search methods (`search.method` names one; the seam is search/base.py's SearchMethod), and
the checks of a search config that both methods share."""

from __future__ import annotations

import importlib

from ml_collections import ConfigDict

from evojax_nas.search.base import SearchMethod

METHODS = {"evoprompting": "evojax_nas.search.evoprompting:EvoPrompting",
           "llmatic": "evojax_nas.search.llmatic:Llmatic"}


def method_class(name: str) -> type[SearchMethod]:
    """The class `search.method` names (ValueError for an unknown one)."""
    if name not in METHODS:
        raise ValueError(f"search.method must be one of {tuple(METHODS)}, not {name!r}")
    module, attr = METHODS[name].split(":")
    return getattr(importlib.import_module(module), attr)


def check_config(config: ConfigDict) -> None:
    """Raise ValueError, naming the field, for a search config its method cannot run."""
    method = method_class(config.get("method", "evoprompting"))
    importlib.import_module(method.__module__).check_config(config)


def check_confirm_seeds(config: ConfigDict) -> None:
    """search.confirm_seeds (both methods): the training seeds a would-be winner is trained on before it counts."""
    confirm = config.get("confirm_seeds", 1)
    if not isinstance(confirm, int) or isinstance(confirm, bool) or confirm < 1:
        raise ValueError(f"search.confirm_seeds must be a positive integer, not {confirm!r}")


def confirmation_seeds(config: ConfigDict, screen_seeds: int, train_seed: int) -> list[int]:
    """The training seeds a would-be winner is trained on after its screening seeds, up to search.confirm_seeds
    in all (none when confirm_seeds does not exceed the screening seeds)."""
    return list(range(train_seed + screen_seeds, train_seed + config.get("confirm_seeds", 1)))
