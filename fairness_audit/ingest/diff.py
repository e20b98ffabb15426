"""Two releases compared: which rows vanished, appeared, or changed a field the audit uses.

EOIR republishes its case-data release every month or so, and a release is not an append-only
copy of the previous one: records vanish, and codes change meaning. This module compares two
releases (folders or zips) table by table, or two decisions tables written by ``ingest`` or
``simulate``, and writes what changed (:func:`diff_releases`; the report files are written by
:mod:`fairness_audit.ingest.diff_report`).

How a release is compared
-------------------------
* Each table file of each release is read once, by the ingest's strict reader
  (:mod:`fairness_audit.ingest.raw`): the rows it repairs are compared with their repaired
  values; the rows it cannot read (``malformed row``) and rows without a valid key are not
  compared, and are counted.
* The compared columns are those the ingest reads (``eoir.TABLES``, so that the list cannot
  drift from the ingest), plus the application's filing date (:data:`EXTRA_COLUMNS`). Values
  are compared as the ingest reads them: trimmed, an empty field missing, a date by its day
  (``2019-01-02 00:00:00.000`` and ``2019-01-02`` are the same date), a key by its number.
* A key that occurs more than once in a release, or belongs to a row that release's reader
  could not read, is left out of the comparison in both releases and counted: which of the
  copies to compare cannot be known.
* Rows are matched by key with anti-joins in DuckDB; each row carries a 64-bit hash of its
  compared values (DuckDB's ``hash`` of the values as separate arguments, so that field
  boundaries and a missing value cannot collide with text), and only rows whose hashes differ
  are compared field by field. Two different rows have the same hash with probability about
  2^-64, so a changed row is missed with that probability; a changed row is never invented
  (every change reported is a field found to differ).

Example
-------
>>> diff_releases("eoir_2024_01.zip", "eoir_2024_02.zip", "out/diff")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import duckdb

from fairness_audit.errors import AuditError, TableError
from fairness_audit.ingest import eoir, raw
from fairness_audit.ingest.raw import MALFORMED, ReleaseError, TableSpec, sql_string
from fairness_audit.ledger import LedgerMismatch
from fairness_audit.outputs import (
    check_output_folder,
    check_replaceable_folder,
    staged_folder,
    writing,
)
from fairness_audit.progress import engine_bar
from fairness_audit.results import sha256_of
from fairness_audit.schema import DECISION_COLUMNS, OPTIONAL_DECISION_COLUMNS

Progress = Callable[[str], None]

RELEASE = "release"
DECISIONS = "decisions table"
DECISIONS_TABLE = "decisions"  # the table's name in the outputs of a decisions-table diff
DECISIONS_NOTE = ("an ingested table holds only merits decisions: cases, proceedings that are "
                  "not decisions, and applications cannot be compared")
COMMAND = "diff-releases"  # marks summary.json, so that an earlier output can be replaced

# Why a row read is not compared (besides raw.MALFORMED and eoir.BAD_KEY).
DUPLICATE_KEY = "duplicate key"
DUPLICATED_IN_OTHER = "key duplicated in the other release"
UNREADABLE_IN_OTHER = "row unreadable in the other release"

CHANGES = ("vanished", "appeared", "changed")
# The tables compared, in the order of every output.
SPECS: tuple[TableSpec, ...] = (eoir.CASE, eoir.PROCEEDING, eoir.APPLICATION)
# Not read by the ingest, but compared: an application's filing date is what reports of
# vanished asylum applications count by.
EXTRA_COLUMNS: dict[str, dict[str, tuple[str, ...]]] = {
    eoir.APPLICATION.name: {"appl_recd_date": ("APPL_RECD_DATE",)},
}
_SHORT = {eoir.CASE.name: "case", eoir.PROCEEDING.name: "proc", eoir.APPLICATION.name: "appln",
          DECISIONS_TABLE: "dec"}

# Shift of a moved date (new minus old, in days): the bins reported.
SHIFT_BINS: tuple[tuple[str, int | None, int | None], ...] = (
    ("more than a year earlier", None, -366),
    ("31 days to a year earlier", -365, -31),
    ("1 to 30 days earlier", -30, -1),
    ("1 to 30 days later", 1, 30),
    ("31 days to a year later", 31, 365),
    ("more than a year later", 366, None),
)


class DiffError(AuditError):
    """Two inputs cannot be compared as asked (kinds differ, an input or the audit's table is
    missing, an option is out of range)."""


# --------------------------------------------------------------------------------------------
# What is compared
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Field:
    """A compared column: its name in the outputs, its staging column, and how it is shown.

    ``kind``: ``code`` (transitions listed value by value), ``date`` (transitions by fiscal
    year, shifts summarised), ``key`` or ``number`` (too many values to list: only whether a
    value was set, removed or replaced).
    """

    name: str
    column: str
    kind: str


@dataclass(frozen=True)
class TablePlan:
    """One table to compare: its name, key, compared fields."""

    name: str
    key: str
    fields: tuple[Field, ...]
    spec: TableSpec | None = None

    @property
    def short(self) -> str:
        return _SHORT[self.name]


def _release_plan(spec: TableSpec) -> TablePlan:
    spec = replace(spec, columns={**spec.columns, **EXTRA_COLUMNS.get(spec.name, {})})
    fields = []
    for column, names in spec.columns.items():
        if column == spec.key:
            continue
        check = raw.default_validator(names[0])
        kind = ("key" if check is raw.is_key_like else "date" if check is raw.is_date_like
                else "code")
        fields.append(Field(names[0].upper(), column, kind))
    return TablePlan(spec.name, spec.columns[spec.key][0].upper(), tuple(fields), spec)


RELEASE_PLANS: tuple[TablePlan, ...] = tuple(_release_plan(s) for s in SPECS)

_DECISION_KINDS = {"string": "code", "bool": "code", "int": "code", "date": "date",
                   "float": "number"}


def _decisions_plan(columns: list[str]) -> TablePlan:
    fields = tuple(
        Field(c.name, c.name, "key" if c.name == "case_id" else _DECISION_KINDS[c.kind])
        for c in (*DECISION_COLUMNS, *OPTIONAL_DECISION_COLUMNS)
        if c.name != "proceeding_id" and c.name in columns)
    return TablePlan(DECISIONS_TABLE, "proceeding_id", fields)


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SideCounts:
    """The rows of one table in one release: read, compared, and not compared with why.

    ``rows_read == compared + sum(set_aside.values())``.
    """

    rows_read: int
    compared: int
    set_aside: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {"rows_read": self.rows_read, "compared": self.compared,
                "set_aside": dict(self.set_aside)}


@dataclass(frozen=True)
class TableDiff:
    """What changed in one table. Shares are of the OLD table's rows read."""

    table: str
    key: str
    fields: tuple[str, ...]
    old: SideCounts
    new: SideCounts
    unchanged: int
    vanished: int
    appeared: int
    changed: int
    changed_by_field: dict[str, int]
    dates: dict[str, dict[str, Any]]

    def share(self, change: str) -> float:
        """``vanished`` or ``changed`` rows as a share of the OLD table's rows read."""
        n = getattr(self, change)
        return n / self.old.rows_read if self.old.rows_read else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "fields": list(self.fields), "old": self.old.to_dict(),
                "new": self.new.to_dict(), "unchanged": self.unchanged,
                "vanished": self.vanished, "appeared": self.appeared, "changed": self.changed,
                "vanished_share": self.share("vanished"), "changed_share": self.share("changed"),
                "changed_by_field": dict(self.changed_by_field), "dates": self.dates}


