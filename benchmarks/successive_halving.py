"""Successive halving (`search.fidelity`) against training every child to the full budget, on a fixed set of
logged MNIST-1D programs (benchmarks/population_throughput.py's population: the seeds, the 16 logged LM
children and width variants of the seeds' families).

Every program is trained through the evaluator rung by rung (each rung continues from the state the last
one left, which gives the same numbers as one full training), on --seeds training seeds at once, and scored
at every rung of every setting. For each seed (a different initialisation and order of batches) and each
setting (rungs as fractions of the steps : the fraction kept), halving is replayed on the rung scores
exactly as the search does it (the best `keep` by validation accuracy go on, ties by id) and compared with
the full-budget ranking: does it keep the full-budget top 3, and at what fraction of the steps.

    .venv/bin/python benchmarks/successive_halving.py [--population 32] [--steps 1000] [--seeds 10]
        [--settings 0.1,0.3,1:0.3333 0.1,1:0.3333 ...]

Target (issue "Throughput"): the same top 3 in >= 8 of 10 at <= 40 % of the steps. Last line: JSON."""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from population_throughput import population

from evojax_nas.evaluate import Evaluator, EvaluatorConfig
from evojax_nas.programs import Program
from evojax_nas.search.fidelity import Fidelity
from evojax_nas.train import default_config


def replay(fidelity: Fidelity, scores: list[dict[str, float]]) -> list[str]:
    """The ids halving trains to the full budget, given each rung's validation accuracy by id."""
    alive = sorted(scores[0])
    for rung in scores[:-1]:
        ranked = sorted((i for i in alive if i in rung), key=lambda i: (-rung[i], i))
        alive = ranked[: fidelity.kept(len(ranked))]
    return alive


SETTINGS = ["0.1,0.3,1:0.3333", "0.1,0.3,1:0.5", "0.1,1:0.3333", "0.3,1:0.3333"]  # rungs:keep, replayed alike


def parse(setting: str, steps: int) -> Fidelity:
    rungs, _, keep = setting.partition(":")
    fidelity = Fidelity.of([float(f) for f in rungs.split(",")], float(keep), steps)
    assert fidelity is not None, f"{setting}: give at least two rungs"
    return fidelity


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--population", type=int, default=32)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--settings", nargs="+", default=SETTINGS, help="rungs (fractions):keep, e.g. 0.1,0.3,1:0.33")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--top", type=int, default=3)
    args = parser.parse_args()
    fidelities = {setting: parse(setting, args.steps) for setting in args.settings}
    rungs = sorted({end for f in fidelities.values() for end in f.steps})
    programs = [Program.from_file(p) for p in population(args.population, Path(tempfile.mkdtemp()))]
    names = {p.id: p.origin.get("name", p.id) for p in programs}
    train = default_config()
    train.update(num_steps=args.steps, num_seeds=args.seeds)
    seeds = list(range(args.seeds))
    # the deadline grows with the seeds: an LSTM child on 10 seeds missed 1,800 s in its last rung
    config = EvaluatorConfig(train_config=train.to_dict(), num_workers=args.workers,
                             timeout_s=max(1800.0, 400.0 * args.seeds))
    start, at, t0 = 0, {}, time.perf_counter()
    with Evaluator(config) as evaluator:  # every program through every rung: each setting is replayed on these
        for end in rungs:
            results = evaluator.evaluate(programs, seeds=seeds, steps=(start, end))
            at[end] = {r.program_id: r.metrics["val_accuracy"] for r in results if r.ok}
            start = end
    wall = time.perf_counter() - t0
    trained = len(at[rungs[0]])
    print(f"{len(programs)} programs ({trained} train), {args.seeds} training seeds, every program scored at steps "
          f"{rungs}: {wall:.0f} s\n")
    summary = {}
    for setting, fidelity in fidelities.items():
        kept_top = kept_best = 0
        lines = []
        for s in seeds:
            scores = [{i: v[s] for i, v in at[end].items()} for end in fidelity.steps]
            top = sorted(scores[-1], key=lambda i: (-scores[-1][i], i))[: args.top]
            kept = replay(fidelity, scores)
            kept_top += set(top) <= set(kept)
            kept_best += top[0] in kept
            lines.append(f"  seed {s}: top {', '.join(names[i] for i in top)}; "
                         f"kept {', '.join(names[i] for i in kept)}")
        fraction = fidelity.fraction_of_steps(trained)
        summary[setting] = {"top_kept": kept_top, "best_kept": kept_best, "fraction_of_steps": round(fraction, 4)}
        print(f"rungs {fidelity.steps}, keep {fidelity.keep:.2f}: the full-budget top {args.top} kept in {kept_top} "
              f"of {args.seeds} seeds (the best in {kept_best}), at {fraction:.0%} of the steps")
        print("\n".join(lines))
    print(json.dumps({"programs": len(programs), "trained": trained, "seeds": args.seeds, "top": args.top,
                      "steps": args.steps, "settings": summary,
                      "rungs": {end: {names[i]: [round(v, 4) for v in vals] for i, vals in at[end].items()}
                                for end in rungs}}))  # every rung's scores: other rules replay on these


if __name__ == "__main__":
    main()
