"""The triplet slot as exported programs: what the trace sandbox makes of a candidate `TripletMessages`, and
how the trusted model calls it.

The sandbox exports, per seed count S, `slot_init/S` (keys u32[S,2] -> params) and `slot/S` (params, z
f32[S,b,n,2H], edge_fts f32[S,b,n,n,H], graph_fts f32[S,b,H]) -> f32[S,b,n,n,H], with b and n symbolic and
the VJP serialised. The trusted model is written for one seed and vmapped over seeds; `jax.vmap` of an
exported call is not implemented, so `call` is a `custom_vmap` whose rule calls the S-seed program, under a
`custom_vjp` whose backward pass is another `custom_vmap` over the programs' VJPs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import export

Programs = Mapping[int, export.Exported]  # seed count -> slot/S


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
