"""The critics' concerns as tested hypotheses: plan (config) -> fitted models -> tests -> verdicts.

Each hypothesis of the plan names tests; each test reads one term of one model. Models are
fitted once and shared between tests. The primary tests of every hypothesis present form one
multiple-testing family (contract section 6). Placebo tests are also design checks: a pre-policy
slope that is not zero means the pressure measure picks up something else, and by default that
forces the hypothesis' primary verdicts to "inconclusive".
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fairness_audit.checks import check_label, event_study_check_kinds, guard_check, judge_check
from fairness_audit.config import AuditConfig, ModelSpec, TestSpec
from fairness_audit.errors import AuditError, ModelWarning, NotEstimable
from fairness_audit.features import AnalysisFrame
from fairness_audit.inference import (
    CONSISTENT,
    INCONCLUSIVE,
    METHOD_NAMES,
    adjust,
    hypothesis_verdict,
    intersection_union_p,
    verdict_of_test,
)
from fairness_audit.models.classical import CrossProducts
from fairness_audit.models.design import build_design
from fairness_audit.models.regression import FitResult, fit
from fairness_audit.models.wild_bootstrap import LinearBootstrap, bootstrap_entry
from fairness_audit.natural_units import natural_units
from fairness_audit.progress import ProgressLike, Task, as_progress
from fairness_audit.sensitivity import omitted_variable
from fairness_audit.stages import stage


@dataclass(frozen=True)
class HypothesisText:
    title: str
    concern: str
    design: str
    threats: tuple[str, ...]


HYPOTHESES: dict[str, HypothesisText] = {
    "H1": HypothesisText(
        "Quantity over quality: judges rush",
        "Judges are pushed to rush: quantity over quality.",
        "Difference-in-differences and event study around {policy_start}; intensity = the judge's "
        "pre-policy shortfall from {quota_target} a year; judge and court x quarter fixed effects.",
        ("Judges who were slow before may have sped up anyway (regression to the mean).",
         "Concurrent policies (Matter of A-B-, Matter of L-A-B-R-, hiring classes, COVID).")),
    "H2": HypothesisText(
        "Pressure shifts outcomes against respondents",
        "\"The boss wants removal orders, not grants\": quota pressure shifts outcomes against "
        "respondents.",
        "Logit of grant on the judge's shortfall from the pro-rated {quota_target} target at the decision "
        "date, before and after the quota, with judge, court x calendar month, nationality and "
        "case-type fixed effects and judge-clustered errors. The tested term is the change in the "
        "shortfall slope once the quota applied (post_policy:quota_shortfall); the slope before "
        "the quota is a placebo. Court x month effects absorb shocks to particular courts (the "
        "2020 closures); guards repeat the test on decisions before March 2020 and without "
        "special dockets, and both must agree for a finding.",
        ("Within a judge, the shortfall rises when the docket holds harder cases that take longer; "
         "if those cases are also less often granted, the slope is not the quota's effect.",
         "Logit with judge fixed effects is biased when judges have few decisions (incidental "
         "parameters); the linear probability version is a check.",
         "Shortfall is measured from the completions in the data: a judge's missing or "
         "misattributed completions (several judge codes, transfers) distort it.",
         "Policies at nearly the same time (Matter of A-B-, June 2018) change grant rates for "
         "everyone; the fiscal-year effects absorb them only if they hit judges alike.")),
    "H3": HypothesisText(
        "Speed costs accuracy",
        "Speed costs accuracy: decisions made faster are reversed or remanded on appeal more "
        "often, and remands rise after the quota.",
        "Among decisions that were appealed and that the appeals board has decided, a logit of "
        "remand on the case's log duration (log((days from filing to decision + 1) / 365)), "
        "the judge's quota shortfall and its post-policy change, with the respondent controls, "
        "judge, fiscal-year, fiscal-month, nationality and case-type fixed effects and "
        "judge-clustered errors. The tested term is log_duration (concern: negative, shorter "
        "cases remanded more); the post-policy pressure slope is a supporting test.",
        ("Which decisions are appealed is itself chosen: respondents appeal weak decisions, "
         "and the government appeals grants; a change in who appeals changes the sample.",
         "Cases that end fast differ from slow ones (detention, no lawyer, simple claims) in "
         "ways the controls may not capture; the duration slope is an association, not the "
         "effect of rushing a given case.",
         "The board's own backlog, composition and precedents changed over the period; appeals "
         "of recent decisions are still pending at the data's release, so late years are thin.",
         "Remands for reasons unrelated to the judge's speed (new evidence, changes in law) "
         "count as remands.")),
    "H4": HypothesisText(
        "Vulnerable people pay the price",
        "Asylum seekers, the unrepresented, the detained and children pay the price: the "
        "pressure effect is larger for them, and the representation and detention gaps widen "
        "after the quota.",
        "H2's logit of grant with, for each group g (unrepresented, detained, juvenile, asylum "
        "application), the terms quota_shortfall:g, post_policy:g and post_policy:quota_shortfall:g "
        "(a triple difference: post x pressure x group). Each of the four "
        "post_policy:quota_shortfall:g terms is a primary test: the extra change in the "
        "shortfall slope for that group once the quota applied, beyond the reference group's. "
        "Fixed effects and guards as in H2.",
        ("Group membership is recorded with error (representation dates, juvenile flags), "
         "which biases group differences toward zero.",
         "The groups overlap (detained respondents are more often unrepresented): each term is "
         "the group's difference holding the other groups fixed, not the raw gap.",
         "Four group tests enter the primary family: with the multiple-testing adjustment, "
         "a modest effect in one group is harder to detect than H2's overall slope.",
         "Small groups (children) give wide intervals; an inconclusive verdict there says the "
         "data cannot tell, not that there is no effect.")),
    "H5": HypothesisText(
        "Disparities between groups of respondents",
        "Grant rates differ by nationality, representation, custody, gender and language, raw "
        "and after adjustment, and the gaps widen after the quota.",
        "Linear probability model of grant on being unrepresented and its change after the "
        "quota (post_policy:unrepresented, percentage points), controlling for custody, age and "
        "asylum application, with judge, fiscal-year, fiscal-month, nationality and case-type "
        "fixed effects and judge-clustered errors. Beside it, the group tables: rates by group "
        "with judge-cluster bootstrap intervals, raw and adjusted gaps, the share of each gap "
        "that case mix, judges and timing explain (Oaxaca-Blinder), Benjamini-Hochberg within "
        "each outcome x dimension, small cells suppressed.",
        ("Unmeasured differences between represented and unrepresented cases (claim strength; "
         "lawyers choose cases they can win): the adjusted gap is not the effect of counsel.",
         "In percentage points a gap changes mechanically when the overall grant rate moves "
         "(after 2018 it fell): a constant gap on the log-odds scale narrows in points.",
         "Which unrepresented respondents reach a merits decision (rather than an in-absentia "
         "order) can change with the policy.")),
    "H6": HypothesisText(
        "Refugee roulette",
        "Outcomes depend on the judge, not the case (\"refugee roulette\"); judicial "
        "independence is eroded.",
        "Within-court standard deviation of judges' true grant rates after the quota, in "
        "percentage points: each judge's observed rate minus the rate expected for their cases "
        "from a model without the judge (controls, court, time, nationality and case type), a "
        "method-of-moments variance component with a judge bootstrap within courts, and "
        "Cochran's homogeneity test of no spread (one-sided). For display: empirical-Bayes "
        "judge rates shrunk toward the court, within-court spread, the judges' share of the "
        "outcome variance, and the change after the quota.",
        ("Cases are not randomly assigned within every court (detained or juvenile dockets, "
         "specialised judges): spread from unmeasured case differences looks like judge spread.",
         "With few judges per court the spread is imprecise; the bootstrap interval says how much.",
         "Judges under quota pressure differ in pace, and pressure itself moves grant rates: "
         "part of the spread after the quota can be pressure, not disposition.")),
    "H7": HypothesisText(
        "Rushing produces removal orders without a hearing",
        "Rushing produces removal orders in absentia: respondents who miss a hearing are "
        "ordered removed without being heard, and in-absentia orders rise with quota "
        "pressure.",
        "H2's design with the in-absentia order as outcome, on every merits decision in the "
        "window: a logit of in_absentia on the judge's shortfall from the pro-rated {quota_target} target "
        "and its change after the quota (post_policy:quota_shortfall, concern: positive), with "
        "the respondent controls, judge, court x calendar month, nationality and case-type "
        "fixed effects and judge-clustered errors; the pre-policy slope is a placebo, and the "
        "guards of H2 apply.",
        ("Notice failures and address errors vary over time for reasons unrelated to judges "
         "(Niz-Chavez v. Garland, 2021, on notices to appear; COVID closures in 2020).",
         "Within a judge, the shortfall rises when hearings are postponed or respondents fail "
         "to appear; if the judge's docket fills with no-shows, the slope is not the quota's "
         "effect.",
         "Detention status strongly predicts attendance; custody recorded with error biases "
         "the control.")),
}


def design_text(text: HypothesisText, config: AuditConfig) -> str:
    """A hypothesis' design in words, with the plan's policy date and quota target (text that
    depends on the plan is rendered from it)."""
    return text.design.format(policy_start=config.policy.start.isoformat(),
                              quota_target=config.features.quota_target)




# a placebo (pre-policy) term needs the window to open by this date (contract section 3)
PLACEBO_WINDOW_START = dt.date(2017, 10, 1)


def scale_of(spec: ModelSpec) -> tuple[str, float]:
    """The reporting scale of a model's coefficients and the factor that converts to it."""
    if spec.family == "logit":
        return "log-odds", 1.0
    if spec.family == "poisson":
        return "log-rate", 1.0
    if spec.outcome == "log_duration":
        return "log-days", 1.0
    if spec.outcome in ("n_hearings", "n_continuances"):
        return "count", 1.0
    return "percentage-points", 100.0


