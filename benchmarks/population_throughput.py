"""Candidate-trainings per second for a population of N distinct MNIST-1D programs, side by side in one run:

  this tree   the evaluator (static check, trace sandbox, train workers, packs by the backend's rule), from
              a cold compile cache, and again from the cache it left (a resumed run's second evaluation);
  today       the evaluator at --baseline (a `git worktree`; the commit before the throughput work), with its
              own defaults (strategy auto: its probe);
  PyTorch     a per-model loop in LLMatic's style on CPU torch, one model after another, for the programs
              that have a PyTorch twin (the seeds' families), against this tree on the same programs.

The population: the 4 seeds and the 16 logged LM children (benchmarks/lm_children/; 5 of them fail), then
variants of the seeds' families (CNN channels, MLP and GRU widths: distinct computations) up to N. Equal
steps, batch (100), seeds (1), optimizer (Adam, lr 1e-2) everywhere; tracing and compilation included
(not process start-up). Each side runs in its own process with its own empty cache.

    .venv/bin/python benchmarks/population_throughput.py --population 32 [--steps 1000] [--workers 2]

Last line: {"population": N, "ratio_vs_pytorch": ..., "ratio_vs_today": ..., ...}."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from eval_two_stage import worktree

ROOT = Path(__file__).resolve().parents[1]
BASELINE = "0648ee3"  # the last commit before the throughput work
LOGGED = sorted((ROOT / "seeds" / "mnist1d").glob("*.py")) + sorted((ROOT / "benchmarks" / "lm_children").glob("*.py"))
FAMILIES = {"cnn": ("channels", 25, [8, 12, 16, 20, 32, 40, 48, 64]), "mlp": ("hidden", 100, [32, 48, 64, 128, 160,
            200, 256, 320]), "gru": ("hidden", 32, [8, 12, 16, 24, 40, 48, 56, 64])}

SIDE = textwrap.dedent('''
    import json, sys, time
    from evojax_nas.evaluate import Evaluator, EvaluatorConfig
    from evojax_nas.programs import Program
    from evojax_nas.train import default_config
    steps, workers, options = int(sys.argv[1]), int(sys.argv[2]), json.loads(sys.argv[3])
    train = default_config()
    train.num_steps = steps
    train.update(options.get("train", {}))
    programs = [Program.from_file(p) for p in sys.argv[4:]]
    config = EvaluatorConfig(train_config=train.to_dict(), num_workers=workers, timeout_s=900.0,
                             **options.get("eval", {}))
    with Evaluator(config) as evaluator:
        evaluator.evaluate(programs[:1])  # workers and sandbox started: the warm-up program
        t0 = time.perf_counter()
        results = evaluator.evaluate(programs[1:])
        wall = time.perf_counter() - t0
    print(json.dumps({"wall": wall, "results": [r.to_dict() for r in results]}))
''')


def variant(family: str, size: int, folder: Path) -> Path:
    """The family's seed with its width field set to `size`, as a program file."""
    field, default, _ = FAMILIES[family]
    source = (ROOT / "seeds" / "mnist1d" / f"{family}.py").read_text()
    path = folder / f"{family}_{size}.py"
    path.write_text(source.replace(f"{field}: int = {default}", f"{field}: int = {size}"))
    return path


def widths(family: str) -> list[int]:
    """The family's variant widths: the listed ones first, then every other width from 4 up, 36 in all."""
    _, default, listed = FAMILIES[family]
    return (listed + [w for w in range(4, 200) if w not in listed and w != default])[:36]


def population(n: int, folder: Path) -> list[Path]:
    """The logged programs, then family variants, round-robin over the families, up to n (128 at most)."""
    out = list(LOGGED[:n])
    sizes = [(family, widths(family)[i]) for i in range(36) for family in FAMILIES]
    for family, size in sizes[: max(0, n - len(out))]:
        out.append(variant(family, size, folder))
    if len(out) < n:
        raise SystemExit(f"at most {len(out)} distinct programs here; ask for fewer")
    return out


