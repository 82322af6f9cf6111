"""The evaluator: a static check here, tracing in OS sandboxes, training of the exported programs in
trusted worker processes.

    program --check_source--> trace sandbox (candidate code; evaluate/zygote.py) --StableHLO bytes-->
    train worker (trusted; evaluate/worker.py) --metrics--> Result

Traces and trainings overlap: while a worker trains one program, the next ones are traced. Every reply
has a deadline for the whole frame; a sandbox or worker that misses it, dies, or sends garbage is killed
(its pid namespace, or its process group) and the program gets a failure: never an exception here."""

from __future__ import annotations

import base64
import dataclasses
import os
import secrets
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from evojax_nas.evaluate import frames, isolation
from evojax_nas.evaluate.result import Result, clean_message, mentions_oom
from evojax_nas.evaluate.sandbox import IsolationUnavailable, TraceJob, TraceSandbox
from evojax_nas.paths import cache_dir
from evojax_nas.programs.program import Failure, Program
from evojax_nas.programs.static_check import check_source
from evojax_nas.tasks import get_task

MAX_REPLY_BYTES = 4 << 20
DATA = ("private", "published")


@dataclasses.dataclass
class EvaluatorConfig:
    """Task, training settings, and the limits and deadlines of both stages."""

    task: str = "mnist1d"
    task_kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)
    train_config: dict[str, Any] = dataclasses.field(default_factory=dict)
    num_workers: int = 1
    timeout_s: float = 600.0  # training, per program
    trace_timeout_s: float = 60.0  # loading and exporting, per program
    trace_cpu_s: float = 20.0  # CPU time (all threads) for loading and exporting (configs/default.py says why)
    startup_timeout_s: float = 300.0
    memory_bytes: int = 6 << 30  # a train worker's address space
    program_memory_bytes: int = 3 << 30  # what one compiled program may need (XLA's memory analysis)
    trace_memory_bytes: int = 4 << 30  # a trace sandbox's address space
    isolation: str = "strict"  # or "degraded": run with the sandbox layers that work, named once
    run_dir: str | None = None  # the search's run directory (its private data seed is there: no sandbox reads it)
    devices: Sequence[int] | None = None  # accelerator index per worker (CUDA_VISIBLE_DEVICES)
    # "private": the task's data is generated from data_seed (drawn when the evaluator starts if None), which
    # only the train workers get; "published": the task's published data, which a candidate can rebuild from
    # the public recipe and memorise (for comparisons with papers)
    data: str = "private"
    data_seed: int | None = None

    @classmethod
    def from_config(cls, config: Any) -> EvaluatorConfig:
        """From an experiment config (task, task_kwargs, train, eval.*; configs/default.py has them all,
        a run directory written before a setting existed gets this class's default)."""
        e, d = config.eval, cls()
        return cls(task=config.task, task_kwargs=dict(config.task_kwargs), train_config=dict(config.train),
                   num_workers=e.num_workers, timeout_s=e.timeout_s,
                   trace_timeout_s=e.get("trace_timeout_s", d.trace_timeout_s),
                   trace_cpu_s=e.get("trace_cpu_s", d.trace_cpu_s),
                   memory_bytes=int(e.memory_gb * 2**30),
                   program_memory_bytes=int(e.get("program_memory_gb", d.program_memory_bytes / 2**30) * 2**30),
                   trace_memory_bytes=int(e.get("trace_memory_gb", d.trace_memory_bytes / 2**30) * 2**30),
                   isolation=e.get("isolation", d.isolation),
                   data=config.get("data", "published"))  # a run directory from before private data: published


