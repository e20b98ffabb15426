"""Design checks judged by relevance, and guards (contract section 6).

A design check measures a deviation that the design assumes away (a pre-policy slope, a
pre-trend, divergence before the policy). With millions of decisions a significance test rejects
deviations far too small to matter; with few judges it passes large ones. So a check fails only
when its deviation is significant (the check's own test rejects at ``alpha``) and not shown to be
small: its 1 - 2 alpha interval (90% at alpha = 0.05, the two one-sided tests of equivalence) is
not inside plus or minus ``margin`` times the smallest effect of interest of the test it guards.
A joint pre-trend check holds every pre-policy coefficient to that bound. The significance-only
rule (``inference.check_rule: significance``) is kept as a plan option.

Guards are robustness variants that can change a verdict: a primary test is "consistent with
the concern" only when each of its guards also excludes zero with the concern's sign at the
unadjusted level (intersection-union: the error rate does not grow).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

RELEVANCE = "relevance"
SIGNIFICANCE = "significance"


def check_label(kind: str, subject: str) -> str:
    """A design check's short name, the text of its full name before the colon: the key by
    which the plan's forcing rules, the report and the validation rows refer to it, e.g.
    "pre-trend (log_duration)" for an event study's outcome, "placebo H2.placebo" for a test."""
    if kind == "placebo_term":
        return f"placebo {subject}"
    return f"{kind.replace('_', '-')} ({subject})"


def event_study_check_kinds(options: dict[str, Any]) -> list[str]:
    """The checks an event study makes that can force a verdict: its pre-trend test, and its
    anticipation test unless the plan switches its falsification designs off."""
    return ["pre_trend"] + (["anticipation"] if options.get("falsification", True) else [])


def _equivalence_interval(estimate: float, std_error: float, df: int | None,
                          alpha: float) -> tuple[float, float]:
    """The 1 - 2 alpha interval (t with ``df`` degrees of freedom; normal when None)."""
    q = float(stats.t.ppf(1 - alpha, df) if df else stats.norm.ppf(1 - alpha))
    return float(estimate - q * std_error), float(estimate + q * std_error)


def judge_check(check: dict[str, Any], *, sesoi: float | None, rule: str, margin: float,
                alpha: float) -> dict[str, Any]:
    """Set ``passed`` of one check under the plan's rule; returns the check with the rule's facts.

    ``check["significant"]`` is the check's own test (None when it could not be run). Under the
    relevance rule the check also needs ``estimate`` and ``std_error`` (one coefficient) or
    ``coefficients`` (a list of {term, estimate, std_error}: a joint check), on the scale of
    ``sesoi``. Adds ``rule``, ``bound`` (margin x sesoi), ``shown_small`` and, for each
    coefficient, its ``equivalence_low``/``equivalence_high``.

    Example
    -------
    >>> c = judge_check({"significant": True, "estimate": 0.004, "std_error": 0.001, "df": 299},
    ...                 sesoi=0.05, rule="relevance", margin=1.0, alpha=0.05)
    >>> c["passed"], c["shown_small"]
    (True, True)
    """
    out = dict(check)
    significant = check.get("significant")
    out["rule"] = rule
    if significant is None:
        out["passed"] = None
        return out
    if rule == SIGNIFICANCE or sesoi is None:
        out["passed"] = not significant
        if rule == RELEVANCE:
            out["note"] = "no smallest effect of interest on this check's scale: judged by significance"
        return out
    bound = margin * sesoi
    coefficients = check.get("coefficients")
    if coefficients is None:
        coefficients = [check] if check.get("std_error") is not None else []
    small = bool(coefficients)
    judged = []
    for c in coefficients:
        low, high = _equivalence_interval(c["estimate"], c["std_error"], check.get("df_t") or
                                          check.get("df"), alpha)
        judged.append({**{k: c[k] for k in ("term", "estimate", "std_error") if k in c},
                       "equivalence_low": low, "equivalence_high": high})
        small &= bool(-bound <= low and high <= bound)
    out["bound"] = bound
    out["shown_small"] = small
    if check.get("coefficients") is not None:
        out["coefficients"] = judged
    else:
        out["equivalence_low"], out["equivalence_high"] = (
            (judged[0]["equivalence_low"], judged[0]["equivalence_high"]) if judged else (None, None))
    out["passed"] = not (significant and not small)
    return out


def guard_check(primary: dict[str, Any], guard: dict[str, Any]) -> dict[str, Any]:
    """Whether a guard (a robustness test row) excludes zero with the concern's sign.

    ``passed`` is None when the guard has no estimate (it could not be run).
    """
    sign = primary["concern_sign"]
    name = (f"guard {guard['id']} of {primary['id']}: model {guard['model']}'s interval excludes "
            f"zero with the concern's sign")
    check = {"name": name, "kind": "guard", "rule": "guard", "applies_to": primary["id"],
             "test_id": guard["id"],
             "statistic": None, "df": None, "p_value": guard["p_value"],
             "estimate": guard["estimate"], "ci_low": guard["ci_low"], "ci_high": guard["ci_high"]}
    if guard["estimate"] is None or guard["ci_low"] is None:
        check.update(passed=None, note=guard["verdict_reason"] or "not estimable")
        return check
    if guard["std_error"]:
        check["statistic"] = guard["estimate"] / guard["std_error"]
    excludes = guard["ci_high"] < 0 if sign < 0 else guard["ci_low"] > 0
    check["passed"] = bool(excludes and np.sign(guard["estimate"]) == sign)
    if guard.get("equals_primary"):
        check["note"] = guard["equals_primary"]
    return check
