"""Omitted-variable sensitivity of the linear models' tested terms (Cinelli and Hazlett 2020).

Cinelli, C. and Hazlett, C. (2020), "Making sense of sensitivity: extending omitted variable
bias", Journal of the Royal Statistical Society B 82(1), 39-67; the formulas as the R package
sensemakr 0.1.6 computes them (``robustness_value``, ``ovb_bounds`` with bound "partial r2",
``adjusted_estimate``, ``adjusted_se``).

Why: a reader of a regression on administrative data asks how strong a variable the data do not
hold (claim strength, say) would have to be to explain an estimate away. The answers here are
in partial R2s, the share of the residual variance (after the fixed effects and the other
regressors) of the treatment and of the outcome that such a variable would explain:

* ``partial_r2``: R2_{Y~D|X} = t^2 / (t^2 + df), the share of the outcome's residual variance
  the tested term explains; an omitted variable explaining all of the outcome's residual
  variance would have to explain this much of the term's to bring the estimate to zero;
* ``rv``: RV_{q=1}, the partial R2 with both the term and the outcome at which an omitted
  variable brings the estimate to zero (paper, section 4);
* ``rv_alpha``: RV_{q=1,alpha}, the partial R2 at which the interval would include zero
  (0 when it does already);
* benchmark bounds (paper, section 6): an omitted variable k times as strong as an observed
  control (detained, by default) with the term and with the outcome, the partial R2s that
  implies, and the estimate and 1 - alpha interval adjusted for it.

With two million decisions and a policy interaction that explains a small share of the residual
variance, small robustness values are the rule even for precise estimates; the benchmarks are
what a reader compares them with.

The t statistic is the CLASSICAL (iid, non-clustered) one of the estimate with the fixed
effects partialled out (``models/classical.py``), as the paper's formulas require. The partial
R2s, ``rv`` and the adjusted point estimates describe the point estimate and the residual
variances, not the standard error's kind; ``rv_alpha`` and the adjusted intervals do, and are
optimistic where judge clustering widens the tests' intervals.

Example
-------
>>> s = sensitivity(0.09731582, 0.02325654, 783, alpha=0.05)
>>> round(s.partial_r2, 4), round(s.rv, 4), round(s.rv_alpha, 4)
(0.0219, 0.1388, 0.0763)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from scipy import stats

from fairness_audit.models.classical import CrossProducts

KIND = "omitted_variable"


def partial_r2(t: float, df: float) -> float:
    """Partial R2 of a regressor with the outcome from its classical t statistic:
    t^2 / (t^2 + df).

    Example
    -------
    >>> round(partial_r2(4.18445, 783), 5)
    0.02187
    """
    return t * t / (t * t + df)


def robustness_value(t: float, df: float, *, q: float = 1.0, alpha: float | None = None) -> float:
    """Robustness value RV_q (``alpha`` None) or RV_{q,alpha} (paper, equations 18-19).

    RV = (sqrt(f^4 + 4 f^2) - f^2) / 2 with f = q |t| / sqrt(df), less the critical
    |t_{alpha/2, df-1}| / sqrt(df - 1) when ``alpha`` is given; 0 when that difference is not
    positive (the interval includes zero already). When the bound on the outcome's partial R2 no
    longer binds (q |t| / sqrt(df) > sqrt(df - 1) / |t_{alpha/2, df-1}|), the extreme robustness
    value (f^2 - f_crit^2) / (1 + f^2) applies, as sensemakr 0.1.6 computes it.

    Parameters
    ----------
    t : the classical t statistic of the term.
    df : residual degrees of freedom of the regression.
    q : the share of the estimate an omitted variable removes (1: to zero).
    alpha : significance level; None for the point estimate alone.

    Returns
    -------
    float
        A partial R2 in [0, 1].

    Example
    -------
    >>> round(robustness_value(4.18445, 783), 4), round(robustness_value(4.18445, 783, alpha=0.05), 4)
    (0.1388, 0.0763)
    """
    fq = q * abs(t) / math.sqrt(df)
    f_crit = 0.0 if alpha is None else abs(float(stats.t.ppf(alpha / 2, df - 1))) / math.sqrt(df - 1)
    fqa = fq - f_crit
    if fqa <= 0:
        return 0.0
    if f_crit > 0 and fq > 1 / f_crit:
        return (fq * fq - f_crit * f_crit) / (1 + fq * fq)
    # 2 f / (f + sqrt(f^2 + 4)) is (sqrt(f^4 + 4 f^2) - f^2) / 2 without its cancellation
    return 2 * fqa / (fqa + math.sqrt(fqa * fqa + 4))


def bias(se: float, df: float, r2dz_x: float, r2yz_dx: float) -> float:
    """Absolute bias of an omitted variable with partial R2s ``r2dz_x`` (with the treatment)
    and ``r2yz_dx`` (with the outcome): sqrt(r2yz_dx r2dz_x / (1 - r2dz_x)) se sqrt(df)."""
    return math.sqrt(r2yz_dx * r2dz_x / (1 - r2dz_x)) * se * math.sqrt(df)


def adjusted_se(se: float, df: float, r2dz_x: float, r2yz_dx: float) -> float:
    """Standard error of the estimate had the omitted variable been included:
    sqrt((1 - r2yz_dx) / (1 - r2dz_x)) se sqrt(df / (df - 1))."""
    return math.sqrt((1 - r2yz_dx) / (1 - r2dz_x)) * se * math.sqrt(df / (df - 1))


def benchmark_partial_r2(r2dxj_x: float, r2yxj_dx: float, *, kd: float,
                         ky: float | None = None) -> tuple[float | None, float | None, str | None]:
    """Bounds on an omitted variable kd (ky) times as strong as covariate j with the treatment
    (outcome), from j's partial R2s with the treatment (``r2dxj_x``) and with the outcome
    (``r2yxj_dx``) (paper, section 6 and its footnote 10; sensemakr's ``ovb_partial_r2_bound``).

    Returns
    -------
    tuple
        (R2_{D~Z|X}, R2_{Y~Z|D,X}, note): None and a note when the multiple is impossible (an
        implied partial R2 above 1); R2_{Y~Z|D,X} capped at 1, with a note, as sensemakr does.
    """
    ky = kd if ky is None else ky
    r2dz_x = kd * r2dxj_x / (1 - r2dxj_x)
    r2zxj_xd = kd * r2dxj_x ** 2 / ((1 - kd * r2dxj_x) * (1 - r2dxj_x))
    if r2dz_x >= 1 or not 0 <= r2zxj_xd < 1:
        return None, None, (f"impossible: a variable {kd:g} times as strong with the treatment "
                            f"would explain more than all of its residual variance")
    r2yz_dx = ((math.sqrt(ky) + math.sqrt(r2zxj_xd)) / math.sqrt(1 - r2zxj_xd)) ** 2 \
        * (r2yxj_dx / (1 - r2yxj_dx))
    if r2yz_dx > 1:
        return r2dz_x, 1.0, "the implied partial R2 with the outcome exceeds 1 and is set to 1"
    return r2dz_x, r2yz_dx, None


@dataclass(frozen=True)
class Benchmark:
    """An omitted variable ``multiple`` times as strong as ``covariate`` with the treatment and
    with the outcome: its partial R2s, and the estimate and interval adjusted for it."""

    covariate: str
    multiple: float
    label: str
    r2_dxj_x: float            # the covariate's own partial R2 with the treatment
    r2_yxj_dx: float           # ... and with the outcome
    r2_dz_x: float | None      # implied bound for the omitted variable, with the treatment
    r2_yz_dx: float | None     # ... and with the outcome
    adjusted_estimate: float | None
    adjusted_std_error: float | None
    adjusted_t: float | None
    adjusted_ci_low: float | None
    adjusted_ci_high: float | None
    note: str | None = None


@dataclass(frozen=True)
class OmittedVariableSensitivity:
    """Cinelli-Hazlett sensitivity of one estimate, on its reporting scale."""

    estimate: float
    std_error_classical: float
    t_classical: float
    df: int
    partial_r2: float
    rv: float
    rv_alpha: float
    alpha: float
    level: float  # of the adjusted intervals: 1 - alpha, as sensemakr
    benchmarks: tuple[Benchmark, ...] = ()
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: non-finite numbers become None."""
        def clean(value: Any) -> Any:
            if isinstance(value, float) and not math.isfinite(value):
                return None
            if isinstance(value, dict):
                return {k: clean(v) for k, v in value.items()}
            if isinstance(value, list | tuple):
                return [clean(v) for v in value]
            return value

        return clean(asdict(self))


def _label(covariate: str, multiple: float) -> str:
    return f"{multiple:g}x {covariate}"


def sensitivity(estimate: float, se: float, df: int, *, alpha: float,
                benchmarks: Mapping[str, tuple[float, float]] | None = None,
                multiples: Sequence[float] = (1.0, 2.0, 3.0),
                note: str | None = None) -> OmittedVariableSensitivity:
    """The sensitivity of an estimate with classical standard error ``se`` and residual degrees
    of freedom ``df``.

    Parameters
    ----------
    estimate, se : the estimate and its classical standard error, on the reporting scale.
    df : the regression's residual degrees of freedom.
    alpha : significance level of ``rv_alpha`` and of the adjusted 1 - alpha intervals.
    benchmarks : covariate -> (its partial R2 with the treatment given the other regressors,
        its partial R2 with the outcome given the treatment and the other regressors).
    multiples : the k of "an omitted variable k times as strong as the covariate".
    note : what the item says about itself (which standard error, which benchmarks are missing).

    Returns
    -------
    OmittedVariableSensitivity

    Raises
    ------
    ValueError
        ``df`` below 2 or a standard error that is not positive: no sensitivity exists.

    Example
    -------
    >>> s = sensitivity(0.09731582, 0.02325654, 783, alpha=0.05,
    ...                 benchmarks={"female": (0.00916428667504862 / 1.00916428667504862,
    ...                                        0.10903391542784)}, multiples=[1])
    >>> round(s.benchmarks[0].adjusted_estimate, 4)
    0.0752
    """
    if df < 2 or not se > 0:
        raise ValueError(f"no sensitivity for df = {df} and standard error {se}")
    t = estimate / se
    crit = abs(float(stats.t.ppf(alpha / 2, df)))  # sensemakr's adjusted intervals use t(df)
    rows = []
    for covariate, (r2dxj_x, r2yxj_dx) in (benchmarks or {}).items():
        for k in multiples:
            r2dz_x, r2yz_dx, why = benchmark_partial_r2(r2dxj_x, r2yxj_dx, kd=k)
            adj = adj_se = adj_t = low = high = None
            if r2dz_x is not None and r2yz_dx is not None:
                # reduce = TRUE: the omitted variable moves the estimate toward zero
                adj = math.copysign(1.0, estimate) * (abs(estimate) - bias(se, df, r2dz_x, r2yz_dx))
                adj_se = adjusted_se(se, df, r2dz_x, r2yz_dx)
                adj_t = adj / adj_se if adj_se > 0 else None
                low, high = adj - crit * adj_se, adj + crit * adj_se
            rows.append(Benchmark(covariate, float(k), _label(covariate, k), r2dxj_x, r2yxj_dx,
                                  r2dz_x, r2yz_dx, adj, adj_se, adj_t, low, high, why))
    return OmittedVariableSensitivity(
        estimate=estimate, std_error_classical=se, t_classical=t, df=int(df),
        partial_r2=partial_r2(t, df), rv=robustness_value(t, df),
        rv_alpha=robustness_value(t, df, alpha=alpha), alpha=alpha, level=1 - alpha,
        benchmarks=tuple(rows),
        note=note)


CLASSICAL_NOTE = ("Cinelli-Hazlett quantities from the classical (iid, non-clustered) standard "
                  "error of the estimate with the fixed effects partialled out, not the "
                  "judge-clustered one of the test: the partial R2, the robustness value to zero "
                  "and the adjusted estimates describe the point estimate; the robustness value at "
                  "alpha and the adjusted intervals are optimistic where clustering widens the "
                  "test's interval.")


def from_cross_products(cp: CrossProducts, term: str, *, alpha: float,
                        benchmarks: Sequence[str] = ("detained",),
                        multiples: Sequence[float] = (1.0, 2.0, 3.0),
                        factor: float = 1.0) -> OmittedVariableSensitivity:
    """The sensitivity of ``term`` of a linear fit, from its swept cross-products.

    The treatment regression (``term`` on the other regressors, same fixed effects) is read from
    the same cross-products. Benchmarks that are not regressors of the model are named in the
    note and left out.

    Parameters
    ----------
    cp : the fit's cross-products (``FitResult.extra["classical"]``).
    term : the tested term (the "treatment").
    alpha : significance level.
    benchmarks : covariates to benchmark against, when the model has them.
    multiples : the k of "k times as strong".
    factor : reporting scale of the estimate (100 for percentage points).

    Returns
    -------
    OmittedVariableSensitivity

    Raises
    ------
    KeyError
        ``term`` is not a regressor of the fit.

    Example
    -------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1); d = rng.normal(size=200); z = rng.normal(size=200)
    >>> y = 0.3 * d + 0.5 * z + rng.normal(size=200)
    >>> X = np.column_stack([d, z]); X = X - X.mean(axis=0)
    >>> cp = CrossProducts.from_swept(y - y.mean(), X, ("d", "z"), n_obs=200, fe_parameters=1)
    >>> s = from_cross_products(cp, "d", alpha=0.05, benchmarks=["z"], multiples=[1])
    >>> s.df, s.benchmarks[0].label
    (197, '1x z')
    """
    if term not in cp.terms:
        raise KeyError(term)
    df = cp.df_resid
    estimate, se = float(cp.params()[term]) * factor, cp.std_error(term) * factor
    present = [b for b in dict.fromkeys(benchmarks) if b in cp.terms and b != term]
    absent = [b for b in dict.fromkeys(benchmarks) if b not in present]
    bench: dict[str, tuple[float, float]] = {}
    if present:
        treatment = cp.regression_of(term)
        for b in present:
            bench[b] = (partial_r2(treatment.t_value(b), treatment.df_resid),
                        partial_r2(cp.t_value(b), df))
    note = CLASSICAL_NOTE
    if absent:
        note += (f" No benchmark for {', '.join(absent)}: not a regressor of this model (its "
                 f"regressors: {', '.join(cp.terms)}).")
    return sensitivity(estimate, se, df, alpha=alpha, benchmarks=bench, multiples=multiples,
                       note=note)


def wanted(config: Any, name: str) -> bool:
    """Whether the fit of model or analysis ``name`` should keep its cross-products: a test of
    one of the plan's ``inference.omitted_variable.roles`` reads it (only linear fits keep them)."""
    roles = config.inference.omitted_variable.roles
    return any(t.model == name and t.role in roles
               for h in config.hypotheses.values() for t in h.tests)


def items(tests: Iterable[Any], rows: Sequence[dict[str, Any]],
          cross_products: Callable[[Any], tuple[CrossProducts | None, float]], *,
          roles: Sequence[str], benchmarks: Sequence[str], multiples: Sequence[float],
          alpha: float) -> list[dict[str, Any]]:
    """The ``sensitivity`` items (kind "omitted_variable") of one hypothesis' tests.

    Parameters
    ----------
    tests : the hypothesis' test specifications (``config.TestSpec``), in the order of ``rows``.
    rows : the tests' results.json rows (an item is written for a row with an estimate).
    cross_products : test specification -> (the cross-products of the fit it reads, or None when
        the fit kept none: not a linear model, or not fitted; the reporting scale's factor).
    roles : the test roles that get an item.
    benchmarks, multiples, alpha : as in :func:`from_cross_products`.

    Returns
    -------
    list of dict
        One item per test, in results.json's shape.
    """
    out = []
    for spec, row in zip(tests, rows, strict=True):
        if spec.role not in roles or row.get("estimate") is None:
            continue
        cp, factor = cross_products(spec)
        if cp is None or spec.term not in cp.terms:
            continue
        head = {"kind": KIND, "test_id": spec.id, "model": spec.model, "term": spec.term,
                "scale": row.get("scale")}
        try:
            result = from_cross_products(cp, spec.term, alpha=alpha, benchmarks=benchmarks,
                                         multiples=multiples, factor=factor)
        except (ValueError, ArithmeticError) as exc:  # LinAlgError is a ValueError
            out.append({**head, "note": f"not computed: {exc}"})
            continue
        out.append({**head, **result.to_dict()})
    return out
