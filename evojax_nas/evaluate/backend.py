"""The train stage behind a seam: a `TrainBackend` takes packs of exported programs and gives back one reply
per program. `LocalBackend` runs them in trusted worker processes on this host (evaluate/worker.py); the
evaluator (evaluate/pool.py) traces, schedules and turns replies into Results, whatever the backend.

A pack goes to one worker in one request; the worker trains it in as few compiled programs as its trainer's
`pack` setting and memory allow, and answers each program in its own frame. The deadline is the per-program
timeout times the pack's size; compiling has its own, shorter one (the worker says when it starts and stops
compiling), so a program that would take minutes to compile fails fast, named. A worker that misses either,
dies or sends garbage is killed (its process group) and replaced, and every program of its pack still
unanswered gets a failure."""

from __future__ import annotations

import base64
import dataclasses
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from evojax_nas.evaluate import frames, isolation
from evojax_nas.evaluate.result import clean_message, mentions_oom
from evojax_nas.evaluate.sandbox import IsolationUnavailable
from evojax_nas.programs.program import Failure, Program

MAX_REPLY_BYTES = 4 << 20


@dataclasses.dataclass
class TrainJob:
    """One program of a pack: its exported bytes, when its evaluation started (its trace included), when its
    trace ended and when it was sent to a worker (monotonic), and the computations it would duplicate (the
    worker answers "duplicate" instead of training them)."""

    program: Program
    blobs: dict[str, bytes]
    started: float
    traced: float = 0.0
    sent: float = 0.0
    known: list[str] = dataclasses.field(default_factory=list)

    def split(self) -> dict[str, float]:
        """The evaluator's own clocks of the job: seconds tracing, and waiting for a worker once traced."""
        return {"trace_seconds": round(self.traced - self.started, 3),
                "queue_seconds": round(self.sent - self.traced, 3)}


# What a backend hands back for a program: its job, the worker's reply (a dict, unchecked) or a Failure, and
# the seconds since the job started.
Reply = tuple[TrainJob, Any, float]


class TrainBackend(Protocol):
    """Where exported programs are trained. Replies are untrusted data, validated by the caller."""

    platform: str  # the backend's jax platform (the trace stage exports for it)
    slot_devices: int  # the devices a slot trains on at once: a pack may hold the packing rule's size times this
    restarts: int

    def start(self, count: int) -> None:
        """Make at least `count` slots ready (starts processes; raises IsolationUnavailable)."""
        ...

    def free(self) -> int:
        """Slots that can take a pack now."""
        ...

    def submit(self, pack: Sequence[TrainJob], seeds: Sequence[int] | None, steps: Sequence[int] | None = None
               ) -> list[Reply]:
        """Send a pack to a free slot (trained from steps[0] to steps[1] when given); replies for jobs that could
        not be sent (a Failure each)."""
        ...

    def waitables(self) -> list[Any]:
        """Objects with fileno() that become readable when replies may have arrived."""
        ...

    def deadline(self) -> float | None:
        """The monotonic time by which the earliest pack in flight must be answered."""
        ...

    def collect(self) -> list[Reply]:
        """Replies that arrived, and failures for packs past their deadline or whose slot died."""
        ...

    def close(self) -> None:
        """Stop every slot."""
        ...


