"""Our Flax decoder against transformers' PyTorch models on the same (tiny, random) weights. torch and
transformers are imported where used: at module level every pytest process paid 9 s collecting this file."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from evojax_nas.lm.decoder import Decoder, decode_layers, layer_params, make_cache, write_cache
from evojax_nas.lm.weights import load_hf

TINY = {
    "gemma3": ("Gemma3TextConfig", "Gemma3ForCausalLM", dict(
        head_dim=32, num_hidden_layers=6, num_attention_heads=4, num_key_value_heads=1, sliding_window=8,
        query_pre_attn_scalar=24)),
    "llama": ("LlamaConfig", "LlamaForCausalLM", dict(
        num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=False)),
    "qwen2": ("Qwen2Config", "Qwen2ForCausalLM", dict(
        num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2)),
}


@pytest.fixture(scope="module", params=sorted(TINY))
def tiny(request, tmp_path_factory):
    """A tiny random checkpoint saved with save_pretrained, the torch model, and our loaded copy."""
    import torch
    import transformers

    config_name, model_name, extra = TINY[request.param]
    config_cls, model_cls = getattr(transformers, config_name), getattr(transformers, model_name)
    torch.manual_seed(0)
    model = model_cls(config_cls(vocab_size=300, hidden_size=64, intermediate_size=128, **extra)).eval()
    with torch.no_grad():
        for p in model.parameters():  # random norms too, so (1 + w) conventions are exercised
            p.normal_(0, 0.2)
    folder = tmp_path_factory.mktemp(request.param)
    model.save_pretrained(folder)
    config, params = load_hf(folder)
    return request.param, model, config, params


def forward(config, params, tokens, positions=None):
    """Full-sequence logits through an empty cache of the sequence's length."""
    b, t = tokens.shape
    positions = jnp.broadcast_to(jnp.arange(t), (b, t)) if positions is None else positions
    decoder = Decoder(config)
    embeds = decoder.apply(params, tokens, method=Decoder.embed)
    hidden, new_kv = decoder.apply(params, embeds, positions, make_cache(config, b, 0), jnp.zeros((b, 0), int))
    return decoder.apply(params, hidden, method=Decoder.logits), new_kv


def test_logits_equal_transformers(tiny):
    import torch

    name, model, config, params = tiny
    tokens = np.random.default_rng(0).integers(0, 300, (2, 24))
    with torch.no_grad():
        expected = model(torch.from_numpy(tokens)).logits.numpy()
    got, _ = forward(config, params, jnp.asarray(tokens))
    assert config.arch == ("gemma3" if name == "gemma3" else "llama")
    np.testing.assert_allclose(np.asarray(got), expected, atol=2e-4, rtol=2e-4)


def test_cached_decoding_equals_the_full_forward(tiny):
    _, _, config, params = tiny
    tokens = jnp.asarray(np.random.default_rng(1).integers(0, 300, (2, 20)))
    full, _ = forward(config, params, tokens)
    decoder, size, split = Decoder(config), 32, 14
    positions = jnp.broadcast_to(jnp.arange(size), (2, size))
    key_positions = jnp.where(positions < split, positions, -1)
    _, new_kv = forward(config, params, tokens[:, :split])
    cache = write_cache(make_cache(config, 2, size), new_kv, 0)
    for t in range(split, 20):
        embeds = decoder.apply(params, tokens[:, t:t + 1], method=Decoder.embed)
        hidden, new_kv = decoder.apply(params, embeds, positions[:, t:t + 1], cache, key_positions)
        cache, key_positions = write_cache(cache, new_kv, t), key_positions.at[:, t].set(t)
        step = decoder.apply(params, hidden[:, 0], method=Decoder.logits)
        np.testing.assert_allclose(np.asarray(step), np.asarray(full[:, t]), atol=2e-4, rtol=2e-4)


def test_shared_prompt_decoding_equals_the_full_forward(tiny):
    """What the sampler runs: prompts prefilled once, then n rows per prompt decoded one token at a time,
    each attending to its prompt's shared cache and to its own (in place) cache."""
    _, _, config, params = tiny
    prompts, n, prompt_len, steps = 2, 2, 12, 6  # 18 positions: Gemma's sliding window (8) is crossed
    rng = np.random.default_rng(4)
    prompt_tokens = rng.integers(0, 300, (prompts, prompt_len))
    row_tokens = rng.integers(0, 300, (prompts * n, steps))
    full, _ = forward(config, params, jnp.asarray(np.concatenate([np.repeat(prompt_tokens, n, 0), row_tokens], 1)))
    _, new_kv = forward(config, params, jnp.asarray(prompt_tokens))
    prompt_positions = jnp.broadcast_to(jnp.arange(prompt_len), (prompts, prompt_len))
    empty = jnp.zeros((prompts * n, steps, config.n_kv_heads, config.head_dim))
    cache, key_positions = [(empty, empty)] * config.n_layers, jnp.full((prompts * n, steps), -1)
    decoder, layers = Decoder(config), layer_params(params, config.n_layers)
    for t in range(steps):
        embeds = decoder.apply(params, jnp.asarray(row_tokens[:, t:t + 1]), method=Decoder.embed)
        key_positions = key_positions.at[:, t].set(prompt_len + t)
        hidden, cache = decode_layers(config, jnp.float32, layers, params["params"]["final_norm"], embeds,
                                      jnp.full((prompts * n, 1), prompt_len + t), list(zip(*new_kv, strict=True)),
                                      prompt_positions, cache, key_positions, jnp.asarray(t))
        step = decoder.apply(params, hidden[:, 0], method=Decoder.logits)
        np.testing.assert_allclose(np.asarray(step), np.asarray(full[:, prompt_len + t]), atol=2e-4, rtol=2e-4)


def test_left_padding_does_not_change_logits(tiny):
    _, _, config, params = tiny
    tokens = jnp.asarray(np.random.default_rng(2).integers(1, 300, (1, 12)))
    plain, _ = forward(config, params, tokens)
    padded_tokens = jnp.concatenate([jnp.zeros((1, 5), tokens.dtype), tokens], axis=1)
    positions = jnp.concatenate([jnp.full((1, 5), -1), jnp.arange(12)[None]], axis=1)
    padded, _ = forward(config, params, padded_tokens, positions)
    np.testing.assert_allclose(np.asarray(padded[:, 5:]), np.asarray(plain), atol=2e-4, rtol=2e-4)


def test_jitted_forward_matches(tiny):
    _, _, config, params = tiny
    tokens = jnp.asarray(np.random.default_rng(3).integers(0, 300, (2, 16)))
    eager, _ = forward(config, params, tokens)
    jitted, _ = jax.jit(lambda p, t: forward(config, p, t))(params, tokens)
    np.testing.assert_allclose(np.asarray(jitted), np.asarray(eager), atol=1e-5, rtol=1e-5)
