"""The report's methods appendix, written from the plan that results.json stores.

Why: a reader must learn what the audit did from the plan it ran, not from the plan the code
ships with. Rendering reads only results.json, so this module reads ``provenance.config`` (the
resolved plan) and nothing else: every date, threshold, method name and option below comes from
it, and a plan that changes one changes the appendix. The tests' reporting scales are not plan
options (the audit derives them from each model's family and outcome); they are read from the
tests of results.json.

The appendix is returned as data, not text: sentences are tuples whose parts are text or
:class:`Num` (a number of the plan with the formatter that writes it), so that the HTML template
writes each number inside the span that names its place in results.json (``numbers.py``) and the
Markdown template escapes each piece of text. Plan keys this module does not describe are listed
as written (:attr:`Methods.other`), so that no option of a plan goes unreported.

Example
-------
>>> m = methods({"provenance": {"config": {"inference": {"interval_level": 0.9,
...                                                       "adjustment": "holm"}}}})
>>> [part for part in m.inference[0].text if isinstance(part, str)][0]
'Intervals are at the '
>>> m.inference[0].text[1]
Num(value=0.9, fmt='level')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Item", "Methods", "ModelMethods", "Num", "TestMethods", "methods"]


@dataclass(frozen=True)
class Num:
    """A number of the plan in a sentence, with the name of the formatter that writes it
    (``numbers.FORMATTERS``: ``fmt``, ``level``, ``year``...)."""

    value: Any
    fmt: str = "fmt"


#: a sentence: text and numbers, in reading order
Sentence = tuple[Any, ...]


@dataclass(frozen=True)
class Item:
    """One entry of a definition list: a label and the sentence that explains it."""

    label: str
    text: Sentence


@dataclass(frozen=True)
class TestMethods:
    """A test of the plan that reads a model or an analysis."""

    id: str
    hypothesis: str
    role: str
    term: str
    scale: str | None
    sesoi: Any
    concern_sign: Any
    concern: str
    guards: tuple[str, ...] = ()  # robustness tests that must agree (contract section 6)


@dataclass(frozen=True)
class ModelMethods:
    """One model or analysis of the plan, with the tests that read it."""

    name: str
    kind: str                     # "model", or the analysis' kind (event_study, did, ...)
    family: str | None
    formula: str | None
    outcome: str | None
    fixed_effects: tuple[str, ...]
    cluster: str | None
    cov_type: str | None
    sample: tuple[str, ...]
    options: tuple[Item, ...]
    tests: tuple[TestMethods, ...]
    checked_by: tuple[str, ...]   # hypotheses whose verdict its design checks can force


@dataclass(frozen=True)
class Methods:
    """The methods appendix: each section a tuple of items (or models), in reading order."""

    design: tuple[Item, ...]
    features: tuple[Item, ...]
    models: tuple[ModelMethods, ...]
    inference: tuple[Item, ...]
    verdicts: tuple[Sentence, ...]
    disparities: tuple[Item, ...]
    other: tuple[Item, ...]


# the plan keys described below; any other key is listed as written (Methods.other)
_KNOWN = {
    "": {"seed", "policy", "window", "features", "inference", "controls", "fixed_effects",
         "models", "analyses", "hypotheses", "disparities", "robustness_grid"},
    "policy": {"start", "end", "memo"},
    "window": {"start", "end"},
    "features": {"quota_target", "completions", "intensity_window", "complete_year_slack_days"},
    "inference": {"alpha", "adjustment", "cluster", "interval_level",
                  "placebo_forces_inconclusive", "check_rule", "check_margin", "guard_level",
                  "bootstrap", "omitted_variable"},
    "disparities": {"outcomes", "continuous", "dimensions", "intersections", "min_cell",
                    "reference", "bootstrap_replicates", "adjusted", "adjusted_max_groups"},
}
_MODEL_KEYS = {"family", "outcome", "terms", "fixed_effects", "sample", "cov_type", "cluster"}
_HYPOTHESIS_KEYS = {"tests", "checks", "forcing_checks"}
_TEST_KEYS = {"id", "role", "model", "term", "concern_sign", "sesoi", "sesoi_reason", "guards"}
_METHOD_NAMES = {"bh": "Benjamini-Hochberg", "holm": "Holm"}
_COMPLETIONS = {
    "merits": "merits decisions in the workload file",
    "all": "every completion in the workload file (merits decisions and administrative "
           "completions)",
}
_SIGN = {-1: "negative", 1: "positive"}


def _get(mapping: Any, key: str, default: Any = None) -> Any:
    return mapping.get(key, default) if isinstance(mapping, Mapping) else default


def _names(values: Any) -> str:
    """A list of plan names as text ("a, b and c"); "none" for an empty list."""
    items = [str(v) for v in values or ()]
    if not items:
        return "none"
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _other(section: str, mapping: Any) -> list[Item]:
    if not isinstance(mapping, Mapping):
        return []
    known = _KNOWN.get(section, set())
    prefix = f"{section}." if section else ""
    return [Item(f"{prefix}{key}", (value,)) for key, value in mapping.items() if key not in known]


def _design(plan: Mapping[str, Any]) -> list[Item]:
    policy, window = _get(plan, "policy", {}), _get(plan, "window", {})
    items = []
    if policy:
        items.append(Item("policy", (
            f"The quota applies to decisions from {_get(policy, 'start', '?')} to "
            f"{_get(policy, 'end', '?')} (end excluded); the memo that announced it is dated "
            f"{_get(policy, 'memo', '?')} (anticipation checks).",)))
    if window:
        items.append(Item("analysis window", (
            f"Every model reads decisions dated from {_get(window, 'start', '?')} to "
            f"{_get(window, 'end', '?')} (end excluded), unless its design sets its own dates; "
            "other decisions are counted as outside the window.",)))
    if "controls" in plan:
        items.append(Item("controls", (f"{_names(plan['controls'])} (the plan's default "
                                       "respondent controls).",)))
    if "fixed_effects" in plan:
        items.append(Item("fixed effects", (f"{_names(plan['fixed_effects'])} (the plan's "
                                            "default; each model lists its own).",)))
    return items


def _features(plan: Mapping[str, Any]) -> list[Item]:
    features = _get(plan, "features", {})
    policy = _get(plan, "policy", {})
    if not features:
        return []
    target = _get(features, "quota_target")
    completions = _get(features, "completions")
    counted = _COMPLETIONS.get(str(completions), f"completions of kind '{completions}'")
    items = [
        Item("quota_shortfall", (
            "A judge's shortfall from the pro-rated target at a decision, in hundreds of cases: "
            "max(0, ", Num(target),
            " × (days since the later of October 1 and the judge's first completion in that "
            "fiscal year + 1) / 365 − the judge's completions dated before the decision in the "
            f"same fiscal year) / 100. Completions counted: {counted}. Fiscal years the data do "
            "not cover from their first day have no shortfall; their decisions are left out of "
            "the models that read it.")),
        Item("post_policy", (
            f"1 for decisions dated from {_get(policy, 'start', '?')} to "
            f"{_get(policy, 'end', '?')} (end excluded), else 0. Its main effect is absorbed by "
            "fiscal-year fixed effects and is not reported.",)),
    ]
    window = _get(features, "intensity_window") or ()
    if len(window) == 2:
        items.append(Item("pre_policy_gap", (
            "A judge's shortfall before the quota, in hundreds of cases: max(0, ", Num(target),
            " − the judge's mean completions per complete fiscal year over FY",
            Num(window[0], "year"), "–FY", Num(window[1], "year"),
            f") / 100, counting {counted}. A year is complete when the judge's first and last "
            "completions fall within ", Num(_get(features, "complete_year_slack_days"), "fmt"),
            " days of its first and last day; judges without a complete year in the window are "
            "left out of the timing designs.")))
    items.append(Item("other variables", (
        "unrepresented = not represented; log_duration = log((duration_days + 1) / 365); "
        "fiscal_month 1-12 (October = 1).",)))
    return items


def _tests_by_model(plan: Mapping[str, Any], results: Mapping[str, Any]) -> dict[str, list[TestMethods]]:
    scales = {t.get("id"): t.get("scale") for h in _get(results, "hypotheses", []) or []
              for t in _get(h, "tests", []) or []}
    out: dict[str, list[TestMethods]] = {}
    for hid, hyp in (_get(plan, "hypotheses", {}) or {}).items():
        for t in _get(hyp, "tests", []) or []:
            sign = _get(t, "concern_sign")
            out.setdefault(str(_get(t, "model")), []).append(TestMethods(
                id=str(_get(t, "id")), hypothesis=str(hid), role=str(_get(t, "role")),
                term=str(_get(t, "term")), scale=scales.get(_get(t, "id")) or None,
                sesoi=_get(t, "sesoi"), concern_sign=sign,
                concern=_SIGN.get(int(sign), str(sign)) if sign is not None else "—",
                guards=tuple(str(g) for g in _get(t, "guards", []) or [])))
    return out


def _models(plan: Mapping[str, Any], results: Mapping[str, Any]) -> list[ModelMethods]:
    tests = _tests_by_model(plan, results)
    cluster = _get(_get(plan, "inference", {}), "cluster")
    checked: dict[str, list[str]] = {}
    for hid, hyp in (_get(plan, "hypotheses", {}) or {}).items():
        for name in _get(hyp, "checks", []) or []:
            checked.setdefault(str(name), []).append(str(hid))
    out = []
    for name, spec in (_get(plan, "models", {}) or {}).items():
        terms = _get(spec, "terms", []) or []
        out.append(ModelMethods(
            name=str(name), kind="model", family=_get(spec, "family"),
            formula=f"{_get(spec, 'outcome', '?')} ~ {' + '.join(str(t) for t in terms)}",
            outcome=_get(spec, "outcome"),
            fixed_effects=tuple(str(f) for f in _get(spec, "fixed_effects", []) or []),
            # a model's own cluster when the plan gives one, else the plan's
            cluster=_get(spec, "cluster") or cluster, cov_type=_get(spec, "cov_type"),
            sample=tuple(str(s) for s in _get(spec, "sample", []) or []),
            options=tuple(Item(k, (v,)) for k, v in spec.items() if k not in _MODEL_KEYS),
            tests=tuple(tests.get(str(name), [])), checked_by=tuple(checked.get(str(name), []))))
    for name, spec in (_get(plan, "analyses", {}) or {}).items():
        options = _get(spec, "options", {}) or {}
        kind = str(_get(spec, "kind"))
        described = _kind_items(kind, plan)
        out.append(ModelMethods(
            name=str(name), kind=kind, family=None, formula=None,
            outcome=_get(spec, "outcome"), fixed_effects=(), cluster=cluster, cov_type=None,
            sample=(), options=described + tuple(Item(str(k), (v,)) for k, v in options.items())
            + _parallel_trends_items(kind, options, plan),
            tests=tuple(tests.get(str(name), [])), checked_by=tuple(checked.get(str(name), []))))
    return out


_CGBS = ("Callaway, Goodman-Bacon & Sant'Anna (2024), \"Difference-in-differences with a "
         "continuous treatment\"")


def _kind_items(kind: str, plan: Mapping[str, Any]) -> tuple[Item, ...]:
    """What an analysis of the quota (fairness_audit/analyses/quota.py) does, in words; the
    completions counted come from the plan; its options are listed after it as written."""
    completions = _get(_get(plan, "features", {}), "completions")
    counted = _COMPLETIONS.get(str(completions), f"completions of kind '{completions}'")
    if kind == "first_stage":
        return (Item("design", (
            "The first stage: each judge's completions in each calendar quarter of the window "
            f"(counted: {counted}), from the first to the last quarter in which the judge completed "
            "a case (a quarter of that spell without a completion counts 0), regressed on "
            "event_time[k] x pre_policy_gap (event quarters around the policy date, the reference "
            "quarter left out) and, pooled, on post_policy x pre_policy_gap: completions per "
            "quarter per 100 cases of pre-policy gap, judge and court x quarter fixed effects "
            "unless the options say otherwise (a judge's court: that of most of the judge's "
            "decisions in the window), errors clustered by judge, with the joint pre-trend test "
            "of the pre-policy quarters.",)),)
    if kind == "dose_response":
        return (Item("design", (
            "The dose response: the event study of the outcome by bins of pre_policy_gap, each bin "
            "against the judges at or above the target before the policy (gap 0), with judge and "
            "court x quarter fixed effects (as H1's event study) unless the options say otherwise, "
            "errors clustered by judge; the pooled post-policy coefficient of each "
            "bin draws the dose-response line. Under parallel trends a bin's coefficient is the "
            "average effect on the judges of that dose (ATT(d)); reading the differences between "
            "bins as the effect of more pressure needs strong parallel trends (judges of every "
            f"dose would have responded alike to the same dose): {_CGBS}. The option bins: a "
            "number n makes n quantile bins of the positive gaps of the sample's judges (3: "
            "terciles), a list gives the edges in hundreds of cases; the edges used are in "
            "results.json (the model's bins). Not estimable when no judge was at or above the "
            "target. It has no design check.",)),)
    return ()


def _parallel_trends_items(kind: str, options: Mapping[str, Any],
                           plan: Mapping[str, Any]) -> tuple[Item, ...]:
    """An event study's parallel-trends sensitivity as its options set it
    (sensitivity/parallel_trends.py; docs/timing.md), the grids the plan's or the defaults."""
    if kind != "event_study":
        return ()
    if not _get(options, "parallel_trends", True):
        return (Item("parallel-trends sensitivity", ("not computed (parallel_trends: false).",)),)
    from fairness_audit.sensitivity.parallel_trends import (
        DEFAULT_MBAR_GRID,
        DEFAULT_SMOOTHNESS_GRID,
    )

    level = _get(_get(plan, "inference", {}), "interval_level", 0.95)
    mbars = list(_get(options, "relative_magnitudes", DEFAULT_MBAR_GRID))
    multiples = list(_get(options, "smoothness", DEFAULT_SMOOTHNESS_GRID))

    def listed(values: list[Any]) -> list[Any]:
        out: list[Any] = []
        for i, v in enumerate(values):
            out += [Num(v)] + ([", "] if i < len(values) - 1 else [])
        return out

    return (Item("parallel-trends sensitivity", (
        "Rambachan and Roth (2023) robust ", Num(level, "level"), " intervals for the average of "
        "the post-policy event-study coefficients (not the pooled difference-in-differences "
        "coefficient), the reference quarter moved to -1 and end quarters that bin more than "
        "one calendar quarter left out. Relative magnitudes (each post-policy quarter-to-quarter "
        "change of the differential trend at most Mbar times the largest pre-policy one; the "
        "conditional test with the least-favourable hybrid of Andrews, Roth and Pakes) for "
        "Mbar = ", *listed(mbars), "; smoothness (the trend's slope changes by at most M a "
        "quarter; the optimal fixed-length interval) for M = ", *listed(multiples), " times the "
        "smallest effect of interest x 6 / ((T + 1)(T + 2)) with T post-policy quarters (the M "
        "at which the bends of a linearly extrapolated trend can add up to that many smallest "
        "effects in the average). Judged by the concern sign and smallest effect of interest of "
        "the test reading the analysis: when the conventional interval of the average is "
        "\"consistent with the concern\", the breakdown value is the smallest Mbar (M) at which "
        "the robust interval reaches zero; when \"not supported\", at which it reaches the "
        "smallest effect of interest on the concern's side; otherwise none applies.",)),)


