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


def layer_widths(params: Any) -> dict[str, int]:
    """Each layer with parameters (a module holding arrays itself, named by its path) and its output features:
    the size of its bias, else the last axis of its weights (a kernel's outputs, a norm's scale). LLMatic's
    width is the largest of these, its depth how many there are."""
    leaves: dict[tuple, dict[str, tuple[int, ...]]] = {}
    for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
        names = tuple(str(getattr(k, "key", getattr(k, "name", k))) for k in path)
        leaves.setdefault(names[:-1], {})[names[-1]] = tuple(leaf.shape)
    widths = {}
    for module, arrays in leaves.items():
        if "bias" in arrays:
            widths["/".join(module)] = math.prod(arrays["bias"])
        else:
            widths["/".join(module)] = max((shape[-1] if shape else 1) for shape in arrays.values())
    return widths


def width_and_depth(params: Any) -> tuple[int, int]:
    """(largest output feature count of any layer, number of layers with parameters) of one model's tree."""
    widths = layer_widths(params)
    return max(widths.values(), default=0), len(widths)
