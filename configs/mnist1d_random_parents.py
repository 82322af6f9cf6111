"""EvoPrompting with random parents (uniform over every eligible model) instead of the fittest.

An ablation of configs/mnist1d_evoprompting.py; `:small` gives the small budget."""

from configs.mnist1d_evoprompting import get_config as evoprompting_config


def get_config(budget: str = "full"):
    config = evoprompting_config(budget)
    config.search.parents = "random"
    return config