_CHECK_KINDS = {"pre_trend": "pre-trend", "anticipation": "anticipation",
                "placebo_term": "placebo term", "placebo_date": "placebo date",
                "shock_date": "concurrent-shock date", "reversal": "reversal", "guard": "guards"}
_DEFAULT_FORCING = ("pre_trend", "anticipation", "placebo_term", "guard")


def _check_rule(inference: Mapping[str, Any], alpha: Any) -> Sentence:
    """How a design check is judged, from the plan (contract section 6; checks.py)."""
    if _get(inference, "check_rule", "relevance") == "significance":
        return ("A design check fails when the deviation it tests is significant at alpha "
                "(the significance-only rule).",)
    margin = _get(inference, "check_margin", 1.0)
    return ("A design check fails when the deviation it tests is significant at alpha and not "
            "shown to be small: its ", Num(1 - 2 * float(alpha), "level"), " interval is not "
            "inside plus or minus ", Num(margin), " times the smallest effect of interest of "
            "the test it guards (every pre-policy coefficient of a joint pre-trend test is held "
            "to this). A trivial deviation at national size passes; an imprecise one passes as "
            "with a significance test.")


def _forcing(plan: Mapping[str, Any]) -> str:
    parts = []
    for hid, h in (_get(plan, "hypotheses", {}) or {}).items():
        kinds = _get(h, "forcing_checks", _DEFAULT_FORCING)
        present = [k for k in kinds if k != "guard" or any(
            _get(t, "guards") for t in _get(h, "tests", []) or [])]
        if present:
            parts.append(f"{hid}: {', '.join(_CHECK_KINDS.get(str(k), str(k)) for k in present)}")
    return ("The checks that force a hypothesis' primary verdicts, by hypothesis (where it has "
            "them): " + ("; ".join(parts) if parts else "none") + ".")


