"""Sign-1D, a small two-class task generated here from a seed (nothing to install or download): noisy
signals of length 16 with one bump, classed by the half it sits in. It is the example of what a task is:
this module and its line in tasks/registry.py are all that adding it took; the classifier's contract
(class, repairs, tracer, train stage) is tasks/classifier.py's, shared with MNIST-1D."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from evojax_nas.tasks import classifier
from evojax_nas.tasks.base import CandidateSpec
from evojax_nas.train.dataset import ClassificationTask

LENGTH = 16


def make_data(seed: int, num_samples: int, val_size: int) -> ClassificationTask:
    """Signals of LENGTH: noise plus a bump of random height at a random place; the class is its half."""
    rng = np.random.default_rng(seed)
    n = num_samples + num_samples // 4  # and a test set a quarter the size
    where = rng.integers(0, LENGTH, n)
    x = rng.normal(0.0, 0.5, (n, LENGTH)).astype(np.float32)
    x[np.arange(n), where] += rng.uniform(1.5, 3.0, n).astype(np.float32)
    y = (where >= LENGTH // 2).astype(np.int32)
    cut = num_samples - val_size
    return ClassificationTask(name="sign1d", num_classes=2, x_train=x[:cut], y_train=y[:cut],
                              x_val=x[cut:num_samples], y_val=y[cut:num_samples], x_test=x[num_samples:],
                              y_test=y[num_samples:])


@dataclasses.dataclass(frozen=True)
class Sign1D(classifier.ClassifierTask):
    """The Sign-1D search task: a `Model(nn.Module)` mapping (batch, 16) signals to 2 logits. Its data is made
    from `seed`, or from the private `data_seed` when given."""

    seed: int = 0
    num_samples: int = 1200
    val_size: int = 200
    data_seed: int | None = None
    name: str = "sign1d"
    candidate: CandidateSpec = CandidateSpec(
        task_line=f"Flax models for Sign-1D: signals of length {LENGTH}, 2 classes (the half holding a bump).",
        class_name=classifier.CLASS_NAME,
        closing="x = x.reshape((x.shape[0], -1))\nreturn nn.Dense(2)(x)", metrics=classifier.METRICS)
    num_classes: int = 2
    input_shape: tuple[int, ...] = (LENGTH,)

    def data(self) -> ClassificationTask:
        return make_data(self.seed if self.data_seed is None else self.data_seed, self.num_samples, self.val_size)

    def prepare(self, cache: Path) -> None:
        """Nothing: the data is made in the worker, in milliseconds."""

    def train_defaults(self) -> dict[str, Any]:
        from evojax_nas.train import default_config

        return {**default_config().to_dict(), "num_steps": 300}
