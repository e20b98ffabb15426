"""Average marginal effects of logit terms, in percentage points, with delta-method intervals.

A logit coefficient is a change in log-odds; readers (and the concern's critics) think in
percentage points. For each tested term of a logit model this module reports the average
marginal effect (AME) that the coefficient stands for, on the decisions it applies to.

Definition. Write the model's linear predictor as eta_i = x_i'beta + alpha_i (alpha_i the sum
of the fitted fixed effects, held at their estimates) and p_i = Lambda(eta_i). For a term
t = m_1:...:m_k:s with binary co-factors m_j and one continuous focal variable s (quota_shortfall,
log_duration), the derivative of eta_i in s is D_i = sum over terms u containing s of
beta_u x (product of u's other variables). The AME of t is

    AME_t = 100 x mean over R_t of [ Lambda'(eta_i) D_i - Lambda'(eta_i - beta_t x_ti) (D_i - beta_t c_ti) ]

where c_ti is the product of t's co-factors and R_t is the set of rows the term applies to:

* an interaction (t has co-factors): rows where every co-factor is 1. For
  ``post_policy:quota_shortfall`` these are the post-policy decisions, and the AME is the change
  in the average marginal effect of quota_shortfall on those decisions that the interaction
  carries (percentage points per 100 cases of shortfall): the slope with the term minus the
  slope on the same decisions with its coefficient set to 0. For
  ``post_policy:quota_shortfall:unrepresented`` it is the same on the post-policy decisions of
  unrepresented respondents.
* a main term (no co-factor): rows where every other term containing s is 0, i.e. the rows
  where beta_t alone is the slope of s (for ``quota_shortfall`` in H2: the pre-policy
  decisions; for ``log_duration`` in H3: every decision). There the formula reduces to the
  ordinary AME, mean Lambda'(eta_i) beta_t.

A term without a continuous variable (all factors binary, e.g. ``represented``) gets the
discrete version: mean over the rows where the term is 1 of Lambda(eta_i) - Lambda(eta_i -
beta_t), the change in probability the term carries on those decisions.

Uncertainty. The AME is a smooth function of beta; its standard error is the delta method,
sqrt(g' V g) with the analytic gradient g and the model's clustered covariance V, and the
interval uses the model's t(G - 1) critical values. The fixed effects are held at their
estimates (as Stata's ``margins`` and R's ``marginaleffects`` do after fixed-effect models):
their own sampling error, of order 1 / (decisions per judge), is not in the interval.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import expit

PERCENT = 100.0


@dataclass(frozen=True)
class MarginalEffect:
    """One term's average marginal effect in percentage points."""

    term: str
    estimate: float
    std_error: float
    ci_low: float
    ci_high: float
    p_value: float
    n_rows: int
    definition: str

    def to_dict(self) -> dict:
        out = {}
        for k, v in self.__dict__.items():
            out[k] = None if isinstance(v, float) and not np.isfinite(v) else v
        return out


def _is_binary(x: np.ndarray) -> bool:
    return bool(np.all((x == 0) | (x == 1)))


def _dlogistic(eta: np.ndarray) -> np.ndarray:
    p = expit(eta)
    return p * (1 - p)


def _d2logistic(eta: np.ndarray) -> np.ndarray:
    p = expit(eta)
    return p * (1 - p) * (1 - 2 * p)


def _focal(term: str, variables: pd.DataFrame) -> str | None:
    """The continuous variable of a term (None if every factor is binary)."""
    cont = [v for v in term.split(":") if not _is_binary(variables[v].to_numpy(dtype=float))]
    if len(cont) > 1:
        raise ValueError(f"term '{term}' has more than one continuous variable ({cont}); its "
                         f"average marginal effect is not defined here")
    return cont[0] if cont else None