@dataclass(frozen=True)
class AuditChanges:
    """The decisions of an earlier audit that rest on rows that changed."""

    results: str
    decisions_table: str
    n_decisions: int
    n_found_in_old: int
    n_changed: int
    by_table: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {"results": self.results, "decisions_table": self.decisions_table,
                "decisions": self.n_decisions, "found_in_old": self.n_found_in_old,
                "decisions_changed": self.n_changed, "by_table": dict(self.by_table),
                "file": "audit_decisions_changed.csv"}


COUNT_COLUMNS = ("table", "court", "fiscal_year", "vanished", "appeared", "changed")
TRANSITION_COLUMNS = ("table", "field", "old", "new", "n")


@dataclass(frozen=True)
class ReleaseDiff:
    """What changed from OLD to NEW (every number of the outputs).

    ``counts`` rows: :data:`COUNT_COLUMNS`; ``transitions`` rows: :data:`TRANSITION_COLUMNS`.
    """

    kind: str
    old: str
    new: str
    threshold: float
    tables: tuple[TableDiff, ...]
    counts: tuple[dict[str, Any], ...]
    transitions: tuple[dict[str, Any], ...]
    not_compared: dict[str, str] = field(default_factory=dict)
    audit: AuditChanges | None = None
    note: str | None = None

    def above(self, table: TableDiff) -> list[str]:
        """The changes (``vanished``, ``changed``) whose share exceeds the threshold."""
        return [c for c in ("vanished", "changed") if table.share(c) > self.threshold]

    @property
    def verdicts(self) -> tuple[str, ...]:
        """One line per table and change above the threshold; one line per table within it."""
        limit = f"{100 * self.threshold:g}%"

        def share(t: TableDiff, change: str) -> str:
            return percent(t.share(change), apart_from=self.threshold)

        lines = []
        for t in self.tables:
            above = self.above(t)
            phrases = {"vanished": "of rows vanished", "changed": "of rows changed a used field"}
            for change in above:
                lines.append(f"{t.table}: {share(t, change)} {phrases[change]} "
                             f"(above the {limit} threshold)")
            if not above:
                lines.append(f"{t.table}: {share(t, 'vanished')} of rows vanished and "
                             f"{share(t, 'changed')} changed a used field (within the "
                             f"{limit} threshold)")
        return tuple(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "command": COMMAND, "kind": self.kind, "old": self.old, "new": self.new,
            "threshold": self.threshold, "verdicts": list(self.verdicts), "note": self.note,
            "tables": {t.table: {**t.to_dict(), "above_threshold": self.above(t)}
                       for t in self.tables},
            "tables_not_compared": dict(self.not_compared),
            "counts": [dict(r) for r in self.counts],
            "transitions": [dict(r) for r in self.transitions],
            "audit": None if self.audit is None else self.audit.to_dict(),
        }


def percent(share: float, *, apart_from: float | None = None) -> str:
    """A share as a percentage, to two decimals, that never reads as zero when it is not
    (0.0006%) nor as ``apart_from`` (a threshold) when it is not (0.0998%, not 0.10%).

    Example
    -------
    >>> percent(0.000998, apart_from=0.001)
    '0.0998%'
    """
    p = 100 * share
    if p == 0:
        return "0%"
    if p < 0.01:
        return f"{p:.2g}%"
    for digits in range(2, 8):
        text = f"{p:.{digits}f}"
        if apart_from is None or share == apart_from or float(text) != 100 * apart_from:
            break
    return f"{text}%"


# --------------------------------------------------------------------------------------------
# Inputs and the output folder
# --------------------------------------------------------------------------------------------
def input_kind(path: Path, label: str) -> str:
    """``release`` (a folder or a .zip) or ``decisions table`` (a .parquet file)."""
    expected = "a release folder, a release .zip or an ingested decisions table (.parquet)"
    if not path.exists():
        raise DiffError(f"{label} {path}: expected {expected}, found nothing")
    if path.is_dir():
        return RELEASE
    if path.name.lower().endswith(".parquet"):
        return DECISIONS
    if path.name.lower().endswith(".zip") or zipfile.is_zipfile(path):
        return RELEASE
    raise DiffError(f"{label} {path}: expected {expected}, found a file of another kind")


