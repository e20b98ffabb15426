"""Omitted-variable sensitivity (Cinelli and Hazlett 2020): sensitivity/omitted_variable.py and the
classical cross-products of models/classical.py.

Checked against: the published Darfur example (sensemakr's README and the paper, at their
printed digits; sensemakr's own tests at full precision) refitted here on the committed data
(tests/reference/darfur/); pyfixest's iid standard errors on the decisions of a small court, for
the cross-products kept by the cell-mean fit, the pyfixest fit and the statsmodels fit; the
definitions of the robustness values (the adjusted estimate is zero, the adjusted t is the
critical value, at the robustness value); the audit run end to end on a small simulated court.
"""

from __future__ import annotations

import dataclasses
import json
import math
import warnings
from pathlib import Path

import jsonschema
import numpy as np
import pandas as pd
import pyfixest as pf
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from fairness_audit import config as plan_config
from fairness_audit.config import ModelSpec, load_config, parse_config
from fairness_audit.errors import ConfigError, ModelWarning
from fairness_audit.models.classical import CrossProducts, fe_parameter_count
from fairness_audit.models.design import build_design
from fairness_audit.models.regression import fit
from fairness_audit.results import load_schema
from fairness_audit.sensitivity import omitted_variable as ov

DARFUR = Path(__file__).parent / "reference" / "darfur"
CONTROLS = ["age", "farmer_dar", "herder_dar", "pastvoted", "hhsize_darfur", "female"]


@pytest.fixture(scope="module")
def darfur() -> pd.DataFrame:
    return pd.read_csv(DARFUR / "darfur.csv")


@pytest.fixture(scope="module")
def expected() -> dict:
    return json.loads((DARFUR / "expected.json").read_text())


def _quiet_fit(design, name: str, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModelWarning)  # few clusters, singletons: reported notes
        return fit(design, name=name, **kwargs)


# ------------------------------------------------------------------ the published example
def _darfur_statsmodels(d: pd.DataFrame) -> ov.OmittedVariableSensitivity:
    """The paper's regression with village dummies (statsmodels OLS, as R's lm), the treatment
    regression likewise, and the sensitivity from their classical t statistics.

    The 354 respondents alone in their village are left out: each fits its own dummy exactly,
    so every coefficient, standard error and the residual degrees of freedom (783) are those of
    the regression with them, and the dense fit is four times smaller (fast on a busy machine).
    """
    d = d[d.groupby("village")["village"].transform("size") > 1]
    villages = pd.get_dummies(d["village"], drop_first=True, dtype=float)
    X = sm.add_constant(pd.concat([d[["directlyharmed", *CONTROLS]], villages], axis=1))
    outcome = sm.OLS(d["peacefactor"], X).fit()
    treatment = sm.OLS(d["directlyharmed"], X.drop(columns="directlyharmed")).fit()
    assert outcome.df_resid == 783 and treatment.df_resid == 784
    female = (ov.partial_r2(treatment.tvalues["female"], treatment.df_resid),
              ov.partial_r2(outcome.tvalues["female"], outcome.df_resid))
    return ov.sensitivity(outcome.params["directlyharmed"], outcome.bse["directlyharmed"],
                          int(outcome.df_resid), alpha=0.05, benchmarks={"female": female},
                          multiples=[1, 2, 3])


def _darfur_audit_fit(d: pd.DataFrame) -> ov.OmittedVariableSensitivity:
    """The same through the audit's own fit: village absorbed by pyfixest (which drops the
    354 respondents alone in their village: singletons change neither estimate nor df)."""
    spec = ModelSpec(family="ols", outcome="peacefactor", terms=("directlyharmed", *CONTROLS),
                     fixed_effects=("village",), cluster="village")
    res = _quiet_fit(build_design(d, spec), "darfur", classical=True)
    return ov.from_cross_products(res.extra["classical"], "directlyharmed", alpha=0.05,
                                  benchmarks=["female"], multiples=[1, 2, 3])


def _fields(s: ov.OmittedVariableSensitivity) -> dict:
    return {"estimate": s.estimate, "std_error": s.std_error_classical, "t": s.t_classical,
            "partial_r2": s.partial_r2, "rv": s.rv, "rv_alpha": s.rv_alpha}


