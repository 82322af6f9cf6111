"""The triplet slot as exported programs: what the trace sandbox makes of a candidate `TripletMessages`, and
how the trusted model calls it.

The sandbox exports, per seed count S, `slot_init/S` (keys u32[S,2] -> params) and `slot/S` (params, z
f32[S,b,n,2H], edge_fts f32[S,b,n,n,H], graph_fts f32[S,b,H]) -> f32[S,b,n,n,H], with b and n symbolic and
the VJP serialised. The trusted model is written for one seed and vmapped over seeds; `jax.vmap` of an
exported call is not implemented, so `call` is a `custom_vmap` whose rule calls the S-seed program, under a
`custom_vjp` whose backward pass is another `custom_vmap` over the programs' VJPs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import export

Programs = Mapping[int, export.Exported]  # seed count -> slot/S (or slot_init/S)
CLASS_NAME = "TripletMessages"
MEASURE_NODES = 4  # the graph size at which a slot's layers are read (their widths do not depend on it)


def export_slot(module: nn.Module, hidden: int, seed_counts: tuple[int, ...], platforms: tuple[str, ...] = ("cpu",)
                ) -> dict[str, bytes]:
    """Export the candidate's init and call for each seed count (runs candidate code: sandbox only)."""
    z1, e1, g1 = jnp.zeros((1, 2, 2 * hidden)), jnp.zeros((1, 2, 2, hidden)), jnp.zeros((1, hidden))

    def init(keys):
        return jax.vmap(lambda k: module.init(jax.random.wrap_key_data(k), z1, e1, g1)["params"])(keys)

    def apply(params, z, edge_fts, graph_fts):
        return jax.vmap(lambda p, *x: module.apply({"params": p}, *x))(params, z, edge_fts, graph_fts)

    b, n = export.symbolic_shape("b, n")
    blobs = {}
    for s in sorted(set(seed_counts)):
        keys = jax.ShapeDtypeStruct((s, 2), jnp.uint32)
        params = jax.eval_shape(init, keys)
        shapes = [jax.ShapeDtypeStruct(shape, jnp.float32)
                  for shape in ((s, b, n, 2 * hidden), (s, b, n, n, hidden), (s, b, hidden))]
        blobs[f"slot_init/{s}"] = bytes(export.export(jax.jit(init), platforms=platforms)(keys).serialize())
        blobs[f"slot/{s}"] = bytes(export.export(jax.jit(apply), platforms=platforms)(params, *shapes)
                                   .serialize(vjp_order=1))
    return blobs


def trace_job(source: str, spec: dict[str, Any], seed_counts: tuple[int, ...]) -> dict[str, bytes]:
    """The CLRS task's tracer (runs in the trace sandbox): load the candidate's class, build it without
    arguments, export it for spec's hidden size and platforms."""
    from evojax_nas.programs.loader import load_class

    module = load_class(source, str(spec["class_name"]), base=nn.Module)()
    return export_slot(module, int(spec["hidden"]), seed_counts, tuple(str(p) for p in spec["platforms"]))


def _broadcast(tree: Any, batched: Any, size: int) -> Any:
    return jax.tree.map(lambda x, b: x if b else jnp.broadcast_to(x, (size, *x.shape)), tree, batched)


def _one(tree: Any) -> Any:
    return jax.tree.map(lambda x: x[None], tree)


def call(programs: Programs, params: Any, z: jax.Array, edge_fts: jax.Array, graph_fts: jax.Array) -> jax.Array:
    """The slot for one seed, differentiable, and batched over seeds by jax.vmap into the S-seed program."""

    @jax.custom_batching.custom_vmap
    def forward(args):
        return programs[1].call(*_one(args))[0]

    @forward.def_vmap
    def forward_seeds(size, batched, args):
        return programs[size].call(*_broadcast(args, batched[0], size)), True

    @jax.custom_batching.custom_vmap
    def backward(args, cotangent):
        return jax.tree.map(lambda x: x[0], jax.vjp(programs[1].call, *_one(args))[1](cotangent[None]))

    @backward.def_vmap
    def backward_seeds(size, batched, args, cotangent):
        args = _broadcast(args, batched[0], size)
        cotangent = cotangent if batched[1] else jnp.broadcast_to(cotangent, (size, *cotangent.shape))
        grads = jax.vjp(programs[size].call, *args)[1](cotangent)
        return grads, jax.tree.map(lambda _: True, grads)

    @jax.custom_vjp
    def slot(*args):
        return forward(args)

    slot.defvjp(lambda *args: (forward(args), args), lambda args, ct: tuple(backward(args, ct)))
    return slot(params, z, edge_fts, graph_fts)


def init(programs: Programs, key_data: jax.Array) -> Any:
    """The slot's parameters for one seed from u32[2] key data, batched over seeds by jax.vmap into the S-seed
    `slot_init/S` (as `call` is)."""

    @jax.custom_batching.custom_vmap
    def one(k):
        return jax.tree.map(lambda x: x[0], programs[1].call(k[None]))

    @one.def_vmap
    def seeds(size, batched, k):
        k = k if batched[0] else jnp.broadcast_to(k, (size, *k.shape))
        out = programs[size].call(k)
        return out, jax.tree.map(lambda _: True, out)

    return one(key_data)


