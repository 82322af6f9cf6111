"""The non-LM evolutionary baseline: EvoPrompting's rounds, parents, population, confirmation and fitness, with
the children written by rule (evojax_nas/search/mutation.py: the parents' widths, kernels, depth, hidden sizes
and dropout mutated, crossover within a family) instead of by the LM. No LM is loaded.

A baseline of configs/mnist1d_evoprompting.py at the same budget; `:small` and `:quality` as there."""

from configs.mnist1d_evoprompting import get_config as evoprompting_config


def get_config(budget: str = "full"):
    config = evoprompting_config(budget)
    # two parents a child at every budget: crossover takes a knob from a mate of the fittest's family
    config.search.update(operator="mutation", prompt_tuning=False, retry_failed=False, shots=2)
    config.lm.kind = "none"
    return config
