"""Tasks: data + loss + metric + input spec, deterministic by seed."""

from evojax_nas.tasks.base import ClassificationTask
from evojax_nas.tasks.registry import get_task

__all__ = ["ClassificationTask", "get_task"]
