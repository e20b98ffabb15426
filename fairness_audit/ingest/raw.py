"""Reading the tab-separated tables of a raw EOIR release, row by row, under our own control.

EOIR's files are named ``*.csv`` but are tab-separated, unquoted, latin-1 text. Dirty rows
exist in every release: a stray tab inside a value shifts the rest of the row by one field,
so the row has more fields than the header. A CSV reader cannot be trusted to notice that (it
may pad, truncate, or silently drop the row), so each file is read once by DuckDB's reader
asked for exactly the header's fields, in strict mode and without padding: it rejects every
row with more or fewer fields into a rejects table instead. Only those rows are handed to
Python:

* A row with exactly as many fields as the header is well formed (so is one with an extra
  empty trailing field when the header itself ends with a tab).
* A row with more fields is repaired when the repair is unambiguous: every way of gluing
  adjacent fields back together so that each field with a known format (keys, dates, codes)
  is valid must give the same values for the columns the ingest uses. Otherwise, and for a
  row with fewer fields than the header, the row is set aside as ``malformed row``.
* A row with one extra *empty* trailing field goes through the same check: it is usually a
  harmless trailing tab (kept as it is, not an error), but a stray tab earlier in a row whose
  last column is empty looks the same at the end of the line; the check tells them apart.

The rows are exposed as a view of a DuckDB database, with only the columns the ingest uses,
as trimmed text (empty string -> NULL). The typing step reads the view once; then
:func:`settle_dirty_rows` reads the rejected rows again from the file, repairs them or sets
them aside. The files are read as UTF-8 for speed, with every byte keeping its latin-1
meaning (:func:`stage_table`). Everything downstream is SQL.
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from fairness_audit.errors import AuditError

# The reader's null string: text that does not occur in EOIR files, so that no field reads as
# NULL (an empty field stays '').
NEVER_IN_TEXT = "\x1e\x1f\x01\x02"
TAB = "\t"

# How far the repair searches: rows with more extra fields than this are set aside.
MAX_EXTRA_FIELDS = 3
MAX_REPAIR_NODES = 20_000

MALFORMED = "malformed row"


class ReleaseError(AuditError):
    """A raw release cannot be read: a table or a column is missing, or a file is unreadable."""


# --------------------------------------------------------------------------------------------
# Field formats, used to judge whether a repaired reading of a shifted row is plausible.
# --------------------------------------------------------------------------------------------
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}( \d{2}:\d{2}(:\d{2}(\.\d{1,7})?)?)?$")
_REDACTED_RE = re.compile(r"^\(?[bB]\)?\s*\(?\d\)?")
_DIGITS_RE = re.compile(r"^\d{1,18}$")


def is_date_like(value: str) -> bool:
    """A date, empty, or a redaction marker such as ``b6`` (a known bad value, not a shift)."""
    return value == "" or bool(_DATE_RE.match(value)) or bool(_REDACTED_RE.match(value))


def is_key_like(value: str) -> bool:
    return value == "" or bool(_DIGITS_RE.match(value))


def one_of(values: Iterable[str]) -> Callable[[str], bool]:
    allowed = frozenset(values) | {""}
    return lambda v: v in allowed


def pattern(regex: str) -> Callable[[str], bool]:
    compiled = re.compile(regex)
    return lambda v: v == "" or bool(compiled.match(v))


def default_validator(column: str) -> Callable[[str], bool] | None:
    """Formats known from the column name alone: IDN* keys are digits, *DATE* / dat* are dates.

    "UPDATE" is not "DATE": UPDATE_SITE and UPDATED_CITY hold a site code and a city.
    """
    upper = column.upper()
    if upper.startswith("IDN"):
        return is_key_like
    if "DATE" in re.sub("UPDATED?", "", upper) or upper.startswith("DAT"):
        return is_date_like
    return None


# --------------------------------------------------------------------------------------------
# Tables and files
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TableSpec:
    """One table of the release the ingest reads.

    ``columns`` maps the staging column name to the accepted header names (matched
    case-insensitively; the first one found wins). ``required`` columns must be in the
    header; others become NULL when absent. ``validators`` add formats to the name-based
    defaults of :func:`default_validator`.
    """

    name: str
    key: str
    columns: dict[str, tuple[str, ...]]
    required: tuple[str, ...]
    validators: dict[str, Callable[[str], bool]] = field(default_factory=dict)
    optional_table: bool = True


@dataclass(frozen=True)
class TableFile:
    spec: TableSpec
    path: Path
    header: tuple[str, ...]
    positions: dict[str, int | None]  # staging column -> 0-based field index (None = absent)
    header_trailing_tab: bool = False

    @property
    def n_fields(self) -> int:
        return len(self.header)


def _strip_suffixes(name: str) -> str:
    lower = name.lower()
    for suffix in (".csv.gz", ".csv", ".txt.gz", ".txt"):
        if lower.endswith(suffix):
            return lower[: -len(suffix)]
    return lower


def table_name_of(file_name: str) -> str:
    """The table a file holds, by its name: lower case, without .csv/.txt (.gz)."""
    return _strip_suffixes(file_name)


def _is_table_file(name: str) -> bool:
    lower = name.lower()
    return lower.endswith((".csv", ".csv.gz", ".txt", ".txt.gz"))


def extract_zip(source: Path, names: Iterable[str], workdir: Path,
                progress: Callable[[str], None] | None = None, *,
                members: Iterable[str] = ()) -> Path:
    """Extract the members whose table names are in ``names`` (case-insensitive) to ``workdir``,
    and the ``members`` named exactly (such as the row-count file).

    Members are streamed to disk (a release is several GB), whatever folder they sit in.
    """
    wanted = {n.lower() for n in names}
    exact = set(members)
    out = workdir / "release"
    out.mkdir(parents=True, exist_ok=True)
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ReleaseError(f"{source}: expected a zip archive of an EOIR release, found a file "
                           f"that cannot be opened as one ({exc})") from None
    with archive:
        for info in archive.infolist():
            base = os.path.basename(info.filename)
            if info.is_dir() or (info.filename not in exact and (
                    not _is_table_file(base) or _strip_suffixes(base) not in wanted)):
                continue
            if progress:
                progress(f"extracting {base} ({info.file_size / 1e6:.0f} MB)")
            try:
                with archive.open(info) as src, open(out / base, "wb") as dst:
                    shutil.copyfileobj(src, dst, length=4 << 20)
            except (zipfile.BadZipFile, EOFError, zlib.error) as exc:  # a damaged member
                raise ReleaseError(f"{source}: expected an intact zip archive, found its member "
                                   f"{info.filename} damaged ({exc})") from None
    return out


def locate_tables(folder: Path, specs: Iterable[TableSpec]) -> dict[str, Path]:
    """Map each table name to its file in ``folder`` (searched recursively, case-insensitive)."""
    if not folder.is_dir():
        raise ReleaseError(f"{folder}: expected a folder or a .zip of an EOIR release, found "
                           f"{'a file' if folder.exists() else 'nothing'}")
    found: dict[str, list[Path]] = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and _is_table_file(path.name):
            found.setdefault(_strip_suffixes(path.name), []).append(path)
    located: dict[str, Path] = {}
    for spec in specs:
        paths = found.get(spec.name.lower(), [])
        if len(paths) > 1:
            raise ReleaseError(f"{folder}: table {spec.name} found more than once: "
                               f"{', '.join(str(p) for p in paths)}; expected one file")
        if paths:
            located[spec.name] = paths[0]
        elif not spec.optional_table:
            names = sorted(p.name for ps in found.values() for p in ps)
            raise ReleaseError(
                f"{folder}: expected the table {spec.name} as {spec.name}.csv or "
                f"{spec.name}.csv.gz (name matched case-insensitively); found "
                f"{', '.join(names[:20]) if names else 'no .csv files'}"
                f"{' ...' if len(names) > 20 else ''}"
            )
    return located


def read_header(path: Path) -> tuple[str, ...]:
    """The header row's field names, decoded as latin-1, without trailing empty names."""
    return _read_header(path)[0]


