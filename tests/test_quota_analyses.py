"""The quota's first stage and dose response (fairness_audit/analyses/quota.py).

* the judge x quarter panel against one built by hand with pandas periods on a tiny workload;
* the first stage on the conftest court against its pseudo-true target: the same regression
  fitted to each judge's expected completions, worked out day by day from the simulator's pace
  rule (after the policy a judge's rate is pace x min(1 + 0.15 x shortfall, 1.6));
* the dose response with one bin against a hand-fitted difference-in-differences (statsmodels
  OLS with dummies), its bins against the quantiles of the judges' gaps, and "not estimable"
  when no judge was at the target;
* the audit: the supporting test, the model entries, the figures and the methods appendix.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from fairness_audit.analyses.quota import completions_panel, dose_response, first_stage, gap_bins
from fairness_audit.audit import compute_results
from fairness_audit.config import AnalysisSpec, AuditConfig, ModelSpec, load_config, parse_config
from fairness_audit.errors import ConfigError, NotEstimable
from fairness_audit.features import AnalysisFrame, Workload, build_frame, to_day
from fairness_audit.hypotheses import run_hypotheses
from fairness_audit.models.design import build_design
from fairness_audit.models.regression import fit
from fairness_audit.report.numbers import check_html
from fairness_audit.report.render import write_report
from fairness_audit.simulate import simulate
from fairness_audit.tables import TablePaths, write_decision_data

FIRST_STAGE = AnalysisSpec(kind="first_stage", outcome="completions")
DOSE = AnalysisSpec(kind="dose_response", outcome="log_duration")
NO_COMPARISON = "no judge at or above target before the policy"


def _day(text: str) -> int:
    return to_day(dt.date.fromisoformat(text))


# --- the panel, by hand --------------------------------------------------------------------------

# (judge, completion dates): A and B complete FY2015 and FY2016 (first and last completions
# within 30 days of the years' ends); C joins after the policy; D's first completion is in
# March 2016 (no complete year); E has no decision in the window; F stops before the window
WORKLOAD = {
    "A": ["2014-10-02", "2015-05-01", "2015-09-29", "2015-10-03", "2016-09-28",
          "2016-11-05", "2016-12-30", "2017-05-01", "2018-02-10"],
    "B": ["2014-10-01", "2015-09-30", "2016-09-30", "2019-03-03", "2019-03-04",
          "2021-09-30", "2021-12-01"],
    "C": ["2019-01-05", "2019-06-01"],
    "D": ["2016-03-01", "2016-09-20", "2017-01-10"],
    "E": ["2014-10-05", "2016-09-25", "2017-08-08"],
    "F": ["2014-10-03", "2015-09-21", "2016-09-01", "2016-09-29"],
}
# (judge, court, in window): A decided mostly in C1, so C1 is A's court
DECISIONS = [("A", "C1", True), ("A", "C1", True), ("A", "C2", True), ("B", "C2", True),
             ("C", "C1", True), ("D", "C2", True), ("E", "C1", False)]


def _tiny_frame() -> AnalysisFrame:
    judges = [j for j, dates in WORKLOAD.items() for _ in dates]
    days = [_day(d) for dates in WORKLOAD.values() for d in dates]
    work = Workload(np.array(judges, dtype=object), np.array(days, dtype="int64"),
                    "judge_completions file", "merits")
    data = pd.DataFrame(DECISIONS, columns=["judge_id", "court_id", "in_window"])
    return AnalysisFrame(data, workload=work, covered_from=_day("2014-10-01"))


def _hand_panel() -> pd.DataFrame:
    """Quarters of each spell (first to last quarter with a completion) inside the window
    2016Q4-2021Q3, with the quarter's completions (0 when none), for the judges A and B."""
    rows = []
    for judge in ("A", "B"):
        periods = pd.to_datetime(pd.Series(WORKLOAD[judge])).dt.to_period("Q")
        spell = pd.period_range(max(periods.min(), pd.Period("2016Q4")),
                                min(periods.max(), pd.Period("2021Q3")), freq="Q")
        counts = periods.value_counts()
        rows += [{"judge_id": judge, "quarter": str(p), "completions": float(counts.get(p, 0))}
                 for p in spell]
    return pd.DataFrame(rows)


