"""The identity of a raw EOIR release by its content, and the row counts it ships.

Why: a decisions table must say which release it came from in a way that survives copying
the release to another folder or another machine. Paths and modification times do not; the
bytes do. :class:`ReleaseInventory` lists every file the ingest reads (the tables, the lookup
tables and the row-count file), with its size and SHA-256, hashed in a background thread
while DuckDB reads the same files (``hashlib`` releases the GIL on large buffers, so the
ingest's wall time barely grows). A release given as a zip is identified by the zip's own
SHA-256 and, for its members, by the sizes and CRC-32 of the zip's directory: hashing each
extracted member again would read the release twice more.

The ``release`` entry of the table's metadata (see :meth:`ReleaseInventory.entry`)::

    {"fingerprint": sha256 of the canonical JSON of {"files": files, "zip": zip},
     "zip": {"name", "size", "sha256"} | None,
     "files": [{"table", "name", "size", "sha256"} (zip members: "crc32", "sha256": None)],
     "latest_date": "YYYY-MM-DD" | None,
     "row_counts": {table: {"shipped", "read", "excess", "explained_by"}} | None}

Where the ingest ran (absolute paths, modification times, the day) is written to an
informational sidecar, ``STEM.source.json`` (:func:`write_source_sidecar`), which is not one
of the table's tied files.

Real releases ship a log of the row counts that EOIR's bulk copy wrote (``TableName<TAB>
Content`` then ``A_TblCase<TAB>7390042 rows copied.``): :func:`find_row_counts_file`,
:func:`read_row_counts` and :func:`compare_row_count` check the rows read against it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import threading
import zipfile
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fairness_audit.errors import ConfigError
from fairness_audit.ingest.raw import ReleaseError, table_name_of
from fairness_audit.outputs import writing
from fairness_audit.tables import TablePaths, atomic_write_bytes

CHUNK_BYTES = 8 << 20  # hashlib releases the GIL on buffers this size
ROW_COUNTS = "row_counts"  # the "table" of the row-count file in the files list
_ROW_COUNTS_HEADER = ["tablename", "content"]
_ROWS_COPIED = re.compile(r"^\s*(\d+)\s+rows?\s+copied\.?\s*$", re.IGNORECASE)


# --------------------------------------------------------------------------------------------
# Hashing
# --------------------------------------------------------------------------------------------
class _Stopped(Exception):
    """Hashing was stopped because the ingest ended first (an error or an interrupt)."""


def sha256_file(path: Path, stop: threading.Event | None = None) -> str:
    """The SHA-256 of a file's bytes (as stored: a ``.gz`` file is not decompressed)."""
    digest = hashlib.sha256()
    buffer = bytearray(CHUNK_BYTES)
    view = memoryview(buffer)
    with open(path, "rb") as fh:
        while n := fh.readinto(buffer):
            if stop is not None and stop.is_set():
                raise _Stopped
            digest.update(view[:n])
    return digest.hexdigest()


def file_identity(path: str | os.PathLike | None) -> dict[str, str] | None:
    """``{"name", "sha256"}`` of an option file (judge merge file, row-count file): what it
    holds, not where it lies, so that the table does not depend on the folder."""
    if path is None:
        return None
    p = Path(path)
    return {"name": p.name, "sha256": sha256_file(p)}


class Hasher:
    """Hashes files one after the other in a background thread.

    Used as a context manager: leaving the block stops the hashing that is still under way
    (the thread checks between chunks), so an error or an interrupt is not held up by a
    multi-GB file.

    Example
    -------
    >>> with Hasher() as hasher:  # doctest: +SKIP
    ...     hasher.add(Path("B_TblProceeding.csv"))
    ...     hasher.sha256(Path("B_TblProceeding.csv"))
    """

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="release-sha256")
        self._stop = threading.Event()
        self._jobs: dict[Path, Future] = {}

    def add(self, path: Path) -> None:
        if path not in self._jobs:
            self._jobs[path] = self._pool.submit(sha256_file, path, self._stop)

    def sha256(self, path: Path) -> str:
        """The file's SHA-256 (waits for it)."""
        self.add(path)
        try:
            return self._jobs[path].result()
        except OSError as exc:
            raise ReleaseError(f"{path}: could not read it to compute its SHA-256 "
                               f"({exc.strerror or exc})") from None

    def __enter__(self) -> Hasher:
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._pool.shutdown(wait=True, cancel_futures=True)


# --------------------------------------------------------------------------------------------
# The files read
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReleaseFile:
    """One file the ingest reads: its table, its name inside the release, where it lies."""

    table: str
    name: str  # POSIX path inside the release folder or zip
    path: Path  # the file read (for a zip: the extracted copy)
    zip_member: zipfile.ZipInfo | None = None


