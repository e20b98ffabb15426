"""Features of contract section 3: quota pressure, policy timing, durations.

``build_frame`` turns the decisions table and the judge-workload file into the analysis frame.
Every feature that cannot be computed for a row is left null and the row is counted under a
reason in ``AnalysisFrame.excluded`` (the models then report what their samples leave out).

Definitions (defaults; each a config option):

* ``quota_shortfall`` (hundreds of cases): ``max(0, target * days / 365 - done) / 100`` where
  ``days`` = days since the later of Oct 1 and the judge's first completion in that fiscal
  year, plus one, and ``done`` = the judge's completions dated strictly before the decision in
  the same fiscal year. Completions are merits decisions (``features.completions: merits``) or
  all completions (``all``). Fiscal years that the data do not cover from their first day get
  no shortfall.
* ``pre_policy_gap`` (hundreds, per judge): ``max(0, target - mean completions per complete
  fiscal year of the intensity window) / 100``. A judge's fiscal year is complete when the
  judge completed a case within its first 30 days (or earlier) and within its last 30 days (or
  later), and the data cover it from its first day.
* ``post_policy``: decision_date in [policy.start, policy.end). A decision with only a fiscal
  year (no date) is placed by its fiscal year when the policy and window boundaries all fall on
  Oct 1, as the defaults do; otherwise it is left out as "no decision date".
* ``fiscal_month``: 1 = October ... 12 = September.
* ``log_duration`` = log((duration_days + 1) / 365); ``unrepresented`` = not represented.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from fairness_audit.config import AuditConfig

COMPLETE_YEAR_SLACK_DAYS = 30
_EPOCH = np.datetime64("1970-01-01", "D")


def fiscal_year_of(dates: pd.Series) -> pd.Series:
    return (dates.dt.year + (dates.dt.month >= 10)).astype("Int64")


def fiscal_year_start(fy) -> np.ndarray:
    """Day number (days since 1970-01-01) of Oct 1 opening each fiscal year."""
    fy = np.asarray(fy, dtype="int64")
    years = (fy - 1 - 1970).astype("datetime64[Y]")
    return ((years + np.timedelta64(9, "M")).astype("datetime64[D]") - _EPOCH).astype("int64")


def day_number(dates: pd.Series) -> np.ndarray:
    """Days since 1970-01-01 as float (NaN where missing)."""
    values = dates.to_numpy(dtype="datetime64[D]", na_value=np.datetime64("NaT"))
    out = (values - _EPOCH).astype("float64")
    out[np.isnat(values)] = np.nan
    return out


def to_day(date: dt.date) -> int:
    return int((np.datetime64(date, "D") - _EPOCH).astype("int64"))


@dataclass(frozen=True)
class Workload:
    """Completions that count toward the quota: judge codes, day numbers, fiscal years."""

    judge: np.ndarray  # object array of judge ids
    day: np.ndarray  # int64 day numbers
    source: str  # "judge_completions file" | "decisions table"
    kinds: str  # "merits" | "all"

    @functools.cached_property
    def first_day(self) -> pd.Series:
        """Each judge's first counted completion (day number); computed once, since every
        timing design asks for it (a group-by over millions of completions at national size)."""
        return pd.Series(self.day).groupby(self.judge).min()

    @functools.cached_property
    def gaps(self) -> dict[tuple, pd.Series]:
        """pre_policy_gap by its arguments: the placebo designs of every event study ask for
        the same few intensity windows."""
        return {}


def workload_from(decisions: pd.DataFrame, workload: pd.DataFrame | None,
                  completions: str) -> Workload:
    """The completions that count, from the workload file (or the decisions table without one)."""
    if workload is None:
        rows = decisions[decisions["decision_date"].notna()]
        return Workload(rows["judge_id"].astype(str).to_numpy(),
                        day_number(rows["decision_date"]).astype("int64"),
                        "decisions table", "merits")
    rows = workload if completions == "all" else workload[workload["kind"] == "merits"]
    rows = rows[rows["completion_date"].notna()]
    return Workload(rows["judge_id"].astype(str).to_numpy(),
                    day_number(rows["completion_date"]).astype("int64"),
                    "judge_completions file", completions)


def coverage_start_day(work: Workload, coverage_start: str | None) -> int:
    """First day the data cover: from the table's metadata, else the earliest completion."""
    if coverage_start:
        return to_day(dt.date.fromisoformat(str(coverage_start)[:10]))
    return int(work.day.min()) if len(work.day) else 0


