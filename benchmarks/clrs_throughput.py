"""Training steps/s of our Flax Triplet-GMPNN against dm-clrs' haiku BaselineModel, side by side in one run:
same algorithm, batch, graph size and batches (drawn once from a fixed dm-clrs dataset, so every batch has
the same hint length and neither model recompiles, and sampling is not timed). Prints the ratio ours/haiku
(target >= 1.0 on CPU), and the rate of S seeds vmapped in one program against S haiku models stepped in turn.

    .venv/bin/python benchmarks/clrs_throughput.py --algorithms bfs graham_scan --steps 20

Last line: {"ratio": {algorithm: ours / haiku}, "ratio_seeds": {algorithm: ...} (null with --seeds 1), ...}.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import jax
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from clrs_haiku import haiku_model  # noqa: E402

from clrs_tasks import data  # noqa: E402
from clrs_tasks.train import CLRSTrainer, TrainConfig  # noqa: E402
from evojax_nas.programs.loader import load_class  # noqa: E402


def triplet():
    import flax.linen as nn

    source = (ROOT / "seeds" / "clrs_triplet" / "reference.py").read_text()
    return load_class(source, "TripletMessages", base=nn.Module)()


def rate(step, batches, steps: int) -> float:
    """Steps per second after one warm-up step (compilation) on the first batch."""
    step(batches[0])
    start = time.perf_counter()
    for i in range(steps):
        step(batches[i % len(batches)])
    return steps / (time.perf_counter() - start)


def measure(algorithm: str, length: int, batch: int, hidden: int, steps: int, seeds: int) -> dict[str, float]:
    # a fixed dataset: batches drawn from it share its hint length (dm-clrs pads to the longest)
    probes, stream = data._stream(algorithm, length, 8 * batch, batch, 0, np.random.RandomState(0), False, {})
    feedbacks = [next(stream) for _ in range(4)]
    spec = data.spec(probes)
    ours_batches = [data._to_batch(fb) for fb in feedbacks]

    def ours_rate(num_seeds: int) -> float:
        trainer = CLRSTrainer(probes, triplet(), TrainConfig(hidden=hidden, batch_size=batch, num_seeds=num_seeds,
                                                             weight_decay=0.0))
        state = list(trainer.init(ours_batches[0], range(num_seeds)))
        keys = jax.random.split(jax.random.key(1), num_seeds)

        def step(b):
            state[0], state[1], loss = trainer.update(state[0], state[1], b, keys)
            loss.block_until_ready()
        return rate(step, ours_batches, steps)

    models = [haiku_model(algorithm, feedbacks[0], spec, hidden, seed=43 + s) for s in range(seeds)]

    def haiku_step(fb, model=models[0]):
        float(model.feedback(jax.random.key(0), fb))

    def haiku_seeds(fb):
        for model in models:
            float(model.feedback(jax.random.key(0), fb))

    result = {"ours": ours_rate(1), "haiku": rate(haiku_step, feedbacks, steps)}
    if seeds > 1:
        result[f"ours x{seeds}"] = ours_rate(seeds)
        result[f"haiku x{seeds}"] = rate(haiku_seeds, feedbacks, max(1, steps // seeds))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--algorithms", nargs="+", default=["bfs", "graham_scan"])
    parser.add_argument("--length", type=int, default=16)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    print(f"backend {jax.default_backend()}, n = {args.length}, batch {args.batch}, hidden {args.hidden}")
    print("| algorithm | ours steps/s | haiku steps/s | ratio | "
          f"ours x{args.seeds} (vmapped) | haiku x{args.seeds} (in turn) | ratio |")
    print("|---|---|---|---|---|---|---|")
    rates, ratio, ratio_seeds = {}, {}, {}
    for algorithm in args.algorithms:
        r = rates[algorithm] = measure(algorithm, args.length, args.batch, args.hidden, args.steps, args.seeds)
        ratio[algorithm] = r["ours"] / r["haiku"]
        seeds = "- | - | -"
        if args.seeds > 1:
            ratio_seeds[algorithm] = r[f"ours x{args.seeds}"] / r[f"haiku x{args.seeds}"]
            seeds = f"{r[f'ours x{args.seeds}']:.2f} | {r[f'haiku x{args.seeds}']:.2f} | {ratio_seeds[algorithm]:.2f}"
        print(f"| {algorithm} | {r['ours']:.2f} | {r['haiku']:.2f} | {ratio[algorithm]:.2f} | {seeds} |", flush=True)
    print(json.dumps({"length": args.length, "batch": args.batch, "hidden": args.hidden, "steps": args.steps,
                      "seeds": args.seeds, "ratio": {k: round(v, 3) for k, v in ratio.items()},
                      "ratio_seeds": {k: round(v, 3) for k, v in ratio_seeds.items()} if args.seeds > 1 else None,
                      "steps_per_s": {a: {k: round(v, 3) for k, v in r.items()} for a, r in rates.items()}}))


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
