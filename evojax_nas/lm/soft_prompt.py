"""Soft prompt-tuning: a learned prefix of virtual-token embeddings, trained with optax on (prompt, child)
pairs weighted by fitness while the decoder's weights stay frozen; saved and restored with orbax.

Memory per row is bounded: layers are rematerialised, and logits are made only for the completion's
positions and only over the sampled vocabulary (a 262k-token head over a 1,300-token row is 1.4 GB)."""

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


@dataclasses.dataclass(frozen=True)
class TuneRows:
    """Examples as arrays: right-padded prompt + completion tokens, where each completion starts and ends,
    and the example weights. `window` (static) is how many completion positions are scored per row."""

    tokens: np.ndarray  # (rows, length)
    starts: np.ndarray  # (rows,) index of the completion's first token
    ends: np.ndarray  # (rows,) one past the row's last token
    weights: np.ndarray  # (rows,)
    window: int

    def split(self, rows: int) -> list[TuneRows]:
        """Pieces of `rows` rows (the last padded with weight-0 rows), so every piece has one shape."""
        pad = -len(self.weights) % rows
        padded = [np.concatenate([a, np.repeat(a[:1], pad, axis=0)]) for a in (self.tokens, self.starts, self.ends)]
        weights = np.concatenate([self.weights, np.zeros(pad, np.float32)])
        return [TuneRows(*(a[i: i + rows] for a in padded), weights[i: i + rows], self.window)
                for i in range(0, len(weights), rows)]


def weighted_nll(decoder: Decoder, params: Any, output: jax.Array, label_of: jax.Array, prefix: jax.Array,
                 tokens: jax.Array, starts: jax.Array, ends: jax.Array, weights: jax.Array,
                 window: int) -> jax.Array:
    """Sum over rows of weight x mean next-token cross-entropy of the row's completion, the prefix prepended.

    Only the `window` positions from each completion's start get logits, and only over `output`'s rows (the
    sampled vocabulary: the loss is that of the distribution the sampler draws from); `label_of` maps a
    token id to its row there (-1: outside it, not scored). The decoder should rematerialise its layers."""
    rows, length = tokens.shape
    p = prefix.shape[0]
    embeds = decoder.apply(params, tokens, method=Decoder.embed)
    embeds = jnp.concatenate([jnp.broadcast_to(prefix.astype(embeds.dtype), (rows, *prefix.shape)), embeds], 1)
    mask = jnp.concatenate([jnp.ones((rows, p), bool), jnp.arange(length)[None] < ends[:, None]], axis=1)
    positions = jnp.where(mask, jnp.cumsum(mask, axis=1) - 1, -1)
    hidden, _ = decoder.apply(params, embeds, positions, make_cache(decoder.config, rows, 0, embeds.dtype),
                              jnp.zeros((rows, 0), jnp.int32))
    at = starts[:, None] - 1 + jnp.arange(window)[None]  # the hidden state at `at` predicts token at + 1
    scored = at + 1 < ends[:, None]
    at = jnp.clip(at, 0, length - 2)
    h = jnp.take_along_axis(hidden[:, p:], at[..., None], axis=1)
    labels = label_of[jnp.take_along_axis(tokens, at + 1, axis=1)]
    scored &= labels >= 0
    logits = jnp.einsum("rcd,vd->rcv", h, output.astype(h.dtype)).astype(jnp.float32)
    nll = optax.softmax_cross_entropy_with_integer_labels(logits, jnp.maximum(labels, 0))
    per_row = (nll * scored).sum(1) / jnp.maximum(scored.sum(1), 1)
    return (per_row * weights).sum()


