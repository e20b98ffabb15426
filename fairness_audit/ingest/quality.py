"""Data-quality facts that only the ingest sees, as SQL over the tables staged in DuckDB.

The audit's data-quality appendix reads them from the ledger (:mod:`fairness_audit.ledger`):
rows whose parent row is missing (orphans), coded values that the codebook does not list,
impossible dates per column, and where the values nulled among the decisions lie (court by
fiscal year). None of them sets a row aside: they describe rows that are counted already.

Each fact is one aggregate over a table the ingest has staged anyway (low-cardinality GROUP
BYs, anti-joins on the keys), so the cost stays small at national size. The release's own
lookup tables give the codebooks where present; otherwise the packaged copies do (see
``eoir.collect_codebooks``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Packaged codebooks of the application tables, for releases without their lookup tables:
# the codes of EOIR's tblLookUp_Appln (APPL_CODE) and tblLookupCourtAppDecisions (APPL_DEC).
APPLICATION_CODES = frozenset((
    "202", "209c", "2129", "212L", "212a", "212c", "212d", "212g", "212h", "212i", "212k",
    "216", "237H", "241a", "241f", "245", "249", "42A", "42B", "A", "ASYL", "ASYW", "B",
    "BCA", "BSP", "BUA", "CI", "CII", "CIII", "CPC", "I881", "PRMF", "SUSP", "UNK", "VD",
    "WAIV", "WCAT", "WD", "WDL", "d11",
))
APPLICATION_DECISION_CODES = frozenset("ACDFGILMOPRSTW")
CUSTODY_CODES = frozenset("DRN")


@dataclass(frozen=True)
class Codebooks:
    """The codes of each checked column (source column name) and where they come from."""

    codes: dict[str, frozenset[str]]
    sources: dict[str, str]


def _grouping_id(columns: list[str], grouped: tuple[str, ...]) -> int:
    """DuckDB's ``grouping(c1, ..., cn)`` for a grouping set: bit set for each column not
    grouped, the first column the most significant."""
    n = len(columns)
    return sum(1 << (n - 1 - i) for i, c in enumerate(columns) if c not in grouped)


def value_counts(con, relation: str, sets: dict[str, tuple[str, ...]]
                 ) -> dict[str, dict[tuple[str | None, ...], int]]:
    """Counts of the values of several columns (or column tuples) of ``relation``, in one
    scan (GROUPING SETS). ``sets`` maps a label to the SQL columns grouped together."""
    if not sets:
        return {}
    columns = list(dict.fromkeys(c for cols in sets.values() for c in cols))
    by_id = {_grouping_id(columns, cols): (label, cols) for label, cols in sets.items()}
    grouping = ", ".join(f"({', '.join(cols)})" for cols in sets.values())
    rows = con.execute(
        f"SELECT {', '.join(columns)}, grouping({', '.join(columns)}) AS gid, count(*) "
        f"FROM {relation} GROUP BY GROUPING SETS ({grouping})").fetchall()
    out: dict[str, dict[tuple[str | None, ...], int]] = {label: {} for label in sets}
    for *values, gid, n in rows:
        label, cols = by_id[gid]
        key = tuple(values[columns.index(c)] for c in cols)
        out[label][key] = out[label].get(key, 0) + int(n)
    return out


def outside(counts: dict[tuple[str | None, ...], int], codes: frozenset[str], *,
            join: str = ":", only_first: frozenset[str] | None = None) -> dict[str, int]:
    """The values (tuples joined by ``join``) not in ``codes``; missing values are not codes
    to check. ``only_first``: check a tuple only when its first value is listed (the outcome
    table's case types, for DEC_CODE)."""
    found: dict[str, int] = {}
    for key, n in counts.items():
        if any(v is None for v in key):
            continue
        if only_first is not None and key[0] not in only_first:
            continue
        value = join.join(key)
        if value not in codes:
            found[value] = found.get(value, 0) + n
    return found


def count_orphans(con, child: str, key: str, parent: str) -> int:
    """Rows of ``child`` whose ``key`` is not among the rows of ``parent``."""
    return int(con.execute(
        f"SELECT count(*) FROM {child} c WHERE NOT EXISTS "
        f"(SELECT 1 FROM {parent} p WHERE p.{key} = c.{key})").fetchall()[0][0])


def count_where(con, relation: str, conditions: dict[str, str]) -> dict[str, int]:
    """For each label, the rows of ``relation`` where its SQL condition holds (one scan)."""
    if not conditions:
        return {}
    counts = con.execute(
        "SELECT " + ", ".join(f"count(*) FILTER (WHERE {c})" for c in conditions.values())
        + f" FROM {relation}").fetchall()[0]
    return {label: int(n) for label, n in zip(conditions, counts, strict=True)}


def by_court_year(con, relation: str, conditions: dict[str, str]) -> list[dict[str, Any]]:
    """Per column, court and fiscal year (Oct 1 - Sep 30 of ``comp_date``), the rows of
    ``relation`` whose value was nulled (``conditions``: column -> SQL condition); only
    non-zero counts."""
    if not conditions:
        return []
    counts = ", ".join(f"count(*) FILTER (WHERE {c})" for c in conditions.values())
    rows = con.execute(f"""
        SELECT court, CAST(year(comp_date) + CASE WHEN month(comp_date) >= 10 THEN 1 ELSE 0 END
                           AS BIGINT) AS fy, {counts}
        FROM {relation} GROUP BY ALL
    """).fetchall()
    out = []
    for court, fy, *ns in rows:
        for column, n in zip(conditions, ns, strict=True):
            if n:
                out.append({"column": column, "court_id": court,
                            "fiscal_year": None if fy is None else int(fy), "n": int(n)})
    return sorted(out, key=lambda r: (r["column"], str(r["court_id"]), r["fiscal_year"] or 0))


def latest_date(con, columns: list[tuple[str, str]]) -> str | None:
    """The latest non-null date among ``(relation, column)`` pairs, as YYYY-MM-DD."""
    if not columns:
        return None
    union = " UNION ALL ".join(f"SELECT max({col}) AS d FROM {rel}" for rel, col in columns)
    value = con.execute(f"SELECT max(d) FROM ({union})").fetchall()[0][0]
    return None if value is None else value.isoformat()
