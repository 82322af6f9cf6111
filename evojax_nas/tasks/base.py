"""What a task is to the rest of the system (`Task`), and its contract with candidates (`CandidateSpec`: the
class they define, how prompts are phrased, and the metrics their training reports, `MetricsSchema`).

A task owns its contract with candidates: the class the LM writes and how its prompt is phrased, which
repairs apply, how the trace sandbox exports a candidate (`tracer`, a dotted path, run there only), how
a trusted worker trains what was exported (`trainer`), and what that training reports. The search and the
evaluator see only this."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol


@dataclasses.dataclass(frozen=True)
class MetricsSchema:
    """The metrics a task's train stage reports for a candidate: `score` (the selection metric: higher is better,
    within `score_range`) and `test`, each a list with one value per training seed under its name and their mean
    under `<name>_mean`; the size the fitness weighs (`size`: every real the network carries) and the forward
    pass's FLOPs (`cost`); `final_loss` per seed. The search, the evaluator's checks and the report read a
    candidate's numbers through this, never by a task's names."""

    score: str  # e.g. "val_accuracy"
    test: str  # e.g. "test_accuracy"
    score_name: str  # the score in words, as prompts and messages say it: "validation accuracy"
    score_range: tuple[float, float] = (0.0, 1.0)
    size: str = "params"
    cost: str = "flops"

    @property
    def score_mean(self) -> str:
        return f"{self.score}_mean"

    @property
    def test_mean(self) -> str:
        return f"{self.test}_mean"

    @property
    def per_seed(self) -> tuple[str, ...]:
        """The lists with one value per training seed (merged when a candidate is trained on more seeds)."""
        return (self.score, self.test, "final_loss")

    def of(self, metrics: Mapping[str, Any]) -> tuple[float, int]:
        """(mean score, size) of a candidate's metrics: what its fitness is made of."""
        return float(metrics[self.score_mean]), int(metrics[self.size])


@dataclasses.dataclass(frozen=True)
class CandidateSpec:
    """What a candidate is for one task: the class it defines, how a prompt for it is phrased (the task line,
    the lines that end a child cut off before its return) and what its training reports (`metrics`)."""

    task_line: str
    class_name: str
    closing: str  # "" where a cut-off child is not closed
    metrics: MetricsSchema


class LoadedProgram(Protocol):
    """Exported programs checked by a worker; `id` is the hash of the computation (duplicates share it)."""

    id: str


class ProgramTrainer(Protocol):
    """A task's trusted train stage in a worker: check exported bytes, then train them on seeds."""

    devices: int  # the devices it trains on at once (a mesh's; 1 for a stage that uses one)

    def load(self, blobs: dict[str, bytes]) -> LoadedProgram:
        """Deserialise and check (raises ExportError for what the stage refuses)."""
        ...

    def train_many(self, programs: Sequence[Any], seeds: Sequence[int] | None, steps: Sequence[int] | None = None,
                   on_phase: Callable[[str], None] | None = None) -> list[dict[str, Any] | Exception]:
        """For each program, in order: metrics as the task's `MetricsSchema` describes them, or the error it
        failed with (a `kind` attribute names the failure). `steps` (start, end): a rung of successive halving,
        continued from the state the previous rung left. `on_phase` hears "compile" and "train" as the work
        moves between them (compilation has its own deadline)."""
        ...


class Task(Protocol):
    """A search task, cheap to build (data and samplers are made by `trainer`, in the worker). Its factory takes
    `data_seed`: None for the task's published data, else the seed its data (at least validation and test) is
    generated from; the evaluator gives it only to trusted processes, never to a sandbox."""

    name: str
    candidate: CandidateSpec
    tracer: str  # "module:function" (source, spec, seed_counts) -> {program name: bytes}; runs in the sandbox
    warm_up: str  # a program the trace zygote traces once, so sandboxes find every module imported

    def repair(self, source: str, parents: Sequence[str] = ()) -> str:
        """The mechanical repairs that apply to this task's candidates."""
        ...

    def train_defaults(self) -> dict[str, Any]:
        """The train settings the task's recipe uses (num_steps, num_seeds and seed among them)."""
        ...

    def trace_spec(self, platform: str, train_config: Mapping[str, Any]) -> dict[str, Any]:
        """What `tracer` needs besides the source (JSON-ready)."""
        ...

    def prepare(self, cache: Path) -> None:
        """Make in `cache` what the train stage reads from disk (generated data), in the trusted evaluator
        before any worker starts: a confined worker reads its cache (EVOJAX_NAS_CACHE) but may not write it."""
        ...

    def trainer(self, train_config: Mapping[str, Any], memory_budget_bytes: int | None = None,
                state_dir: str | None = None) -> ProgramTrainer:
        """The train stage (builds the data; called once per worker). `state_dir`: where the rungs of successive
        halving leave their states for the evaluator's other workers."""
        ...
