"""Model size and compute: parameter count and XLA-counted forward FLOPs per example."""

from __future__ import annotations

import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp


def count_params(params: Any) -> int:
    """Number of trainable scalars in a parameter tree."""
    return int(sum(math.prod(leaf.shape) for leaf in jax.tree.leaves(params)))


def forward_flops(model: nn.Module, params: Any, state: Any, input_shape: tuple[int, ...]) -> float:
    """FLOPs of one example's inference forward pass, from XLA's cost analysis of the compiled program."""
    x = jnp.zeros((1, *input_shape), jnp.float32)
    compiled = jax.jit(lambda p, s, x: model.apply({"params": p, **s}, x, train=False)).lower(
        params, state, x).compile()
    analysis = compiled.cost_analysis()
    if isinstance(analysis, list | tuple):
        analysis = analysis[0] if analysis else {}
    return float((analysis or {}).get("flops", float("nan")))
