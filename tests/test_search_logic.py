"""EvoPrompting's bookkeeping in milliseconds, with a scripted LM and a scripted evaluator (beside the real
end-to-end tests in test_search.py): children that differ from a seen program only in text are never
trained, a failed child is sampled once more with its error, a child that would enter the population is
confirmed on more seeds, a twin of a pool member stays out, and a replayed round reproduces the state."""

from __future__ import annotations

import hashlib
from typing import Any

import ml_collections
import numpy as np
import pytest

from evojax_nas.evaluate import Result
from evojax_nas.programs.program import Failure, Program
from evojax_nas.search.evoprompting import Child, EvoPrompting
from evojax_nas.search.fitness import Score
from evojax_nas.tasks.mnist1d import Mnist1D

HEAD = "import flax.linen as nn\n\n\nclass Model(nn.Module):"


def body(width: int, name: str = "width", extra: str = "") -> str:
    return (f"\n    {name}: int = {width}\n\n    @nn.compact\n    def __call__(self, x, train: bool = False):\n"
            f"        x = nn.Dense(self.{name})(x){extra}\n        return nn.Dense(10)(x)\n")


def seeds() -> list[Program]:
    return [Program(HEAD + body(64), origin={"kind": "seed", "name": "a"}),
            Program(HEAD + body(32), origin={"kind": "seed", "name": "b"})]


class ScriptedLM:
    """Each prompt gets: a seed with renamed fields (a text-only twin), a child that crashes, a new child;
    a prompt showing a failed attempt gets the fixed child."""

    def __init__(self):
        self.calls: list[list[str]] = []

    def generate(self, prompts, n=1, temperature=0.8, max_new_tokens=256, stop=(), seed=0):
        self.calls.append(list(prompts))
        out = []
        for i, prompt in enumerate(prompts):
            if "# An attempt that failed" in prompt:
                out.append([body(8 + seed % 5)] * n)
            else:
                options = [body(64, name="hidden_units"), body(16, extra=".crash()"), body(20 + seed % 7 + i)]
                out.append([options[j % 3] for j in range(n)])
        return out


class ScriptedEvaluator:
    """Deterministic metrics from the source and the seed; `.crash()` fails; `lucky` ids score high on seed
    0 only. Counts what it trains."""

    def __init__(self, lucky: tuple[str, ...] = ()):
        self.trained: list[tuple[str, tuple[int, ...]]] = []
        self.steps: list[tuple[str, tuple[int, int] | None]] = []  # (program, the rung's steps or None: all)
        self.lucky = lucky

    def evaluate(self, programs, seeds=None, on_result=None, steps=None):
        seeds = list(seeds) if seeds is not None else [0]
        results = []
        for p in programs:
            self.trained.append((p.id, tuple(seeds)))
            self.steps.append((p.id, tuple(steps) if steps else None))
            if ".crash()" in p.source:
                result = Result(p.id, failure=Failure("crash", "AttributeError: 'Array' object has no 'crash'"))
            else:
                acc = [0.99 if (p.id in self.lucky and s == 0) else
                       0.7 + int(hashlib.sha256(f"{p.id}{s}".encode()).hexdigest(), 16) % 100 / 1000 for s in seeds]
                metrics = {"val_accuracy": acc, "test_accuracy": acc, "final_loss": [1 - a for a in acc],
                           "params": len(p.source), "val_accuracy_mean": float(np.mean(acc)),
                           "test_accuracy_mean": float(np.mean(acc))}
                result = Result(p.id, metrics=metrics)
            results.append(result)
            if on_result:
                on_result(result)
        return results


class MemoryJournal:
    def __init__(self):
        self.results: dict[tuple[str, str], Result] = {}
        self.samples: dict[str, Any] = {}
        self.records: list[tuple[str, str, bool, str | None]] = []

    def known_result(self, program_id, stage="screen"):
        return self.results.get((program_id, stage))

    def record(self, round_, program, result, s: Score, stage="screen"):
        self.results[(program.id, stage)] = result
        self.records.append((program.id, stage, s.eligible, s.reason))

    def known_samples(self, key):
        return self.samples.get(key)

    def record_samples(self, key, completions, context):
        self.samples[key] = completions


