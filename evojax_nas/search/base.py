"""The search's seams: a method (`search.method` names one; the run drives it round by round and checkpoints
the plain-data state it returns), and the journal a method logs to and replays from after a crash. Both
methods share the Pipeline (search/pipeline.py: sample, extract and repair, deduplicate, evaluate, log)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

if TYPE_CHECKING:
    from pathlib import Path

    import ml_collections

    from evojax_nas.evaluate.base import CandidateEvaluator
    from evojax_nas.evaluate.result import Result
    from evojax_nas.lm.base import LanguageModel
    from evojax_nas.programs.program import Program
    from evojax_nas.search.fitness import Score
    from evojax_nas.search.pipeline import Pipeline
    from evojax_nas.tasks.base import MetricsSchema, Task


class Journal(Protocol):
    """Where a search logs what it did, and finds what it already did before a crash."""

    def known_result(self, program_id: str, stage: str = "screen") -> Result | None: ...

    def record(self, round_: int, program: Program, result: Result, s: Score, stage: str = "screen") -> None: ...

    def known_samples(self, key: str) -> list[list[str]] | None: ...

    def record_samples(self, key: str, completions: list[list[str]], context: dict[str, Any]) -> None: ...


class Ledger(Protocol):
    """The part of a method's state the pipeline keeps: the round, and what was seen."""

    round: int
    seen: list[str]  # ids of every program evaluated or rejected
    fingerprints: list[str]  # of every program admitted (see search/fingerprint.py)


class MethodState(Protocol):
    round: int  # the last completed round (0: the seeds or the initial network evaluated)
    history: list[dict[str, Any]]  # one stats row per round

    def to_dict(self) -> dict[str, Any]: ...


State = TypeVar("State", bound=MethodState)


class SearchMethod(Protocol[State]):
    """A search method over its own state type (EvoPrompting's SearchState, LLMatic's LlmaticState)."""

    pipeline: Pipeline
    REPORT_KEYS: ClassVar[tuple[str, ...]]  # the per-round stats the report tabulates (runs/report.py)

    def __init__(self, config: ml_collections.ConfigDict, lm: LanguageModel | None, evaluator: CandidateEvaluator,
                 seeds: Sequence[Program], journal: Journal, min_val_accuracy: float, task: Task,
                 progress: Callable[[str, dict[str, Any]], None] | None = None, screen_seeds: int = 1,
                 train_seed: int = 0) -> None:
        """lm None: the non-LM baseline (EvoPrompting's search.operator = "mutation"). screen_seeds,
        train_seed: the training seeds every child is trained on first (the train config's)."""
        ...

    @staticmethod
    def lm_batches(config: ml_collections.ConfigDict, parent_tokens: int) -> dict[str, Any]:
        """{prompts, n, prompt_tokens, tuning}: the largest LM batches a round asks for."""
        ...

    def initial_state(self) -> State: ...

    def state_from_dict(self, data: dict[str, Any]) -> State: ...

    def run_round(self, state: State) -> State:
        """The next round's state (the input is not modified)."""
        ...

    def best(self, state: State) -> list[Program]:
        """The programs the state holds, best first."""
        ...

    @staticmethod
    def report_ranking(records: list[dict[str, Any]], state: Callable[[], dict[str, Any] | None],
                       schema: MetricsSchema) -> list[dict[str, Any]]:
        """The logged records (runs/journal.py) the report's table lists, best first; `state` restores the
        run's newest checkpointed state when the method needs it; `schema`: the run's task's metrics."""
        ...

    @staticmethod
    def report_figures(run_name: str, state: Callable[[], dict[str, Any] | None], rows: list[dict[str, Any]],
                       out: Path) -> list[Path]:
        """The figures of a run the method draws of itself (beside the report's shared ones), written to
        `out`; `rows`: the run's per-round metrics."""
        ...
