"""Does the search work? EvoPrompting against its ablations (no prompt-tuning, naive few-shot: the seeds in
every prompt, random parents), LLMatic, and two baselines, best-of-N sampling (the LM without evolution) and the
non-LM evolutionary baseline (configs/mnist1d_mutation.py), at equal budget, several search seeds each, on
MNIST-1D with the embedded Gemma-3-270M.

Each run is `evonas search` in its own process (its wall time and the peak RSS of the process holding the
LM are measured), at the `:quality` budget of configs/mnist1d_evoprompting.py (LLMatic: the same samples a
round, halving and confirmation). Every run evaluates on the first run's private data. The first run trains
the seeds (round 0); the others replay its records (share_round0), so their wall times leave round 0 out. A
win is a child better than the best MNIST-1D seed, confirmed on 3 training seeds.
Runs already finished in --out are read, not run again, so the benchmark resumes. A finished run is also written
to the ledger (--ledger, committed: benchmarks/results/search_quality/BUDGET/): what the table and the overlaid
plots read of it (each child's round, fitness, size, accuracies, failure kind; the best program's source), its
wall time, peak RSS and commit, and, once, the shared round 0 with the data seed it was trained on. A run in the
ledger is not run again, and a new run evaluates on the ledger's data, so the table grows over sessions and
machines that keep no run directories; a run begun and not finished goes on in another session once parked
there: stop its `evonas search` process (SIGKILL is safe; the benchmark adds its wall time), then run the same
command with --park and commit the ledger. (The data seed is public there: no sandbox reads this repository, and
none can import the package that generates MNIST-1D.) Prints per run the best
seed's fitness, the best fitness at the end and after the first N evaluated children (N: the fewest any
run evaluated, so every method gets the same budget), the round that first beat the best seed, the best
model; then mean +- std per method; and writes the overlaid report (`evonas report` of every run) to
--out/report.

    .venv/bin/python benchmarks/search_quality.py --seeds 0 1 2 --out runs/search_quality
    .venv/bin/python benchmarks/search_quality.py --methods evoprompting+child_form=edit --out runs/search_quality

A method with levers (`+name=value`, search fields unless dotted) is a row of its own: one change measured
against its method at the same budget, on the same data.

--budget tiny (the `small` budget cut to one round of two short samples, 20 training steps, threshold 0) runs
the benchmark end to end in minutes, for its test: the machinery, not a measurement.
Last line: {"evaluated": N, "methods": {method: {"best_at_n": mean, "beat_best_seed": runs, ...}}, ...}.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evojax_nas.config import load_config  # noqa: E402
from evojax_nas.runs.journal import AppendLog  # noqa: E402
from evojax_nas.runs.report import load_run, plot, write_report  # noqa: E402
from evojax_nas.runs.search_run import DATA_SEED  # noqa: E402
from evojax_nas.tasks.mnist1d import Mnist1D  # noqa: E402

LEDGER = ROOT / "benchmarks" / "results" / "search_quality"
ROUND0 = "round0.json"  # in a ledger: the data seed, and the round 0 of each round-0 config
PARKED = "parked"  # in a ledger: runs begun and not finished, packed to go on in another session

# EvoPrompting, the paper's three ablations, and two baselines without evolution or without an LM; all at the
# same budget (the configs share configs/mnist1d_evoprompting.py's budgets).
METHODS = {"evoprompting": "configs/mnist1d_evoprompting.py", "no_tuning": "configs/mnist1d_no_tuning.py",
           "naive": "configs/mnist1d_naive.py", "random_parents": "configs/mnist1d_random_parents.py",
           "best_of_n": "configs/mnist1d_best_of_n.py", "mutation": "configs/mnist1d_mutation.py",
           "llmatic": "configs/mnist1d_llmatic.py"}
CONFIRMED = 3  # training seeds a win must hold on to count
STATIC = ("syntax", "forbidden", "interface")  # caught before training: not evaluated children
# --budget tiny: (the config's budget, the lines that shrink it). Threshold 0: at 20 steps no seed reaches 0.9,
# and a run needs an eligible model to report.
TINY = ("small", "    config.search.update(num_rounds=1, max_new_tokens=64, confirm_seeds=1)\n"
                 "    if config.search.method == 'llmatic':\n"
                 "        config.search.update(batch=2, num_init_nets=1)\n"
                 "    else:\n"
                 "        config.search.update(num_prompts=1, samples_per_prompt=2, num_children=2,\n"
                 "                             max_samples_per_round=2, retry_failed=False)\n"
                 "    config.train.update(num_steps=20)\n    config.min_val_accuracy = 0.0\n")


# what the ledger keeps of a child's metrics: the table's and the plots' fields
THIN_METRICS = ("params", "val_accuracy", "test_accuracy", "val_accuracy_mean", "test_accuracy_mean")
# how children are sampled and kept, and how many: round 0 (the seeds trained and confirmed) has none of it
SAMPLING = ("seed", "parents", "prompt_tuning", "operator", "child_form", "retry_failed", "num_rounds",
            "num_children", "max_samples_per_round", "temperatures", "max_new_tokens", "num_prompts",
            "samples_per_prompt", "shots", "size_factor", "accuracy_gain", "population_size", "tune_epochs",
            "tune_batch_size")


def round0_config(config: dict) -> dict:
    """What round 0 (the seeds trained and confirmed) depends on: the config less the LM and how children
    are sampled."""
    search = {k: v for k, v in config["search"].items() if k not in SAMPLING}
    return {**{k: v for k, v in config.items() if k != "lm"}, "search": search}


def share_round0(workdir: Path, config: Path, out: Path, ledger: Path) -> None:
    """Every run of the benchmark evaluates on the same private data, so their fitnesses compare: the
    ledger's data seed, else that of an earlier run in --out, else the run draws it. Round 0 trains the
    seeds, the same for every run of a config's round 0 (same seeds, same training seeds): a new run gets the
    records of one in the ledger or in --out and replays them as a resumed run would (a seed that failed
    there is trained again)."""
    if workdir.exists():
        return
    mine = round0_config(json.loads(load_config(str(config)).to_json()))
    donors = sorted(p.parent for p in out.glob("*-s*/config.json") if (p.parent / DATA_SEED).exists())
    if (ledger / ROUND0).exists():
        shared = json.loads((ledger / ROUND0).read_text())
    elif donors:
        shared = {"data_seed": int((donors[0] / DATA_SEED).read_text()), "rounds": [
            {"config": round0_config(json.loads((d / "config.json").read_text())), "records": round0_records(d)}
            for d in donors]}
    else:
        return
    workdir.mkdir(parents=True)
    with open(os.open(workdir / DATA_SEED, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
        f.write(f"{shared['data_seed']}\n")
    log = AppendLog(workdir / "candidates.jsonl")
    for record in next((r["records"] for r in shared["rounds"] if r["config"] == mine), []):
        log.append(record)


def round0_records(workdir: Path) -> list[dict]:
    """A run's records of round 0 that trained (the seeds, which every run of its budget shares)."""
    return [r for r in AppendLog(workdir / "candidates.jsonl").read() if r["round"] == 0 and r["result"]["metrics"]]


