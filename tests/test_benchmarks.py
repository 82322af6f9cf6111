"""The benchmarks run: each at a tiny budget, so none rots unnoticed (train_throughput.py once handed a Flax
class to a trainer that had come to take exported programs)."""

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT


def test_train_throughput_runs_and_ends_with_its_json_line():
    out = subprocess.run([sys.executable, "benchmarks/train_throughput.py", "--steps", "3", "--repeats", "1",
                          "--programs", "cnn", "mlp", "child_11"], cwd=ROOT, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    last = json.loads(out.stdout.strip().splitlines()[-1])
    assert last["programs"] == 2 and set(last["ratio_vs_pytorch"]) == {"cnn", "mlp"}  # child_11 does not export
    assert "child_11         does not export" in out.stdout


def test_population_throughput_runs_and_ends_with_its_json_line():
    out = subprocess.run([sys.executable, "benchmarks/population_throughput.py", "--population", "3", "--steps", "3",
                          "--workers", "1", "--no-baseline"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    last = json.loads(out.stdout.strip().splitlines()[-1])
    assert last["population"] == 3 and last["ratio_vs_pytorch"] > 0 and last["ratio_vs_today"] is None
    assert last["split"]["this tree"]["trained"] == 3
    warm = last["split"]["this tree, warm cache"]
    assert warm["cache_hits"] == warm["cache_requests"] > 0  # the second evaluation compiled nothing


def test_successive_halving_runs_and_ends_with_its_json_line():
    out = subprocess.run([sys.executable, "benchmarks/successive_halving.py", "--population", "3", "--steps", "4",
                          "--seeds", "2", "--settings", "0.5,1:0.34", "0.25,0.5,1:0.5", "--top", "1",
                          "--workers", "1"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    last = json.loads(out.stdout.strip().splitlines()[-1])
    assert last["trained"] == 3 and set(last["settings"]) == {"0.5,1:0.34", "0.25,0.5,1:0.5"}
    assert 0 <= last["settings"]["0.5,1:0.34"]["top_kept"] <= 2
    assert last["settings"]["0.5,1:0.34"]["fraction_of_steps"] == pytest.approx((3 * 2 + 2 * 2) / (3 * 4), abs=1e-4)
