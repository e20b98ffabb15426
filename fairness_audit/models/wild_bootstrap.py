"""Restricted wild cluster bootstrap (WCR) tests of linear models with absorbed fixed effects.

Why: the analytic p-values of the linear tests use cluster-robust standard errors with t(G - 1)
critical values, G the judge clusters. With tens of judges, or a few judges carrying much of a
term's variation, those p-values can be too small; the restricted wild cluster bootstrap is
the usual check (Cameron, Gelbach & Miller 2008; MacKinnon, Nielsen & Webb 2023, "Cluster-robust
inference: a guide to empirical practice"). The audit reports its p beside the analytic one;
verdicts and the multiple-testing family keep the analytic p (contract section 6).

The test, for terms b_R of ``y = X b + D a + e`` (D the absorbed fixed effects, errors
clustered by c):

1. fit the restricted model (the tested terms left out): fitted values y_r, residuals u;
2. draw, for each replicate, one weight v_c per cluster: Webb's six points -sqrt(3/2), -1,
   -sqrt(1/2), sqrt(1/2), 1, sqrt(3/2), each with probability 1/6 (mean 0, variance 1; with
   few clusters they give many more distinct draws than Rademacher's two points), or
   Rademacher's -1, 1;
3. y* = y_r + u v_c; fit the full model to y* and compute its t statistic (one term) or Wald
   statistic (several) with CRV1 errors by cluster, scaled by G / (G - 1);
4. p = (1 + #{|t*| >= |t|}) / (B + 1) for B replicates (for Wald: W* >= W): the Monte Carlo
   p-value, never 0, exact in level when the bootstrap statistic's law is the test
   statistic's. B = 9,999 makes alpha (B + 1) a whole number for alpha = 0.05 and 0.01.

The (n - 1) / (n - k) factor of the analytic CRV1 is left out: it multiplies the observed and
every bootstrap statistic alike and cannot change p. The bootstrap t uses CRV1 even where the
analytic errors are the jackknife (H1's CRV3) or CR2 (H2_lpm), as boottest and fwildclusterboot
do: the bootstrap compares t with its own draws, whatever their scale.

How, without refitting each replicate (the "fast and wild" algebra of Roodman, MacKinnon,
Nielsen & Webb 2019). Sweep the fixed effects out of y and X once (``X..`` below, the
weighted within transformation). With A = X.. (X..'W X..)^-1 R' the tested rows of the
estimator, and s_g the score of cluster g:

* the estimate is linear in the draws: R b* = sum_g v_g A_g' W_g u_g;
* the bootstrap residuals are M (u v), M the projection off the regressors and the fixed
  effects, so each cluster's score is linear in the draws too: s*_g = sum_h T[g, h] v_h with a
  G x G matrix T (of q x 1 blocks for q tested terms). Each draw then costs G^2 q, whatever
  the number of decisions.

T needs the projection of each cluster's residuals off the fixed effects. Fixed effects
nested in the clusters (judge effects with judge clusters) drop out: u v_g is constant in sign
within a judge, and u already sums to zero within each judge. The others (court x month,
nationality, case type, fiscal year...) do not: re-projecting each bootstrap outcome is what
makes the bootstrap exact, and skipping it (partialling the fixed effects out once and
bootstrapping the transformed model) is exact only when every fixed effect is nested in the
clusters. Here their K levels enter one K x K system, D~'W D~ with D~ their dummies swept of
the nested effect, solved once (pivoted Cholesky, its redundant levels dropped): the part of
T they make is (D~'W A_g)' (D~'W D~)^+ (D~'W u_h). The result is the WCR that refits every
replicate, to rounding (tests/test_wild_bootstrap.py checks it against such refits and against
a plain loop in R, tests/reference/wild_bootstrap.R).

Where K is large (above ``MAX_LEVELS``), each block of replicates is demeaned again instead
(``WILD_BLOCK`` replicates at a time, the same exact bootstrap, slower).

Cells: in the timing designs every regressor, fixed effect and the judge are constant within
a cell of decisions (models/cells.py), so the bootstrap outcome's cell mean is the restricted
fit plus v_g times the cell's mean residual, and the CRV1 scores are the cells' weighted
sums: the WCR on cell means with the cells' sizes as weights is the WCR on the decisions.

Example
-------
>>> rng = np.random.default_rng(0)
>>> clusters = np.repeat(np.arange(12), 10)
>>> X = rng.normal(size=(120, 2))
>>> y = X[:, 1] + rng.normal(size=120)
>>> boot = LinearBootstrap(y, X, np.zeros((120, 0), dtype=np.int64), clusters, terms=["x", "z"])
>>> test = boot.test(["x"], draw_weights("webb", 999, 12, seed=1))
>>> 0 < test.p_value <= 1, test.reps
(True, 999)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.linalg import lapack

from fairness_audit.errors import AuditError, NotEstimable
from fairness_audit.models.cells import (
    cell_means,
    demean,
    independent_columns,
    non_singletons,
    refactorize,
)
from fairness_audit.models.design import Design

WEIGHTS: tuple[str, ...] = ("webb", "rademacher")
METHOD = "restricted wild cluster bootstrap"
# Webb's six points are sign(c) x sqrt(|c| / 2) for these codes (the codes are what
# tests/reference/ writes for R, so that both sides use the same weights)
WEBB_CODES = np.array([-3, -2, -1, 1, 2, 3])
# replicates evaluated together: memory G x q x WILD_BLOCK floats (cells x WILD_BLOCK when the
# fixed effects are demeaned again for each block)
WILD_BLOCK = 1000
# fixed-effect levels not nested in the clusters above which each block is demeaned again
# instead of solving their K x K system once (K = 8,000: 0.5 GB and about 20 s)
MAX_LEVELS = 8000
# independent levels up to which their system is solved in one small solve
_SMALL_SYSTEM = 256
# at most this many floats per demeaned block of replicates (the slower path): 160 MB
_BLOCK_FLOATS = 20_000_000
# the draws reproduce the observed scores (v = 1 gives y* = y) to this relative error, or the
# bootstrap is not reported: a check on the linear algebra, never expected to fail
_SELF_CHECK = 1e-6


def webb_values(codes: np.ndarray) -> np.ndarray:
    """Webb's weights from their codes (-3, -2, -1, 1, 2, 3): sign(code) x sqrt(|code| / 2)."""
    codes = np.asarray(codes)
    return np.sign(codes) * np.sqrt(np.abs(codes) / 2.0)


