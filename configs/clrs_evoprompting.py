"""EvoPrompting on a CLRS algorithm: the LM writes the Triplet-GMPNN's triplet message function (the paper's
second experiment, Chen et al. 2023), with the embedded Gemma-3-270M.

`configs/clrs_evoprompting.py:ALGORITHM[,small]`: the paper searched articulation_points (the default),
graham_scan and mst_kruskal. The full budget is the paper's: 2,000 AdamW steps on run.py's recipe, fitness
-(validation error) x (whole model's parameters), error threshold 0.5, 10 rounds x 10 prompts x 16 samples.
`small` runs on a 2-core CPU in about 15 minutes: hidden 16, sizes 4/7/11, 100 steps, 32 validation and
test samples, test at n = 32; alone it searches graham_scan, the one of the three whose seeds clear the
0.5 threshold at that budget (measured validation scores at 100 steps: Graham scan 0.82, Kruskal 0.32,
articulation points 0.29)."""

import ml_collections

from configs.mnist1d_evoprompting import get_config as mnist1d_config

SEARCH_TASKS = ("articulation_points", "graham_scan", "mst_kruskal")


def get_config(arg: str = "") -> ml_collections.ConfigDict:
    tokens = [t for t in arg.split(",") if t]
    budget = "small" if "small" in tokens else "full"
    names = [t for t in tokens if t not in ("small", "full")]
    if len(names) > 1:
        raise ValueError(f"give one algorithm, not {names}")
    algorithm = names[0] if names else ("graham_scan" if budget == "small" else "articulation_points")

    from clrs_tasks.task import train_defaults

    config = mnist1d_config("full")  # the paper's search and LM settings (one place for them)
    config.task = f"clrs:{algorithm}"
    config.task_kwargs = ml_collections.ConfigDict()
    config.train = ml_collections.ConfigDict(train_defaults())  # 2,000 AdamW steps, hidden 128, run.py's data
    config.seeds = ("seeds/clrs_triplet/*.py",)
    config.min_val_accuracy = 0.5  # the paper's error threshold
    config.search.confirm_seeds = 1  # the paper trains one seed per child
    config.search.max_new_tokens = 768  # a triplet function is ~600 tokens of code (400 cut every child)
    config.eval.update(timeout_s=6 * 3600.0, memory_gb=16.0, program_memory_gb=12.0)
    if budget == "small":
        config.train.update(num_steps=100, hidden=16, train_lengths=[4, 7, 11], val_samples=32, test_samples=32,
                            test_length=32, eval_every=25)
        config.search.update(num_rounds=2, num_prompts=2, samples_per_prompt=4, num_children=3,
                             max_samples_per_round=16, tune_epochs=1, tune_batch_size=4)
        config.eval.update(num_workers=2, timeout_s=600.0, memory_gb=6.0, program_memory_gb=3.0)
    return config
