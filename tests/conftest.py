"""Shared fixtures: one MNIST-1D task and a private cache directory per test session."""

from __future__ import annotations

import atexit
import ctypes
import os
import shutil
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds" / "mnist1d"

# This test process adopts its orphaned descendants (PR_SET_CHILD_SUBREAPER), so a process that outlived the
# evaluation which started it is still found below this one, and tests run in parallel processes (the slow
# suite's `-n 2`) do not see each other's evaluations.
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)

# Measurements, data and converted LM weights made by tests stay out of the user's cache, and go with the run.
if "EVOJAX_NAS_CACHE" not in os.environ:
    os.environ["EVOJAX_NAS_CACHE"] = tempfile.mkdtemp(prefix="evonas-test-cache-")
    atexit.register(shutil.rmtree, os.environ["EVOJAX_NAS_CACHE"], ignore_errors=True)

# jax's persistent compilation cache in the test processes and the searches and benchmarks they start (through
# the environment; confined workers and sandboxes get a clean one and set their own), in that cache (in CI one
# for both suites): the tests compile the same seeds, CLRS models and LM shapes again and again, in every
# process, as a search's workers would from their own cache. Tests that count compiles name their own cache.
os.environ.update(JAX_COMPILATION_CACHE_DIR=str(Path(os.environ["EVOJAX_NAS_CACHE"]) / "compile-tests"),
                  JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0.1", JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="0")



@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """`--dist loadgroup`: send a group's tests to one process. pytest-xdist 3.8 marks a group by renaming
    `item._nodeid`, which pytest 9 no longer reads (it keeps `item._id`), so its groups were split and two
    processes set up one module fixture (the isolation corpus: twice its 3 minutes, and one port bound twice).
    The same suffix, where pytest 9 reads it; a no-op where xdist's own renaming took."""
    if not config.getoption("loadgroup", False):  # set on the processes of `-n N --dist loadgroup` only
        return
    from _pytest.nodeid import coerce_node_id

    for item in items:
        groups = sorted({str(m.args[0] if m.args else m.kwargs.get("name", "default"))
                         for m in item.iter_markers("xdist_group")})
        if groups and "@" not in item.nodeid:
            item._id = coerce_node_id(f"{item.nodeid}@{'_'.join(groups)}")

@pytest.fixture(scope="session")
def task():
    from evojax_nas.tasks.mnist1d import make_task

    return make_task()


def seed_source(name: str) -> str:
    """Source text of a seed program in seeds/mnist1d/."""
    return (SEEDS / f"{name}.py").read_text()


def write_config(tmp_path_factory, name: str, text: str) -> Path:
    """A config file in a `configs/` folder of its own (load_config imports it as configs.NAME)."""
    path = tmp_path_factory.mktemp("cfg") / "configs" / f"{name}.py"
    path.parent.mkdir()
    path.write_text(text)
    return path


def _parent(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("PPid:"):
            return int(line.split()[1])
    return 0


def evaluation_processes() -> set[int]:
    """Pids of live processes below this one started from this package's evaluation modules (zygote,
    sandboxes, workers), orphans among them (this process is their subreaper)."""
    out = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if b"evojax_nas.evaluate" not in (entry / "cmdline").read_bytes():
                    continue
                pid = int(entry.name)
                while pid > 1 and pid != os.getpid():
                    pid = _parent(pid)
                if pid == os.getpid():
                    out.add(int(entry.name))
            except (OSError, ValueError):
                pass
    return out
