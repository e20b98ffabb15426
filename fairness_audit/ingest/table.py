"""``ingest table``: a published extract (CSV, parquet or Excel) plus a column mapping → the
decisions table.

Every row read ends in exactly one place: the decisions table (used) or the set-aside file,
with the first reason that applies, in this order:

1. a source value that the mapping sends to a set-aside reason (e.g. "administrative close");
2. a required column (case_id, proceeding_id, judge_id, court_id, fiscal_year, outcome) that
   is blank ("missing <column>") or cannot be read ("unreadable <column>"); when fiscal_year
   is derived, the reason names decision_date;
3. "fiscal_year disagrees with decision_date" (both from the source) and "decision before
   filed_date";
4. "duplicate proceeding_id" (the first row with that key is kept);
5. for CSV, "unparseable line" (a line with more fields than the header).

A value that cannot be read in a column that may be null becomes null and is counted under
``values_nulled``; a source value that a ``values`` list does not name becomes what the
column's ``unlisted`` says ("other" for outcome) and is counted under ``values_unlisted``.
Both counts are over the rows used. ``Ledger.check()`` must hold before anything is written.

Names (judges, courts) become stable codes when the mapping says ``hash: true``: ``J`` or
``C`` followed by the first 12 hex digits of the SHA-256 of the name upper-cased, accents
stripped and whitespace collapsed. Names are written only on opt-in, to
``<stem>.names.parquet``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import unicodedata
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fairness_audit import __version__
from fairness_audit.checkpoints import checkpoint
from fairness_audit.errors import TableError, ValidationFailed
from fairness_audit.ingest.mapping import (
    BOOL_TOKENS,
    DERIVED,
    HASH_PREFIXES,
    KEEP,
    MISSING,
    ColumnSpec,
    Mapping,
    SetAside,
    load_mapping,
    normalise_value,
)
from fairness_audit.ingest.release import fingerprint
from fairness_audit.ledger import Ledger, TableLedger
from fairness_audit.progress import ProgressLike, as_progress
from fairness_audit.schema import (
    DECISION_COLUMNS,
    WORKLOAD_COLUMNS,
    coerce_decisions,
    kind_label,
    validate_decisions,
)
from fairness_audit.tables import TablePaths, TableSet, check_table_output

SOURCE_KIND = "table"
WORKLOAD_SOURCE = "decisions table"
HASH_LENGTH = 12
#: Years outside this range are typing errors, not decisions of immigration courts.
YEAR_RANGE = (1900, 2100)
#: At most this many distinct unlisted source values are named per column in the ledger.
MAX_UNLISTED_NAMED = 100
UNLISTED_REST = "(other unlisted values)"

_SUFFIX_FORMATS = {
    ".csv": "csv", ".txt": "csv", ".tsv": "csv",
    ".parquet": "parquet", ".pq": "parquet",
    ".xlsx": "excel", ".xlsm": "excel",
}
_BAD_LINE = re.compile(r"Skipping line (\d+): expected (\d+) fields?, saw (\d+)")
_REQUIRED = tuple(c.name for c in DECISION_COLUMNS if not c.nullable
                  and c.name not in ("granted", "removal_ordered"))


# --------------------------------------------------------------------------------------------
# Reading


@dataclass(frozen=True)
class SourceTable:
    """A source file read as text: one string column per source column, blanks as NA.

    ``bad_lines`` are the file lines (1-based, header = line 1) of CSV rows that could not be
    split into the header's fields; they count as rows read and are set aside.
    """

    frame: pd.DataFrame
    name: str
    format: str
    bad_lines: tuple[int, ...] = ()
    sheet: str | int | None = None


def _cell_text(value: Any) -> Any:
    """One cell of an Excel or object column as text (None for blank)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float | np.floating) and np.isnan(value):
        return None
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    if isinstance(value, dt.datetime | pd.Timestamp):
        ts = pd.Timestamp(value)
        return ts.date().isoformat() if ts == ts.normalize() else ts.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def as_text(series: pd.Series) -> pd.Series:
    """A source column as pandas ``string``: trimmed, blanks NA, integral numbers without '.0'."""
    if pd.api.types.is_bool_dtype(series) and not series.isna().any():
        out = series.map({True: "true", False: "false"})
    elif pd.api.types.is_integer_dtype(series):
        out = series.astype("Int64").astype("string")
    elif pd.api.types.is_string_dtype(series) and not pd.api.types.is_object_dtype(series):
        out = series
    else:  # floats, dates, booleans with nulls, Python objects (Excel)
        out = series.astype(object).map(_cell_text)
    out = out.astype("string").str.strip()
    return out.mask(out == "")


