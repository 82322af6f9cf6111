"""The size of a network: every real number it carries, the one fact fitness and LLMatic's descriptors read.

A network carries its variables (every collection its programs take, not only `params`: running statistics
and any other state are numbers it needs) and the constants baked into its forward pass. A complex number is
two reals. Constants are counted as train/exported.py reads them (one per distinct splat value, every element
of the others) once they carry more than CONSTANTS_FREE numbers in all: the forward passes of the seeds and
of the LM's children carry 5 to 26 (padding values, epsilons, shape tables), while weights trained at trace
time and baked in, or a table of memorised examples, carry thousands. Counting them all, not per constant,
leaves nothing to gain by splitting a table into small constants or scalars."""

from __future__ import annotations

import math
from typing import Any

import jax
import numpy as np

CONSTANTS_FREE = 64


def count_reals(tree: Any) -> int:
    """Real scalars in a tree of arrays (or shape-dtype structs): complex elements count twice."""
    return int(sum(math.prod(leaf.shape) * (2 if np.issubdtype(leaf.dtype, np.complexfloating) else 1)
                   for leaf in jax.tree.leaves(tree)))


def counted_constants(constants: int) -> int:
    """What a forward pass's constants add to the size: all of them once over CONSTANTS_FREE, else nothing."""
    return constants if constants > CONSTANTS_FREE else 0


def network_size(variables: Any, constants: int) -> int:
    """The size of one network: the reals of its variables, plus its counted constants."""
    return count_reals(variables) + counted_constants(constants)
