"""A test-only hook that holds a run at a named stage, so that a test can interrupt it there.

Why: the promise that an interrupted run never leaves half-written output can only be tested
by stopping a real process at the moments that matter (between two files, just before the
move into place). Set ``FAIRNESS_AUDIT_PAUSE_AT`` to one of :data:`STAGES`, and optionally
``FAIRNESS_AUDIT_PAUSE_MARKER`` to a file path: when the run reaches that stage it writes the
marker (its process id and the stage) and sleeps, and the test sends SIGINT or SIGKILL.
Without the variable, :func:`checkpoint` does nothing. Not a user option.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

PAUSE_AT = "FAIRNESS_AUDIT_PAUSE_AT"
PAUSE_MARKER = "FAIRNESS_AUDIT_PAUSE_MARKER"
PAUSE_SECONDS = 120.0  # long enough for any test to act; a forgotten process then finishes

STAGES = (
    "audit:computed",        # results computed, nothing written yet
    "audit:results-staged",  # results.json written in the staging folder
    "audit:report-staged",   # the report written in the staging folder
    "ingest:read",           # the source read and checked, nothing written yet
    "simulate:computed",     # simulated and targets computed, nothing written yet
    "table:partly-staged",   # some of a table's files written in its staging folder
    "publish",               # everything staged, just before the move into place
    "table:moving",          # between two moves of a table's files into place
)


def checkpoint(stage: str) -> None:
    """Test-only: pause here when ``FAIRNESS_AUDIT_PAUSE_AT`` names ``stage``.

    Writes the marker file named by ``FAIRNESS_AUDIT_PAUSE_MARKER`` (if set) and sleeps for
    :data:`PAUSE_SECONDS`, leaving the test time to kill the process.
    """
    assert stage in STAGES, stage
    if os.environ.get(PAUSE_AT) != stage:
        return
    marker = os.environ.get(PAUSE_MARKER)
    if marker:
        Path(marker).write_text(f"{os.getpid()} {stage}\n")
    time.sleep(PAUSE_SECONDS)
