"""CLRS data from dm-clrs' own specs and samplers, with the recipes of its `examples/run.py` (Ibarz et al.
2022): training samples drawn on the fly at sizes {4, 7, 11, 13, 16} in turn, validation at the largest
training size, the CLRS-30 test set regenerated (`build_sampler(algorithm, seed=3, length=64)`, 32 samples
times the algorithm's multiplier: what the benchmark's download holds, made here offline).

A batch is a pytree of numpy arrays: {"inputs": {name: (B, ...)}, "hints": {name: (T, B, ...)},
"lengths": (B,), "outputs": {name: (B, ...)}}. Pointers are int32 node indices, everything else float32.
`Probe` holds the static facts of one probe (stage, location, type, last-axis size), after dm-clrs'
processing (permutation pointers with their masks, `pred_h` hints moved to inputs).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from typing import Any

import numpy as np

from clrs_tasks.dmclrs import load

# run.py's list: algorithms whose pred_h hint never changes, so it is an input.
PRED_AS_INPUT = frozenset({
    "binary_search", "minimum", "find_maximum_subarray", "find_maximum_subarray_kadane", "matrix_chain_order",
    "lcs_length", "optimal_bst", "activity_selector", "task_scheduling", "naive_string_matcher", "kmp_matcher",
    "jarvis_march",
})
# run.py halves the edge probability of these, "otherwise trajectories are very long".
SPARSE_GRAPHS = frozenset({"articulation_points", "bridges", "mst_kruskal", "bipartite_matching"})
STRING_MATCHERS = frozenset({"naive_string_matcher", "kmp_matcher"})
TRAIN_LENGTHS = (4, 7, 11, 13, 16)
TEST_LENGTH = 64
TEST_SEED = 3
BATCH_SIZE = 32


@dataclasses.dataclass(frozen=True)
class Probe:
    """One probe of an algorithm: where it lives and what it is."""

    name: str
    stage: str      # input | output | hint
    location: str   # node | edge | graph
    type: str       # scalar | categorical | mask | mask_one | pointer | permutation_pointer
    dim: int = 0    # categories of a categorical probe (0 for the others, whose sizes follow the graph's)


Batch = dict[str, Any]


def algorithms() -> list[str]:
    """The CLRS-30 algorithms, in dm-clrs' order."""
    return list(load("specs").CLRS_30_ALGS)


def _to_batch(feedback: Any) -> Batch:
    def array(dp: Any) -> np.ndarray:
        pointer = dp.type_ == "pointer"
        return np.asarray(dp.data, np.int32 if pointer else np.float32)

    features = feedback.features
    return {
        "inputs": {dp.name: array(dp) for dp in features.inputs},
        "hints": {dp.name: array(dp) for dp in features.hints},
        "lengths": np.asarray(features.lengths, np.int32),
        "outputs": {dp.name: array(dp) for dp in feedback.outputs},
    }


def _probes(spec: dict[str, tuple[str, str, str]], feedback: Any) -> tuple[Probe, ...]:
    dims = {dp.name: dp.data.shape[-1]
            for dp in (*feedback.features.inputs, *feedback.features.hints, *feedback.outputs)}
    return tuple(Probe(name, stage, loc, typ, int(dims[name]) if typ == "categorical" else 0)
                 for name, (stage, loc, typ) in spec.items())


def spec(probes: tuple[Probe, ...]) -> dict[str, tuple[str, str, str]]:
    """dm-clrs' spec form of the probes: {name: (stage, location, type)}."""
    return {p.name: (p.stage, p.location, p.type) for p in probes}