_WEIGHTS = {"webb": "Webb's six-point weights (plus or minus the square roots of 1/2, 1 and 3/2, "
                    "each with probability 1/6)",
            "rademacher": "Rademacher weights (plus or minus 1)"}


def _bootstrap(inference: Mapping[str, Any]) -> Sentence:
    """The wild cluster bootstrap p-values (models/wild_bootstrap.py), from the plan."""
    boot = _get(inference, "bootstrap", {}) or {}
    reps, weights = _get(boot, "reps", 0), _get(boot, "weights")
    logit = ("No bootstrap for logit fits: the wild bootstrap resamples the residuals of a "
             "linear fit, and a score bootstrap (Kline and Santos 2012) of a logit with absorbed "
             "fixed effects is not implemented; a linear probability version of a logit model, "
             "where the plan has one, carries a bootstrap p-value.")
    if not reps:
        return ("Not computed (inference.bootstrap.reps is 0). " + logit,)
    return ("Beside the analytic p-value, each test that reads a linear model of the plan's "
            "models (not the designs under analyses) has a restricted wild cluster bootstrap "
            "p-value: the tested term set to zero in the bootstrap's model, ",
            Num(reps), f" replicates with {_WEIGHTS.get(str(weights), str(weights))} by "
            f"{_get(inference, 'cluster')}, drawn from the plan's seed; the bootstrap t uses CRV1 "
            "errors by cluster (also where the analytic errors are the jackknife), and p = (1 + "
            "the replicates with |t*| at least |t|) / (replicates + 1). The fixed effects that "
            "are not nested in the clusters are projected out of every replicate, so the "
            "bootstrap is that of refitting each one. Verdicts and the multiple-testing family "
            "keep the analytic p-values. " + logit)


