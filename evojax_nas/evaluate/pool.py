"""The evaluator: tracing in OS sandboxes, training of the exported programs behind a train backend
(evaluate/backend.py: trusted worker processes on this host). The static check is made once, where a child
becomes a candidate (search/pipeline.py), and again by the sandbox's loader as the boundary's last line
(programs/loader.py): a program that fails it comes back from its sandbox with that failure.

    program --> trace sandbox (candidate code: check, load, trace; evaluate/zygote.py) --StableHLO bytes-->
    packs --TrainBackend (trusted; evaluate/worker.py)--> one reply per program --validated--> Result

Traces and trainings overlap: while a worker trains one pack, the next programs are traced. Every reply
has a deadline; a sandbox or worker that misses it, dies, or sends garbage is killed (its pid namespace, or
its process group) and its programs get failures: never an exception here."""

from __future__ import annotations

import dataclasses
import os
import secrets
import select
import shutil
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from evojax_nas.config import default, defaults
from evojax_nas.evaluate import isolation
from evojax_nas.evaluate.backend import LocalBackend, LocalSetup, TrainBackend, TrainJob
from evojax_nas.evaluate.result import Result
from evojax_nas.evaluate.sandbox import IsolationUnavailable, TraceJob, TraceSandbox
from evojax_nas.paths import cache_dir
from evojax_nas.programs.program import Failure, Program
from evojax_nas.tasks import get_task
from evojax_nas.train import default_config

DATA = ("private", "published")
BACKENDS = ("local", "ray")


def _default(name: str, scale: float = 1.0) -> Any:
    """configs/default.py's eval.<name> (times `scale`), the one place the number is written, as a field's
    default."""
    def read() -> Any:
        value = default("eval", name)
        if hasattr(value, "to_dict"):  # a ConfigDict (ray_resources)
            return value.to_dict()
        return int(value * scale) if scale != 1.0 else value

    return dataclasses.field(default_factory=read)


@dataclasses.dataclass
class EvaluatorConfig:
    """Task, training settings, and the limits and deadlines of both stages. A field not given is
    configs/default.py's (`eval.*`, `train`, `data`); that file says what each is and why it is set so."""

    task: str = "mnist1d"
    task_kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)
    train_config: dict[str, Any] = dataclasses.field(default_factory=lambda: default_config().to_dict())
    num_workers: int = _default("num_workers")
    timeout_s: float = _default("timeout_s")  # training, per program (a pack's deadline: this times its size)
    compile_timeout_s: float = _default("compile_timeout_s")  # one compilation phase of a pack
    trace_timeout_s: float = _default("trace_timeout_s")  # loading and exporting, per program
    trace_cpu_s: float = _default("trace_cpu_s")  # CPU time (all threads) for loading and exporting
    startup_timeout_s: float = _default("startup_timeout_s")
    memory_bytes: int = _default("memory_gb", 2**30)  # a train worker's address space
    program_memory_bytes: int = _default("program_memory_gb", 2**30)  # what one compiled program may need
    trace_memory_bytes: int = _default("trace_memory_gb", 2**30)  # a trace sandbox's address space
    isolation: str = _default("isolation")  # or "degraded": run with the sandbox layers that work, named once
    run_dir: str | None = None  # the search's run directory (its private data seed is there: no sandbox reads it)
    devices: Sequence[int] | None = None  # accelerator index per worker (CUDA_VISIBLE_DEVICES)
    # "private": the task's data is generated from data_seed (drawn when the evaluator starts if None), which
    # only the train workers get; "published": the task's published data, which a candidate can rebuild from
    # the public recipe and memorise (for comparisons with papers)
    data: str = dataclasses.field(default_factory=lambda: default("data"))
    data_seed: int | None = None
    compile_cache: str | None = _default("compile_cache")  # None: the user cache's "compile" folder; "": none
    backend: str = _default("backend")  # or "ray": the train stage on Ray actors (evaluate/ray_backend.py)
    ray_address: str = _default("ray_address")  # "": a cluster started in this process; "auto", "ray://head:10001"
    ray_num_gpus: float = _default("ray_num_gpus")  # per actor
    ray_resources: dict[str, float] = _default("ray_resources")  # per actor: Ray custom resources

    @classmethod
    def from_config(cls, config: Any) -> EvaluatorConfig:
        """From an experiment config (task, task_kwargs, train, eval.*; configs/default.py has them all,
        a run directory written before a setting existed gets this class's default)."""
        e, d = config.eval, defaults().eval
        seconds = {k: e.get(k, d[k]) for k in ("timeout_s", "compile_timeout_s", "trace_timeout_s", "trace_cpu_s",
                                                "startup_timeout_s")}
        return cls(task=config.task, task_kwargs=dict(config.task_kwargs), train_config=dict(config.train),
                   num_workers=e.num_workers, **seconds, memory_bytes=int(e.memory_gb * 2**30),
                   program_memory_bytes=int(e.get("program_memory_gb", d.program_memory_gb) * 2**30),
                   trace_memory_bytes=int(e.get("trace_memory_gb", d.trace_memory_gb) * 2**30),
                   isolation=e.get("isolation", d.isolation), compile_cache=e.get("compile_cache", d.compile_cache),
                   backend=e.get("backend", d.backend), ray_address=e.get("ray_address", d.ray_address),
                   ray_num_gpus=e.get("ray_num_gpus", d.ray_num_gpus),
                   ray_resources=dict(e.get("ray_resources", d.ray_resources)),
                   data=config.get("data", "published"))  # a run directory from before private data: published