def _is_earlier_output(out: Path) -> bool:
    try:
        return json.loads((out / "summary.json").read_text()).get("command") == COMMAND
    except (OSError, ValueError, AttributeError):
        return False


def check_out(out: Path, inputs: list[Path]) -> None:
    """Before any work: ``out`` can be created, written and replaced without losing anything.

    The folder is replaced as a whole, so it may not be, hold, or sit inside an input, nor be
    a folder of other files (only an earlier diff's output or an empty folder).

    Raises
    ------
    OutputError
        One line naming ``--out`` and what is wrong.
    """
    def foreign(folder: Path) -> str | None:
        if not any(folder.iterdir()) or _is_earlier_output(folder):
            return None
        return (f"the folder holds other files and no summary.json of {COMMAND}; each run "
                "replaces its output folder as a whole: choose a new or empty folder")

    check_replaceable_folder(out, inputs, kind="run", foreign=foreign)


def audit_decisions(outdir: Path) -> Path:
    """The decisions table an audit read, from its results.json, checked against its hash.

    Raises
    ------
    DiffError
        No readable results.json, no decisions table among ``provenance.inputs``, the table
        missing, or its sha256 not the one recorded.
    """
    results = outdir / "results.json"
    try:
        data = json.loads(results.read_text())
    except FileNotFoundError:
        raise DiffError(f"--audit {outdir}: expected an audit's output folder with "
                        f"results.json, found no {results}") from None
    except (OSError, ValueError) as exc:
        raise DiffError(f"{results}: expected the JSON results of an audit, could not read it "
                        f"({exc})") from None
    inputs = (data.get("provenance") or {}).get("inputs") if isinstance(data, dict) else None
    tables = [i for i in inputs or [] if isinstance(i, dict)
              and str(i.get("path", "")).endswith(".parquet")
              and not str(i.get("path")).endswith(".judge_completions.parquet")]
    if not tables:
        raise DiffError(f"{results}: expected the audit's decisions table (a .parquet file) "
                        f"under provenance.inputs, found {inputs!r}")
    record = tables[0]
    path = outdir / record["path"]
    if not path.is_file():
        raise DiffError(f"{path}: the decisions table the audit read (provenance.inputs of "
                        f"{results}) is missing; expected the file the audit read")
    digest = sha256_of(path)
    if digest != record.get("sha256"):
        raise DiffError(f"{path}: its sha256 is {digest}, not the {record.get('sha256')} that "
                        f"{results} records: the file changed since the audit read it; "
                        "expected the audit's own decisions table")
    return path


# --------------------------------------------------------------------------------------------
# The comparison, in DuckDB
# --------------------------------------------------------------------------------------------
def _macros(con) -> None:
    con.execute(f"""
        {eoir.KEY_MACRO}
        -- a date by its day; any other text as it is (a bad date is compared as text). The
        -- release's own format is settled first: the pattern's regular expression would
        -- double the time it takes to read a table.
        CREATE OR REPLACE MACRO fd_norm(x) AS
          CASE WHEN length(x) = 23 AND ends_with(x, ' 00:00:00.000') THEN left(x, 10)
               WHEN regexp_full_match(x, '{eoir.DATE_REGEX}')
                    AND try_cast(left(x, 10) AS DATE) IS NOT NULL THEN left(x, 10) ELSE x END;
        CREATE OR REPLACE MACRO fd_day(x) AS
          CASE WHEN regexp_full_match(x, '[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}')
               THEN try_cast(x AS DATE) END;
        CREATE OR REPLACE MACRO fd_year(x) AS
          CASE WHEN x IS NULL THEN NULL WHEN fd_day(x) IS NULL THEN 'not a date'
               ELSE CAST(year(fd_day(x)) + CASE WHEN month(fd_day(x)) >= 10 THEN 1 ELSE 0 END
                         AS VARCHAR) END;
        CREATE TABLE changes (tbl VARCHAR, key VARCHAR, change VARCHAR, fields VARCHAR[],
                              court VARCHAR, fiscal_year VARCHAR, parent_old VARCHAR,
                              parent_new VARCHAR);
        CREATE TABLE transitions (tbl VARCHAR, field VARCHAR, old VARCHAR, new VARCHAR,
                                  n BIGINT, ord INTEGER);
    """)


@contextmanager
def _connection(work: Path, progress: bool) -> Iterator[duckdb.DuckDBPyConnection]:
    """DuckDB with the ingest's memory limit and threads, spilling to the work folder."""
    con = eoir.engine_connection(eoir.load_options(), work / "spill", progress_bar=progress)
    try:
        _macros(con)
        yield con
    finally:
        con.close()


def _typed(f: Field) -> str:
    """How a staging column is compared (see the module's docstring)."""
    if f.kind == "date":
        return f"fd_norm({f.column})"
    if f.kind == "key":
        return f"coalesce(CAST(fa_key({f.column}) AS VARCHAR), {f.column})"
    return f.column


