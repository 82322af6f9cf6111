"""MNIST-1D (Greydanus 2020), regenerated offline with the `mnist1d` package and cached on disk."""

from __future__ import annotations

import hashlib
import json
import os

import numpy as np

from evojax_nas.paths import cache_dir
from evojax_nas.tasks.base import ClassificationTask


def dataset_args(seed: int = 42, num_samples: int = 5000) -> dict:
    """The published recipe's arguments (templates, padding, noise, shear, ...), with seed and size."""
    from mnist1d.data import get_dataset_args

    args = get_dataset_args(as_dict=True)
    args.update(seed=seed, num_samples=num_samples)
    args.pop("url", None)  # never downloaded: the recipe regenerates the frozen dataset exactly
    return args


def generate(seed: int = 42, num_samples: int = 5000) -> dict[str, np.ndarray]:
    """Return {x, y, x_test, y_test} for the recipe, from the disk cache or freshly generated."""
    from mnist1d.data import make_dataset
    from mnist1d.utils import ObjectView

    args = dataset_args(seed, num_samples)
    key = hashlib.sha256(json.dumps(args, sort_keys=True).encode()).hexdigest()[:12]
    path = cache_dir() / f"mnist1d-{key}.npz"
    if path.exists():
        try:
            with np.load(path) as cached:
                return {k: cached[k] for k in ("x", "y", "x_test", "y_test")}
        except (OSError, ValueError, KeyError):
            path.unlink(missing_ok=True)  # a corrupt cache is regenerated
    data = make_dataset(ObjectView(args))
    arrays = {
        "x": data["x"].astype(np.float32), "y": data["y"].astype(np.int32),
        "x_test": data["x_test"].astype(np.float32), "y_test": data["y_test"].astype(np.int32),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)
    return arrays


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
