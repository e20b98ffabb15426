"""The value each model targets on a simulated population (contract section 2, truth.json).

Each model of the plan is fitted to the *expected* outcomes of the simulated draw (the true
probabilities, or the mean of log duration before noise) on exactly the sample the audit uses.
Where the model is the generating model this returns the generating parameters exactly; where
it is not (H2 omits the group interactions that generate grants; a linear probability model is
never the generating model) it returns the model's pseudo-true value, as the contract asks.

The fit is an independent implementation: iteratively reweighted least squares in numpy, with
fixed effects swept out by pyfixest's alternating-projections ``demean``; it shares only the
design (sample filters and term columns) with the audit's engine.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit

from fairness_audit.config import AuditConfig
from fairness_audit.features import build_frame
from fairness_audit.models.design import build_design

EXPECTED_OUTCOME = {
    "granted": "p_grant",
    "removal_ordered": "p_removal",
    "in_absentia": "p_in_absentia",
    "remanded": "p_remand",
    "log_duration": "log_duration_mean",
}
PERCENT = 100.0


def _demean(x: np.ndarray, fe: np.ndarray, weights: np.ndarray) -> np.ndarray:
    if fe.shape[1] == 0:
        w = weights / weights.sum()
        return x - (w[:, None] * x).sum(axis=0)
    from pyfixest.estimation import demean

    out, converged = demean(np.ascontiguousarray(x, dtype=float), np.ascontiguousarray(fe),
                            np.ascontiguousarray(weights, dtype=float), tol=1e-10, maxiter=100_000)
    if not converged:
        raise RuntimeError("fixed-effect demeaning did not converge")
    return out


def fit_expected(y: np.ndarray, X: np.ndarray, fe: np.ndarray, family: str,
                 tol: float = 1e-11, max_iter: int = 100) -> np.ndarray:
    """Coefficients of a logit (fractional response allowed) or linear model with fixed effects."""
    if family == "ols":
        both = _demean(np.column_stack([y, X]), fe, np.ones(len(y)))
        return np.linalg.lstsq(both[:, 1:], both[:, 0], rcond=None)[0]
    if fe.shape[1] == 0:
        X = np.column_stack([np.ones(len(y)), X])
    eta = np.log((y + 0.5) / (1.5 - y))
    beta = np.zeros(X.shape[1])
    for _ in range(max_iter):
        mu = expit(eta)
        w = np.clip(mu * (1 - mu), 1e-12, None)
        z = eta + (y - mu) / w
        both = _demean(np.column_stack([z, X]), fe, w)
        sw = np.sqrt(w)
        new = np.linalg.lstsq(both[:, 1:] * sw[:, None], both[:, 0] * sw, rcond=None)[0]
        resid = both[:, 0] - both[:, 1:] @ new
        eta = z - resid
        if np.max(np.abs(new - beta)) < tol:
            beta = new
            break
        beta = new
    return beta if fe.shape[1] else beta[1:]


def model_targets(decisions: pd.DataFrame, workload: pd.DataFrame, expected: pd.DataFrame,
                  config: AuditConfig, *, coverage_start: str | None) -> dict[str, dict[str, float]]:
    """Target of every term of every model in the plan whose outcome has a known expectation."""
    frame = build_frame(decisions, workload, config, coverage_start=coverage_start).data
    expected = expected.set_index(frame.index)
    targets: dict[str, dict[str, float]] = {}
    for name, spec in config.models.items():
        column = EXPECTED_OUTCOME.get(spec.outcome)
        if column is None:
            continue
        design = build_design(frame, spec, cluster=config.inference.cluster, outcome=spec.outcome)
        y = expected.loc[design.data.index, column].to_numpy(dtype=float)
        beta = fit_expected(y, design.X, design.fe_codes(), spec.family)
        scale = PERCENT if spec.family == "ols" and spec.outcome != "log_duration" else 1.0
        targets[name] = {t: float(b) * scale for t, b in zip(design.terms, beta, strict=True)}
    return targets
