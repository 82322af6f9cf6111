"""EvoPrompting (Chen et al. 2023): the LM is the crossover and mutation operator.

Each round: pick parents (the fittest, by default), show their code after metric comments in ascending
fitness, end with target metrics and the class header; sample children, keep the valid, distinct ones,
train them in the sandbox, score fitness = -(validation error) x parameters, drop failures and those under
the accuracy threshold, keep the best `population_size`; then soft prompt-tune the LM on every trained
child (its code after its real metrics) before the next round. Round 0 evaluates the seeds.

Ablations (config flags): parents="seeds" (naive few-shot: seeds only, no evolution), parents="random"
(uniform over every eligible evaluated model), prompt_tuning=False. The search does no file I/O; a
Journal (runs/) logs results and samples and answers for those already logged, which makes resuming free."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np

from evojax_nas.evaluate.result import Result
from evojax_nas.lm.extract import extract_program
from evojax_nas.lm.repair import repair
from evojax_nas.lm.soft_prompt import Example
from evojax_nas.programs.program import Program
from evojax_nas.programs.static_check import check_source
from evojax_nas.search.fitness import Score, program_fitness, score
from evojax_nas.search.prompts import STOP, PromptSpec, assemble_child, build_prompt

PARENT_MODES = ("fittest", "random", "seeds")


class Journal(Protocol):
    """Where a search logs what it did, and finds what it already did before a crash."""

    def known_result(self, program_id: str) -> Result | None: ...

    def record(self, round_: int, program: Program, result: Result, s: Score) -> None: ...

    def known_samples(self, key: str) -> list[list[str]] | None: ...

    def record_samples(self, key: str, completions: list[list[str]], context: dict[str, Any]) -> None: ...


def check_config(config: Any) -> None:
    """Raise ValueError, naming the field, for a search config that cannot run."""
    if config.parents not in PARENT_MODES:
        raise ValueError(f"search.parents must be one of {PARENT_MODES}, not {config.parents!r}")
    for name in ("num_rounds", "num_prompts", "samples_per_prompt", "num_children", "max_samples_per_round",
                 "shots", "population_size", "max_new_tokens", "tune_epochs", "tune_batch_size"):
        value = config[name]
        if not isinstance(value, int) or isinstance(value, bool) or value < (0 if name == "num_rounds" else 1):
            raise ValueError(f"search.{name} must be a positive integer, not {value!r}")
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

    def to_dict(self) -> dict[str, Any]:
        return {"round": self.round, "pool": [p.to_dict() for p in self.pool], "seen": self.seen,
                "rng": self.rng, "history": self.history}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SearchState:
        return cls(int(data["round"]), [Program.from_dict(p) for p in data["pool"]], list(data["seen"]),
                   data["rng"], list(data["history"]))


def population(pool: Sequence[Program], size: int) -> list[Program]:
    """The best `size` programs of the pool, fittest first (ties broken by id, for determinism)."""
    return sorted(pool, key=lambda p: (-program_fitness(p), p.id))[:size]


def select_parents(state: SearchState, mode: str, shots: int, population_size: int,
                   rng: np.random.Generator) -> list[Program]:
    """`shots` distinct parents, in ascending fitness (the prompt's order).
    fittest: drawn from the population (the best `population_size`); random: from every eligible evaluated
    program; seeds: from the eligible seeds only (naive few-shot prompting)."""
    if mode == "fittest":
        candidates = population(state.pool, population_size)
    elif mode == "random":
        candidates = sorted(state.pool, key=lambda p: p.id)
    elif mode == "seeds":
        candidates = sorted((p for p in state.pool if p.origin.get("kind") == "seed"), key=lambda p: p.id)
    else:
        raise ValueError(f"search.parents must be one of {PARENT_MODES}, not {mode!r}")
    if not candidates:
        raise RuntimeError("no eligible parents: every seed failed or fell under the accuracy threshold")
    picked = rng.choice(len(candidates), size=min(shots, len(candidates)), replace=False)
    return sorted((candidates[i] for i in picked), key=program_fitness)


@dataclasses.dataclass
class Child:
    """A sampled child on its way to evaluation, with what prompt-tuning needs to replay it."""

    program: Program
    parents: list[Program]
    code: str  # the class as the LM wrote it (after extraction), the completion to tune on


class EvoPrompting:
    """One object per run: call run_round(state) until state.round == config.num_rounds."""

    def __init__(self, config: Any, lm: Any, evaluator: Any, seeds: Sequence[Program], journal: Journal,
                 min_val_accuracy: float, spec: PromptSpec | None = None,
                 progress: Callable[[str, dict[str, Any]], None] | None = None):
        check_config(config)
        self.config, self.lm, self.evaluator, self.journal = config, lm, evaluator, journal
        self.seeds, self.min_val_accuracy = list(seeds), min_val_accuracy
        self.spec = spec or PromptSpec()
        self.progress = progress or (lambda event, info: None)

    def initial_state(self) -> SearchState:
        return SearchState(rng=np.random.default_rng(self.config.seed).bit_generator.state)

    def run_round(self, state: SearchState) -> SearchState:
        """Run the next round and return the new state (the input is not modified)."""
        start = time.perf_counter()
        rng = np.random.default_rng()
        rng.bit_generator.state = state.rng
        new = SearchState(state.round + 1, list(state.pool), list(state.seen), {}, list(state.history))
        if new.round == 0:
            children, stats = [Child(s, [], s.source) for s in self.seeds], {"sampled": len(self.seeds)}
        else:
            children, stats = self._sample(new, rng)
        trained = self._evaluate(new, children)
        stats.update(self._tune(new, trained, rng))
        top = population(new.pool, self.config.population_size)
        stats.update(round=new.round, evaluated=len(children), trained=len(trained),
                     trained_yield=len(trained) / max(stats["sampled"], 1),
                     eligible=sum(1 for *_, eligible in trained if eligible),
                     best_fitness=program_fitness(top[0]) if top else None,
                     models_evaluated=len(new.seen), seconds=round(time.perf_counter() - start, 2))
        new.history.append(stats)
        new.rng = rng.bit_generator.state
        return new

    def _sample(self, state: SearchState, rng: np.random.Generator) -> tuple[list[Child], dict[str, Any]]:
        """Prompt the LM until num_children valid distinct children or max_samples_per_round samples."""
        cfg = self.config
        seen = set(state.seen)
        children: list[Child] = []
        # sampled -> extracted (code found) -> new (not seen before) -> valid (passes the static check);
        # the first num_children valid ones are evaluated.
        stats = {"sampled": 0, "extracted": 0, "new": 0, "valid": 0}
        attempt = 0
        while len(children) < cfg.num_children and stats["sampled"] < cfg.max_samples_per_round:
            parents = [select_parents(state, cfg.parents, cfg.shots, cfg.population_size, rng)
                       for _ in range(cfg.num_prompts)]
            temps = [float(t) for t in rng.choice(cfg.temperatures, size=cfg.num_prompts)]
            lm_seed = int(rng.integers(2**31))
            prompts = [build_prompt(ps, self.spec, cfg.size_factor, cfg.accuracy_gain) for ps in parents]
            texts = [p for p, _ in prompts]
            key = hashlib.sha256(json.dumps([state.round, attempt, texts, temps, lm_seed]).encode()).hexdigest()
            completions = self.journal.known_samples(key)
            if completions is None:
                self.progress("sampling", {"round": state.round, "attempt": attempt,
                                           "rows": cfg.num_prompts * cfg.samples_per_prompt})
                completions = self.lm.generate(texts, n=cfg.samples_per_prompt, temperature=temps,
                                               max_new_tokens=cfg.max_new_tokens, stop=STOP, seed=lm_seed)
                self.journal.record_samples(key, completions, {"round": state.round, "attempt": attempt,
                                                               "prompts": texts, "temperatures": temps,
                                                               "lm_seed": lm_seed})
            for i, ((_, header), ps, temp) in enumerate(zip(prompts, parents, temps, strict=True)):
                for text in completions[i]:
                    stats["sampled"] += 1
                    child = self._child(text, header, ps, {"round": state.round, "attempt": attempt, "prompt": i,
                                                           "temperature": temp})
                    if child is None:
                        continue
                    stats["extracted"] += 1
                    if child.program.id in seen:
                        continue
                    seen.add(child.program.id)
                    stats["new"] += 1
                    failure = check_source(child.program.source, required_class=self.spec.class_name)
                    if failure:  # logged with its reason, never sent to a worker
                        self._log(state, child.program, Result(child.program.id, failure=failure))
                        continue
                    stats["valid"] += 1
                    if len(children) < cfg.num_children:
                        children.append(child)
            attempt += 1
        stats.update(attempts=attempt, valid_yield=stats["valid"] / max(stats["sampled"], 1))
        return children, stats

    def _child(self, text: str, header: str, parents: list[Program], origin: dict[str, Any]) -> Child | None:
        extraction = extract_program(text, header, STOP, self.spec.class_name, self.spec.closing)
        if extraction.source is None:
            return None
        source = repair(assemble_child(extraction.source, parents), self.spec.class_name, self.spec.num_classes,
                        [p.source for p in parents])
        kind = "crossover" if len(parents) > 1 else "mutation"
        program = Program(source, parents=tuple(p.id for p in parents),
                          origin={"kind": kind, "extraction": extraction.outcome, **origin})
        return Child(program, parents, extraction.source)

    def _log(self, state: SearchState, program: Program, result: Result) -> Score:
        """Record a result in the journal, unless it is there already (a round replayed after a resume)."""
        s = score(result, self.min_val_accuracy)
        if self.journal.known_result(program.id) is None:
            self.journal.record(state.round, program, result, s)
        if program.id not in state.seen:
            state.seen.append(program.id)
        return s

    def _evaluate(self, state: SearchState, children: list[Child]) -> list[tuple[Child, Result, bool]]:
        """Train the children not already logged (in one batch), log each result as it comes, update the
        pool; return the children that trained, with their results and eligibility."""
        results = {c.program.id: r for c in children if (r := self.journal.known_result(c.program.id))}
        todo = [c.program for c in children if c.program.id not in results]
        by_id = {c.program.id: c for c in children}

        def on_result(result: Result) -> None:
            results[result.program_id] = result
            self._log(state, by_id[result.program_id].program, result)
            self.progress("evaluated", {"round": state.round, "done": len(results), "total": len(children)})

        if todo:
            self.evaluator.evaluate(todo, on_result=on_result)
        trained = []
        pool_ids = {p.id for p in state.pool}
        for child in children:
            result = results[child.program.id]
            if child.program.id not in state.seen:
                state.seen.append(child.program.id)
            if not result.ok:
                continue
            child.program.metrics = result.metrics
            eligible = score(result, self.min_val_accuracy).eligible
            trained.append((child, result, eligible))
            if eligible and child.program.id not in pool_ids:
                state.pool.append(child.program)
                pool_ids.add(child.program.id)
        return trained

    def _tune(self, state: SearchState, trained: list[tuple[Child, Result, bool]],
              rng: np.random.Generator) -> dict[str, Any]:
        """Soft prompt-tune on every trained child of this round: its prompt with the target metrics replaced
        by the child's real ones, then its code. Not after the seeds nor after the last round."""
        tune_seed = int(rng.integers(2**31))  # drawn always, so the ablation does not shift the RNG stream
        cfg = self.config
        if not (cfg.prompt_tuning and getattr(self.lm, "supports_tuning", False)
                and 0 < state.round < cfg.num_rounds and trained):
            return {}
        examples = []
        for child, result, _ in trained:
            target = (result.metrics["val_accuracy_mean"], int(result.metrics["params"]))
            prompt, header = build_prompt(child.parents, self.spec, target=target)
            examples.append(Example(prompt[: -len(header)], child.code))
        self.progress("tuning", {"round": state.round, "examples": len(examples)})
        out = self.lm.tune(examples, epochs=cfg.tune_epochs, batch_size=cfg.tune_batch_size, seed=tune_seed)
        return {f"tune_{k}": v for k, v in out.items()}
