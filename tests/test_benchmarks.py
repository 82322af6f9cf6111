"""The benchmarks run: each at a tiny budget, so none rots unnoticed (train_throughput.py once handed a Flax
class to a trainer that had come to take exported programs)."""

import json
import shlex
import subprocess
import sys

import pytest

from tests.conftest import ROOT


def run(command: str) -> tuple[str, dict]:
    """Run `benchmarks/<command>`; its stdout and the JSON object of its last line."""
    out = subprocess.run([sys.executable, *shlex.split(f"benchmarks/{command}")], cwd=ROOT, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout, json.loads(out.stdout.strip().splitlines()[-1])


def test_train_throughput_runs_and_ends_with_its_json_line():
    stdout, last = run("train_throughput.py --steps 3 --repeats 1 --programs cnn mlp child_11")
    assert last["programs"] == 2 and set(last["ratio_vs_pytorch"]) == {"cnn", "mlp"}  # child_11 does not export
    assert "child_11         does not export" in stdout


def test_population_throughput_runs_and_ends_with_its_json_line():
    _, last = run("population_throughput.py --population 2 --steps 3 --workers 1 --no-baseline")
    assert last["population"] == 2 and last["ratio_vs_pytorch"] > 0 and last["ratio_vs_today"] is None
    assert last["split"]["this tree"]["trained"] == 2
    assert last["split"]["this tree"]["trace_s"] > 0 and last["split"]["this tree"]["queue_s"] >= 0  # the clocks
    warm = last["split"]["this tree, warm cache"]
    assert warm["cache_hits"] == warm["cache_requests"] > 0  # the second evaluation compiled nothing


def test_successive_halving_runs_and_ends_with_its_json_line():
    _, last = run("successive_halving.py --population 3 --steps 4 --seeds 2 --settings 0.5,1:0.34 "
                  "0.25,0.5,1:0.5 --top 1 --workers 1")
    assert last["trained"] == 3 and set(last["settings"]) == {"0.5,1:0.34", "0.25,0.5,1:0.5"}
    assert 0 <= last["settings"]["0.5,1:0.34"]["top_kept"] <= 2
    assert last["settings"]["0.5,1:0.34"]["fraction_of_steps"] == pytest.approx((3 * 2 + 2 * 2) / (3 * 4), abs=1e-4)


def test_eval_two_stage_runs_and_ends_with_its_json_line():
    _, last = run("eval_two_stage.py --programs 2 --steps 3 --no-baseline")
    assert last["programs"] == last["trained"] == 2 and last["wall_s"] > 0  # the cnn seeds train
    assert last["baseline"] is None and last["ratio"] is None


@pytest.mark.slow
def test_clrs_throughput_runs_and_ends_with_its_json_line():
    _, last = run("clrs_throughput.py --algorithms bfs --length 4 --batch 2 --hidden 8 --steps 2 --seeds 2")
    assert last["ratio"]["bfs"] > 0 and last["ratio_seeds"]["bfs"] > 0
    assert set(last["steps_per_s"]["bfs"]) == {"ours", "haiku", "ours x2", "haiku x2"}


@pytest.mark.slow
def test_lm_speed_runs_and_ends_with_its_json_line():
    _, last = run("lm_speed.py --new-tokens 4 --batches 1")
    assert last["new_tokens"] == 4 and last["ratio_vs_transformers"]["1"] > 0
    assert {"ours, batch 1", "ours, whole vocabulary, batch 1", "transformers, batch 1"} <= set(last["tokens_per_s"])


@pytest.mark.slow
def test_lm_yield_runs_and_ends_with_its_json_line():
    _, last = run("lm_yield.py --samples 1 --temperatures 0.8 --max-new-tokens 64 --train-steps 3")
    assert last["children"] == sum(last["extraction"].values()) == 2  # two parent pairs, one temperature
    for mode, counts in last["counts"].items():
        stages = [counts[s] for s in ("extracted", "sandbox", "trained", "distinct")]
        assert stages == sorted(stages, reverse=True) and stages[0] <= 2, (mode, counts)
        assert last["distinct_rate"][mode] <= last["trained_rate"][mode] == counts["trained"] / 2


@pytest.mark.slow
def test_scaling_runs_and_ends_with_its_json_line():
    # the mesh sides only (a side is a search's evaluator: minutes); test_ray_backend.py and test_mesh.py check
    # that the Ray actors and the mesh train to the local worker's numbers
    _, last = run("scaling.py --population 2 --steps 3 --devices 1 2 --workers")
    assert last["population"] == 2 and set(last["mesh"]) == {"1", "2"} and last["mesh"]["2"] > 0
    assert last["local"] == last["ray"] == last["ray_overhead"] == {}
    assert last["val_accuracy_drift"]["mesh 2"] <= 0.004  # the same numbers on 2 devices as on 1


@pytest.mark.slow
def test_search_quality_runs_and_ends_with_its_json_line(tmp_path):
    # a variant (of the non-LM baseline: no LM to load or sample) and an LM method; test_search runs EvoPrompting
    methods = ("mutation+parents=random", "llmatic")
    out, ledger = tmp_path / "a", tmp_path / "ledger"
    _, last = run(f"search_quality.py --budget tiny --seeds 0 --methods {' '.join(methods)} --out {out} "
                  f"--ledger {ledger}")
    assert set(last["methods"]) == set(methods) and 0 <= last["evaluated"] <= 2
    assert len(list(out.glob("*-s0/candidates.jsonl"))) == len(methods)
    seeds = {(out / f"{m}-s0" / "data_seed").read_text() for m in methods}
    assert len(seeds) == 1  # every run on the same private data
    assert "parents = 'random'" in (out / "configs" / "mutation_parents_random_s0.py").read_text()
    for method in last["methods"].values():
        assert method["runs"] == 1 and method["beat_best_seed"] in (0, 1) and method["best_at_n"] <= 0
    assert (out / "report" / "runs" / "summary.md").exists() and (out / "report" / "max_fitness.png").exists()
    # Another session, with no run directories: the ledger's runs are read, not run again, and a new run
    # evaluates on the ledger's data, round 0 replayed from it
    assert {p.name for p in (ledger / "tiny").iterdir()} == {"round0.json", *(f"{m}-s0.json" for m in methods)}
    stdout, again = run(f"search_quality.py --budget tiny --seeds 0 --methods {' '.join(methods)} mutation "
                        f"--out {tmp_path / 'b'} --ledger {ledger}")
    assert stdout.count("running ") == 1 and "running mutation-s0" in stdout
    assert all(again["methods"][m]["best"] == last["methods"][m]["best"] for m in methods)
    shared = json.loads((ledger / "tiny" / "round0.json").read_text())
    mutation = tmp_path / "b" / "mutation-s0"
    assert seeds == {(mutation / "data_seed").read_text()} == {f"{shared['data_seed']}\n"}
    assert len(shared["rounds"]) == 2  # the seeds (EvoPrompting's, which the mutation baseline shares), LLMatic's net
    replayed = {r["id"] for r in shared["rounds"][0]["records"]}
    logged = [json.loads(line) for line in (mutation / "candidates.jsonl").read_text().splitlines()]
    assert replayed and replayed <= {r["id"] for r in logged if r["round"] == 0}


def test_an_unfinished_run_parks_in_the_ledger_and_unpacks_as_it_was(tmp_path):
    """search_quality.py --park: a run begun in one session goes on in another that has only the ledger."""
    import tarfile

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import search_quality

    out, elsewhere, ledger, name = tmp_path / "out", tmp_path / "elsewhere", tmp_path / "ledger", "naive-s1"
    (out / name / "checkpoints" / "0").mkdir(parents=True)
    (out / "stats").mkdir()
    files = {f"{name}/config.json": "{}", f"{name}/checkpoints/0/state": "round 0", f"{name}/data_seed": "7\n",
             f"stats/{name}.json": json.dumps({"wall_s": 60.0, "done": False}), f"stats/{name}.log": "round 1\n"}
    for path, text in files.items():
        (out / path).write_text(text)
    (out / name / "data_seed").chmod(0o600)
    parked = search_quality.park(name, out, ledger)
    search_quality.unpark(name, elsewhere, ledger)
    assert {p: (elsewhere / p).read_text() for p in files} == files
    assert (elsewhere / name / "data_seed").stat().st_mode & 0o777 == 0o600
    (out / "stats" / f"{name}.json").write_text(json.dumps({"wall_s": 90.0, "done": True}))
    assert search_quality.park(name, out, ledger) is None and search_quality.park("llmatic-s0", out, ledger) is None
    with tarfile.open(parked, "w:gz") as tar:  # a parked file edited to write outside --out is refused
        tar.add(out / "stats" / f"{name}.log", arcname="../outside.log")
    with pytest.raises(tarfile.OutsideDestinationError):
        search_quality.unpark(name, tmp_path / "fresh", ledger)
    assert not (tmp_path / "outside.log").exists()


def test_a_ledger_run_counts_only_while_its_name_means_its_config(tmp_path):
    """search_quality.py: a ledger record run under a config its name no longer means (a budget changed since)
    is refused, naming the field, rather than read as this experiment; the same config is read, not run."""
    from evojax_nas.config import load_config

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import search_quality

    out, ledger = tmp_path / "out", tmp_path / "ledger"
    ledger.mkdir()
    config = load_config(f"{ROOT}/configs/mnist1d_naive.py:quality")
    config.search.seed = 1
    record = {"name": "naive-s1", "spec": "naive", "seed": 1, "candidates": [], "rounds": [],
              "config": json.loads(config.to_json())}
    (ledger / "naive-s1.json").write_text(json.dumps(record))
    assert search_quality.run_one("naive", 1, "quality", out, ledger)["name"] == "naive-s1"
    shots = config.search.shots
    record["config"]["search"]["shots"] = shots + 1
    del record["config"]["search"]["temperatures"]  # a field added since is not compared
    (ledger / "naive-s1.json").write_text(json.dumps(record))
    with pytest.raises(SystemExit, match=f"search.shots: {shots + 1} in the ledger, {shots} now"):
        search_quality.run_one("naive", 1, "quality", out, ledger)
    assert not (out / "naive-s1").exists()