class _Worker:
    """One trusted train process, its socket and the pack it is training."""

    def __init__(self, setup: dict[str, Any], env: dict[str, str], log_path: Path, startup_timeout_s: float):
        self.log_path = log_path
        ours, theirs = socket.socketpair()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "evojax_nas.evaluate.worker", str(theirs.fileno()), str(os.getpid())],
            pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, start_new_session=True, env=env)
        theirs.close()
        self.reader = frames.FrameReader(ours, MAX_REPLY_BYTES)
        self.pack: dict[str, TrainJob] = {}  # program id -> job, until answered
        self.deadline = 0.0
        self.compiling_since: float | None = None
        self.startup_timeout_s = startup_timeout_s
        try:
            self.send(setup)
        except OSError as err:
            self.kill()
            raise RuntimeError(f"evaluation worker did not start: {self.log_tail()}") from err

    def wait_ready(self) -> None:
        """Wait for the worker's ready frame (workers started together import jax side by side)."""
        try:
            ready = self.wait_frame(self.startup_timeout_s)
            self.layers = {str(k): clean_message(v, 200) for k, v in dict(ready["layers"]).items()}
            self.missing = isolation.missing(self.layers, isolation.WORKER_LAYERS)
            if not ready["ready"]:  # only under strict isolation does the worker refuse
                raise IsolationUnavailable(f"evaluation refused: the train worker cannot apply "
                                           f"{'; '.join(self.missing)}; set eval.isolation = 'degraded' to run "
                                           f"with the layers that work")
            self.platform = str(ready["platform"])
            self.devices = min(max(1, int(ready.get("devices", 1))), 4096)
        except IsolationUnavailable:
            self.kill()
            raise
        except (OSError, frames.FrameError, TypeError, KeyError, ValueError) as err:
            self.kill()
            raise RuntimeError(f"evaluation worker did not start: {self.log_tail()}") from err

    def send(self, message: Any) -> None:
        self.reader.sock.setblocking(True)
        try:
            frames.send(self.reader.sock, message)
        finally:
            self.reader.sock.setblocking(False)

    def wait_frame(self, timeout_s: float) -> Any:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            select.select([self.reader], [], [], max(0.0, deadline - time.monotonic()))
            got = self.reader.read()
            if got:
                return got[0]
            if self.reader.closed:
                break
        raise frames.FrameError("no frame in time")

    def log_tail(self, chars: int = 600) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:].strip()
        except OSError:
            return ""

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """Kill the worker's whole process group and close its socket."""
        if self.alive():
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except OSError:
                self.process.kill()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            pass
        self.reader.sock.close()

    def death(self, timed_out: bool, timeout_s: float) -> Failure:
        """Why the worker's pack got no reply."""
        if self.alive() and timed_out:
            return Failure("timeout", f"no result within {timeout_s:.0f} s; worker killed")
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            pass
        tail = self.log_tail()
        kind = "oom" if mentions_oom(tail) else "crash"
        return Failure(kind, clean_message(f"worker died (exit code {self.process.returncode}): {tail[-300:]}"))


@dataclasses.dataclass
class LocalSetup:
    """What a local worker is started with (the evaluator's config, resolved)."""

    task: str
    task_kwargs: dict[str, Any]  # the workers' task: the private data seed is here
    train_config: dict[str, Any]
    memory_bytes: int
    program_memory_bytes: int
    isolation: str
    data_dir: Path  # the task's data, readable by the workers
    log_dir: Path  # the evaluator's folder: worker logs and work folders
    timeout_s: float  # per program: a pack's deadline is this times its size
    compile_timeout_s: float  # one compilation phase of a pack (its init and training programs, or its evaluation)
    startup_timeout_s: float
    devices: Sequence[int] | None = None
    compile_cache: str | None = None  # jax's persistent compilation cache, written by the workers only
    state_dir: str | None = None  # where successive halving's rungs leave their states, for any worker


