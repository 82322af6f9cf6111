"""Evaluation in two stages: candidate code is traced to StableHLO in OS sandboxes, and only the exported
programs are trained, by trusted worker processes."""

from evojax_nas.evaluate.pool import Evaluator, EvaluatorConfig
from evojax_nas.evaluate.result import Result
from evojax_nas.evaluate.sandbox import IsolationUnavailable

__all__ = ["Evaluator", "EvaluatorConfig", "IsolationUnavailable", "Result"]
