"""The CLRS search task (`evonas ... --task clrs:ALGORITHM`): candidates are the Triplet-GMPNN's triplet
message function, `TripletMessages(z (B, N, 2H), edge_fts (B, N, N, H), graph_fts (B, H)) -> (B, N, N, H)`.

The trace sandbox exports only that slot (clrs_tasks/slot.py, B and N symbolic); a trusted worker puts it
in the encode-process-decode model, trains it on the algorithm and reports dm-clrs' scores (`METRICS`): the
best validation score as `val_score`, the out-of-distribution test score (n = 64) of those parameters as
`test_score`, and the whole model's parameters as `params`, so EvoPrompting's fitness is
-(validation error) x (model size) as in the paper. No classifier repair applies."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from typing import Any

from clrs_tasks import slot
from evojax_nas.tasks.base import CandidateSpec, MetricsSchema

# dm-clrs' scores (a fraction of each probe right, averaged): the best validation score, and the test score
# of the parameters that reached it
METRICS = MetricsSchema(score="val_score", test="test_score", score_name="validation score")
WARM_UP = """
import flax.linen as nn
import jax
import jax.numpy as jnp


class TripletMessages(nn.Module):  # a little of everything: what tracing it imports is imported once
    @nn.compact
    def __call__(self, z, edge_fts, graph_fts):
        tri = nn.Dense(4)(z)[:, :, None, None] + nn.Dense(4)(edge_fts)[:, None]
        tri = tri + nn.Dense(4)(graph_fts)[:, None, None, None]
        tri = jnp.concatenate([jnp.max(tri, axis=1), jnp.mean(jax.nn.relu(tri), axis=1)], -1)
        return nn.Dense(edge_fts.shape[-1])(nn.LayerNorm()(jnp.tanh(tri)))
"""
def train_defaults() -> dict[str, Any]:
    """The train config a CLRS search starts from: the EvoPrompting paper's 2,000 AdamW steps on run.py's
    recipe (clrs_tasks.train.TrainConfig's fields, `steps` named `num_steps` as every task's is), one seed;
    0 samples: the recipe's count."""
    from clrs_tasks.train import TrainConfig

    recipe = dataclasses.asdict(TrainConfig())
    return {"num_steps": recipe.pop("steps"), **recipe, "train_lengths": list(recipe["train_lengths"]),
            "val_samples": recipe["val_samples"] or 0, "test_samples": recipe["test_samples"] or 0, "seed": 0}


def train_config(config: Mapping[str, Any]) -> Any:
    """clrs_tasks.train.TrainConfig from a search's train settings (the keys above; others ignored)."""
    from clrs_tasks.train import TrainConfig

    defaults = train_defaults()
    merged = {**defaults, **{k: v for k, v in dict(config).items() if k in defaults}}
    return TrainConfig(steps=int(merged["num_steps"]), hidden=int(merged["hidden"]),
                       batch_size=int(merged["batch_size"]), learning_rate=float(merged["learning_rate"]),
                       grad_clip=float(merged["grad_clip"]), weight_decay=float(merged["weight_decay"]),
                       train_lengths=tuple(int(n) for n in merged["train_lengths"]),
                       test_length=int(merged["test_length"]), val_samples=int(merged["val_samples"]) or None,
                       test_samples=int(merged["test_samples"]) or None, eval_every=int(merged["eval_every"]))


