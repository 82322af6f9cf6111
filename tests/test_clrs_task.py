"""The CLRS task through the real pipeline: its contract (class, prompt, repairs), the registry, the nine seeds
and hostile triplet functions through the trace sandbox and a train worker, `evonas eval --task clrs:bfs`,
and the resumable `clrs-table`."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from clrs_tasks.task import ClrsTask
from evojax_nas.evaluate import Evaluator, EvaluatorConfig
from evojax_nas.programs import Program
from evojax_nas.search.prompts import build_prompt, stop_markers
from evojax_nas.tasks import get_task
from evojax_nas.tasks.mnist1d import Mnist1D

ROOT = Path(__file__).resolve().parents[1]
SEEDS = sorted((ROOT / "seeds" / "clrs_triplet").glob("*.py"))
HOSTILE = sorted((ROOT / "tests" / "hostile_clrs").glob("*.py"))
# A budget that trains in seconds: hidden 8, sizes 4 and 7, 16 validation and test samples at n = 8.
TINY = {"num_steps": 6, "hidden": 8, "train_lengths": [4, 7], "val_samples": 16, "test_samples": 16,
        "test_length": 8, "eval_every": 3, "num_seeds": 1, "seed": 0}


def test_mnist_repairs_leave_a_triplet_function_unchanged():
    clrs, mnist = ClrsTask("bfs"), Mnist1D()
    for path in SEEDS:
        source = path.read_text()
        assert ast.dump(ast.parse(clrs.repair(source))) == ast.dump(ast.parse(source)), path.name
    # the classifier's rules would have changed it: a `train` argument on the class the trainer calls
    reference = (ROOT / "seeds" / "clrs_triplet" / "reference.py").read_text()
    assert "train" not in reference
    assert ast.dump(ast.parse(mnist.repair(reference.replace("TripletMessages", "Model")))) != ast.dump(
        ast.parse(reference.replace("TripletMessages", "Model")))


def test_the_task_owns_its_prompt_class_and_stop_markers():
    task = get_task("clrs:graham_scan")
    assert task.name == "clrs:graham_scan" and task.candidate.class_name == "TripletMessages"
    parent = Program.from_file(SEEDS[0])
    parent.metrics = {"val_score_mean": 0.8, "params": 400_000}
    prompt, header = build_prompt([parent], task.candidate)
    assert header == "class TripletMessages(nn.Module):" and prompt.endswith(header)
    assert "# Model 1: validation score 0.800, parameters 400000" in prompt and "graham_scan" in prompt
    assert "\nclass TripletMessages" in stop_markers(task.candidate)


def test_registry_takes_short_names_and_dotted_paths_and_never_imports_clrs_unasked():
    assert get_task("clrs_tasks.task:make", algorithm="dfs").name == "clrs:dfs"
    assert get_task("mnist1d").name == "mnist1d"
    for bad in ("clrs:no_such_algorithm", "no_such_task", "no_such_module.x:make"):
        with pytest.raises(ValueError):
            get_task(bad)
    code = ("import sys, evojax_nas.cli, evojax_nas.evaluate.pool, evojax_nas.search.evoprompting, "
            "evojax_nas.runs.search_run; sys.exit(any(m.startswith('clrs_tasks') for m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


def _evaluate(paths: list[Path], **train) -> list:
    config = EvaluatorConfig(task="clrs:bfs", train_config={**TINY, **train}, num_workers=2, timeout_s=300)
    with Evaluator(config) as evaluator:
        return evaluator.evaluate([Program.from_file(p) for p in paths])


def test_hostile_triplet_functions_are_contained():
    seed, *hostile = _evaluate([SEEDS[5], *HOSTILE])  # an honest program beside them still trains
    results = dict(zip([p.stem for p in HOSTILE], hostile, strict=True))
    assert not [*ROOT.glob("evonas-clrs-escape-marker*"), *Path("/tmp").glob("evonas-clrs-escape-marker*")]
    assert seed.ok and results["escape_and_write"].ok, (seed.failure, results["escape_and_write"].failure)
    assert results["host_callback"].failure.kind == "forbidden"
    wrong = results["wrong_shape"].failure
    assert wrong.kind == "shape" and "(S, b, n, n, H)" in wrong.message and "to [(1, b, n, 8)]" in wrong.message


def _check_seed_results(results, hidden: int) -> None:
    for path, result in zip(SEEDS, results, strict=True):
        assert result.ok, (path.name, result.failure)
        m = result.metrics
        assert 0.0 <= m["val_score_mean"] <= 1.0 and 0.0 <= m["test_score_mean"] <= 1.0
        assert m["params"] > 1_000 and m["algorithm"] == "bfs"
        if path.stem == "reference":  # LLMatic's descriptors of the slot alone, from its computation: 7
            assert (m["width"], m["depth"]) == (max(8, hidden), 2)  # 8 triplet features, the read-out to H
        assert m["final_loss"][0] < 0.8 * m["first_loss"][0], (path.stem, m["first_loss"], m["final_loss"])


@pytest.mark.slow
def test_all_nine_seeds_pass_the_sandbox_and_train():
    """Each seed traced in the sandbox and trained in the trusted model: BFS, 40 steps, its loss falls. One
    size for training, validation and test: every size is a compile of its own (most of a seed's half minute
    here)."""
    assert len(SEEDS) == 9
    _check_seed_results(_evaluate(SEEDS, train_lengths=[4], test_length=4, num_steps=40, hidden=16, eval_every=20),
                        hidden=16)


@pytest.mark.slow
def test_cli_eval_and_clrs_table_resume(tmp_path, capsys):
    from evojax_nas.cli import main

    config = tmp_path / "tiny.py"
    config.write_text("from configs.default import get_config as default\n\n\ndef get_config():\n"
                      "    config = default()\n    config.task, config.task_kwargs = 'clrs:bfs', {}\n"
                      f"    config.train = {TINY!r}\n    return config\n")
    assert main(["eval", str(SEEDS[5]), "--config", str(config)]) == 0
    assert '"params"' in capsys.readouterr().out
    args = ["clrs-table", "--programs", str(SEEDS[5]), str(SEEDS[6]), "--algorithms", "bfs",
            "--steps", "4", "--hidden", "8",
            "--train-lengths", "4", "--test-length", "8", "--val-samples", "16", "--test-samples", "16",
            "--out", str(tmp_path / "table")]
    assert main(args) == 0
    table = (tmp_path / "table" / "table.md").read_text()
    assert "| bfs |" in table and "99.73" in table and SEEDS[6].stem in table  # beside the published column
    log = tmp_path / "table" / "results.jsonl"
    lines = log.read_text().splitlines()
    log.write_text(lines[0] + "\n" + lines[1][:20])  # killed while writing the second row
    assert main(args) == 0
    rows = log.read_text().splitlines()
    assert rows[0] == lines[0] and len(rows) == 2  # the first kept, the cut one dropped and trained again
    assert json.loads(rows[1])["id"] == json.loads(lines[1])["id"]
    assert (tmp_path / "table" / "table.csv").read_text().count("\n") == 3