def thin(candidate: dict) -> dict:
    """What the table and the overlaid plots read of a candidate: the ledger keeps this, not the run."""
    metrics, failure = candidate["result"]["metrics"], candidate["result"]["failure"]
    origin = {"kind": candidate["program"]["origin"].get("kind")}
    return {"id": candidate["id"], "round": candidate["round"], "eligible": candidate["eligible"],
            "fitness": candidate["fitness"], "program": {"origin": origin},
            "result": {"metrics": metrics and {k: metrics[k] for k in THIN_METRICS},
                       "failure": failure and {"kind": failure["kind"]}}}


def to_ledger(spec: str, seed: int, budget: str, workdir: Path, stats: dict, ledger: Path) -> dict:
    """Write a finished run to the ledger (and round 0, the first time); the ledger's record of it."""
    run = load_run(workdir)
    best = max((c for c in run["candidates"] if c["eligible"]), key=lambda c: c["fitness"])
    record = {"name": workdir.name, "method": run["method"], "spec": spec, "seed": seed, "budget": budget,
              "commit": stats["commit"], "wall_s": stats["wall_s"], "cpu_s": stats.get("cpu_s"),
              "peak_rss_gb": stats["peak_rss_gb"], "config": json.loads((workdir / "config.json").read_text()),
              "rounds": run["rounds"], "candidates": [thin(c) for c in run["candidates"]],
              "best_source": best["program"]["source"]}
    ledger.mkdir(parents=True, exist_ok=True)
    shared = json.loads((ledger / ROUND0).read_text()) if (ledger / ROUND0).exists() else {
        "data_seed": int((workdir / DATA_SEED).read_text()), "rounds": []}
    mine = round0_config(json.loads((workdir / "config.json").read_text()))
    if all(r["config"] != mine for r in shared["rounds"]):
        shared["rounds"].append({"config": mine, "records": round0_records(workdir)})
        (ledger / ROUND0).write_text(json.dumps(shared, indent=1) + "\n")
    (ledger / f"{workdir.name}.json").write_text(json.dumps(record, separators=(",", ":")) + "\n")
    (ledger / PARKED / f"{workdir.name}.tar.gz").unlink(missing_ok=True)
    return record