@dataclass(frozen=True)
class ModelOutcome:
    """A fitted model, or why it could not be fitted."""

    result: FitResult | None
    problem: str | None = None
    # tested term -> results.json ``bootstrap`` (models/wild_bootstrap.py)
    bootstrap: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Estimate:
    """One term of a custom analysis, on its reporting scale."""

    estimate: float
    std_error: float
    ci_low: float
    ci_high: float
    p_value: float
    n_obs: int
    # a linear fit's swept cross-products (raw scale), kept when the omitted-variable
    # sensitivity reads the term (sensitivity/omitted_variable.py)
    classical: CrossProducts | None = None


@dataclass(frozen=True)
class AnalysisOutput:
    """What a custom analysis (event study, judge variance...) contributes to the results.

    ``estimates`` maps term names to estimates that tests read; ``checks`` are design checks
    (a failed one forces the hypothesis' primary verdicts to inconclusive); ``models`` are
    results.json model entries (with an optional ``series``, which the report's figures read);
    ``problem`` says why the analysis could not run ("not estimable: <column>").
    """

    scale: str
    estimates: dict[str, Estimate]
    checks: list[dict[str, Any]] = field(default_factory=list)
    models: list[dict[str, Any]] = field(default_factory=list)
    problem: str | None = None
    # items of the hypothesis' ``sensitivity`` list (the event studies' parallel-trends
    # sensitivity, sensitivity/parallel_trends.py); run_hypotheses appends them
    sensitivity: list[dict[str, Any]] = field(default_factory=list)