def draw_weights(kind: str, reps: int, n_clusters: int, *, seed: int) -> np.ndarray:
    """The bootstrap weights, one row per replicate and one column per cluster.

    Parameters
    ----------
    kind : "webb" (six points, each with probability 1/6) or "rademacher" (-1, 1).
    reps : replicates B.
    n_clusters : clusters G (columns, in the order of the cluster codes).
    seed : seeds ``numpy.random.default_rng``; the same seed gives the same weights.

    Returns
    -------
    numpy.ndarray
        Shape (reps, n_clusters).

    Raises
    ------
    ValueError
        An unknown ``kind``.

    Example
    -------
    >>> w = draw_weights("webb", 1000, 5, seed=0)
    >>> w.shape, sorted({float(x) for x in np.round(w.ravel() ** 2, 12)})
    ((1000, 5), [0.5, 1.0, 1.5])
    """
    rng = np.random.default_rng(seed)
    if kind == "webb":
        return webb_values(WEBB_CODES[rng.integers(0, 6, size=(reps, n_clusters))])
    if kind == "rademacher":
        return rng.choice([-1.0, 1.0], size=(reps, n_clusters))
    raise ValueError(f"bootstrap weights: expected one of {list(WEIGHTS)}, found {kind!r}")


@dataclass(frozen=True, eq=False)
class WildTest:
    """The result of one WCR test.

    ``statistic`` is the observed t (one term) or Wald statistic (several), with CRV1 scaled by
    ``small_sample``; ``draws`` the replicates' statistics; ``estimate`` the tested terms'
    estimates from the bootstrap's own fit (checked against the model's).
    """

    terms: tuple[str, ...]
    statistic: float
    draws: np.ndarray
    p_value: float
    n_clusters: int
    n_obs: int
    estimate: np.ndarray
    small_sample: float
    path: str  # "levels" (the K x K system) or "demean" (each block demeaned again)

    @property
    def reps(self) -> int:
        return int(len(self.draws))


