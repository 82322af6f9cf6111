"""Encode-process-decode for CLRS in Flax, faithful to dm-clrs 2.0.3 (`nets.py`, `encoders.py`,
`processors.py`, `decoders.py`): the Triplet-GMPNN baseline of Ibarz et al. 2022 with hint mode
`encoded_decoded`, soft hints fed back, one message-passing step per hint.

`Step` is one step (encode inputs and the current hints, process, decode); `forward` runs it over a
trajectory with `lax.scan`, as `Net.__call__` runs `hk.scan`. Pointers enter a step expanded: node
pointers (B, N, N), edge pointers (B, N, N, N), graph pointers (B, N), one-hot when read from the data,
probabilities when fed back. The triplet messages are a slot (`Processor.triplet`): any module with the
call (z (B,N,2H), edge_fts (B,N,N,H), graph_fts (B,H)) -> (B,N,N,H), the evolvable part.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from clrs_tasks.data import Probe

NODE, EDGE, GRAPH = "node", "edge", "graph"
POINTERS = ("pointer", "permutation_pointer")
Arrays = Mapping[str, jax.Array]


def hk_linear_init(key: jax.Array, shape: tuple[int, ...], dtype: Any = jnp.float32) -> jax.Array:
    """haiku.Linear's default: a normal truncated at 2 std, std 1/sqrt(fan_in), not renormalised."""
    return jax.random.truncated_normal(key, -2.0, 2.0, shape, dtype) / math.sqrt(shape[0])


def _scalar_hint_init(hidden: int):
    """dm-clrs' `xavier_on_scalars`: scalar hints' encoders use std 1/sqrt(hidden)."""
    def init(key: jax.Array, shape: tuple[int, ...], dtype: Any = jnp.float32) -> jax.Array:
        return jax.random.truncated_normal(key, -2.0, 2.0, shape, dtype) / math.sqrt(hidden)
    return init


def linear(features: int, name: str, **kwargs: Any) -> nn.Dense:
    return nn.Dense(features, name=name, kernel_init=kwargs.pop("kernel_init", hk_linear_init), **kwargs)


class Processor(nn.Module):
    """Triplet-GMPNN (`processors.MPNN(use_triplets=True, gated=True)`): messages between all node pairs
    through a two-layer MLP, max aggregation, LayerNorm, a gate whose bias starts at -3; the triplet
    messages come back as edge features for the decoders."""

    hidden: int
    triplet: nn.Module

    @nn.compact
    def __call__(self, node_fts, edge_fts, graph_fts, hidden):
        h = self.hidden
        z = jnp.concatenate([node_fts, hidden], axis=-1)
        msg_1 = linear(h, "m_1")(z)
        msg_2 = linear(h, "m_2")(z)
        msg_e = linear(h, "m_e")(edge_fts)
        msg_g = linear(h, "m_g")(graph_fts)
        tri_msgs = jax.nn.relu(self.triplet(z, edge_fts, graph_fts))
        msgs = msg_1[:, None] + msg_2[:, :, None] + msg_e + msg_g[:, None, None]   # (B, N, N, H)
        msgs = linear(h, "msg_mlp_1")(jax.nn.relu(linear(h, "msg_mlp_0")(jax.nn.relu(msgs))))
        msgs = jnp.max(msgs, axis=1)  # MPNN: every pair is an edge
        ret = jax.nn.relu(linear(h, "o1")(z) + linear(h, "o2")(msgs))
        ret = nn.LayerNorm(epsilon=1e-5, use_fast_variance=False, name="ln")(ret)
        gate = linear(h, "gate3", bias_init=nn.initializers.constant(-3.0))(
            jax.nn.relu(linear(h, "gate1")(z) + linear(h, "gate2")(msgs)))
        gate = jax.nn.sigmoid(gate)
        return ret * gate + hidden * (1 - gate), tri_msgs


def _decoder_sizes(probe: Probe, hidden: int) -> tuple[int, ...]:
    """`decoders.construct_decoders`: the output widths of a probe's linear maps."""
    one = probe.dim if probe.type == "categorical" else 1
    if probe.location == NODE:
        return (hidden, hidden, hidden, 1) if probe.type in POINTERS else (one,)
    if probe.location == EDGE:
        return (hidden, hidden, hidden, hidden, 1) if probe.type == "pointer" else (one, one, one)
    return (1, 1, 1) if probe.type == "pointer" else (one, one)


def log_sinkhorn(x: jax.Array, steps: int, temperature: float, noise_key: jax.Array | None = None) -> jax.Array:
    """Sinkhorn in log space with the diagonal forced out (`decoders.log_sinkhorn`, zero_diagonal=True)."""
    if noise_key is not None:  # Gumbel noise while training
        x = x - jnp.log(-jnp.log(jax.random.uniform(noise_key, x.shape) + 1e-12) + 1e-12)
    x = x / temperature - 1e6 * jnp.eye(x.shape[-1])
    for _ in range(steps):
        x = jax.nn.log_softmax(jax.nn.log_softmax(x, axis=-1), axis=-2)
    return x


