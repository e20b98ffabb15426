"""The canonical decisions table (contract section 1) and its judge-workload companion.

One row per merits decision. ``DECISION_COLUMNS`` is the single description of every column:
its logical type, whether it may be null, and the values it may take. ``validate_decisions``
checks a frame against it and returns one line per problem; ``coerce_decisions`` gives a
frame the canonical pandas dtypes, so that every stage reads the same types.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

OUTCOMES = ("grant", "removal", "voluntary_departure", "termination", "other")
ASYLUM_DECISIONS = ("grant", "deny", "other")
CUSTODY_CODES = ("D", "R", "N")
COMPLETION_KINDS = ("merits", "administrative")


@dataclass(frozen=True)
class Column:
    """One column of a canonical table."""

    name: str
    kind: str  # "string" | "int" | "float" | "bool" | "date"
    nullable: bool
    meaning: str
    allowed: tuple[str, ...] | None = None


DECISION_COLUMNS: tuple[Column, ...] = (
    Column("case_id", "string", False, "source case key"),
    Column("proceeding_id", "string", False, "source proceeding key (unique per row)"),
    Column("judge_id", "string", False, "judge code, never a name by default"),
    Column("court_id", "string", False, "court (base city) code"),
    Column("fiscal_year", "int", False, "federal fiscal year of the decision (Oct 1 - Sep 30)"),
    Column("decision_date", "date", True, "date of the merits decision"),
    Column("outcome", "string", False, "decision outcome", OUTCOMES),
    Column("granted", "bool", False, "outcome == 'grant'"),
    Column("removal_ordered", "bool", False, "outcome == 'removal'"),
    Column("case_type", "string", True, "case type code as in the source"),
    Column("nationality", "string", True, "nationality code as in the source"),
    Column("language", "string", True, "language code as in the source"),
    Column("gender", "string", True, "gender code as in the source"),
    Column("custody", "string", True, "D detained, R released, N never detained", CUSTODY_CODES),
    Column("detained", "bool", True, "custody == 'D' on the decided proceeding"),
    Column("represented", "bool", True, "respondent had a lawyer before the decision"),
    Column("juvenile", "bool", True, "respondent was a juvenile"),
    Column("asylum_application", "bool", True, "an asylum application was decided"),
    Column("asylum_decision", "string", True, "the asylum application's decision", ASYLUM_DECISIONS),
    Column("filed_date", "date", True, "date of the charging document"),
    Column("duration_days", "float", True, "filed_date to decision_date, in days"),
    Column("n_hearings", "int", True, "hearings held up to the decision"),
    Column("n_continuances", "int", True, "hearings adjourned for a continuance reason"),
    Column("in_absentia", "bool", True, "removal ordered in the respondent's absence"),
    Column("appealed", "bool", True, "the decision was appealed to the board"),
    Column("remanded", "bool", True, "the board remanded; null unless appealed and decided"),
)

# Columns of contract section 1 that a table may lack (a source without the information): typed
# and checked where present, never reported missing, and kept when a table is written.
OPTIONAL_DECISION_COLUMNS: tuple[Column, ...] = (
    Column("docket", "string", True, "special docket the case was on (MPP, family unit, ...); "
                                     "null for the ordinary docket"),
)

WORKLOAD_COLUMNS: tuple[Column, ...] = (
    Column("judge_id", "string", False, "judge code"),
    Column("completion_date", "date", True,
           "date of the completion; null where the source gives only the fiscal year"),
    Column("kind", "string", False, "merits or administrative", COMPLETION_KINDS),
    Column("case_type", "string", True, "case type code as in the source"),
)

_PANDAS_DTYPES = {
    "string": "string",
    "int": "Int64",
    "float": "Float64",
    "bool": "boolean",
    "date": "datetime64[s]",
}

FIRST_ROWS_SHOWN = 5


def column_names(columns: tuple[Column, ...] = DECISION_COLUMNS) -> list[str]:
    return [c.name for c in columns]


def _first_rows(mask: pd.Series) -> str:
    rows = list(np.flatnonzero(mask.to_numpy(dtype=bool))[:FIRST_ROWS_SHOWN])
    return ", ".join(str(r) for r in rows)


def _coerce_column(series: pd.Series, col: Column) -> tuple[pd.Series, pd.Series]:
    """Return the column in its canonical dtype and a mask of values that could not be read."""
    if str(series.dtype) == _PANDAS_DTYPES[col.kind]:  # already canonical: nothing to read
        return series, pd.Series(False, index=series.index)
    present = series.notna()
    if col.kind == "string":
        out = series.astype("string")
    elif col.kind == "int":
        num = pd.to_numeric(series, errors="coerce")
        bad_num = num.notna() & (num != np.floor(num.fillna(0)))
        out = num.where(~bad_num).astype("Float64").round().astype("Int64")
        return out, (present & out.isna()) | bad_num
    elif col.kind == "float":
        out = pd.to_numeric(series, errors="coerce").astype("Float64")
    elif col.kind == "bool":
        if pd.api.types.is_bool_dtype(series):
            out = series.astype("boolean")
        else:
            lowered = series.astype("string").str.strip().str.lower()
            mapping = {"true": True, "false": False, "1": True, "0": False, "1.0": True, "0.0": False}
            out = lowered.map(mapping).astype("boolean")
    elif col.kind == "date":
        out = pd.to_datetime(series, errors="coerce").astype("datetime64[s]")
    else:  # pragma: no cover - guarded by the column table
        raise ValueError(col.kind)
    return out, present & out.isna()


def coerce_decisions(frame: pd.DataFrame,
                     columns: tuple[Column, ...] = DECISION_COLUMNS + OPTIONAL_DECISION_COLUMNS):
    """Return a copy of ``frame`` with canonical dtypes, plus a dict of unreadable values.

    Extra columns are kept as they are. Missing columns are not added: ``validate`` reports
    them (optional columns are not reported).
    """
    out = frame.copy(deep=False)  # columns are replaced below, never written into
    unreadable: dict[str, pd.Series] = {}
    for col in columns:
        if col.name in out.columns:
            out[col.name], bad = _coerce_column(out[col.name], col)
            if bad.any():
                unreadable[col.name] = bad
    return out, unreadable


def kind_label(col: Column) -> str:
    """What a column holds, in words for messages ("whole numbers", "dates")."""
    return {"string": "text", "int": "whole numbers", "float": "numbers", "bool": "true/false",
            "date": "dates"}[col.kind]


def validate_table(frame: pd.DataFrame, columns: tuple[Column, ...]) -> list[str]:
    """Check a frame against a column table; return one line per problem (empty if fine)."""
    problems: list[str] = []
    missing = [c.name for c in columns if c.name not in frame.columns]
    if missing:
        problems.append(
            f"missing column(s) {', '.join(repr(m) for m in missing)}: expected every canonical "
            f"column; found columns {', '.join(map(repr, frame.columns))}"
        )
    raw = frame
    frame, unreadable = coerce_decisions(frame, columns)
    for col in columns:
        if col.name not in frame.columns:
            continue
        s = frame[col.name]
        if col.name in unreadable:
            bad = unreadable[col.name]
            example = raw[col.name][bad].iloc[0]
            problems.append(
                f"column '{col.name}': expected {kind_label(col)}, found {example!r} in "
                f"{int(bad.sum())} row(s) (first rows: {_first_rows(bad)})"
            )
            continue
        if not col.nullable and s.isna().any():
            bad = s.isna()
            problems.append(
                f"column '{col.name}': expected no missing values, found {int(bad.sum())} "
                f"missing (first rows: {_first_rows(bad)})"
            )
        if col.allowed is not None:
            bad = s.notna() & ~s.isin(col.allowed)
            if bad.any():
                problems.append(
                    f"column '{col.name}': expected one of {', '.join(col.allowed)}, found "
                    f"{s[bad].iloc[0]!r} in {int(bad.sum())} row(s) (first rows: {_first_rows(bad)})"
                )
    return problems


def validate_decisions(frame: pd.DataFrame) -> list[str]:
    """All problems of a decisions table: column types, allowed values and cross-column rules."""
    present = tuple(c for c in OPTIONAL_DECISION_COLUMNS if c.name in frame.columns)
    problems = validate_table(frame, DECISION_COLUMNS + present)
    if problems:
        # cross-column rules need readable columns; report the basic problems first
        return problems
    df, _ = coerce_decisions(frame)

    def rule(mask: pd.Series, message: str) -> None:
        mask = mask.fillna(False).astype(bool)
        if mask.any():
            problems.append(f"{message}: {int(mask.sum())} row(s) (first rows: {_first_rows(mask)})")

    dup = df["proceeding_id"].duplicated(keep=False)
    rule(dup, "column 'proceeding_id': expected unique values (one row per merits decision), "
              "found duplicates")
    rule(df["granted"] != (df["outcome"] == "grant"),
         "column 'granted': expected outcome == 'grant', found a disagreement")
    rule(df["removal_ordered"] != (df["outcome"] == "removal"),
         "column 'removal_ordered': expected outcome == 'removal', found a disagreement")
    fy_from_date = df["decision_date"].dt.year + (df["decision_date"].dt.month >= 10)
    rule(df["decision_date"].notna() & (fy_from_date != df["fiscal_year"]),
         "column 'fiscal_year': expected the fiscal year of decision_date (Oct 1 - Sep 30), "
         "found another year")
    rule(df["duration_days"] < 0, "column 'duration_days': expected >= 0, found negative values")
    rule(df["detained"].notna() & df["custody"].notna() & (df["detained"] != (df["custody"] == "D")),
         "column 'detained': expected custody == 'D', found a disagreement")
    rule(df["remanded"].notna() & (df["appealed"] != True),  # noqa: E712 - nullable boolean
         "column 'remanded': expected null unless appealed, found a value on a decision not "
         "appealed")
    rule(df["n_continuances"] > df["n_hearings"],
         "column 'n_continuances': expected at most n_hearings, found more")
    rule(df["n_hearings"] < 0, "column 'n_hearings': expected >= 0, found negative values")
    return problems


def validate_workload(frame: pd.DataFrame, decisions: pd.DataFrame | None = None) -> list[str]:
    """Problems of a judge-workload (completions) file; given the ``decisions`` it goes with,
    also that it holds a merits completion of every judge who decided (contract section 1:
    every completion by every judge), without which a judge's pace would read as zero."""
    problems = validate_table(frame, WORKLOAD_COLUMNS)
    if problems or decisions is None or "judge_id" not in decisions.columns:
        return problems
    merits = frame.loc[frame["kind"] == "merits", "judge_id"].dropna().unique()
    absent = sorted(set(map(str, decisions["judge_id"].dropna().unique())) - set(map(str, merits)))
    if absent:
        problems.append(
            f"column 'judge_id': expected every judge of the decisions table, found "
            f"{len(absent)} judge(s) without a merits completion in it "
            f"({', '.join(absent[:FIRST_ROWS_SHOWN])}{', ...' if len(absent) > FIRST_ROWS_SHOWN else ''})"
        )
    return problems


def canonical_dtypes(columns: tuple[Column, ...] = DECISION_COLUMNS) -> dict[str, str]:
    return {c.name: _PANDAS_DTYPES[c.kind] for c in columns}
