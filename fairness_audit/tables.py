"""Reading and writing the decisions table and its companion files (contract section 2).

A table lives at ``<stem>.parquet`` with companions ``<stem>.judge_completions.parquet``,
``<stem>.ledger.json``, ``<stem>.set_aside.parquet`` (ingest) and ``<stem>.truth.json``
(simulate). Metadata that describes how the table was made (source, coverage dates, the
derivation choices) travels inside the parquet file's key-value metadata under
``fairness_audit``, so that it cannot be separated from the rows it describes. The files of a
table are written as one set (:class:`TableSet`) and tied together by a run id, so that a
reader never pairs a table with another run's companions.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from fairness_audit.checkpoints import checkpoint
from fairness_audit.errors import OutputError, TableError
from fairness_audit.outputs import (
    check_output_folder,
    make_staging,
    publish,
    remove_stale_staging,
    signals_deferred,
    writing,
)
from fairness_audit.schema import (
    DECISION_COLUMNS,
    OPTIONAL_DECISION_COLUMNS,
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


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write a file through a temporary sibling, so a reader never sees half a file; the
    temporary file goes if writing fails."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(fd)
    try:
        Path(tmp).write_bytes(data)
        publish(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _json_bytes(obj: Any) -> bytes:
    return (json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n").encode()


def write_json(obj: Any, path: Path) -> None:
    atomic_write_bytes(path, _json_bytes(obj))


def _set_files(paths: TablePaths) -> list[Path]:
    """Every file a table's writers may write (ingest eoir adds lookups, ingest table names)."""
    return [paths.decisions, paths.workload, paths.ledger, paths.set_aside, paths.truth,
            paths._sibling(".lookups.json"), paths._sibling(".names.parquet")]


def check_table_output(paths: TablePaths, *, inputs: tuple[str | os.PathLike, ...] = ()) -> None:
    """Before any work: make sure the files of ``paths`` can be written, that none of them is
    an input (nor inside an input folder, such as the release being read), and remove the
    staging folders that killed runs of this table left behind.

    Raises
    ------
    OutputError
        One line naming ``--out`` and what is wrong.
    """
    label = f"--out {paths.decisions}"
    check_output_folder(paths.decisions.parent, label)
    files = _set_files(paths)
    resolved = {p.resolve(): p for p in files}
    for item in inputs:
        source = Path(item)
        if source.resolve() in resolved:
            raise OutputError(f"{label}: {resolved[source.resolve()]} would replace the input "
                              f"{source}; choose another --out")
        if source.is_dir() and source.resolve() in paths.decisions.resolve().parents:
            raise OutputError(f"{label}: the output would be written inside the input folder "
                              f"{source}; choose an --out outside it, so the input stays as it was")
    for p in files:
        if p.is_dir():
            raise OutputError(f"{label}: {p} is a folder; expected a file of the table or nothing")
    remove_stale_staging(paths.decisions)


