"""EvoPrompting on MNIST-1D with the train stage on a Ray cluster (the `ray` extra): one actor per device,
`num_workers` of them, on whatever nodes joined the cluster `ray start --head` began on this machine. The
search, the LM and the trace sandboxes stay here. `:small` etc. give configs/mnist1d_evoprompting.py's budgets.

    ray start --head --num-gpus 8                      # here; on every other host: ray start --address HEAD:6379
    .venv/bin/evonas search --config configs/mnist1d_ray.py --workdir runs/ray"""

from configs.mnist1d_evoprompting import get_config as evoprompting_config


def get_config(budget: str = "full"):
    config = evoprompting_config(budget)
    # "auto": the cluster of this machine's `ray start`; "ray://head:10001" a remote one; "" one in this process
    config.eval.update(backend="ray", ray_address="auto", num_workers=8, ray_num_gpus=1.0)
    return config
