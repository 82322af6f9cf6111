"""Train and test one triplet function on one CLRS algorithm: the whole step jitted, seeds vmapped (every
seed sees the same batches), model selection on the validation score as in dm-clrs' run.py, then the
out-of-distribution test score of each seed's best parameters."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from clrs_tasks import data
from clrs_tasks.losses import score, total_loss
from clrs_tasks.model import Step, dimensions, forward, init, postprocess


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """run.py's defaults, except the optimizer the EvoPrompting paper names (AdamW) and its 2,000 steps."""

    steps: int = 2000
    hidden: int = 128
    batch_size: int = data.BATCH_SIZE
    learning_rate: float = 1e-3
    grad_clip: float = 1.0
    weight_decay: float = 1e-4          # 0 gives run.py's Adam
    train_lengths: tuple[int, ...] = data.TRAIN_LENGTHS
    test_length: int = data.TEST_LENGTH
    val_samples: int | None = None      # None: the recipe's count
    test_samples: int | None = None
    eval_every: int = 50
    num_seeds: int = 1


def optimizer(config: TrainConfig) -> optax.GradientTransformation:
    """dm-clrs' chain (clip by global norm, Adam, scale) with decoupled weight decay added."""
    parts = [optax.clip_by_global_norm(config.grad_clip)] if config.grad_clip else []
    parts.append(optax.scale_by_adam())
    if config.weight_decay:
        parts.append(optax.add_decayed_weights(config.weight_decay))
    parts.append(optax.scale(-config.learning_rate))
    return optax.chain(*parts)


class CLRSTrainer:
    """Holds the jitted, seed-vmapped init, update and predict of one (algorithm, triplet module)."""

    def __init__(self, probes: tuple[data.Probe, ...], triplet: nn.Module, config: TrainConfig):
        self.probes, self.config = probes, config
        self.by_name = {p.name: p for p in probes}
        self.step = Step(probes, config.hidden, triplet)
        self.tx = optimizer(config)
        self._update = jax.jit(jax.vmap(self._update_one, in_axes=(0, 0, None, 0)))
        self._predict = jax.jit(jax.vmap(self._predict_one, in_axes=(0, None)))

    def init(self, batch: data.Batch, seeds: Sequence[int]) -> tuple[Any, Any]:
        """Per-seed parameters and optimizer states, stacked on axis 0 (seed s starts from key(s) alone, so
        seeds trained apart or together start alike). An exported slot's trusted model is initialised once per
        worker (slot.SlotKey), to the same bits."""
        from clrs_tasks import slot

        if isinstance(self.step.triplet, slot.ExportedTriplet):
            params = _trusted_params(self.probes, self.config.hidden, tuple(seeds), batch)
            keys = params["params"]["triplet"]["slot"]
            programs = self.step.triplet.slot.init
            tree = {**params["params"], "triplet": {"slot": jax.vmap(lambda k: slot.init(programs, k))(keys)}}
            params = {**params, "params": tree}
        else:
            params = jax.jit(jax.vmap(lambda key: init(self.step, key, batch)))(seed_keys(seeds, 0))
        return params, jax.vmap(self.tx.init)(params)

    def _loss(self, params, batch, key):
        outputs, hint_preds = forward(self.step, params, batch, True, key)
        return total_loss(self.probes, batch, outputs, hint_preds, dimensions(batch, self.probes)[1])

    def _update_one(self, params, opt_state, batch, key):
        loss, grads = jax.value_and_grad(self._loss)(params, batch, key)
        updates, opt_state = self.tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    def _predict_one(self, params, batch):
        outputs, _ = forward(self.step, params, batch, False, jax.random.key(0))
        return postprocess(self.by_name, outputs, hard=True, sinkhorn_steps=50)

    def update(self, params, opt_state, batch, keys):
        """One training step of every seed on the same batch; returns (params, opt_state, losses (S,))."""
        return self._update(params, opt_state, batch, keys)

    def evaluate(self, params, fixed: data.Batch) -> list[dict[str, float]]:
        """dm-clrs' scores of each seed on a fixed set, batch by batch (predictions gathered, then scored)."""
        parts = [jax.device_get(self._predict(params, part))
                 for part in data.batches(fixed, self.config.batch_size)]
        scores = []
        for seed in range(len(jax.tree.leaves(params)[0])):
            preds = {k: np.concatenate([p[k][seed] for p in parts]) for k in parts[0]}
            scores.append(score(self.probes, fixed["outputs"], preds))
        return scores


_TRUSTED: dict[Any, Any] = {}  # (probes, hidden, seeds, batch shapes) -> the trusted model's parameters


