"""Every fitting problem gives a warning in the report or a clear message, never a crash or NaN."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from test_models_marginal import TERMS, court_frame

from fairness_audit.config import ModelSpec, parse_config
from fairness_audit.errors import AuditError, ModelWarning
from fairness_audit.features import AnalysisFrame
from fairness_audit.hypotheses import run_hypotheses
from fairness_audit.inference import INCONCLUSIVE
from fairness_audit.models.design import build_design
from fairness_audit.models.regression import fit

FE = ("judge_id", "fiscal_year")


def _design(frame, terms=TERMS, fixed_effects=FE, family="logit"):
    return build_design(frame, ModelSpec(family=family, outcome="granted", terms=terms,
                                         fixed_effects=fixed_effects))


def test_logit_with_few_decisions_per_judge_warns():
    frame = court_frame(n_judges=40, per_judge=60)
    with pytest.warns(ModelWarning, match="incidental-parameter"):
        result = fit(_design(frame), name="few")
    assert any("incidental-parameter" in w for w in result.warnings)
    assert any("incidental-parameter" in w for w in result.to_dict()["warnings"])


def test_enough_decisions_per_judge_do_not_warn():
    frame = court_frame(n_judges=40, per_judge=250)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ModelWarning)
        result = fit(_design(frame), name="enough")
    assert result.warnings == ()


@pytest.mark.parametrize("fixed_effects", [FE, ()])
def test_separation_by_a_binary_term_is_a_clear_error(fixed_effects):
    frame = court_frame(per_judge=250)
    frame.loc[frame["detained"] == 1, "granted"] = 0.0
    with pytest.raises(AuditError, match="separation: every decision with detained = 1"):
        fit(_design(frame, fixed_effects=fixed_effects), name="separated")


def test_fixed_effect_group_with_one_outcome_is_dropped_and_counted():
    frame = court_frame(per_judge=250)
    frame.loc[frame["judge_id"] == "J000", "granted"] = 0.0
    with pytest.warns(ModelWarning, match="dropped by the engine"):
        result = fit(_design(frame), name="constant judge")
    reason = "dropped by the engine: singleton or constant-outcome fixed-effect group"
    assert result.excluded[reason] == 250
    assert result.n_obs == len(frame) - 250
    assert all(math.isfinite(v) for v in result.params)


@pytest.mark.parametrize("fixed_effects", [FE, ()])
def test_non_convergence_is_a_clear_error(fixed_effects):
    frame = court_frame(per_judge=250)
    with pytest.raises(AuditError, match="did not converge in 1 iterations"):
        fit(_design(frame, fixed_effects=fixed_effects), name="short", max_iter=1)


def test_tiny_group_warns():
    frame = court_frame(per_judge=250)
    frame["juvenile"] = 0.0
    frame.loc[frame.index[:40], "juvenile"] = 1.0  # 40 decisions of one judge
    with pytest.warns(ModelWarning, match="term 'juvenile' rests on 40 decisions of 1 judges"):
        fit(_design(frame, terms=TERMS + ("juvenile",)), name="tiny")


def _one_model_plan():
    """A plan with one logit model M and H2's primary test reading it."""
    return parse_config({
        "models": {"M": {"family": "logit", "outcome": "granted", "terms": list(TERMS),
                         "fixed_effects": list(FE)}},
        "hypotheses": {"H2": {"tests": [{
            "id": "H2.primary", "role": "primary", "model": "M", "term": "post_policy:quota_shortfall",
            "concern_sign": -1, "sesoi": 0.05, "sesoi_reason": "test"}]}},
    })


def test_a_model_that_cannot_be_fitted_makes_its_tests_inconclusive_with_the_reason():
    frame = court_frame(per_judge=250)
    frame.loc[frame["detained"] == 1, "granted"] = 0.0
    config = _one_model_plan()
    hypotheses, models, family = run_hypotheses(AnalysisFrame(frame), config)
    test = hypotheses[0]["tests"][0]
    assert test["estimate"] is None and test["verdict"] == INCONCLUSIVE
    assert "separation" in test["verdict_reason"]
    assert hypotheses[0]["verdict"] == INCONCLUSIVE
    assert "separation" in models[0]["warnings"][0]
    json.dumps({"h": hypotheses, "m": models}, allow_nan=False)  # no NaN anywhere


