"""Sampling speed of the embedded Gemma-3-270M, side by side in one run: our jitted KV-cache sampler (as
the search runs it, sampling from the code vocabulary, and over the whole vocabulary) vs transformers'
PyTorch `generate` on the same (de-quantised, float32) weights, and llama.cpp on the GGUF itself when
llama-cpp-python is installed. Tokens/s = rows x new tokens / seconds (prefill included), after a warm-up.

    python benchmarks/lm_speed.py [--new-tokens 256] [--batches 1 16]

Last line: {"ratio_vs_transformers": {batch: ours / transformers}, "ratio_vs_llama_cpp": {sampler: ...} (null
without llama.cpp or batch 1), "tokens_per_s": {...}, ...}.
"""

from __future__ import annotations

import argparse
import json
import time

import jax
import numpy as np

from evojax_nas.lm.checkpoints import embedded_gguf, load_checkpoint
from evojax_nas.lm.decoder import DecoderConfig
from evojax_nas.lm.sampler import Sampler
from evojax_nas.lm.vocab import code_vocabulary

PROMPT = ("import flax.linen as nn\n\n\n# Model 1: validation accuracy 0.912, parameters 5210\n"
          "class Model(nn.Module):\n    @nn.compact\n    def __call__(self, x, train: bool = False):\n"
          "        x = x[..., None]\n        x = nn.relu(nn.Conv(25, (5,), strides=2, padding=1)(x))\n"
          "        x = x.reshape((x.shape[0], -1))\n        return nn.Dense(10)(x)\n\n\n"
          "# Model 2: validation accuracy 0.930, parameters 4689\nclass Model(nn.Module):")


def torch_gemma(config: DecoderConfig, params: dict):
    """transformers' Gemma3ForCausalLM holding our weights (Gemma's norms stored as w, used as 1 + w)."""
    import torch
    import transformers

    hf = transformers.Gemma3TextConfig(
        vocab_size=config.vocab_size, hidden_size=config.dim, intermediate_size=config.ffn_dim,
        num_hidden_layers=config.n_layers, num_attention_heads=config.n_heads,
        num_key_value_heads=config.n_kv_heads, head_dim=config.head_dim, sliding_window=config.sliding_window,
        layer_types=["full_attention" if g else "sliding_attention" for g in config.global_layers],
        query_pre_attn_scalar=round(config.query_scale ** -2), rms_norm_eps=config.norm_eps,
        max_position_embeddings=32768, tie_word_embeddings=True)
    model = transformers.Gemma3ForCausalLM(hf).eval()
    p, layers = params["params"], params["params"]["layers"]
    names = {"wq": "self_attn.q_proj", "wk": "self_attn.k_proj", "wv": "self_attn.v_proj", "wo": "self_attn.o_proj",
             "w_gate": "mlp.gate_proj", "w_up": "mlp.up_proj", "w_down": "mlp.down_proj"}
    norms = {"attn_norm": "input_layernorm", "q_norm": "self_attn.q_norm", "k_norm": "self_attn.k_norm",
             "post_attn_norm": "post_attention_layernorm", "ffn_norm": "pre_feedforward_layernorm",
             "post_ffn_norm": "post_feedforward_layernorm"}
    state = {"model.embed_tokens.weight": p["embedding"], "model.norm.weight": p["final_norm"] - 1}
    for i in range(config.n_layers):
        state.update({f"model.layers.{i}.{hf_name}.weight": layers[ours]["kernel"][i].T
                      for ours, hf_name in names.items()})
        state.update({f"model.layers.{i}.{hf_name}.weight": layers[ours][i] - 1 for ours, hf_name in norms.items()})
    model.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()}, strict=False)
    return model


def time_ours(sampler: Sampler, rows: int, new_tokens: int) -> float:
    sampler.generate([PROMPT], n=rows, temperature=0.8, max_new_tokens=new_tokens)  # compile this bucket
    start = time.perf_counter()
    sampler.generate([PROMPT], n=rows, temperature=0.8, max_new_tokens=new_tokens, key=jax.random.key(1))
    return time.perf_counter() - start