def park(name: str, out: Path, ledger: Path) -> Path | None:
    """Pack the unfinished run `name` of --out (its directory, its stats and log) into the ledger, to go on
    in a session that has no run directories: it resumes where it stopped, its wall time summed over the
    sessions. None when --out holds no such run."""
    stats = out / "stats" / f"{name}.json"
    if not (out / name / "config.json").exists() or (stats.exists() and json.loads(stats.read_text()).get("done")):
        return None
    if not stats.exists():
        print(f"{name}: no stats (its search was not stopped through the benchmark): its wall time so far is lost")
    path = ledger / PARKED / f"{name}.tar.gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for member in (name, f"stats/{name}.json", f"stats/{name}.log"):
            if (out / member).exists():
                tar.add(out / member, arcname=member)
    return path


def unpark(name: str, out: Path, ledger: Path) -> None:
    """Unpack the parked run `name` into --out, unless --out has it already."""
    path = ledger / PARKED / f"{name}.tar.gz"
    if path.exists() and not (out / name).exists():
        with tarfile.open(path) as tar:
            tar.extractall(out, filter="data")  # no absolute paths, links out or devices


def method_spec(spec: str) -> tuple[str, list[tuple[str, object]]]:
    """A method of METHODS with levers: `evoprompting+child_form=edit+temperatures=(0.4,)` is EvoPrompting with
    those search fields set (a dotted name sets another part: `train.num_steps=500`)."""
    method, *levers = spec.split("+")
    if method not in METHODS:
        raise argparse.ArgumentTypeError(f"{method!r} is not one of {tuple(METHODS)}")
    fields = []
    for lever in levers:
        name, sep, text = lever.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"a lever is name=value, not {lever!r}")
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            value = text
        fields.append((name if "." in name else f"search.{name}", value))
    return method, fields


def differences(old: dict, new: dict, prefix: str = "") -> list[str]:
    """The dotted fields whose values differ between two configs (a field the old one lacks is not compared:
    a field added later defaults to what ran before it)."""
    found = []
    for key in old.keys() & new.keys():
        if isinstance(old[key], dict) and isinstance(new[key], dict):
            found += differences(old[key], new[key], f"{prefix}{key}.")
        elif old[key] != new[key]:
            found.append(f"{prefix}{key}: {old[key]!r} in the ledger, {new[key]!r} now")
    return sorted(found)


def check_same_config(record: dict, config: dict) -> None:
    """A ledger's run counts for its name only if the name still means its config: a budget or method changed
    since (`:quality`'s fields) makes it another experiment, which must not be read as this one."""
    if "config" in record and (changed := differences(record["config"], config)):
        raise SystemExit(f"the ledger's {record['name']} ran another config than {record['spec']} means now ("
                         + "; ".join(changed) + "): rename it to the lever it now is, or delete it to run again")


def as_run(record: dict, workdir: Path) -> dict:
    """A ledger's record as the report reads a run (runs/report.py's load_run): its numbers are MNIST-1D's."""
    return {**record, "workdir": workdir, "state": {}, "metrics": Mnist1D().candidate.metrics}


