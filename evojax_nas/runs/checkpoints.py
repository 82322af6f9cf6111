"""Orbax checkpoints of the whole search state after every round: the search state as JSON (population,
RNG, round, history) and the LM's tuning state (soft prompt, optimizer state) as arrays. A digest of each
is stored with them, so a corrupt or truncated checkpoint is caught on restore and the previous one used."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import shutil
import time
from pathlib import Path
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp

log = logging.getLogger("evojax_nas")
# A pytree of arrays (the LM's soft prompt and its optimizer state, or None): jax has no narrower type for it
PyTree = Any


class CheckpointError(RuntimeError):
    """No usable checkpoint, or one that fails its digest."""


def digest(state: dict[str, Any] | None = None, tree: PyTree = None) -> str:
    """sha256 over the state's canonical JSON or the tree's arrays (shapes, dtypes and bytes)."""
    h = hashlib.sha256(json.dumps(state, sort_keys=True).encode())
    for leaf in jax.tree.leaves(tree):
        array = np.asarray(leaf)
        h.update(f"{array.shape}{array.dtype}".encode())
        h.update(np.ascontiguousarray(array).tobytes())
    return h.hexdigest()


@dataclasses.dataclass
class Restored:
    step: int
    state: dict[str, Any]
    tree: PyTree


class SearchCheckpoints:
    """save(step, state, tree) after each round; restore(tree_template) finds the newest good one."""

    def __init__(self, directory: Path, max_to_keep: int = 3):
        self.directory = directory.absolute()
        self.max_to_keep = max_to_keep
        self.manager = self._open()

    def _open(self) -> ocp.CheckpointManager:
        options = ocp.CheckpointManagerOptions(max_to_keep=self.max_to_keep, enable_async_checkpointing=False,
                                               cleanup_tmp_directories=True)
        return ocp.CheckpointManager(self.directory, options=options)

    def save(self, step: int, state: dict[str, Any], tree: PyTree = None) -> None:
        digests = {"state": digest(state), "lm": digest(tree=tree)}
        items: dict[str, Any] = {"state": ocp.args.JsonSave({"state": state, "digests": digests})}
        if tree is not None:
            items["lm"] = ocp.args.StandardSave(tree)
        self.manager.save(step, args=ocp.args.Composite(**items), force=True)
        self.manager.wait_until_finished()

    def restore(self, tree_template: PyTree = None) -> Restored | None:
        """The newest checkpoint that restores and matches its digest; a bad one is moved aside to
        `corrupt/` with a warning and the one before it is tried. None when there is none."""
        for step in sorted(self.manager.all_steps(), reverse=True):
            try:
                return self._restore(step, tree_template)
            except Exception as err:  # orbax, tensorstore and JSON raise many kinds for a damaged file
                aside = self.directory.parent / "corrupt" / f"{step}-{int(time.time())}"
                log.warning("checkpoint %d in %s is unusable (%s: %s); moved to %s, trying the one before",
                            step, self.directory, type(err).__name__, str(err)[:300], aside)
                aside.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(str(self.directory / str(step)), aside)
                self.manager.close()
                self.manager = self._open()
        return None

    def _restore(self, step: int, tree_template: PyTree) -> Restored:
        items: dict[str, Any] = {"state": ocp.args.JsonRestore()}
        if tree_template is not None:
            items["lm"] = ocp.args.StandardRestore(tree_template)
        out = self.manager.restore(step, args=ocp.args.Composite(**items))
        saved = out["state"]
        if not isinstance(saved, dict) or "state" not in saved:
            raise CheckpointError("the state item is not a search state")
        digests = saved.get("digests") or {}
        if digest(saved["state"]) != digests.get("state"):
            raise CheckpointError("the search state does not match the digest written with it")
        tree = out["lm"] if tree_template is not None else None
        if tree is not None and digest(tree=tree) != digests.get("lm"):
            raise CheckpointError("the LM state does not match the digest written with it")
        return Restored(step, saved["state"], tree)

    def close(self) -> None:
        self.manager.close()
