"""Train one exported program for S seeds at once: device-resident data, optax, the loop strategy its ops call for.

Trusted code only: the network is an ExportedNetwork (StableHLO from the trace stage), never a module."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from evojax_nas.tasks.base import ClassificationTask
from evojax_nas.train.computation import ForwardCost, forward_cost
from evojax_nas.train.cost import network_size
from evojax_nas.train.exported import ExportedNetwork
from evojax_nas.train.strategy import Strategy, rule

Carry = tuple[Any, Any, Any, jax.Array, jax.Array]  # params, state, opt_state, rng keys, step; a leading seed axis
# Init and evaluation run once per program: compiling them fast beats running them fast (3x on CPU).
RUN_ONCE = {"xla_backend_optimization_level": 0}


class TrainingError(Exception):
    """A program that cannot be trained: kind is one of shape, nan, oom, crash."""

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


def error_kind(err: BaseException) -> str:
    """shape when an error message speaks of shapes, else crash."""
    text = f"{type(err).__name__} {err}".lower()
    return "shape" if any(w in text for w in ("shape", "dimension", "rank", "incompatible")) else "crash"


@dataclasses.dataclass
class TrainResult:
    """Per-seed accuracies and losses plus size, FLOPs and timing."""

    val_accuracy: list[float]
    test_accuracy: list[float]
    final_loss: list[float]
    params: int  # every real the network carries (train/cost.py)
    flops: float  # of one example's forward pass, and its layers' largest width and depth (train/computation.py)
    width: int
    depth: int
    strategy: str
    train_seconds: float
    compile_seconds: float

    def metrics(self) -> dict[str, Any]:
        """Return the JSON-ready metrics (means over seeds plus the per-seed lists)."""
        out = dataclasses.asdict(self)
        out["val_accuracy_mean"] = float(np.mean(self.val_accuracy))
        out["test_accuracy_mean"] = float(np.mean(self.test_accuracy))
        return out


def _per_seed_keys(keys: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Split each seed's key: (next keys, this step's dropout keys)."""
    pairs = jax.vmap(jax.random.split)(keys)
    return pairs[:, 0], pairs[:, 1]