def _source_format(path: Path, mapping: Mapping) -> str:
    if mapping.read.format is not None:
        return mapping.read.format
    fmt = _SUFFIX_FORMATS.get(path.suffix.lower())
    if fmt is None:
        hint = (" (old .xls workbooks cannot be read: save as .xlsx)"
                if path.suffix.lower() == ".xls" else "")
        raise TableError(
            f"{path}: expected a file ending in {', '.join(_SUFFIX_FORMATS)}, found "
            f"{path.suffix or 'no suffix'!r}{hint}; or set read.format in the mapping"
        )
    return fmt


def _read_csv(path: Path, mapping: Mapping) -> tuple[pd.DataFrame, tuple[int, ...]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", pd.errors.ParserWarning)
        try:
            frame = pd.read_csv(
                path, dtype=str, keep_default_na=False, na_values=[], sep=mapping.read.delimiter,
                encoding=mapping.read.encoding, encoding_errors="strict", on_bad_lines="warn",
                # the header is read as a row: told that line 1 is the header, pandas takes the
                # first column for the row index when the first data line has one field more
                # than the header, and every row is read one column off, without a warning
                header=None,
            )
        except UnicodeDecodeError as exc:
            raise TableError(
                f"{path}: expected text in {mapping.read.encoding}, found byte "
                f"{exc.object[exc.start:exc.start + 1]!r} at offset {exc.start}; set read.encoding "
                "in the mapping (e.g. latin-1)"
            ) from None
        except pd.errors.EmptyDataError:
            raise TableError(f"{path}: expected a header row, found an empty file") from None
        except pd.errors.ParserError as exc:
            raise TableError(f"{path}: could not read it as CSV ({exc})") from None
    bad: list[int] = []
    for w in caught:
        if issubclass(w.category, pd.errors.ParserWarning):
            bad.extend(int(m.group(1)) for m in _BAD_LINE.finditer(str(w.message)))
        else:  # pragma: no cover - pass on what we did not expect
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    names = _column_names(frame.iloc[0].tolist())
    return frame.iloc[1:].set_axis(names, axis=1).reset_index(drop=True), tuple(sorted(bad))


def _column_names(header: list[str]) -> list[str]:
    """The header's cells named as pandas names them: blank "Unnamed: i", repeats "name.1"."""
    names: list[str] = []
    for i, cell in enumerate(header):
        base = cell if cell else f"Unnamed: {i}"
        name, k = base, 0
        while name in names:
            k += 1
            name = f"{base}.{k}"
        names.append(name)
    return names


def read_source(path: str | Path, mapping: Mapping) -> SourceTable:
    """Read a CSV, parquet or Excel extract with every column as text.

    CSV is read with ``dtype=str`` and no NA spellings, so that codes such as "NA" (Namibia) or
    "0012" survive; parquet and Excel columns are turned into text the same way (integral
    numbers without a decimal part, dates as ISO), so that a mapping matches the same values
    whatever the file type.
    """
    p = Path(path)
    if not p.is_file():
        raise TableError(f"{p}: extract not found")
    fmt = _source_format(p, mapping)
    bad_lines: tuple[int, ...] = ()
    try:
        if fmt == "csv":
            frame, bad_lines = _read_csv(p, mapping)
        elif fmt == "parquet":
            frame = pd.read_parquet(p)
        else:
            sheet = 0 if mapping.read.sheet is None else mapping.read.sheet
            frame = pd.read_excel(p, sheet_name=sheet, dtype=object, engine="openpyxl")
            frame = frame.dropna(how="all")  # formatted but empty rows are not records
    except TableError:
        raise
    except Exception as exc:  # pandas, pyarrow and openpyxl raise many types for bad files
        raise TableError(f"{p}: expected a readable {fmt} file, could not read it ({exc})") from None
    frame = frame.reset_index(drop=True)
    frame.columns = [str(c) for c in frame.columns]
    text = pd.DataFrame({c: as_text(frame[c]) for c in frame.columns}, index=frame.index)
    return SourceTable(text, p.name, fmt, bad_lines, mapping.read.sheet if fmt == "excel" else None)


# --------------------------------------------------------------------------------------------
# Names → stable codes


def normalise_name(name: str) -> str:
    """Upper-case, accents stripped, whitespace collapsed: the form that is hashed."""
    decomposed = unicodedata.normalize("NFKD", name)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.upper().split())


