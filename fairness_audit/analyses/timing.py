"""Policy-timing designs around the quota's start (H1, and the timing evidence for H2 and H7).

Two registered kinds, both continuous-intensity difference-in-differences designs with one
common policy date (docs/timing.md states the assumptions):

``event_study``
    ``outcome ~ sum_{k != ref} event_time[k]:pre_policy_gap | judge_id + court_id^quarter``
    with event quarters ``first..last`` relative to the policy date (ends binned), errors
    clustered by judge; the difference-in-differences ``outcome ~ post_policy:pre_policy_gap``
    with the same fixed effects; a joint Wald test that the pre-period coefficients are zero
    (the design check that forces "inconclusive"); and, with ``falsification: true``, the
    anticipation check at the memo date (also a design check), placebo policy dates,
    concurrent-shock dates and the reversal after the suspension (reported, never forcing).
``did``
    The difference-in-differences alone under a robustness variant: binary intensity, extra
    fixed effects (nationality x quarter), a sample ending before COVID, courts without the
    September 2018 hiring class, decisions without an asylum application.

Every regression goes through ``models.design.build_design`` and ``models.regression.fit``,
so the engine (pyfixest with absorbed fixed effects), the clustered covariance (CRV1,
t(G - 1) intervals) and the term names are the audit's own.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from fairness_audit.checks import check_label
from fairness_audit.config import AnalysisSpec, AuditConfig, ModelSpec
from fairness_audit.errors import AuditError, ConfigError, ModelWarning, NotEstimable
from fairness_audit.features import AnalysisFrame, day_number, joined_on_or_after, pre_policy_gap, to_day
from fairness_audit.hypotheses import (
    AnalysisOutput,
    Estimate,
    reader_test,
    register_analysis,
    scale_of,
)
from fairness_audit.models.design import SAMPLE_FILTERS, Design, build_design
from fairness_audit.models.regression import FitResult, fit
from fairness_audit.models.wild_bootstrap import wild_wald_test
from fairness_audit.sensitivity import omitted_variable, parallel_trends

INTENSITIES = ("pre_policy_gap", "below_target")
COUNT_OUTCOMES = ("n_hearings", "n_continuances")
# Policies at nearly the same time as the quota (due-process-audit.md); dated ones before the
# policy date get a shock-date check, the hiring class and COVID a robustness variant (``did``).
CONCURRENT_SHOCKS = {"Matter of A-B-": "2018-06-11", "Matter of L-A-B-R-": "2018-08-16"}

_COMMON = {
    "intensity": "pre_policy_gap",
    "family": "ols",
    "fixed_effects": ["judge_id", "court_id^quarter"],
    "extra_fixed_effects": [],
    "sample": [],
    "cov_type": "CRV3",  # jackknife by judge (models/jackknife.py); Poisson fits use CRV1
}
EVENT_STUDY_OPTIONS: dict[str, Any] = {
    **_COMMON,
    "first_quarter": -8,
    "last_quarter": 11,
    "reference_quarter": -1,
    "falsification": True,
    "placebo_dates": ["2017-10-01", "2016-10-01"],
    "placebo_quarters": [-4, 3],
    "shocks": CONCURRENT_SHOCKS,
    "reversal_quarters": 4,
    # joint pre-trend test: wild_bootstrap (WCR, Rademacher by judge; linear models) or wald
    # (F(q, G-1) with the fit's covariance)
    "pretrend_test": "wild_bootstrap",
    "bootstrap_reps": 999,
    # Rambachan-Roth sensitivity of the average post-policy coefficient (docs/timing.md):
    # Mbar values (relative magnitudes) and M values as multiples of the reading test's
    # smallest effect of interest (smoothness; sensitivity/parallel_trends.py says how)
    "parallel_trends": True,
    "relative_magnitudes": list(parallel_trends.DEFAULT_MBAR_GRID),
    "smoothness": list(parallel_trends.DEFAULT_SMOOTHNESS_GRID),
}
DID_OPTIONS: dict[str, Any] = {
    **_COMMON,
    "end": None,  # leave out decisions on or after this date (e.g. 2020-03-01: before COVID)
    "hiring_class": None,  # [start, end]: leave out courts with a judge first completing then
}


@dataclass(frozen=True)
class DesignOptions:
    """An analysis' options (defaults filled in), read as attributes; the timing designs and
    the quota's first stage and dose response (analyses/quota.py) share it with the other
    pieces of an event study here (samples, fits, estimates, model entries, the pre-trend
    check)."""

    values: dict[str, Any]

    def __getattr__(self, key: str) -> Any:
        try:
            return self.values[key]
        except KeyError:
            raise AttributeError(key) from None


def design_options(name: str, spec: AnalysisSpec, defaults: dict[str, Any]) -> DesignOptions:
    unknown = sorted(set(spec.options) - set(defaults))
    if unknown:
        raise ConfigError(f"analyses.{name}.options: unknown key(s) {unknown}; known keys: "
                          f"{sorted(defaults)}")
    values = {**defaults, **spec.options}
    where = f"analyses.{name}.options"
    # each check runs when the design has the option (the quota designs of analyses/quota.py
    # share this function with fewer options)
    if "intensity" in values and values["intensity"] not in INTENSITIES:
        raise ConfigError(f"{where}.intensity: expected one of {list(INTENSITIES)}, found "
                          f"{values['intensity']!r}")
    if "family" in values and values["family"] not in ("ols", "poisson"):
        raise ConfigError(f"{where}.family: expected 'ols' or 'poisson', found {values['family']!r}")
    if values.get("pretrend_test", "wald") not in ("wild_bootstrap", "wald"):
        raise ConfigError(f"{where}.pretrend_test: expected 'wild_bootstrap' or 'wald', found "
                          f"{values['pretrend_test']!r}")
    if "cov_type" in values and values["cov_type"] not in ("CRV1", "CRV3"):
        raise ConfigError(f"{where}.cov_type: expected 'CRV1' or 'CRV3', found {values['cov_type']!r}")
    if values.get("family") == "poisson" and spec.outcome not in COUNT_OUTCOMES:
        raise ConfigError(f"{where}.family: 'poisson' is for the count outcomes {list(COUNT_OUTCOMES)}, "
                          f"not {spec.outcome!r}")
    for f in values.get("sample", ()):
        if f not in SAMPLE_FILTERS:
            raise ConfigError(f"{where}.sample: unknown filter {f!r}; known filters: "
                              f"{sorted(SAMPLE_FILTERS)}")
    if "first_quarter" in values:
        first, last, ref = (values[k] for k in ("first_quarter", "last_quarter", "reference_quarter"))
        if not (isinstance(first, int) and isinstance(last, int) and isinstance(ref, int)
                and first < ref <= last and first < 0):
            raise ConfigError(f"{where}: expected integers first_quarter < reference_quarter <= "
                              f"last_quarter with first_quarter < 0, found {first}, {ref}, {last}")
        for d in [*values.get("placebo_dates", ()), *values.get("shocks", {}).values()]:
            _date(d, f"{where}: date")
    if not isinstance(values.get("parallel_trends", True), bool):
        raise ConfigError(f"{where}.parallel_trends: expected true or false, found "
                          f"{values['parallel_trends']!r}")
    for key in ("relative_magnitudes", "smoothness"):
        grid = values.get(key, [0])
        if not (isinstance(grid, list) and grid and all(
                isinstance(x, int | float) and not isinstance(x, bool) and 0 <= x <= 64
                for x in grid)):
            raise ConfigError(f"{where}.{key}: expected a non-empty list of numbers from 0 to 64, "
                              f"found {grid!r}")
    for key in ("end",):
        if values.get(key) is not None:
            _date(values[key], f"{where}.{key}")
    if values.get("hiring_class") is not None:
        hc = values["hiring_class"]
        if not (isinstance(hc, list | tuple) and len(hc) == 2):
            raise ConfigError(f"{where}.hiring_class: expected [start, end] dates, found {hc!r}")
        for d in hc:
            _date(d, f"{where}.hiring_class")
    return DesignOptions(values)


def _date(value: Any, where: str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(f"{where}: expected a date YYYY-MM-DD, found {value!r}") from None


# --- event time -------------------------------------------------------------------------------

def quarter_number(dates: pd.Series) -> np.ndarray:
    """Calendar quarter as one running number (year x 4 + quarter - 1); NaN without a date."""
    year = dates.dt.year.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    month = dates.dt.month.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    return year * 4 + np.floor((month - 1) / 3)


def event_quarter(dates: pd.Series, policy: dt.date, *, first: int, last: int) -> np.ndarray:
    """Calendar quarters relative to the policy date's quarter, the ends binned into first/last.

    The quarter containing the policy date is 0 (2018Q4 for 2018-10-01); NaN without a date.
    """
    k = quarter_number(dates) - (policy.year * 4 + (policy.month - 1) // 3)
    return np.clip(k, first, last)


def event_terms(intensity: str, *, first: int, last: int, reference: int) -> list[str]:
    return [f"event_time[{k}]:{intensity}" for k in range(first, last + 1) if k != reference]


# --- fitting ---------------------------------------------------------------------------------

@dataclass
class DesignSample:
    """Rows a design may use, with the rows the analysis itself left out and why."""

    data: pd.DataFrame
    excluded: dict[str, int] = field(default_factory=dict)

    def keep(self, mask: np.ndarray | pd.Series, reason: str) -> DesignSample:
        mask = np.asarray(mask, dtype=bool)
        out = dict(self.excluded)
        n = int((~mask).sum())
        if n:
            out[reason] = out.get(reason, 0) + n
        return DesignSample(self.data.loc[mask], out)


def fit_sample(sample: DesignSample, spec: ModelSpec, name: str, config: AuditConfig, *,
         classical: bool = False, unit: str = "decisions") -> FitResult:
    design = build_design(sample.data, spec, cluster=config.inference.cluster, unit=unit)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModelWarning)  # the notes travel in result.warnings
        result = fit(design, name=name, classical=classical)
    excluded = dict(sample.excluded)
    for reason, n in result.excluded.items():
        excluded[reason] = excluded.get(reason, 0) + n
    return dataclasses.replace(result, excluded=excluded)


def _intensity_sample(frame: AnalysisFrame, config: AuditConfig, data: pd.DataFrame,
                      gap: pd.Series, intensity: str, years: tuple[int, int]) -> DesignSample:
    """Attach the intensity (gap per judge, or below target = gap > 0) and leave out judges
    without one, separating judges who joined on or after the policy date."""
    data = data.copy()
    # one lookup per judge, not per decision (Series.map hashes every row's string)
    codes, judges = pd.factorize(data["judge_id"])
    judges = pd.Index(judges.astype(str))
    value = pd.Series(gap.reindex(judges).to_numpy(dtype="float64")[codes], index=data.index)
    value[codes < 0] = np.nan
    data["pre_policy_gap"] = value
    data["below_target"] = np.where(value.isna(), np.nan, (value > 0).astype(float))
    if intensity not in data:
        data[intensity] = value
    late = set()
    if frame.workload is not None:
        late = joined_on_or_after(frame.workload, to_day(config.policy.start))
    missing = value.isna().to_numpy()
    is_late = np.asarray(judges.isin(late))[codes] & (codes >= 0)
    excluded = {}
    for n, reason in ((int((missing & is_late).sum()), "judge whose first completion is on or after "
                       "the policy date (no pre-policy workload)"),
                      (int((missing & ~is_late).sum()),
                       f"judge without a complete fiscal year in FY{years[0]}-FY{years[1]}")):
        if n:
            excluded[reason] = n
    return DesignSample(data.loc[~missing], excluded)


def _gap(frame: AnalysisFrame, config: AuditConfig, years: tuple[int, int]) -> pd.Series:
    """pre_policy_gap per judge over an intensity window (the frame's, or a placebo's own)."""
    if tuple(years) == tuple(config.features.intensity_window):
        gaps = frame.data.groupby(frame.data["judge_id"].astype(str))["pre_policy_gap"].first()
        return gaps.dropna()
    if frame.workload is None or frame.covered_from is None:
        raise NotEstimable("judge_completions", "the workload is needed for another intensity window")
    gap = pre_policy_gap(frame.workload, years=years, target=config.features.quota_target,
                         covered_from=frame.covered_from).dropna()
    if gap.empty:
        raise NotEstimable("pre_policy_gap", f"no judge has a complete fiscal year in "
                           f"FY{years[0]}-FY{years[1]} (the data cover from "
                           f"{np.datetime64(int(frame.covered_from), 'D')})")
    return gap


def term_estimate(res: FitResult, term: str, factor: float, level: float) -> Estimate:
    row = res.to_frame(level).set_index("term").loc[term]
    return Estimate(float(row["estimate"]) * factor, float(row["std_error"]) * factor,
                    float(row["ci_low"]) * factor, float(row["ci_high"]) * factor,
                    float(row["p_value"]), int(res.n_obs), res.extra.get("classical"))


def model_entry(res: FitResult, *, analysis: str, outcome: str, level: float,
                 **extra: Any) -> dict[str, Any]:
    entry = res.to_dict(level)
    entry.update({"analysis": analysis, "outcome": outcome, **extra})
    return entry


def _single_term_check(name: str, res: FitResult | None, term: str, *, kind: str,
                       factor: float, level: float, alpha: float, forces: bool,
                       problem: str | None = None, significant_rule=None) -> dict[str, Any]:
    """A check that one coefficient is zero: t statistic with G - 1 degrees of freedom.

    ``significant`` is the test's rejection (``significant_rule(estimate)`` when given);
    ``passed`` is its significance-only reading, which the plan's rule may revise
    (fairness_audit/checks.py, with the estimate and standard error recorded here).
    """
    if res is None:
        return {"name": name, "kind": kind, "statistic": None, "df": None, "p_value": None,
                "passed": None, "significant": None, "forces_inconclusive": forces,
                "note": problem}
    est = term_estimate(res, term, factor, level)
    t = est.estimate / est.std_error if est.std_error else float("nan")
    significant = est.p_value < alpha if significant_rule is None else significant_rule(est)
    return {"name": name, "kind": kind, "statistic": float(t), "df": res.df_t,
            "p_value": est.p_value, "passed": not significant, "significant": bool(significant),
            "forces_inconclusive": forces, "test": "t, judge-clustered",
            "estimate": est.estimate, "std_error": est.std_error, "ci_low": est.ci_low,
            "ci_high": est.ci_high, "n_obs": est.n_obs, "model": res.name}


def wald_test(res: FitResult, terms: list[str]) -> tuple[float, int, int, float]:
    """Joint test that ``terms`` are zero with the fit's clustered covariance.

    Returns (F, q, G - 1, p): F = b' V^+ b / q referred to F(q, G - 1), the small-sample
    analogue of the t(G - 1) intervals (q = rank of V restricted to the terms).
    """
    b = res.params[terms].to_numpy(dtype=float)
    v = res.cov.loc[terms, terms].to_numpy(dtype=float)
    q = int(np.linalg.matrix_rank(v))
    if q == 0:
        return float("nan"), 0, res.df_t, float("nan")
    stat = float(b @ np.linalg.pinv(v) @ b) / q
    return stat, q, res.df_t, float(stats.f.sf(stat, q, res.df_t))


# --- the designs -----------------------------------------------------------------------------

# columns the timing designs read besides the outcome, the fixed effects and the cluster: keys,
# dates, intensity and every column a sample filter of models/design.py reads
_TIMING_COLUMNS = ("judge_id", "court_id", "quarter", "decision_date", "in_window", "post_policy",
                   "pre_policy_gap", "in_absentia", "asylum_application", "appealed", "remanded",
                   "quota_shortfall")


def narrow_frame(frame: AnalysisFrame, config: AuditConfig, spec: AnalysisSpec,
            opts: DesignOptions) -> AnalysisFrame:
    """The frame with only the columns this design reads: each sample and refit then copies
    a few columns, not the whole table (at national size the copies cost more than the fits)."""
    fes = [p for fe in (*opts.fixed_effects, *opts.extra_fixed_effects) for p in fe.split("^")]
    wanted = dict.fromkeys([*_TIMING_COLUMNS, spec.outcome, config.inference.cluster, *fes])
    return dataclasses.replace(frame, data=frame.data[[c for c in wanted if c in frame.data.columns]])


def _base_sample(frame: AnalysisFrame, config: AuditConfig, opts: DesignOptions,
                 gap: pd.Series) -> DesignSample:
    data = frame.data
    first = DesignSample(data).keep(data["in_window"].astype(bool).to_numpy(),
                               "outside window or no decision date")
    second = _intensity_sample(frame, config, first.data, gap, opts.intensity,
                               tuple(config.features.intensity_window))
    return DesignSample(*_merge(first, second))


def _merge(first: DesignSample, second: DesignSample) -> tuple[pd.DataFrame, dict[str, int]]:
    excluded = dict(first.excluded)
    for k, n in second.excluded.items():
        excluded[k] = excluded.get(k, 0) + n
    return second.data, excluded


def design_spec(spec: AnalysisSpec, opts: DesignOptions, terms: list[str]) -> ModelSpec:
    return ModelSpec(family=opts.family, outcome=spec.outcome, terms=tuple(terms),
                     fixed_effects=tuple(opts.fixed_effects) + tuple(opts.extra_fixed_effects),
                     sample=tuple(opts.sample),
                     cov_type=opts.cov_type if opts.family == "ols" else "CRV1")


def _did(sample: DesignSample, spec: AnalysisSpec, opts: DesignOptions, name: str,
         config: AuditConfig, *, classical: bool = False) -> FitResult:
    return fit_sample(sample, design_spec(spec, opts, [f"post_policy:{opts.intensity}"]), name, config,
                classical=classical)


def event_sample(frame: AnalysisFrame, config: AuditConfig,
                  opts: DesignOptions) -> tuple[pd.Series, DesignSample, np.ndarray, list[str]]:
    """The event study's intensity, sample (with event-quarter indicators), quarters and terms."""
    first, last, ref = opts.first_quarter, opts.last_quarter, opts.reference_quarter
    gap = _gap(frame, config, tuple(config.features.intensity_window))
    sample = _base_sample(frame, config, opts, gap)
    data = sample.data.copy()
    k = event_quarter(data["decision_date"], config.policy.start, first=first, last=last)
    for q in range(first, last + 1):
        data[f"event_time[{q}]"] = (k == q).astype(float)
    terms = event_terms(opts.intensity, first=first, last=last, reference=ref)
    return gap, DesignSample(data, sample.excluded), k, terms