# kind -> function(frame, config, name, spec) -> AnalysisOutput
ANALYSES: dict[str, Callable[..., AnalysisOutput]] = {}


def register_analysis(kind: str):
    """Decorator: make a function available to the plan as ``analyses.<name>.kind``."""

    def wrap(func: Callable[..., AnalysisOutput]) -> Callable[..., AnalysisOutput]:
        ANALYSES[kind] = func
        return func

    return wrap


def run_analyses(frame: AnalysisFrame, config: AuditConfig, names: set[str], *,
                 task: Task | None = None) -> dict[str, AnalysisOutput]:
    from fairness_audit import analyses as _registered  # noqa: F401 - registers the kinds

    out = {}
    for name in sorted(names):
        spec = config.analyses[name]
        if spec.kind not in ANALYSES:
            raise AuditError(f"analyses.{name}: kind '{spec.kind}' is not known; known kinds: "
                             f"{sorted(ANALYSES)}")
        try:
            with stage(f"analysis {name}"):
                out[name] = ANALYSES[spec.kind](frame, config, name, spec)
        except NotEstimable as exc:
            out[name] = AnalysisOutput(scale="", estimates={}, problem=str(exc))
        if task is not None:
            task.advance()
    return out


def fit_models(frame: AnalysisFrame, config: AuditConfig, names: set[str], *,
               task: Task | None = None) -> dict[str, ModelOutcome]:
    out: dict[str, ModelOutcome] = {}
    for name in sorted(names):
        with stage(f"model {name}"):
            out[name] = _fit_model(frame, config, name)
        if task is not None:
            task.advance()
    return out