def _omitted_variable(inference: Mapping[str, Any], alpha: Any) -> Sentence:
    """The omitted-variable sensitivity as the plan sets it (sensitivity/omitted_variable.py;
    the defaults are config.OmittedVariable's)."""
    ov = _get(inference, "omitted_variable", {}) or {}
    roles = _get(ov, "roles", ("primary", "supporting"))
    if not roles:
        return ("not computed (inference.omitted_variable.roles is empty).",)
    parts: list[Any] = [
        f"For each {_names(roles)} test that reads a linear model, Cinelli and Hazlett's (2020) "
        "partial R2 of its term with the outcome, its robustness value (the partial R2 with both "
        "the term and the outcome at which an omitted variable would bring the estimate to zero) "
        "and its robustness value at alpha = ", Num(alpha), " (at which the interval would "
        "include zero), from the classical (iid, non-clustered) standard error with the fixed "
        "effects partialled out, not the tests' clustered one."]
    benchmarks = _get(ov, "benchmarks", ("detained",)) or ()
    multiples = list(_get(ov, "multiples", (1, 2, 3)) or ())
    if benchmarks:
        parts.append(" Benchmarks: an omitted variable ")
        for i, k in enumerate(multiples):
            parts += [Num(k), ", " if i < len(multiples) - 2 else " or " if i == len(multiples) - 2
                      else ""]
        parts += [f" times as strong as {_names(benchmarks)} (where the model has it) with the "
                  "term and with the outcome: the partial R2s that implies and the estimate and ",
                  Num(1 - float(alpha), "level"), " interval adjusted for it."]
    parts.append(" The robustness value at alpha and the adjusted intervals are optimistic where "
                 "judge clustering widens a test's interval.")
    return tuple(parts)


