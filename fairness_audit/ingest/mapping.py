"""Column mappings: how a published extract's columns become the canonical decisions table.

A mapping is a YAML file (documented in ``docs/mappings.md``) that names, for every column of
the decisions table (``schema.DECISION_COLUMNS``), where its values come from:

- ``{from: SOURCE_COLUMN, ...}`` (or just ``SOURCE_COLUMN``): read from the source, optionally
  recoding values (``values``), hashing names into stable codes (``hash``) or parsing dates
  with a given ``format``;
- ``derived``: computed from other canonical columns (fiscal_year from decision_date, detained
  from custody, duration_days from filed_date and decision_date; granted and removal_ordered
  always come from outcome);
- ``missing``: the source lacks it, so the column is null. Only nullable columns may be missing:
  the ingest never invents a value.

Every column must be named, except the optional ones (``schema.OPTIONAL_DECISION_COLUMNS``,
such as ``docket``), added to the contract after mappings were written: a mapping that does not
name one has it ``missing``.

``load_mapping`` validates the file completely before any data is read; every error names the
file and the key, says what was expected and what was found.
"""

from __future__ import annotations

import codecs
import datetime as dt
from collections.abc import Mapping as AbstractMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from fairness_audit.errors import MappingError
from fairness_audit.schema import DECISION_COLUMNS, OPTIONAL_DECISION_COLUMNS, Column

SourceFormat = Literal["csv", "parquet", "excel"]
SOURCE_FORMATS: tuple[str, ...] = ("csv", "parquet", "excel")
WORKLOAD_KINDS: tuple[str, ...] = ("administrative",)

MISSING = "missing"
DERIVED = "derived"
KEEP = "keep"
DEFAULT_DATE_FORMAT = "ISO8601"

#: Every column a mapping can name, in the order of the decisions table.
TABLE_COLUMNS: tuple[Column, ...] = (*DECISION_COLUMNS, *OPTIONAL_DECISION_COLUMNS)
COLUMNS_BY_NAME: dict[str, Column] = {c.name: c for c in TABLE_COLUMNS}

#: Columns that can be computed from other canonical columns, and from which.
DERIVATIONS: dict[str, tuple[str, ...]] = {
    "fiscal_year": ("decision_date",),
    "granted": ("outcome",),
    "removal_ordered": ("outcome",),
    "detained": ("custody",),
    "duration_days": ("filed_date", "decision_date"),
}
#: Columns that are always derived: mapping them from the source could contradict outcome.
ALWAYS_DERIVED: tuple[str, ...] = ("granted", "removal_ordered")
#: Columns whose names may be replaced by stable hashes, with the prefix of the hashed code.
HASH_PREFIXES: dict[str, str] = {"judge_id": "J", "court_id": "C"}

#: Source spellings of true/false read when a boolean column has no ``values`` of its own.
BOOL_TOKENS: dict[str, bool] = {
    "true": True, "t": True, "yes": True, "y": True, "1": True,
    "false": False, "f": False, "no": False, "n": False, "0": False,
}

_TOP_KEYS = ("name", "description", "read", "keep_names", "columns")
_READ_KEYS = ("format", "sheet", "encoding", "delimiter")
_SPEC_KEYS = ("from", "values", "unlisted", "hash", "format")
_SET_ASIDE_KEYS = ("set_aside", "workload")


@dataclass(frozen=True)
class SetAside:
    """A source value that takes its row out of the decisions table, with the reason.

    ``workload`` = "administrative" keeps the row in the judge-workload file as an
    administrative completion (e.g. an administrative close: not a merits decision, but work
    the judge completed).
    """

    reason: str
    workload: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"set_aside": self.reason}
        if self.workload is not None:
            out["workload"] = self.workload
        return out