def stable_code(name: str, prefix: str) -> str:
    """``prefix`` + the first 12 hex digits of the SHA-256 of the normalised name."""
    digest = hashlib.sha256(normalise_name(name).encode("utf-8")).hexdigest()
    return prefix + digest[:HASH_LENGTH]


def _hash_names(names: pd.Series, column: str) -> tuple[pd.Series, pd.DataFrame]:
    prefix = HASH_PREFIXES[column]
    uniques = names.dropna().unique()
    codes = {n: stable_code(n, prefix) for n in uniques}
    by_code: dict[str, set[str]] = {}
    for n, c in codes.items():
        by_code.setdefault(c, set()).add(normalise_name(n))
    clashes = {c: sorted(ns) for c, ns in by_code.items() if len(ns) > 1}
    if clashes:  # 48 bits: not expected before millions of names, but never merge silently
        code, ns = next(iter(clashes.items()))
        raise TableError(f"column '{column}': names {ns} share the code {code}; they cannot be "
                         "told apart by a 12-digit hash")
    hashed = names.map(codes).astype("string")
    kind = column.removesuffix("_id")
    lookup = pd.DataFrame({"kind": kind, "id": [codes[n] for n in uniques], "name": list(uniques)})
    return hashed, lookup


# --------------------------------------------------------------------------------------------
# Building the table


@dataclass
class _Column:
    """One canonical column being built, with what happened to its values."""

    values: pd.Series
    unreadable: pd.Series  # present but not readable as the column's type
    nulled: pd.Series  # present in the source, null in the table (unreadable or unlisted)
    set_aside: list[tuple[pd.Series, SetAside]] = field(default_factory=list)
    unlisted: pd.Series | None = None  # the source values that were not listed (else NA)


@dataclass(frozen=True)
class IngestBuild:
    """Everything ``ingest table`` writes, in memory."""

    decisions: pd.DataFrame
    workload: pd.DataFrame
    set_aside: pd.DataFrame
    ledger: Ledger
    names: pd.DataFrame | None
    metadata: dict[str, Any]


def _resolve_source_columns(source: SourceTable, mapping: Mapping) -> dict[str, str]:
    """canonical column → source column name, matching names exactly, then ignoring case."""
    found = list(source.frame.columns)
    folded: dict[str, list[str]] = {}
    for c in found:
        folded.setdefault(normalise_value(c), []).append(c)
    out: dict[str, str] = {}
    problems: list[str] = []
    for spec in mapping.columns:
        if spec.mode != "source":
            continue
        assert spec.source is not None
        if spec.source in found:
            out[spec.column] = spec.source
            continue
        candidates = folded.get(normalise_value(spec.source), [])
        if len(candidates) == 1:
            out[spec.column] = candidates[0]
        else:
            problems.append(f"{spec.column} from {spec.source!r}")
    if problems:
        delimiter = mapping.read.delimiter or ","
        other = next((d for d in (",", ";", "\t", "|") if len(found) == 1 and d != delimiter
                      and d in found[0]), None)
        hint = (f"; the file seems delimited by {other!r}, not {delimiter!r}: set read.delimiter "
                f"in the mapping" if other else "")
        raise TableError(
            f"{source.name}: mapping '{mapping.origin}' maps {', '.join(problems)}, but the file has "
            f"no such column; found columns {', '.join(map(repr, found))}{hint}"
        )
    return out


