"""What every search method does with the children it asks the LM for, whatever picks their parents and
prompts: sample (logged, so a resumed run replays the LM's answers), extract the class and repair it,
drop what was seen (by id and by fingerprint) or fails the static check, train in the sandboxed evaluator
(logged, so a resumed run trains nothing twice), and log each result with its score. The methods
(EvoPrompting, LLMatic) differ only in what they select and keep."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from evojax_nas.evaluate.base import CandidateEvaluator
from evojax_nas.evaluate.result import Result
from evojax_nas.lm.base import LanguageModel
from evojax_nas.lm.extract import extract_program
from evojax_nas.programs.program import Failure, Program
from evojax_nas.programs.static_check import check_source
from evojax_nas.search.base import Journal, Ledger
from evojax_nas.search.fidelity import Fidelity
from evojax_nas.search.fingerprint import fingerprint
from evojax_nas.search.fitness import Score, score
from evojax_nas.search.prompts import assemble_child, stop_markers
from evojax_nas.tasks.base import MetricsSchema, Task


@dataclasses.dataclass
class Child:
    """A sampled child on its way to evaluation, with what prompt-tuning needs to replay it."""

    program: Program
    parents: list[Program]
    code: str  # the class as the LM wrote it (after extraction), the completion to tune on
    failure: Failure | None = None  # why the static check refused it


def merge_seeds(screen: Result, extra: Result, schema: MetricsSchema) -> Result:
    """One result over the screening seeds and the confirmation seeds (their per-seed lists joined; the
    screening seeds' mean score kept as `screen_<score>_mean`)."""
    if not extra.ok:
        failure = extra.failure or Failure("crash", "no metrics")
        return Result(screen.program_id, failure=Failure(failure.kind, f"confirmation failed: {failure.message}"),
                      seconds=screen.seconds + extra.seconds)
    a, b = screen.metrics, extra.metrics
    merged = {**a, **{k: a[k] + b[k] for k in schema.per_seed}}
    merged.update({schema.score_mean: float(np.mean(merged[schema.score])),
                   f"{schema.score}_std": float(np.std(merged[schema.score])),
                   schema.test_mean: float(np.mean(merged[schema.test])),
                   f"screen_{schema.score_mean}": a[schema.score_mean],
                   "train_seconds": a.get("train_seconds", 0.0) + b.get("train_seconds", 0.0)})
    return Result(screen.program_id, metrics=merged, seconds=screen.seconds + extra.seconds)


class Pipeline:
    """sample -> child -> admit -> train -> log, shared by the search methods. `progress` is called with
    ("sampling" | "evaluated", info) as the work goes."""

    def __init__(self, lm: LanguageModel | None, evaluator: CandidateEvaluator, journal: Journal, task: Task,
                 min_val_accuracy: float, max_new_tokens: int,
                 progress: Callable[[str, dict[str, Any]], None] | None = None):
        self.lm, self.evaluator, self.journal, self.task = lm, evaluator, journal, task
        self.spec, self.schema = task.candidate, task.candidate.metrics
        self.min_val_accuracy, self.max_new_tokens = min_val_accuracy, max_new_tokens
        self.progress = progress or (lambda event, info: None)
        self.fidelity: Fidelity | None = None  # successive halving of the children's screening (search/fidelity.py)

    def generate(self, state: Ledger, texts: list[str], temps: list[float], n: int, lm_seed: int,
                 context: dict[str, Any]) -> list[list[str]]:
        """The LM's completions, or those the journal logged for the same call before a crash."""
        key = hashlib.sha256(json.dumps([state.round, *context.values(), texts, temps, lm_seed]).encode()).hexdigest()
        completions = self.journal.known_samples(key)
        if completions is None:
            self.progress("sampling", {"round": state.round, "rows": len(texts) * n, **context})
            completions = self.lm.generate(texts, n=n, temperature=temps, max_new_tokens=self.max_new_tokens,
                                           stop=stop_markers(self.spec), seed=lm_seed)
            self.journal.record_samples(key, completions, {"round": state.round, **context, "prompts": texts,
                                                           "temperatures": temps, "lm_seed": lm_seed})
        return completions

    def child(self, text: str, header: str, parents: list[Program], origin: dict[str, Any],
              kind: str | None = None) -> Child | None:
        """The completion as a whole, repaired program (None when no class could be extracted). Its origin
        kind is `kind`, else crossover for several parents and mutation for one."""
        extraction = extract_program(text, header, stop_markers(self.spec), class_name=self.spec.class_name,
                                     closing=self.spec.closing)
        if extraction.source is None:
            return None
        source = self.task.repair(assemble_child(extraction.source, parents), [p.source for p in parents])
        return self.variant(source, parents, {"extraction": extraction.outcome, **origin}, kind, extraction.source)

    def variant(self, source: str, parents: list[Program], origin: dict[str, Any], kind: str | None = None,
                code: str | None = None) -> Child:
        """A child of the parents as a whole program (written without an LM by the non-LM baseline; `child`
        passes the LM's, repaired, with the class it wrote as `code`). Its origin kind is `kind`, else
        crossover for several parents and mutation for one."""
        kind = kind or ("crossover" if len(parents) > 1 else "mutation")
        program = Program(source, parents=tuple(p.id for p in parents), origin={"kind": kind, **origin})
        return Child(program, parents, source if code is None else code)

    def admit(self, state: Ledger, child: Child, seen_fingerprints: set[str]) -> str | None:
        """None for a child new by content and by fingerprint that passes the static check (its fingerprint is
        then marked seen); else "seen" (the same text), "duplicate" (another text of a program seen) or
        "rejected" (logged with the check's reason; its fingerprint stays free, as dead code the
        fingerprint ignores may be what the check refused)."""
        print_ = fingerprint(child.program.source, self.spec.class_name)
        if child.program.id in state.seen:
            return "seen"
        if print_ in seen_fingerprints:
            return "duplicate"
        failure = check_source(child.program.source, required_class=self.spec.class_name)
        if failure:  # logged with its reason, never sent to a worker
            self.log(state, child.program, Result(child.program.id, failure=failure))
            child.failure = failure
            return "rejected"
        seen_fingerprints.add(print_)
        state.fingerprints.append(print_)
        return None

    def mark_seeds(self, state: Ledger, seeds: Sequence[Program]) -> None:
        """The seeds' fingerprints, as written and as repaired (a child that copies a seed is repaired like
        every child, so the repaired seed is a seed too)."""
        state.fingerprints += sorted({fingerprint(source, self.spec.class_name) for s in seeds for source in
                                      (s.source, self.task.repair(s.source))})

    def score(self, result: Result) -> Score:
        """The result's fitness, and whether it is over the threshold (search/fitness.py)."""
        return score(result, self.min_val_accuracy, self.schema)

    def log(self, state: Ledger, program: Program, result: Result, stage: str = "screen",
            s: Score | None = None, mark_seen: bool = True) -> Score:
        """Record a result in the journal, unless it is there already (a round replayed after a resume)."""
        s = s or self.score(result)
        if self.journal.known_result(program.id, stage) is None:
            self.journal.record(state.round, program, result, s, stage)
        if mark_seen and program.id not in state.seen:
            state.seen.append(program.id)
        return s

    def train(self, state: Ledger, programs: list[Program], stage: str = "screen",
              seeds: list[int] | None = None) -> dict[str, Result]:
        """Results of `stage` for the programs: from the journal, else trained (in one batch) and logged as
        each comes. Confirmation results are logged merged with the screening seeds. With a fidelity, the
        children's screening is successive halving (the seeds always train the full budget)."""
        children = [p for p in programs if p.origin.get("kind") != "seed"]
        if stage == "screen" and self.fidelity is not None and len(children) > 1:
            results = self._halving(state, children, seeds)
            results.update(self._stage(state, [p for p in programs if p.id not in results], stage, seeds))
        else:
            results = self._stage(state, programs, stage, seeds)
        state.seen.extend(p.id for p in programs if p.id not in state.seen)
        return results

    def _halving(self, state: Ledger, children: list[Program], seeds: list[int] | None) -> dict[str, Result]:
        """Each rung trains the children still in from where the last rung stopped; the best `keep` (by the
        fidelity's rank) go on, the others are logged "stopped" as their screening result.
        Every rung is journalled, so a resumed run replays the same decisions."""
        assert self.fidelity is not None
        steps, out, alive, start = self.fidelity.steps, {}, list(children), 0
        for r, end in enumerate(steps[:-1]):
            rung = self._stage(state, alive, f"rung{r}", seeds, (start, end))
            ok = {p.id: p for p in alive if rung[p.id].ok}
            ranked = self.fidelity.order([(i, *self.schema.of(rung[i].metrics)) for i in ok])
            keep = [ok[i] for i in ranked[: self.fidelity.kept(len(ranked))]]
            for p in alive:
                result = rung[p.id]
                if p in keep:
                    continue
                if result.ok:
                    value, params = self.schema.of(result.metrics)
                    result = Result(p.id, failure=Failure("stopped", (
                        f"stopped at step {end} of {steps[-1]} (rung {r + 1} of {len(steps)}): "
                        f"{self.schema.score_name} {value:.3f} at {params} parameters, below the {len(keep)} "
                        f"that went on ({self.fidelity.rank})")),
                        seconds=result.seconds, computation=result.computation)
                out[p.id] = result
                self.log(state, p, result, "screen", mark_seen=False)  # once: log() skips what the journal has
            alive, start = keep, end
        out.update(self._stage(state, alive, "screen", seeds, (start, steps[-1])))
        return out

    def _stage(self, state: Ledger, programs: list[Program], stage: str, seeds: list[int] | None,
               steps: tuple[int, int] | None = None) -> dict[str, Result]:
        """Results of `stage` for the programs, from the journal or trained (from steps[0] to steps[1] when
        given) and logged as each comes."""
        results = {p.id: r for p in programs if (r := self.journal.known_result(p.id, stage))}
        todo = [p for p in programs if p.id not in results]
        by_id = {p.id: p for p in programs}

        def on_result(result: Result) -> None:
            program = by_id[result.program_id]
            if stage == "confirm":
                result = merge_seeds(self.journal.known_result(program.id), result, self.schema)
            results[result.program_id] = result
            self.log(state, program, result, stage, mark_seen=False)  # marked below, in a replayable order
            self.progress("evaluated", {"round": state.round, "done": len(results), "total": len(programs),
                                        "stage": stage})

        if todo:
            self.evaluator.evaluate(todo, seeds=seeds, on_result=on_result, steps=steps)
        return results
