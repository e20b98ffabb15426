"""The ledger: every input row is either used or set aside with a reason (contract section 2).

Shape of ``Ledger.to_dict()``::

    {table: {"rows_read": n, "used": n, "set_aside": {reason: n}, "values_nulled": {column: n}}}

plus, each only when non-empty, facts about the data that are not reasons to set a row aside
(they change none of the counts above):

- ``"values_unlisted": {column: {source value: n}}``: source values that a column mapping did
  not list (``ingest table``), among the rows used;
- ``"orphans": {description: n}``: rows whose parent row is not in the release, such as
  ``"proceeding without its case"`` (``ingest eoir``);
- ``"values_outside_codebook": {column: {source value: n}}``: coded values that the column's
  codebook does not list, the 20 most frequent per column and ``"(other values)": n`` for the
  rest (``ingest eoir``);
- ``"impossible_dates": {column: n}``: dates present but not valid or out of bounds, per
  column (``ingest eoir``);
- ``"values_nulled_by_court_year": [{"column", "court_id", "fiscal_year", "n"}]``: where the
  values nulled among the decisions' rows lie (``ingest eoir``, the proceedings table).

``Ledger.check()`` enforces rows_read == used + sum(set_aside) for every table; a stage that
cannot make its counts add up has lost rows and must fail loudly rather than write output.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from fairness_audit.errors import AuditError

# values_outside_codebook keeps this many values per column, the rest summed under OTHER_VALUES
MAX_VALUES_SHOWN = 20
OTHER_VALUES = "(other values)"


@dataclass
class TableLedger:
    rows_read: int = 0
    used: int = 0
    set_aside: Counter = field(default_factory=Counter)
    values_nulled: Counter = field(default_factory=Counter)
    values_unlisted: dict[str, Counter] = field(default_factory=dict)
    orphans: Counter = field(default_factory=Counter)
    values_outside_codebook: dict[str, Counter] = field(default_factory=dict)
    impossible_dates: Counter = field(default_factory=Counter)
    values_nulled_by_court_year: list[dict[str, Any]] = field(default_factory=list)

    def set_aside_rows(self, reason: str, n: int) -> None:
        if n:
            self.set_aside[reason] += int(n)

    def null_values(self, column: str, n: int) -> None:
        if n:
            self.values_nulled[column] += int(n)

    def unlisted_values(self, column: str, counts: dict[str, int]) -> None:
        """Count source values of ``column`` that the mapping did not list."""
        counts = {str(k): int(v) for k, v in counts.items() if v}
        if counts:
            self.values_unlisted.setdefault(column, Counter()).update(counts)

    def orphan_rows(self, description: str, n: int) -> None:
        """Count rows whose parent row is missing (a fact, not a reason to set them aside)."""
        if n:
            self.orphans[description] += int(n)

    def outside_codebook(self, column: str, counts: dict[str, int]) -> None:
        """Count coded values of ``column`` that its codebook does not list."""
        counts = {str(k): int(v) for k, v in counts.items() if v}
        if counts:
            self.values_outside_codebook.setdefault(column, Counter()).update(counts)

    def impossible_date(self, column: str, n: int) -> None:
        if n:
            self.impossible_dates[column] += int(n)

    def nulled_by_court_year(self, column: str, court_id: str | None, fiscal_year: int | None,
                             n: int) -> None:
        if n:
            self.values_nulled_by_court_year.append(
                {"column": column, "court_id": court_id, "fiscal_year": fiscal_year,
                 "n": int(n)})

    @property
    def n_set_aside(self) -> int:
        return int(sum(self.set_aside.values()))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "rows_read": int(self.rows_read),
            "used": int(self.used),
            "set_aside": dict(sorted(self.set_aside.items())),
            "values_nulled": dict(sorted(self.values_nulled.items())),
        }
        if self.values_unlisted:
            out["values_unlisted"] = {
                col: dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
                for col, counts in sorted(self.values_unlisted.items())
            }
        if self.orphans:
            out["orphans"] = dict(sorted(self.orphans.items()))
        if self.values_outside_codebook:
            out["values_outside_codebook"] = {
                col: _most_frequent(counts)
                for col, counts in sorted(self.values_outside_codebook.items())
            }
        if self.impossible_dates:
            out["impossible_dates"] = dict(sorted(self.impossible_dates.items()))
        if self.values_nulled_by_court_year:
            out["values_nulled_by_court_year"] = sorted(
                self.values_nulled_by_court_year,
                key=lambda r: (r["column"], str(r["court_id"]), r["fiscal_year"] or 0))
        return out


def _most_frequent(counts: Counter) -> dict[str, int]:
    """The MAX_VALUES_SHOWN most frequent values (ties by value), the rest summed under
    OTHER_VALUES; a count already under OTHER_VALUES stays there (so that the shape survives
    from_dict and to_dict again)."""
    counts = Counter(counts)
    other = counts.pop(OTHER_VALUES, 0)
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    out = dict(ranked[:MAX_VALUES_SHOWN])
    other += sum(n for _, n in ranked[MAX_VALUES_SHOWN:])
    if other:
        out[OTHER_VALUES] = int(other)
    return out


class LedgerMismatch(AuditError):
    """Rows read do not equal rows used plus rows set aside."""


@dataclass
class Ledger:
    tables: dict[str, TableLedger] = field(default_factory=dict)

    def table(self, name: str) -> TableLedger:
        return self.tables.setdefault(name, TableLedger())

    def check(self) -> None:
        for name, t in self.tables.items():
            if t.rows_read != t.used + t.n_set_aside:
                raise LedgerMismatch(
                    f"ledger table '{name}': rows_read {t.rows_read} != used {t.used} + set aside "
                    f"{t.n_set_aside} ({dict(t.set_aside)})"
                )

    def to_dict(self) -> dict[str, Any]:
        return {name: t.to_dict() for name, t in self.tables.items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Ledger:
        ledger = cls()
        for name, t in data.items():
            entry = ledger.table(name)
            entry.rows_read = int(t.get("rows_read", 0))
            entry.used = int(t.get("used", 0))
            entry.set_aside.update(t.get("set_aside", {}))
            entry.values_nulled.update(t.get("values_nulled", {}))
            for col, counts in t.get("values_unlisted", {}).items():
                entry.unlisted_values(col, counts)
            entry.orphans.update(t.get("orphans", {}))
            for col, counts in t.get("values_outside_codebook", {}).items():
                entry.outside_codebook(col, counts)
            entry.impossible_dates.update(t.get("impossible_dates", {}))
            for row in t.get("values_nulled_by_court_year", []):
                entry.nulled_by_court_year(row["column"], row["court_id"], row["fiscal_year"],
                                           row["n"])
        return ledger
