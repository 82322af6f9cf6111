"""The trace zygote: a process that has imported jax and flax once and forks a fresh sandbox per program.

Started by the evaluator with a clean environment (isolation.clean_env). For each job it receives the
request and, beside it, one end of a socket pair; it forks an intermediate process, which enters new
namespaces and forks the sandbox: the init of a new pid namespace, so killing the intermediate (its
parent-death signal) or the sandbox takes every process of the job with it. The sandbox applies the
remaining layers, reports them in a first frame, and only then loads the candidate, traces it and sends
the exported programs (or a failure) in a second frame, directly to the evaluator: the zygote never reads
what a sandbox says. The zygote itself runs no candidate code; it forks, kills on request and reaps."""

from __future__ import annotations

import base64
import contextlib
import importlib
import json
import os
import select
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import Callable
from typing import Any

from evojax_nas.evaluate import frames, isolation
from evojax_nas.evaluate.result import mentions_oom
from evojax_nas.programs.loader import LoadError  # here, not in classify(): a sandbox may be unable to import
from evojax_nas.programs.program import error_kind  # anything the zygote has not (the CLRS zygote's lacked these)

MAX_CONTROL_BYTES = 1 << 20


def classify(err: BaseException) -> tuple[str, str]:
    """(failure kind, message) of an exception raised while loading or tracing a candidate."""
    if isinstance(err, LoadError):
        return err.failure.kind, err.failure.message
    text = f"{type(err).__name__}: {err}"
    if isinstance(err, MemoryError) or mentions_oom(text):
        return "oom", text
    if "custom call" in text.lower() or "callback" in text.lower():
        return "forbidden", f"the program calls back into the host or makes a custom call: {text}"
    if isinstance(err, KeyboardInterrupt | SystemExit | GeneratorExit):
        return "crash", f"program raised {type(err).__name__}"
    return error_kind(err), f"tracing the model raised {text}"


def resolve(path: str) -> Callable[..., dict[str, bytes]]:
    """The task's tracer from its dotted path `module:function` (the config's, never the candidate's)."""
    module, _, function = path.partition(":")
    return getattr(importlib.import_module(module), function)


def trace(request: dict[str, Any], tracer: Callable[..., dict[str, bytes]]) -> dict[str, Any]:
    """Load, build and export one candidate with the task's tracer; the reply as plain data. Runs inside the
    sandbox."""
    try:
        blobs = tracer(request["source"], request["spec"], tuple(int(s) for s in request["seed_counts"]))
        return {"id": request["id"], "programs": {k: base64.b64encode(v).decode() for k, v in blobs.items()}}
    except BaseException as err:  # noqa: BLE001 (candidate code: every error is data)
        kind, message = classify(err)
        return {"id": request["id"], "failure": {"kind": kind, "message": message[:2000]}}