@pytest.fixture(scope="module")
def darfur_fits(darfur) -> dict[str, ov.OmittedVariableSensitivity]:
    return {"statsmodels": _darfur_statsmodels(darfur), "audit": _darfur_audit_fit(darfur)}


@pytest.mark.parametrize("route", ["statsmodels", "audit"])
def test_darfur_reproduces_the_published_figures(darfur_fits, expected, route):
    s = darfur_fits[route]
    pub = expected["published"]
    digits = pub["digits"]
    for key, value in _fields(s).items():
        assert round(value, digits) == pytest.approx(pub[key], abs=1e-12), key
    for key in ("partial_r2", "rv", "rv_alpha"):  # the short print's five digits
        assert round(getattr(s, key), pub["digits_print"]) == pytest.approx(pub[f"{key}_print"])
    # the paper's Table 1, in percent with one decimal
    table = pub["table_percent"]
    assert [round(100 * x, 1) for x in (s.partial_r2, s.rv, s.rv_alpha)] == \
        [table["partial_r2"], table["rv"], table["rv_alpha"]]
    assert round(100 * s.benchmarks[0].r2_yz_dx, 1) == table["r2_yz_dx_1x_female"]
    assert round(100 * s.benchmarks[0].r2_dz_x, 1) == table["r2_dz_x_1x_female"]
    assert s.df == 783
    assert [b.label for b in s.benchmarks] == ["1x female", "2x female", "3x female"]
    for got, want in zip(s.benchmarks, pub["bounds"], strict=True):
        for key in ("r2_dz_x", "r2_yz_dx", "adjusted_estimate", "adjusted_std_error",
                    "adjusted_t", "adjusted_ci_low", "adjusted_ci_high"):
            assert round(getattr(got, key), digits) == pytest.approx(want[key], abs=1e-12), \
                (want["label"], key)


@pytest.mark.parametrize("route", ["statsmodels", "audit"])
def test_darfur_matches_sensemakr_at_full_precision(darfur_fits, expected, route):
    s = darfur_fits[route]
    full = expected["full_precision"]
    # sensemakr's tests hold 15 significant digits; two least-squares fits agree to ~1e-12
    for key, value in _fields(s).items():
        assert value == pytest.approx(full[key], rel=1e-9), key
    for got, want in zip(s.benchmarks, full["bounds"], strict=True):
        for key in ("r2_dz_x", "r2_yz_dx", "adjusted_estimate", "adjusted_std_error",
                    "adjusted_t", "adjusted_ci_low", "adjusted_ci_high"):
            assert getattr(got, key) == pytest.approx(want[key], rel=1e-8), (want["label"], key)


# ------------------------------------------------------------- classical cross-products
def _court(seed: int = 7, judges: int = 16) -> pd.DataFrame:
    """A small court: judges in four courts over eight quarters, detention more common after
    the policy for judges with a larger gap (so that detained is a benchmark with some pull)."""
    rng = np.random.default_rng(seed)
    rows = []
    for j in range(judges):
        court = j % 4
        gap = max(0.0, rng.normal(1.0, 0.8))
        for q in range(-4, 4):
            n = int(rng.integers(4, 14))
            post = float(q >= 0)
            detained = (rng.random(n) < 0.2 + 0.15 * post * min(gap, 2.0)).astype(float)
            y = 0.2 * rng.normal() - 0.1 * post * gap + 0.4 * detained + 0.05 * q \
                + rng.normal(0, 0.5, n)
            rows += [{"judge_id": f"J{j:02d}", "court_id": f"C{court}", "quarter": q,
                      "post_policy": post, "pre_policy_gap": gap, "detained": float(dv),
                      "log_duration": v} for v, dv in zip(y, detained, strict=True)]
    frame = pd.DataFrame(rows)
    # a singleton court x quarter level: one decision that every engine drops
    lone = frame.iloc[[0]].assign(court_id="C9", quarter=9)
    return pd.concat([frame, lone], ignore_index=True)


TERM = "post_policy:pre_policy_gap"


def _spec(cov_type: str) -> ModelSpec:
    return ModelSpec(family="ols", outcome="log_duration", terms=(TERM, "detained"),
                     fixed_effects=("judge_id", "court_id^quarter"), cov_type=cov_type)