class _Diff:
    """The comparison's steps over one DuckDB connection. Relations are named by release
    (``old`` / ``new``) and table (``case``, ``proc``, ``appln``, ``dec``): ``t_`` the rows
    read, ``c_`` those compared, ``ch_`` the keys that vanished, appeared or changed, ``cv_``
    the changed rows' old and new values; ``changes`` and ``transitions`` gather every table."""

    def __init__(self, con, say: Progress):
        self.con = con
        self.say = say
        self.malformed: dict[str, int] = {}  # rows the reader could not read, per relation
        self.audit_found = 0

    def sql(self, query: str):
        return self.con.execute(query)

    def one(self, query: str):
        return self.con.execute(query).fetchall()[0]

    # ------------------------------------------------------------------ loading
    def load_release_table(self, plan: TablePlan, side: str, path: Path) -> int:
        """Read one table file of one release into ``t_<side>_<short>`` (the key ``_k``,
        the compared values, their hash ``_h``) and the keys of the rows it could not read
        into ``badk_<side>_<short>``. Returns the rows read."""
        assert plan.spec is not None
        rel = f"{side}_{plan.short}"
        table = raw.open_table(plan.spec, path)
        self.say(f"reading {plan.name} of {side.upper()} ({path.name})")
        raw.stage_table(self.con, table, rel)
        values = [_typed(f) for f in plan.fields]
        cols = ", ".join(f"{v} AS {f.column}" for v, f in zip(values, plan.fields, strict=True))

        def typed_rows(source: str) -> str:
            return (f"SELECT *, hash({', '.join(f.column for f in plan.fields)}) AS _h FROM ("
                    f"SELECT fa_key({plan.spec.key}) AS _k, {cols}, "
                    f"{', '.join(raw.SET_APART_COLUMNS)} FROM {source})")

        try:
            self.sql(f"CREATE OR REPLACE TABLE t_{rel} AS {typed_rows(f'src_{rel}')}")
        except duckdb.Error as exc:  # several error types for unreadable files
            gz = "a complete gzip file of " if path.name.lower().endswith(".gz") else ""
            raise ReleaseError(f"{path}: expected {gz}the table {plan.name} as tab-separated "
                               f"latin-1 text, found a file that cannot be read "
                               f"({str(exc).splitlines()[0]})") from None
        staged = raw.settle_dirty_rows(self.con, table, rel, f"t_{rel}")
        self.sql(f"DELETE FROM t_{rel} WHERE {raw.SET_APART}")
        self.sql(f"INSERT INTO t_{rel} {typed_rows(f'fix_{rel}')}")
        self.sql(f"CREATE OR REPLACE TABLE badk_{rel} AS SELECT DISTINCT fa_key(key) AS _k "
                 f"FROM bad_{rel} WHERE fa_key(key) IS NOT NULL")
        self.say(f"  {staged.rows_read:,} rows, {staged.repaired:,} repaired, "
                 f"{staged.malformed:,} malformed")
        self.malformed[rel] = staged.malformed
        return staged.rows_read

    def load_decisions(self, plan: TablePlan, side: str, path: Path) -> int:
        """Read a decisions table into ``t_<side>_dec`` like a release's table; every value
        as text (booleans ``true``/``false``, dates by their day). Returns the rows read."""
        rel = f"{side}_{plan.short}"
        self.say(f"reading the decisions table {side.upper()} ({path.name})")
        values = []
        for f in plan.fields:
            c = f'"{f.column}"'
            values.append(f"CAST(CAST({c} AS DATE) AS VARCHAR)" if f.kind == "date"
                          else f"CAST({c} AS VARCHAR)")
        cols = ", ".join(f"{v} AS {f.column}" for v, f in zip(values, plan.fields, strict=True))
        key = "CAST(proceeding_id AS VARCHAR)"
        try:
            self.sql(f"""
                CREATE OR REPLACE TABLE t_{rel} AS
                SELECT CASE WHEN trim({key}) <> '' THEN {key} END AS _k, {cols},
                  hash({', '.join(values)}) AS _h
                FROM read_parquet({sql_string(str(path))})
            """)
        except duckdb.Error as exc:
            raise TableError(f"{path}: expected a decisions table (.parquet from ingest or "
                             f"simulate), could not read it ({str(exc).splitlines()[0]})"
                             ) from None
        self.sql(f"CREATE OR REPLACE TABLE badk_{rel} (_k VARCHAR)")
        self.malformed[rel] = 0
        return self.one(f"SELECT count(*) FROM t_{rel}")[0]

    # ------------------------------------------------------------------ comparing
    def compare(self, plan: TablePlan, rows_read: dict[str, int]) -> TableDiff:
        """Compare ``t_old_<short>`` with ``t_new_<short>``: the rows not compared (and why),
        the rows vanished, appeared and changed (``ch_<short>``), the changed rows' old and
        new values (``cv_<short>``), the transitions of each field and the date shifts."""
        s = plan.short
        self.say(f"comparing {plan.name}")
        # keys left out of the comparison: duplicated, or the key of an unreadable row
        self.sql(f"""
            CREATE OR REPLACE TABLE ex_{s} AS
            SELECT _k, bool_or(side = 'old' AND why = 'dup') AS old_dup,
              bool_or(side = 'old' AND why = 'bad') AS old_bad,
              bool_or(side = 'new' AND why = 'dup') AS new_dup,
              bool_or(side = 'new' AND why = 'bad') AS new_bad
            FROM (
              SELECT 'old' AS side, 'dup' AS why, _k FROM t_old_{s} WHERE _k IS NOT NULL
                GROUP BY _k HAVING count(*) > 1
              UNION ALL SELECT 'new', 'dup', _k FROM t_new_{s} WHERE _k IS NOT NULL
                GROUP BY _k HAVING count(*) > 1
              UNION ALL SELECT 'old', 'bad', _k FROM badk_old_{s}
              UNION ALL SELECT 'new', 'bad', _k FROM badk_new_{s}
            ) GROUP BY _k
        """)
        sides = {}
        for side, other in (("old", "new"), ("new", "old")):
            reasons = self.sql(f"""
                SELECT CASE WHEN t._k IS NULL THEN '{eoir.BAD_KEY}'
                            WHEN x.{side}_dup OR x.{side}_bad THEN '{DUPLICATE_KEY}'
                            WHEN x.{other}_dup THEN '{DUPLICATED_IN_OTHER}'
                            WHEN x.{other}_bad THEN '{UNREADABLE_IN_OTHER}' END AS reason,
                       count(*)
                FROM t_{side}_{s} t LEFT JOIN ex_{s} x ON x._k = t._k
                GROUP BY ALL
            """).fetchall()
            aside = {r: int(n) for r, n in reasons if r is not None}
            if self.malformed[f"{side}_{s}"]:
                aside = {MALFORMED: self.malformed[f"{side}_{s}"], **aside}
            compared = sum(int(n) for r, n in reasons if r is None)
            sides[side] = SideCounts(rows_read[side], compared, dict(sorted(aside.items())))
            self.sql(f"CREATE OR REPLACE VIEW c_{side}_{s} AS SELECT * FROM t_{side}_{s} "
                     f"WHERE _k IS NOT NULL AND _k NOT IN (SELECT _k FROM ex_{s})")
        self.sql(f"""
            CREATE OR REPLACE TABLE ch_{s} AS
            SELECT coalesce(o._k, n._k) AS _k,
              CASE WHEN n._k IS NULL THEN 'vanished' WHEN o._k IS NULL THEN 'appeared'
                   ELSE 'changed' END AS change
            FROM (SELECT _k, _h FROM c_old_{s}) o FULL JOIN (SELECT _k, _h FROM c_new_{s}) n
              ON o._k = n._k
            WHERE o._k IS NULL OR n._k IS NULL OR o._h <> n._h
        """)
        differs = ", ".join(f"CASE WHEN o.{f.column} IS DISTINCT FROM n.{f.column} "
                            f"THEN {sql_string(f.name)} END" for f in plan.fields)
        pairs = ", ".join(f"o.{f.column} AS o_{f.column}, n.{f.column} AS n_{f.column}"
                          for f in plan.fields)
        self.sql(f"""
            CREATE OR REPLACE TABLE cv_{s} AS
            SELECT o._k, {pairs},
              list_filter([{differs}], lambda x: x IS NOT NULL) AS fields
            FROM (SELECT _k FROM ch_{s} WHERE change = 'changed') c
            JOIN c_old_{s} o ON o._k = c._k JOIN c_new_{s} n ON n._k = c._k
        """)
        # a hash that differs while every value agrees cannot happen with a deterministic
        # hash; such a row would be unchanged, never reported as changed
        self.sql(f"DELETE FROM cv_{s} WHERE len(fields) = 0")
        self.sql(f"DELETE FROM ch_{s} WHERE change = 'changed' "
                 f"AND _k NOT IN (SELECT _k FROM cv_{s})")
        counts = dict(self.sql(f"SELECT change, count(*) FROM ch_{s} GROUP BY change").fetchall())
        vanished, appeared, changed = (int(counts.get(c, 0)) for c in CHANGES)
        unchanged = sides["old"].compared - vanished - changed
        if sides["new"].compared != unchanged + changed + appeared or unchanged < 0:
            raise LedgerMismatch(
                f"{plan.name}: rows compared in NEW {sides['new'].compared} != unchanged "
                f"{unchanged} + changed {changed} + appeared {appeared}")
        for side in ("old", "new"):
            c = sides[side]
            if c.rows_read != c.compared + sum(c.set_aside.values()):
                raise LedgerMismatch(f"{plan.name} ({side.upper()}): rows read {c.rows_read} != "
                                     f"compared {c.compared} + not compared {c.set_aside}")
        by_field = {f.name: int(n) for f, n in zip(plan.fields, self.one(
            "SELECT " + ", ".join(f"count(*) FILTER (WHERE o_{f.column} IS DISTINCT FROM "
                                  f"n_{f.column})" for f in plan.fields) + f" FROM cv_{s}"),
            strict=True) if n}
        self._transitions(plan)
        dates = {f.name: self._date_shifts(s, f) for f in plan.fields
                 if f.kind == "date" and by_field.get(f.name)}
        return TableDiff(plan.name, plan.key, tuple(f.name for f in plan.fields), sides["old"],
                         sides["new"], unchanged, vanished, appeared, changed, by_field, dates)

    def _transitions(self, plan: TablePlan) -> None:
        for order, f in enumerate(plan.fields):
            o, n = f"o_{f.column}", f"n_{f.column}"
            if f.kind == "date":
                old, new = f"'FY' || fd_year({o})", f"'FY' || fd_year({n})"
                old = f"CASE WHEN fd_year({o}) = 'not a date' THEN 'not a date' ELSE {old} END"
                new = f"CASE WHEN fd_year({n}) = 'not a date' THEN 'not a date' ELSE {new} END"
            elif f.kind in ("key", "number"):
                old = f"CASE WHEN {o} IS NOT NULL THEN 'a value' END"
                new = (f"CASE WHEN {n} IS NULL THEN NULL WHEN {o} IS NULL THEN 'a value' "
                       "ELSE 'another value' END")
            else:
                old, new = o, n
            self.sql(f"""
                INSERT INTO transitions
                SELECT {sql_string(plan.name)}, {sql_string(f.name)}, {old}, {new}, count(*),
                  {order}
                FROM cv_{plan.short} WHERE {o} IS DISTINCT FROM {n} GROUP BY ALL
            """)

    def _date_shifts(self, short: str, f: Field) -> dict[str, Any]:
        o, n = f"o_{f.column}", f"n_{f.column}"
        bins = ", ".join(
            f"count(*) FILTER (WHERE shift BETWEEN {lo if lo is not None else -10**9} "
            f"AND {hi if hi is not None else 10**9})" for _, lo, hi in SHIFT_BINS)
        row = self.one(f"""
            SELECT count(*) FILTER (WHERE o IS NOT NULL AND n IS NULL),
              count(*) FILTER (WHERE o IS NULL AND n IS NOT NULL),
              count(shift),
              count(*) FILTER (WHERE o IS NOT NULL AND n IS NOT NULL AND shift IS NULL),
              count(*) FILTER (WHERE shift IS NOT NULL AND fd_year(o) <> fd_year(n)),
              min(shift), quantile_disc(shift, 0.5), max(shift), {bins}
            FROM (SELECT {o} AS o, {n} AS n, fd_day({n}) - fd_day({o}) AS shift
                  FROM cv_{short} WHERE {o} IS DISTINCT FROM {n})
        """)
        kinds = ("set_to_missing", "missing_to_set", "moved", "not_a_date",
                 "moved_to_another_fiscal_year")
        out: dict[str, Any] = {k: int(v) for k, v in zip(kinds, row[:5], strict=True)}
        out["shift_days"] = {
            "min": row[5], "median": row[6], "max": row[7],
            "bins": {label: int(v) for (label, _, _), v in zip(SHIFT_BINS, row[8:], strict=True)},
        }
        return out

    # ------------------------------------------------------------------ where the rows are
    def record(self, plan: TablePlan, court: str, year: str, *, join: str = "",
               parent: str | None = None) -> None:
        """Add the vanished (with their OLD values), appeared and changed (NEW values) rows
        of a table to ``changes``.

        ``court`` and ``year`` are SQL over the row ``r`` and ``join``, a join whose
        ``{side}`` is the row's release; ``parent`` is SQL over a row alias ``{row}`` giving
        an application's proceeding key (in OLD and in NEW: ``parent_old``, ``parent_new``).
        """
        s = plan.short
        for side in ("old", "new"):
            kinds = "('vanished')" if side == "old" else "('appeared', 'changed')"
            old_row = ""
            if parent is None:
                parents = "NULL, NULL"
            elif side == "old":
                parents = f"{parent.format(row='r')}, NULL"
            else:
                parents = f"{parent.format(row='po')}, {parent.format(row='r')}"
                old_row = f"LEFT JOIN c_old_{s} po ON po._k = c._k"
            self.sql(f"""
                INSERT INTO changes
                SELECT {sql_string(plan.name)}, CAST(c._k AS VARCHAR), c.change, v.fields,
                  {court}, {year}, {parents}
                FROM ch_{s} c JOIN c_{side}_{s} r ON r._k = c._k
                LEFT JOIN cv_{s} v ON v._k = c._k
                {old_row}
                {join.format(side=side)}
                WHERE c.change IN {kinds}
            """)

    def proceedings_index(self) -> None:
        """Per release, the proceedings whose key is unique there (``pl_<side>``): where a
        case's or an application's row is counted."""
        for side in ("old", "new"):
            self.sql(f"""
                CREATE OR REPLACE TABLE pl_{side} AS
                SELECT _k, fa_key(idncase) AS case_k, court, comp_date FROM t_{side}_proc
                WHERE _k IS NOT NULL AND _k NOT IN (
                  SELECT _k FROM ex_proc WHERE {side}_dup OR {side}_bad)
            """)

    def latest_proceedings(self) -> None:
        """For each case that changed, its latest proceeding in each release (``lp_<side>``):
        the pending one if any, else the latest completion; ties to the higher key."""
        for side in ("old", "new"):
            self.sql(f"""
                CREATE OR REPLACE TABLE lp_{side} AS
                SELECT case_k, court, comp_date FROM pl_{side}
                WHERE case_k IN (SELECT _k FROM ch_case)
                QUALIFY row_number() OVER (
                  PARTITION BY case_k
                  ORDER BY comp_date IS NULL DESC, fd_day(comp_date) DESC NULLS LAST,
                           _k DESC) = 1
            """)

    def drop(self, *names: str) -> None:
        for name in names:
            kind = "VIEW" if name.startswith("c_") else "TABLE"
            self.sql(f"DROP {kind} IF EXISTS {name}")

    # ------------------------------------------------------------------ results
    def counts(self, order: list[str]) -> tuple[dict[str, Any], ...]:
        rows = self.sql(f"""
            SELECT tbl, court, fiscal_year,
              count(*) FILTER (WHERE change = 'vanished'),
              count(*) FILTER (WHERE change = 'appeared'),
              count(*) FILTER (WHERE change = 'changed')
            FROM changes GROUP BY tbl, court, fiscal_year
            ORDER BY list_position({order!r}, tbl), court NULLS LAST, fiscal_year
        """).fetchall()
        return tuple(dict(zip(COUNT_COLUMNS, (*r[:3], *map(int, r[3:])), strict=True))
                     for r in rows)

    def transitions(self, order: list[str]) -> tuple[dict[str, Any], ...]:
        rows = self.sql(f"""
            SELECT tbl, field, old, new, n FROM transitions
            ORDER BY list_position({order!r}, tbl), ord, n DESC, old NULLS FIRST,
              new NULLS FIRST
        """).fetchall()
        return tuple(dict(zip(TRANSITION_COLUMNS, (*r[:4], int(r[4])), strict=True))
                     for r in rows)

    def write_changed_keys(self, path: Path, order: list[str]) -> None:
        self.sql(f"""
            COPY (SELECT tbl AS "table", key, change, fields FROM changes
                  ORDER BY list_position({order!r}, tbl), list_position({list(CHANGES)!r},
                    change), try_cast(key AS BIGINT) NULLS LAST, key)
            TO {sql_string(str(path))} (FORMAT parquet)
        """)

    def match_audit(self, table: Path, results: Path, order: list[str]) -> AuditChanges:
        """The audit's decisions whose proceeding, case or applications changed
        (``audit_hits``)."""
        self.sql(f"""
            CREATE OR REPLACE TABLE audit_hits AS
            WITH a AS (SELECT CAST(case_id AS VARCHAR) AS case_id,
                              CAST(proceeding_id AS VARCHAR) AS proceeding_id
                       FROM read_parquet({sql_string(str(table))}))
            SELECT a.case_id, a.proceeding_id, c.tbl, c.key, c.change, c.fields
            FROM a JOIN changes c ON c.key = a.proceeding_id
            WHERE c.tbl IN ({sql_string(eoir.PROCEEDING.name)}, '{DECISIONS_TABLE}')
            UNION ALL
            SELECT a.case_id, a.proceeding_id, c.tbl, c.key, c.change, c.fields
            FROM a JOIN changes c ON c.key = a.case_id
            WHERE c.tbl = {sql_string(eoir.CASE.name)}
            UNION ALL
            SELECT a.case_id, a.proceeding_id, c.tbl, c.key, c.change, c.fields
            FROM a JOIN (SELECT *, unnest(list_distinct([parent_old, parent_new])) AS parent
                         FROM changes WHERE tbl = {sql_string(eoir.APPLICATION.name)}) c
              ON c.parent = a.proceeding_id
        """)
        n_decisions = self.one(f"SELECT count(*) FROM read_parquet({sql_string(str(table))})")[0]
        n_changed = self.one("SELECT count(DISTINCT proceeding_id) FROM audit_hits")[0]
        by_table = dict(self.sql(f"""
            SELECT tbl, count(DISTINCT proceeding_id) FROM audit_hits GROUP BY tbl
            ORDER BY list_position({order!r}, tbl)""").fetchall())
        return AuditChanges(str(results), str(table), int(n_decisions), self.audit_found,
                            int(n_changed), {k: int(v) for k, v in by_table.items()})

    def audit_found_in_old(self, table: Path, keys: str) -> None:
        """How many of the audit's decisions are among OLD's compared ``keys`` (SQL giving
        the proceeding keys as text): an audit of another release matches few or none."""
        self.audit_found = int(self.one(f"""
            SELECT count(*) FROM read_parquet({sql_string(str(table))})
            WHERE CAST(proceeding_id AS VARCHAR) IN ({keys})""")[0])

    def write_audit(self, path: Path, order: list[str]) -> None:
        frame = self.sql(f"""
            SELECT case_id, proceeding_id, tbl AS "table", key, change,
              array_to_string(fields, ';') AS fields
            FROM audit_hits
            ORDER BY try_cast(proceeding_id AS BIGINT) NULLS LAST, proceeding_id,
              list_position({order!r}, tbl), try_cast(key AS BIGINT) NULLS LAST, key
        """).df()
        from fairness_audit.report.escape import write_csv

        write_csv(frame, path)


