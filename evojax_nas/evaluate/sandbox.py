"""The evaluator's side of the trace stage: start the zygote, probe the isolation once, start and kill
trace jobs, and validate what a sandbox sends (it is attacker-controlled) against the reply schema."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import os
import re
import select
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evojax_nas.evaluate import frames, isolation
from evojax_nas.evaluate.result import Result, clean_message

MAX_TRACE_BYTES = 64 << 20
PROGRAM_NAME = re.compile(r"[a-z_]{1,16}/[0-9]{1,2}")  # which names a task wants, its train stage checks


class IsolationUnavailable(RuntimeError):
    """A layer of the trace sandbox cannot be applied here, and isolation is not "degraded"."""


@dataclasses.dataclass
class TraceJob:
    """One program being traced: its reader and deadline, and the layers its sandbox reported."""

    job: int
    program_id: str
    reader: frames.FrameReader
    started: float
    layers: dict[str, str] | None = None

    def advance(self, strict: bool) -> dict[str, bytes] | Result | None:
        """Read what the sandbox has sent: its layer report first, then its programs. Returns the programs
        or a failure once the job has an outcome, None while it has none yet (the caller keeps the clock)."""
        seconds = time.monotonic() - self.started
        try:
            for message in self.reader.read():
                if self.layers is not None:
                    return parse_trace(self.program_id, message, seconds)
                self.layers = parse_layers(message)
                missing = isolation.missing(self.layers) if self.layers else ["the layer report"]
                if missing and strict:
                    return Result.failed(self.program_id, "crash", f"sandbox incomplete: {missing[0]}", seconds)
        except frames.FrameError as err:
            return Result.failed(self.program_id, "crash", f"the trace sandbox sent garbage: {err}", seconds)
        if self.reader.closed:
            return Result.failed(self.program_id, "crash", "the trace sandbox died without a reply (it crashed, "
                                 "exited, or was killed, by its limits among others)", seconds)
        return None


def parse_layers(message: Any) -> dict[str, str] | None:
    """The first frame of a sandbox: {"layers": {layer: "ok" | reason}} (None if it is not that)."""
    layers = message.get("layers") if isinstance(message, dict) else None
    if not isinstance(layers, dict) or not all(isinstance(v, str) for v in layers.values()):
        return None
    return {layer: clean_message(layers.get(layer, "not reported"), 200) for layer in isolation.LAYERS}


def parse_trace(program_id: str, message: Any, seconds: float) -> dict[str, bytes] | Result:
    """The second frame: the exported programs (decoded) or a Result with the sandbox's failure."""
    if not isinstance(message, dict) or message.get("id") != program_id:
        return Result.failed(program_id, "crash", "the trace sandbox sent a malformed reply", seconds)
    failure = message.get("failure")
    if isinstance(failure, dict):
        kind = str(failure.get("kind"))
        if kind == "duplicate":  # only the trusted stage, which saw both computations, may say so
            return Result.failed(program_id, "crash", f"the trace sandbox claimed a duplicate: "
                                 f"{clean_message(failure.get('message', ''), 200)}", seconds)
        return Result.failed(program_id, kind, failure.get("message", ""), seconds)
    programs = message.get("programs")
    if not isinstance(programs, dict) or not programs or not all(
            isinstance(k, str) and PROGRAM_NAME.fullmatch(k) and isinstance(v, str) for k, v in programs.items()):
        return Result.failed(program_id, "crash", "the trace sandbox sent no exported programs", seconds)
    try:
        return {k: base64.b64decode(v, validate=True) for k, v in programs.items()}
    except (binascii.Error, ValueError):
        return Result.failed(program_id, "crash", "the trace sandbox sent programs that are not base64", seconds)


