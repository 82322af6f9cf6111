"""Shared fixtures: one MNIST-1D task and a private cache directory per test session."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds" / "mnist1d"

# Measurements and data made by tests stay out of the user's cache.
os.environ.setdefault("EVOJAX_NAS_CACHE", tempfile.mkdtemp(prefix="evonas-test-cache-"))


@pytest.fixture(scope="session")
def task():
    from evojax_nas.tasks import get_task

    return get_task("mnist1d")


def seed_source(name: str) -> str:
    """Source text of a seed program in seeds/mnist1d/."""
    return (SEEDS / f"{name}.py").read_text()
