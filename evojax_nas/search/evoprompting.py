"""EvoPrompting (Chen et al. 2023): the LM is the crossover and mutation operator.

Each round: pick parents (the fittest, by default), show their code after metric comments in ascending
fitness, end with target metrics and the class header; sample children, keep the valid, distinct ones,
train them in the sandbox, score fitness = -(validation error) x parameters, drop failures and those under
the accuracy threshold, keep the best `population_size`; then soft prompt-tune the LM on every trained
child (its code after its real metrics) before the next round. Round 0 evaluates the seeds.

Waste and noise are cut: a child whose fingerprint (search/fingerprint.py) was seen is not trained; every
valid distinct child sampled is trained; a child that fails gets one more sample with its error shown
(`retry_failed`, counted apart); and a child that would enter the population is trained on
`confirm_seeds` seeds in all before its fitness counts (one lucky seed is not selection).

Ablations (config flags): parents="seeds" (naive few-shot: seeds only, no evolution), parents="random"
(uniform over every eligible evaluated model), prompt_tuning=False. The search does no file I/O; a
Journal (runs/) logs results and samples and answers for those already logged, which makes resuming free."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from ml_collections import ConfigDict

from evojax_nas.evaluate.base import CandidateEvaluator
from evojax_nas.evaluate.result import Result
from evojax_nas.lm.base import LanguageModel, SoftPromptTunable
from evojax_nas.lm.soft_prompt import Example
from evojax_nas.programs.program import Failure, Program
from evojax_nas.search.base import Journal
from evojax_nas.search.fitness import Score, fittest, program_fitness, screen_fitness
from evojax_nas.search.method import check_confirm_seeds, confirmation_seeds
from evojax_nas.search.mutation import vary
from evojax_nas.search.pipeline import Child, Pipeline
from evojax_nas.search.prompts import build_prompt, build_retry_prompt, edit_prefix
from evojax_nas.tasks.base import MetricsSchema, Task

RETRIED_KINDS = ("syntax", "forbidden", "interface", "shape", "nan", "crash")  # not timeout, oom: size, not bugs

PARENT_MODES = ("fittest", "random", "seeds")
OPERATORS = ("lm", "mutation")  # who writes the children: the LM, or the non-LM baseline (search/mutation.py)
CHILD_FORMS = ("whole", "edit")  # the LM writes the child's class, or rewrites the fittest parent's from a cut


def check_config(config: ConfigDict) -> None:
    """Raise ValueError, naming the field, for a search config that cannot run."""
    if config.parents not in PARENT_MODES:
        raise ValueError(f"search.parents must be one of {PARENT_MODES}, not {config.parents!r}")
    for name in ("num_rounds", "num_prompts", "samples_per_prompt", "num_children", "max_samples_per_round",
                 "shots", "population_size", "max_new_tokens", "tune_epochs", "tune_batch_size"):
        value = config[name]
        if not isinstance(value, int) or isinstance(value, bool) or value < (0 if name == "num_rounds" else 1):
            raise ValueError(f"search.{name} must be a positive integer, not {value!r}")
    check_confirm_seeds(config)
    if not isinstance(config.get("retry_failed", False), bool):
        raise ValueError(f"search.retry_failed must be true or false, not {config.retry_failed!r}")
    if config.get("child_form", "whole") not in CHILD_FORMS:
        raise ValueError(f"search.child_form must be one of {CHILD_FORMS}, not {config.child_form!r}")
    operator = config.get("operator", "lm")
    if operator not in OPERATORS:
        raise ValueError(f"search.operator must be one of {OPERATORS}, not {operator!r}")
    if operator == "mutation" and (config.prompt_tuning or config.get("retry_failed", False)):
        raise ValueError("search.operator='mutation' has no LM to prompt-tune or to retry with: set "
                         "search.prompt_tuning and search.retry_failed to False")
    if not config.temperatures or not all(isinstance(t, int | float) and 0 <= t <= 2 for t in config.temperatures):
        raise ValueError(f"search.temperatures must be numbers in [0, 2], not {config.temperatures!r}")


@dataclasses.dataclass
class SearchState:
    """Everything a search needs to go on: plain data, checkpointed after every round."""

    round: int = -1  # the last completed round (0 = seeds evaluated)
    pool: list[Program] = dataclasses.field(default_factory=list)  # every eligible program, with metrics
    seen: list[str] = dataclasses.field(default_factory=list)  # ids of every program evaluated or rejected
    rng: dict[str, Any] = dataclasses.field(default_factory=dict)  # numpy bit-generator state
    history: list[dict[str, Any]] = dataclasses.field(default_factory=list)  # one stats row per round
    fingerprints: list[str] = dataclasses.field(default_factory=list)  # of every program seen (see fingerprint)

    def to_dict(self) -> dict[str, Any]:
        return {"round": self.round, "pool": [p.to_dict() for p in self.pool], "seen": self.seen,
                "rng": self.rng, "history": self.history, "fingerprints": self.fingerprints}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SearchState:
        return cls(int(data["round"]), [Program.from_dict(p) for p in data["pool"]], list(data["seen"]),
                   data["rng"], list(data["history"]), list(data.get("fingerprints", [])))


def population(pool: Sequence[Program], size: int, schema: MetricsSchema) -> list[Program]:
    """The best `size` programs of the pool, fittest first (ties broken by id, for determinism)."""
    return sorted(pool, key=lambda p: (-program_fitness(p, schema), p.id))[:size]


def select_parents(state: SearchState, mode: str, shots: int, population_size: int,
                   rng: np.random.Generator, schema: MetricsSchema) -> list[Program]:
    """`shots` distinct parents, in ascending fitness (the prompt's order).
    fittest: drawn from the population (the best `population_size`); random: from every eligible evaluated
    program; seeds: from the eligible seeds only (naive few-shot prompting)."""
    if mode == "fittest":
        candidates = population(state.pool, population_size, schema)
    elif mode == "random":
        candidates = sorted(state.pool, key=lambda p: p.id)
    elif mode == "seeds":
        candidates = sorted((p for p in state.pool if p.origin.get("kind") == "seed"), key=lambda p: p.id)
    else:
        raise ValueError(f"search.parents must be one of {PARENT_MODES}, not {mode!r}")
    if not candidates:
        raise RuntimeError("no eligible parents: every seed failed or fell under the accuracy threshold")
    picked = rng.choice(len(candidates), size=min(shots, len(candidates)), replace=False)
    return sorted((candidates[i] for i in picked), key=lambda p: program_fitness(p, schema))


def same_outcome(result: Result, others: list[tuple[str, dict[str, Any]]], schema: MetricsSchema) -> str | None:
    """The id of another program whose training gave exactly these parameters, losses and accuracies on the
    same seeds: the same network under a text the fingerprint did not see through."""
    m = result.metrics
    k = len(m["final_loss"])
    for other_id, om in others:
        if om["params"] == m["params"] and om["final_loss"][:k] == m["final_loss"] \
                and om[schema.score][:k] == m[schema.score]:
            return other_id
    return None


class EvoPrompting:
    """One object per run: call run_round(state) until state.round == config.num_rounds."""

    REPORT_KEYS = ("sampled", "extracted", "duplicates", "valid", "evaluated", "trained", "retried", "retry_trained",
                   "eligible", "confirmed", "trained_yield", "best_fitness", "peak_rss_gb", "seconds")

    @staticmethod
    def report_ranking(records: list[dict[str, Any]], state: Callable[[], dict[str, Any] | None],
                       schema: MetricsSchema) -> list[dict[str, Any]]:
        """The report's table: every eligible candidate, fittest first."""
        return fittest(records)

    @staticmethod
    def report_figures(run_name: str, state: Callable[[], dict[str, Any] | None], rows: list[dict[str, Any]],
                       out: Path) -> list[Path]:
        return []  # the report's shared figures (fitness, Pareto front) are EvoPrompting's

    def __init__(self, config: ConfigDict, lm: LanguageModel | None, evaluator: CandidateEvaluator,
                 seeds: Sequence[Program], journal: Journal, min_val_accuracy: float, task: Task,
                 progress: Callable[[str, dict[str, Any]], None] | None = None, screen_seeds: int = 1,
                 train_seed: int = 0):
        """screen_seeds, train_seed: the training seeds every child is trained on first (the train config's
        num_seeds and seed); a child that would enter the population is then trained on the next ones up to
        config.confirm_seeds. task: what children are and which repairs apply."""
        check_config(config)
        self.config, self.lm = config, lm
        self.seeds = list(seeds)
        self.task, self.spec, self.schema = task, task.candidate, task.candidate.metrics
        self.pipeline = Pipeline(lm, evaluator, journal, task, min_val_accuracy, config.max_new_tokens, progress)
        self.screen_seeds, self.train_seed = screen_seeds, train_seed

    @staticmethod
    def lm_batches(config: ConfigDict, parent_tokens: int) -> dict[str, Any]:
        """The largest LM batches a round asks for (for the memory plan): a prompt holds `shots` parents
        and the docstring, imports and metric comments, and with retries a failed child."""
        prompt_tokens = 100 + config.shots * parent_tokens
        prompt_tokens += config.max_new_tokens + 100 if config.get("retry_failed", False) else 0
        return {"prompts": config.num_prompts, "n": config.samples_per_prompt, "prompt_tokens": prompt_tokens,
                "tuning": bool(config.prompt_tuning)}

    def state_from_dict(self, data: dict[str, Any]) -> SearchState:
        return SearchState.from_dict(data)

    def best(self, state: SearchState) -> list[Program]:
        """The pool, fittest first."""
        return population(state.pool, len(state.pool), self.schema)

    def initial_state(self) -> SearchState:
        return SearchState(rng=np.random.default_rng(self.config.seed).bit_generator.state)

    def run_round(self, state: SearchState) -> SearchState:
        """Run the next round and return the new state (the input is not modified)."""
        start = time.perf_counter()
        rng = np.random.default_rng()
        rng.bit_generator.state = state.rng
        new = SearchState(state.round + 1, list(state.pool), list(state.seen), {}, list(state.history),
                          list(state.fingerprints))
        threshold = self._entry_threshold(new)
        if new.round == 0:
            children = [Child(s, [], s.source) for s in self.seeds]
            self.pipeline.mark_seeds(new, self.seeds)
            rejected: list[tuple[Child, Failure]] = []
            stats: dict[str, Any] = {"sampled": len(self.seeds)}
        else:
            children, rejected, stats = self._sample(new, rng)
        trained, failed = self._evaluate(new, children, threshold)
        retry_seed = int(rng.integers(2**31))  # drawn always, so the flag does not shift the RNG stream
        if self.config.get("retry_failed", False) and new.round > 0:
            retries, retry_stats = self._retry(new, rejected + failed, retry_seed)
            retry_trained, _ = self._evaluate(new, retries, threshold)
            trained += retry_trained
            stats.update(retry_stats, retry_trained=len(retry_trained))
        stats.update(self._tune(new, trained, rng))
        top = population(new.pool, self.config.population_size, self.schema)
        stats.update(round=new.round, evaluated=len(children), trained=len(trained) - stats.get("retry_trained", 0),
                     trained_yield=len(trained) / max(stats["sampled"] + stats.get("retried", 0), 1),
                     eligible=sum(1 for *_, eligible in trained if eligible),
                     stopped=sum(f.kind == "stopped" for _, f in failed),  # by successive halving
                     confirmed=sum(len(c.program.metrics[self.schema.score]) > self.screen_seeds for c, *_ in trained),
                     best_fitness=program_fitness(top[0], self.schema) if top else None,
                     models_evaluated=len(new.seen), seconds=round(time.perf_counter() - start, 2))
        new.history.append(stats)
        new.rng = rng.bit_generator.state
        return new

    def _entry_threshold(self, state: SearchState) -> float:
        """The fitness a child must beat to enter the population (-inf while it has room)."""
        top = population(state.pool, self.config.population_size, self.schema)
        return program_fitness(top[-1], self.schema) if len(top) >= self.config.population_size else -np.inf

    def _sample(self, state: SearchState, rng: np.random.Generator
                ) -> tuple[list[Child], list[tuple[Child, Failure]], dict[str, Any]]:
        """Prompt the LM until num_children valid distinct children or max_samples_per_round samples; every
        valid distinct child found is evaluated. Returns them, those the static check rejected, and counts."""
        cfg = self.config
        prints = set(state.fingerprints)
        children: list[Child] = []
        rejected: list[tuple[Child, Failure]] = []
        # sampled -> extracted (code found) -> new (not seen before, nor its fingerprint) -> valid (passes the
        # static check) = evaluated.
        stats = {"sampled": 0, "extracted": 0, "new": 0, "duplicates": 0, "valid": 0}
        attempt = 0
        while len(children) < cfg.num_children and stats["sampled"] < cfg.max_samples_per_round:
            parents = [select_parents(state, cfg.parents, cfg.shots, cfg.population_size, rng, self.schema)
                       for _ in range(cfg.num_prompts)]
            temps = [float(t) for t in rng.choice(cfg.temperatures, size=cfg.num_prompts)]
            lm_seed = int(rng.integers(2**31))
            for batch in self._propose(state, parents, temps, lm_seed, attempt):
                for child in batch:
                    stats["sampled"] += 1
                    if child is None:
                        continue
                    stats["extracted"] += 1
                    why = self.pipeline.admit(state, child, prints)
                    stats["duplicates"] += why == "duplicate"
                    stats["new"] += why in (None, "rejected")
                    if why == "rejected":
                        rejected.append((child, child.failure))
                    if why:
                        continue
                    stats["valid"] += 1
                    children.append(child)
            attempt += 1
        stats.update(attempts=attempt, valid_yield=stats["valid"] / max(stats["sampled"], 1))
        return children, rejected, stats

    def _propose(self, state: SearchState, parents: list[list[Program]], temps: list[float], lm_seed: int,
                 attempt: int) -> list[list[Child | None]]:
        """Each prompt's samples as children (None where no class could be extracted): the LM's completions,
        or with `operator = "mutation"` the non-LM baseline's (search/mutation.py; lm_seed seeds it, so a
        replayed round proposes the same)."""
        cfg = self.config
        origins = [{"round": state.round, "attempt": attempt, "prompt": i, "temperature": t} for i, t in
                   enumerate(temps)]
        if cfg.get("operator", "lm") == "mutation":
            rng = np.random.default_rng(lm_seed)
            return [[self.pipeline.variant(text, ps, {**origin, "operator": "mutation"}) if text else None
                     for text in (vary([p.source for p in ps], rng, origin["temperature"])
                                  for _ in range(cfg.samples_per_prompt))]
                    for ps, origin in zip(parents, origins, strict=True)]
        prompts = [build_prompt(ps, self.spec, cfg.size_factor, cfg.accuracy_gain) for ps in parents]
        prefixes = [""] * len(prompts)
        if cfg.get("child_form", "whole") == "edit":  # the fittest parent's class up to a cut; the LM writes on
            rng = np.random.default_rng(lm_seed)
            prefixes = [edit_prefix(ps[-1], self.spec.class_name, rng) for ps in parents]
            origins = [{**o, "edit_lines": prefix.count("\n")} for o, prefix in zip(origins, prefixes, strict=True)]
        texts = [f"{p}\n{prefix}" if prefix else p for (p, _), prefix in zip(prompts, prefixes, strict=True)]
        completions = self.pipeline.generate(state, texts, temps, cfg.samples_per_prompt, lm_seed, {"attempt": attempt})
        return [[self.pipeline.child(f"\n{prefix}{text}" if prefix else text, header, ps, origin) for text in outs]
                for (_, header), prefix, ps, origin, outs in zip(prompts, prefixes, parents, origins, completions,
                                                                 strict=True)]

    def _retry(self, state: SearchState, failed: list[tuple[Child, Failure]], lm_seed: int
               ) -> tuple[list[Child], dict[str, Any]]:
        """One more sample for each child that failed for a reason in its code, its error shown beside it."""
        failed = [(c, f) for c, f in failed if f.kind in RETRIED_KINDS]
        if not failed:
            return [], {"retried": 0, "retry_valid": 0, "retry_duplicates": 0}
        prompts = [build_retry_prompt(c.parents, c.code, f, self.spec, self.config.size_factor,
                                      self.config.accuracy_gain) for c, f in failed]
        temps = [float(c.program.origin.get("temperature", 0.6)) for c, _ in failed]
        completions = self.pipeline.generate(state, [p for p, _ in prompts], temps, 1, lm_seed, {"attempt": "retry"})
        prints, children = set(state.fingerprints), []
        stats = {"retried": len(failed), "retry_valid": 0, "retry_duplicates": 0}
        for (child, failure), (_, header), texts in zip(failed, prompts, completions, strict=True):
            origin = {k: v for k, v in child.program.origin.items() if k in ("round", "prompt", "temperature")}
            retry = self.pipeline.child(texts[0], header, child.parents,
                                {**origin, "attempt": "retry", "retry_of": child.program.id, "error": failure.kind})
            if retry is None:
                continue
            if why := self.pipeline.admit(state, retry, prints):
                stats["retry_duplicates"] += why == "duplicate"
                continue
            stats["retry_valid"] += 1
            children.append(retry)
        return children, stats

    def _evaluate(self, state: SearchState, children: list[Child], threshold: float
                  ) -> tuple[list[tuple[Child, Result, bool]], list[tuple[Child, Failure]]]:
        """Train the children (screening), confirm on more seeds those that would enter the population (their
        screening fitness beats `threshold`), update the pool. Returns the children that trained, with their
        results and eligibility, and those that failed, with why."""
        screened = self.pipeline.train(state, [c.program for c in children], "screen")
        trained, failed, confirm, twins = [], [], [], set()
        for child in children:
            result = screened[child.program.id]
            s = self.pipeline.score(result)
            if not result.ok:
                failed.append((child, result.failure))
            elif s.eligible and screen_fitness(result.metrics, self.schema) > threshold:
                twin = same_outcome(result, [(p.id, p.metrics) for p in state.pool]
                                    + [(c.program.id, screened[c.program.id].metrics) for c in confirm], self.schema)
                if twin is None:
                    confirm.append(child)
                else:  # trained the same to the last digit as a program in the pool: the same network
                    twins.add(child.program.id)
                    self.pipeline.log(state, child.program, result, "confirm",
                              Score(s.fitness, False, f"same outcome as {twin}"))
        extra = confirmation_seeds(self.config, self.screen_seeds, self.train_seed)
        confirmed = self.pipeline.train(state, [c.program for c in confirm], "confirm", extra) \
            if extra and confirm else {}
        pool_ids = {p.id for p in state.pool}
        for child in children:
            result = confirmed.get(child.program.id) or screened[child.program.id]
            if not result.ok:
                continue
            child.program.metrics = result.metrics
            eligible = self.pipeline.score(result).eligible and child.program.id not in twins
            trained.append((child, result, eligible))
            if eligible and child.program.id not in pool_ids:
                state.pool.append(child.program)
                pool_ids.add(child.program.id)
        return trained, failed

    def _tune(self, state: SearchState, trained: list[tuple[Child, Result, bool]],
              rng: np.random.Generator) -> dict[str, Any]:
        """Soft prompt-tune on every trained child of this round: its prompt with the target metrics replaced
        by the child's real ones, then its code. Not after the seeds nor after the last round."""
        tune_seed = int(rng.integers(2**31))  # drawn always, so the ablation does not shift the RNG stream
        cfg = self.config
        if not (cfg.prompt_tuning and isinstance(self.lm, SoftPromptTunable)
                and 0 < state.round < cfg.num_rounds and trained):
            return {}
        examples = []
        for child, result, _ in trained:
            target = self.schema.of(result.metrics)
            prompt, header = build_prompt(child.parents, self.spec, target=target)
            examples.append(Example(prompt[: -len(header)], child.code))
        self.pipeline.progress("tuning", {"round": state.round, "examples": len(examples)})
        out = self.lm.tune(examples, epochs=cfg.tune_epochs, batch_size=cfg.tune_batch_size, seed=tune_seed)
        return {f"tune_{k}": v for k, v in out.items()}