def _inference(plan: Mapping[str, Any]) -> tuple[list[Item], list[Sentence]]:
    inference = _get(plan, "inference", {}) or {}
    level, alpha = _get(inference, "interval_level"), _get(inference, "alpha")
    adjustment = _get(inference, "adjustment")
    method = _METHOD_NAMES.get(str(adjustment), str(adjustment))
    primary = [str(_get(t, "id")) for h in (_get(plan, "hypotheses", {}) or {}).values()
               for t in _get(h, "tests", []) or [] if _get(t, "role") == "primary"]
    forces = _get(inference, "placebo_forces_inconclusive")
    items = [
        Item("intervals", ("Intervals are at the ", Num(level, "level"),
                           f" level; standard errors are clustered by {_get(inference, 'cluster')}"
                           " (each model's covariance is given with it above).")),
        Item("multiple testing", (
            f"{method} adjustment across the primary family: every primary test of the plan with "
            f"an estimate ({_names(primary)}); the adjusted p-values are the primary tests' "
            f"p_adjusted. Other tests keep their unadjusted p-value. Group gaps form their own "
            f"families, one per outcome x dimension, with the same method.",)),
        Item("error rate", ("alpha = ", Num(alpha), " (two-sided p-values).")),
        Item("placebo terms", (
            ("A placebo term (the slope before the quota) that fails (rule below) forces the "
             "hypothesis' primary verdicts to inconclusive."
             if forces else
             "Placebo terms (the slope before the quota) are reported; they force no verdict."),)),
        Item("design checks", _check_rule(inference, alpha)),
        Item("forcing checks", (_forcing(plan),)),
        Item("omitted-variable sensitivity", _omitted_variable(inference, alpha)),
        Item("bootstrap p-values", _bootstrap(inference)),
    ]
    verdicts: list[Sentence] = [
        ("Not supported: the test's ", Num(level, "level"),
         " interval excludes every effect at least its smallest effect of interest in the "
         "concern's direction (the reason says when a smaller effect was detected).",),
        (f"Consistent with the concern: otherwise, when its p-value ({method}-adjusted for a "
         "primary test) is below ", Num(alpha), " and the estimate has the concern's sign."),
        ("Inconclusive: otherwise.",),
        ("A forcing design check that fails or cannot be run makes the primary verdicts of its "
         "hypothesis inconclusive, and the reason names the check; the other checks are "
         "reported and force nothing.",),
        ("A primary test with guards is consistent with the concern only when each guard's "
         "interval also excludes zero with the concern's sign (unadjusted; intersection-union); "
         "otherwise it is inconclusive and the reason names the guard."
         if _get(inference, "guard_level", "unadjusted") != "family" else
         "A primary test with guards is consistent with the concern only when each guard's "
         "interval also excludes zero with the concern's sign, and the p-value the family "
         f"adjusts ({method}) is the intersection-union p-value: the largest of the test's and "
         "its guards' p-values (a guard with the opposite sign counts as 1), so that the guards "
         "are held at the family's level; otherwise it is inconclusive and the reason names the "
         "guard or the adjusted p-value.",),
        ("A hypothesis is consistent with the concern if any of its primary tests is, not "
         "supported if all are, and inconclusive otherwise.",),
    ]
    return items, verdicts


