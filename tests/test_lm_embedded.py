"""The embedded Gemma-3-270M: tokenizer, sampling, soft prompt-tuning, and the OpenAI-compatible server."""

import socket
import threading

import jax.numpy as jnp
import numpy as np
import pytest

from evojax_nas.lm.backends import LMError, LocalLM, OpenAIClient
from evojax_nas.lm.sampler import Sampler, length_bucket
from evojax_nas.lm.server import serve
from evojax_nas.lm.soft_prompt import Example, SoftPromptTuner

CODE = "def add(a, b):\n    return"


# One process loads the LM for this module (a module fixture): under `-n 2 --dist loadgroup` not both
pytestmark = pytest.mark.xdist_group("lm_embedded")


@pytest.fixture(scope="module")
def lm():
    return LocalLM()


def test_tokenizer_round_trips_code(lm):
    tok = lm.sampler.tokenizer
    for text in ["import flax.linen as nn\n\n\nclass Model(nn.Module):\n    @nn.compact\n",
                 "\tx = jnp.mean(x, axis=(1, 2))  # ünïcödé ✓\n", "    " * 5 + "return x\n\n"]:
        ids = tok.encode(text, add_special_tokens=False).ids
        assert tok.decode(ids) == text and len(ids) < len(text)
    assert len(tok.encode("        ", add_special_tokens=False).ids) == 1  # runs of spaces are one piece


def test_greedy_output_is_stable_and_sensible(lm):
    first = lm.generate([CODE], n=2, temperature=0.0, max_new_tokens=8)
    again = lm.generate([CODE], n=1, temperature=0.0, max_new_tokens=8)
    assert first[0][0] == first[0][1] == again[0][0]
    assert first[0][0].strip().startswith("a + b")


def test_batched_sampling_with_per_row_temperatures(lm):
    prompts = [CODE, "import jax.numpy as jnp\n\n\ndef relu(x):\n"]
    out = lm.generate(prompts, n=3, temperature=[0.0, 1.2], max_new_tokens=24, seed=1)
    assert len(out) == 2 and all(len(row) == 3 for row in out)
    assert len(set(out[0])) == 1  # greedy row: identical samples
    assert len(set(out[1])) >= 2  # hot row: different samples
    assert out == lm.generate(prompts, n=3, temperature=[0.0, 1.2], max_new_tokens=24, seed=1)
    assert out[1] != lm.generate(prompts, n=3, temperature=[0.0, 1.2], max_new_tokens=24, seed=2)[1]
    alone = lm.generate([CODE], n=1, temperature=0.0, max_new_tokens=24)[0][0]
    assert alone == out[0][0]  # left padding in a batch does not change a row


def test_code_vocabulary_keeps_greedy_code_and_every_byte(lm):
    sampler = lm.sampler
    vocab = np.asarray(sampler.weights["vocab"])
    pieces = sampler.tokenizer.get_vocab()
    assert len(vocab) < sampler.config.vocab_size // 5  # the head shrinks over five-fold
    assert set(sampler.config.eos_ids) <= set(vocab.tolist())
    assert all(pieces[f"<0x{b:02X}>"] in vocab for b in range(256))  # any text can still be written
    whole = Sampler(sampler.config, sampler.params, sampler.tokenizer)  # samples from all 262k tokens
    prompt = "import flax.linen as nn\n\n\nclass Model(nn.Module):\n    @nn.compact\n    def __call__(self, x):\n"
    assert lm.generate([prompt], n=1, temperature=0.0, max_new_tokens=40) == whole.generate(
        [prompt], n=1, temperature=0.0, max_new_tokens=40)


def test_length_buckets_pad_at_most_a_quarter():
    sizes = [length_bucket(n) for n in range(1, 3000)]
    assert all(n <= b <= max(64, 1.25 * n) for n, b in zip(range(1, 3000), sizes, strict=True))
    assert len(set(sizes)) <= 4 * 6 + 1  # four compiled shapes per doubling


def test_stop_strings_cut_the_text(lm):
    out = lm.generate(["class Model:\n    def"], n=2, temperature=0.7, max_new_tokens=40, stop=["\n"], seed=3)
    assert all("\n" not in text for text in out[0])


def test_soft_prompt_tuning_lowers_loss_and_round_trips(lm, tmp_path):
    tuner = SoftPromptTuner(lm.sampler, n_virtual_tokens=4, learning_rate=0.05)
    examples = [Example("# a tiny MLP\n", "class Model(nn.Module):\n    hidden: int = 32\n", 1.0),
                Example("# a tiny CNN\n", "class Model(nn.Module):\n    channels: int = 8\n", 0.5)]
    metrics = tuner.tune(examples, epochs=3, batch_size=2)
    assert metrics["steps"] == 3 and metrics["loss_after"] < metrics["loss_before"]
    tuner.save(tmp_path / "soft_prompt")
    fresh = SoftPromptTuner(lm.sampler, n_virtual_tokens=4, learning_rate=0.05)
    fresh.restore(tmp_path / "soft_prompt")
    np.testing.assert_array_equal(np.asarray(fresh.state.embeddings), np.asarray(tuner.state.embeddings))
    assert fresh.state.steps == 3 and fresh.loss(examples) == pytest.approx(metrics["loss_after"], rel=1e-5)
    tuned = lm.sampler.generate([CODE], 1, 0.0, 8, soft_prompt=fresh.state.embeddings)
    assert isinstance(tuned[0][0], str) and jnp.isfinite(fresh.state.embeddings).all()


def test_client_against_serve_lm(lm):
    server = serve(lm, port=0)
    try:
        client = OpenAIClient(f"http://127.0.0.1:{server.server_port}", model="evonas")
        remote = client.generate([CODE], n=1, temperature=0.0, max_new_tokens=8)
        assert remote == lm.generate([CODE], n=1, temperature=0.0, max_new_tokens=8)
        chat = OpenAIClient(f"http://127.0.0.1:{server.server_port}", chat=True)
        assert len(chat.generate([CODE], n=2, temperature=0.8, max_new_tokens=4)[0]) == 2
        with pytest.raises(LMError, match="HTTP 400"):
            client.generate([CODE], n=1000)
    finally:
        server.shutdown()


def test_dead_or_slow_server_is_a_clear_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]  # closed again: nothing listens there
    with pytest.raises(LMError, match="failed after 2 attempts"):
        OpenAIClient(f"http://127.0.0.1:{dead_port}", retries=1, backoff_s=0.01).generate(["x"])
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()  # accepts connections, never answers
    held = []
    threading.Thread(target=lambda: held.append(silent.accept()), daemon=True).start()
    try:
        client = OpenAIClient(f"http://127.0.0.1:{silent.getsockname()[1]}", timeout_s=1, retries=0)
        with pytest.raises(LMError, match="timed out|Timeout"):
            client.generate(["x"])
    finally:
        silent.close()
