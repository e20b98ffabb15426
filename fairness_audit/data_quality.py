"""Where the data are thin: the audit's data-quality appendix (results.json ``data.quality``)
and the release's identity (``data.release``).

A verdict rests on the rows behind it. The appendix says, before any model is read:

* ``columns``: for each column of the decisions table the plan reads (:func:`plan_columns`),
  how many values are missing, overall and by court x fiscal year (``by_court_year``), since
  missing values that gather in some courts and years bias what those courts and years show;
* ``ingest``: the facts only the ingest sees, summarised from the ledger (orphans, values
  outside the codebook, impossible dates, values nulled by court and year), and
  ``not_available``: one sentence for each such fact the source cannot give;
* ``removed``: the rows each reason removed, at the ingest (the decisions' source table in the
  ledger) and in the audit (window and features), as one list.

``remanded`` is null unless the decision was appealed, and ``asylum_decision`` is null unless
an asylum application was decided (contract section 1): their missing values are counted only
among the rows they apply to (``CONDITIONAL``).

Everything here is counted with vectorised pandas: one ``isna`` per column and one
``bincount`` per column with missing values over court x year codes (a few seconds at
national size; docs/data-quality.md).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from fairness_audit.config import AnalysisSpec, AuditConfig
from fairness_audit.errors import TableError
from fairness_audit.models.design import SAMPLE_FILTERS
from fairness_audit.schema import DECISION_COLUMNS

# a column that is null by definition outside the rows named here (contract section 1)
CONDITIONAL: dict[str, str] = {"remanded": "appealed", "asylum_decision": "asylum_application"}

# the decisions-table columns each feature of the analysis frame is computed from
# (features.py: build_frame; analyses/timing.py: below_target and event time). A test checks
# this against build_frame by shuffling each column and seeing which features change.
_GAP = ("judge_id", "decision_date")  # with a workload file: its completions of each judge
DERIVED: dict[str, tuple[str, ...]] = {
    "quota_shortfall": ("judge_id", "decision_date"),
    "pre_policy_gap": _GAP,
    "below_target": _GAP,
    "post_policy": ("fiscal_year", "decision_date"),
    "in_window": ("fiscal_year", "decision_date"),
    "event_time": ("decision_date",),
    "fiscal_month": ("decision_date",),
    "quarter": ("decision_date",),
    "calendar_month": ("decision_date",),
    "unrepresented": ("represented",),
    "log_duration": ("duration_days",),
}
# columns every audit reads, whatever the plan: the window and quota pressure (build_frame),
# and the court and year this appendix counts by
BASE_COLUMNS = ("judge_id", "court_id", "fiscal_year", "decision_date")

# ledger keys that only an ingest can write (docs/ingest.md); each is present only when non-empty
INGEST_FACTS = ("orphans", "values_outside_codebook", "impossible_dates",
                "values_nulled_by_court_year", "values_unlisted")
OTHER_VALUES = "(other values)"
TOP = 3  # values or court-years shown per column in a summary

# the ledger entry that holds the decisions' source rows, by source
_SOURCE_TABLE = {"eoir": "B_TblProceeding", "simulation": "simulated_completions"}

_NOT_AVAILABLE: dict[str, tuple[str, ...]] = {
    "simulation": (
        "Orphans: a simulation draws decisions directly, without the linked tables of a release "
        "in which a proceeding can lack its case.",
        "Values outside the codebook: a simulation draws only valid codes.",
        "Values nulled by the ingest, by court and fiscal year: nothing was ingested; the "
        "missing values counted here are those of the table itself.",
        "Impossible dates in raw fields: a simulation draws only valid dates.",
        "Release identity (fingerprint, files, row counts): the data are not a release.",
    ),
    "table": (
        "Orphans: a mapped table is one file with one row per decision, without the linked "
        "tables of a release in which a proceeding can lack its case.",
        "Values outside the codebook: a mapped table has no codebook; the source values its "
        "mapping did not list are summarised instead (values_unlisted), when there were any.",
        "Values nulled by the ingest, by court and fiscal year: ingest table counts nulled "
        "values by column only (the ledger's values_nulled).",
        "Impossible dates in raw fields: ingest table counts unreadable dates with the other "
        "nulled values of their column (values_nulled), not apart.",
        "Shipped row counts: an extract ships none; its identity is the one file's size and "
        "SHA-256 (data.release).",
    ),
}
_UNKNOWN_SOURCE = (
    "The table's metadata names no known source (eoir, table or simulation): orphans, values "
    "outside the codebook, values nulled by court and fiscal year and impossible dates in raw "
    "fields are known only to an ingest, and are not available.",
)
_EOIR_OLD_INGEST = (
    "The ingest that wrote this table recorded neither the release's identity nor its "
    "data-quality facts (orphans, values outside the codebook, impossible dates, values nulled "
    "by court and fiscal year): their absence here does not mean there were none; ingest the "
    "release again to record them.",
)
_EOIR_NO_LEDGER = (
    "No ledger was found beside the table: the ingest's data-quality facts (orphans, values "
    "outside the codebook, impossible dates, values nulled by court and fiscal year) are not "
    "available.",
)


# --------------------------------------------------------------------------- the plan's columns
def _filter_columns(name: str) -> list[str]:
    """The frame columns a named sample filter reads, found by running it on a probe frame
    that records each column asked for (so that this list cannot drift from the filters)."""
    asked: list[str] = []

    class _Probe(dict):
        def __missing__(self, key: str) -> pd.Series:
            asked.append(key)
            return pd.Series([0.0])

    SAMPLE_FILTERS[name].keep(_Probe())
    return asked


def _split(names: Iterable[str], separator: str) -> list[str]:
    return [part for name in names for part in str(name).split(separator)]


def _analysis_names(spec: AnalysisSpec, config: AuditConfig) -> list[str]:
    """Frame columns an analysis of the plan reads: its outcome and those its options name,
    with the defaults of its kind."""
    from fairness_audit.analyses import judges, timing

    if spec.kind in ("event_study", "did"):
        defaults = timing.EVENT_STUDY_OPTIONS if spec.kind == "event_study" else timing.DID_OPTIONS
        # the timing designs start from the window and place each decision by its date
        opts = {**defaults, **spec.options}
        extra = ["in_window", "post_policy", "event_time", "judge_id",
                 *(["court_id"] if opts.get("hiring_class") else [])]
    elif spec.kind == "judge_variance":
        opts = {**judges.DEFAULTS, "controls": list(config.controls), **spec.options}
        extra = ["post_policy"]
    else:
        opts, extra = dict(spec.options), []
    names = [spec.outcome, *extra]
    for key in ("intensity", "court"):
        if isinstance(opts.get(key), str):
            names.append(opts[key])
    names += list(opts.get("controls") or ())
    names += _split(list(opts.get("fixed_effects") or ()) + list(opts.get("extra_fixed_effects") or ()),
                    "^")
    for name in opts.get("sample") or ():
        if name in SAMPLE_FILTERS:
            names += _filter_columns(name)
    return names


def plan_names(config: AuditConfig) -> set[str]:
    """The names of analysis-frame columns (decisions-table columns and features) that the
    models, analyses and group tables of ``config`` read, plus ``BASE_COLUMNS``."""
    names: list[str] = [*BASE_COLUMNS, config.inference.cluster]
    for spec in config.models.values():
        names += [spec.outcome, *_split(spec.terms, ":"), *_split(spec.fixed_effects, "^")]
        # an unknown filter is the model's error to report, not this appendix's
        for name in spec.sample:
            if name in SAMPLE_FILTERS:
                names += _filter_columns(name)
    for spec in config.analyses.values():
        names += _analysis_names(spec, config)
    grid = config.robustness_grid
    if grid is not None:  # the specification grid's fixed effects, samples and clusters
        names += [*_split((fe for effects in grid.fixed_effects for fe in effects), "^"),
                  *grid.cluster]
        names += [c for filters in grid.samples for name in filters for c in _filter_columns(name)]
    d = config.disparities
    names += [*d.outcomes, *d.continuous, *d.dimensions, *(p for pair in d.intersections for p in pair)]
    if d.adjusted:  # the adjusted gaps control for these
        names += [*config.controls, *_split(config.fixed_effects, "^")]
    return set(names)


def plan_columns(config: AuditConfig) -> tuple[str, ...]:
    """The columns of the decisions table an audit with ``config`` reads.

    The one place that answers "which columns does the audit use": the columns the models, the
    analyses and the group tables of the plan name (terms, outcomes, fixed effects, sample
    filters, options, dimensions), with each feature replaced by the columns it is computed
    from (``DERIVED``), plus the columns every audit reads (``BASE_COLUMNS``) and, for a column
    null by definition outside some rows, the column naming those rows (``CONDITIONAL``).

    Parameters
    ----------
    config
        The audit plan.

    Returns
    -------
    tuple of str
        Column names in the order of the contract's decisions table.

    Example
    -------
    >>> from fairness_audit.config import load_config
    >>> "represented" in plan_columns(load_config())
    True
    """
    decision = {c.name for c in DECISION_COLUMNS}
    used: set[str] = set()
    for name in plan_names(config):
        used.update(DERIVED.get(name, (name,) if name in decision else ()))
    used.update(CONDITIONAL[c] for c in list(used) if c in CONDITIONAL)
    return tuple(c.name for c in DECISION_COLUMNS if c.name in used)


# --------------------------------------------------------------------------- the result
@dataclass(frozen=True)
class DataQuality:
    """The data-quality appendix of one audit (results.json ``data.quality``).

    ``columns`` holds one record per column the plan reads ({column, applies_to, rows, missing,
    share}); ``by_court_year`` one record per court x fiscal year with decisions ({court_id,
    fiscal_year, n, missing: {column: n}} with only the columns missing there, and
    ``applicable: {column: rows}`` for the ``CONDITIONAL`` columns with missing values);
    ``ingest`` the ledger's facts summarised; ``removed`` {stage, reason, n} records.
    """

    source: str | None
    not_available: tuple[str, ...]
    rows: int
    columns: tuple[dict[str, Any], ...]
    by_court_year: tuple[dict[str, Any], ...]
    ingest: dict[str, Any]
    removed: tuple[dict[str, Any], ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict, as results.json holds it."""
        out = dataclasses.asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}