# --------------------------------------------------------------------------------------------
# The two kinds of comparison
# --------------------------------------------------------------------------------------------
def _release_folder(source: Path, work: Path, say: Progress) -> Path:
    if source.is_dir():
        return source
    return raw.extract_zip(source, [s.name for s in SPECS], work, say)


def _compare_releases(job: _Diff, old: Path, new: Path, work: Path, audit: Path | None,
                      say: Progress) -> tuple[list[TableDiff], dict[str, str]]:
    folders = {"old": _release_folder(old, work / "old", say),
               "new": _release_folder(new, work / "new", say)}
    located = {side: raw.locate_tables(folder, SPECS) for side, folder in folders.items()}
    plans = {p.name: p for p in RELEASE_PLANS}
    diffs: dict[str, TableDiff] = {}
    not_compared: dict[str, str] = {}
    # proceedings first: the other tables' rows are counted by court through them
    for name in (eoir.PROCEEDING.name, eoir.CASE.name, eoir.APPLICATION.name):
        plan = plans[name]
        present = [side for side in ("old", "new") if name in located[side]]
        if len(present) < 2:
            not_compared[name] = ("in neither release" if not present
                                  else f"only in {present[0].upper()}")
            continue
        rows_read = {side: job.load_release_table(plan, side, located[side][name])
                     for side in ("old", "new")}
        diffs[name] = job.compare(plan, rows_read)
        s = plan.short
        if name == eoir.PROCEEDING.name:
            job.record(plan, "r.court", "coalesce(fd_year(r.comp_date), 'pending')")
            job.proceedings_index()
            if audit is not None:
                job.audit_found_in_old(audit, "SELECT CAST(_k AS VARCHAR) FROM c_old_proc")
        elif name == eoir.CASE.name:
            job.latest_proceedings()
            job.record(plan, "p.court",
                       "CASE WHEN p.case_k IS NULL THEN 'no proceeding' "
                       "ELSE coalesce(fd_year(p.comp_date), 'pending') END",
                       join="LEFT JOIN lp_{side} p ON p.case_k = r._k")
        else:
            job.record(plan, "p.court",
                       "CASE WHEN p._k IS NULL THEN 'no proceeding' "
                       "ELSE coalesce(fd_year(p.comp_date), 'pending') END",
                       parent="CAST(fa_key({row}.idnproceeding) AS VARCHAR)",
                       join="LEFT JOIN pl_{side} p ON p._k = fa_key(r.idnproceeding)")
        job.drop(f"c_old_{s}", f"c_new_{s}", f"t_old_{s}", f"t_new_{s}")
    return [diffs[p.name] for p in RELEASE_PLANS if p.name in diffs], not_compared


