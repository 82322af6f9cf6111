"""A search run in a directory: config.json, candidates.jsonl, samples.jsonl, checkpoints/, metrics/ (and
metrics.jsonl), report/. Started on an empty directory; resumed from the newest good checkpoint otherwise.
Results and samples already logged are reused, so a run killed at any moment loses no logged work and,
being deterministic given its seed, ends with the population it would have had."""

from __future__ import annotations

import glob
import json
import logging
from pathlib import Path
from typing import Any

import ml_collections

from evojax_nas.evaluate import Evaluator, EvaluatorConfig
from evojax_nas.programs.program import Program
from evojax_nas.runs.checkpoints import SearchCheckpoints
from evojax_nas.runs.journal import RunJournal
from evojax_nas.runs.metrics import RunMetrics
from evojax_nas.runs.report import write_report
from evojax_nas.search.evoprompting import EvoPrompting, SearchState, check_config, population

log = logging.getLogger("evojax_nas")
ROOT = Path(__file__).resolve().parents[2]


def bind_config(config: ml_collections.ConfigDict | None, workdir: Path) -> ml_collections.ConfigDict:
    """The run's config: checked and written on the first start; on a resume the saved one, which a given
    config must equal (a run cannot change its experiment half-way)."""
    path = workdir / "config.json"
    if path.exists() and (workdir / "candidates.jsonl").exists():
        saved = json.loads(path.read_text())
        if config is not None and json.loads(config.to_json()) != saved:
            raise ValueError(f"{workdir} holds a run of another config; resume it without --config or use a new "
                             "--workdir")
        return ml_collections.ConfigDict(saved)
    if config is None:
        raise ValueError(f"{workdir} holds no run yet: give --config")
    check_config(config.search)
    if config.lm.kind not in ("local", "openai"):
        raise ValueError(f"lm.kind must be local or openai, not {config.lm.kind!r}")
    workdir.mkdir(parents=True, exist_ok=True)
    path.write_text(config.to_json(indent=1))
    return config


def load_seeds(patterns: Any) -> list[Program]:
    """Seed programs from glob patterns, relative to the working directory or else to the project root."""
    paths: list[str] = []
    for pattern in patterns:
        found = sorted(glob.glob(pattern)) or sorted(glob.glob(str(ROOT / pattern)))
        if not found:
            raise FileNotFoundError(f"no seed program matches {pattern}")
        paths += found
    return [Program.from_file(p) for p in paths]


def make_lm(config: ml_collections.ConfigDict) -> Any:
    """The LM a config names: kind local (the Flax decoder, tunable) or openai (a server)."""
    from evojax_nas.lm.backends import LocalLM, OpenAIClient

    if config.kind == "local":
        return LocalLM(config.checkpoint, config.n_virtual_tokens, config.learning_rate, config.top_p, config.top_k,
                       code_vocab=config.get("code_vocab", True))
    if config.kind == "openai":
        return OpenAIClient(config.base_url, config.model, chat=config.get("chat", False))
    raise ValueError(f"lm.kind must be local or openai, not {config.kind!r}")


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


def run_search(config: ml_collections.ConfigDict | None, workdir: str | Path, lm: Any = None) -> SearchState:
    """Start or resume the EvoPrompting search of `config` in `workdir` (with `lm`, a fresh one of the
    config's when not given); returns the final state."""
    workdir = Path(workdir)
    config = bind_config(config, workdir)
    lm = lm or make_lm(config.lm)
    tunable = getattr(lm, "supports_tuning", False)
    if config.search.prompt_tuning and not tunable:
        log.warning("lm.kind=%s cannot be prompt-tuned; the search runs without prompt-tuning", config.lm.kind)
    checkpoints = SearchCheckpoints(workdir / "checkpoints")
    metrics = RunMetrics(workdir)
    journal = RunJournal(workdir)
    with Evaluator(EvaluatorConfig.from_config(config)) as evaluator:
        search = EvoPrompting(config.search, lm, evaluator, load_seeds(config.seeds), journal,
                              config.min_val_accuracy)
        restored = checkpoints.restore(lm.state_tree() if tunable else None)
        if restored is None:
            state = search.initial_state()
        else:
            state = SearchState.from_dict(restored.state)
            if tunable:
                lm.load_state_tree(restored.tree)
            log.info("resuming %s after round %d", workdir, state.round)
        for stats in state.history[metrics.last_step() + 1:]:  # rounds checkpointed but not yet written
            metrics.write_scalars(stats["round"], stats)
        progress = Progress(config.search.num_rounds + 1, state.round + 1)
        search.progress = progress
        try:
            while state.round < config.search.num_rounds:
                state = search.run_round(state)
                checkpoints.save(state.round, state.to_dict(), lm.state_tree() if tunable else None)
                metrics.write_scalars(state.round, state.history[-1])
                progress.round_done(state.history[-1])
        finally:
            progress.close()
            metrics.close()
            checkpoints.close()
    write_report([workdir])
    best = population(state.pool, 1)
    if best:
        log.info("best program %s: %s", best[0].id, json.dumps(best[0].metrics))
    return state
