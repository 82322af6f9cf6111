"""Load checked source into a fresh module with restricted builtins. Called only in evaluation workers."""

from __future__ import annotations

import builtins
import importlib.util
import sys
import types

from evojax_nas.programs.program import Failure, program_id
from evojax_nas.programs.static_check import ALLOWED_IMPORTS, FORBIDDEN_ATTRS, check_source

SAFE_BUILTINS = (
    "abs", "all", "any", "bool", "callable", "chr", "dict", "divmod", "enumerate", "filter", "float",
    "frozenset", "hasattr", "hash", "int", "isinstance", "issubclass", "iter", "len", "list", "map", "max",
    "min", "next", "ord", "pow", "print", "range", "repr", "reversed", "round", "set", "slice", "sorted",
    "str", "sum", "super", "tuple", "zip", "complex", "bin", "hex", "oct", "id", "NotImplemented",
    "Ellipsis", "ArithmeticError", "AssertionError", "AttributeError", "Exception", "IndexError",
    "KeyError", "NotImplementedError", "RuntimeError", "StopIteration", "TypeError", "ValueError",
    "ZeroDivisionError", "__build_class__",
)


class LoadError(Exception):
    """Raised by load_class with the Failure that describes why."""

    def __init__(self, failure: Failure):
        super().__init__(f"{failure.kind}: {failure.message}")
        self.failure = failure


def _is_module(name: str) -> bool:
    if name in sys.modules:
        return True
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _guarded_import(name, globals=None, locals=None, fromlist=(), level=0):  # noqa: A002
    """__import__ that admits only the allow-listed modules and their public, non-module names."""
    if level != 0 or name not in ALLOWED_IMPORTS:
        raise ImportError(f"import of {name!r} is not allowed")
    for item in fromlist or ():
        full = f"{name}.{item}"
        submodule = full not in ALLOWED_IMPORTS and _is_module(full)
        if item.startswith("_") or item in FORBIDDEN_ATTRS or submodule:
            raise ImportError(f"'from {name} import {item}' is not allowed")
    return builtins.__import__(name, globals, locals, fromlist, level)


def restricted_builtins() -> dict:
    """Return the builtins a candidate module sees."""
    safe = {name: getattr(builtins, name) for name in SAFE_BUILTINS}
    safe["__import__"] = _guarded_import
    return safe


def load_class(source: str, class_name: str, base: type | None = None) -> type:
    """Check, then execute the source in a fresh module and return its class `class_name`."""
    failure = check_source(source, required_class=class_name)
    if failure:
        raise LoadError(failure)
    # named by the content hash, not hash(), which differs per process: an error's message (shown to the LM
    # when a child is retried) must be the same in a resumed run
    module = types.ModuleType(f"candidate_{program_id(source)}")
    module.__dict__["__builtins__"] = restricted_builtins()
    sys.modules[module.__name__] = module  # dataclass transforms (flax) look the module up
    try:
        exec(compile(source, f"<{module.__name__}>", "exec"), module.__dict__)  # noqa: S102 (checked source)
    except MemoryError as err:
        raise LoadError(Failure("oom", f"memory exhausted while loading: {err}")) from err
    except ImportError as err:
        raise LoadError(Failure("forbidden", str(err))) from err
    except Exception as err:  # noqa: BLE001 (untrusted code: every error is data)
        raise LoadError(Failure("crash", f"loading raised {type(err).__name__}: {err}")) from err
    cls = module.__dict__.get(class_name)
    if not isinstance(cls, type) or (base is not None and not issubclass(cls, base)):
        expected = f"a subclass of {base.__module__}.{base.__qualname__}" if base else "a class"
        raise LoadError(Failure("interface", f"{class_name!r} is not {expected}"))
    return cls
