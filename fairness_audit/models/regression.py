"""Logit and linear models with absorbed fixed effects and judge-clustered standard errors.

Engines (why): with fixed effects the model is fitted by pyfixest (``feglm`` for logit,
``feols`` for linear models), which absorbs judge, nationality and time effects instead of
building dummy columns: statsmodels with dummies runs out of memory near 1 M rows. Without
fixed effects, statsmodels (GLM binomial / OLS) fits the same model.

Standard errors: CRV1 clustered by judge, small-sample factor G/(G-1) x (n-1)/(n-k) where k
leaves out fixed effects nested in the clusters (the fixest and reghdfe convention). R's
``sandwich::vcovCL`` on a ``glm`` with factor dummies counts every dummy in k; the reference
tests reproduce it with ``k_fixef="full"``. Intervals and p-values use t(G - 1) critical
values, G the number of judge clusters, whatever the engine. A model with ``cov_type: CR2``
(H2, H4, H7: their court x month effects rest on few judges) gets the bias-reduced
linearization of models/bias_reduced.py instead, from the engine's final fit.
"""

from __future__ import annotations

import gc
import warnings
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from fairness_audit.errors import AuditError, ModelWarning, NotEstimable
from fairness_audit.models.classical import CrossProducts, fe_parameter_count
from fairness_audit.models.design import Design, cluster_unit, column_for, term_for

SMALL_SAMPLE = ("CRV1, G/(G-1) x (n-1)/(n-k), k without fixed effects nested in the judge "
                "clusters; t(G-1) intervals and p-values")
CR2_TEXT = ("CR2: bias-reduced linearization (Bell-McCaffrey; for a logit at its final IRLS "
            "weights), no further small-sample factor; t(G-1) intervals and p-values")
FEW_DECISIONS_PER_JUDGE = 200
# a term identified by fewer decisions or judges than this gets a warning ("tiny group")
MIN_TERM_ROWS = 100
MIN_TERM_CLUSTERS = 10
# a fit of at least this many rows is followed by a collection of reference cycles (in fit)
COLLECT_ROWS = 100_000
# logit iterations before the fit is declared not converged (pyfixest's default is 25)
MAX_ITER = 100
# |log-odds| above this, or a standard error above SEPARATED_SE, signals quasi-separation
SEPARATED_COEF = 15.0
SEPARATED_SE = 100.0


@dataclass(frozen=True)
class FitResult:
    """A fitted model: estimates, clustered covariance and everything needed to report it."""

    name: str
    family: str
    engine: str
    formula: str
    fixed_effects: tuple[str, ...]
    cluster: str
    params: pd.Series  # indexed by contract term names
    cov: pd.DataFrame
    n_obs: int
    n_clusters: int
    sample_filter: str
    excluded: dict[str, int]
    cov_type: str = "CRV1"
    small_sample_correction: str = SMALL_SAMPLE
    warnings: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)
    # average marginal effects (percentage points) of the requested logit terms
    marginal_effects: tuple[Any, ...] = ()
    unit: str = "decisions"  # what n_obs counts (Design.unit)

    @property
    def df_t(self) -> int:
        return max(self.n_clusters - 1, 1)

    @cached_property
    def std_errors(self) -> pd.Series:
        return pd.Series(np.sqrt(np.clip(np.diag(self.cov.to_numpy()), 0, None)),
                         index=self.params.index)

    def conf_int(self, level: float = 0.95) -> pd.DataFrame:
        crit = stats.t.ppf(0.5 + level / 2, self.df_t)
        se = self.std_errors
        return pd.DataFrame({"ci_low": self.params - crit * se, "ci_high": self.params + crit * se})

    def to_frame(self, level: float = 0.95) -> pd.DataFrame:
        """One row per term: estimate, std_error, statistic, p_value, ci_low, ci_high."""
        se = self.std_errors
        stat = self.params / se
        p = 2 * stats.t.sf(np.abs(stat), self.df_t)
        ci = self.conf_int(level)
        return pd.DataFrame({
            "term": self.params.index, "estimate": self.params.to_numpy(),
            "std_error": se.to_numpy(), "statistic": stat.to_numpy(), "p_value": p,
            "ci_low": ci["ci_low"].to_numpy(), "ci_high": ci["ci_high"].to_numpy(),
        }).reset_index(drop=True)

    def to_dict(self, level: float = 0.95) -> dict[str, Any]:
        """JSON-safe, in the shape of results.json ``models``."""
        coefs = [{k: (None if isinstance(v, float) and not np.isfinite(v) else v)
                  for k, v in row.items()}
                 for row in self.to_frame(level).to_dict(orient="records")]
        return {
            "name": self.name, "family": self.family, "engine": self.engine,
            "formula": self.formula, "fixed_effects": list(self.fixed_effects),
            "cluster": self.cluster, "cov_type": self.cov_type,
            "small_sample_correction": self.small_sample_correction,
            "n_obs": int(self.n_obs), "unit": self.unit, "n_clusters": int(self.n_clusters),
            "sample": {"filter": self.sample_filter, "excluded": dict(self.excluded)},
            "coefficients": coefs, "warnings": list(self.warnings),
            "marginal_effects": [m.to_dict() for m in self.marginal_effects],
        }


