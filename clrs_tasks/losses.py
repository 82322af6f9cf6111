"""dm-clrs' losses (`losses.output_loss`, `losses.hint_loss`) and its scoring (`evaluation.evaluate`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from clrs_tasks.data import Probe
from clrs_tasks.dmclrs import load

EPS = 1e-12


def _bce(pred: jax.Array, truth: jax.Array) -> jax.Array:
    return jnp.maximum(pred, 0) - pred * truth + jnp.log1p(jnp.exp(-jnp.abs(pred)))


def output_loss(probe: Probe, truth: jax.Array, pred: jax.Array, nodes: int) -> jax.Array:
    """One output's loss over the batch."""
    if probe.type == "scalar":
        return jnp.mean((pred - truth) ** 2)
    if probe.type == "mask":
        mask = (truth != -1).astype(jnp.float32)
        return jnp.sum(_bce(pred, truth) * mask) / jnp.sum(mask)
    if probe.type in ("mask_one", "categorical"):
        masked = truth * (truth != -1)
        return -jnp.sum(masked * jax.nn.log_softmax(pred)) / jnp.sum(truth == 1)
    if probe.type == "pointer":
        return jnp.mean(-jnp.sum(jax.nn.one_hot(truth, nodes) * jax.nn.log_softmax(pred), axis=-1))
    return jnp.mean(-jnp.sum(truth * pred, axis=-1))  # permutation pointer: pred is log-Sinkhorn


def hint_loss(probe: Probe, truth: jax.Array, preds: jax.Array, lengths: jax.Array, nodes: int) -> jax.Array:
    """One hint's loss: predictions of steps 1..T-1 against the truth there, masked past each trajectory."""
    truth = truth[1:]
    mask = None
    if probe.type == "scalar":
        loss = (preds - truth) ** 2
    elif probe.type == "mask":
        loss = _bce(preds, truth)
        mask = (truth != -1).astype(jnp.float32)
    elif probe.type == "mask_one":
        loss = -jnp.sum(truth * jax.nn.log_softmax(preds), axis=-1, keepdims=True)
    elif probe.type == "categorical":
        loss = -jnp.sum(truth * jax.nn.log_softmax(preds), axis=-1)
        mask = jnp.any(truth == 1, axis=-1).astype(jnp.float32)
    elif probe.type == "pointer":
        loss = -jnp.sum(jax.nn.one_hot(truth, nodes) * jax.nn.log_softmax(preds), axis=-1)
    else:
        loss = -jnp.sum(truth * preds, axis=-1)
    mask = jnp.ones_like(loss) if mask is None else mask
    steps = jnp.arange(truth.shape[0])[:, None]
    running = (lengths[None] > steps + 1).astype(jnp.float32)
    mask = mask * running.reshape(running.shape + (1,) * (loss.ndim - 2))
    return jnp.sum(loss * mask) / jnp.maximum(jnp.sum(mask), EPS)


def total_loss(probes: tuple[Probe, ...], batch: Mapping[str, Any], outputs: Mapping[str, jax.Array],
               hint_preds: Mapping[str, jax.Array], nodes: int) -> jax.Array:
    """`BaselineModel._loss`: every output's loss plus every hint's."""
    loss = jnp.zeros(())
    for probe in probes:
        if probe.stage == "output":
            loss = loss + output_loss(probe, batch["outputs"][probe.name], outputs[probe.name], nodes)
        elif probe.stage == "hint":
            loss = loss + hint_loss(probe, batch["hints"][probe.name], hint_preds[probe.name], batch["lengths"],
                                    nodes)
    return loss


def score(probes: tuple[Probe, ...], outputs: Mapping[str, np.ndarray], predictions: Mapping[str, np.ndarray]
          ) -> dict[str, float]:
    """dm-clrs' `evaluation.evaluate` on hard predictions: per output and `score`, their mean (permutation
    pointers with their masks scored as the node pointers they encode)."""
    probing, evaluation = load("probing"), load("evaluation")

    def points(arrays: Mapping[str, np.ndarray]) -> Any:
        return {p.name: probing.DataPoint(name=p.name, location=p.location, type_=p.type,
                                          data=np.asarray(arrays[p.name]))
                for p in probes if p.stage == "output"}

    truth = points(outputs)
    result = evaluation.evaluate(tuple(truth.values()), points(predictions))
    return {k: float(v) for k, v in result.items()}