def _check_readable(source: SourceTable, spec: ColumnSpec, source_column: str,
                    raw: pd.Series, built: _Column) -> None:
    """A mapped column none of whose values can be read is the wrong column (or format): an
    error, where a few unreadable values are set aside or nulled and counted."""
    present = int(raw.notna().sum())
    if present == 0 or int(built.unreadable.sum()) < present:
        return
    fmt = f" in the format {spec.format!r}" if spec.format else ""
    raise TableError(
        f"{source.name}: column '{spec.column}' from {source_column!r}: expected "
        f"{kind_label(spec.canonical)}{fmt}, found {raw[built.unreadable].iloc[0]!r} and no "
        f"readable value in any of its {present} rows; map another column or set its format"
    )


def _lookup_table(spec: ColumnSpec) -> dict[str, Any] | None:
    """The values lookup of a column, the implicit one for coded columns without ``values``."""
    if spec.values is not None:
        return spec.lookup()
    col = spec.canonical
    if col.allowed is not None:
        return {normalise_value(a): a for a in col.allowed}
    if col.kind == "bool":
        return dict(BOOL_TOKENS)
    return None


def _parse_typed(values: pd.Series, kind: str, fmt: str | None, mapped: pd.Series) -> pd.Series:
    """Parse text (or mapped canonical values) into the column's type; unreadable → NA."""
    if kind in ("string",):
        return values.astype("string")
    if kind == "bool":
        return values.astype("boolean")
    if kind in ("int", "float"):
        num = pd.to_numeric(values.astype(object), errors="coerce").astype("Float64")
        if kind == "float":
            return num
        whole = num.notna() & (num == num.round())
        return num.where(whole).round().astype("Int64")
    # date: values from the source use the column's format; values from the mapping are ISO
    raw = values.where(~mapped).astype("string")
    out = pd.to_datetime(raw, format=fmt, errors="coerce")
    if mapped.any():
        iso = pd.to_datetime(values.where(mapped).astype("string"), format="ISO8601",
                             errors="coerce")
        out = out.where(~mapped, iso)
    out = out.dt.normalize()
    out = out.where((out.dt.year >= YEAR_RANGE[0]) & (out.dt.year <= YEAR_RANGE[1]))
    return out.astype("datetime64[s]")


def _build_column(spec: ColumnSpec, raw: pd.Series) -> tuple[_Column, pd.DataFrame | None]:
    col = spec.canonical
    present = raw.notna()
    no = pd.Series(False, index=raw.index)
    set_aside: list[tuple[pd.Series, SetAside]] = []
    lookup = _lookup_table(spec)
    unlisted_values: pd.Series | None = None
    mapped = no.copy()
    if lookup is None:
        values = raw.astype(object)
    else:
        keys = raw.map(normalise_value, na_action="ignore")
        listed = present & keys.isin(list(lookup))
        unlisted = present & ~listed
        targets = keys.where(listed).map(lookup, na_action="ignore").astype(object)
        targets = targets.where(listed, None)
        values = targets.copy()
        mapped = listed.copy()
        for reason in {t for t in lookup.values() if isinstance(t, SetAside)}:
            hit = listed & targets.map(lambda t, r=reason: t == r)
            if hit.any():
                set_aside.append((hit, reason))
            values = values.where(~hit, None)
        rule = spec.unlisted
        if unlisted.any():
            if rule == KEEP:
                values = values.where(~unlisted, raw.astype(object))
                mapped = mapped & ~unlisted
            else:
                unlisted_values = raw.where(unlisted)
                if isinstance(rule, SetAside):
                    set_aside.append((unlisted, rule))
                else:
                    values = values.where(~unlisted, rule)
                    mapped = mapped | unlisted
        mapped = mapped & values.notna()
    values = values.astype(object).where(pd.notna(values), None)
    typed = _parse_typed(values, col.kind, spec.format, mapped)
    if spec.column == "fiscal_year":
        typed = typed.where((typed >= YEAR_RANGE[0]) & (typed <= YEAR_RANGE[1]))
    was_value = pd.Series(values.notna().to_numpy(), index=raw.index)
    unreadable = was_value & typed.isna()
    # present in the source, and not sent to a set-aside reason, but null in the table
    aside_any = no.copy()
    for mask, _ in set_aside:
        aside_any |= mask
    nulled = present & typed.isna() & ~aside_any
    names = None
    if spec.hash:
        typed, names = _hash_names(typed, spec.column)
    built = _Column(typed, unreadable, nulled, set_aside, unlisted_values)
    return built, names


