"""Does the search work? EvoPrompting against its ablations (no prompt-tuning, naive few-shot: the seeds in
every prompt, random parents), LLMatic, and two baselines, best-of-N sampling (the LM without evolution) and the
non-LM evolutionary baseline (configs/mnist1d_mutation.py), at equal budget, several search seeds each, on
MNIST-1D with the embedded Gemma-3-270M.

Each run is `evonas search` in its own process (its wall time and the peak RSS of the process holding the
LM are measured), at the `:quality` budget of configs/mnist1d_evoprompting.py (LLMatic: the same samples a
round, halving and confirmation). Every run evaluates on the first run's private data. The first run trains
the seeds (round 0); the others replay its records (share_round0), so their wall times leave round 0 out. A
win is a child better than the best MNIST-1D seed, confirmed on 3 training seeds.
Runs already finished in --out are read, not run again, so the benchmark resumes. Prints per run the best
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
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evojax_nas.config import load_config  # noqa: E402
from evojax_nas.runs.journal import AppendLog  # noqa: E402
from evojax_nas.runs.report import load_run, write_report  # noqa: E402
from evojax_nas.runs.search_run import DATA_SEED  # noqa: E402

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


SAMPLING = ("seed", "parents", "prompt_tuning", "operator", "child_form", "retry_failed", "num_rounds",
            "num_children", "max_samples_per_round")  # how children are sampled, and how many: round 0 has none


def round0_config(config: dict) -> dict:
    """What round 0 (the seeds trained and confirmed) depends on: the config less the LM and how children
    are sampled."""
    search = {k: v for k, v in config["search"].items() if k not in SAMPLING}
    return {**{k: v for k, v in config.items() if k != "lm"}, "search": search}


def share_round0(workdir: Path, config: Path, out: Path) -> None:
    """Every run of the benchmark evaluates on the same private data (the first run's data seed), so their
    fitnesses compare. Round 0 trains the seeds, the same for every run of a budget (same seeds, same training
    seeds): a new run gets the successful round-0 records of an earlier run of the same config in its journal,
    and replays them as a resumed run would (a seed that failed there, a timeout, is trained again)."""
    if workdir.exists():
        return
    mine = round0_config(json.loads(load_config(str(config)).to_json()))
    donors = sorted(p.parent for p in out.glob("*-s*/config.json") if (p.parent / DATA_SEED).exists())
    if donors:
        workdir.mkdir(parents=True)
        shutil.copy(donors[0] / DATA_SEED, workdir / DATA_SEED)
    for donor in donors:
        if round0_config(json.loads((donor / "config.json").read_text())) == mine:
            log = AppendLog(workdir / "candidates.jsonl")
            for record in AppendLog(donor / "candidates.jsonl").read():
                if record["round"] == 0 and record["result"]["metrics"]:
                    log.append(record)
            return


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


def run_one(spec: str, seed: int, budget: str, out: Path) -> dict:
    """Run (or finish) one search; its wall time and peak RSS, from this and earlier invocations."""
    method, levers = method_spec(spec)
    workdir = out / f"{spec}-s{seed}"
    stats_path = out / "stats" / f"{workdir.name}.json"
    stats = json.loads(stats_path.read_text()) if stats_path.exists() else {"wall_s": 0.0, "peak_rss_gb": 0.0}
    config = out / "configs" / f"{re.sub(r'[^A-Za-z0-9]+', '_', spec)}_s{seed}.py"
    config.parent.mkdir(parents=True, exist_ok=True)
    stats_path.parent.mkdir(exist_ok=True)
    base, shrink = TINY if budget == "tiny" else (budget, "")
    shrink += "".join(f"    config.{name} = {value!r}\n" for name, value in levers)
    config.write_text(f'"""{spec}, search seed {seed}, budget {budget} (written by search_quality.py)."""\n\n'
                      "from evojax_nas.config import load_config\n\n\ndef get_config():\n"
                      f"    config = load_config('{ROOT / METHODS[method]}:{base}')\n{shrink}"
                      f"    config.search.seed = {seed}\n    return config\n")
    share_round0(workdir, config, out)
    rounds = [r["step"] for r in AppendLog(workdir / "metrics.jsonl").read()]
    if not stats.get("done"):
        print(f"running {workdir.name} ...", flush=True)
        start = time.perf_counter()
        with open(out / "stats" / f"{workdir.name}.log", "a") as log:
            # a run begun resumes on its own config.json (a config field added since would refuse --config)
            begun = [] if (workdir / "config.json").exists() else ["--config", str(config)]
            process = subprocess.Popen([sys.executable, "-m", "evojax_nas.cli", "search", *begun,
                                        "--workdir", str(workdir)], stdout=subprocess.DEVNULL, stderr=log, cwd=ROOT)
            _, status, usage = os.wait4(process.pid, 0)
        stats["wall_s"] += time.perf_counter() - start
        stats["peak_rss_gb"] = max(stats["peak_rss_gb"], usage.ru_maxrss / 2**20)
        stats["done"] = os.waitstatus_to_exitcode(status) == 0
        stats_path.write_text(json.dumps(stats))
        if not stats["done"]:
            raise RuntimeError(f"{workdir.name} failed; see {out / 'stats' / (workdir.name + '.log')}")
        rounds = [r["step"] for r in AppendLog(workdir / "metrics.jsonl").read()]
    return {"method": spec, "seed": seed, "workdir": workdir, "rounds": len(rounds), **stats}


def analyse(run: dict) -> dict:
    """Best seed, best at the end, the fitness curve over evaluated children, the round that beat the seed."""
    candidates = load_run(run["workdir"])["candidates"]  # one record per program, confirmations applied
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
    args = parser.parse_args()
    for spec in args.methods:
        try:
            method_spec(spec)
        except argparse.ArgumentTypeError as err:
            parser.error(f"--methods: {err}")
    runs = [run_one(m, s, args.budget, args.out) for s in args.seeds for m in args.methods]
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
    print("| method | search seed | rounds | evaluated | best seed fitness | best fitness | best at N | "
          f"beat the best seed (on >= {CONFIRMED} seeds) in round | best model | wall | peak RSS |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in runs:
        at_n = r["curve"][n - 1] if n else r["best_seed"]
        print(f"| {r['method']} | {r['seed']} | {r['rounds'] - 1} | {r['evaluated']} | {r['best_seed']:.1f} | "
              f"{r['best']:.1f} | {at_n:.1f} | {r['beat_round'] or 'never'} | {r['best_model']} | "
              f"{r['wall_s'] / 60:.1f} min | "
              f"{r['peak_rss_gb']:.1f} GB |")
    print("\n| method | runs | best fitness, mean +- std | at N, mean +- std | beat the best seed | best val acc | "
          "best test acc | best params | children | wall, mean* | peak RSS |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    summary = {}
    for method in args.methods:
        mine = [r for r in runs if r["method"] == method]
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
    paths = write_report([r["workdir"] for r in runs], args.out / "report")
    print(f"\nreport: {', '.join(str(p) for p in paths)}")
    print(json.dumps({"budget": args.budget, "seeds": args.seeds, "best_seed": round(float(reference), 2),
                      "evaluated": n, "methods": summary}))


if __name__ == "__main__":
    main()
