"""The evaluation seam the search uses: programs in, one Result each out, in order. `pool.Evaluator` is the
real one (static check, trace sandboxes, train workers or Ray actors); the search's unit tests script their
own. (The train stage's own seam, below it, is `backend.TrainBackend`.)"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from evojax_nas.evaluate.result import Result
    from evojax_nas.programs.program import Program


class CandidateEvaluator(Protocol):
    def evaluate(self, programs: Sequence[Program], seeds: Sequence[int] | None = None,
                 on_result: Callable[[Result], None] | None = None, steps: Sequence[int] | None = None
                 ) -> list[Result]:
        """Train each program on `seeds` (the train config's when None), to the full budget or, with `steps`
        (start, end), one rung of successive halving; `on_result` hears each result as soon as it is known."""
        ...
