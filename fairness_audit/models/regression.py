"""Logit and linear models with absorbed fixed effects and judge-clustered standard errors.

Engines (why): with fixed effects the model is fitted by pyfixest (``feglm`` for logit,
``feols`` for linear models), which absorbs judge, nationality and time effects instead of
building dummy columns: statsmodels with dummies runs out of memory near 1 M rows. Without
fixed effects, statsmodels (GLM binomial / OLS) fits the same model.

Standard errors: CRV1 clustered by judge, small-sample factor G/(G-1) x (n-1)/(n-k) where k
leaves out fixed effects nested in the clusters (the fixest and reghdfe convention). R's
``sandwich::vcovCL`` on a ``glm`` with factor dummies counts every dummy in k; the reference
tests reproduce it with ``k_fixef="full"``. Intervals and p-values use t(G - 1) critical
values, G the number of judge clusters, whatever the engine.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from fairness_audit.errors import ModelWarning
from fairness_audit.models.design import Design, column_for, term_for

SMALL_SAMPLE = ("CRV1, G/(G-1) x (n-1)/(n-k), k without fixed effects nested in the judge "
                "clusters; t(G-1) intervals and p-values")
FEW_DECISIONS_PER_JUDGE = 200


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
            "n_obs": int(self.n_obs), "n_clusters": int(self.n_clusters),
            "sample": {"filter": self.sample_filter, "excluded": dict(self.excluded)},
            "coefficients": coefs, "warnings": list(self.warnings),
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
    if n_clusters < 30:
        notes.append(f"only {n_clusters} judge clusters: clustered standard errors are unreliable "
                     f"with fewer than about 30")
    return notes


def fit(design: Design, *, name: str, ssc_k_fixef: str = "nonnested") -> FitResult:
    """Fit a design with its engine; never silently return NaN estimates."""
    from fairness_audit.errors import AuditError

    notes = _checks(design)
    if design.spec.family == "logit" and design.y.min() == design.y.max():
        raise AuditError(f"model {name}: outcome '{design.spec.outcome}' is constant in the "
                         f"sample ({len(design.data)} rows); the logit cannot be fitted")
    result = _fit_pyfixest(design, ssc_k_fixef) if design.fe_columns else _fit_statsmodels(design)
    params, cov, n_obs, engine, extra_notes = result
    notes.extend(extra_notes)
    bad = [t for t in params.index if not np.isfinite(params[t])]
    if bad:
        raise AuditError(f"model {name}: no finite estimate for {bad} (collinear with the fixed "
                         f"effects, or separated); drop the term or change the sample")
    for note in notes:
        warnings.warn(f"model {name}: {note}", ModelWarning, stacklevel=2)
    return FitResult(
        name=name, family=design.spec.family, engine=engine, formula=formula_text(design),
        fixed_effects=tuple(design.spec.fixed_effects), cluster=design.cluster,
        params=params, cov=cov, n_obs=n_obs,
        n_clusters=int(design.data[design.cluster].nunique()),
        sample_filter=design.filter_text, excluded=dict(design.excluded), warnings=tuple(notes),
    )


def _fit_pyfixest(design: Design, ssc_k_fixef: str):
    import pyfixest as pf

    data = design.data.copy()
    for c in design.fe_columns + (design.cluster,):
        data[c] = data[c].astype(str)
    ssc = pf.ssc(k_adj=True, k_fixef=ssc_k_fixef, G_adj=True, G_df="min")
    vcov = {"CRV1": design.cluster}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if design.spec.family == "logit":
            model = pf.feglm(_engine_formula(design), data, family="logit", vcov=vcov, ssc=ssc,
                             store_data=False, copy_data=False)
            engine = f"pyfixest {pf.__version__} feglm(family='logit')"
        else:
            model = pf.feols(_engine_formula(design), data, vcov=vcov, ssc=ssc,
                             store_data=False, copy_data=False)
            engine = f"pyfixest {pf.__version__} feols"
    names = list(model._coefnames)
    params = pd.Series(np.asarray(model._beta_hat, dtype=float), index=[term_for(n) for n in names])
    cov = pd.DataFrame(np.asarray(model._vcov, dtype=float), index=params.index, columns=params.index)
    notes = []
    dropped = len(data) - int(model._N)
    if dropped:
        notes.append(f"{dropped} rows dropped by the engine (singleton or perfectly predicted "
                     f"fixed-effect groups)")
    missing_terms = [t for t in design.terms if t not in params.index]
    if missing_terms:
        notes.append(f"terms {missing_terms} dropped as collinear with the fixed effects")
        params = params.reindex(list(design.terms))
        cov = cov.reindex(index=params.index, columns=params.index)
    return params, cov, int(model._N), engine, notes


def _fit_statsmodels(design: Design):
    import statsmodels
    import statsmodels.api as sm

    X = sm.add_constant(design.X, has_constant="add")
    groups = pd.factorize(design.data[design.cluster])[0]
    if design.spec.family == "logit":
        model = sm.GLM(design.y, X, family=sm.families.Binomial())
        engine = f"statsmodels {statsmodels.__version__} GLM(Binomial)"
    else:
        model = sm.OLS(design.y, X)
        engine = f"statsmodels {statsmodels.__version__} OLS"
    res = model.fit(cov_type="cluster", cov_kwds={"groups": groups, "use_correction": True})
    names = ["(Intercept)"] + list(design.terms)
    params = pd.Series(np.asarray(res.params, dtype=float), index=names)
    cov = pd.DataFrame(np.asarray(res.cov_params(), dtype=float), index=names, columns=names)
    return params, cov, int(res.nobs), engine, []