def formula_text(design: Design) -> str:
    rhs = " + ".join(design.terms)
    fe = " + ".join(design.spec.fixed_effects)
    return f"{design.spec.outcome} ~ {rhs}" + (f" | {fe}" if fe else "")


def _engine_formula(design: Design) -> str:
    rhs = " + ".join(column_for(t) for t in design.terms)
    fe = " + ".join(design.fe_columns)
    return f"{design.spec.outcome} ~ {rhs}" + (f" | {fe}" if fe else "")


def _checks(design: Design) -> list[str]:
    notes = []
    y = design.y
    if design.spec.family == "logit":
        per_judge = design.data.groupby(design.cluster, observed=True).size()
        if "judge_id" in design.spec.fixed_effects and per_judge.median() < FEW_DECISIONS_PER_JUDGE:
            notes.append(
                f"logit with judge fixed effects on a median of {per_judge.median():.0f} decisions "
                f"per judge: the incidental-parameter bias of order 1/T may be material "
                f"(below {FEW_DECISIONS_PER_JUDGE}); compare the linear probability version")
        if y.min() == y.max():
            notes.append(f"outcome '{design.spec.outcome}' takes a single value in the sample")
    n_clusters = design.data[design.cluster].nunique()
    unit = cluster_unit(design.cluster)
    if n_clusters < 30:
        notes.append(f"only {n_clusters} {unit} clusters ({design.cluster}): clustered standard "
                     f"errors are unreliable with fewer than about 30")
    clusters = design.data[design.cluster]
    # a panel (one row per judge and quarter) gives each event-time term one row per judge:
    # there the judges, not the rows, say how much a term rests on
    min_rows = MIN_TERM_ROWS if design.unit == "decisions" else 0
    for term in design.terms:
        nonzero = design.data[column_for(term)].to_numpy() != 0
        n_rows, n_cl = int(nonzero.sum()), int(clusters[nonzero].nunique())
        if n_rows < min_rows or n_cl < MIN_TERM_CLUSTERS:
            notes.append(f"term '{term}' rests on {n_rows} {design.unit} of {n_cl} {unit}s (fewer "
                         f"than {min_rows} {design.unit} or {MIN_TERM_CLUSTERS} {unit}s): a tiny "
                         f"group, its estimate and standard error are fragile")
    return notes


def _separated_terms(design: Design) -> list[str]:
    """Binary logit terms whose non-zero rows all share one outcome (quasi-complete separation)."""
    if design.spec.family != "logit":
        return []
    y = design.y
    out = []
    for term in design.terms:
        x = design.data[column_for(term)].to_numpy()
        if not np.all((x == 0) | (x == 1)):
            continue
        for value in (1, 0):
            rows = x == value
            if rows.any() and y[rows].min() == y[rows].max():
                out.append(f"{term} = {value}")
                break
    return out


