"""dm-clrs' own modules without `clrs/__init__`, which imports tensorflow and tensorflow_datasets.

`import clrs` takes 7 s and 766 MB here, all of it tensorflow, tfds and haiku; the specs, samplers, probes
and evaluation need none of them. The single use of tensorflow in `probing.py` is an `isinstance` check
for `tf.Tensor`, which our numpy data never is, so while that module imports it sees a stand-in module
whose `Tensor` nothing is an instance of. A real tensorflow, if installed, stays unimported; on accelerator
hosts that also keeps tensorflow from claiming device memory beside JAX.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types

_NOT_INSTALLED = "dm-clrs is not installed: pip install -e '.[clrs]'"


def _bare_package() -> None:
    """Register `clrs` as a package whose `__init__` is not run, so `clrs._src.x` imports only x's needs."""
    if "clrs" in sys.modules:
        return
    spec = importlib.util.find_spec("clrs")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(_NOT_INSTALLED)
    package = types.ModuleType("clrs")
    package.__path__ = list(spec.submodule_search_locations)
    package.__package__ = "clrs"
    sys.modules["clrs"] = package


def load(name: str) -> types.ModuleType:
    """Return `clrs._src.<name>` (specs, samplers, probing, evaluation; nets and baselines need haiku)."""
    _bare_package()
    stand_in = None
    if "tensorflow" not in sys.modules:
        stand_in = types.ModuleType("tensorflow")
        stand_in.Tensor = type("Tensor", (), {})  # the one name probing.py reads
        sys.modules["tensorflow"] = stand_in
    try:
        return importlib.import_module(f"clrs._src.{name}")
    finally:
        if stand_in is not None and sys.modules.get("tensorflow") is stand_in:
            del sys.modules["tensorflow"]
