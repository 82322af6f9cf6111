"""Best-of-N sampling: the LM prompted with the seeds alone (as naive few-shot), no evolution, no
prompt-tuning, and every sample of the budget drawn in one round: the LM without the search around it.

A baseline of configs/mnist1d_evoprompting.py at the same budget (its rounds' children in one round);
`:small` and `:quality` as there."""

from configs.mnist1d_evoprompting import get_config as evoprompting_config


def get_config(budget: str = "full"):
    config = evoprompting_config(budget)
    search = config.search
    search.update(parents="seeds", prompt_tuning=False, num_children=search.num_rounds * search.num_children,
                  max_samples_per_round=search.num_rounds * search.max_samples_per_round, num_rounds=1)
    return config
