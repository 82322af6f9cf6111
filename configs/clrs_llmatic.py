"""LLMatic on a CLRS algorithm: the LM writes the Triplet-GMPNN's triplet message function, starting from
the smallest one (seeds/llmatic/clrs.py), with the embedded Gemma-3-270M.

`configs/clrs_llmatic.py:ALGORITHM[,small]`, with the training of configs/clrs_evoprompting.py (the paper's
budget in full; `small`: hidden 16, 100 steps, graham_scan by default).

Descriptors of the network archive, both measured by the trusted train stage:
- width_to_depth of the triplet function alone (its own parameter tree under the slot: the largest output
  feature count of its layers over how many have parameters), log scale 0.25-64: the initial function is
  16 / 2 = 8 at hidden 16, the reference 16 / 8 = 2;
- params of the whole model, log scale 2e3-2e6: FLOPs are not counted for CLRS (the slot runs inside the
  trusted model's scan, which has no per-candidate cost analysis), and the rest of the model is fixed per
  algorithm and hidden size, so the whole model's parameters order candidates by the slot's size (8,649 for
  the reference at hidden 16, 1.5e5 at 128)."""

import ml_collections

from configs.clrs_evoprompting import get_config as clrs_evoprompting_config
from configs.mnist1d_llmatic import get_config as mnist1d_llmatic_config

NETWORK_DESCRIPTORS = (
    {"name": "width_to_depth", "low": 0.25, "high": 64.0, "log": True},
    {"name": "params", "low": 2e3, "high": 2e6, "log": True},
)


def get_config(arg: str = "") -> ml_collections.ConfigDict:
    config = clrs_evoprompting_config(arg)  # the task, its training and evaluation limits
    small = "small" in arg.split(",")
    config.search = mnist1d_llmatic_config("small" if small else "full").search
    config.search.network_descriptors = [dict(d) for d in NETWORK_DESCRIPTORS]
    config.search.max_new_tokens = 768  # a triplet function is ~600 tokens of code
    config.seeds = ("seeds/llmatic/clrs.py", "seeds/llmatic/clrs_example.py")  # the initial net, a worked example
    return config
