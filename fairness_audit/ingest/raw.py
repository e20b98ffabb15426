"""Reading the tab-separated tables of a raw EOIR release, row by row, under our own control.

EOIR's files are named ``*.csv`` but are tab-separated, unquoted, latin-1 text. Dirty rows
exist in every release: a stray tab inside a value shifts the rest of the row by one field,
so the row has more fields than the header. A CSV reader cannot be trusted to notice that (it
may pad, truncate, or silently drop the row), so each file is first read here as *lines*:
DuckDB reads every line as one string (with a delimiter that never occurs in the data) and
counts its tabs in SQL; only the rows whose field count does not match are handed to Python.

* A row with exactly as many fields as the header is well formed (so is one with an extra
  empty trailing field when the header itself ends with a tab).
* A row with more fields is repaired when the repair is unambiguous: every way of gluing
  adjacent fields back together so that each field with a known format (keys, dates, codes)
  is valid must give the same values for the columns the ingest uses. Otherwise, and for a
  row with fewer fields than the header, the row is set aside as ``malformed row``.
* A row with one extra *empty* trailing field goes through the same check: it is usually a
  harmless trailing tab (kept as it is, not an error), but a stray tab earlier in a row whose
  last column is empty looks the same at the end of the line; the check tells them apart.

The usable rows are exposed as a view of a DuckDB database, with only the columns the ingest
uses, as trimmed text (empty string -> NULL): the well-formed rows are parsed by DuckDB's own
reader when the view is read, keeping only rows whose fields show they are well formed (so the
reader's leniency cannot let a shifted row through), plus the repaired rows. Everything
downstream is SQL over those views.
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from fairness_audit.errors import AuditError

# A delimiter that does not occur in EOIR text, so that DuckDB hands over whole lines.
LINE_DELIMITER = "\x1e\x1f\x01\x02"
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
    """Formats known from the column name alone: IDN* keys are digits, *DATE* / dat* are dates."""
    upper = column.upper()
    if upper.startswith("IDN"):
        return is_key_like
    if "DATE" in upper or upper.startswith("DAT"):
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


def _is_table_file(name: str) -> bool:
    lower = name.lower()
    return lower.endswith((".csv", ".csv.gz", ".txt", ".txt.gz"))


def extract_zip(source: Path, names: Iterable[str], workdir: Path,
                progress: Callable[[str], None] | None = None) -> Path:
    """Extract the members whose table names are in ``names`` (case-insensitive) to ``workdir``.

    Members are streamed to disk (a release is several GB), whatever folder they sit in.
    """
    wanted = {n.lower() for n in names}
    out = workdir / "release"
    out.mkdir(parents=True, exist_ok=True)
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ReleaseError(f"{source}: expected a zip archive of an EOIR release, could not open "
                           f"it ({exc})") from None
    with archive:
        for info in archive.infolist():
            base = os.path.basename(info.filename)
            if info.is_dir() or not _is_table_file(base) or _strip_suffixes(base) not in wanted:
                continue
            if progress:
                progress(f"extracting {base} ({info.file_size / 1e6:.0f} MB)")
            with archive.open(info) as src, open(out / base, "wb") as dst:
                shutil.copyfileobj(src, dst, length=4 << 20)
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


def _read_header(path: Path) -> tuple[tuple[str, ...], bool]:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as fh:
            first = fh.readline()
    except (OSError, EOFError) as exc:
        raise ReleaseError(f"{path}: could not read the header row ({exc})") from None
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
    """Counts of one staged table; the rows are in ``src_<name>`` (view) of the database."""

    table: TableFile
    relation: str
    rows_read: int = 0
    malformed: int = 0
    repaired: int = 0
    trailing_empty_field: int = 0


def sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _read_lines_sql(path: Path) -> str:
    return (
        f"read_csv({sql_string(str(path))}, columns={{'line': 'VARCHAR'}}, header=false, "
        f"skip=1, delim={sql_string(LINE_DELIMITER)}, quote='', escape='', auto_detect=false, "
        f"encoding='latin-1', strict_mode=true, max_line_size=10000000)"
    )


def _read_fields_sql(path: Path, n_fields: int) -> str:
    columns = ", ".join(f"'f{i}': 'VARCHAR'" for i in range(n_fields))
    return (
        f"read_csv({sql_string(str(path))}, columns={{{columns}}}, header=false, skip=1, "
        f"delim={sql_string(TAB)}, quote='', escape='', auto_detect=false, encoding='latin-1', "
        f"nullstr={sql_string(LINE_DELIMITER)}, null_padding=true, strict_mode=false, "
        f"ignore_errors=true, max_line_size=10000000)"
    )


def stage_table(con, table: TableFile, relation: str) -> StagedTable:
    """Read one file's counts and dirty rows; expose its usable rows as ``src_<relation>``.

    ``src_<relation>`` has one text column per staging column (NULL when empty or absent).
    It is a view: its well-formed rows are split from the file's lines when it is read (once,
    by the typing step), so no copy of the whole file is written. Repaired rows are in
    ``fix_<relation>``; malformed rows go to ``bad_<relation>`` (``key``: the field at the
    key's position, or NULL; ``detail``).
    """
    width = table.n_fields
    cols = list(table.positions)
    # Fields are counted by counting tabs, without splitting: a line has nt + 1 fields.
    tabs = "(strlen(line) - strlen(replace(line, chr(9), '')))"
    well_formed = (f"({tabs} = {width - 1} OR ({tabs} = {width} AND ends_with(line, chr(9))))"
                   if table.header_trailing_tab else f"({tabs} = {width - 1})")
    lines = f"(SELECT line FROM {_read_lines_sql(table.path)} WHERE line IS NOT NULL)"
    try:
        rows_read, trailing, raw_lines = con.execute(
            f"""
            SELECT count(*),
              count(*) FILTER (WHERE good AND nt = {width}),
              coalesce(list(line) FILTER (WHERE NOT good), [])
            FROM (SELECT line, {tabs} AS nt, {well_formed} AS good FROM {lines})
            """
        ).fetchall()[0]
    except Exception as exc:  # duckdb raises several error types for unreadable files
        raise ReleaseError(f"{table.path}: could not read the table {table.spec.name} as "
                           f"tab-separated latin-1 text ({str(exc).splitlines()[0]})") from None
    staged = StagedTable(table, relation, int(rows_read), 0, 0, int(trailing))

    repaired_rows: list[tuple[str | None, ...]] = []
    trailing_only = 0
    bad_rows: list[tuple[str | None, str]] = []
    key_pos = table.positions.get(table.spec.key)
    for line in raw_lines:
        result = repair_row(line, table)
        if result.values is not None:
            repaired_rows.append(result.values)
            trailing_only += result.trailing_only
        else:
            fields = line.split(TAB)
            key = fields[key_pos].strip() if key_pos is not None and key_pos < len(
                fields) else ""
            bad_rows.append((key or None, result.detail))
    staged.repaired = len(repaired_rows) - trailing_only
    staged.trailing_empty_field += trailing_only
    staged.malformed = len(bad_rows)

    schema = pa.schema([(c, pa.string()) for c in cols])
    fixed = pa.Table.from_pylist([dict(zip(cols, r, strict=True)) for r in repaired_rows],
                                 schema=schema)
    bad = pa.Table.from_pylist([{"key": k, "detail": d} for k, d in bad_rows],
                               schema=pa.schema([("key", pa.string()), ("detail", pa.string())]))
    con.register("_fixed_rows", fixed)
    con.execute(f"CREATE OR REPLACE TABLE fix_{relation} AS SELECT * FROM _fixed_rows")
    con.unregister("_fixed_rows")
    con.register("_bad_rows", bad)
    con.execute(f"CREATE OR REPLACE TABLE bad_{relation} AS SELECT * FROM _bad_rows")
    con.unregister("_bad_rows")

    def pick(col: str) -> str:
        pos = table.positions[col]
        if pos is None:
            return f"CAST(NULL AS VARCHAR) AS {col}"
        return f"nullif(trim(f{pos}), '') AS {col}"

    # The well-formed rows, parsed by DuckDB's own reader into the header's fields and two
    # more. Empty fields stay '' (no string reads as NULL), so a NULL field is one the row
    # lacks: a row is well formed exactly when it has the last header field and no extra
    # field (or, when the header ends with a tab, one extra empty field and no other).
    # Rows the reader rejects or pads are malformed ones, already counted above.
    extra = (f"(f{width} IS NULL OR (f{width} = '' AND f{width + 1} IS NULL))"
             if table.header_trailing_tab else f"f{width} IS NULL")
    con.execute(
        f"""
        CREATE OR REPLACE VIEW src_{relation} AS
        SELECT {", ".join(pick(c) for c in cols)}
        FROM {_read_fields_sql(table.path, width + 2)}
        WHERE f{width - 1} IS NOT NULL AND {extra}
        UNION ALL
        SELECT {", ".join(cols)} FROM fix_{relation}
        """
    )
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