class LinearBootstrap:
    """A linear model's rows with the fixed effects swept out once, ready for WCR tests.

    Parameters
    ----------
    y, X : outcome (n,) and regressors (n, k), before the fixed effects are swept out.
    fe : integer codes of each absorbed fixed effect, shape (n, n_fe) (no column: an intercept).
    clusters : cluster labels or codes, shape (n,); the weights' columns follow their sorted
        order (``cluster_labels``).
    w : row weights (cell sizes for cell means; default 1).
    terms : the names of X's columns.
    n_obs : decisions the rows stand for (default: the weights' sum).
    max_levels : fixed-effect levels not nested in the clusters up to which their system is
        solved once (``MAX_LEVELS``); beyond, each block of replicates is demeaned again.

    Raises
    ------
    NotEstimable
        Fewer than two clusters.
    """

    def __init__(self, y: np.ndarray, X: np.ndarray, fe: np.ndarray, clusters: np.ndarray,
                 w: np.ndarray | None = None, *, terms: Sequence[str], n_obs: int | None = None,
                 max_levels: int = MAX_LEVELS) -> None:
        n = len(y)
        self.w = np.ones(n) if w is None else np.asarray(w, dtype=float)
        # weights go to clusters in the sorted order of their labels, whatever the rows' order
        codes, labels = pd.factorize(np.asarray(clusters), sort=True)
        self.clusters, self.cluster_labels = codes.astype(np.int64), np.asarray(labels)
        self.n_clusters = int(self.clusters.max()) + 1 if n else 0
        if self.n_clusters < 2:
            raise NotEstimable("cluster", f"the wild cluster bootstrap needs at least two "
                                          f"clusters, found {self.n_clusters}")
        # without fixed effects, the intercept is a fixed effect of one level
        fe = np.zeros((n, 1), dtype=np.int64) if fe.shape[1] == 0 else fe
        self.fe = refactorize(np.asarray(fe))
        self.n_obs = int(round(self.w.sum())) if n_obs is None else int(n_obs)
        X = np.asarray(X, dtype=float)
        both = demean(np.column_stack([np.asarray(y, dtype=float), X]), self.fe, self.w)
        kept = independent_columns(both[:, 1:], self.w, X)
        self.terms = [terms[j] for j in kept]  # collinear terms are not estimable
        self.yd, self.Xd = both[:, 0], both[:, 1:][:, kept]
        self.max_levels = max_levels
        self._indicator = sparse.csr_matrix((np.ones(n), (self.clusters, np.arange(n))),
                                            shape=(self.n_clusters, n))
        self._levels: tuple[Any, ...] | None = None

    @classmethod
    def from_design(cls, design: Design, **kwargs: Any) -> LinearBootstrap:
        """The rows a linear model is fitted on: cell means for the jackknife designs
        (models/cells.py), else the decisions; singleton decisions dropped as the fit drops
        them."""
        terms = list(design.terms)
        if design.spec.cov_type == "CRV3":
            y, X, fe, codes, w = cell_means(design)
            # cell_means numbers the clusters in order of first appearance (groupby without
            # sorting): pd.unique gives their labels in that order
            labels = pd.unique(design.data[design.cluster])
            keep = non_singletons(fe, w)  # as fit_on_cells drops them
            return cls(y[keep], X[keep], refactorize(fe[keep]), np.asarray(labels)[codes[keep]],
                       w[keep], terms=terms, **kwargs)
        fe = design.fe_codes()
        keep = non_singletons(fe, np.ones(len(fe))) if fe.shape[1] else np.ones(len(fe), bool)
        clusters = design.data[design.cluster].to_numpy()[keep]
        return cls(design.y[keep], design.X[keep], refactorize(fe[keep]), clusters,
                   terms=terms, **kwargs)

    # -- the pieces -------------------------------------------------------------------------
    def _cluster_sums(self, values: np.ndarray) -> np.ndarray:
        """Row values (n, m) summed by cluster: (G, m)."""
        return np.asarray(self._indicator @ values)

    def _level_setup(self) -> tuple[Any, ...]:
        """The fixed effects not nested in the clusters: their codes and offsets, and the
        factor of D~'W D~ (built once per model, shared by its tests)."""
        if self._levels is not None:
            return self._levels
        fe, w, G = self.fe, self.w, self.n_clusters
        n_levels = fe.max(axis=0) + 1
        nested = [j for j in range(fe.shape[1])
                  if len(np.unique(fe[:, j] * G + self.clusters)) == n_levels[j]]
        # one nested effect is swept exactly (the one with most levels: the judge); others,
        # nested or not, join the system of levels, which is exact for any fixed effect
        first = max(nested, key=lambda j: n_levels[j]) if nested else None
        others = [j for j in range(fe.shape[1]) if j != first]
        offsets = np.concatenate([[0], np.cumsum([n_levels[j] for j in others])]).astype(np.int64)
        K = int(offsets[-1])
        if self.max_levels < K:
            self._levels = (others, offsets, K, None)
            return self._levels
        if K == 0:  # a nested effect alone: nothing to re-project
            self._levels = (others, offsets, K, (np.zeros((0, 0)), np.zeros(0, dtype=np.int64)))
            return self._levels
        P = np.zeros((K, K))
        for a, ja in enumerate(others):
            la = int(n_levels[ja])
            diagonal = np.arange(offsets[a], offsets[a + 1])
            P[diagonal, diagonal] = np.bincount(fe[:, ja], weights=w, minlength=la)
            for b in range(a + 1, len(others)):
                jb, lb = others[b], int(n_levels[others[b]])
                block = np.bincount(fe[:, ja] * lb + fe[:, jb], weights=w,
                                    minlength=la * lb).reshape(la, lb)
                P[offsets[a]:offsets[a + 1], offsets[b]:offsets[b + 1]] = block
                P[offsets[b]:offsets[b + 1], offsets[a]:offsets[a + 1]] = block.T
        if first is not None:
            # less the part the nested effect explains: sum over its levels m of c_m c_m' / w_m
            d1 = fe[:, first]
            wm = np.bincount(d1, weights=w)
            rows = np.tile(d1, len(others))
            cols = np.concatenate([offsets[a] + fe[:, j] for a, j in enumerate(others)])
            data = np.tile(w / np.sqrt(wm[d1]), len(others))
            C = sparse.csr_matrix((data, (rows, cols)), shape=(len(wm), K))
            P -= (C.T @ C).toarray()
        factor = lapack.dpstrf(P, lower=0)
        c, piv, rank, info = factor
        if info < 0:
            raise AuditError(f"wild bootstrap: the pivoted Cholesky factorisation failed ({info})")
        self._levels = (others, offsets, K, (np.triu(c[:rank, :rank]), piv[:rank] - 1))
        return self._levels

    def _by_level(self, values: np.ndarray) -> np.ndarray:
        """D~'W (1_g * values) for every cluster g: shape (K, m, G) for values (n, m)."""
        others, offsets, K, _ = self._level_setup()
        G, fe, w = self.n_clusters, self.fe, self.w
        out = np.zeros((K, values.shape[1], G))
        for a, j in enumerate(others):
            la = int(offsets[a + 1] - offsets[a])
            index = fe[:, j] * G + self.clusters
            for m in range(values.shape[1]):
                out[offsets[a]:offsets[a + 1], m, :] = np.bincount(
                    index, weights=w * values[:, m], minlength=la * G).reshape(la, G)
        return out

    def _solve_levels(self, rhs: np.ndarray) -> np.ndarray:
        """(D~'W D~)^+ rhs for rhs in its range (a basic solution on the independent levels)."""
        U, piv = self._level_setup()[3]
        if len(piv) <= _SMALL_SYSTEM:
            # a few levels: one small solve (scipy's threaded triangular solves cost
            # milliseconds per call here, more than the whole solve)
            z = np.linalg.solve(U.T @ U, rhs[piv])
        else:  # U'U z = rhs on the independent levels, by two triangular solves
            z, info = lapack.dtrtrs(U, rhs[piv], lower=0, trans=1)
            z, info2 = lapack.dtrtrs(U, z, lower=0, trans=0)
            if info or info2:
                raise AuditError(f"wild bootstrap: a triangular solve failed ({info or info2})")
        out = np.zeros_like(rhs)
        out[piv] = z
        return out

    # -- the test ---------------------------------------------------------------------------
    def test(self, terms: Sequence[str], draws: np.ndarray, *,
             small_sample: float | None = None) -> WildTest:
        """WCR test that ``terms`` are zero, with the given weights (one row per replicate).

        Parameters
        ----------
        terms : the tested terms (one: t test; several: Wald test).
        draws : weights, shape (B, G), columns in the order of the cluster codes.
        small_sample : factor of the CRV1 covariance (default G / (G - 1)); it cannot change p.

        Returns
        -------
        WildTest

        Raises
        ------
        NotEstimable
            A tested term is collinear with the fixed effects or the other terms.
        AuditError
            The weights do not have one column per cluster, or the algebra failed its check.
        """
        missing = [t for t in terms if t not in self.terms]
        if missing:
            raise NotEstimable(missing[0], "collinear with the fixed effects or the other terms")
        G = self.n_clusters
        if draws.ndim != 2 or draws.shape[1] != G:
            raise AuditError(f"wild bootstrap: expected weights of shape (B, {G}), found "
                             f"{draws.shape}")
        c = G / (G - 1) if small_sample is None else float(small_sample)
        idx = [self.terms.index(t) for t in terms]
        rest = [j for j in range(len(self.terms)) if j not in idx]
        Xd, yd, w = self.Xd, self.yd, self.w
        H_inv = np.linalg.inv(Xd.T @ (Xd * w[:, None]))
        b = H_inv @ (Xd.T @ (w * yd))
        A = Xd @ H_inv[:, idx]  # (n, q): R b = A' W y for any y with the effects swept out
        wA = A * w[:, None]
        observed_scores = self._cluster_sums(wA * (yd - Xd @ b)[:, None])  # (G, q)
        fitted_r = np.zeros_like(yd)
        if rest:
            sw = np.sqrt(w)
            fitted_r = Xd[:, rest] @ np.linalg.lstsq(Xd[:, rest] * sw[:, None], yd * sw,
                                                     rcond=None)[0]
        u = yd - fitted_r  # the restricted residuals
        N = self._cluster_sums(wA * u[:, None])  # (G, q): R b* = N' v
        others, offsets, K, factor = self._level_setup()
        if factor is not None:
            path = "levels"
            T = self._score_operator(A, wA, u, N, H_inv)
            # v = 1 gives y* = y: the operator must give back the observed scores
            error = np.abs(T.sum(axis=2) - observed_scores).max()
            scale = max(np.abs(observed_scores).max(), np.abs(N).max(), 1e-300)
            if not error <= _SELF_CHECK * scale:
                raise AuditError(f"wild bootstrap: the score operator does not reproduce the "
                                 f"observed scores (relative error {error / scale:.1e})")
            stats = self._statistics_from_operator(T, N, draws, c)
        else:
            path = "demean"
            stats = self._statistics_by_refit(A, wA, u, fitted_r, H_inv, draws, c)
        observed = float(_statistic(b[idx][None, :], observed_scores[None, :, :], c)[0])
        p = (1 + int(np.sum(stats >= observed - _tie(observed)))) / (len(stats) + 1)
        if len(idx) == 1:  # report the signed t; the test is on |t| (t^2 above)
            observed = float(np.sign(b[idx[0]]) * np.sqrt(observed))
            stats = np.sign(draws @ N[:, 0]) * np.sqrt(stats)
        return WildTest(tuple(terms), observed, stats, p, G, self.n_obs, b[idx], c, path)

    def _score_operator(self, A, wA, u, N, H_inv) -> np.ndarray:
        """T (G, q, G): the clusters' bootstrap scores are T v for weights v."""
        G, q = self.n_clusters, A.shape[1]
        Xd, w = self.Xd, self.w
        # the regressors' part: A_g'W_g X_g (X'WX)^-1 X_h'W_h u_h
        Q = np.stack([self._cluster_sums(wA[:, [a]] * Xd) for a in range(q)], axis=1)  # (G,q,k)
        XU = self._cluster_sums(Xd * (w * u)[:, None])  # (G, k)
        T = -np.einsum("gqk,kl,hl->gqh", Q, H_inv, XU)
        # the fixed effects' part: (D~'W A_g)' (D~'W D~)^+ (D~'W u_h)
        if self._level_setup()[2]:
            Z = self._solve_levels(self._by_level(u[:, None])[:, 0, :])  # (K, G)
            T -= np.einsum("lqg,lh->gqh", self._by_level(A), Z)
        T[np.arange(G), :, np.arange(G)] += N
        return T

    @staticmethod
    def _statistics_from_operator(T, N, draws, c) -> np.ndarray:
        G, q = T.shape[0], T.shape[1]
        flat = np.ascontiguousarray(T.reshape(G * q, G).T)  # one product per block of draws
        out = np.empty(len(draws))
        for start in range(0, len(draws), WILD_BLOCK):
            v = draws[start:start + WILD_BLOCK]
            scores = (v @ flat).reshape(len(v), G, q)
            out[start:start + WILD_BLOCK] = _statistic(v @ N, scores, c)
        return out

    def _statistics_by_refit(self, A, wA, u, fitted_r, H_inv, draws, c) -> np.ndarray:
        """Each block of bootstrap outcomes demeaned again and refitted (exact, slower)."""
        Xd, w = self.Xd, self.w
        out = np.empty(len(draws))
        block = max(1, min(WILD_BLOCK, _BLOCK_FLOATS // max(len(u), 1)))
        for start in range(0, len(draws), block):
            v = draws[start:start + block]
            # y* keeps the restricted fit's fixed effects: after the sweep only the bootstrap
            # residuals need sweeping again (the sweep is linear)
            Y = fitted_r[:, None] + demean(u[:, None] * v[:, self.clusters].T, self.fe, w)
            B = H_inv @ (Xd.T @ (w[:, None] * Y))
            E = Y - Xd @ B
            scores = np.stack([self._cluster_sums(wA[:, [a]] * E) for a in range(A.shape[1])],
                              axis=2)  # (G, B, q)
            out[start:start + block] = _statistic((A.T @ (w[:, None] * Y)).T,
                                                  scores.transpose(1, 0, 2), c)
        return out


def _statistic(numerator: np.ndarray, scores: np.ndarray, c: float) -> np.ndarray:
    """Wald statistic (t^2 for one term) of each replicate: numerator (B, q), scores (B, G, q)."""
    if numerator.shape[1] == 1:
        return numerator[:, 0] ** 2 / (c * np.einsum("bg,bg->b", scores[:, :, 0], scores[:, :, 0]))
    V = c * np.einsum("bgq,bgp->bqp", scores, scores)
    return np.einsum("bq,bqp,bp->b", numerator, np.linalg.pinv(V), numerator)


def _tie(value: float) -> float:
    """Rounding room for a draw that reproduces the observed statistic (v = 1, or -1)."""
    return 1e-12 * abs(value)


# -- the audit's uses ---------------------------------------------------------------------------

def wild_wald_test(design: Design, pre: list[str], *, reps: int, seed: int) -> tuple[float, int, float]:
    """Joint test that ``pre`` are zero by the restricted wild cluster bootstrap (WCR): the
    event studies' pre-trend test (analyses/timing.py).

    The Wald statistic W = b' V^-1 b uses CRV1 (judge clusters, no small-sample factor); its
    null distribution comes from ``reps`` draws with Rademacher weights by judge, on the
    design's cell means. p = (1 + #{W* >= W}) / (reps + 1). Cameron, Gelbach & Miller (2008);
    MacKinnon, Nielsen & Webb (2023): with tens of judge clusters the F(q, G-1) reference of a
    q-dimensional cluster-robust Wald test rejects far too often, the bootstrap does not.

    Returns
    -------
    tuple
        (W / q, q, p).
    """
    y, X, fe, clusters, w = cell_means(design)
    boot = LinearBootstrap(y, X, fe.astype(np.int64), clusters, w, terms=list(design.terms))
    test = boot.test(pre, draw_weights("rademacher", reps, boot.n_clusters, seed=seed),
                     small_sample=1.0)
    return test.statistic / len(pre), len(pre), test.p_value


def no_bootstrap(family: str) -> dict[str, Any]:
    """results.json's ``bootstrap`` of a test whose model is not linear: none, and why."""
    name = {"logit": "logit", "poisson": "Poisson"}.get(family, family)
    return {"method": None, "reason": (
        f"no bootstrap for {name} fits: the wild bootstrap resamples the residuals of a linear "
        f"fit, and a score bootstrap (Kline and Santos 2012) of a {name} fit with absorbed "
        f"fixed effects is not implemented; the analytic p stands")}


def bootstrap_entry(design: Design, params: pd.Series, term: str, *, reps: int, weights: str,
                    seed: int, boot: LinearBootstrap | None = None) -> dict[str, Any]:
    """results.json's ``bootstrap`` of one tested term of a fitted model.

    Parameters
    ----------
    design : the model's design (``build_design``).
    params : the fitted model's estimates (contract term names): the bootstrap's own fit must
        reproduce the tested one, or no bootstrap p is reported.
    term : the tested term.
    reps, weights, seed : the plan's ``inference.bootstrap`` and ``seed``.
    boot : the model's prepared rows, shared by its tests (default: prepared here).

    Returns
    -------
    dict
        ``{"method", "weights", "reps", "p_value", "statistic", "cluster", "n_clusters",
        "seed"}``; or ``{"method": None, "reason": ...}`` when there is none.

    Example
    -------
    >>> no_bootstrap("logit")["method"] is None
    True
    """
    family = design.spec.family
    if family != "ols":
        return no_bootstrap(family)
    if reps <= 0:
        return {"method": None, "reason": "not computed: the plan's inference.bootstrap.reps is 0"}
    try:
        boot = boot or LinearBootstrap.from_design(design)
        test = boot.test([term], draw_weights(weights, reps, boot.n_clusters, seed=seed))
    except (AuditError, np.linalg.LinAlgError) as exc:
        # the analytic p-value stands; the row says why there is no bootstrap beside it
        return {"method": None, "reason": f"not computed: {exc}"}
    fitted = float(params.get(term, np.nan))
    if not np.isclose(test.estimate[0], fitted, rtol=1e-6, atol=1e-9 * max(1.0, abs(fitted))):
        return {"method": None, "reason": (
            f"not computed: the bootstrap's rows give the estimate {test.estimate[0]:.6g}, the "
            f"fit {fitted:.6g}")}
    return {"method": METHOD, "weights": weights, "reps": test.reps, "p_value": test.p_value,
            "statistic": test.statistic, "cov_type": "CRV1", "cluster": design.cluster,
            "n_clusters": test.n_clusters, "seed": seed}
