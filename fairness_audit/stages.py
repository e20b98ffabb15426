"""Wall time and peak memory of each stage of an audit, for ``audit --profile`` and the benchmark.

Why a stage log: at national size users need to know where the time and memory go, and the
benchmark compares the whole audit with the fits it cannot avoid. Peak memory is the process's
peak resident set size (VmHWM), which counts the native memory of numpy, Arrow, numba and
DuckDB that tracemalloc cannot see. On Linux the peak is reset at the start of every stage
(writing 5 to /proc/self/clear_refs), so each stage's peak is its own; where that is not
possible the peak is the process's peak so far and the log says so.

The peak of the whole process is the largest peak the log has seen (resetting the peak also
resets the maximum that ``getrusage`` reports, so that no longer tells the process's peak).

Stages nest (``model H2`` inside ``hypotheses``): each record has its parent's name. Recording is off
unless a log is opened with :func:`recording`; :func:`stage` is then a cheap no-op.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _status_kb(field: str) -> int | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    try:
        _CLEAR_REFS.write_text("5")
        return True
    except OSError:
        return False


class StageLog:
    """Records (stage, parent, seconds, peak GB) for the stages run while it is active."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self._open: list[dict[str, Any]] = []
        # resetting the peak also resets what getrusage reports as the process's maximum, so
        # the log keeps the largest peak it has seen itself
        self._largest_kb = 0
        self.peak_is_per_stage = _reset_peak()
        self._started = time.perf_counter()

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        # a parent's peak is the largest of its own and its children's (see _close_peak)
        record = {"stage": name, "parent": self._open[-1]["stage"] if self._open else None,
                  "seconds": None, "peak_gb": None, "_peak_kb": 0}
        self._close_peak()
        self._open.append(record)
        start = time.perf_counter()
        try:
            yield
        finally:
            record["seconds"] = round(time.perf_counter() - start, 3)
            self._close_peak()
            self._open.pop()
            record["peak_gb"] = round(record.pop("_peak_kb") / 1024**2, 3)
            self.records.append(record)

    def _close_peak(self) -> None:
        """Fold the peak since the last reset into every open stage, then reset it."""
        peak = _status_kb("VmHWM") or 0
        self._largest_kb = max(self._largest_kb, peak)
        for record in self._open:
            record["_peak_kb"] = max(record["_peak_kb"], peak)
        if self.peak_is_per_stage:
            _reset_peak()

    def to_dict(self) -> dict[str, Any]:
        largest = max(self._largest_kb, _status_kb("VmHWM") or 0)
        return {"stages": self.records,
                "total_seconds": round(time.perf_counter() - self._started, 3),
                "peak_is_per_stage": self.peak_is_per_stage,
                "process_peak_gb": round(largest / 1024**2, 3)}

    def write(self, path: str | os.PathLike) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=1) + "\n")


_ACTIVE: StageLog | None = None


@contextlib.contextmanager
def recording() -> Iterator[StageLog]:
    """Record the stages run inside this block into a new :class:`StageLog`."""
    global _ACTIVE
    previous, _ACTIVE = _ACTIVE, StageLog()
    try:
        yield _ACTIVE
    finally:
        _ACTIVE = previous


@contextlib.contextmanager
def stage(name: str) -> Iterator[None]:
    """Mark a stage of the audit; recorded only inside :func:`recording`."""
    if _ACTIVE is None:
        yield
        return
    with _ACTIVE.stage(name):
        yield
