"""Train exported programs for S seeds at once, several candidates in one compiled program (a pack):
device-resident data passed as arguments, optax, the loop strategy the programs' ops call for.

The shape follows Flax's examples/mnist: a `TrainState` (a leading seed axis on every leaf) and module-level
functions of the networks, the state, the data and the batch schedule; `Trainer` compiles them for a pack
and drives the loop. Candidates in a pack share nothing but the read-only data and schedule: each exported
program is called on its own state only, so a NaN stays in its own arrays, and a pack that fails to compile
or run is retrained one candidate at a time, so the failing one fails alone.

Every device the process sees trains (`train.devices`): a `jax.sharding.Mesh` of axes ("population", "seeds")
lays a pack out, the seeds of each candidate split over a row of the mesh (`shard_map`: each device runs the
one-seed or S-seed program the trace stage exported, as on one device; `Trainer.compile` says why not XLA's
partitioner), the candidates split into one group per row, each group's programs compiled for its row and
driven by a thread of its own, so the rows train at once.

Trusted code only: the networks are ExportedNetworks (StableHLO from the trace stage), never modules."""

from __future__ import annotations

import dataclasses
import functools
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from flax import struct
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from evojax_nas.programs.program import error_kind
from evojax_nas.train.computation import ForwardCost, forward_cost
from evojax_nas.train.cost import network_size
from evojax_nas.train.dataset import ClassificationTask
from evojax_nas.train.exported import ExportedNetwork
from evojax_nas.train.states import StateStore
from evojax_nas.train.strategy import Strategy, rule

# Init and evaluation run once per program: compiling them fast beats running them fast (3x on CPU).
RUN_ONCE = {"xla_backend_optimization_level": 0}
# Compilations that asked jax's persistent cache, and those it answered (jax.monitoring events), this process.
CACHE_EVENTS = {"/jax/compilation_cache/compile_requests_use_cache": "requests",
                "/jax/compilation_cache/cache_hits": "hits"}
_cache_counts = {"requests": 0, "hits": 0}


def _count_cache_event(event: str, **_: Any) -> None:
    if event in CACHE_EVENTS:
        _cache_counts[CACHE_EVENTS[event]] += 1


def cache_counts() -> dict[str, int]:
    """How many compilations asked the persistent compilation cache so far, and how many it answered."""
    if not getattr(_count_cache_event, "registered", False):
        jax.monitoring.register_event_listener(_count_cache_event)
        _count_cache_event.registered = True  # type: ignore[attr-defined]
    return dict(_cache_counts)


class TrainingError(Exception):
    """A program that cannot be trained: kind is one of shape, nan, oom, crash."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


def over_compute(forward_flops: float, num_steps: int, batch_size: int, cap: float) -> str | None:
    """Why a candidate is not trained when training it on one seed (about 3 forward passes' FLOPs a trained
    example: the forward and the backward pass) would exceed `cap` FLOPs (0: no cap); None to train it. A child
    1,000x a seed's cost times out anyway, after holding a worker for the whole timeout."""
    need = 3.0 * forward_flops * batch_size * num_steps
    if not cap or need <= cap:
        return None
    return (f"training would take about {need:.2g} FLOPs a seed ({forward_flops:.3g} a forward pass, {num_steps} "
            f"steps of {batch_size}), over train.max_train_flops = {cap:.2g}: not trained")


class OverBudget(TrainingError):
    """A compiled program needs more memory than the budget (XLA's memory analysis): `need` bytes."""

    def __init__(self, need: int, budget: int):
        super().__init__("oom", f"the compiled program needs {need / 2**30:.2f} GiB, over the budget of "
                                f"{budget / 2**30:.2f} GiB")
        self.need = need


def default_config() -> ml_collections.ConfigDict:
    """The training recipe of configs/default.py (the MNIST-1D paper's: Adam, lr 1e-2, batch 100, 8000 steps)."""
    from evojax_nas.config import defaults

    return defaults().train


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


UNBOUNDED = 1 << 30


def pack_size(setting: Any, backend: str) -> int:
    """The most candidates per compiled program for the config's `pack`; 0 is the rule: one on CPU, where a
    pack measured no faster than its members one after another (benchmarks/population_throughput.py), else
    as many as memory allows."""
    if isinstance(setting, bool) or not isinstance(setting, int) or setting < 0:
        raise ValueError(f"train.pack must be an integer >= 0 (0: the backend's rule), not {setting!r}")
    return setting or (1 if backend == "cpu" else UNBOUNDED)


