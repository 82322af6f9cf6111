"""Successive halving (`search.fidelity`): every child trains a short budget, the best fraction by validation
accuracy continues from its state to the next rung, and only the last rung, the full budget, is scored
and can enter the population. A child stopped early is logged with its rung (failure kind "stopped")."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any


@dataclasses.dataclass(frozen=True)
class Fidelity:
    """The rungs' step budgets (increasing, the last the full budget) and the fraction kept at each rung."""

    steps: tuple[int, ...]
    keep: float

    @classmethod
    def of(cls, fractions: Sequence[float], keep: float, num_steps: int) -> Fidelity | None:
        """From fractions of num_steps (the last 1.0); None when there is at most one rung (off)."""
        fractions = [float(f) for f in fractions]
        if len(fractions) <= 1:
            return None
        steps = tuple(max(1, round(f * num_steps)) for f in fractions)
        if fractions[-1] != 1.0 or any(a >= b for a, b in zip(steps, steps[1:], strict=False)):
            raise ValueError(f"search.fidelity must be increasing fractions of train.num_steps ending at 1.0, "
                             f"not {tuple(fractions)}")
        if not 0.0 < keep < 1.0:
            raise ValueError(f"search.fidelity_keep must be a fraction in (0, 1), not {keep!r}")
        return cls(steps, keep)

    @classmethod
    def from_config(cls, search: Any, num_steps: int) -> Fidelity | None:
        return cls.of(search.get("fidelity", ()), search.get("fidelity_keep", 1 / 3), num_steps)

    def kept(self, trained: int) -> int:
        """How many of the `trained` children of a rung go on (at least one)."""
        return max(1, math.ceil(trained * self.keep)) if trained else 0

    def fraction_of_steps(self, children: int) -> float:
        """The steps successive halving trains, as a fraction of training every child to the full budget."""
        alive, start, total = children, 0, 0
        for end in self.steps:
            total += alive * (end - start)
            alive, start = self.kept(alive), end
        return total / (children * self.steps[-1]) if children else 0.0
