"""Decoder weights from a local Hugging Face checkpoint (config.json + *.safetensors) or a GGUF file.

Both end as the same Flax parameter tree, layers stacked on axis 0 for the scanned decoder. GGUF tensors
are de-quantised to float32 with the `gguf` package; the converted tree is cached as safetensors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from evojax_nas.lm.decoder import DecoderConfig

Params = dict[str, Any]
LAYER_FIELDS = {  # our name -> (Hugging Face suffix, GGUF suffix); Gemma's norms differ, see below
    "attn_norm": ("input_layernorm.weight", "attn_norm.weight"),
    "wq": ("self_attn.q_proj", "attn_q"),
    "wk": ("self_attn.k_proj", "attn_k"),
    "wv": ("self_attn.v_proj", "attn_v"),
    "wo": ("self_attn.o_proj", "attn_output"),
    "q_norm": ("self_attn.q_norm.weight", "attn_q_norm.weight"),
    "k_norm": ("self_attn.k_norm.weight", "attn_k_norm.weight"),
    "post_attn_norm": ("post_attention_layernorm.weight", "post_attention_norm.weight"),
    "ffn_norm": ("pre_feedforward_layernorm.weight", "ffn_norm.weight"),
    "post_ffn_norm": ("post_feedforward_layernorm.weight", "post_ffw_norm.weight"),
    "w_gate": ("mlp.gate_proj", "ffn_gate"),
    "w_up": ("mlp.up_proj", "ffn_up"),
    "w_down": ("mlp.down_proj", "ffn_down"),
}
DENSE = ("wq", "wk", "wv", "wo", "w_gate", "w_up", "w_down")
GEMMA_ONLY = ("q_norm", "k_norm", "post_attn_norm", "post_ffn_norm")


def _tree(config: DecoderConfig, get: Callable[[str, int], np.ndarray | None], embedding: np.ndarray,
          final_norm: np.ndarray, lm_head: np.ndarray | None) -> Params:
    """Assemble the parameter tree; get(field, layer) returns a (out, in) matrix, a bias or a norm."""
    layers: dict[str, Any] = {}
    for field in LAYER_FIELDS:
        if field in GEMMA_ONLY and not config.gemma:
            continue
        if field in DENSE:
            layers[field] = {"kernel": np.stack([get(field, i).T for i in range(config.n_layers)])}
            if config.qkv_bias and field in ("wq", "wk", "wv"):
                layers[field]["bias"] = np.stack([get(field + ".bias", i) for i in range(config.n_layers)])
        else:
            layers[field] = np.stack([get(field, i) for i in range(config.n_layers)])
    params: Params = {"embedding": embedding, "final_norm": final_norm, "layers": layers}
    if not config.tie_embeddings:
        params["lm_head"] = lm_head.T
    return {"params": params}


# -- Hugging Face checkpoints ---------------------------------------------------------------------------

def config_from_hf(hf: dict[str, Any]) -> DecoderConfig:
    """DecoderConfig from a Hugging Face config.json (gemma3_text, llama, mistral, qwen2)."""
    kind = hf.get("model_type", "")
    if kind in ("gemma3", "gemma3_text"):
        hf = hf.get("text_config", hf)
        rope = hf.get("rope_parameters") or {}
        layer_types = hf.get("layer_types") or ["full_attention"] * hf["num_hidden_layers"]
        global_rope = rope.get("full_attention", {}).get("rope_theta", hf.get("rope_theta", 1e6))
        local_rope = rope.get("sliding_attention", {}).get("rope_theta", hf.get("rope_local_base_freq", 1e4))
        return DecoderConfig(
            arch="gemma3", vocab_size=hf["vocab_size"], dim=hf["hidden_size"], n_layers=hf["num_hidden_layers"],
            n_heads=hf["num_attention_heads"], n_kv_heads=hf["num_key_value_heads"], head_dim=hf["head_dim"],
            ffn_dim=hf["intermediate_size"], norm_eps=hf["rms_norm_eps"], rope_base=global_rope,
            rope_local_base=local_rope, sliding_window=hf.get("sliding_window"),
            global_layers=tuple(t == "full_attention" for t in layer_types), qkv_bias=hf.get("attention_bias", False),
            tie_embeddings=hf.get("tie_word_embeddings", True), query_scale=hf["query_pre_attn_scalar"] ** -0.5,
            bos_id=hf.get("bos_token_id", 2), eos_ids=_ids(hf.get("eos_token_id", 1)),
            pad_id=hf.get("pad_token_id") or 0)
    if kind in ("llama", "mistral", "qwen2"):
        rope = hf.get("rope_parameters") or {}
        heads = hf["num_attention_heads"]
        window = hf.get("sliding_window") if hf.get("use_sliding_window", kind == "mistral") else None
        return DecoderConfig(
            arch="llama", vocab_size=hf["vocab_size"], dim=hf["hidden_size"], n_layers=hf["num_hidden_layers"],
            n_heads=heads, n_kv_heads=hf.get("num_key_value_heads", heads),
            head_dim=hf.get("head_dim") or hf["hidden_size"] // heads, ffn_dim=hf["intermediate_size"],
            norm_eps=hf["rms_norm_eps"], rope_base=rope.get("rope_theta", hf.get("rope_theta", 1e4)),
            sliding_window=window, qkv_bias=kind == "qwen2" or hf.get("attention_bias", False),
            tie_embeddings=hf.get("tie_word_embeddings", False), bos_id=hf.get("bos_token_id") or 1,
            eos_ids=_ids(hf.get("eos_token_id", 2)), pad_id=hf.get("pad_token_id") or 0)
    raise ValueError(f"unsupported model_type {kind!r}; supported: gemma3_text, llama, mistral, qwen2")


def _ids(value: Any) -> tuple[int, ...]:
    if value is None:
        return ()
    return tuple(value) if isinstance(value, list) else (int(value),)


def load_hf(directory: str | Path) -> tuple[DecoderConfig, Params]:
    """Config and parameters from a local Hugging Face checkpoint directory (no torch needed)."""
    from safetensors.numpy import load_file

    directory = Path(directory)
    config = config_from_hf(json.loads((directory / "config.json").read_text()))
    tensors: dict[str, np.ndarray] = {}
    for file in sorted(directory.glob("*.safetensors")):
        tensors.update(load_file(file))
    if not tensors:
        raise FileNotFoundError(f"no *.safetensors in {directory}")
    prefix = next((p for p in ("model.language_model.", "model.") if p + "embed_tokens.weight" in tensors), "model.")
    plus_one = 1.0 if config.gemma else 0.0  # Gemma stores norm weights as w and multiplies by (1 + w)
    hf_norm_names = dict(LAYER_FIELDS)
    if not config.gemma:  # in Llama, post_attention_layernorm is the pre-FFN norm
        hf_norm_names["ffn_norm"] = ("post_attention_layernorm.weight", "")

    def get(field: str, i: int) -> np.ndarray:
        base, _, bias = field.partition(".")
        name = f"{prefix}layers.{i}.{hf_norm_names[base][0]}"
        if base in DENSE:
            return tensors[f"{name}.{bias or 'weight'}"].astype(np.float32)
        return tensors[name].astype(np.float32) + plus_one

    head = tensors.get("lm_head.weight")
    return config, _tree(config, get, tensors[prefix + "embed_tokens.weight"].astype(np.float32),
                         tensors[prefix + "norm.weight"].astype(np.float32) + plus_one,
                         None if head is None else head.astype(np.float32))


# -- GGUF files -----------------------------------------------------------------------------------------

def config_from_gguf(meta: dict[str, Any], vocab_size: int, has_output: bool) -> DecoderConfig:
    """DecoderConfig from GGUF metadata (gemma3 or llama architectures)."""
    arch = meta["general.architecture"]
    get = lambda key, default=None: meta.get(f"{arch}.{key}", default)  # noqa: E731
    heads = int(get("attention.head_count"))
    dim = int(get("embedding_length"))
    common = dict(vocab_size=vocab_size, dim=dim, n_layers=int(get("block_count")), n_heads=heads,
                  n_kv_heads=int(get("attention.head_count_kv", heads)),
                  head_dim=int(get("attention.key_length", dim // heads)), ffn_dim=int(get("feed_forward_length")),
                  norm_eps=float(get("attention.layer_norm_rms_epsilon")), tie_embeddings=not has_output,
                  bos_id=int(meta.get("tokenizer.ggml.bos_token_id", 1)),
                  pad_id=int(meta.get("tokenizer.ggml.padding_token_id", 0)))
    eos = int(meta.get("tokenizer.ggml.eos_token_id", 2))
    if arch == "gemma3":
        n_layers = common["n_layers"]
        # Not in the file: local RoPE base 10000 and the pattern (every 6th layer global), as in Gemma 3.
        return DecoderConfig(arch="gemma3", rope_base=float(get("rope.freq_base", 1e6)), rope_local_base=1e4,
                             sliding_window=int(get("attention.sliding_window", 512)),
                             global_layers=tuple((i + 1) % 6 == 0 for i in range(n_layers)),
                             query_scale=common["head_dim"] ** -0.5, eos_ids=(eos, 106), **common)
    if arch in ("llama", "qwen2"):
        return DecoderConfig(arch="llama", rope_base=float(get("rope.freq_base", 1e4)), qkv_bias=arch == "qwen2",
                             eos_ids=(eos,), **common)
    raise ValueError(f"unsupported GGUF architecture {arch!r}; supported: gemma3, llama, qwen2")


def read_gguf(path: str | Path) -> tuple[DecoderConfig, Params, dict[str, Any]]:
    """Config, float32 parameters and the tokenizer metadata of a GGUF file."""
    from gguf import GGUFReader
    from gguf.quants import dequantize

    reader = GGUFReader(str(path))
    meta = {key: field.contents() for key, field in reader.fields.items()}
    tensors = {t.name: dequantize(t.data, t.tensor_type).reshape(tuple(reversed(t.shape.tolist())))
               for t in reader.tensors}
    embedding = tensors["token_embd.weight"].astype(np.float32)
    config = config_from_gguf(meta, embedding.shape[0], "output.weight" in tensors)

    def get(field: str, i: int) -> np.ndarray:
        base, _, bias = field.partition(".")
        gguf_name = LAYER_FIELDS[base][1]
        name = f"blk.{i}.{gguf_name}" + ("" if "." in gguf_name else f".{bias or 'weight'}")
        w = tensors[name].astype(np.float32)
        if not config.gemma and base in ("wq", "wk") and not bias:  # llama.cpp permutes Q/K rows
            heads = config.n_heads if base == "wq" else config.n_kv_heads
            w = w.reshape(heads, w.shape[0] // heads // 2, 2, w.shape[1]).swapaxes(1, 2).reshape(w.shape)
        return w

    tokenizer_meta = {k: v for k, v in meta.items() if k.startswith("tokenizer.")}
    return config, _tree(config, get, embedding, tensors["output_norm.weight"].astype(np.float32),
                         tensors.get("output.weight")), tokenizer_meta
