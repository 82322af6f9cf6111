"""Successive halving (`search.fidelity`): every child trains a short budget, the best fraction
(`search.fidelity_rank`) continues from its state to the next rung, and only the last rung, the full budget, is
scored and can enter the population. A child stopped early is logged with its rung (failure kind "stopped").

"accuracy" ranks a rung by validation accuracy. "pareto" ranks it by non-dominated fronts of (validation
accuracy, size), within a front by accuracy. EvoPrompting's fitness multiplies error by size, and at 10 % of the
steps accuracy favours large networks, which learn fastest (the LM's small GRUs were at 0.14-0.29 after 100
steps, a 366,602-parameter LSTM at 0.92), so ranking by accuracy stopped the small networks the fitness looks
for; a front keeps them. Within a front, fitness at a rung would favour tiny networks at chance (62 parameters
at 0.16), which never reach the eligibility threshold, over a 3,420-parameter GRU at 0.79 that reaches 0.94."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

from ml_collections import ConfigDict

RANKS = ("accuracy", "pareto")


def by_accuracy(rows: Sequence[tuple[str, float, int]]) -> list[str]:
    """Ids of (id, validation accuracy, size) rows by accuracy, ties by id."""
    return [i for i, _, _ in sorted(rows, key=lambda r: (-r[1], r[0]))]


def pareto_order(rung: Sequence[tuple[str, float, int]]) -> list[str]:
    """Ids by non-dominated front of (validation accuracy: higher, size: smaller), the first front first; within
    a front by accuracy, then id."""
    left, out = list(rung), []
    while left:
        front = [a for a in left if not any(b[1] >= a[1] and b[2] <= a[2] and (b[1], b[2]) != (a[1], a[2])
                                            for b in left)]
        out += by_accuracy(front)
        left = [a for a in left if a not in front]
    return out


@dataclasses.dataclass(frozen=True)
class Fidelity:
    """The rungs' step budgets (increasing, the last the full budget) and the fraction kept at each rung."""

    steps: tuple[int, ...]
    keep: float
    rank: str

    @classmethod
    def of(cls, fractions: Sequence[float], keep: float, num_steps: int, rank: str = "accuracy") -> Fidelity | None:
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
        if rank not in RANKS:
            raise ValueError(f"search.fidelity_rank must be one of {RANKS}, not {rank!r}")
        return cls(steps, keep, rank)

    @classmethod
    def from_config(cls, search: ConfigDict, num_steps: int) -> Fidelity | None:
        return cls.of(search.get("fidelity", ()), search.get("fidelity_keep", 1 / 3), num_steps,
                      search.get("fidelity_rank", "accuracy"))

    def order(self, rung: Sequence[tuple[str, float, int]]) -> list[str]:
        """The ids of a rung's (id, validation accuracy, size), best first, ties by id."""
        return by_accuracy(rung) if self.rank == "accuracy" else pareto_order(rung)

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
