"""Every device of a host: a pack laid out over a mesh ("population", "seeds") trains each candidate to the
numbers it gets on one device (within the packing tolerance of test_pack.py), with 8 CPU devices forced in a
process of its own (XLA reads the flag once, before the first computation), and through the evaluator: one
worker driving 4 devices gives the metrics of the single-device run (with 3 seeds, which do not divide the
devices: each device trains a candidate's every seed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from evojax_nas.train.trainer import layout
from tests.conftest import ROOT

SCRIPT = textwrap.dedent("""
    import json, sys
    import flax.linen as nn
    import jax
    from evojax_nas.tasks.classifier_trace import TraceSpec, export_class
    from evojax_nas.programs.loader import load_class
    from evojax_nas.tasks.mnist1d import make_task
    from evojax_nas.train import Trainer, default_config
    from evojax_nas.train.exported import ExportedNetwork
    from tests.conftest import seed_source

    assert jax.local_device_count() == 8
    seeds = json.loads(sys.argv[1])
    networks = [ExportedNetwork.from_bytes(export_class(load_class(seed_source(name), "Model", base=nn.Module),
                                                        TraceSpec.of("Model", (40,)), sorted({1, len(seeds)})))
                for name in ("mlp", "cnn", "gru", "cnn_bn_dropout", "mlp")]
    out = {}
    for devices in (1, 8):
        config = default_config()
        config.update(num_steps=40, strategy="python-vmap", pack=2, devices=devices)
        results = Trainer(make_task(), config).train_many(networks, seeds=seeds, steps=(0, 20))
        out[devices] = [r.metrics() for r in results]
    print(json.dumps(out))
""")


def test_the_layout_puts_a_seed_on_each_device_where_they_divide_and_candidates_over_the_rest():
    devices = list(range(8))
    assert layout(devices, 2).devices.shape == (4, 2)
    assert layout(devices, 3).devices.shape == (8, 1)  # 3 seeds cannot split over 8 devices: whole on each
    assert layout(devices, 8).devices.shape == (1, 8) and layout(devices[:1], 4).devices.shape == (1, 1)
    assert layout(devices[:6], 4).devices.shape == (6, 1)  # a device runs 1 or all seeds (the exported counts)
    assert layout(devices, 4).axis_names == ("population", "seeds")


def forced(script: str, devices: int, *args: str) -> dict:
    """Run `script` with `devices` CPU devices forced; the JSON of its last line."""
    env = {**os.environ, "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}", "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", script, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_pack_over_eight_devices_trains_to_the_numbers_of_one():
    runs = forced(SCRIPT, 8, json.dumps([0, 1]))  # a seed on each of a pair of devices
    for one, many in zip(runs["1"], runs["8"], strict=True):
        assert one["params"] == many["params"] and one["steps"] == many["steps"] == 20
        np.testing.assert_allclose(many["final_loss"], one["final_loss"], rtol=1e-3)
        np.testing.assert_allclose(many["val_accuracy"], one["val_accuracy"], atol=0.004)


EVALUATE = textwrap.dedent("""
    import json
    from evojax_nas.evaluate import Evaluator, EvaluatorConfig
    from evojax_nas.programs import Program
    from evojax_nas.train import default_config
    from tests.conftest import seed_source

    programs = [Program(seed_source(name)) for name in ("mlp", "cnn", "gru", "cnn_bn_dropout")]
    out = {}
    for devices in (1, 0):  # one device; every device the worker sees
        train = default_config()
        train.update(num_steps=30, num_seeds=3, devices=devices)
        with Evaluator(EvaluatorConfig(train_config=train.to_dict(), data_seed=3, compile_cache="")) as evaluator:
            results = evaluator.evaluate(programs)
            out[devices] = {"slot_devices": evaluator.backend.slot_devices,
                            "metrics": [r.metrics for r in results]}
    print(json.dumps(out))
""")


@pytest.mark.slow
def test_one_worker_drives_every_device_through_the_evaluator():
    runs = forced(EVALUATE, 4)
    assert runs["1"]["slot_devices"] == 1 and runs["0"]["slot_devices"] == 4  # packs of 4: a row each
    for one, many in zip(runs["1"]["metrics"], runs["0"]["metrics"], strict=True):
        assert one is not None and many is not None and many["pack"] == 1
        np.testing.assert_allclose(many["final_loss"], one["final_loss"], rtol=1e-3)
        np.testing.assert_allclose(many["val_accuracy"], one["val_accuracy"], atol=0.004)
