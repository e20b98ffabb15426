"""Bias-reduced linearization (CR2) covariance for models with absorbed fixed effects.

Why: with court x calendar month fixed effects (H2, H4 and H7's primary specification) each
court's monthly effect is estimated from the few judges of that court. A judge's own noise then
moves its court's effects, its residuals understate that noise, and CRV1 standard errors of
terms that vary between judges (the quota shortfall) are too small: on the simulator, five
judges per court, the estimates of H2's and H7's quota terms spread about 1.15 times their
CRV1 standard errors (docs/validation.md, section 4). Terms that vary within a judge's month
(representation, custody) are not affected. CR2 (Bell & McCaffrey 2002) rescales each judge's
residuals by (I - H_gg)^(-1/2), H_gg the judge's block of the hat matrix, which undoes that
shrinkage exactly when the model's variance is right; for a logit the hat matrix is that of the
last IRLS step, in the weighted form of Bell & McCaffrey (Kauermann & Carroll 2001). There is no
further small-sample factor; intervals use t(G - 1) as for CRV1. The leave-one-judge-out
jackknife (CRV3, H1's choice, models/jackknife.py) over-corrects where a court's judges are
few (tests/test_bias_reduced.py; docs/models.md).

Fixed effects nested in the clusters (the judge's own effect) give H_gg an eigenvalue of 1: the
residuals of a judge sum to zero in that direction, and the inverse square root is taken over
the other eigenvalues (the Moore-Penrose form that Pustejovsky & Tipton 2018, "Small-sample
methods for cluster-robust variance estimation and hypothesis testing in fixed effects models",
use for fixed effects nested in the clusters).

Computation (why it is fast at national size): every fixed effect is a block of dummy columns;
the hat matrix needs a generalized inverse of the weighted cross-product A = Z'WZ of all of
them (some thousands of columns). The fixed effect with most levels (court x month) has a
diagonal block D, so with the other columns E (judges, nationalities, case types, the terms)

    A^- = [[D^-1 + K S^+ K', -K S^+], [-S^+ K', S^+]],   K = D^-1 C,  S = E - C' K,

needs only the pseudo-inverse of the small Schur complement S (any generalized inverse gives the
same hat matrix and the same estimable coefficients). A judge touches few columns (its months,
its nationalities, the terms): H_gg's non-zero eigenvalues are those of L' A^-_SS L with
L L' = Z_gS' W_g Z_gS, all of the size of the columns touched, never of the judge's rows. No
matrix of all the rows is built: the blocks of A are weighted counts and sums per level
(bincount), and each judge's Z_gS is built from its own rows.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from threadpoolctl import threadpool_limits

# eigenvalues below this share of the largest (after scaling to unit diagonal) are zero
RANK_TOL = 1e-10
# an eigenvalue of H_gg within this of 1 is a direction of a fixed effect nested in the cluster
UNIT_TOL = 1e-8


def _scaled_eigh(M: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(scale, eigenvalues, eigenvectors) of a symmetric positive semi-definite M scaled to unit
    diagonal, the null eigenvalues left out."""
    scale = np.sqrt(np.clip(np.diag(M), np.finfo(float).tiny, None))
    lam, vec = np.linalg.eigh(M / scale[:, None] / scale[None, :])
    keep = lam > RANK_TOL * max(lam.max(), 0.0)
    return scale, lam[keep], vec[:, keep]


def _pinv_sym(M: np.ndarray) -> np.ndarray:
    """Moore-Penrose inverse of a symmetric positive semi-definite matrix."""
    scale, lam, vec = _scaled_eigh(M)
    return (vec / lam) @ vec.T / scale[:, None] / scale[None, :]