def _open_bytes(path: Path):
    """The file's bytes, decompressed when it is a ``.gz`` file."""
    return gzip.open(path, "rb") if path.name.lower().endswith(".gz") else open(path, "rb")


def _read_header(path: Path) -> tuple[tuple[str, ...], bool]:
    try:
        with _open_bytes(path) as fh:
            first = fh.readline()
    except (OSError, EOFError) as exc:
        raise ReleaseError(f"{path}: could not read the header row ({exc})") from None
    if not first:
        raise ReleaseError(f"{path}: expected a tab-separated header row, found an empty file")
    if first.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in first:
        raise ReleaseError(f"{path}: expected latin-1 (or UTF-8) text, found UTF-16 (a byte-order "
                           f"mark or NUL bytes in the header); save the file as latin-1 or UTF-8")
    text = first.decode("latin-1").rstrip("\r\n")
    if text.startswith("\ufeff") or text.startswith("ï»¿"):
        text = text.lstrip("\ufeff").removeprefix("ï»¿")
    names = [n.strip() for n in text.split(TAB)]
    trailing = len(names) > 1 and names[-1] == ""
    while names and names[-1] == "":
        names.pop()
    if not names or names == [""]:
        raise ReleaseError(f"{path}: expected a tab-separated header row, found an empty first "
                           "line")
    return tuple(names), trailing


