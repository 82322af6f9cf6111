"""A Flax decoder-only transformer covering Gemma 3 and the Llama family, with an explicit KV cache.

The layers are one `nn.scan` over stacked weights (one compiled block instead of N), and each layer's
attention kind (sliding window or global, with its RoPE base) is data scanned alongside the weights."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp


@dataclasses.dataclass(frozen=True)
class DecoderConfig:
    """Architecture hyper-parameters, read from a GGUF header or a Hugging Face config.json."""

    arch: str  # "gemma3" or "llama" (Llama, SmolLM, Mistral, Qwen2)
    vocab_size: int
    dim: int
    n_layers: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    ffn_dim: int
    norm_eps: float = 1e-6
    rope_base: float = 10_000.0
    rope_local_base: float = 10_000.0
    sliding_window: int | None = None
    global_layers: tuple[bool, ...] | None = None  # per layer: attends globally (None: every layer)
    qkv_bias: bool = False
    tie_embeddings: bool = True
    query_scale: float | None = None  # attention scale; default head_dim ** -0.5
    bos_id: int = 1
    eos_ids: tuple[int, ...] = (2,)
    pad_id: int = 0

    @property
    def gemma(self) -> bool:
        return self.arch == "gemma3"

    def is_global(self) -> jnp.ndarray:
        """(n_layers,) bool: which layers attend globally."""
        if self.sliding_window is None or self.global_layers is None:
            return jnp.ones(self.n_layers, bool)
        return jnp.asarray(self.global_layers, bool)


def rms_norm(x: jnp.ndarray, weight: jnp.ndarray, eps: float) -> jnp.ndarray:
    """x / rms(x) * weight, computed in float32 (Gemma weights arrive as 1 + w already)."""
    x32 = x.astype(jnp.float32)
    return (x32 * jax.lax.rsqrt(jnp.mean(x32 * x32, -1, keepdims=True) + eps) * weight).astype(x.dtype)


def rope(x: jnp.ndarray, positions: jnp.ndarray, base: jnp.ndarray) -> jnp.ndarray:
    """Rotate halves (NeoX / Hugging Face layout). x: (B, T, H, D); positions: (B, T)."""
    half = x.shape[-1] // 2
    freqs = base ** (-jnp.arange(half, dtype=jnp.float32) * 2 / x.shape[-1])
    angles = positions[..., None, None].astype(jnp.float32) * freqs  # (B, T, 1, half)
    sin, cos = jnp.sin(angles), jnp.cos(angles)
    x1, x2 = x[..., :half].astype(jnp.float32), x[..., half:].astype(jnp.float32)
    return jnp.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], -1).astype(x.dtype)


def embed_tokens(config: DecoderConfig, embedding: jnp.ndarray, tokens: jnp.ndarray, dtype: Any) -> jnp.ndarray:
    """Token ids -> input embeddings (scaled by sqrt(dim) for Gemma)."""
    x = jnp.take(embedding, tokens, axis=0).astype(dtype)
    return x * jnp.asarray(math.sqrt(config.dim), dtype) if config.gemma else x


class Block(nn.Module):
    """One transformer layer; nn.scan calls it with (carry, this layer's kind and cache).

    layer = (is_global, keys, values): the cache is read only, the chunk also attends to its own keys, and
    its new keys and values are returned for the caller (prefill, training).
    layer = (is_global, keys, values, slot, prompt_keys, prompt_values, prompt_positions): decoding one
    token for R rows that continue P prompts (R = P x n, row r continues prompt r // n). The token's key
    and value are written into the rows' cache at `slot` (in place), and each row attends to its prompt's
    cache, shared by its n rows, and to its own cache; the updated rows' cache is returned."""

    config: DecoderConfig
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, carry, layer):
        cfg = self.config
        x, positions, cache_positions = carry
        is_global, k_cache, v_cache, *shared = layer
        dense = lambda n, name, bias=False: nn.DenseGeneral(n, use_bias=bias, name=name, dtype=self.dtype)  # noqa: E731
        norm = lambda name, d=cfg.dim: self.param(name, nn.initializers.ones, (d,))  # noqa: E731
        batch, length, _ = x.shape

        h = rms_norm(x, norm("attn_norm"), cfg.norm_eps)
        q = dense(cfg.n_heads * cfg.head_dim, "wq", cfg.qkv_bias)(h).reshape(batch, length, cfg.n_heads, -1)
        k = dense(cfg.n_kv_heads * cfg.head_dim, "wk", cfg.qkv_bias)(h).reshape(batch, length, cfg.n_kv_heads, -1)
        v = dense(cfg.n_kv_heads * cfg.head_dim, "wv", cfg.qkv_bias)(h).reshape(batch, length, cfg.n_kv_heads, -1)
        if cfg.gemma:
            q = rms_norm(q, norm("q_norm", cfg.head_dim), cfg.norm_eps)
            k = rms_norm(k, norm("k_norm", cfg.head_dim), cfg.norm_eps)
        base = jnp.where(is_global, cfg.rope_base, cfg.rope_local_base)
        q, k = rope(q, jnp.maximum(positions, 0), base), rope(k, jnp.maximum(positions, 0), base)

        qg = q.reshape(batch, length, cfg.n_kv_heads, cfg.n_heads // cfg.n_kv_heads, cfg.head_dim)
        scale = cfg.query_scale if cfg.query_scale is not None else cfg.head_dim ** -0.5
        qp = positions[:, None, None, :, None]  # (B, 1, 1, T, 1)

        def masked(s: jnp.ndarray, key_positions: jnp.ndarray) -> jnp.ndarray:
            kp = key_positions[:, None, None, None, :]  # (B, 1, 1, 1, S)
            allowed = (kp >= 0) & (kp <= qp)
            if cfg.sliding_window is not None:
                allowed &= is_global | (qp - kp < cfg.sliding_window)
            return jnp.where(allowed, s.astype(jnp.float32) * scale, -1e30)

        def scores(keys: jnp.ndarray, key_positions: jnp.ndarray) -> jnp.ndarray:
            return masked(jnp.einsum("btkgd,bskd->bkgts", qg, keys.astype(qg.dtype)), key_positions)

        if shared:  # decoding: write this token, then attend to the shared prompt and the row's own tokens
            slot, prompt_k, prompt_v, prompt_positions = shared
            write = lambda c, n: jax.lax.dynamic_update_slice_in_dim(c, n.astype(c.dtype), slot, axis=1)  # noqa: E731
            k_cache, v_cache = write(k_cache, k), write(v_cache, v)
            prompts, prompt_len = prompt_k.shape[:2]
            per_prompt = qg.reshape(prompts, batch // prompts, *qg.shape[2:])  # (P, n, K, G, D): T == 1
            s_prompt = jnp.einsum("pnkgd,pskd->pnkgs", per_prompt, prompt_k.astype(qg.dtype))
            s_prompt = masked(s_prompt.reshape(batch, *s_prompt.shape[2:4], 1, prompt_len),
                              jnp.repeat(prompt_positions, batch // prompts, axis=0))
            probs = jax.nn.softmax(jnp.concatenate([s_prompt, scores(k_cache, cache_positions)], -1), -1)
            p_prompt = probs[..., :prompt_len].reshape(prompts, batch // prompts, *probs.shape[1:3], prompt_len)
            out = jnp.einsum("pnkgs,pskd->pnkgd", p_prompt.astype(v.dtype), prompt_v.astype(v.dtype))
            out = out.reshape(batch, 1, *out.shape[2:]) + jnp.einsum(
                "bkgts,bskd->btkgd", probs[..., prompt_len:].astype(v.dtype), v_cache.astype(v.dtype))
            k, v = k_cache, v_cache
        else:  # attend to the cache (read only) and to this chunk's own keys
            cached = k_cache.shape[1]
            probs = jax.nn.softmax(jnp.concatenate([scores(k_cache, cache_positions), scores(k, positions)], -1), -1)
            out = jnp.einsum("bkgts,bskd->btkgd", probs[..., cached:].astype(v.dtype), v)
            if cached:
                out += jnp.einsum("bkgts,bskd->btkgd", probs[..., :cached].astype(v.dtype), v_cache.astype(v.dtype))
        out = dense(cfg.dim, "wo")(out.reshape(batch, length, -1))
        if cfg.gemma:
            out = rms_norm(out, norm("post_attn_norm"), cfg.norm_eps)
        x = x + out

        h = rms_norm(x, norm("ffn_norm"), cfg.norm_eps)
        gate, up = dense(cfg.ffn_dim, "w_gate")(h), dense(cfg.ffn_dim, "w_up")(h)
        act = nn.gelu(gate, approximate=True) if cfg.gemma else nn.silu(gate)
        out = dense(cfg.dim, "w_down")(act * up)
        if cfg.gemma:
            out = rms_norm(out, norm("post_ffn_norm"), cfg.norm_eps)
        return (x + out, positions, cache_positions), (k, v)


class Decoder(nn.Module):
    """Embeddings in, logits and the updated KV cache out."""

    config: DecoderConfig
    dtype: Any = jnp.float32
    unroll: int = 1  # layers per scan iteration: unrolling trades compile time for speed
    remat: bool = False  # recompute each layer in the backward pass: keeps one layer's activations, not all

    def setup(self) -> None:
        cfg = self.config
        self.embedding = self.param("embedding", nn.initializers.normal(0.02), (cfg.vocab_size, cfg.dim))
        self.final_norm = self.param("final_norm", nn.initializers.ones, (cfg.dim,))
        if not cfg.tie_embeddings:
            self.lm_head = self.param("lm_head", nn.initializers.normal(0.02), (cfg.dim, cfg.vocab_size))
        block = nn.remat(Block, prevent_cse=False) if self.remat else Block  # prevent_cse is moot under scan
        self.layers = nn.scan(block, variable_axes={"params": 0}, split_rngs={"params": True},
                              in_axes=0, out_axes=0, length=cfg.n_layers, unroll=self.unroll)(
                                  cfg, self.dtype, name="layers")

    def embed(self, tokens: jnp.ndarray) -> jnp.ndarray:
        """Token ids -> input embeddings (scaled by sqrt(dim) for Gemma)."""
        return embed_tokens(self.config, self.embedding, tokens, self.dtype)

    def __call__(self, x: jnp.ndarray, positions: jnp.ndarray, cache: tuple[jnp.ndarray, jnp.ndarray],
                 cache_positions: jnp.ndarray):
        """x: (B, T, dim) embeddings at `positions` (B, T; -1 marks padding). The cache (keys, values),
        each (n_layers, B, S, n_kv_heads, head_dim), holds earlier tokens at `cache_positions` (B, S; -1:
        empty). Returns the final-norm hidden states (B, T, dim) and this chunk's (keys, values), each
        (n_layers, B, T, n_kv_heads, head_dim), for the caller to write into its cache."""
        carry = (x, positions, cache_positions)
        (x, *_), new_kv = self.layers(carry, (self.config.is_global(), *cache))
        return rms_norm(x, self.final_norm, self.config.norm_eps), new_kv

    def logits(self, hidden: jnp.ndarray) -> jnp.ndarray:
        """Hidden states (..., dim) -> float32 logits (..., vocab)."""
        if self.config.tie_embeddings:  # contract the embedding's own axis: a transpose would copy it
            return jnp.einsum("...d,vd->...v", hidden, self.embedding.astype(self.dtype)).astype(jnp.float32)
        return jnp.einsum("...d,dv->...v", hidden, self.lm_head.astype(self.dtype)).astype(jnp.float32)


def layer_params(params: Any, n_layers: int) -> list[Any]:
    """Each layer's weights as arrays of their own. Inside a scan (or under a static slice) XLA copies a
    layer's slice of the stacked weights before every matmul; at batch 1 those copies cost more than the
    matmuls, so decoding reads per-layer arrays in place."""
    return [jax.tree.map(lambda a, i=i: a[i], params["params"]["layers"]) for i in range(n_layers)]


def decode_layers(config: DecoderConfig, dtype: Any, layers: list[Any], final_norm: jnp.ndarray, x: jnp.ndarray,
                  positions: jnp.ndarray, prompt_cache: list[tuple[jnp.ndarray, jnp.ndarray]],
                  prompt_positions: jnp.ndarray, cache: list[tuple[jnp.ndarray, jnp.ndarray]],
                  cache_positions: jnp.ndarray, slot: jnp.ndarray) -> tuple[jnp.ndarray, list[Any]]:
    """One decode step, Decoder.__call__ unrolled over per-layer weights (`layer_params`), for R rows that
    continue P prompts (row r continues prompt r // (R // P)). prompt_cache: per layer (keys, values),
    each (P, S, n_kv_heads, head_dim), at `prompt_positions` (P, S); cache: per layer the rows' own
    (keys, values), each (R, S', n_kv_heads, head_dim), at `cache_positions` (R, S'), which must already
    hold `positions` at `slot`, where each layer writes this token. Returns the final-norm hidden states
    and the updated rows' caches."""
    block, is_global = Block(config, dtype), config.is_global()
    updated = []
    for weights, (pk, pv), (keys, values), global_ in zip(layers, prompt_cache, cache, is_global, strict=True):
        (x, *_), kv = block.apply({"params": weights}, (x, positions, cache_positions),
                                  (global_, keys, values, slot, pk, pv, prompt_positions))
        updated.append(kv)
    return rms_norm(x, final_norm, config.norm_eps), updated


def make_cache(config: DecoderConfig, batch: int, size: int, dtype: Any = jnp.float32):
    """Empty (keys, values) cache without a module instance."""
    shape = (config.n_layers, batch, size, config.n_kv_heads, config.head_dim)
    return jnp.zeros(shape, dtype), jnp.zeros(shape, dtype)


def write_cache(cache: tuple[jnp.ndarray, jnp.ndarray], new_kv: tuple[jnp.ndarray, jnp.ndarray],
                slot: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Write a chunk's (keys, values) into the cache at slots [slot, slot + T)."""
    return tuple(jax.lax.dynamic_update_slice_in_dim(c, n.astype(c.dtype), slot, axis=2)
                 for c, n in zip(cache, new_kv, strict=True))