class ReleaseInventory:
    """The files the ingest reads, for the ``release`` entry of the metadata.

    For a folder, each file added is hashed in the background at once; for a zip, the zip is.
    """

    def __init__(self, source: Path, hasher: Hasher) -> None:
        self.source = source
        self.is_zip = source.is_file()
        self.hasher = hasher
        self.files: dict[str, ReleaseFile] = {}
        self._members: dict[str, zipfile.ZipInfo] | None = None
        if self.is_zip:
            hasher.add(source)

    def _member(self, base_name: str) -> zipfile.ZipInfo:
        if self._members is None:  # read once the zip is known to open (raw.extract_zip)
            with zipfile.ZipFile(self.source) as archive:
                # extract_zip writes each member under its base name: the last one wins
                self._members = {os.path.basename(info.filename): info
                                 for info in archive.infolist() if not info.is_dir()}
        return self._members[base_name]

    def add(self, table: str, path: Path, folder: Path) -> None:
        """Record a file read from ``folder`` (the release folder, or the extracted zip)."""
        if self.is_zip:
            info = self._member(path.name)
            entry = ReleaseFile(table, info.filename, path, info)
        else:
            entry = ReleaseFile(table, path.relative_to(folder).as_posix(), path)
            self.hasher.add(path)
        self.files[entry.name] = entry

    def entry(self, *, latest_date: str | None,
              row_counts: dict[str, dict[str, int]] | None) -> dict[str, Any]:
        """The ``release`` entry of the metadata (waits for the hashes)."""
        files = []
        for name in sorted(self.files):
            f = self.files[name]
            if f.zip_member is not None:
                files.append({"table": f.table, "name": f.name, "size": f.zip_member.file_size,
                              "crc32": f"{f.zip_member.CRC:08x}", "sha256": None})
            else:
                files.append({"table": f.table, "name": f.name, "size": f.path.stat().st_size,
                              "sha256": self.hasher.sha256(f.path)})
        archive = None
        if self.is_zip:
            archive = {"name": self.source.name, "size": self.source.stat().st_size,
                       "sha256": self.hasher.sha256(self.source)}
        return {"fingerprint": fingerprint(files, archive), "zip": archive, "files": files,
                "latest_date": latest_date, "row_counts": row_counts}

    def mtimes(self) -> dict[str, str]:
        """Modification times of what was read (for the sidecar only: not content)."""
        paths = {self.source.name: self.source} if self.is_zip else {
            name: f.path for name, f in self.files.items()}
        return {name: dt.datetime.fromtimestamp(p.stat().st_mtime, dt.UTC)
                .isoformat(timespec="seconds") for name, p in sorted(paths.items())}


def fingerprint(files: list[dict[str, Any]], archive: dict[str, Any] | None) -> str:
    """SHA-256 (hex) of ``{"files": files, "zip": archive}`` as canonical JSON (keys sorted,
    no spaces, ASCII): anyone can recompute it from the metadata's own entries."""
    text = json.dumps({"files": files, "zip": archive}, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


# --------------------------------------------------------------------------------------------
# Shipped row counts
# --------------------------------------------------------------------------------------------
def _is_text_file(name: str) -> bool:
    return name.lower().endswith((".txt", ".csv"))


def _is_row_counts_header(first_line: bytes) -> bool:
    text = first_line.decode("latin-1").lstrip("\ufeff").removeprefix("ï»¿")
    fields = [f.strip().lower() for f in text.rstrip("\r\n").split("\t")]
    while fields and fields[-1] == "":
        fields.pop()
    return fields == _ROW_COUNTS_HEADER


def find_row_counts_file(folder: Path, skip: set[Path]) -> Path | None:
    """The release's row-count file: a .txt or .csv file whose first line is
    ``TableName<TAB>Content`` (case-insensitive). ``skip``: files known to be tables.

    Raises
    ------
    ReleaseError
        More than one file looks like a row-count file.
    """
    found = []
    for path in sorted(folder.rglob("*")):
        if path in skip or not path.is_file() or not _is_text_file(path.name):
            continue
        try:
            with open(path, "rb") as fh:
                first = fh.readline(4096)
        except OSError as exc:
            raise ReleaseError(f"{path}: could not read its first line to see whether it is "
                               f"the row-count file ({exc.strerror or exc})") from None
        if _is_row_counts_header(first):
            found.append(path)
    if len(found) > 1:
        raise ReleaseError(f"{folder}: expected at most one row-count file (first line "
                           f"TableName<TAB>Content), found {', '.join(map(str, found))}; name "
                           "the one to use with the ingest option row_counts_file")
    return found[0] if found else None


def find_row_counts_member(source: Path, tables: set[str]) -> str | None:
    """The member of a release zip that is its row-count file (see
    :func:`find_row_counts_file`); ``tables``: lower-case names of the tables read, whose
    members are not opened."""
    found = []
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError):
        return None  # raw.extract_zip says what is wrong with the file
    with archive:
        for info in archive.infolist():
            base = os.path.basename(info.filename)
            if (info.is_dir() or not _is_text_file(base)
                    or table_name_of(base) in tables):
                continue
            with archive.open(info) as fh:
                if _is_row_counts_header(fh.readline(4096)):
                    found.append(info.filename)
    if len(found) > 1:
        raise ReleaseError(f"{source}: expected at most one row-count file (first line "
                           f"TableName<TAB>Content), found the members {', '.join(found)}; "
                           "name the one to use with the ingest option row_counts_file")
    return found[0] if found else None


