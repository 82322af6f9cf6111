"""The evaluation worker: a separate process that loads untrusted programs and trains them.

It limits its own address space, file sizes and core dumps, leaves the network namespace where the
kernel lets it, and answers the parent with JSON only (the parent never unpickles worker output)."""

from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import sys
import tempfile
from multiprocessing.connection import Connection
from typing import Any

from evojax_nas.evaluate.result import mentions_oom

CLONE_NEWNET = 0x40000000


def _confine(memory_bytes: int, log_path: str) -> None:
    """Apply the process limits and send stdout/stderr to the log file."""
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 << 20, 64 << 20))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an oversized write fails instead of killing us
    try:  # no network for candidate code, where the kernel allows a private namespace
        ctypes.CDLL(None, use_errno=True).unshare(CLONE_NEWNET)
    except (OSError, AttributeError):
        pass
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.chdir(tempfile.mkdtemp(prefix="evonas-worker-"))


def classify(err: BaseException) -> str:
    """Failure kind of an exception raised while loading or training a candidate."""
    text = f"{type(err).__name__}: {err}"
    if isinstance(err, MemoryError) or mentions_oom(text):
        return "oom"
    if isinstance(err, RecursionError):
        return "crash"
    return getattr(err, "kind", None) or getattr(getattr(err, "failure", None), "kind", None) or "crash"


def evaluate_one(trainer: Any, request: dict[str, Any]) -> dict[str, Any]:
    """Load and train one program; return the reply (metrics or failure) as plain data."""
    import flax.linen as nn

    from evojax_nas.programs.loader import LoadError, load_class
    from evojax_nas.train import TrainingError

    try:
        model_cls = load_class(request["source"], trainer.task.class_name, base=nn.Module)
        result = trainer.train(model_cls, seeds=request.get("seeds"))
        return {"id": request["id"], "metrics": result.metrics()}
    except BaseException as err:  # noqa: BLE001 (candidate code: every error is data)
        if isinstance(err, KeyboardInterrupt | SystemExit):
            message = f"program raised {type(err).__name__}"
            return {"id": request["id"], "failure": {"kind": "crash", "message": message}}
        if isinstance(err, LoadError):
            message = err.failure.message
        else:
            message = str(err) if isinstance(err, TrainingError) else f"{type(err).__name__}: {err}"
        return {"id": request["id"], "failure": {"kind": classify(err), "message": message[:2000]}}


def main(fd: int) -> None:
    """Worker entry point: read the setup, confine, build the task and trainer, serve until EOF."""
    conn = Connection(fd)
    setup = json.loads(conn.recv_bytes())
    _confine(setup["memory_bytes"], setup["log_path"])
    if setup.get("visible_device") is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(setup["visible_device"])
    import ml_collections

    from evojax_nas.tasks import get_task
    from evojax_nas.train import Trainer

    trainer = Trainer(get_task(setup["task"], **setup["task_kwargs"]),
                      ml_collections.ConfigDict(setup["train_config"]))
    conn.send_bytes(json.dumps({"ready": True}).encode())
    while True:
        try:
            request = json.loads(conn.recv_bytes())
        except EOFError:
            return
        reply = evaluate_one(trainer, request)
        sys.stdout.flush()
        conn.send_bytes(json.dumps(reply, default=float).encode())


if __name__ == "__main__":
    main(int(sys.argv[1]))
