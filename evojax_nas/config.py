"""Loading experiment configs (Python files with get_config(), as in the Flax examples)."""

from __future__ import annotations

import copy
import functools
import importlib.util
import sys
from pathlib import Path

import ml_collections

DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "default.py"


def load_config(path: str | Path = DEFAULT_CONFIG) -> ml_collections.ConfigDict:
    """Import a config file and return its get_config(); its folder's parent is importable (configs.x).
    `file.py:arg` calls get_config("arg") (e.g. a budget), as ml_collections' config flags do."""
    path, _, arg = str(path).partition(".py:")
    path = Path(path if path.endswith(".py") or not arg else path + ".py").resolve()
    if not path.is_file():
        raise FileNotFoundError(f"config file {path} does not exist")
    root = str(path.parent.parent)
    if root not in sys.path:
        sys.path.insert(0, root)
    spec = importlib.util.spec_from_file_location(f"{path.parent.name}.{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not hasattr(module, "get_config"):
        raise ValueError(f"config file {path} defines no get_config()")
    return module.get_config(arg) if arg else module.get_config()


@functools.cache
def _defaults() -> ml_collections.ConfigDict:
    return load_config(DEFAULT_CONFIG)


def defaults() -> ml_collections.ConfigDict:
    """configs/default.py's config (a copy): the library's defaults, written there only. Read in the trusted
    parent: a confined sandbox or worker cannot read configs/ (it gets the values it needs)."""
    return copy.deepcopy(_defaults())


def default(*path: str) -> object:
    """One value of configs/default.py, by its keys ("eval", "timeout_s"): a copy of it alone (a field's default
    reads one value, not a copy of the whole config)."""
    value: object = _defaults()
    for key in path:
        value = value[key]  # type: ignore[index]
    return copy.deepcopy(value)