def fit(design: Design, *, name: str, ssc_k_fixef: str = "nonnested",
        marginal_terms: tuple[str, ...] = (), level: float = 0.95,
        max_iter: int = MAX_ITER, classical: bool = False) -> FitResult:
    """Fit a design with its engine; never silently return NaN estimates.

    Parameters
    ----------
    design : the rows and columns to fit (``build_design``).
    name : the model's name in messages and results.
    ssc_k_fixef : "nonnested" (default; fixest/reghdfe) or "full" (count every fixed effect in
        k, as R's ``sandwich::vcovCL`` on a ``glm`` with factor dummies).
    marginal_terms : logit terms whose average marginal effects (percentage points) to compute.
    level : interval level of the marginal effects.
    max_iter : logit iterations before the fit is declared not converged.
    classical : for a linear model, also keep the cross-products of its outcome and regressors
        with the fixed effects swept out (``models/classical.py``) in ``extra["classical"]``:
        the classical (iid) inference that the omitted-variable sensitivity reads. The reported
        estimates and clustered errors do not change.

    Raises
    ------
    NotEstimable
        The data cannot identify the model: fewer than two clusters, a constant outcome, or
        every term collinear with the fixed effects (a single judge, no grants at all).
    AuditError
        A binary term separates the outcome, the fit did not converge, or an estimate or
        standard error is not finite: each with a message naming the model.
    """

    n_clusters = int(design.data[design.cluster].nunique())
    if n_clusters < 2:
        # G / (G - 1) is infinite: no clustered standard error exists
        raise NotEstimable(design.cluster, f"model {name}: {n_clusters} {design.cluster} cluster "
                                           f"in the sample; clustered standard errors need at "
                                           f"least 2")
    if design.y.min() == design.y.max():
        # every coefficient would be 0 with a standard error of 0 (or infinite, for a logit)
        raise NotEstimable(design.spec.outcome, f"model {name}: the outcome is constant in the "
                                                f"sample ({len(design.data)} rows, every value "
                                                f"{design.y[0]:g})")
    notes = _checks(design)
    separated = _separated_terms(design)
    if separated:
        raise AuditError(f"model {name}: separation: every decision with {separated[0]} has the "
                         f"same {design.spec.outcome} outcome, so its log-odds coefficient is "
                         f"infinite; drop the term or pool the group")
    if design.spec.family == "ols" and design.spec.cov_type == "CRV3":
        result = _fit_cells(design, name, classical)
    elif design.fe_columns:
        _check_rows_beyond_singletons(design, name)
        try:
            result = _fit_pyfixest(design, ssc_k_fixef, max_iter, name, classical)
        except ValueError as exc:
            if "All variables are collinear" not in str(exc):
                raise
            raise NotEstimable(", ".join(design.terms), f"model {name}: every term is collinear "
                               f"with the fixed effects {' + '.join(design.spec.fixed_effects)}"
                               ) from None
    else:
        result = _fit_statsmodels(design, max_iter, classical)
    # the engine's model object holds arrays of every row in reference cycles, which only the
    # cycle collector frees; it runs by object counts, not bytes, so without this a plan's
    # fits at the national size piled up to 17 GB (docs/performance.md). Small fits are left
    # to the collector's own pace: a collection costs time on a large heap of objects.
    if len(design.data) >= COLLECT_ROWS:
        gc.collect()
    params, cov, n_obs, engine, extra_notes, info = result
    notes.extend(extra_notes)
    if "kept" in info:
        # the judges of the rows fitted: a judge whose every decision the engine dropped is no
        # cluster of the estimate (the engine's own G / (G - 1) leaves it out too)
        n_clusters = int(design.data[design.cluster][info["kept"]].nunique())
    cov_type, ssc_text = info.get("cov_type", ("CRV1", SMALL_SAMPLE))
    if not info.get("converged", True):
        raise AuditError(f"model {name}: the {design.spec.family} fit did not converge in "
                         f"{max_iter} iterations; its estimates are not reported")
    collinear = set(info.get("collinear", ()))  # reported as not estimable, the rest stands
    bad = [t for t in params.index if not np.isfinite(params[t]) and t not in collinear]
    if bad:
        raise AuditError(f"model {name}: no finite estimate for {bad} (collinear with the fixed "
                         f"effects, or separated); drop the term or change the sample")
    se = np.sqrt(np.diag(cov.to_numpy()))
    bad_se = [t for t, v in zip(params.index, se, strict=True)
              if (not np.isfinite(v) or v <= 0) and t not in collinear]
    if bad_se:
        raise AuditError(f"model {name}: no finite clustered standard error for {bad_se} (a term "
                         f"that varies within too few judges); drop the term or change the sample")
    if design.spec.family == "logit":
        suspect = [t for t, b, v in zip(params.index, params.to_numpy(), se, strict=True)
                   if t != "(Intercept)" and (abs(b) > SEPARATED_COEF or v > SEPARATED_SE)]
        if suspect:
            notes.append(f"terms {suspect} have extreme log-odds or standard errors: "
                         f"quasi-separation likely, read them with care")
    excluded = dict(design.excluded)
    if info.get("dropped"):
        reason = "dropped by the engine: singleton or constant-outcome fixed-effect group"
        excluded[reason] = excluded.get(reason, 0) + int(info["dropped"])
    marginal: tuple = ()
    if (marginal_terms and design.spec.family == "logit" and design.variables is not None
            and int(info["kept"].sum()) != len(info["eta"])):
        notes.append("average marginal effects not computed: the engine's fitted values do not "
                     "line up with the rows it kept")
    elif marginal_terms and design.spec.family == "logit" and design.variables is not None:
        from fairness_audit.models.marginal import average_marginal_effects

        kept = info["kept"]
        X = design.X[kept]
        terms = tuple(design.terms)
        wanted = [t for t in marginal_terms if t in terms and t not in collinear]
        if "(Intercept)" in params.index:  # no fixed effects: the intercept's error counts too
            terms = ("(Intercept)",) + terms
            X = np.column_stack([np.ones(len(X)), X])
        marginal = average_marginal_effects(
            wanted, terms=terms, params=params, cov=cov,
            X=X, eta=info["eta"], variables=design.variables.loc[kept],
            df_t=max(n_clusters - 1, 1), level=level)
    for note in notes:
        warnings.warn(f"model {name}: {note}", ModelWarning, stacklevel=2)
    return FitResult(
        name=name, family=design.spec.family, engine=engine, formula=formula_text(design),
        fixed_effects=tuple(design.spec.fixed_effects), cluster=design.cluster,
        params=params, cov=cov, n_obs=n_obs,
        n_clusters=n_clusters,
        sample_filter=design.filter_text, excluded=excluded, warnings=tuple(notes),
        marginal_effects=marginal, cov_type=cov_type, small_sample_correction=ssc_text,
        unit=design.unit, extra={"classical": info["classical"]} if info.get("classical") is not None else {},
    )