class TableSet:
    """Writes the files of one decisions table as a set (contract section 2).

    Why: a table and its companions are evidence together; a reader must never pair a new
    table with an old ledger. Every file is written into a staging folder beside the table,
    ``.STEM.parquet.staging-PID-XXXXXXXX``, and the files are moved into place once all are
    written, the decisions table last. An error or interrupt before that leaves the earlier
    files as they were (SIGINT and SIGTERM wait for the moves to finish); only a SIGKILL or a
    crash between two moves can leave a mix, and the files are tied together so that the mix
    is refused: the table's metadata holds ``run_id`` and, under ``companions``, the sha256 of
    each JSON companion; each parquet companion holds the same ``run_id`` in its metadata.
    ``run_id`` is a digest of the table's metadata and its JSON companions (the ledger counts
    every row), so the same run writes the same bytes.

    Example
    -------
    >>> with TableSet(paths, metadata, {paths.ledger: ledger}) as files:  # doctest: +SKIP
    ...     files.write_tables(decisions, workload)
    """

    def __init__(self, paths: TablePaths, metadata: dict[str, Any],
                 json_files: dict[Path, Any]) -> None:
        self.paths = paths
        self._json = {Path(p): _json_bytes(obj) for p, obj in json_files.items()}
        companions = {p.name[len(paths.stem):]: {"sha256": hashlib.sha256(data).hexdigest()}
                      for p, data in sorted(self._json.items())}
        tied = {**metadata, "companions": companions}
        self.run_id = hashlib.sha256(
            json.dumps(tied, sort_keys=True, default=str).encode()).hexdigest()[:16]
        self.metadata = {**tied, "run_id": self.run_id}
        self._staged: dict[str, Path] = {}
        self.staging: Path | None = None

    def __enter__(self) -> TableSet:
        self.staging = make_staging(self.paths.decisions)
        try:
            for path, data in self._json.items():
                with writing(self.staged(path), shown=path):
                    self.staged(path).write_bytes(data)
        except BaseException:
            shutil.rmtree(self.staging, ignore_errors=True)
            raise
        return self

    def staged(self, path: Path) -> Path:
        """Where ``path`` (a file of this table) is written until the set is complete."""
        assert self.staging is not None and path.parent == self.paths.decisions.parent, path
        self._staged[path.name] = path
        return self.staging / path.name

    def write_parquet(self, frame: pd.DataFrame, path: Path,
                      metadata: dict[str, Any] | None = None) -> None:
        """Write the decisions table (with the set's metadata) or a parquet companion (with
        ``metadata`` and the set's run id)."""
        is_table = path == self.paths.decisions
        meta = self.metadata if is_table else {**(metadata or {}), "run_id": self.run_id}
        with writing(self.staged(path), shown=path):
            pq.write_table(_to_arrow(frame, meta), self.staged(path))
        if not is_table:
            checkpoint("table:partly-staged")

    def write_tables(self, decisions: pd.DataFrame, workload: pd.DataFrame) -> None:
        """Write the decisions table and its workload file with canonical dtypes."""
        names = [c.name for c in DECISION_COLUMNS] + [
            c.name for c in OPTIONAL_DECISION_COLUMNS if c.name in decisions.columns]
        decisions, _ = coerce_decisions(decisions[names])
        workload, _ = coerce_decisions(workload[[c.name for c in WORKLOAD_COLUMNS]],
                                       WORKLOAD_COLUMNS)
        self.write_parquet(workload, self.paths.workload)
        self.write_parquet(decisions, self.paths.decisions)

    def _publish(self) -> None:
        assert self.staging is not None
        if self.paths.decisions.name not in self._staged:
            raise AssertionError(f"{self.paths.decisions}: the table itself was not written")
        checkpoint("publish")
        # the table last: until it moves, a reader sees the old table, whose run id the new
        # companions do not match
        order = sorted(self._staged, key=lambda name: (name == self.paths.decisions.name, name))
        with signals_deferred():
            for i, name in enumerate(order):
                target = self._staged[name]
                with writing(target):
                    os.replace(self.staging / name, target)
                if i == 0:
                    checkpoint("table:moving")

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                self._publish()
        finally:
            if self.staging is not None and self.staging.exists():
                shutil.rmtree(self.staging, ignore_errors=True)


def write_decision_data(
    paths: TablePaths,
    decisions: pd.DataFrame,
    workload: pd.DataFrame,
    ledger: dict[str, Any],
    metadata: dict[str, Any],
    *,
    json_files: dict[Path, Any] | None = None,
) -> None:
    """Write the decisions table with canonical dtypes, its workload file, its ledger and any
    other JSON companions (e.g. the truth file) as one set (:class:`TableSet`)."""
    with TableSet(paths, metadata, {paths.ledger: ledger, **(json_files or {})}) as files:
        files.write_tables(decisions, workload)


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
    metadata = read_metadata(paths.decisions)
    _check_one_set(paths, metadata)
    return DecisionData(decisions, workload, ledger, metadata, paths)


def _check_one_set(paths: TablePaths, metadata: dict[str, Any]) -> None:
    """Refuse a workload file or ledger that another run wrote (see :class:`TableSet`).

    Tables written without a run id (by hand, or before the files were tied) are not checked.
    """
    run_id = metadata.get("run_id")
    if not run_id:
        return
    stray = []
    if paths.workload.exists() and read_metadata(paths.workload).get("run_id") != run_id:
        stray.append(paths.workload)
    expected = metadata.get("companions", {}).get(".ledger.json", {}).get("sha256")
    if (expected and paths.ledger.exists()
            and hashlib.sha256(paths.ledger.read_bytes()).hexdigest() != expected):
        stray.append(paths.ledger)
    if stray:
        raise TableError(
            f"{', '.join(map(str, stray))}: written by another run than the decisions table "
            f"{paths.decisions.name} (run {run_id}); an interrupted or failed ingest or simulate "
            "can leave such a mix: run it again to write the whole set"
        )


def empty_frame(columns=DECISION_COLUMNS) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in canonical_dtypes(columns).items()})