def _did_sample(frame: AnalysisFrame, config: AuditConfig, spec: AnalysisSpec,
                opts: DesignOptions) -> tuple[DesignSample, dict[str, Any]]:
    """The difference-in-differences variant's sample and what the variant changed."""
    gap = _gap(frame, config, tuple(config.features.intensity_window))
    sample = _base_sample(frame, config, opts, gap)
    variant: dict[str, Any] = {}
    if opts.end is not None:
        end = _date(opts.end, "end")
        sample = sample.keep(day_number(sample.data["decision_date"]) < to_day(end),
                             f"decided on or after {end}")
        variant["end"] = end.isoformat()
    if opts.hiring_class is not None:
        h0, h1 = (_date(d, "hiring_class") for d in opts.hiring_class)
        courts = _hiring_class_courts(frame, h0, h1)
        sample = sample.keep(~sample.data["court_id"].astype(str).isin(courts).to_numpy(),
                             f"court with a judge first completing cases {h0} to {h1}")
        variant["hiring_class"] = [h0.isoformat(), h1.isoformat()]
        variant["courts_left_out"] = sorted(courts)
    return sample, variant


def primary_designs(frame: AnalysisFrame, config: AuditConfig, name: str) -> list[tuple[str, Design]]:
    """The regressions an analysis estimates for its point estimates (an event study and its
    difference-in-differences, or one difference-in-differences variant), without the
    falsification refits: what a reader would fit to reproduce them (benchmarks/bench_audit.py)."""
    spec = config.analyses[name]
    opts = design_options(name, spec, EVENT_STUDY_OPTIONS if spec.kind == "event_study" else DID_OPTIONS)
    frame = narrow_frame(frame, config, spec, opts)
    did_spec = design_spec(spec, opts, [f"post_policy:{opts.intensity}"])
    cluster = config.inference.cluster
    if spec.kind == "event_study":
        _, sample, _, terms = event_sample(frame, config, opts)
        return [(name, build_design(sample.data, design_spec(spec, opts, terms), cluster=cluster)),
                (f"{name}.did", build_design(sample.data, did_spec, cluster=cluster))]
    sample, _ = _did_sample(frame, config, spec, opts)
    return [(name, build_design(sample.data, did_spec, cluster=cluster))]