class _Worker:
    """One trusted train process and its socket."""

    def __init__(self, config: EvaluatorConfig, task_kwargs: dict[str, Any], data: Path, index: int, log_dir: Path):
        self.log_path = log_dir / f"worker-{index}.log"
        workdir = log_dir / f"worker-{index}"
        workdir.mkdir(mode=0o700, exist_ok=True)
        device = config.devices[index % len(config.devices)] if config.devices else None
        setup = {"task": config.task, "task_kwargs": task_kwargs,
                 "train_config": dict(config.train_config), "memory_bytes": config.memory_bytes,
                 "program_memory_bytes": config.program_memory_bytes, "isolation": config.isolation,
                 "log_path": str(self.log_path), "workdir": str(workdir), "cache": str(data)}
        ours, theirs = socket.socketpair()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "evojax_nas.evaluate.worker", str(theirs.fileno()), str(os.getpid())],
            pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, start_new_session=True,
            env=isolation.worker_env(str(workdir), str(data), device))
        theirs.close()
        self.reader = frames.FrameReader(ours, MAX_REPLY_BYTES)
        self.job: tuple[Program, float] | None = None
        try:
            self.send(setup)
            ready = self.wait_frame(config.startup_timeout_s)
            self.layers = {str(k): clean_message(v, 200) for k, v in dict(ready["layers"]).items()}
            self.missing = isolation.missing(self.layers, isolation.WORKER_LAYERS)
            if not ready["ready"]:
                raise IsolationUnavailable(f"evaluation refused: the train worker cannot apply "
                                           f"{'; '.join(self.missing)}; set eval.isolation = 'degraded' to run "
                                           f"with the layers that work")
            self.platform = str(ready["platform"])
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


