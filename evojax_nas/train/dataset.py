"""The supervised classification data the trainer trains on: arrays, loss and metric (a classification task
builds one: tasks/mnist1d.py, tasks/sign1d.py)."""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import numpy as np
import optax


@dataclasses.dataclass(frozen=True)
class ClassificationTask:
    """Train/validation/test arrays of a supervised classification dataset."""

    name: str
    num_classes: int
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one example."""
        return tuple(self.x_train.shape[1:])

    @staticmethod
    def loss(logits: jnp.ndarray, labels: jnp.ndarray) -> jnp.ndarray:
        """Mean softmax cross-entropy."""
        return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()

    @staticmethod
    def metric(logits: jnp.ndarray, labels: jnp.ndarray) -> jnp.ndarray:
        """Accuracy."""
        return (jnp.argmax(logits, -1) == labels).mean()
