"""Phrases and predicates that the generators of docs/validation.md (validation_stress.py,
validation_whole_plan.py) share, so that both sections say the same thing the same way."""

from __future__ import annotations


def of(k: int, n: int) -> str:
    return f"{k} of {n}"


def months(start, end) -> int:
    """Whole calendar months from ``start`` to ``end`` (both first days of a month)."""
    return (end.year - start.year) * 12 + end.month - start.month


def guard_window(policy, end) -> str:
    """What a guard with an end date keeps, against the plan's post-policy period."""
    return (f"the decisions before {end:%B %Y}, {months(policy.start, end)} of the "
            f"{months(policy.start, policy.end)} post-policy months")


def primary_significant(row: dict, alpha: float) -> bool:
    """A harness row of a primary test, alone: significant after adjustment with the
    concern's sign."""
    return (row.get("p_adjusted") not in ("", None) and float(row["p_adjusted"]) < alpha
            and float(row["estimate"]) * float(row["concern_sign"]) > 0)


def shares_close(k: int, n: int, k0: int, n0: int) -> bool:
    """Whether two shares, ``k`` of ``n`` and ``k0`` of ``n0``, are within two standard errors
    of their difference."""
    p, q = k / n, k0 / n0
    return abs(p - q) <= 2 * ((p * (1 - p) / n + q * (1 - q) / n0) ** 0.5 or 1 / n)
