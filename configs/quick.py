"""The default recipe on a small budget (1000 steps): minutes on a 2-core CPU."""

from configs.default import get_config as default_config


def get_config():
    config = default_config()
    config.train.num_steps = 1000
    return config