class _Rows:
    """The fate of every row: None while used, else the first set-aside reason."""

    def __init__(self, n: int):
        self.reason = pd.Series([None] * n, dtype=object)
        self.workload = pd.Series([None] * n, dtype=object)

    def set_aside(self, mask: pd.Series, reason: str, workload: str | None = None) -> None:
        take = mask.fillna(False).to_numpy(dtype=bool) & self.reason.isna().to_numpy()
        if take.any():
            self.reason[take] = reason
            if workload is not None:
                self.workload[take] = workload

    @property
    def used(self) -> pd.Series:
        return self.reason.isna()


def _derive(columns: dict[str, _Column], mapping: Mapping, index: pd.Index) -> None:
    """Fill derived and missing columns, in place."""
    empty = pd.Series(False, index=index)

    def null_column(kind: str) -> pd.Series:
        dtype = {"string": "string", "int": "Int64", "float": "Float64", "bool": "boolean",
                 "date": "datetime64[s]"}[kind]
        return pd.Series(pd.NA if kind != "date" else pd.NaT, index=index, dtype=dtype)

    for spec in mapping.columns:
        if spec.mode == MISSING:
            columns[spec.column] = _Column(null_column(spec.canonical.kind), empty, empty)
    derived = {s.column for s in mapping.columns if s.mode == DERIVED}
    if "fiscal_year" in derived:
        date = columns["decision_date"]
        dd = date.values
        fy = (dd.dt.year + (dd.dt.month >= 10).astype(int)).astype("Int64")
        columns["fiscal_year"] = _Column(fy, date.unreadable, empty)
    if "detained" in derived:
        custody = columns["custody"].values
        detained = (custody == "D").astype("boolean").where(custody.notna())
        columns["detained"] = _Column(detained, empty, empty)
    if "duration_days" in derived:
        days = (columns["decision_date"].values - columns["filed_date"].values).dt.days
        columns["duration_days"] = _Column(days.astype("Float64"), empty, empty)
    outcome = columns["outcome"].values
    columns["granted"] = _Column((outcome == "grant").astype("boolean"), empty, empty)
    columns["removal_ordered"] = _Column((outcome == "removal").astype("boolean"), empty, empty)


def _null_where(columns: dict[str, _Column], name: str, mask: pd.Series) -> None:
    """Null a nullable column's values where ``mask`` holds, counting them as nulled."""
    mask = mask.fillna(False).astype(bool) & columns[name].values.notna()
    if mask.any():
        c = columns[name]
        c.values = c.values.mask(mask)
        c.nulled = c.nulled | mask


def _consistency(columns: dict[str, _Column], mapping: Mapping, rows: _Rows) -> None:
    """Cross-column rules of the decisions table: set rows aside or null values, never guess."""
    modes = {s.column: s.mode for s in mapping.columns}
    v = {name: c.values for name, c in columns.items()}
    if modes["fiscal_year"] == "source" and modes["decision_date"] == "source":
        dd = v["decision_date"]
        fy_from_date = dd.dt.year + (dd.dt.month >= 10).astype(int)
        rows.set_aside(dd.notna() & v["fiscal_year"].notna() & (fy_from_date != v["fiscal_year"]),
                       "fiscal_year disagrees with decision_date")
    rows.set_aside(v["decision_date"] < v["filed_date"], "decision before filed_date")
    _null_where(columns, "duration_days", v["duration_days"] < 0)
    if modes["detained"] == "source":
        custody = v["custody"]
        _null_where(columns, "detained", custody.notna() & (v["detained"] != (custody == "D")))
    # stricter than "not appealed": a remand needs an appeal known to exist
    _null_where(columns, "remanded", ~v["appealed"].fillna(False).astype(bool))
    _null_where(columns, "n_hearings", v["n_hearings"] < 0)
    _null_where(columns, "n_continuances", v["n_continuances"] < 0)
    _null_where(columns, "n_continuances",
                columns["n_continuances"].values > columns["n_hearings"].values)