def _pyfixest_iid(frame: pd.DataFrame, formula: str):
    data = frame.assign(pg=frame["post_policy"] * frame["pre_policy_gap"],
                        cq=frame["court_id"] + "|" + frame["quarter"].astype(str))
    return pf.feols(formula, data, vcov="iid")


@pytest.mark.parametrize("cov_type", ["CRV3", "CRV1"])  # cell means; pyfixest on the decisions
def test_cross_products_give_pyfixest_iid_inference_on_the_decisions(cov_type):
    frame = _court()
    res = _quiet_fit(build_design(frame, _spec(cov_type), cluster="judge_id"), "court",
                     classical=True)
    cp = res.extra["classical"]
    ref = _pyfixest_iid(frame, "log_duration ~ pg + detained | judge_id + cq")
    assert cp.n_obs == ref._N == len(frame) - 1  # the singleton left out by both
    assert cp.df_resid == ref._df_t  # N - k - (levels - (fixed effects - 1))
    assert cp.params()[TERM] == pytest.approx(ref.coef()["pg"], rel=1e-9)
    assert res.params[TERM] == pytest.approx(cp.params()[TERM], rel=1e-9)
    for mine, theirs in ((TERM, "pg"), ("detained", "detained")):
        assert cp.std_error(mine) == pytest.approx(ref.se()[theirs], rel=1e-8)
        assert cp.t_value(mine) == pytest.approx(ref.tstat()[theirs], rel=1e-8)
    # the treatment regression, read from the same cross-products
    treatment = _pyfixest_iid(frame, "pg ~ detained | judge_id + cq")
    cpd = cp.regression_of(TERM)
    assert cpd.df_resid == treatment._df_t == cp.df_resid + 1
    assert cpd.t_value("detained") == pytest.approx(treatment.tstat()["detained"], rel=1e-8)
    assert res.cov_type == cov_type  # the reported covariance is the model's own
    assert res.std_errors[TERM] != pytest.approx(cp.std_error(TERM), rel=1e-3)


def test_fits_keep_no_cross_products_unless_asked():
    frame = _court()
    assert _quiet_fit(build_design(frame, _spec("CRV3"), cluster="judge_id"), "c").extra == {}
    logit = ModelSpec(family="logit", outcome="detained", terms=(TERM,),
                      fixed_effects=("court_id",))
    res = _quiet_fit(build_design(frame, logit, cluster="judge_id"), "l", classical=True)
    assert "classical" not in res.extra  # a logit has no classical OLS cross-products


def test_cross_products_without_fixed_effects_equal_statsmodels_ols():
    frame = _court(seed=11)
    spec = ModelSpec(family="ols", outcome="log_duration", terms=(TERM, "detained"))
    res = _quiet_fit(build_design(frame, spec, cluster="judge_id"), "nofe", classical=True)
    cp = res.extra["classical"]
    X = sm.add_constant(np.column_stack([frame["post_policy"] * frame["pre_policy_gap"],
                                         frame["detained"]]))
    ols = sm.OLS(frame["log_duration"].to_numpy(), X).fit()
    assert cp.df_resid == ols.df_resid == len(frame) - 3
    assert [cp.std_error(TERM), cp.std_error("detained")] == pytest.approx(list(ols.bse[1:]),
                                                                           rel=1e-9)


def test_fe_parameter_count_is_pyfixests():
    assert fe_parameter_count([]) == 1  # the intercept
    assert fe_parameter_count([10]) == 10
    assert fe_parameter_count([10, 4, 3]) == 15  # one redundant level per extra fixed effect


# ---------------------------------------------------------------------- robustness values
T_VALUES = st.floats(min_value=-60, max_value=60, allow_nan=False)
DFS = st.integers(min_value=3, max_value=5_000_000)


@settings(max_examples=200, deadline=None)
@given(t=T_VALUES, df=DFS, alpha=st.sampled_from([0.01, 0.05, 0.1]))
def test_robustness_values_are_shares_ordered_as_they_must_be(t, df, alpha):
    rv = ov.robustness_value(t, df)
    rv_a = ov.robustness_value(t, df, alpha=alpha)
    r2 = ov.partial_r2(t, df)
    assert 0 <= rv_a <= rv <= 1
    # the partial R2 is the treatment share an omitted variable needs when it explains all of
    # the outcome's residual variance: never more than the robustness value
    assert r2 <= rv + 1e-15
    if abs(t) < stats.t.ppf(1 - alpha / 2, df):  # not significant: nothing to explain away
        assert rv_a == 0