def _fit_model(frame: AnalysisFrame, config: AuditConfig, name: str) -> ModelOutcome:
    spec = config.models[name]
    try:
        design = build_design(frame.data, spec, cluster=config.inference.cluster)
        # the notes travel in result.warnings; they are not re-raised as warnings here
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("always", ModelWarning)
            tested = tuple(dict.fromkeys(t.term for h in config.hypotheses.values()
                                         for t in h.tests if t.model == name))
            result = fit(design, name=name, marginal_terms=tested,
                         level=config.inference.interval_level,
                         classical=omitted_variable.wanted(config, name))
        return ModelOutcome(result, bootstrap=_bootstraps(design, result, tested, config))
    except NotEstimable as exc:
        return ModelOutcome(None, str(exc))
    except AuditError as exc:
        return ModelOutcome(None, f"could not be fitted: {exc}")


def _bootstraps(design, result: FitResult, terms: tuple[str, ...],
                config: AuditConfig) -> dict[str, dict[str, Any]]:
    """The wild cluster bootstrap of each tested term of a linear model (a logit's: none, and
    why), beside the analytic p-value; the verdicts keep the analytic one."""
    options = config.inference.bootstrap
    boot = None
    out = {}
    with stage(f"bootstrap {result.name}"):
        for term in terms:
            if design.spec.family == "ols" and options.reps and boot is None:
                try:  # the rows with the fixed effects swept out, once for the model's terms
                    boot = LinearBootstrap.from_design(design)
                except (AuditError, np.linalg.LinAlgError) as exc:
                    out[term] = {"method": None, "reason": f"not computed: {exc}"}
                    continue
            out[term] = bootstrap_entry(design, result.params, term, reps=options.reps,
                                        weights=options.weights, seed=config.seed, boot=boot)
    return out


def _analysis_test_row(spec: TestSpec, output: AnalysisOutput, config: AuditConfig) -> dict[str, Any]:
    row = _empty_row(spec, config.analyses[spec.model].outcome, output.scale, output.problem)
    est = output.estimates.get(spec.term)
    if output.problem is None and est is None:
        row["verdict_reason"] = f"not estimable: {spec.term}"
    if est is not None:
        row.update({"estimate": est.estimate, "std_error": est.std_error, "ci_low": est.ci_low,
                    "ci_high": est.ci_high, "p_value": est.p_value, "n_obs": int(est.n_obs)})
    return row


def _empty_row(spec: TestSpec, outcome: str, scale: str, problem: str | None) -> dict[str, Any]:
    return {
        "id": spec.id, "role": spec.role, "model": spec.model, "outcome": outcome,
        "term": spec.term, "scale": scale, "estimate": None, "std_error": None, "ci_low": None,
        "ci_high": None, "p_value": None, "p_adjusted": None, "n_obs": None,
        "concern_sign": spec.concern_sign, "sesoi": spec.sesoi, "sesoi_reason": spec.sesoi_reason,
        "verdict": INCONCLUSIVE, "verdict_reason": problem,
    }


def _test_row(spec: TestSpec, model: ModelOutcome, config: AuditConfig) -> dict[str, Any]:
    mspec = config.models[spec.model]
    scale, factor = scale_of(mspec)
    row = _empty_row(spec, mspec.outcome, scale, model.problem)
    res = model.result
    if res is None:
        return row
    if spec.role == "placebo" and config.window.start > PLACEBO_WINDOW_START:
        # contract section 3: the pre-policy slope needs a full pre-policy year in the window
        row["verdict_reason"] = (f"not estimable: {spec.term} (the window starts "
                                 f"{config.window.start}, after {PLACEBO_WINDOW_START}: no full "
                                 f"pre-policy year)")
        return row
    table = res.to_frame(config.inference.interval_level).set_index("term")
    if spec.term not in table.index or not np.isfinite(table.loc[spec.term, "estimate"]):
        row["verdict_reason"] = f"not estimable: {spec.term} (dropped by the engine)"
        return row
    t = table.loc[spec.term]
    row.update({
        "estimate": float(t["estimate"]) * factor, "std_error": float(t["std_error"]) * factor,
        "ci_low": float(t["ci_low"]) * factor, "ci_high": float(t["ci_high"]) * factor,
        "p_value": float(t["p_value"]), "n_obs": int(res.n_obs),
    })
    if spec.term in model.bootstrap:
        row["bootstrap"] = model.bootstrap[spec.term]
    ame = next((m for m in res.marginal_effects if m.term == spec.term), None)
    if ame is not None:
        row["marginal_effect"] = ame.to_dict()
    return row


