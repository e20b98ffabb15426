"""The decisions table and its workload file for R and Stata: CSV or Stata ``.dta``, with a codebook.

Researchers continue in R or Stata, so the export keeps every value and its meaning, and says
in a codebook generated from the schema (:mod:`fairness_audit.schema`) what each column holds
and how it was written. The recoding is fixed and reversible, and :func:`decode_stata` and
:func:`decode_csv` undo it (tests read every export back and compare it with the table):

Stata (``.dta`` version 118: UTF-8 text, names up to 32 characters; Stata 14 or later)
    * coded text columns (every text column of the schema except the row keys ``case_id`` and
      ``proceeding_id``) become whole-number codes with a value label of the same name: codes
      1, 2, ... in sorted order (Unicode code points) of the values; for a column with a fixed
      set of values (``outcome``, ``custody``, ``asylum_decision``, ``kind``) of that whole set,
      otherwise of the values found in the decisions table and its workload file together, so
      that ``judge_id`` and ``case_type`` carry the same codes in both files. A column with
      more than 65,536 values or a value longer than 32,000 bytes (Stata's limits for a value
      label) stays text, and the codebook says why;
    * true/false columns become bytes 0/1 labelled "no"/"yes" (codes from 0, so a reader can
      tell them from coded text); whole numbers the smallest Stata integer type that holds them;
      numbers doubles; dates Stata dates (``%td``, days since 1960-01-01: the schema's dates
      are days, and decision_date's midnight time of day carries no information);
    * a missing value is Stata's ``.`` (``""`` for text); an empty text value is written as
      missing in both formats, since Stata cannot tell the two apart;
    * variable labels are the schema's meanings; the dataset label names the source table and
      the run id in its metadata (:class:`fairness_audit.tables.TableSet`).

CSV (UTF-8, a header line, comma separated, text quoted)
    * true/false as ``true``/``false``, dates as ``YYYY-MM-DD``, missing as an empty cell;
    * a text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets
      a leading apostrophe, as every CSV the reports write (:func:`fairness_audit.report.escape.
      safe_cell`), so that spreadsheets do not run it as a formula; a text cell that itself
      starts with an apostrophe gets one too, so that removing one leading apostrophe from
      every text cell that has one restores every value exactly;
    * read it with empty cells, and only those, as missing: the usual defaults also read
      ``NA`` (Namibia's nationality code) as missing.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import os
import re
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from fairness_audit.errors import OutputError, TableError, ValidationFailed
from fairness_audit.outputs import (
    check_output_folder,
    make_staging,
    remove_stale_staging,
    signals_deferred,
    writing,
)
from fairness_audit.report.escape import _FORMULA_START, md
from fairness_audit.results import created_timestamp
from fairness_audit.schema import (
    DECISION_COLUMNS,
    OPTIONAL_DECISION_COLUMNS,
    WORKLOAD_COLUMNS,
    Column,
    coerce_decisions,
    validate_decisions,
    validate_workload,
)
from fairness_audit.tables import TablePaths, read_decision_data

ExportFormat = Literal["csv", "dta"]
FORMATS: tuple[str, ...] = get_args(ExportFormat)

# The row keys identify decisions; coding them would only swap one identifier for another
# whose meaning depends on the export.
KEY_COLUMNS = ("case_id", "proceeding_id")

STATA_VERSION = 118
STATA_MAX_LABELS = 65_536  # codings in one value label
STATA_MAX_LABEL_BYTES = 32_000  # length of one value label's text
STATA_MAX_STR = 2_045  # bytes of a str# variable; longer text is written as strL
STATA_MAX_LABEL_CHARS = 80  # variable and dataset labels
STATA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,31}\Z")
STATA_RESERVED = frozenset({
    "_all", "_b", "byte", "_coef", "_cons", "double", "float", "if", "in", "int", "long", "_n",
    "_N", "_pi", "_pred", "_rc", "_skip", "strL", "using", "with",
})
# Stata's integer types, the widest value each holds (larger ones are its missing values)
STATA_INTS = (("Int8", "byte", -127, 100), ("Int16", "int", -32_767, 32_740),
              ("Int32", "long", -2_147_483_647, 2_147_483_620))
BOOL_LABELS = {0: "no", 1: "yes"}

# the CSV: spreadsheets run a cell that starts with one of these; a leading apostrophe is
# also doubled, so that removing one leading apostrophe always restores the value
NEUTRALISED_START = (*_FORMULA_START, "'")
CSV_READ_OPTIONS: dict[str, Any] = {"dtype": str, "keep_default_na": False, "na_values": [""]}
CSV_CHUNK_ROWS = 500_000

WORKLOAD_SUFFIX = ".judge_completions"


def _noop(message: str) -> None:
    return None


# --------------------------------------------------------------------------------------------
# What each column becomes
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Coding:
    """The codes of one coded text column: ``values[i]`` is written as code ``i + 1``.

    ``as_text`` holds the reason the column stays text in the ``.dta`` (beyond Stata's limits
    for a value label); it is None when the codes are used.
    """

    column: str
    values: tuple[str, ...]
    as_text: str | None = None
    shared: bool = False  # coded over the values of more than one file

    @property
    def labels(self) -> dict[int, str]:
        return {i + 1: v for i, v in enumerate(self.values)}


def is_coded(col: Column) -> bool:
    """Whether a column of the schema is written as codes with value labels in a ``.dta``."""
    return col.kind == "string" and col.name not in KEY_COLUMNS


def plan_codings(tables: Iterable[tuple[pd.DataFrame, tuple[Column, ...]]]) -> dict[str, Coding]:
    """The codes of every coded column of ``tables`` (frame, columns), shared by name.

    Parameters
    ----------
    tables
        The decisions table and, if any, its workload file, each with its column table. A
        column of the same name (``judge_id``, ``case_type``) gets one set of codes from the
        values of both, so that the files can be merged on the codes.

    Returns
    -------
    dict
        Column name -> :class:`Coding`. A column with a fixed set of values is coded over that
        whole set; another over the non-empty values found. Codes follow the sorted values.

    Example
    -------
    >>> frame = pd.DataFrame({"gender": pd.array(["M", None, "F"], dtype="string")})
    >>> col = Column("gender", "string", True, "gender code")
    >>> plan_codings([(frame, (col,))])["gender"].labels
    {1: 'F', 2: 'M'}
    """
    found: dict[str, set[str]] = {}
    fixed: dict[str, tuple[str, ...]] = {}
    files: dict[str, int] = {}
    for frame, columns in tables:
        for col in columns:
            if not is_coded(col):
                continue
            files[col.name] = files.get(col.name, 0) + 1
            if col.allowed is not None:
                fixed[col.name] = col.allowed
            values = found.setdefault(col.name, set())
            values.update(str(v) for v in frame[col.name].dropna().unique() if v != "")
    codings = {}
    for name, values in found.items():
        ordered = tuple(sorted(fixed.get(name, values)))
        codings[name] = Coding(name, ordered, _beyond_label_limits(ordered), files[name] > 1)
    return codings


def _beyond_label_limits(values: tuple[str, ...]) -> str | None:
    if len(values) > STATA_MAX_LABELS:
        return (f"{len(values):,} distinct values, more than the {STATA_MAX_LABELS:,} codes a "
                "Stata value label holds")
    longest = max((len(v.encode()) for v in values), default=0)
    if longest > STATA_MAX_LABEL_BYTES:
        return (f"a value of {longest:,} bytes, longer than the {STATA_MAX_LABEL_BYTES:,} a Stata "
                "value label holds")
    return None


def check_stata_name(name: str) -> None:
    """Raise TableError unless ``name`` is a valid Stata variable name."""
    if not STATA_NAME.match(name) or name in STATA_RESERVED or re.fullmatch(r"str\d+", name):
        raise TableError(
            f"column '{name}': expected a Stata variable name (letters, digits and '_', not "
            f"starting with a digit, at most 32 characters, not a reserved word), found {name!r}")


def _label(text: str) -> str:
    """A Stata variable or dataset label: at most 80 characters."""
    return text if len(text) <= STATA_MAX_LABEL_CHARS else text[: STATA_MAX_LABEL_CHARS - 3] + "..."


def _without_empty(series: pd.Series) -> pd.Series:
    """Text with empty values as missing (Stata cannot tell them apart, so neither format does)."""
    return series.mask(series == "")


def _smallest_int(values: np.ndarray, mask: np.ndarray,
                  column: str) -> tuple[pd.arrays.IntegerArray, str]:
    """Whole numbers (``mask``: missing) in the smallest Stata integer type that holds them."""
    present = values[~mask]
    lo, hi = (int(present.min()), int(present.max())) if len(present) else (0, 0)
    for dtype, stata, low, high in STATA_INTS:
        if low <= lo and hi <= high:
            return pd.arrays.IntegerArray(values.astype(dtype.lower()), mask), stata
    raise TableError(f"column '{column}': expected whole numbers within Stata's range "
                     f"({STATA_INTS[-1][2]:,} to {STATA_INTS[-1][3]:,}), found {lo:,} to {hi:,}")


def _check_dates(series: pd.Series, column: str) -> None:
    times = series.notna() & (series != series.dt.normalize())
    if times.any():
        raise TableError(f"column '{column}': expected dates (midnight), found a time of day "
                         f"{series[times].iloc[0]} in {int(times.sum()):,} row(s)")


@dataclass(frozen=True)
class StataFrame:
    """A frame ready for ``DataFrame.to_stata`` and what the codebook says of each column."""

    frame: pd.DataFrame
    value_labels: dict[str, dict[int, str]]
    variable_labels: dict[str, str]
    convert_dates: dict[str, str]
    types: dict[str, str]


def stata_frame(frame: pd.DataFrame, columns: tuple[Column, ...],
                codings: dict[str, Coding]) -> StataFrame:
    """The columns of ``frame`` (canonical dtypes) as Stata will store them.

    Raises
    ------
    TableError
        A column name Stata cannot hold, a date with a time of day, a whole number or a number
        outside Stata's range.

    Example
    -------
    >>> frame = pd.DataFrame({"granted": pd.array([True, None], dtype="boolean")})
    >>> col = Column("granted", "bool", True, "outcome == 'grant'")
    >>> stata_frame(frame, (col,), {}).frame["granted"].tolist()
    [1, <NA>]
    """
    out: dict[str, Any] = {}
    value_labels: dict[str, dict[int, str]] = {}
    types: dict[str, str] = {}
    dates: dict[str, str] = {}
    for col in columns:
        check_stata_name(col.name)
        s = frame[col.name]
        coding = codings.get(col.name)
        if col.kind == "string" and coding is not None and coding.as_text is None:
            # position in the sorted values; null for a missing or empty value
            found = pc.index_in(pa.array(s, type=pa.string(), from_pandas=True),
                                value_set=pa.array(coding.values, pa.string()))
            codes = pc.fill_null(found, -1).to_numpy(zero_copy_only=False).astype("int64")
            out[col.name], types[col.name] = _smallest_int(codes + 1, codes < 0, col.name)
            if coding.values:  # a column with no values (all missing) has no codes to label
                value_labels[col.name] = coding.labels
        elif col.kind == "string":
            text = _without_empty(s)
            width = pc.max(pc.binary_length(pa.array(text, type=pa.string(), from_pandas=True)))
            width = width.as_py() or 1
            out[col.name] = text
            types[col.name] = f"str{width}" if width <= STATA_MAX_STR else "strL"
        elif col.kind == "bool":
            out[col.name] = s.astype("Int8")
            types[col.name] = "byte"
            value_labels[col.name] = BOOL_LABELS
        elif col.kind == "int":
            out[col.name], types[col.name] = _smallest_int(
                s.to_numpy(dtype="int64", na_value=0), s.isna().to_numpy(), col.name)
        elif col.kind == "float":
            if np.isinf(s.to_numpy(dtype="float64", na_value=0.0)).any():
                raise TableError(f"column '{col.name}': expected finite numbers, found infinity")
            out[col.name] = s.astype("float64")
            types[col.name] = "double"
        elif col.kind == "date":
            _check_dates(s, col.name)
            out[col.name] = s
            dates[col.name] = "td"
            types[col.name] = "double, format %td"
        else:  # pragma: no cover - guarded by the column table
            raise ValueError(col.kind)
    labels = {c.name: _label(c.meaning) for c in columns}
    return StataFrame(pd.DataFrame(out, index=frame.index), value_labels, labels, dates, types)


def decode_stata(frame: pd.DataFrame, columns: tuple[Column, ...] = DECISION_COLUMNS) -> pd.DataFrame:
    """A ``.dta`` export read with ``pd.read_stata`` (value labels as categories, the default),
    back in the table's canonical dtypes.

    Parameters
    ----------
    frame
        ``pd.read_stata(path)``; columns other than those of ``columns`` are left out.
    columns
        ``DECISION_COLUMNS`` (with the optional columns the file holds) for ``STEM.dta``,
        ``WORKLOAD_COLUMNS`` for ``STEM.judge_completions.dta``.

    Returns
    -------
    pandas.DataFrame
        The exported columns with the dtypes of :func:`fairness_audit.schema.coerce_decisions`;
        an empty text value of the table comes back as missing.

    Raises
    ------
    TableError
        A column is missing, or a coded column was read without its value labels.

    Example
    -------
    >>> decode_stata(pd.read_stata("out/court.dta"))  # doctest: +SKIP
    """
    columns = _with_optional(columns, frame)
    _require(frame, columns, "the .dta")
    out: dict[str, pd.Series] = {}
    for col in columns:
        s = frame[col.name]
        if isinstance(s.dtype, pd.CategoricalDtype):
            labels = s.astype("string")
            s = labels.map({"yes": True, "no": False}).astype("boolean") if col.kind == "bool" else labels
        elif col.kind == "string" and pd.api.types.is_numeric_dtype(s.dtype):
            if s.notna().any():
                raise TableError(f"column '{col.name}': expected its value labels, found bare codes; "
                                 "read the .dta with convert_categoricals=True (the default)")
            s = pd.Series(pd.NA, index=s.index, dtype="string")  # no values: nothing labelled
        elif col.kind == "string":
            s = _without_empty(s.astype("string"))
        out[col.name] = s
    decoded, _ = coerce_decisions(pd.DataFrame(out), columns)
    return decoded


def decode_csv(frame: pd.DataFrame, columns: tuple[Column, ...] = DECISION_COLUMNS) -> pd.DataFrame:
    """A CSV export read as text with ``pd.read_csv(path, **CSV_READ_OPTIONS)``, back in the
    table's canonical dtypes: one leading apostrophe is removed from every text cell that has
    one (undoing the neutralisation of formulas), then the columns are typed.

    Parameters
    ----------
    frame
        The CSV read with every column as text and only empty cells as missing.
    columns
        ``DECISION_COLUMNS`` (with the optional columns the file holds) for ``STEM.csv``,
        ``WORKLOAD_COLUMNS`` for ``STEM.judge_completions.csv``.

    Returns
    -------
    pandas.DataFrame
        The exported columns with the dtypes of :func:`fairness_audit.schema.coerce_decisions`.

    Raises
    ------
    TableError
        A column is missing.

    Example
    -------
    >>> decode_csv(pd.read_csv("out/court.csv", **CSV_READ_OPTIONS))  # doctest: +SKIP
    """
    columns = _with_optional(columns, frame)
    _require(frame, columns, "the CSV")
    out: dict[str, pd.Series] = {}
    for col in columns:
        s = frame[col.name]
        if col.kind == "string":
            text = s.astype("string")
            s = text.mask(text.str.startswith("'").fillna(False), text.str.slice(1))
        out[col.name] = s
    decoded, _ = coerce_decisions(pd.DataFrame(out), columns)
    return decoded


def read_export(path: str | os.PathLike) -> pd.DataFrame:
    """Read a ``.dta`` or ``.csv`` file of ``fairness-audit export`` back into the table it
    came from (:func:`decode_stata`, :func:`decode_csv`); the workload file is told by its name.

    Example
    -------
    >>> read_export("out/court.judge_completions.csv")  # doctest: +SKIP
    """
    p = Path(path)
    columns = WORKLOAD_COLUMNS if p.name.endswith(f"{WORKLOAD_SUFFIX}{p.suffix}") else DECISION_COLUMNS
    if p.suffix == ".dta":
        return decode_stata(pd.read_stata(p), columns)
    if p.suffix == ".csv":
        return decode_csv(pd.read_csv(p, **CSV_READ_OPTIONS), columns)
    raise TableError(f"{p}: expected a .dta or .csv export, found {p.suffix or 'no suffix'!r}")


def _with_optional(columns: tuple[Column, ...], frame: pd.DataFrame) -> tuple[Column, ...]:
    """The decisions table's columns and the optional ones ``frame`` holds (a table written
    before they were added lacks them); any other column list as it is."""
    if columns is not DECISION_COLUMNS:
        return columns
    return (*DECISION_COLUMNS, *(c for c in OPTIONAL_DECISION_COLUMNS if c.name in frame.columns))


def _require(frame: pd.DataFrame, columns: tuple[Column, ...], what: str) -> None:
    missing = [c.name for c in columns if c.name not in frame.columns]
    if missing:
        raise TableError(f"{what}: expected the exported columns, missing "
                         f"{', '.join(map(repr, missing))}")


# --------------------------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------------------------
def neutralise_text(values: pa.Array) -> pa.Array:
    """Text for the CSV: empty as missing, and a leading apostrophe before ``=``, ``+``, ``-``,
    ``@``, tab, carriage return or an apostrophe (see the module's docstring).

    Example
    -------
    >>> neutralise_text(pa.array(["=1+1", "'a", "b", ""])).to_pylist()
    ["'=1+1", "''a", 'b', None]
    """
    values = pc.if_else(pc.equal(values, ""), pa.scalar(None, values.type), values)
    starts = functools.reduce(pc.or_, [pc.starts_with(values, p) for p in NEUTRALISED_START])
    return pc.if_else(starts, pc.binary_join_element_wise("'", values, ""), values)


def _csv_batch(frame: pd.DataFrame, columns: tuple[Column, ...]) -> pa.Table:
    arrays = []
    for col in columns:
        s = frame[col.name]
        if col.kind == "string":
            arr = neutralise_text(pa.array(s, type=pa.string(), from_pandas=True))
        elif col.kind == "date":
            _check_dates(s, col.name)
            arr = pc.cast(pa.array(s, from_pandas=True), pa.date32())
        else:
            arrow_type = {"bool": pa.bool_(), "int": pa.int64(), "float": pa.float64()}[col.kind]
            arr = pa.array(s, type=arrow_type, from_pandas=True)
        arrays.append(arr)
    return pa.table(arrays, names=[c.name for c in columns])


def write_csv_export(frame: pd.DataFrame, columns: tuple[Column, ...], path: Path, *,
                     progress: Callable[[str], None] = _noop) -> None:
    """Write ``frame`` (canonical dtypes) as the CSV export, ``CSV_CHUNK_ROWS`` rows at a time,
    so that memory does not grow with the table.

    Example
    -------
    >>> write_csv_export(decisions, DECISION_COLUMNS, Path("out/court.csv"))  # doctest: +SKIP
    """
    schema = _csv_batch(frame.iloc[:0], columns).schema
    with pacsv.CSVWriter(path, schema) as writer:
        for start in range(0, len(frame), CSV_CHUNK_ROWS):
            writer.write_table(_csv_batch(frame.iloc[start:start + CSV_CHUNK_ROWS], columns))
            if start and start % (2 * CSV_CHUNK_ROWS) == 0:
                progress(f"  {start:,} of {len(frame):,} rows")


# --------------------------------------------------------------------------------------------
# The codebook
# --------------------------------------------------------------------------------------------
_CSV_TYPES = {"string": "text", "bool": "true / false", "int": "whole number",
              "float": "number", "date": "date, YYYY-MM-DD"}


def _csv_cell(value: Any) -> Any:
    """One codebook cell, neutralised like the data CSV."""
    if isinstance(value, str) and value.startswith(NEUTRALISED_START):
        return "'" + value
    return value


@dataclass(frozen=True)
class ExportedFile:
    """One data file of an export and what the codebook says of its columns."""

    path: Path
    source: Path
    columns: tuple[Column, ...]
    rows: int
    types: dict[str, str]
    missing: dict[str, int]
    empty_text: dict[str, int]
    value_labels: dict[str, dict[int, str]]


def codebook_rows(files: list[ExportedFile], codings: dict[str, Coding]) -> list[dict[str, Any]]:
    """The codebook as rows: one per column of each file, one more per code of a coded column.

    Example
    -------
    >>> codebook_rows(files, codings)[0]["variable"]  # doctest: +SKIP
    'case_id'
    """
    rows = []
    for f in files:
        for position, col in enumerate(f.columns, start=1):
            base = {"file": f.path.name, "position": position, "variable": col.name,
                    "type_in_file": f.types[col.name], "schema_type": col.kind,
                    "nullable": "yes" if col.nullable else "no", "rows": f.rows,
                    "missing": f.missing[col.name], "empty_text_as_missing": f.empty_text.get(col.name, 0),
                    "meaning": col.meaning, "note": _note(col, f, codings)}
            labels = f.value_labels.get(col.name)
            if not labels:
                rows.append({**base, "code": None, "value": None})
                continue
            rows.extend({**base, "code": code, "value": value} for code, value in labels.items())
    return rows


def _note(col: Column, f: ExportedFile, codings: dict[str, Coding]) -> str:
    coding = codings.get(col.name)
    dta = f.path.suffix == ".dta"
    if dta and coding is not None and coding.as_text:
        return f"kept as text: {coding.as_text}"
    if dta and coding is not None and not coding.values:
        return "no values (all missing), so no codes"
    if dta and coding is not None:
        scope = ("the column's fixed values" if col.allowed is not None
                 else "the values found in both files" if coding.shared
                 else "the values found")
        return f"codes 1-{len(coding.values)} in sorted order of {scope}"
    if dta and col.kind == "bool":
        return "0 no, 1 yes"
    if not dta and col.allowed is not None:
        return f"one of {', '.join(col.allowed)}"
    if not dta and col.kind == "string":
        return ("a cell starting with = + - @, a tab, a carriage return or ' has a ' added in "
                "front: remove one leading ' to restore the value")
    return ""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def codebook_markdown(files: list[ExportedFile], codings: dict[str, Coding], *, fmt: str,
                      metadata: dict[str, Any], extra_columns: list[str]) -> str:
    """The codebook as Markdown: the source, the rules of the recoding, and a table per file.

    Labels from the data are escaped (:func:`fairness_audit.report.escape.md`).

    Example
    -------
    >>> text = codebook_markdown(files, codings, fmt="dta", metadata={}, extra_columns=[])  # doctest: +SKIP
    """
    source = files[0].source
    lines = [f"# Codebook: {md(files[0].path.name)}", ""]
    lines.append(f"Exported by `fairness-audit export --format {fmt}` from {md(source.name)}.")
    lines.append("")
    lines.append("| input | |")
    lines.append("|---|---|")
    for f in files:
        lines.append(f"| {md(f.source.name)} | sha256 `{_sha256(f.source)}`, {f.rows:,} rows "
                     f"-> {md(f.path.name)} |")
    for key in ("source", "run_id", "coverage_start", "coverage_end"):
        if metadata.get(key) is not None:
            lines.append(f"| {key} | {md(metadata[key])} |")
    lines.append("")
    lines.extend(_RULES[fmt])
    if extra_columns:
        lines.append("")
        lines.append("Columns of the source left out (not in the contract): "
                     + ", ".join(md(c) for c in extra_columns) + ".")
    for f in files:
        lines += ["", f"## {md(f.path.name)}", "",
                  "| # | variable | type in the file | missing | meaning | note |",
                  "|---|---|---|---|---|---|"]
        for i, col in enumerate(f.columns, start=1):
            missing = f"{f.missing[col.name]:,}"
            if f.empty_text.get(col.name):
                missing += f" (of which {f.empty_text[col.name]:,} empty text)"
            lines.append(f"| {i} | {md(col.name)} | {md(f.types[col.name])} | {missing} | "
                         f"{md(col.meaning)} | {md(_note(col, f, codings))} |")
        for col in f.columns:
            labels = f.value_labels.get(col.name)
            if not labels or col.kind == "bool":
                continue
            name = col.name
            lines += ["", f"### {md(name)}: value labels", "", "| code | value |", "|---|---|"]
            lines.extend(f"| {code} | {md(value)} |" for code, value in labels.items())
    return "\n".join(lines) + "\n"


_RULES = {
    "dta": [
        "Stata 14 or later (`.dta` version 118, text in UTF-8). How the values were written:",
        "",
        "- coded text: whole-number codes with a value label of the variable's name, codes 1, "
        "2, ... in sorted order of the values (Unicode code points); a column with a fixed set "
        "of values is coded over that whole set, any other over the values found in the table "
        "and its workload file together, so `judge_id` and `case_type` have the same codes in "
        "both files. A column beyond Stata's limits for a value label (65,536 codes, 32,000 "
        "bytes per label) stays text (see its note);",
        "- true/false: byte 0 / 1 with value labels `no` / `yes`;",
        "- dates: Stata dates (`%td`, days since 1960-01-01);",
        "- missing: `.` (empty for text); an empty text value is written as missing;",
        "- back in Python: `fairness_audit.export.read_export(path)`; in R: "
        "`haven::read_dta(path)` (`haven::as_factor(x)` gives the values of a coded column).",
    ],
    "csv": [
        "UTF-8, comma separated, a header line, text quoted. How the values were written:",
        "",
        "- true/false: `true` / `false`; dates: `YYYY-MM-DD`; missing: an empty cell; an empty "
        "text value is written as missing;",
        "- a text cell that starts with `=`, `+`, `-`, `@`, a tab, a carriage return or `'` has "
        "a `'` added in front, so that spreadsheets do not run it as a formula: remove one "
        "leading `'` from every text cell that has one to restore the values exactly;",
        "- read empty cells, and only those, as missing: `NA` is a nationality code (Namibia). "
        "In Python: `fairness_audit.export.read_export(path)`, or "
        "`pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[''])`; in R: "
        "`read.csv(path, colClasses = 'character', na.strings = '', encoding = 'UTF-8')` "
        "(which turns a carriage return inside a value into a line feed).",
    ],
}


# --------------------------------------------------------------------------------------------
# The command
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ExportResult:
    """What an export wrote: the files (data, workload, codebook) and their row counts."""

    files: tuple[Path, ...]
    rows: dict[str, int]
    codings: dict[str, Coding]


def export_paths(paths: TablePaths, out: Path, fmt: str) -> dict[str, Path]:
    """The files an export of ``paths`` into ``out`` writes, by role."""
    return {"decisions": out / f"{paths.stem}.{fmt}",
            "workload": out / f"{paths.stem}{WORKLOAD_SUFFIX}.{fmt}",
            "codebook_md": out / f"{paths.stem}.codebook.md",
            "codebook_csv": out / f"{paths.stem}.codebook.csv"}


def check_export_output(paths: TablePaths, out: Path, targets: dict[str, Path]) -> None:
    """Before any work: ``out`` can be written and no file written would replace an input.

    Raises
    ------
    OutputError
        One line naming ``--out`` and what is wrong.
    """
    label = f"--out {out}"
    check_output_folder(out, label)
    inputs = {p.resolve(): p for p in (paths.decisions, paths.workload, paths.ledger,
                                        paths.set_aside, paths.truth) if p.exists()}
    for target in targets.values():
        if target.resolve() in inputs:
            raise OutputError(f"{label}: {target} would replace the input "
                              f"{inputs[target.resolve()]}; choose another --out")
        if target.is_dir():
            raise OutputError(f"{label}: {target} is a folder; expected a file of the export or "
                              "nothing")
    remove_stale_staging(targets["decisions"])


def _time_stamp() -> dt.datetime:
    """The .dta's time stamp: SOURCE_DATE_EPOCH when set (reproducible files), else now."""
    return dt.datetime.fromisoformat(created_timestamp().replace("Z", "+00:00")).replace(tzinfo=None)


def _data_label(what: str, source: Path, metadata: dict[str, Any]) -> str:
    run = f", run {metadata['run_id']}" if metadata.get("run_id") else ""
    head = f"{what} {source.name}"
    room = STATA_MAX_LABEL_CHARS - len(run)
    return (head if len(head) <= room else head[: room - 3] + "...") + run


def _empty_text(frame: pd.DataFrame, columns: tuple[Column, ...]) -> dict[str, int]:
    return {c.name: int((frame[c.name] == "").sum()) for c in columns if c.kind == "string"}


def _missing(frame: pd.DataFrame, columns: tuple[Column, ...], empty: dict[str, int]) -> dict[str, int]:
    return {c.name: int(frame[c.name].isna().sum()) + empty.get(c.name, 0) for c in columns}


def export_table(path: str | os.PathLike, out: str | os.PathLike, *, format: ExportFormat,
                 progress: Callable[[str], None] = _noop) -> ExportResult:
    """Export a decisions table and its workload file as CSV or Stata ``.dta``, with a codebook.

    Writes ``OUT/STEM.csv`` or ``OUT/STEM.dta``, the same for the workload file
    (``STEM.judge_completions.*``) when it exists, and ``OUT/STEM.codebook.md`` and
    ``OUT/STEM.codebook.csv`` (every column: its type in the file, its meaning, its missing
    values, and the value labels of coded columns). The files are written into a staging folder
    beside them and moved into place together at the end: an error or interrupt leaves earlier
    files as they were. A workload export left by an earlier export of the same table is removed
    when the table now has no workload file, so that it cannot be read as this table's.

    Parameters
    ----------
    path
        A decisions table, ``STEM.parquet``; it must meet the contract (``validate``).
    out
        The output folder (created if needed).
    format
        ``"csv"`` or ``"dta"`` (see the module's docstring for how values are written).
    progress
        Called with one line per step.

    Returns
    -------
    ExportResult
        The files written, in the order data, workload, codebook.

    Raises
    ------
    OutputError
        An unknown format, an output folder that cannot be written, or an output that would
        replace an input.
    TableError
        The input is not a readable decisions table (or its companions belong to another run).
    ValidationFailed
        The table or its workload file breaks the contract.

    Example
    -------
    >>> export_table("out/data/court.parquet", "out/stata", format="dta")  # doctest: +SKIP
    """
    if format not in FORMATS:
        raise OutputError(f"--format {format!r}: expected one of {', '.join(FORMATS)}")
    paths = TablePaths.from_path(path)
    out = Path(out)
    targets = export_paths(paths, out, format)
    check_export_output(paths, out, targets)
    tables, metadata = _read_checked(paths, targets, progress)
    codings = plan_codings((t.frame, t.columns) for t in tables)
    for coding in codings.values():
        if coding.as_text and format == "dta":
            progress(f"column {coding.column}: kept as text ({coding.as_text})")

    staging = make_staging(targets["decisions"])
    try:
        written = [_write_data(t, staging / t.target.name, format, codings, metadata, progress)
                   for t in tables]
        progress("writing the codebook")
        md_path, csv_path = targets["codebook_md"], targets["codebook_csv"]
        with writing(staging / md_path.name, shown=md_path):
            (staging / md_path.name).write_text(
                codebook_markdown(written, codings, fmt=format, metadata=metadata,
                                  extra_columns=[c for t in tables for c in t.extra]),
                encoding="utf-8")
        with writing(staging / csv_path.name, shown=csv_path):
            pd.DataFrame(codebook_rows(written, codings)).astype({"code": "Int64"}).map(
                _csv_cell).to_csv(staging / csv_path.name, index=False, encoding="utf-8")
        files = [f.path for f in written] + [md_path, csv_path]
        stale = targets["workload"] if len(tables) == 1 and targets["workload"].exists() else None
        # the decisions file last: until it moves, its earlier version stands beside files
        # that its codebook does not describe, as after a failed run
        with signals_deferred():
            if stale is not None:
                with writing(stale):
                    stale.unlink()
            for target in [*files[1:], files[0]]:
                with writing(target):
                    os.replace(staging / target.name, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if stale is not None:
        progress(f"removed {stale}: the export of a workload file this table no longer has")
    return ExportResult(tuple(files), {f.path.name: f.rows for f in written}, codings)


@dataclass(frozen=True)
class _Source:
    """One table to export: its rows (canonical dtypes), columns, file and export target."""

    frame: pd.DataFrame
    columns: tuple[Column, ...]
    path: Path
    target: Path
    what: str
    extra: tuple[str, ...]  # columns of the file that are not in the contract: left out


def _read_checked(paths: TablePaths, targets: dict[str, Path],
                  progress: Callable[[str], None]) -> tuple[list[_Source], dict[str, Any]]:
    """The decisions table and its workload file, checked against the contract."""
    progress(f"reading {paths.decisions}")
    data = read_decision_data(paths.decisions)
    progress("checking it against the contract")
    problems = validate_decisions(data.decisions)
    if problems:
        raise ValidationFailed(paths.decisions, problems)
    if data.workload is not None:
        problems = validate_workload(data.workload, data.decisions)
        if problems:
            raise ValidationFailed(paths.workload, problems)
    parts = [(data.decisions, _with_optional(DECISION_COLUMNS, data.decisions), paths.decisions,
              "decisions", "decisions")]
    if data.workload is not None:
        parts.append((data.workload, WORKLOAD_COLUMNS, paths.workload, "workload",
                      "judge completions"))
    tables = []
    for frame, columns, path, role, what in parts:
        names = [c.name for c in columns]
        extra = tuple(c for c in frame.columns if c not in names)
        if extra:
            progress(f"{path.name}: left out (not in the contract): {', '.join(extra)}")
        canonical, _ = coerce_decisions(frame[names], columns)
        tables.append(_Source(canonical, columns, path, targets[role], what, extra))
    return tables, data.metadata


def _write_data(source: _Source, staged: Path, fmt: str, codings: dict[str, Coding],
                metadata: dict[str, Any], progress: Callable[[str], None]) -> ExportedFile:
    """Write one table into the staging folder; what the codebook says of it."""
    frame, columns = source.frame, source.columns
    progress(f"writing {source.target} ({len(frame):,} rows)")
    empty = _empty_text(frame, columns)
    with writing(staged, shown=source.target):
        if fmt == "dta":
            sf = stata_frame(frame, columns, codings)
            sf.frame.to_stata(staged, version=STATA_VERSION, write_index=False,
                              convert_dates=sf.convert_dates, value_labels=sf.value_labels,
                              variable_labels=sf.variable_labels,
                              data_label=_data_label(source.what, source.path, metadata),
                              time_stamp=_time_stamp())
            types, labels = sf.types, sf.value_labels
        else:
            write_csv_export(frame, columns, staged, progress=progress)
            types, labels = {c.name: _CSV_TYPES[c.kind] for c in columns}, {}
    return ExportedFile(source.target, source.path, columns, len(frame), types,
                        _missing(frame, columns, empty), empty, labels)