def fiscal_year_of_day(day: np.ndarray) -> np.ndarray:
    dates = (day.astype("int64") + _EPOCH).astype("datetime64[D]")
    year = dates.astype("datetime64[Y]").astype("int64") + 1970
    month = (dates.astype("datetime64[M]").astype("int64") % 12) + 1
    return year + (month >= 10)


def quota_shortfall(judge: np.ndarray, day: np.ndarray, work: Workload, *, target: int,
                    covered_from: int) -> np.ndarray:
    """Shortfall from the pro-rated target at each decision, in hundreds of cases.

    ``judge``/``day`` describe the decisions (day may be NaN); returns NaN where the decision
    has no date or its fiscal year is not covered from its first day.
    """
    n = len(judge)
    out = np.full(n, np.nan)
    ok = ~np.isnan(day)
    if not ok.any():
        return out
    codes, uniques = pd.factorize(np.concatenate([work.judge, judge[ok]]))
    w_code, d_code = codes[: len(work.judge)], codes[len(work.judge):]
    d_day = day[ok].astype("int64")
    w_fy, d_fy = fiscal_year_of_day(work.day), fiscal_year_of_day(d_day)
    fy0 = min(int(w_fy.min()) if len(w_fy) else int(d_fy.min()), int(d_fy.min()))
    span = 400  # days in a fiscal year, with room; keys never collide across years
    w_key = (w_code * 200 + (w_fy - fy0)) * span
    d_key = (d_code * 200 + (d_fy - fy0)) * span
    fy_start = fiscal_year_start(d_fy)
    w_sorted = np.sort(w_key + (work.day - fiscal_year_start(w_fy)))
    d_offset = d_day - fy_start
    done = np.searchsorted(w_sorted, d_key + d_offset, "left") - np.searchsorted(w_sorted, d_key, "left")
    # first completion of the judge in the fiscal year (the decision itself if none is listed)
    first_idx = np.searchsorted(w_sorted, d_key, "left")
    has_first = (first_idx < len(w_sorted)) & (
        w_sorted[np.minimum(first_idx, len(w_sorted) - 1)] // span == d_key // span
    )
    first_offset = np.where(has_first, w_sorted[np.minimum(first_idx, len(w_sorted) - 1)] % span,
                            d_offset)
    first_offset = np.minimum(first_offset, d_offset)
    days = d_offset - first_offset + 1
    value = np.maximum(0.0, target * days / 365.0 - done) / 100.0
    value[fy_start < covered_from] = np.nan
    out[ok] = value
    return out


def pre_policy_gap(work: Workload, *, years: tuple[int, int], target: int,
                   covered_from: int, slack_days: int = COMPLETE_YEAR_SLACK_DAYS) -> pd.Series:
    """Per judge: shortfall of mean completions per complete fiscal year from the target."""
    key = (tuple(years), target, covered_from, slack_days)
    if key not in work.gaps:
        work.gaps[key] = _pre_policy_gap(work, years=years, target=target,
                                         covered_from=covered_from, slack_days=slack_days)
    return work.gaps[key].copy()


def _pre_policy_gap(work: Workload, *, years: tuple[int, int], target: int,
                    covered_from: int, slack_days: int) -> pd.Series:
    if len(work.day) == 0:
        return pd.Series(dtype="float64")
    frame = pd.DataFrame({"judge": work.judge, "day": work.day, "fy": fiscal_year_of_day(work.day)})
    span = frame.groupby("judge")["day"].agg(["min", "max"])
    counts = frame[frame["fy"].between(years[0], years[1])].groupby(["judge", "fy"]).size()
    gaps = {}
    for judge, (first, last) in span.iterrows():
        complete = []
        for fy in range(years[0], years[1] + 1):
            start = int(fiscal_year_start([fy])[0])
            end = int(fiscal_year_start([fy + 1])[0]) - 1
            if (start >= covered_from and first <= start + slack_days
                    and last >= end - slack_days):
                complete.append(int(counts.get((judge, fy), 0)))
        if complete:
            gaps[judge] = max(0.0, target - float(np.mean(complete))) / 100.0
    return pd.Series(gaps, dtype="float64").reindex(span.index)


def joined_on_or_after(work: Workload, day: int) -> set[str]:
    """Judges whose first counted completion is on or after ``day`` (e.g. hired after the policy)."""
    if len(work.day) == 0:
        return set()
    first = work.first_day
    return set(first.index[first.to_numpy() >= day].astype(str))


def _on_fiscal_boundaries(*days: int) -> bool:
    fy_starts = fiscal_year_start(fiscal_year_of_day(np.array(days, dtype="int64")))
    return bool(np.all(fy_starts == np.array(days)))