class Evaluator:
    """evaluate(programs) -> list[Result]; never raises for a bad program. Raises IsolationUnavailable
    on first use if the trace sandbox cannot be isolated here (unless isolation is "degraded")."""

    def __init__(self, config: EvaluatorConfig | None = None):
        self.config = config or EvaluatorConfig()
        if self.config.data not in DATA:
            raise ValueError(f"data must be one of {DATA}, not {self.config.data!r}")
        self.task = get_task(self.config.task, **self.config.task_kwargs)  # what the search sees: no data seed
        private = self.config.data == "private"
        seed = self.config.data_seed if self.config.data_seed is not None else secrets.randbelow(2**31)
        # the train workers' task: the only place the private data seed goes (published data: the task's own)
        self.worker_task_kwargs = {**self.config.task_kwargs, "data_seed": seed} if private else dict(
            self.config.task_kwargs)
        self.log_dir = Path(tempfile.mkdtemp(prefix="evonas-eval-"))
        # private data lives with this evaluator (made once per run, gone when it closes); published data in the cache
        self.data_dir = self.log_dir / "data" if private else cache_dir()
        self.prepared = False
        self.workers: list[_Worker] = []
        self.sandbox: TraceSandbox | None = None
        self.restarts = 0
        self.trained: dict[tuple[str, tuple[int, ...] | None], str] = {}  # (computation, seeds) -> program id

    def remember(self, results: Iterable[Result], seeds: Sequence[int] | None = None) -> None:
        """Count these results' computations as trained on `seeds` (a resumed run's log), so a program that
        computes the same as one trained before a crash is a duplicate after it too."""
        for result in results:
            if result.ok and result.computation is not None:
                self.mark_trained(result.computation, tuple(seeds) if seeds is not None else None, result.program_id)

    def mark_trained(self, computation: str, seeds: tuple[int, ...] | None, program_id: str) -> None:
        """Record a trained computation; of several programs computing it, the smallest id names it (the
        same whichever finished first)."""
        key = (computation, seeds)
        self.trained[key] = min(program_id, self.trained.get(key, program_id))

    def __enter__(self) -> Evaluator:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Stop every worker and the zygote (and so every sandbox)."""
        for w in self.workers:
            w.kill()
        self.workers = []
        if self.sandbox is not None:
            self.sandbox.close()
            self.sandbox = None
        shutil.rmtree(self.log_dir, ignore_errors=True)

    # -- processes ----------------------------------------------------------------------------------

    def _spawn(self, index: int) -> _Worker:
        if not self.prepared:  # the data, written here: the workers may only read it
            get_task(self.config.task, **self.worker_task_kwargs).prepare(self.data_dir)
            self.prepared = True
        w = _Worker(self.config, self.worker_task_kwargs, self.data_dir, index, self.log_dir)
        if w.missing and not self.workers and not self.restarts:
            print(f"evonas: train worker degraded, without {'; '.join(w.missing)}", file=sys.stderr)
        if index < len(self.workers):
            self.workers[index] = w
        else:
            self.workers.append(w)
        return w

    def _replace(self, index: int) -> None:
        self.workers[index].kill()
        self.restarts += 1
        self._spawn(index)

    def _start_sandbox(self) -> TraceSandbox:
        limits = isolation.Limits(memory_bytes=self.config.trace_memory_bytes,
                                  cpu_seconds=max(1, round(self.config.trace_cpu_s)),
                                  threads=max(256, 8 * (os.cpu_count() or 1)))  # XLA's pools scale with cores
        warm_up = {"source": self.task.warm_up, "spec": self.task.trace_spec("cpu", self.config.train_config)}
        hidden = [str(self.log_dir), str(cache_dir())] + ([self.config.run_dir] if self.config.run_dir else [])
        sandbox = TraceSandbox(self.log_dir / "trace", limits, self.config.isolation, self.task.tracer, warm_up,
                               hidden=hidden)
        refusal = sandbox.refusal()
        if refusal:
            sandbox.close()
            raise IsolationUnavailable(refusal)
        if sandbox.missing and self.sandbox is None:
            print(f"evonas: trace sandbox degraded, without {'; '.join(sandbox.missing)}", file=sys.stderr)
        return sandbox

    def isolation_report(self) -> dict[str, str]:
        """How each sandbox layer applied here (starts the zygote if needed)."""
        if self.sandbox is None:
            self.sandbox = self._start_sandbox()
        return dict(self.sandbox.layers)

    # -- evaluation ---------------------------------------------------------------------------------

    def evaluate(self, programs: Sequence[Program], seeds: Sequence[int] | None = None,
                 on_result: Callable[[Result], None] | None = None) -> list[Result]:
        """Check every program here, trace those that pass in sandboxes, train their exported programs in
        the workers; one Result each, in order. `on_result` sees each result as soon as it is known."""
        run = _Round(self, seeds, on_result)
        for program in programs:
            if program.id in run.results or any(p.id == program.id for p in run.to_trace):
                continue
            failure = check_source(program.source, required_class=self.task.prompt.class_name)
            if failure:
                run.finish(Result(program.id, failure=failure))
            else:
                run.to_trace.append(program)
        if run.to_trace:
            run.go()
        return [run.results[p.id] for p in programs]


class _Round:
    """The state of one evaluate() call: queues, jobs in flight, results."""

    def __init__(self, evaluator: Evaluator, seeds: Sequence[int] | None,
                 on_result: Callable[[Result], None] | None):
        self.ev, self.config = evaluator, evaluator.config
        self.seeds = list(seeds) if seeds is not None else None
        self.on_result = on_result
        self.results: dict[str, Result] = {}
        self.to_trace: deque[Program] = deque()
        self.to_train: deque[tuple[Program, dict[str, bytes], float]] = deque()
        self.traces: list[tuple[Program, TraceJob]] = []
        self.seed_counts = sorted({1, len(self.seeds) if self.seeds else int(
            self.config.train_config.get("num_seeds", 1))})
        # Computations trained before this call: a program that computes the same is not trained again. Two
        # in this call both train (to the same numbers), since which one finishes first is down to timing and
        # a run must give the same results when replayed.
        self.known = [c for (c, seeds) in evaluator.trained if seeds == self._seeds_key()]

    def finish(self, result: Result) -> None:
        self.results[result.program_id] = result
        if self.on_result:
            self.on_result(result)

    def go(self) -> None:
        ev = self.ev
        while len(ev.workers) < min(self.config.num_workers, len(self.to_trace)):
            ev._spawn(len(ev.workers))
        if ev.sandbox is None:
            ev.sandbox = ev._start_sandbox()
        while self.to_trace or self.to_train or self.traces or any(w.job for w in ev.workers):
            self._start_traces()
            self._start_trainings()
            self._wait_and_collect()

    def _trace_request(self, program: Program) -> dict[str, Any]:
        spec = self.ev.task.trace_spec(self.ev.workers[0].platform, self.config.train_config)
        return {"id": program.id, "source": program.source, "spec": spec, "seed_counts": self.seed_counts}

    def _start_traces(self) -> None:
        ev = self.ev
        while self.to_trace and len(self.traces) + len(self.to_train) < max(1, self.config.num_workers):
            program = self.to_trace.popleft()
            assert ev.sandbox is not None
            try:
                if not ev.sandbox.alive():
                    raise OSError("the trace zygote died")
                self.traces.append((program, ev.sandbox.start(program.id, self._trace_request(program))))
            except OSError as err:
                self.finish(Result.failed(program.id, "crash", f"could not start a trace sandbox: {err}"))
                ev.sandbox.close()
                ev.sandbox = ev._start_sandbox()

    def _start_trainings(self) -> None:
        for index, w in enumerate(self.ev.workers):
            if w.job is not None or not self.to_train:
                continue
            program, blobs, trace_seconds = self.to_train.popleft()
            known = [c for c in self.known if self.ev.trained[(c, self._seeds_key())] != program.id]
            request = {"id": program.id, "programs": {k: base64.b64encode(v).decode() for k, v in blobs.items()},
                       "seeds": self.seeds, "known": known}
            try:
                w.send(request)
                w.job = (program, time.monotonic() - trace_seconds)
            except OSError:
                self.finish(Result.failed(program.id, "crash", "the train worker died before the program was sent"))
                self.ev._replace(index)

    def _seeds_key(self) -> tuple[int, ...] | None:
        return tuple(self.seeds) if self.seeds is not None else None

    def _deadline(self) -> float:
        ends = [job.started + self.config.trace_timeout_s for _, job in self.traces]
        ends += [started + self.config.timeout_s for _, started in (w.job for w in self.ev.workers if w.job)]
        return min(ends) if ends else time.monotonic()

    def _wait_and_collect(self) -> None:
        readers = [job.reader for _, job in self.traces] + [w.reader for w in self.ev.workers if w.job]
        if not readers:
            return
        select.select(readers, [], [], max(0.0, self._deadline() - time.monotonic()))
        for entry in list(self.traces):
            self._collect_trace(*entry)
        for index, w in enumerate(self.ev.workers):
            if w.job:
                self._collect_training(index, w)

    def _collect_trace(self, program: Program, job: TraceJob) -> None:
        outcome = job.advance(self.config.isolation == "strict")
        seconds = time.monotonic() - job.started
        if outcome is None and seconds >= self.config.trace_timeout_s:
            outcome = Result.failed(program.id, "timeout", f"tracing took over {self.config.trace_timeout_s:.0f} s; "
                                    "the sandbox was killed", seconds)
        if outcome is None:
            return
        self.traces.remove((program, job))
        assert self.ev.sandbox is not None
        self.ev.sandbox.kill(job)
        if isinstance(outcome, Result):
            self.finish(outcome)
        else:
            self.to_train.append((program, outcome, seconds))

    def _collect_training(self, index: int, w: _Worker) -> None:
        assert w.job is not None
        program, started = w.job
        seconds = time.monotonic() - started
        try:
            replies = w.reader.read()
        except frames.FrameError as err:
            replies, w.reader.closed = [], True
            self.finish(Result.failed(program.id, "crash", f"the train worker sent garbage: {err}", seconds))
            w.job = None
            self.ev._replace(index)
            return
        if replies:
            w.job = None
            self.finish(self._training_result(program, replies[0], seconds))
            return
        if not w.reader.closed and seconds < self.config.timeout_s:
            return
        w.job = None
        self.finish(Result(program.id, failure=_death_failure(w, seconds, self.config.timeout_s), seconds=seconds))
        self.ev._replace(index)

    def _training_result(self, program: Program, reply: Any, seconds: float) -> Result:
        if isinstance(reply, dict) and reply.get("duplicate") is True and reply.get("id") == program.id:
            original = self.ev.trained.get((str(reply.get("computation")), self._seeds_key()))
            if original is None or original == program.id:  # the evaluator decides, from what it trained itself
                return Result.failed(program.id, "crash", "the train worker called it a duplicate of nothing "
                                     "trained", seconds)
            return Result.failed(program.id, "duplicate", f"computes the same as program {original}", seconds)
        result = Result.from_worker(program.id, reply, seconds)
        if result.computation is not None and result.failure is None:
            self.ev.mark_trained(result.computation, self._seeds_key(), program.id)
        return result


def _death_failure(w: _Worker, seconds: float, timeout_s: float) -> Failure:
    if w.alive() and seconds >= timeout_s:
        return Failure("timeout", f"no result within {timeout_s:.0f} s; worker killed")
    try:
        w.process.wait(5)
    except subprocess.TimeoutExpired:
        pass
    tail = w.log_tail()
    kind = "oom" if mentions_oom(tail) else "crash"
    return Failure(kind, clean_message(f"worker died (exit code {w.process.returncode}): {tail[-300:]}"))