def _placebo_check(row: dict[str, Any], alpha: float, df: int | None) -> dict[str, Any]:
    name = f"{check_label('placebo_term', row['id'])}: {row['term']} before the policy is zero"
    if row["estimate"] is None:
        return {"name": name, "kind": "placebo_term", "statistic": None, "df": None,
                "p_value": None, "passed": None, "significant": None,
                "note": row["verdict_reason"]}
    stat = row["estimate"] / row["std_error"] if row["std_error"] else None
    return {"name": name, "kind": "placebo_term", "statistic": stat, "df": df,
            "p_value": row["p_value"], "passed": bool(row["p_value"] >= alpha),
            "significant": bool(row["p_value"] < alpha), "estimate": row["estimate"],
            "std_error": row["std_error"], "ci_low": row["ci_low"], "ci_high": row["ci_high"],
            "test_id": row["id"]}


def _check_sesoi(hyp, name: str, scale: str, config: AuditConfig) -> float | None:
    """The smallest effect of interest a check of analysis ``name`` is held to: that of the
    test reading the analysis (a primary one first), else that of the hypothesis' first primary
    test on the analysis' scale (checks named under ``checks``); None when neither exists."""
    readers = sorted((t for t in hyp.tests if t.model == name), key=lambda t: t.role != "primary")
    if readers:
        return readers[0].sesoi
    for t in hyp.tests:
        if t.role == "primary" and t.model in config.models and \
                scale_of(config.models[t.model])[0] == scale:
            return t.sesoi
    return None


def reader_test(config: AuditConfig, name: str, scale: str) -> tuple[str, TestSpec] | None:
    """The hypothesis and test whose concern sign and smallest effect of interest judge an
    analysis: the first hypothesis with a test reading ``name`` (a primary one first), else the
    first naming it under ``checks``, with its first primary test on ``scale`` (the test
    :func:`_check_sesoi` takes the threshold of); None when no hypothesis reads it."""
    for hid, hyp in config.hypotheses.items():
        readers = sorted((t for t in hyp.tests if t.model == name), key=lambda t: t.role != "primary")
        if readers:
            return hid, readers[0]
    for hid, hyp in config.hypotheses.items():
        if name in hyp.checks:
            for t in hyp.tests:
                if t.role == "primary" and t.model in config.models and \
                        scale_of(config.models[t.model])[0] == scale:
                    return hid, t
    return None


def _unrun_checks(name: str, problem: str | None, config: AuditConfig) -> list[dict[str, Any]]:
    """The design checks of an analysis that could not be run, each "could not be run": a
    forcing one then forces "inconclusive" (contract section 6), as when the analysis ran and
    its check could not be computed. Only event studies make forcing checks."""
    spec = config.analyses[name]
    if problem is None or spec.kind != "event_study":
        return []
    return [{"name": f"{check_label(kind, spec.outcome)}: the checks of analysis {name}",
             "kind": kind, "statistic": None, "df": None, "p_value": None, "passed": None,
             "significant": None, "note": problem}
            for kind in event_study_check_kinds(spec.options)]


def _forcing_kinds(hyp, config: AuditConfig) -> set[str]:
    kinds = set(hyp.forcing_checks)
    if not config.inference.placebo_forces_inconclusive:
        kinds.discard("placebo_term")
    return kinds


def _forcing_sources(hyp) -> set[str]:
    """The models and analyses whose checks can force the primary verdicts: those a primary
    test reads and the analyses the plan names under ``checks``."""
    return {t.model for t in hyp.tests if t.role == "primary"} | set(hyp.checks)


