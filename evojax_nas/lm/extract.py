"""From a completion to candidate source: strip chat framing and fences, stop at the next prompt marker,
and cut a truncated child back to its last complete statement (or close it). Repairs of the code itself
are in `programs.repair`."""

from __future__ import annotations

import ast
import dataclasses
import io
import re
import tokenize

from evojax_nas.programs.repair import call_method

FENCE = re.compile(r"```[a-zA-Z0-9_+-]*\n?")
CLOSERS = {"(": ")", "[": "]", "{": "}"}


@dataclasses.dataclass(frozen=True)
class Extraction:
    """Candidate source (None when nothing usable) and what was done to get it."""

    source: str | None
    outcome: str  # "clean", "repaired_truncation", "no_code", "unparseable"


def _strip_framing(text: str, class_name: str) -> str:
    """Drop chat framing: the code before the first fence if the class is there (what follows is
    chatter), else the first fenced block that defines the class."""
    if "```" not in text:
        return text
    parts = FENCE.split(text)
    if f"class {class_name}" in parts[0]:
        return parts[0]
    code = [p for p in parts[1::2] if f"class {class_name}" in p]
    return code[0] if code else parts[1]


def _parses(source: str) -> bool:
    try:
        ast.parse(source)
        return True
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False


def _close_brackets(source: str) -> str | None:
    """Close the brackets a truncated last statement left open, if that makes it parse."""
    stack: list[str] = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.OP and tok.string in CLOSERS:
                stack.append(CLOSERS[tok.string])
            elif tok.type == tokenize.OP and tok.string in CLOSERS.values() and stack:
                stack.pop()
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    if not stack:
        return None
    closed = source.rstrip().rstrip(",") + "".join(reversed(stack)) + "\n"
    return closed if _parses(closed) else None


def _cut_to_complete(source: str) -> str | None:
    """The longest prefix of whole lines that parses (a truncated child cut at its last statement)."""
    lines = source.rstrip().split("\n")
    for end in range(len(lines) - 1, 0, -1):
        candidate = "\n".join(lines[:end]).rstrip() + "\n"
        if _parses(candidate):
            return candidate
    return None


def _close_call(source: str, class_name: str, closing: str) -> str:
    """If the class's __call__ ends without a return (it was cut short), append the task's closing lines."""
    call = call_method(ast.parse(source), class_name)
    if call is None or any(isinstance(n, ast.Return) for n in ast.walk(call)):
        return source
    indent = " " * (call.body[-1].col_offset if call.body else call.col_offset + 4)
    lines = source.rstrip().split("\n")
    lines.insert(call.end_lineno, "\n".join(indent + line for line in closing.strip().split("\n")))
    return "\n".join(lines) + "\n"


def extract_program(completion: str, header: str, markers: tuple[str, ...] = (), *, class_name: str,
                    closing: str = "") -> Extraction:
    """Turn a completion that continues `header` into candidate source.

    The text is cut at the first marker (the next prompt example); a child truncated by the token limit is
    cut back to its last complete statement (or, failing that, has its open brackets closed) and, if its
    `__call__` then has no return, ended with the task's `closing` lines."""
    text = _strip_framing(header + completion, class_name)
    for marker in markers:
        cut = text.find(marker, 1)
        if cut >= 0:
            text = text[:cut]
    text = text.rstrip() + "\n"
    if f"class {class_name}" not in text:
        return Extraction(None, "no_code")
    if _parses(text):
        return Extraction(text, "clean")
    # Cutting the unfinished statement beats closing its brackets: a statement cut by the token limit is
    # mostly unfinished in content too (closing `nn.relu(nn.Conv(16, (3,), str` trains garbage).
    repaired = _cut_to_complete(text)
    if repaired is None or f"class {class_name}" not in repaired:
        repaired = _close_brackets(text)
    if repaired is None or f"class {class_name}" not in repaired:
        return Extraction(None, "unparseable")
    return Extraction(_close_call(repaired, class_name, closing) if closing else repaired, "repaired_truncation")
