"""Reading and writing the decisions table and its companion files (contract section 2).

A table lives at ``<stem>.parquet`` with companions ``<stem>.judge_completions.parquet``,
``<stem>.ledger.json``, ``<stem>.set_aside.parquet`` (ingest) and ``<stem>.truth.json``
(simulate). Metadata that describes how the table was made (source, coverage dates, the
derivation choices) travels inside the parquet file's key-value metadata under
``fairness_audit``, so that it cannot be separated from the rows it describes.
"""

from __future__ import annotations

import functools
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from fairness_audit.errors import TableError
from fairness_audit.schema import (
    DECISION_COLUMNS,
    WORKLOAD_COLUMNS,
    canonical_dtypes,
    coerce_decisions,
)

METADATA_KEY = b"fairness_audit"


@dataclass(frozen=True)
class TablePaths:
    """The files that belong to one decisions table."""

    decisions: Path

    @classmethod
    def from_path(cls, path: str | os.PathLike) -> TablePaths:
        p = Path(path)
        if p.suffix != ".parquet":
            raise TableError(f"{p}: expected a path ending in .parquet, found {p.suffix or 'no suffix'!r}")
        return cls(p)

    def _sibling(self, suffix: str) -> Path:
        return self.decisions.with_name(self.decisions.name[: -len(".parquet")] + suffix)

    @property
    def stem(self) -> str:
        return self.decisions.name[: -len(".parquet")]

    @property
    def workload(self) -> Path:
        return self._sibling(".judge_completions.parquet")

    @property
    def ledger(self) -> Path:
        return self._sibling(".ledger.json")

    @property
    def set_aside(self) -> Path:
        return self._sibling(".set_aside.parquet")

    @property
    def truth(self) -> Path:
        return self._sibling(".truth.json")


@dataclass(frozen=True)
class DecisionData:
    """A decisions table as the audit reads it: rows, workload, ledger and metadata."""

    decisions: pd.DataFrame
    workload: pd.DataFrame | None
    ledger: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    paths: TablePaths | None = None


def _to_arrow(frame: pd.DataFrame, metadata: dict[str, Any] | None) -> pa.Table:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    if metadata is not None:
        existing = table.schema.metadata or {}
        table = table.replace_schema_metadata(
            {**existing, METADATA_KEY: json.dumps(metadata, sort_keys=True, default=str).encode()}
        )
    return table


@functools.cache
def _umask() -> int:
    # read once: reading the umask means setting it, which other threads would see
    umask = os.umask(0)
    os.umask(umask)
    return umask


def default_mode(directory: bool = False) -> int:
    """The permissions a plainly created file (or folder) gets under the process's umask."""
    return (0o777 if directory else 0o666) & ~_umask()


def publish(tmp: str | os.PathLike, path: str | os.PathLike, *, directory: bool = False) -> None:
    """Move a finished temporary file or folder into place with ordinary permissions
    (temporary files are created private)."""
    os.chmod(tmp, default_mode(directory))
    os.replace(tmp, path)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write a file through a temporary sibling, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    publish(tmp, path)


def write_parquet(frame: pd.DataFrame, path: Path, metadata: dict[str, Any] | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(fd)
    pq.write_table(_to_arrow(frame, metadata), tmp)
    publish(tmp, path)


def write_json(obj: Any, path: Path) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n").encode())


def write_decision_data(
    paths: TablePaths,
    decisions: pd.DataFrame,
    workload: pd.DataFrame,
    ledger: dict[str, Any],
    metadata: dict[str, Any],
) -> None:
    """Write the decisions table with canonical dtypes, its workload file and its ledger."""
    decisions, _ = coerce_decisions(decisions[[c.name for c in DECISION_COLUMNS]])
    workload, _ = coerce_decisions(workload[[c.name for c in WORKLOAD_COLUMNS]], WORKLOAD_COLUMNS)
    write_parquet(decisions, paths.decisions, metadata)
    write_parquet(workload, paths.workload)
    write_json(ledger, paths.ledger)


def read_metadata(path: Path) -> dict[str, Any]:
    raw = (pq.read_schema(path).metadata or {}).get(METADATA_KEY)
    return json.loads(raw) if raw else {}


def read_parquet(path: Path, what: str) -> pd.DataFrame:
    if not path.exists():
        raise TableError(f"{path}: {what} not found")
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for unreadable files
        raise TableError(f"{path}: expected a parquet {what}, could not read it ({exc})") from None


def read_decision_data(path: str | os.PathLike) -> DecisionData:
    """Read a decisions table and whatever companions lie beside it.

    The workload file is optional (contract section 1: without it the decisions table itself
    is the workload, and the report says so); so is the ledger.
    """
    paths = TablePaths.from_path(path)
    decisions = read_parquet(paths.decisions, "decisions table")
    workload = read_parquet(paths.workload, "judge-workload file") if paths.workload.exists() else None
    ledger: dict[str, Any] = {}
    if paths.ledger.exists():
        try:
            ledger = json.loads(paths.ledger.read_text())
        except json.JSONDecodeError as exc:
            raise TableError(f"{paths.ledger}: expected a JSON ledger, could not parse it ({exc})") from None
    return DecisionData(decisions, workload, ledger, read_metadata(paths.decisions), paths)


def empty_frame(columns=DECISION_COLUMNS) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in canonical_dtypes(columns).items()})