@dataclasses.dataclass
class TrainResult:
    """Per-seed accuracies and losses plus size, FLOPs and timing (a pack's seconds shared among its members)."""

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
    pack: int = 1  # candidates in the compiled program that trained it
    cache_hits: int = 0  # of the pack's compilations, those jax's persistent cache answered
    cache_requests: int = 0
    steps: int = 0  # the step it was scored at (successive halving scores its rungs short of the budget)

    def metrics(self) -> dict[str, Any]:
        """Return the JSON-ready metrics (means over seeds plus the per-seed lists)."""
        out = dataclasses.asdict(self)
        out["val_accuracy_mean"] = float(np.mean(self.val_accuracy))
        out["test_accuracy_mean"] = float(np.mean(self.test_accuracy))
        return out


# -- the state and the functions of one network ---------------------------------------------------------------

@struct.dataclass
class TrainState:
    """One candidate's training state; every leaf has a leading seed axis."""

    params: Any
    model_state: Any  # the network's other variables (batch statistics)
    opt_state: Any
    keys: jax.Array  # per-seed dropout keys, as key data (u32[S, 2]: plain arrays, for the state store)
    step: jax.Array  # per-seed step count: the row of the batch schedule to take next


@struct.dataclass
class Data:
    """The task's arrays on the device, passed to every compiled function as arguments (as constants they
    made XLA fold and embed them into every program)."""

    x_train: jax.Array
    y_train: jax.Array
    x_val: jax.Array
    y_val: jax.Array
    x_test: jax.Array
    y_test: jax.Array

    @classmethod
    def of(cls, task: ClassificationTask) -> Data:
        return cls(*(jnp.asarray(getattr(task, f)) for f in ("x_train", "y_train", "x_val", "y_val", "x_test",
                                                              "y_test")))


@dataclasses.dataclass(frozen=True)
class Recipe:
    """What the training of every candidate shares: the optimizer, the task's loss and metric, eval batching."""

    tx: optax.GradientTransformation
    loss: Callable[[jax.Array, jax.Array], jax.Array]
    metric: Callable[[jax.Array, jax.Array], jax.Array]
    eval_batch_size: int


def init_state(network: ExportedNetwork, recipe: Recipe, keys: jax.Array) -> TrainState:
    """keys [S] -> the initial state for every seed."""
    split = jax.vmap(lambda k: jax.random.split(k, 3))(keys)
    params, model_state = network.init(jax.random.key_data(split[:, 0]), jax.random.key_data(split[:, 1]))
    return TrainState(params, model_state, jax.vmap(recipe.tx.init)(params), jax.random.key_data(split[:, 2]),
                      jnp.zeros(keys.shape, jnp.int32))