def config(**overrides) -> ml_collections.ConfigDict:
    cfg = ml_collections.ConfigDict({
        "seed": 0, "num_rounds": 2, "num_prompts": 2, "samples_per_prompt": 3, "num_children": 2,
        "max_samples_per_round": 6, "shots": 2, "population_size": 3, "temperatures": (0.6,), "size_factor": 0.9,
        "accuracy_gain": 0.02, "max_new_tokens": 100, "parents": "fittest", "prompt_tuning": False,
        "tune_epochs": 1, "tune_batch_size": 2, "retry_failed": True, "confirm_seeds": 3})
    cfg.update(overrides)
    return cfg


def search(evaluator=None, journal=None, lm=None, **overrides) -> EvoPrompting:
    return EvoPrompting(config(**overrides), lm or ScriptedLM(), evaluator or ScriptedEvaluator(), seeds(),
                        journal or MemoryJournal(), 0.5, Mnist1D())


def test_text_only_twins_are_not_trained_and_failures_are_retried_once():
    evaluator = ScriptedEvaluator()
    evo = search(evaluator)
    state = evo.run_round(evo.initial_state())
    state = evo.run_round(state)
    stats = state.history[1]
    # The renamed seed (once per prompt) and the second prompt's crashing child (the first's again) are
    # duplicates; the first crashing child and the two new ones are evaluated.
    assert stats["duplicates"] == 3 and stats["valid"] == stats["evaluated"] == 3
    trained_sources = {pid for pid, seeds in evaluator.trained if seeds == (0,)}
    assert len(trained_sources) == 2 + 3 + stats["retry_valid"]
    assert stats["retried"] == 1 and stats["retry_valid"] == 1 and stats["retry_trained"] == 1
    retry_prompts = evo.lm.calls[-1]
    assert len(retry_prompts) == 1
    assert "(crash error: AttributeError: 'Array' object has no 'crash')" in retry_prompts[0]
    fixed = [p for p in state.pool if p.origin.get("retry_of")]
    assert len(fixed) == 1 and fixed[0].origin["error"] == "crash"


def test_children_entering_the_population_are_confirmed_on_three_seeds():
    evaluator = ScriptedEvaluator()
    evo = search(evaluator)
    state = evo.run_round(evo.run_round(evo.initial_state()))
    confirmations = [(pid, seeds) for pid, seeds in evaluator.trained if seeds != (0,)]
    assert confirmations and all(seeds == (1, 2) for _, seeds in confirmations)
    for p in state.pool:
        confirmed = p.id in {pid for pid, _ in confirmations}
        assert len(p.metrics["val_accuracy"]) == (3 if confirmed else 1)
    assert all(len(p.metrics["val_accuracy"]) == 3 for p in state.pool if p.origin.get("kind") == "seed")
    assert state.history[1]["confirmed"] >= 1


def test_a_lucky_seed_does_not_make_the_best():
    """A child at 0.99 on its one screening seed and ~0.75 on the next two enters with its mean."""
    probe = search()
    state0 = probe.run_round(probe.initial_state())
    lucky = [c for c in (probe.run_round(state0).pool) if c.origin.get("kind") != "seed"]
    evaluator = ScriptedEvaluator(lucky=tuple(c.id for c in lucky))
    evo = search(evaluator)
    state = evo.run_round(evo.run_round(evo.initial_state()))
    for p in state.pool:
        if p.id in evaluator.lucky:
            assert p.metrics["screen_val_accuracy_mean"] == 0.99 and p.metrics["val_accuracy_mean"] < 0.9