def open_table(spec: TableSpec, path: Path) -> TableFile:
    """Read a table's header and find the columns the ingest uses."""
    header, trailing = _read_header(path)
    table = resolve_columns(spec, path, header)
    return TableFile(spec, path, header, table.positions, trailing)


def resolve_columns(spec: TableSpec, path: Path, header: tuple[str, ...]) -> TableFile:
    index = {name.upper(): i for i, name in reversed(list(enumerate(header)))}
    positions: dict[str, int | None] = {}
    for col, accepted in spec.columns.items():
        positions[col] = next((index[a.upper()] for a in accepted if a.upper() in index), None)
    missing = [c for c in spec.required if positions.get(c) is None]
    other = next((d for d in (",", ";", "|") if len(header) == 1 and d in header[0]), None)
    if missing and other:
        name = {",": "comma", ";": "semicolon", "|": "pipe"}[other]
        raise ReleaseError(f"{path}: expected a tab-separated header, found one field with "
                           f"{name}s ({other!r}): {header[0][:60]!r}{'...' if len(header[0]) > 60 else ''}")
    if missing:
        wanted = ", ".join("/".join(spec.columns[c]) for c in missing)
        raise ReleaseError(
            f"{path}: expected column(s) {wanted} in the header of {spec.name} (matched "
            f"case-insensitively); found {', '.join(header)}"
        )
    if len(header) > 1 and TAB not in "".join(header) and len(header) < len(spec.required):
        raise ReleaseError(f"{path}: expected a tab-separated header, found {header[0]!r}")
    return TableFile(spec, path, header, positions)


# --------------------------------------------------------------------------------------------
# Repair of shifted rows
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Repair:
    values: tuple[str | None, ...] | None  # staging values (None = unrepairable)
    detail: str
    trailing_only: bool = False  # the row only had an extra empty trailing field


def _validators_for(table: TableFile) -> list[Callable[[str], bool] | None]:
    by_index: list[Callable[[str], bool] | None] = []
    staged = {pos: col for col, pos in table.positions.items() if pos is not None}
    for i, name in enumerate(table.header):
        check = None
        if i in staged:
            check = table.spec.validators.get(staged[i])
        by_index.append(check or default_validator(name))
    return by_index