def _disparities(plan: Mapping[str, Any]) -> list[Item]:
    d = _get(plan, "disparities", {}) or {}
    if not d:
        return []
    references = _get(d, "reference", {}) or {}
    intersections = [" x ".join(str(p) for p in pair) for pair in _get(d, "intersections", []) or []]
    items = [
        Item("outcomes", (f"rates of {_names(_get(d, 'outcomes'))}; means and medians of "
                          f"{_names(_get(d, 'continuous'))}.",)),
        Item("dimensions", (f"{_names(_get(d, 'dimensions'))}; intersections: "
                            f"{_names(intersections)}.",)),
        Item("minimum cell", ("Cells with fewer than ", Num(_get(d, "min_cell")),
                              " decisions are suppressed, with complementary cells wherever a "
                              "hidden count could be solved from the tables shown.")),
        Item("intervals", ("Judge-cluster bootstrap, ", Num(_get(d, "bootstrap_replicates")),
                           " replicates (judges resampled once per replicate).")),
        Item("reference groups", (
            ("; ".join(f"{k}: {v}" for k, v in references.items())
             + "; other dimensions: the largest group." if references
             else "the largest group of each dimension (ties: the first seen)."),)),
    ]
    if _get(d, "adjusted"):
        items.append(Item("adjusted gaps", (
            "Linear-probability gaps adjusted for the other case characteristics, the judge and "
            "time, with the Oaxaca-Blinder split of each raw gap; groups beyond the largest ",
            Num(_get(d, "adjusted_max_groups")), " share one indicator and get no adjusted gap.")))
    else:
        items.append(Item("adjusted gaps", ("not computed (disparities.adjusted is false).",)))
    return items


