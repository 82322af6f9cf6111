"""Training states kept between the rungs of successive halving, so a child that continues trains on from
where it stopped instead of from scratch: in this process's memory, and (when given a folder) as msgpack
files (flax.serialization) that another worker of the same evaluator can read. A state that cannot be found
or read is trained again from the start: the steps are deterministic, so the numbers are the same."""

from __future__ import annotations

import collections
import hashlib
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from flax import serialization

Key = tuple[str, tuple[int, ...], int]  # (computation, seeds, step)


class StateStore:
    """States by (computation, seeds, step); the most recent `capacity` in memory."""

    def __init__(self, folder: Path | None = None, capacity: int = 256):
        self.folder, self.capacity = folder, capacity
        self.memory: collections.OrderedDict[Key, Any] = collections.OrderedDict()
        self.lock = threading.Lock()  # the mesh's rows train in threads of their own

    @staticmethod
    def key(computation: str, seeds: Sequence[int], step: int) -> Key:
        return computation, tuple(int(s) for s in seeds), int(step)

    def _path(self, key: Key) -> Path | None:
        if self.folder is None:
            return None
        return self.folder / f"{hashlib.sha256(repr(key).encode()).hexdigest()[:32]}.msgpack"

    def put(self, key: Key, state: Any) -> None:
        with self.lock:
            self.memory[key] = state
            self.memory.move_to_end(key)
            while len(self.memory) > self.capacity:
                self.memory.popitem(last=False)
        path = self._path(key)
        if path is not None:
            partial = path.with_suffix(".partial")
            partial.write_bytes(serialization.to_bytes(state))
            partial.replace(path)  # whole or absent, for a reader in another worker

    def has(self, key: Key) -> bool:
        path = self._path(key)
        return key in self.memory or (path is not None and path.exists())

    def forget(self, key: Key) -> None:
        with self.lock:
            self.memory.pop(key, None)
        path = self._path(key)
        if path is not None:
            path.unlink(missing_ok=True)

    def get(self, key: Key, like: Any) -> Any | None:
        """The state stored under key, shaped like `like`; None when there is none (or it cannot be read)."""
        with self.lock:
            if key in self.memory:
                return self.memory[key]
        path = self._path(key)
        if path is None or not path.exists():
            return None
        try:
            return serialization.from_bytes(like, path.read_bytes())
        except Exception:  # noqa: BLE001 (a truncated or foreign file: train again instead)
            return None
