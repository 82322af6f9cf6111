"""The train worker: a trusted process that trains exported programs. It never imports candidate code:
what it receives is serialised StableHLO from the trace sandbox, checked (train/exported.py) before it
is compiled, and every compiled program is held to a memory budget before it runs.

It dies with the evaluator (parent-death signal), limits its own address space, and answers in JSON
frames; the evaluator keeps the deadline and kills the whole process group if it is missed."""

from __future__ import annotations

import base64
import binascii
import os
import resource
import socket
import sys
from typing import TYPE_CHECKING, Any

from evojax_nas.evaluate import frames, isolation
from evojax_nas.evaluate.result import mentions_oom

if TYPE_CHECKING:  # jax is imported only once the process is confined (and its device chosen)
    from evojax_nas.tasks.base import ProgramTrainer

MAX_REQUEST_BYTES = 256 << 20


def _confine(memory_bytes: int, log_path: str) -> None:
    """Limit the address space and core dumps, send stdout/stderr to the log file, work in its folder
    (the evaluator's, removed when it closes)."""
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.chdir(os.path.dirname(log_path))


def classify(err: BaseException) -> str:
    """Failure kind of an exception raised while checking or training an exported program."""
    text = f"{type(err).__name__}: {err}"
    if isinstance(err, MemoryError) or mentions_oom(text):
        return "oom"
    return getattr(err, "kind", None) or "crash"


def train_one(trainer: ProgramTrainer, request: dict[str, Any]) -> dict[str, Any]:
    """Check and train one exported program; the reply (hash and metrics, duplicate, or failure)."""
    reply: dict[str, Any] = {"id": request["id"]}
    try:
        blobs = {str(k): base64.b64decode(v, validate=True) for k, v in dict(request["programs"]).items()}
        program = trainer.load(blobs)
        reply["computation"] = program.id
        if program.id in request.get("known", ()):
            return {**reply, "duplicate": True}
        return {**reply, "metrics": trainer.train(program, request.get("seeds"))}
    except (binascii.Error, TypeError, ValueError) as err:
        return {**reply, "failure": {"kind": "interface", "message": f"malformed programs: {err}"[:2000]}}
    except Exception as err:  # noqa: BLE001 (untrusted data: every error is a failure)
        return {**reply, "failure": {"kind": classify(err), "message": f"{type(err).__name__}: {err}"[:2000]}}


def main(fd: int, parent: int) -> None:
    """Entry point: die with the evaluator, read the setup, build the trainer, serve until EOF."""
    isolation.die_with_parent()
    if os.getppid() != parent:
        os._exit(1)
    sock = socket.socket(fileno=fd)
    setup = frames.recv(sock, MAX_REQUEST_BYTES)
    _confine(setup["memory_bytes"], setup["log_path"])
    if setup.get("visible_device") is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(setup["visible_device"])
    from pathlib import Path

    import jax

    from evojax_nas.tasks import get_task
    from evojax_nas.train.strategy import StrategyCache

    cache = StrategyCache(Path(setup["strategy_cache"])) if setup.get("strategy_cache") else None
    trainer = get_task(setup["task"], **setup["task_kwargs"]).trainer(
        setup["train_config"], strategy_cache=cache, memory_budget_bytes=setup.get("program_memory_bytes"))
    frames.send(sock, {"ready": True, "platform": jax.default_backend()})
    while True:
        try:
            request = frames.recv(sock, MAX_REQUEST_BYTES)
        except EOFError:
            return
        reply = train_one(trainer, request)
        sys.stdout.flush()
        frames.send(sock, reply)


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