@settings(max_examples=200, deadline=None)
@given(t=T_VALUES, step=st.floats(min_value=1e-3, max_value=10), df=DFS)
def test_robustness_value_grows_with_the_t_statistic(t, step, df):
    assert ov.robustness_value(abs(t) + step, df) > ov.robustness_value(t, df)
    assert ov.robustness_value(-t, df) == ov.robustness_value(t, df)
    assert ov.robustness_value(abs(t) + step, df, alpha=0.05) >= \
        ov.robustness_value(t, df, alpha=0.05)


@settings(max_examples=200, deadline=None)
@given(t=st.floats(min_value=0.05, max_value=60), df=st.integers(min_value=10, max_value=10**6))
def test_robustness_values_are_where_the_adjusted_estimate_and_t_reach_their_bounds(t, df):
    """RV_q: an omitted variable with partial R2 RV with both the treatment and the outcome
    brings the adjusted estimate to zero; RV_{q,alpha}: it brings the adjusted t to the critical
    value t(alpha/2, df - 1) (paper, section 4), by the bias and standard-error formulas."""
    se = 1.0
    rv = ov.robustness_value(t, df)
    assert abs(t * se) - ov.bias(se, df, rv, rv) == pytest.approx(0.0, abs=1e-9 * t)
    rv_a = ov.robustness_value(t, df, alpha=0.05)
    crit = stats.t.ppf(0.975, df - 1)
    f_crit = crit / math.sqrt(df - 1)
    if rv_a > 0:
        # where the bound on the outcome's share binds, the omitted variable is as strong with
        # both; where it does not (extreme robustness value), it explains what it must of the
        # outcome: RV / (f_crit^2 + RV)
        r2yz = rv_a if t / math.sqrt(df) <= 1 / f_crit else rv_a / (f_crit ** 2 + rv_a)
        adjusted_t = (t * se - ov.bias(se, df, rv_a, r2yz)) / ov.adjusted_se(se, df, rv_a, r2yz)
        assert adjusted_t == pytest.approx(crit, rel=1e-9)


def test_extreme_robustness_value_when_the_outcome_bound_does_not_bind():
    """Few degrees of freedom and a large t: an omitted variable that explains all of the
    outcome's residual variance is needed, and RV_{q,alpha} is the extreme robustness value
    (sensemakr 0.1.6): at partial R2s (RV, RV / (f_crit^2 + RV)) the adjusted t is critical."""
    t, df, se = 1 / 0.3, 7, 0.3  # sensemakr's own test case (tests/testthat/test-10-rv-xrv.R)
    rv_a = ov.robustness_value(t, df, alpha=0.05)
    crit = stats.t.ppf(0.975, df - 1)
    f2, fc2 = t * t / df, crit * crit / (df - 1)
    assert math.sqrt(f2) > 1 / math.sqrt(fc2)  # the extreme case
    assert rv_a == pytest.approx((f2 - fc2) / (1 + f2), rel=1e-12)
    r2yz = rv_a / (fc2 + rv_a)
    adjusted_t = (1.0 - ov.bias(se, df, rv_a, r2yz)) / ov.adjusted_se(se, df, rv_a, r2yz)
    assert adjusted_t == pytest.approx(crit, rel=1e-9)


def test_benchmark_bounds_refuse_impossible_multiples_and_cap_the_outcome_share():
    r2dz, r2yz, note = ov.benchmark_partial_r2(0.6, 0.1, kd=2)
    assert r2dz is None and r2yz is None and "impossible" in note
    r2dz, r2yz, note = ov.benchmark_partial_r2(0.05, 0.8, kd=3)
    assert r2yz == 1.0 and "set to 1" in note
    # sensemakr's 1x bound: r2dz = r2dxj / (1 - r2dxj); r2yz from footnote 10
    r2dz, r2yz, note = ov.benchmark_partial_r2(0.1, 0.2, kd=1)
    assert r2dz == pytest.approx(0.1 / 0.9)
    assert r2yz == pytest.approx(((1 + math.sqrt(0.01 / 0.81)) / math.sqrt(1 - 0.01 / 0.81)) ** 2
                                 * 0.25)
    assert note is None