def _check_rows_beyond_singletons(design: Design, name: str) -> None:
    """The engine drops singleton decisions repeatedly (a fixed-effect level with one
    decision); when too few are left to estimate the terms, it aborts the whole process rather
    than raising (pyfixest's demeaning of an empty sample). Say so first, as "not estimable"."""
    from fairness_audit.models.cells import non_singletons, refactorize

    fe = refactorize(np.column_stack([pd.factorize(design.data[c].astype(str))[0]
                                      for c in design.fe_columns]))
    left = int(non_singletons(fe, np.ones(len(fe))).sum())
    if left <= len(design.terms):
        raise NotEstimable(design.spec.outcome, f"model {name}: {left} of {len(design.data)} "
                                                f"rows are left once fixed-effect levels with a "
                                                f"single decision are dropped, too few for "
                                                f"{len(design.terms)} terms")


def informative_rows(fe: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Rows left once every fixed-effect level whose outcomes are all 0 or all 1 is dropped,
    again and again until no such level is left (for a logit; R's fixest drops such levels too,
    its fixef.rm = "perfect").

    Why: such a level's fixed effect runs off to minus or plus infinity and its rows say
    nothing about the other coefficients; left in, they would count in n, in the judges G and
    in the small-sample factor. Dropping a level can leave another with one outcome (a judge's
    rows gone, a court x month cell holds only grants), hence the repetition. A single
    decision is such a level, so singletons go too. The rows left do not depend on the order.

    Parameters
    ----------
    fe : integer codes of each fixed effect, shape (n, n_fe).
    y : the 0/1 outcome, shape (n,).

    Returns
    -------
    numpy.ndarray
        Boolean mask of the rows kept.

    Example
    -------
    >>> informative_rows(np.array([[0], [0], [1], [1]]), np.array([0.0, 1.0, 1.0, 1.0]))
    array([ True,  True, False, False])
    """
    keep = np.ones(len(y), dtype=bool)
    while fe.shape[1]:
        constant = np.zeros(len(y), dtype=bool)
        for j in range(fe.shape[1]):
            levels = int(fe[:, j].max()) + 1 if len(y) else 0
            size = np.bincount(fe[keep, j], minlength=levels)
            ones = np.bincount(fe[keep, j], weights=y[keep], minlength=levels)
            constant |= keep & ((ones == 0) | (ones == size))[fe[:, j]]
        if not constant.any():
            break
        keep &= ~constant
    return keep


def _fit_pyfixest(design: Design, ssc_k_fixef: str, max_iter: int = MAX_ITER, name: str = "",
                  classical: bool = False):
    import pyfixest as pf

    from fairness_audit.models.fe_order import keep_fixed_effect_order

    keep_fixed_effect_order()  # byte-identical reruns whatever the process's hash seed
    data = design.data.reset_index(drop=True)  # positions = labels: the engine's na_index
    rows = np.arange(len(data))  # the design's rows that the engine sees
    if design.spec.family == "logit":
        # pyfixest's own check drops levels whose outcomes are all 0 only, in one pass (its
        # Poisson rule): levels with only 1s stayed in, with their rows counted in n and G
        rows = np.flatnonzero(informative_rows(design.fe_codes(), design.y))
        if len(rows) <= len(design.terms):
            raise NotEstimable(design.spec.outcome, f"model {name}: {len(rows)} of {len(data)} "
                               f"rows are left once fixed-effect levels whose "
                               f"{design.spec.outcome} outcomes are all 0 or all 1 are dropped, "
                               f"too few for {len(design.terms)} terms")
        data = data.iloc[rows].reset_index(drop=True)
    for c in design.fe_columns + (design.cluster,):
        data[c] = data[c].astype(str)
    ssc = pf.ssc(k_adj=True, k_fixef=ssc_k_fixef, G_adj=True, G_df="min")
    # a CR2 model's covariance is computed below from the fit: the engine's clustered one would
    # be thrown away (about 1 s a logit of 2 M rows: benchmarks/bench_engine_vcov.py)
    vcov = "iid" if design.spec.cov_type == "CR2" else {"CRV1": design.cluster}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if design.spec.family == "logit":
            # no separation check of the engine's: informative_rows left no level to drop
            model = pf.feglm(_engine_formula(design), data, family="logit", vcov=vcov, ssc=ssc,
                             store_data=False, copy_data=False, iwls_maxiter=max_iter,
                             separation_check=[])
            engine = f"pyfixest {pf.__version__} feglm(family='logit')"
        elif design.spec.family == "poisson":
            model = pf.fepois(_engine_formula(design), data, vcov=vcov, ssc=ssc,
                              store_data=False, copy_data=False)
            engine = f"pyfixest {pf.__version__} fepois"
        else:
            model = pf.feols(_engine_formula(design), data, vcov=vcov, ssc=ssc,
                             store_data=False, copy_data=False)
            engine = f"pyfixest {pf.__version__} feols"
    names = list(model._coefnames)
    params = pd.Series(np.asarray(model._beta_hat, dtype=float), index=[term_for(n) for n in names])
    cov = pd.DataFrame(np.asarray(model._vcov, dtype=float), index=params.index, columns=params.index)
    notes = []
    dropped = len(design.data) - int(model._N)
    if dropped:
        notes.append(f"{dropped} rows dropped by the engine (singleton or perfectly predicted "
                     f"fixed-effect groups)")
    missing_terms = [t for t in design.terms if t not in params.index]
    if missing_terms:
        notes.append(f"terms {missing_terms} dropped as collinear with the fixed effects")
        params = params.reindex(list(design.terms))
        cov = cov.reindex(index=params.index, columns=params.index)
    seen = np.ones(len(data), dtype=bool)
    # rows the engine left out: missing or singleton rows (_na_index) and separated fixed-effect
    # groups (na_index); labels are positions since the data were re-indexed above
    na_index = np.union1d(np.asarray(sorted(getattr(model, "_na_index", ()) or ()), dtype=int),
                          np.asarray(getattr(model, "na_index", []), dtype=int)).astype(int)
    if len(na_index):
        seen[na_index] = False
    kept = np.zeros(len(design.data), dtype=bool)
    kept[rows[seen]] = True
    if design.spec.cov_type == "CR2":
        cov = _cr2_cov(design, kept, params, model)
    info = {"collinear": missing_terms,
            "converged": bool(getattr(model, "convergence", True)) if design.spec.family != "ols"
            else True, "dropped": dropped, "kept": kept,
            "eta": np.asarray(getattr(model, "_Y_hat_link", np.array([])), dtype=float)}
    if classical and design.spec.family == "ols":
        # the engine keeps the swept outcome and regressors (collinear ones dropped) and the
        # levels of each fixed effect in its sample: the cross-products need no second sweep
        levels = [int(v) for v in np.asarray(model._k_fe)] if model._has_fixef else []
        info["classical"] = CrossProducts.from_swept(
            np.asarray(model._Y), np.asarray(model._X), tuple(term_for(n) for n in names),
            n_obs=int(model._N), fe_parameters=fe_parameter_count(levels),
            outcome=design.spec.outcome)
    if design.spec.cov_type == "CR2":
        info["cov_type"] = ("CR2", CR2_TEXT)
    return params, cov, int(model._N), engine, notes, info


def _cr2_cov(design: Design, kept: np.ndarray, params: pd.Series, model) -> pd.DataFrame:
    """CR2 covariance (models/bias_reduced.py) of a pyfixest fit on the design's ``kept`` rows."""
    from scipy.special import expit

    from fairness_audit.models.bias_reduced import adjusted_cov
    from fairness_audit.models.cells import refactorize

    y = design.y[kept]
    if design.spec.family == "ols":
        weights = np.ones(len(y))
        residuals = np.asarray(model._u_hat, dtype=float).ravel()
    else:
        eta = np.asarray(model._Y_hat_link, dtype=float).ravel()
        mu = expit(eta) if design.spec.family == "logit" else np.exp(eta)
        weights = mu * (1 - mu) if design.spec.family == "logit" else mu
        residuals = (y - mu) / np.sqrt(weights)
    if len(residuals) != len(y):
        raise AuditError(f"CR2 standard errors: the engine's {len(residuals)} residuals do not "
                         f"line up with the {len(y)} rows it kept")
    estimated = [t for t in design.terms if np.isfinite(params.get(t, np.nan))]
    X = design.X[kept][:, [design.terms.index(t) for t in estimated]]
    clusters = pd.factorize(design.data[design.cluster].to_numpy()[kept])[0]
    V = adjusted_cov(X, refactorize(design.fe_codes()[kept]), clusters, weights=weights,
                     residuals=residuals)
    cov = pd.DataFrame(np.nan, index=params.index, columns=params.index)
    cov.loc[estimated, estimated] = V
    return cov


def _fit_cells(design: Design, name: str, classical: bool = False):
    """OLS with CRV3 (jackknife) errors on the design's cell means (models/cells.py)."""
    import pyfixest as pf

    from fairness_audit.errors import NotEstimable
    from fairness_audit.models.cells import fit_on_cells
    from fairness_audit.models.jackknife import CRV3_TEXT, jackknife_cov

    fitted = fit_on_cells(design)
    terms = list(design.terms)
    if not fitted.columns:
        raise NotEstimable(", ".join(terms), f"model {name}: every term is collinear with the "
                           f"fixed effects {' + '.join(design.spec.fixed_effects)}")
    params = pd.Series(fitted.params, index=terms)
    cov = jackknife_cov(fitted.cells, fitted.params, fitted.columns, terms)
    notes = []
    if fitted.dropped:
        notes.append(f"{fitted.dropped} rows dropped by the engine (singleton or perfectly "
                     f"predicted fixed-effect groups)")
    if fitted.collinear:
        notes.append(f"terms {fitted.collinear} dropped as collinear with the fixed effects")
    engine = (f"weighted least squares on {len(fitted.cells[0]):,} cell means, fixed effects "
              f"swept by pyfixest {pf.__version__} demean (equal to OLS on the decisions)")
    info = {"collinear": fitted.collinear, "converged": True, "dropped": fitted.dropped,
            "cov_type": ("CRV3", CRV3_TEXT)}
    if classical:
        info["classical"] = _cell_cross_products(design, fitted)
    return params, cov, fitted.n_obs, engine, notes, info


def _cell_cross_products(design: Design, fitted) -> CrossProducts:
    """The decisions' swept cross-products of a fit on cell means (models/classical.py): the
    cells' weighted ones, with the outcome's spread within cells added to its own sum of squares."""
    from fairness_audit.models.cells import demean, within_cell_sum_of_squares

    y, X, fe, _, w = fitted.cells
    swept = demean(np.column_stack([y, X[:, fitted.columns]]), fe, w)
    levels = [int(fe[:, j].max()) + 1 for j in range(fe.shape[1])]
    return CrossProducts.from_swept(
        swept[:, 0], swept[:, 1:], tuple(design.terms[j] for j in fitted.columns),
        n_obs=fitted.n_obs, fe_parameters=fe_parameter_count(levels), weights=w,
        within_ss=within_cell_sum_of_squares(design), outcome=design.spec.outcome)


def _fit_statsmodels(design: Design, max_iter: int = MAX_ITER, classical: bool = False):
    import statsmodels
    import statsmodels.api as sm

    X = sm.add_constant(design.X, has_constant="add")
    groups = pd.factorize(design.data[design.cluster])[0]
    if design.spec.family == "logit":
        model = sm.GLM(design.y, X, family=sm.families.Binomial())
        engine = f"statsmodels {statsmodels.__version__} GLM(Binomial)"
    elif design.spec.family == "poisson":
        model = sm.GLM(design.y, X, family=sm.families.Poisson())
        engine = f"statsmodels {statsmodels.__version__} GLM(Poisson)"
    else:
        model = sm.OLS(design.y, X)
        engine = f"statsmodels {statsmodels.__version__} OLS"
    fit_kwargs = {"maxiter": max_iter} if design.spec.family != "ols" else {}
    with warnings.catch_warnings():
        # separation and non-convergence are checked below and reported as clear errors
        warnings.simplefilter("ignore")
        res = model.fit(cov_type="cluster", cov_kwds={"groups": groups, "use_correction": True},
                        **fit_kwargs)
    names = ["(Intercept)"] + list(design.terms)
    params = pd.Series(np.asarray(res.params, dtype=float), index=names)
    cov = pd.DataFrame(np.asarray(res.cov_params(), dtype=float), index=names, columns=names)
    info = {"converged": bool(getattr(res, "converged", True)), "dropped": 0,
            "kept": np.ones(len(design.data), dtype=bool),
            "eta": np.asarray(X @ res.params, dtype=float)}
    if classical and design.spec.family == "ols":
        # without fixed effects the intercept is the one swept parameter: centre every column
        y, Xt = design.y, design.X
        info["classical"] = CrossProducts.from_swept(
            y - y.mean(), Xt - Xt.mean(axis=0), tuple(design.terms), n_obs=len(y),
            fe_parameters=fe_parameter_count([]), outcome=design.spec.outcome)
    return params, cov, int(res.nobs), engine, [], info