@dataclass(frozen=True)
class ColumnSpec:
    """Where one canonical column comes from."""

    column: str
    mode: Literal["source", "derived", "missing"]
    source: str | None = None
    #: (source value as written in the mapping, target); target is a canonical value, None
    #: (null) or a SetAside.
    values: tuple[tuple[str, Any], ...] | None = None
    #: what a source value not listed in ``values`` becomes: KEEP (the value itself), None
    #: (null), a canonical value, or a SetAside.
    unlisted: Any = KEEP
    hash: bool = False
    format: str | None = None

    @property
    def canonical(self) -> Column:
        return COLUMNS_BY_NAME[self.column]

    def lookup(self) -> dict[str, Any]:
        """``values`` keyed by the normalised source value (see ``normalise_value``)."""
        return {normalise_value(k): v for k, v in (self.values or ())}

    def to_dict(self) -> Any:
        if self.mode == MISSING:
            return MISSING
        if self.mode == DERIVED:
            return DERIVED
        out: dict[str, Any] = {"from": self.source}
        if self.values is not None:
            out["values"] = {k: _target_to_dict(v) for k, v in self.values}
        if self.values is not None or self.unlisted != KEEP:
            out["unlisted"] = _target_to_dict(self.unlisted)
        if self.column in HASH_PREFIXES:
            out["hash"] = self.hash
        if self.format is not None:
            out["format"] = self.format
        return out


@dataclass(frozen=True)
class ReadOptions:
    """How to read the source file."""

    format: SourceFormat | None = None  # None: from the file's suffix
    sheet: str | int | None = None  # Excel: a sheet name or 0-based index; None: the first
    encoding: str = "utf-8"
    delimiter: str = ","

    def to_dict(self) -> dict[str, Any]:
        return {"format": self.format, "sheet": self.sheet, "encoding": self.encoding,
                "delimiter": self.delimiter}


@dataclass(frozen=True)
class Mapping:
    """A validated column mapping."""

    name: str
    columns: tuple[ColumnSpec, ...]
    description: str = ""
    read: ReadOptions = ReadOptions()
    keep_names: bool = False
    origin: str = "mapping"

    def spec(self, column: str) -> ColumnSpec:
        for s in self.columns:
            if s.column == column:
                return s
        raise KeyError(column)

    def to_dict(self) -> dict[str, Any]:
        """The resolved mapping (defaults filled in), JSON-safe; ``parse_mapping`` reads it back."""
        return {
            "name": self.name,
            "description": self.description,
            "read": self.read.to_dict(),
            "keep_names": self.keep_names,
            "columns": {s.column: s.to_dict() for s in self.columns},
        }


def normalise_value(value: str) -> str:
    """The form in which source values are matched: whitespace collapsed, case folded."""
    return " ".join(str(value).split()).casefold()


def _target_to_dict(target: Any) -> Any:
    if isinstance(target, SetAside):
        return target.to_dict()
    return target


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, AbstractMapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, dt.date):
        return f"the date {value.isoformat()}"
    return repr(value)


class _Checker:
    """Collects nothing: raises on the first problem, naming the file and the key."""

    def __init__(self, origin: str):
        self.origin = origin

    def fail(self, key: str, expected: str, found: Any = None, *, found_text: str | None = None):
        found_part = found_text if found_text is not None else _describe(found)
        raise MappingError(f"{self.origin}: key '{key}': expected {expected}; found {found_part}")

    def unknown_keys(self, key: str, data: AbstractMapping, allowed: tuple[str, ...]) -> None:
        unknown = [k for k in data if k not in allowed]
        if unknown:
            where = f"key '{key}'" if key else "top level"
            raise MappingError(
                f"{self.origin}: {where}: unknown key(s) {', '.join(repr(str(k)) for k in unknown)}; "
                f"expected only {', '.join(allowed)}"
            )

    def text(self, key: str, value: Any, *, allow_empty: bool = False) -> str:
        if not isinstance(value, str) or (not allow_empty and not value.strip()):
            self.fail(key, "text" if allow_empty else "non-empty text", value)
        return value


