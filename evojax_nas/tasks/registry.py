"""Tasks by name: a short name (`mnist1d`, `clrs:bfs`) or a dotted path `package.module:function`. Names
resolve to dotted paths, imported only when asked for, so this package never imports `clrs_tasks`."""

from __future__ import annotations

import importlib
from typing import Any

from evojax_nas.tasks.base import Task

# short name -> (factory, whether "name:arg" passes arg as its first argument: clrs:bfs -> the algorithm)
TASKS = {"mnist1d": ("evojax_nas.tasks.mnist1d:Mnist1D", False), "clrs": ("clrs_tasks.task:make", True),
         "sign1d": ("evojax_nas.tasks.sign1d:Sign1D", False)}


def get_task(name: str, **kwargs: Any) -> Task:
    """The task `name`, built with `kwargs`."""
    head, _, arg = name.partition(":")
    args: tuple[Any, ...] = ()
    if "." in head:
        path = name
    elif head in TASKS and (bool(arg) == TASKS[head][1]):
        path, args = TASKS[head][0], ((arg,) if arg else ())
    else:
        raise ValueError(f"unknown task {name!r}; known: {', '.join(TASKS)} (clrs:ALGORITHM), or module:function")
    module, _, function = path.partition(":")
    try:
        factory = getattr(importlib.import_module(module), function)
    except (ImportError, AttributeError) as err:
        hint = " (install the clrs extra: pip install -e '.[clrs]')" if module.startswith("clrs_tasks") else ""
        raise ValueError(f"task {name!r}: cannot load {path}: {err}{hint}") from err
    try:
        return factory(*args, **kwargs)
    except TypeError as err:  # e.g. another task's task_kwargs left in a config
        raise ValueError(f"task {name!r} does not take the settings {sorted(kwargs)}: {err}") from err
