"""The simulator's stress scenarios (fairness_audit/scenarios.py, docs/simulator.md).

Small court systems (4 courts of 3 judges, FY2015-FY2021), so that the whole file runs in
seconds; the bias each scenario puts on the primary design at 100 judges is measured by
benchmarks/scenario_bias.py and reported in docs/simulator.md.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy.special import logit
from typer.testing import CliRunner

from fairness_audit.cli import app
from fairness_audit.config import AuditConfig, load_config
from fairness_audit.errors import ConfigError
from fairness_audit.scenarios import SCENARIOS, draw_stress, resolve_size
from fairness_audit.schema import coerce_decisions, validate_decisions
from fairness_audit.simulate import SimulationParams, simulate
from fairness_audit.tables import TablePaths, read_decision_data
from fairness_audit.truth import causal_effects, model_targets

SMALL = SimulationParams(n_courts=4, judges_per_court=3, first_fiscal_year=2015)
POLICY = pd.Timestamp("2018-10-01")
runner = CliRunner()


@pytest.fixture(scope="module")
def sims() -> dict[str, object]:
    """One null draw of each scenario at the small size (national: its drift at this size)."""
    return {s: simulate(dataclasses.replace(SMALL, scenario=s).null(), seed=5)
            for s in ("none", "drift", "shocks", "feedback")}


def _judges(sim) -> pd.DataFrame:
    return pd.DataFrame(sim.truth["dgp"]["judges"]).set_index("judge_id")


def _small_plan() -> AuditConfig:
    """H1, and H2 and H7 with the fixed effects F (judge, fiscal year, fiscal month,
    nationality, case type) that the scenarios are built to bias; their primary and placebo
    tests only."""
    plan = load_config()
    models = {"H1": plan.models["H1"]}
    for hid in ("H2", "H7"):
        models[hid] = plan.models[hid].model_copy(update={"fixed_effects": plan.fixed_effects})
    hypotheses = {
        hid: plan.hypotheses[hid].model_copy(update={"checks": (), "tests": tuple(
            t.model_copy(update={"guards": ()}) for t in plan.hypotheses[hid].tests
            if t.model == hid and t.role in ("primary", "placebo"))})
        for hid in models}
    return plan.model_copy(update={"models": models, "analyses": {}, "hypotheses": hypotheses})


# --------------------------------------------------------------------------- the option itself
def test_unknown_scenario_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match=r"scenario: expected one of none, drift, shocks, "
                                          r"feedback, national; found 'covid'"):
        SimulationParams(scenario="covid")
    with pytest.raises(ConfigError, match=r"sim.yaml: key 'scenario': expected one of none, "
                                          r"drift, shocks, feedback, national; found 'Drift'"):
        SimulationParams.from_dict({"scenario": "Drift"}, source="sim.yaml")
    out = tmp_path / "court.parquet"
    result = runner.invoke(app, ["simulate", "--out", str(out), "--scenario", "covid"])
    assert result.exit_code == 1
    assert ("--scenario: expected one of none, drift, shocks, feedback, national; found 'covid'"
            in result.output)
    assert "Traceback" not in result.output and not out.exists()
    result = runner.invoke(app, ["simulate", "--out", str(out), "--scenario", "national",
                                 "--decisions", "1000"])
    assert result.exit_code == 1 and "'national' sets its own size" in result.output
    assert "Traceback" not in result.output
    help_text = runner.invoke(app, ["simulate", "--help"]).output
    for name in SCENARIOS:
        assert name in help_text


@pytest.mark.parametrize("scenario", ["none", "drift", "shocks", "feedback"])
def test_each_scenario_is_deterministic(sims, scenario):
    again = simulate(dataclasses.replace(SMALL, scenario=scenario).null(), seed=5)
    sim = sims[scenario]
    pd.testing.assert_frame_equal(sim.decisions, again.decisions)
    pd.testing.assert_frame_equal(sim.workload, again.workload)
    pd.testing.assert_frame_equal(sim.expected, again.expected)
    assert sim.truth == again.truth
    # every scenario keeps the contract's columns, the ledger's sums and the workload file
    assert validate_decisions(sim.decisions) == []
    entry = sim.ledger["simulated_completions"]
    assert entry["rows_read"] == len(sim.workload) == entry["used"] + sum(entry["set_aside"].values())
    assert entry["used"] == len(sim.decisions) == int((sim.workload["kind"] == "merits").sum())
    assert str(sim.decisions["docket"].dtype) == "string"


def test_drift_leaves_every_draw_of_the_default_process_alone(sims):
    """The scenario draws from its own stream: with drift only the outcomes can differ from
    scenario none, and the drift world without its deviations is scenario none exactly (for
    the outcomes that do not depend on the drawn duration, which drift moves)."""
    none, drift = sims["none"], sims["drift"]
    same = ["judge_id", "decision_date", "detained", "represented", "nationality", "case_type"]
    pd.testing.assert_frame_equal(none.decisions[same], drift.decisions[same])
    columns = ["p_in_absentia", "p_grant", "p_removal", "log_duration_mean", "quota_shortfall"]
    pd.testing.assert_frame_equal(none.expected[columns], drift.expected_planted[columns])
    assert not none.expected["p_grant"].equals(drift.expected["p_grant"])


def test_docket_is_set_only_in_shocks(sims):
    for scenario in ("none", "drift", "feedback"):
        assert sims[scenario].decisions["docket"].isna().all(), scenario
    d = sims["shocks"].decisions
    on = d["docket"].notna()
    assert set(d.loc[on, "docket"]) == {"MPP", "family_unit"}
    assert (d.loc[on, "decision_date"] >= pd.Timestamp("2018-11-01")).all()
    assert not d.loc[on, "detained"].any()
    holders = sims["shocks"].truth["dgp"]["stress"]["special_dockets"]
    assert set(d.loc[on, "judge_id"]) == set(holders)
    # a docket judge's non-detained decisions after the start: about docket_share on the docket
    theirs = d[d["judge_id"].isin(holders) & ~d["detained"]
               & (d["decision_date"] >= pd.Timestamp("2018-11-01"))]
    assert theirs["docket"].notna().mean() == pytest.approx(0.5, abs=0.03)


def test_special_dockets_sit_with_the_slowest_judges_of_a_few_courts(sims):
    sim = sims["shocks"]
    judges = _judges(sim)
    holders = sim.truth["dgp"]["stress"]["special_dockets"]
    courts = judges.loc[list(holders), "court_id"].unique()
    assert len(courts) == SMALL.docket_courts
    for court in courts:
        members = judges[judges["court_id"] == court].sort_values("pace")
        assert set(members.index[:2]) == {j for j in holders if judges.loc[j, "court_id"] == court}
    # their decisions: in absentia and grant log-odds and mean log duration moved by exactly the
    # docket's parameters, the others not at all
    d, e, base = sim.decisions, sim.expected, sim.expected_planted
    closure = d["decision_date"].between("2020-03-01", "2020-09-30").to_numpy()
    on = d["docket"].notna().to_numpy() & ~closure  # the closure adds its own terms
    ia = logit(e["p_in_absentia"]) - logit(base["p_in_absentia"])
    grant = logit(e["p_grant"]) - logit(base["p_grant"])
    assert on.sum() > 100
    assert np.allclose(ia[on], 2.0) and np.allclose(grant[on], -2.0)
    assert np.allclose((e["log_duration_mean"] - base["log_duration_mean"])[on], -1.0)
    ordinary = d["docket"].isna().to_numpy() & ~closure
    assert np.allclose(ia[ordinary], 0.0) and np.allclose(grant[ordinary], 0.0)


def test_closure_empties_the_non_detained_dockets_of_half_the_courts(sims):
    sim = sims["shocks"]
    d = sim.decisions.assign(month=sim.decisions["decision_date"].dt.to_period("M"))
    closed = sim.truth["dgp"]["stress"]["closed_courts"]
    assert len(closed) == SMALL.n_courts // 2
    d["closed"] = d["court_id"].isin(closed)

    def count(months: slice, *, detained: bool, in_closed: bool) -> int:
        part = d[(d["detained"] == detained) & (d["closed"] == in_closed)]
        return int(part.set_index("month").sort_index().loc[months].shape[0])

    during, year_before = slice("2020-03", "2020-09"), slice("2019-03", "2019-09")
    after, year_before_after = slice("2020-10", "2021-03"), slice("2019-10", "2020-02")
    # closed courts: about closure_open_share (0.3) of the usual non-detained decisions (judges
    # behind the target speed up a little)
    ratio = count(during, detained=False, in_closed=True) / count(year_before, detained=False,
                                                                  in_closed=True)
    assert 0.2 < ratio < 0.45
    # the detained docket goes on, and the open courts decide as before
    assert count(during, detained=True, in_closed=True) / count(
        year_before, detained=True, in_closed=True) > 0.8
    assert count(during, detained=False, in_closed=False) / count(
        year_before, detained=False, in_closed=False) > 0.8
    # then the backlog: more non-detained decisions than before the closure (per month)
    per_month_after = count(after, detained=False, in_closed=True) / 6
    per_month_before = count(year_before_after, detained=False, in_closed=True) / 5
    assert per_month_after > 1.2 * per_month_before
    # the non-detained cases still decided while closed fare worse: exactly the closure's terms
    rows = (d["closed"] & ~d["detained"] & d["docket"].isna()
            & d["decision_date"].between("2020-03-01", "2020-09-30")).to_numpy()
    grant = logit(sim.expected["p_grant"]) - logit(sim.expected_planted["p_grant"])
    assert rows.sum() > 100 and np.allclose(grant[rows], SimulationParams().closure_grant)
    assert np.allclose(grant[~rows & d["docket"].isna().to_numpy()], 0.0)
    # judges fall behind while it lasts: the closed courts' mean shortfall rises above the open
    sf = sim.expected["quota_shortfall"]
    spring = d["decision_date"].between("2020-06-01", "2020-09-30")
    assert sf[spring & d["closed"]].mean() > sf[spring & ~d["closed"]].mean() + 0.3


def test_feedback_hardens_the_slowest_judges_dockets_after_the_policy(sims):
    sim = sims["feedback"]
    judges = _judges(sim)
    hard = sim.truth["dgp"]["stress"]["hard_dockets"]
    for _, members in judges.groupby("court_id"):
        assert [j for j in members.sort_values("pace").index[:1]] == [
            j for j in members.index if j in hard]  # round(0.3 x 3) = 1 judge a court
    d = sim.decisions
    years = ((d["decision_date"] - POLICY).dt.days / 365.25).to_numpy()
    difficulty = np.where(d["judge_id"].isin(hard), np.clip(years / 1.5, 0, 1), 0.0)
    grant = logit(sim.expected["p_grant"]) - logit(sim.expected_planted["p_grant"])
    ia = logit(sim.expected["p_in_absentia"]) - logit(sim.expected_planted["p_in_absentia"])
    assert np.allclose(grant, -0.3 * difficulty) and np.allclose(ia, 0.3 * difficulty)
    # harder dockets slow their judges down: FY2021 merits decisions against the same court
    # system with dockets that do not slow anyone (catching up on the shortfall makes up a part)
    easy = simulate(dataclasses.replace(SMALL, scenario="feedback", feedback_pace=1.0).null(),
                    seed=5).decisions
    fy2021 = (d[d["fiscal_year"] == 2021].groupby("judge_id").size()
              / easy[easy["fiscal_year"] == 2021].groupby("judge_id").size())
    assert fy2021[hard].mean() < 0.92
    assert fy2021.drop(hard).mean() == pytest.approx(1.0, abs=0.05)


def test_drift_slopes_have_the_specified_sign_and_size(sims):
    plan = load_config()
    sesoi = {t.model: t.sesoi for h in plan.hypotheses.values() for t in h.tests
             if t.role == "primary" and t.model in ("H1", "H2", "H7")}
    p = SimulationParams()
    # per year and 100 cases of gap, below a tenth of the test's smallest effect of interest,
    # in the concern's direction (shorter cases, fewer grants, more in-absentia orders)
    assert -0.1 * sesoi["H1"] < p.drift_duration < 0
    assert -0.1 * sesoi["H2"] < p.drift_grant < 0
    assert 0 < p.drift_in_absentia < 0.1 * sesoi["H7"]
    sim = sims["drift"]
    gap = _judges(sim)["pre_policy_gap"].fillna(0.0)  # judges without a gap do not drift
    d = sim.decisions
    slope = gap.reindex(d["judge_id"]).to_numpy() * (d["decision_date"] - POLICY).dt.days / 365.25
    grant = logit(sim.expected["p_grant"]) - logit(sim.expected_planted["p_grant"])
    ia = logit(sim.expected["p_in_absentia"]) - logit(sim.expected_planted["p_in_absentia"])
    dur = sim.expected["log_duration_mean"] - sim.expected_planted["log_duration_mean"]
    assert np.allclose(grant, p.drift_grant * slope, atol=1e-12)
    assert np.allclose(ia, p.drift_in_absentia * slope, atol=1e-12)
    assert np.allclose(dur, p.drift_duration * slope, atol=1e-12)
    assert (gap > 1).sum() >= 3  # behind-target judges are there to drift


def test_national_size():
    p = resolve_size(SimulationParams(scenario="national"))
    assert p.n_courts * p.judges_per_court >= 500
    # a scaled run: national's judges on 4 courts, merits decisions in the analysis window per
    # judge, times the national number of judges
    scaled = simulate(dataclasses.replace(SimulationParams(scenario="national", national_courts=4,
                                                           first_fiscal_year=2015)), seed=2)
    d = scaled.decisions
    assert d["judge_id"].nunique() == 4 * p.national_judges_per_court
    window = d["decision_date"].between("2016-10-01", "2021-09-30").sum()
    assert window / d["judge_id"].nunique() * p.n_courts * p.judges_per_court > 2_000_000
    # national is drift at that size
    assert not scaled.expected["p_grant"].equals(scaled.expected_planted["p_grant"])
    assert scaled.decisions["docket"].isna().all()


def test_stress_draws_use_their_own_stream():
    pace = np.linspace(400, 900, 12)
    courts = np.repeat(np.arange(4), 3)
    a = draw_stress(dataclasses.replace(SMALL, scenario="shocks"), seed=1, pace=pace,
                    court_of_judge=courts)
    b = draw_stress(dataclasses.replace(SMALL, scenario="shocks"), seed=1, pace=pace,
                    court_of_judge=courts)
    assert (a.closed_courts == b.closed_courts).all() and a.closed_courts.sum() == 2
    assert all(draw_stress(dataclasses.replace(SMALL, scenario=s), seed=1, pace=pace,
                           court_of_judge=courts).rate_factor(courts, np.arange(10)) is None
               for s in ("none", "drift", "national"))


# --------------------------------------------------------------------------- truth: causal
def test_causal_effect_is_zero_under_null_whatever_the_bias(sims):
    plan = _small_plan()
    sim = sims["drift"]
    decisions, _ = coerce_decisions(sim.decisions)
    start = sim.metadata["coverage_start"]
    causal = causal_effects(decisions, sim.workload, sim.expected_planted,
                            sim.expected_unplanted, plan, coverage_start=start)
    assert causal == {"H1": {"post_policy:pre_policy_gap": 0.0},
                      "H2": {"post_policy:quota_shortfall": 0.0, "quota_shortfall": 0.0},
                      "H7": {"post_policy:quota_shortfall": 0.0, "quota_shortfall": 0.0}}
    # while each model's pseudo-true target carries the drift, toward the concern: the bias is
    # the target less the target of the same draw without the drift
    targets = model_targets(decisions, sim.workload, sim.expected, plan, coverage_start=start)
    without = model_targets(decisions, sim.workload, sim.expected_planted, plan,
                            coverage_start=start)
    bias = {m: targets[m][t] - without[m][t] for m, t in (
        ("H1", "post_policy:pre_policy_gap"), ("H2", "post_policy:quota_shortfall"),
        ("H7", "post_policy:quota_shortfall"))}
    assert bias["H1"] < -0.005 and bias["H2"] < -0.005 and bias["H7"] > 0.005
    # drift is small: each below the tests' smallest effect of interest (0.05)
    assert max(abs(b) for b in bias.values()) < 0.05


def test_causal_effect_is_the_planted_value_apart_from_the_bias():
    plan = _small_plan()
    p = dataclasses.replace(SMALL, scenario="feedback")
    sim = simulate(p, seed=6)
    decisions, _ = coerce_decisions(sim.decisions)
    start = sim.metadata["coverage_start"]
    causal = causal_effects(decisions, sim.workload, sim.expected_planted,
                            sim.expected_unplanted, plan, coverage_start=start)
    # H1 and H7 generate their outcomes: the planted parameters exactly
    assert causal["H1"]["post_policy:pre_policy_gap"] == pytest.approx(-0.08, abs=1e-9)
    assert causal["H7"]["post_policy:quota_shortfall"] == pytest.approx(0.15, abs=1e-9)
    assert causal["H7"]["quota_shortfall"] == pytest.approx(0.0, abs=1e-9)
    # H2 omits the group interactions that generate grants: its causal effect is its value in
    # the world of the planted effects alone (with nothing planted it fits exactly 0)
    targets = model_targets(decisions, sim.workload, sim.expected, plan, coverage_start=start)
    planted = model_targets(decisions, sim.workload, sim.expected_planted, plan,
                            coverage_start=start)
    assert causal["H2"]["post_policy:quota_shortfall"] == pytest.approx(
        planted["H2"]["post_policy:quota_shortfall"], abs=1e-9)
    assert causal["H2"]["post_policy:quota_shortfall"] < -0.05
    # the hard dockets push H2's and H7's targets beyond the planted effects, toward the concern
    assert targets["H7"]["post_policy:quota_shortfall"] > 0.15 + 0.02
    assert (targets["H2"]["post_policy:quota_shortfall"]
            < causal["H2"]["post_policy:quota_shortfall"] - 0.02)


def test_simulate_command_writes_scenario_and_causal(tmp_path, monkeypatch):
    monkeypatch.setattr("fairness_audit.simulation_io.load_config", _small_plan)
    cfg = tmp_path / "sim.yaml"
    cfg.write_text(yaml.safe_dump({"n_courts": 4, "judges_per_court": 3,
                                   "first_fiscal_year": 2015}))
    out = tmp_path / "data" / "court.parquet"
    result = runner.invoke(app, ["simulate", "--out", str(out), "--seed", "5", "--config",
                                 str(cfg), "--scenario", "shocks", "--null", "-q"])
    assert result.exit_code == 0, result.output
    truth = json.loads(TablePaths.from_path(out).truth.read_text())
    assert truth["dgp"]["scenario"] == "shocks" and truth["dgp"]["grant_post_shortfall"] == 0
    assert truth["causal"] == {"H1": {"post_policy:pre_policy_gap": 0.0},
                               "H2": {"post_policy:quota_shortfall": 0.0, "quota_shortfall": 0.0},
                               "H7": {"post_policy:quota_shortfall": 0.0, "quota_shortfall": 0.0}}
    assert truth["targets"]["H7"]["post_policy:quota_shortfall"] > 0.02  # the shocks' bias
    assert len(truth["dgp"]["stress"]["closed_courts"]) == 2
    data = read_decision_data(out)
    assert data.metadata["scenario"] == "shocks"
    assert str(data.decisions["docket"].dtype) == "string"
    assert set(data.decisions["docket"].dropna()) == {"MPP", "family_unit"}
    assert validate_decisions(data.decisions) == []
    # the same draw as the library's (the file is the simulation, nothing lost on the way)
    sim = simulate(dataclasses.replace(SMALL, scenario="shocks").null(), seed=5)
    assert data.decisions["docket"].isna().sum() == sim.decisions["docket"].isna().sum()


def test_docs_quote_the_measured_bias_as_the_script_last_wrote_it():
    """docs/simulator.md's table of each scenario's bias and the national scenario's cost is
    benchmarks/scenario_bias.py's rendering of its results file: no figure typed by hand."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "scenario_bias.py"
    spec = importlib.util.spec_from_file_location("scenario_bias", path)
    bias = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bias)
    result = json.loads(bias.RESULTS.read_text())
    assert set(result) == {"scenarios", "national", "machine"}
    assert bias.RESULTS.with_suffix(".md").read_text() == bias.markdown(result)
    docs = bias.DOCS.read_text(encoding="utf-8")
    assert docs.count(bias.BEGIN) == docs.count(bias.END) == 1
    assert docs.split(bias.BEGIN)[1].split(bias.END)[0] == "\n" + bias.markdown(result)
    # what the table shows: every scenario's bias has the concern's sign on H2 and H7 with F
    for row in result["scenarios"]["rows"]:
        if row["scenario"] != "none" and row["specification"] == "F":
            assert row["concern_sign"] * np.mean(row["targets"]) > 0, row
        assert row["causal_max_abs"] == 0.0
