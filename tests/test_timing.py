"""Policy-timing designs (fairness_audit/analyses/timing.py): event study, difference-in-differences,
pre-trend test, falsification checks, jackknife standard errors, figures.

Fast tests with fixed seeds on small simulations; the planted and null audits are the shared
session fixtures of conftest.py (6 courts x 5 judges, FY2014-FY2021).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from fairness_audit.analyses.timing import event_quarter, event_study, event_terms, wald_test
from fairness_audit.audit import compute_results
from fairness_audit.config import AnalysisSpec, ModelSpec, load_config, parse_config
from fairness_audit.errors import ConfigError
from fairness_audit.features import build_frame
from fairness_audit.inference import CONSISTENT, INCONCLUSIVE
from fairness_audit.models.design import build_design, column_for, term_for
from fairness_audit.models.regression import fit
from fairness_audit.simulate import SimulationParams, simulate
from fairness_audit.tables import TablePaths


def _hyp(results, hid):
    return next(h for h in results["hypotheses"] if h["id"] == hid)


def _test(results, test_id):
    return next(t for h in results["hypotheses"] for t in h["tests"] if t["id"] == test_id)


def _check(checks, prefix):
    return next(c for c in checks if c["name"].startswith(prefix))


def _only_h1(config):
    """The default plan reduced to H1 (its model, analyses and hypothesis)."""
    data = config.to_dict()
    data["hypotheses"] = {"H1": data["hypotheses"]["H1"]}
    names = {t["model"] for t in data["hypotheses"]["H1"]["tests"]} | set(data["hypotheses"]["H1"]["checks"])
    data["models"] = {k: v for k, v in data["models"].items() if k in names}
    data["analyses"] = {k: v for k, v in data["analyses"].items() if k in names}
    return parse_config(data)


# --- pieces ------------------------------------------------------------------------------------

def test_event_terms_map_to_engine_names_and_back():
    for term in ("event_time[-8]:pre_policy_gap", "event_time[0]:pre_policy_gap",
                 "event_time[11]:below_target", "post_policy:quota_shortfall:unrepresented"):
        column = column_for(term)
        assert column.replace("_", "").isalnum()  # formula-safe
        assert term_for(column) == term
    assert event_terms("pre_policy_gap", first=-2, last=1, reference=-1) == [
        "event_time[-2]:pre_policy_gap", "event_time[0]:pre_policy_gap", "event_time[1]:pre_policy_gap"]


def test_event_quarter_counts_calendar_quarters_and_bins_the_ends():
    dates = pd.Series(pd.to_datetime(["2018-09-30", "2018-10-01", "2018-12-31", "2019-01-01",
                                      "2016-10-01", "2016-09-30", "2021-09-30", "2022-01-05", None]))
    k = event_quarter(dates, dt.date(2018, 10, 1), first=-8, last=11)
    assert list(k[:8]) == [-1, 0, 0, 1, -8, -8, 11, 11]  # 2016-09-30 is quarter -9, binned
    assert np.isnan(k[8])


def test_unknown_option_is_named():
    frame = build_frame(*_tiny_sim(), load_config(), coverage_start="2013-10-01")
    spec = AnalysisSpec(kind="event_study", outcome="log_duration", options={"referenc_quarter": -1})
    with pytest.raises(ConfigError, match="referenc_quarter"):
        event_study(frame, load_config(), "H1_event", spec)
    spec = AnalysisSpec(kind="event_study", outcome="granted", options={"family": "poisson"})
    with pytest.raises(ConfigError, match="poisson"):
        event_study(frame, load_config(), "H1_event", spec)


def _tiny_sim():
    sim = simulate(dataclasses.replace(SimulationParams(), n_courts=2, judges_per_court=4,
                                       first_fiscal_year=2016, last_fiscal_year=2019), seed=3)
    return sim.decisions, sim.workload


# --- the audit on the planted and null tables ----------------------------------------------------

def test_h1_planted_effect_recovered_with_flat_pre_periods(planted_results, planted_table):
    results, out = planted_results
    targets = json.loads(TablePaths.from_path(planted_table).truth.read_text())["targets"]["H1"]
    primary = _test(results, "H1.primary")
    target = targets["post_policy:pre_policy_gap"]
    assert abs(primary["estimate"] - target) < 3.5 * primary["std_error"], (primary, target)
    assert primary["scale"] == "log-days" and primary["p_adjusted"] is not None
    assert primary["verdict"] == CONSISTENT
    h1 = _hyp(results, "H1")
    pretrend = _check(h1["checks"], "pre-trend (log_duration)")
    assert pretrend["passed"] is True and pretrend["df"] == 7 and pretrend["forces_inconclusive"]
    # supporting tests carry no adjusted p-value; the DiD of every outcome is reported
    for tid in ("H1.supporting.hearings", "H1.supporting.continuances", "H2.supporting.event_granted",
                "H2.supporting.event_removal", "H7.supporting.event_in_absentia"):
        t = _test(results, tid)
        assert t["estimate"] is not None and t["p_adjusted"] is None, t
    # the event-study series: every quarter, the reference at zero, post quarters near the target
    model = next(m for m in results["models"] if m["name"] == "H1_event_log_duration")
    ks = [r["k"] for r in model["series"]]
    assert ks == list(range(-8, 12))
    post = [r for r in model["series"] if r["k"] >= 0]
    assert np.mean([r["estimate"] for r in post]) == pytest.approx(target, abs=0.03)
    assert model["cov_type"] == "CRV3"
    assert (out / "figures" / "H1_event_log_duration.png").exists()
    assert (out / "figures" / "H2_event_granted.png").exists()
    assert (out / "figures" / "H7_event_in_absentia.png").exists()
    assert "H1_event_log_duration" in (out / "report.md").read_text()


def test_falsification_rows_and_judges_left_out(planted_results, planted_table):
    results, _ = planted_results
    h1 = _hyp(results, "H1")
    for prefix in ("placebo date 2017-10-01 (log_duration)", "placebo date 2016-10-01 (log_duration)",
                   "anticipation (log_duration)", "concurrent shock Matter of A-B- 2018-06-11",
                   "placebo date 2017-10-01 (n_hearings)"):
        assert _check(h1["checks"], prefix)["passed"] is not None, prefix
    reversal = _check(h1["checks"], "reversal after the suspension 2021-10-01 (log_duration)")
    assert reversal["passed"] is None and reversal["note"] == "not estimable: data end before 2021-10-01"
    placebo_2016 = next(m for m in results["models"]
                        if m["name"] == "H1_event_log_duration.placebo_2016-10-01")
    assert placebo_2016["intensity_window"] == [2014, 2015]
    # judges whose first completion is on or after the policy date are counted, not imputed
    judges = json.loads(TablePaths.from_path(planted_table).truth.read_text())["dgp"]["judges"]
    late = {j["judge_id"] for j in judges if j["joined"] >= "2018-10-01"}
    es = next(m for m in results["models"] if m["name"] == "H1_event_log_duration")
    assert es["judges"]["left_out"]["first completion on or after the policy date"] == len(late)
    assert es["judges"]["used"] == sum(j["pre_policy_gap"] is not None for j in judges)


def _primary_only(config):
    data = _only_h1(config).to_dict()
    data["hypotheses"]["H1"]["tests"] = data["hypotheses"]["H1"]["tests"][:1]
    data["analyses"] = {"H1_event_log_duration": data["analyses"]["H1_event_log_duration"]}
    return parse_config(data)


def test_h1_not_flagged_on_the_null(null_table):
    results = compute_results(null_table, _primary_only(load_config()))
    primary = _test(results, "H1.primary")
    assert primary["verdict"] != CONSISTENT, primary
    assert results["family"]["tests"] == ["H1.primary"]


# --- anticipation -----------------------------------------------------------------------------

def test_simulated_anticipation_is_caught_and_forces_inconclusive():
    from fairness_audit.hypotheses import run_hypotheses

    params = dataclasses.replace(SimulationParams(), n_courts=6, effect_start="2018-04-01")
    sim = simulate(params, seed=21)
    config = _primary_only(load_config())
    frame = build_frame(sim.decisions, sim.workload, config, coverage_start=sim.metadata["coverage_start"])
    hypotheses, _, _ = run_hypotheses(frame, config)
    anticipation = _check(hypotheses[0]["checks"], "anticipation (log_duration)")
    assert anticipation["passed"] is False and anticipation["estimate"] < 0, anticipation
    primary = hypotheses[0]["tests"][0]
    assert primary["verdict"] == INCONCLUSIVE and "anticipation" in primary["verdict_reason"]


def test_an_event_study_that_cannot_be_run_forces_the_primary_verdict(monkeypatch):
    """Contract section 6: a forcing check that cannot be run forces "inconclusive", also when
    the analysis that makes it could not be run at all."""
    from fairness_audit.errors import NotEstimable
    from fairness_audit.hypotheses import ANALYSES, run_hypotheses

    def not_estimable(frame, config, name, spec):
        raise NotEstimable("not estimable: pre_policy_gap (no judge with a complete year)")

    config = _primary_only(load_config())
    frame = build_frame(*_tiny_sim(), config, coverage_start="2015-10-01")
    monkeypatch.setitem(ANALYSES, "event_study", not_estimable)
    (h1,), _, _ = run_hypotheses(frame, config)
    unrun = [c for c in h1["checks"] if c["passed"] is None]
    assert {c["kind"] for c in unrun} == {"pre_trend", "anticipation"}
    assert all(c["forces_inconclusive"] and "no judge with a complete year" in c["note"] for c in unrun)
    primary = h1["tests"][0]
    assert primary["estimate"] is not None and primary["verdict"] == INCONCLUSIVE
    assert "could not be run" in primary["verdict_reason"], primary["verdict_reason"]


# --- independent computation ------------------------------------------------------------------

def test_event_study_matches_dummy_ols_and_brute_force_jackknife():
    """Coefficients against least squares with explicit judge and court x quarter dummies (numpy);
    the CRV3 covariance against leave-one-judge-out refits of that regression on the decisions."""
    decisions, workload = _tiny_sim()
    config = load_config()
    frame = build_frame(decisions, workload, config, coverage_start="2015-10-01")
    data = frame.data[frame.data["pre_policy_gap"].notna() & frame.data["decision_date"].notna()].copy()
    data = data.sample(frac=0.25, random_state=1)  # small enough for dummy columns
    k = event_quarter(data["decision_date"], config.policy.start, first=-3, last=3)
    for q in range(-3, 4):
        data[f"event_time[{q}]"] = (k == q).astype(float)
    terms = event_terms("pre_policy_gap", first=-3, last=3, reference=-1)
    spec = ModelSpec(family="ols", outcome="log_duration", terms=tuple(terms),
                     fixed_effects=("judge_id", "court_id^quarter"), cov_type="CRV3")
    design = build_design(data, spec)
    with pytest.warns(UserWarning):  # few judge clusters: the engine says so
        res = fit(design, name="tiny")

    rows = data.loc[design.data.index]
    X = pd.concat([
        pd.DataFrame({t: rows[t.split(":")[0]] * rows["pre_policy_gap"] for t in terms}),
        pd.get_dummies(rows["judge_id"], prefix="j", dtype=float),
        pd.get_dummies(rows["court_id"].astype(str) + rows["quarter"].astype(str), prefix="cq",
                       dtype=float, drop_first=True),
    ], axis=1)
    y = rows["log_duration"].to_numpy(dtype=float)

    def ols(keep):
        # judge and court x quarter dummies are collinear (judges sit in courts): the minimum-norm
        # least-squares solution leaves the event-time coefficients unique
        return np.linalg.lstsq(X.to_numpy()[keep], y[keep], rcond=None)[0][:len(terms)]

    full = ols(np.ones(len(y), dtype=bool))
    np.testing.assert_allclose(res.params[terms].to_numpy(), full, rtol=1e-6, atol=1e-9)
    judges = rows["judge_id"].astype(str).to_numpy()
    loo = [ols(judges != j) for j in np.unique(judges)]
    dev = np.array(loo) - full
    G = len(loo)
    v3 = (G - 1) / G * dev.T @ dev
    # the jackknife on cell means is exact: covariance to numerical precision
    np.testing.assert_allclose(res.cov.loc[terms, terms].to_numpy(), v3, rtol=1e-5, atol=1e-12)
    # joint Wald test of the two pre-period terms, by hand
    pre = terms[:2]
    b = full[:2]
    f_hand = b @ np.linalg.solve(v3[:2, :2], b) / 2
    f, q, df2, p = wald_test(res, pre)
    assert (q, df2) == (2, G - 1)
    assert f == pytest.approx(f_hand, rel=1e-5)
    assert p == pytest.approx(stats.f.sf(f_hand, 2, G - 1), rel=1e-4)
