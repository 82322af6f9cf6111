"""Batched training of candidate programs: init, vmap, lax.scan or a Python loop, optax, size and FLOPs."""

from evojax_nas.train.cost import count_params, forward_flops
from evojax_nas.train.strategy import Strategy
from evojax_nas.train.trainer import Trainer, TrainingError, TrainResult, default_config

__all__ = ["Strategy", "Trainer", "TrainingError", "TrainResult", "count_params", "default_config",
           "forward_flops"]
