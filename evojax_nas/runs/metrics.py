"""Metric writers with clu's interface (write_scalars(step, scalars), flush, close): TensorBoard event
files through tensorboardX (clu's own writers import tensorflow) and a plain JSON-lines file."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from evojax_nas.runs.journal import AppendLog


def numeric(scalars: Mapping[str, Any]) -> dict[str, float]:
    """The finite numbers among the values (strings, None and NaN are not scalars)."""
    out = {}
    for key, value in scalars.items():
        if isinstance(value, bool | int | float) and math.isfinite(value):
            out[key] = float(value)
    return out


class RunMetrics:
    """Writes each scalar to `metrics/` (TensorBoard) and `metrics.jsonl` (one line per step)."""

    def __init__(self, workdir: Path):
        from tensorboardX import SummaryWriter

        self.tensorboard = SummaryWriter(str(workdir / "metrics"))
        self.lines = AppendLog(workdir / "metrics.jsonl")

    def last_step(self) -> int:
        steps = [r["step"] for r in self.lines.read()]
        return max(steps, default=-1)

    def write_scalars(self, step: int, scalars: Mapping[str, Any]) -> None:
        values = numeric(scalars)
        for key, value in values.items():
            self.tensorboard.add_scalar(key, value, step)
        self.tensorboard.flush()
        self.lines.append({"step": step, **values})

    def close(self) -> None:
        self.tensorboard.close()
