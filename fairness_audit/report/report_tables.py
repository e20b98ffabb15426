"""The report's other tables as CSV: findings, design checks, the data ledger, judge spread by
period and the data-quality summaries.

Why: every table the report shows is also a file a reader can load (tables/), not only a page
to read; tests.csv, coefficients.csv, disparities.csv and data_quality.csv are written by
``render.write_report`` itself, the hypothesis tables by ``regression_tables``. Every CSV goes
through ``escape.write_csv`` (labels from the data cannot run as spreadsheet formulas).

Example
-------
>>> write_report_tables(results, Path("out/demo/tables"))  # doctest: +SKIP
[PosixPath('out/demo/tables/findings.csv'), ...]
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from fairness_audit.report.escape import write_csv

__all__ = ["check_rows", "findings_rows", "judge_spread_rows", "ledger_rows", "write_report_tables"]


def findings_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """"Findings at a glance": each hypothesis' verdict and its reason."""
    return [{"hypothesis": h["id"], "title": h.get("title"), "verdict": h["verdict"],
             "verdict_reason": h.get("verdict_reason")} for h in results["hypotheses"]]


def _cell(value: Any) -> Any:
    """A list or mapping (a joint check's coefficients) as its JSON text: one cell, the same
    whether the check comes from the audit or from results.json read back."""
    if isinstance(value, list | dict):
        return json.dumps(value, sort_keys=True, default=float)
    return value


def check_rows(results: dict[str, Any]) -> pd.DataFrame:
    """Every design check of every hypothesis (checks differ in their fields: the columns are
    the union, in order of first appearance)."""
    rows = [{"hypothesis": h["id"], **{k: _cell(v) for k, v in c.items()}}
            for h in results["hypotheses"] for c in h.get("checks", [])]
    columns = list(dict.fromkeys(["hypothesis", "name", "statistic", "df", "p_value", "passed"]
                                 + [k for row in rows for k in row]))
    return pd.DataFrame(rows, columns=columns, dtype=object)  # ints stay ints beside nulls


def ledger_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The data ledger (results.json ``data.ingest``) in long form: per source table, rows read,
    used, set aside by reason and values nulled by column."""
    rows = []
    for table, entry in (results.get("data", {}).get("ingest") or {}).items():
        rows.append({"table": table, "count": "rows_read", "detail": None, "n": entry.get("rows_read")})
        rows.append({"table": table, "count": "used", "detail": None, "n": entry.get("used")})
        for reason, n in (entry.get("set_aside") or {}).items():
            rows.append({"table": table, "count": "set_aside", "detail": reason, "n": n})
        for column, n in (entry.get("values_nulled") or {}).items():
            rows.append({"table": table, "count": "values_nulled", "detail": column, "n": n})
    return rows


def _upper_median(values: list[Any]) -> Any:
    # the report's "median range of shrunk rates" (render.upper_median): the upper middle value
    ordered = sorted(v for v in values if v is not None)
    return ordered[len(ordered) // 2] if ordered else None


def judge_spread_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The report's "judge spread by period" table of each judge-variance model."""
    rows = []
    for m in results["models"]:
        for period, s in (m.get("periods") or {}).items():
            rows.append({"model": m["name"], "period": period, "tau": s.get("tau"), "q": s.get("q"),
                         "df": s.get("df"), "p_value": s.get("p_value"), "judges": s.get("judges"),
                         "decisions": s.get("decisions"),
                         "judge_share_of_variance": s.get("judge_share_of_variance"),
                         "courts_median_shrunk_range": _upper_median(
                             [c.get("shrunk_range") for c in s.get("courts", [])])})
    return rows


LEDGER_COLUMNS = ["table", "count", "detail", "n"]
QUALITY_COLUMNS = ["column", "applies_to", "rows", "missing", "share"]
REMOVED_COLUMNS = ["stage", "reason", "n"]


def write_report_tables(results: dict[str, Any], folder: Path) -> list[Path]:
    """Write findings.csv, checks.csv, ledger.csv and, when the results hold them,
    judge_spread.csv, data_quality_columns.csv and data_quality_removed.csv into ``folder``.

    findings, checks and ledger are written with their header even when empty, so that the
    files are always there.

    Returns
    -------
    list of Path
        The files written.
    """
    written = []

    def write(table: pd.DataFrame | list[dict[str, Any]], name: str) -> None:
        path = Path(folder) / name
        write_csv(table, path)
        if path.exists():
            written.append(path)

    write(pd.DataFrame(findings_rows(results), columns=["hypothesis", "title", "verdict",
                                                        "verdict_reason"]), "findings.csv")
    write(check_rows(results), "checks.csv")
    write(pd.DataFrame(ledger_rows(results), columns=LEDGER_COLUMNS), "ledger.csv")
    spread = judge_spread_rows(results)
    if spread:
        write(spread, "judge_spread.csv")
    quality = results.get("data", {}).get("quality") or {}
    if quality:
        columns = [{k: c.get(k) for k in QUALITY_COLUMNS} for c in quality.get("columns", [])]
        write(pd.DataFrame(columns, columns=QUALITY_COLUMNS), "data_quality_columns.csv")
        write(pd.DataFrame(quality.get("removed", []), columns=REMOVED_COLUMNS),
              "data_quality_removed.csv")
    return written