@register_analysis("event_study")
def event_study(frame: AnalysisFrame, config: AuditConfig, name: str,
                spec: AnalysisSpec) -> AnalysisOutput:
    """Event study, difference-in-differences, pre-trend test and falsification for one outcome."""
    opts = design_options(name, spec, EVENT_STUDY_OPTIONS)
    if spec.outcome not in frame.data.columns:
        raise NotEstimable(spec.outcome, f"analysis {name}")
    frame = narrow_frame(frame, config, spec, opts)
    level, alpha = config.inference.interval_level, config.inference.alpha
    scale, factor = scale_of(design_spec(spec, opts, []))
    first, last, ref = opts.first_quarter, opts.last_quarter, opts.reference_quarter
    intensity = opts.intensity

    gap, sample, k, terms = event_sample(frame, config, opts)

    try:
        es = fit_sample(sample, design_spec(spec, opts, terms), name, config)
        # the cross-products for the omitted-variable sensitivity when a test of its roles
        # reads this difference-in-differences (sensitivity/omitted_variable.py)
        did = _did(sample, spec, opts, f"{name}.did", config,
                   classical=omitted_variable.wanted(config, name))
    except AuditError as exc:
        if isinstance(exc, NotEstimable):
            raise
        raise NotEstimable(spec.outcome, f"analysis {name}: {exc}") from None

    estimates = {t: term_estimate(es, t, factor, level) for t in terms if np.isfinite(es.params[t])}
    did_term = f"post_policy:{intensity}"
    estimates[did_term] = term_estimate(did, did_term, factor, level)

    def term(q: int) -> str:
        return f"event_time[{q}]:{intensity}"

    series = event_series(estimates, k, first=first, last=last, reference=ref, term=term)
    pre = pre_policy_terms(estimates, first=first, reference=ref, term=term)
    design = None
    if opts.pretrend_test == "wild_bootstrap" and opts.family == "ols":
        design = build_design(sample.data, design_spec(spec, opts, terms), cluster=config.inference.cluster)
    checks = [pretrend_check(es, pre, spec.outcome, alpha, first, ref, design=design,
                              reps=opts.bootstrap_reps, seed=config.seed, estimates=estimates)]
    policy_str = config.policy.start.isoformat()
    models = [
        model_entry(es, analysis=name, outcome=spec.outcome, level=level, series=series,
                     design="event study", scale=scale, reference_quarter=ref,
                     event_quarters=[first, last], policy_date=policy_str,
                     intensity=intensity, judges=judge_counts(frame, config, gap, sample)),
        model_entry(did, analysis=name, outcome=spec.outcome, level=level,
                     design="difference-in-differences", scale=scale, policy_date=policy_str,
                     intensity=intensity),
    ]
    if opts.falsification:
        more_checks, more_models = _falsification(frame, config, name, spec, opts, gap, did,
                                                  factor, scale)
        checks.extend(more_checks)
        models.extend(more_models)
    sensitivity = []
    if opts.parallel_trends:
        sensitivity.append(_parallel_trends(es, sample, config, name, spec, opts, scale, factor))
    return AnalysisOutput(scale=scale, estimates=estimates, checks=checks, models=models,
                          sensitivity=[s for s in sensitivity if s is not None])


