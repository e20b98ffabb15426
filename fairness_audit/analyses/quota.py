"""The quota's first stage and its dose response: H1's evidence that the quota moved the pace
of the judges it pressed, and how the duration change grows with the pressure.

Two registered kinds (docs/timing.md, sections "First stage" and "Dose response"):

``first_stage``
    Did the judges behind the target before the policy complete more cases after it? The unit
    is a judge x calendar quarter: the judge's completions in the quarter, counted as the plan
    counts them for ``pre_policy_gap`` (``features.completions``: merits decisions of the
    workload file, or every completion). Each judge contributes the quarters of the analysis
    window from the first to the last quarter in which the judge completed a case (the active
    spell); a quarter of the spell without a completion is a 0, a quarter outside it is no row.
    ``completions ~ sum_{k != ref} event_time[k]:pre_policy_gap | judge_id + court_id^quarter``,
    the pooled difference-in-differences ``post_policy:pre_policy_gap`` (completions per quarter
    per 100 cases of pre-policy gap) and the joint pre-trend test, errors clustered by judge.
``dose_response``
    H1's event study by bins of ``pre_policy_gap``, each against the judges at or above the
    target before the policy (gap 0): ``event_time[k]:gap_bin[b]`` for every bin ``b`` and the
    pooled ``post_policy:gap_bin[b]``, with H1's event-study fixed effects and clustering. The
    bins are quantile bins of the positive gaps of the judges in the sample (default terciles)
    or the plan's edges; the edges used are recorded in results.json. Under parallel trends
    each bin's coefficient is the average effect on the judges of that bin (ATT(d)); comparing
    bins with one another needs the stronger assumption that judges of every dose would have
    responded alike to the same dose (Callaway, Goodman-Bacon & Sant'Anna 2024,
    "Difference-in-differences with a continuous treatment").

Both reuse the event-study machinery of ``analyses/timing.py`` (options, samples, event
quarters, series, the jackknife fits on cell means, the pre-trend test).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from fairness_audit.analyses.timing import (
    DesignOptions,
    DesignSample,
    design_options,
    design_spec,
    event_sample,
    event_series,
    event_terms,
    fit_sample,
    judge_counts,
    model_entry,
    narrow_frame,
    pre_policy_terms,
    pretrend_check,
    term_estimate,
    wald_test,
)
from fairness_audit.config import AnalysisSpec, AuditConfig, ModelSpec
from fairness_audit.errors import AuditError, ConfigError, NotEstimable
from fairness_audit.features import AnalysisFrame, joined_on_or_after, pre_policy_gap, to_day
from fairness_audit.hypotheses import AnalysisOutput, Estimate, register_analysis, scale_of
from fairness_audit.models.design import build_design

COMPLETIONS = "completions"  # the first stage's outcome: a judge's completions in a quarter
FIRST_STAGE_SCALE = "completions per quarter"
PANEL_UNIT = "judge-quarters"  # what one row of the first stage's panel is (Design.unit)
# the columns of the judge x quarter panel a fixed effect of the first stage may name
PANEL_FIXED_EFFECTS = ("judge_id", "court_id", "quarter")

_QUARTERS = {"first_quarter": -8, "last_quarter": 11, "reference_quarter": -1}
FIRST_STAGE_OPTIONS: dict[str, Any] = {
    "fixed_effects": ["judge_id", "court_id^quarter"],
    "cov_type": "CRV3",  # jackknife by judge, as H1's event study
    **_QUARTERS,
    # joint pre-trend test: wild_bootstrap (WCR, Rademacher by judge) or wald (F(q, G-1))
    "pretrend_test": "wild_bootstrap",
    "bootstrap_reps": 999,
}
DOSE_RESPONSE_OPTIONS: dict[str, Any] = {
    "fixed_effects": ["judge_id", "court_id^quarter"],
    "extra_fixed_effects": [],
    "sample": [],
    "cov_type": "CRV3",
    **_QUARTERS,
    # an integer n: n quantile bins of the positive gaps of the sample's judges (3: terciles);
    # a list of increasing positive edges e1 < e2 < ...: bins (0, e1], (e1, e2], ..., (e_last, inf)
    "bins": 3,
}
DID_DESIGN = "difference-in-differences"


def _first_stage_options(name: str, spec: AnalysisSpec) -> DesignOptions:
    opts = design_options(name, spec, FIRST_STAGE_OPTIONS)
    where = f"analyses.{name}"
    if spec.outcome != COMPLETIONS:
        raise ConfigError(f"{where}.outcome: expected '{COMPLETIONS}' (a judge's completions in a "
                          f"quarter), found {spec.outcome!r}")
    fes = opts.fixed_effects
    if not isinstance(fes, list | tuple) or not all(isinstance(f, str) for f in fes):
        raise ConfigError(f"{where}.options.fixed_effects: expected a list of names, found {fes!r}")
    for fe in fes:
        unknown = [p for p in fe.split("^") if p not in PANEL_FIXED_EFFECTS]
        if unknown:
            raise ConfigError(f"{where}.options.fixed_effects: '{fe}' names {unknown}; the judge x "
                              f"quarter panel has {list(PANEL_FIXED_EFFECTS)}")
    reps = opts.bootstrap_reps
    if isinstance(reps, bool) or not isinstance(reps, int) or reps < 1:
        raise ConfigError(f"{where}.options.bootstrap_reps: expected a whole number of at least 1, "
                          f"found {reps!r}")
    # the panel's intensity and engine are fixed: the gap, ordinary least squares
    return DesignOptions({**opts.values, "intensity": "pre_policy_gap", "family": "ols"})


def _dose_options(name: str, spec: AnalysisSpec) -> DesignOptions:
    opts = design_options(name, spec, DOSE_RESPONSE_OPTIONS)
    bins = opts.bins
    where = f"analyses.{name}.options.bins"
    if isinstance(bins, bool):
        raise ConfigError(f"{where}: expected a whole number of bins of at least 1 or a list of "
                          f"increasing positive edges, found {bins!r}")
    if isinstance(bins, int):
        if bins < 1:
            raise ConfigError(f"{where}: expected a whole number of bins of at least 1, found {bins}")
    elif isinstance(bins, list | tuple) and bins:
        if not all(isinstance(e, int | float) and not isinstance(e, bool) for e in bins) or \
                not all(e > 0 for e in bins) or any(b <= a for a, b in zip(bins, bins[1:], strict=False)):
            raise ConfigError(f"{where}: expected increasing positive edges (hundreds of cases of "
                              f"pre-policy gap), found {list(bins)!r}")
    else:
        raise ConfigError(f"{where}: expected a whole number of bins of at least 1 or a list of "
                          f"increasing positive edges, found {bins!r}")
    return DesignOptions({**opts.values, "intensity": "pre_policy_gap", "family": "ols"})


# --- the judge x quarter panel -----------------------------------------------------------------

def _quarter_of_day(day: np.ndarray) -> np.ndarray:
    """Calendar quarter as one running number (year x 4 + quarter - 1) of day numbers."""
    dates = (np.asarray(day, dtype="int64") + np.datetime64("1970-01-01", "D")).astype("datetime64[D]")
    months = dates.astype("datetime64[M]").astype("int64")  # months since 1970-01
    return (months // 12 + 1970) * 4 + (months % 12) // 3


def _quarter_start(q: int) -> int:
    """Day number of the first day of running quarter ``q``."""
    return to_day(dt.date(q // 4, 3 * (q % 4) + 1, 1))


def _quarter_label(q: np.ndarray) -> np.ndarray:
    """"2018Q4" labels, as the decisions' ``quarter`` column writes them."""
    q = np.asarray(q, dtype="int64")
    return np.char.add(np.char.add((q // 4).astype(str), "Q"), (q % 4 + 1).astype(str))


def _window_quarters(config: AuditConfig, covered_from: int | None) -> tuple[int, int]:
    """The first and last calendar quarters that lie wholly inside the window and that the data
    cover from their first day (a quarter cut by the window or the data's start is left out)."""
    start = to_day(config.window.start)
    if covered_from is not None:
        start = max(start, int(covered_from))
    end = to_day(config.window.end)  # excluded
    q0 = int(_quarter_of_day(np.array([start]))[0])
    if _quarter_start(q0) < start:
        q0 += 1
    q1 = int(_quarter_of_day(np.array([end - 1]))[0])
    if _quarter_start(q1 + 1) > end:
        q1 -= 1
    return q0, q1


def _main_court(frame: AnalysisFrame) -> pd.Series:
    """Each judge's court: the court of most of the judge's decisions in the window (ties: the
    first court id in sort order). A judge who moved is placed in one court for the whole spell."""
    data = frame.data.loc[frame.data["in_window"].astype(bool), ["judge_id", "court_id"]].dropna()
    counts = data.groupby(["judge_id", "court_id"], observed=True).size().rename("n").reset_index()
    counts = counts[counts["n"] > 0].astype({"judge_id": str, "court_id": str})
    counts = counts.sort_values(["judge_id", "n", "court_id"], ascending=[True, False, True])
    return counts.drop_duplicates("judge_id").set_index("judge_id")["court_id"]


@dataclass(frozen=True)
class Panel:
    """The first stage's judge x quarter rows and what was left out of them.

    ``data``: judge_id, court_id, quarter ("2018Q4"), quarter_number, k (event quarter, ends
    binned), completions, pre_policy_gap, post_policy and one ``event_time[k]`` indicator per
    event quarter. ``completions``: {counted, used, left_out: {reason: n}} with counted = used +
    the left-out sum; ``judges``: {used, left_out: {reason: n}}; ``zero_quarters``: rows of the
    spells without a completion.
    """

    data: pd.DataFrame
    completions: dict[str, Any]
    judges: dict[str, Any]
    zero_quarters: int

    def summary(self) -> dict[str, Any]:
        """JSON-safe, as results.json's first-stage model entry holds it (``panel``)."""
        return {"judge_quarters": int(len(self.data)), "zero_quarters": int(self.zero_quarters),
                "completions": self.completions, "judges": self.judges}


def completions_panel(frame: AnalysisFrame, config: AuditConfig, *, first: int,
                      last: int) -> Panel:
    """The judge x calendar-quarter completions of the judges with a pre-policy gap.

    Parameters
    ----------
    frame : the analysis frame; its ``workload`` holds the completions that count.
    config : the plan (window, policy date, intensity window, quota target).
    first, last : the event quarters kept apart; earlier and later quarters are binned into them.

    Returns
    -------
    Panel
        One row per judge and quarter of the judge's active spell inside the window.

    Raises
    ------
    NotEstimable
        No workload, no quarter of the window that the data cover, or no judge left.

    Example
    -------
    >>> panel = completions_panel(frame, config, first=-8, last=11)  # doctest: +SKIP
    >>> panel.data.groupby("judge_id")["completions"].sum()  # doctest: +SKIP
    """
    work = frame.workload
    if work is None or len(work.day) == 0:
        raise NotEstimable("judge_completions", "no completion to count")
    f = config.features
    codes, judges = pd.factorize(np.asarray(work.judge).astype(str))
    judges = pd.Index(judges)
    quarter = _quarter_of_day(work.day)
    q0, q1 = _window_quarters(config, frame.covered_from)
    if q1 < q0:
        raise NotEstimable("judge_completions", f"no calendar quarter of the window "
                           f"{config.window.start} to {config.window.end} is covered by the data")
    years = tuple(f.intensity_window)
    covered = frame.covered_from if frame.covered_from is not None else int(work.day.min())
    gap = pre_policy_gap(work, years=years, target=f.quota_target, covered_from=covered,
                         slack_days=f.complete_year_slack_days).dropna()
    late = joined_on_or_after(work, to_day(config.policy.start))
    court = _main_court(frame)

    # each completion is used or left out for the first reason that applies, in this order;
    # after the first, the reasons are the judge's (one flag per judge, read through its code)
    has_gap = judges.isin(gap.index)
    inside = (quarter >= q0) & (quarter <= q1)
    reasons = (
        ("outside the window's calendar quarters", ~inside, None),
        ("judge whose first completion is on or after the policy date (no pre-policy workload)",
         None, ~has_gap & judges.isin(list(late))),
        (f"judge without a complete fiscal year in FY{years[0]}-FY{years[1]}", None, ~has_gap),
        ("judge without a decision in the window (no court to place the judge in)", None,
         ~judges.isin(court.index)),
    )
    keep = np.ones(len(codes), dtype=bool)
    judge_keep = np.zeros(len(judges), dtype=bool)
    judge_keep[np.unique(codes[inside])] = True
    left_out: dict[str, int] = {}
    judges_left: dict[str, int] = {}
    if (~judge_keep).any():
        judges_left["no completion in the window's calendar quarters"] = int((~judge_keep).sum())
    for reason, rows_hit, judges_hit in reasons:
        hit = rows_hit if judges_hit is None else np.asarray(judges_hit)[codes]
        n = int((keep & hit).sum())
        if n:
            left_out[reason] = n
        if judges_hit is not None:
            taken = judge_keep & np.asarray(judges_hit)
            if taken.any():
                judges_left[reason] = int(taken.sum())
            judge_keep &= ~np.asarray(judges_hit)
        keep &= ~hit

    # the active spell: first to last quarter with a completion, over every counted completion
    # (judges by their codes: at national size the workload holds millions of completions)
    spell = pd.DataFrame({"code": codes, "q": quarter}).groupby("code")["q"].agg(["min", "max"])
    counts = pd.DataFrame({"code": codes[keep], "q": quarter[keep]}).groupby(["code", "q"]).size()
    rows = []
    for c in sorted(np.unique(codes[keep]), key=lambda c: judges[c]):
        lo, hi = max(int(spell.at[c, "min"]), q0), min(int(spell.at[c, "max"]), q1)
        rows.append(pd.DataFrame({"code": c, "judge_id": judges[c],
                                  "quarter_number": np.arange(lo, hi + 1)}))
    if not rows:
        raise NotEstimable("pre_policy_gap", "no judge with a pre-policy gap completed a case in "
                           "the window")
    data = pd.concat(rows, ignore_index=True)
    index = pd.MultiIndex.from_arrays([data["code"], data["quarter_number"]])
    data["completions"] = counts.reindex(index, fill_value=0).to_numpy(dtype="float64")
    data = data.drop(columns="code")
    data["court_id"] = court.reindex(data["judge_id"]).to_numpy()
    data["quarter"] = _quarter_label(data["quarter_number"].to_numpy())
    data["pre_policy_gap"] = gap.reindex(data["judge_id"]).to_numpy(dtype="float64")
    policy_q = int(_quarter_of_day(np.array([to_day(config.policy.start)]))[0])
    data["k"] = np.clip(data["quarter_number"] - policy_q, first, last).astype(float)
    starts = data["quarter_number"].map({q: _quarter_start(int(q)) for q in
                                         data["quarter_number"].unique()}).to_numpy()
    # post: from the policy's quarter (event quarter 0) to the quarter that starts before its end
    data["post_policy"] = ((data["quarter_number"] >= policy_q)
                           & (starts < to_day(config.policy.end))).astype(float)
    for q in range(first, last + 1):
        data[f"event_time[{q}]"] = (data["k"] == q).astype(float)
    completions = {"counted": int(len(codes)), "used": int(keep.sum()), "left_out": left_out}
    judges = {"used": int(data["judge_id"].nunique()), "left_out": judges_left}
    return Panel(data, completions, judges, int((data["completions"] == 0).sum()))


# --- first stage -------------------------------------------------------------------------------

@register_analysis("first_stage")
def first_stage(frame: AnalysisFrame, config: AuditConfig, name: str,
                spec: AnalysisSpec) -> AnalysisOutput:
    """Event study and difference-in-differences of judge x quarter completions on the gap.

    Parameters
    ----------
    frame : the analysis frame (decisions with features, and the workload).
    config : the plan; ``spec.options`` may set fixed_effects (of judge_id, court_id, quarter),
        cov_type (CRV3 | CRV1), first_quarter, last_quarter, reference_quarter, pretrend_test
        (wild_bootstrap | wald) and bootstrap_reps.
    name : the analysis' name in the plan.
    spec : the plan's entry; its outcome must be ``completions``.

    Returns
    -------
    AnalysisOutput
        Estimates of every ``event_time[k]:pre_policy_gap`` and of
        ``post_policy:pre_policy_gap`` (completions per quarter per 100 cases of gap), the
        pre-trend check, and two model entries (the event study with its ``series`` and
        ``panel``, the difference-in-differences).

    Raises
    ------
    ConfigError
        An unknown or invalid option, or an outcome other than ``completions``.
    NotEstimable
        No panel (see :func:`completions_panel`), or a fit the data cannot identify.

    Example
    -------
    >>> spec = config.analyses["H1_first_stage"]  # doctest: +SKIP
    >>> out = first_stage(frame, config, "H1_first_stage", spec)  # doctest: +SKIP
    >>> out.estimates["post_policy:pre_policy_gap"].estimate  # doctest: +SKIP
    """
    opts = _first_stage_options(name, spec)
    level, alpha = config.inference.interval_level, config.inference.alpha
    first, last, ref = opts.first_quarter, opts.last_quarter, opts.reference_quarter
    panel = completions_panel(frame, config, first=first, last=last)
    terms = event_terms("pre_policy_gap", first=first, last=last, reference=ref)
    did_term = "post_policy:pre_policy_gap"
    cluster = config.inference.cluster

    def model(model_terms: list[str]) -> ModelSpec:
        return ModelSpec(family="ols", outcome=COMPLETIONS, terms=tuple(model_terms),
                         fixed_effects=tuple(opts.fixed_effects), cov_type=opts.cov_type,
                         cluster="judge_id")

    sample = DesignSample(panel.data)
    try:
        es = fit_sample(sample, model(terms), name, config, unit=PANEL_UNIT)
        did = fit_sample(sample, model([did_term]), f"{name}.did", config, unit=PANEL_UNIT)
    except AuditError as exc:
        if isinstance(exc, NotEstimable):
            raise
        raise NotEstimable(COMPLETIONS, f"analysis {name}: {exc}") from None

    estimates = {t: term_estimate(es, t, 1.0, level) for t in terms if np.isfinite(es.params[t])}
    estimates[did_term] = term_estimate(did, did_term, 1.0, level)

    def term(q: int) -> str:
        return f"event_time[{q}]:pre_policy_gap"

    series = event_series(estimates, panel.data["k"].to_numpy(), first=first, last=last,
                          reference=ref, term=term, count="n_judge_quarters")
    pre = pre_policy_terms(estimates, first=first, reference=ref, term=term)
    design = build_design(panel.data, model(terms), cluster="judge_id", unit=PANEL_UNIT) \
        if opts.pretrend_test == "wild_bootstrap" else None
    checks = [pretrend_check(es, pre, COMPLETIONS, alpha, first, ref, design=design,
                              reps=opts.bootstrap_reps, seed=config.seed, estimates=estimates)]
    common = {"scale": FIRST_STAGE_SCALE, "policy_date": config.policy.start.isoformat(),
              "intensity": "pre_policy_gap", "completions_counted": frame.completions,
              "workload": frame.workload_source}
    models = [
        model_entry(es, analysis=name, outcome=COMPLETIONS, level=level, series=series,
                     design="first stage event study", reference_quarter=ref,
                     event_quarters=[first, last], panel=panel.summary(), **common),
        model_entry(did, analysis=name, outcome=COMPLETIONS, level=level,
                     design=f"first stage {DID_DESIGN}", panel=panel.summary(), **common),
    ]
    if cluster != "judge_id":
        # the panel's unit is the judge: its errors are clustered by judge whatever the plan's
        # decision-level cluster is
        for m in models:
            m["warnings"] = [*m.get("warnings", []), f"clustered by judge_id, not the plan's "
                             f"inference.cluster ({cluster}): the panel's unit is the judge"]
    return AnalysisOutput(scale=FIRST_STAGE_SCALE, estimates=estimates, checks=checks,
                          models=models)


# --- dose response -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Bins:
    """Bins of the positive pre-policy gaps: bin ``b`` (1-based) is (edges[b-1], edges[b]],
    edges[0] = 0 and the last edge the largest gap (quantile bins) or infinity (the plan's)."""

    edges: tuple[float, ...]
    rule: str

    def of(self, gap: np.ndarray) -> np.ndarray:
        """The bin of each gap: 0 for gap 0 (the comparison), 1..n for positive gaps."""
        inner = np.asarray(self.edges[1:-1], dtype=float)
        out = np.searchsorted(inner, gap, side="left") + 1
        return np.where(gap > 0, out, 0)


def gap_bins(gaps: pd.Series, bins: int | list[float]) -> Bins:
    """The bins of the plan's ``bins`` option for the judges' positive gaps ``gaps``.

    Example
    -------
    >>> gap_bins(pd.Series([0.5, 1.0, 2.0, 4.0]), 2).edges
    (0.0, 1.5, 4.0)
    """
    positive = np.sort(gaps[gaps > 0].to_numpy(dtype=float))
    if isinstance(bins, int):
        cuts = [float(np.quantile(positive, i / bins)) for i in range(1, bins)]
        words = {1: "one bin of every positive gap", 2: "halves", 3: "terciles",
                 4: "quartiles", 5: "quintiles"}.get(bins, f"{bins} quantile bins")
        return Bins((0.0, *cuts, float(positive.max())),
                    f"{words} of the positive gaps of the sample's judges (one value per judge)")
    return Bins((0.0, *(float(e) for e in bins), float("inf")), "edges from the plan")


def _bin_term(b: int) -> str:
    return f"gap_bin[{b}]"


@register_analysis("dose_response")
def dose_response(frame: AnalysisFrame, config: AuditConfig, name: str,
                  spec: AnalysisSpec) -> AnalysisOutput:
    """H1's event study by bins of the pre-policy gap, against the judges at gap 0.

    Parameters
    ----------
    frame : the analysis frame.
    config : the plan; ``spec.options`` may set bins (a number of quantile bins of the positive
        gaps, or a list of edges in hundreds of cases), fixed_effects, extra_fixed_effects,
        sample, cov_type, first_quarter, last_quarter and reference_quarter.
    name : the analysis' name in the plan.
    spec : the plan's entry (its outcome: H1's, log_duration, by default).

    Returns
    -------
    AnalysisOutput
        Estimates of every ``event_time[k]:gap_bin[b]`` and ``post_policy:gap_bin[b]`` and two
        model entries: the event study (``series`` with a ``bin`` on each row, ``bins``) and the
        pooled difference-in-differences (``dose_response``: one row per bin).

    Raises
    ------
    ConfigError
        An unknown or invalid option.
    NotEstimable
        No judge at or above the target before the policy (no comparison group), none below it
        (no bin), the outcome missing, or a fit the data cannot identify; the tests that read
        the analysis then say why.

    Example
    -------
    >>> spec = config.analyses["H1_dose_response"]  # doctest: +SKIP
    >>> out = dose_response(frame, config, "H1_dose_response", spec)  # doctest: +SKIP
    >>> [round(r["estimate"], 3) for r in out.models[1]["dose_response"]]  # doctest: +SKIP
    """
    opts = _dose_options(name, spec)
    return _dose_response(frame, config, name, spec, opts)


def _dose_response(frame: AnalysisFrame, config: AuditConfig, name: str, spec: AnalysisSpec,
                   opts: DesignOptions) -> AnalysisOutput:
    if spec.outcome not in frame.data.columns:
        raise NotEstimable(spec.outcome, f"analysis {name}")
    frame = narrow_frame(frame, config, spec, opts)
    level = config.inference.interval_level
    scale, factor = scale_of(design_spec(spec, opts, []))
    first, last, ref = opts.first_quarter, opts.last_quarter, opts.reference_quarter
    gap, sample, k, _ = event_sample(frame, config, opts)
    judge_gap = sample.data.groupby(sample.data["judge_id"].astype(str))["pre_policy_gap"].first()
    if not (judge_gap == 0).any():
        raise NotEstimable("pre_policy_gap", "no judge at or above target before the policy: the "
                           "dose response has no comparison group")
    if not (judge_gap > 0).any():
        raise NotEstimable("pre_policy_gap", "no judge below target before the policy: the dose "
                           "response has no bin to compare")
    bins = gap_bins(judge_gap, opts.bins)
    n_bins = len(bins.edges) - 1
    judge_bin = pd.Series(bins.of(judge_gap.to_numpy(dtype=float)), index=judge_gap.index)
    data = sample.data.copy()
    row_bin = judge_bin.reindex(data["judge_id"].astype(str)).to_numpy()
    present = [b for b in range(1, n_bins + 1) if (judge_bin == b).any()]
    for b in range(1, n_bins + 1):
        data[_bin_term(b)] = (row_bin == b).astype(float)
    sample = dataclasses.replace(sample, data=data)

    def term(b: int):
        return lambda q: f"event_time[{q}]:{_bin_term(b)}"

    terms = [term(b)(q) for b in present for q in range(first, last + 1) if q != ref]
    did_terms = [f"post_policy:{_bin_term(b)}" for b in present]
    try:
        es = fit_sample(sample, design_spec(spec, opts, terms), name, config)
        did = fit_sample(sample, design_spec(spec, opts, did_terms), f"{name}.did", config)
    except AuditError as exc:
        if isinstance(exc, NotEstimable):
            raise
        raise NotEstimable(spec.outcome, f"analysis {name}: {exc}") from None
    estimates: dict[str, Estimate] = {
        t: term_estimate(es, t, factor, level) for t in terms if np.isfinite(es.params[t])}
    for t in did_terms:
        if np.isfinite(did.params[t]):
            estimates[t] = term_estimate(did, t, factor, level)

    series, records = [], []
    for b in range(1, n_bins + 1):
        judges = judge_bin.index[judge_bin == b]
        mine = row_bin == b
        record: dict[str, Any] = {
            "bin": b, "term": f"post_policy:{_bin_term(b)}", "low": bins.edges[b - 1],
            "high": bins.edges[b] if np.isfinite(bins.edges[b]) else None,
            "judges": int(len(judges)), "decisions": int(mine.sum()),
            "mean_gap": float(judge_gap[judges].mean()) if len(judges) else None,
            "estimate": None, "std_error": None, "ci_low": None, "ci_high": None, "p_value": None,
            "pre_trend": None}
        e = estimates.get(record["term"])
        if e is not None:
            record.update(estimate=e.estimate, std_error=e.std_error, ci_low=e.ci_low,
                          ci_high=e.ci_high, p_value=e.p_value)
        if b in present:
            rows = event_series(estimates, k[mine], first=first, last=last, reference=ref,
                                term=term(b))
            series.extend({"bin": b, **r} for r in rows)
            pre = pre_policy_terms(estimates, first=first, reference=ref, term=term(b))
            if pre:
                stat, q, df2, p = wald_test(es, pre)
                record["pre_trend"] = {
                    "statistic": stat if np.isfinite(stat) else None, "df": q,
                    "df_denominator": df2, "p_value": p if np.isfinite(p) else None,
                    "test": f"Wald F({q}, {df2}), {es.cov_type} by judge: the bin's pre-policy "
                            f"coefficients are jointly zero"}
        records.append(record)
    comparison = {"gap": 0.0, "judges": int((judge_bin == 0).sum()),
                  "decisions": int((row_bin == 0).sum())}
    common = {"scale": scale, "policy_date": config.policy.start.isoformat(),
              "intensity": "gap_bin", "bin_rule": bins.rule, "comparison": comparison}
    models = [
        model_entry(es, analysis=name, outcome=spec.outcome, level=level, series=series,
                     design="dose response event study", reference_quarter=ref,
                     event_quarters=[first, last], bins=records,
                     judges=judge_counts(frame, config, gap, sample), **common),
        model_entry(did, analysis=name, outcome=spec.outcome, level=level,
                     design=f"dose response {DID_DESIGN}", dose_response=records, **common),
    ]
    return AnalysisOutput(scale=scale, estimates=estimates, models=models)
