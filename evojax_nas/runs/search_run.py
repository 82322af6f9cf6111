"""A search run in a directory: config.json, data_seed (private data), candidates.jsonl, samples.jsonl,
checkpoints/, metrics/ (and metrics.jsonl), report/. Started on an empty directory; resumed from the newest
good checkpoint otherwise. Results and samples already logged are reused, so a run killed at any moment loses
no logged work and, being deterministic given its seed, ends with the population it would have had."""

from __future__ import annotations

import glob
import json
import logging
import os
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import ml_collections

from evojax_nas.evaluate import Evaluator, EvaluatorConfig
from evojax_nas.lm.base import LanguageModel, MemoryPlanned, SoftPromptTunable
from evojax_nas.programs.program import Program
from evojax_nas.runs.checkpoints import SearchCheckpoints
from evojax_nas.runs.journal import RunJournal
from evojax_nas.runs.metrics import RunMetrics
from evojax_nas.runs.report import write_report
from evojax_nas.search.base import MethodState
from evojax_nas.search.fidelity import Fidelity
from evojax_nas.search.method import check_config, method_class

log = logging.getLogger("evojax_nas")
ROOT = Path(__file__).resolve().parents[2]
DATA_SEED = "data_seed"  # the run's private data seed, in its directory
LM_KINDS = ("local", "openai", "none")  # the embedded decoder, a server, or none (the non-LM baseline)


def bind_config(config: ml_collections.ConfigDict | None, workdir: Path) -> tuple[ml_collections.ConfigDict, bool]:
    """The run's config and whether it is new: checked on the first start (run_search writes it once the
    LM's memory plan passes); on a resume the saved one, which a given config must equal (a run cannot
    change its experiment half-way)."""
    path = workdir / "config.json"
    if path.exists() and (workdir / "candidates.jsonl").exists():
        saved = json.loads(path.read_text())
        if config is not None and json.loads(config.to_json()) != saved:
            raise ValueError(f"{workdir} holds a run of another config; resume it without --config or use a new "
                             "--workdir")
        return ml_collections.ConfigDict(saved), False
    if config is None:
        raise ValueError(f"{workdir} holds no run yet: give --config")
    check_config(config.search)
    if config.lm.kind not in LM_KINDS:
        raise ValueError(f"lm.kind must be one of {LM_KINDS}, not {config.lm.kind!r}")
    if config.lm.kind == "none" and (config.search.get("method", "evoprompting") != "evoprompting"
                                     or config.search.get("operator", "lm") != "mutation"):
        raise ValueError("lm.kind='none' is for EvoPrompting with search.operator='mutation' (the non-LM "
                         "baseline) only")
    return config, True


def plan_lm_memory(lm: LanguageModel | None, config: ml_collections.ConfigDict, seeds: list[Program]) -> None:
    """Refuse (MemoryBudgetError) a search whose largest LM batches cannot fit the LM's memory budget, before
    anything is written; log the plan. A prompt is bounded by `shots` parents each as long as the longest
    seed or a whole child (max_new_tokens), plus, with retries, a failed child."""
    if not isinstance(lm, MemoryPlanned):
        return  # a server's memory is its own business (and the non-LM baseline has none)
    from evojax_nas.lm.sampler import length_bucket

    cfg = config.search
    parent_tokens = max(cfg.max_new_tokens, *(lm.count_tokens(p.source) for p in seeds))
    batches = method_class(cfg.get("method", "evoprompting")).lm_batches(cfg, parent_tokens)
    prompt_tokens = length_bucket(batches["prompt_tokens"] + lm.n_virtual_tokens)
    plan = lm.plan(prompts=batches["prompts"], n=batches["n"], prompt_tokens=prompt_tokens,
                   new_tokens=cfg.max_new_tokens, tune_batch=cfg.get("tune_batch_size", 1),
                   tune_tokens=length_bucket(prompt_tokens + cfg.max_new_tokens),
                   tune_window=length_bucket(cfg.max_new_tokens), tuning=batches["tuning"])
    log.info("%s (prompts up to %d tokens)", plan.describe(), prompt_tokens)


def load_seeds(patterns: Sequence[str]) -> list[Program]:
    """Seed programs from glob patterns, relative to the working directory or else to the project root."""
    paths: list[str] = []
    for pattern in patterns:
        found = sorted(glob.glob(pattern)) or sorted(glob.glob(str(ROOT / pattern)))
        if not found:
            raise FileNotFoundError(f"no seed program matches {pattern}")
        paths += found
    return [Program.from_file(p) for p in paths]


def make_lm(config: ml_collections.ConfigDict) -> LanguageModel | None:
    """The LM a config names: kind local (the Flax decoder, tunable), openai (a server) or none (the non-LM
    baseline, which writes its children by rule)."""
    from evojax_nas.lm.backends import LocalLM, OpenAIClient

    if config.kind == "none":
        return None
    if config.kind == "local":
        return LocalLM(config.to_dict())
    if config.kind == "openai":
        return OpenAIClient(config.base_url, config.model, chat=config.get("chat", False))
    raise ValueError(f"lm.kind must be one of {LM_KINDS}, not {config.kind!r}")