class EchoEvaluator:
    """Trains every program to the given metrics."""

    def __init__(self, metrics):
        self.metrics = metrics

    def evaluate(self, programs, seeds=None, on_result=None, steps=None):
        for p in programs:
            on_result(Result(p.id, metrics=self.metrics))


def test_a_twin_of_a_pool_member_stays_out():
    """The same network under another text that the fingerprint misses still trains to the same numbers;
    it is logged as a twin and not added to the pool."""
    evo = search()
    state = evo.run_round(evo.initial_state())
    seed = state.pool[0]
    twin = Program(seed.source.replace("(x)\n", "(x + 0)\n", 1))
    first_seed = {k: seed.metrics[k][:1] for k in ("val_accuracy", "test_accuracy", "final_loss")}
    evo.pipeline.evaluator = EchoEvaluator({**seed.metrics, **first_seed,
                                            "val_accuracy_mean": first_seed["val_accuracy"][0]})
    trained, _ = evo._evaluate(state, [Child(twin, state.pool, twin.source)], -np.inf)
    assert trained and trained[0][2] is False and twin.id not in {p.id for p in state.pool}
    assert ("same outcome as " + seed.id) in [r[3] for r in evo.pipeline.journal.records if r[0] == twin.id]


def test_a_replayed_round_reuses_the_journal_and_ends_the_same():
    journal = MemoryJournal()
    evaluator = ScriptedEvaluator()
    evo = search(evaluator, journal)
    state0 = evo.run_round(evo.initial_state())
    state1 = evo.run_round(state0)
    trained, calls = len(evaluator.trained), len(evo.lm.calls)
    replay = search(evaluator, journal, evo.lm).run_round(state0)  # as after a crash in round 1
    assert len(evaluator.trained) == trained and len(evo.lm.calls) == calls, "a replay trained or sampled"
    strip = lambda s: {**s.to_dict(), "history": [{k: v for k, v in h.items() if k != "seconds"}  # noqa: E731
                                                   for h in s.history]}
    assert strip(replay) == strip(state1)