def train_step(network: ExportedNetwork, recipe: Recipe, state: TrainState, data: Data, schedules: jax.Array
               ) -> tuple[TrainState, jax.Array]:
    """One optimizer step for every seed on its schedule's row (schedules [S, steps, B]) -> (state, losses [S])."""
    pairs = jax.vmap(jax.random.split)(jax.random.wrap_key_data(state.keys))
    keys, dropout_keys = jax.random.key_data(pairs[:, 0]), pairs[:, 1]
    idx = jax.vmap(lambda s, i: jax.lax.dynamic_index_in_dim(s, i, keepdims=False))(schedules, state.step)
    x, y = data.x_train[idx], data.y_train[idx]

    def loss_fn(params):
        logits, model_state = network.apply_train(params, state.model_state, x, jax.random.key_data(dropout_keys))
        per_seed = jax.vmap(recipe.loss)(logits, y)
        return per_seed.sum(), (per_seed, model_state)  # seeds are independent: the sum's gradient is each one's

    (_, (losses, model_state)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    updates, opt_state = jax.vmap(recipe.tx.update)(grads, state.opt_state, state.params)
    return TrainState(optax.apply_updates(state.params, updates), model_state, opt_state, keys,
                      state.step + 1), losses


def accuracy(network: ExportedNetwork, recipe: Recipe, state: TrainState, x: jax.Array, y: jax.Array) -> jax.Array:
    """The metric per seed on (x, y), in batches of eval_batch_size."""
    size, n = recipe.eval_batch_size, x.shape[0]
    xb = jnp.pad(x, [(0, -n % size)] + [(0, 0)] * (x.ndim - 1)).reshape(-1, size, *x.shape[1:])
    logits = jax.lax.map(lambda b: network.apply_eval(state.params, state.model_state, b), xb)  # [batches, S, size, C]
    logits = jnp.moveaxis(logits, 1, 0).reshape(logits.shape[1], -1, logits.shape[-1])[:, :n]
    return jax.vmap(recipe.metric, in_axes=(0, None))(logits, y)


def evaluate(network: ExportedNetwork, recipe: Recipe, state: TrainState, data: Data
             ) -> tuple[jax.Array, jax.Array, jax.Array]:
    """(validation metric, test metric, loss on the first eval batch of the training set), each per seed."""
    n = recipe.eval_batch_size
    logits = network.apply_eval(state.params, state.model_state, data.x_train[:n])
    return (accuracy(network, recipe, state, data.x_val, data.y_val),
            accuracy(network, recipe, state, data.x_test, data.y_test),
            jax.vmap(recipe.loss, in_axes=(0, None))(logits, data.y_train[:n]))


# -- a pack: the same functions over a tuple of networks, side by side in one program ---------------------------
# (jax.vmap of an exported call is not implemented, jax issue 28327; each call inlines its own module)

def pack_init(networks: Sequence[ExportedNetwork], recipe: Recipe, keys: jax.Array) -> tuple[TrainState, ...]:
    return tuple(init_state(n, recipe, keys) for n in networks)


def pack_step(networks: Sequence[ExportedNetwork], recipe: Recipe, states: tuple[TrainState, ...], data: Data,
              schedules: jax.Array) -> tuple[TrainState, ...]:
    return tuple(train_step(n, recipe, s, data, schedules)[0] for n, s in zip(networks, states, strict=True))


def pack_scan(networks: Sequence[ExportedNetwork], recipe: Recipe, states: tuple[TrainState, ...], data: Data,
              schedules: jax.Array, length: int) -> tuple[TrainState, ...]:
    step = functools.partial(pack_step, networks, recipe)
    return jax.lax.scan(lambda s, _: (step(s, data, schedules), None), states, None, length=length)[0]


def pack_evaluate(networks: Sequence[ExportedNetwork], recipe: Recipe, states: tuple[TrainState, ...], data: Data
                  ) -> tuple[tuple[jax.Array, jax.Array, jax.Array], ...]:
    return tuple(evaluate(n, recipe, s, data) for n, s in zip(networks, states, strict=True))


def memory_need(compiled: Any) -> int:
    """Bytes a compiled program needs by XLA's memory analysis: arguments, outputs (less what they alias) and
    temporaries."""
    m = compiled.memory_analysis()
    if m is None:
        return 0
    return m.argument_size_in_bytes + m.output_size_in_bytes - m.alias_size_in_bytes + m.temp_size_in_bytes


def _seed_slice(tree: Any, i: int) -> Any:
    return jax.tree.map(lambda a: a[i:i + 1], tree)


@dataclasses.dataclass(frozen=True)
class Place:
    """A row of the mesh: the devices one group of a pack trains on, its seeds split over them."""

    mesh: Mesh  # one axis, "seeds"
    data: Data  # the task's arrays, a copy on each device of the row

    @property
    def seeds(self) -> NamedSharding:
        """Every array with a leading seed axis (states, keys, schedules, per-seed scores)."""
        return NamedSharding(self.mesh, P("seeds"))


def layout(devices: Sequence[Any], num_seeds: int) -> Mesh:
    """The mesh ("population", "seeds") of the devices for num_seeds seeds: a seed per device along the seed
    axis where the seeds divide the devices (each device then runs the one-seed program the trace stage
    always exports), else all seeds on each device; the population axis the rest."""
    across = num_seeds if len(devices) % num_seeds == 0 else 1
    return Mesh(np.asarray(devices).reshape(len(devices) // across, across), ("population", "seeds"))


@dataclasses.dataclass
class _Member:
    """A candidate admitted to a pack: its place in the caller's list, size and forward cost."""

    index: int
    network: ExportedNetwork
    size: int
    forward: ForwardCost


class Trainer:
    """Trains exported candidates on one task, in packs; the data stays on the device between programs.
    Every program it compiles is first checked against memory_budget_bytes (XLA's memory analysis)."""

    def __init__(self, task: ClassificationTask, config: ml_collections.ConfigDict | None = None,
                 memory_budget_bytes: int | None = None, states: StateStore | None = None):
        self.task = task
        self.config = config or default_config()
        self.recipe = Recipe(make_optimizer(self.config), task.loss, task.metric, self.config.eval_batch_size)
        self.memory_budget_bytes = memory_budget_bytes
        self.data = Data.of(task)
        self.states = states or StateStore()  # where a rung of successive halving leaves its states
        self.on_phase: Callable[[str], None] = lambda phase: None  # "compile" or "train", told to the evaluator
        count = self.config.get("devices", 0)
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= jax.local_device_count():
            raise ValueError(f"train.devices must be 0 (all) to {jax.local_device_count()}, not {count!r}")
        self.devices = jax.local_devices()[:count or None]
        self._places: dict[tuple[Any, ...], Place] = {}
        self._phase_lock = threading.Lock()

    # -- checks before anything compiles ------------------------------------------------------------------

    def compile(self, fn: Callable[..., Any], *args: Any, donate: tuple[int, ...] = (),
                options: dict[str, Any] | None = None, place: Place | None = None) -> Any:
        """Lower and compile fn for args; raise OverBudget if XLA's memory analysis of the compiled program
        (per device) exceeds the budget, before it ever runs. On a row of the mesh, each device runs fn on its
        own seeds (shard_map: the one-seed or S-seed program the trace stage exported, as on one device; left
        to XLA's partitioner instead, the exported backward pass of a batch-norm network came out wrong)."""
        if place is not None:
            fn = jax.shard_map(fn, mesh=place.mesh, out_specs=P("seeds"), check_vma=False,
                               in_specs=tuple(P() if isinstance(a, Data) else P("seeds") for a in args))
        compiled = jax.jit(fn, donate_argnums=donate, compiler_options=options).lower(*args).compile()
        if self.memory_budget_bytes is not None:
            need = memory_need(compiled)
            if need > self.memory_budget_bytes:
                raise OverBudget(need, self.memory_budget_bytes)
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

    # -- running a pack -------------------------------------------------------------------------------------

    def runner(self, networks: Sequence[ExportedNetwork], strategy: Strategy, states: tuple[TrainState, ...],
               schedules: jax.Array, place: Place | None = None
               ) -> Callable[[tuple[TrainState, ...], jax.Array, int], tuple[TrainState, ...]]:
        """Return (states, schedules, num_steps) -> states, the pack's training loop compiled for the strategy
        and for the shapes of (states, schedules): all seeds in each call (vmap) or one seed after another."""
        chunk, data = self.config.scan_chunk, place.data if place else self.data
        if strategy.seeds == "serial":
            states, schedules = _seed_slice(states, 0), schedules[:1]

        if strategy.loop == "python":
            jitted = self.compile(functools.partial(pack_step, tuple(networks), self.recipe), states, data,
                                  schedules, donate=(0,), place=place)

            def run(states: tuple[TrainState, ...], schedules: jax.Array, num_steps: int) -> tuple[TrainState, ...]:
                for _ in range(num_steps):
                    states = jitted(states, data, schedules)
                return states
        else:
            compiled: dict[int, Any] = {}

            def chunk_of(length: int) -> Any:
                if length not in compiled:
                    scan = functools.partial(pack_scan, tuple(networks), self.recipe, length=length)
                    compiled[length] = self.compile(scan, states, data, schedules, donate=(0,), place=place)
                return compiled[length]

            chunk_of(chunk)

            def run(states: tuple[TrainState, ...], schedules: jax.Array, num_steps: int) -> tuple[TrainState, ...]:
                full, rest = divmod(num_steps, chunk)
                for _ in range(full):
                    states = chunk_of(chunk)(states, data, schedules)
                return chunk_of(rest)(states, data, schedules) if rest else states

        if strategy.seeds == "vmap":
            return run

        def run_serial(states: tuple[TrainState, ...], schedules: jax.Array, num_steps: int
                       ) -> tuple[TrainState, ...]:
            per_seed = [run(_seed_slice(states, i), schedules[i:i + 1], num_steps) for i in range(schedules.shape[0])]
            return jax.tree.map(lambda *a: jnp.concatenate(a), *per_seed)

        return run_serial

    def _phase(self, name: str) -> None:
        with self._phase_lock:  # the rows' threads
            self.on_phase(name)

    def _place(self, row: Sequence[Any]) -> Place:
        """The place of a row of devices (the data copied to it once)."""
        if tuple(row) not in self._places:
            mesh = Mesh(np.asarray(row), ("seeds",))
            self._places[tuple(row)] = Place(mesh, jax.device_put(self.data, NamedSharding(mesh, P())))
        return self._places[tuple(row)]

    def _train_pack(self, members: list[_Member], seeds: list[int], strategy: Strategy, steps: tuple[int, int],
                    place: Place | None = None) -> dict[int, TrainResult | TrainingError]:
        """Train the members from step steps[0] to steps[1] in one compiled program (from the stored states at
        steps[0], trained first where none is found) and keep their states when steps[1] is short of the full
        budget. A program over the memory budget is split into packs that fit (by the memory analysis'
        ratio); a pack that fails otherwise is retrained one by one."""
        cfg, networks = self.config, tuple(m.network for m in members)
        start, end = steps
        data = place.data if place else self.data

        def put(tree: Any) -> Any:  # onto the row, split by seed
            return jax.device_put(tree, place.seeds) if place else tree

        def key(member: _Member, step: int) -> Any:
            return self.states.key(member.network.id, seeds, step)

        out: dict[int, TrainResult | TrainingError] = {}
        if start:
            lacking = [m for m in members if not self.states.has(key(m, start))]
            if lacking:  # trained again from the start: deterministic steps, the same numbers
                for index, result in self._train_packs(lacking, seeds, strategy, len(lacking), (0, start),
                                                       place).items():
                    if isinstance(result, TrainingError):
                        out[index] = result
                members = [m for m in members if m.index not in out]
                networks = tuple(m.network for m in members)
                if not members:
                    return out
        schedules = put(jnp.asarray(np.stack([batch_schedule(s, self.data.x_train.shape[0], cfg.batch_size,
                                                             cfg.num_steps) for s in seeds])))
        before = cache_counts()
        try:
            self._phase("compile")
            t0 = time.perf_counter()
            keys = put(jnp.stack([jax.random.key(s) for s in seeds]))
            states = self.compile(functools.partial(pack_init, networks, self.recipe), keys, options=RUN_ONCE,
                                  place=place)(keys)
            if start:
                stored = [self.states.get(key(m, start), s) for m, s in zip(members, states, strict=True)]
                if any(state is None for state in stored):  # unreadable: forget it, and train again from the start
                    for m, state in zip(members, stored, strict=True):
                        if state is None:
                            self.states.forget(key(m, start))
                    return {**out, **self._train_pack(members, seeds, strategy, steps, place)}
                states = put(tuple(stored))
            run = self.runner(networks, strategy, states, schedules, place)
            self._phase("train")
            t1 = time.perf_counter()
            states = jax.block_until_ready(run(states, schedules, end - start))
            t2 = time.perf_counter()
            if end < cfg.num_steps:
                for m, state in zip(members, states, strict=True):
                    self.states.put(key(m, end), state)
            self._phase("compile")
            evaluate_pack = self.compile(functools.partial(pack_evaluate, networks, self.recipe), states, data,
                                         options=RUN_ONCE, place=place)
            self._phase("train")
            scores = evaluate_pack(states, data)
            scores = [tuple(np.asarray(a) for a in s) for s in scores]
        except OverBudget as err:
            if len(members) == 1:
                return {**out, members[0].index: err}
            k = max(1, min(len(members) - 1, len(members) * self.memory_budget_bytes // err.need))
            return {**out, **self._train_packs(members, seeds, strategy, k, steps, place)}
        except Exception as err:  # noqa: BLE001 (untrusted program: errors are data)
            if len(members) > 1:
                return {**out, **self._train_packs(members, seeds, strategy, 1, steps, place)}
            kind = err.kind if isinstance(err, TrainingError) else error_kind(err)
            return {**out, members[0].index: TrainingError(kind, f"training raised {type(err).__name__}: {err}")}
        cache = {k: v - before[k] for k, v in cache_counts().items()}
        for member, state, (val, test, loss) in zip(members, states, scores, strict=True):
            finite = np.isfinite(loss) & np.all([np.isfinite(np.asarray(leaf)).reshape(len(seeds), -1).all(axis=1)
                                                 for leaf in jax.tree.leaves(state.params)], axis=0)
            if not finite.all():
                out[member.index] = TrainingError("nan", f"loss or parameters not finite for "
                                                         f"{int((~finite).sum())} of {len(seeds)} seeds")
                continue
            out[member.index] = TrainResult(
                val_accuracy=val.tolist(), test_accuracy=test.tolist(), final_loss=loss.tolist(),
                params=member.size, flops=member.forward.flops, width=member.forward.width,
                depth=member.forward.depth, strategy=str(strategy), train_seconds=(t2 - t1) / len(members),
                compile_seconds=(t1 - t0) / len(members), pack=len(members), cache_hits=cache["hits"],
                cache_requests=cache["requests"], steps=end)
        return out

    def _train_packs(self, members: list[_Member], seeds: list[int], strategy: Strategy, k: int,
                     steps: tuple[int, int], place: Place | None = None) -> dict[int, TrainResult | TrainingError]:
        out: dict[int, TrainResult | TrainingError] = {}
        for i in range(0, len(members), k):
            out.update(self._train_pack(members[i:i + k], seeds, strategy, steps, place))
        return out

    def _train_on_mesh(self, members: list[_Member], seeds: list[int], strategy: Strategy, k: int,
                       steps: tuple[int, int]) -> dict[int, TrainResult | TrainingError]:
        """Train the members over the device mesh: a share of them on each row (seeds split over its
        devices), the rows at once, a thread each."""
        mesh = layout(self.devices, len(seeds) if strategy.seeds == "vmap" else 1)
        if mesh.devices.size == 1:
            return self._train_packs(members, seeds, strategy, k, steps)
        rows = [self._place(row) for row in mesh.devices]
        shares = [(members[i::len(rows)], row) for i, row in enumerate(rows) if members[i::len(rows)]]
        out: dict[int, TrainResult | TrainingError] = {}
        with ThreadPoolExecutor(len(shares)) as pool:
            for done in pool.map(lambda share: self._train_packs(share[0], seeds, strategy, k, steps, share[1]),
                                 shares):
                out.update(done)
        return out

    def train_many(self, networks: Sequence[ExportedNetwork], seeds: Sequence[int] | None = None,
                   strategy: str | None = None, steps: Sequence[int] | None = None
                   ) -> list[TrainResult | TrainingError]:
        """Train every network on each seed, in packs of train.pack candidates sharing a loop strategy; one
        TrainResult or TrainingError (kind shape, nan, oom or crash) per network, in order. `steps`
        (start, end): a rung of successive halving, from the state its last rung left (default: 0 to
        train.num_steps)."""
        cfg = self.config
        start, end = (int(steps[0]), int(steps[1])) if steps is not None else (0, cfg.num_steps)
        if not 0 <= start < end <= cfg.num_steps:
            raise ValueError(f"steps must satisfy 0 <= start < end <= {cfg.num_steps}, not {steps!r}")
        seeds = list(seeds) if seeds is not None else [cfg.seed + i for i in range(cfg.num_seeds)]
        forced = Strategy.parse(strategy or cfg.strategy)
        out: dict[int, TrainResult | TrainingError] = {}
        groups: dict[Strategy, list[_Member]] = {}
        for index, network in enumerate(networks):
            try:
                self.check_output(network)
                size, forward = self.measure(network)
                if why := over_compute(forward.flops, cfg.num_steps, cfg.batch_size, cfg.get("max_train_flops", 0.0)):
                    raise TrainingError("timeout", why)
            except TrainingError as err:
                out[index] = err
                continue
            except Exception as err:  # noqa: BLE001 (untrusted program: errors are data)
                kind = getattr(err, "kind", None) or error_kind(err)  # an ExportError names its own
                out[index] = TrainingError(kind, f"{type(err).__name__}: {err}")
                continue
            chosen = forced or rule(network.ops, jax.default_backend())
            groups.setdefault(chosen, []).append(_Member(index, network, size, forward))
        k = pack_size(cfg.get("pack", 0), jax.default_backend())
        for chosen, members in groups.items():
            out.update(self._train_on_mesh(members, seeds, chosen, k, (start, end)))
        return [out[i] for i in range(len(networks))]

    def train(self, network: ExportedNetwork, seeds: Sequence[int] | None = None,
              strategy: str | None = None) -> TrainResult:
        """Train one network (a pack of one); raises its TrainingError."""
        result = self.train_many([network], seeds, strategy)[0]
        if isinstance(result, TrainingError):
            raise result
        return result
