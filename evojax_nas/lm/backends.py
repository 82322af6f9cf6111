"""Language models behind one interface: generate(prompts, n, temperature, max_new_tokens, stop, seed).

LocalLM runs our Flax decoder in-process and can be soft prompt-tuned; OpenAIClient talks to any
OpenAI-compatible server (vLLM, llama.cpp's server, `evonas serve-lm`) and cannot be tuned."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import jax


class LMError(RuntimeError):
    """A language model could not answer (server down, timed out, malformed reply)."""


@runtime_checkable
class LanguageModel(Protocol):
    """What the search needs from an LM."""

    supports_tuning: bool

    def generate(self, prompts: Sequence[str], n: int = 1, temperature: float | Sequence[float] = 0.8,
                 max_new_tokens: int = 256, stop: Sequence[str] = (), seed: int = 0) -> list[list[str]]:
        """n completions for each prompt (one temperature, or one per prompt)."""
        ...


class LocalLM:
    """The in-process Flax decoder (default: the embedded Gemma-3-270M), with an optional soft prompt."""

    supports_tuning = True

    def __init__(self, checkpoint: str | None = None, n_virtual_tokens: int = 16, learning_rate: float = 0.1,
                 top_p: float = 0.95, top_k: int = 64, chunk: int = 16, code_vocab: bool = True):
        """code_vocab: sample only tokens seen in Python source (`lm.vocab.code_vocabulary`), which makes
        each decode step cheaper; False samples from the whole vocabulary."""
        from evojax_nas.lm.checkpoints import EMBEDDED, load_checkpoint
        from evojax_nas.lm.sampler import Sampler
        from evojax_nas.lm.soft_prompt import SoftPromptTuner
        from evojax_nas.lm.vocab import code_vocabulary

        config, params, tokenizer = load_checkpoint(checkpoint or EMBEDDED)
        special = (config.bos_id, config.pad_id, *config.eos_ids)
        vocab = code_vocabulary(tokenizer, special) if code_vocab else None
        self.sampler = Sampler(config, params, tokenizer, top_k=top_k, chunk=chunk, vocab=vocab)
        self.top_p = top_p
        self.tuner = SoftPromptTuner(self.sampler, n_virtual_tokens, learning_rate)

    def generate(self, prompts: Sequence[str], n: int = 1, temperature: float | Sequence[float] = 0.8,
                 max_new_tokens: int = 256, stop: Sequence[str] = (), seed: int = 0) -> list[list[str]]:
        """Sample with the soft prompt once it has been tuned (before that, the plain model)."""
        prefix = self.tuner.state.embeddings if self.tuner.state.steps else None
        return self.sampler.generate(prompts, n, temperature, max_new_tokens, stop, jax.random.key(seed),
                                     self.top_p, prefix)

    def tune(self, examples, epochs: int = 5, batch_size: int = 16, seed: int = 0) -> dict[str, float]:
        """Soft prompt-tune on (prompt, completion, weight) examples."""
        return self.tuner.tune(examples, epochs, batch_size, seed)

    def state_tree(self) -> dict[str, Any]:
        """The soft prompt and its optimizer state, as arrays (what a search checkpoints)."""
        return self.tuner.tree()

    def load_state_tree(self, tree: dict[str, Any]) -> None:
        self.tuner.load_tree(tree)

    def save(self, directory: str | Path) -> None:
        self.tuner.save(directory)

    def restore(self, directory: str | Path) -> None:
        self.tuner.restore(directory)


class OpenAIClient:
    """An OpenAI-compatible /v1/completions or /v1/chat/completions endpoint."""

    supports_tuning = False

    def __init__(self, base_url: str, model: str = "default", api_key: str | None = None, chat: bool = False,
                 timeout_s: float = 120.0, retries: int = 3, backoff_s: float = 1.0):
        self.base_url = base_url.rstrip("/")
        self.model, self.api_key, self.chat = model, api_key, chat
        self.timeout_s, self.retries, self.backoff_s = timeout_s, retries, backoff_s

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(f"{self.base_url}{path}", json.dumps(body).encode(), headers)
        last = "no attempt"
        for attempt in range(self.retries + 1):
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                    return json.loads(response.read())
            except urllib.error.HTTPError as err:
                last = f"HTTP {err.code}: {err.read()[:300].decode(errors='replace')}"
                if err.code not in (408, 429) and err.code < 500:
                    break  # a client error will not get better by retrying
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as err:
                last = f"{type(err).__name__}: {getattr(err, 'reason', err)}"
            except ValueError as err:
                last = f"malformed JSON reply: {err}"
            if attempt < self.retries:
                time.sleep(self.backoff_s * 2**attempt)
        raise LMError(f"LM server {self.base_url}{path} failed after {self.retries + 1} attempts: {last}")

    def generate(self, prompts: Sequence[str], n: int = 1, temperature: float | Sequence[float] = 0.8,
                 max_new_tokens: int = 256, stop: Sequence[str] = (), seed: int = 0) -> list[list[str]]:
        temps = list(temperature) if isinstance(temperature, Sequence) else [temperature] * len(prompts)
        out = []
        for i, (prompt, temp) in enumerate(zip(prompts, temps, strict=True)):
            body: dict[str, Any] = {"model": self.model, "n": n, "temperature": temp, "max_tokens": max_new_tokens,
                                    "seed": seed + i}
            if stop:
                body["stop"] = list(stop)[:4]  # the OpenAI API takes at most four
            if self.chat:
                reply = self._post("/v1/chat/completions", {**body, "messages": [{"role": "user", "content": prompt}]})
                texts = [c.get("message", {}).get("content") for c in reply.get("choices", [])]
            else:
                reply = self._post("/v1/completions", {**body, "prompt": prompt})
                texts = [c.get("text") for c in reply.get("choices", [])]
            if len(texts) != n or not all(isinstance(t, str) for t in texts):
                raise LMError(f"LM server sent {len(texts)} usable choices, expected {n}: {str(reply)[:300]}")
            out.append(texts)
        return out
