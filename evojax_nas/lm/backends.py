"""Language models behind one interface: generate(prompts, n, temperature, max_new_tokens, stop, seed).

LocalLM runs our Flax decoder in-process and can be soft prompt-tuned; OpenAIClient talks to any
OpenAI-compatible server (vLLM, llama.cpp's server, `evonas serve-lm`) and cannot be tuned."""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jax

log = logging.getLogger("evojax_nas")


class LMError(RuntimeError):
    """A language model could not answer (server down, timed out, malformed reply)."""


class LocalLM:
    """The in-process Flax decoder (default: the embedded Gemma-3-270M), with an optional soft prompt.

    Its batches are sized to `memory_gb` (0: what the machine can spare at start): a sampling call is split
    into groups of prompts, a tuning batch into backward passes of fewer rows (see `lm.memory`)."""

    def __init__(self, settings: Mapping[str, Any] | None = None, chunk: int = 16):
        """settings: a config's `lm` section (checkpoint, n_virtual_tokens, learning_rate, top_p, top_k,
        code_vocab, memory_gb); what it does not give is configs/default.py's. code_vocab: sample only tokens
        seen in Python source (`lm.vocab.code_vocabulary`), which makes each decode step cheaper; False samples
        from the whole vocabulary."""
        from evojax_nas.config import defaults
        from evojax_nas.lm.checkpoints import load_checkpoint
        from evojax_nas.lm.memory import available_gb
        from evojax_nas.lm.sampler import Sampler
        from evojax_nas.lm.soft_prompt import SoftPromptTuner
        from evojax_nas.lm.vocab import code_vocabulary

        s = {**defaults().lm.to_dict(), **(settings or {})}
        self.memory_gb = s["memory_gb"] or round(0.8 * available_gb(), 1)
        config, params, tokenizer = load_checkpoint(s["checkpoint"])
        special = (config.bos_id, config.pad_id, *config.eos_ids)
        vocab = code_vocabulary(tokenizer, special) if s["code_vocab"] else None
        self.sampler = Sampler(config, params, tokenizer, top_k=s["top_k"], chunk=chunk, vocab=vocab)
        self.sampled_vocab = config.vocab_size if vocab is None else len(vocab)
        self.top_p, self.n_virtual_tokens = s["top_p"], s["n_virtual_tokens"]
        self.tuner = SoftPromptTuner(self.sampler, s["n_virtual_tokens"], s["learning_rate"])
        self._said: set[str] = set()

    def plan(self, *, prompts: int, n: int, prompt_tokens: int, new_tokens: int, tune_batch: int = 1,
             tune_tokens: int = 0, tune_window: int = 0, tuning: bool = False):
        """The MemoryPlan of this LM for batches of these shapes (MemoryBudgetError if none fits)."""
        from evojax_nas.lm.memory import plan_memory

        return plan_memory(self.sampler.config, self.sampled_vocab, self.memory_gb, prompts=prompts, n=n,
                           prompt_tokens=prompt_tokens, new_tokens=new_tokens, tune_batch=tune_batch,
                           tune_tokens=tune_tokens, tune_window=tune_window, n_virtual_tokens=self.n_virtual_tokens,
                           tuning=tuning)

    def count_tokens(self, text: str) -> int:
        return len(self.sampler.encode(text))

    def _say(self, text: str) -> None:
        if text not in self._said:  # the log says each new batching once
            self._said.add(text)
            log.info(text)

    def generate(self, prompts: Sequence[str], n: int = 1, temperature: float | Sequence[float] = 0.8,
                 max_new_tokens: int = 256, stop: Sequence[str] = (), seed: int = 0) -> list[list[str]]:
        """Sample with the soft prompt once it has been tuned (before that, the plain model), in as many
        calls as the memory budget needs (the key of group g is folded with g)."""
        from evojax_nas.lm.sampler import length_bucket

        prefix = self.tuner.state.embeddings if self.tuner.state.steps else None
        temps = list(temperature) if isinstance(temperature, Sequence) else [temperature] * len(prompts)
        longest = length_bucket(max(map(self.count_tokens, prompts)) + self.n_virtual_tokens)
        per_call = self.plan(prompts=len(prompts), n=n, prompt_tokens=longest,
                             new_tokens=max_new_tokens).prompts_per_call
        if per_call < len(prompts):
            self._say(f"sampling {len(prompts)} prompts x {n} in groups of {per_call} prompts "
                      f"(lm.memory_gb={self.memory_gb:g})")
        out: list[list[str]] = []
        for g, start in enumerate(range(0, len(prompts), per_call)):
            key = jax.random.key(seed) if per_call >= len(prompts) else jax.random.fold_in(jax.random.key(seed), g)
            out += self.sampler.generate(prompts[start: start + per_call], n, temps[start: start + per_call],
                                         max_new_tokens, stop, key, self.top_p, prefix)
        return out

    def tune(self, examples, epochs: int = 5, batch_size: int = 16, seed: int = 0) -> dict[str, float]:
        """Soft prompt-tune on (prompt, completion, weight) examples, backpropagating as many rows at once as
        the memory budget allows."""
        from evojax_nas.lm.memory import MemoryBudgetError

        if not examples:
            return {"steps": 0}
        rows = self.tuner.rows(examples)
        shape = {"prompts": 1, "n": 1, "prompt_tokens": 64, "new_tokens": 16, "tune_batch": min(batch_size,
                 len(examples)), "tune_tokens": rows.tokens.shape[1], "tune_window": rows.window, "tuning": True}
        while True:
            try:
                plan = self.plan(**shape)
                break
            except MemoryBudgetError:  # rows longer than the search planned for: cut them (prompts lose their start)
                if self.tuner.max_length <= 256:
                    raise
                self.tuner.max_length = int(self.tuner.max_length * 0.8)
                shape["tune_tokens"] = min(shape["tune_tokens"], self.tuner.max_length)
                log.warning("prompt-tuning rows cut to %d tokens to fit lm.memory_gb=%g", self.tuner.max_length,
                            self.memory_gb)
        self.tuner.rows_per_step = plan.tune_rows
        self._say(f"prompt-tuning batches of {shape['tune_batch']} rows of {shape['tune_tokens']} tokens, "
                  f"{plan.tune_rows} per backward pass (estimated peak {plan.tune_peak / 2**30:.1f} GB of "
                  f"lm.memory_gb={self.memory_gb:g})")
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