#: seconds per model of the specification grid on the demo court (configs/demo.yaml), as
#: benchmarks/bench_grid.py last measured it (benchmarks/results/bench_grid.json; a test
#: checks that this is the figure it wrote)
GRID_SECONDS_PER_MODEL = 1.3


def _robustness(plan: Mapping[str, Any], results: Mapping[str, Any]) -> list[Item]:
    """The robustness plots and the plan's specification grid (fairness_audit/robustness.py)."""
    level = _get(_get(plan, "inference", {}), "interval_level")
    items = [Item("robustness plots", (
        "A hypothesis whose plan holds a variant of a primary test has a robustness plot: every "
        "specification of each primary test (the test itself, its guards, its other robustness "
        "tests, and supporting tests of the same outcome and term) with its ", Num(level, "level"),
        " interval, sorted by estimate, one panel per primary test and reporting scale. A "
        "robustness test belongs to the primary test that lists it as a guard, else to the "
        "primary test of its term, else to the first primary test of its outcome. Placebo terms "
        "and supporting tests of another outcome or term are not variants; the plot's caption "
        "lists them."))]
    grid = _get(plan, "robustness_grid")
    if not isinstance(grid, Mapping):
        items.append(Item("specification grid", (
            "not in the plan (robustness_grid): the plots show the plan's own specifications.",)))
        return items
    dims = [(key, list(_get(grid, key) or [])) for key in ("fixed_effects", "samples", "cluster")]
    words = {"fixed_effects": "fixed effects", "samples": "sample filters", "cluster": "clusters"}
    listed = [f"{words[key]} " + " or ".join(
        f"({', '.join(str(x) for x in v)})" if isinstance(v, list | tuple) else str(v)
        for v in values) for key, values in dims if values]
    kept = [words[key] for key, values in dims if not values]
    per_model = 1
    for _, values in dims:
        per_model *= max(len(values), 1)
    hypotheses = [str(h) for h in _get(grid, "hypotheses", []) or []]
    bases = {str(_get(t, "model")) for h in hypotheses
             for t in _get(_get(_get(plan, "hypotheses", {}), h, {}), "tests", []) or []
             if _get(t, "role") == "primary"}
    fitted = {str(_get(v, "model")) for h in _get(results, "hypotheses", []) or []
              for p in _get(_get(h, "robustness_plot", {}), "panels", []) or []
              for v in _get(p, "variants", []) or [] if _get(v, "kind") == "grid"}
    items.append(Item("specification grid", (
        f"For {_names(hypotheses)}, each primary model ({_names(sorted(bases))}) refitted with every "
        f"combination of {'; '.join(listed)}"
        + (f" (its own {_names(kept)})" if kept else "") + ": ", Num(per_model),
        " combinations per primary model, ", Num(per_model * len(bases)), " in all. A combination "
        "that is a model the plan already fits for the test is not fitted again; this audit fitted ",
        Num(len(fitted)), ", each about as costly as one fit of the primary model (about ",
        Num(GRID_SECONDS_PER_MODEL), " s per model on the demo court: docs/models.md, "
        "benchmarks/bench_grid.py). The fits are shown in the plots (kind grid) and stored in "
        "results.json robustness_plot, not among the models of appendix A.")))
    return items