def forcing_check_keys(config: AuditConfig) -> list[str]:
    """The short names (a check's name up to its colon) of the design checks that force
    "inconclusive" under this plan, guards aside: what validation reads as the checks that
    decide verdicts, beside those that are only reported.

    Example
    -------
    >>> from fairness_audit.config import load_config
    >>> forcing_check_keys(load_config())
    ['pre-trend (log_duration)', 'anticipation (log_duration)', 'placebo H2.placebo', 'placebo H7.placebo']
    """
    keys = []
    for hyp in config.hypotheses.values():
        kinds = _forcing_kinds(hyp, config)
        for name in sorted(_forcing_sources(hyp) & set(config.analyses)):
            spec = config.analyses[name]
            if spec.kind != "event_study":  # only event studies make forcing checks
                continue
            keys += [check_label(k, spec.outcome) for k in event_study_check_kinds(spec.options)
                     if k in kinds]
        if "placebo_term" in kinds:
            keys += [check_label("placebo_term", t.id) for t in hyp.tests if t.role == "placebo"]
    return list(dict.fromkeys(keys))


def _failure(check: dict[str, Any]) -> str | None:
    """Why a forcing check forces "inconclusive" (it failed, or could not be run), else None."""
    if check["passed"] is False:
        return check["name"]
    if check["passed"] is None:
        return f"{check['name']} (could not be run: {check.get('note') or 'not estimable'})"
    return None


def _guard_checks(spec: TestSpec, rows: dict[str, dict[str, Any]],
                  fits: dict[str, ModelOutcome], primary_model: str) -> list[dict[str, Any]]:
    """The guards of one primary test, as checks; a guard whose exclusion left nothing out says
    it equals the primary test's sample."""
    out = []
    for gid in spec.guards:
        guard = dict(rows[gid])
        fit_ = fits.get(guard["model"])
        base = fits.get(primary_model)
        if fit_ is not None and fit_.result is not None and base is not None and \
                base.result is not None and fit_.result.n_obs == base.result.n_obs:
            guard["equals_primary"] = ("its sample is the primary test's (nothing in these data "
                                       "falls under its restriction)")
        out.append(guard_check(rows[spec.id], guard))
    return out


def _apply_guards(h: dict[str, Any], hyp, fits: dict[str, ModelOutcome], *, guarding: bool) -> None:
    """Intersection-union: a primary test stays "consistent with the concern" only when each of
    its guards excludes zero with the concern's sign (unadjusted); a guard that failed or could
    not be run turns it "inconclusive" and the reason names the guard."""
    rows = {t["id"]: t for t in h["tests"]}
    for spec in hyp.tests:
        if not spec.guards:
            continue
        guards = _guard_checks(spec, rows, fits, spec.model)
        for g in guards:
            g["forces_inconclusive"] = guarding
        h["checks"].extend(guards)
        row = rows[spec.id]
        failed = [f"{g['test_id']} could not be run ({g.get('note')})" if g["passed"] is None
                  else f"{g['test_id']}'s interval [{g['ci_low']:.3g}, {g['ci_high']:.3g}] does "
                       f"not exclude zero with the concern's sign"
                  for g in guards if g["passed"] is not True]
        if guarding and failed and row["verdict"] == CONSISTENT:
            row["failed_guards"] = [g["test_id"] for g in guards if g["passed"] is not True]
            row["verdict"] = INCONCLUSIVE
            row["verdict_reason"] = (f"guard failed: {'; '.join(failed)} (the primary test alone: "
                                     f"{row['verdict_reason']})")


def _family_p(test: dict[str, Any], rows: dict[str, dict[str, Any]], config: AuditConfig) -> float:
    """The p-value a primary test brings to the multiple-testing family: its own, or, with
    ``inference.guard_level: family`` and guards in the plan, the intersection-union p-value of
    the test and its guards (kept in the row as ``p_intersection_union``)."""
    spec = next(t for h in config.hypotheses.values() for t in h.tests if t.id == test["id"])
    if config.inference.guard_level != "family" or not spec.guards:
        return test["p_value"]
    test["p_intersection_union"] = intersection_union_p(
        test["p_value"], test["concern_sign"],
        [(rows[g]["estimate"], rows[g]["p_value"]) for g in spec.guards])
    return test["p_intersection_union"]


