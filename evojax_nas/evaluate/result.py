"""What an evaluation returns: metrics or a failure, never an exception."""

from __future__ import annotations

import dataclasses
import math
import re
from typing import TYPE_CHECKING, Any

from evojax_nas.programs.program import FAILURE_KINDS, Failure, with_failure

if TYPE_CHECKING:
    from evojax_nas.tasks.base import MetricsSchema

MAX_MESSAGE_CHARS = 2_000
CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2066-\u2069]+")
# Lone surrogates (a sandbox's JSON may hold "\ud800") are not UTF-8: a terminal, a log handler or a strict
# encoder would crash on them.
SURROGATES = re.compile("[\ud800-\udfff]")
# Text by which an error message or a dead worker's log shows that memory ran out.
OOM_MARKERS = ("RESOURCE_EXHAUSTED", "Out of memory", "out of memory", "bad_alloc", "MemoryError")


def clean_message(text: Any, limit: int = MAX_MESSAGE_CHARS) -> str:
    """An attacker-controlled message made safe for the journal, terminals and prompts: one line of valid
    UTF-8 (lone surrogates replaced), no control or bidirectional characters, at most `limit` characters."""
    return SURROGATES.sub("\ufffd", CONTROL_CHARS.sub(" ", str(text))).strip()[:limit]


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
    computation: str | None = None  # hash of the exported program: equal computations are trained once

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
    def failed(cls, program_id: str, kind: str, message: Any, seconds: float = 0.0) -> Result:
        """A failure whose message may come from an untrusted process (cleaned here)."""
        kind = kind if kind in FAILURE_KINDS else "crash"
        return cls(program_id, failure=Failure(kind, clean_message(message)), seconds=seconds)

    @classmethod
    def from_worker(cls, program_id: str, message: Any, seconds: float, schema: MetricsSchema) -> Result:
        """Validate a train worker's reply against the reply's schema and the task's metrics (`schema`);
        anything malformed becomes a crash."""
        if not isinstance(message, dict) or message.get("id") != program_id:
            return cls.failed(program_id, "crash", "worker sent a malformed reply", seconds)
        computation = message.get("computation")
        if not (isinstance(computation, str) and re.fullmatch(r"[0-9a-f]{16}", computation)):
            computation = None
        failure = message.get("failure")
        if isinstance(failure, dict):
            kind = str(failure.get("kind"))  # duplicate and stopped are the evaluator's words, never a reply's
            result = cls.failed(program_id, "crash" if kind in ("duplicate", "stopped") else kind,
                                failure.get("message", ""),
                                seconds)
            result.computation = computation
            return result
        metrics = message.get("metrics")
        problem = _metrics_problem(metrics, schema)
        if problem:
            return cls.failed(program_id, "crash", f"worker sent unusable metrics: {problem}", seconds)
        return cls(program_id, metrics=metrics, seconds=seconds, computation=computation)


OPTIONAL_RANGES = {"width": (0, 1e9), "depth": (0, 1e6)}  # LLMatic's descriptors, where a task measures them


def reproducible(metrics: dict[str, Any]) -> dict[str, Any]:
    """The metrics a replayed run gives again: less the wall clock (`*_seconds`) and what jax's compile cache
    happened to hold (`cache_*`), which depend on the machine and on what ran before."""
    return {k: v for k, v in metrics.items() if not (k.endswith("_seconds") or k.startswith("cache_"))}


def metric_ranges(schema: MetricsSchema) -> dict[str, tuple[float, float]]:
    """The ranges of the numbers a reply must carry: the scores' means within the task's range, sizes positive."""
    return {schema.score_mean: schema.score_range, schema.test_mean: schema.score_range, schema.size: (1, 1e12),
            schema.cost: (0.0, 1e18)}


def _metrics_problem(metrics: Any, schema: MetricsSchema) -> str | None:
    if not isinstance(metrics, dict):
        return "no metrics"
    for name, (low, high) in metric_ranges(schema).items():
        value = metrics.get(name)
        if not isinstance(value, int | float) or isinstance(value, bool) or not (
                math.isfinite(value) or name == schema.cost) or (math.isfinite(value) and not low <= value <= high):
            return f"{name}={str(value)[:30]} outside [{low}, {high}]"
    for name, (low, high) in OPTIONAL_RANGES.items():
        value = metrics.get(name)
        if name in metrics and not (isinstance(value, int) and not isinstance(value, bool) and low <= value <= high):
            return f"{name}={str(value)[:30]} outside [{low}, {high}]"
    for name in schema.per_seed:
        values = metrics.get(name)
        if not isinstance(values, list) or not values or not all(isinstance(v, int | float) for v in values):
            return f"{name} is not a list of numbers"
    low, high = schema.score_range
    if not all(low <= v <= high for v in metrics[schema.score] + metrics[schema.test]):
        return f"a per-seed score outside [{low}, {high}]"
    return None
