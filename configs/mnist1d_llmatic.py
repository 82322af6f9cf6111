"""LLMatic on MNIST-1D with the embedded Gemma-3-270M (Nasir et al. 2023, section 4.1), from the paper's
one-conv one-dense initial network (seeds/llmatic/mnist1d.py).

The network archive's descriptors are the width-to-depth ratio and the FLOPs of one example's forward pass.
The paper's bounds (ratio 0-200, 200 MFLOPs-5 GFLOPs) are CIFAR-10's. MNIST-1D nets are far smaller: the
initial net does about 1e3 FLOPs, the seeds 3e4-1e6. Both axes are therefore on a log scale, so a doubling
moves a network as far at any size: ratio 0.5-256, FLOPs 1e2-1e8. The LM, the training recipe and
`min_val_accuracy` (0.9: it decides which candidates the report counts as eligible, not what the archives
keep) are the EvoPrompting config's, so the two methods' runs compare on the same terms.

`configs/mnist1d_llmatic.py:small` is a budget that finishes in minutes on a 2-core CPU; `:compare` has the
evaluation budget of `configs/mnist1d_evoprompting.py:compare`, for the side-by-side report; `:quality` trains as
many children as its `:quality` (benchmarks/search_quality.py)."""

import ml_collections

from configs.mnist1d_evoprompting import get_config as evoprompting_config

NETWORK_DESCRIPTORS = (
    {"name": "width_to_depth", "low": 0.5, "high": 256.0, "log": True},
    {"name": "flops", "low": 1e2, "high": 1e8, "log": True},
)


def get_config(budget: str = "full") -> ml_collections.ConfigDict:
    config = evoprompting_config("full")  # the task, LM, training and threshold of the EvoPrompting search
    config.seeds = ("seeds/llmatic/mnist1d.py", "seeds/llmatic/mnist1d_example.py")  # the initial net, a worked example
    config.search = ml_collections.ConfigDict({
        "method": "llmatic",
        # successive halving: rungs as fractions of train.num_steps, e.g. (0.1, 0.3, 1.0); () trains every child
        # the full budget; fidelity_keep: the fraction of a rung that goes on (search/fidelity.py)
        "fidelity": (),
        "fidelity_keep": 1 / 3,
        "fidelity_rank": "accuracy",  # LLMatic's networks are ranked by accuracy (search/fidelity.py)
        "seed": 0,
        "num_rounds": 20,  # generations (the paper: 20 of 100 networks, 2000 in all)
        "batch": 100,  # networks per generation
        "num_init_nets": 10,  # the network archive holds this many before the operators start
        "mutation_probability": 0.7,  # else crossover, decided once per generation (Algorithm 1)
        "initial_temperature": 0.6,
        "temperature_noise": 0.1,  # every other child samples at its temperature + U(-0.1, 0.1)
        "temperature_step": 0.05,  # +0.05 when the child reaches the previous best, -0.05 otherwise
        "crossover_temperature": 0.7,
        "crossover_parents": 2,  # a random network and its nearest archive neighbour (the prompt combines two)
        "cells": 100,  # 10 niches per dimension, 2 dimensions (the paper)
        "prompt_cells": 100,
        "network_descriptors": [dict(d) for d in NETWORK_DESCRIPTORS],
        "population_size": 100,  # prompt_archive_only: the networks kept instead of the network archive
        "prompt_population_size": 100,  # network_archive_only: the prompt individuals instead of their archive
        "ablation": "none",  # network_archive_only, prompt_archive_only, mutation_only, crossover_only,
        # random_generation (section 4.2)
        "max_new_tokens": 400,
        "confirm_seeds": 1,  # the paper trains each network once; >1: a would-be best is trained on more seeds
    })
    if budget == "small":
        config.search.update(num_rounds=5, batch=8, num_init_nets=2, cells=25, prompt_cells=25, max_new_tokens=300)
        config.train.update(num_steps=500, num_seeds=1, strategy="python-serial",
                            max_train_flops=evoprompting_config("small").train.max_train_flops)  # its cap, and why
        config.eval.num_workers = 2
    elif budget == "compare":
        config.search.update(num_rounds=5, batch=16, num_init_nets=4, cells=49, prompt_cells=49, max_new_tokens=300)
        config.train.update(num_steps=1000, num_seeds=1)
        config.eval.update(num_workers=2, timeout_s=300.0)
    elif budget == "quality":  # configs/mnist1d_evoprompting.py:quality: its samples a round (LLMatic trains every
        # valid one), halving and confirmation
        evoprompting = evoprompting_config("quality")
        quality = evoprompting.search
        config.search.update(num_rounds=quality.num_rounds, batch=quality.max_samples_per_round, num_init_nets=4,
                             cells=49, prompt_cells=49, max_new_tokens=quality.max_new_tokens,
                             fidelity=quality.fidelity, fidelity_keep=quality.fidelity_keep,
                             confirm_seeds=quality.confirm_seeds)
        config.train, config.eval = evoprompting.train, evoprompting.eval
    elif budget != "full":
        raise ValueError(f"budget must be full, small, compare or quality, not {budget!r}")
    return config