def _cross_products(spec: TestSpec, fits: dict[str, ModelOutcome],
                    outputs: dict[str, AnalysisOutput],
                    config: AuditConfig) -> tuple[CrossProducts | None, float]:
    """The swept cross-products a linear fit kept for the term a test reads (None when it kept
    none), and the factor of the test's reporting scale."""
    if spec.model in outputs:
        est = outputs[spec.model].estimates.get(spec.term)
        # only linear analyses keep cross-products: their scale is a linear model's
        linear = ModelSpec(family="ols", outcome=config.analyses[spec.model].outcome, terms=())
        return (None if est is None else est.classical), scale_of(linear)[1]
    res = fits[spec.model].result
    return (None if res is None else res.extra.get("classical")), scale_of(config.models[spec.model])[1]


def run_hypotheses(frame: AnalysisFrame, config: AuditConfig, *, progress: ProgressLike = None):
    """Fit the plan's models and turn them into hypotheses with tests, checks and verdicts.

    Returns (hypotheses, models, family) in the shapes of results.json. ``progress``
    (:mod:`fairness_audit.progress`) counts the models and analyses as they finish. A hypothesis
    whose plan holds variants of its primary tests carries ``robustness_plot``, with the fits of
    the plan's ``robustness_grid`` when it has one (:mod:`fairness_audit.robustness`).
    """
    needed = {t.model for h in config.hypotheses.values() for t in h.tests} | {
        name for h in config.hypotheses.values() for name in h.checks}
    models, analyses = needed - set(config.analyses), needed & set(config.analyses)
    # the fits are the audit's long wait (minutes at national size): one count for all of them
    with as_progress(progress).task("models and analyses", len(models) + len(analyses)) as task:
        fits = fit_models(frame, config, models, task=task)
        outputs = run_analyses(frame, config, analyses, task=task)
    # the plan's specification grid for the robustness plots ({} without robustness_grid)
    from fairness_audit.robustness import fit_grid, robustness_plot  # it imports this module

    grid = fit_grid(frame, config, progress=progress)
    alpha = config.inference.alpha
    hypotheses = []
    for hid, hyp in config.hypotheses.items():
        text = HYPOTHESES.get(hid, HypothesisText(hid, "", "", ()))
        tests = [_analysis_test_row(t, outputs[t.model], config) if t.model in outputs
                 else _test_row(t, fits[t.model], config) for t in hyp.tests]
        rule = dict(rule=config.inference.check_rule, margin=config.inference.check_margin,
                    alpha=alpha)
        kinds = _forcing_kinds(hyp, config)
        checks = []
        for spec, row in zip(hyp.tests, tests, strict=True):
            if row["role"] == "placebo" and row["model"] in fits:
                res = fits[row["model"]].result
                checks.append(judge_check(_placebo_check(row, alpha, res.df_t if res else None),
                                          sesoi=spec.sesoi, **rule))
        # Checks force the primary verdicts when their kind is among the plan's forcing_checks
        # and, for an analysis' checks, the plan names the analysis under `checks` or a primary
        # test reads it. An analysis that only non-primary tests read forces those tests alone,
        # by its own checks' forces_inconclusive (pre-trend and anticipation).
        primary_sources = _forcing_sources(hyp)
        own_failures: dict[str, list[str]] = {}
        for name in dict.fromkeys([t.model for t in hyp.tests if t.model in outputs]
                                  + list(hyp.checks)):
            sesoi = _check_sesoi(hyp, name, outputs[name].scale, config)
            found = outputs[name].checks or _unrun_checks(name, outputs[name].problem, config)
            judged = [judge_check(c, sesoi=sesoi, **rule) for c in found]
            own_failures[name] = [c["name"] for c in judged
                                  if c["passed"] is False and c.get("forces_inconclusive", True)]
            for c in judged:
                c["forces_inconclusive"] = name in primary_sources and c.get("kind") in kinds
            checks.extend(judged)
        for c in checks:
            if c.get("kind") == "placebo_term":
                c["forces_inconclusive"] = "placebo_term" in kinds
        forcing = [f for c in checks if c["forces_inconclusive"] and (f := _failure(c))]
        hypotheses.append({
            "id": hid, "title": text.title, "concern": text.concern,
            "design": design_text(text, config),
            "threats": list(text.threats), "verdict": INCONCLUSIVE, "verdict_reason": "",
            "tests": tests, "checks": checks, "_forcing": forcing, "_own": own_failures,
        })
        # the parallel-trends sensitivity of the event studies the hypothesis reads, each
        # judged by the test reader_test chose (sensitivity/parallel_trends.py)
        trends = [item for name in dict.fromkeys([t.model for t in hyp.tests if t.model in outputs]
                                                 + list(hyp.checks))
                  for item in outputs[name].sensitivity if item.get("hypothesis") == hid]
        if trends:
            hypotheses[-1].setdefault("sensitivity", []).extend(trends)

    primary = [t for h in hypotheses for t in h["tests"]
               if t["role"] == "primary" and t["p_value"] is not None]
    rows = {t["id"]: t for h in hypotheses for t in h["tests"]}
    family_p = [_family_p(t, rows, config) for t in primary]
    for t, p_adj in zip(primary, adjust(family_p, config.inference.adjustment), strict=True):
        t["p_adjusted"] = p_adj
    family = {"method": METHOD_NAMES[config.inference.adjustment],
              "tests": [t["id"] for t in primary], "alpha": alpha,
              "guard_level": config.inference.guard_level}

    for h, hyp in zip(hypotheses, config.hypotheses.values(), strict=True):
        forcing = h.pop("_forcing")
        own = h.pop("_own")
        forced = "; ".join(forcing) if forcing else None
        for t in h["tests"]:
            if t["estimate"] is None:
                continue
            p_for_verdict = t["p_adjusted"] if t["role"] == "primary" else t["p_value"]
            verdict, reason = verdict_of_test(
                estimate=t["estimate"], ci_low=t["ci_low"], ci_high=t["ci_high"],
                p_value=p_for_verdict, concern_sign=t["concern_sign"], sesoi=t["sesoi"],
                alpha=alpha, failed_check=forced if t["role"] == "primary"
                else ("; ".join(own.get(t["model"], [])) or None))
            if t["role"] != "primary":
                reason += " (unadjusted p-value: not in the primary family)"
            elif "p_intersection_union" in t:
                reason += (" (the adjusted p-value is that of the intersection-union p-value "
                           f"{t['p_intersection_union']:.3g}: the largest of the test's and its "
                           "guards' p-values)")
            t["verdict"], t["verdict_reason"] = verdict, reason
        _apply_guards(h, hyp, fits, guarding="guard" in _forcing_kinds(hyp, config))
        ov = config.inference.omitted_variable
        sensitivity = omitted_variable.items(
            hyp.tests, h["tests"], lambda spec: _cross_products(spec, fits, outputs, config),
            roles=ov.roles, benchmarks=ov.benchmarks, multiples=ov.multiples, alpha=alpha)
        if sensitivity:
            h.setdefault("sensitivity", []).extend(sensitivity)
        primary = [t for t in h["tests"] if t["role"] == "primary"]
        for t in primary:  # the brief's "what the data show", computed here (natural_units.py)
            t["natural"] = natural_units(t)
        h["verdict"], h["verdict_reason"] = hypothesis_verdict([t["verdict"] for t in primary])
        # what kept primary tests from a verdict: a failed design check, or no estimate
        blocked = [t["verdict_reason"] for t in primary
                   if t["verdict_reason"] and (forced or t["estimate"] is None
                                               or t["verdict_reason"].startswith("guard failed"))]
        if h["verdict"] == INCONCLUSIVE and blocked:
            h["verdict_reason"] += "; " + "; ".join(dict.fromkeys(blocked))

    for h, hyp in zip(hypotheses, config.hypotheses.values(), strict=True):
        plot = robustness_plot(hyp, h["tests"], config, grid)
        if plot is not None:
            h["robustness_plot"] = plot

    models = [m for name in sorted(outputs) for m in outputs[name].models]
    for name, outcome in sorted(fits.items()):
        if outcome.result is not None:
            models.append(outcome.result.to_dict(config.inference.interval_level))
        else:
            spec = config.models[name]
            models.append({"name": name, "family": spec.family, "engine": None,
                           "formula": f"{spec.outcome} ~ {' + '.join(spec.terms)}",
                           "fixed_effects": list(spec.fixed_effects),
                           "cluster": spec.cluster or config.inference.cluster, "cov_type": None,
                           "small_sample_correction": None, "n_obs": 0, "n_clusters": 0,
                           "sample": {"filter": " & ".join(spec.sample), "excluded": {}},
                           "coefficients": [], "warnings": [outcome.problem]})
    return hypotheses, models, family