@dataclasses.dataclass(frozen=True, eq=False)
class ExportedSlot:
    """A candidate's slot programs, checked: `init[S]` (slot_init/S) and `call[S]` (slot/S); `id` hashes the
    computation. The output of every program is checked to be (S, B, N, N, H) before anything trains."""

    init: dict[int, export.Exported]
    call: dict[int, export.Exported]
    id: str
    hidden: int
    constants: int  # numbers carried by the constants of the one-seed slot (slot/1)

    @classmethod
    def from_bytes(cls, blobs: dict[str, bytes], hidden: int, platform: str | None = None) -> ExportedSlot:
        """Deserialise and check untrusted bytes; raises ExportError (evojax_nas.train.exported)."""
        from evojax_nas.train.exported import ExportError, load_programs

        checked = load_programs(blobs, ("slot_init", "slot"), ("slot",), platform)
        programs = checked.programs
        slot = cls({s: p["slot_init"] for s, p in programs.items()}, {s: p["slot"] for s, p in programs.items()},
                   checked.id, hidden, checked.constants["slot/1"])
        for s in programs:
            z, e, g = (a.shape for a in slot.call[s].in_avals[-3:])
            outs = [a.shape for a in slot.call[s].out_avals]
            b, n = z[1:3] if len(z) == 4 else (None, None)
            want = ((s, b, n, 2 * hidden), (s, b, n, n, hidden), (s, b, hidden), [(s, b, n, n, hidden)])
            if (z, e, g, outs) != want or isinstance(b, int) or isinstance(n, int):
                raise ExportError("shape", f"slot/{s} must map (S, b, n, 2H), (S, b, n, n, H), (S, b, H) to "
                                           f"(S, b, n, n, H) with b and n symbolic; it maps {z}, {e}, {g} to {outs}")
            b, n = 3, 5
            try:
                params = jax.eval_shape(slot.init[s].call, jax.ShapeDtypeStruct((s, 2), jnp.uint32))
                out = jax.eval_shape(slot.call[s].call, params, *(jax.ShapeDtypeStruct(shape, jnp.float32) for shape in
                                     ((s, b, n, 2 * hidden), (s, b, n, n, hidden), (s, b, hidden))))
            except Exception as err:  # noqa: BLE001 (untrusted programs: any mismatch is theirs)
                raise ExportError("shape", f"the exported slot does not take the triplet inputs: {err}"[:600]) from err
            if not isinstance(out, jax.ShapeDtypeStruct) or out.shape != (s, b, n, n, hidden) \
                    or out.dtype != jnp.float32:
                got = jax.tree.map(lambda x: (x.shape, str(x.dtype)), out)
                raise ExportError("shape", f"TripletMessages must return float32 (B, N, N, H) = {(b, n, n, hidden)} "
                                           f"for z (B, N, 2H), got {got}")
            if not jax.tree.leaves(params):
                raise ExportError("interface", "TripletMessages has no parameters")
        return slot


    def forward(self) -> Any:
        """The width and depth of the slot's layers (train/computation.py: z, edge and graph features are the
        input), read from its one-seed program; raises ExportError for a slot the stage cannot measure."""
        from evojax_nas.train.computation import forward_cost

        n, h = MEASURE_NODES, self.hidden
        params = jax.eval_shape(self.init[1].call, jax.ShapeDtypeStruct((1, 2), jnp.uint32))
        inputs = [jax.ShapeDtypeStruct(shape, jnp.float32) for shape in ((1, 1, n, 2 * h), (1, 1, n, n, h), (1, 1, h))]
        leaves = len(jax.tree.leaves(params))
        return forward_cost(self.call[1].call, (params, *inputs), range(leaves, leaves + 3))


class ExportedTriplet(nn.Module):
    """The trusted model's triplet slot filled by an exported candidate: its parameters come from
    `slot_init`, its messages from `slot`, both batched over seeds into the S-seed programs."""

    slot: ExportedSlot

    @nn.compact
    def __call__(self, z, edge_fts, graph_fts):
        params = self.param("slot", lambda key: init(self.slot.init, jax.random.key_data(key)))
        return call(self.slot.call, params, z, edge_fts, graph_fts)


class SlotKey(nn.Module):
    """Stands in for ExportedTriplet while the trusted model is initialised: in the same place, its one
    parameter `slot` is the key ExportedTriplet's initialiser gets there (as u32 key data), and its messages
    are zeros. The trusted parameters do not depend on the slot, so they are made once per worker and seeds,
    and each candidate adds only `init(slot.init, key)` (clrs_tasks/train.py: CLRSTrainer.init)."""

    @nn.compact
    def __call__(self, z, edge_fts, graph_fts):
        self.param("slot", lambda key: jax.random.key_data(key))
        return jnp.zeros_like(edge_fts)
