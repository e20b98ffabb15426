import numpy as np
import pandas as pd
import pytest

from fairness_audit.config import load_config
from fairness_audit.features import Workload, build_frame, day_number, pre_policy_gap, quota_shortfall, to_day


def _work(rows):
    frame = pd.DataFrame(rows, columns=["judge_id", "completion_date", "kind"])
    frame["completion_date"] = pd.to_datetime(frame["completion_date"])
    frame["case_type"] = "RMV"
    return frame


WORK = _work([
    ("A", "2018-10-03", "merits"), ("A", "2018-10-03", "merits"),
    ("A", "2018-10-04", "administrative"), ("A", "2018-10-05", "merits"),
    ("A", "2018-11-01", "merits"), ("B", "2018-12-01", "merits"),
])


def _shortfall(judges, dates, completions="merits", coverage="2013-10-01"):
    from fairness_audit.features import coverage_start_day, workload_from

    work = workload_from(pd.DataFrame(), WORK, completions)
    day = day_number(pd.Series(pd.to_datetime(dates)))
    return quota_shortfall(np.array(judges, dtype=object), day, work, target=700,
                           covered_from=coverage_start_day(work, coverage))


def test_quota_shortfall_by_hand():
    got = _shortfall(["A", "A", "A", "B"], ["2018-10-03", "2018-10-05", "2018-11-01", "2018-12-01"])
    # days since the first completion in the fiscal year + 1, against completions strictly before
    expected = [700 * 1 / 365 - 0, 700 * 3 / 365 - 2, 700 * 30 / 365 - 3, 700 * 1 / 365 - 0]
    np.testing.assert_allclose(got, np.array(expected) / 100)


def test_quota_shortfall_counts_all_completions_on_request():
    got = _shortfall(["A"], ["2018-10-05"], completions="all")
    np.testing.assert_allclose(got, [(700 * 3 / 365 - 3) / 100])


def test_quota_shortfall_never_negative_and_null_without_coverage():
    assert _shortfall(["A"], ["2018-10-04"])[0] >= 0
    assert np.isnan(_shortfall(["A"], ["2018-10-05"], coverage="2018-10-02")[0])


def test_pre_policy_gap_needs_a_complete_year():
    days, judges = [], []
    rng = np.random.default_rng(0)
    for judge, start, n_by_fy in (("full", "2014-10-01", {2015: 500, 2016: 600}),
                                  ("late", "2016-03-01", {2016: 300})):
        for fy, n in n_by_fy.items():
            lo = max(to_day(pd.Timestamp(f"{fy - 1}-10-01").date()), to_day(pd.Timestamp(start).date()))
            hi = to_day(pd.Timestamp(f"{fy}-09-30").date())
            d = np.sort(rng.integers(lo, hi + 1, n))
            d[0], d[-1] = lo, hi  # active from the first to the last day
            days.append(d)
            judges += [judge] * n
    work = Workload(np.array(judges, dtype=object), np.concatenate(days), "test", "merits")
    gap = pre_policy_gap(work, years=(2015, 2016), target=700, covered_from=0)
    assert gap["full"] == pytest.approx((700 - 550) / 100)
    assert np.isnan(gap["late"])


def test_build_frame_features_and_exclusions():
    import dataclasses

    from fairness_audit.simulate import SimulationParams, simulate

    sim = simulate(dataclasses.replace(SimulationParams(), n_courts=2), seed=5)
    from fairness_audit.schema import coerce_decisions

    decisions, _ = coerce_decisions(sim.decisions)
    frame = build_frame(decisions, sim.workload, load_config(),
                        coverage_start=sim.metadata["coverage_start"])
    d = frame.data
    # the simulator's own shortfall equals the feature computed from the workload file
    np.testing.assert_allclose(d["quota_shortfall"], sim.expected["quota_shortfall"], atol=1e-12)
    assert set(d["fiscal_month"].unique()) == set(range(1, 13))
    october = d["decision_date"].dt.month == 10
    assert (d.loc[october, "fiscal_month"] == 1).all()
    assert ((d["post_policy"] == 1) == (d["decision_date"] >= "2018-10-01")).all()
    excluded = frame.excluded["window"]["outside window"]
    assert excluded == int((~d["in_window"]).sum()) > 0
    np.testing.assert_allclose(d["log_duration"], np.log((d["duration_days"] + 1) / 365))
    assert (d["unrepresented"] == 1 - d["represented"]).all()


def test_decisions_known_only_by_fiscal_year_are_placed_by_it():
    import dataclasses

    from fairness_audit.schema import coerce_decisions
    from fairness_audit.simulate import SimulationParams, simulate

    sim = simulate(dataclasses.replace(SimulationParams(), n_courts=2), seed=5)
    decisions, _ = coerce_decisions(sim.decisions)
    dated = build_frame(decisions, None, load_config()).data
    undated = decisions.assign(decision_date=pd.NaT, filed_date=pd.NaT)
    frame = build_frame(undated, None, load_config())
    assert (frame.data["post_policy"] == dated["post_policy"]).all()
    assert (frame.data["in_window"] == dated["in_window"]).all()
    assert frame.data["quota_shortfall"].isna().all()
    # a window that does not start on Oct 1 cannot place them: they are counted, not guessed
    shifted = load_config().model_copy(update={"window": load_config().window.model_copy(
        update={"start": pd.Timestamp("2017-01-01").date()})})
    frame = build_frame(undated, None, shifted)
    assert not frame.data["in_window"].any()
    assert frame.excluded["window"]["no decision date"] == len(undated)