def _trusted_params(probes: tuple[data.Probe, ...], hidden: int, seeds: tuple[int, ...], batch: data.Batch) -> Any:
    """The trusted model's per-seed parameters with the slot's keys in its place (slot.SlotKey), made once per
    worker: no parameter depends on the batch's values, nor on the slot."""
    from clrs_tasks.slot import SlotKey

    shapes = tuple((jax.tree_util.keystr(path), np.shape(x)) for path, x in jax.tree_util.tree_leaves_with_path(batch))
    key = (probes, hidden, seeds, shapes)
    if key not in _TRUSTED:
        _TRUSTED.clear()  # one algorithm and seed set per worker: keep the newest only
        step = Step(probes, hidden, SlotKey())
        _TRUSTED[key] = jax.jit(jax.vmap(lambda k: init(step, k, batch)))(seed_keys(seeds, 0))
    return _TRUSTED[key]


def seed_keys(seeds: Sequence[int], stream: int) -> jax.Array:
    """One key per seed for one use (0: parameters, 1: the training noise)."""
    return jnp.stack([jax.random.fold_in(jax.random.key(s), stream) for s in seeds])


def _keep_improved(best: Any, params: Any, improved: np.ndarray) -> Any:
    """Each seed's parameters where its validation score rose, else its best so far."""
    return jax.tree.map(lambda b, p: np.where(improved.reshape((-1,) + (1,) * (b.ndim - 1)), p, b), best, params)


def parameter_count(params: Any) -> int:
    """Reals of one seed's model (the stacked tree divided by the seed axis; complex counts twice)."""
    from evojax_nas.train.cost import count_reals

    return count_reals(jax.tree.map(lambda x: x[0], params))


@dataclasses.dataclass(frozen=True)
class DataSeeds:
    """The sampler seeds of the training stream, the validation set and the test set."""

    train: int
    val: int
    test: int

    @classmethod
    def of(cls, seed: int, data_seed: int | None = None) -> DataSeeds:
        """run.py's published seeds (the train seed, seed + 1, CLRS-30's test seed), or three from a private
        data seed."""
        if data_seed is None:
            return cls(seed, seed + 1, data.TEST_SEED)
        return cls(*(int(s) for s in np.random.SeedSequence(data_seed).generate_state(3) % (2**31)))


@dataclasses.dataclass(frozen=True)
class EvalSets:
    """An algorithm's probes and its fixed validation and test sets (made once, shared by every program)."""

    probes: tuple[data.Probe, ...]
    val: data.Batch
    test: data.Batch

    @classmethod
    def make(cls, algorithm: str, config: TrainConfig, seeds: DataSeeds) -> EvalSets:
        probes, val = data.fixed_set(algorithm, "val", seeds.val, max(config.train_lengths), config.val_samples)
        _, test = data.fixed_set(algorithm, "test", seeds.test, config.test_length, config.test_samples)
        return cls(probes, val, test)


def train_and_test(algorithm: str, triplet: nn.Module, config: TrainConfig, seed: int = 0,
                   progress: Callable[[int, float], None] | None = None, seeds: Sequence[int] | None = None,
                   sets: EvalSets | None = None) -> dict[str, Any]:
    """Train each seed (default: seed .. seed + num_seeds - 1, vmapped) for `config.steps` on the batches of
    data seed `seed`, keep each seed's best-validation parameters, test them. Returns losses, validation
    curve, per-seed best validation and test scores, and the parameter count."""
    seeds = list(seeds) if seeds is not None else [seed + i for i in range(config.num_seeds)]
    sets = sets or EvalSets.make(algorithm, config, DataSeeds.of(seed))
    _, stream = data.train_stream(algorithm, seed, config.train_lengths, config.batch_size)
    trainer = CLRSTrainer(sets.probes, triplet, config)
    first = next(stream)
    # committed to the device as the update's own outputs are: else its second call compiles it again (the
    # sharding of the arguments is part of jit's key), which took as long as the first on CPU
    params, opt_state = jax.device_put(trainer.init(first, seeds), jax.devices()[0])
    best = jax.tree.map(np.asarray, params)
    best_val = np.full(len(seeds), -np.inf)
    keys = seed_keys(seeds, 1)
    split = jax.jit(jax.vmap(jax.random.split))
    losses, curve = [], []
    for step in range(config.steps):
        batch = first if step == 0 else next(stream)
        pairs = split(keys)
        keys = pairs[:, 0]
        params, opt_state, loss = trainer.update(params, opt_state, batch, pairs[:, 1])
        losses.append(np.asarray(loss))
        if step % config.eval_every == 0 or step == config.steps - 1:
            val_scores = np.array([s["score"] for s in trainer.evaluate(params, sets.val)])
            curve.append((step, val_scores.tolist()))
            improved = val_scores > best_val
            best_val = np.where(improved, val_scores, best_val)
            best = _keep_improved(best, jax.device_get(params), improved)
        if progress is not None:
            progress(step, float(np.mean(losses[-1])))
    test_scores = [s["score"] for s in trainer.evaluate(best, sets.test)]
    return {"algorithm": algorithm, "losses": np.stack(losses).tolist(), "val_curve": curve,
            "best_val": best_val.tolist(), "test": test_scores, "parameters": parameter_count(params)}
