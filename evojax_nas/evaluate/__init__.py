"""Sandboxed evaluation: worker processes with timeouts, memory limits and restart on crash."""

from evojax_nas.evaluate.pool import Evaluator, EvaluatorConfig
from evojax_nas.evaluate.result import Result

__all__ = ["Evaluator", "EvaluatorConfig", "Result"]