def sampler_kwargs(algorithm: str, length: int = 20) -> dict[str, Any]:
    """run.py's sampler arguments for training and validation (the test set takes the defaults). Needles
    of random length up to 8, as run.py's, fit strings of 17 nodes or more; a shorter string (small CPU
    budgets) gets needles up to (length - 1) // 2, which dm-clrs' sampler can still embed."""
    p = tuple(0.1 + 0.1 * i for i in range(9))
    if algorithm in SPARSE_GRAPHS:
        p = tuple(x / 2 for x in p)
    return {"p": p, "length_needle": -max(1, min(8, (length - 1) // 2))}


def _stream(algorithm: str, length: int, num_samples: int, batch_size: int | None, seed: int,
            rng: np.random.RandomState, random_pos: bool, kwargs: dict[str, Any]
            ) -> tuple[tuple[Probe, ...], Iterator[Any]]:
    samplers = load("samplers")
    logging.getLogger("absl").setLevel(logging.ERROR)  # "Ignoring kwargs ...", "Sampling on the fly"
    sampler, spec = samplers.build_sampler(algorithm, num_samples=num_samples, length=length, seed=seed, **kwargs)

    def draw() -> Iterator[Any]:
        while True:
            yield sampler.next(batch_size)

    stream: Iterator[Any] = draw()
    if random_pos:
        stream = samplers.process_random_pos(stream, rng)
    if algorithm in PRED_AS_INPUT:
        spec, stream = samplers.process_pred_as_input(spec, stream)
    spec, stream = samplers.process_permutations(spec, stream, True)
    first = next(stream)

    def replay() -> Iterator[Any]:
        yield first
        yield from stream

    return _probes(spec, first), replay()


def train_stream(algorithm: str, seed: int, lengths: tuple[int, ...] = TRAIN_LENGTHS,
                 batch_size: int = BATCH_SIZE) -> tuple[tuple[Probe, ...], Iterator[Batch]]:
    """Endless training batches drawn on the fly, cycling through `lengths` (run.py's multi-sampler), their
    hints padded to a bucket of steps (pad_steps)."""
    rng = np.random.RandomState(seed)
    if algorithm in STRING_MATCHERS:  # a fixed haystack; the needle length varies
        lengths = ((max(lengths) * 5) // 4,)
    streams = [_stream(algorithm, n, -1, batch_size, rng.randint(2**32), rng, True, sampler_kwargs(algorithm, n))
               for n in lengths]
    probes = streams[0][0]

    def cycle() -> Iterator[Batch]:
        while True:
            for _, stream in streams:
                yield pad_steps(_to_batch(next(stream)))

    return probes, cycle()


def fixed_set(algorithm: str, split: str, seed: int, length: int, num_samples: int | None = None
              ) -> tuple[tuple[Probe, ...], Batch]:
    """The whole validation or test set as one batch (hints padded to the longest).

    val: run.py's recipe, 2 × 32 × multiplier samples at `length` with random positions;
    test: the CLRS-30 recipe, 32 × multiplier samples at `length` (64) from seed 3, positions as sampled.
    `num_samples` overrides the count (small CPU budgets)."""
    multiplier = load("specs").CLRS_30_ALGS_SETTINGS[algorithm]["num_samples_multiplier"]
    rng = np.random.RandomState(seed)
    if split == "val":
        count = num_samples or 2 * 32 * multiplier
        if algorithm in STRING_MATCHERS:
            length = (length * 5) // 4
        probes, stream = _stream(algorithm, length, count, None, rng.randint(2**32), rng, True,
                                 sampler_kwargs(algorithm, length))
    elif split == "test":
        count = num_samples or 32 * multiplier
        probes, stream = _stream(algorithm, length, count, None, seed, rng, False, {})
    else:
        raise ValueError(f"split must be 'val' or 'test', got {split!r}")
    return probes, _to_batch(next(stream))


def step_bucket(steps: int) -> int:
    """The smallest of 2, 3, 4, 6, 8, 12, 16, ... (2^k and 1.5 x 2^k) at least `steps`: hint lengths padded to
    these compile a handful of programs per size instead of one per length, for at most a third more steps."""
    bucket = 2
    while bucket < steps:
        bucket = bucket * 3 // 2 if bucket & (bucket - 1) == 0 else bucket * 4 // 3
    return bucket


def pad_steps(batch: Batch, to: int | None = None) -> Batch:
    """The batch with its hints padded with zeros to `to` steps (default: step_bucket of its steps). Changes
    no loss nor output: hint losses are masked past each trajectory's length, outputs frozen once it ends."""
    steps = next(iter(batch["hints"].values())).shape[0]
    extra = (to or step_bucket(steps)) - steps
    if not extra:
        return batch
    pad = {k: np.concatenate([v, np.zeros((extra, *v.shape[1:]), v.dtype)]) for k, v in batch["hints"].items()}
    return {**batch, "hints": pad}


def batches(batch: Batch, batch_size: int) -> Iterator[Batch]:
    """Split a fixed set into batches of `batch_size` in order (the last one shorter), each with its hints
    cut to the bucket (step_bucket) of its own longest trajectory: outputs are frozen once a sample is done,
    so the cut changes nothing."""
    count = len(batch["lengths"])
    total = next(iter(batch["hints"].values())).shape[0]
    for start in range(0, count, batch_size):
        part = slice(start, start + batch_size)
        steps = min(total, step_bucket(max(2, int(batch["lengths"][part].max()))))
        yield {
            "inputs": {k: v[part] for k, v in batch["inputs"].items()},
            "hints": {k: v[:steps, part] for k, v in batch["hints"].items()},
            "lengths": batch["lengths"][part],
            "outputs": {k: v[part] for k, v in batch["outputs"].items()},
        }
