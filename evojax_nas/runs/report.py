"""The report of one or more runs (e.g. EvoPrompting and its ablations, or LLMatic beside EvoPrompting), as
in EvoPrompting's Figure 2: the Pareto front of parameters vs test error of each run's top models, the
maximum fitness -(val error) x params and the best validation accuracy vs the number of models evaluated
(the common budget of both methods), and a markdown table of the best programs with their lineage and each
round's yield. An LLMatic run adds heat-maps of its two archives (filled cells coloured by fitness) and its
QD-score and coverage per generation."""

from __future__ import annotations

import json
import re
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evojax_nas.runs.journal import AppendLog
from evojax_nas.search.fitness import fittest
from evojax_nas.search.method import method_class
from evojax_nas.tasks import get_task
from evojax_nas.tasks.base import MetricsSchema

DATA_NOTES = {"private": "private (generated from a seed the run drew and keeps in its directory; no sandbox sees "
                        "it, so no candidate can rebuild the validation and test sets)",
              "published": "**published, memorisable** (the task's published data: a candidate can rebuild it "
                           "from the public recipe and memorise the validation and test sets)"}


def load_run(workdir: Path) -> dict[str, Any]:
    if not (workdir / "candidates.jsonl").exists():
        raise FileNotFoundError(f"{workdir} is not a run directory (no candidates.jsonl)")
    config = json.loads((workdir / "config.json").read_text()) if (workdir / "config.json").exists() else {}
    return {"name": workdir.name, "candidates": latest(AppendLog(workdir / "candidates.jsonl").read()),
            "rounds": AppendLog(workdir / "metrics.jsonl").read(), "workdir": workdir,
            "method": config.get("search", {}).get("method", "evoprompting"),
            "data": config.get("data", "published"), "state": None,
            "metrics": get_task(config.get("task", "mnist1d"), **config.get("task_kwargs", {})).candidate.metrics}


