"""Our fits against R: glm / lm with factor dummies and sandwich::vcovCL (HC1, by judge).

The input (tests/reference/h2_input.csv, drawn by tests/reference/draw_input.py from the
simulator), the script (tests/reference/reference.R) and its exact output
(tests/reference/r_output.csv, r_output_ame.csv) are committed; R is not needed to run this
test. To regenerate the output:

    Rscript tests/reference/reference.R tests/reference/h2_input.csv tests/reference/r_output.csv

Tolerances (relative unless stated):

* coefficients 1e-6: both sides solve the same likelihood to convergence (R's glm with
  epsilon 1e-12, pyfixest's IRLS to 1e-8 relative deviance change, with fixed effects swept
  out by alternating projections at 1e-8); what is left is convergence error.
* clustered standard errors 1e-4: the same sandwich with the same small-sample factor (we fit
  with ssc k_fixef="full" so that k counts every dummy as R does), but the bread comes from the
  demeaned design on our side and from the inverse of the full dummy information matrix in R,
  and the scores carry the convergence error of both fits.
* average marginal effects 1e-5 and their standard errors 1e-3: R differentiates predicted
  probabilities numerically (step 1e-5, and 1e-6 for the gradient), we use the analytic
  derivative, so finite-difference error of order h^2 enters on R's side.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fairness_audit.config import ModelSpec
from fairness_audit.errors import ModelWarning
from fairness_audit.models.design import build_design
from fairness_audit.models.regression import fit

REF = Path(__file__).parent / "reference"
TERMS = ("quota_shortfall", "post_policy:quota_shortfall", "represented", "detained", "juvenile",
         "asylum_application")
FE = ("judge_id", "fiscal_year", "fiscal_month", "nationality", "case_type")
COEF_RTOL = 1e-6
SE_RTOL = 1e-4
AME_RTOL = 1e-5
AME_SE_RTOL = 1e-3


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    d = pd.read_csv(REF / "h2_input.csv", dtype={"judge_id": str, "nationality": str,
                                                  "case_type": str})
    return d.astype({c: float for c in ("granted", "quota_shortfall", "post_policy", "represented",
                                        "detained", "juvenile", "asylum_application")})


@pytest.fixture(scope="module")
def r_output() -> pd.DataFrame:
    return pd.read_csv(REF / "r_output.csv", skipinitialspace=True)


def _fit(frame, family, fixed_effects, marginal=()):
    spec = ModelSpec(family=family, outcome="granted", terms=TERMS, fixed_effects=fixed_effects)
    design = build_design(frame, spec)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModelWarning)  # 30 judges: the few-clusters note
        return fit(design, name=f"{family} reference", ssc_k_fixef="full", marginal_terms=marginal)


CASES = [("logit_fe", "logit", FE), ("ols_fe", "ols", FE), ("logit_nofe", "logit", ()),
         ("ols_nofe", "ols", ())]


@pytest.mark.parametrize("name,family,fixed_effects", CASES)
def test_coefficients_and_clustered_errors_match_r(frame, r_output, name, family, fixed_effects):
    result = _fit(frame, family, fixed_effects)
    ref = r_output[r_output["model"] == name].set_index("term")
    assert result.n_obs == int(ref["n_obs"].iloc[0])
    assert result.n_clusters == int(ref["n_clusters"].iloc[0])
    expected_engine = "pyfixest" if fixed_effects else "statsmodels"
    assert result.engine.startswith(expected_engine)
    np.testing.assert_allclose(result.params[list(TERMS)], ref.loc[list(TERMS), "estimate"],
                               rtol=COEF_RTOL)
    np.testing.assert_allclose(result.std_errors[list(TERMS)], ref.loc[list(TERMS), "std_error"],
                               rtol=SE_RTOL)


def test_default_correction_differs_from_r_by_the_nested_fixed_effects(frame, r_output):
    """The default (nonnested) leaves the judge dummies out of k: errors are a little smaller."""
    spec = ModelSpec(family="ols", outcome="granted", terms=TERMS, fixed_effects=FE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModelWarning)
        default = fit(build_design(frame, spec), name="ols default")
    ref = r_output[r_output["model"] == "ols_fe"].set_index("term")
    ratio = default.std_errors[list(TERMS)].to_numpy() / ref.loc[list(TERMS), "std_error"].to_numpy()
    n, k_r = int(ref["n_obs"].iloc[0]), int(ref["k"].iloc[0])
    n_judges = int(ref["n_clusters"].iloc[0])
    k_ours = k_r - (n_judges - 1)  # judge dummies nested in the judge clusters are not counted
    np.testing.assert_allclose(ratio, np.sqrt((n - k_r) / (n - k_ours)), rtol=1e-4)


@pytest.mark.parametrize("name,fixed_effects", [("logit_fe", FE), ("logit_nofe", ())])
def test_average_marginal_effect_matches_r(frame, name, fixed_effects):
    result = _fit(frame, "logit", fixed_effects, marginal=("post_policy:quota_shortfall",))
    ref = pd.read_csv(REF / "r_output_ame.csv", skipinitialspace=True).set_index("model").loc[name]
    (ame,) = result.marginal_effects
    assert ame.n_rows == int(ref["n_rows"])
    assert ame.estimate == pytest.approx(float(ref["ame"]), rel=AME_RTOL)
    assert ame.std_error == pytest.approx(float(ref["ame_std_error"]), rel=AME_SE_RTOL)
