"""Linear models with absorbed fixed effects, fitted exactly on cell means.

Why: in the timing designs (H1's difference-in-differences, the event studies, their
falsification checks and robustness variants) every regressor, every fixed effect and the judge
cluster is constant within a cell of decisions (judge x court x quarter x event time). Ordinary
least squares on the decisions then equals weighted least squares on the cells' mean outcomes
with the cells' sizes as weights: the same coefficients from far fewer rows. On the national
benchmark (docs/performance.md) an event study's about two million decisions are about 12,000
cells (each model's engine line in results.json names its number of cells).

The cells are the groups of every fixed-effect column, the cluster and every term column, so a
design always satisfies the condition; nothing is assumed. What pyfixest does on the decisions
is done here on the cells, with the same rules:

* singleton observations (a fixed-effect level with one decision) are dropped, repeatedly,
  as pyfixest's ``fixef_rm="singleton"`` does (a cell of one decision whose level has no other);
* fixed effects are swept out by pyfixest's own alternating-projections ``demean``, with the
  cells' sizes as weights and a tolerance of 1e-10;
* a term collinear with the fixed effects or with earlier terms (its weighted sum of squares
  after projection below 1e-10 of its own) is dropped and reported, as pyfixest does.

Standard errors come from the leave-one-judge-out jackknife on the same cells
(models/jackknife.py); these designs never use the decision-level CRV1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from fairness_audit.errors import AuditError
from fairness_audit.models.design import Design, column_for

DEMEAN_TOL = 1e-10
COLLINEAR_TOL = 1e-10


def demean(x: np.ndarray, fe: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Sweep the fixed effects ``fe`` (integer codes, one column each) out of ``x``."""
    from pyfixest.estimation import demean as pyfixest_demean

    if fe.shape[1] == 0:
        return x - weights @ x / weights.sum()
    out, converged = pyfixest_demean(np.ascontiguousarray(x, dtype=float),
                                     np.ascontiguousarray(fe, dtype=np.int64),
                                     np.ascontiguousarray(weights, dtype=float),
                                     tol=DEMEAN_TOL, maxiter=100_000)
    if not converged:
        raise AuditError("fixed-effect demeaning did not converge")
    return out


def cell_means(design: Design) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(y mean, X, fixed-effect codes, cluster codes, weights) of the design's cells."""
    cols = [column_for(t) for t in design.terms]
    keys = list(dict.fromkeys([*design.fe_columns, design.cluster, *cols]))
    grouped = design.data.groupby(keys, sort=False, observed=True, dropna=False)
    agg = grouped[design.spec.outcome].agg(["sum", "size"]).reset_index()
    w = agg["size"].to_numpy(dtype=float)
    y = agg["sum"].to_numpy(dtype=float) / w
    X = agg[cols].to_numpy(dtype=float)
    fe = np.column_stack([pd.factorize(agg[c])[0] for c in design.fe_columns]) \
        if design.fe_columns else np.zeros((len(agg), 0), dtype=np.int64)
    clusters = pd.factorize(agg[design.cluster])[0]
    return y, X, fe, clusters, w


def within_cell_sum_of_squares(design: Design) -> float:
    """The decisions' outcome sum of squares around their cells' means (the cells of
    :func:`cell_means`): what least squares on cell means leaves out of the residual sum of
    squares on the decisions, which is the cell-level one plus this (models/classical.py).

    A singleton cell that the fit drops has one decision and adds nothing, so the sum over every
    cell is the sum over the cells fitted. pandas' grouped variance is computed in one stable
    pass, without the cancellation of sum(y^2) - n mean^2.
    """
    cols = [column_for(t) for t in design.terms]
    keys = list(dict.fromkeys([*design.fe_columns, design.cluster, *cols]))
    grouped = design.data.groupby(keys, sort=False, observed=True, dropna=False)
    agg = grouped[design.spec.outcome].agg(["size", "var"])
    return float((agg["var"].fillna(0.0) * (agg["size"] - 1)).sum())


def refactorize(fe: np.ndarray) -> np.ndarray:
    """Consecutive codes per column (after rows were dropped), in the order of the codes given.

    The codes are non-negative integers already, so a table of the codes present does it in
    one pass, without hashing (the jackknife calls this once per judge left out)."""
    if fe.shape[1] == 0 or len(fe) == 0:
        return fe.astype(np.int64)
    out = np.empty(fe.shape, dtype=np.int64)
    for j in range(fe.shape[1]):
        col = fe[:, j]
        if col.min() < 0:
            raise ValueError("refactorize: fixed-effect codes must be non-negative")
        present = np.zeros(int(col.max()) + 1, dtype=bool)
        present[col] = True
        out[:, j] = (np.cumsum(present) - 1)[col]
    return out


def non_singletons(fe: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Cells kept once singleton decisions are dropped repeatedly (pyfixest's rule)."""
    keep = np.ones(len(w), dtype=bool)
    if fe.shape[1] == 0:
        return keep
    while True:
        single = np.zeros(len(w), dtype=bool)
        for j in range(fe.shape[1]):
            counts = np.bincount(fe[keep, j], weights=w[keep], minlength=int(fe[:, j].max()) + 1)
            single |= keep & (counts[fe[:, j]] == 1)
        if not single.any():
            return keep
        keep &= ~single


def independent_columns(Xd: np.ndarray, w: np.ndarray, X: np.ndarray) -> list[int]:
    """Columns of the demeaned ``Xd`` kept in order, dropping each one that the fixed effects
    and the earlier kept columns explain (pyfixest's collinearity rule)."""
    sw = np.sqrt(w)[:, None]
    Z, raw = Xd * sw, X * sw
    kept: list[int] = []
    for j in range(Z.shape[1]):
        own = float(raw[:, j] @ raw[:, j])
        if own == 0:
            continue
        z = Z[:, j]
        if kept:
            B = Z[:, kept]
            z = z - B @ np.linalg.lstsq(B, z, rcond=None)[0]
        if float(z @ z) > COLLINEAR_TOL * own:
            kept.append(j)
    return kept


@dataclass(frozen=True)
class CellFit:
    """OLS on cell means: the cells it used, its coefficients (NaN for collinear terms)."""

    cells: tuple[np.ndarray, ...]  # (y mean, X, fixed-effect codes, cluster codes, weights)
    params: np.ndarray
    columns: list[int]  # the terms estimated
    collinear: list[str]  # the terms dropped as collinear
    n_obs: int  # decisions used
    dropped: int  # singleton decisions dropped


def fit_on_cells(design: Design) -> CellFit:
    """OLS of a design with absorbed fixed effects, on its cell means (singletons dropped)."""
    y, X, fe, clusters, w = cell_means(design)
    keep = non_singletons(fe, w)
    dropped = int(w[~keep].sum())
    y, X, fe, clusters, w = y[keep], X[keep], refactorize(fe[keep]), clusters[keep], w[keep]
    both = demean(np.column_stack([y, X]), fe, w)
    columns = independent_columns(both[:, 1:], w, X)
    params = np.full(X.shape[1], np.nan)
    if columns:
        sw = np.sqrt(w)
        params[columns] = np.linalg.lstsq(both[:, 1:][:, columns] * sw[:, None], both[:, 0] * sw,
                                          rcond=None)[0]
    collinear = [design.terms[j] for j in range(X.shape[1]) if j not in columns]
    return CellFit((y, X, fe, pd.factorize(clusters)[0], w), params, columns, collinear,
                   int(w.sum()), dropped)