def latest(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per candidate, in the order first logged: a confirmation replaces the screening record."""
    by_id: dict[str, dict[str, Any]] = {}
    for record in records:
        by_id[record["id"]] = record
    return list(by_id.values())


def eligible(run: dict[str, Any]) -> list[dict[str, Any]]:
    """The eligible candidates, fittest first."""
    return fittest(run["candidates"])


def ranked(run: dict[str, Any]) -> list[dict[str, Any]]:
    """What a run's table lists, best first, in its method's order (search/base.py's SearchMethod)."""
    return method_class(run["method"]).report_ranking(run["candidates"], lambda: run_state(run), run["metrics"])


def pareto(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The non-dominated points (both coordinates minimised), sorted by the first."""
    front: list[tuple[float, float]] = []
    for x, y in sorted(points):
        if not front or y < front[-1][1]:
            front.append((x, y))
    return front


def name_of(candidate: dict[str, Any]) -> str:
    origin = candidate["program"]["origin"]
    return f"seed:{origin['name']}" if origin.get("kind") == "seed" and "name" in origin else candidate["id"][:8]


def lineage(candidate: dict[str, Any], by_id: dict[str, dict[str, Any]], depth: int = 3) -> str:
    """`name <- (parent lineages)` down to the seeds, at most `depth` generations."""
    parents = candidate["program"]["parents"]
    if not parents or depth == 0:
        return name_of(candidate)
    inner = ", ".join(lineage(by_id[p], by_id, depth - 1) if p in by_id else p[:8] for p in parents)
    return f"{name_of(candidate)} <- ({inner})"


def plot(runs: Sequence[dict[str, Any]], out: Path, top: int) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5))
    for run in runs:
        best = eligible(run)[:top]
        schema = run["metrics"]
        points = [(c["result"]["metrics"][schema.size], 1 - c["result"]["metrics"][schema.test_mean]) for c in best]
        if not points:
            continue
        dots = ax.scatter(*zip(*points, strict=True), s=14, alpha=0.6, label=f"{run['name']} (top {len(points)})")
        ax.step(*zip(*pareto(points), strict=True), where="post", color=dots.get_facecolor()[0])
        seeds = [p for p, c in zip(points, best, strict=True) if c["program"]["origin"].get("kind") == "seed"]
        if seeds:
            ax.scatter(*zip(*seeds, strict=True), s=40, marker="x", color="black")
    ax.scatter([], [], s=40, marker="x", color="black", label="seeds")
    ax.set(xscale="log", xlabel="parameters", ylabel="test error", title="Pareto front: size vs test error")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "pareto.png", dpi=120)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4.5))
    colors: dict[str, Any] = {}
    for run in runs:  # runs of one method (`name-s<seed>`) share a colour, as in the paper's Figure 2
        xs, ys, best = [], [], None
        for n, c in enumerate(run["candidates"], 1):
            if c["eligible"] and (best is None or c["fitness"] > best):
                best = c["fitness"]
            if best is not None:
                xs.append(n)
                ys.append(best)
        method = re.sub(r"-s\d+$", "", run["name"])
        line, = ax.plot(xs, ys, color=colors.get(method), alpha=0.8,
                        label=method if method not in colors else None)
        colors.setdefault(method, line.get_color())
    ax.set(xlabel="models evaluated", ylabel="max fitness  -(val error) x params", title="Maximum fitness")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "max_fitness.png", dpi=120)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4.5))
    for run in runs:
        xs, ys = [], []
        for n, c in enumerate(run["candidates"], 1):
            m = c["result"].get("metrics")
            if m and (not ys or m[run["metrics"].score_mean] > ys[-1]):
                xs.append(n)
                ys.append(m[run["metrics"].score_mean])
        if xs:
            ax.step(xs + [len(run["candidates"])], ys + ys[-1:], where="post", label=run["name"])
    ax.set(xlabel="models evaluated", ylabel=f"best {' / '.join(sorted({r['metrics'].score_name for r in runs}))}",
           title="Best accuracy")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "best_accuracy.png", dpi=120)
    plt.close(fig)
    return [out / "pareto.png", out / "max_fitness.png", out / "best_accuracy.png"]


def method_figures(run: dict[str, Any], out: Path) -> list[Path]:
    """The figures the run's method draws of itself (LLMatic: its archives), in `out`."""
    return method_class(run["method"]).report_figures(run["name"], lambda: run_state(run), run["rounds"], out)


def last_state(workdir: Path) -> dict[str, Any] | None:
    """The search state of the run's newest good checkpoint (None when there is none)."""
    from evojax_nas.runs.checkpoints import SearchCheckpoints

    checkpoints = SearchCheckpoints(workdir / "checkpoints")
    try:
        restored = checkpoints.restore()
    finally:
        checkpoints.close()
    return restored.state if restored else None


def run_state(run: dict[str, Any]) -> dict[str, Any] | None:
    """The run's last checkpointed state, restored once for the plots and the table."""
    if run["state"] is None:
        run["state"] = last_state(run["workdir"]) or {}
    return run["state"] or None


def spread(metrics: dict[str, Any], schema: MetricsSchema) -> str:
    """The validation score (accuracy; dm-clrs' score on CLRS) as mean ± std over its training seeds."""
    accs = metrics.get(schema.score) or [metrics[schema.score_mean]]
    if len(accs) == 1:
        return f"{metrics[schema.score_mean]:.3f} (1 seed)"
    return f"{statistics.fmean(accs):.3f} ± {statistics.pstdev(accs):.3f} ({len(accs)})"


def summary(runs: Sequence[dict[str, Any]], top: int, figures: dict[str, list[Path]] | None = None) -> str:
    figures = figures or {}
    lines = ["# Search report", "",
             "![Pareto front](pareto.png) ![Maximum fitness](max_fitness.png) ![Best accuracy](best_accuracy.png)", ""]
    for run in runs:
        by_id, schema = {c["id"]: c for c in run["candidates"]}, run["metrics"]
        seeds = [c for c in run["candidates"] if c["program"]["origin"].get("kind") == "seed"]
        best_seed = max((c["fitness"] for c in seeds if c["eligible"]), default=None)
        lines += [f"## {run['name']}", "",
                  f"{len(run['candidates'])} candidates logged; best seed fitness "
                  f"{best_seed if best_seed is None else round(best_seed, 1)}. Evaluation data: "
                  f"{DATA_NOTES.get(run['data'], run['data'])}.", "",
                  "| rank | program | round | val score (mean ± std, seeds) | test | params | fitness | lineage |",
                  "|---|---|---|---|---|---|---|---|"]
        for rank, c in enumerate(ranked(run)[:top], 1):
            m = c["result"]["metrics"]
            lines.append(f"| {rank} | {name_of(c)} | {c['round']} | {spread(m, schema)} | "
                         f"{m[schema.test_mean]:.3f} | {int(m[schema.size])} | {c['fitness']:.1f} | "
                         f"{lineage(c, by_id)} |")
        keys = method_class(run["method"]).REPORT_KEYS
        if figures.get(run["name"]):
            lines += ["", " ".join(f"![{path.stem}]({path.name})" for path in figures[run["name"]])]
        lines += ["", "| round | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
        for row in run["rounds"]:
            cells = [f"{row[k]:.3g}" if isinstance(row.get(k), float) else str(row.get(k, "")) for k in keys]
            lines.append(f"| {row['step']} | " + " | ".join(cells) + " |")
        failures: dict[str, int] = {}
        for c in run["candidates"]:
            if c["result"].get("failure"):
                kind = c["result"]["failure"]["kind"]
                failures[kind] = failures.get(kind, 0) + 1
        lines += ["", f"Failures by kind: {json.dumps(failures)}", ""]
        if best := ranked(run)[:1]:
            lines += ["Best program:", "", "```python", best[0]["program"]["source"].rstrip(), "```", ""]
    return "\n".join(lines)


def write_report(workdirs: Sequence[Path], out: Path | None = None, top: int = 20) -> list[Path]:
    """Write pareto.png, max_fitness.png, best_accuracy.png (and an LLMatic run's archives-NAME.png and
    qd-NAME.png) and summary.md to `out` (default: the first run's report/)."""
    runs = [load_run(Path(w)) for w in workdirs]
    out = Path(out) if out else Path(workdirs[0]) / "report"
    out.mkdir(parents=True, exist_ok=True)
    paths = plot(runs, out, top)
    figures = {run["name"]: method_figures(run, out) for run in runs}
    (out / "summary.md").write_text(summary(runs, min(top, 10), figures))
    return [*paths, *(path for run in runs for path in figures[run["name"]]), out / "summary.md"]
