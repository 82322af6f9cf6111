"""The LM's memory plan: how many prompts one sampling call takes and how many rows one tuning step
backpropagates through, sized to `lm.memory_gb`; a search whose smallest step cannot fit is refused up front.

Every figure is an upper estimate in bytes, term by term, of what the compiled programs hold at their peak
(checked against XLA's own `memory_analysis` of the compiled programs in tests/test_lm_memory.py)."""

from __future__ import annotations

import dataclasses
import os

from evojax_nas.lm.decoder import DecoderConfig

F32 = 4
# Python, the jax runtime, the tokenizer (~260k pieces) and the compiled programs, measured as the RSS
# of a process holding the embedded LM minus its weights (2.1 GB - 1.5 GB here), rounded up.
RUNTIME_BYTES = 1 << 30
SAFETY = 1.25  # allocator slack and fragmentation over the exact sum of live arrays


class MemoryBudgetError(ValueError):
    """The smallest step of sampling or prompt-tuning does not fit the memory budget."""


def available_gb() -> float:
    """What this machine can spare now: MemAvailable (Linux), else 70 % of physical memory."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return 0.7 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30


def params_per_layer(config: DecoderConfig) -> int:
    c = config
    attn = c.dim * (c.n_heads + 2 * c.n_kv_heads) * c.head_dim + c.n_heads * c.head_dim * c.dim
    return attn + 3 * c.dim * c.ffn_dim + 4 * c.dim + 2 * c.head_dim


def resident_bytes(config: DecoderConfig, sampled_vocab: int) -> int:
    """Weights as the sampler holds them: stacked (prefill, tuning), per layer (decoding), the output rows
    of the sampled vocabulary; plus the runtime."""
    embedding = config.vocab_size * config.dim * (1 if config.tie_embeddings else 2)
    layers = config.n_layers * params_per_layer(config)
    return RUNTIME_BYTES + F32 * (embedding + 2 * layers + sampled_vocab * config.dim)


def sample_bytes(config: DecoderConfig, sampled_vocab: int, prompts: int, n: int, prompt_tokens: int,
                 new_tokens: int) -> int:
    """Peak of one sampling call: the prompts' cache (stacked as the prefill returns it, and per layer),
    the prefill's largest layer, the rows' own caches (twice) and one decode step."""
    c = config
    per_token_kv = c.n_layers * c.n_kv_heads * c.head_dim * 2 * F32
    prompt_cache = 2 * prompts * prompt_tokens * per_token_kv
    prefill = prompts * F32 * (3 * c.n_heads * prompt_tokens**2 + 3 * prompt_tokens * c.ffn_dim
                               + 8 * prompt_tokens * c.dim)
    rows = prompts * n
    # The rows' caches, and the decode loop's working copy of them (XLA: 1.5 GB of temporaries beside 2.3 GB
    # of caches for 160 rows of 416 tokens; measured peak 9.0 GB RSS for the paper's 10 x 16 rows).
    rows_cache = 2 * rows * new_tokens * per_token_kv
    decode = rows * F32 * (2 * sampled_vocab + 4 * c.n_heads * (prompt_tokens + new_tokens) + 4 * c.ffn_dim)
    return int(SAFETY * (prompt_cache + max(prefill, rows_cache + decode)))


def tune_bytes(config: DecoderConfig, scored_vocab: int, rows: int, tokens: int, window: int,
               n_virtual_tokens: int) -> int:
    """Peak of one tuning step over `rows` rows of `tokens` tokens, `window` of them scored: with each layer
    rematerialised, the backward pass holds every layer's input and one layer's activations at a time."""
    c = config
    t = tokens + n_virtual_tokens
    carries = c.n_layers * t * c.dim
    layer = (2 * c.n_heads * t * t + 3 * t * (c.n_heads + 2 * c.n_kv_heads) * c.head_dim
             + 3 * t * c.ffn_dim + 8 * t * c.dim)
    logits = 2 * window * scored_vocab  # and their gradient
    return int(SAFETY * F32 * rows * (carries + layer + logits + 2 * t * c.dim))


@dataclasses.dataclass(frozen=True)
class MemoryPlan:
    """Batch sizes that fit the budget, with the peaks they imply."""

    budget_bytes: int
    resident_bytes: int
    prompts_per_call: int  # prompts (each with its n samples) per sampling call
    tune_rows: int  # rows per backward pass (a tuning batch is several, gradients summed)
    sample_peak: int
    tune_peak: int

    def describe(self) -> str:
        gb = lambda b: f"{b / 2**30:.1f} GB"  # noqa: E731
        return (f"LM memory plan within {gb(self.budget_bytes)}: weights and runtime {gb(self.resident_bytes)}; "
                f"sampling {self.prompts_per_call} prompt(s) per call, peak {gb(self.sample_peak)}; "
                f"prompt-tuning {self.tune_rows} row(s) per backward pass, peak {gb(self.tune_peak)}")


def plan_memory(config: DecoderConfig, sampled_vocab: int, budget_gb: float, *, prompts: int, n: int,
                prompt_tokens: int, new_tokens: int, tune_batch: int, tune_tokens: int, tune_window: int,
                n_virtual_tokens: int, tuning: bool = True) -> MemoryPlan:
    """The largest batches (up to those asked for) that fit `budget_gb`; MemoryBudgetError, saying what
    would fit, when even one prompt or one tuning row does not."""
    budget = int(budget_gb * 2**30)
    resident = resident_bytes(config, sampled_vocab)
    room = budget - resident

    def fitting(limit: int, cost) -> int:
        return next((k for k in range(limit, 0, -1) if cost(k) <= room), 0)

    per_call = fitting(prompts, lambda k: sample_bytes(config, sampled_vocab, k, n, prompt_tokens, new_tokens))
    rows = fitting(tune_batch, lambda k: tune_bytes(config, sampled_vocab, k, tune_tokens, tune_window,
                                                    n_virtual_tokens)) if tuning else 0
    one_sample = resident + sample_bytes(config, sampled_vocab, 1, n, prompt_tokens, new_tokens)
    one_row = resident + tune_bytes(config, sampled_vocab, 1, tune_tokens, tune_window, n_virtual_tokens)
    if not per_call or (tuning and not rows):
        need = max(one_sample, one_row if tuning else 0)
        raise MemoryBudgetError(
            f"lm.memory_gb={budget_gb:g} is too small: the LM needs {need / 2**30:.1f} GB for its smallest step "
            f"(weights and runtime {resident / 2**30:.1f} GB; one prompt of ~{prompt_tokens} tokens with "
            f"{n} samples of {new_tokens} tokens: {(one_sample - resident) / 2**30:.1f} GB"
            + (f"; one tuning row of {tune_tokens} tokens: {(one_row - resident) / 2**30:.1f} GB" if tuning else "")
            + "). Raise lm.memory_gb, or lower search.samples_per_prompt or search.max_new_tokens.")
    return MemoryPlan(budget, resident, per_call, rows,
                      resident + sample_bytes(config, sampled_vocab, per_call, n, prompt_tokens, new_tokens),
                      resident + (tune_bytes(config, sampled_vocab, rows, tune_tokens, tune_window,
                                             n_virtual_tokens) if tuning else 0))
