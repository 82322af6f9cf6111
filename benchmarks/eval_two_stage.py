"""Wall time of evaluation, two-stage (trace in an OS sandbox, train the exported programs) against the
single-stage evaluator it replaced, side by side in one run.

The workload: the 4 MNIST-1D seeds and 16 children logged by a search (benchmarks/lm_children/: 11 that
trained, 5 that failed in the worker), 500 steps, one seed, one worker. The baseline is a `git worktree`
of the commit before the change, run with this venv's Python (its PYTHONPATH shadows the editable
install), so both sides share every dependency. Each side runs in its own process with its own empty
cache, sides alternating when --repeats > 1.

    .venv/bin/python benchmarks/eval_two_stage.py [--baseline bd8ab70] [--steps 500] [--repeats 1]
                                                  [--programs N] [--no-baseline]

Last line: {"programs": N, "ratio": this tree / baseline (null with --no-baseline), ...}.

Target (issue "Evaluation that holds against hostile code"): the two-stage wall time at most 1.25x the
single-stage one; any later hardening (`--baseline` the commit before it) at most 1.25x its own before."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = "bd8ab70"  # the last commit before the two-stage evaluator
PROGRAMS = sorted((ROOT / "seeds" / "mnist1d").glob("*.py")) + sorted(
    (ROOT / "benchmarks" / "lm_children").glob("*.py"))

SIDE = textwrap.dedent('''
    import json, sys, time
    t0 = time.perf_counter()
    from evojax_nas.evaluate import Evaluator, EvaluatorConfig
    from evojax_nas.programs import Program
    from evojax_nas.train import default_config
    train = default_config()
    train.num_steps, train.strategy = int(sys.argv[1]), sys.argv[2]
    programs = [Program.from_file(p) for p in sys.argv[3:]]
    config = EvaluatorConfig(train_config=train.to_dict(), timeout_s=600.0, memory_bytes=6 << 30)
    with Evaluator(config) as evaluator:
        results = evaluator.evaluate(programs)
    wall = time.perf_counter() - t0
    print(json.dumps({"wall": wall, "results": [r.to_dict() for r in results]}))
''')


def run_side(tree: Path, programs: list[Path], steps: int, strategy: str) -> dict:
    """Evaluate the workload with the evaluator of `tree`; its wall time and results."""
    env = {**os.environ, "PYTHONPATH": str(tree), "EVOJAX_NAS_CACHE": tempfile.mkdtemp(prefix="evonas-bench-")}
    out = subprocess.run([sys.executable, "-c", SIDE, str(steps), strategy, *map(str, programs)], cwd=tree,
                         env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{tree}: evaluation failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def worktree(ref: str) -> Path:
    """A detached worktree of `ref` in a temporary folder."""
    path = Path(tempfile.mkdtemp(prefix="evonas-baseline-")) / "tree"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-f", str(path), ref], check=True,
                   capture_output=True)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default=BASELINE, help="commit of the single-stage evaluator")
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--strategy", default="python-vmap", help="the same forced strategy on both sides")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--programs", type=int, default=len(PROGRAMS), help="the first N programs (quick checks)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the baseline side (quick checks)")
    args = parser.parse_args()
    programs = PROGRAMS[:args.programs]
    base = None if args.no_baseline else worktree(args.baseline)
    sides = ([("baseline", base)] if base else []) + [("this tree", ROOT)]
    try:
        walls: dict[str, list[float]] = {side: [] for side, _ in sides}
        last: dict[str, dict] = {"baseline": {"results": [None] * len(programs)}}  # shown as "-" when skipped
        for _ in range(args.repeats):
            for side, tree in sides:
                last[side] = run_side(tree, programs, args.steps, args.strategy)
                walls[side].append(last[side]["wall"])
                print(f"{side}: {last[side]['wall']:.1f} s", flush=True)
    finally:
        if base:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)], check=False)
    print(f"\n{len(programs)} programs, {args.steps} steps, strategy {args.strategy}, "
          f"baseline {'none' if args.no_baseline else args.baseline}")
    print(f"{'program':28} {'baseline':>22} {'this tree':>22}")
    for path, a, b in zip(programs, last["baseline"]["results"], last["this tree"]["results"], strict=True):
        def show(r: dict | None) -> str:
            if r is None:
                return "-"
            if r["failure"]:
                return f"{r['failure']['kind']} {r['seconds']:6.1f} s"
            return f"{r['metrics']['val_accuracy_mean']:.3f} {r['metrics']['params']:7d} {r['seconds']:5.1f} s"
        print(f"{path.stem[:28]:28} {show(a):>22} {show(b):>22}")
    best = {side: min(w) for side, w in walls.items()}
    ratio = best["this tree"] / best["baseline"] if base else None
    print(f"\nwall time (best of {args.repeats}): baseline {best.get('baseline', float('nan')):.1f} s, this tree "
          f"{best['this tree']:.1f} s, ratio {ratio or float('nan'):.2f}x (target <= 1.25x)")
    print(json.dumps({"baseline": args.baseline if base else None, "programs": len(programs), "steps": args.steps,
                      "trained": sum(bool(r["metrics"]) for r in last["this tree"]["results"]),
                      "baseline_wall_s": round(best["baseline"], 1) if base else None,
                      "wall_s": round(best["this tree"], 1), "ratio": round(ratio, 3) if base else None}))


if __name__ == "__main__":
    main()