def _target_description(col: Column) -> str:
    if col.allowed is not None:
        what = f"one of {'/'.join(col.allowed)}"
    else:
        what = {"string": "text", "int": "a whole number", "float": "a number",
                "bool": "true or false", "date": "an ISO date"}[col.kind]
    return f"{what}, null or {{set_aside: reason}}"


def _parse_set_aside(chk: _Checker, key: str, data: AbstractMapping) -> SetAside:
    chk.unknown_keys(key, data, _SET_ASIDE_KEYS)
    if "set_aside" not in data:
        chk.fail(key, "a mapping with the key 'set_aside' (the reason)", found_text="a mapping without it")
    reason = chk.text(f"{key}.set_aside", data["set_aside"])
    workload = data.get("workload")
    if workload is not None and workload not in WORKLOAD_KINDS:
        chk.fail(f"{key}.workload", f"one of {', '.join(WORKLOAD_KINDS)} or null", workload)
    return SetAside(" ".join(reason.split()), workload)


def _parse_target(chk: _Checker, key: str, value: Any, col: Column, *, allow_keep: bool) -> Any:
    """One canonical value, None, a SetAside, or (for ``unlisted``) KEEP."""
    expected = _target_description(col) + (" or 'keep'" if allow_keep else "")
    if value is None:
        return None
    if isinstance(value, AbstractMapping):
        return _parse_set_aside(chk, key, value)
    if allow_keep and value == KEEP:
        return KEEP
    if col.allowed is not None:
        if value not in col.allowed:
            chk.fail(key, expected, value)
        return value
    if col.kind == "string":
        if isinstance(value, bool) or not isinstance(value, str | int) or str(value).strip() == "":
            chk.fail(key, expected, value)
        return str(value)
    if col.kind == "bool":
        if not isinstance(value, bool):
            chk.fail(key, expected, value)
        return value
    if col.kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            chk.fail(key, expected, value)
        return value
    if col.kind == "float":
        if isinstance(value, bool) or not isinstance(value, int | float):
            chk.fail(key, expected, value)
        return float(value)
    # date: YAML reads an unquoted 2018-10-01 as a date already
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            pass
    chk.fail(key, expected, value)
    return None  # pragma: no cover - fail raises


def _default_unlisted(col: Column) -> Any:
    if col.allowed is not None:
        return "other" if "other" in col.allowed else None
    if col.kind == "bool":
        return None
    return KEEP


def _parse_values(chk: _Checker, key: str, data: Any, col: Column) -> tuple[tuple[str, Any], ...]:
    if not isinstance(data, AbstractMapping):
        chk.fail(key, f"a mapping of source value to {_target_description(col)}", data)
    seen: dict[str, str] = {}
    out: list[tuple[str, Any]] = []
    for raw_key, target in data.items():
        if isinstance(raw_key, bool) or not isinstance(raw_key, str | int):
            # YAML reads unquoted yes/no/true/false/null/1.5 as non-text keys
            chk.fail(key, "source values written as text (quote keys such as 'yes', 'no', "
                          "'true', 'null' or '1.5')", found_text=f"the key {_describe(raw_key)}")
        source_value = str(raw_key)
        norm = normalise_value(source_value)
        if not norm:
            chk.fail(key, "non-empty source values (empty cells are null and never mapped)",
                     found_text="an empty key")
        if norm in seen:
            raise MappingError(
                f"{chk.origin}: key '{key}': source values {seen[norm]!r} and {source_value!r} are "
                "the same once case and spacing are ignored; list each value once"
            )
        seen[norm] = source_value
        out.append((source_value, _parse_target(chk, f"{key}.{source_value}", target, col,
                                                allow_keep=False)))
    return tuple(out)


