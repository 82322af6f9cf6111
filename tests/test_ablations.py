"""The paper's ablations and the baselines of benchmarks/search_quality.py, in milliseconds (the scripted LM and
evaluator of test_search_logic.py): each config is EvoPrompting's at the same budget with only its own fields
changed, and the search it drives shows the parents it names (naive few-shot and best-of-N: the seeds in every
prompt; random parents: any eligible program, children included), tunes the soft prompt only where tuning is on,
and best-of-N draws the whole budget in one round. The mutation baseline's own tests: test_mutation.py."""

from __future__ import annotations

import re

import pytest

from evojax_nas.config import load_config
from evojax_nas.search.evoprompting import EvoPrompting
from evojax_nas.tasks.mnist1d import Mnist1D
from tests.conftest import ROOT
from tests.test_search_logic import MemoryJournal, ScriptedEvaluator, ScriptedLM, config, seeds

BUDGETS = ("small", "quality", "compare", "full")
SEED_WIDTHS = {"64", "32"}  # test_search_logic's seeds; its LM's children are narrower


def ablation(name: str, search) -> dict:
    """The `search` fields a method changes in EvoPrompting's config `search`: its definition."""
    rounds = {"num_rounds": 1, "num_children": search.num_rounds * search.num_children,
              "max_samples_per_round": search.num_rounds * search.max_samples_per_round}
    return {"evoprompting": {}, "no_tuning": {"prompt_tuning": False}, "random_parents": {"parents": "random"},
            "naive": {"parents": "seeds", "prompt_tuning": False},
            "best_of_n": {"parents": "seeds", "prompt_tuning": False, **rounds}}[name]


def flat(tree: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in tree.items():
        out.update(flat(value, f"{prefix}{key}.") if isinstance(value, dict) else {prefix + key: value})
    return out


@pytest.mark.parametrize("budget", BUDGETS)
@pytest.mark.parametrize("name", ["no_tuning", "random_parents", "naive", "best_of_n"])
def test_each_config_is_evoprompting_at_the_same_budget_with_its_own_fields_changed(name, budget):
    base = load_config(f"{ROOT}/configs/mnist1d_evoprompting.py:{budget}")
    ours, theirs = flat(base.to_dict()), flat(load_config(f"{ROOT}/configs/mnist1d_{name}.py:{budget}").to_dict())
    changed = {k: theirs.get(k) for k in ours.keys() | theirs.keys() if ours.get(k) != theirs.get(k)}
    assert changed == {f"search.{k}": v for k, v in ablation(name, base.search).items()
                       if base.search[k] != v}


class TunedLM(ScriptedLM):
    """The scripted LM with a soft prompt: counts the examples it is tuned on."""

    def __init__(self):
        super().__init__()
        self.tuned: list[int] = []

    def tune(self, examples, epochs=5, batch_size=16, seed=0):
        self.tuned.append(len(examples))
        return {"steps": 1.0}

    def state_tree(self):
        return {}

    def load_state_tree(self, tree):
        pass


class SizeEvaluator(ScriptedEvaluator):
    """The scripted evaluator with a network's size its width: the LM's narrower children are the fitter."""

    def evaluate(self, programs, seeds=None, on_result=None, steps=None):
        results = super().evaluate(programs, seeds, None, steps)
        for program, result in zip(programs, results, strict=True):
            if result.metrics:
                result.metrics["params"] = 100 * int(re.search(r"int = (\d+)", program.source)[1])
            if on_result:
                on_result(result)
        return results


def run(name: str, rounds: int = 3) -> tuple[TunedLM, list]:
    """`rounds` rounds of the method on the scripted LM and evaluator; the LM and each round's pool."""
    cfg = config(num_rounds=rounds, prompt_tuning=True, population_size=2)
    cfg.update(ablation(name, cfg))
    lm = TunedLM()
    evo = EvoPrompting(cfg, lm, SizeEvaluator(), seeds(), MemoryJournal(), 0.5, Mnist1D())
    state, pools = evo.initial_state(), []
    for _ in range(evo.config.num_rounds + 1):
        state = evo.run_round(state)
        pools.append(list(state.pool))
    return lm, pools


def shown_widths(lm: ScriptedLM) -> list[set[str]]:
    """The widths of the parents shown in each prompt that is not a retry, in order."""
    return [set(re.findall(r"width: int = (\d+)", p)) for call in lm.calls for p in call
            if "# An attempt that failed" not in p]


def test_naive_few_shot_and_best_of_n_show_the_seeds_alone_and_tune_nothing():
    for name in ("naive", "best_of_n"):
        lm, pools = run(name)
        assert all(widths == SEED_WIDTHS for widths in shown_widths(lm)), name
        assert lm.tuned == [] and any(p.origin.get("kind") != "seed" for p in pools[-1]), name
    for name, tuned in (("evoprompting", True), ("no_tuning", False)):
        lm, _ = run(name)
        assert shown_widths(lm)[-1].isdisjoint(SEED_WIDTHS), f"{name} shows the children it bred"
        assert bool(lm.tuned) == tuned and all(n > 0 for n in lm.tuned), name


def test_best_of_n_draws_every_round_s_samples_in_one_round():
    lm, pools = run("best_of_n")
    evo_lm, evo_pools = run("evoprompting")
    assert len(pools) == 2 and len(evo_pools) == 4  # round 0 (the seeds), then one round against three
    assert len(shown_widths(lm)) == len(shown_widths(evo_lm)) == 3 * config().num_prompts  # the same samples


def test_random_parents_reach_beyond_the_population():
    """With a population of 2 the fittest mode shows the two fittest, children once they lead; random parents
    show any eligible program, the least fit seed (64 wide) among them."""
    shown = {name: shown_widths(run(name, rounds=4)[0])[config().num_prompts:]
             for name in ("random_parents", "evoprompting")}  # after round 1
    assert any("64" in w for w in shown["random_parents"]) and not any("64" in w for w in shown["evoprompting"])
