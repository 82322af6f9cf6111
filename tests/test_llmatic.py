"""LLMatic's rules in milliseconds (beside the real end-to-end runs in test_llmatic_search.py): the archives'
normalisation and exact restore, the curiosity, prompt-fitness and temperature rules on constructed cases,
what each ablation flag changes, and the descriptors the train stage measures on known networks."""

from __future__ import annotations

import hashlib
import math

import flax.linen as nn
import ml_collections
import numpy as np
import pytest

from evojax_nas.config import load_config
from evojax_nas.evaluate import Result
from evojax_nas.programs.loader import load_class
from evojax_nas.programs.program import Failure, Program
from evojax_nas.search.archive import Archive, Axis
from evojax_nas.search.llmatic import (
    CROSSOVER_PROMPT,
    RANDOM_PROMPT,
    Archives,
    Llmatic,
    LlmaticState,
    Outcome,
    Request,
    curiosity_delta,
    moved_temperature,
    plan_generation,
    update_archives,
)
from evojax_nas.search.llmatic_prompts import MUTATIONS
from evojax_nas.search.method import check_config, method_class
from evojax_nas.tasks.classifier import METRICS
from evojax_nas.tasks.classifier_trace import TraceSpec, export_class
from evojax_nas.tasks.mnist1d import Mnist1D
from evojax_nas.train import Trainer, default_config
from evojax_nas.train.exported import ExportedNetwork
from tests.conftest import ROOT
from tests.test_search_logic import MemoryJournal

INITIAL = Program((ROOT / "seeds" / "llmatic" / "mnist1d.py").read_text(), origin={"kind": "seed", "name": "initial"})
AXES = [{"name": "width_to_depth", "low": 0.5, "high": 256.0, "log": True},
        {"name": "flops", "low": 1e2, "high": 1e8, "log": True}]


def config(**overrides) -> ml_collections.ConfigDict:
    cfg = ml_collections.ConfigDict({
        "method": "llmatic", "seed": 0, "num_rounds": 4, "batch": 6, "num_init_nets": 2,
        "mutation_probability": 0.7, "initial_temperature": 0.6, "temperature_noise": 0.1, "temperature_step": 0.05,
        "crossover_temperature": 0.7, "crossover_parents": 2, "cells": 16, "prompt_cells": 16,
        "network_descriptors": AXES, "population_size": 4, "prompt_population_size": 10, "ablation": "none",
        "max_new_tokens": 100})
    cfg.update(overrides)
    return cfg


def layers(width: int, depth: int, crash: bool = False) -> str:
    lines = "\n" + "".join(f"        x = nn.relu(nn.Dense({width})(x))\n" for _ in range(depth))
    return lines + ("        x = x.crash()\n" if crash else "") + "        return nn.Dense(10)(x)\n"


