"""TRAC-comparable judge tables built from a decisions table (``judges --rules trac``).

TRAC's judge reports (judge-report FAQ, https://trac.syr.edu/immigration/reports/judgefaq.html)
follow published rules, applied here to the rows of a decisions table (contract section 1):

* a decision counts when the judge recorded a grant or a denial of the asylum application:
  ``asylum_decision`` grant or deny; ``other`` (abandoned, withdrawn, ...) and null (no asylum
  application decided) are not counted;
* the period is a range of fiscal years (default: every year of the table);
* a judge has a row for each court (base city) in which they decided enough asylum cases over
  the period: one row per judge x court, shown with at least ``min_decisions`` (TRAC: 100);
* a yearly rate is shown only for a year with at least ``min_yearly`` decisions (TRAC: 25).

Every row read is either kept (a grant or a denial in the period) or left out under the first
reason that applies, in this order: missing judge_id, missing court_id, missing fiscal_year,
outside the period, asylum_decision null, asylum_decision other. The kept rows make the judge x
court rows, each shown or hidden by ``min_decisions``.

The table written has the columns of TRAC's FY2012-2017 CSV: imm_st, imm_ct, judge, decisions,
per_grants, per_denials, with the percentages rounded half up to one decimal. ``imm_ct`` is the
court's name from ``<stem>.lookups.json`` (key ``court``) when it names the court, else the
court code (with the code in brackets when two codes share a name, so that ``imm_ct`` still
identifies one court); ``imm_st`` is the court's state where the lookup gives one (an entry
``{"name": ..., "state": ...}``), else empty. ``judge`` is the judge code. The counts themselves
(:attr:`JudgeRates.counts`) are exact, and are what the consistency analysis uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from fairness_audit.errors import NotEstimable, TableError
from fairness_audit.schema import ASYLUM_DECISIONS

Rules = Literal["trac", "all"]
RULES: tuple[str, ...] = ("trac", "all")
# the thresholds each rule set implies unless given: TRAC's published ones, or none at all
RULE_DEFAULTS: dict[str, dict[str, int]] = {
    "trac": {"min_decisions": 100, "min_yearly": 25},
    "all": {"min_decisions": 0, "min_yearly": 0},
}
COLUMNS = ("judge_id", "court_id", "fiscal_year", "asylum_decision")
TRAC_COLUMNS = ("imm_st", "imm_ct", "judge", "decisions", "per_grants", "per_denials")
BY_YEAR_COLUMNS = ("imm_st", "imm_ct", "judge", "fiscal_year", "decisions", "per_grants",
                   "per_denials", "rate_note")
# why a row is not counted, in the order the reasons are tried (a row counts under the first)
REASONS = ("missing judge_id", "missing court_id", "missing fiscal_year", "outside the period",
           "asylum_decision null (no asylum application decided)",
           "asylum_decision other (e.g. abandoned, withdrawn)")
FAQ = "https://trac.syr.edu/immigration/reports/judgefaq.html"


@dataclass(frozen=True)
class TracRules:
    """Which rows count and which judges and years are shown.

    Parameters
    ----------
    rules
        ``trac`` (TRAC's thresholds: 100 decisions per judge x court, 25 per year) or ``all``
        (no thresholds: every judge x court with a grant or denial, every year's rate). Only the
        thresholds' defaults differ; a decision counts by the same rule under both.
    from_fy, to_fy
        First and last fiscal year of the period (inclusive); None: the table's own.
    min_decisions, min_yearly
        The thresholds; None: the rule set's default (``RULE_DEFAULTS``).

    Raises
    ------
    TableError
        An unknown rule set, a negative threshold, or ``from_fy`` after ``to_fy``.

    Example
    -------
    >>> TracRules(from_fy=2019, to_fy=2021).min_decisions
    100
    """

    rules: Rules = "trac"
    from_fy: int | None = None
    to_fy: int | None = None
    min_decisions: int | None = None
    min_yearly: int | None = None

    def __post_init__(self) -> None:
        if self.rules not in RULES:
            raise TableError(f"--rules '{self.rules}' is not known; expected one of {list(RULES)}")
        for name in ("min_decisions", "min_yearly"):
            value = getattr(self, name)
            if value is None:
                object.__setattr__(self, name, RULE_DEFAULTS[self.rules][name])
            elif value < 0:
                raise TableError(f"--{name.replace('_', '-')} must be 0 or more; found {value}")
        if self.from_fy is not None and self.to_fy is not None and self.from_fy > self.to_fy:
            raise TableError(f"--from-fy {self.from_fy} is after --to-fy {self.to_fy}; expected "
                             "the first fiscal year of the period, then the last")

    def to_dict(self) -> dict[str, Any]:
        return {"rules": self.rules, "from_fy": self.from_fy, "to_fy": self.to_fy,
                "min_decisions": self.min_decisions, "min_yearly": self.min_yearly}


@dataclass(frozen=True)
class JudgeRates:
    """Judge x court counts under :class:`TracRules`, the TRAC-layout tables and the ledger.

    ``counts``: every judge x court with a kept decision: court_id, imm_st, imm_ct, judge,
    grants, denials, decisions (= grants + denials), shown. ``trac_table``: the shown rows in
    TRAC's layout. ``by_year``: each shown judge x court's years with a kept decision, rates
    blank (and ``rate_note`` saying why) below ``min_yearly``. ``ledger``: rows read, kept and
    left out by reason; judge x court rows and judge-years shown and hidden.
    """

    counts: pd.DataFrame
    trac_table: pd.DataFrame
    by_year: pd.DataFrame
    ledger: dict[str, Any]
    rules: TracRules
    period: tuple[int, int]
    court_names: str = ""

    def judge_table(self) -> pd.DataFrame:
        """The shown rows as the consistency analysis reads a published table (judge, court,
        decisions, grants, denials, other_relief, n, rate), with the exact counts."""
        shown = self.counts[self.counts["shown"]]
        table = pd.DataFrame({
            "judge": shown["judge"].to_numpy(), "court": shown["imm_ct"].to_numpy(),
            "decisions": shown["decisions"].to_numpy(), "grants": shown["grants"].to_numpy(),
            "denials": shown["denials"].to_numpy(), "other_relief": 0})
        table["n"] = table["grants"] + table["denials"]
        table["rate"] = table["grants"] / table["n"]
        return table


def percent_1dp(count: np.ndarray | pd.Series, total: np.ndarray | pd.Series) -> np.ndarray:
    """100 x count / total rounded half up to one decimal, in exact integer arithmetic (so
    that a rate on a rounding boundary never depends on floating point).

    Example
    -------
    >>> percent_1dp(np.array([1, 2]), np.array([8, 3])).tolist()  # 12.5, 66.666...
    [12.5, 66.7]
    """
    count = np.asarray(count, dtype=np.int64)
    total = np.asarray(total, dtype=np.int64)
    # round(1000 c / t) half up = floor((2000 c + t) / (2 t))
    return ((2000 * count + total) // (2 * total)) / 10.0


def read_decision_counts(path: str | Path) -> pd.DataFrame:
    """The columns TRAC's rules need from a decisions table (``.parquet``): judge_id,
    court_id, fiscal_year, asylum_decision. Only those columns are read.

    Raises
    ------
    TableError
        The file is missing or not a parquet table, or lacks one of the columns.
    """
    path = Path(path)
    if not path.exists():
        raise TableError(f"{path}: file not found")
    try:
        names = pq.read_schema(path).names
    except Exception as exc:  # pyarrow raises several types for unreadable files
        raise TableError(f"{path}: expected a parquet decisions table, could not read it "
                         f"({exc})") from None
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        raise TableError(f"{path}: expected a decisions table with columns {list(COLUMNS)} "
                         f"(contract section 1); missing {missing}")
    return pq.read_table(path, columns=list(COLUMNS)).to_pandas()


def court_labels(lookups: Mapping[str, Any] | None, source: str = "lookups") -> dict[str, tuple[str, str]]:
    """Court code -> (name, state) from a ``lookups.json`` (key ``court``): an entry is the
    court's name, or an object with ``name`` and, optionally, ``state``.

    Raises
    ------
    TableError
        ``court`` is not an object of entries, or an entry is neither text nor such an object.
    """
    if not lookups or "court" not in lookups:
        return {}
    courts = lookups["court"]
    if not isinstance(courts, Mapping):
        raise TableError(f"{source}: key 'court' should map court codes to names; found "
                         f"{type(courts).__name__}")
    out: dict[str, tuple[str, str]] = {}
    for code, entry in courts.items():
        if isinstance(entry, str):
            out[str(code)] = (entry.strip(), "")
        elif isinstance(entry, Mapping):
            out[str(code)] = (str(entry.get("name") or "").strip(),
                              str(entry.get("state") or "").strip())
        else:
            raise TableError(f"{source}: court '{code}': expected a name or an object with "
                             f"'name' and 'state'; found {entry!r}")
    return out


def _clean_codes(values: pd.Series) -> pd.Series:
    text = values.astype("string").str.strip()
    return text.mask(text == "")


def _labels(codes: pd.Index, courts: Mapping[str, tuple[str, str]]) -> pd.DataFrame:
    """imm_ct and imm_st of each court code; a name shared by several codes gets the code
    in brackets, so that imm_ct names one court (the unit of the analysis)."""
    labels = pd.DataFrame({"court_id": codes.astype(str)})
    labels["imm_ct"] = [courts.get(c, ("", ""))[0] or c for c in labels["court_id"]]
    labels["imm_st"] = [courts.get(c, ("", ""))[1] for c in labels["court_id"]]
    shared = labels["imm_ct"].duplicated(keep=False)
    labels.loc[shared, "imm_ct"] = labels.loc[shared, "imm_ct"] + " (" + labels.loc[shared, "court_id"] + ")"
    return labels


def trac_rates(decisions: pd.DataFrame, *, rules: TracRules | None = None,
               courts: Mapping[str, tuple[str, str]] | None = None, source: str = "",
               court_names: str = "") -> JudgeRates:
    """Apply TRAC's rules (module docstring) to the rows of a decisions table.

    Parameters
    ----------
    decisions
        Rows with judge_id, court_id, fiscal_year and asylum_decision (other columns ignored).
    rules
        The period and thresholds; default ``TracRules()`` (TRAC's).
    courts
        Court code -> (name, state), e.g. from :func:`court_labels`; codes not in it are
        shown as themselves.
    source
        The table's name, for messages.
    court_names
        Where the court names came from, for the summary.

    Returns
    -------
    JudgeRates

    Raises
    ------
    NotEstimable
        ``asylum_decision`` is null in every row: TRAC's rules count its grants and denials.
    TableError
        A column holds values the contract does not allow, or no decision is kept, or no judge
        x court reaches ``min_decisions``.

    Example
    -------
    >>> rates = trac_rates(frame, rules=TracRules(from_fy=2019))  # doctest: +SKIP
    >>> rates.trac_table.head()  # doctest: +SKIP
    """
    rules = rules or TracRules()
    courts = courts or {}
    where = f"{source}: " if source else ""
    n_read = len(decisions)
    decision = decisions["asylum_decision"].astype("string").str.strip()
    if n_read and decision.isna().all():
        raise NotEstimable("asylum_decision", f"{where}the column is null in all {n_read:,} rows; "
                           "TRAC's rules count the asylum application's grants and denials "
                           "(asylum_decision grant / deny), so they need it")
    unknown = decision.dropna()[~decision.dropna().isin(ASYLUM_DECISIONS)]
    if len(unknown):
        raise TableError(f"{where}column 'asylum_decision' must be one of {list(ASYLUM_DECISIONS)} "
                         f"or null; found {sorted(unknown.unique().tolist())[:5]}")
    fy_raw = decisions["fiscal_year"]
    if not (pd.api.types.is_integer_dtype(fy_raw) or pd.api.types.is_float_dtype(fy_raw)
            or fy_raw.isna().all()):
        raise TableError(f"{where}column 'fiscal_year' must be an integer year; found dtype "
                         f"{fy_raw.dtype}")
    fy = pd.array(fy_raw, dtype="Float64")
    if ((fy.dropna() % 1) != 0).any():
        raise TableError(f"{where}column 'fiscal_year' must be whole years; found "
                         f"{sorted(set(fy.dropna()[(fy.dropna() % 1) != 0].tolist()))[:5]}")
    fy = pd.Series(fy, index=decisions.index).astype("Int64")
    judge = _clean_codes(decisions["judge_id"])
    court = _clean_codes(decisions["court_id"])

    years = fy.dropna()
    first = rules.from_fy if rules.from_fy is not None else (int(years.min()) if len(years) else 0)
    last = rules.to_fy if rules.to_fy is not None else (int(years.max()) if len(years) else 0)
    if len(years) and first > last:  # one bound given, beyond the table's other end
        raise TableError(f"{where}the period FY{first}-FY{last} is empty: --from-fy must not be "
                         f"after --to-fy or the table's last fiscal year, nor --to-fy before "
                         f"--from-fy or the table's first (the table has FY{int(years.min())}-"
                         f"FY{int(years.max())})")
    conditions = [judge.isna(), court.isna(), fy.isna(), ~fy.between(first, last),
                  decision.isna(), decision == "other"]
    reason = np.select([c.fillna(False).to_numpy(dtype=bool) for c in conditions],
                       list(range(len(REASONS))), default=-1)
    kept = reason == -1
    left_out = {r: int((reason == i).sum()) for i, r in enumerate(REASONS)}
    if not kept.any():
        raise TableError(f"{where}no asylum grant or denial to count in FY{first}-FY{last}: of "
                         f"{n_read:,} rows, " + ", ".join(f"{n:,} {r}" for r, n in left_out.items()
                                                         if n) + "; widen --from-fy/--to-fy")

    rows = pd.DataFrame({"judge": judge[kept].to_numpy(), "court_id": court[kept].to_numpy(),
                         "fiscal_year": fy[kept].to_numpy(dtype=np.int64),
                         "grants": (decision[kept] == "grant").to_numpy(dtype=np.int64),
                         "denials": (decision[kept] == "deny").to_numpy(dtype=np.int64)})
    labels = _labels(pd.Index(sorted(rows["court_id"].unique())), courts)
    counts = (rows.groupby(["judge", "court_id"], sort=True)[["grants", "denials"]].sum()
              .reset_index().merge(labels, on="court_id", how="left"))
    counts["decisions"] = counts["grants"] + counts["denials"]
    counts["shown"] = counts["decisions"] >= rules.min_decisions
    counts = counts.sort_values(["imm_ct", "judge"], kind="stable").reset_index(drop=True)
    if not counts["shown"].any():
        raise TableError(f"{where}no judge x court has at least {rules.min_decisions} asylum "
                         f"grants + denials in FY{first}-FY{last} (the most is "
                         f"{int(counts['decisions'].max())}); lower --min-decisions or widen the "
                         "period")
    shown = counts[counts["shown"]]
    trac = shown.assign(per_grants=percent_1dp(shown["grants"], shown["decisions"]),
                        per_denials=percent_1dp(shown["denials"], shown["decisions"]))
    trac_table = trac[list(TRAC_COLUMNS)].reset_index(drop=True)

    yearly = (rows.groupby(["judge", "court_id", "fiscal_year"], sort=True)[["grants", "denials"]]
              .sum().reset_index())
    yearly["decisions"] = yearly["grants"] + yearly["denials"]
    yearly = yearly.merge(shown[["judge", "court_id", "imm_st", "imm_ct"]],
                          on=["judge", "court_id"], how="left", indicator=True)
    years_of_shown = yearly["_merge"] == "both"
    by_year = yearly[years_of_shown].copy()
    rated = by_year["decisions"] >= max(rules.min_yearly, 1)
    by_year["per_grants"] = np.where(rated, percent_1dp(by_year["grants"], by_year["decisions"]),
                                     np.nan)
    by_year["per_denials"] = np.where(rated, percent_1dp(by_year["denials"], by_year["decisions"]),
                                      np.nan)
    by_year["rate_note"] = np.where(
        rated, "", f"rate not shown: fewer than {rules.min_yearly} decisions this year")
    by_year = (by_year.sort_values(["imm_ct", "judge", "fiscal_year"], kind="stable")
               [list(BY_YEAR_COLUMNS)].reset_index(drop=True))

    hidden = counts[~counts["shown"]]
    ledger = {
        "rows_read": n_read,
        "kept": int(kept.sum()),
        "grants": int(rows["grants"].sum()),
        "denials": int(rows["denials"].sum()),
        "left_out": left_out,
        "judge_courts": {
            "with_a_decision": int(len(counts)),
            "shown": int(len(shown)),
            f"hidden: fewer than {rules.min_decisions} decisions": int(len(hidden)),
            "decisions_shown": int(shown["decisions"].sum()),
            "decisions_hidden": int(hidden["decisions"].sum()),
        },
        "judge_years_of_shown_rows": {
            "with_a_decision": int(len(by_year)),
            "rate_shown": int(rated.sum()),
            f"rate not shown: fewer than {rules.min_yearly} decisions": int((~rated).sum()),
        },
    }
    # every row is kept or left out for one reason: the counts must add up
    assert ledger["kept"] + sum(left_out.values()) == n_read, ledger
    assert ledger["kept"] == int(counts["decisions"].sum()), ledger
    return JudgeRates(counts, trac_table, by_year, ledger, rules, (first, last), court_names)
