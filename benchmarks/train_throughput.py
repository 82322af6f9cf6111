"""Training time per loop strategy, side by side in one run, on exported MNIST-1D programs: the seeds and the
LM's logged children (benchmarks/lm_children/), exported as the trace stage exports them (they are traced
here, in this process: the seeds are our code, and the children were logged by our own searches).

  (a) the strategy the rule picks from the exported program's ops (train/strategy.py: `rule`),
  (b) every strategy forced: Python loop or lax.scan, vmap over S seeds or one seed after another,
  (c) the same seed in a plain PyTorch loop, one seed at a time (cnn, mlp and gru; CPU torch).

Equal steps, batch, optimizer (Adam, lr 1e-2) and data. Each cell is the best of --repeats runs of training
alone (compilation apart, in its own column); "spread" is (worst - best) / best, the noise a ratio is read
against. The table is the rule's evidence: the last line (JSON) gives, over the programs, how much slower the
rule's choice trains than the fastest strategy (1.0: it always picked the fastest).

    python benchmarks/train_throughput.py [--steps 1000] [--seeds 1] [--repeats 2] [--programs cnn mlp ...]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import flax.linen as nn
import numpy as np
from population_throughput import train_torch

from evojax_nas.programs.loader import load_class
from evojax_nas.tasks.classifier_trace import TraceSpec, export_class
from evojax_nas.tasks.mnist1d import make_task
from evojax_nas.train import Strategy, Trainer, TrainingError, default_config
from evojax_nas.train.exported import ExportedNetwork
from evojax_nas.train.strategy import rule

ROOT = Path(__file__).resolve().parents[1]
SEED_WIDTHS = {"cnn": 25, "mlp": 100, "gru": 32}
PROGRAMS = {p.stem: p for p in [*sorted((ROOT / "seeds" / "mnist1d").glob("*.py")),
                                 *sorted((ROOT / "benchmarks" / "lm_children").glob("*.py"))]}


def exported(path: Path, seeds: int) -> ExportedNetwork | None:
    """The program exported for one and `seeds` seeds (None when it does not export: a broken child)."""
    try:
        cls = load_class(path.read_text(), "Model", base=nn.Module)
        return ExportedNetwork.from_bytes(export_class(cls, TraceSpec.of("Model", (40,)), (1, seeds)))
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
        if name in ("cnn", "mlp", "gru"):
            torch_seconds = min(train_torch([(name, SEED_WIDTHS[name])], args.steps, args.batch, tuple(seeds))
                                for _ in range(args.repeats))
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
