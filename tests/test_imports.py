"""The packages import downward only, in the order the README's "What is here" states (lazy imports and
type-checking imports count too): a lower package never reaches for a higher one."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "evojax_nas"
ORDER = ["programs", "train", "tasks", "evaluate", "lm", "search", "runs", "cli"]  # config.py, paths.py: leaves


def arrows() -> list[tuple[str, str, str]]:
    """(file:line, from package, to package) of every import of one evojax_nas package by another."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).parts
        source = parts[0].removesuffix(".py")
        for node in ast.walk(ast.parse(path.read_text())):
            names = [node.module] if isinstance(node, ast.ImportFrom) and node.module else [
                a.name for a in node.names] if isinstance(node, ast.Import) else []
            for name in names:
                bits = name.split(".")
                if bits[0] == "evojax_nas" and len(bits) > 1 and bits[1] != source:
                    found.append((f"{path.relative_to(PACKAGE)}:{node.lineno}", source, bits[1]))
    return found


def test_no_package_imports_one_above_it():
    rank = {name: i for i, name in enumerate(ORDER)}
    found = arrows()
    assert any(src == "search" and dst == "lm" for _, src, dst in found)  # the walk sees imports at all
    upward = [f"{where}: {src} -> {dst}" for where, src, dst in found
              if src in rank and dst in rank and rank[dst] > rank[src]]
    assert not upward, "\n".join(upward)
    leaves = {dst for _, src, dst in found if src in ("config", "paths")} - {"config", "paths"}
    assert not leaves, f"config.py and paths.py import {leaves}"
