"""Design checks judged by relevance, guards, and the plan's forcing checks (contract section 6)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_models_marginal import TERMS, court_frame

from fairness_audit.checks import guard_check, judge_check
from fairness_audit.config import parse_config
from fairness_audit.errors import ConfigError
from fairness_audit.features import AnalysisFrame
from fairness_audit.hypotheses import run_hypotheses
from fairness_audit.inference import CONSISTENT, INCONCLUSIVE

RULE = {"rule": "relevance", "margin": 1.0, "alpha": 0.05}
T95_99 = 1.6603911559963895  # qt(0.95, 99) in R


def test_relevance_passes_a_significant_deviation_shown_small():
    # 0.02 +/- 1.6604 x 0.005: [0.0117, 0.0283], inside +/- 0.05
    c = judge_check({"significant": True, "estimate": 0.02, "std_error": 0.005, "df": 99},
                    sesoi=0.05, **RULE)
    assert c["passed"] is True and c["shown_small"] is True and c["bound"] == 0.05
    assert c["equivalence_low"] == pytest.approx(0.02 - T95_99 * 0.005, rel=1e-12)
    assert c["equivalence_high"] == pytest.approx(0.02 + T95_99 * 0.005, rel=1e-12)


def test_relevance_fails_a_significant_deviation_not_shown_small():
    # 0.04 +/- 1.6604 x 0.01 = [0.0234, 0.0566]: beyond 0.05, so not shown small
    c = judge_check({"significant": True, "estimate": 0.04, "std_error": 0.01, "df": 99},
                    sesoi=0.05, **RULE)
    assert c["passed"] is False and c["shown_small"] is False
    # a margin of 2 (bound 0.1) shows it small
    assert judge_check({"significant": True, "estimate": 0.04, "std_error": 0.01, "df": 99},
                       sesoi=0.05, rule="relevance", margin=2.0, alpha=0.05)["passed"] is True


def test_an_imprecise_deviation_passes_as_before_and_significance_rule_is_kept():
    wide = {"significant": False, "estimate": 0.2, "std_error": 0.15, "df": 20}
    assert judge_check(wide, sesoi=0.05, **RULE)["passed"] is True
    small = {"significant": True, "estimate": 0.02, "std_error": 0.005, "df": 99}
    assert judge_check(small, sesoi=0.05, rule="significance", margin=1.0, alpha=0.05)["passed"] is False
    assert judge_check({"significant": None}, sesoi=0.05, **RULE)["passed"] is None


def test_a_joint_check_holds_every_coefficient_to_the_bound():
    coefs = [{"term": "a", "estimate": 0.01, "std_error": 0.004},
             {"term": "b", "estimate": -0.045, "std_error": 0.004}]  # b: [-0.0516, -0.0384]
    c = judge_check({"significant": True, "coefficients": coefs, "df": 2, "df_t": 99},
                    sesoi=0.05, **RULE)
    assert c["passed"] is False and c["shown_small"] is False
    assert c["coefficients"][1]["equivalence_low"] == pytest.approx(-0.045 - T95_99 * 0.004)
    coefs[1]["estimate"] = -0.03
    assert judge_check({"significant": True, "coefficients": coefs, "df": 2, "df_t": 99},
                       sesoi=0.05, **RULE)["passed"] is True


def _row(**kw):
    base = {"id": "G", "model": "M", "concern_sign": -1, "estimate": -0.1, "std_error": 0.04,
            "ci_low": -0.18, "ci_high": -0.02, "p_value": 0.01, "verdict_reason": None}
    return {**base, **kw}


def test_a_guard_must_exclude_zero_with_the_concerns_sign():
    primary = _row(id="P")
    assert guard_check(primary, _row())["passed"] is True
    assert guard_check(primary, _row(ci_high=0.01))["passed"] is False
    assert guard_check(primary, _row(estimate=0.1, ci_low=0.02, ci_high=0.18))["passed"] is False
    missing = guard_check(primary, _row(estimate=None, ci_low=None, ci_high=None,
                                        verdict_reason="not estimable: docket"))
    assert missing["passed"] is None and missing["note"] == "not estimable: docket"


def _frame(seed: int = 11) -> pd.DataFrame:
    frame = court_frame(per_judge=250, seed=seed)
    rng = np.random.default_rng(seed)
    # pre-policy decisions in 2017, post-policy ones in 2019-2020
    days = np.where(frame["post_policy"] == 1, rng.integers(0, 700, len(frame)) + 17897,
                    rng.integers(0, 300, len(frame)) + 17167)
    frame["decision_date"] = pd.to_datetime(days, unit="D")
    frame["docket"] = pd.Series(np.where(rng.random(len(frame)) < 0.1, "MPP", None),
                                dtype="string")
    frame["case_type"] = np.where(rng.random(len(frame)) < 0.9, "RMV", "DEP")
    return frame


def _config(guard_model: dict, **hyp) -> dict:
    model = {"family": "logit", "outcome": "granted", "terms": list(TERMS),
             "fixed_effects": ["judge_id", "fiscal_year"]}
    test = {"id": "H2.primary", "role": "primary", "model": "A", "term": "post_policy:quota_shortfall",
            "concern_sign": -1, "sesoi": 0.05, "sesoi_reason": "test", "guards": ["H2.guard"]}
    guard = {**test, "id": "H2.guard", "role": "robustness", "model": "G", "guards": []}
    return {"models": {"A": model, "G": {**model, **guard_model}},
            "hypotheses": {"H2": {"tests": [test, guard], **hyp}}}


def _h2(frame, config):
    hypotheses, models, _ = run_hypotheses(AnalysisFrame(frame), parse_config(config))
    tests = {t["id"]: t for t in hypotheses[0]["tests"]}
    guards = [c for c in hypotheses[0]["checks"] if c["kind"] == "guard"]
    return hypotheses[0], tests, guards, {m["name"]: m for m in models}


def test_a_guard_that_holds_keeps_the_verdict_and_counts_its_exclusions():
    frame = _frame()
    h, tests, guards, models = _h2(frame, _config({"exclude": {"docket": "all"}}))
    assert tests["H2.primary"]["verdict"] == CONSISTENT
    assert guards[0]["passed"] is True and guards[0]["applies_to"] == "H2.primary"
    assert models["G"]["sample"]["excluded"] == {"excluded by docket: any value":
                                                 int(frame["docket"].notna().sum())}
    assert models["G"]["n_obs"] == int(frame["docket"].isna().sum())


def test_a_guard_that_fails_turns_consistent_into_inconclusive_unless_not_forcing():
    frame = _frame()
    config = _config({"exclude": {"case_type": ["RMV"]}})  # 10% of the decisions are left
    h, tests, guards, models = _h2(frame, config)
    g = tests["H2.guard"]
    assert g["ci_low"] < 0 < g["ci_high"], "precondition: the guard's interval includes zero"
    assert guards[0]["passed"] is False
    assert tests["H2.primary"]["verdict"] == INCONCLUSIVE
    assert tests["H2.primary"]["verdict_reason"].startswith("guard failed: H2.guard's interval")
    assert "guard failed" in h["verdict_reason"]
    # not a forcing check: reported, verdict kept
    h, tests, guards, _ = _h2(frame, {**config, "hypotheses": {"H2": {
        **config["hypotheses"]["H2"], "forcing_checks": ["placebo_term"]}}})
    assert tests["H2.primary"]["verdict"] == CONSISTENT
    assert guards[0]["passed"] is False and guards[0]["forces_inconclusive"] is False


def test_an_end_date_leaves_out_later_decisions_and_a_guard_that_cannot_run_forces():
    frame = _frame()
    _, _, _, models = _h2(frame, _config({"end": "2019-06-01"}))
    later = int((frame["decision_date"] >= "2019-06-01").sum())
    assert models["G"]["sample"]["excluded"] == {
        "decided on or after 2019-06-01 or no decision date": later}
    # every post-policy decision after the end: the guard's term cannot be estimated
    _, tests, guards, _ = _h2(frame, _config({"end": "2018-10-01"}))
    assert guards[0]["passed"] is None
    assert tests["H2.primary"]["verdict"] == INCONCLUSIVE
    assert "could not be run" in tests["H2.primary"]["verdict_reason"]


def test_data_without_a_docket_column_make_the_docket_guard_equal_the_primary():
    frame = _frame().drop(columns="docket")
    _, tests, guards, models = _h2(frame, _config({"exclude": {"docket": "all"}}))
    assert models["G"]["n_obs"] == models["A"]["n_obs"]
    assert tests["H2.primary"]["verdict"] == CONSISTENT
    assert "nothing in these data falls under its restriction" in guards[0]["note"]


def test_guards_must_be_robustness_tests_of_the_same_hypothesis():
    config = _config({})
    config["hypotheses"]["H2"]["tests"][0]["guards"] = ["H9.guard"]
    with pytest.raises(ConfigError, match="names guard 'H9.guard', expected a robustness test"):
        parse_config(config)
    config = _config({"cluster": "judge_id"})
    config["hypotheses"]["H2"]["tests"][1]["concern_sign"] = 1
    with pytest.raises(ConfigError, match="has concern_sign 1, expected -1"):
        parse_config(config)


def test_the_brief_names_the_guard_that_did_not_confirm_a_finding():
    from fairness_audit.report.brief import how_sure

    test = {"verdict": INCONCLUSIVE, "verdict_reason": "guard failed: ...", "estimate": -0.1,
            "ci_low": -0.15, "ci_high": -0.05, "sesoi": 0.05, "concern_sign": -1,
            "failed_guards": ["H2.guard.before_covid"]}
    sure = how_sure(test)
    assert sure.key == "guard failed"
    assert sure.words == ("Cannot tell: the finding is not confirmed when the test is repeated "
                          "on the decisions made before the COVID closures of March 2020.")


def test_a_joint_checks_coefficients_are_one_cell_the_same_after_a_json_round_trip():
    import json

    from fairness_audit.report.report_tables import check_rows

    coefs = [{"term": "a", "estimate": np.float64(0.01), "std_error": 0.004}]
    judged = judge_check({"name": "pre-trend", "significant": True, "coefficients": coefs,
                          "df": 1, "df_t": 99, "statistic": 2.0, "p_value": 0.01},
                         sesoi=0.05, **RULE)
    results = {"hypotheses": [{"id": "H1", "checks": [judged]}]}
    direct = check_rows(results)
    again = check_rows(json.loads(json.dumps(results, default=float)))
    assert direct.to_csv(index=False) == again.to_csv(index=False)
    assert json.loads(direct.loc[0, "coefficients"])[0]["term"] == "a"