class WidthLM:
    """Each prompt gets a net of a width and depth drawn from the seed and row; every fifth crashes."""

    def generate(self, prompts, n=1, temperature=0.8, max_new_tokens=256, stop=(), seed=0):
        return [[layers(8 * (1 + (seed + i) % 9), 1 + (seed // 7 + i) % 3, crash=(seed + i) % 5 == 0)] * n
                for i in range(len(prompts))]


class DescribingEvaluator:
    """Metrics from the source as the train stage would report them: width, depth and FLOPs of the layers
    written, an accuracy from a hash; `.crash()` fails."""

    def evaluate(self, programs, seeds=None, on_result=None, steps=None):
        for p in programs:
            if ".crash()" in p.source:
                result = Result(p.id, failure=Failure("crash", "AttributeError: no crash"))
            else:
                widths = [int(w) for w in __import__("re").findall(r"nn\.Dense\((\d+)\)", p.source)]
                acc = 0.3 + int(hashlib.sha256(p.id.encode()).hexdigest(), 16) % 600 / 1000
                result = Result(p.id, metrics={
                    "val_accuracy": [acc], "test_accuracy": [acc], "final_loss": [1 - acc],
                    "val_accuracy_mean": acc, "test_accuracy_mean": acc, "params": 100 * sum(widths),
                    "flops": 2.0 * 40 * sum(widths) * 10, "width": max(widths), "depth": len(widths)})
            on_result(result)


def llmatic(**overrides) -> Llmatic:
    return Llmatic(config(**overrides), WidthLM(), DescribingEvaluator(), [INITIAL], MemoryJournal(), 0.5, Mnist1D())


def run(search: Llmatic, rounds: int) -> LlmaticState:
    state = search.initial_state()
    for _ in range(rounds + 1):
        state = search.run_round(state)
    return state


def test_descriptors_are_normalised_and_the_archive_restores_exactly():
    archive = Archive([Axis.from_config(a) for a in AXES], 16, seed=3)
    assert archive.measures([0.5, 1e8]) == [0.0, 1.0]
    assert archive.measures([16.0, 1e5]) == pytest.approx([math.log(32) / math.log(512), 0.5])
    assert archive.measures([1e6, 1.0]) == [1.0, 0.0]  # clipped to the bounds
    assert archive.add("a", 0.5, [4.0, 1e3]) and not archive.add("b", 0.4, [4.0, 1e3])  # the same cell, worse
    assert archive.add("c", 0.6, [4.0, 1e3]) and archive.ids() == ["c"]  # better: replaces it
    for name, acc, where in (("d", 0.2, [256.0, 1e8]), ("e", 0.3, [64.0, 1e6]), ("f", 0.3, [1.0, 1e8])):
        assert archive.add(name, acc, where)
    restored = Archive.from_dict(archive.to_dict())
    assert restored.to_dict() == archive.to_dict() and restored.stats() == archive.stats()
    assert restored.nearest("d", 2) == ["e", "f"]  # (0.78, 0.67) then (0.11, 1.0) from (1, 1)
    assert archive.stats() == {"cells": 4, "coverage": 0.25, "qd_score": pytest.approx(1.4)}
    with pytest.raises(ValueError, match="finite"):
        archive.add("f", float("nan"), [1.0, 1e3])


def constructed(search: Llmatic) -> tuple[LlmaticState, Archives]:
    """A state after warm-up: the initial network archived at 0.4, one prompt individual of curiosity 0."""
    state = search.initial_state()
    state.programs[INITIAL.id] = {**INITIAL.to_dict(), "metrics": {"val_accuracy_mean": 0.4}}
    archives = Archives(state)
    archives.networks.add(INITIAL.id, 0.4, [5.0, 930.0])
    state.individuals["i0"] = {"prompt": 3, "temperature": 0.6, "curiosity": 0.0}
    state.counter = 1
    archives.prompts.add("i0", 0.0, [3, 0.6])
    state.best = 0.4
    return state, archives


def child(name: str, acc: float | None, descriptors=(5.0, 930.0), temperature=0.6, individual="i0",
          prompt=3) -> tuple[Outcome, dict[str, Program]]:
    program = Program(f"# {name}\n" + INITIAL.source)
    program.metrics = {"val_accuracy_mean": acc}
    request = Request("mutation", [INITIAL.id], prompt, temperature, individual)
    return Outcome(request, program.id if acc is not None else None, acc, descriptors), {program.id: program}


def test_curiosity_accumulates_plus_one_minus_half_minus_one():
    assert curiosity_delta(Outcome(Request("mutation", [], 0, 0.6)), added=False) == -1.0  # untrainable
    assert curiosity_delta(Outcome(Request("mutation", [], 0, 0.6), duplicate=True), added=False) == -0.5
    search = llmatic()
    state, archives = constructed(search)
    entered, programs = child("better in its cell", 0.5)
    update_archives(state, archives, search.config, [entered], programs, METRICS)
    assert state.individuals["i0"]["curiosity"] == 1.0  # its child entered the network archive
    worse, programs = child("worse in the same cell", 0.45)
    update_archives(state, archives, search.config, [worse], programs, METRICS)
    assert state.individuals["i0"]["curiosity"] == 0.5  # not added: -0.5
    broken, programs = child("untrainable", None)
    update_archives(state, archives, search.config, [broken], programs, METRICS)
    assert state.individuals["i0"]["curiosity"] == -0.5  # untrainable: -1.0
    # each child's individual carries its parent's curiosity after the update
    assert [state.individuals[f"i{k}"]["curiosity"] for k in (1, 2, 3)] == [1.0, 0.5, -0.5]


def test_temperature_moves_by_the_previous_best_and_stays_in_bounds():
    assert moved_temperature(0.6, True, 0.05) == pytest.approx(0.65)
    assert moved_temperature(0.6, False, 0.05) == pytest.approx(0.55)
    assert moved_temperature(0.98, True, 0.05) == 1.0 and 0 < moved_temperature(0.03, False, 0.05) <= 0.05
    search = llmatic()
    state, archives = constructed(search)
    equal, p1 = child("reaches the best", 0.4, (50.0, 1e6), temperature=0.7)
    below, p2 = child("below the best", 0.39, (100.0, 1e7), temperature=0.7)
    above, p3 = child("beats the best", 0.9, (1.0, 1e2), temperature=0.3)
    update_archives(state, archives, search.config, [equal, below, above], {**p1, **p2, **p3}, METRICS)
    assert [state.individuals[f"i{k}"]["temperature"] for k in (1, 2, 3)] == pytest.approx([0.75, 0.65, 0.35])
    # the prompt's collective fitness counts the child that beat the previous best (not the one that equalled it)
    assert state.prompt_scores[3] == 1.0 and sum(state.prompt_scores) == 1.0


def test_mutation_takes_half_curious_individuals_half_random_prompts_and_noisy_temperatures():
    search = llmatic(batch=8, mutation_probability=1.0)
    state, archives = constructed(search)
    archives.networks.add("other", 0.3, [100.0, 1e7])
    state.programs["other"] = {**INITIAL.to_dict(), "metrics": {"val_accuracy_mean": 0.3}}
    state.individuals["i1"] = {"prompt": 5, "temperature": 0.9, "curiosity": 2.0}
    archives.prompts.add("i1", 0.0, [5, 0.9])
    operator, requests = plan_generation(state, archives, search.config, INITIAL.id, np.random.default_rng(0))
    assert operator == "mutation"
    assert [r.individual for r in requests[:4]] == ["i1", "i0", "i1", "i0"]  # most curious first
    assert all(r.individual is None for r in requests[4:])
    assert requests[0].temperature == 0.9 and requests[1].temperature != 0.6  # every other one moved by noise
    assert all(abs(r.temperature - 0.6) <= 0.1 + 1e-9 for r in requests[4:])


def test_warm_up_then_operators_and_the_archives_fill():
    state = run(llmatic(), 4)
    operators = [h["operator"] for h in state.history]
    assert operators[:2] == ["initial", "warm-up"] and set(operators[2:]) <= {"mutation", "crossover", "warm-up"}
    assert state.history[-1]["network_cells"] >= 3 and state.history[-1]["prompt_cells"] >= 2
    crossover = [p for p in state.programs.values() if p["origin"].get("kind") == "crossover"]
    assert all(len(p["parents"]) == 2 for p in crossover)
    assert "network_qd_score" in state.history[-1] and state.best > 0


@pytest.mark.parametrize("ablation", ["mutation_only", "crossover_only", "random_generation",
                                      "network_archive_only", "prompt_archive_only"])
def test_each_ablation_changes_what_it_names(ablation):
    state = run(llmatic(ablation=ablation, num_rounds=5), 5)
    operators = {h["operator"] for h in state.history[1:]}
    kinds = {p["origin"].get("kind") for p in state.programs.values()} - {"seed"}
    if ablation == "mutation_only":
        assert operators <= {"warm-up", "mutation"} and "mutation" in operators and "crossover" not in kinds
    elif ablation == "crossover_only":
        assert "crossover" in operators and "mutation" not in operators - {"warm-up"}
    elif ablation == "random_generation":
        assert operators == {"random"} and state.prompts is None
        assert all(p["parents"] == [INITIAL.id] and p["origin"]["prompt"] == RANDOM_PROMPT
                   for p in state.programs.values() if p["id"] != INITIAL.id)
    elif ablation == "network_archive_only":
        assert state.prompts is None and state.networks and len(state.prompt_population) == 10
        assert any(ind["curiosity"] != 0 for ind in state.individuals.values())
    else:
        assert state.networks is None and state.prompts and 0 < len(state.population) <= 4
    plain = run(llmatic(num_rounds=5), 5)
    assert [h["operator"] for h in plain.history] != [h["operator"] for h in state.history] or \
        plain.to_dict() != state.to_dict()


def test_a_replayed_generation_ends_the_same_and_the_state_round_trips():
    journal = MemoryJournal()
    search = Llmatic(config(), WidthLM(), DescribingEvaluator(), [INITIAL], journal, 0.5, Mnist1D())
    state = run(search, 2)
    replay = Llmatic(config(), WidthLM(), DescribingEvaluator(), [INITIAL], journal, 0.5, Mnist1D())
    again = replay.run_round(LlmaticState.from_dict(run(search, 1).to_dict()))
    strip = lambda s: {**s.to_dict(), "history": [{k: v for k, v in h.items() if k != "seconds"}  # noqa: E731
                                                   for h in s.history]}
    assert strip(again) == strip(state)


class SeedingEvaluator(DescribingEvaluator):
    """DescribingEvaluator's metrics on each training seed asked for (another accuracy per seed); records the
    seeds each program was trained on."""

    def __init__(self):
        self.trained: list[tuple[str, tuple[int, ...]]] = []

    def evaluate(self, programs, seeds=None, on_result=None, steps=None):
        seeds = tuple(seeds or (0,))
        self.trained += [(p.id, seeds) for p in programs]

        def per_seed(result):
            if result.ok:
                acc = [min(result.metrics["val_accuracy_mean"] + 0.01 * s, 1.0) for s in seeds]
                result = Result(result.program_id, metrics={**result.metrics, "val_accuracy": acc,
                                                            "test_accuracy": acc, "final_loss": [0.1] * len(acc),
                                                            "val_accuracy_mean": float(np.mean(acc))})
            on_result(result)

        super().evaluate(programs, seeds, per_seed, steps)


def test_a_would_be_best_is_confirmed_on_more_seeds_before_it_counts():
    for confirm_seeds in (1, 3):
        evaluator = SeedingEvaluator()
        search = Llmatic(config(confirm_seeds=confirm_seeds), WidthLM(), evaluator, [INITIAL], MemoryJournal(), 0.5,
                         Mnist1D())
        state = run(search, 3)
        confirmed = {pid for pid, seeds in evaluator.trained if seeds != (0,)}
        assert all(seeds in ((0,), (1, 2)) for _, seeds in evaluator.trained)
        assert bool(confirmed) == (confirm_seeds == 3)
        for p in state.programs.values():  # the archives hold the merged metrics
            assert len(p["metrics"]["val_accuracy"]) == (3 if p["id"] in confirmed else 1)
    with pytest.raises(ValueError, match="confirm_seeds"):
        check_config(config(confirm_seeds=0))


def test_configs_are_checked_and_methods_resolved():
    assert method_class("llmatic") is Llmatic
    with pytest.raises(ValueError, match="search.method"):
        method_class("nsga")
    for bad, field in ((dict(ablation="no_archives"), "ablation"), (dict(batch=0), "batch"),
                       (dict(mutation_probability=1.5), "mutation_probability"),
                       (dict(network_descriptors=[{"name": "colour", "low": 0, "high": 1}] * 2), "colour")):
        with pytest.raises(ValueError, match=field):
            check_config(config(**bad))
    assert CROSSOVER_PROMPT < 0 and len(MUTATIONS) == 13
    for path in ("mnist1d_llmatic.py", "mnist1d_llmatic.py:small", "mnist1d_llmatic.py:compare",
                 "mnist1d_llmatic.py:quality",
                 "clrs_llmatic.py:graham_scan,small", "clrs_llmatic.py"):
        loaded = load_config(ROOT / "configs" / path)
        check_config(loaded.search)
        assert loaded.search.method == "llmatic" and len(loaded.seeds) == 2


@pytest.mark.parametrize("name, params, width, depth, flops", [
    # conv 1->1 channel, kernel 1: 2*40 + bias 40 + relu 40; dense 2*40*10 + bias 10
    ("llmatic/mnist1d", 412, 10, 2, 80 + 40 + 40 + 800 + 10),
    # dense 2*40*100 + 100 bias + 100 relu, dense 2*100*100 + 100 + 100, dense 2*100*10 + 10
    ("mnist1d/mlp", 15_210, 100, 3, 8_200 + 20_200 + 2_010),
    # the GRU cell is one layer (its body counts once), the read-out another; its six 32-wide products run
    # 40 times: at least 40 * 2 * (3 * 1 * 32 + 3 * 32 * 32) FLOPs (XLA's cost analysis said 7,471: the body once)
    ("mnist1d/gru", 3_626, 32, 2, (40 * 2 * (3 * 32 + 3 * 32 * 32), 1.15)),
    ("mnist1d/cnn", 5_210, 25, 4, None),  # three convolutions and the read-out
])
def test_descriptors_of_known_networks_are_measured_from_the_computation(task, name, params, width, depth, flops):
    cls = load_class((ROOT / "seeds" / f"{name}.py").read_text(), "Model", base=nn.Module)
    network = ExportedNetwork.from_bytes(export_class(cls, TraceSpec.of("Model", (40,)), (1,)))
    train = default_config()
    train.update(num_steps=2, strategy="python-serial")
    result = Trainer(task, train).train(network)
    assert (result.params, result.width, result.depth) == (params, width, depth)
    if isinstance(flops, tuple):
        assert flops[0] <= result.flops <= flops[0] * flops[1]
    elif flops is not None:
        assert result.flops == flops
