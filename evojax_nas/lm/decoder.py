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


class Block(nn.Module):
    """One transformer layer; nn.scan calls it with (carry, this layer's kind and cache)."""

    config: DecoderConfig
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, carry, layer):
        cfg = self.config
        x, positions, cache_positions = carry
        is_global, k_cache, v_cache = layer
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

        # Attend to the cache (read only) and to this chunk's own keys; the caller writes the new keys
        # and values into the cache, so no layer copies it.
        qg = q.reshape(batch, length, cfg.n_kv_heads, cfg.n_heads // cfg.n_kv_heads, cfg.head_dim)
        scale = cfg.query_scale if cfg.query_scale is not None else cfg.head_dim ** -0.5
        qp = positions[:, None, None, :, None]  # (B, 1, 1, T, 1)

        def scores(keys: jnp.ndarray, key_positions: jnp.ndarray) -> jnp.ndarray:
            s = jnp.einsum("btkgd,bskd->bkgts", qg, keys.astype(qg.dtype)).astype(jnp.float32) * scale
            kp = key_positions[:, None, None, None, :]  # (B, 1, 1, 1, S)
            allowed = (kp >= 0) & (kp <= qp)
            if cfg.sliding_window is not None:
                allowed &= is_global | (qp - kp < cfg.sliding_window)
            return jnp.where(allowed, s, -1e30)

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

    def setup(self) -> None:
        cfg = self.config
        self.embedding = self.param("embedding", nn.initializers.normal(0.02), (cfg.vocab_size, cfg.dim))
        self.final_norm = self.param("final_norm", nn.initializers.ones, (cfg.dim,))
        if not cfg.tie_embeddings:
            self.lm_head = self.param("lm_head", nn.initializers.normal(0.02), (cfg.dim, cfg.vocab_size))
        self.layers = nn.scan(Block, variable_axes={"params": 0}, split_rngs={"params": True},
                              in_axes=0, out_axes=0, length=cfg.n_layers, unroll=self.unroll)(
                                  cfg, self.dtype, name="layers")

    def embed(self, tokens: jnp.ndarray) -> jnp.ndarray:
        """Token ids -> input embeddings (scaled by sqrt(dim) for Gemma)."""
        x = jnp.take(self.embedding, tokens, axis=0).astype(self.dtype)
        return x * jnp.asarray(math.sqrt(self.config.dim), self.dtype) if self.config.gemma else x

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
        head = self.embedding.T if self.config.tie_embeddings else self.lm_head
        return jnp.einsum("...d,dv->...v", hidden, head.astype(self.dtype)).astype(jnp.float32)


def make_cache(config: DecoderConfig, batch: int, size: int, dtype: Any = jnp.float32):
    """Empty (keys, values) cache without a module instance."""
    shape = (config.n_layers, batch, size, config.n_kv_heads, config.head_dim)
    return jnp.zeros(shape, dtype), jnp.zeros(shape, dtype)


def write_cache(cache: tuple[jnp.ndarray, jnp.ndarray], new_kv: tuple[jnp.ndarray, jnp.ndarray],
                slot: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Write a chunk's (keys, values) into the cache at slots [slot, slot + T)."""
    return tuple(jax.lax.dynamic_update_slice_in_dim(c, n.astype(c.dtype), slot, axis=2)
                 for c, n in zip(cache, new_kv, strict=True))