def _unlisted_counts(values: pd.Series) -> dict[str, int]:
    counts = values.dropna().astype(str).value_counts()
    named = counts.iloc[:MAX_UNLISTED_NAMED]
    out = {str(k): int(n) for k, n in named.items()}
    rest = int(counts.iloc[MAX_UNLISTED_NAMED:].sum())
    if rest:
        out[UNLISTED_REST] = rest
    return out


def build_table(
    source: SourceTable,
    mapping: Mapping,
    *,
    keep_names: bool = False,
) -> IngestBuild:
    """Turn a source read as text into the decisions table, workload, set-aside rows and ledger.

    Parameters
    ----------
    source
        The extract, from ``read_source``.
    mapping
        The validated column mapping.
    keep_names
        Keep the judge and court names behind hashed codes (also on when the mapping says
        ``keep_names: true``).

    Returns
    -------
    IngestBuild
        Frames with canonical dtypes, the ledger (already checked) and the table's metadata.

    Raises
    ------
    TableError
        A mapped source column is not in the file.
    """
    frame = source.frame
    sources = _resolve_source_columns(source, mapping)
    columns: dict[str, _Column] = {}
    name_tables: list[pd.DataFrame] = []
    for spec in mapping.columns:
        if spec.mode == "source":
            built, names = _build_column(spec, frame[sources[spec.column]])
            _check_readable(source, spec, sources[spec.column], frame[sources[spec.column]], built)
            columns[spec.column] = built
            if names is not None:
                name_tables.append(names)
    _derive(columns, mapping, frame.index)

    rows = _Rows(len(frame))
    rows.reason.index = frame.index
    rows.workload.index = frame.index
    # 1. values that the mapping sends to a set-aside reason, in column order
    for spec in mapping.columns:
        for mask, aside in columns[spec.column].set_aside:
            rows.set_aside(mask, aside.reason, aside.workload)
    # 2. required columns blank or unreadable
    derived_fy = mapping.spec("fiscal_year").mode == DERIVED
    for name in _REQUIRED:
        c = columns[name]
        label = "decision_date" if (name == "fiscal_year" and derived_fy) else name
        rows.set_aside(c.unreadable, f"unreadable {label}")
        rows.set_aside(c.values.isna(), f"missing {label}")
    # 3. cross-column rules
    _consistency(columns, mapping, rows)
    # 4. one row per proceeding
    pid = columns["proceeding_id"].values
    rows.set_aside(pid.where(rows.used).duplicated(keep="first") & rows.used & pid.notna(),
                   "duplicate proceeding_id")

    used = rows.used.to_numpy(dtype=bool)
    # the mapping names every column, the optional ones included (missing when not given)
    decisions = pd.DataFrame({s.column: columns[s.column].values for s in mapping.columns})
    decisions = decisions[used].reset_index(drop=True)
    decisions, _ = coerce_decisions(decisions)
    problems = validate_decisions(decisions)
    if problems:  # every rule above exists so that this cannot happen; fail before writing
        raise ValidationFailed(f"{source.name} ingested with '{mapping.origin}'", problems)

    # the ledger
    ledger = Ledger()
    entry: TableLedger = ledger.table(source.name)
    entry.rows_read = len(frame) + len(source.bad_lines)
    entry.used = int(used.sum())
    for reason, n in rows.reason.dropna().value_counts().items():
        entry.set_aside_rows(str(reason), int(n))
    entry.set_aside_rows("unparseable line", len(source.bad_lines))
    for spec in mapping.columns:
        built = columns[spec.column]
        entry.null_values(spec.column, int((built.nulled.to_numpy(dtype=bool) & used).sum()))
        if built.unlisted is not None:
            entry.unlisted_values(spec.column, _unlisted_counts(built.unlisted[used]))
    ledger.check()

    # the set-aside rows: the source's keys, the table, the reason
    aside = ~used
    key_case = frame[sources["case_id"]] if "case_id" in sources else None
    key_proc = frame[sources["proceeding_id"]] if "proceeding_id" in sources else None
    set_aside = pd.DataFrame({
        "row_number": pd.array(np.flatnonzero(aside) + 1, dtype="Int64"),
        "line": pd.array([pd.NA] * int(aside.sum()), dtype="Int64"),
        "case_id": (key_case[aside] if key_case is not None
                    else pd.Series(pd.NA, index=frame.index[aside])).astype("string").to_numpy(),
        "proceeding_id": (key_proc[aside] if key_proc is not None
                          else pd.Series(pd.NA, index=frame.index[aside])).astype("string").to_numpy(),
        "table": source.name,
        "reason": rows.reason[aside].astype("string").to_numpy(),
    })
    if source.bad_lines:
        bad = pd.DataFrame({
            "row_number": pd.array([pd.NA] * len(source.bad_lines), dtype="Int64"),
            "line": pd.array(source.bad_lines, dtype="Int64"),
            "case_id": pd.array([pd.NA] * len(source.bad_lines), dtype="string"),
            "proceeding_id": pd.array([pd.NA] * len(source.bad_lines), dtype="string"),
            "table": source.name,
            "reason": "unparseable line",
        })
        set_aside = pd.concat([set_aside, bad], ignore_index=True)
    set_aside = set_aside.astype({"table": "string", "reason": "string", "case_id": "string",
                                  "proceeding_id": "string"})

    # the workload: merits decisions, and rows the mapping marks as administrative completions
    admin = (rows.workload == "administrative").to_numpy(dtype=bool)
    judge = columns["judge_id"].values
    in_workload = used | (admin & judge.notna().to_numpy(dtype=bool))
    workload = pd.DataFrame({
        "judge_id": judge,
        "completion_date": columns["decision_date"].values,
        "kind": np.where(used, "merits", "administrative"),
        "case_type": columns["case_type"].values,
        "fiscal_year": columns["fiscal_year"].values,
    })[in_workload].reset_index(drop=True)
    workload, _ = coerce_decisions(workload, WORKLOAD_COLUMNS)

    keep = keep_names or mapping.keep_names
    names = None
    if keep and name_tables:
        names = (pd.concat(name_tables, ignore_index=True)
                 .sort_values(["kind", "id", "name"]).reset_index(drop=True).astype("string"))

    dates = decisions["decision_date"].dropna()
    fys = decisions["fiscal_year"].dropna()
    metadata = {
        "source": SOURCE_KIND,
        "producer": f"fairness_audit {__version__}",
        "input": {"file": source.name, "format": source.format, "sheet": source.sheet},
        "mapping": mapping.to_dict(),
        "coverage_start": dates.min().date().isoformat() if len(dates) else None,
        "coverage_end": dates.max().date().isoformat() if len(dates) else None,
        "fiscal_years": [int(fys.min()), int(fys.max())] if len(fys) else None,
        "workload": WORKLOAD_SOURCE,
        "workload_dates": "decision_date" if len(dates) else None,
        "columns_missing": [s.column for s in mapping.columns if s.mode == MISSING],
        "columns_derived": [s.column for s in mapping.columns if s.mode == DERIVED],
        "id_hash": ({c: f"{HASH_PREFIXES[c]} + sha256(normalised name)[:{HASH_LENGTH}]"
                     for c in HASH_PREFIXES if mapping.spec(c).hash}),
        "names_kept": names is not None,
    }
    return IngestBuild(decisions, workload, set_aside, ledger, names, metadata)


