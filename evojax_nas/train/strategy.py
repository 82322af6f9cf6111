"""Training-loop strategies (Python loop or lax.scan; vmap over seeds or one seed after another),
chosen by timing each on the program at hand."""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp

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
        """'python-vmap', 'scan-serial', ... -> Strategy; 'auto' -> None (measure)."""
        if text == "auto":
            return None
        loop, _, seeds = text.partition("-")
        return cls(loop, seeds or "vmap")

    @classmethod
    def all(cls, num_seeds: int) -> list[Strategy]:
        """Every strategy worth timing for num_seeds seeds (serial equals vmap for one seed)."""
        modes = SEED_MODES if num_seeds > 1 else ("vmap",)
        return [cls(loop, seeds) for loop in LOOPS for seeds in modes]


Runner = Callable[[Any, jax.Array, int], Any]


def choose_strategy(make_runner: Callable[[Strategy], Runner], carry: Any, schedules: jax.Array,
                    num_seeds: int, probe_steps: int = 50, repeats: int = 2
                    ) -> tuple[Strategy, Runner, dict[str, float]]:
    """Time every strategy on copies of the carry: after a warm-up that compiles it, the best of `repeats`
    runs of probe_steps and of 2 x probe_steps steps; their difference is the marginal cost of a step,
    free of each call's fixed costs (dispatch, per-seed slicing), which a real run of thousands of steps
    pays only once. Returns the fastest strategy, its compiled runner and each one's seconds per step."""
    timings: dict[str, float] = {}
    runners: dict[str, Runner] = {}
    for strategy in Strategy.all(num_seeds):
        run = runners[str(strategy)] = make_runner(strategy)
        best = {}
        for steps in (probe_steps, 2 * probe_steps):
            jax.block_until_ready(run(jax.tree.map(jnp.copy, carry), schedules, steps))  # compile
            for _ in range(repeats):
                state = jax.tree.map(jnp.copy, carry)
                start = time.perf_counter()
                jax.block_until_ready(run(state, schedules, steps))
                best[steps] = min(best.get(steps, float("inf")), time.perf_counter() - start)
        marginal = (best[2 * probe_steps] - best[probe_steps]) / probe_steps
        timings[str(strategy)] = marginal if marginal > 0 else best[2 * probe_steps] / (2 * probe_steps)
    fastest = min(timings, key=timings.__getitem__)
    return Strategy.parse(fastest), runners[fastest], timings


def workload_key(workload: str, num_seeds: int, batch_size: int, num_params: int) -> str:
    """Key of what decides the fastest strategy: backend, the heavy ops of the program (ExportedNetwork
    .workload()), seeds, batch and the parameter count's order of magnitude (powers of 4)."""
    size = max(num_params, 1).bit_length() // 2
    return f"{jax.default_backend()}|{workload}|S{num_seeds}|B{batch_size}|P4^{size}"


def _entries(text: str) -> dict[str, dict[str, Any]]:
    try:
        entries = json.loads(text)
    except ValueError:
        return {}  # empty, or corrupt: re-measured
    return entries if isinstance(entries, dict) else {}


class StrategyCache:
    """Measured choices by workload key (the backend among its parts), kept in a JSON file so later processes
    reuse them."""

    def __init__(self, path: Path | None):
        self.path = path
        self.entries: dict[str, dict[str, Any]] = {}
        if path is not None and path.exists():
            try:
                self.entries = _entries(path.read_text())
            except OSError:
                self.entries = {}

    def get(self, key: str) -> Strategy | None:
        """The strategy measured fastest for key, if any."""
        entry = self.entries.get(key)
        return Strategy.parse(entry["strategy"]) if entry else None

    def put(self, key: str, strategy: Strategy, timings: dict[str, float]) -> None:
        """Record a measurement, merged with what other processes wrote meanwhile. The file is rewritten in
        place under a lock: a confined train worker may rewrite it but not create a file beside it."""
        self.entries[key] = {"strategy": str(strategy), "seconds_per_step": timings}
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644), "r+") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            self.entries = {**_entries(f.read()), key: self.entries[key]}
            f.seek(0)
            f.truncate()
            f.write(json.dumps(self.entries, indent=1, sort_keys=True))
            f.flush()
            os.fsync(f.fileno())