def repair_row(line: str, table: TableFile) -> Repair:
    """Re-read one row whose field count does not match the header.

    Returns the staging values of the unique plausible reading, or ``values=None`` with the
    reason in ``detail``.
    """
    fields = line.split(TAB)
    n, width = len(fields), table.n_fields
    if n < width:
        return Repair(None, f"{n} fields, header has {width}")
    extra = n - width
    if extra > MAX_EXTRA_FIELDS:
        return Repair(None, f"{n} fields, header has {width}: too many to repair")
    validators = _validators_for(table)
    staged_positions = [table.positions[c] for c in table.positions]
    outcomes: set[tuple[str | None, ...]] = set()
    budget = [MAX_REPAIR_NODES]

    def values_of(columns: list[str]) -> tuple[str | None, ...]:
        return tuple(None if p is None else (columns[p] or None) for p in staged_positions)

    def search(col: int, start: int, spare: int, columns: list[str]) -> None:
        if budget[0] <= 0:
            return
        budget[0] -= 1
        if col == width:
            if start == n:
                outcomes.add(values_of(columns))
            return
        for take in range(1, spare + 2):
            end = start + take
            if end > n:
                break
            # a stray tab most plausibly stood where a space was: glue with a space
            value = " ".join(fields[start:end]).strip()
            check = validators[col]
            if check is not None and not check(value):
                continue
            columns.append(value)
            search(col + 1, end, spare - (take - 1), columns)
            columns.pop()
            if len(outcomes) > 1:
                return

    search(0, 0, extra, [])
    if budget[0] <= 0 and len(outcomes) <= 1:
        return Repair(None, f"{n} fields, header has {width}: repair search too large")
    if not outcomes:
        return Repair(None, f"{n} fields, header has {width}: no reading with valid fields")
    if len(outcomes) > 1:
        return Repair(None, f"{n} fields, header has {width}: ambiguous shift")
    values = outcomes.pop()
    if extra == 1 and fields[-1] == "":
        plain = [f.strip() for f in fields[:width]]
        if values_of(plain) == values:
            return Repair(values, "extra empty trailing field", trailing_only=True)
    return Repair(values, f"{n} fields, header has {width}: repaired")


# --------------------------------------------------------------------------------------------
# Staging with DuckDB
# --------------------------------------------------------------------------------------------
@dataclass
class StagedTable:
    """Counts of one staged table (see :func:`settle_dirty_rows`)."""

    table: TableFile
    relation: str
    rows_read: int = 0
    malformed: int = 0
    repaired: int = 0
    trailing_empty_field: int = 0
    fewer_fields: int = 0  # malformed rows with fewer fields than the header (a split row)


def sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


# DuckDB's CSV buffer (by default 16 lines of the maximum size: 160 MB here); 32 MB read the
# schedule file about 5% faster on 2 cores than 4-16 MB or 64-160 MB.
READ_BUFFER_BYTES = 32 << 20


def _read_fields_sql(path: Path, n_fields: int, rejects: str) -> str:
    columns = ", ".join(f"'f{i}': 'VARCHAR'" for i in range(n_fields))
    return (
        f"read_csv({sql_string(str(path))}, columns={{{columns}}}, header=false, skip=1, "
        f"delim={sql_string(TAB)}, quote='', escape='', auto_detect=false, encoding='utf-8', "
        f"nullstr={sql_string(NEVER_IN_TEXT)}, null_padding=false, strict_mode=true, "
        f"ignore_errors=true, store_rejects=true, rejects_table={sql_string(rejects)}, "
        f"rejects_scan={sql_string(rejects + '_scan')}, max_line_size=10000000, "
        f"buffer_size={READ_BUFFER_BYTES})"
    )


# The columns of ``src_<relation>`` beside the staging columns; a row with either set is set
# apart from the typed table and settled in Python (:func:`settle_dirty_rows`).
SET_APART_COLUMNS = ("_line", "_raw")
SET_APART = "(" + " OR ".join(f"{c} IS NOT NULL" for c in SET_APART_COLUMNS) + ")"