def twin(path: Path) -> tuple[str, int] | None:
    """(family, width) of a program with a PyTorch twin: a seed of the families or a variant of one."""
    match = re.fullmatch(r"(cnn|mlp|gru)(?:_(\d+))?", path.stem)
    if not match:
        return None
    family = match[1]
    return family, int(match[2]) if match[2] else FAMILIES[family][1]


def torch_model(family: str, size: int):
    """The family's architecture in PyTorch (same layers, padding and sizes as the Flax seed)."""
    import torch

    if family == "cnn":
        class CNN(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.convs = torch.nn.ModuleList([torch.nn.Conv1d(1, size, 5, stride=2, padding=1),
                                                  torch.nn.Conv1d(size, size, 3, stride=2, padding=1),
                                                  torch.nn.Conv1d(size, size, 3, stride=2, padding=1)])
                self.out = torch.nn.Linear(5 * size, 10)

            def forward(self, x):
                h = x[:, None]
                for conv in self.convs:
                    h = torch.relu(conv(h))
                return self.out(h.transpose(1, 2).flatten(1))

        return CNN()
    if family == "mlp":
        return torch.nn.Sequential(torch.nn.Linear(40, size), torch.nn.ReLU(), torch.nn.Linear(size, size),
                                   torch.nn.ReLU(), torch.nn.Linear(size, 10))

    class GRU(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.gru, self.out = torch.nn.GRU(1, size, batch_first=True), torch.nn.Linear(size, 10)

        def forward(self, x):
            return self.out(self.gru(x[..., None])[0][:, -1])

    return GRU()


def train_torch(models: list[tuple[str, int]], steps: int, batch: int = 100, seeds: tuple[int, ...] = (0,)) -> float:
    """Seconds to build and train each model on each seed in turn, in a plain PyTorch loop (LLMatic's way)."""
    import torch

    from evojax_nas.tasks.mnist1d import make_task
    from evojax_nas.train.trainer import batch_schedule

    torch.set_num_threads(os.cpu_count() or 1)
    task = make_task()
    x, y = torch.from_numpy(task.x_train), torch.from_numpy(task.y_train).long()
    start = time.perf_counter()
    for family, size in models:
        for seed in seeds:
            torch.manual_seed(seed)
            schedule = torch.from_numpy(batch_schedule(seed, len(x), batch, steps)).long()
            model = torch_model(family, size)
            opt = torch.optim.Adam(model.parameters(), lr=1e-2)
            for t in range(steps):
                idx = schedule[t]
                loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
    return time.perf_counter() - start


def run_side(tree: Path, programs: list[Path], steps: int, workers: int, cache: str, options: dict | None = None,
             env: dict[str, str] | None = None) -> dict:
    """Evaluate the programs with the evaluator of `tree`, started (its workers and sandbox) outside the clock
    by evaluating a small MLP that is not in the population. `options`: {"train": {...}, "eval": {...}} of the
    evaluator's config; `env`: more environment (XLA_FLAGS)."""
    env = {**os.environ, "PYTHONPATH": str(tree), "EVOJAX_NAS_CACHE": cache, **(env or {})}
    warm_up = variant("mlp", 4, Path(tempfile.mkdtemp(prefix="evonas-warm-up-")))
    out = subprocess.run([sys.executable, "-c", SIDE, str(steps), str(workers), json.dumps(options or {}),
                          str(warm_up), *map(str, programs)], cwd=tree, env=env, capture_output=True, text=True,
                         check=False)
    if out.returncode != 0:
        raise SystemExit(f"{tree}: evaluation failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def split(side: dict) -> dict[str, float]:
    """Sums over the side's results: compile, train and the rest of each program's seconds; trained count."""
    ok = [r for r in side["results"] if r["metrics"]]
    compile_s = sum(r["metrics"]["compile_seconds"] for r in ok)
    train_s = sum(r["metrics"]["train_seconds"] for r in ok)
    # the evaluator's clocks (this tree only; None for the baseline, whose "other" holds them)
    trace_s, queue_s = (round(sum(r["metrics"][k] for r in ok), 1) if ok and k in ok[0]["metrics"] else None
                        for k in ("trace_seconds", "queue_seconds"))
    return {"trace_s": trace_s, "queue_s": queue_s, "compile_s": round(compile_s, 1), "train_s": round(train_s, 1),
            "trained": len(ok), "other_s": round(sum(r["seconds"] for r in side["results"]) - compile_s - train_s
                                                 - (trace_s or 0) - (queue_s or 0), 1),
            "cache_hits": sum(r["metrics"].get("cache_hits", 0) for r in ok),
            "cache_requests": sum(r["metrics"].get("cache_requests", 0) for r in ok)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--population", type=int, default=32)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--baseline", default=BASELINE, help="the evaluator before the throughput work")
    parser.add_argument("--no-baseline", action="store_true", help="skip the baseline side (quick checks)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="evonas-population-"))
    programs = population(args.population, folder)
    twins = [p for p in programs if twin(p)]
    sides: dict[str, dict] = {}
    cold = tempfile.mkdtemp(prefix="evonas-bench-")
    sides["this tree"] = run_side(ROOT, programs, args.steps, args.workers, cold)
    sides["this tree, warm cache"] = run_side(ROOT, programs, args.steps, args.workers, cold)
    if twins:
        sides["this tree, twins"] = run_side(ROOT, twins, args.steps, args.workers, tempfile.mkdtemp())
    if not args.no_baseline:
        base = worktree(args.baseline)
        try:
            sides["today"] = run_side(base, programs, args.steps, args.workers, tempfile.mkdtemp())
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)], check=False)
    torch_s = train_torch([twin(p) for p in twins], args.steps) if twins else float("nan")  # type: ignore[misc]

    print(f"{len(programs)} programs ({len(twins)} with a PyTorch twin), {args.steps} steps, batch 100, 1 seed, "
          f"{args.workers} workers, {os.cpu_count()} cores; seconds from the first trace to the last result\n")
    print("Seconds summed over the programs (the workers run side by side): trace (sandbox), queue (traced, waiting"
          " for a worker), compile and train (the worker), other (checks, start-up, messages; the baseline's trace "
          "and queue too)\n")
    print(f"{'side':24} {'programs':>8} {'trained':>7} {'wall s':>7} {'per s':>6} {'trace':>6} {'queue':>6} "
          f"{'compile':>8} {'train':>7} {'other':>7} {'cache':>9}")
    rates = {}
    for name, side in sides.items():
        n = len(side["results"])
        rates[name] = n / side["wall"]
        s = split(side)
        trace, queue = (f"{x:6.1f}" if x is not None else f"{'-':>6}" for x in (s["trace_s"], s["queue_s"]))
        print(f"{name:24} {n:8d} {s['trained']:7d} {side['wall']:7.1f} {rates[name]:6.3f} {trace} {queue} "
              f"{s['compile_s']:8.1f} {s['train_s']:7.1f} {s['other_s']:7.1f} "
              f"{s['cache_hits']:4d}/{s['cache_requests']:<4d}")
    if twins:
        rates["PyTorch"] = len(twins) / torch_s
        print(f"{'PyTorch (twins)':24} {len(twins):8d} {len(twins):7d} {torch_s:7.1f} {rates['PyTorch']:6.3f}")
    vs_torch = rates["this tree, twins"] / rates["PyTorch"] if twins else None
    vs_today = rates["this tree"] / rates["today"] if "today" in rates else None
    warm = rates["this tree, warm cache"] / rates["this tree"]
    print(f"\nthis tree / PyTorch (same programs): {vs_torch or float('nan'):.2f}x; this tree / today: "
          f"{vs_today or float('nan'):.2f}x; warm cache / cold: {warm:.2f}x")
    print(json.dumps({"population": len(programs), "steps": args.steps, "workers": args.workers,
                      "ratio_vs_pytorch": round(vs_torch, 3) if vs_torch else None,
                      "ratio_vs_today": round(vs_today, 3) if vs_today else None,
                      "warm_vs_cold": round(warm, 3),
                      "per_second": {k: round(v, 4) for k, v in rates.items()},
                      "split": {k: split(v) for k, v in sides.items()}}))


if __name__ == "__main__":
    main()