def _root_sym(M: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(L, L^+) with L L' = M, for a symmetric positive semi-definite M of any rank."""
    scale, lam, vec = _scaled_eigh(M)
    root = np.sqrt(lam)
    # M = diag(scale) V diag(lam) V' diag(scale): L = diag(scale) V diag(root)
    return scale[:, None] * vec * root, (vec / root).T / scale[None, :]


def _cross(codes: np.ndarray, size: int, others: list[tuple[np.ndarray, int]], X: np.ndarray,
           weights: np.ndarray) -> np.ndarray:
    """Dummies(codes)' W [dummies of each of ``others``, X], dense: weighted counts of each pair
    of levels and weighted sums of X per level, by bincount (no matrix of the rows is built)."""
    blocks = [np.bincount(codes * other_size + other, weights=weights,
                          minlength=size * other_size).reshape(size, other_size)
              for other, other_size in others]
    blocks += [np.bincount(codes, weights=weights * x, minlength=size)[:, None] for x in X.T]
    return np.hstack(blocks) if blocks else np.zeros((size, 0))


def _gram_of_rest(others: list[tuple[np.ndarray, int]], X: np.ndarray,
                  weights: np.ndarray) -> np.ndarray:
    """E' W E for E = [dummies of each of ``others``, X]."""
    fe_rows = [_cross(codes, size, others, X, weights) for codes, size in others]
    p_fe = sum(size for _, size in others)
    XtWX = X.T @ (X * weights[:, None])
    if not fe_rows:
        return XtWX
    top = np.vstack(fe_rows)
    return np.vstack([top, np.hstack([top[:, p_fe:].T, XtWX])])


def _judge_columns(codes: np.ndarray, X: np.ndarray, root_w: np.ndarray,
                   p_fe: int) -> tuple[np.ndarray, sparse.csr_matrix]:
    """(columns touched, root_w times those columns on the judge's rows as CSR). ``codes`` are
    the rows' fixed-effect columns numbered over all fixed effects; a term's column is touched
    when it is not all zero on the rows."""
    n_g, m = codes.shape
    terms = np.flatnonzero(np.any(X != 0, axis=0))
    touched_fe, local = np.unique(codes, return_inverse=True)
    touched = np.r_[touched_fe, p_fe + terms]
    width = m + len(terms)
    indices = np.empty((n_g, width), dtype=np.int64)
    indices[:, :m] = local.reshape(n_g, m)
    indices[:, m:] = len(touched_fe) + np.arange(len(terms))
    data = np.empty((n_g, width))
    data[:, :m] = root_w[:, None]
    data[:, m:] = X[:, terms] * root_w[:, None]
    return touched, sparse.csr_matrix((data.ravel(), indices.ravel(), np.arange(n_g + 1) * width),
                                      shape=(n_g, len(touched)))


# one BLAS thread: a second gains nothing at the size of a judge's matrices on an idle machine,
# and beside other busy processes OpenBLAS's threads wait on each other (an eigen-decomposition
# of 400 columns took 2-3 times as long with two threads as with one beside two busy processes:
# benchmarks/bench_blas_threads.py)
@threadpool_limits.wrap(limits=1, user_api="blas")
def adjusted_cov(X: np.ndarray, fe: np.ndarray, clusters: np.ndarray, *, weights: np.ndarray,
                 residuals: np.ndarray, kind: str = "CR2") -> np.ndarray:
    """CR2 covariance of the coefficients of ``X`` in a model with fixed effects ``fe``.

    ``kind`` "CR0" (no adjustment: CRV1 without its small-sample factor) and "CR3" ((I -
    H_gg)^-1, the linearised leave-one-judge-out jackknife, times (G - 1) / G) are there to be
    compared with CR2 (tests/test_bias_reduced.py); the audit uses CR2.

    Parameters
    ----------
    X : the terms' columns of the rows fitted, shape (n, k); none collinear.
    fe : integer codes of each fixed effect, shape (n, m), consecutive from 0.
    clusters : integer code of each row's cluster, shape (n,).
    weights : the working weights of the fit (1 for least squares; mu (1 - mu) for a logit).
    residuals : the working residuals times the root of the weights (y - fitted for least
        squares; (y - mu) / sqrt(mu (1 - mu)) for a logit).
    kind : "CR2" (default), "CR0" or "CR3".

    Returns
    -------
    numpy.ndarray
        The k x k covariance (no small-sample factor).
    """
    power = {"CR0": 0.0, "CR2": -0.5, "CR3": -1.0}[kind]
    k = X.shape[1]
    root_w = np.sqrt(weights)
    sizes = [int(fe[:, j].max()) + 1 for j in range(fe.shape[1])]
    # the fixed effect with most levels first (its block of A is diagonal), then the others
    fe_order = sorted(range(len(sizes)), key=lambda j: -sizes[j])
    offsets = np.cumsum([0] + [sizes[j] for j in fe_order])
    p_D = sizes[fe_order[0]] if sizes else 0
    p_fe = int(offsets[-1])
    p_E = p_fe - p_D + k
    terms = np.arange(p_E - k, p_E)
    others = [(fe[:, j], sizes[j]) for j in fe_order[1:]]
    if sizes:
        big = fe[:, fe_order[0]]
        D = np.bincount(big, weights=weights, minlength=p_D)
        C = _cross(big, p_D, others, X, weights)
        K = C / D[:, None]
        B = C / np.sqrt(D)[:, None]
        S = _gram_of_rest(others, X, weights) - B.T @ B  # C' D^-1 C as one product B'B
    else:
        D = np.zeros(0)
        K = np.zeros((0, p_E))
        S = _gram_of_rest(others, X, weights)
    S_plus = _pinv_sym((S + S.T) / 2)
    KS = K @ S_plus  # A^-'s off-diagonal block, less its sign
    fe_sorted = fe[:, fe_order] + offsets[:-1]  # columns of A: the big effect's, the others', X

    order = np.argsort(clusters, kind="stable")
    bounds = np.searchsorted(clusters[order], np.arange(int(clusters.max()) + 2))
    cov = np.zeros((k, k))
    for first, last in zip(bounds[:-1], bounds[1:], strict=True):
        if first == last:
            continue
        idx = order[first:last]
        touched, Z_gS = _judge_columns(fe_sorted[idx], X[idx], root_w[idx], p_fe)
        in_D = touched < p_D
        d_cols, e_cols = touched[in_D], touched[~in_D] - p_D
        # A^-_SS in blocks: [[diag(1/D) + K S^+ K', -K S^+], [-S^+ K', S^+]] on the columns touched
        A_SS = np.empty((len(touched), len(touched)))
        A_SS[np.ix_(in_D, in_D)] = KS[d_cols] @ K[d_cols].T + np.diag(1.0 / D[d_cols])
        A_SS[np.ix_(in_D, ~in_D)] = -KS[np.ix_(d_cols, e_cols)]
        A_SS[np.ix_(~in_D, in_D)] = -KS[np.ix_(d_cols, e_cols)].T
        A_SS[np.ix_(~in_D, ~in_D)] = S_plus[np.ix_(e_cols, e_cols)]
        L, L_plus = _root_sym((Z_gS.T @ Z_gS).toarray())
        T = L.T @ A_SS @ L
        lam, V = np.linalg.eigh((T + T.T) / 2)
        shrink = np.where(lam < 1 - UNIT_TOL, np.clip(1 - lam, UNIT_TOL, None) ** power - 1, 0.0)
        base = Z_gS.T @ residuals[idx]
        adjusted = base + L @ (V @ (shrink * (V.T @ (L_plus @ base))))
        # the terms' rows of A^- times Z_gS' times the adjusted residuals
        score = (S_plus[np.ix_(terms, e_cols)] @ adjusted[~in_D]
                 - KS[np.ix_(d_cols, terms)].T @ adjusted[in_D])
        cov += np.outer(score, score)
    if kind == "CR3":
        n_clusters = len(np.unique(clusters))
        cov *= (n_clusters - 1) / n_clusters
    return cov