# --------------------------------------------------------------------------------------------
# The whole command


@dataclass(frozen=True)
class IngestResult:
    """What ``ingest_table`` wrote."""

    paths: TablePaths
    ledger: dict[str, Any]
    metadata: dict[str, Any]
    names_path: Path | None

    def summary(self) -> str:
        lines = []
        for table, t in self.ledger.items():
            aside = ", ".join(f"{r}: {n}" for r, n in t["set_aside"].items()) or "none"
            lines.append(f"{table}: read {t['rows_read']} rows, used {t['used']}, set aside "
                         f"{t['rows_read'] - t['used']} ({aside})")
            if t["values_nulled"]:
                lines.append("  values nulled: " + ", ".join(
                    f"{c}: {n}" for c, n in t["values_nulled"].items()))
            for col, counts in t.get("values_unlisted", {}).items():
                lines.append(f"  {col}: unlisted source values " + ", ".join(
                    f"{v!r}: {n}" for v, n in counts.items()))
        lines.append(f"wrote {self.paths.decisions}")
        return "\n".join(lines)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _release_entry(path: Path, sha256: str, latest_date: str | None) -> dict[str, Any]:
    """The extract's identity by content, in the shape of the EOIR ingest's ``release`` entry
    (:mod:`fairness_audit.ingest.release`): one file, by name, size and SHA-256; no shipped
    row counts (an extract ships none)."""
    files = [{"table": "extract", "name": path.name, "size": path.stat().st_size,
              "sha256": sha256}]
    return {"fingerprint": fingerprint(files, None), "zip": None, "files": files,
            "latest_date": latest_date, "row_counts": None}


