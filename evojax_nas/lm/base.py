"""The LM's seams, as the search sees them: every LM generates; an in-process one is sized to a memory
budget before a search starts; one with a soft prompt is tuned between rounds and checkpointed with it.
A capability is a type (`isinstance(lm, SoftPromptTunable)`), not an attribute to probe."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from evojax_nas.lm.memory import MemoryPlan
    from evojax_nas.lm.soft_prompt import Example


@runtime_checkable
class LanguageModel(Protocol):
    """What the search needs from any LM (in-process, or a server's)."""

    def generate(self, prompts: Sequence[str], n: int = 1, temperature: float | Sequence[float] = 0.8,
                 max_new_tokens: int = 256, stop: Sequence[str] = (), seed: int = 0) -> list[list[str]]:
        """n completions for each prompt (one temperature, or one per prompt)."""
        ...


@runtime_checkable
class MemoryPlanned(Protocol):
    """An LM whose batches are sized to a memory budget here (a server's memory is its own business)."""

    n_virtual_tokens: int  # the soft prompt's length, which every prompt carries

    def count_tokens(self, text: str) -> int: ...

    def plan(self, *, prompts: int, n: int, prompt_tokens: int, new_tokens: int, tune_batch: int = 1,
             tune_tokens: int = 0, tune_window: int = 0, tuning: bool = False) -> MemoryPlan:
        """The plan for batches of these shapes (MemoryBudgetError if none fits)."""
        ...


@runtime_checkable
class SoftPromptTunable(Protocol):
    """An LM with a soft prompt: tuned on examples between rounds, its state checkpointed with the search."""

    def tune(self, examples: Sequence[Example], epochs: int = 5, batch_size: int = 16, seed: int = 0
             ) -> dict[str, float]: ...

    def state_tree(self) -> dict[str, Any]: ...

    def load_state_tree(self, tree: dict[str, Any]) -> None: ...
