"""MNIST-1D is regenerated offline, exactly, deterministically, and cached. The mnist1d package (the
reference) is imported where used: it brings torch, seconds of every pytest process's collection."""

import numpy as np

from evojax_nas.tasks import mnist1d


def test_shapes_and_split(task):
    assert task.x_train.shape == (3500, 40) and task.x_val.shape == (500, 40)
    assert task.x_test.shape == (1000, 40)
    assert task.y_train.shape == (3500,) and task.y_test.shape == (1000,)
    assert task.x_train.dtype == np.float32 and task.y_train.dtype == np.int32
    assert task.input_shape == (40,) and task.num_classes == 10


def test_class_balance(task):
    for labels in (task.y_train, task.y_test):
        counts = np.bincount(labels, minlength=10) / len(labels)
        assert counts.min() > 0.08 and counts.max() < 0.12, counts


def test_matches_the_published_recipe_exactly(task):
    from mnist1d.data import get_dataset_args, make_dataset

    reference = make_dataset(get_dataset_args())  # the package's offline regeneration
    np.testing.assert_allclose(np.concatenate([task.x_train, task.x_val]), reference["x"], rtol=1e-6)
    np.testing.assert_array_equal(np.concatenate([task.y_train, task.y_val]), reference["y"])
    np.testing.assert_allclose(task.x_test, reference["x_test"], rtol=1e-6)


def test_our_generator_is_the_packages_to_the_bit_for_any_seed():
    # a private data seed is generated at every evaluator's start: ours draws what the package draws, in its
    # order, and does the arithmetic for all examples at once
    from mnist1d.data import make_dataset
    from mnist1d.utils import ObjectView

    for seed, size in [(42, 5000), (1_234_567, 1000)]:
        args = mnist1d.dataset_args(seed, size)
        reference = make_dataset(ObjectView(dict(args)))
        ours = mnist1d.make_dataset(args)
        for key in ("x", "x_test"):
            np.testing.assert_array_equal(ours[key], reference[key].astype(np.float32))
        for key in ("y", "y_test"):
            np.testing.assert_array_equal(ours[key], reference[key])


def test_deterministic_by_seed_and_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("EVOJAX_NAS_CACHE", str(tmp_path))
    first = mnist1d.generate(seed=7, num_samples=500)
    (cached,) = tmp_path.glob("mnist1d-*.npz")
    again = mnist1d.generate(seed=7, num_samples=500)  # from the cache
    other = mnist1d.generate(seed=8, num_samples=500)
    np.testing.assert_array_equal(first["x"], again["x"])
    assert not np.allclose(first["x"], other["x"])
    cached.write_bytes(b"corrupt")
    np.testing.assert_array_equal(mnist1d.generate(seed=7, num_samples=500)["x"], first["x"])
