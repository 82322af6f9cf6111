"""A candidate program: source text plus lineage and metrics, identified by a content hash."""

from __future__ import annotations

import ast
import dataclasses
import hashlib
from pathlib import Path
from typing import Any, Literal

# "duplicate" and "stopped" (by successive halving) are the evaluator's and the search's words, never a worker's
FailureKind = Literal["syntax", "forbidden", "interface", "shape", "nan", "timeout", "oom", "crash", "duplicate",
                      "stopped"]
FAILURE_KINDS: tuple[str, ...] = FailureKind.__args__


@dataclasses.dataclass(frozen=True)
class Failure:
    """Why a program could not be evaluated: a kind from FAILURE_KINDS and a one-line message."""

    kind: str
    message: str

    def __post_init__(self) -> None:
        if self.kind not in FAILURE_KINDS:
            raise ValueError(f"unknown failure kind {self.kind!r}; expected one of {FAILURE_KINDS}")


def error_kind(err: BaseException) -> str:
    """The failure kind of an error a candidate's code raised: shape when its message speaks of shapes, else
    crash."""
    text = f"{type(err).__name__} {err}".lower()
    return "shape" if any(w in text for w in ("shape", "dimension", "rank", "incompatible")) else "crash"


def with_failure(data: dict[str, Any]) -> dict[str, Any]:
    """A copy of to_dict() data (a Program's or a Result's) with its failure, if any, a Failure again."""
    data = dict(data)
    if data.get("failure") is not None:
        data["failure"] = Failure(**data["failure"])
    return data


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                if isinstance(body[0].value.value, str):
                    node.body = body[1:] or [ast.Pass()]
    return tree


def normalise_source(source: str) -> str:
    """Return the source with comments, docstrings and formatting removed (raw text if it does not parse)."""
    try:
        return ast.unparse(_strip_docstrings(ast.parse(source)))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return source.strip()


def program_id(source: str) -> str:
    """Return the content hash (16 hex digits) of the normalised source."""
    return hashlib.sha256(normalise_source(source).encode()).hexdigest()[:16]


@dataclasses.dataclass
class Program:
    """Plain, JSON-serialisable data: source, id, lineage, and metrics or a failure."""

    source: str
    parents: tuple[str, ...] = ()
    origin: dict[str, Any] = dataclasses.field(default_factory=lambda: {"kind": "seed"})
    metrics: dict[str, Any] | None = None
    failure: Failure | None = None
    id: str = ""

    def __post_init__(self) -> None:
        if not self.id:
            self.id = program_id(self.source)
        self.parents = tuple(self.parents)

    @classmethod
    def from_file(cls, path: str | Path) -> Program:
        """Return a seed program read from a `.py` file."""
        path = Path(path)
        return cls(source=path.read_text(), origin={"kind": "seed", "name": path.stem})

    def to_dict(self) -> dict[str, Any]:
        """Return the program as plain JSON-ready data."""
        out = dataclasses.asdict(self)
        out["parents"] = list(self.parents)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Program:
        """Inverse of to_dict."""
        return cls(**with_failure(data))
