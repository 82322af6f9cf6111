"""`evonas clrs-table`: train and test triplet functions on CLRS algorithms through the sandboxed evaluator
and tabulate the out-of-distribution scores beside the published Triplet-GMPNN column.

Each (program, algorithm) result is appended to OUT/results.jsonl as it comes, keyed by the program's content
hash, the algorithm and the training settings; a table started again with the same settings trains only
what is missing or failed for a reason outside the program (timeout, oom, crash), and a killed run loses at
most the trainings in flight."""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from clrs_tasks.published import TRIPLET_GMPNN
from clrs_tasks.task import METRICS


def _settings_key(train: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(train, sort_keys=True).encode()).hexdigest()[:12]


RETRIED = ("timeout", "oom", "crash")  # failures of the machine or the budget, not of the program


def _done(path: Path, key: str) -> dict[tuple[str, str], dict[str, Any]]:
    """The rows of these settings already logged, by (program id, algorithm); the log is rewritten without
    a line cut by a kill, so the next row starts on a line of its own."""
    rows, good = {}, []
    for line in path.read_text().splitlines() if path.exists() else []:
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        good.append(line)
        if row.get("settings") == key and str(row.get("failure") or "").split(":")[0] not in RETRIED:
            rows[(row["id"], row["algorithm"])] = row
    if path.exists() and path.read_text() != "".join(f"{line}\n" for line in good):
        path.write_text("".join(f"{line}\n" for line in good))
    return rows


def _names(paths: Sequence[Path]) -> list[str]:
    """Column names: file stems, or paths where two stems are the same."""
    stems = [p.stem for p in paths]
    return [p.stem if stems.count(p.stem) == 1 else str(p) for p in paths]


def run_table(programs: Sequence[Path], algorithms: Sequence[str], train: dict[str, Any], out: Path,
              eval_settings: dict[str, Any] | None = None) -> tuple[Path, Path]:
    """Train every program on every algorithm (seeds vmapped), write OUT/table.md and OUT/table.csv."""
    from tqdm import tqdm

    from evojax_nas.evaluate import Evaluator, EvaluatorConfig
    from evojax_nas.evaluate.result import Result
    from evojax_nas.programs import Program

    out.mkdir(parents=True, exist_ok=True)
    columns: dict[str, Program] = {}  # name -> program (two files of one content share its results)
    for name, path in zip(_names([Path(p) for p in programs]), programs, strict=True):
        columns[name] = Program.from_file(path)
    unique = list({p.id: p for p in columns.values()}.values())
    key = _settings_key(train)
    log = out / "results.jsonl"
    rows = _done(log, key)
    todo = [(a, p) for a in algorithms for p in unique if (p.id, a) not in rows]
    total = len(algorithms) * len(unique)
    bar = tqdm(total=total, initial=total - len(todo), unit="training", dynamic_ncols=True)
    for algorithm in dict.fromkeys(a for a, _ in todo):
        mine = [p for a, p in todo if a == algorithm]
        bar.set_postfix_str(algorithm)

        def finished(result: Any, algorithm: str = algorithm) -> None:
            m = result.metrics or {}
            row = {"settings": key, "id": result.program_id, "algorithm": algorithm,
                   "test": m.get(METRICS.test), "val": m.get(METRICS.score), "params": m.get(METRICS.size),
                   "failure": f"{result.failure.kind}: {result.failure.message}" if result.failure else None,
                   "seconds": round(result.seconds, 1)}
            rows[(result.program_id, algorithm)] = row
            with log.open("a") as f:
                f.write(json.dumps(row) + "\n")
            bar.update(1)

        # CLRS-30's own data (run.py's seeds, its test set): the table sits beside the published column
        config = EvaluatorConfig(task=f"clrs:{algorithm}", train_config=dict(train), data="published",
                                 **(eval_settings or {}))
        try:
            with Evaluator(config) as evaluator:
                evaluator.evaluate(mine, on_result=finished)
        except RuntimeError as err:  # the worker could not build this algorithm's data: the others go on
            for program in mine:
                finished(Result.failed(program.id, "crash", str(err)))
    bar.close()
    by_name = {name: {a: rows.get((p.id, a)) for a in algorithms} for name, p in columns.items()}
    return write_table(by_name, algorithms, train, out)


def _cell(row: dict[str, Any] | None) -> str:
    if row is None or row.get("failure"):
        return "failed" if row else ""
    test = 100 * np.asarray(row["test"])
    return f"{test.mean():.2f} ± {test.std():.2f}" if len(test) > 1 else f"{test.mean():.2f}"


def write_table(results: dict[str, dict[str, dict[str, Any] | None]], algorithms: Sequence[str],
                train: dict[str, Any], out: Path) -> tuple[Path, Path]:
    """The markdown table (OOD test score % per algorithm and program, mean ± std over seeds, the published
    Triplet-GMPNN column, the mean row, parameters) and the CSV of every seed's scores. `results`: program
    name -> algorithm -> logged row (None where missing)."""
    def mean_of(name: str) -> float:
        scores = [100 * np.mean(r["test"]) for r in results[name].values() if r and not r["failure"]]
        return float(np.mean(scores)) if len(scores) == len(algorithms) else float("nan")

    names = list(results)
    lines = [f"OOD test score (%, dm-clrs' score at n = {train.get('test_length')}), mean ± std over "
             f"{train.get('num_seeds', 1)} seed(s); {train.get('num_steps')} steps, hidden {train.get('hidden')}, "
             f"training sizes {list(train.get('train_lengths', []))}; CLRS-30's published data (run.py's seeds, "
             f"its test set: memorisable).", "",
             "| algorithm | " + " | ".join(names) + " | published Triplet-GMPNN |",
             "|---|" + "---|" * (len(names) + 1)]
    for a in algorithms:
        lines.append(f"| {a} | " + " | ".join(_cell(results[n][a]) for n in names) + f" | {TRIPLET_GMPNN[a]:.2f} |")
    published = np.mean([TRIPLET_GMPNN[a] for a in algorithms])
    lines.append("| **mean** | " + " | ".join(f"{mean_of(n):.2f}" for n in names) + f" | {published:.2f} |")
    params = [next((str(r["params"]) for r in results[n].values() if r and r["params"]), "") for n in names]
    lines.append("| parameters (first algorithm) | " + " | ".join(params) + " | |")
    md = out / "table.md"
    md.write_text("\n".join(lines) + "\n")
    path = out / "table.csv"
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["algorithm", "program", "test_mean", "test_std", "test_per_seed", "val_per_seed", "params",
                         "published_triplet_gmpnn", "failure"])
        for a in algorithms:
            for n in names:
                r = results[n][a]
                if r is None:
                    continue
                test = np.asarray(r["test"] or [np.nan])
                writer.writerow([a, n, f"{100 * test.mean():.2f}", f"{100 * test.std():.2f}", json.dumps(r["test"]),
                                 json.dumps(r["val"]), r["params"], TRIPLET_GMPNN[a], r["failure"] or ""])
    return md, path
