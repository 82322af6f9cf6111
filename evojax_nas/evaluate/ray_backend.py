"""The train stage on a Ray cluster (`eval.backend = "ray"`, the `ray` extra): one actor per slot (`eval.num_workers`),
on any node, each pinned to a device with `eval.ray_num_gpus`. The search, the LM and the trace sandboxes stay
on the head; an actor receives exported programs as bytes (their ids, StableHLO and the computations they
would duplicate, never their source text) and returns the worker's replies.

An actor is a `LocalBackend` of one worker on its node: the same confined train process as on the head
(evaluate/worker.py: namespaces, Landlock, seccomp, its address space limited), since Ray's own worker
process cannot be confined; the same per-program and compile deadlines, enforced there. Each actor builds the
task's data on its node, and has its own compile cache and rung states there (no two actors write one
folder: no races). A later rung of successive halving on another actor than the one that trained the earlier
rung finds no state and trains again from the start: the same numbers, more steps.

An actor that dies (its node lost, the process killed) is replaced and its pack sent once more; a pack whose
actor dies twice fails ("crash"), and the search goes on. The head itself resumes from its run directory as
with local workers."""

from __future__ import annotations

import dataclasses
import os
import select
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evojax_nas.evaluate.backend import LocalBackend, LocalSetup, Reply, TrainJob
from evojax_nas.evaluate.sandbox import IsolationUnavailable
from evojax_nas.paths import cache_dir
from evojax_nas.programs.program import Failure, Program
from evojax_nas.tasks import get_task

# An actor's grace beyond its pack's own deadlines (it enforces those itself, killing its worker): a node that
# hangs or is cut off is given up on after this.
ACTOR_SLACK_S = 60.0
SENT_AGAIN = 1  # times a pack is sent to a new actor after its actor died


ACTOR_FOLDER = "evonas-actor-"  # + the actor process's pid: a folder whose process is gone is removed


