"""Training-loop strategies (Python loop or lax.scan; vmap over seeds or one seed after another) and the rule
that picks one from the exported program's ops, the same way every time. Strategies are different XLA
programs whose numbers differ in the last bits and drift apart over training, so the choice by timing this
replaced made a candidate's numbers depend on the machine's load (the same child on the same three seeds:
fitness -270.6 in one search, -222.5 in another), and its probe cost up to 100 s per new workload.

The rule, on CPU (measured by benchmarks/train_throughput.py, the table in the README): a Python loop over a
jitted step for programs with convolutions or windowed reductions (pooling), whose steps lax.scan ran 3-9x
slower; lax.scan otherwise (MLPs, recurrent cells), which saves a dispatch per step. Seeds are vmapped. On
an accelerator, lax.scan (one launch per chunk of steps; not measured here, no accelerator was lent)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

LOOPS = ("python", "scan")
SEED_MODES = ("vmap", "serial")


@dataclasses.dataclass(frozen=True)
class Strategy:
    """How the steps are driven (loop) and how the S seeds are batched (seeds)."""

    loop: str = "python"
    seeds: str = "vmap"

    def __post_init__(self) -> None:
        if self.loop not in LOOPS or self.seeds not in SEED_MODES:
            raise ValueError(f"unknown strategy {self}; loops {LOOPS}, seed modes {SEED_MODES}")

    def __str__(self) -> str:
        return f"{self.loop}-{self.seeds}"

    @classmethod
    def parse(cls, text: str) -> Strategy | None:
        """'python-vmap', 'scan-serial', ... -> Strategy; 'auto' -> None (the rule's)."""
        if text == "auto":
            return None
        loop, _, seeds = text.partition("-")
        return cls(loop, seeds or "vmap")

    @classmethod
    def all(cls, num_seeds: int) -> list[Strategy]:
        """Every strategy worth comparing for num_seeds seeds (serial equals vmap for one seed)."""
        modes = SEED_MODES if num_seeds > 1 else ("vmap",)
        return [cls(loop, seeds) for loop in LOOPS for seeds in modes]


# Ops whose steps XLA's CPU backend runs far slower inside lax.scan than as a jitted step of a Python loop.
LOOP_OPS = ("convolution", "reduce_window", "select_and_scatter")


def rule(ops: Iterable[str], backend: str) -> Strategy:
    """The strategy for a program with these StableHLO op names on this backend (see the module's docstring)."""
    if backend == "cpu" and any(op.split(".")[-1] in LOOP_OPS for op in ops):
        return Strategy("python", "vmap")
    return Strategy("scan", "vmap")
