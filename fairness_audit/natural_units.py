"""Each primary test's estimate restated in natural units, for readers without statistics.

Why: a change of -0.076 log-odds per unit of quota_shortfall means nothing to a journalist or an
arbiter; "about 1.1 percentage points fewer grants for a judge 100 cases behind the target"
does. The audit computes these values once, here, and stores them in results.json (each
primary test's ``natural``) with the formula that produced them, so that the brief and the
report only print numbers that results.json holds.

One function per reporting scale, and a dispatcher (:func:`natural_units`) on the test's scale:

* ``log-odds`` (logit tests): the average marginal effect the audit already computed
  (``marginal_effect``, percentage points per unit of the term's continuous variable;
  models/marginal.py). quota_shortfall and pre_policy_gap are in hundreds of cases, so one unit
  is 100 cases behind the target and the value is used as it is. For log_duration one unit is a
  factor e (2.7) in duration; the value is restated per doubling of the duration, ln(2) x AME
  (the first-order change). A logit test without a marginal effect gets no natural units (None).
* ``log-days`` (H1): the percent change in case duration, 100 x (exp(b) - 1), applied to the
  estimate and to each end of its interval (the transform is increasing, so the interval's
  order is kept).
* ``percentage-points`` (H5's linear probability term, H6's within-court SD): already natural;
  the value is the estimate and its interval.

Other scales (counts, log-rates) get None: no primary test of the default plan uses them.

Example
-------
>>> n = natural_units({"scale": "log-days", "term": "post_policy:pre_policy_gap",
...                    "outcome": "log_duration", "estimate": -0.1, "ci_low": -0.2, "ci_high": 0.0})
>>> round(n["value"], 2), n["unit"]
(-9.52, 'percent of case duration')
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

PERCENTAGE_POINTS = "percentage points"
PERCENT_OF_DURATION = "percent of case duration"

# the variables of the plan in hundreds of cases (features.py: quota_shortfall, pre_policy_gap)
_PER_HUNDRED = {
    "quota_shortfall": "per 100 cases a judge is behind the target",
    "pre_policy_gap": "per 100 cases a judge was behind the target before the quota",
}
# what a probability outcome is the chance of
_OUTCOME_NOUN = {
    "granted": "a grant",
    "removal_ordered": "a removal order",
    "in_absentia": "a removal order in absentia (without the respondent present)",
    "remanded": "a remand on appeal",
    "appealed": "an appeal",
}
_GROUP = {
    "unrepresented": "respondents without a lawyer",
    "represented": "respondents with a lawyer",
    "detained": "detained respondents",
    "juvenile": "children",
    "asylum_application": "asylum applicants",
}
_POLICY = "post_policy"
_LN2 = math.log(2.0)


@dataclass(frozen=True)
class NaturalUnits:
    """A test's estimate and interval in natural units, with the words that read them.

    ``quantity`` says what changes, ``unit`` in what, ``per`` for what comparison (it follows
    the unit in a sentence: "-1.1 percentage points per 100 cases a judge is behind the
    target"); ``formula`` says how the value was computed from the test's estimate.
    """

    value: float
    ci_low: float
    ci_high: float
    unit: str
    per: str
    quantity: str
    formula: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _group_of(term: str) -> str | None:
    """The group variable of a term (a factor other than the policy flag and the focal
    variable), if any."""
    groups = [p for p in term.split(":") if p != _POLICY and p not in _PER_HUNDRED
              and p != "log_duration"]
    return groups[0] if groups else None


def _group_words(group: str) -> str:
    return _GROUP.get(group, f"decisions with {group}")


def group_words(term: str) -> str | None:
    """The group a term singles out, in words ("respondents without a lawyer"), or None.

    Example
    -------
    >>> group_words("post_policy:quota_shortfall:juvenile")
    'children'
    """
    group = _group_of(term)
    return _group_words(group) if group is not None else None


def _chance(outcome: str) -> str:
    return f"the chance of {_OUTCOME_NOUN.get(outcome, outcome)}"


def _quantity(term: str, what: str) -> str:
    """ "Change after the quota in <what>", with the group's extra change when the term has one."""
    parts = term.split(":")
    group = _group_of(term)
    if _POLICY in parts and group is not None and len(parts) > 2:
        return f"Extra change after the quota in {what} for {_group_words(group)}, beyond the others"
    if _POLICY in parts:
        return f"Change after the quota in {what}"
    return f"Difference in {what}"


def from_marginal_effect(effect: Mapping[str, Any], *, term: str, outcome: str) -> NaturalUnits | None:
    """Natural units of a logit test from its average marginal effect (percentage points).

    Parameters
    ----------
    effect
        The test's ``marginal_effect`` (results.json): ``estimate``, ``ci_low``, ``ci_high`` in
        percentage points per unit of the term's continuous variable, and ``definition``.
    term, outcome
        The test's term and outcome (contract section 4 names).

    Returns
    -------
    NaturalUnits or None
        None when the effect has no estimate or the term has no variable this module knows how
        to restate (quota_shortfall, pre_policy_gap, log_duration) and no binary factor only.

    Example
    -------
    >>> n = from_marginal_effect({"estimate": -1.2, "ci_low": -2.0, "ci_high": -0.4,
    ...                           "definition": "..."}, term="post_policy:quota_shortfall",
    ...                          outcome="granted")
    >>> n.value, n.per
    (-1.2, 'per 100 cases a judge is behind the target')
    """
    est, lo, hi = effect.get("estimate"), effect.get("ci_low"), effect.get("ci_high")
    if est is None or lo is None or hi is None:
        return None
    parts = term.split(":")
    what = _chance(outcome)
    definition = effect.get("definition", "")
    focal = next((p for p in parts if p in _PER_HUNDRED), None)
    if focal is not None:
        return NaturalUnits(
            value=float(est), ci_low=float(lo), ci_high=float(hi), unit=PERCENTAGE_POINTS,
            per=_PER_HUNDRED[focal], quantity=_quantity(term, what),
            formula=(f"the average marginal effect of {term} (marginal_effect: {definition}); "
                     f"{focal} is in hundreds of cases, so one unit is 100 cases and the value "
                     f"is used as it is"))
    if "log_duration" in parts:
        # one unit of log duration is a factor e; a doubling (ln 2 units) is easier to picture
        return NaturalUnits(
            value=_LN2 * float(est), ci_low=_LN2 * float(lo), ci_high=_LN2 * float(hi),
            unit=PERCENTAGE_POINTS, per="per doubling of the case's duration",
            quantity=_quantity(term, what),
            formula=(f"ln(2) x the average marginal effect of {term} (marginal_effect: "
                     f"{definition}), for the estimate and each end of its interval: the "
                     f"first-order change in probability for a case that took twice as long"))
    if all(p == _POLICY or p in _GROUP for p in parts):
        group = _group_of(term)
        per = f"for {_group_words(group)} compared with the others" if group else "after the quota"
        return NaturalUnits(
            value=float(est), ci_low=float(lo), ci_high=float(hi), unit=PERCENTAGE_POINTS,
            per=per, quantity=_quantity(term, what),
            formula=f"the average discrete change carried by {term} (marginal_effect: {definition})")
    return None


def from_log_days(estimate: float, ci_low: float, ci_high: float, *, term: str) -> NaturalUnits:
    """Natural units of a log-duration test: the percent change in case duration.

    A coefficient b on log((days + 1) / 365) multiplies (days + 1) by exp(b): the case is
    100 x (exp(b) - 1) percent longer (negative: shorter).

    Parameters
    ----------
    estimate, ci_low, ci_high
        The test's estimate and interval in log-days per unit of the term's variable.
    term
        The test's term, e.g. ``post_policy:pre_policy_gap``.

    Returns
    -------
    NaturalUnits

    Example
    -------
    >>> round(from_log_days(0.0953, 0.0, 0.2, term="post_policy:pre_policy_gap").value, 1)
    10.0
    """
    focal = next((p for p in term.split(":") if p in _PER_HUNDRED), None)
    per = _PER_HUNDRED[focal] if focal else f"per unit of {term}"
    return NaturalUnits(
        value=100.0 * math.expm1(estimate), ci_low=100.0 * math.expm1(ci_low),
        ci_high=100.0 * math.expm1(ci_high), unit=PERCENT_OF_DURATION, per=per,
        quantity=_quantity(term, "case length"),
        formula=("100 x (exp(b) - 1) for the estimate b (log-days, the outcome being "
                 "log((days + 1) / 365)) and for each end of its interval"
                 + (f"; {focal} is in hundreds of cases" if focal else "")))


def from_percentage_points(estimate: float, ci_low: float, ci_high: float, *, term: str,
                           outcome: str) -> NaturalUnits:
    """Natural units of a test already in percentage points (linear probability, judge spread).

    Parameters
    ----------
    estimate, ci_low, ci_high
        The test's estimate and interval, percentage points.
    term, outcome
        The test's term and outcome. ``judge_sd_within_court`` (H6) reads as the spread between
        judges of one court; a term with quota_shortfall or pre_policy_gap as per 100 cases; a
        term of binary factors as the group's difference from the others.

    Returns
    -------
    NaturalUnits

    Example
    -------
    >>> from_percentage_points(-2.1, -3.8, -0.4, term="post_policy:unrepresented",
    ...                        outcome="granted").per
    'for respondents without a lawyer compared with the others'
    """
    what = _chance(outcome)
    same = "the estimate and its interval, already in percentage points"
    if term.startswith("judge_sd"):
        change = term == "judge_sd_change"
        return NaturalUnits(
            value=float(estimate), ci_low=float(ci_low), ci_high=float(ci_high),
            unit=PERCENTAGE_POINTS, per="as a standard deviation across the judges of a court",
            quantity=(("Change after the quota in the spread" if change else "Spread")
                      + f" of {what} between judges of the same court, adjusted for case mix"),
            formula=same + " (tau, the within-court standard deviation of judges' case-mix-"
                           "adjusted grant rates; analyses/judges.py)")
    focal = next((p for p in term.split(":") if p in _PER_HUNDRED), None)
    group = _group_of(term)
    if focal is not None:
        per = _PER_HUNDRED[focal]
    elif group is not None:
        per = f"for {_group_words(group)} compared with the others"
    else:
        per = f"per unit of {term}"
    return NaturalUnits(value=float(estimate), ci_low=float(ci_low), ci_high=float(ci_high),
                        unit=PERCENTAGE_POINTS, per=per, quantity=_quantity(term, what),
                        formula=same)


def natural_units(test: Mapping[str, Any]) -> dict[str, Any] | None:
    """results.json ``natural`` of a test: its estimate in natural units, or None.

    Dispatches on the test's ``scale``: ``log-odds`` -> :func:`from_marginal_effect` (None
    without a marginal effect), ``log-days`` -> :func:`from_log_days`, ``percentage-points``
    -> :func:`from_percentage_points`; any other scale, or a test without an estimate, -> None.

    Parameters
    ----------
    test
        A test of results.json (``scale``, ``term``, ``outcome``, ``estimate``, ``ci_low``,
        ``ci_high``, and ``marginal_effect`` for logit tests).

    Returns
    -------
    dict or None
        ``{value, ci_low, ci_high, unit, per, quantity, formula}``.

    Example
    -------
    >>> natural_units({"scale": "log-odds", "term": "quota_shortfall", "outcome": "granted",
    ...                "estimate": 0.1, "ci_low": 0.0, "ci_high": 0.2}) is None
    True
    """
    est, lo, hi = test.get("estimate"), test.get("ci_low"), test.get("ci_high")
    if est is None or lo is None or hi is None:
        return None
    scale, term, outcome = test["scale"], test["term"], test["outcome"]
    result: NaturalUnits | None = None
    if scale == "log-odds":
        effect = test.get("marginal_effect")
        result = from_marginal_effect(effect, term=term, outcome=outcome) if effect else None
    elif scale == "log-days":
        result = from_log_days(est, lo, hi, term=term)
    elif scale == "percentage-points":
        result = from_percentage_points(est, lo, hi, term=term, outcome=outcome)
    return result.to_dict() if result is not None else None