def stage_table(con, table: TableFile, relation: str) -> None:
    """Expose the rows of one file as the view ``src_<relation>``; nothing is read yet.

    The view is read once, by the typing step. It has one text column per staging column
    (trimmed; NULL when empty or absent). DuckDB's reader is asked for exactly the header's
    fields, in strict mode and without padding: it rejects every row with more or fewer
    fields into the table ``rej_<relation>``, so no row is lost to the reader's leniency, and
    only the fields the ingest uses are decoded. When the header ends with a tab, the reader
    is asked for one more (unnamed) field, which a well-formed row leaves empty; a row with
    text there was shifted, and ``_line`` holds its text.

    The file is latin-1, but it is read as UTF-8, which is the same text for the ASCII bytes
    that nearly all of it is, and much faster to read: a row with a byte that is not valid
    UTF-8 in a staging field is rejected too (the other fields are never decoded), and a row
    whose staging fields hold valid UTF-8 beyond ASCII keeps them in ``_raw``, to be read
    again as latin-1 (:func:`settle_dirty_rows`).
    """
    width = table.n_fields + table.header_trailing_tab
    staged = [(col, None if pos is None else f"f{pos}") for col, pos in table.positions.items()]
    values = [f"nullif(trim({f}), '')" if f else "CAST(NULL AS VARCHAR)" for _, f in staged]
    beyond_ascii = " OR ".join(f"strlen({f}) <> length({f})" for _, f in staged if f)
    line = "CAST(NULL AS VARCHAR)"
    if table.header_trailing_tab:
        fields = ", ".join(f"f{i}" for i in range(width))
        line = f"CASE WHEN f{width - 1} <> '' THEN concat_ws(chr(9), {fields}) END"
    con.execute(
        f"""
        CREATE OR REPLACE VIEW src_{relation} AS
        SELECT {", ".join(f"{v} AS {col}" for v, (col, _) in zip(values, staged, strict=True))},
          {line} AS _line,
          CASE WHEN {beyond_ascii or "FALSE"} THEN [{", ".join(values)}] END AS _raw
        FROM {_read_fields_sql(table.path, width, f"rej_{relation}")}
        """
    )


def _as_latin1(text: str) -> str:
    """The latin-1 reading of bytes that DuckDB read as (valid) UTF-8."""
    return text.encode("utf-8").decode("latin-1")


def rejected_rows(con, relation: str) -> list[tuple[int, str]]:
    """(byte position, DuckDB's text) of each row the reader rejected while reading
    ``src_<relation>``; a row may have several rejects (one per surplus field), listed once."""
    return con.execute(f"SELECT line_byte_position, any_value(csv_line) FROM rej_{relation} "
                       "GROUP BY line_byte_position").fetchall()


def _agrees(line: bytes, recorded: str) -> bool:
    """Whether DuckDB's record of a rejected line (its UTF-8 reading, a byte that is not
    UTF-8 shown as '?') starts like the line's bytes up to the first byte beyond ASCII."""
    ascii_end = next((i for i, b in enumerate(line) if b > 127), len(line))
    return bool(line) and recorded.startswith(line[:min(ascii_end, 1000)].decode("ascii"))


def read_rejected_lines(path: Path, rejects: list[tuple[int, str]]) -> list[str]:
    """The latin-1 text of the lines DuckDB's reader rejected, from the file's bytes.

    ``rejects`` holds, for each line, the byte position DuckDB records for its start and its
    text as DuckDB read it. The recorded position can be a byte or two off, depending on the
    line ends, so the line taken is the one starting next to it whose text agrees with
    DuckDB's record. The file is read forward only (a gzip file cannot seek back cheaply).
    """
    lines = []
    with _open_bytes(path) as fh:
        kept_start, kept = 0, b""  # the last bytes read, from kept_start
        for position, recorded in sorted(rejects):
            recorded = recorded.lstrip("\r\n")
            low = max(0, position - 3)
            if low >= fh.tell():
                fh.seek(low)
                kept_start, kept = low, b""
            else:  # the line starts within (or right after) the bytes last read
                kept = kept[low - kept_start:]
                kept_start = low
            kept += fh.read(max(0, position + 3 - kept_start - len(kept)))
            found = None
            for start in (position, position - 1, position - 2, position + 1, position + 2):
                if start < kept_start or start > kept_start + len(kept):
                    continue
                if start > 0 and (start == kept_start or kept[start - kept_start - 1] != 10):
                    continue  # not the start of a line
                rest = kept[start - kept_start:]
                if b"\n" not in rest:
                    kept += fh.readline()
                    rest = kept[start - kept_start:]
                line = rest.split(b"\n", 1)[0].rstrip(b"\r")
                if _agrees(line, recorded):
                    found = line
                    break
            if found is None:
                raise ReleaseError(f"{path}: could not find the line DuckDB rejected at byte "
                                   f"{position} ({recorded[:60]!r}); expected it to start there")
            lines.append(found.decode("latin-1"))
    return lines