def _parallel_trends(es: FitResult, sample: DesignSample, config: AuditConfig, name: str,
                     spec: AnalysisSpec, opts: DesignOptions, scale: str,
                     factor: float) -> dict[str, Any] | None:
    """The Rambachan-Roth sensitivity item of the event study (sensitivity/parallel_trends.py),
    judged by the test that reads the analysis (or, for an analysis named under a hypothesis'
    ``checks``, its primary test on the same scale); None when no hypothesis reads it."""
    reader = reader_test(config, name, scale)
    if reader is None:
        return None
    hid, test = reader
    first, last, ref = opts.first_quarter, opts.last_quarter, opts.reference_quarter
    item: dict[str, Any] = {"kind": parallel_trends.KIND, "analysis": name, "outcome": spec.outcome,
                            "scale": scale, "hypothesis": hid, "test_id": test.id}
    quarters = [q for q in range(first, last + 1) if q != ref]
    terms = [f"event_time[{q}]:{opts.intensity}" for q in quarters]
    params = es.params.reindex(terms).to_numpy(dtype=float)
    if not np.all(np.isfinite(params)):
        missing = [t for t, v in zip(terms, params, strict=True) if not np.isfinite(v)]
        return {**item, "problem": f"not estimable: {', '.join(missing)} (a quarter without "
                                   "an estimate breaks the quarter-to-quarter steps)"}
    cov = es.cov.loc[terms, terms].to_numpy(dtype=float)
    # an end quarter bins every quarter beyond it only when the sample has decisions there
    raw = quarter_number(sample.data["decision_date"]) - (
        config.policy.start.year * 4 + (config.policy.start.month - 1) // 3)
    binned = {}
    if np.nanmin(raw) < first:
        binned[first] = f"quarter {first} bins the quarters before it"
    if np.nanmax(raw) > last:
        binned[last] = f"quarter {last} bins the quarters after it"
    try:
        result = parallel_trends.sensitivity(
            params * factor, cov * factor**2, quarters, reference=ref, binned=binned,
            mbar_grid=opts.relative_magnitudes, smoothness_grid=opts.smoothness,
            level=config.inference.interval_level, concern_sign=test.concern_sign,
            sesoi=test.sesoi)
    except ValueError as exc:
        return {**item, "problem": f"not estimable: {exc}"}
    return {**item, **result.to_dict()}


def event_series(estimates: dict[str, Estimate], k: np.ndarray, *, first: int, last: int,
                 reference: int, term: Callable[[int], str],
                 count: str = "n_decisions") -> list[dict[str, Any]]:
    """An event study's ``series`` in results.json: one row per event quarter ``first..last``
    with the estimate of ``term(q)`` (None where it could not be estimated), the reference
    quarter at zero, and under ``count`` the rows of ``k`` (the event quarter of each row the
    model fitted: decisions, or judge-quarters) in that quarter."""
    counts = pd.Series(k).value_counts()
    series = []
    for q in range(first, last + 1):
        n_q = int(counts.get(float(q), 0))
        if q == reference:
            series.append({"k": q, "estimate": 0.0, "std_error": 0.0, "ci_low": 0.0, "ci_high": 0.0,
                           "reference": True, count: n_q})
            continue
        e = estimates.get(term(q))
        series.append({"k": q, "estimate": None if e is None else e.estimate,
                       "std_error": None if e is None else e.std_error,
                       "ci_low": None if e is None else e.ci_low,
                       "ci_high": None if e is None else e.ci_high,
                       "reference": False, count: n_q})
    return series


def pre_policy_terms(estimates: dict[str, Estimate], *, first: int, reference: int,
                     term: Callable[[int], str]) -> list[str]:
    """The estimated event-study terms of the quarters before the policy, the reference left out."""
    pre = [term(q) for q in range(first, reference) if term(q) in estimates]
    # leads between the reference and quarter 0 (reference < -1) are not pre-trend evidence
    # against the reference: they are tested too, as pre-period coefficients
    pre += [term(q) for q in range(reference + 1, 0) if term(q) in estimates]
    return pre


def pretrend_check(es: FitResult, pre: list[str], outcome: str, alpha: float, first: int,
                    ref: int, *, design: Design | None = None, reps: int = 999,
                    seed: int = 0, estimates: dict[str, Estimate] | None = None) -> dict[str, Any]:
    name = (f"{check_label('pre_trend', outcome)}: the {len(pre)} pre-policy event-study coefficients "
            f"(quarters {first} to -1 other than the reference quarter {ref}) are jointly zero")
    if not pre:
        return {"name": name, "kind": "pre_trend", "statistic": None, "df": None,
                "p_value": None, "passed": None, "significant": None,
                "forces_inconclusive": True, "note": "not estimable: no pre-policy quarter"}
    if design is not None:
        stat, q, p = wild_wald_test(design, pre, reps=reps, seed=seed)
        check = {"name": name, "kind": "pre_trend", "statistic": stat, "df": q,
                 "df_denominator": None, "p_value": p, "passed": bool(p >= alpha),
                 "significant": bool(p < alpha), "forces_inconclusive": True,
                 "test": f"Wald W/q with CRV1 by judge, p from {reps} restricted wild cluster "
                         f"bootstrap draws (Rademacher, seed {seed})", "model": es.name}
    else:
        stat, q, df2, p = wald_test(es, pre)
        check = {"name": name, "kind": "pre_trend", "statistic": stat, "df": q,
                 "df_denominator": df2, "p_value": p,
                 "passed": bool(p >= alpha) if np.isfinite(p) else None,
                 "significant": bool(p < alpha) if np.isfinite(p) else None,
                 "forces_inconclusive": True,
                 "test": f"Wald F({q}, {df2}), {es.cov_type} by judge", "model": es.name}
    if estimates is not None:
        # each pre-policy coefficient, for the relevance rule (fairness_audit/checks.py)
        check["coefficients"] = [{"term": t, "estimate": estimates[t].estimate,
                                  "std_error": estimates[t].std_error} for t in pre]
        check["df_t"] = es.df_t
    return check


def judge_counts(frame: AnalysisFrame, config: AuditConfig, gap: pd.Series,
                  sample: DesignSample) -> dict[str, Any]:
    """Judges used and left out of the design, by reason (judges, not decisions)."""
    judges = frame.data.loc[frame.data["in_window"].astype(bool), "judge_id"].astype(str).unique()
    late = joined_on_or_after(frame.workload, to_day(config.policy.start)) \
        if frame.workload is not None else set()
    no_gap = [j for j in judges if j not in gap.index]
    joined = sum(j in late for j in no_gap)
    return {"used": int(sample.data["judge_id"].nunique()),
            "left_out": {"first completion on or after the policy date": int(joined),
                         "no complete fiscal year in the intensity window": int(len(no_gap) - joined)}}


# --- falsification ---------------------------------------------------------------------------

def _window_sample(frame: AnalysisFrame, start: dt.date, end: dt.date) -> DesignSample:
    day = day_number(frame.data["decision_date"])
    keep = (day >= to_day(start)) & (day < to_day(end))
    return DesignSample(frame.data).keep(keep, f"outside {start} to {end} (end excluded) or no date")


def _after(sample: DesignSample, column: str, date: dt.date) -> DesignSample:
    data = sample.data.copy()
    data[column] = (day_number(data["decision_date"]) >= to_day(date)).astype(float)
    return DesignSample(data, sample.excluded)


def _try_fit(sample_fn, spec: ModelSpec, name: str, config: AuditConfig):
    try:
        return fit_sample(sample_fn(), spec, name, config), None
    except AuditError as exc:
        return None, str(exc)


def _falsification(frame: AnalysisFrame, config: AuditConfig, name: str, spec: AnalysisSpec,
                   opts: DesignOptions, gap: pd.Series, did: FitResult, factor: float,
                   scale: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    level, alpha = config.inference.interval_level, config.inference.alpha
    intensity, outcome = opts.intensity, spec.outcome
    policy = config.policy.start
    window0 = config.window.start
    checks: list[dict[str, Any]] = []
    fits: list[FitResult] = []
    extra: dict[str, dict[str, Any]] = {}

    def base(start: dt.date, end: dt.date, g: pd.Series, years: tuple[int, int]) -> DesignSample:
        first = _window_sample(frame, start, end)
        second = _intensity_sample(frame, config, first.data, g, intensity, years)
        return DesignSample(*_merge(first, second))

    # anticipation: did intensity groups diverge between the memo and the policy date?
    def memo_sample() -> DesignSample:
        return _after(base(window0, policy, gap, tuple(config.features.intensity_window)),
                      "memo", config.policy.memo)
    term = f"memo:{intensity}"
    res, problem = _try_fit(memo_sample, design_spec(spec, opts, [term]), f"{name}.anticipation", config)
    checks.append(_single_term_check(
        f"{check_label('anticipation', outcome)}: {term} is zero between the memo "
        f"({config.policy.memo}) and the "
        f"policy date, on decisions before the policy date", res, term, kind="anticipation",
        factor=factor, level=level, alpha=alpha, forces=True, problem=problem))
    if res is not None:
        fits.append(res)
        extra[res.name] = {"design": "anticipation check", "date": config.policy.memo.isoformat()}

    # placebo policy dates: own 8-quarter window before the real policy, own intensity window
    q0, q1 = opts.placebo_quarters
    for date_text in opts.placebo_dates:
        placebo = _date(date_text, "placebo date")
        start = _shift_quarters(placebo, q0)
        end = min(_shift_quarters(placebo, q1 + 1), policy)
        first_fy = start.year + (start.month >= 10)
        years = (first_fy - 2, first_fy - 1)
        term = f"post_placebo:{intensity}"
        label = (f"placebo date {placebo} ({outcome}): {term} is zero (quarters {q0} to {q1}, "
                 f"decisions before {policy}, intensity from FY{years[0]}-FY{years[1]})")

        def placebo_sample(start=start, end=end, years=years, placebo=placebo) -> DesignSample:
            return _after(base(start, end, _gap(frame, config, years), years), "post_placebo", placebo)
        if start >= end:
            res, problem = None, f"not estimable: the placebo window {start} to {end} is empty"
        else:
            res, problem = _try_fit(placebo_sample, design_spec(spec, opts, [term]),
                                    f"{name}.placebo_{placebo}", config)
        checks.append(_single_term_check(label, res, term, kind="placebo_date", factor=factor,
                                         level=level,
                                         alpha=alpha, forces=False, problem=problem))
        if res is not None:
            fits.append(res)
            extra[res.name] = {"design": "placebo policy date", "date": placebo.isoformat(),
                               "intensity_window": list(years)}

    # concurrent shocks dated before the policy: divergence from the shock date, pre-policy
    for shock, date_text in opts.shocks.items():
        when = _date(date_text, "shock date")
        if not window0 < when < policy:
            continue
        term = f"after_shock:{intensity}"

        def shock_sample(when=when) -> DesignSample:
            return _after(base(window0, policy, gap, tuple(config.features.intensity_window)),
                          "after_shock", when)
        res, problem = _try_fit(shock_sample, design_spec(spec, opts, [term]),
                                f"{name}.shock_{when}", config)
        checks.append(_single_term_check(
            f"concurrent shock {shock} {when} ({outcome}): {term} is zero between {when} and the "
            f"policy date, on decisions before the policy date", res, term, kind="shock_date",
            factor=factor, level=level, alpha=alpha, forces=False, problem=problem))
        if res is not None:
            fits.append(res)
            extra[res.name] = {"design": "concurrent-shock date", "date": when.isoformat(),
                               "shock": shock}

    checks.append(_reversal(frame, config, name, spec, opts, gap, did, factor, fits, extra, base))
    models = [model_entry(r, analysis=name, outcome=outcome, level=level, scale=scale,
                           intensity=intensity, **extra.get(r.name, {})) for r in fits]
    return checks, models


def _reversal(frame, config, name, spec, opts, gap, did, factor, fits, extra, base) -> dict[str, Any]:
    """After the suspension the quota explanation predicts the change to fade or reverse: the
    check fails only when the intensity-specific change deepens significantly after it."""
    level, alpha = config.inference.interval_level, config.inference.alpha
    end = config.policy.end
    term = f"after_suspension:{opts.intensity}"
    label = (f"reversal after the suspension {end} ({spec.outcome}): {term}, the change from "
             f"the quota period to the {opts.reversal_quarters} quarters after it")
    dates = frame.data["decision_date"]
    if dates.notna().sum() == 0 or dates.max() < pd.Timestamp(end):
        return _single_term_check(label, None, term, kind="reversal", factor=factor, level=level,
                                  alpha=alpha,
                                  forces=False, problem=f"not estimable: data end before {end}")
    did_sign = np.sign(did.params[f"post_policy:{opts.intensity}"])

    def sample() -> DesignSample:
        return _after(base(config.policy.start, _shift_quarters(end, opts.reversal_quarters), gap,
                           tuple(config.features.intensity_window)), "after_suspension", end)
    res, problem = _try_fit(sample, design_spec(spec, opts, [term]), f"{name}.reversal", config)
    check = _single_term_check(
        label, res, term, kind="reversal", factor=factor, level=level, alpha=alpha, forces=False,
        problem=problem,
        significant_rule=lambda e: e.p_value < alpha and np.sign(e.estimate) == did_sign)
    if res is not None:
        fits.append(res)
        extra[res.name] = {"design": "reversal after the suspension", "date": end.isoformat()}
    return check


def _shift_quarters(date: dt.date, quarters: int) -> dt.date:
    months = date.year * 12 + date.month - 1 + 3 * quarters
    return dt.date(months // 12, months % 12 + 1, 1)


# --- robustness variants of the difference-in-differences -------------------------------------

@register_analysis("did")
def difference_in_differences(frame: AnalysisFrame, config: AuditConfig, name: str,
                              spec: AnalysisSpec) -> AnalysisOutput:
    """``outcome ~ post_policy:<intensity>`` with the plan's fixed effects under one variant."""
    opts = design_options(name, spec, DID_OPTIONS)
    if spec.outcome not in frame.data.columns:
        raise NotEstimable(spec.outcome, f"analysis {name}")
    frame = narrow_frame(frame, config, spec, opts)
    level = config.inference.interval_level
    scale, factor = scale_of(design_spec(spec, opts, []))
    sample, variant = _did_sample(frame, config, spec, opts)
    if len(sample.data) == 0:
        raise NotEstimable(spec.outcome, f"analysis {name}: no decisions left ({sample.excluded})")
    try:
        res = _did(sample, spec, opts, name, config,
                   classical=omitted_variable.wanted(config, name))
    except AuditError as exc:
        if isinstance(exc, NotEstimable):
            raise
        raise NotEstimable(spec.outcome, f"analysis {name}: {exc}") from None
    term = f"post_policy:{opts.intensity}"
    entry = model_entry(res, analysis=name, outcome=spec.outcome, level=level,
                         design="difference-in-differences", scale=scale, intensity=opts.intensity,
                         **variant)
    return AnalysisOutput(scale=scale, estimates={term: term_estimate(res, term, factor, level)},
                          models=[entry])


def _hiring_class_courts(frame: AnalysisFrame, start: dt.date, end: dt.date) -> set[str]:
    """Courts where a judge's first counted completion (the workload's, else the first
    decision) falls in [start, end]: the courts a hiring class joined."""
    if frame.workload is not None and len(frame.workload.day):
        first = frame.workload.first_day
    else:
        data = frame.data[frame.data["decision_date"].notna()]
        first = pd.Series(day_number(data["decision_date"])).groupby(
            data["judge_id"].astype(str).to_numpy()).min()
    new = set(first.index[(first >= to_day(start)) & (first <= to_day(end))].astype(str))
    data = frame.data
    return set(data.loc[data["judge_id"].astype(str).isin(new), "court_id"].astype(str))
