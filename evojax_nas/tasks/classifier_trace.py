"""The classifier's tracer (a task's `tracer`, run by the trace stage): candidate source -> serialised StableHLO.
Candidate code runs here only inside the sandbox (`evaluate/zygote.py`); the trusted train stage loads what
this returns as data. CLRS has its own (clrs_tasks/slot.py), which exports the triplet function alone.

Three programs are exported for each seed count S the train stage asks for (seeds are batched inside the
export: `jax.vmap` of an exported call is not implemented, and a symbolic seed axis is not possible for
convolutions, whose vmapped kernels become a feature group count), each with a symbolic batch `b` where
the module allows it:
- init(param_keys u32[S,2], dropout_keys u32[S,2]) -> (params, state)
- train(params, state, x f32[S,b,...], dropout_keys u32[S,2]) -> (logits f32[S,b,C], new_state),
  serialised with its VJP so the train stage can differentiate it;
- eval(params, state, x f32[b,...]) -> logits f32[S,b,C].
They are named `init/S`, `train/S`, `eval/S`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import export

from evojax_nas.train import default_config
from evojax_nas.train.exported import KEY_IMPL


@dataclasses.dataclass(frozen=True)
class TraceSpec:
    """What the trace stage needs to know of the task: the class to build, one example's shape, the
    platforms to lower for, and the batch sizes to fix when the module cannot take a symbolic batch."""

    class_name: str
    input_shape: tuple[int, ...]
    platforms: tuple[str, ...]
    batch_size: int
    eval_batch_size: int

    @classmethod
    def of(cls, class_name: str, input_shape: tuple[int, ...], platform: str = "cpu",
           train_config: Mapping[str, Any] | None = None) -> TraceSpec:
        """The spec for a training recipe: the batch sizes of `train_config` where given, else the default
        recipe's (configs/default.py)."""
        recipe = {**default_config().to_dict(), **(train_config or {})}
        return cls(class_name, tuple(input_shape), (platform,), int(recipe["batch_size"]),
                   int(recipe["eval_batch_size"]))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TraceSpec:
        """Inverse of dataclasses.asdict (lists back to tuples)."""
        return cls(class_name=str(data["class_name"]), input_shape=tuple(int(d) for d in data["input_shape"]),
                   platforms=tuple(str(p) for p in data["platforms"]), batch_size=int(data["batch_size"]),
                   eval_batch_size=int(data["eval_batch_size"]))


def _key(data: jax.Array) -> jax.Array:
    return jax.random.wrap_key_data(data, impl=KEY_IMPL)


def _functions(model: nn.Module, input_shape: tuple[int, ...]):
    x1 = jnp.zeros((1, *input_shape), jnp.float32)

    def init(param_keys, dropout_keys):
        def one(pk, dk):
            variables = model.init({"params": _key(pk), "dropout": _key(dk)}, x1, train=False)
            return variables["params"], {k: v for k, v in variables.items() if k != "params"}
        return jax.vmap(one)(param_keys, dropout_keys)

    def train(params, state, x, dropout_keys):
        def one(p, s, x, dk):
            logits, new_state = model.apply({"params": p, **s}, x, train=True, rngs={"dropout": _key(dk)},
                                            mutable=list(s))
            return logits, dict(new_state)
        return jax.vmap(one)(params, state, x, dropout_keys)

    def evaluate(params, state, x):
        return jax.vmap(lambda p, s: model.apply({"params": p, **s}, x, train=False))(params, state)

    return init, train, evaluate


def _export_seeds(model: nn.Module, spec: TraceSpec, num_seeds: int) -> dict[str, bytes]:
    init, train, evaluate = _functions(model, spec.input_shape)
    keys = jax.ShapeDtypeStruct((num_seeds, 2), jnp.uint32)
    seeded = jax.eval_shape(init, keys, keys)
    (b,) = export.symbolic_shape("b")

    def export_train(batch: Any) -> export.Exported:
        x = jax.ShapeDtypeStruct((num_seeds, batch, *spec.input_shape), jnp.float32)
        return export.export(jax.jit(train), platforms=spec.platforms)(*seeded, x, keys)

    try:
        exported_train, eval_b = export_train(b), b
    except Exception:  # noqa: BLE001 (the module needs a concrete batch: fix it to the trainer's sizes)
        exported_train, eval_b = export_train(spec.batch_size), spec.eval_batch_size
    exported_eval = export.export(jax.jit(evaluate), platforms=spec.platforms)(
        *seeded, jax.ShapeDtypeStruct((eval_b, *spec.input_shape), jnp.float32))
    exported_init = export.export(jax.jit(init), platforms=spec.platforms)(keys, keys)
    return {f"init/{num_seeds}": bytes(exported_init.serialize()),
            f"train/{num_seeds}": bytes(exported_train.serialize(vjp_order=1)),
            f"eval/{num_seeds}": bytes(exported_eval.serialize())}


def export_model(model: nn.Module, spec: TraceSpec, seed_counts: tuple[int, ...] = (1,)) -> dict[str, bytes]:
    """Export the module's init, train and eval programs for each seed count; {"train/S": bytes, ...}."""
    blobs: dict[str, bytes] = {}
    for num_seeds in sorted(set(seed_counts)):
        blobs.update(_export_seeds(model, spec, num_seeds))
    return blobs


def export_class(model_cls: type[nn.Module], spec: TraceSpec, seed_counts: tuple[int, ...] = (1,)
                 ) -> dict[str, bytes]:
    """Construct the candidate class and export it (construction errors are the candidate's)."""
    return export_model(model_cls(), spec, seed_counts)


def trace_source(source: str, spec: TraceSpec, seed_counts: tuple[int, ...] = (1,)) -> dict[str, bytes]:
    """Load untrusted source (restricted builtins: a lint, not the boundary) and export its class.
    Raises LoadError or the candidate's own exception; the sandbox turns either into a failure."""
    from evojax_nas.programs.loader import load_class

    return export_class(load_class(source, spec.class_name, base=nn.Module), spec, seed_counts)


def trace_job(source: str, spec: dict[str, Any], seed_counts: tuple[int, ...]) -> dict[str, bytes]:
    """The MNIST-1D task's tracer (tasks/mnist1d.py): a trace request's spec as a TraceSpec."""
    return trace_source(source, TraceSpec.from_dict(spec), seed_counts)
