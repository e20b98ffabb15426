"""Multiple testing and verdicts (contract section 6).

The three verdict strings are defined here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from statsmodels.stats.multitest import multipletests

CONSISTENT = "consistent with the concern"
NOT_SUPPORTED = "not supported"
INCONCLUSIVE = "inconclusive"
VERDICTS = (CONSISTENT, NOT_SUPPORTED, INCONCLUSIVE)

_METHODS = {"bh": "fdr_bh", "holm": "holm"}
METHOD_NAMES = {"bh": "Benjamini-Hochberg", "holm": "Holm"}


def adjust(p_values: Sequence[float], method: str = "bh") -> list[float]:
    """Adjusted p-values (statsmodels' multipletests), in the input order."""
    if len(p_values) == 0:
        return []
    return [float(p) for p in multipletests(np.asarray(p_values, dtype=float),
                                            method=_METHODS[method])[1]]


def intersection_union_p(p_value: float, concern_sign: int,
                         guards: Sequence[tuple[float | None, float | None]]) -> float:
    """The p-value of "the test and each of its guards show the concern" (intersection-union).

    The union null (no effect in at least one of them) is rejected only when every component
    rejects, so the largest component p-value is a valid p-value for it (Berger 1982). A guard
    that could not be estimated, or whose estimate has the opposite sign, cannot show the
    concern: its p-value counts as 1. With ``inference.guard_level: family`` this p-value enters
    the multiple-testing adjustment in place of the test's own, so that a primary estimate
    biased toward the concern is held by its guards at the family's level, not at alpha alone.

    Parameters
    ----------
    p_value
        The primary test's two-sided p-value.
    concern_sign
        +1 or -1, the sign the concern predicts.
    guards
        (estimate, two-sided p-value) of each guard; None where it was not estimated.

    Example
    -------
    >>> intersection_union_p(0.001, -1, [(-0.05, 0.02), (-0.03, 0.04)])
    0.04
    >>> intersection_union_p(0.001, -1, [(0.01, 0.5)])
    1.0
    """
    worst = float(p_value)
    for estimate, p in guards:
        if estimate is None or p is None or np.sign(estimate) != concern_sign:
            return 1.0
        worst = max(worst, float(p))
    return worst


def verdict_of_test(*, estimate: float, ci_low: float, ci_high: float, p_value: float | None,
                 concern_sign: int, sesoi: float, alpha: float,
                 failed_check: str | None = None) -> tuple[str, str]:
    """Verdict of one test and its reason, in the contract's order.

    (1) the interval excludes every effect at least ``sesoi`` in the concern's direction ->
    not supported; (2) p < alpha with the concern's sign -> consistent; (3) inconclusive. A
    failed design check forces inconclusive.
    """
    if failed_check:
        return INCONCLUSIVE, f"design check failed: {failed_check}"
    excludes_concern = ci_low > -sesoi if concern_sign < 0 else ci_high < sesoi
    significant = p_value is not None and p_value < alpha
    if excludes_concern:
        reason = (f"the interval [{ci_low:.3g}, {ci_high:.3g}] excludes every effect of at least "
                  f"{sesoi:g} in the concern's direction")
        if significant and np.sign(estimate) == concern_sign:
            reason += "; a smaller effect in the concern's direction was detected"
        elif significant:
            reason += "; an effect in the opposite direction was detected"
        return NOT_SUPPORTED, reason
    if significant and np.sign(estimate) == concern_sign:
        return CONSISTENT, (f"p = {p_value:.3g} < {alpha:g} with the concern's sign "
                            f"(estimate {estimate:.3g})")
    if significant:
        return INCONCLUSIVE, (f"p = {p_value:.3g} < {alpha:g} but the estimate ({estimate:.3g}) has "
                              f"the opposite sign, and the interval [{ci_low:.3g}, {ci_high:.3g}] "
                              f"does not rule out effects of {sesoi:g} in the concern's direction")
    return INCONCLUSIVE, (f"the interval [{ci_low:.3g}, {ci_high:.3g}] includes both no effect and "
                          f"effects of at least {sesoi:g} in the concern's direction")


def hypothesis_verdict(primary_verdicts: Sequence[str]) -> tuple[str, str]:
    """Consistent if any primary test is; not supported if all are; else inconclusive."""
    if not primary_verdicts:
        return INCONCLUSIVE, "no primary test could be estimated"
    if CONSISTENT in primary_verdicts:
        n = sum(v == CONSISTENT for v in primary_verdicts)
        return CONSISTENT, f"{n} of {len(primary_verdicts)} primary test(s) consistent with the concern"
    if all(v == NOT_SUPPORTED for v in primary_verdicts):
        return NOT_SUPPORTED, "every primary test rules out an effect that matters"
    return INCONCLUSIVE, "no primary test is consistent with the concern, and not all rule it out"