def _compare_decisions(job: _Diff, old: Path, new: Path, audit: Path | None
                       ) -> tuple[list[TableDiff], dict[str, str]]:
    columns = {}
    for side, path in (("old", old), ("new", new)):
        try:
            names = [r[0] for r in job.sql(f"DESCRIBE SELECT * FROM read_parquet("
                                           f"{sql_string(str(path))})").fetchall()]
        except duckdb.Error as exc:
            raise TableError(f"{path}: expected a decisions table (.parquet from ingest or "
                             f"simulate), could not read it ({str(exc).splitlines()[0]})"
                             ) from None
        missing = [c for c in ("proceeding_id", "court_id", "fiscal_year") if c not in names]
        if missing:
            raise TableError(f"{path}: expected a decisions table with the column(s) "
                             f"{', '.join(missing)}; found {', '.join(names)}")
        columns[side] = names
    plan = _decisions_plan([c for c in columns["old"] if c in columns["new"]])
    rows_read = {side: job.load_decisions(plan, side, path)
                 for side, path in (("old", old), ("new", new))}
    diff = job.compare(plan, rows_read)
    job.record(plan, "r.court_id", "coalesce(CAST(r.fiscal_year AS VARCHAR), 'missing')")
    if audit is not None:
        job.audit_found_in_old(audit, "SELECT _k FROM c_old_dec")
    job.drop("c_old_dec", "c_new_dec", "t_old_dec", "t_new_dec")
    only = {side: [c.name for c in (*DECISION_COLUMNS, *OPTIONAL_DECISION_COLUMNS)
                   if c.name in columns[side]
                   and c.name not in columns["old" if side == "new" else "new"]]
            for side in ("old", "new")}
    return [diff], {f"column {c}": f"only in {side.upper()}" for side, cs in only.items()
                    for c in cs}


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------
def diff_releases(
    old: str | os.PathLike,
    new: str | os.PathLike,
    out: str | os.PathLike,
    *,
    threshold: float = 0.001,
    audit: str | os.PathLike | None = None,
    work_dir: str | os.PathLike | None = None,
    progress: Progress | None = None,
) -> ReleaseDiff:
    """Compare two releases (or two ingested decisions tables) and write what changed.

    Parameters
    ----------
    old, new
        Each a release folder or release zip, or each a decisions table (``.parquet`` from
        ``ingest`` or ``simulate``; then only their merits decisions are compared, by
        proceeding_id).
    out
        The output folder, replaced as a whole: summary.md, summary.json, counts.csv,
        transitions.csv, changed_keys.parquet (and audit_decisions_changed.csv).
    threshold
        The share of the OLD table's rows above which vanished or changed rows are flagged
        in a table's verdict line (0.001: 0.1%).
    audit
        An audit's output folder: its decisions table (found through results.json's
        ``provenance.inputs``, its sha256 checked) is matched with the changes.
    work_dir
        Where extracted zip members and DuckDB's spill files go (default: the system's
        temporary folder).
    progress
        Called with short progress lines.

    Returns
    -------
    ReleaseDiff

    Raises
    ------
    DiffError
        The inputs are of different kinds, one is missing, the threshold is not in [0, 1],
        or the audit's decisions table is missing or not the one it read.
    ReleaseError, TableError
        A release or a decisions table cannot be read.
    OutputError
        ``out`` cannot be written or would replace an input (checked before the work).

    Example
    -------
    >>> diff_releases("eoir_2024_01/", "eoir_2024_02.zip", "out/diff")  # doctest: +SKIP
    """
    from fairness_audit.ingest.diff_report import write_report

    say = progress or (lambda _msg: None)
    old, new, out = Path(old), Path(new), Path(out)
    if not 0 <= threshold <= 1:
        raise DiffError(f"--threshold: expected a share between 0 and 1 (0.001 is 0.1%), found "
                        f"{threshold}")
    kinds = {"OLD": input_kind(old, "OLD"), "NEW": input_kind(new, "NEW")}
    if kinds["OLD"] != kinds["NEW"]:
        raise DiffError(f"OLD {old} is a {kinds['OLD']} and NEW {new} is a {kinds['NEW']}: "
                        "expected two releases (folders or .zip) or two ingested decisions "
                        "tables (.parquet)")
    kind = kinds["OLD"]
    audit_dir = Path(audit) if audit is not None else None
    audit_table = audit_decisions(audit_dir) if audit_dir is not None else None
    check_out(out, [old, new] + ([audit_dir, audit_table] if audit_dir is not None else []))
    if work_dir is not None:
        check_output_folder(Path(work_dir), f"--work-dir {work_dir}")
    order = [p.name for p in RELEASE_PLANS] + [DECISIONS_TABLE]
    with raw.WorkDir(work_dir) as wd, _connection(wd.path, engine_bar(progress)) as con:
        job = _Diff(con, say)
        if kind == RELEASE:
            tables, not_compared = _compare_releases(job, old, new, wd.path, audit_table, say)
        else:
            tables, not_compared = _compare_decisions(job, old, new, audit_table)
        audit_changes = (job.match_audit(audit_table, audit_dir / "results.json", order)
                         if audit_table is not None and audit_dir is not None else None)
        result = ReleaseDiff(kind, str(old), str(new), threshold, tuple(tables),
                             job.counts(order), job.transitions(order), not_compared,
                             audit_changes, DECISIONS_NOTE if kind == DECISIONS else None)
        say("writing the outputs")
        with staged_folder(out) as staging:
            with writing(staging / "changed_keys.parquet", shown=out / "changed_keys.parquet"):
                try:
                    job.write_changed_keys(staging / "changed_keys.parquet", order)
                except duckdb.IOException as exc:  # DuckDB's own type: an OSError for writing
                    raise OSError(None, str(exc)) from exc
            if audit_changes is not None:
                with writing(staging / "audit_decisions_changed.csv",
                             shown=out / "audit_decisions_changed.csv"):
                    job.write_audit(staging / "audit_decisions_changed.csv", order)
            with writing(staging, shown=out, what="the summary"):
                write_report(result, staging)
    return result
