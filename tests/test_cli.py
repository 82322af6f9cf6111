"""`evonas eval` trains every seed file in the sandbox and prints JSON plus a table."""

import json
import subprocess
import sys

from tests.conftest import ROOT, SEEDS


def evonas(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "evojax_nas.cli", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)


def test_eval_every_seed_file():
    paths = sorted(SEEDS.glob("*.py"))
    run = evonas("eval", *map(str, paths), "--task", "mnist1d", "--steps", "30", "--seeds", "2",
                 "--strategy", "python-serial")
    assert run.returncode == 0, run.stderr[-2000:]
    rows = json.loads(run.stdout)
    assert [row["name"] for row in rows] == [p.name for p in paths]
    for row in rows:
        metrics = row["metrics"]
        assert row["failure"] is None and len(metrics["val_accuracy"]) == 2
        assert metrics["params"] > 0 and metrics["flops"] > 0 and metrics["strategy"] == "python-serial"
        assert row["fitness"] == -(1 - metrics["val_accuracy_mean"]) * metrics["params"]
    assert "fitness" in run.stderr and "cnn.py" in run.stderr


def test_eval_reports_a_broken_program_without_a_traceback(tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("import os\n")
    run = evonas("eval", str(broken), "--steps", "10")
    assert run.returncode == 1
    row = json.loads(run.stdout)
    assert row["failure"]["kind"] == "forbidden" and not row["eligible"]
    assert "Traceback" not in run.stderr


def test_bad_config_path_is_a_clear_error():
    run = evonas("eval", str(SEEDS / "mlp.py"), "--config", "configs/missing.py")
    assert run.returncode == 2 and "does not exist" in run.stderr


def test_bad_search_config_is_a_clear_error_and_writes_no_run(tmp_path):
    config = tmp_path / "configs" / "bad.py"
    config.parent.mkdir()
    config.write_text(f"from evojax_nas.config import load_config\n\n\ndef get_config():\n"
                      f"    config = load_config('{ROOT}/configs/mnist1d_evoprompting.py:small')\n"
                      f"    config.search.parents = 'best'\n    return config\n")
    run = evonas("search", "--config", str(config), "--workdir", str(tmp_path / "run"))
    assert run.returncode == 2 and "search.parents must be one of" in run.stderr, run.stderr[-2000:]
    assert "Traceback" not in run.stderr and not (tmp_path / "run").exists()
    run = evonas("search", "--config", f"{ROOT}/configs/mnist1d_evoprompting.py:huge", "--workdir", str(tmp_path))
    assert run.returncode == 2 and "budget must be full, small, quality or compare" in run.stderr
    run = evonas("search", "--workdir", str(tmp_path / "nothing"))
    assert run.returncode == 2 and "holds no run yet" in run.stderr
