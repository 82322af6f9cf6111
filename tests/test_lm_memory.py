"""The LM's memory plan, on the embedded Gemma-3-270M: the tuning estimate bounds what XLA's compiled step
holds, a tuning batch split into backward passes gives the same gradient as one pass, and a search that
cannot fit `lm.memory_gb` is refused before anything is written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from evojax_nas.lm.decoder import Decoder
from evojax_nas.lm.memory import MemoryBudgetError, plan_memory, sample_bytes, tune_bytes
from evojax_nas.lm.soft_prompt import Example, weighted_nll

ROOT = Path(__file__).resolve().parents[1]


# One process loads the LM for this module (a module fixture): under `-n 2 --dist loadgroup` not both
pytestmark = pytest.mark.xdist_group("lm_memory")


@pytest.fixture(scope="module")
def lm():
    from evojax_nas.lm.backends import LocalLM

    return LocalLM()


def test_tuning_estimate_bounds_the_compiled_step(lm):
    """XLA's own figure for the compiled backward pass (2 rows of 768 tokens, 192 scored) is under the
    estimate, and the estimate is not so loose that it wastes the budget."""
    sampler = lm.sampler
    model = Decoder(sampler.config, remat=True)
    rows, length, window = 2, 768, 192
    step = jax.jit(jax.value_and_grad(weighted_nll, argnums=4), static_argnums=(0, 9))
    compiled = step.lower(model, sampler.params, sampler.weights["output"], lm.tuner.label_of,
                          lm.tuner.state.embeddings, jnp.zeros((rows, length), jnp.int32),
                          jnp.full((rows,), length // 2, jnp.int32), jnp.full((rows,), length, jnp.int32),
                          jnp.ones((rows,)), window).compile()
    held = compiled.memory_analysis().temp_size_in_bytes
    estimate = tune_bytes(sampler.config, lm.sampled_vocab, rows, length, window, lm.n_virtual_tokens)
    assert held <= estimate <= 2.5 * held, (held, estimate)


def test_sampling_estimate_bounds_the_compiled_calls(lm):
    """The prompts' cache the prefill returns, the rows' caches and the decode loop's temporaries, as XLA
    counts them for 2 prompts x 4 rows, are under the estimate."""
    s = lm.sampler
    prompts, n, length, new = 2, 4, 256, 64
    rows, total = prompts * n, length + lm.n_virtual_tokens
    prefill = s._prefill.lower(s, s.params, jnp.zeros((prompts, length), jnp.int32), jnp.ones((prompts, length), bool),
                               lm.tuner.state.embeddings).compile().memory_analysis()
    temps = jnp.zeros((rows,))
    state = jax.eval_shape(lambda: s._fan_out(s.weights, jnp.zeros((prompts, s.config.dim)),
                                              jnp.zeros((prompts, total), jnp.int32), temps, temps,
                                              jax.random.key(0), n, new))
    cache = [(jax.ShapeDtypeStruct((prompts, total, s.config.n_kv_heads, s.config.head_dim), jnp.float32),) * 2
             for _ in range(s.config.n_layers)]
    decode = s._decode.lower(s, s.weights, cache, jax.ShapeDtypeStruct((prompts, total), jnp.int32), state, temps,
                             temps, s.chunk).compile().memory_analysis()
    held = prefill.output_size_in_bytes + decode.temp_size_in_bytes + decode.output_size_in_bytes
    estimate = sample_bytes(s.config, lm.sampled_vocab, prompts, n, total, new)
    assert max(held, prefill.temp_size_in_bytes) <= estimate, (held, estimate)


def test_split_backward_passes_give_the_one_pass_gradient(lm):
    tuner = lm.tuner
    examples = [Example("import jax\n\n\ndef f(x):\n", "    return x * 2\n", 1.0),
                Example("def add(a, b):\n", "    return a + b\n", 0.5),
                Example("class Model:\n", "    pass\n", 2.0)]
    rows = tuner.rows(examples)
    grads = []
    for per_pass in (3, 2, 1):
        tuner.rows_per_step = per_pass
        pieces = tuner._pieces(rows)
        assert len(pieces) == -(-3 // per_pass)
        grads.append(sum(np.asarray(tuner._nll_grad(*args)[1]) for args in pieces))
    tuner.rows_per_step = None
    for g in grads[1:]:
        np.testing.assert_allclose(g, grads[0], rtol=2e-4, atol=1e-6)


def test_plan_sizes_batches_to_the_budget(lm):
    config, vocab = lm.sampler.config, lm.sampled_vocab
    shape = dict(prompts=10, n=16, prompt_tokens=1024, new_tokens=400, tune_batch=16, tune_tokens=1536,
                 tune_window=416, n_virtual_tokens=16)
    roomy, tight = plan_memory(config, vocab, 64, **shape), plan_memory(config, vocab, 5, **shape)
    assert (roomy.prompts_per_call, roomy.tune_rows) == (10, 16)
    assert 1 <= tight.prompts_per_call < 10 and 1 <= tight.tune_rows < 16
    assert tight.sample_peak <= 5 * 2**30 and tight.tune_peak <= 5 * 2**30
    with pytest.raises(MemoryBudgetError, match="lm.memory_gb=2 is too small"):
        plan_memory(config, vocab, 2, **shape)


def test_a_config_too_large_for_the_budget_is_refused_before_anything_is_written(tmp_path):
    """The paper's settings with a 2.5 GB budget: `evonas search` exits with the reason, and the run
    directory is never created."""
    config = tmp_path / "configs" / "too_large.py"
    config.parent.mkdir()
    config.write_text(f"from evojax_nas.config import load_config\n\n\ndef get_config():\n"
                      f"    config = load_config('{ROOT}/configs/mnist1d_evoprompting.py')\n"
                      f"    config.lm.memory_gb = 2.5\n    return config\n")
    workdir = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "evojax_nas.cli", "search", "--config", str(config), "--workdir",
                           str(workdir)], capture_output=True, text=True, timeout=600)
    assert done.returncode != 0
    assert "lm.memory_gb=2.5 is too small" in done.stderr and "Raise lm.memory_gb" in done.stderr
    assert not workdir.exists()
