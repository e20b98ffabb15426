"""Average marginal effects (models/marginal.py) against independent computations."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy.special import expit

from fairness_audit.config import ModelSpec
from fairness_audit.errors import ModelWarning
from fairness_audit.models.design import build_design
from fairness_audit.models.marginal import ame_value_and_gradient
from fairness_audit.models.regression import fit

TERMS = ("quota_shortfall", "post_policy:quota_shortfall", "represented", "detained")


def court_frame(n_judges: int = 40, per_judge: int = 150, seed: int = 1) -> pd.DataFrame:
    """Decisions with judge effects, a shortfall slope that changes after the policy, controls."""
    rng = np.random.default_rng(seed)
    n = n_judges * per_judge
    judge = np.repeat(np.arange(n_judges), per_judge)
    post = (rng.random(n) < 0.6).astype(float)
    sf = rng.gamma(2.0, 0.5, n)
    rep = (rng.random(n) < 0.6).astype(float)
    det = (rng.random(n) < 0.3).astype(float)
    eta = (-1.0 + rng.normal(0, 0.7, n_judges)[judge] + 0.05 * sf - 0.3 * post * sf + 1.2 * rep
           - 0.5 * det + 0.2 * post)
    return pd.DataFrame({
        "judge_id": [f"J{j:03d}" for j in judge], "fiscal_year": np.where(post == 1, 2020, 2017),
        "quota_shortfall": sf, "post_policy": post, "represented": rep, "detained": det,
        "granted": (rng.random(n) < expit(eta)).astype(float),
    })


def _fit(frame, terms=TERMS, fixed_effects=("judge_id", "fiscal_year"), marginal=None):
    spec = ModelSpec(family="logit", outcome="granted", terms=terms, fixed_effects=fixed_effects)
    design = build_design(frame, spec)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModelWarning)
        return design, fit(design, name="test", marginal_terms=marginal or terms)


def _eta(design, result) -> np.ndarray:
    """Linear predictor: from pyfixest's fitted values (fixed effects) or X beta."""
    from fairness_audit.models.regression import _fit_pyfixest

    if design.fe_columns:
        return _fit_pyfixest(design, "nonnested")[-1]["eta"]
    return result.params["(Intercept)"] + design.X @ result.params[list(design.terms)].to_numpy()


def _numeric_ame(design, result, term: str, h: float = 1e-5) -> float:
    """Slope of predicted probabilities in quota_shortfall, by central differences, with and
    without the term's coefficient, on the rows the definition names; in percentage points."""
    v = design.variables
    eta = _eta(design, result)
    beta = result.params.reindex(list(design.terms)).to_numpy()

    def columns(sf):
        cols = []
        for t in design.terms:
            value = np.ones(len(v))
            for p in t.split(":"):
                value = value * (sf if p == "quota_shortfall" else v[p].to_numpy())
            cols.append(value)
        return np.column_stack(cols)

    sf = v["quota_shortfall"].to_numpy()
    X = columns(sf)
    base = eta - X @ beta  # fixed effects (or intercept)

    def slope(b):
        return (expit(base + columns(sf + h) @ b) - expit(base + columns(sf - h) @ b)) / (2 * h)

    k = list(design.terms).index(term)
    b0 = beta.copy()
    b0[k] = 0.0
    if term == "quota_shortfall":
        rows = v["post_policy"].to_numpy() == 0
    else:
        rows = np.ones(len(v), dtype=bool)
        for p in term.split(":"):
            if p != "quota_shortfall":
                rows &= v[p].to_numpy() == 1
    return 100 * float(np.mean((slope(beta) - slope(b0))[rows]))


@pytest.mark.parametrize("fixed_effects", [("judge_id", "fiscal_year"), ()])
@pytest.mark.parametrize("term", ["post_policy:quota_shortfall", "quota_shortfall"])
def test_ame_equals_finite_differences_of_predicted_probabilities(term, fixed_effects):
    frame = court_frame()
    design, result = _fit(frame, fixed_effects=fixed_effects)
    ame = {m.term: m for m in result.marginal_effects}[term]
    assert ame.estimate == pytest.approx(_numeric_ame(design, result, term), rel=1e-6)
    expected_rows = (frame["post_policy"] == 1).sum() if ":" in term else (frame["post_policy"] == 0).sum()
    assert ame.n_rows == expected_rows


def test_analytic_gradient_equals_numerical_gradient():
    frame = court_frame(seed=3)
    design, result = _fit(frame)
    terms = tuple(design.terms)
    beta = result.params.reindex(list(terms)).to_numpy()
    eta = _eta(design, result)
    X = design.X
    for term in ("post_policy:quota_shortfall", "quota_shortfall", "represented"):
        _, grad, _, _ = ame_value_and_gradient(term, terms, beta, X, eta, design.variables)
        numeric = np.zeros_like(beta)
        for j in range(len(beta)):
            step = np.zeros_like(beta)
            step[j] = 1e-6
            up = ame_value_and_gradient(term, terms, beta + step, X, eta + X @ step, design.variables)[0]
            down = ame_value_and_gradient(term, terms, beta - step, X, eta - X @ step, design.variables)[0]
            numeric[j] = (up - down) / 2e-6
        np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-9)


def test_main_term_ame_and_error_match_statsmodels_margeff():
    """Without interactions the AME of a continuous term is statsmodels' overall dydx."""
    frame = court_frame(seed=5)
    terms = ("quota_shortfall", "represented", "detained")
    design, result = _fit(frame, terms=terms, fixed_effects=())
    groups = pd.factorize(frame["judge_id"])[0]
    sm_fit = sm.Logit(frame["granted"].to_numpy(), sm.add_constant(frame[list(terms)].to_numpy())).fit(
        disp=0, cov_type="cluster", cov_kwds={"groups": groups})
    margeff = sm_fit.get_margeff(at="overall", method="dydx")
    ame = result.marginal_effects[0]
    assert ame.estimate == pytest.approx(100 * margeff.margeff[0], rel=1e-6)
    assert ame.std_error == pytest.approx(100 * margeff.margeff_se[0], rel=1e-4)


def test_binary_term_is_the_change_in_probability_it_carries():
    frame = court_frame(seed=7)
    design, result = _fit(frame, marginal=("represented",))
    eta = _eta(design, result)
    b = result.params["represented"]
    rows = frame.loc[design.data.index, "represented"].to_numpy() == 1
    expected = 100 * np.mean(expit(eta[rows]) - expit(eta[rows] - b))
    (ame,) = result.marginal_effects
    assert ame.estimate == pytest.approx(expected, rel=1e-10)
    assert ame.n_rows == rows.sum()


def test_marginal_effects_reach_results_json_shape():
    frame = court_frame(seed=9)
    _, result = _fit(frame, marginal=("post_policy:quota_shortfall",))
    entry = result.to_dict()["marginal_effects"]
    assert [m["term"] for m in entry] == ["post_policy:quota_shortfall"]
    m = entry[0]
    assert m["ci_low"] < m["estimate"] < m["ci_high"]
    assert "post_policy = 1" in m["definition"]
