"""Soft prompt-tuning: a learned prefix of virtual-token embeddings, trained with optax on (prompt, child)
pairs weighted by fitness while the decoder's weights stay frozen; saved and restored with orbax."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from evojax_nas.lm.decoder import Decoder, make_cache
from evojax_nas.lm.sampler import Sampler, length_bucket


@dataclasses.dataclass(frozen=True)
class Example:
    """One training pair: the prompt, the child it produced, and its weight (e.g. from fitness)."""

    prompt: str
    completion: str
    weight: float = 1.0


@dataclasses.dataclass
class SoftPrompt:
    """The prefix (n_virtual_tokens, dim) in input-embedding space and its optimizer state."""

    embeddings: jax.Array
    opt_state: Any
    steps: int = 0


def row_loss(decoder: Decoder, params: Any, prefix: jax.Array, tokens: jax.Array, valid: jax.Array,
             target: jax.Array) -> jax.Array:
    """Mean next-token cross-entropy over one row's `target` positions, the prefix prepended.
    Logits are made per row under jax.checkpoint so no (batch, length, vocab) array is ever held."""
    embeds = decoder.apply(params, tokens[None], method=Decoder.embed)
    p = prefix.shape[0]
    embeds = jnp.concatenate([prefix[None].astype(embeds.dtype), embeds], axis=1)
    mask = jnp.concatenate([jnp.ones((1, p), bool), valid[None]], axis=1)
    positions = jnp.where(mask, jnp.cumsum(mask, axis=1) - 1, -1)
    hidden, _ = decoder.apply(params, embeds, positions, make_cache(decoder.config, 1, 0, embeds.dtype),
                              jnp.zeros((1, 0), jnp.int32))

    @jax.checkpoint
    def nll(h: jax.Array) -> jax.Array:
        logits = decoder.apply(params, h, method=Decoder.logits)  # predicts tokens[1:]
        return optax.softmax_cross_entropy_with_integer_labels(logits[:-1], tokens[1:])

    losses = nll(hidden[0, p:])
    weights = target[1:].astype(jnp.float32)
    return (losses * weights).sum() / jnp.maximum(weights.sum(), 1.0)


class SoftPromptTuner:
    """Trains the soft prompt of a Sampler's decoder; everything jitted, base weights frozen."""

    def __init__(self, sampler: Sampler, n_virtual_tokens: int = 16, learning_rate: float = 0.1,
                 init_text: str = "Write a small and accurate neural network in Flax.", max_length: int = 1024):
        self.sampler, self.max_length = sampler, max_length
        self.tx = optax.adam(learning_rate)
        ids = (sampler.encode(init_text) * n_virtual_tokens)[:n_virtual_tokens]  # start in-distribution
        embeddings = sampler.model.apply(sampler.params, jnp.asarray(ids), method=Decoder.embed)
        self.state = SoftPrompt(embeddings, self.tx.init(embeddings))

    def batch(self, examples: Sequence[Example]) -> tuple[jax.Array, ...]:
        """Right-padded tokens, validity and target masks (the completion's tokens), and weights."""
        rows = []
        for ex in examples:
            prompt = self.sampler.encode(ex.prompt)
            child = self.sampler.tokenizer.encode(ex.completion, add_special_tokens=False).ids
            ids = (prompt + child)[: self.max_length]
            rows.append((ids, len(prompt)))
        length = length_bucket(max(len(ids) for ids, _ in rows))
        tokens = np.full((len(rows), length), self.sampler.config.pad_id, np.int32)
        valid, target = np.zeros_like(tokens, bool), np.zeros_like(tokens, bool)
        for i, (ids, cut) in enumerate(rows):
            tokens[i, : len(ids)], valid[i, : len(ids)], target[i, cut: len(ids)] = ids, True, True
        weights = np.asarray([ex.weight for ex in examples], np.float32)
        return jnp.asarray(tokens), jnp.asarray(valid), jnp.asarray(target), jnp.asarray(weights)

    @functools.partial(jax.jit, static_argnums=0)
    def _loss(self, params, prefix, tokens, valid, target, weights) -> jax.Array:
        losses = jax.lax.map(lambda r: row_loss(self.sampler.model, params, prefix, *r), (tokens, valid, target))
        return (losses * weights).sum() / jnp.maximum(weights.sum(), 1e-6)

    @functools.partial(jax.jit, static_argnums=0)
    def _step(self, params, prefix, opt_state, tokens, valid, target, weights):
        loss, grad = jax.value_and_grad(lambda p: self._loss(params, p, tokens, valid, target, weights))(prefix)
        updates, opt_state = self.tx.update(grad, opt_state, prefix)
        return optax.apply_updates(prefix, updates), opt_state, loss

    def loss(self, examples: Sequence[Example]) -> float:
        """Weighted loss of the current soft prompt on the examples."""
        return float(self._loss(self.sampler.params, self.state.embeddings, *self.batch(examples)))

    def tune(self, examples: Sequence[Example], epochs: int = 5, batch_size: int = 16,
             seed: int = 0) -> dict[str, float]:
        """`epochs` passes over the examples in shuffled batches; returns the loss before and after."""
        if not examples:
            return {"steps": 0}
        before = self.loss(examples)
        rng = np.random.default_rng(seed + self.state.steps)
        for _ in range(epochs):
            order = rng.permutation(len(examples))
            for start in range(0, len(order), batch_size):
                chunk = [examples[i] for i in order[start: start + batch_size]]
                emb, opt, _ = self._step(self.sampler.params, self.state.embeddings, self.state.opt_state,
                                         *self.batch(chunk))
                self.state = SoftPrompt(emb, opt, self.state.steps + 1)
        return {"loss_before": before, "loss_after": self.loss(examples), "steps": self.state.steps}

    def tree(self) -> dict[str, Any]:
        """The whole tuning state as a pytree of arrays (for checkpoints)."""
        return {"embeddings": self.state.embeddings, "opt_state": self.state.opt_state,
                "steps": jnp.asarray(self.state.steps)}

    def load_tree(self, tree: dict[str, Any]) -> None:
        """Inverse of tree()."""
        self.state = SoftPrompt(jnp.asarray(tree["embeddings"]), tree["opt_state"], int(tree["steps"]))

    def save(self, directory: str | Path) -> None:
        """Write the prefix, optimizer state and step count with orbax."""
        import orbax.checkpoint as ocp

        with ocp.StandardCheckpointer() as checkpointer:
            checkpointer.save(Path(directory).absolute(), self.tree(), force=True)

    def restore(self, directory: str | Path) -> None:
        """Read what save() wrote (the shapes must match this tuner's)."""
        import orbax.checkpoint as ocp

        with ocp.StandardCheckpointer() as checkpointer:
            self.load_tree(checkpointer.restore(Path(directory).absolute(), self.tree()))