def _parse_spec(chk: _Checker, name: str, data: Any) -> ColumnSpec:
    key = f"columns.{name}"
    col = COLUMNS_BY_NAME[name]
    if isinstance(data, str) and data.strip() == MISSING:
        if not col.nullable:
            hint = " or 'derived' (from decision_date)" if name in DERIVATIONS else ""
            raise MappingError(
                f"{chk.origin}: key '{key}': {name} cannot be missing (the decisions table needs it "
                f"in every row); map it from a source column{hint}"
            )
        return ColumnSpec(name, MISSING)
    if isinstance(data, str) and data.strip() == DERIVED:
        if name not in DERIVATIONS:
            chk.fail(key, f"a source column or 'missing' ({name} cannot be derived; derivable "
                          f"columns are {', '.join(DERIVATIONS)})", data)
        return ColumnSpec(name, DERIVED)
    if name in ALWAYS_DERIVED:
        chk.fail(key, f"'derived' ({name} always comes from outcome) or no entry", data)
    if isinstance(data, str):
        data = {"from": data}
    if not isinstance(data, AbstractMapping):
        chk.fail(key, "a source column name, 'missing', 'derived' or a mapping with the key 'from'",
                 data)
    chk.unknown_keys(key, data, _SPEC_KEYS)
    if "from" not in data:
        chk.fail(key, "a mapping with the key 'from' (the source column)",
                 found_text="a mapping without it")
    source = chk.text(f"{key}.from", data["from"])
    values = _parse_values(chk, f"{key}.values", data["values"], col) if "values" in data else None
    if "unlisted" in data:
        unlisted = _parse_target(chk, f"{key}.unlisted", data["unlisted"], col, allow_keep=True)
    else:
        unlisted = _default_unlisted(col)
    if not col.nullable and unlisted is None:
        chk.fail(f"{key}.unlisted", f"a value, 'keep' or {{set_aside: reason}} ({name} cannot be "
                                    "null)", None)
    if unlisted == KEEP and (col.allowed is not None or col.kind == "bool"):
        chk.fail(f"{key}.unlisted", _target_description(col) + f" ({name} takes only those "
                                                                "values, so 'keep' cannot apply)",
                 unlisted)
    hashed = data.get("hash", False)
    if not isinstance(hashed, bool):
        chk.fail(f"{key}.hash", "true or false", hashed)
    if hashed and name not in HASH_PREFIXES:
        chk.fail(f"{key}.hash", f"no 'hash' (only {' and '.join(HASH_PREFIXES)} can be hashed "
                                "from names)", hashed)
    fmt = data.get("format")
    if fmt is not None:
        if col.kind != "date":
            chk.fail(f"{key}.format", f"no 'format' ({name} is not a date)", fmt)
        fmt = chk.text(f"{key}.format", fmt)
    elif col.kind == "date":
        fmt = DEFAULT_DATE_FORMAT
    return ColumnSpec(name, "source", source=source.strip(), values=values, unlisted=unlisted,
                      hash=hashed, format=fmt)


def _parse_read(chk: _Checker, data: Any) -> ReadOptions:
    if data is None:
        return ReadOptions()
    if not isinstance(data, AbstractMapping):
        chk.fail("read", f"a mapping with keys {', '.join(_READ_KEYS)}", data)
    chk.unknown_keys("read", data, _READ_KEYS)
    fmt = data.get("format")
    if fmt is not None and fmt not in SOURCE_FORMATS:
        chk.fail("read.format", f"one of {', '.join(SOURCE_FORMATS)} or null (from the file's suffix)",
                 fmt)
    sheet = data.get("sheet")
    if sheet is not None and (isinstance(sheet, bool) or not isinstance(sheet, str | int)):
        chk.fail("read.sheet", "a sheet name or a 0-based sheet number", sheet)
    encoding = chk.text("read.encoding", data.get("encoding", "utf-8"))
    try:
        codecs.lookup(encoding)
    except LookupError:
        chk.fail("read.encoding", "an encoding Python knows (e.g. utf-8, latin-1)", encoding)
    delimiter = data.get("delimiter", ",")
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        chk.fail("read.delimiter", "a single character (e.g. ',' or '\\t')", delimiter)
    return ReadOptions(fmt, sheet, encoding, delimiter)