def test_adjusted_estimates_move_toward_zero_whatever_the_sign():
    pos = ov.sensitivity(0.5, 0.1, 500, alpha=0.05, benchmarks={"z": (0.01, 0.05)},
                         multiples=[1])
    neg = ov.sensitivity(-0.5, 0.1, 500, alpha=0.05, benchmarks={"z": (0.01, 0.05)},
                         multiples=[1])
    assert 0 < pos.benchmarks[0].adjusted_estimate < 0.5
    assert neg.benchmarks[0].adjusted_estimate == pytest.approx(-pos.benchmarks[0].adjusted_estimate)
    assert neg.rv == pos.rv and neg.t_classical == -pos.t_classical


def test_sensitivity_refuses_what_has_no_residual_degrees_of_freedom():
    with pytest.raises(ValueError, match="df = 1"):
        ov.sensitivity(1.0, 0.5, 1, alpha=0.05)


# ------------------------------------------------------------------------ results.json item
def _item_schema() -> dict:
    schema = load_schema()
    return {"$defs": schema["$defs"], "$ref": "#/$defs/sensitivity_omitted_variable"}


def test_items_follow_the_plan_roles_and_scale_and_fit_the_schema():
    frame = _court()
    res = _quiet_fit(build_design(frame, _spec("CRV3"), cluster="judge_id"), "court",
                     classical=True)
    spec = plan_config.TestSpec
    tests = [spec(id="A.primary", role="primary", model="m", term=TERM, concern_sign=-1,
                      sesoi=0.05, sesoi_reason="x"),
             spec(id="A.robust", role="robustness", model="m", term=TERM, concern_sign=-1,
                      sesoi=0.05, sesoi_reason="x"),
             spec(id="A.none", role="supporting", model="m", term=TERM, concern_sign=-1,
                      sesoi=0.05, sesoi_reason="x")]
    rows = [{"estimate": 1.0, "scale": "percentage-points"}, {"estimate": 1.0, "scale": "x"},
            {"estimate": None, "scale": "x"}]  # no estimate: no item
    items = ov.items(tests, rows, lambda spec: (res.extra["classical"], 100.0),
                     roles=("primary", "supporting"), benchmarks=("detained", "juvenile"),
                     multiples=(1.0, 2.5), alpha=0.05)
    assert [i["test_id"] for i in items] == ["A.primary"]
    item = json.loads(json.dumps(items[0]))  # JSON-safe
    jsonschema.validate(item, _item_schema())
    cp = res.extra["classical"]
    assert item["estimate"] == pytest.approx(100 * cp.params()[TERM])
    assert item["std_error_classical"] == pytest.approx(100 * cp.std_error(TERM))
    assert item["t_classical"] == pytest.approx(cp.t_value(TERM))
    assert item["df"] == cp.df_resid and item["level"] == pytest.approx(0.95)
    assert [b["label"] for b in item["benchmarks"]] == ["1x detained", "2.5x detained"]
    assert "No benchmark for juvenile" in item["note"] and "classical" in item["note"]
    bad = dict(item, rv=1.5)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, _item_schema())


def test_an_item_says_why_it_could_not_be_computed():
    X = np.column_stack([np.arange(10.0), 2 * np.arange(10.0)])  # b is twice a
    cp = CrossProducts.from_swept(np.linspace(0, 1, 10) ** 2, X - X.mean(axis=0), ("a", "b"),
                                  n_obs=10, fe_parameters=1)
    spec = plan_config.TestSpec(id="x", role="primary", model="m", term="a", concern_sign=1,
                                sesoi=1.0, sesoi_reason="r")
    (item,) = ov.items([spec], [{"estimate": 1.0, "scale": "s"}], lambda s: (cp, 1.0),
                       roles=("primary",), benchmarks=("b",), multiples=(1.0,), alpha=0.05)
    assert item["note"] == "not computed: the regressors a, b are collinear once the fixed " \
                           "effects are swept out"
    jsonschema.validate(item, _item_schema())


# ------------------------------------------------------------------------------- the plan
def test_default_plan_benchmarks_detention_for_primary_and_supporting_tests():
    ov_plan = load_config().inference.omitted_variable
    assert ov_plan.roles == ("primary", "supporting")
    assert ov_plan.benchmarks == ("detained",) and ov_plan.multiples == (1.0, 2.0, 3.0)