class Step(nn.Module):
    """One message-passing step: encode, process, decode (`Net._one_step_pred`)."""

    probes: tuple[Probe, ...]
    hidden: int
    triplet: nn.Module

    def _encode(self, probe: Probe, data, adj, node, edge, graph):
        h, name, loc, typ = self.hidden, probe.name, probe.location, probe.type
        init = _scalar_hint_init(h) if probe.stage == "hint" and typ == "scalar" else hk_linear_init
        enc = linear(h, f"{name}_enc_linear", kernel_init=init)
        x = data if typ == "categorical" else data[..., None]
        pointer = typ in POINTERS
        if loc == NODE and pointer:
            adj = adj + ((data + jnp.swapaxes(data, 1, 2)) > 0.5)
            edge = edge + enc(x)
        elif loc == EDGE:
            if typ == "mask":
                adj = adj + ((data + jnp.swapaxes(data, 1, 2)) > 0.0)
            if typ == "pointer":
                enc_2 = linear(h, f"{name}_enc_linear_1", kernel_init=init)
                edge = edge + jnp.mean(enc(x), axis=1) + jnp.mean(enc_2(x), axis=2)
            else:
                edge = edge + enc(x)
        elif (loc == NODE and not pointer) or (loc == GRAPH and typ == "pointer"):
            node = node + enc(x)
        else:
            graph = graph + enc(x)
        return (adj > 0).astype(jnp.float32), node, edge, graph

    def _decode(self, probe: Probe, h_t, edge_fts, graph_fts, train: bool):
        decs = [linear(width, f"{probe.name}_dec_linear" + (f"_{i}" if i else ""))
                for i, width in enumerate(_decoder_sizes(probe, self.hidden))]
        typ, squeeze = probe.type, probe.type != "categorical"
        if probe.location == NODE:
            if typ not in POINTERS:
                out = decs[0](h_t)
                return out[..., 0] if squeeze else out
            p_e = decs[1](h_t)[:, :, None] + decs[2](edge_fts)                  # (B, N, N, H)
            p_m = jnp.maximum(decs[0](h_t)[:, :, None], jnp.swapaxes(p_e, 1, 2))
            preds = decs[3](p_m)[..., 0]
            if typ == "permutation_pointer":
                preds = log_sinkhorn(preds, 10, 0.1, self.make_rng("gumbel") if train else None)
            return preds
        if probe.location == EDGE:
            pred = decs[0](h_t)[:, :, None] + decs[1](h_t)[:, None] + decs[2](edge_fts)
            if typ == "pointer":
                p_m = jnp.maximum(pred[:, :, :, None], decs[3](h_t)[:, None, None])
                return decs[4](p_m)[..., 0]
            return pred[..., 0] if squeeze else pred
        pred = decs[0](jnp.max(h_t, axis=-2)) + decs[1](graph_fts)
        if typ == "pointer":
            return pred + decs[2](h_t)[..., 0]                                   # (B, 1) + (B, N)
        return pred[..., 0] if squeeze else pred

    @nn.compact
    def __call__(self, inputs: Arrays, hints: Arrays, hidden: jax.Array, train: bool):
        b, n, h = hidden.shape
        node = jnp.zeros((b, n, h))
        edge = jnp.zeros((b, n, n, h))
        graph = jnp.zeros((b, h))
        adj = jnp.broadcast_to(jnp.eye(n), (b, n, n))
        for stage, source in (("input", inputs), ("hint", hints)):
            for probe in self.probes:
                if probe.stage == stage:
                    adj, node, edge, graph = self._encode(probe, source[probe.name], adj, node, edge, graph)
        processor = Processor(self.hidden, self.triplet, name="processor")
        nxt_hidden, tri_msgs = processor(node, edge, graph, hidden)
        h_t = jnp.concatenate([node, hidden, nxt_hidden], axis=-1)
        e_t = jnp.concatenate([edge, tri_msgs], axis=-1)
        outputs, hint_preds = {}, {}
        for probe in self.probes:
            if probe.stage in ("output", "hint"):
                target = outputs if probe.stage == "output" else hint_preds
                target[probe.name] = self._decode(probe, h_t, e_t, graph, train)
        return nxt_hidden, outputs, hint_preds


def expand(probe: Probe, data: jax.Array, nodes: int) -> jax.Array:
    """Data as a step reads it: pointer indices one-hot over the nodes, everything else float."""
    if probe.type == "pointer":
        return jax.nn.one_hot(data, nodes)
    return data.astype(jnp.float32)


