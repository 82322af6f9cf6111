"""Search methods (EvoPrompting, LLMatic), their prompts, selection and fitness."""

from evojax_nas.search.fitness import Score, fitness, score

__all__ = ["Score", "fitness", "score"]