def test_the_example_of_the_docs_is_the_default():
    import re

    import yaml

    text = (Path(__file__).parents[1] / "docs" / "models.md").read_text()
    block = re.search(r"```yaml\n(inference:\n  omitted_variable:.*?)```", text, re.DOTALL).group(1)
    options = yaml.safe_load(block)["inference"]["omitted_variable"]
    assert parse_config({"inference": {"omitted_variable": options}}, "docs/models.md") \
        .inference.omitted_variable == load_config().inference.omitted_variable


@pytest.mark.parametrize("options, message", [
    ({"benchmarks": ["detaind"]}, r"inference\.omitted_variable\.benchmarks: 'detaind' is "
                                  r"neither a control nor a term of a model; did you mean "
                                  r"'detained'\?"),
    ({"multiples": [1, 0]}, r"key 'inference\.omitted_variable': multiples: expected positive "
                            r"numbers .* found \[0\.0\]"),
    ({"multiples": [2, 2]}, r"multiples: expected distinct values, found 2\.0 more than once"),
    ({"roles": ["main"]}, r"key 'inference\.omitted_variable\.roles\.0': expected one of"),
    ({"bench": ["detained"]}, r"key 'inference\.omitted_variable\.bench' is not a known option; "
                              r"did you mean 'benchmarks'\?"),
])
def test_plan_errors_name_the_key(options, message):
    with pytest.raises(ConfigError, match=message):
        parse_config({"inference": {"omitted_variable": options}}, "plan.yaml")


def test_methods_appendix_is_written_from_the_plan():
    from fairness_audit.report.methods import Num, methods

    def sentence(plan):
        m = methods({"provenance": {"config": plan}})
        return next(i.text for i in m.inference if i.label == "omitted-variable sensitivity")

    text = sentence({"inference": {"alpha": 0.1, "omitted_variable": {
        "roles": ["primary"], "benchmarks": ["juvenile"], "multiples": [1, 4]}}})
    words = "".join(p for p in text if isinstance(p, str))
    assert "For each primary test" in words and "as strong as juvenile" in words
    assert "classical (iid, non-clustered)" in words
    nums = [p for p in text if isinstance(p, Num)]
    assert nums == [Num(0.1), Num(1), Num(4), Num(pytest.approx(0.9), "level")]
    off = sentence({"inference": {"alpha": 0.05, "omitted_variable": {"roles": []}}})
    assert off == ("not computed (inference.omitted_variable.roles is empty).",)


# ------------------------------------------------------------------------- end to end
PLAN = """
models:
  H5:
    family: ols
    outcome: granted
    terms: [unrepresented, "post_policy:unrepresented", detained]
    fixed_effects: [judge_id, fiscal_year]
    sample: [in_window]
  H1:
    family: ols
    outcome: log_duration
    terms: ["post_policy:pre_policy_gap"]
    fixed_effects: [judge_id, "court_id^quarter"]
    sample: [in_window, has_pre_policy_gap]
    cov_type: CRV3
analyses:
  H1_did_before_covid: {kind: did, outcome: log_duration, options: {end: 2020-03-01}}
hypotheses:
  H1:
    tests:
      - {id: H1.primary, role: primary, model: H1, term: "post_policy:pre_policy_gap",
         concern_sign: -1, sesoi: 0.05, sesoi_reason: a test plan}
      - {id: H1.supporting.before_covid, role: supporting, model: H1_did_before_covid,
         term: "post_policy:pre_policy_gap", concern_sign: -1, sesoi: 0.05, sesoi_reason: a test plan}
  H5:
    tests:
      - {id: H5.primary, role: primary, model: H5, term: "post_policy:unrepresented",
         concern_sign: -1, sesoi: 2.0, sesoi_reason: a test plan}
      - {id: H5.robustness.gap, role: robustness, model: H5, term: unrepresented,
         concern_sign: -1, sesoi: 5.0, sesoi_reason: a test plan}
disparities:
  dimensions: [represented]
  bootstrap_replicates: 50
  adjusted: false
"""


