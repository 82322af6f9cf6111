"""The evaluator: static checks in this process, loading and training in confined worker processes.

Each worker serves one program at a time. A worker that overruns the wall-clock timeout is killed, a
worker that dies is replaced, and either way the program gets a failure and the next program is served."""

from __future__ import annotations

import dataclasses
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from evojax_nas.evaluate.result import Result, mentions_oom
from evojax_nas.programs.program import Failure, Program
from evojax_nas.programs.static_check import check_source

MAX_REPLY_BYTES = 4 << 20


@dataclasses.dataclass
class EvaluatorConfig:
    """Task, training settings and the limits each worker runs under."""

    task: str = "mnist1d"
    task_kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)
    train_config: dict[str, Any] = dataclasses.field(default_factory=dict)
    class_name: str = "Model"
    num_workers: int = 1
    timeout_s: float = 600.0
    startup_timeout_s: float = 300.0
    memory_bytes: int = 6 << 30
    devices: Sequence[int] | None = None  # accelerator index per worker (CUDA_VISIBLE_DEVICES)

    @classmethod
    def from_config(cls, config: Any) -> EvaluatorConfig:
        """From an experiment config (task, task_kwargs, train, eval.{num_workers, timeout_s, memory_gb})."""
        return cls(task=config.task, task_kwargs=dict(config.task_kwargs), train_config=dict(config.train),
                   num_workers=config.eval.num_workers, timeout_s=config.eval.timeout_s,
                   memory_bytes=int(config.eval.memory_gb * 2**30))


class _Worker:
    """One confined worker process and its pipe."""

    def __init__(self, config: EvaluatorConfig, index: int, log_dir: Path):
        self.log_path = log_dir / f"worker-{index}.log"
        device = config.devices[index % len(config.devices)] if config.devices else None
        setup = {"task": config.task, "task_kwargs": dict(config.task_kwargs),
                 "train_config": dict(config.train_config), "memory_bytes": config.memory_bytes,
                 "log_path": str(self.log_path), "visible_device": device}
        ours, theirs = socket.socketpair()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "evojax_nas.evaluate.worker", str(theirs.fileno())],
            pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, start_new_session=True)
        theirs.close()
        self.conn = Connection(ours.detach())
        self.conn.send_bytes(json.dumps(setup).encode())
        self.job: tuple[Program, float] | None = None
        try:
            if not self.conn.poll(config.startup_timeout_s):
                raise EOFError
            self.conn.recv_bytes()  # the ready message
        except (EOFError, OSError) as err:
            self.kill()
            raise RuntimeError(f"evaluation worker did not start: {self.log_tail()}") from err

    def start(self, program: Program, seeds: Sequence[int] | None) -> None:
        self.conn.send_bytes(json.dumps({"id": program.id, "source": program.source,
                                         "seeds": list(seeds) if seeds is not None else None}).encode())
        self.job = (program, time.monotonic())

    def reply(self) -> Any:
        return json.loads(self.conn.recv_bytes(MAX_REPLY_BYTES))

    def log_tail(self, chars: int = 600) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:].strip()
        except OSError:
            return ""

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        if self.alive():
            self.process.kill()
        self.process.wait(5)
        self.conn.close()


class Evaluator:
    """evaluate(programs) -> list[Result]; never raises for a bad program."""

    def __init__(self, config: EvaluatorConfig | None = None):
        self.config = config or EvaluatorConfig()
        self.log_dir = Path(tempfile.mkdtemp(prefix="evonas-eval-"))
        self.workers: list[_Worker] = []
        self.restarts = 0

    def __enter__(self) -> Evaluator:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Stop every worker."""
        for w in self.workers:
            w.kill()
        self.workers = []
        shutil.rmtree(self.log_dir, ignore_errors=True)

    def _spawn(self, index: int) -> _Worker:
        w = _Worker(self.config, index, self.log_dir)
        if index < len(self.workers):
            self.workers[index] = w
        else:
            self.workers.append(w)
        return w

    def _replace(self, index: int) -> None:
        self.workers[index].kill()
        self.restarts += 1
        self._spawn(index)

    def evaluate(self, programs: Sequence[Program], seeds: Sequence[int] | None = None,
                 on_result: Callable[[Result], None] | None = None) -> list[Result]:
        """Check every program here, train those that pass in the workers; one Result each, in order.
        `on_result` sees each result as soon as it is known (e.g. to log it before the batch ends)."""
        results: dict[str, Result] = {}
        queue: deque[Program] = deque()
        for program in programs:
            failure = check_source(program.source, required_class=self.config.class_name)
            if failure and program.id not in results:
                results[program.id] = Result(program.id, failure=failure)
                if on_result:
                    on_result(results[program.id])
            elif program.id not in results and all(p.id != program.id for p in queue):
                queue.append(program)
        while len(self.workers) < min(self.config.num_workers, len(queue)):
            self._spawn(len(self.workers))
        while queue or any(w.job for w in self.workers):
            for w in self.workers:
                if w.job is None and queue:
                    w.start(queue.popleft(), seeds)
            self._collect(results, on_result)
        return [results[p.id] for p in programs]

    def _collect(self, results: dict[str, Result], on_result: Callable[[Result], None] | None) -> None:
        """Wait for the next reply, death or timeout among the busy workers and record it."""
        busy = [w for w in self.workers if w.job]
        now = time.monotonic()
        deadline = min(started + self.config.timeout_s for _, started in (w.job for w in busy))
        ready = wait([w.conn for w in busy], max(0.0, deadline - now))
        now = time.monotonic()
        for index, w in enumerate(self.workers):
            if not w.job:
                continue
            program, started = w.job
            seconds = now - started
            if w.conn in ready:
                try:
                    results[program.id] = Result.from_worker(program.id, w.reply(), seconds)
                    w.job = None
                    if on_result:
                        on_result(results[program.id])
                    continue
                except (EOFError, OSError, ValueError):
                    pass  # died mid-reply or sent garbage: handled as a death below
            elif seconds < self.config.timeout_s:
                continue
            results[program.id] = Result(program.id, failure=self._death_failure(w, seconds), seconds=seconds)
            self._replace(index)
            if on_result:
                on_result(results[program.id])

    def _death_failure(self, w: _Worker, seconds: float) -> Failure:
        if w.alive() and seconds >= self.config.timeout_s:
            return Failure("timeout", f"no result within {self.config.timeout_s:.0f} s; worker killed")
        w.process.wait(5)
        tail = w.log_tail()
        kind = "oom" if mentions_oom(tail) else "crash"
        return Failure(kind, f"worker died (exit code {w.process.returncode}): {tail[-300:]}".strip())