def test_fitted_model_reports_no_nan():
    frame = court_frame(per_judge=250)
    config = _one_model_plan()
    hypotheses, models, _ = run_hypotheses(AnalysisFrame(frame), config)
    test = hypotheses[0]["tests"][0]
    assert np.isfinite([test["estimate"], test["std_error"], test["ci_low"], test["ci_high"]]).all()
    assert test["marginal_effect"]["term"] == "post_policy:quota_shortfall"
    json.dumps({"h": hypotheses, "m": models}, allow_nan=False)


def test_marginal_effects_line_up_after_the_engine_drops_singletons():
    frame = court_frame(per_judge=250).iloc[::-1]  # labels out of order
    frame = frame.drop(frame.index[5:20])
    extra = frame.iloc[[0]].assign(judge_id="J999")  # a singleton judge, dropped by the engine
    frame = pd.concat([frame.iloc[1:], extra])
    with pytest.warns(ModelWarning, match="dropped by the engine"):
        result = fit(_design(frame), name="singleton", marginal_terms=("post_policy:quota_shortfall",))
    (ame,) = result.marginal_effects
    assert ame.n_rows == int((frame["post_policy"] == 1).sum()) - int(extra["post_policy"].iloc[0] == 1)
    assert np.isfinite(ame.estimate) and ame.std_error > 0


def test_a_term_collinear_with_the_fixed_effects_is_not_estimable_and_the_rest_stands():
    frame = court_frame(per_judge=250)  # post_policy is a function of fiscal_year
    config = parse_config({
        "models": {"M": {"family": "logit", "outcome": "granted", "terms": list(TERMS) + ["post_policy"],
                         "fixed_effects": list(FE)}},
        "hypotheses": {"H2": {"tests": [
            {"id": "H2.primary", "role": "primary", "model": "M", "term": "post_policy:quota_shortfall",
             "concern_sign": -1, "sesoi": 0.05, "sesoi_reason": "test"},
            {"id": "H2.supporting", "role": "supporting", "model": "M", "term": "post_policy",
             "concern_sign": -1, "sesoi": 0.05, "sesoi_reason": "test"}]}},
    })
    hypotheses, models, _ = run_hypotheses(AnalysisFrame(frame), config)
    primary, collinear = hypotheses[0]["tests"]
    assert primary["estimate"] is not None
    assert collinear["estimate"] is None and "not estimable: post_policy" in collinear["verdict_reason"]
    assert any("collinear" in w for w in models[0]["warnings"])
    json.dumps({"h": hypotheses, "m": models}, allow_nan=False)


def test_placebo_is_not_estimable_when_the_window_starts_after_fy2017():
    frame = court_frame(per_judge=250)
    tests = [{"id": "H2.primary", "role": "primary", "model": "M", "term": "post_policy:quota_shortfall",
              "concern_sign": -1, "sesoi": 0.05, "sesoi_reason": "test"},
             {"id": "H2.placebo", "role": "placebo", "model": "M", "term": "quota_shortfall",
              "concern_sign": -1, "sesoi": 0.05, "sesoi_reason": "test"}]
    model = {"family": "logit", "outcome": "granted", "terms": list(TERMS), "fixed_effects": list(FE)}
    late = parse_config({"window": {"start": "2018-01-01", "end": "2021-10-01"},
                         "models": {"M": model}, "hypotheses": {"H2": {"tests": tests}}})
    hypotheses, _, _ = run_hypotheses(AnalysisFrame(frame), late)
    primary, placebo = hypotheses[0]["tests"]
    assert primary["estimate"] is not None
    assert placebo["estimate"] is None
    assert placebo["verdict_reason"].startswith("not estimable: quota_shortfall")
    assert hypotheses[0]["checks"][0]["passed"] is None  # a placebo not run forces nothing


def test_a_sample_of_fixed_effect_singletons_is_not_estimable_not_a_crash():
    """Three decisions by three judges: every row is the only one of its judge, so the engine
    would drop them all (and abort the process while demeaning nothing). The fit says so first."""
    import pandas as pd

    from fairness_audit.config import ModelSpec
    from fairness_audit.errors import NotEstimable
    from fairness_audit.models.design import build_design
    from fairness_audit.models.regression import fit

    frame = pd.DataFrame({"granted": [0.0, 0.0, 1.0], "unrepresented": [1.0, 1.0, 0.0],
                          "judge_id": ["J1", "J2", "J3"], "fiscal_year": [2017, 2018, 2018]})
    spec = ModelSpec(family="ols", outcome="granted", terms=("unrepresented",),
                     fixed_effects=("judge_id", "fiscal_year"))
    with pytest.raises(NotEstimable, match=r"0 of 3 rows are left once fixed-effect levels with "
                                           r"a single decision are dropped"):
        fit(build_design(frame, spec), name="tiny")