@pytest.mark.parametrize("rank", ["accuracy", "pareto"])
def test_successive_halving_scores_the_full_budget_only_and_logs_the_stopped_with_their_rung(rank):
    from evojax_nas.search.fidelity import Fidelity

    evaluator, journal = ScriptedEvaluator(), MemoryJournal()
    evo = search(evaluator, journal, num_children=4, samples_per_prompt=4, max_samples_per_round=8,
                 retry_failed=False)
    evo.pipeline.fidelity = Fidelity.of((0.25, 1.0), 0.5, 100, rank)
    state = evo.run_round(evo.run_round(evo.initial_state()))
    seeds_ = {p.id for p in seeds()}
    assert all(steps is None for pid, steps in evaluator.steps if pid in seeds_)  # the seeds: the full budget
    rung0 = [pid for pid, steps in evaluator.steps if steps == (0, 25)]
    went_on = [pid for pid, steps in evaluator.steps if steps == (25, 100)]
    ok = [pid for pid in rung0 if journal.results[(pid, "rung0")].ok]
    assert len(ok) >= 2 and len(went_on) == -(-len(ok) // 2) and set(went_on) <= set(ok)
    best = evo.pipeline.fidelity.order([(pid, journal.results[(pid, "rung0")].metrics["val_accuracy_mean"],
                                         journal.results[(pid, "rung0")].metrics["params"]) for pid in ok])
    assert went_on == best[: len(went_on)]  # the best by the rank, ties by id
    if rank == "accuracy":
        assert best == sorted(ok, key=lambda pid: (-journal.results[(pid, "rung0")].metrics["val_accuracy_mean"], pid))
    stopped = [pid for pid in ok if pid not in went_on]
    assert all(journal.results[(pid, "screen")].failure.kind == "stopped" for pid in stopped)
    assert "rung 1 of 2" in journal.results[(stopped[0], "screen")].failure.message
    assert not {p.id for p in state.pool} & set(stopped)  # never in the population
    # replayed from the journal (a resumed run): the same state, nothing trained again
    again = search(ScriptedEvaluator(), journal, num_children=4, samples_per_prompt=4, max_samples_per_round=8,
                   retry_failed=False)
    again.pipeline.fidelity = evo.pipeline.fidelity
    replayed = again.run_round(again.run_round(again.initial_state()))
    assert [p.id for p in replayed.pool] == [p.id for p in state.pool] and not again.pipeline.evaluator.trained
    thirds = Fidelity.of((0.1, 0.3, 1.0), 1 / 3, 1000)
    assert thirds.steps == (100, 300, 1000)
    assert abs(thirds.fraction_of_steps(27) - (27 * 100 + 9 * 200 + 3 * 700) / 27000) < 1e-9


def test_pareto_halving_keeps_small_networks_that_learn_slowly():
    from evojax_nas.search.fidelity import Fidelity, pareto_order

    # (id, validation accuracy after the rung, size): a big fast learner, small slow ones, one dominated by both
    rung = [("big", 0.92, 366_602), ("gru24", 0.15, 2_146), ("gru30", 0.29, 3_420), ("tiny", 0.10, 30),
            ("mid", 0.20, 400_000), ("cnn", 0.60, 5_210)]
    by_accuracy = Fidelity.of((0.1, 1.0), 0.5, 1000).order(rung)
    assert by_accuracy[:3] == ["big", "cnn", "gru30"]
    # the first front (none more accurate and smaller) by accuracy, then the next; "mid" is dominated
    assert pareto_order(rung) == ["big", "cnn", "gru30", "gru24", "tiny", "mid"]
    assert Fidelity.of((0.1, 1.0), 0.5, 1000, rank="pareto").order(rung) == pareto_order(rung)
    with pytest.raises(ValueError, match="fidelity_rank"):
        Fidelity.of((0.1, 1.0), 0.5, 1000, rank="fitness")


class EditLM:
    """Finishes whatever class the prompt ends with: a new layer and the read-out inside `__call__`, or a whole
    `__call__` after the fields."""

    def __init__(self):
        self.calls: list[list[str]] = []

    def generate(self, prompts, n=1, temperature=0.8, max_new_tokens=256, stop=(), seed=0):
        self.calls.append(list(prompts))
        call = "    @nn.compact\n    def __call__(self, x, train: bool = False):\n"
        return [[(f"        x = nn.Dense({3 + seed % 50 + j})(x)\n        return nn.Dense(10)(x)\n" if
                  "def __call__" in prompt.rsplit("class Model", 1)[1] else f"{call}        return nn.Dense(10)(x)\n")
                 for j in range(n)] for prompt in prompts]


def test_edit_children_keep_the_fittest_parents_beginning():
    evo = search(lm=EditLM(), child_form="edit", retry_failed=False)
    state = evo.run_round(evo.run_round(evo.initial_state()))
    prompts = evo.lm.calls[0]
    fittest = body(32)  # the smaller seed: the same accuracy scale, fewer parameters
    edited = [p for p in state.pool if "edit_lines" in p.origin]
    assert prompts and all(p.endswith("\n") and not p.endswith("class Model(nn.Module):") for p in prompts)
    assert edited and all(p.origin["edit_lines"] >= 1 for p in edited)
    for program in edited:
        kept = program.source.split("class Model(nn.Module):\n", 1)[1]
        n = program.origin["edit_lines"]
        squeeze = lambda lines: ["".join(line.split()) for line in lines]  # noqa: E731 (repair re-spaces)
        assert squeeze(kept.split("\n")[:n]) == squeeze(fittest.split("\n")[1:n + 1])
    whole = search(lm=EditLM(), retry_failed=False)
    whole.run_round(whole.run_round(whole.initial_state()))
    assert all(p.endswith("class Model(nn.Module):") for p in whole.lm.calls[0])
    with pytest.raises(ValueError, match="child_form"):
        search(child_form="diff")
