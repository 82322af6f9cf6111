"""Train one program for S seeds at once: vmapped init, device-resident data, optax, chosen loop strategy."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from evojax_nas.paths import cache_dir
from evojax_nas.tasks.base import ClassificationTask
from evojax_nas.train.cost import count_params, forward_flops
from evojax_nas.train.strategy import Strategy, StrategyCache, choose_strategy, workload_key

Carry = tuple[Any, Any, Any, jax.Array, jax.Array]  # params, state, opt_state, rng key, step
# Init and evaluation run once per program: compiling them fast beats running them fast (3x on CPU).
RUN_ONCE = {"xla_backend_optimization_level": 0}


class TrainingError(Exception):
    """A program that loads but cannot be trained: kind is one of shape, nan, crash."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


def default_config() -> ml_collections.ConfigDict:
    """Training settings of the MNIST-1D paper (Adam, lr 1e-2, batch 100, 8000 steps)."""
    return ml_collections.ConfigDict({
        "optimizer": "adam", "learning_rate": 1e-2, "weight_decay": 0.0,
        "batch_size": 100, "num_steps": 8000, "num_seeds": 1, "seed": 0,
        "strategy": "auto", "scan_chunk": 100, "eval_batch_size": 1000,
    })


def make_optimizer(config: ml_collections.ConfigDict) -> optax.GradientTransformation:
    """Return the optax optimizer named by config.optimizer."""
    name, lr, wd = config.optimizer, config.learning_rate, config.weight_decay
    if name == "adam":
        return optax.adam(lr) if not wd else optax.adamw(lr, weight_decay=wd)
    if name == "adamw":
        return optax.adamw(lr, weight_decay=wd)
    if name == "sgd":
        return optax.chain(optax.add_decayed_weights(wd), optax.sgd(lr, momentum=0.9))
    raise ValueError(f"unknown optimizer {name!r}; use adam, adamw or sgd")