def methods(results: Mapping[str, Any]) -> Methods:
    """The methods appendix of a results dict, from its ``provenance.config``.

    Parameters
    ----------
    results
        results.json as a dict; pass the sourced copy (``numbers.sourced``) so that the
        numbers of the appendix name their place in it.

    Returns
    -------
    Methods
        Sections of items whose sentences mix text and :class:`Num`; plan keys that the
        sections do not describe are in ``other``, as written.

    Example
    -------
    >>> plan = {"features": {"quota_target": 500, "completions": "all"}}
    >>> m = methods({"provenance": {"config": plan}})
    >>> m.features[0].text[1]
    Num(value=500, fmt='fmt')
    """
    plan = _get(_get(results, "provenance", {}), "config", {}) or {}
    inference, verdicts = _inference(plan)
    inference += _robustness(plan, results)
    other = _other("", plan)
    for section in ("policy", "window", "features", "inference", "disparities"):
        other += _other(section, _get(plan, section))
    for hid, hyp in (_get(plan, "hypotheses", {}) or {}).items():
        if not isinstance(hyp, Mapping):
            continue
        other += [Item(f"hypotheses.{hid}.{k}", (v,)) for k, v in hyp.items()
                  if k not in _HYPOTHESIS_KEYS]
        for t in _get(hyp, "tests", []) or []:
            other += [Item(f"hypotheses.{hid}.tests.{_get(t, 'id')}.{k}", (v,))
                      for k, v in t.items() if k not in _TEST_KEYS]
    return Methods(design=tuple(_design(plan)), features=tuple(_features(plan)),
                   models=tuple(_models(plan, results)), inference=tuple(inference),
                   verdicts=tuple(verdicts), disparities=tuple(_disparities(plan)),
                   other=tuple(other))