def _sweep_folders_of_dead_actors() -> None:
    """Remove the folders (data, states, logs) that actors killed while busy left on this node."""
    for folder in Path(tempfile.gettempdir()).glob(f"{ACTOR_FOLDER}*-*-*"):
        pid = folder.name[len(ACTOR_FOLDER):].split("-")[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:  # a zombie (killed, not yet reaped by the raylet) is gone too
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


class TrainActor:
    """Runs on a Ray node (as `ray.remote(TrainActor)`): a confined train worker there, and its packs."""

    def __init__(self, setup: LocalSetup, index: int):
        import ray

        raylet = os.getppid()

        def orphaned() -> None:  # the node's raylet is gone (the head's cluster died with a killed head): so is this
            while os.getppid() == raylet:  # actor, and its worker with it (parent-death signal), whoever reaps it
                time.sleep(1.0)
            os._exit(1)

        threading.Thread(target=orphaned, daemon=True).start()
        _sweep_folders_of_dead_actors()
        self.folder = Path(tempfile.mkdtemp(prefix=f"{ACTOR_FOLDER}{os.getpid()}-{index}-"))
        data_dir = self.folder / "data"
        get_task(setup.task, **setup.task_kwargs).prepare(data_dir)
        compile_cache = None
        if setup.compile_cache:  # this node's cache, this actor's folder of it
            compile_cache = str(cache_dir() / "compile" / "ray" / f"actor-{index}")
            Path(compile_cache).mkdir(parents=True, exist_ok=True, mode=0o700)
        (self.folder / "states").mkdir(mode=0o700)
        gpus = [int(g) for g in ray.get_gpu_ids()]
        self.backend = LocalBackend(dataclasses.replace(
            setup, data_dir=data_dir, log_dir=self.folder, compile_cache=compile_cache,
            state_dir=str(self.folder / "states"), devices=gpus or None))
        self.backend.start(1)

    def describe(self) -> tuple[str, int]:
        """The platform and the devices of its worker."""
        return self.backend.platform, self.backend.slot_devices

    def train(self, pack: list[tuple[str, dict[str, bytes], list[str]]], seeds: Sequence[int] | None,
              steps: Sequence[int] | None) -> list[tuple[str, Any]]:
        """Each program's reply (the worker's dict, unchecked, or a Failure), once all are in."""
        now = time.monotonic()
        jobs = [TrainJob(Program(source="", id=pid, origin={"kind": "remote"}), blobs, now, traced=now, sent=now,
                         known=list(known)) for pid, blobs, known in pack]  # the source stays on the head
        replies = self.backend.submit(jobs, seeds, steps)
        while (deadline := self.backend.deadline()) is not None:
            select.select(self.backend.waitables(), [], [], max(0.0, deadline - time.monotonic()))
            replies += self.backend.collect()
        return [(job.program.id, reply) for job, reply, _ in replies]

    def close(self) -> None:
        self.backend.close()
        shutil.rmtree(self.folder, ignore_errors=True)


@dataclasses.dataclass
class _Slot:
    """An actor, and the pack it is training (with what it needs to be sent again)."""

    actor: Any
    ref: Any = None
    pack: dict[str, TrainJob] = dataclasses.field(default_factory=dict)
    seeds: Sequence[int] | None = None
    steps: Sequence[int] | None = None
    sent: int = 0  # times this pack went to a new actor
    deadline: float = 0.0


class RayBackend:
    """Train actors on a Ray cluster: `address` "" starts one in this process (unless Ray is already
    initialised here), else joins it ("auto", "ray://head:10001")."""

    def __init__(self, setup: LocalSetup, address: str = "", num_gpus: float = 0.0,
                 resources: dict[str, float] | None = None):
        try:
            import ray
        except ImportError as err:
            raise RuntimeError("eval.backend = 'ray' needs the `ray` extra: pip install -e '.[ray]'") from err

        self.setup, self.num_gpus, self.resources = setup, num_gpus, dict(resources or {})
        self.started_ray = not ray.is_initialized()
        if self.started_ray:
            ray.init(address=address or None, include_dashboard=False, log_to_driver=False)
        self.slots: list[_Slot] = []
        self.restarts = 0
        self.platform, self.slot_devices = "", 1
        # the pool waits on sockets: a thread per pack in flight writes a byte here when its result is ready
        self.wake_reader, self.wake_writer = socket.socketpair()
        self.wake_reader.setblocking(False)

    def _actor(self, index: int) -> Any:
        import ray

        remote = ray.remote(TrainActor).options(num_cpus=1, num_gpus=self.num_gpus, resources=self.resources,
                                                max_restarts=0, max_task_retries=0)
        actor = remote.remote(self.setup, index)
        try:
            self.platform, self.slot_devices = ray.get(actor.describe.remote(), timeout=self.setup.startup_timeout_s)
        except Exception as err:
            ray.kill(actor)
            if "IsolationUnavailable" in f"{type(err).__name__}: {err}":
                raise IsolationUnavailable(str(err).splitlines()[-1]) from err
            raise RuntimeError(f"a Ray train actor did not start: {err}") from err
        return actor

    def start(self, count: int) -> None:
        while len(self.slots) < count:
            self.slots.append(_Slot(self._actor(len(self.slots))))

    def free(self) -> int:
        return sum(slot.ref is None for slot in self.slots)

    def _send(self, slot: _Slot) -> None:
        import ray

        jobs = list(slot.pack.values())
        slot.ref = slot.actor.train.remote([(j.program.id, j.blobs, j.known) for j in jobs], slot.seeds, slot.steps)
        s = self.setup
        slot.deadline = time.monotonic() + s.timeout_s * len(jobs) + 2 * s.compile_timeout_s + ACTOR_SLACK_S

        def wake(ref: Any = slot.ref) -> None:
            try:
                ray.wait([ref], fetch_local=False)
                self.wake_writer.send(b"x")
            except Exception:  # noqa: BLE001 (the backend closed meanwhile: nobody waits)
                pass

        threading.Thread(target=wake, daemon=True).start()

    def submit(self, pack: Sequence[TrainJob], seeds: Sequence[int] | None, steps: Sequence[int] | None = None
               ) -> list[Reply]:
        slot = next(s for s in self.slots if s.ref is None)
        slot.pack, slot.seeds, slot.steps, slot.sent = {j.program.id: j for j in pack}, seeds, steps, 0
        self._send(slot)
        return []

    def waitables(self) -> list[Any]:
        return [self.wake_reader] if any(s.ref is not None for s in self.slots) else []

    def deadline(self) -> float | None:
        return min((s.deadline for s in self.slots if s.ref is not None), default=None)

    def _replace(self, slot: _Slot) -> None:
        import ray

        ray.kill(slot.actor, no_restart=True)
        self.restarts += 1
        slot.actor = self._actor(self.slots.index(slot))

    def collect(self) -> list[Reply]:
        import ray

        try:
            while self.wake_reader.recv(4096):
                pass
        except (BlockingIOError, OSError):
            pass
        out: list[Reply] = []
        for slot in self.slots:
            if slot.ref is None:
                continue
            now = time.monotonic()
            ready, _ = ray.wait([slot.ref], timeout=0)
            failure: Failure | None = None
            if ready:
                try:
                    replies = ray.get(slot.ref)
                except ray.exceptions.RayError as err:  # the actor died (or its node): send the pack once more
                    self._replace(slot)
                    if slot.sent < SENT_AGAIN:
                        slot.sent += 1
                        self._send(slot)
                        continue
                    failure = Failure("crash", f"the Ray actor training it died, twice: {type(err).__name__}")
                else:
                    for pid, reply in replies:
                        job = slot.pack.pop(str(pid), None)
                        if job is not None:
                            out.append((job, reply, now - job.started))
                    if slot.pack:
                        failure = Failure("crash", "the Ray actor gave no reply for it")
            elif now >= slot.deadline:
                failure = Failure("timeout", f"the Ray actor gave no reply past the pack's deadline and "
                                             f"{ACTOR_SLACK_S:.0f} s; actor replaced")
                self._replace(slot)
            else:
                continue
            if failure is not None:
                out += [(job, failure, now - job.started) for job in slot.pack.values()]
            slot.ref, slot.pack = None, {}
        return out

    def close(self) -> None:
        import ray

        for slot in self.slots:
            # idle: it removes its folder (a busy one is killed with its worker; the next actor on its node
            # removes the folder)
            if slot.ref is None:
                try:
                    ray.get(slot.actor.close.remote(), timeout=30)
                except Exception:  # noqa: BLE001 (a dead actor has nothing left to close)
                    pass
            ray.kill(slot.actor, no_restart=True)
        self.slots = []
        self.wake_writer.close()
        self.wake_reader.close()
        if self.started_ray and ray.is_initialized():
            ray.shutdown()

