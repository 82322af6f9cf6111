"""Shared fixtures: one MNIST-1D task and a private cache directory per test session."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds" / "mnist1d"

# Measurements, data and converted LM weights made by tests stay out of the user's cache, and go with the run.
if "EVOJAX_NAS_CACHE" not in os.environ:
    os.environ["EVOJAX_NAS_CACHE"] = tempfile.mkdtemp(prefix="evonas-test-cache-")
    atexit.register(shutil.rmtree, os.environ["EVOJAX_NAS_CACHE"], ignore_errors=True)


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


def evaluation_processes() -> set[int]:
    """Pids of live processes started from this package's evaluation modules (zygote, sandboxes, workers)."""
    out = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if b"evojax_nas.evaluate" in (entry / "cmdline").read_bytes():
                    out.add(int(entry.name))
            except OSError:
                pass
    return out