def data_quality(decisions: pd.DataFrame, config: AuditConfig, *, ledger: dict[str, Any],
                 metadata: dict[str, Any], excluded: dict[str, dict[str, int]],
                 ledger_path: str = "ledger") -> DataQuality:
    """Count what is missing in the columns the plan reads and summarise what the ingest found.

    Parameters
    ----------
    decisions
        The decisions table with canonical dtypes (``schema.coerce_decisions``), validated.
    config
        The audit plan; it decides which columns are counted (:func:`plan_columns`).
    ledger
        The ledger found beside the table (``{}`` when there is none).
    metadata
        The table's metadata (``source``, ``input``).
    excluded
        The rows each feature and the window left out (``AnalysisFrame.excluded``).
    ledger_path
        How error messages name the ledger.

    Returns
    -------
    DataQuality

    Raises
    ------
    TableError
        A ledger entry holds an ingest fact of another shape than docs/ingest.md gives.

    Example
    -------
    >>> quality = data_quality(decisions, config, ledger=data.ledger,  # doctest: +SKIP
    ...                        metadata=data.metadata, excluded=frame.excluded)
    >>> quality.to_dict()["columns"][0]  # doctest: +SKIP
    {'column': 'judge_id', 'applies_to': None, 'rows': 1200, 'missing': 0, 'share': 0.0}
    """
    source = metadata.get("source")
    columns, cells = missing_values(decisions, plan_columns(config))
    table = decisions_source_table(ledger, metadata, len(decisions))
    # a feature's exclusions matter only when the plan reads the feature
    names = plan_names(config) | {"window"}
    excluded = {k: v for k, v in excluded.items() if k in names}
    return DataQuality(
        source=source,
        not_available=not_available(source, ledger, metadata),
        rows=int(len(decisions)),
        columns=tuple(columns),
        by_court_year=tuple(cells),
        ingest={"decisions_table": table, "tables": summarise_ingest(ledger, ledger_path)},
        removed=tuple(removed_rows(ledger, table, excluded)),
    )