def settle_dirty_rows(con, table: TableFile, relation: str, typed: str) -> StagedTable:
    """Settle the rows the reader rejected or set apart, once ``src_<relation>`` was read.

    ``typed`` is the table the typing step wrote from the view. The rejected rows are read
    again from the file, by the byte position of their line, as latin-1 (the reader's record
    of a row is its UTF-8 reading).
    Rows that are well formed after all (a byte beyond UTF-8, or, when the header ends with
    a tab, no trailing tab) and rows with text beyond ASCII, read again as latin-1, are
    usable as they are; the others are repaired or set aside (:func:`repair_row`).

    Usable readings (staging columns, as in ``src_<relation>``) go to ``fix_<relation>``;
    malformed rows to ``bad_<relation>`` (``key``: the field at the key's position, or NULL;
    ``detail``). Returns the table's counts.
    """
    n_reader, n_shifted = con.execute(f"SELECT count(*), count(_line) FROM {typed}").fetchall()[0]
    rejects = rejected_rows(con, relation)
    lines = [_as_latin1(r[0]) for r in con.execute(
        f"SELECT _line FROM {typed} WHERE _line IS NOT NULL").fetchall()]
    lines += read_rejected_lines(table.path, rejects)
    usable = [tuple(None if v is None else _as_latin1(v) for v in r[0]) for r in con.execute(
        f"SELECT _raw FROM {typed} WHERE _raw IS NOT NULL AND _line IS NULL").fetchall()]

    staged = StagedTable(table, relation, rows_read=n_reader + len(rejects))
    if table.header_trailing_tab:  # the rows the reader took end with the empty field
        staged.trailing_empty_field = n_reader - n_shifted
    bad_rows: list[tuple[str | None, str]] = []
    key_pos = table.positions.get(table.spec.key)
    for line in lines:
        fields = line.split(TAB)
        if len(fields) == table.n_fields or (
                table.header_trailing_tab and len(fields) == table.n_fields + 1
                and fields[-1] == ""):
            usable.append(tuple(None if p is None else (fields[p].strip(" ") or None)
                                for p in table.positions.values()))
            continue
        result = repair_row(line, table)
        staged.fewer_fields += len(fields) < table.n_fields
        if result.values is not None:
            usable.append(result.values)
            staged.trailing_empty_field += result.trailing_only
            staged.repaired += not result.trailing_only
        else:
            key = fields[key_pos].strip() if key_pos is not None and key_pos < len(
                fields) else ""
            bad_rows.append((key or None, result.detail))
    staged.malformed = len(bad_rows)
    cols = list(table.positions)
    fixed = pa.Table.from_pylist([dict(zip(cols, r, strict=True)) for r in usable],
                                 schema=pa.schema([(c, pa.string()) for c in cols]))
    bad = pa.Table.from_pylist([{"key": k, "detail": d} for k, d in bad_rows],
                               schema=pa.schema([("key", pa.string()), ("detail", pa.string())]))
    con.register("_fixed_rows", fixed)
    con.execute(f"CREATE OR REPLACE TABLE fix_{relation} AS SELECT *, "
                "CAST(NULL AS VARCHAR) AS _line, CAST(NULL AS VARCHAR[]) AS _raw "
                "FROM _fixed_rows")
    con.unregister("_fixed_rows")
    con.register("_bad_rows", bad)
    con.execute(f"CREATE OR REPLACE TABLE bad_{relation} AS SELECT * FROM _bad_rows")
    con.unregister("_bad_rows")
    return staged


class WorkDir:
    """A temporary working folder (extracted zip members, the DuckDB database)."""

    def __init__(self, parent: str | os.PathLike | None = None):
        self._tmp = tempfile.TemporaryDirectory(prefix="fairness-audit-ingest-", dir=parent)
        self.path = Path(self._tmp.name)

    def __enter__(self) -> WorkDir:
        return self

    def __exit__(self, *exc) -> None:
        self._tmp.cleanup()