@dataclasses.dataclass(frozen=True)
class ClrsTask:
    """One CLRS algorithm as a search task: trained on samples from the train config's seed, validated on
    seed + 1 and tested on CLRS-30's test set (seed 3) as run.py does (the published data: memorisable), or,
    given a private `data_seed`, all three from it."""

    algorithm: str = "bfs"
    data_seed: int | None = None

    def __post_init__(self) -> None:
        from clrs_tasks.data import algorithms

        if self.algorithm not in algorithms():
            raise ValueError(f"unknown CLRS algorithm {self.algorithm!r}; known: {', '.join(algorithms())}")

    @property
    def name(self) -> str:
        return f"clrs:{self.algorithm}"

    @property
    def candidate(self) -> CandidateSpec:
        return CandidateSpec(
            task_line=(f"Triplet message functions of the Triplet-GMPNN processor, trained on CLRS "
                       f"{self.algorithm}. TripletMessages(z (B, N, 2H), edge_fts (B, N, N, H), graph_fts "
                       "(B, H)) returns (B, N, N, H) edge messages."),
            class_name=slot.CLASS_NAME, closing="", metrics=METRICS)

    tracer = "clrs_tasks.slot:trace_job"

    warm_up = WARM_UP

    def repair(self, source: str, parents: Sequence[str] = ()) -> str:
        from evojax_nas.programs.repair import repair

        return repair(source, slot.CLASS_NAME, parents)  # the generic repairs only: not a classifier

    def train_defaults(self) -> dict[str, Any]:
        return train_defaults()

    def trace_spec(self, platform: str, train_config_: Mapping[str, Any]) -> dict[str, Any]:
        return {"class_name": slot.CLASS_NAME, "hidden": int(train_config(train_config_).hidden),
                "platforms": [platform]}

    def prepare(self, cache: Any) -> None:
        """Nothing: the samplers run in the worker, from nothing on disk."""

    def trainer(self, train_config_: Mapping[str, Any], memory_budget_bytes: int | None = None,
                state_dir: str | None = None) -> SlotTrainer:
        from clrs_tasks.train import DataSeeds

        seed = int(train_config_.get("seed", 0))
        return SlotTrainer(self.algorithm, train_config(train_config_), DataSeeds.of(seed, self.data_seed), seed,
                           int(train_config_.get("num_seeds", 1)))


class SlotTrainer:
    """The CLRS train stage in a worker: exported slots checked, put in the trusted model, trained and
    tested; the validation and test sets are made once."""

    devices = 1  # one device (the seeds vmapped on it)

    def __init__(self, algorithm: str, config: Any, data_seeds: Any, seed: int, num_seeds: int):
        from clrs_tasks.train import EvalSets

        self.algorithm, self.config, self.seed, self.num_seeds = algorithm, config, seed, num_seeds
        self.data_seeds = data_seeds
        self.sets = EvalSets.make(algorithm, config, data_seeds)

    def load(self, blobs: dict[str, bytes]) -> slot.ExportedSlot:
        return slot.ExportedSlot.from_bytes(blobs, self.config.hidden)

    def train(self, program: slot.ExportedSlot, seeds: Sequence[int] | None) -> dict[str, Any]:
        import numpy as np

        from clrs_tasks.train import train_and_test
        from evojax_nas.train.cost import counted_constants
        from evojax_nas.train.trainer import TrainingError

        seeds = list(seeds) if seeds is not None else [self.seed + i for i in range(self.num_seeds)]
        start = time.perf_counter()
        forward = program.forward()  # before training: a slot the stage cannot measure is refused
        out = train_and_test(self.algorithm, slot.ExportedTriplet(program), self.config, self.data_seeds.train,
                             seeds=seeds, sets=self.sets)
        final = np.asarray(out["losses"][-1], dtype=float)
        if not np.all(np.isfinite(final)):
            raise TrainingError("nan", f"the training loss is not finite after {self.config.steps} steps: "
                                       f"{final.tolist()}")
        return {"val_score": [float(v) for v in out["best_val"]], "test_score": [float(v) for v in out["test"]],
                "first_loss": np.asarray(out["losses"][0], dtype=float).tolist(),  # with the last: did it learn
                "final_loss": final.tolist(), "params": int(out["parameters"]) + counted_constants(program.constants),
                "flops": float("nan"), "width": forward.width, "depth": forward.depth,
                "val_score_mean": float(np.mean(out["best_val"])), "test_score_mean": float(np.mean(out["test"])),
                "algorithm": self.algorithm, "train_seconds": round(time.perf_counter() - start, 2),
                "val_curve": out["val_curve"]}

    def train_many(self, programs: Sequence[slot.ExportedSlot], seeds: Sequence[int] | None,
                   steps: Sequence[int] | None = None, on_phase: Any = None) -> list[dict[str, Any] | Exception]:
        """One after another: a CLRS candidate is its own trusted model, compiled per batch shape."""
        from evojax_nas.train.trainer import TrainingError

        if steps is not None:
            return [TrainingError("crash", "successive halving is not implemented for CLRS")] * len(programs)
        out: list[dict[str, Any] | Exception] = []
        for program in programs:
            try:
                out.append(self.train(program, seeds))
            except Exception as err:  # noqa: BLE001 (untrusted program: errors are data)
                out.append(err)
        return out


def make(algorithm: str = "bfs", data_seed: int | None = None) -> ClrsTask:
    """The registry's factory: `clrs:ALGORITHM` (evojax_nas/tasks/registry.py)."""
    return ClrsTask(algorithm, data_seed)
