"""Append-only JSON-lines logs that survive SIGKILL: every candidate with its result, and every batch of LM
samples. Each record is one write, flushed and fsynced; a line cut short by a kill is dropped on reading."""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from evojax_nas.evaluate.result import Result
from evojax_nas.programs.program import Program
from evojax_nas.search.fitness import Score

log = logging.getLogger("evojax_nas")


class AppendLog:
    """A JSON-lines file: read() returns the complete records; append() adds one durably."""

    def __init__(self, path: Path):
        self.path = path
        self._repaired = False  # done before the first append, so that reading (a report) never writes

    def _repair(self) -> None:
        """Cut a last line left unfinished by a kill, so the next record starts on a line of its own."""
        self._repaired = True
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        end = data.rfind(b"\n") + 1
        if end < len(data):
            log.warning("%s: dropping an unfinished last record (%d bytes)", self.path, len(data) - end)
            with open(self.path, "r+b") as f:
                f.truncate(end)

    def read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        records = []
        for number, line in enumerate(self.path.read_text().splitlines(), 1):
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                log.warning("%s line %d is not JSON; skipped", self.path, number)
        return records

    def append(self, record: dict[str, Any]) -> None:
        if not self._repaired:
            self._repair()
        line = (json.dumps(record) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)


class RunJournal:
    """The search's Journal over `candidates.jsonl` and `samples.jsonl` in a run directory."""

    def __init__(self, workdir: Path):
        self.candidates = AppendLog(workdir / "candidates.jsonl")
        self.samples = AppendLog(workdir / "samples.jsonl")
        self._results = {(r["id"], r.get("stage", "screen")): r["result"] for r in self.candidates.read()}
        self._samples = {r["key"]: r["completions"] for r in self.samples.read()}

    def known_result(self, program_id: str, stage: str = "screen") -> Result | None:
        data = self._results.get((program_id, stage))
        return None if data is None else Result.from_dict(data)

    def record(self, round_: int, program: Program, result: Result, s: Score, stage: str = "screen") -> None:
        """Log a candidate's result: stage "screen" (its first training) or "confirm" (on more seeds, which
        replaces the screening result)."""
        result_data = result.to_dict()
        self.candidates.append({"round": round_, "id": program.id, "stage": stage, "time": time.time(),
                                "program": program.to_dict(), "result": result_data, "fitness": s.fitness,
                                "eligible": s.eligible, "reason": s.reason})
        self._results[(program.id, stage)] = result_data

    def results(self, stage: str = "screen") -> list[Result]:
        """Every logged result of a stage, in the order logged."""
        return [Result.from_dict(data) for (_, s), data in self._results.items() if s == stage]

    def known_samples(self, key: str) -> list[list[str]] | None:
        return self._samples.get(key)

    def record_samples(self, key: str, completions: list[list[str]], context: dict[str, Any]) -> None:
        self.samples.append({"key": key, **context, "completions": completions})
        self._samples[key] = completions