def test_panel_equals_the_hand_built_one_with_zeros_inside_spells_and_nothing_outside():
    panel = completions_panel(_tiny_frame(), load_config(), first=-8, last=11)
    ours = panel.data.sort_values(["judge_id", "quarter_number"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(ours[["judge_id", "quarter", "completions"]], _hand_panel())
    assert len(ours[ours["judge_id"] == "A"]) == 6  # 2016Q4..2018Q1
    assert len(ours[ours["judge_id"] == "B"]) == 20  # the whole window
    assert panel.zero_quarters == int((_hand_panel()["completions"] == 0).sum()) == 21
    assert ours.groupby("judge_id")["court_id"].first().to_dict() == {"A": "C1", "B": "C2"}
    # A completed 3 cases in FY2015 and 2 in FY2016, B 2 and 1: (700 - 2.5) / 100, (700 - 1.5) / 100
    assert ours.groupby("judge_id")["pre_policy_gap"].first().to_dict() == {"A": 6.975, "B": 6.985}
    quarter = pd.PeriodIndex(ours["quarter"], freq="Q")
    k = np.array([(q - pd.Period("2018Q4")).n for q in quarter])
    assert (ours["k"].to_numpy() == np.clip(k, -8, 11)).all()
    assert (ours["post_policy"].to_numpy() == (k >= 0)).all()
    assert (ours["event_time[-8]"] == (k <= -8)).all() and (ours["event_time[0]"] == (k == 0)).all()


def test_panel_accounts_for_every_completion_and_judge():
    panel = completions_panel(_tiny_frame(), load_config(), first=-8, last=11)
    c = panel.completions
    total = sum(len(v) for v in WORKLOAD.values())
    inside = {j: [d for d in dates if "2016-10-01" <= d < "2021-10-01"] for j, dates in WORKLOAD.items()}
    assert c["counted"] == total == c["used"] + sum(c["left_out"].values())
    assert c["used"] == len(inside["A"]) + len(inside["B"]) == panel.data["completions"].sum()
    assert c["left_out"] == {
        "outside the window's calendar quarters": total - sum(len(v) for v in inside.values()),
        "judge whose first completion is on or after the policy date (no pre-policy workload)": 2,
        "judge without a complete fiscal year in FY2015-FY2016": 1,
        "judge without a decision in the window (no court to place the judge in)": 1,
    }
    assert panel.judges == {"used": 2, "left_out": {
        "no completion in the window's calendar quarters": 1,
        "judge whose first completion is on or after the policy date (no pre-policy workload)": 1,
        "judge without a complete fiscal year in FY2015-FY2016": 1,
        "judge without a decision in the window (no court to place the judge in)": 1}}


def test_options_are_checked_and_named():
    frame, config = _tiny_frame(), load_config()
    cases = [
        (FIRST_STAGE.model_copy(update={"options": {"referenc_quarter": -1}}), "referenc_quarter"),
        (FIRST_STAGE.model_copy(update={"outcome": "log_duration"}), r"H\.outcome: expected 'completions'"),
        (FIRST_STAGE.model_copy(update={"options": {"fixed_effects": ["judge_id", "nationality"]}}),
         r"H\.options\.fixed_effects: 'nationality'"),
        (FIRST_STAGE.model_copy(update={"options": {"bootstrap_reps": 0}}), r"bootstrap_reps"),
    ]
    for spec, match in cases:
        with pytest.raises(ConfigError, match=match):
            first_stage(frame, config, "H", spec)
    for bins in (0, [2.0, 1.0], [-1.0], "terciles", True, []):
        with pytest.raises(ConfigError, match=r"analyses\.D\.options\.bins"):
            dose_response(frame, config, "D", DOSE.model_copy(update={"options": {"bins": bins}}))


def test_gap_bins_are_quantiles_of_the_positive_gaps_or_the_plans_edges():
    gaps = pd.Series([0.0, 0.0, 0.5, 1.0, 2.0, 4.0, 5.0])
    bins = gap_bins(gaps, 2)
    assert bins.edges == (0.0, 2.0, 5.0)  # the median of 0.5, 1, 2, 4, 5
    assert list(bins.of(gaps.to_numpy())) == [0, 0, 1, 1, 1, 2, 2]  # (0, 2], (2, 5]
    edges = gap_bins(gaps, [1.0, 3.0])
    assert edges.edges == (0.0, 1.0, 3.0, float("inf"))
    assert list(edges.of(gaps.to_numpy())) == [0, 0, 1, 1, 2, 3, 3]


# --- the conftest court --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def planted(tmp_path_factory, small_params):
    """The conftest court (6 courts of 5 judges, seed 11), written without its truth.json (its
    targets take long and are not needed here): the path of its decisions table, its analysis
    frame under the default plan, and the simulator's parameters (each judge's pace)."""
    sim = simulate(small_params, seed=11)
    paths = TablePaths.from_path(tmp_path_factory.mktemp("quota") / "court.parquet")
    write_decision_data(paths, sim.decisions, sim.workload, sim.ledger, sim.metadata)
    frame = build_frame(sim.decisions, sim.workload, load_config(),
                        coverage_start=sim.metadata["coverage_start"])
    return paths.decisions, frame, sim, sim.truth["dgp"]


def _expected_quarterly_merits(dgp: dict) -> pd.Series:
    """Each judge's expected merits completions per calendar quarter, day by day as the
    simulator draws them but without the draws: a judge works from the day they join at pace /
    365 completions a day (a share 1 - administrative_share of them merits), and from the
    effect date at that rate x min(1 + speedup_per_hundred x shortfall, speedup_cap), the
    shortfall being (700 x days so far in the fiscal year / 365 - merits done) / 100."""
    judges = dgp["judges"]
    pace = np.array([j["pace"] for j in judges])
    join = np.array([_day(j["joined"]) for j in judges])
    start, end = _day(f"{dgp['first_fiscal_year'] - 1}-10-01"), _day(f"{dgp['last_fiscal_year']}-10-01")
    effect, share = _day(dgp["effect_start"]), 1 - dgp["administrative_share"]
    dates = pd.date_range(dt.date.fromisoformat(f"{dgp['first_fiscal_year'] - 1}-10-01"),
                          periods=end - start, freq="D")
    merits = np.zeros((len(dates), len(judges)))
    done, year_start = np.zeros(len(judges)), start
    for i, day in enumerate(range(start, end)):
        if dates[i].month == 10 and dates[i].day == 1:
            done, year_start = np.zeros(len(judges)), day
        active = day >= join
        shortfall = np.where(active, np.maximum(0.0, 700 * (day - np.maximum(join, year_start) + 1)
                                                / 365 - done) / 100, 0.0)
        rate = pace / 365
        if day >= effect:
            rate = rate * np.minimum(1 + dgp["speedup_per_hundred"] * shortfall, dgp["speedup_cap"])
        merits[i] = np.where(active, share * rate, 0.0)
        done += merits[i]
    by_quarter = pd.DataFrame(merits, columns=[j["judge_id"] for j in judges])
    by_quarter["quarter"] = dates.to_period("Q").astype(str)
    return by_quarter.groupby("quarter").sum().stack()


def test_first_stage_finds_the_planted_speedup_of_judges_behind_target(planted):
    _, frame, _, dgp = planted
    out = first_stage(frame, load_config(), "H1_first_stage", FIRST_STAGE)
    est = out.estimates["post_policy:pre_policy_gap"]
    # the target: the same regression on the expected completions of the same judge-quarters
    panel = completions_panel(frame, load_config(), first=-8, last=11).data
    expected = _expected_quarterly_merits(dgp)
    panel["completions"] = expected.reindex(pd.MultiIndex.from_arrays(
        [panel["quarter"], panel["judge_id"]])).to_numpy()
    spec = ModelSpec(family="ols", outcome="completions", terms=("post_policy:pre_policy_gap",),
                     fixed_effects=("judge_id", "court_id^quarter"), cov_type="CRV3")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the few-clusters note
        target = float(fit(build_design(panel, spec), name="target").params.iloc[0])
    # a judge 100 cases behind gains 100 x (1 - (1 - e^-a) / a) completions a year at
    # a = 0.0015 x merits pace (a about 0.6-0.9 here): 25-34 a year, 6-8.5 a quarter at a gap
    # of 1, less per unit at larger gaps (the speedup saturates): the target lies in 3-9
    assert 3 < target < 9, target
    assert est.estimate > 0 and est.p_value < 0.05
    assert abs(est.estimate - target) < 3.5 * est.std_error, (est, target)  # contract section 8
    assert est.n_obs == len(panel) == out.models[0]["panel"]["judge_quarters"]
    # expected and observed completions agree on average (the panel counts what was drawn)
    observed = completions_panel(frame, load_config(), first=-8, last=11).data["completions"]
    assert observed.mean() == pytest.approx(panel["completions"].mean(), rel=0.02)
    es = out.models[0]
    assert es["design"] == "first stage event study" and es["cov_type"] == "CRV3"
    assert [r["k"] for r in es["series"]] == list(range(-8, 12))
    assert all(r["n_judge_quarters"] > 0 for r in es["series"])
    assert out.checks[0]["kind"] == "pre_trend" and len(out.checks[0]["coefficients"]) == 7
    assert out.scale == "completions per quarter"
    # its rows are judge-quarters: counted as such, and a term is fragile for its judges only
    # (each event-time term has one row per judge, far fewer than the 100 a decision-level
    # term would need)
    assert all(m["unit"] == "judge-quarters" for m in out.models)
    assert not any("tiny group" in w for m in out.models for w in m["warnings"])
    event = spec.model_copy(update={"terms": ("event_time[-8]:pre_policy_gap",
                                              "event_time[0]:pre_policy_gap")})
    behind = int((panel.groupby("judge_id")["pre_policy_gap"].first() > 0).sum())
    assert 10 <= behind < 100  # one row per judge behind target in each event quarter
    for unit, fragile in (("decisions", True), ("judge-quarters", False)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            notes = fit(build_design(panel, event, unit=unit), name=unit).warnings
        assert any(f"rests on {behind} {unit} of {behind} judges" in n for n in notes) is fragile


def test_dose_response_with_one_bin_is_the_hand_fitted_difference_in_differences(planted):
    _, frame, _, _ = planted
    # three courts (two with a judge at the target, one without), to keep the dummies few
    frame = dataclasses.replace(frame, data=frame.data[frame.data["court_id"].isin(["C001", "C002", "C003"])])
    out = dose_response(frame, load_config(), "D", DOSE.model_copy(update={"options": {"bins": 1}}))
    pooled = out.estimates["post_policy:gap_bin[1]"]
    data = frame.data[frame.data["in_window"] & frame.data["pre_policy_gap"].notna()
                      & frame.data["log_duration"].notna()]
    behind = (data["pre_policy_gap"] > 0).astype(float)
    # judges are nested in courts: the first judge of each court is the reference of its court's
    # judge dummies, and every court x quarter has its own dummy (no constant): full rank
    judge = data["judge_id"].astype(str)
    first = judge.groupby(data["court_id"].astype(str)).transform("min")
    judges = pd.get_dummies(judge.where(judge != first), dtype=float)
    cells = pd.get_dummies(data["court_id"].astype(str) + " " + data["quarter"].astype(str), dtype=float)
    X = pd.concat([(data["post_policy"] * behind).rename("post_x_behind"), judges, cells], axis=1)
    hand = sm.OLS(data["log_duration"].to_numpy(), X.to_numpy()).fit(method="qr")
    assert pooled.n_obs == len(data)
    assert pooled.estimate == pytest.approx(hand.params[0], abs=1e-8)
    record = out.models[1]["dose_response"][0]
    gaps = data.groupby("judge_id")["pre_policy_gap"].first()
    assert record["judges"] == int((gaps > 0).sum())
    assert out.models[0]["comparison"]["judges"] == int((gaps == 0).sum()) == 2
    assert record["decisions"] == int(behind.sum())
    assert record["mean_gap"] == pytest.approx(gaps[gaps > 0].mean())


def test_dose_response_not_estimable_without_a_judge_at_target(planted):
    _, _, sim, _ = planted
    # a target no simulated judge reached (merits pace at most 850 a year): every gap positive
    config = parse_config({**load_config().to_dict(), "features": {
        **load_config().to_dict()["features"], "quota_target": 1200}})
    frame = build_frame(sim.decisions, sim.workload, config,
                        coverage_start=sim.metadata["coverage_start"])
    with pytest.raises(NotEstimable, match=rf"^not estimable: pre_policy_gap \({NO_COMPARISON}"):
        dose_response(frame, config, "H1_dose_response", DOSE)


# --- the audit -----------------------------------------------------------------------------------

def _plan(**features) -> AuditConfig:
    """H1's primary test, the first stage and the dose response, one small group table."""
    base = load_config().to_dict()
    base["features"].update(features)
    base["models"] = {"H1": base["models"]["H1"]}
    base["analyses"] = {k: base["analyses"][k] for k in ("H1_first_stage", "H1_dose_response")}
    base["hypotheses"] = {"H1": {
        "forcing_checks": ["pre_trend", "anticipation"],
        "tests": [t for t in base["hypotheses"]["H1"]["tests"] if t["id"] in
                  ("H1.primary", "H1.supporting.first_stage", "H1.supporting.dose_response")]}}
    base["disparities"].update(outcomes=["granted"], continuous=[], dimensions=["represented"],
                               intersections=[], bootstrap_replicates=50, adjusted=False)
    return AuditConfig.model_validate(base)


def test_the_default_plan_reads_both_under_h1():
    plan = load_config()
    h1 = plan.hypotheses["H1"]
    test = next(t for t in h1.tests if t.id == "H1.supporting.first_stage")
    assert (test.role, test.model, test.term, test.concern_sign) == (
        "supporting", "H1_first_stage", "post_policy:pre_policy_gap", 1)
    test = next(t for t in h1.tests if t.id == "H1.supporting.dose_response")
    assert (test.role, test.model, test.term, test.concern_sign) == (
        "supporting", "H1_dose_response", "post_policy:gap_bin[3]", -1)
    # the test reads the top bin: the plan's dose response has three
    assert plan.analyses["H1_dose_response"].options["bins"] == 3
    assert h1.checks == ("H1_event_log_duration",)  # neither forces H1's primary verdict
    assert plan.analyses["H1_first_stage"].kind == "first_stage"
    assert plan.analyses["H1_dose_response"].kind == "dose_response"


def test_audit_reports_the_first_stage_and_dose_response_with_figures(planted, tmp_path):
    _, frame, _, _ = planted
    results = json.loads(json.dumps(compute_results(planted[0], _plan())))
    h1 = results["hypotheses"][0]
    test = next(t for t in h1["tests"] if t["id"] == "H1.supporting.first_stage")
    assert test["scale"] == "completions per quarter" and test["p_adjusted"] is None
    assert test["estimate"] > 0 and test["verdict"] == "consistent with the concern"
    pretrend = next(c for c in h1["checks"] if c["name"].startswith("pre-trend (completions)"))
    assert pretrend["forces_inconclusive"] is False and pretrend["bound"] == 2.5
    dose = next(t for t in h1["tests"] if t["id"] == "H1.supporting.dose_response")
    assert dose["scale"] == "log-days" and dose["estimate"] < 0 and dose["p_adjusted"] is None
    assert results["family"]["tests"] == ["H1.primary"]
    names = {m["name"]: m for m in results["models"]}
    assert {"H1_first_stage", "H1_first_stage.did", "H1_dose_response",
            "H1_dose_response.did"} <= set(names)
    panel = names["H1_first_stage"]["panel"]["completions"]
    assert panel["counted"] == panel["used"] + sum(panel["left_out"].values())
    # the default bins: terciles of the positive gaps of the sample's judges, one per judge
    data = frame.data[frame.data["in_window"] & frame.data["pre_policy_gap"].notna()]
    gaps = data.groupby("judge_id")["pre_policy_gap"].first()
    positive = gaps[gaps > 0].to_numpy()
    bins = names["H1_dose_response"]["bins"]
    assert [b["low"] for b in bins] == pytest.approx([0.0, *np.percentile(positive, [100 / 3, 200 / 3])])
    assert bins[-1]["high"] == pytest.approx(positive.max())
    assert sum(b["judges"] for b in bins) == len(positive)
    assert names["H1_dose_response"]["bin_rule"].startswith("terciles")
    assert {r["bin"] for r in names["H1_dose_response"]["series"]} == {1, 2, 3}
    # the simulator plants -0.08 log-days per 100 cases of gap: the change grows with the dose
    line = names["H1_dose_response.did"]["dose_response"]
    assert all(b["estimate"] < 0 for b in line) and line[0]["estimate"] > line[-1]["estimate"]
    assert dose["estimate"] == line[-1]["estimate"]  # the test reads the top bin
    write_report(results, tmp_path, pdf=False)
    for figure in ("H1_first_stage.png", "H1_dose_response.png"):
        assert (tmp_path / "figures" / figure).exists()
    page = (tmp_path / "report.html").read_text()
    assert 'alt="H1_first_stage"' in page and 'alt="H1_dose_response"' in page
    assert check_html(page, results) == []
    md = (tmp_path / "report.md").read_text()
    assert "figures/H1_dose_response.png" in md
    # the methods appendix says what the dose response identifies, and that it forces nothing
    assert "Callaway, Goodman-Bacon &amp; Sant&#39;Anna (2024)" in page
    assert "ATT(d)" in md and "strong parallel trends" in md
    assert "- bins: 3" in md.split("#### H1_dose_response")[1]  # its options, from the plan


def test_the_supporting_test_says_the_dose_response_is_not_estimable(planted):
    _, _, sim, _ = planted
    config = _plan(quota_target=1200)  # no judge at the target (see above)
    frame = build_frame(sim.decisions, sim.workload, config,
                        coverage_start=sim.metadata["coverage_start"])
    hypotheses, _, _ = run_hypotheses(frame, config)
    dose = next(t for t in hypotheses[0]["tests"] if t["id"] == "H1.supporting.dose_response")
    assert dose["estimate"] is None and dose["verdict"] == "inconclusive"
    assert dose["verdict_reason"].startswith(f"not estimable: pre_policy_gap ({NO_COMPARISON}")
    first = next(t for t in hypotheses[0]["tests"] if t["id"] == "H1.supporting.first_stage")
    assert first["estimate"] is not None  # the first stage needs no judge at the target