def run_one(spec: str, seed: int, budget: str, out: Path, ledger: Path) -> dict:
    """The ledger's record of one search: read from the ledger, or run (or finished) here and written there,
    with its wall time and peak RSS from this and earlier invocations."""
    method, levers = method_spec(spec)
    workdir = out / f"{spec}-s{seed}"
    config = out / "configs" / f"{re.sub(r'[^A-Za-z0-9]+', '_', spec)}_s{seed}.py"
    config.parent.mkdir(parents=True, exist_ok=True)
    base, shrink = TINY if budget == "tiny" else (budget, "")
    shrink += "".join(f"    config.{name} = {value!r}\n" for name, value in levers)
    config.write_text(f'"""{spec}, search seed {seed}, budget {budget} (written by search_quality.py)."""\n\n'
                      "from evojax_nas.config import load_config\n\n\ndef get_config():\n"
                      f"    config = load_config('{ROOT / METHODS[method]}:{base}')\n{shrink}"
                      f"    config.search.seed = {seed}\n    return config\n")
    if (ledger / f"{workdir.name}.json").exists():
        record = json.loads((ledger / f"{workdir.name}.json").read_text())
        check_same_config(record, json.loads(load_config(str(config)).to_json()))
        return as_run(record, workdir)
    unpark(workdir.name, out, ledger)
    stats_path = out / "stats" / f"{workdir.name}.json"
    stats = json.loads(stats_path.read_text()) if stats_path.exists() else {"wall_s": 0.0, "peak_rss_gb": 0.0}
    stats_path.parent.mkdir(exist_ok=True)
    share_round0(workdir, config, out, ledger)
    if not stats.get("done"):
        print(f"running {workdir.name} ...", flush=True)
        stats.setdefault("commit", subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT,
                                                  capture_output=True, text=True).stdout.strip())
        start = time.perf_counter()
        with open(out / "stats" / f"{workdir.name}.log", "a") as log:
            # a run begun resumes on its own config.json (a config field added since would refuse --config)
            begun = [] if (workdir / "config.json").exists() else ["--config", str(config)]
            process = subprocess.Popen([sys.executable, "-m", "evojax_nas.cli", "search", *begun,
                                        "--workdir", str(workdir)], stdout=subprocess.DEVNULL, stderr=log, cwd=ROOT)
            _, status, usage = os.wait4(process.pid, 0)
        stats["wall_s"] += time.perf_counter() - start
        stats["peak_rss_gb"] = max(stats["peak_rss_gb"], usage.ru_maxrss / 2**20)
        # CPU seconds of the search and the processes it waited for: wall time grows when the machine is shared
        stats["cpu_s"] = stats.get("cpu_s", 0.0) + usage.ru_utime + usage.ru_stime
        stats["done"] = os.waitstatus_to_exitcode(status) == 0
        stats_path.write_text(json.dumps(stats))
        if not stats["done"]:
            raise RuntimeError(f"{workdir.name} failed; see {out / 'stats' / (workdir.name + '.log')}")
    return as_run(to_ledger(spec, seed, budget, workdir, stats, ledger), workdir)