class Evaluator:
    """evaluate(programs) -> list[Result]; never raises for a bad program. Raises IsolationUnavailable
    on first use if the trace sandbox cannot be isolated here (unless isolation is "degraded")."""

    def __init__(self, config: EvaluatorConfig | None = None):
        self.config = config or EvaluatorConfig()
        if self.config.data not in DATA:
            raise ValueError(f"data must be one of {DATA}, not {self.config.data!r}")
        if self.config.backend not in BACKENDS:
            raise ValueError(f"eval.backend must be one of {BACKENDS}, not {self.config.backend!r}")
        self.task = get_task(self.config.task, **self.config.task_kwargs)  # what the search sees: no data seed
        private = self.config.data == "private"
        seed = self.config.data_seed if self.config.data_seed is not None else secrets.randbelow(2**31)
        # the train workers' task: the only place the private data seed goes (published data: the task's own)
        self.worker_task_kwargs = {**self.config.task_kwargs, "data_seed": seed} if private else dict(
            self.config.task_kwargs)
        self.log_dir = Path(tempfile.mkdtemp(prefix="evonas-eval-"))
        # private data lives with this evaluator (made once per run, gone when it closes); published data in the cache
        self.data_dir = self.log_dir / "data" if private else cache_dir()
        self.backend: TrainBackend | None = None
        self.sandbox: TraceSandbox | None = None
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
        if self.backend is not None:
            self.backend.close()
            self.backend = None
        if self.sandbox is not None:
            self.sandbox.close()
            self.sandbox = None
        shutil.rmtree(self.log_dir, ignore_errors=True)

    # -- processes ----------------------------------------------------------------------------------

    @property
    def restarts(self) -> int:
        """Train workers replaced so far."""
        return self.backend.restarts if self.backend is not None else 0

    def _start_backend(self) -> TrainBackend:
        """The train backend: local workers, after the data they read is written (they may only read it), or
        Ray actors, which write their own on their nodes."""
        c = self.config
        compile_cache = str(cache_dir() / "compile") if c.compile_cache is None else c.compile_cache
        setup = LocalSetup(
            task=c.task, task_kwargs=self.worker_task_kwargs, train_config=dict(c.train_config),
            memory_bytes=c.memory_bytes, program_memory_bytes=c.program_memory_bytes, isolation=c.isolation,
            data_dir=self.data_dir, log_dir=self.log_dir, timeout_s=c.timeout_s, compile_timeout_s=c.compile_timeout_s,
            startup_timeout_s=c.startup_timeout_s, devices=c.devices, compile_cache=compile_cache or None,
            state_dir=str(self.log_dir / "states"))
        if c.backend == "ray":
            from evojax_nas.evaluate.ray_backend import RayBackend  # the `ray` extra

            return RayBackend(setup, c.ray_address, c.ray_num_gpus, c.ray_resources)
        get_task(c.task, **self.worker_task_kwargs).prepare(self.data_dir)
        if compile_cache:
            Path(compile_cache).mkdir(parents=True, exist_ok=True, mode=0o700)
        (self.log_dir / "states").mkdir(mode=0o700, exist_ok=True)
        return LocalBackend(setup)

    def _start_sandbox(self, wait: bool = True) -> TraceSandbox:
        """The trace zygote; without `wait`, it warms up while the caller starts the workers, and
        _sandbox_ready must follow."""
        limits = isolation.Limits(memory_bytes=self.config.trace_memory_bytes,
                                  cpu_seconds=max(1, round(self.config.trace_cpu_s)),
                                  threads=max(256, 8 * (os.cpu_count() or 1)))  # XLA's pools scale with cores
        warm_up = {"source": self.task.warm_up, "spec": self.task.trace_spec("cpu", self.config.train_config)}
        hidden = [str(self.log_dir), str(cache_dir())] + ([self.config.run_dir] if self.config.run_dir else [])
        sandbox = TraceSandbox(self.log_dir / "trace", limits, self.config.isolation, self.task.tracer, warm_up,
                               hidden=hidden, wait=False)
        if wait:
            self._sandbox_ready(sandbox)
        return sandbox

    def _sandbox_ready(self, sandbox: TraceSandbox) -> None:
        sandbox.wait_ready()
        refusal = sandbox.refusal()
        if refusal:
            sandbox.close()
            raise IsolationUnavailable(refusal)
        if sandbox.missing and self.sandbox in (None, sandbox):
            print(f"evonas: trace sandbox degraded, without {'; '.join(sandbox.missing)}", file=sys.stderr)

    def isolation_report(self) -> dict[str, str]:
        """How each sandbox layer applied here (starts the zygote if needed)."""
        if self.sandbox is None:
            self.sandbox = self._start_sandbox()
        return dict(self.sandbox.layers)

    # -- evaluation ---------------------------------------------------------------------------------

    def evaluate(self, programs: Sequence[Program], seeds: Sequence[int] | None = None,
                 on_result: Callable[[Result], None] | None = None, steps: Sequence[int] | None = None
                 ) -> list[Result]:
        """Trace every program in a sandbox (which checks it first), train the exported programs in the
        workers; one Result each, in order. `on_result` sees each result as soon as it is known. `steps`
        (start, end): a rung of successive halving (train/states.py), scored at step `end`."""
        run = _Round(self, seeds, on_result, steps)
        for program in programs:
            if program.id not in run.results and all(p.id != program.id for p in run.to_trace):
                run.to_trace.append(program)
        if run.to_trace:
            run.go()
        return [run.results[p.id] for p in programs]


