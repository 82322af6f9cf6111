"""Candidate-trainings per second, side by side in one run, on the MNIST-1D seed models:

  (a) the trainer with the strategy it chose by measurement (its one-off probe reported apart),
  (b) every strategy forced: Python loop or lax.scan, vmap over S seeds or one seed after another,
  (c) the same model in a plain PyTorch loop, one seed at a time (CPU torch: pip install torch==2.13.0).

Equal steps, batch, optimizer (Adam, lr 1e-2) and data; each row also shows its mean test accuracy.
A candidate-training is one seed trained for --steps steps; JAX times include compilation. Each row is
the best of --repeats runs; "spread" is (worst - best) / best, the noise a ratio is read against.

    python benchmarks/train_throughput.py [--steps 1000] [--seeds 8] [--repeats 3] [--models cnn mlp]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import flax.linen as nn
import numpy as np

from evojax_nas.programs.loader import load_class
from evojax_nas.tasks.mnist1d import make_task
from evojax_nas.train import Strategy, Trainer, default_config
from evojax_nas.train.strategy import StrategyCache
from evojax_nas.train.trainer import batch_schedule

SEEDS_DIR = Path(__file__).resolve().parents[1] / "seeds" / "mnist1d"


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
    raise ValueError(name)


def train_torch(name: str, task, seeds: list[int], steps: int, batch: int) -> tuple[float, float]:
    """Train each seed in a plain PyTorch loop; return (seconds, mean test accuracy)."""
    import torch

    torch.set_num_threads(2)
    x, y = torch.from_numpy(task.x_train), torch.from_numpy(task.y_train).long()
    xt, yt = torch.from_numpy(task.x_test), torch.from_numpy(task.y_test).long()
    accuracies = []
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
        with torch.no_grad():
            accuracies.append((model(xt).argmax(-1) == yt).float().mean().item())
    return time.perf_counter() - start, float(np.mean(accuracies))


def train_jax(trainer: Trainer, model_cls, seeds: list[int], strategy: str) -> tuple[float, float, str]:
    """Train all seeds in one call; return (seconds including compilation, mean test accuracy, strategy)."""
    start = time.perf_counter()
    result = trainer.train(model_cls, seeds=seeds, strategy=strategy)
    return time.perf_counter() - start, float(np.mean(result.test_accuracy)), result.strategy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--models", nargs="+", default=["cnn", "mlp"])
    args = parser.parse_args()
    task = make_task()
    seeds = list(range(args.seeds))
    import jax

    print(f"backend {jax.default_backend()}, {args.seeds} seeds x {args.steps} steps, batch {args.batch}\n")
    for name in args.models:
        config = default_config()
        config.update(num_steps=args.steps, batch_size=args.batch, num_seeds=args.seeds)
        cache = StrategyCache(Path(tempfile.mkdtemp()) / "strategies.json")
        trainer = Trainer(task, config, cache)
        model_cls = load_class((SEEDS_DIR / f"{name}.py").read_text(), "Model", base=nn.Module)
        probe_start = time.perf_counter()
        trainer.train(model_cls, seeds=seeds, strategy="auto")  # measures once, fills the cache
        probe_seconds = time.perf_counter() - probe_start
        runs: dict[str, list[tuple[float, float]]] = {}
        for _ in range(args.repeats):  # interleaved, so slow phases of the machine hit every row alike
            seconds, acc, chosen = train_jax(trainer, model_cls, seeds, "auto")
            runs.setdefault(f"(a) trainer, chose {chosen}", []).append((seconds, acc))
            for strategy in Strategy.all(args.seeds):
                runs.setdefault(f"(b) forced {strategy}", []).append(
                    train_jax(trainer, model_cls, seeds, str(strategy))[:2])
            try:
                runs.setdefault("(c) PyTorch loop, one seed at a time", []).append(
                    train_torch(name, task, seeds, args.steps, args.batch))
            except ImportError:
                print("torch is not installed: pip install torch==2.13.0 for row (c)")
        rows = [(label, min(t for t, _ in r), max(t for t, _ in r), r[0][1]) for label, r in runs.items()]
        print(f"== {name}: one-off strategy probe (first run, includes its training) {probe_seconds:.1f} s")
        print(f"{'':40} {'seconds':>8} {'spread':>7} {'trainings/s':>12} {'test acc':>9}")
        for label, best, worst, acc in rows:
            print(f"{label:40} {best:8.2f} {(worst - best) / best:7.1%} {args.seeds / best:12.3f} {acc:9.3f}")
        rate = {label: args.seeds / best for label, best, _, _ in rows}
        chosen_rate = rate[rows[0][0]]
        best_forced = max(r for label, r in rate.items() if label.startswith("(b)"))
        print(f"ratio (a) / best forced strategy: {chosen_rate / best_forced:.2f}  (target >= 1 within noise)")
        torch_rate = [r for label, r in rate.items() if label.startswith("(c)")]
        if torch_rate:
            print(f"ratio (a) / PyTorch loop:         {chosen_rate / torch_rate[0]:.2f}  (target >= 1.5 on CPU)")
        print()


if __name__ == "__main__":
    main()
