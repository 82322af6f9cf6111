"""Candidates as source text: identity, static checks, loading in a restricted namespace."""

from evojax_nas.programs.program import Failure, FailureKind, Program, program_id
from evojax_nas.programs.static_check import check_source

__all__ = ["Failure", "FailureKind", "Program", "program_id", "check_source"]
