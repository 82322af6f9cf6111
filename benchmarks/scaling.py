"""Candidate-trainings per second as the train stage spans more devices and more processes, side by side in
one run, on the population of benchmarks/population_throughput.py (the seeds, the logged LM children, then
variants of the seeds' families), through the whole evaluator (static check, trace sandbox, training):

  mesh D     one train worker driving D devices (`train.devices`: all it sees), a mesh of ("population",
             "seeds"); on a CPU the D devices are forced (XLA_FLAGS=--xla_force_host_platform_device_count=D)
             and share its cores: the point here is that it works and what it costs, not a speed-up
  local W    W local train workers (the default backend)
  ray W      W Ray actors on a cluster the evaluator starts on this machine (`eval.backend = "ray"`), each a
             confined worker of its own; the Ray path's overhead per candidate is ray W against local W

Each side runs in its own process with its own empty compile cache; workers, actors and the sandbox start
outside the clock (a warm-up program). The last column is each side's largest difference in a validation
accuracy from mesh 1's. On a CPU the mesh sides differ by float rounding that training amplifies, and not
through the layout: XLA's CPU backend split into D devices sums in another order even on one of them. A
worker given `train.devices = 1` in an 8-device process trains to mesh 8's numbers to the last bit (two deep
CNNs of the logged children, 100 steps: validation 0.498 and 0.486 on both, 0.486 and 0.510 in a 1-device
process; after 3 steps all three agree to the last bit). The layout's own check, one process against
itself, is tests/test_mesh.py.

    .venv/bin/python benchmarks/scaling.py [--population 16] [--steps 200] [--devices 1 2 4 8] [--workers 1 2]

Last line: {"population": N, "mesh": {D: per_s}, "local": {W: per_s}, "ray": {W: per_s},
"ray_overhead": {W: ratio - 1}, ...}."""

from __future__ import annotations

import argparse
import importlib.util
import json
import tempfile
from pathlib import Path

from population_throughput import population, run_side

ROOT = Path(__file__).resolve().parents[1]


def rate(side: dict) -> tuple[float, int]:
    """(trained candidates per second of wall, how many trained)."""
    trained = sum(1 for r in side["results"] if r["metrics"])
    return trained / side["wall"], trained


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--population", type=int, default=16)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--devices", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 2])  # none: the mesh sides only
    args = parser.parse_args()
    programs = population(args.population, Path(tempfile.mkdtemp(prefix="evonas-scaling-")))
    sides: dict[str, dict[int, dict]] = {"mesh": {}, "local": {}, "ray": {}}
    same = {"data_seed": 0}  # every side on the same private data (by default each evaluator draws its own)
    for d in args.devices:
        sides["mesh"][d] = run_side(ROOT, programs, args.steps, 1, tempfile.mkdtemp(), {"eval": same},
                                    env={"XLA_FLAGS": f"--xla_force_host_platform_device_count={d}"})
    ray = importlib.util.find_spec("ray") is not None
    for w in args.workers:
        sides["local"][w] = run_side(ROOT, programs, args.steps, w, tempfile.mkdtemp(), {"eval": same})
        if ray:
            sides["ray"][w] = run_side(ROOT, programs, args.steps, w, tempfile.mkdtemp(),
                                       {"eval": {**same, "backend": "ray"}})
    # the same metrics whatever the layout: each program's validation accuracies against the single-device run's
    base = {r["program_id"]: r["metrics"] for r in sides["mesh"][args.devices[0]]["results"] if r["metrics"]}

    def drift(side: dict) -> tuple[float, str]:
        """The largest difference in a validation accuracy from the single-device run, and whose it is."""
        gaps = [(abs(a - b), r["program_id"]) for r in side["results"] if r["metrics"] and r["program_id"] in base
                for a, b in zip(r["metrics"]["val_accuracy"], base[r["program_id"]]["val_accuracy"], strict=True)]
        return max(gaps, default=(0.0, ""))

    print(f"{len(programs)} programs, {args.steps} steps, 1 seed each" + ("" if ray else "; no `ray` extra here"))
    print("| side | trained | wall | trainings / s | vs the first of its kind | largest val. accuracy drift |")
    print("|---|---|---|---|---|---|")
    per_s: dict[str, dict[int, float]] = {}
    drifts: dict[str, float] = {}
    for kind, runs in sides.items():
        per_s[kind] = {}
        for n, side in runs.items():
            per_s[kind][n], trained = rate(side)
            first = per_s[kind][next(iter(runs))]
            gap, program = drift(side)
            drifts[f"{kind} {n}"] = round(gap, 4)
            print(f"| {kind} {n} | {trained} | {side['wall']:.1f} s | {per_s[kind][n]:.3f} | "
                  f"{per_s[kind][n] / first:.2f}x | {gap:.4f}{f' ({program[:12]})' if gap else ''} |")
    overhead = {w: round(per_s["local"][w] / per_s["ray"][w] - 1, 3) for w in per_s["ray"] if per_s["ray"][w]}
    print(f"\nthe Ray path's overhead per candidate: {overhead} (target <= 0.10)")
    print(json.dumps({"population": len(programs), "steps": args.steps,
                      **{kind: {n: round(v, 4) for n, v in runs.items()} for kind, runs in per_s.items()},
                      "ray_overhead": overhead, "val_accuracy_drift": drifts}))


if __name__ == "__main__":
    main()
