"""Model size and compute: parameter count and XLA-counted FLOPs."""

from __future__ import annotations

import math
from typing import Any

import jax


def count_params(params: Any) -> int:
    """Number of trainable scalars in a parameter tree."""
    return int(sum(math.prod(leaf.shape) for leaf in jax.tree.leaves(params)))


def forward_flops(compiled: Any) -> float:
    """FLOPs of a compiled program, from XLA's cost analysis (NaN where the backend gives none)."""
    analysis = compiled.cost_analysis()
    if isinstance(analysis, list | tuple):
        analysis = analysis[0] if analysis else {}
    return float((analysis or {}).get("flops", float("nan")))