class SoftPromptTuner:
    """Trains the soft prompt of a Sampler's decoder; everything jitted, base weights frozen.

    A batch is backpropagated `rows_per_step` rows at a time, the gradients summed (set it from a
    `MemoryPlan`); each layer is recomputed in the backward pass, so a row holds one layer's activations."""

    def __init__(self, sampler: Sampler, n_virtual_tokens: int = 16, learning_rate: float = 0.1,
                 init_text: str = "Write a small and accurate neural network in Flax.", max_length: int = 2048,
                 rows_per_step: int | None = None):
        self.sampler, self.max_length, self.rows_per_step = sampler, max_length, rows_per_step
        self.model = Decoder(sampler.config, sampler.model.dtype, remat=True)
        self.tx = optax.adam(learning_rate)
        ids = (sampler.encode(init_text) * n_virtual_tokens)[:n_virtual_tokens]  # start in-distribution
        embeddings = sampler.model.apply(sampler.params, jnp.asarray(ids), method=Decoder.embed)
        self.state = SoftPrompt(embeddings, self.tx.init(embeddings))
        vocab = sampler.weights["vocab"]
        ids = np.arange(sampler.config.vocab_size) if vocab is None else np.asarray(vocab)
        label_of = np.full(sampler.config.vocab_size, -1, np.int32)
        label_of[ids] = np.arange(len(ids))  # a token id's row in the sampled output
        self.label_of = jnp.asarray(label_of)

    def rows(self, examples: Sequence[Example]) -> TuneRows:
        """Tokenise: BOS, prompt, completion; a row over max_length loses the prompt's start (the completion
        is what is learnt). Lengths and the scored window are bucketed so that rounds share compiled steps."""
        encoded = []
        for ex in examples:
            prompt = self.sampler.encode(ex.prompt)
            child = self.sampler.tokenizer.encode(ex.completion, add_special_tokens=False).ids
            child = child[: self.max_length // 2]
            keep = self.max_length - len(child) - 1
            prompt = prompt[:1] + prompt[1:][-keep:] if len(prompt) > keep + 1 else prompt
            encoded.append((prompt + child, len(prompt)))
        length = length_bucket(max(len(ids) for ids, _ in encoded))
        window = length_bucket(max(len(ids) - cut for ids, cut in encoded) + 1)
        tokens = np.full((len(encoded), length), self.sampler.config.pad_id, np.int32)
        for i, (ids, _) in enumerate(encoded):
            tokens[i, : len(ids)] = ids
        return TuneRows(tokens, np.asarray([cut for _, cut in encoded], np.int32),
                        np.asarray([len(ids) for ids, _ in encoded], np.int32),
                        np.asarray([ex.weight for ex in examples], np.float32), window)

    @functools.partial(jax.jit, static_argnums=(0, 9))
    def _nll(self, params, output, label_of, prefix, tokens, starts, ends, weights, window):
        return weighted_nll(self.model, params, output, label_of, prefix, tokens, starts, ends, weights, window)

    @functools.partial(jax.jit, static_argnums=(0, 9))
    def _nll_grad(self, params, output, label_of, prefix, tokens, starts, ends, weights, window):
        return jax.value_and_grad(weighted_nll, argnums=4)(self.model, params, output, label_of, prefix, tokens,
                                                           starts, ends, weights, window)

    @functools.partial(jax.jit, static_argnums=0)
    def _update(self, prefix, opt_state, grad):
        updates, opt_state = self.tx.update(grad, opt_state, prefix)
        return optax.apply_updates(prefix, updates), opt_state

    def _pieces(self, rows: TuneRows) -> list[tuple[Any, ...]]:
        step = self.rows_per_step or len(rows.weights)
        return [(self.sampler.params, self.sampler.weights["output"], self.label_of, self.state.embeddings,
                 *map(jnp.asarray, (r.tokens, r.starts, r.ends, r.weights)), r.window) for r in rows.split(step)]

    def loss(self, examples: Sequence[Example]) -> float:
        """Weighted loss of the current soft prompt on the examples."""
        rows = self.rows(examples)
        total = sum(float(self._nll(*args)) for args in self._pieces(rows))
        return total / max(float(rows.weights.sum()), 1e-6)

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
                rows = self.rows([examples[i] for i in order[start: start + batch_size]])
                grad = jnp.zeros_like(self.state.embeddings)
                for args in self._pieces(rows):
                    grad += self._nll_grad(*args)[1]
                emb, opt = self._update(self.state.embeddings, self.state.opt_state,
                                        grad / max(float(rows.weights.sum()), 1e-6))
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