def read_row_counts(path: Path, tables: tuple[str, ...]) -> dict[str, int]:
    """The shipped row count of each of ``tables`` that the file lists (names matched
    case-insensitively). Lines of other tables are not read further.

    Raises
    ------
    ReleaseError
        The file does not start with ``TableName<TAB>Content``, or a line of one of
        ``tables`` is not ``NAME<TAB>N rows copied.``, or lists it twice with two counts.
    """
    wanted = {t.lower(): t for t in tables}
    try:
        lines = path.read_bytes().decode("latin-1").splitlines()
    except OSError as exc:
        raise ReleaseError(f"{path}: could not read the row-count file "
                           f"({exc.strerror or exc})") from None
    if not lines or not _is_row_counts_header(lines[0].encode("latin-1")):
        first = lines[0][:60] if lines else ""
        raise ReleaseError(f"{path}: expected a row-count file whose first line is "
                           f"TableName<TAB>Content, found {first!r}")
    counts: dict[str, int] = {}
    for number, line in enumerate(lines[1:], start=2):
        name, _, content = line.partition("\t")
        table = wanted.get(name.strip().lower())
        if table is None:
            continue
        match = _ROWS_COPIED.match(content)
        if match is None:
            raise ReleaseError(f"{path}, line {number}: expected '{table}<TAB>N rows copied.', "
                               f"found {line[:80]!r}")
        n = int(match.group(1))
        if counts.get(table, n) != n:
            raise ReleaseError(f"{path}, line {number}: {table} is listed twice, with "
                               f"{counts[table]:,} and {n:,} rows; expected one count")
        counts[table] = n
    return counts


def compare_row_count(table: str, table_file: Path, counts_file: str, *, shipped: int,
                      read: int, fewer_fields: int) -> dict[str, int]:
    """Compare the rows read from a table with the count its release shipped.

    ``read`` is the ledger's ``rows_read`` (data lines; blank lines are not rows);
    ``fewer_fields``: rows set aside as malformed with fewer fields than the header. A row
    that a stray line break split in two gives one row more and two such lines.

    Returns
    -------
    dict
        ``{"shipped", "read", "excess", "explained_by"}``.

    Raises
    ------
    ReleaseError
        Fewer rows were read than shipped (the file was cut short or lost rows).
    """
    if read < shipped:
        raise ReleaseError(
            f"{table_file}: expected the {shipped:,} rows of {table} that the release's "
            f"row-count file {counts_file} lists, found {read:,} ({shipped - read:,} fewer); "
            "the table file is incomplete (cut short, or rows lost when it was copied or "
            "extracted)")
    excess = read - shipped
    return {"shipped": shipped, "read": read, "excess": excess,
            "explained_by": fewer_fields if excess else 0}


# --------------------------------------------------------------------------------------------
# Options that name files
# --------------------------------------------------------------------------------------------
def resolve_option_path(value: str | None, key: str, base: Path | None) -> str | None:
    """An option's path, relative to ``base`` (the user's config file's folder) unless
    absolute; it must exist."""
    if value is None:
        return None
    p = Path(str(value))
    if not p.is_absolute() and base is not None:
        p = base / p
    if not p.is_file():
        raise ConfigError(f"eoir ingest option '{key}': expected a file, found "
                          f"{'a folder' if p.is_dir() else 'nothing'} at {p}")
    return str(p)


# --------------------------------------------------------------------------------------------
# The sidecar
# --------------------------------------------------------------------------------------------
def source_sidecar_path(paths: TablePaths) -> Path:
    return paths.decisions.with_name(paths.stem + ".source.json")


def write_source_sidecar(path: Path, content: dict[str, Any]) -> None:
    """Write ``STEM.source.json`` (after the table's set is in place; informational only)."""
    data = (json.dumps(content, indent=2) + "\n").encode()
    with writing(path):
        atomic_write_bytes(path, data)