def ame_value_and_gradient(term: str, terms: tuple[str, ...], beta: np.ndarray, X: np.ndarray,
                           eta: np.ndarray, variables: pd.DataFrame) -> tuple[float, np.ndarray, int, str]:
    """AME (probability scale, not yet x100), its gradient in beta, the rows used, a definition.

    ``X`` holds the term columns (in ``terms`` order) of the rows the model used, ``eta`` their
    fitted linear predictors, ``variables`` the frame columns the terms are products of.
    """
    k = terms.index(term)
    parts = term.split(":")
    s = _focal(term, variables)
    if s is None:  # discrete change on the rows where the term is 1
        rows = X[:, k] != 0
        e1, e0 = eta[rows], eta[rows] - beta[k] * X[rows, k]
        value = float(np.mean(expit(e1) - expit(e0)))
        d1, d0 = _dlogistic(e1), _dlogistic(e0)
        # mean(d1 x) - mean(d0 x0), x0 the rows with the term set to 0, as products with the
        # rows (no row-by-term temporaries: seconds a term at national size)
        Xr = X[rows]
        grad = (d1 - d0) @ Xr
        grad[k] = d1 @ Xr[:, k]
        grad /= len(e1)
        return value, grad, int(rows.sum()), (
            f"change in probability carried by {term} on the decisions where it is 1")

    cofactors = [p for p in parts if p != s]
    # c_u: the derivative of term u in s (product of u's other variables), for terms with s
    deriv = np.zeros_like(X)
    for j, u in enumerate(terms):
        u_parts = u.split(":")
        if s in u_parts:
            others = [p for p in u_parts if p != s]
            c = np.ones(len(X))
            for p in others:
                c = c * variables[p].to_numpy(dtype=float)
            deriv[:, j] = c
    if cofactors:
        rows = np.ones(len(X), dtype=bool)
        for p in cofactors:
            rows &= variables[p].to_numpy(dtype=float) == 1
        where = "the decisions where " + " and ".join(f"{p} = 1" for p in cofactors)
    else:
        others = [j for j, u in enumerate(terms) if j != k and s in u.split(":")]
        rows = np.all(deriv[:, others] == 0, axis=1) if others else np.ones(len(X), dtype=bool)
        where = ("the decisions where " + term + " alone carries the slope (every interaction "
                 "of it is 0)") if others else "every decision"
    Xr, er, cr = X[rows], eta[rows], deriv[rows]
    D = cr @ beta  # slope of eta in s
    c_t = cr[:, k]
    e0 = er - beta[k] * Xr[:, k]
    D0 = D - beta[k] * c_t
    value = float(np.mean(_dlogistic(er) * D - _dlogistic(e0) * D0))
    # mean(a1 x + b1 c) - mean(a0 x0 + b0 c0), x0 and c0 with the term's column set to 0
    a1, b1 = _d2logistic(er) * D, _dlogistic(er)
    a0, b0 = _d2logistic(e0) * D0, _dlogistic(e0)
    grad = (a1 - a0) @ Xr + (b1 - b0) @ cr
    grad[k] = a1 @ Xr[:, k] + b1 @ cr[:, k]
    grad /= len(er)
    what = (f"change in the average marginal effect of {s} carried by {term}"
            if cofactors else f"average marginal effect of {s}")
    return value, grad, int(rows.sum()), f"{what}, percentage points per unit of {s}, on {where}"


def average_marginal_effects(terms_wanted, *, terms: tuple[str, ...], params: pd.Series,
                             cov: pd.DataFrame, X: np.ndarray, eta: np.ndarray,
                             variables: pd.DataFrame, df_t: int,
                             level: float = 0.95) -> tuple[MarginalEffect, ...]:
    """AMEs in percentage points, with delta-method intervals, for the wanted terms."""
    # a term the engine dropped as collinear is not in its fitted values: it counts as 0
    beta = np.nan_to_num(params.reindex(list(terms)).to_numpy(dtype=float))
    V = np.nan_to_num(cov.reindex(index=list(terms), columns=list(terms)).to_numpy(dtype=float))
    crit = stats.t.ppf(0.5 + level / 2, df_t)
    out = []
    for term in terms_wanted:
        value, grad, n_rows, definition = ame_value_and_gradient(term, terms, beta, X, eta, variables)
        se = float(np.sqrt(max(grad @ V @ grad, 0.0))) if n_rows else float("nan")
        est = PERCENT * value
        se_pp = PERCENT * se
        p = float(2 * stats.t.sf(abs(est / se_pp), df_t)) if se_pp > 0 else float("nan")
        out.append(MarginalEffect(term, float(est), se_pp, float(est - crit * se_pp),
                                  float(est + crit * se_pp), p, n_rows, definition))
    return tuple(out)
