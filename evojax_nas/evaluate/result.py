"""What an evaluation returns: metrics or a failure, never an exception."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from evojax_nas.programs.program import FAILURE_KINDS, Failure, with_failure

MAX_MESSAGE_CHARS = 2_000
# Text by which an error message or a dead worker's log shows that memory ran out.
OOM_MARKERS = ("RESOURCE_EXHAUSTED", "Out of memory", "out of memory", "bad_alloc", "MemoryError")


def mentions_oom(text: str) -> bool:
    """True when the text reports exhausted memory."""
    return any(marker in text for marker in OOM_MARKERS)


@dataclasses.dataclass
class Result:
    """The outcome of evaluating one program."""

    program_id: str
    metrics: dict[str, Any] | None = None
    failure: Failure | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when the program trained and has metrics."""
        return self.failure is None and self.metrics is not None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Result:
        """Inverse of to_dict (for results read back from a run's log)."""
        return cls(**with_failure(data))

    @classmethod
    def from_worker(cls, program_id: str, message: Any, seconds: float) -> Result:
        """Validate a message from an (untrusted) worker; anything malformed becomes a crash."""
        if not isinstance(message, dict) or message.get("id") != program_id:
            return cls(program_id, failure=Failure("crash", "worker sent a malformed reply"), seconds=seconds)
        failure = message.get("failure")
        if isinstance(failure, dict):
            kind = failure.get("kind") if failure.get("kind") in FAILURE_KINDS else "crash"
            text = str(failure.get("message", ""))[:MAX_MESSAGE_CHARS]
            return cls(program_id, failure=Failure(kind, text), seconds=seconds)
        metrics = message.get("metrics")
        if not isinstance(metrics, dict) or not _finite_numbers(metrics.get("val_accuracy_mean"),
                                                                 metrics.get("params")):
            return cls(program_id, failure=Failure("crash", "worker sent no usable metrics"), seconds=seconds)
        return cls(program_id, metrics=metrics, seconds=seconds)


def _finite_numbers(*values: Any) -> bool:
    return all(isinstance(v, int | float) and math.isfinite(v) for v in values)
