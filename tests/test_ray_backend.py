"""The train stage on Ray actors (evaluate/ray_backend.py) against a Ray cluster started in this process, shared by
the module's tests: the same metrics as local workers for seeds and logged LM children, an actor killed
mid-pack (the pack sent once more), killed twice (the pack fails, the evaluator goes on). Skipped where the
`ray` extra is not installed (CI installs it before the slow suite)."""

from __future__ import annotations

import os
import signal
import tempfile
import threading
import time
from pathlib import Path

import pytest

from evojax_nas.evaluate.pool import Evaluator, EvaluatorConfig
from evojax_nas.evaluate.ray_backend import ACTOR_FOLDER
from evojax_nas.programs.program import Program
from evojax_nas.train import default_config
from tests.conftest import ROOT, evaluation_processes, seed_source

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.slow

CHILDREN = [ROOT / "benchmarks" / "lm_children" / f"child_{i}.py" for i in ("03", "09", "12")]  # 480 and
# 4,510 parameters, and one that crashes while tracing


@pytest.fixture(scope="module", autouse=True)
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def config(steps: int, **kwargs) -> EvaluatorConfig:
    train = default_config()
    train.num_steps, train.num_seeds = steps, 2
    return EvaluatorConfig(train_config=train.to_dict(), data_seed=7, compile_cache="", timeout_s=120, **kwargs)


def programs() -> list[Program]:
    return [Program(seed_source(name)) for name in ("mlp", "gru")] + [Program(p.read_text()) for p in CHILDREN]


def test_ray_actors_train_to_the_same_metrics_as_local_workers():
    with Evaluator(config(30, num_workers=2)) as local:
        expected = local.evaluate(programs())
    with Evaluator(config(30, num_workers=2, backend="ray")) as remote:
        got = remote.evaluate(programs())
        assert remote.backend.platform == "cpu" and len(remote.backend.slots) == 2
    assert [r.ok for r in expected] == [True, True, True, True, False]
    for want, have in zip(expected, got, strict=True):
        assert have.ok == want.ok and have.computation == want.computation
        if want.ok:
            for key in ("val_accuracy", "test_accuracy", "final_loss", "params"):
                assert have.metrics[key] == want.metrics[key], key
        else:
            assert have.failure.kind == want.failure.kind  # traced and refused on the head, as before
    assert not evaluation_processes()


def actor_processes() -> list[int]:
    """Pids of the train actors that are training a pack now (Ray names the process after the method)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and b"TrainActor.train" in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def kill_training_actors(times: int, killed: list[int]) -> None:
    """Kill an actor while it trains, `times` times (each kill a new actor)."""
    deadline = time.monotonic() + 240
    while len(killed) < times and time.monotonic() < deadline:
        for pid in actor_processes():
            if pid not in killed:
                time.sleep(1.0)  # inside the pack: its worker is compiling or training
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                break
        time.sleep(0.2)


def test_an_actor_killed_mid_pack_is_replaced_its_pack_sent_once_more_then_failed():
    """One evaluator (one actor at a time): killed once mid-pack, the pack trains on the actor that replaced it;
    killed twice, it fails; then the search goes on."""
    with Evaluator(config(300, num_workers=1, backend="ray")) as evaluator:
        killed: list[int] = []
        for kills in (1, 2):
            before = len(killed)
            killer = threading.Thread(target=kill_training_actors, args=(before + kills, killed))
            killer.start()
            results = evaluator.evaluate(programs()[:2] if kills == 1 else [Program(seed_source("cnn_bn_dropout"))])
            killer.join()
            assert len(killed) - before == kills and evaluator.restarts == len(killed)
            failed = [r for r in results if not r.ok]
            if kills == 1:  # sent again to the new actor: trained
                assert not failed, results
            else:  # the pack whose actor died twice fails
                assert failed and all(r.failure.kind == "crash" and "twice" in r.failure.message for r in failed)
        again, = evaluator.evaluate([Program(seed_source("mlp").replace("100", "64"))])  # the search goes on
        assert again.ok, again
        # the killed actors' folders (data, states, logs) were removed by the actors that replaced them
        assert not [f for pid in killed for f in Path(tempfile.gettempdir()).glob(f"{ACTOR_FOLDER}{pid}-*")]
    assert not evaluation_processes()