class TraceSandbox:
    """The zygote process and its control socket."""

    def __init__(self, root: Path, limits: isolation.Limits, mode: str, tracer: str, warm_up: dict[str, Any],
                 startup_timeout_s: float = 120.0, hidden: Sequence[str] = (), wait: bool = True):
        """tracer: the task's dotted path (`module:function`); warm_up: {source, spec} traced once at start;
        hidden: folders no sandbox may read (isolation.readable_paths), besides `root`; wait: return once the
        zygote is ready (else call wait_ready before the first job)."""
        if mode not in isolation.ISOLATION_MODES:
            raise ValueError(f"eval.isolation must be one of {isolation.ISOLATION_MODES}, got {mode!r}")
        self.root, self.mode, self.next_job = root, mode, 0
        root.mkdir(parents=True, exist_ok=True)
        self.log_path = root / "zygote.log"
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        with open(os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "evojax_nas.evaluate.zygote", str(theirs.fileno()), str(os.getpid())],
                pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=root,
                env=isolation.clean_env(str(root)), start_new_session=True)
        theirs.close()
        self.control = ours
        self.control.sendall(json.dumps({"root": str(root), "limits": dataclasses.asdict(limits), "mode": mode,
                                         "tracer": tracer, "warm_up": warm_up, "hidden": list(hidden)}).encode())
        self.startup_timeout_s = startup_timeout_s
        self.layers: dict[str, str] = {}
        self.missing: list[str] = []
        if wait:
            self.wait_ready()

    def wait_ready(self) -> None:
        """Wait for the zygote's warm-up (the caller may start other processes meanwhile), then probe the
        layers a sandbox applies here."""
        readable, _, _ = select.select([self.control], [], [], self.startup_timeout_s)
        if not readable or not self.control.recv(1 << 16):
            self.close()
            raise RuntimeError(f"the trace zygote did not start: {self._log_tail()}")
        self.layers = self.probe(self.startup_timeout_s)
        self.missing = isolation.missing(self.layers)

    def _log_tail(self) -> str:
        try:
            return clean_message(self.log_path.read_text(errors="replace")[-400:], 400)
        except OSError:
            return ""

    def alive(self) -> bool:
        """The zygote is running."""
        return self.process.poll() is None

    def start(self, program_id: str, request: dict[str, Any]) -> TraceJob:
        """Fork a sandbox for the request; raises OSError if the zygote is gone."""
        self.next_job += 1
        ours, theirs = socket.socketpair()
        try:
            socket.send_fds(self.control, [json.dumps({**request, "job": self.next_job}).encode()],
                            [theirs.fileno()])
        finally:
            theirs.close()
        return TraceJob(self.next_job, program_id, frames.FrameReader(ours, MAX_TRACE_BYTES), time.monotonic())

    def kill(self, job: TraceJob) -> None:
        """Kill a job's sandbox (its whole pid namespace) and drop the connection."""
        try:
            self.control.send(json.dumps({"kill": job.job}).encode())
        except OSError:
            pass
        job.reader.sock.close()

    def run(self, request: dict[str, Any], timeout_s: float) -> tuple[dict[str, str] | None, dict[str, bytes] | Result]:
        """Trace one request to the end, synchronously: (its layer report, its programs or failure).
        The evaluator overlaps many jobs instead; this serves the probe and tests."""
        job = self.start(str(request["id"]), request)
        deadline = time.monotonic() + timeout_s
        try:
            while (outcome := job.advance(self.mode == "strict")) is None:
                if time.monotonic() >= deadline:
                    return job.layers, Result.failed(job.program_id, "timeout", f"no reply within {timeout_s:.0f} s")
                select.select([job.reader], [], [], max(0.0, deadline - time.monotonic()))
            return job.layers, outcome
        finally:
            self.kill(job)

    def probe(self, timeout_s: float) -> dict[str, str]:
        """Start an empty job: the sandbox applies every layer, reports and exits. {layer: status}."""
        layers, _ = self.run({"id": "probe", "source": None}, timeout_s)
        return layers or {layer: "the probe sandbox did not report" for layer in isolation.LAYERS}

    def refusal(self) -> str | None:
        """The one-line reason evaluation is refused here (None when isolation is complete or degraded)."""
        if not self.missing or self.mode == "degraded":
            return None
        return (f"evaluation refused: the trace sandbox cannot apply {'; '.join(self.missing)}; "
                f"set eval.isolation = 'degraded' to run with the layers that work")

    def close(self) -> None:
        """Stop the zygote (its sandboxes die with it)."""
        self.control.close()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
