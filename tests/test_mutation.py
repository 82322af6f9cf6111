"""The non-LM baseline (search/mutation.py, `search.operator = "mutation"`) in milliseconds: which numbers are
knobs, what a child may change, crossover within a family, depth, determinism, and EvoPrompting's rounds
driven by it with no LM (with the scripted evaluator of test_search_logic.py)."""

from __future__ import annotations

import ast
from pathlib import Path

import ml_collections
import numpy as np
import pytest

from evojax_nas.programs.static_check import check_source
from evojax_nas.runs.search_run import bind_config
from evojax_nas.search.evoprompting import EvoPrompting, check_config
from evojax_nas.search.mutation import knobs, skeleton, vary
from evojax_nas.tasks.mnist1d import Mnist1D
from tests.test_search_logic import MemoryJournal, ScriptedEvaluator, config, seeds

ROOT = Path(__file__).resolve().parents[1]
SEEDS = {p.stem: p.read_text() for p in (ROOT / "seeds" / "mnist1d").glob("*.py")}


def values(source: str) -> list[tuple[object, str]]:
    tree = ast.parse(source)
    constants = [n for n in ast.walk(tree) if isinstance(n, ast.Constant)]
    return [(constants[k.index].value, k.kind) for k in knobs(tree)]


def test_knobs_are_the_settings_a_person_would_tune_and_never_the_read_out():
    assert values(SEEDS["mlp"]) == [(100, "width")]
    assert values(SEEDS["gru"]) == [(32, "width")]
    assert sorted(values(SEEDS["cnn"]), key=str) == sorted([(25, "width"), (5, "kernel"), (3, "kernel"),
                                                            (3, "kernel")], key=str)  # not strides nor padding
    bn = values(SEEDS["cnn_bn_dropout"])
    assert (3, "width") in bn and (32, "width") in bn and (48, "width") in bn and (0.2, "rate") in bn
    assert (0.9, "rate") not in bn  # batch norm's momentum sits in functools.partial, not a layer call
    assert all(v != 10 for src in SEEDS.values() for v, _ in values(src))  # Dense(10): the task's output


def test_children_are_valid_distinct_programs_and_the_same_seed_gives_the_same_child():
    for name, source in SEEDS.items():
        children = [vary([source], np.random.default_rng(i)) for i in range(30)]
        assert all(c is not None and check_source(c, required_class="Model") is None for c in children), name
        assert all("Dense(10)" in c for c in children)
        assert len({ast.dump(ast.parse(c)) for c in children}) >= 12, name  # they differ from each other (the GRU
        # has one knob, 32, moved anywhere in 16-64)...
        assert ast.dump(ast.parse(source)) not in {ast.dump(ast.parse(c)) for c in children}  # ...and the parent
        assert vary([source], np.random.default_rng(7)) == children[7]


def test_crossover_takes_knobs_from_both_parents_of_one_family():
    narrow = SEEDS["cnn"].replace("channels: int = 25", "channels: int = 8")
    wide = SEEDS["cnn"].replace("(5,)", "(9,)")
    assert skeleton(ast.parse(narrow)) == skeleton(ast.parse(wide)) != skeleton(ast.parse(SEEDS["mlp"]))
    mixed = [c for c in (vary([narrow, wide], np.random.default_rng(i), temperature=0.0) for i in range(40))
             if c and "= 8" in c and "(9,)" in c]
    assert mixed  # the width of one parent beside the kernel of the other


def test_depth_grows_and_shrinks():
    hidden_layers = {vary([SEEDS["mlp"]], np.random.default_rng(i)).count("nn.Dense(self.hidden)") for i in range(80)}
    assert {1, 3} <= hidden_layers  # from 2: a layer dropped, a layer repeated
    widths = {len(ast.literal_eval(c.split("widths: tuple = ")[1].split("\n")[0]))
              for c in (vary([SEEDS["cnn_bn_dropout"]], np.random.default_rng(i)) for i in range(80))}
    assert {1, 3} <= widths


def test_a_search_runs_on_the_operator_without_an_lm_and_replays_the_same():
    cfg = config(operator="mutation", retry_failed=False, temperatures=(0.2, 1.0))
    journal, evaluator = MemoryJournal(), ScriptedEvaluator()
    evo = EvoPrompting(cfg, None, evaluator, seeds(), journal, 0.5, Mnist1D())
    state = evo.run_round(evo.initial_state())
    after = evo.run_round(state)
    stats = after.history[1]
    assert stats["sampled"] == 6 and stats["evaluated"] >= 2 and stats.get("retried", 0) == 0
    children = [p for p in after.pool if p.origin.get("kind") != "seed"]
    assert children and all(p.origin["operator"] == "mutation" for p in children)
    again = EvoPrompting(cfg, None, ScriptedEvaluator(), seeds(), journal, 0.5, Mnist1D()).run_round(state)
    strip = lambda s: {**s.to_dict(), "history": [{k: v for k, v in h.items() if k != "seconds"}  # noqa: E731
                                                   for h in s.history]}
    assert strip(again) == strip(after)  # the operator is seeded by the round's RNG


def test_configs_without_an_lm_are_refused_where_an_lm_is_needed(tmp_path):
    for bad in ({"prompt_tuning": True}, {"retry_failed": True}, {"operator": "gpt"}):
        with pytest.raises(ValueError, match="operator"):
            check_config(config(**{"operator": "mutation", "retry_failed": False, **bad}))
    run = ml_collections.ConfigDict({"search": config(), "lm": {"kind": "none"}})
    with pytest.raises(ValueError, match="lm.kind='none'"):
        bind_config(run, tmp_path / "run")  # the LM is needed by the default operator