def time_torch(model, tokenizer_ids: list[int], rows: int, new_tokens: int) -> float:
    import torch

    ids = torch.tensor([tokenizer_ids] * rows)
    kwargs = dict(do_sample=True, temperature=0.8, top_p=0.95, top_k=64, max_new_tokens=new_tokens,
                  min_new_tokens=new_tokens)
    with torch.no_grad():
        model.generate(ids, max_new_tokens=4, min_new_tokens=4, do_sample=False)
        start = time.perf_counter()
        model.generate(ids, **kwargs)
    return time.perf_counter() - start


def llama_cpp_rate(new_tokens: int) -> float | None:
    """Tokens/s of llama.cpp at batch 1 on the GGUF itself (EOS suppressed so every token is generated)."""
    try:
        from llama_cpp import Llama
    except ImportError:
        return None
    llm = Llama(model_path=str(embedded_gguf()), n_threads=2, verbose=False, n_ctx=1024)
    llm(PROMPT, max_tokens=4)
    no_eos = {int(llm.token_eos()): -1e9}
    start = time.perf_counter()
    out = llm(PROMPT, max_tokens=new_tokens, temperature=0.8, top_p=0.95, top_k=64, logit_bias=no_eos)
    return out["usage"]["completion_tokens"] / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--new-tokens", type=int, default=256, help="a search samples 300-400 per child")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 16])
    args = parser.parse_args()
    import torch

    torch.set_num_threads(2)
    config, params, tokenizer = load_checkpoint()
    samplers = {"ours": Sampler(config, params, tokenizer, vocab=code_vocabulary(
        tokenizer, (config.bos_id, config.pad_id, *config.eos_ids))),
        "ours, whole vocabulary": Sampler(config, params, tokenizer)}
    sampler = samplers["ours"]
    model = torch_gemma(config, params)
    ids = sampler.encode(PROMPT)
    print(f"Gemma-3-270M, prompt {len(ids)} tokens, {args.new_tokens} new tokens, backend {jax.default_backend()}")
    print(f"{'':40} {'seconds':>8} {'tokens/s':>9}")
    rates: dict[str, float] = {}
    for rows in args.batches:
        timings = [(f"{name}, batch {rows}", time_ours(s, rows, args.new_tokens)) for name, s in samplers.items()]
        timings.append((f"transformers, batch {rows}", time_torch(model, ids, rows, args.new_tokens)))
        for label, seconds in timings:
            rates[label] = rows * args.new_tokens / seconds
            print(f"{label:40} {seconds:8.2f} {rates[label]:9.1f}")
    llama = llama_cpp_rate(args.new_tokens)
    if llama is None:
        print("llama.cpp: not installed (pip install llama-cpp-python builds it, ~7 min)")
    else:
        rates["llama.cpp, batch 1"] = llama
        print(f"{'llama.cpp, batch 1':40} {args.new_tokens / llama:8.2f} {llama:9.1f}")
    vs_torch = {rows: rates[f"ours, batch {rows}"] / rates[f"transformers, batch {rows}"] for rows in args.batches}
    for rows, ratio in vs_torch.items():
        print(f"ratio ours / transformers at batch {rows}: {ratio:.2f}  (goal >= 1 at 16)")
    vs_llama = None
    if "llama.cpp, batch 1" in rates and 1 in args.batches:
        vs_llama = {name: rates[f"{name}, batch 1"] / rates["llama.cpp, batch 1"] for name in samplers}
        for name, ratio in vs_llama.items():
            print(f"ratio {name} / llama.cpp at batch 1: {ratio:.2f}  (goal >= 0.5)")
    print(json.dumps({"prompt_tokens": len(ids), "new_tokens": args.new_tokens,
                      "ratio_vs_transformers": {rows: round(r, 3) for rows, r in vs_torch.items()},
                      "ratio_vs_llama_cpp": {k: round(r, 3) for k, r in vs_llama.items()} if vs_llama else None,
                      "tokens_per_s": {k: round(r, 2) for k, r in rates.items()}}))


if __name__ == "__main__":
    main()
