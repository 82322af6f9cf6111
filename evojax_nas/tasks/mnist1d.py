"""MNIST-1D (Greydanus 2020), regenerated offline by the `mnist1d` package's recipe and cached on disk; and the
task a search runs on it: a `Model` classifier, exported whole by the trace stage (tasks/classifier_trace.py) and
trained by the batched trainer (train/trainer.py)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from evojax_nas.paths import cache_dir
from evojax_nas.tasks import classifier
from evojax_nas.tasks.base import CandidateSpec
from evojax_nas.train.dataset import ClassificationTask


def dataset_args(seed: int = 42, num_samples: int = 5000) -> dict:
    """The published recipe's arguments (templates, padding, noise, shear, ...), with seed and size."""
    from mnist1d.data import get_dataset_args

    args = get_dataset_args(as_dict=True)
    args.update(seed=seed, num_samples=num_samples)
    args.pop("url", None)  # never downloaded: the recipe regenerates the frozen dataset exactly
    return args


def generate(seed: int = 42, num_samples: int = 5000, cache: Path | None = None) -> dict[str, np.ndarray]:
    """Return {x, y, x_test, y_test} for the recipe, from the disk cache (`cache`, default cache_dir()) or
    freshly generated."""
    from importlib.metadata import version

    # keyed by the package's version (its recipe) without importing it: mnist1d imports matplotlib and scipy,
    # three seconds of every train worker's start
    recipe = {"mnist1d": version("mnist1d"), "seed": seed, "num_samples": num_samples}
    key = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:12]
    path = (cache or cache_dir()) / f"mnist1d-{key}.npz"
    if path.exists():
        try:
            with np.load(path) as cached:
                return {k: cached[k] for k in ("x", "y", "x_test", "y_test")}
        except (OSError, ValueError, KeyError):
            path.unlink(missing_ok=True)  # a corrupt cache is regenerated
    arrays = make_dataset(dataset_args(seed, num_samples))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez(tmp, **arrays)
        os.replace(tmp, path)
    except OSError:  # a read-only cache (a confined train worker): the data lives in memory
        pass
    return arrays


def make_dataset(args: dict) -> dict[str, np.ndarray]:
    """The package's `make_dataset` (mnist1d/data.py and transform.py) to the bit, 14 times faster (3.6 s, 0.25 s):
    the random draws are made one example at a time in the package's order, the arithmetic over all examples
    at once (a fresh private data seed is made at every evaluator's start)."""
    from mnist1d.data import get_templates
    from scipy.interpolate import interp1d
    from scipy.ndimage import gaussian_filter1d

    def interpolate(x: np.ndarray, n: int) -> np.ndarray:  # transform.interpolate, along the last axis
        return interp1d(np.linspace(0, 1, x.shape[-1]), x, axis=-1, kind="linear")(np.linspace(0, 1, n))

    templates, rng = get_templates(), np.random.RandomState(args["seed"])  # set_seed: the global state, reseeded
    labels = np.repeat(templates["y"], args["num_samples"] // len(templates["y"]))
    low, high = args["padding"]
    width = args["template_len"] + high  # every example's length once dilated
    n = len(labels)
    pads, shifts = np.empty(n, dtype=int), np.empty(n, dtype=int)
    scales, shears, corr, iid = np.empty(n), np.empty(n), np.empty((n, width)), np.empty((n, width))
    for i in range(n):  # transform()'s draws, in its order
        pads[i] = low + int(rng.rand() * (high - low + 1))
        scales[i] = 1 + args["scale_coeff"] * (rng.rand() - 0.5)
        shifts[i] = rng.choice(args["max_translation"])
        corr[i] = args["corr_noise_scale"] * rng.randn(width)
        iid[i] = args["iid_noise_scale"] * rng.randn(width)
        shears[i] = args["shear_scale"] * (rng.rand() - 0.5)
    x = np.empty((n, width))
    for pad in np.unique(pads):  # pad with zeros, then dilate: one interpolation per padded length
        rows = np.flatnonzero(pads == pad)
        padded = np.concatenate([templates["x"][labels[rows]] + 1e-8, np.zeros((len(rows), pad))], axis=-1)
        x[rows] = interpolate(padded, width)
    x *= scales[:, None]
    x = x[np.arange(n)[:, None], (np.arange(width) - shifts[:, None]) % width]  # translate
    mask = x != 0
    x = mask * x + (1 - mask) * gaussian_filter1d(corr, 2, axis=-1)
    x = x + iid
    x = x - shears[:, None] * np.linspace(-0.5, 0.5, width)
    xs = interpolate(x, args["final_seq_length"])
    order = rng.permutation(n)
    xs, ys = xs[order], labels[order]
    if args["shuffle_seq"]:
        xs = xs[..., rng.permutation(args["final_seq_length"])]
    xs = (xs - xs.mean()) / xs.std()
    cut = int(len(ys) * args["train_split"])
    return {"x": xs[:cut].astype(np.float32), "y": ys[:cut].astype(np.int32),
            "x_test": xs[cut:].astype(np.float32), "y_test": ys[cut:].astype(np.int32)}


def make_task(seed: int = 42, num_samples: int = 5000, val_size: int = 500) -> ClassificationTask:
    """MNIST-1D with the last `val_size` training examples held out for validation."""
    data = generate(seed, num_samples)
    x, y = data["x"], data["y"]
    if not 0 <= val_size < len(x):
        raise ValueError(f"val_size must be in [0, {len(x)}), got {val_size}")
    cut = len(x) - val_size
    return ClassificationTask(
        name="mnist1d", num_classes=10,
        x_train=x[:cut], y_train=y[:cut], x_val=x[cut:], y_val=y[cut:],
        x_test=data["x_test"], y_test=data["y_test"],
    )


@dataclasses.dataclass(frozen=True)
class Mnist1D(classifier.ClassifierTask):
    """The MNIST-1D search task: a `Model(nn.Module)` mapping (batch, 40) signals to 10 logits, with a
    `train` argument; every classifier repair applies. Its data is the published recipe's, from `seed` (the
    published dataset: memorisable) or, given one, from the private `data_seed`."""

    seed: int = 42
    num_samples: int = 5000
    val_size: int = 500
    data_seed: int | None = None
    name: str = "mnist1d"
    candidate: CandidateSpec = CandidateSpec(
        task_line="Flax models for MNIST-1D: signals of length 40, 10 classes.", class_name=classifier.CLASS_NAME,
        closing="x = x.reshape((x.shape[0], -1))\nreturn nn.Dense(10)(x)", metrics=classifier.METRICS)
    num_classes: int = 10

    def data(self) -> ClassificationTask:
        """The arrays (generated, or read from the cache)."""
        return make_task(self.seed if self.data_seed is None else self.data_seed, self.num_samples, self.val_size)

    def prepare(self, cache: Path) -> None:
        generate(self.seed if self.data_seed is None else self.data_seed, self.num_samples, cache)

    def train_defaults(self) -> dict[str, Any]:
        from evojax_nas.train import default_config

        return default_config().to_dict()

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (int(dataset_args(self.seed, self.num_samples)["final_seq_length"]),)