def _sandbox(request: dict[str, Any], job: int, workdir: str, setup: dict[str, Any], namespaces: str,
             go: int) -> None:
    """The sandbox process: confine, report the layers, trace, reply, exit."""
    isolation.die_with_parent()
    if os.read(go, 1) != b"g":
        os._exit(1)
    null = os.open("/dev/null", os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.closerange(3, job)
    os.closerange(job + 1, os.sysconf("SC_OPEN_MAX"))
    os.environ.clear()
    report, _ = isolation.apply_inside(workdir, isolation.Limits(**setup["limits"]), setup["read"], namespaces)
    frames.send(job, {"layers": report})
    if request.get("source") is None or (setup["mode"] == "strict" and isolation.missing(report)):
        os._exit(0)  # a probe, or isolation incomplete: nothing of the candidate runs
    budget = setup["limits"]["cpu_seconds"]

    def over_budget(*_: Any) -> None:  # RLIMIT_CPU's SIGXCPU (its hard limit kills, should this not run)
        frames.send(job, {"id": request["id"], "failure": {"kind": "timeout", "message": (
            f"loading and exporting took over {budget} s of CPU time (eval.trace_cpu_s)")}})
        os._exit(0)

    signal.signal(signal.SIGXCPU, over_budget)
    reply = trace(request, resolve(setup["tracer"]))
    signal.signal(signal.SIGXCPU, signal.SIG_DFL)
    frames.send(job, reply)
    os._exit(0)


def _intermediate(request: dict[str, Any], job: int, workdir: str, setup: dict[str, Any],
                  sync: socket.socket) -> None:
    """Enter the namespaces (the zygote maps the ids), fork the sandbox (pid 1 of the new pid namespace),
    hand the zygote a pidfd of it, wait for it."""
    try:
        isolation.die_with_parent()
        try:
            isolation.enter_namespaces()
            namespaces = "ok"
            sync.send(b"u")
            if sync.recv(16) != b"m":
                os._exit(1)
            isolation.become_namespace_root()
        except OSError as err:
            namespaces = str(err)
            sync.send(b"n")
        read, write = os.pipe()
        child = os.fork()
        if child == 0:
            os.close(write)
            sync.close()
            _sandbox(request, job, workdir, setup, namespaces, read)
        os.close(read)
        os.close(job)
        socket.send_fds(sync, [b"p"], [os.pidfd_open(child)])
        os.write(write, b"g")
        os.waitpid(child, 0)
    finally:
        os._exit(0)


def _start(request: dict[str, Any], job: int, workdir: str, setup: dict[str, Any], control: int
           ) -> tuple[int, int | None]:
    """Fork the intermediate, map its namespace's ids, take the sandbox's pidfd: (pid, pidfd or None)."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    pid = os.fork()
    if pid == 0:
        ours.close()
        os.close(control)
        _intermediate(request, job, workdir, setup, theirs)
    theirs.close()
    pidfd = None
    try:
        ours.settimeout(10.0)
        if ours.recv(16) == b"u":
            isolation.write_id_maps(pid)
            ours.send(b"m")
        _, fds, _, _ = socket.recv_fds(ours, 16, 1)
        pidfd = fds[0] if fds else None
    except OSError:
        os.kill(pid, signal.SIGKILL)
    finally:
        ours.close()
    return pid, pidfd


def serve(control: socket.socket, setup: dict[str, Any]) -> None:
    """Fork a sandbox per job request, kill on request, reap and clean up; return when the evaluator goes."""
    children: dict[int, tuple[int, str, int | None]] = {}  # intermediate pid -> (job, workdir, sandbox pidfd)

    def kill(pid: int) -> None:
        pidfd = children[pid][2]
        with contextlib.suppress(ProcessLookupError):  # the sandbox itself, in case it cleared its
            if pidfd is not None:                      # parent-death signal; then its parent
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)  # not yet reaped (reap runs here), so the pid is still its

    def reap(block: bool = False) -> None:
        for pid in list(children):
            done, _ = os.waitpid(pid, 0 if block else os.WNOHANG)
            if done:
                _, workdir, pidfd = children.pop(pid)
                if pidfd is not None:
                    os.close(pidfd)
                shutil.rmtree(workdir, ignore_errors=True)

    try:
        while True:
            readable, _, _ = select.select([control], [], [], 0.2)
            reap()
            if not readable:
                continue
            message, fds, _, _ = socket.recv_fds(control, MAX_CONTROL_BYTES, 1)
            if not message:
                return
            request = json.loads(message)
            if "kill" in request:
                for pid, (job, _, _) in children.items():
                    if job == request["kill"]:
                        kill(pid)
                continue
            workdir = tempfile.mkdtemp(prefix="trace-", dir=setup["root"])
            pid, pidfd = _start(request, fds[0], workdir, setup, control.fileno())
            os.close(fds[0])
            children[pid] = (request["job"], workdir, pidfd)
    finally:
        for pid in list(children):
            kill(pid)
        reap(block=True)


def _preload(tracer: Callable[..., dict[str, bytes]], warm_up: dict[str, Any]) -> None:
    """Import what tracing imports lazily, without tracing here: tracing starts XLA's threads, and a
    process that forks must have none. A forked child traces the task's warm-up program and names the
    modules it had to import; the zygote imports them. A sandbox (`nobody`, when the search is root) may then
    be unable to read the Python installation at all, and still trace."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            before = set(sys.modules)
            tracer(warm_up["source"], warm_up["spec"], (1,))  # one seed count imports what two would, in half the time
            os.write(write, json.dumps(sorted(set(sys.modules) - before)).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        names = json.loads(pipe.read() or b"[]")
    os.waitpid(pid, 0)
    for name in names:
        if not name.startswith("candidate_"):
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001 (an optional module: the sandbox will do without it too)
                pass


def main(fd: int, parent: int) -> None:
    """Entry point: die with the evaluator, import what candidates use, say ready, serve."""
    isolation.die_with_parent()
    if os.getppid() != parent:
        os._exit(1)
    control = socket.socket(fileno=fd)
    setup = json.loads(control.recv(MAX_CONTROL_BYTES))
    # Everything a candidate or the trace needs is imported here once, so a sandbox reads few new files.
    import flax.linen  # noqa: F401
    import jax.export  # noqa: F401
    import jax.numpy  # noqa: F401
    from jax._src.export import serialization  # noqa: F401

    import evojax_nas.programs.loader  # noqa: F401

    _preload(resolve(setup["tracer"]), setup["warm_up"])
    setup["read"] = isolation.readable_paths([setup["root"], *setup["hidden"]])
    control.send(json.dumps({"ready": True}).encode())
    serve(control, setup)


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
