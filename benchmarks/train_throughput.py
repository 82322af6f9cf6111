"""Training time per loop strategy, side by side in one run, on exported MNIST-1D programs: the seeds and the
LM's logged children (benchmarks/lm_children/), exported as the trace stage exports them (they are traced
here, in this process: the seeds are our code, and the children were logged by our own searches).

  (a) the strategy the rule picks from the exported program's ops (train/strategy.py: `rule`),
  (b) every strategy forced: Python loop or lax.scan, vmap over S seeds or one seed after another,
  (c) the same seed in a plain PyTorch loop, one seed at a time (cnn and mlp; CPU torch 2.13.0).

Equal steps, batch, optimizer (Adam, lr 1e-2) and data. Each cell is the best of --repeats runs of training
alone (compilation apart, in its own column); "spread" is (worst - best) / best, the noise a ratio is read
against. The table is the rule's evidence: the last line (JSON) gives, over the programs, how much slower the
rule's choice trains than the fastest strategy (1.0: it always picked the fastest).

    python benchmarks/train_throughput.py [--steps 1000] [--seeds 1] [--repeats 2] [--programs cnn mlp ...]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import flax.linen as nn
import numpy as np

from evojax_nas.evaluate.trace import TraceSpec, export_class
from evojax_nas.programs.loader import load_class
from evojax_nas.tasks.mnist1d import make_task
from evojax_nas.train import Strategy, Trainer, TrainingError, default_config
from evojax_nas.train.exported import ExportedNetwork
from evojax_nas.train.strategy import rule
from evojax_nas.train.trainer import batch_schedule

ROOT = Path(__file__).resolve().parents[1]
PROGRAMS = {p.stem: p for p in [*sorted((ROOT / "seeds" / "mnist1d").glob("*.py")),
                                 *sorted((ROOT / "benchmarks" / "lm_children").glob("*.py"))]}


def torch_model(name: str):
    """The seed architecture written in PyTorch (same layer sizes and padding)."""
    import torch

    if name == "cnn":
        class CNN(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.c1 = torch.nn.Conv1d(1, 25, 5, stride=2, padding=1)
                self.c2 = torch.nn.Conv1d(25, 25, 3, stride=2, padding=1)
                self.c3 = torch.nn.Conv1d(25, 25, 3, stride=2, padding=1)
                self.out = torch.nn.Linear(125, 10)

            def forward(self, x):
                h = torch.relu(self.c3(torch.relu(self.c2(torch.relu(self.c1(x[:, None]))))))
                return self.out(h.transpose(1, 2).flatten(1))

        return CNN()
    if name == "mlp":
        return torch.nn.Sequential(torch.nn.Linear(40, 100), torch.nn.ReLU(), torch.nn.Linear(100, 100),
                                   torch.nn.ReLU(), torch.nn.Linear(100, 10))
    return None


def train_torch(name: str, task, seeds: list[int], steps: int, batch: int) -> float:
    """Seconds to train each seed in a plain PyTorch loop."""
    import torch

    torch.set_num_threads(2)
    x, y = torch.from_numpy(task.x_train), torch.from_numpy(task.y_train).long()
    start = time.perf_counter()
    for seed in seeds:
        torch.manual_seed(seed)
        model = torch_model(name)
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        schedule = torch.from_numpy(batch_schedule(seed, len(x), batch, steps)).long()
        for t in range(steps):
            idx = schedule[t]
            loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return time.perf_counter() - start


def exported(path: Path, seeds: int) -> ExportedNetwork | None:
    """The program exported for one and `seeds` seeds (None when it does not export: a broken child)."""
    try:
        cls = load_class(path.read_text(), "Model", base=nn.Module)
        return ExportedNetwork.from_bytes(export_class(cls, TraceSpec("Model", (40,)), (1, seeds)))
    except Exception:  # noqa: BLE001 (logged children include broken ones)
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--programs", nargs="+", default=list(PROGRAMS), choices=list(PROGRAMS))
    args = parser.parse_args()
    import jax

    task, seeds = make_task(), list(range(args.seeds))
    config = default_config()
    config.update(num_steps=args.steps, batch_size=args.batch, num_seeds=args.seeds)
    trainer = Trainer(task, config)
    strategies = [str(s) for s in Strategy.all(args.seeds)]
    print(f"backend {jax.default_backend()}, {args.seeds} seed(s) x {args.steps} steps, batch {args.batch}; "
          f"seconds of training (compilation apart), best of {args.repeats}\n")
    print(f"{'program':16} {'rule':>12} " + " ".join(f"{s:>13}" for s in strategies) + f" {'PyTorch':>8} "
          f"{'rule/best':>9} {'compile':>8} {'spread':>6}")
    slowdowns, vs_torch = {}, {}
    for name in args.programs:
        network = exported(PROGRAMS[name], args.seeds)
        if network is None:
            print(f"{name:16} does not export")
            continue
        chosen = str(rule(network.ops, jax.default_backend()))
        times: dict[str, list[float]] = {}
        compiles: dict[str, float] = {}
        try:
            for _ in range(args.repeats):  # interleaved, so slow phases of the machine hit every column alike
                for strategy in strategies:
                    result = trainer.train(network, seeds=seeds, strategy=strategy)
                    times.setdefault(strategy, []).append(result.train_seconds)
                    compiles[strategy] = result.compile_seconds
        except TrainingError as err:
            print(f"{name:16} does not train: {err.kind}")
            continue
        best = {s: min(t) for s, t in times.items()}
        spread = max((max(t) - min(t)) / min(t) for t in times.values())
        slowdowns[name] = best[chosen] / min(best.values())
        torch_cell = ""
        if torch_model(name) is not None:
            torch_seconds = min(train_torch(name, task, seeds, args.steps, args.batch) for _ in range(args.repeats))
            vs_torch[name] = torch_seconds / best[chosen]
            torch_cell = f"{torch_seconds:8.2f}"
        print(f"{name:16} {chosen:>12} " + " ".join(f"{best[s]:13.2f}" for s in strategies)
              + f" {torch_cell:>8} {slowdowns[name]:9.2f} {compiles[chosen]:8.2f} {spread:6.0%}")
    worst = max(slowdowns, key=slowdowns.get) if slowdowns else None
    print(f"\nthe rule's choice against the fastest strategy: mean {np.mean(list(slowdowns.values())):.2f}x, worst "
          f"{slowdowns.get(worst, float('nan')):.2f}x ({worst}); PyTorch / rule: "
          + ", ".join(f"{k} {v:.2f}x" for k, v in vs_torch.items()))
    print(json.dumps({"backend": jax.default_backend(), "steps": args.steps, "seeds": args.seeds,
                      "programs": len(slowdowns), "rule_vs_fastest_mean": round(float(np.mean(list(
                          slowdowns.values()))), 3) if slowdowns else None,
                      "rule_vs_fastest_worst": round(slowdowns[worst], 3) if worst else None,
                      "ratio_vs_pytorch": {k: round(v, 3) for k, v in vs_torch.items()}}))


if __name__ == "__main__":
    main()