class Trainer:
    """Trains exported candidates on one task; the data stays on the device between programs.
    Every program it compiles is first checked against memory_budget_bytes (XLA's memory analysis)."""

    def __init__(self, task: ClassificationTask, config: ml_collections.ConfigDict | None = None,
                 memory_budget_bytes: int | None = None):
        self.task = task
        self.config = config or default_config()
        self.tx = make_optimizer(self.config)
        self.memory_budget_bytes = memory_budget_bytes
        self.x_train, self.y_train = jnp.asarray(task.x_train), jnp.asarray(task.y_train)
        self.x_val, self.y_val = jnp.asarray(task.x_val), jnp.asarray(task.y_val)
        self.x_test, self.y_test = jnp.asarray(task.x_test), jnp.asarray(task.y_test)

    # -- pieces -------------------------------------------------------------------------------------

    def compile(self, fn: Callable[..., Any], *args: Any, donate: tuple[int, ...] = (),
                options: dict[str, Any] | None = None, static: tuple[int, ...] = ()) -> Any:
        """Lower and compile fn for args; raise TrainingError('oom') if XLA's memory analysis of the
        compiled program exceeds the budget, before it ever runs."""
        compiled = jax.jit(fn, donate_argnums=donate, static_argnums=static, compiler_options=options
                           ).lower(*args).compile()
        if self.memory_budget_bytes is not None:
            m = compiled.memory_analysis()
            need = (m.argument_size_in_bytes + m.output_size_in_bytes - m.alias_size_in_bytes
                    + m.temp_size_in_bytes) if m is not None else 0
            if need > self.memory_budget_bytes:
                raise TrainingError("oom", f"the compiled program needs {need / 2**30:.2f} GiB, over the "
                                           f"budget of {self.memory_budget_bytes / 2**30:.2f} GiB")
        return compiled

    def check_output(self, network: ExportedNetwork) -> None:
        """Raise TrainingError unless both programs map a batch to (seeds, batch, num_classes) logits and
        the network has parameters."""
        s = min(network.programs)
        keys = jax.ShapeDtypeStruct((s, 2), jnp.uint32)
        b_train, b_eval = network.fixed_batch("train") or 2, network.fixed_batch("eval") or 2
        try:
            params, state = jax.eval_shape(network.init, keys, keys)
            train_out = jax.eval_shape(network.apply_train, params, state, jax.ShapeDtypeStruct(
                (s, b_train, *self.task.input_shape), jnp.float32), keys)[0]
            eval_out = jax.eval_shape(network.apply_eval, params, state, jax.ShapeDtypeStruct(
                (b_eval, *self.task.input_shape), jnp.float32))
        except Exception as err:  # noqa: BLE001 (untrusted program: errors are data)
            raise TrainingError(error_kind(err), f"the exported program does not fit the task: "
                                                f"{type(err).__name__}: {err}") from err
        for name, out, b in (("train", train_out, b_train), ("eval", eval_out, b_eval)):
            want = (s, b, self.task.num_classes)
            if not hasattr(out, "shape") or tuple(out.shape) != want:
                got = tuple(out.shape[1:]) if hasattr(out, "shape") else type(out).__name__
                raise TrainingError("shape", f"model output is {got} in {name} mode, expected {want[1:]} "
                                             f"for a batch of {b}")
        if not jax.tree.leaves(params):
            raise TrainingError("shape", "model has no trainable parameters")

    def init_fn(self, network: ExportedNetwork) -> Callable[[jax.Array], Carry]:
        """Return keys [S] -> initial carry (params, state, opt_state, keys, step), stacked over seeds."""

        def init(keys: jax.Array) -> Carry:
            split = jax.vmap(lambda k: jax.random.split(k, 3))(keys)
            params, state = network.init(jax.random.key_data(split[:, 0]), jax.random.key_data(split[:, 1]))
            steps = jnp.zeros(keys.shape, jnp.int32)
            return params, state, jax.vmap(self.tx.init)(params), split[:, 2], steps

        return init

    def step_fn(self, network: ExportedNetwork) -> Callable[[Carry, jax.Array], tuple[Carry, jax.Array]]:
        """Return one optimizer step for every seed: (carry, schedules [S, steps, B]) -> (carry, losses [S])."""
        x_all, y_all, tx, loss = self.x_train, self.y_train, self.tx, self.task.loss

        def step(carry: Carry, schedules: jax.Array) -> tuple[Carry, jax.Array]:
            params, state, opt_state, keys, t = carry
            keys, dropout_keys = _per_seed_keys(keys)
            idx = jax.vmap(lambda s, i: jax.lax.dynamic_index_in_dim(s, i, keepdims=False))(schedules, t)
            x, y = x_all[idx], y_all[idx]

            def loss_fn(p):
                logits, new_state = network.apply_train(p, state, x, jax.random.key_data(dropout_keys))
                per_seed = jax.vmap(loss)(logits, y)
                return per_seed.sum(), (per_seed, new_state)  # seeds are independent: the sum's gradient is each one's

            (_, (values, new_state)), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
            updates, opt_state = jax.vmap(tx.update)(grads, opt_state, params)
            return (optax.apply_updates(params, updates), new_state, opt_state, keys, t + 1), values

        return step

    def accuracy_fn(self, network: ExportedNetwork) -> Callable[[Any, Any, jax.Array, jax.Array], jax.Array]:
        """Return (params, state, x, y) -> accuracy per seed, evaluated in batches of eval_batch_size."""
        size, metric = self.config.eval_batch_size, self.task.metric

        def accuracy(params, state, x, y):
            n = x.shape[0]
            pad = -n % size
            xb = jnp.pad(x, [(0, pad)] + [(0, 0)] * (x.ndim - 1)).reshape(-1, size, *x.shape[1:])
            logits = jax.lax.map(lambda b: network.apply_eval(params, state, b), xb)  # [batches, S, size, C]
            logits = jnp.moveaxis(logits, 1, 0).reshape(logits.shape[1], -1, logits.shape[-1])[:, :n]
            return jax.vmap(metric, in_axes=(0, None))(logits, y)

        return accuracy

    # -- running ------------------------------------------------------------------------------------

    def runner(self, network: ExportedNetwork, strategy: Strategy, carry: Carry, schedules: jax.Array
               ) -> Callable[[Carry, jax.Array, int], Carry]:
        """Return (carry, schedules, num_steps) -> carry, the training loop compiled for the strategy and
        for the shapes of (carry, schedules): all seeds in each call (vmap) or one seed after another."""
        step, chunk = self.step_fn(network), self.config.scan_chunk
        if strategy.seeds == "serial":
            carry, schedules = jax.tree.map(lambda a: a[:1], carry), schedules[:1]

        if strategy.loop == "python":
            jitted = self.compile(lambda c, s: step(c, s)[0], carry, schedules, donate=(0,))

            def run(carry: Carry, schedules: jax.Array, num_steps: int) -> Carry:
                for _ in range(num_steps):
                    carry = jitted(carry, schedules)
                return carry
        else:
            def scan_chunk(carry: Carry, schedules: jax.Array, length: int) -> Carry:
                return jax.lax.scan(lambda c, _: (step(c, schedules)[0], None), carry, None, length=length)[0]

            compiled: dict[int, Any] = {}

            def chunk_of(length: int) -> Any:
                if length not in compiled:
                    compiled[length] = self.compile(scan_chunk, carry, schedules, length, donate=(0,), static=(2,))
                return compiled[length]

            chunk_of(chunk)

            def run(carry: Carry, schedules: jax.Array, num_steps: int) -> Carry:
                full, rest = divmod(num_steps, chunk)
                for _ in range(full):
                    carry = chunk_of(chunk)(carry, schedules)
                return chunk_of(rest)(carry, schedules) if rest else carry

        if strategy.seeds == "vmap":
            return run

        def run_serial(carry: Carry, schedules: jax.Array, num_steps: int) -> Carry:
            per_seed = [run(jax.tree.map(lambda a, i=i: a[i:i + 1], carry), schedules[i:i + 1], num_steps)
                        for i in range(schedules.shape[0])]
            return jax.tree.map(lambda *a: jnp.concatenate(a), *per_seed)

        return run_serial

    def evaluate_fn(self, network: ExportedNetwork, params: Any, state: Any) -> Callable[[Any, Any], tuple]:
        """Return compiled (params, state) -> (val accuracy, test accuracy, train loss), each per seed."""
        accuracy = self.accuracy_fn(network)
        x, y = self.x_train[: self.config.eval_batch_size], self.y_train[: self.config.eval_batch_size]

        def evaluate(params, state):
            logits = network.apply_eval(params, state, x)
            return (accuracy(params, state, self.x_val, self.y_val),
                    accuracy(params, state, self.x_test, self.y_test),
                    jax.vmap(self.task.loss, in_axes=(0, None))(logits, y))

        return self.compile(evaluate, params, state, options=RUN_ONCE)

    def measure(self, network: ExportedNetwork) -> tuple[int, ForwardCost]:
        """The network's size (every real it carries) and one example's forward pass (FLOPs, width, depth),
        read from its one-seed programs before anything trains; raises ExportError for a forward pass the
        stage cannot measure (a loop of unknown length)."""
        keys = jax.ShapeDtypeStruct((1, 2), jnp.uint32)
        variables = jax.eval_shape(network.init, keys, keys)
        n = network.fixed_batch("eval") or 1
        x = jax.ShapeDtypeStruct((n, *self.task.input_shape), jnp.float32)
        cost = forward_cost(network.apply_eval, (*variables, x), [len(jax.tree.leaves(variables))])
        size = network_size(jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape[1:], a.dtype), variables),
                            network.constants)
        return size, dataclasses.replace(cost, flops=cost.flops / n)

    def train(self, network: ExportedNetwork, seeds: Sequence[int] | None = None,
              strategy: str | None = None) -> TrainResult:
        """Train the exported network for each seed; return per-seed validation/test accuracy, size and
        FLOPs. Raises TrainingError (kind shape, nan, oom or crash) for a program that cannot be trained."""
        cfg = self.config
        seeds = list(seeds) if seeds is not None else [cfg.seed + i for i in range(cfg.num_seeds)]
        self.check_output(network)
        size, forward = self.measure(network)
        n = self.x_train.shape[0]
        schedules = jnp.asarray(np.stack([batch_schedule(s, n, cfg.batch_size, cfg.num_steps)
                                          for s in seeds]))
        try:
            t0 = time.perf_counter()
            keys = jnp.stack([jax.random.key(s) for s in seeds])
            carry0 = self.compile(self.init_fn(network), keys, options=RUN_ONCE)(keys)
            chosen = Strategy.parse(strategy or cfg.strategy) or rule(network.ops, jax.default_backend())
            run = self.runner(network, chosen, carry0, schedules)
            t1 = time.perf_counter()
            params, state, _, _, _ = jax.block_until_ready(run(carry0, schedules, cfg.num_steps))
            t2 = time.perf_counter()
            val, test, loss = (np.asarray(a) for a in self.evaluate_fn(network, params, state)(params, state))
        except TrainingError:
            raise
        except Exception as err:  # noqa: BLE001 (untrusted program: errors are data)
            raise TrainingError(error_kind(err), f"training raised {type(err).__name__}: {err}") from err
        finite = np.isfinite(loss) & np.all(
            [np.isfinite(np.asarray(leaf)).reshape(len(seeds), -1).all(axis=1)
             for leaf in jax.tree.leaves(params)], axis=0)
        if not finite.all():
            raise TrainingError("nan", f"loss or parameters not finite for {int((~finite).sum())} of "
                                       f"{len(seeds)} seeds")
        return TrainResult(
            val_accuracy=val.tolist(), test_accuracy=test.tolist(), final_loss=loss.tolist(), params=size,
            flops=forward.flops, width=forward.width, depth=forward.depth, strategy=str(chosen),
            train_seconds=t2 - t1, compile_seconds=t1 - t0,
        )
