"""The ledger: every input row is either used or set aside with a reason (contract section 2).

Shape of ``Ledger.to_dict()``::

    {table: {"rows_read": n, "used": n, "set_aside": {reason: n}, "values_nulled": {column: n}}}

plus, only when some were found, ``"values_unlisted": {column: {source value: n}}``: source
values that a column mapping did not list (``ingest table``), among the rows used.

``Ledger.check()`` enforces rows_read == used + sum(set_aside) for every table; a stage that
cannot make its counts add up has lost rows and must fail loudly rather than write output.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from fairness_audit.errors import AuditError


@dataclass
class TableLedger:
    rows_read: int = 0
    used: int = 0
    set_aside: Counter = field(default_factory=Counter)
    values_nulled: Counter = field(default_factory=Counter)
    values_unlisted: dict[str, Counter] = field(default_factory=dict)

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
        return ledger