def peak_rss_gb() -> float:
    """This process's peak resident memory so far (the LM lives here; the workers are apart)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


class Progress:
    """A bar over rounds on a terminal, with what the current round is doing; log lines otherwise."""

    def __init__(self, total: int, done: int):
        from tqdm import tqdm

        self.bar = tqdm(total=total, initial=done, unit="round", dynamic_ncols=True, disable=None)

    def __call__(self, event: str, info: dict[str, Any]) -> None:
        text = {"sampling": "round {round}: sampling {rows} children (attempt {attempt})",
                "evaluated": "round {round}: evaluated {done}/{total}",
                "tuning": "round {round}: prompt-tuning on {examples} children"}[event].format(**info)
        self.bar.set_postfix_str(text)
        if event != "evaluated":
            log.info(text)

    def round_done(self, stats: dict[str, Any]) -> None:
        self.bar.update(1)
        log.info("round %d done: %s", stats["round"], json.dumps(stats))

    def close(self) -> None:
        self.bar.close()


def run_data_seed(workdir: Path, new: bool) -> int:
    """The run's private data seed: drawn when the run starts, kept in its directory (readable by its owner
    alone; no sandbox can read a run directory), read back on every resume so a run keeps its data. A new run
    keeps one already there: put another run's there to evaluate on the same data (a comparison, a replay)."""
    path = workdir / DATA_SEED
    if new and not path.exists():
        seed = secrets.randbelow(2**31)
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            f.write(f"{seed}\n")
            f.flush()
            os.fsync(f.fileno())
        return seed
    try:
        return int(path.read_text())
    except (OSError, ValueError) as err:
        raise ValueError(f"{workdir} evaluates on private data but its data seed ({path}) is missing or corrupt: "
                         "it cannot resume on the data it began with") from err


def evaluator_config(config: ml_collections.ConfigDict, workdir: Path, new: bool) -> EvaluatorConfig:
    """The search's evaluator: the config's, with the run directory (hidden from sandboxes) and the run's
    private data seed."""
    evaluation = EvaluatorConfig.from_config(config)
    evaluation.run_dir = str(workdir)
    if evaluation.data == "private":
        evaluation.data_seed = run_data_seed(workdir, new)
    return evaluation


def run_search(config: ml_collections.ConfigDict | None, workdir: str | Path, lm: LanguageModel | None = None
               ) -> MethodState:
    """Start or resume the search of `config` (EvoPrompting or LLMatic, as search.method says) in `workdir`
    (with `lm`, a fresh one of the config's when not given); returns the final state."""
    workdir = Path(workdir)
    config, new = bind_config(config, workdir)
    lm = lm if lm is not None else make_lm(config.lm)
    seeds = load_seeds(config.seeds)
    plan_lm_memory(lm, config, seeds)
    if new:
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "config.json").write_text(config.to_json(indent=1))
    tunable = isinstance(lm, SoftPromptTunable)
    if config.search.get("prompt_tuning", False) and not tunable:
        log.warning("lm.kind=%s cannot be prompt-tuned; the search runs without prompt-tuning", config.lm.kind)
    checkpoints = SearchCheckpoints(workdir / "checkpoints")
    metrics = RunMetrics(workdir)
    journal = RunJournal(workdir)
    with Evaluator(evaluator_config(config, workdir, new)) as evaluator:
        evaluator.remember(journal.results("screen"))  # a resumed run knows what it trained before the crash
        method = method_class(config.search.get("method", "evoprompting"))
        search = method(config.search, lm, evaluator, seeds, journal, config.min_val_accuracy, evaluator.task,
                        screen_seeds=config.train.num_seeds, train_seed=config.train.seed)
        search.pipeline.fidelity = Fidelity.from_config(config.search, config.train.num_steps)
        restored = checkpoints.restore(lm.state_tree() if tunable else None)
        if restored is None:
            state = search.initial_state()
        else:
            state = search.state_from_dict(restored.state)
            if tunable:
                lm.load_state_tree(restored.tree)
            log.info("resuming %s after round %d", workdir, state.round)
        for stats in state.history[metrics.last_step() + 1:]:  # rounds checkpointed but not yet written
            metrics.write_scalars(stats["round"], stats)
        progress = Progress(config.search.num_rounds + 1, state.round + 1)
        search.pipeline.progress = progress
        try:
            while state.round < config.search.num_rounds:
                state = search.run_round(state)
                checkpoints.save(state.round, state.to_dict(), lm.state_tree() if tunable else None)
                metrics.write_scalars(state.round, {**state.history[-1], "peak_rss_gb": round(peak_rss_gb(), 2)})
                progress.round_done(state.history[-1])
        finally:
            progress.close()
            metrics.close()
            checkpoints.close()
    write_report([workdir])
    best = search.best(state)[:1]
    if best:
        log.info("best program %s: %s", best[0].id, json.dumps(best[0].metrics))
    return state