def postprocess(probes: Mapping[str, Probe], preds: Arrays, hard: bool, sinkhorn_steps: int) -> dict[str, jax.Array]:
    """`decoders.postprocess`: soft (probabilities, gradients kept) or hard (argmax, thresholds).
    Hard pointers come back as node indices."""
    result = {}
    for name, data in preds.items():
        typ = probes[name].type
        if typ == "scalar":
            data = jax.lax.stop_gradient(data) if hard else data
        elif typ == "mask":
            data = (data > 0.0).astype(jnp.float32) if hard else jax.nn.sigmoid(data)
        elif typ in ("mask_one", "categorical"):
            data = jax.nn.one_hot(jnp.argmax(data, -1), data.shape[-1]) if hard else jax.nn.softmax(data, -1)
        elif typ == "pointer":
            data = jnp.argmax(data, -1) if hard else jax.nn.softmax(data, -1)
        else:  # permutation pointer
            data = jnp.exp(log_sinkhorn(data, sinkhorn_steps, 0.1))
            data = jax.nn.one_hot(jnp.argmax(data, -1), data.shape[-1]) if hard else data
        result[name] = data
    return result


def dimensions(batch: Mapping[str, Any], probes: tuple[Probe, ...]) -> tuple[int, int]:
    """(batch size, nodes) from the first node or edge input."""
    for probe in probes:
        if probe.stage == "input" and probe.location in (NODE, EDGE):
            return tuple(batch["inputs"][probe.name].shape[:2])
    raise ValueError("an algorithm needs a node or edge input")


def _as_read(step: Step, batch: Mapping[str, Any]):
    """The batch as steps read it: expanded inputs, a function giving the expanded true hints at step i,
    batch size and nodes."""
    probes = {p.name: p for p in step.probes}
    b, n = dimensions(batch, step.probes)
    inputs = {k: expand(probes[k], v, n) for k, v in batch["inputs"].items()}
    hints = {k: jnp.asarray(v) for k, v in batch["hints"].items()}

    def truth(i):
        return {k: expand(probes[k], v[i], n) for k, v in hints.items()}

    return inputs, truth, b, n


def init(step: Step, key: jax.Array, batch: Mapping[str, Any]) -> Any:
    """The step's parameters, built on the first step of `batch` (none depend on B, N or T)."""
    inputs, truth, b, n = _as_read(step, batch)
    return step.init({"params": key, "gumbel": key}, inputs, truth(0), jnp.zeros((b, n, step.hidden)), False)


def forward(step: Step, params: Any, batch: Mapping[str, Any], train: bool, key: jax.Array,
            hint_teacher_forcing: float = 0.0) -> tuple[dict[str, jax.Array], dict[str, jax.Array]]:
    """Run the steps over the trajectory (`Net.__call__`). Returns raw output predictions (frozen for a
    sample once its trajectory ends) and hint predictions stacked over steps 1..T-1."""
    probes = {p.name: p for p in step.probes}
    inputs, truth, b, n = _as_read(step, batch)
    lengths = jnp.asarray(batch["lengths"])
    steps = max(1, next(iter(batch["hints"].values())).shape[0] - 1)

    def apply(cur_hints, hidden, step_key):
        return step.apply(params, inputs, cur_hints, hidden, train, rngs={"gumbel": step_key})

    key, first_key = jax.random.split(key)
    hidden, outputs, hint_preds = apply(truth(0), jnp.zeros((b, n, step.hidden)), first_key)

    def body(carry, i):
        hidden, outputs, hint_preds, key = carry
        key, force_key, step_key = jax.random.split(key, 3)
        fed = postprocess(probes, hint_preds, hard=False, sinkhorn_steps=25)
        if train:  # teacher forcing per sample; at 0 (the default) every hint is the model's own
            force = jax.random.bernoulli(force_key, hint_teacher_forcing, (b,))
            gt = truth(i)
            fed = {k: jnp.where(force.reshape((b,) + (1,) * (v.ndim - 1)), gt[k], v) for k, v in fed.items()}
        hidden, candidates, hint_preds = apply(fed, hidden, step_key)
        new_outputs = {}
        for k, v in candidates.items():
            running = (lengths > i + 1).reshape((b,) + (1,) * (v.ndim - 1))
            new_outputs[k] = jnp.where(running, v, outputs[k])
        return (hidden, new_outputs, hint_preds, key), hint_preds

    first_hints = hint_preds
    (hidden, outputs, _, _), rest = jax.lax.scan(body, (hidden, outputs, hint_preds, key), jnp.arange(1, steps))
    stacked = {k: jnp.concatenate([first_hints[k][None], rest[k]], axis=0) for k in first_hints}
    return outputs, stacked
