"""LLMatic end to end on MNIST-1D with the real embedded LM, real training and the real sandbox, on a small
budget: one uninterrupted run fills both archives and writes its report; a run killed with SIGKILL
mid-generation and resumed ends with the same archives as it had after that generation."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from evojax_nas.config import load_config
from evojax_nas.evaluate.result import reproducible
from evojax_nas.runs.checkpoints import SearchCheckpoints
from evojax_nas.runs.journal import AppendLog
from evojax_nas.search.llmatic import LlmaticState
from tests.conftest import evaluation_processes, write_config

ROOT = Path(__file__).resolve().parents[1]
CONFIG = f"""
from evojax_nas.config import load_config


def get_config():
    config = load_config("{ROOT}/configs/mnist1d_llmatic.py:small")
    config.search.update(num_rounds=2, batch=6, num_init_nets=2, max_new_tokens=200, seed=0)
    config.train.update(num_steps=200, max_train_flops=2e11)  # the LM's giants refused (test_search.py)
    return config
"""

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def config_file(tmp_path_factory) -> Path:
    return write_config(tmp_path_factory, "llmatic_test", CONFIG)


@pytest.fixture(scope="module")
def run(config_file, tmp_path_factory):
    """One uninterrupted run: (workdir, final state)."""
    from evojax_nas.lm.backends import LocalLM
    from evojax_nas.runs.search_run import run_search

    workdir = tmp_path_factory.mktemp("runs") / "reference"
    state = run_search(load_config(config_file), workdir, lm=LocalLM())
    return workdir, state


def archives(state: LlmaticState) -> dict:
    """Both archives and the prompt individuals, less what a replay need not give again (evaluate/result.py)."""
    programs = {k: reproducible(p["metrics"]) for k, p in state.programs.items()}
    return {"networks": state.networks, "prompts": state.prompts, "individuals": state.individuals,
            "scores": state.prompt_scores, "programs": programs, "rng": state.rng}


def test_both_archives_fill_and_the_report_shows_them(run):
    workdir, state = run
    last = state.history[-1]
    assert last["network_cells"] >= 2 and last["prompt_cells"] >= 2, last
    assert len(state.networks["elites"]) == last["network_cells"]
    assert all(0 < e["objective"] <= 1 for e in state.networks["elites"])  # validation accuracies
    held = {e["id"] for e in state.networks["elites"]}
    assert held <= set(state.programs) and all("width" in state.programs[i]["metrics"] for i in held)
    assert any(h.get("mutation_trained", 0) > 0 for h in state.history[1:])
    report = workdir / "report"
    for name in ("archives-reference.png", "qd-reference.png", "best_accuracy.png", "summary.md"):
        assert (report / name).stat().st_size > 0, name
    assert "network_qd_score" in (report / "summary.md").read_text()


def test_resume_after_sigkill_mid_generation_restores_both_archives(run, tmp_path, tmp_path_factory):
    """Killed as soon as generation 1 has logged a child, resumed, and stopped after it (a one-generation run):
    both archives as the uninterrupted run's after its generation 1."""
    reference_dir, _ = run
    config_file = write_config(tmp_path_factory, "llmatic_test_one", CONFIG.replace(
        "    return config", "    config.search.num_rounds = 1\n    return config"))
    workdir = tmp_path / "killed"
    workdir.mkdir()
    shutil.copy(reference_dir / "data_seed", workdir)  # the same private data as the run it is compared with
    command = [sys.executable, "-m", "evojax_nas.cli", "search", "--config", str(config_file), "--workdir",
               str(workdir)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log = workdir / "candidates.jsonl"
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline and process.poll() is None:
        if log.exists() and any(r["round"] == 1 for r in AppendLog(log).read()):
            break
        time.sleep(0.2)
    assert process.poll() is None, "the run ended before generation 1 logged a child"
    process.send_signal(signal.SIGKILL)
    process.wait()
    time.sleep(1.0)
    assert evaluation_processes() == set(), "a worker, zygote or sandbox outlived the killed search"
    assert sorted(os.listdir(workdir / "checkpoints")) == ["0"]
    done = subprocess.run([sys.executable, "-m", "evojax_nas.cli", "search", "--workdir", str(workdir)],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "resuming" in done.stderr
    after_one = tmp_path / "reference_after_generation_1"  # the reference's checkpoints less the later ones
    shutil.copytree(reference_dir / "checkpoints", after_one)
    for later in (d for d in after_one.iterdir() if d.name.isdigit() and int(d.name) > 1):
        shutil.rmtree(later)
    reference = LlmaticState.from_dict(SearchCheckpoints(after_one).restore().state)
    resumed = LlmaticState.from_dict(SearchCheckpoints(workdir / "checkpoints").restore().state)
    assert resumed.round == reference.round == 1 and archives(resumed) == archives(reference)