@pytest.fixture(scope="module")
def small_audit(tmp_path_factory):
    import yaml

    from fairness_audit.audit import run_audit
    from fairness_audit.simulate import SimulationParams, simulate
    from fairness_audit.tables import TablePaths, write_decision_data

    root = tmp_path_factory.mktemp("ovb")
    sim = simulate(dataclasses.replace(SimulationParams(), n_courts=2), seed=5)
    (root / "data").mkdir()
    paths = TablePaths.from_path(root / "data" / "court.parquet")
    write_decision_data(paths, sim.decisions, sim.workload, sim.ledger, sim.metadata)
    out = root / "out"
    results = run_audit(paths.decisions, parse_config(yaml.safe_load(PLAN), "plan"), out)
    return results, out


def test_audit_writes_an_item_for_each_linear_test_of_the_plan_roles(small_audit):
    results, _ = small_audit
    items = {s["test_id"]: (h, s) for h in results["hypotheses"] for s in h.get("sensitivity", [])}
    # the cell-mean model, the difference-in-differences analysis and the pyfixest model; the
    # robustness test is not among the plan's roles
    assert sorted(items) == ["H1.primary", "H1.supporting.before_covid", "H5.primary"]
    rows = {t["id"]: t for h in results["hypotheses"] for t in h["tests"]}
    for test_id, (_, s) in items.items():
        assert s["kind"] == "omitted_variable" and s["scale"] == rows[test_id]["scale"]
        # the same point estimate as the test, the classical error beside it
        assert s["estimate"] == pytest.approx(rows[test_id]["estimate"], rel=1e-9)
        assert s["t_classical"] == pytest.approx(s["estimate"] / s["std_error_classical"])
        assert 0 <= s["rv_alpha"] <= s["rv"] <= 1
    assert [b["label"] for b in items["H5.primary"][1]["benchmarks"]] == \
        ["1x detained", "2x detained", "3x detained"]
    assert items["H1.primary"][1]["benchmarks"] == []  # no control in the model
    assert "No benchmark for detained" in items["H1.primary"][1]["note"]


def test_report_shows_each_item_with_sourced_numbers(small_audit):
    from fairness_audit.report.numbers import check_html

    results, out = small_audit
    page = (out / "report.html").read_text()
    assert check_html(page, results) == []
    h5 = next(i for i, h in enumerate(results["hypotheses"]) if h["id"] == "H5")
    for key in ("partial_r2", "rv", "benchmarks/0/adjusted_estimate",
                "benchmarks/2/adjusted_ci_high"):
        assert f'data-src="/hypotheses/{h5}/sensitivity/0/{key}"' in page
    assert "Omitted-variable sensitivity of H5.primary" in page
    text = (out / "report.md").read_text()
    assert "**Omitted-variable sensitivity of H1.supporting.before\\_covid**" in text or \
        "**Omitted-variable sensitivity of H1.supporting.before_covid**" in text
    assert "| 3x as strong as detained |" in text


def test_partials_render_impossible_benchmarks_and_items_not_computed():
    from fairness_audit.report.numbers import check_html, sourced
    from fairness_audit.report.render import _environment

    item = ov.sensitivity(-0.8, 0.2, 40, alpha=0.05, benchmarks={"a|b": (0.45, 0.3)},
                          multiples=[1, 3]).to_dict()
    assert item["benchmarks"][1]["adjusted_estimate"] is None  # 3x would exceed all of it
    results = {"hypotheses": [{"id": "H5", "sensitivity": [
        {"kind": "omitted_variable", "test_id": "H5.primary", "model": "H5", "term": "x:y",
         "scale": "percentage-points", **item},
        {"kind": "omitted_variable", "test_id": "H5.other", "model": "H5", "term": "z",
         "scale": "percentage-points", "note": "not computed: singular matrix"}]}]}
    r = sourced(results)
    env = _environment()
    html = "".join(env.get_template("_sensitivity_omitted_variable.html.j2").render(s=s)
                   for s in r["hypotheses"][0]["sensitivity"])
    assert check_html(html, results) == []
    assert 'data-src="/hypotheses/0/sensitivity/0/benchmarks/0/adjusted_ci_low"' in html
    assert "impossible" in html and "not computed: singular matrix" in html
    assert "(the table compares it with an observed control)" in html
    md = "".join(env.get_template("_sensitivity_omitted_variable.md.j2").render(s=s)
                 for s in r["hypotheses"][0]["sensitivity"])
    assert "| 1x as strong as a\\|b |" in md  # a label's pipe cannot end a table cell
    assert "| 3x as strong as a\\|b | impossible" in md
