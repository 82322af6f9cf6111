"""Yield of the LM as EvoPrompting's mutation operator on MNIST-1D: sample children from real two-parent
prompts, then count how many pass extraction, the sandbox checks, training, and are distinct, without
and with mechanical repair (truncated children cut back or closed, PyTorch layer names, a flatten before
the final Dense, the `train` argument, the class count: the task's `repair`).

    python benchmarks/lm_yield.py [--samples 32] [--temperatures 0.6 0.8] [--max-new-tokens 300]
                                  [--save children.json | --load children.json]

--save keeps the sampled completions, --load scores saved ones again (to compare repairs without sampling).

Last line: {"children": N, "counts": {mode: {stage: n}}, "trained_rate": {mode: ...}, "distinct_rate": {...}, ...}.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from collections import Counter
from pathlib import Path

from evojax_nas.evaluate import Evaluator, EvaluatorConfig
from evojax_nas.lm.backends import LocalLM
from evojax_nas.lm.extract import extract_program
from evojax_nas.programs import Program
from evojax_nas.search.fitness import program_fitness
from evojax_nas.search.prompts import assemble_child, build_prompt, stop_markers
from evojax_nas.tasks.mnist1d import Mnist1D
from evojax_nas.train import default_config

SEEDS = Path(__file__).resolve().parents[1] / "seeds" / "mnist1d"
PAIRS = [("mlp", "cnn"), ("cnn", "cnn_bn_dropout")]
STAGES = ("extracted", "sandbox", "trained", "distinct")
STRUCTURAL = {"syntax", "forbidden", "interface", "shape"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=32, help="children per prompt and temperature")
    parser.add_argument("--temperatures", type=float, nargs="+", default=[0.6, 0.8])
    parser.add_argument("--max-new-tokens", type=int, default=300)
    parser.add_argument("--train-steps", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0, help="LM seed of the first cell (cell i uses seed + i)")
    parser.add_argument("--save", type=Path, help="write the sampled completions to this JSON file")
    parser.add_argument("--load", type=Path, help="score the completions of a --save file instead of sampling")
    args = parser.parse_args()

    train = default_config()
    train.update(num_steps=args.train_steps, strategy="python-serial")
    task = Mnist1D()
    spec = task.candidate
    start = time.perf_counter()
    with Evaluator(EvaluatorConfig(train_config=train.to_dict(), timeout_s=300)) as evaluator:
        seeds = {p.stem: Program.from_file(p) for p in sorted(SEEDS.glob("*.py"))}
        for program, result in zip(seeds.values(), evaluator.evaluate(list(seeds.values())), strict=True):
            program.metrics = result.metrics
        saved = json.loads(args.load.read_text()) if args.load else None
        lm = None if saved else LocalLM()
        children: list[tuple[list[Program], str, str]] = []  # parents, header, completion
        cells = list(itertools.product(PAIRS, args.temperatures)) if saved is None else [
            ((c["parents"][0], c["parents"][1]), c["temperature"]) for c in saved]
        for cell, ((a, b), temp) in enumerate(cells):
            parents = sorted([seeds[a], seeds[b]], key=lambda p: program_fitness(p, spec.metrics))
            prompt, header = build_prompt(parents, spec)
            t0 = time.perf_counter()
            texts = saved[cell]["completions"] if saved else lm.generate(
                [prompt], n=args.samples, temperature=temp, max_new_tokens=args.max_new_tokens, stop=stop_markers(spec),
                seed=args.seed + cell)[0]
            print(f"cell {a}+{b} T={temp}: {len(texts)} samples in {time.perf_counter() - t0:.0f} s", flush=True)
            children += [(parents, header, text) for text in texts]
        if args.save:
            n = len(children) // len(cells)
            args.save.write_text(json.dumps([{"parents": [a, b], "temperature": t, "completions": [
                text for _, _, text in children[i * n:(i + 1) * n]]} for i, ((a, b), t) in enumerate(cells)]))

        parent_ids = {p.id for p in seeds.values()}
        table: dict[str, Counter] = {"without repair": Counter(), "with repair": Counter()}
        outcomes: Counter = Counter()
        pending: dict[str, list[tuple[str, Program]]] = {}
        for parents, header, text in children:
            ex = extract_program(text, header, stop_markers(spec), class_name=spec.class_name, closing=spec.closing)
            outcomes[ex.outcome] += 1
            if ex.source is None:
                continue
            source = assemble_child(ex.source, parents)
            ids = tuple(p.id for p in parents)
            if ex.outcome == "clean":
                pending.setdefault("without repair", []).append(("without repair", Program(source, parents=ids)))
            fixed = Program(task.repair(source, [p.source for p in parents]), parents=ids)
            pending.setdefault("with repair", []).append(("with repair", fixed))
        unique = {p.id: p for items in pending.values() for _, p in items}
        results = dict(zip(unique, evaluator.evaluate(list(unique.values())), strict=True))
        failures: Counter = Counter()
        causes: Counter = Counter()  # what still fails after repair, by message
        for mode, items in pending.items():
            seen: set[str] = set()
            for _, program in items:
                result = results[program.id]
                counts = table[mode]
                counts["extracted"] += 1
                if result.failure and mode == "with repair":
                    causes[f"{result.failure.kind}: {result.failure.message[:110]}"] += 1
                if result.failure and result.failure.kind in STRUCTURAL:
                    failures[(mode, result.failure.kind)] += 1
                    continue
                counts["sandbox"] += 1
                if not result.ok:
                    failures[(mode, result.failure.kind)] += 1
                    continue
                counts["trained"] += 1
                if program.id not in parent_ids and program.id not in seen:
                    counts["distinct"] += 1
                seen.add(program.id)

    total = len(children)
    print(f"\n{total} children sampled ({args.samples} per cell, T in {args.temperatures}, "
          f"<= {args.max_new_tokens} new tokens) in {time.perf_counter() - start:.0f} s")
    print(f"extraction outcomes: {dict(outcomes)}")
    print(f"{'':16}" + "".join(f"{s:>14}" for s in STAGES))
    for mode, counts in table.items():
        print(f"{mode:16}" + "".join(f"{counts[s]:>6} ({counts[s] / total:5.1%})" for s in STAGES))
    print("failures by kind: " + ", ".join(f"{m}/{k}: {n}" for (m, k), n in sorted(failures.items())))
    print("commonest failures after repair:")
    for cause, n in causes.most_common(12):
        print(f"  {n:3}  {cause}")
    print(json.dumps({"children": total, "extraction": dict(outcomes),
                      "counts": {mode: {s: counts[s] for s in STAGES} for mode, counts in table.items()},
                      **{f"{s}_rate": {mode: round(counts[s] / total, 4) for mode, counts in table.items()}
                         for s in ("trained", "distinct")}}))


if __name__ == "__main__":
    main()
