"""The train worker: a trusted process that trains exported programs. It never imports candidate code:
what it receives is serialised StableHLO from the trace sandbox, checked (train/exported.py) before it
is compiled, and every compiled program is held to a memory budget before it runs.

XLA itself parses and compiles that StableHLO, so the worker confines itself before it imports numpy or jax
(while it is one thread): its own user and network namespaces, no_new_privs, Landlock, seccomp without exec,
its address space limited (isolation.confine_worker); the evaluator started it with a clean environment. It
dies with the evaluator (parent-death signal) and answers in JSON frames; the evaluator keeps the deadline
and kills the whole process group if it is missed."""

from __future__ import annotations

import base64
import binascii
import os
import socket
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from evojax_nas.evaluate import frames, isolation
from evojax_nas.evaluate.result import mentions_oom

if TYPE_CHECKING:  # jax is imported only once the process is confined
    from evojax_nas.tasks.base import ProgramTrainer

MAX_REQUEST_BYTES = 256 << 20


def _log_to(log_path: str, workdir: str) -> None:
    """Send stdout/stderr to the log file and work in the worker's own folder (the evaluator's, removed when
    it closes)."""
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.chdir(workdir)


def classify(err: BaseException) -> str:
    """Failure kind of an exception raised while checking or training an exported program."""
    text = f"{type(err).__name__}: {err}"
    if isinstance(err, MemoryError) or mentions_oom(text):
        return "oom"
    return getattr(err, "kind", None) or "crash"


def failure(reply: dict[str, Any], err: BaseException) -> dict[str, Any]:
    """The reply for a program that failed with err."""
    if isinstance(err, binascii.Error | TypeError | ValueError) and not hasattr(err, "kind"):
        return {**reply, "failure": {"kind": "interface", "message": f"malformed programs: {err}"[:2000]}}
    return {**reply, "failure": {"kind": classify(err), "message": f"{type(err).__name__}: {err}"[:2000]}}


def train_pack(trainer: ProgramTrainer, request: dict[str, Any], send: Callable[[dict[str, Any]], None]) -> None:
    """Check every program of the request's pack, answer at once those that fail or duplicate a known
    computation, train the rest together, and answer each (hash and metrics, or failure)."""
    loaded: list[tuple[dict[str, Any], Any]] = []
    for item in request["pack"]:
        reply: dict[str, Any] = {"id": item["id"]}
        try:
            blobs = {str(k): base64.b64decode(v, validate=True) for k, v in dict(item["programs"]).items()}
            program = trainer.load(blobs)
            reply["computation"] = program.id
            if program.id in item.get("known", ()):
                send({**reply, "duplicate": True})
            else:
                loaded.append((reply, program))
        except Exception as err:  # noqa: BLE001 (untrusted data: every error is a failure)
            send(failure(reply, err))
    if not loaded:
        return
    try:
        outcomes = trainer.train_many([program for _, program in loaded], request.get("seeds"), request.get("steps"),
                                      on_phase=lambda phase: send({"phase": phase}))
    except Exception as err:  # noqa: BLE001 (every error is a failure)
        outcomes = [err] * len(loaded)
    for (reply, _), outcome in zip(loaded, outcomes, strict=True):
        send(failure(reply, outcome) if isinstance(outcome, BaseException) else {**reply, "metrics": outcome})


def use_compile_cache(path: str | None) -> None:
    """Point jax's persistent compilation cache at `path` (every program: a candidate's compile is reused by
    its confirmation on more seeds, a re-evaluation and a resumed run)."""
    import jax

    if path:
        jax.config.update("jax_compilation_cache_dir", path)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def main(fd: int, parent: int) -> None:
    """Entry point: die with the evaluator, read the setup, confine, build the trainer, serve until EOF."""
    isolation.die_with_parent()
    if os.getppid() != parent:
        os._exit(1)
    sock = socket.socket(fileno=fd)
    setup = frames.recv(sock, MAX_REQUEST_BYTES)
    _log_to(setup["log_path"], setup["workdir"])
    compile_cache, state_dir = setup.get("compile_cache"), setup.get("state_dir")
    layers = isolation.confine_worker(setup["memory_bytes"], setup["workdir"], isolation.worker_readable(
        setup["cache"]), [path for path in (compile_cache, state_dir) if path])
    if setup["isolation"] == "strict" and isolation.missing(layers, isolation.WORKER_LAYERS):
        frames.send(sock, {"ready": False, "layers": layers})  # fails closed: nothing untrusted is read
        return
    import jax

    from evojax_nas.tasks import get_task

    use_compile_cache(compile_cache)

    trainer = get_task(setup["task"], **setup["task_kwargs"]).trainer(
        setup["train_config"], memory_budget_bytes=setup.get("program_memory_bytes"), state_dir=state_dir)
    frames.send(sock, {"ready": True, "platform": jax.default_backend(), "devices": trainer.devices, "layers": layers})
    while True:
        try:
            request = frames.recv(sock, MAX_REQUEST_BYTES)
        except EOFError:
            return
        def send(reply: dict[str, Any]) -> None:
            sys.stdout.flush()
            frames.send(sock, reply)

        try:
            train_pack(trainer, request, send)
        except (KeyError, TypeError, AttributeError) as err:  # a request not of the evaluator's shape
            send({"id": None, "failure": {"kind": "crash", "message": f"malformed request: {err}"}})


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
