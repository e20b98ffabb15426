"""Parallel-trends sensitivity of an event study (Rambachan and Roth 2023).

Rambachan, A. and Roth, J. (2023), "A More Credible Approach to Parallel Trends", Review of
Economic Studies 90(5), 2555-2591; the conditional test with nuisance parameters of Andrews,
Roth and Pakes (2023, "Inference for Linear Conditional Moment Inequalities", Review of
Economic Studies 90(6)); the fixed-length interval of Armstrong and Kolesar (2018). The choices
follow the authors' R package HonestDiD 0.2.8 (defaults of ``createSensitivityResults`` and
``createSensitivityResults_relativeMagnitudes``); tests/reference/honestdid/ holds its published
example and tests/test_sensitivity_parallel_trends.py reproduces it.

Why: an event study's pre-policy coefficients near zero do not show that the differential trend
would have stayed flat after the policy. Rambachan and Roth ask instead how far it may depart
from the pre-policy path before a conclusion changes. The event study's coefficients are
``beta = tau + delta``: the policy's effects ``tau`` (zero before the policy) plus the
differential trend ``delta``, with the reference quarter normalised to zero. The target here is
``theta = l' tau_post`` with ``l`` equal weights: THE AVERAGE OF THE POST-POLICY EVENT-STUDY
COEFFICIENTS, not the pooled difference-in-differences coefficient the tests read. Two sets of
trends ``delta`` are allowed:

* relative magnitudes, ``Delta^RM(Mbar)``: each change of ``delta`` between consecutive
  post-policy quarters (from the reference quarter on) is at most ``Mbar`` times the largest
  change between consecutive pre-policy quarters. ``Mbar = 0`` is parallel trends after the
  policy; ``Mbar = 1``, post-policy changes as large as the worst pre-policy one. Interval: the
  conditional test with the least-favourable hybrid ("C-LF"; size ``alpha``, first stage
  ``kappa = alpha / 10``), inverted over ``theta``, the union over which pre-policy change is
  the largest and its sign (HonestDiD's default). The moments are the post-policy ones only
  (HonestDiD's ``postPeriodMomentsOnly``; the union makes the others redundant).
* smoothness, ``Delta^SD(M)``: the slope of ``delta`` changes by at most ``M`` (outcome units
  per quarter, per quarter) between consecutive quarters, before and after the policy.
  ``M = 0`` allows any linear differential trend. Interval: the optimal fixed-length interval
  (FLCI) of the affine estimators ``l' beta_post + w' beta_pre``.

Two computations differ from HonestDiD's and make the results exact rather than simulated or
gridded: (1) with the post-policy moments, the linear programme of the conditional test has a
closed form (``_rm_vertices``), so the test statistic, its conditioning set and the
least-favourable critical value (a one-dimensional integral instead of 1,000 simulated linear
programmes) are computed exactly; HonestDiD's simulated critical value can be reproduced by
passing its normal draws (``lf_draws``). (2) The interval's ends are found by bisection to
1e-9 of its scale instead of on a grid of 1,000 points, and the FLCI by minimising its
half-length directly (convex) instead of bisecting a numerical derivative; the folded-normal
quantile is exact instead of simulated. At ``Mbar = 0`` both (1) and the test's conditioning
give exactly the conventional interval ``l' beta +- z sqrt(l' Sigma l)`` (only the post-policy
coefficients are pinned down; the derivation is in ``relative_magnitudes_interval``).

Critical values are normal, as in Rambachan and Roth; the audit's own intervals use t(G - 1)
with G judges and are a little wider.

Example
-------
>>> import numpy as np
>>> b = np.array([0.0, 0.0, 1.0, 1.0])          # quarters -3, -2 | 0, 1 (reference -1)
>>> V = np.diag([0.04, 0.04, 0.04, 0.04])
>>> lo, hi = relative_magnitudes_interval(b, V, n_pre=2, mbar=0.0, alpha=0.05)
>>> round(lo, 4), round(hi, 4)                   # 1 +- 1.96 x 0.1414
(0.7228, 1.2772)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from scipy import optimize, special

try:  # installed with scikit-learn (fairlearn's dependency); without it, BLAS keeps its threads
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover
    threadpool_limits = None

KIND = "parallel_trends"
# the plan's defaults (analyses.<event study>.options; analyses/timing.py, report/methods.py)
DEFAULT_MBAR_GRID = (0, 0.5, 1, 1.5, 2)
DEFAULT_SMOOTHNESS_GRID = (0, 0.25, 0.5, 1, 2)
RM_METHODS = ("C-LF", "conditional")
READINGS = ("consistent with the concern", "not supported", "inconclusive")
_CONSISTENT, _NOT_SUPPORTED, _INCONCLUSIVE = READINGS

# conditional test (Andrews, Roth and Pakes 2023): first stage of the hybrid at alpha / 10
KAPPA_SHARE = 0.1
# vertex variances are at most 1 (each vertex is normalised by the moments' standard
# deviations); below this a vertex is treated as degenerate, as HonestDiD does
_DEGENERATE = 1e-12
_GRID_POINTS = 240  # first pass over theta, before the ends are refined by bisection
_BISECTIONS = 40    # each halves the bracket: 2^-40 of a grid step
_LEGENDRE = np.polynomial.legendre.leggauss(64)  # nodes of the critical value's integral


# --- the layout of the coefficients ----------------------------------------------------------

@dataclass(frozen=True)
class Layout:
    """Event-study coefficients in the order the method expects: ``n_pre`` pre-policy quarters
    (consecutive, ending at quarter -2), the reference quarter -1 normalised to zero (left out
    of ``beta``), then the post-policy quarters 0, 1, ... (consecutive).

    ``quarters`` are the event quarters of ``beta``; ``left_out`` those of the input that were
    left out, with the reason.
    """

    beta: np.ndarray
    sigma: np.ndarray
    n_pre: int
    quarters: tuple[int, ...]
    left_out: dict[int, str] = field(default_factory=dict)

    @property
    def n_post(self) -> int:
        return len(self.beta) - self.n_pre


def layout(beta: Sequence[float], sigma: np.ndarray, quarters: Sequence[int], *,
           reference: int = -1, binned: dict[int, str] | None = None) -> Layout:
    """Normalise an event study to reference quarter -1 and leave out binned end quarters.

    Parameters
    ----------
    beta, sigma : coefficients of the event quarters ``quarters`` (the reference left out) and
        their covariance.
    quarters : the event quarter of each coefficient.
    reference : the quarter the event study normalised to zero. Another reference is moved to
        -1 exactly: the coefficients become ``beta_k - beta_{-1}`` (a reparametrisation of the
        same regression), the old reference's coefficient ``-beta_{-1}``.
    binned : end quarters that bin more than one calendar quarter, with why; they are left out.
        A binned end is not a one-quarter step, so neither restriction can bound its trend
        from its neighbours'; keeping it would make every post-policy bound infinite (last
        quarter) or let one multi-quarter change scale ``Mbar`` (first quarter).

    Returns
    -------
    Layout

    Raises
    ------
    ValueError
        When quarter -1 has no coefficient to move the reference to, or the quarters left are
        not consecutive runs before -1 and from 0 (a quarter the regression could not estimate
        breaks the quarter-to-quarter steps both restrictions are about).

    Example
    -------
    >>> lay = layout([0.1, 0.2, 0.5], np.eye(3), [-3, -1, 0], reference=-2)
    >>> lay.quarters, lay.beta.tolist()
    ((-3, -2, 0), [-0.1, -0.2, 0.3])
    """
    b = np.asarray(beta, dtype=float)
    V = np.asarray(sigma, dtype=float)
    qs = [int(q) for q in quarters]
    if len(qs) != len(b) or V.shape != (len(b), len(b)):
        raise ValueError(f"beta has {len(b)} values, quarters {len(qs)}, sigma shape {V.shape}")
    if reference != -1:
        if -1 not in qs:
            raise ValueError(f"reference quarter {reference}: quarter -1 has no coefficient")
        # beta'_k = beta_k - beta_{-1}; the old reference (0) becomes -beta_{-1}
        j = qs.index(-1)
        L = np.eye(len(b))
        L[:, j] -= 1.0
        L[j, :] = 0.0
        L[j, j] = -1.0
        b, V = L @ b, L @ V @ L.T
        qs[j] = reference
    left_out = dict(binned or {})
    keep = [i for i, q in enumerate(qs) if q not in left_out]
    order = sorted(keep, key=lambda i: qs[i])
    qs_kept = [qs[i] for i in order]
    pre = [q for q in qs_kept if q < -1]
    post = [q for q in qs_kept if q >= 0]
    if pre != list(range(-1 - len(pre), -1)) or post != list(range(len(post))):
        raise ValueError(f"event quarters {qs_kept} are not consecutive before -1 and from 0")
    if not pre or not post:
        raise ValueError(f"event quarters {qs_kept}: needs at least one quarter before -1 and one "
                         "from 0")
    idx = np.array(order)
    return Layout(b[idx], V[np.ix_(idx, idx)], len(pre), tuple(qs_kept), left_out)


def _inputs(beta, sigma, n_pre: int, weights) -> tuple[np.ndarray, np.ndarray, int, np.ndarray]:
    """(beta, sigma as arrays, the number of post-policy coefficients, their weights l)."""
    b = np.asarray(beta, dtype=float)
    n_post = len(b) - n_pre
    return b, np.asarray(sigma, dtype=float), n_post, _equal_weights(n_post, weights)


def _equal_weights(n_post: int, weights: Sequence[float] | None) -> np.ndarray:
    if weights is None:
        return np.full(n_post, 1.0 / n_post)
    w = np.asarray(weights, dtype=float)
    if w.shape != (n_post,) or not np.any(w):
        raise ValueError(f"weights: expected {n_post} numbers, not all zero, found {w.tolist()}")
    return w


def _one_blas_thread():
    """The computations here multiply matrices of a few dozen rows thousands of times: BLAS
    threads only wait on each other (on a loaded machine, a hundred times slower)."""
    return threadpool_limits(1, user_api="blas") if threadpool_limits is not None else nullcontext()


def _level_rows(n_pre: int, n_post: int) -> np.ndarray:
    """Row p + n_pre of the result picks delta at period p (-n_pre..n_post), zero at 0 (the
    reference, not a coefficient): periods -n_pre..-1 are coefficients 0..n_pre-1, 1..n_post are
    n_pre..n_pre+n_post-1 (the method's period 1 is event quarter 0)."""
    k = n_pre + n_post
    rows = np.zeros((k + 1, k))
    rows[:n_pre, :n_pre] = np.eye(n_pre)
    rows[n_pre + 1:, n_pre:] = np.eye(n_post)
    return rows


# --- relative magnitudes: the conditional test ------------------------------------------------

@dataclass(frozen=True)
class _Piece:
    """One polyhedron of Delta^RM: pre-policy change ``s`` is the largest, with sign ``sign``.

    The conditional test's linear programme over the post-policy moments has a closed form. With
    ``B = Mbar x sign x (change s of beta)``, moments ``+-(change r of beta - change r of tau) - B
    <= 0`` (r = 1..T, the change into post-policy quarter r) and ``c_r = sum_{t >= r} l_t``,
    the statistic ``eta = min over tau with l'tau = theta of max_i moment_i / sd_i`` is the
    largest of ``(l'beta - theta - C B) / S+``, ``(theta - l'beta - C B) / S-`` and
    ``-2 B / (sd+_r + sd-_r)`` for every r, where ``C = sum |c_r|`` and ``S+-`` are the
    ``|c|``-weighted sums of the moments' standard deviations. These are the vertices of the
    programme's dual: ``vertices @ beta + theta_coef x theta`` (only the two extreme ones of the
    last kind can be largest).
    """

    vertices: np.ndarray     # (J, K) in beta space
    theta_coef: np.ndarray   # (J,)
    omega: np.ndarray        # (J, J) covariance of the vertices
    lf_cv: float             # least-favourable critical value (nan: no hybrid)
    moments: np.ndarray      # (2T, K) the moments' rows, + then - (HonestDiD's order)
    moment_weights: np.ndarray  # (J_all, 2T) every vertex in moment space, for simulated cv


def _rm_vertices(beta_rows: dict[str, np.ndarray], V: np.ndarray, lw: np.ndarray,
                 brow: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                            dict[str, Any]]:
    D, L = beta_rows["post_changes"], beta_rows["target"]
    T = len(lw)
    c = np.cumsum(lw[::-1])[::-1]                      # c_r = sum_{t >= r} l_t
    A = np.vstack([D - brow, -D - brow])             # (2T, K)
    sd = np.sqrt(np.maximum(np.einsum("ik,kl,il->i", A, V, A), 0.0))
    sp, sm = sd[:T], sd[T:]
    pos = c > 0
    C = float(np.abs(c).sum())
    S_plus = float(np.sum(np.where(pos, c * sp, -c * sm)))
    S_minus = float(np.sum(np.where(pos, c * sm, -c * sp)))
    pair = sp + sm
    lo_pair, hi_pair = int(np.argmin(pair)), int(np.argmax(pair))
    vertices = np.vstack([(L - C * brow) / S_plus, (-L - C * brow) / S_minus,
                          -2.0 * brow / pair[lo_pair], -2.0 * brow / pair[hi_pair]])
    theta_coef = np.array([-1.0 / S_plus, 1.0 / S_minus, 0.0, 0.0])
    # every vertex in moment space (the simulated critical value reads these)
    G = np.zeros((2 + T, 2 * T))
    G[0, :T] = np.where(pos, c, 0.0) / S_plus
    G[0, T:] = np.where(pos, 0.0, -c) / S_plus
    G[1, T:] = np.where(pos, c, 0.0) / S_minus
    G[1, :T] = np.where(pos, 0.0, -c) / S_minus
    for r in range(T):
        G[2 + r, [r, T + r]] = 1.0 / pair[r]
    parts = {"C": C, "S_plus": S_plus, "S_minus": S_minus, "pair_min": float(pair[lo_pair])}
    return vertices, theta_coef, A, G, parts


def _lf_cv_exact(V: np.ndarray, L: np.ndarray, brows: np.ndarray, parts: list[dict[str, Any]],
                 kappa: float) -> np.ndarray:
    """The 1 - kappa quantile of the statistic when every moment has mean zero, per piece.

    All vertices are functions of two normals, ``Q = l' eps_post`` and ``B = brow' eps``, so
    ``P(eta <= q)`` is a one-dimensional integral over ``B`` of the probability that ``Q`` lies
    in ``[-q S- - C B, q S+ + C B]`` given ``B``, over the ``B`` with ``-2 B / pair_min <= q``
    (Gauss-Legendre, 64 nodes on ``B / sd(B)`` from that bound to 9). The quantile is found
    by bisection on ``q`` in [0, 16] to 2^-32 of it (the vertices have variance at most 1),
    all pieces at once.
    """
    C = np.array([p["C"] for p in parts])
    Sp = np.array([p["S_plus"] for p in parts])
    Sm = np.array([p["S_minus"] for p in parts])
    dmin = np.array([p["pair_min"] for p in parts])
    vq = float(L @ V @ L)
    vb = np.einsum("nk,kl,nl->n", brows, V, brows)
    cqb = brows @ V @ L
    sq = math.sqrt(vq)
    flat = vb <= 1e-14 * vq                      # B = 0: eta = max(Q / S+, -Q / S-, 0)
    sb = np.sqrt(np.where(flat, 1.0, vb))
    slope = np.where(flat, 0.0, cqb / np.where(flat, 1.0, vb))
    sc = np.sqrt(np.maximum(vq - slope * cqb, 1e-24 * vq))
    nodes, wts = _LEGENDRE
    top = 9.0

    def prob(q: np.ndarray) -> np.ndarray:
        lower = np.maximum(-q * dmin / 2.0, -q * (Sp + Sm) / (2.0 * C)) / sb
        lower = np.minimum(lower, top)
        x = (nodes[None, :] + 1.0) * ((top - lower) / 2.0)[:, None] + lower[:, None]
        B = x * sb[:, None]
        mu = slope[:, None] * B
        inner = (special.ndtr(((q * Sp)[:, None] + C[:, None] * B - mu) / sc[:, None])
                 - special.ndtr(((-q * Sm)[:, None] - C[:, None] * B - mu) / sc[:, None]))
        dens = np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
        integral = (wts[None, :] * dens * np.maximum(inner, 0.0)).sum(axis=1) * (top - lower) / 2.0
        at_zero = special.ndtr(q * Sp / sq) - special.ndtr(-q * Sm / sq)
        return np.where(flat, at_zero, integral)

    lo, hi = np.zeros(len(C)), np.full(len(C), 16.0)
    for _ in range(32):
        mid = (lo + hi) / 2.0
        below = prob(mid) < 1.0 - kappa
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    return (lo + hi) / 2.0


def _lf_cv_simulated(sigma_y: np.ndarray, G: np.ndarray, draws: np.ndarray, kappa: float) -> float:
    """HonestDiD's critical value: the 1 - kappa quantile (R's type 7) of the statistic over
    ``draws`` (standard normals, one row per draw, one column per moment) times the symmetric
    square root of the moments' covariance, as ``mvtnorm::rmvnorm(method = "eigen")`` forms them."""
    vals, vecs = np.linalg.eigh(sigma_y)
    root = (vecs * np.sqrt(np.maximum(vals, 0.0))) @ vecs.T
    xi = draws @ root
    eta = (xi @ G.T).max(axis=1)
    return float(np.quantile(eta, 1.0 - kappa))


def _pieces(lay: Layout, lw: np.ndarray, mbar: float, *, method: str, alpha: float,
            lf_draws: np.ndarray | None) -> list[_Piece]:
    P, T = lay.n_pre, lay.n_post
    rows = _level_rows(P, T)
    pre_changes = rows[1:P + 1] - rows[:P]            # change k: period -P+k-1 -> -P+k
    post_changes = rows[P + 1:] - rows[P:-1]          # change r: period r-1 -> r
    target = np.concatenate([np.zeros(P), lw])
    beta_rows = {"post_changes": post_changes, "target": target}
    kappa = KAPPA_SHARE * alpha
    built, brows, parts = [], [], []
    for s in range(P):
        for sign in (1.0, -1.0):
            brow = mbar * sign * pre_changes[s]
            vertices, theta_coef, A, G, part = _rm_vertices(beta_rows, lay.sigma, lw, brow)
            built.append((vertices, theta_coef, A, G))
            brows.append(brow)
            parts.append(part)
    lf = np.full(len(built), np.nan)
    if method == "C-LF":
        if lf_draws is None:
            lf = _lf_cv_exact(lay.sigma, target, np.array(brows), parts, kappa)
        else:
            lf = np.array([_lf_cv_simulated(A @ lay.sigma @ A.T, G, lf_draws, kappa)
                           for _, _, A, G in built])
    return [_Piece(v, h, v @ lay.sigma @ v.T, float(cv), A, G)
            for (v, h, A, G), cv in zip(built, lf, strict=True)]


def _truncnorm_quantile(p: float, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Quantile ``p`` of the standard normal truncated to ``[lo, hi]``, from the side of the
    smaller tail so that far truncation points keep their precision."""
    lo, hi = np.broadcast_arrays(np.asarray(lo, float), np.asarray(hi, float))
    out = np.empty(lo.shape)
    upper = lo > 0  # the mass sits in the upper tail: work with survival functions
    with np.errstate(divide="ignore", invalid="ignore"):
        s_lo, s_hi = special.ndtr(-lo[upper]), special.ndtr(-hi[upper])
        out[upper] = -special.ndtri(s_hi + (1.0 - p) * (s_lo - s_hi))
        c_lo, c_hi = special.ndtr(lo[~upper]), special.ndtr(hi[~upper])
        out[~upper] = special.ndtri(c_lo + p * (c_hi - c_lo))
    return np.clip(out, lo, hi)


def _stack(pieces: list[_Piece]) -> dict[str, np.ndarray]:
    return {"W": np.stack([p.vertices for p in pieces]),
            "H": np.stack([p.theta_coef for p in pieces]),
            "Om": np.stack([p.omega for p in pieces]),
            "lf": np.array([p.lf_cv for p in pieces])}


def _accepts(pieces: list[_Piece] | dict[str, np.ndarray], beta: np.ndarray, theta: np.ndarray, *,
             method: str, alpha: float) -> np.ndarray:
    """For each value of ``theta``, whether any piece's conditional test accepts it.

    Per piece: the statistic is the largest vertex; given the part of the data independent of
    it, the statistic must stay the largest, which bounds it to ``[vlo, vup]`` (the other
    vertices' values against their correlation ``rho`` with it); the test rejects when the
    statistic over its standard deviation exceeds the ``1 - size`` quantile of the standard
    normal truncated there (not below 0). With the hybrid, ``vup`` is capped at the
    least-favourable critical value, beyond which the first stage has rejected.
    """
    st = pieces if isinstance(pieces, dict) else _stack(pieces)
    theta = np.atleast_1d(np.asarray(theta, dtype=float))
    kappa = KAPPA_SHARE * alpha
    size = (alpha - kappa) / (1.0 - kappa) if method == "C-LF" else alpha
    W, H, Om, lf = st["W"], st["H"], st["Om"], st["lf"]
    n, J = H.shape
    vals = (W @ beta)[:, :, None] + H[:, :, None] * theta[None, None, :]      # (n, J, m)
    b = np.argmax(vals, axis=1)                                                # (n, m)
    eta = np.take_along_axis(vals, b[:, None, :], axis=1)[:, 0, :]
    diag = np.einsum("njj->nj", Om)
    var_b = np.take_along_axis(diag, b, axis=1)
    degenerate = var_b < _DEGENERATE
    var_safe = np.where(degenerate, 1.0, var_b)
    sd_b = np.sqrt(var_safe)
    cov_b = np.take_along_axis(Om, np.broadcast_to(b[:, None, :], (n, J, b.shape[1])), axis=2)
    rho = cov_b / var_safe[:, None, :]
    resid = vals - rho * eta[:, None, :]                 # independent of the statistic
    denom = 1.0 - rho
    other = np.arange(J)[None, :, None] != b[:, None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        bound = resid / denom
    vlo = np.max(np.where(other & (denom > 1e-10), bound, -np.inf), axis=1)
    vup = np.min(np.where(other & (denom < -1e-10), bound, np.inf), axis=1)
    if method == "C-LF":
        first_stage = eta > lf[:, None]
        vup = np.minimum(vup, lf[:, None])
    else:
        first_stage = np.zeros(eta.shape, dtype=bool)
    z = eta / sd_b
    zlo, zup = vlo / sd_b, vup / sd_b
    inside = (zlo <= z + 1e-9) & (z <= zup + 1e-9) & (zlo < zup)
    cval = np.full(eta.shape, np.inf)
    if inside.any():
        cval[inside] = np.maximum(0.0, _truncnorm_quantile(1.0 - size, zlo[inside], zup[inside]))
    reject = np.where(degenerate, eta > 1e-12, first_stage | (inside & (z > cval)))
    return ~np.all(reject, axis=0)


def relative_magnitudes_interval(beta: Sequence[float], sigma: np.ndarray, *, n_pre: int,
                                 mbar: float, alpha: float = 0.05,
                                 weights: Sequence[float] | None = None,
                                 method: Literal["C-LF", "conditional"] = "C-LF",
                                 lf_draws: np.ndarray | None = None) -> tuple[float, float]:
    """Robust 1 - alpha interval for ``l' tau_post`` under ``Delta^RM(Mbar)``.

    Parameters
    ----------
    beta, sigma : event-study coefficients in :class:`Layout` order (``n_pre`` pre-policy
        quarters ending at -2, then the post-policy quarters from 0; reference -1 left out) and
        their covariance.
    n_pre : number of pre-policy coefficients.
    mbar : the bound on post-policy changes as a multiple of the largest pre-policy change.
    alpha : one minus the interval's level.
    weights : ``l``; default equal weights (the average of the post-policy coefficients).
    method : "C-LF" (conditional test with the least-favourable first stage at
        ``kappa = alpha / 10``, HonestDiD's default) or "conditional" (no first stage).
    lf_draws : standard normals (draws x 2 T moments, HonestDiD's moment order) for the
        least-favourable critical value as HonestDiD simulates it; default: computed exactly.

    Returns
    -------
    (low, high)
        The smallest and largest accepted ``theta`` (the convex hull of the union over pieces,
        as HonestDiD reports it); -inf / inf when the acceptance region has no end.

    Raises
    ------
    ValueError
        For shapes that do not fit, ``mbar < 0`` or an unknown method.

    Notes
    -----
    At ``Mbar = 0`` the post-policy moments pin ``delta_post`` to zero: the two vertices left
    are ``+-(l'beta - theta) / S`` with the same ``S``, the conditioning set of the statistic
    is ``[0, inf)`` (the half-normal), the least-favourable critical value ``S^-1 sd(l'beta)
    z_{1 - kappa/2}``, and the critical value of the second stage solves
    ``P(c < |Z| < z_{1-kappa/2}) = (alpha - kappa)``: ``c = z_{1 - alpha/2}``. The interval is
    the conventional one.

    Example
    -------
    >>> b = np.array([0.0, 0.1, 1.0, 1.0]); V = np.eye(4) * 1e-6
    >>> lo, hi = relative_magnitudes_interval(b, V, n_pre=2, mbar=1.0)
    >>> round(lo, 2), round(hi, 2)   # identified set 1 +- 1 x 0.1 x (1 + 2) / 2
    (0.85, 1.15)
    """
    if method not in RM_METHODS:
        raise ValueError(f"method: expected one of {list(RM_METHODS)}, found {method!r}")
    if mbar < 0:
        raise ValueError(f"mbar: expected a number >= 0, found {mbar}")
    b, V, n_post, lw = _inputs(beta, sigma, n_pre, weights)
    lay = Layout(b, V, n_pre, tuple(range(-1 - n_pre, -1)) + tuple(range(n_post)))
    with _one_blas_thread():
        pieces = _pieces(lay, lw, mbar, method=method, alpha=alpha, lf_draws=lf_draws)
        return _invert(pieces, lay, lw, mbar, method=method, alpha=alpha)


def _invert(pieces: list[_Piece] | dict[str, np.ndarray], lay: Layout, lw: np.ndarray,
            mbar: float, *, method: str, alpha: float) -> tuple[float, float]:
    b = lay.beta
    if not isinstance(pieces, dict):
        pieces = _stack(pieces)
    centre = float(lw @ b[lay.n_pre:])
    sd_theta = math.sqrt(float(lw @ lay.sigma[lay.n_pre:, lay.n_pre:] @ lw))
    rows = _level_rows(lay.n_pre, lay.n_post)
    pre_changes = (rows[1:lay.n_pre + 1] - rows[:lay.n_pre]) @ b
    reach = np.abs(np.cumsum(lw[::-1])).sum() * mbar * float(np.max(np.abs(pre_changes)))
    half = reach + 12.0 * sd_theta + 1e-12
    for _ in range(8):
        grid = np.linspace(centre - half, centre + half, _GRID_POINTS)
        ok = _accepts(pieces, b, grid, method=method, alpha=alpha)
        if not ok.any():
            # nothing accepted on the grid: look once more around the estimate, finely
            grid = np.linspace(centre - 4 * sd_theta, centre + 4 * sd_theta, 4 * _GRID_POINTS)
            ok = _accepts(pieces, b, grid, method=method, alpha=alpha)
            if not ok.any():
                return float("nan"), float("nan")
        if not (ok[0] or ok[-1]):
            break
        half *= 4.0
    else:
        return (-math.inf if ok[0] else float(grid[np.argmax(ok)]),
                math.inf if ok[-1] else float(grid[len(ok) - 1 - np.argmax(ok[::-1])]))
    i, j = int(np.argmax(ok)), int(len(ok) - 1 - np.argmax(ok[::-1]))
    # bisection: (rejected, accepted) brackets for the two ends, refined together
    lo_bracket = np.array([grid[i - 1], grid[i]])
    hi_bracket = np.array([grid[j + 1], grid[j]])
    for _ in range(_BISECTIONS):
        mid = np.array([(lo_bracket[0] + lo_bracket[1]) / 2, (hi_bracket[0] + hi_bracket[1]) / 2])
        acc = _accepts(pieces, b, mid, method=method, alpha=alpha)
        lo_bracket[1 if acc[0] else 0] = mid[0]
        hi_bracket[1 if acc[1] else 0] = mid[1]
        if abs(lo_bracket[1] - lo_bracket[0]) < 1e-9 * sd_theta and \
                abs(hi_bracket[1] - hi_bracket[0]) < 1e-9 * sd_theta:
            break
    return float(lo_bracket[1]), float(hi_bracket[1])


def identified_set_rm(beta: Sequence[float], *, n_pre: int, mbar: float,
                      weights: Sequence[float] | None = None) -> tuple[float, float]:
    """The identified set of ``l' tau_post`` under ``Delta^RM(Mbar)`` when ``beta`` is known:
    ``l'beta_post -+ Mbar x (largest |pre-policy change|) x sum_r |sum_{t >= r} l_t|``.

    Example
    -------
    >>> identified_set_rm([0.0, 0.1, 1.0, 1.0], n_pre=2, mbar=1.0)
    (0.85, 1.15)
    """
    b = np.asarray(beta, dtype=float)
    lw = _equal_weights(len(b) - n_pre, weights)
    rows = _level_rows(n_pre, len(b) - n_pre)
    pre_changes = (rows[1:n_pre + 1] - rows[:n_pre]) @ b
    half = mbar * float(np.max(np.abs(pre_changes))) * float(np.abs(np.cumsum(lw[::-1])).sum())
    centre = float(lw @ b[n_pre:])
    return round(centre - half, 12), round(centre + half, 12)


# --- smoothness: the fixed-length interval ----------------------------------------------------

def _phi_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def _phi_pdf(x: float) -> float:
    return math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


def folded_normal_quantile(t: float, alpha: float) -> float:
    """``cv_alpha(t)``: the 1 - alpha quantile of ``|N(t, 1)|`` (exact; HonestDiD simulates it).

    Newton's method on ``Phi(c - t) - Phi(-c - t) = 1 - alpha`` from the upper bound
    ``t + z_{1 - alpha/2}`` (the function is concave in ``c`` there, so the steps stay above
    the root and decrease monotonically).

    Example
    -------
    >>> round(folded_normal_quantile(0.0, 0.05), 4), round(folded_normal_quantile(10.0, 0.05), 4)
    (1.96, 11.6449)
    """
    t = abs(float(t))
    c = t + float(special.ndtri(1 - alpha / 2))
    floor = t + float(special.ndtri(1 - alpha))
    for _ in range(100):
        excess = _phi_cdf(c - t) - _phi_cdf(-c - t) - (1 - alpha)
        slope = _phi_pdf(c - t) + _phi_pdf(c + t)
        step = excess / slope if slope > 0 else 0.0
        c = max(c - step, floor)
        if abs(step) < 1e-14 * max(1.0, c):
            break
    return c


def _cv_slope(c: float, t: float) -> float:
    """d cv / d t (implicit function theorem on Phi(c - t) - Phi(-c - t) = 1 - alpha)."""
    a, b = _phi_pdf(c - t), _phi_pdf(c + t)
    return (a - b) / (a + b) if a + b > 0 else 1.0


def smoothness_bias_terms(n_pre: int, weights: np.ndarray) -> tuple[float, np.ndarray, np.ndarray, float]:
    """Pieces of the worst-case bias of ``l'beta_post + w'beta_pre`` over ``Delta^SD(1)``.

    Writing the trend through its slope at the reference and its second differences ``e``
    (each in [-1, 1]), the bias is ``(sum_k k w_-k - sum_t t l_t) x slope + sum_i a_i e_i``.
    It is finite only when the slope's coefficient is zero (``trend @ w == trend_target``,
    with ``w`` ordered as the coefficients, periods -P..-1) and is then
    ``post_constant + || pre_matrix @ w ||_1`` with
    ``post_constant = sum_{i=0}^{T-1} |sum_{t>i} (t - i) l_t|`` and row m of ``pre_matrix``
    the coefficients ``(k - m)`` of ``w_-k`` for k > m.

    Returns
    -------
    (post_constant, pre_matrix, trend, trend_target)

    Example
    -------
    >>> c, K, trend, target = smoothness_bias_terms(2, np.array([0.5, 0.5]))
    >>> c, K.tolist(), trend.tolist(), target
    (2.0, [[1.0, 0.0]], [2.0, 1.0], 1.5)
    """
    T = len(weights)
    t = np.arange(1, T + 1)
    post_constant = float(sum(abs(np.sum((t[t > i] - i) * weights[t > i])) for i in range(T)))
    # columns are the coefficients' order: period -P (k = P) first, period -1 (k = 1) last
    k_of_col = np.arange(n_pre, 0, -1)
    pre_matrix = np.array([[(k - m) if k > m else 0.0 for k in k_of_col]
                           for m in range(1, n_pre)]).reshape(max(n_pre - 1, 0), n_pre)
    return post_constant, pre_matrix, k_of_col.astype(float), float(t @ weights)


def smoothness_interval(beta: Sequence[float], sigma: np.ndarray, *, n_pre: int, m: float,
                        alpha: float = 0.05,
                        weights: Sequence[float] | None = None) -> tuple[float, float]:
    """Optimal fixed-length 1 - alpha interval (FLCI) for ``l' tau_post`` under ``Delta^SD(M)``.

    The interval is ``l'beta_post + w'beta_pre +- cv_alpha(M b(w) / sd(w)) sd(w)`` with ``b(w)``
    the worst-case bias over ``Delta^SD(1)`` (:func:`smoothness_bias_terms`), minimised over the
    pre-policy weights ``w``. The half-length is convex in ``w`` (a perspective of the convex,
    increasing ``cv``), so a local method finds the optimum; at ``M = 0`` it is the linear
    trend's minimum-variance extrapolation, in closed form.

    Parameters
    ----------
    beta, sigma, n_pre, alpha, weights : as :func:`relative_magnitudes_interval`.
    m : bound on the change in the trend's slope per quarter, on the outcome's scale.

    Returns
    -------
    (low, high)

    Raises
    ------
    ValueError
        For shapes that do not fit or ``m < 0``.

    Example
    -------
    >>> b = np.array([-0.2, -0.1, 1.0, 1.0]); V = np.eye(4) * 0.01
    >>> # the line through -0.2, -0.1, 0 continues to 0.1, 0.2: effects 0.9 and 0.8
    >>> [round(x, 3) for x in smoothness_interval(b, V, n_pre=2, m=0.0)]
    [0.659, 1.041]
    """
    if m < 0:
        raise ValueError(f"m: expected a number >= 0, found {m}")
    b, V, n_post, lw = _inputs(beta, sigma, n_pre, weights)
    with _one_blas_thread():
        centre, half = _flci(b, V, n_pre, lw, m, alpha)
    return centre - half, centre + half


def _flci(b: np.ndarray, V: np.ndarray, P: int, lw: np.ndarray, m: float,
          alpha: float) -> tuple[float, float]:
    const, K, trend, target = smoothness_bias_terms(P, lw)
    # rescale so that the target's standard error is 1 (the optimiser's tolerances are absolute)
    scale = math.sqrt(float(lw @ V[P:, P:] @ lw)) or 1.0
    Vs = V / scale**2
    Vpp, Vpq = Vs[:P, :P], Vs[:P, P:] @ lw
    Vqq = float(lw @ Vs[P:, P:] @ lw)
    ms = m / scale
    # minimum variance with trend @ w = target (Lagrange): w = Vpp^-1 (lam trend - Vpq)
    Vinv_t = np.linalg.solve(Vpp, trend)
    Vinv_q = np.linalg.solve(Vpp, Vpq)
    lam = (target + trend @ Vinv_q) / (trend @ Vinv_t)
    w0 = lam * Vinv_t - Vinv_q

    def sd(w: np.ndarray) -> float:
        return math.sqrt(max(float(w @ Vpp @ w + 2 * w @ Vpq + Vqq), 1e-300))

    if ms == 0.0 or P == 1:
        w = w0
        half = folded_normal_quantile(ms * (const + float(np.abs(K @ w).sum())) / sd(w), alpha) * sd(w)
        return float(w @ b[:P] + lw @ b[P:]), half * scale
    n_u = K.shape[0]

    def split(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return x[:P], x[P:]

    def objective(x: np.ndarray) -> tuple[float, np.ndarray]:
        w, u = split(x)
        s = sd(w)
        bias = ms * (const + u.sum())
        t = bias / s
        c = folded_normal_quantile(t, alpha)
        slope = _cv_slope(c, t)
        grad_w = (c - t * slope) * (Vpp @ w + Vpq) / s
        grad_u = np.full(n_u, slope * ms)
        return c * s, np.concatenate([grad_w, grad_u])

    ineq = np.vstack([np.hstack([-K, np.eye(n_u)]), np.hstack([K, np.eye(n_u)])])
    eq = np.concatenate([trend, np.zeros(n_u)])
    x0 = np.concatenate([w0, np.abs(K @ w0)])
    best = None
    # two starts: the minimum-variance weights and the minimum-bias ones (all weight on the
    # slope of the last two pre-policy quarters); the problem is convex, so they agree
    w_bias = np.zeros(P)
    w_bias[-1] = target  # period -1 carries the whole extrapolation
    for start in (x0, np.concatenate([w_bias, np.abs(K @ w_bias)])):
        res = optimize.minimize(
            objective, start, jac=True, method="SLSQP",
            constraints=[{"type": "ineq", "fun": lambda x: ineq @ x, "jac": lambda x: ineq},
                         {"type": "eq", "fun": lambda x: eq @ x - target, "jac": lambda x: eq}],
            options={"ftol": 1e-13, "maxiter": 500})
        w = res.x[:P]
        # re-evaluate at the weights found, with the exact bias (u may be slack)
        s = sd(w)
        half = folded_normal_quantile(ms * (const + float(np.abs(K @ w).sum())) / s, alpha) * s
        if abs(trend @ w - target) < 1e-8 and (best is None or half < best[1]):
            best = (w, half)
    if best is None:  # pragma: no cover - the minimum-variance start is always feasible
        best = (w0, folded_normal_quantile(ms * (const + float(np.abs(K @ w0).sum())) / sd(w0),
                                           alpha) * sd(w0))
    w, half = best
    return float(w @ b[:P] + lw @ b[P:]), half * scale


# --- the analysis: grids, reading and breakdown values ------------------------------------------

@dataclass(frozen=True)
class Breakdown:
    """The smallest bound at which the robust interval first reaches ``threshold`` (from
    ``side``: "high", its upper end reaching it from below, or "low").

    ``value`` None: no breakdown value applies (``note`` says why) or none was found up to
    ``searched_to``. ``multiple``: for the smoothness restriction, the value as a multiple of
    the smallest effect of interest (see :func:`sensitivity`).
    """

    value: float | None
    threshold: float | None
    side: str | None
    searched_to: float | None
    note: str
    multiple: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {"value": self.value, "threshold": self.threshold, "side": self.side,
               "searched_to": self.searched_to, "note": self.note}
        if self.multiple is not None:
            out["multiple"] = self.multiple
        return out


@dataclass(frozen=True)
class ParallelTrendsSensitivity:
    """Robust intervals for the average post-policy coefficient under both restrictions.

    ``relative_magnitudes``: rows (Mbar, low, high); ``smoothness``: rows (multiple of the
    smallest effect of interest, M, low, high); ``estimate`` etc.: the conventional normal
    interval of the same target; ``reading``: the verdict rules applied to that interval
    (unadjusted), which decides what a breakdown value is sought for.
    """

    estimate: float
    std_error: float
    ci_low: float
    ci_high: float
    level: float
    quarters_pre: tuple[int, int]
    quarters_post: tuple[int, int]
    left_out: dict[int, str]
    max_pre_change: float
    concern_sign: int
    sesoi: float | None
    reading: str
    relative_magnitudes: tuple[tuple[float, float, float], ...]
    rm_breakdown: Breakdown
    smoothness: tuple[tuple[float, float, float, float], ...]
    m_per_sesoi: float | None
    sd_breakdown: Breakdown
    rule: str
    rm_method: str = "C-LF"

    def to_dict(self) -> dict[str, Any]:
        n_post = self.quarters_post[1] - self.quarters_post[0] + 1
        return {
            "kind": KIND,
            "target": (f"the average of the {n_post} post-policy event-study coefficients "
                       f"(quarters {self.quarters_post[0]} to {self.quarters_post[1]}), not the "
                       "pooled difference-in-differences coefficient"),
            "estimate": self.estimate, "std_error": self.std_error,
            "ci_low": self.ci_low, "ci_high": self.ci_high, "level": self.level,
            "quarters_pre": list(self.quarters_pre), "quarters_post": list(self.quarters_post),
            "reference_quarter": -1,
            "left_out": [{"quarter": q, "reason": r} for q, r in sorted(self.left_out.items())],
            "max_pre_change": self.max_pre_change,
            "concern_sign": self.concern_sign, "sesoi": self.sesoi, "reading": self.reading,
            "rule": self.rule,
            "relative_magnitudes": {
                "method": _RM_TEXT[self.rm_method],
                "grid": [{"mbar": mb, "ci_low": _finite(lo), "ci_high": _finite(hi)}
                         for mb, lo, hi in self.relative_magnitudes],
                "breakdown": self.rm_breakdown.to_dict()},
            "smoothness": {
                "method": ("optimal fixed-length interval (FLCI; Armstrong and Kolesar 2018) of "
                           "the affine estimators l'beta_post + w'beta_pre"),
                "m_per_sesoi": self.m_per_sesoi,
                "grid": [{"multiple": x, "m": mm, "ci_low": _finite(lo), "ci_high": _finite(hi)}
                         for x, mm, lo, hi in self.smoothness],
                "breakdown": self.sd_breakdown.to_dict()},
        }


_RM_TEXT = {"C-LF": ("conditional test with the least-favourable hybrid (Andrews, Roth and Pakes "
                     "2023; first stage at alpha / 10), union over the largest pre-policy change "
                     "and its sign"),
            "conditional": ("conditional test (Andrews, Roth and Pakes 2023), union over the "
                            "largest pre-policy change and its sign")}


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def reading_of(ci_low: float, ci_high: float, *, concern_sign: int, sesoi: float | None) -> str:
    """The verdict rules of contract section 6 applied to one interval, unadjusted: "not
    supported" when it excludes every effect of at least ``sesoi`` in the concern's direction,
    else "consistent with the concern" when it excludes zero on the concern's side, else
    "inconclusive".

    Example
    -------
    >>> reading_of(-0.3, -0.1, concern_sign=-1, sesoi=0.05)
    'consistent with the concern'
    """
    if sesoi is not None and (ci_low > -sesoi if concern_sign < 0 else ci_high < sesoi):
        return _NOT_SUPPORTED
    if (ci_high < 0) if concern_sign < 0 else (ci_low > 0):
        return _CONSISTENT
    return _INCONCLUSIVE


def _threshold(reading: str, concern_sign: int, sesoi: float | None) -> tuple[float, str] | None:
    """What the interval must reach for the reading to change, and from which side: ``high``
    (its upper end reaches the value from below) or ``low``."""
    if reading == _CONSISTENT:
        return 0.0, ("high" if concern_sign < 0 else "low")
    if reading == _NOT_SUPPORTED and sesoi is not None:
        return (-sesoi, "low") if concern_sign < 0 else (sesoi, "high")
    return None


def breakdown(reached, grid: Sequence[float], *, limit: float, refine) -> tuple[float | None, float]:
    """Smallest bound at which ``reached(bound)`` first holds.

    The plan's grid is read in increasing order; past its largest value the bound doubles up to
    ``limit``. ``refine(lo, hi)`` then narrows the first bracket (``lo`` not reached, ``hi``
    reached) to the breakdown value. 0 when the smallest grid value (0) is reached already.
    Returns (value or None when not reached up to ``limit``, largest bound tried).

    Example
    -------
    >>> reached = lambda m: m >= 0.7
    >>> breakdown(reached, [0, 0.5, 1], limit=8, refine=lambda lo, hi: _bisect(reached, lo, hi))[0]
    0.7002
    """
    below = None
    bounds = sorted(float(x) for x in grid)
    extra = max(bounds[-1], 0.5)
    while extra * 2.0 <= limit:
        extra *= 2.0
        bounds.append(extra)
    for bound in bounds:
        if reached(bound):
            return (bound if below is None else refine(below, bound)), bound
        below = bound
    return None, bounds[-1]


def _bisect(reached, lo: float, hi: float, *, rel: float = 1e-3) -> float:
    """Bisection of a bracket (``lo`` not reached, ``hi`` reached) down to ``rel`` of ``hi``;
    returns the bracket's upper end rounded to 4 significant digits."""
    while hi - lo > max(rel * hi, 1e-9):
        mid = (lo + hi) / 2.0
        if reached(mid):
            hi = mid
        else:
            lo = mid
    return float(f"{hi:.4g}")


def sensitivity(beta: Sequence[float], sigma: np.ndarray, quarters: Sequence[int], *,
                reference: int = -1, binned: dict[int, str] | None = None,
                mbar_grid: Sequence[float] = (0.0, 0.5, 1.0, 1.5, 2.0),
                smoothness_grid: Sequence[float] = (0.0, 0.25, 0.5, 1.0, 2.0),
                level: float = 0.95, concern_sign: int = 1, sesoi: float | None = None,
                limit: float = 64.0,
                rm_method: Literal["C-LF", "conditional"] = "C-LF") -> ParallelTrendsSensitivity:
    """Rambachan-Roth sensitivity of the average post-policy event-study coefficient.

    Parameters
    ----------
    beta, sigma, quarters, reference, binned : the event study (see :func:`layout`).
    mbar_grid : values of ``Mbar`` (relative magnitudes).
    smoothness_grid : values of ``M`` as multiples of ``sesoi``: multiple ``x`` is
        ``M = x sesoi 6 / ((T + 1)(T + 2))``, the ``M`` at which a trend extrapolated linearly
        from the reference quarter may bend the average of the ``T`` post-policy quarters by
        ``x sesoi`` (each quarter's slope changing by ``M``; the bends add up to
        ``M (T + 1)(T + 2) / 6`` on the average). Without ``sesoi`` no smoothness grid is run.
    level : interval level (``alpha = 1 - level``).
    concern_sign, sesoi : the concern's direction and the smallest effect of interest of the
        test the reading is judged by (the hypothesis' test on this outcome and scale).
    limit : largest ``Mbar`` (and multiple of ``sesoi``) the breakdown search tries.
    rm_method : see :func:`relative_magnitudes_interval`.

    Returns
    -------
    ParallelTrendsSensitivity

    Raises
    ------
    ValueError
        From :func:`layout` when the quarters do not fit the method.

    Example
    -------
    >>> V = np.eye(4) * 0.0001
    >>> s = sensitivity([0.0, 0.01, -0.5, -0.5], V, [-3, -2, 0, 1], concern_sign=-1, sesoi=0.1)
    >>> s.reading, s.rm_breakdown.value is not None
    ('consistent with the concern', True)
    """
    lay = layout(beta, sigma, quarters, reference=reference, binned=binned)
    with _one_blas_thread():
        return _sensitivity(lay, mbar_grid=mbar_grid, smoothness_grid=smoothness_grid, level=level,
                            concern_sign=concern_sign, sesoi=sesoi, limit=limit, rm_method=rm_method)


def _sensitivity(lay: Layout, *, mbar_grid: Sequence[float], smoothness_grid: Sequence[float],
                 level: float, concern_sign: int, sesoi: float | None, limit: float,
                 rm_method: str) -> ParallelTrendsSensitivity:
    alpha = 1.0 - level
    T = lay.n_post
    lw = np.full(T, 1.0 / T)
    b = lay.beta
    estimate = float(lw @ b[lay.n_pre:])
    se = math.sqrt(float(lw @ lay.sigma[lay.n_pre:, lay.n_pre:] @ lw))
    z = float(special.ndtri(1 - alpha / 2))
    ci = (estimate - z * se, estimate + z * se)
    reading = reading_of(*ci, concern_sign=concern_sign, sesoi=sesoi)
    target = _threshold(reading, concern_sign, sesoi)
    rows = _level_rows(lay.n_pre, T)
    max_pre = float(np.max(np.abs((rows[1:lay.n_pre + 1] - rows[:lay.n_pre]) @ b)))

    def rm_pieces(mbar: float) -> dict[str, np.ndarray]:
        return _stack(_pieces(lay, lw, mbar, method=rm_method, alpha=alpha, lf_draws=None))

    mbars = sorted(float(x) for x in mbar_grid)
    rm_rows = tuple((mb, *_invert(rm_pieces(mb), lay, lw, mb, method=rm_method, alpha=alpha))
                    for mb in mbars)
    m_per_sesoi = None if sesoi is None else sesoi * 6.0 / ((T + 1) * (T + 2))

    def sd_at(multiple: float) -> tuple[float, float]:
        centre, half = _flci(b, lay.sigma, lay.n_pre, lw, multiple * m_per_sesoi, alpha)
        return centre - half, centre + half

    multiples = sorted(float(x) for x in smoothness_grid) if sesoi is not None else []
    sd_rows = tuple((x, x * m_per_sesoi, *sd_at(x)) for x in multiples)

    if target is None:
        note = (f"The conventional interval's reading is \"{reading}\": no breakdown value "
                "applies; the bounds are reported")
        rm_bd = Breakdown(None, None, None, None, note)
        sd_bd = Breakdown(None, None, None, None, note)
        rule = note
    else:
        threshold, side = target
        what = ("zero" if reading == _CONSISTENT
                else f"the smallest effect of interest on the concern's side ({threshold:g})")
        rule = (f"Breakdown value (reading \"{reading}\"): the smallest bound at which the "
                f"robust interval first reaches {what} (relative magnitudes: the robust test no "
                f"longer rejects theta = {threshold:g}; smoothness: the interval's "
                f"{'upper' if side == 'high' else 'lower'} end reaches it). The plan's grid is "
                f"read first, then the bound doubles up to {limit:g}; the first bracket is "
                "narrowed by bisection (relative magnitudes) or Brent's method (smoothness) to "
                "0.1% of the value, rounded to 4 significant digits")

        def rm_reached(mbar: float) -> bool:
            return bool(_accepts(rm_pieces(mbar), b, np.array([threshold]), method=rm_method,
                                 alpha=alpha)[0])

        value, reach = breakdown(rm_reached, mbars, limit=limit,
                                 refine=lambda lo, hi: _bisect(rm_reached, lo, hi))
        rm_bd = Breakdown(value, threshold, side, reach,
                          "" if value is not None else f"not reached up to Mbar = {reach:g}")
        if sesoi is None:
            sd_bd = Breakdown(None, threshold, side, None,
                              "no smallest effect of interest: no smoothness grid")
        else:
            def gap(multiple: float) -> float:
                lo, hi = sd_at(multiple)
                return hi - threshold if side == "high" else threshold - lo

            def refine(lo: float, hi: float) -> float:
                root = optimize.brentq(gap, lo, hi, xtol=1e-9, rtol=1e-4)
                return float(f"{root:.4g}")

            value, reach = breakdown(lambda x: gap(x) >= 0, multiples, limit=limit, refine=refine)
            sd_bd = Breakdown(None if value is None else value * m_per_sesoi, threshold, side,
                              reach * m_per_sesoi,
                              "" if value is not None else
                              f"not reached up to {reach:g} times the smallest effect of interest",
                              multiple=value)
    return ParallelTrendsSensitivity(
        estimate=estimate, std_error=se, ci_low=ci[0], ci_high=ci[1], level=level,
        quarters_pre=(lay.quarters[0], lay.quarters[lay.n_pre - 1]),
        quarters_post=(lay.quarters[lay.n_pre], lay.quarters[-1]), left_out=lay.left_out,
        max_pre_change=max_pre, concern_sign=int(concern_sign), sesoi=sesoi, reading=reading,
        relative_magnitudes=rm_rows, rm_breakdown=rm_bd, smoothness=sd_rows,
        m_per_sesoi=m_per_sesoi, sd_breakdown=sd_bd, rule=rule, rm_method=rm_method)