def batch_schedule(seed: int, n: int, batch: int, steps: int) -> np.ndarray:
    """Return (steps, batch) example indices: shuffled epochs drawn from the seed alone."""
    rng = np.random.default_rng(seed)
    epochs = -(-steps * batch // n)
    order = np.concatenate([rng.permutation(n) for _ in range(epochs)])
    return order[: steps * batch].reshape(steps, batch).astype(np.int32)


def _classify(err: Exception) -> str:
    text = f"{type(err).__name__} {err}".lower()
    return "shape" if any(w in text for w in ("shape", "dimension", "rank", "incompatible")) else "crash"


@dataclasses.dataclass
class TrainResult:
    """Per-seed accuracies and losses plus size, FLOPs and timing."""

    val_accuracy: list[float]
    test_accuracy: list[float]
    final_loss: list[float]
    params: int
    flops: float
    strategy: str
    train_seconds: float
    compile_seconds: float

    def metrics(self) -> dict[str, Any]:
        """Return the JSON-ready metrics (means over seeds plus the per-seed lists)."""
        out = dataclasses.asdict(self)
        out["val_accuracy_mean"] = float(np.mean(self.val_accuracy))
        out["test_accuracy_mean"] = float(np.mean(self.test_accuracy))
        return out


class Trainer:
    """Trains candidate Flax modules on one task; the data stays on the device between programs."""

    def __init__(self, task: ClassificationTask, config: ml_collections.ConfigDict | None = None,
                 strategy_cache: StrategyCache | None = None):
        self.task = task
        self.config = config or default_config()
        self.tx = make_optimizer(self.config)
        self.x_train, self.y_train = jnp.asarray(task.x_train), jnp.asarray(task.y_train)
        self.x_val, self.y_val = jnp.asarray(task.x_val), jnp.asarray(task.y_val)
        self.x_test, self.y_test = jnp.asarray(task.x_test), jnp.asarray(task.y_test)
        self.strategy_cache = strategy_cache if strategy_cache is not None else StrategyCache(
            cache_dir() / f"strategies-{jax.default_backend()}.json")

    # -- pieces -------------------------------------------------------------------------------------

    def check_output(self, model: nn.Module) -> None:
        """Raise TrainingError unless the model maps a batch to (batch, num_classes) logits."""
        x = jnp.zeros((2, *self.task.input_shape), jnp.float32)
        try:
            variables = jax.eval_shape(lambda k: model.init({"params": k, "dropout": k}, x, train=False),
                                       jax.random.key(0))
            out = jax.eval_shape(
                lambda v: model.apply(v, x, train=True, rngs={"dropout": jax.random.key(0)},
                                      mutable=[c for c in v if c != "params"])[0], variables)
        except Exception as err:  # noqa: BLE001 (untrusted module: errors are data)
            raise TrainingError(_classify(err), f"tracing the model raised {type(err).__name__}: {err}"
                                ) from err
        want = (2, self.task.num_classes)
        if not hasattr(out, "shape") or tuple(out.shape) != want:
            got = getattr(out, "shape", type(out).__name__)
            raise TrainingError("shape", f"model output is {got}, expected {want} for a batch of 2")
        if "params" not in variables:
            raise TrainingError("shape", "model has no trainable parameters")

    def init_fn(self, model: nn.Module) -> Callable[[jax.Array], Carry]:
        """Return key -> initial carry (params, state, opt_state, key, step) for one seed."""
        x = jnp.zeros((1, *self.task.input_shape), jnp.float32)

        def init(key: jax.Array) -> Carry:
            init_key, dropout_key, train_key = jax.random.split(key, 3)
            variables = model.init({"params": init_key, "dropout": dropout_key}, x, train=False)
            params = variables["params"]
            state = {k: v for k, v in variables.items() if k != "params"}
            return params, state, self.tx.init(params), train_key, jnp.zeros((), jnp.int32)

        return init

    def step_fn(self, model: nn.Module) -> Callable[[Carry, jax.Array], tuple[Carry, jax.Array]]:
        """Return one optimizer step for one seed: (carry, schedule) -> (carry, loss)."""
        x_all, y_all, tx, loss = self.x_train, self.y_train, self.tx, self.task.loss

        def step(carry: Carry, schedule: jax.Array) -> tuple[Carry, jax.Array]:
            params, state, opt_state, key, t = carry
            key, dropout_key = jax.random.split(key)
            idx = jax.lax.dynamic_index_in_dim(schedule, t, keepdims=False)
            x, y = x_all[idx], y_all[idx]

            def loss_fn(p):
                logits, new_state = model.apply({"params": p, **state}, x, train=True,
                                                rngs={"dropout": dropout_key}, mutable=list(state))
                return loss(logits, y), new_state

            (value, new_state), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
            updates, opt_state = tx.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), dict(new_state), opt_state, key, t + 1), value

        return step

    def accuracy_fn(self, model: nn.Module) -> Callable[[Any, Any, jax.Array, jax.Array], jax.Array]:
        """Return (params, state, x, y) -> accuracy, evaluated in batches of eval_batch_size."""
        size, metric = self.config.eval_batch_size, self.task.metric

        def accuracy(params, state, x, y):
            n = x.shape[0]
            pad = -n % size
            xb = jnp.pad(x, [(0, pad)] + [(0, 0)] * (x.ndim - 1)).reshape(-1, size, *x.shape[1:])
            logits = jax.lax.map(lambda b: model.apply({"params": params, **state}, b, train=False), xb)
            logits = logits.reshape(-1, logits.shape[-1])[:n]
            return metric(logits, y)

        return accuracy

    # -- running ------------------------------------------------------------------------------------

    def runner(self, model: nn.Module, strategy: Strategy) -> Callable[[Carry, jax.Array, int], Carry]:
        """Return (carry, schedules, num_steps) -> carry, the training loop compiled for the strategy."""
        step = self.step_fn(model)
        if strategy.seeds == "vmap":
            step = jax.vmap(step)
        chunk = self.config.scan_chunk

        if strategy.loop == "python":
            jitted = jax.jit(lambda c, s: step(c, s)[0], donate_argnums=0)

            def run(carry: Carry, schedules: jax.Array, num_steps: int) -> Carry:
                for _ in range(num_steps):
                    carry = jitted(carry, schedules)
                return carry
        else:
            def scan_chunk(carry: Carry, schedules: jax.Array, length: int) -> Carry:
                return jax.lax.scan(lambda c, _: (step(c, schedules)[0], None), carry, None, length=length)[0]

            jitted = jax.jit(scan_chunk, static_argnums=2, donate_argnums=0)

            def run(carry: Carry, schedules: jax.Array, num_steps: int) -> Carry:
                full, rest = divmod(num_steps, chunk)
                for _ in range(full):
                    carry = jitted(carry, schedules, chunk)
                return jitted(carry, schedules, rest) if rest else carry

        if strategy.seeds == "vmap":
            return run

        def run_serial(carry: Carry, schedules: jax.Array, num_steps: int) -> Carry:
            per_seed = [run(jax.tree.map(lambda a, i=i: a[i], carry), schedules[i], num_steps)
                        for i in range(schedules.shape[0])]
            return jax.tree.map(lambda *a: jnp.stack(a), *per_seed)

        return run_serial

    def evaluate_fn(self, model: nn.Module) -> Callable[[Any, Any], tuple[jax.Array, ...]]:
        """Return jitted (params, state) -> (val accuracy, test accuracy, train loss), vmapped over seeds."""
        accuracy = self.accuracy_fn(model)
        x, y = self.x_train[: self.config.eval_batch_size], self.y_train[: self.config.eval_batch_size]

        def evaluate(params, state):
            loss = self.task.loss(model.apply({"params": params, **state}, x, train=False), y)
            return (accuracy(params, state, self.x_val, self.y_val),
                    accuracy(params, state, self.x_test, self.y_test), loss)

        return jax.jit(jax.vmap(evaluate), compiler_options=RUN_ONCE)

    def pick_runner(self, model: nn.Module, carry0: Carry, schedules: jax.Array,
                    strategy: str) -> tuple[Strategy, Callable[[Carry, jax.Array, int], Carry]]:
        """Return the strategy (forced, cached for this workload, or measured now) and its runner."""
        forced = Strategy.parse(strategy)
        if forced is not None:
            return forced, self.runner(model, forced)
        params, state = (jax.tree.map(lambda a: a[0], part) for part in carry0[:2])
        x = jnp.zeros((self.config.batch_size, *self.task.input_shape), jnp.float32)
        key = workload_key(lambda p, s, x: model.apply({"params": p, **s}, x, train=False),
                           (params, state, x), schedules.shape[0], self.config.batch_size,
                           count_params(params))
        cached = self.strategy_cache.get(key)
        if cached is not None:
            return cached, self.runner(model, cached)
        chosen, run, timings = choose_strategy(lambda s: self.runner(model, s), carry0, schedules,
                                               schedules.shape[0], probe_steps=max(1, self.config.scan_chunk // 2))
        self.strategy_cache.put(key, chosen, timings)
        return chosen, run

    def train(self, model_cls: type[nn.Module], seeds: Sequence[int] | None = None,
              strategy: str | None = None) -> TrainResult:
        """Train model_cls() for each seed; return per-seed validation/test accuracy, size and FLOPs.
        Raises TrainingError (kind shape, nan or crash) for a program that cannot be trained."""
        cfg = self.config
        seeds = list(seeds) if seeds is not None else [cfg.seed + i for i in range(cfg.num_seeds)]
        try:
            model = model_cls()
        except Exception as err:  # noqa: BLE001 (untrusted module: errors are data)
            raise TrainingError("crash", f"{type(err).__name__} constructing the model: {err}") from err
        self.check_output(model)
        n = self.x_train.shape[0]
        schedules = jnp.asarray(np.stack([batch_schedule(s, n, cfg.batch_size, cfg.num_steps)
                                          for s in seeds]))
        try:
            t0 = time.perf_counter()
            init = jax.jit(jax.vmap(self.init_fn(model)), compiler_options=RUN_ONCE)
            carry0 = init(jnp.stack([jax.random.key(s) for s in seeds]))
            params_one, state_one = (jax.tree.map(lambda a: a[0], part) for part in carry0[:2])
            chosen, run = self.pick_runner(model, carry0, schedules, strategy or cfg.strategy)
            t1 = time.perf_counter()
            params, state, _, _, _ = jax.block_until_ready(run(carry0, schedules, cfg.num_steps))
            t2 = time.perf_counter()
            val, test, loss = (np.asarray(a) for a in self.evaluate_fn(model)(params, state))
            flops = forward_flops(model, params_one, state_one, self.task.input_shape)
        except Exception as err:  # noqa: BLE001 (untrusted module: errors are data)
            raise TrainingError(_classify(err), f"training raised {type(err).__name__}: {err}") from err
        finite = np.isfinite(loss) & np.all(
            [np.isfinite(np.asarray(leaf)).reshape(len(seeds), -1).all(axis=1)
             for leaf in jax.tree.leaves(params)], axis=0)
        if not finite.all():
            raise TrainingError("nan", f"loss or parameters not finite for {int((~finite).sum())} of "
                                       f"{len(seeds)} seeds")
        return TrainResult(
            val_accuracy=val.tolist(), test_accuracy=test.tolist(), final_loss=loss.tolist(),
            params=count_params(params_one), flops=flops, strategy=str(chosen),
            train_seconds=t2 - t1, compile_seconds=t1 - t0,
        )