class _Round:
    """The state of one evaluate() call: queues, jobs in flight, results."""

    def __init__(self, evaluator: Evaluator, seeds: Sequence[int] | None,
                 on_result: Callable[[Result], None] | None, steps: Sequence[int] | None = None):
        self.ev, self.config = evaluator, evaluator.config
        self.seeds = list(seeds) if seeds is not None else None
        self.steps = [int(s) for s in steps] if steps is not None else None
        # only a training to the full budget counts as trained (a rung is a prefix of one)
        self.full = self.steps is None or self.steps[1] >= int(self.config.train_config.get("num_steps", 0))
        self.on_result = on_result
        self.results: dict[str, Result] = {}
        self.to_trace: deque[Program] = deque()
        self.to_train: deque[TrainJob] = deque()
        self.traces: list[tuple[Program, TraceJob]] = []
        self.seed_counts = sorted({1, len(self.seeds) if self.seeds else int(
            self.config.train_config.get("num_seeds", 1))})
        # Computations trained before this call: a program that computes the same is not trained again. Two
        # in this call both train (to the same numbers), since which one finishes first is down to timing and
        # a run must give the same results when replayed.
        self.known = [c for (c, seeds) in evaluator.trained if seeds == self._seeds_key()] if not (
            self.steps and self.steps[0]) else []  # a later rung continues what the first rung admitted
        self.pack = 1

    def finish(self, result: Result) -> None:
        self.results[result.program_id] = result
        if self.on_result:
            self.on_result(result)

    def go(self) -> None:
        from evojax_nas.train.trainer import pack_size  # the trainer's rule (imported late: it loads jax)

        ev = self.ev
        starting = ev.sandbox is None
        if starting:  # the zygote warms up while the workers start: both import jax
            ev.sandbox = ev._start_sandbox(wait=False)
        try:
            if ev.backend is None:
                ev.backend = ev._start_backend()
            ev.backend.start(min(self.config.num_workers, len(self.to_trace)))
            if starting:
                ev._sandbox_ready(ev.sandbox)
        except BaseException:
            if starting and ev.sandbox is not None:  # the next call starts another
                ev.sandbox.close()
                ev.sandbox = None
            raise
        # programs per request: the compiled pack's size (all that are ready, where memory decides), for each
        # device the worker's mesh spans
        per_device = pack_size(self.config.train_config.get("pack", 0), ev.backend.platform)
        self.pack = min(per_device * ev.backend.slot_devices, len(self.to_trace))
        while self.to_trace or self.to_train or self.traces or ev.backend.deadline() is not None:
            self._start_traces()
            self._start_trainings()
            self._wait_and_collect()

    def _trace_request(self, program: Program) -> dict[str, Any]:
        assert self.ev.backend is not None
        spec = self.ev.task.trace_spec(self.ev.backend.platform, self.config.train_config)
        return {"id": program.id, "source": program.source, "spec": spec, "seed_counts": self.seed_counts}

    def _start_traces(self) -> None:
        """Trace ahead: a sandbox per worker at a time, until every worker has a pack waiting."""
        ev, slots = self.ev, max(1, self.config.num_workers)
        while self.to_trace and len(self.traces) < slots and len(self.traces) + len(self.to_train) < slots * self.pack:
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
        """Send a pack to each free worker: a full one, or what is left once nothing more is being traced."""
        backend = self.ev.backend
        assert backend is not None
        while backend.free() and self.to_train and (
                len(self.to_train) >= self.pack or not (self.to_trace or self.traces)):
            pack = [self.to_train.popleft() for _ in range(min(self.pack, len(self.to_train)))]
            for job in pack:
                job.known = [c for c in self.known if self.ev.trained[(c, self._seeds_key())] != job.program.id]
                job.sent = time.monotonic()
            for job, failure, seconds in backend.submit(pack, self.seeds, self.steps):
                self.finish(Result(job.program.id, failure=failure, seconds=seconds))

    def _seeds_key(self) -> tuple[int, ...] | None:
        return tuple(self.seeds) if self.seeds is not None else None

    def _deadline(self) -> float:
        assert self.ev.backend is not None
        ends = [job.started + self.config.trace_timeout_s for _, job in self.traces]
        ends += [d for d in (self.ev.backend.deadline(),) if d is not None]
        return min(ends) if ends else time.monotonic()

    def _wait_and_collect(self) -> None:
        backend = self.ev.backend
        assert backend is not None
        readers = [job.reader for _, job in self.traces] + backend.waitables()
        if not readers:
            return
        select.select(readers, [], [], max(0.0, self._deadline() - time.monotonic()))
        for entry in list(self.traces):
            self._collect_trace(*entry)
        for job, reply, seconds in backend.collect():
            self.finish(Result(job.program.id, failure=reply, seconds=seconds) if isinstance(reply, Failure)
                        else self._training_result(job, reply, seconds))

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
            now = time.monotonic()
            self.to_train.append(TrainJob(program, outcome, now - seconds, traced=now))

    def _training_result(self, job: TrainJob, reply: Any, seconds: float) -> Result:
        program = job.program
        if isinstance(reply, dict) and reply.get("duplicate") is True and reply.get("id") == program.id:
            original = self.ev.trained.get((str(reply.get("computation")), self._seeds_key()))
            if original is None or original == program.id:  # the evaluator decides, from what it trained itself
                return Result.failed(program.id, "crash", "the train worker called it a duplicate of nothing "
                                     "trained", seconds)
            return Result.failed(program.id, "duplicate", f"computes the same as program {original}", seconds)
        result = Result.from_worker(program.id, reply, seconds, self.ev.task.candidate.metrics)
        if result.metrics is not None:  # the round's time split: trace, queue (here); compile, train (the worker)
            result.metrics.update(job.split())
        if result.computation is not None and result.failure is None and self.full:
            self.ev.mark_trained(result.computation, self._seeds_key(), program.id)
        return result