@dataclass(frozen=True)
class AnalysisFrame:
    """The decisions with their features; ``excluded`` counts rows each feature leaves null."""

    data: pd.DataFrame
    excluded: dict[str, dict[str, int]] = field(default_factory=dict)
    workload_source: str = "judge_completions file"
    completions: str = "merits"
    # the completions that count and the first day the data cover: designs that need another
    # intensity window (placebo policy dates) recompute pre_policy_gap from them
    workload: Workload | None = None
    covered_from: int | None = None


def _bool_float(s: pd.Series) -> pd.Series:
    return s.astype("Float64").astype("float64")


def build_frame(decisions: pd.DataFrame, workload: pd.DataFrame | None, config: AuditConfig,
                *, coverage_start: str | None = None) -> AnalysisFrame:
    """Add the features of contract section 3 to a (canonically typed) decisions table."""
    f = config.features
    df = decisions.copy()
    work = workload_from(decisions, workload, f.completions)
    covered = coverage_start_day(work, coverage_start)
    judge = df["judge_id"].astype(str).to_numpy()
    day = day_number(df["decision_date"])
    excluded: dict[str, Counter] = {}

    df["quota_shortfall"] = quota_shortfall(judge, day, work, target=f.quota_target,
                                            covered_from=covered)
    sf_null = df["quota_shortfall"].isna()
    no_date = np.isnan(day)
    excluded["quota_shortfall"] = Counter({
        "no decision date": int(no_date.sum()),
        "fiscal year not covered from its first day": int((sf_null & ~no_date).sum()),
    })

    gap = pre_policy_gap(work, years=tuple(f.intensity_window), target=f.quota_target,
                         covered_from=covered, slack_days=f.complete_year_slack_days)
    df["pre_policy_gap"] = df["judge_id"].astype(str).map(gap).astype("float64")
    joined_late = joined_on_or_after(work, to_day(config.policy.start))
    late_rows = df["judge_id"].astype(str).isin(joined_late) & df["pre_policy_gap"].isna()
    excluded["pre_policy_gap"] = Counter({
        "judge without a complete year in the intensity window":
            int((df["pre_policy_gap"].isna() & ~late_rows).sum()),
        "judge whose first completion is on or after the policy date": int(late_rows.sum()),
    })

    start, end = to_day(config.policy.start), to_day(config.policy.end)
    w0, w1 = to_day(config.window.start), to_day(config.window.end)
    # a decision known only by its fiscal year is placed by it when every boundary is an Oct 1
    # (the defaults are): extracts such as SDUT's give only the fiscal year
    fy = df["fiscal_year"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    by_year = no_date & ~np.isnan(fy) & _on_fiscal_boundaries(start, end, w0, w1)
    proxy = np.where(by_year, fiscal_year_start(np.nan_to_num(fy, nan=1970).astype("int64")), day)
    placed = ~np.isnan(proxy)
    post = np.where(placed, ((proxy >= start) & (proxy < end)).astype(float), np.nan)
    df["post_policy"] = post
    df["in_window"] = placed & (proxy >= w0) & (proxy < w1)
    excluded["window"] = Counter({"no decision date": int((~placed).sum()),
                                  "outside window": int((placed & ~df["in_window"]).sum())})

    month = df["decision_date"].dt.month
    df["fiscal_month"] = ((month - 10) % 12 + 1).astype("Int64")
    quarter = df["decision_date"].dt.year.astype("Int64").astype("string") + "Q" + \
        df["decision_date"].dt.quarter.astype("Int64").astype("string")
    df["quarter"] = quarter
    # court x calendar month fixed effects (contract section 5) absorb court-specific shocks
    df["calendar_month"] = df["decision_date"].dt.year.astype("Int64").astype("string") + "-" + \
        df["decision_date"].dt.month.astype("Int64").astype("string").str.zfill(2)
    for col in ("represented", "detained", "juvenile", "asylum_application", "granted",
                "removal_ordered", "in_absentia", "appealed", "remanded"):
        df[col] = _bool_float(df[col])
    df["unrepresented"] = 1.0 - df["represented"]
    df["log_duration"] = np.log((df["duration_days"].astype("float64") + 1.0) / 365.0)
    for col in ("n_hearings", "n_continuances"):
        df[col] = df[col].astype("Float64").astype("float64")
    return AnalysisFrame(
        df,
        {k: {r: n for r, n in v.items() if n} for k, v in excluded.items()},
        work.source,
        work.kinds,
        work,
        covered,
    )
