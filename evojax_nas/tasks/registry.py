"""Tasks by name."""

from __future__ import annotations

from typing import Any

from evojax_nas.tasks.base import ClassificationTask


def get_task(name: str, **kwargs: Any) -> ClassificationTask:
    """Return the task called `name`, built with `kwargs`."""
    if name == "mnist1d":
        from evojax_nas.tasks.mnist1d import make_task

        return make_task(**kwargs)
    raise ValueError(f"unknown task {name!r}; known: mnist1d")
