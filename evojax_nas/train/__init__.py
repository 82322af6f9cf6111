"""Batched training of candidate programs: init, vmap, lax.scan or a Python loop, optax, size and FLOPs."""

from evojax_nas.train.cost import count_reals, network_size
from evojax_nas.train.dataset import ClassificationTask
from evojax_nas.train.strategy import Strategy
from evojax_nas.train.trainer import Trainer, TrainingError, TrainResult, default_config

__all__ = ["ClassificationTask", "Strategy", "Trainer", "TrainingError", "TrainResult", "count_reals", "default_config",
           "network_size"]
