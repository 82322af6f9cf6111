"""Static check of untrusted source: parse, AST allow-list, size bounds. Runs no code."""

from __future__ import annotations

import ast

from evojax_nas.programs.program import Failure

ALLOWED_IMPORTS = frozenset({
    "jax", "jax.numpy", "jax.nn", "jax.lax", "jax.random",
    "flax", "flax.linen",
    "functools", "math", "typing", "numpy",
})
# Builtins that reach files, code objects, the import system or arbitrary attributes.
FORBIDDEN_NAMES = frozenset({
    "open", "exec", "eval", "compile", "__import__", "globals", "locals", "vars", "getattr", "setattr",
    "delattr", "breakpoint", "input", "exit", "quit", "help", "memoryview", "type", "object",
    "classmethod", "staticmethod", "property",
})
# Attributes that read or write files, call back into the host, or walk frames and code objects.
FORBIDDEN_ATTRS = frozenset({
    "load", "loads", "save", "savez", "savez_compressed", "savetxt", "loadtxt", "genfromtxt", "fromfile",
    "fromregex", "tofile", "memmap", "open_memmap", "DataSource", "ctypeslib", "ctypes",
    "profiler", "distributed", "experimental", "callback", "pure_callback", "io_callback",
    "system", "popen", "spawn", "fork", "environ", "modules", "format", "format_map",
    "gi_frame", "gi_code", "cr_frame", "ag_frame", "f_globals", "f_locals", "f_back", "f_builtins",
    "tb_frame", "tb_next", "co_code", "mro",
    # modules that allowed modules happen to import (typing.sys, ...)
    "sys", "os", "subprocess", "builtins", "importlib", "shutil", "socket", "pathlib", "io", "pickle",
    "marshal", "threading", "multiprocessing", "signal", "resource", "gc", "inspect", "types", "runpy",
    "tempfile", "glob", "platform", "weakref", "codecs",
})
ALLOWED_DUNDER_ATTRS = frozenset({"__call__", "__init__"})
MAX_SOURCE_CHARS = 20_000
MAX_AST_NODES = 6_000


def _import_failure(node: ast.Import | ast.ImportFrom) -> str | None:
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name not in ALLOWED_IMPORTS:
                return f"import of {alias.name!r} is not allowed"
        return None
    if node.level:
        return "relative imports are not allowed"
    module = node.module or ""
    if module not in ALLOWED_IMPORTS:
        return f"import from {module!r} is not allowed"
    for alias in node.names:
        if alias.name == "*":
            return f"'from {module} import *' is not allowed"
        if alias.name.startswith("_") or alias.name in FORBIDDEN_ATTRS or alias.name in FORBIDDEN_NAMES:
            return f"'from {module} import {alias.name}' is not allowed"
    return None


def _node_failure(node: ast.AST) -> str | None:
    if isinstance(node, ast.Import | ast.ImportFrom):
        return _import_failure(node)
    if isinstance(node, ast.Name):
        if node.id in FORBIDDEN_NAMES:
            return f"use of {node.id!r} is not allowed"
        if node.id.startswith("__") and node.id != "__name__":
            return f"dunder name {node.id!r} is not allowed"
    if isinstance(node, ast.Attribute):
        attr = node.attr
        if attr.startswith("__") and attr.endswith("__") and attr not in ALLOWED_DUNDER_ATTRS:
            return f"dunder attribute {attr!r} is not allowed"
        if attr in FORBIDDEN_ATTRS:
            return f"attribute {attr!r} is not allowed"
        is_self = isinstance(node.value, ast.Name) and node.value.id == "self"
        if attr.startswith("_") and not is_self:
            return f"private attribute {attr!r} is only allowed on self"
    if isinstance(node, ast.Global | ast.Nonlocal):
        return "global/nonlocal statements are not allowed"
    if isinstance(node, ast.AsyncFunctionDef | ast.Await | ast.Yield | ast.YieldFrom):
        return "generators and coroutines are not allowed"
    return None


def check_source(source: str, required_class: str | None = None,
                 max_chars: int = MAX_SOURCE_CHARS) -> Failure | None:
    """Return None when the source passes the static checks, else the Failure with a one-line reason."""
    if len(source) > max_chars:
        return Failure("forbidden", f"source has {len(source)} characters, more than the limit {max_chars}")
    try:
        tree = ast.parse(source)
    except SyntaxError as err:
        return Failure("syntax", f"line {err.lineno}: {err.msg}")
    except (ValueError, RecursionError, MemoryError) as err:
        return Failure("syntax", f"source does not parse: {type(err).__name__}")
    n_nodes = 0
    for node in ast.walk(tree):
        n_nodes += 1
        if n_nodes > MAX_AST_NODES:
            return Failure("forbidden", f"program has more than {MAX_AST_NODES} syntax nodes")
        reason = _node_failure(node)
        if reason:
            return Failure("forbidden", f"line {getattr(node, 'lineno', '?')}: {reason}")
    if required_class and not any(
        isinstance(node, ast.ClassDef) and node.name == required_class for node in tree.body
    ):
        return Failure("interface", f"no top-level class named {required_class!r}")
    return None