def parse_mapping(data: Any, origin: str = "mapping") -> Mapping:
    """Validate a mapping already read from YAML (a dict) and return it.

    Raises
    ------
    MappingError
        On the first problem, naming ``origin`` and the key.
    """
    chk = _Checker(origin)
    if not isinstance(data, AbstractMapping):
        raise MappingError(f"{origin}: expected a mapping with keys {', '.join(_TOP_KEYS)}; "
                           f"found {_describe(data)}")
    chk.unknown_keys("", data, _TOP_KEYS)
    if "name" not in data:
        raise MappingError(f"{origin}: key 'name': expected the source's name; found no such key")
    name = chk.text("name", data["name"])
    description = chk.text("description", data.get("description", ""), allow_empty=True)
    keep_names = data.get("keep_names", False)
    if not isinstance(keep_names, bool):
        chk.fail("keep_names", "true or false", keep_names)
    read = _parse_read(chk, data.get("read"))
    columns = data.get("columns")
    if not isinstance(columns, AbstractMapping):
        chk.fail("columns", "a mapping of canonical column to its source", columns)
    unknown = [str(k) for k in columns if k not in COLUMNS_BY_NAME]
    if unknown:
        raise MappingError(
            f"{origin}: key 'columns': unknown column(s) {', '.join(map(repr, unknown))}; expected "
            f"columns of the decisions table: {', '.join(COLUMNS_BY_NAME)}"
        )
    absent = [c.name for c in DECISION_COLUMNS if c.name not in columns
              and c.name not in ALWAYS_DERIVED]
    if absent:
        required = [c for c in absent if not COLUMNS_BY_NAME[c].nullable]
        optional = [c for c in absent if COLUMNS_BY_NAME[c].nullable]
        parts = []
        if required:
            parts.append(f"required column(s) {', '.join(map(repr, required))} are not mapped")
        if optional:
            parts.append(f"column(s) {', '.join(map(repr, optional))} are not mapped (write "
                         f"'{optional[0]}: missing' if the source lacks it)")
        raise MappingError(
            f"{origin}: key 'columns': {'; '.join(parts)}; found entries for "
            f"{', '.join(map(repr, map(str, columns))) or 'no column'}"
        )
    specs = {name_: _parse_spec(chk, name_, columns[name_]) for name_ in columns}
    for name_ in ALWAYS_DERIVED:
        specs.setdefault(name_, ColumnSpec(name_, DERIVED))
    for col in OPTIONAL_DECISION_COLUMNS:  # not named: the source lacks it
        specs.setdefault(col.name, ColumnSpec(col.name, MISSING))
    for name_, spec in specs.items():
        if spec.mode == DERIVED:
            lacking = [c for c in DERIVATIONS[name_] if specs[c].mode == MISSING]
            if lacking:
                raise MappingError(
                    f"{origin}: key 'columns.{name_}': {name_} is derived from "
                    f"{' and '.join(DERIVATIONS[name_])}, but {' and '.join(lacking)} "
                    f"{'is' if len(lacking) == 1 else 'are'} missing; map "
                    f"{'it' if len(lacking) == 1 else 'them'} or declare {name_} missing"
                )
    ordered = tuple(specs[c.name] for c in TABLE_COLUMNS)
    return Mapping(name=name, columns=ordered, description=description, read=read,
                   keep_names=keep_names, origin=origin)


def load_mapping(path: str | Path) -> Mapping:
    """Read and validate a mapping YAML file.

    Raises
    ------
    MappingError
        The file is missing, is not YAML, or breaks the mapping schema (docs/mappings.md).
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MappingError(f"{p}: mapping file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise MappingError(f"{p}: could not read the mapping file ({exc})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise MappingError(f"{p}: expected YAML, could not parse it ({exc})".replace("\n", " ")) from None
    return parse_mapping(data, origin=p.name)
