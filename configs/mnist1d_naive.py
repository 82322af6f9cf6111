"""Naive few-shot prompting: the seeds in every prompt, no evolution, no prompt-tuning.

An ablation of configs/mnist1d_evoprompting.py; `:small` gives the small budget."""

from configs.mnist1d_evoprompting import get_config as evoprompting_config


def get_config(budget: str = "full"):
    config = evoprompting_config(budget)
    config.search.parents = "seeds"
    config.search.prompt_tuning = False
    return config
