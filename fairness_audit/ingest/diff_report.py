"""The files of ``diff-releases``: summary.md, summary.json, counts.csv and transitions.csv.

Reads only a :class:`~fairness_audit.ingest.diff.ReleaseDiff`; the comparison itself (and
changed_keys.parquet, written straight from DuckDB) is :mod:`fairness_audit.ingest.diff`.
Every label from the data (court codes, code values, paths) is escaped in Markdown
(``escape.md``) and neutralised in CSV (``escape.write_csv``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from fairness_audit.ingest.diff import (
    COUNT_COLUMNS,
    DECISIONS,
    SHIFT_BINS,
    TRANSITION_COLUMNS,
    ReleaseDiff,
    percent,
)
from fairness_audit.report.escape import md, write_csv

# summary.md shows this many rows of the long tables; the CSV files hold them all
SHOWN_TRANSITIONS = 10  # per field
SHOWN_COUNTS = 20


def write_report(result: ReleaseDiff, folder: Path) -> None:
    """Write summary.md, summary.json, counts.csv and transitions.csv into ``folder``.

    Example
    -------
    >>> write_report(result, Path("out/diff"))  # doctest: +SKIP
    """
    write_csv(pd.DataFrame(list(result.counts), columns=list(COUNT_COLUMNS)),
              folder / "counts.csv")
    write_csv(pd.DataFrame(list(result.transitions), columns=list(TRANSITION_COLUMNS)),
              folder / "transitions.csv")
    (folder / "summary.json").write_text(json.dumps(result.to_dict(), indent=2) + "\n")
    (folder / "summary.md").write_text(summary_md(result))


def _n(value: int) -> str:
    return f"{value:,}"


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines + [""]


def summary_md(result: ReleaseDiff) -> str:
    """The summary: verdict lines first, then the counts behind them."""
    lines = [f"# What changed from {md(result.old)} to {md(result.new)}", ""]
    lines += [f"- {md(v)}" for v in result.verdicts] + [""]
    if result.note:
        lines += [f"Note: {md(result.note)}.", ""]
    if result.audit is not None:
        a = result.audit
        parts = ", ".join(f"{_n(n)} through {md(t)}" for t, n in a.by_table.items())
        lines += [f"The audit {md(a.results)}: {_n(a.n_changed)} of its {_n(a.n_decisions)} "
                  f"decisions rest on rows that vanished, appeared or changed"
                  f"{' (' + parts + ')' if parts else ''}; listed in "
                  f"audit_decisions_changed.csv. {_n(a.n_found_in_old)} of its decisions are "
                  f"among OLD's compared rows.", ""]
    for name, why in result.not_compared.items():
        lines += [f"Not compared: {md(name)} ({md(why)}).", ""]

    lines += ["## Rows", "",
              "Shares are of the OLD table's rows read; vanished = key in OLD, not in NEW; "
              "appeared = key in NEW, not in OLD; changed = a compared field differs.", ""]
    lines += _table(
        ["table", "key", "OLD rows", "NEW rows", "compared in OLD", "compared in NEW",
         "unchanged", "vanished", "appeared", "changed"],
        [[md(t.table), md(t.key), _n(t.old.rows_read), _n(t.new.rows_read),
          _n(t.old.compared), _n(t.new.compared), _n(t.unchanged),
          f"{_n(t.vanished)} ({percent(t.share('vanished'))})", _n(t.appeared),
          f"{_n(t.changed)} ({percent(t.share('changed'))})"] for t in result.tables])

    aside = [[md(t.table), side.upper(), md(reason), _n(n)]
             for t in result.tables for side, c in (("old", t.old), ("new", t.new))
             for reason, n in c.set_aside.items()]
    lines += ["## Rows not compared", "",
              "Rows the reader could not read, rows without a valid key, and rows whose key "
              "occurs more than once in a release (or belongs to a row a release could not "
              "read) are left out of the comparison in both releases."
              + ("" if aside else " There were none."), ""]
    if aside:
        lines += _table(["table", "release", "reason", "rows"], aside)

    lines += ["## Fields changed", "",
              "Compared fields: " + "; ".join(
                  f"{md(t.table)}: {', '.join(md(f) for f in t.fields)}" for t in result.tables)
              + ".", ""]
    by_field = [[md(t.table), md(f), _n(n)] for t in result.tables
                for f, n in t.changed_by_field.items()]
    lines += _table(["table", "field", "rows changed"], by_field) if by_field else [
        "No compared field changed.", ""]

    dates = [(t.table, f, d) for t in result.tables for f, d in t.dates.items()]
    if dates:
        lines += ["## Dates changed", "",
                  "Moved: a date in both releases, another day in NEW; shift = NEW minus OLD "
                  "in days.", ""]
        lines += _table(
            ["table", "field", "set → missing", "missing → set", "moved",
             "not a date on one side", "moved to another fiscal year",
             "shift min / median / max"] + [label for label, _, _ in SHIFT_BINS],
            [[md(t), md(f), _n(d["set_to_missing"]), _n(d["missing_to_set"]), _n(d["moved"]),
              _n(d["not_a_date"]), _n(d["moved_to_another_fiscal_year"]),
              " / ".join("—" if d["shift_days"][k] is None else f"{d['shift_days'][k]:+,}"
                         for k in ("min", "median", "max"))]
             + [_n(d["shift_days"]["bins"][label]) for label, _, _ in SHIFT_BINS]
             for t, f, d in dates])

    lines += ["## Transitions", "",
              "Old value → new value among the changed rows, with the number of rows: a "
              "relabelled code is one line. Dates by fiscal year; keys and numbers only by "
              "whether a value was set, removed or replaced. A missing value is shown as —. "
              f"At most {SHOWN_TRANSITIONS} lines per field here; transitions.csv has all.", ""]
    shown: list[list[str]] = []
    seen: dict[tuple[str, str], int] = {}
    for r in result.transitions:
        k = (r["table"], r["field"])
        seen[k] = seen.get(k, 0) + 1
        if seen[k] <= SHOWN_TRANSITIONS:
            shown.append([md(r["table"]), md(r["field"]), _value(r["old"]), _value(r["new"]),
                          _n(r["n"])])
    lines += _table(["table", "field", "old", "new", "rows"], shown) if shown else [
        "None.", ""]

    where = ("a decision by its court_id and fiscal_year" if result.kind == DECISIONS else
             "a proceeding by its court (BASE_CITY_CODE) and the fiscal year of its completion "
             "(pending: none), an application through its proceeding, a case through its "
             "latest proceeding (the pending one, else the latest completed)")
    lines += ["## By court and fiscal year", "",
              f"Vanished rows where OLD had them, appeared and changed rows where NEW has them; "
              f"{where}. The {SHOWN_COUNTS} largest rows here; counts.csv has all "
              f"{len(result.counts):,}.", ""]
    top = sorted(result.counts, key=lambda r: -(r["vanished"] + r["appeared"] + r["changed"]))
    lines += _table(list(COUNT_COLUMNS),
                    [[md(r["table"]), md(r["court"]), md(r["fiscal_year"]), _n(r["vanished"]),
                      _n(r["appeared"]), _n(r["changed"])] for r in top[:SHOWN_COUNTS]]
                    ) if top else ["None.", ""]

    lines += ["## Files", "",
              "summary.json (every number here), counts.csv, transitions.csv, "
              "changed_keys.parquet (table, key, change, fields: one row per row that "
              "vanished, appeared or changed)"
              + (", audit_decisions_changed.csv" if result.audit is not None else "") + ".", ""]
    return "\n".join(lines)


def _value(value: Any) -> str:
    """A value in a transition, quoted so that blanks and look-alikes show."""
    return "—" if value is None else f"'{md(value)}'"
