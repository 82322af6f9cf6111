"""A CVT-MAP-Elites archive (pyribs' CVTArchive) whose solutions are ids, over descriptors normalised to
[0, 1] by configured bounds: pyribs finds cells by raw Euclidean distance, so unnormalised axes of
different ranges collapse into a few cells. Saved as plain data (its centroids and elites) and restored
exactly by adding the elites back; each elite is alone in its cell, so the order does not matter."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes


@dataclasses.dataclass(frozen=True)
class Axis:
    """One descriptor: its name and bounds; values are clipped to the bounds, then scaled to [0, 1] (on a
    log scale when `log`)."""

    name: str
    low: float
    high: float
    log: bool = False

    def __post_init__(self):
        if not (math.isfinite(self.low) and math.isfinite(self.high) and self.low < self.high):
            raise ValueError(f"descriptor {self.name}: bounds must be finite with low < high, not "
                             f"({self.low}, {self.high})")
        if self.log and self.low <= 0:
            raise ValueError(f"descriptor {self.name}: a log-scale axis needs low > 0, not {self.low}")

    def normalise(self, value: float) -> float:
        if not math.isfinite(value):
            value = self.low  # a backend without a cost analysis gives NaN FLOPs: the axis's floor
        value = min(max(value, self.low), self.high)
        if self.log:
            return (math.log(value) - math.log(self.low)) / (math.log(self.high) - math.log(self.low))
        return (value - self.low) / (self.high - self.low)

    @classmethod
    def from_config(cls, data: Mapping[str, Any]) -> Axis:
        return cls(str(data["name"]), float(data["low"]), float(data["high"]), bool(data.get("log", False)))


class Archive:
    """add(id, objective, descriptors) keeps the best id of each cell; elites(), nearest(), stats()."""

    def __init__(self, axes: Sequence[Axis], cells: int, seed: int, centroids: np.ndarray | None = None):
        from ribs.archives import CVTArchive  # numba and scikit-learn: 3 s to import, so only when searched

        self.axes, self.cells = tuple(axes), int(cells)
        if centroids is None:  # k-means over uniform samples, deterministic given the seed
            centroids = self.cells
        self._archive = CVTArchive(solution_dim=(), solution_dtype=object, centroids=centroids,
                                   ranges=[(0.0, 1.0)] * len(self.axes), seed=seed)

    def measures(self, descriptors: Sequence[float]) -> list[float]:
        if len(descriptors) != len(self.axes):
            raise ValueError(f"{len(descriptors)} descriptors for {len(self.axes)} axes")
        return [axis.normalise(float(v)) for axis, v in zip(self.axes, descriptors, strict=True)]

    def add(self, solution: str, objective: float, descriptors: Sequence[float]) -> bool:
        """Whether the solution entered the archive: a new cell, or better than its cell's elite."""
        if not math.isfinite(objective):
            raise ValueError(f"objective of {solution} must be finite, not {objective}")
        return self.add_normalised(solution, objective, self.measures(descriptors))

    def add_normalised(self, solution: str, objective: float, measures: Sequence[float]) -> bool:
        out = self._archive.add_single(solution, objective, list(measures))
        return int(out["status"]) > 0

    def elites(self) -> list[dict[str, Any]]:
        """Every elite: id, objective, normalised measures and cell index, in cell order."""
        data = self._archive.data(return_type="dict")
        rows = [{"id": str(s), "objective": float(o), "measures": [float(v) for v in m], "cell": int(i)}
                for s, o, m, i in zip(data["solution"], data["objective"], data["measures"], data["index"],
                                      strict=True)]
        return sorted(rows, key=lambda r: r["cell"])

    def ids(self) -> list[str]:
        return [e["id"] for e in self.elites()]

    def nearest(self, solution: str, k: int) -> list[str]:
        """The k elites nearest to `solution`'s measures (itself excluded), nearest first."""
        elites = self.elites()
        own = next(e for e in elites if e["id"] == solution)
        others = [e for e in elites if e["id"] != solution]
        distance = [float(np.linalg.norm(np.subtract(e["measures"], own["measures"]))) for e in others]
        order = sorted(range(len(others)), key=lambda i: (distance[i], others[i]["cell"]))
        return [others[i]["id"] for i in order[:k]]

    def stats(self) -> dict[str, float]:
        """Filled cells, coverage (their fraction) and QD-score (the sum of the elites' objectives)."""
        elites = self.elites()
        return {"cells": len(elites), "coverage": len(elites) / self.cells,
                "qd_score": float(sum(e["objective"] for e in elites))}

    def to_dict(self) -> dict[str, Any]:
        return {"axes": [dataclasses.asdict(a) for a in self.axes], "cells": self.cells,
                "centroids": np.asarray(self._archive.centroids).tolist(), "elites": self.elites()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Archive:
        archive = cls([Axis(**a) for a in data["axes"]], data["cells"], 0, np.asarray(data["centroids"]))
        for elite in data["elites"]:
            archive.add_normalised(elite["id"], elite["objective"], elite["measures"])
        return archive

    def heatmap(self, ax: Axes, title: str) -> None:
        """The archive's Voronoi cells on the normalised axes, filled cells coloured by objective."""
        from ribs.visualize import cvt_archive_heatmap

        cvt_archive_heatmap(self._archive, ax=ax, cmap="viridis", lw=0.3)
        ax.set(xlabel=f"{self.axes[0].name} (normalised)", ylabel=f"{self.axes[1].name} (normalised)", title=title)