def analyse(run: dict) -> dict:
    """Best seed, best at the end, the fitness curve over evaluated children, the round that beat the seed."""
    candidates = run["candidates"]  # one record per program, confirmations applied
    best_seed = max((c["fitness"] for c in candidates if c["round"] == 0 and c["eligible"]), default=-np.inf)
    children = [c for c in candidates if c["round"] > 0 and (c["result"]["metrics"] or
                                                             c["result"]["failure"]["kind"] not in STATIC)]
    curve, best = [], best_seed
    for c in children:
        if c["eligible"]:
            best = max(best, c["fitness"])
        curve.append(best)
    wins = [(c["round"], c["fitness"]) for c in children if c["eligible"]
            and len(c["result"]["metrics"]["val_accuracy"]) >= CONFIRMED]  # confirmed: candidates to beat the seed
    top = max((c for c in candidates if c["eligible"]), key=lambda c: c["fitness"])["result"]["metrics"]
    val, test = top["val_accuracy"], top["test_accuracy"]
    return {"best_seed": best_seed, "best": best, "curve": curve, "evaluated": len(children),
            "wins": wins, "best_params": top["params"],
            "best_val": float(np.mean(val)), "best_test": float(np.mean(test)),
            "best_model": f"{top['params']} params, val {np.mean(val):.3f} +- {np.std(val):.3f}, test "
                          f"{np.mean(test):.3f} ({len(val)} seeds)"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--methods", nargs="+", default=list(METHODS),
                        help=f"of {', '.join(METHODS)}, each with levers: evoprompting+child_form=edit")
    parser.add_argument("--budget", default="quality", help="a budget of the configs, or tiny (tests)")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "search_quality")
    parser.add_argument("--ledger", type=Path, default=LEDGER, help="the finished runs, kept (a folder per budget)")
    parser.add_argument("--park", action="store_true", help="pack the runs of --methods and --seeds begun in --out "
                        "and not finished into the ledger (to commit), then stop")
    args = parser.parse_args()
    for spec in args.methods:
        try:
            method_spec(spec)
        except argparse.ArgumentTypeError as err:
            parser.error(f"--methods: {err}")
    ledger = args.ledger / args.budget
    if args.park:
        for name in (f"{m}-s{s}" for s in args.seeds for m in args.methods):
            if path := park(name, args.out, ledger):
                print(f"parked {name}: {path}")
        return
    runs = [run_one(m, s, args.budget, args.out, ledger) for s in args.seeds for m in args.methods]
    for run in runs:
        run.update(analyse(run))
    # The bar: the best of the seeds (the MNIST-1D seeds; LLMatic starts from a smaller initial network). Every
    # run evaluates on the same data (share_round0), so one number holds for all.
    reference = max(r["best_seed"] for r in runs)
    for run in runs:
        run["beat_round"] = min((k for k, f in run["wins"] if f > reference), default=None)
    print(f"the best seed: {reference:.1f}")
    n = min(r["evaluated"] for r in runs)
    print(f"\nequal budget: the first {n} evaluated children of each run\n")
    print("| method | search seed | commit | rounds | evaluated | best seed fitness | best fitness | best at N | "
          f"beat the best seed (on >= {CONFIRMED} seeds) in round | best model | wall | peak RSS |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in runs:
        at_n = r["curve"][n - 1] if n else r["best_seed"]
        print(f"| {r['spec']} | {r['seed']} | {r['commit']} | {len(r['rounds']) - 1} | {r['evaluated']} | "
              f"{r['best_seed']:.1f} | {r['best']:.1f} | {at_n:.1f} | {r['beat_round'] or 'never'} | "
              f"{r['best_model']} | {r['wall_s'] / 60:.1f} min | {r['peak_rss_gb']:.1f} GB |")
    print("\n| method | runs | best fitness, mean +- std | at N, mean +- std | beat the best seed | best val acc | "
          "best test acc | best params | children | wall, mean* | peak RSS |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    summary = {}
    for method in args.methods:
        mine = [r for r in runs if r["spec"] == method]
        at_n = np.asarray([r["curve"][n - 1] if n else r["best_seed"] for r in mine])
        best = np.asarray([r["best"] for r in mine])
        beaten = sum(r["beat_round"] is not None for r in mine)
        mean = {k: float(np.mean([r[k] for r in mine])) for k in ("wall_s", "best_val", "best_test", "best_params",
                                                                  "evaluated")}
        rss = max(r["peak_rss_gb"] for r in mine)
        print(f"| {method} | {len(mine)} | {best.mean():.1f} +- {best.std():.1f} | {at_n.mean():.1f} +- "
              f"{at_n.std():.1f} | {beaten}/{len(mine)} | {mean['best_val']:.3f} | {mean['best_test']:.3f} | "
              f"{mean['best_params']:.0f} | {mean['evaluated']:.0f} | {mean['wall_s'] / 60:.1f} min | {rss:.1f} GB |")
        summary[method] = {"runs": len(mine), "best": round(float(best.mean()), 2),
                           "best_std": round(float(best.std()), 2), "best_at_n": round(float(at_n.mean()), 2),
                           "best_at_n_std": round(float(at_n.std()), 2), "beat_best_seed": beaten,
                           **{k: round(v, 4) for k, v in mean.items()}, "peak_rss_gb": round(rss, 2)}
    print("\n* round 0 (training the seeds) is in the first run's wall time only; the others replay it")
    # the methods overlaid, from the ledger (every run); each run's own report where its directory is here
    report = args.out / "report"
    report.mkdir(parents=True, exist_ok=True)
    paths = plot(runs, report, top=20)
    if here := [r["workdir"] for r in runs if (r["workdir"] / "candidates.jsonl").exists()]:
        paths += write_report(here, report / "runs")
    print(f"\nreport: {', '.join(str(p) for p in paths)}")
    print(json.dumps({"budget": args.budget, "seeds": args.seeds, "best_seed": round(float(reference), 2),
                      "evaluated": n, "methods": summary}))


if __name__ == "__main__":
    main()