def ingest_table(
    path: str | Path,
    mapping: Mapping | str | Path,
    out: str | Path,
    *,
    keep_names: bool = False,
    progress: ProgressLike = None,
) -> IngestResult:
    """Read an extract through a column mapping and write the decisions table and companions.

    Writes ``<stem>.parquet`` (metadata under "fairness_audit": source "table", the resolved
    mapping, coverage dates), ``<stem>.judge_completions.parquet``, ``<stem>.ledger.json``,
    ``<stem>.set_aside.parquet`` and, with ``keep_names``, ``<stem>.names.parquet``.

    Parameters
    ----------
    path
        A .csv, .parquet or .xlsx file (or any file, with ``read.format`` in the mapping).
    mapping
        A ``Mapping`` or the path of a mapping YAML file (docs/mappings.md).
    out
        The decisions table's path, ending in .parquet.
    keep_names
        Also write the names behind hashed judge and court codes.
    progress
        Told each step (:mod:`fairness_audit.progress`).

    Raises
    ------
    MappingError, TableError
        A bad mapping, an unreadable file or a mapped column that the file lacks.
    OutputError
        ``out`` cannot be written or would replace the extract (checked before it is read),
        or writing failed; the files are written as one set
        (:class:`~fairness_audit.tables.TableSet`), so an earlier table is then left as it was.

    Example
    -------
    >>> ingest_table("asylum-cases.csv", "configs/mappings/sdut-asylum-cases.yaml",
    ...              "data/sdut.parquet")  # doctest: +SKIP
    """
    paths = TablePaths.from_path(out)
    mapping_file = None
    if not isinstance(mapping, Mapping):
        mapping_file = Path(mapping)
        mapping = load_mapping(mapping_file)
    check_table_output(paths, inputs=(path,) + ((mapping_file,) if mapping_file else ()))
    say = as_progress(progress)
    say(f"reading {Path(path).name}")
    source = read_source(path, mapping)
    say(f"mapping {len(source.frame):,} rows to the decisions table")
    build = build_table(source, mapping, keep_names=keep_names)
    checkpoint("ingest:read")
    metadata = dict(build.metadata)
    metadata["input"] = {**metadata["input"], "sha256": _sha256(Path(path))}
    metadata["release"] = _release_entry(Path(path), metadata["input"]["sha256"],
                                         metadata["coverage_end"])
    if mapping_file is not None:
        metadata["mapping_file"] = {"file": mapping_file.name, "sha256": _sha256(mapping_file)}
    names_path = paths.decisions.with_name(paths.stem + ".names.parquet")
    metadata["names"] = names_path.name if build.names is not None else None

    # written as one set (tables.TableSet): the earlier files stay until all are written
    say("writing the decisions table and its companions")
    with TableSet(paths, metadata, {paths.ledger: build.ledger.to_dict()}) as files:
        files.write_parquet(build.workload, paths.workload,
                            {"source": SOURCE_KIND, "workload": WORKLOAD_SOURCE,
                             "workload_dates": metadata["workload_dates"]})
        files.write_parquet(build.set_aside, paths.set_aside)
        if build.names is not None:
            files.write_parquet(build.names, names_path)
        files.write_parquet(build.decisions, paths.decisions)
    if build.names is None and names_path.exists():
        names_path.unlink()  # a names file from an earlier run must not outlive the opt-in
    return IngestResult(paths, build.ledger.to_dict(), metadata,
                        names_path if build.names is not None else None)
