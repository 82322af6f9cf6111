"""Tasks: what a candidate is, how it is traced and trained, and the data, deterministic by seed."""

from evojax_nas.tasks.base import CandidateSpec, Task
from evojax_nas.tasks.registry import get_task

__all__ = ["CandidateSpec", "Task", "get_task"]