# --------------------------------------------------------------------------- missing values
def missing_values(decisions: pd.DataFrame, columns: Iterable[str]
                   ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Missing values of ``columns``: one record per column, and one per court x fiscal year.

    A ``CONDITIONAL`` column counts its missing values (and its rows) only where its condition
    is true. Cells are sorted by court and year; a cell lists only the columns missing in it.
    """
    court, courts = pd.factorize(decisions["court_id"], sort=True)
    year, years = pd.factorize(decisions["fiscal_year"], sort=True)
    # one code per court x year: every count below is a bincount over it
    cell = court.astype(np.int64) * max(len(years), 1) + year
    n_cells = len(courts) * len(years)
    cell_n = np.bincount(cell, minlength=n_cells)
    records: list[dict[str, Any]] = []
    by_cell: dict[str, np.ndarray] = {}
    applicable: dict[str, np.ndarray] = {}
    for name in columns:
        missing = decisions[name].isna().to_numpy()
        condition = CONDITIONAL.get(name)
        rows = len(decisions)
        if condition is not None:
            applies = decisions[condition].eq(True).fillna(False).to_numpy(dtype=bool)
            missing = missing & applies
            rows = int(applies.sum())
        n = int(missing.sum())
        records.append({"column": name, "applies_to": condition, "rows": int(rows), "missing": n,
                        "share": n / rows if rows else None})
        if n:
            by_cell[name] = np.bincount(cell[missing], minlength=n_cells)
            if condition is not None:
                applicable[name] = np.bincount(cell[applies], minlength=n_cells)
    cells = []
    for code in np.flatnonzero(cell_n):
        entry: dict[str, Any] = {
            "court_id": str(courts[code // max(len(years), 1)]),
            "fiscal_year": int(years[code % max(len(years), 1)]),
            "n": int(cell_n[code]),
            "missing": {c: int(v[code]) for c, v in by_cell.items() if v[code]},
        }
        if applicable:
            entry["applicable"] = {c: int(v[code]) for c, v in applicable.items()}
        cells.append(entry)
    return records, cells


# --------------------------------------------------------------------------- the ingest's facts
def decisions_source_table(ledger: dict[str, Any], metadata: dict[str, Any],
                           rows: int) -> str | None:
    """The ledger entry whose rows became the decisions: the source's own table
    (B_TblProceeding, the mapped file, the simulated completions), else the one entry whose
    ``used`` equals the number of decisions; None if neither is found."""
    source = metadata.get("source")
    known = _SOURCE_TABLE.get(source) if source != "table" else \
        (metadata.get("input") or {}).get("file")
    if known in ledger:
        return known
    matching = [name for name, entry in ledger.items()
                if isinstance(entry, dict) and entry.get("used") == rows]
    return matching[0] if len(matching) == 1 else None


def _shape_error(where: str, expected: str, found: Any) -> TableError:
    text = repr(found)
    return TableError(f"{where}: expected {expected}, found "
                      f"{text if len(text) <= 60 else text[:57] + '...'}")


def _counts(value: Any, where: str) -> dict[str, int]:
    if not isinstance(value, dict) or not all(
            isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in value.values()):
        raise _shape_error(where, "a mapping of names to counts", value)
    return {str(k): int(n) for k, n in value.items()}


def _values_summary(value: Any, where: str) -> dict[str, Any]:
    """{column: {value: n}} -> {column: {n, distinct, top: [{value, n}]}}: the total, the number
    of distinct values listed, and the most frequent ones."""
    if not isinstance(value, dict):
        raise _shape_error(where, "a mapping of columns to {value: count}", value)
    out = {}
    for column, counts in sorted(value.items()):
        counts = _counts(counts, f"{where}.{column}")
        listed = sorted(((v, n) for v, n in counts.items() if v != OTHER_VALUES),
                        key=lambda vn: (-vn[1], vn[0]))
        out[column] = {"n": sum(counts.values()), "distinct": len(listed),
                       "top": [{"value": v, "n": n} for v, n in listed[:TOP]]}
    return out


def _court_year_summary(value: Any, where: str) -> dict[str, Any]:
    """[{column, court_id, fiscal_year, n}] -> {column: {n, court_years, largest: [...]}}:
    the total, the number of court x years with nulled values, and where most were nulled."""
    if not isinstance(value, list):
        raise _shape_error(where, "a list of {column, court_id, fiscal_year, n}", value)
    by_column: dict[str, list[dict[str, Any]]] = {}
    for i, row in enumerate(value):
        if not (isinstance(row, dict) and {"column", "court_id", "fiscal_year", "n"} <= set(row)
                and isinstance(row["n"], int) and row["n"] >= 0):
            raise _shape_error(f"{where}[{i}]", "{column, court_id, fiscal_year, n}", row)
        by_column.setdefault(str(row["column"]), []).append(row)
    out = {}
    for column, rows in sorted(by_column.items()):
        largest = sorted(rows, key=lambda r: (-r["n"], str(r["court_id"]), str(r["fiscal_year"])))
        out[column] = {
            "n": int(sum(r["n"] for r in rows)),
            "court_years": len({(str(r["court_id"]), str(r["fiscal_year"])) for r in rows}),
            "largest": [{"court_id": r["court_id"], "fiscal_year": r["fiscal_year"], "n": int(r["n"])}
                        for r in largest[:TOP]],
        }
    return out


def summarise_ingest(ledger: dict[str, Any], ledger_path: str = "ledger") -> dict[str, Any]:
    """The ingest's facts of every ledger entry that has any, summarised (results.json already
    holds the whole ledger under ``data.ingest``: the long lists are not copied twice).

    Orphans and impossible dates are copied ({description or column: n}); values outside the
    codebook (or not listed by a mapping) and values nulled by court and year are summarised by
    column: the total, how many values or court x years, and the largest few.

    Raises
    ------
    TableError
        A fact of another shape than docs/ingest.md gives, named by ledger file, table and key.
    """
    out: dict[str, Any] = {}
    for table, entry in sorted(ledger.items()):
        if not isinstance(entry, dict):
            continue
        facts: dict[str, Any] = {}
        where = f"{ledger_path}: table '{table}', key"
        for key in ("orphans", "impossible_dates"):
            if entry.get(key):
                facts[key] = _counts(entry[key], f"{where} '{key}'")
        for key in ("values_outside_codebook", "values_unlisted"):
            if entry.get(key):
                facts[key] = _values_summary(entry[key], f"{where} '{key}'")
        if entry.get("values_nulled_by_court_year"):
            facts["values_nulled_by_court_year"] = _court_year_summary(
                entry["values_nulled_by_court_year"], f"{where} 'values_nulled_by_court_year'")
        if facts:
            out[table] = facts
    return out


def not_available(source: str | None, ledger: dict[str, Any],
                  metadata: dict[str, Any]) -> tuple[str, ...]:
    """One sentence for each fact of the appendix the source cannot give."""
    if source in _NOT_AVAILABLE:
        return _NOT_AVAILABLE[source]
    if source != "eoir":
        return _UNKNOWN_SOURCE
    if not ledger:
        return _EOIR_NO_LEDGER
    recorded = "release" in metadata or any(
        key in entry for entry in ledger.values() if isinstance(entry, dict) for key in INGEST_FACTS)
    return () if recorded else _EOIR_OLD_INGEST


def removed_rows(ledger: dict[str, Any], table: str | None,
                 excluded: dict[str, dict[str, int]]) -> list[dict[str, Any]]:
    """Rows removed, by stage and reason: the decisions' source table in the ledger (every
    reason it set rows aside for), then the audit's window and features (a feature's rows are
    left out only of the analyses that use it, so the stages overlap and do not add up)."""
    out = []
    if table is not None:
        set_aside = ledger[table].get("set_aside") or {}
        for reason, n in sorted(set_aside.items(), key=lambda rn: (-int(rn[1]), rn[0])):
            out.append({"stage": f"ledger: {table}", "reason": str(reason), "n": int(n)})
    # the window first: it applies to every analysis
    for feature, reasons in sorted(excluded.items(), key=lambda fr: fr[0] != "window"):
        stage = "audit: analysis window" if feature == "window" else f"audit: {feature}"
        for reason, n in sorted(reasons.items(), key=lambda rn: (-int(rn[1]), rn[0])):
            if n:
                out.append({"stage": stage, "reason": str(reason), "n": int(n)})
    return out


# --------------------------------------------------------------------------- the release
def release_of(metadata: dict[str, Any], table: str = "decisions table") -> dict[str, Any] | None:
    """results.json ``data.release``: the metadata's ``release`` entry as the ingest wrote it
    (fingerprint, zip, files, latest_date, row_counts), with ``judge_attribution`` beside its
    keys when the metadata has it; None when the metadata has neither (a simulation, a mapped
    table, an older ingest).

    Raises
    ------
    TableError
        ``release`` or ``judge_attribution`` is not a mapping.
    """
    release, attribution = metadata.get("release"), metadata.get("judge_attribution")
    if release is None and attribution is None:
        return None
    for key, value in (("release", release), ("judge_attribution", attribution)):
        if value is not None and not isinstance(value, dict):
            raise _shape_error(f"{table}: metadata key '{key}'", "a mapping", value)
    out = dict(release or {})
    if attribution is not None:
        out["judge_attribution"] = attribution
    return out
