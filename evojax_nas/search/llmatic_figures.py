"""LLMatic's own figures in a run's report (runs/report.py draws what every method shares)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evojax_nas.search.archive import Archive


def figures(run_name: str, state: dict[str, Any] | None, rows: list[dict[str, Any]], out: Path) -> list[Path]:
    """A run's archives as heat-maps (from `state`, its newest checkpoint's), and its QD-score, coverage and
    best accuracy per generation (from `rows`, its metrics), written to `out`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    archives = [(name, Archive.from_dict(state[key])) for name, key in (("network", "networks"), ("prompt", "prompts"))
                if state and state.get(key)]
    if archives:
        fig, axes = plt.subplots(1, len(archives), figsize=(5.5 * len(archives), 4.5), squeeze=False)
        for ax, (name, archive) in zip(axes[0], archives, strict=True):
            stats = archive.stats()
            archive.heatmap(ax, f"{name} archive: {stats['cells']}/{archive.cells} cells, QD {stats['qd_score']:.2f}")
        fig.tight_layout()
        paths.append(out / f"archives-{run_name}.png")
        fig.savefig(paths[-1], dpi=120)
        plt.close(fig)
    fig, (qd, coverage, best) = plt.subplots(1, 3, figsize=(15, 4))
    for name in ("network", "prompt"):
        steps = [r["step"] for r in rows if f"{name}_qd_score" in r]
        if steps:
            qd.plot(steps, [r[f"{name}_qd_score"] for r in rows if f"{name}_qd_score" in r], marker="o", label=name)
            coverage.plot(steps, [r[f"{name}_coverage"] for r in rows if f"{name}_coverage" in r], marker="o",
                          label=name)
    qd.set(xlabel="generation", ylabel="QD-score (sum of elite fitness)", title=f"{run_name}: QD-score")
    coverage.set(xlabel="generation", ylabel="coverage (filled cells)", title=f"{run_name}: coverage")
    best.plot([r["step"] for r in rows if "best_score" in r],
              [r["best_score"] for r in rows if "best_score" in r], marker="o")
    best.set(xlabel="generation", ylabel="best validation score", title=f"{run_name}: best accuracy")
    for ax in (qd, coverage):
        ax.legend(fontsize=8)
    fig.tight_layout()
    paths.append(out / f"qd-{run_name}.png")
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)
    return paths