class LocalBackend:
    """Trusted worker processes on this host, one pack each at a time."""

    def __init__(self, setup: LocalSetup):
        self.setup = setup
        self.workers: list[_Worker] = []
        self.restarts = 0
        self.platform = ""
        self.slot_devices = 1

    def _spawn(self, index: int, wait: bool = True) -> _Worker:
        s = self.setup
        workdir = s.log_dir / f"worker-{index}"
        workdir.mkdir(mode=0o700, exist_ok=True)
        device = s.devices[index % len(s.devices)] if s.devices else None
        setup = {"task": s.task, "task_kwargs": s.task_kwargs, "train_config": dict(s.train_config),
                 "memory_bytes": s.memory_bytes, "program_memory_bytes": s.program_memory_bytes,
                 "isolation": s.isolation, "log_path": str(s.log_dir / f"worker-{index}.log"),
                 "workdir": str(workdir), "cache": str(s.data_dir), "compile_cache": s.compile_cache,
                 "state_dir": s.state_dir}
        w = _Worker(setup, isolation.worker_env(str(workdir), str(s.data_dir), device),
                    s.log_dir / f"worker-{index}.log", s.startup_timeout_s)
        if index < len(self.workers):
            self.workers[index] = w
        else:
            self.workers.append(w)
        if wait:
            self._ready(index)
        return w

    def _ready(self, index: int) -> None:
        w = self.workers[index]
        w.wait_ready()
        if w.missing and index == 0 and not self.restarts:
            print(f"evonas: train worker degraded, without {'; '.join(w.missing)}", file=sys.stderr)
        self.platform, self.slot_devices = w.platform, w.devices

    def _replace(self, index: int) -> None:
        self.workers[index].kill()
        self.restarts += 1
        self._spawn(index)

    def start(self, count: int) -> None:
        first = len(self.workers)
        try:
            for index in range(first, count):
                self._spawn(index, wait=False)
            for index in range(first, count):
                self._ready(index)
        except BaseException:
            for w in self.workers[first:]:
                w.kill()
            del self.workers[first:]  # a later start spawns them again
            raise

    def free(self) -> int:
        return sum(not w.pack for w in self.workers)

    def submit(self, pack: Sequence[TrainJob], seeds: Sequence[int] | None, steps: Sequence[int] | None = None
               ) -> list[Reply]:
        index = next(i for i, w in enumerate(self.workers) if not w.pack)
        w = self.workers[index]
        request = {"seeds": list(seeds) if seeds is not None else None,
                   "steps": list(steps) if steps is not None else None, "pack": [
            {"id": job.program.id, "programs": {k: base64.b64encode(v).decode() for k, v in job.blobs.items()},
             "known": job.known} for job in pack]}
        try:
            w.send(request)
        except OSError:
            self._replace(index)
            failure = Failure("crash", "the train worker died before the programs were sent")
            return [(job, failure, time.monotonic() - job.started) for job in pack]
        w.pack = {job.program.id: job for job in pack}
        w.deadline, w.compiling_since = time.monotonic() + self.setup.timeout_s * len(pack), None
        return []

    def waitables(self) -> list[Any]:
        return [w.reader for w in self.workers if w.pack]

    def _deadline(self, w: _Worker) -> float:
        if w.compiling_since is None:
            return w.deadline
        return min(w.deadline, w.compiling_since + self.setup.compile_timeout_s)

    def deadline(self) -> float | None:
        return min((self._deadline(w) for w in self.workers if w.pack), default=None)

    def collect(self) -> list[Reply]:
        out: list[Reply] = []
        for index, w in enumerate(self.workers):
            if w.pack:
                out += self._collect(index, w)
        return out

    def _collect(self, index: int, w: _Worker) -> list[Reply]:
        now = time.monotonic()
        try:
            replies = w.reader.read()
        except frames.FrameError as err:
            failure: Failure | None = Failure("crash", f"the train worker sent garbage: {err}")
            replies = []
        else:
            failure = None
        out: list[Reply] = []
        for reply in replies:
            if isinstance(reply, dict) and reply.get("phase") in ("compile", "train") and len(reply) == 1:
                w.compiling_since = now if reply["phase"] == "compile" else None
                continue
            job = w.pack.pop(str(reply.get("id")), None) if isinstance(reply, dict) else None
            if job is None:  # a reply for no program of its pack: the worker is not trusted further
                failure = Failure("crash", "the train worker answered for a program it was not given")
                break
            out.append((job, reply, now - job.started))
        if failure is None and w.pack and w.compiling_since is not None and (
                now >= w.compiling_since + self.setup.compile_timeout_s) and not w.reader.closed:
            failure = Failure("timeout", f"compiling took over {self.setup.compile_timeout_s:g} s "
                                         f"(eval.compile_timeout_s); worker killed")
        if failure is None and w.pack and (w.reader.closed or now >= w.deadline):
            failure = w.death(now >= w.deadline, self.setup.timeout_s * max(1, len(w.pack)))
        if failure is not None:
            out += [(job, failure, now - job.started) for job in w.pack.values()]
            w.pack = {}
            self._replace(index)
        return out

    def close(self) -> None:
        for w in self.workers:
            w.kill()
        self.workers = []
