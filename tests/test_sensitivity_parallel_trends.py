"""Rambachan-Roth parallel-trends sensitivity (fairness_audit/sensitivity/parallel_trends.py):
the published HonestDiD examples (tests/reference/honestdid/README.md says where they come from
and why each tolerance), exact properties of the method, and the event study's item on a
simulated court."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, special

from fairness_audit.sensitivity import parallel_trends as pt

REF = Path(__file__).parent / "reference" / "honestdid"
Z975 = float(special.ndtri(0.975))


def _example(name: str) -> tuple[np.ndarray, np.ndarray]:
    beta = pd.read_csv(REF / f"{name}_betahat.csv")["beta"].to_numpy()
    sigma = np.loadtxt(REF / f"{name}_sigma.csv", delimiter=",")
    return beta, sigma


def _published(path: str, **where) -> pd.DataFrame:
    table = pd.read_csv(REF / path)
    for key, value in where.items():
        table = table[table[key] == value]
    assert len(table), where
    return table


def _r_grid(sigma: np.ndarray, n_pre: int, weights: np.ndarray) -> np.ndarray:
    """HonestDiD's default grid for relative magnitudes: 1,000 points over +-20 sd(l'beta)."""
    sd = math.sqrt(weights @ sigma[n_pre:, n_pre:] @ weights)
    return np.linspace(-20 * sd, 20 * sd, 1000)


# --- the published examples ---------------------------------------------------------------

def test_relative_magnitudes_reproduce_honestdid_grid_exactly_with_its_draws():
    # the same critical-value draws as R (set.seed(0)): the accepted grid points are R's
    beta, sigma = _example("ehec")
    draws = np.loadtxt(REF / "r_rnorm_seed0.csv", delimiter=",")
    lw = np.array([1.0, 0.0])
    lay = pt.Layout(beta, sigma, 5, (-6, -5, -4, -3, -2, 0, 1))
    grid = _r_grid(sigma, 5, lw)
    for _, row in _published("published_full.csv", l_vec="first_chunk5").iterrows():
        pieces = pt._pieces(lay, lw, row.bound, method="C-LF", alpha=0.05, lf_draws=draws)
        accepted = grid[pt._accepts(pieces, beta, grid, method="C-LF", alpha=0.05)]
        assert accepted.min() == pytest.approx(row.lb, abs=1e-12), row.bound
        assert accepted.max() == pytest.approx(row.ub, abs=1e-12), row.bound


@pytest.mark.parametrize("l_vec, weights", [("first", [1.0, 0.0]), ("average", [0.5, 0.5])])
def test_relative_magnitudes_within_a_grid_step_of_the_printed_readme(l_vec, weights):
    beta, sigma = _example("ehec")
    lw = np.array(weights)
    step = np.diff(_r_grid(sigma, 5, lw))[0]
    for _, row in _published("published_full.csv", l_vec=l_vec, delta="DeltaRM").iterrows():
        lo, hi = pt.relative_magnitudes_interval(beta, sigma, n_pre=5, mbar=row.bound, weights=lw)
        # R reports grid points: the published ends lie within 1.5 steps of the exact ends
        assert abs(lo - row.lb) < 1.5 * step and abs(hi - row.ub) < 1.5 * step, (row.bound, lo, hi)
    printed = pd.read_csv(REF / "published_printed.csv")  # the average is only plotted
    for _, row in printed[(printed.l_vec == l_vec) & (printed.delta == "DeltaRM")].iterrows():
        lo, hi = pt.relative_magnitudes_interval(beta, sigma, n_pre=5, mbar=row.bound, weights=lw)
        assert abs(lo - row.lb) < 1.5 * step and abs(hi - row.ub) < 1.5 * step, (row.bound, lo, hi)


def test_mbar_zero_is_the_conventional_interval_and_inside_honestdid_grid():
    beta, sigma = _example("ehec")
    lw = np.array([0.5, 0.5])
    centre = lw @ beta[5:]
    se = math.sqrt(lw @ sigma[5:, 5:] @ lw)
    lo, hi = pt.relative_magnitudes_interval(beta, sigma, n_pre=5, mbar=0.0, weights=lw)
    assert lo == pytest.approx(centre - Z975 * se, abs=1e-9)
    assert hi == pytest.approx(centre + Z975 * se, abs=1e-9)
    row = _published("published_full.csv", l_vec="average", bound=0.0).iloc[0]
    step = np.diff(_r_grid(sigma, 5, lw))[0]
    assert lo <= row.lb < lo + step and hi - step < row.ub <= hi


@pytest.mark.parametrize("example, n_pre, index, n_post", [
    ("ehec", 5, 0, 2), ("lw", 9, 16, 23)])
def test_smoothness_flci_reproduces_the_published_intervals(example, n_pre, index, n_post):
    beta, sigma = _example(example)
    lw = np.eye(n_post)[index]
    table = _published("published_full.csv", example=example, delta="DeltaSD")
    for _, row in table.iterrows():
        lo, hi = pt.smoothness_interval(beta, sigma, n_pre=n_pre, m=row.bound, weights=lw)
        # HonestDiD simulates the quantile and bisects the estimator's sd to 1% of its range
        tol = 0.01 * (row.ub - row.lb) / 2
        assert abs(lo - row.lb) < tol and abs(hi - row.ub) < tol, (row.bound, lo, hi, row.lb, row.ub)


@pytest.mark.parametrize("example", ["ehec", "ehec_control"])
def test_smoothness_flci_matches_the_printed_readme(example):
    beta, sigma = _example(example)
    for _, row in _published("published_printed.csv", example=example, delta="DeltaSD").iterrows():
        lo, hi = pt.smoothness_interval(beta, sigma, n_pre=5, m=row.bound, weights=[1.0, 0.0])
        # printed to 3 significant digits, on top of the 1% of the half-length above
        tol = 0.01 * (row.ub - row.lb) / 2 + 0.5e-3 * max(abs(row.lb), abs(row.ub))
        assert abs(lo - row.lb) < tol and abs(hi - row.ub) < tol, (row.bound, lo, hi)


# --- exact properties ---------------------------------------------------------------------

def _random_case(seed: int, n_pre: int = 4, n_post: int = 3):
    rng = np.random.default_rng(seed)
    k = n_pre + n_post
    a = rng.normal(size=(k, k))
    return rng.normal(size=k) * 0.3, a @ a.T / k + 0.1 * np.eye(k)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_closed_form_statistic_equals_the_linear_programme(seed):
    # eta = min over tau with l'tau = theta of max_i (A beta - A_post tau)_i / sd_i
    beta, sigma = _random_case(seed)
    weights = np.array([0.7, -0.2, 0.5])  # a negative weight: the general |c_r| case
    lay = pt.Layout(beta, sigma, 4, (-5, -4, -3, -2, 0, 1, 2))
    for piece in pt._pieces(lay, weights, 0.8, method="conditional", alpha=0.05, lf_draws=None):
        A = piece.moments
        sd = np.sqrt(np.diag(A @ sigma @ A.T))
        for theta in (-1.0, 0.2, 1.5):
            # variables (eta, tau_1..tau_3); equality l'tau = theta
            res = optimize.linprog(
                c=[1.0, 0, 0, 0], A_ub=np.column_stack([-sd, -A[:, 4:]]), b_ub=-(A @ beta),
                A_eq=[[0.0, *weights]], b_eq=[theta], bounds=[(None, None)] * 4, method="highs")
            closed = np.max(piece.vertices @ beta + piece.theta_coef * theta)
            assert closed == pytest.approx(res.fun, abs=1e-9)


def test_relative_magnitudes_approach_the_identified_set_when_noise_vanishes():
    beta = np.array([0.0, 0.05, -0.02, 0.4, 0.5, 0.6])      # quarters -4..-2 | 0..2
    sigma = np.eye(6) * 1e-10
    lo, hi = pt.relative_magnitudes_interval(beta, sigma, n_pre=3, mbar=1.5)
    # pre-policy changes (to the reference -1 at 0): .05, -.07, .02, the largest 0.07; the
    # bound 1.5 x 0.07 x sum_r c_r with c = (1, 2/3, 1/3): 0.105 x 2 = 0.21 around 0.5
    assert (lo, hi) == pytest.approx((0.29, 0.71), abs=1e-3)
    assert pt.identified_set_rm(beta, n_pre=3, mbar=1.5) == pytest.approx((0.29, 0.71))


def test_smoothness_at_zero_removes_the_linear_pre_trend():
    # an exactly linear differential trend of slope 0.1 per quarter and an effect of 1:
    # beta_k = 0.1 (k + 1) + 1 [k >= 0]; M = 0 extrapolates the line, so the interval centres on 1
    quarters = [-4, -3, -2, 0, 1]
    beta = np.array([0.1 * (k + 1) + (k >= 0) for k in quarters])
    sigma = np.eye(5) * 1e-8
    lo, hi = pt.smoothness_interval(beta, sigma, n_pre=3, m=0.0)
    assert (lo + hi) / 2 == pytest.approx(1.0, abs=1e-6)
    # relative magnitudes at Mbar = 0 do not remove it: the average of 1.1 and 1.2
    rlo, rhi = pt.relative_magnitudes_interval(beta, sigma, n_pre=3, mbar=0.0)
    assert (rlo + rhi) / 2 == pytest.approx(1.15, abs=1e-6)


def test_smoothness_worst_case_bias_equals_its_linear_programme():
    # b(w) = post_constant + ||K w||_1 is max over |second differences| <= 1 of the bias
    n_pre, n_post = 3, 2
    lw = np.array([0.5, 0.5])
    const, K, trend, target = pt.smoothness_bias_terms(n_pre, lw)
    w = np.array([0.4, -1.1, 0.0])
    w[2] = (target - trend[:2] @ w[:2]) / trend[2]          # slope coefficient zero
    v = np.concatenate([w, lw])
    # delta over periods -3..2 with delta_0 = 0: variables the 5 coefficients
    rows = pt._level_rows(n_pre, n_post)
    second = rows[2:] - 2 * rows[1:-1] + rows[:-2]
    res = optimize.linprog(-v, A_ub=np.vstack([second, -second]), b_ub=np.ones(8),
                           bounds=[(None, None)] * 5, method="highs")
    assert -res.fun == pytest.approx(const + np.abs(K @ w).sum(), abs=1e-9)


def test_layout_moves_the_reference_and_leaves_out_binned_ends():
    rng = np.random.default_rng(4)
    quarters = [-4, -3, -1, 0, 1, 2]                          # reference -2
    beta = rng.normal(size=6)
    a = rng.normal(size=(6, 6))
    sigma = a @ a.T
    lay = pt.layout(beta, sigma, quarters, reference=-2, binned={2: "bins the quarters after it"})
    assert lay.quarters == (-4, -3, -2, 0, 1) and lay.n_pre == 3
    # coefficients relative to quarter -1: beta_k - beta_-1, the old reference -beta_-1
    b = dict(zip(quarters, beta, strict=True))
    assert lay.beta == pytest.approx([b[-4] - b[-1], b[-3] - b[-1], -b[-1], b[0] - b[-1], b[1] - b[-1]])
    assert lay.left_out == {2: "bins the quarters after it"}
    with pytest.raises(ValueError, match="not consecutive"):
        pt.layout(beta[:5], sigma[:5, :5], [-4, -2, 0, 1, 3])


def test_breakdown_value_of_a_nearly_known_event_study():
    # T = 4 post quarters at -0.5, pre changes 0.02 at most: reaching zero needs
    # Mbar x 0.02 x sum_r c_r = 0.5 with sum_r c_r = (4 + 1) / 2: Mbar = 10
    beta = np.array([0.0, 0.02, 0.01, -0.5, -0.5, -0.5, -0.5])   # quarters -4..-2 | 0..3
    sigma = np.eye(7) * 1e-12
    s = pt.sensitivity(beta, sigma, [-4, -3, -2, 0, 1, 2, 3], concern_sign=-1, sesoi=0.1)
    assert s.reading == "consistent with the concern"
    assert s.rm_breakdown.value == pytest.approx(10.0, rel=2e-3)
    # the reading "not supported" asks when the interval reaches the smallest effect of interest
    s = pt.sensitivity(beta * 0.1, sigma, [-4, -3, -2, 0, 1, 2, 3], concern_sign=1, sesoi=0.1)
    assert s.reading == "not supported"
    # upper end reaches +0.1 from -0.05: Mbar x 0.002 x 2.5 = 0.15, Mbar = 30
    assert s.rm_breakdown.value == pytest.approx(30.0, rel=2e-3)
    assert s.rm_breakdown.threshold == 0.1 and s.rm_breakdown.side == "high"


def test_inconclusive_reading_has_no_breakdown_value():
    beta = np.array([0.0, 0.02, 0.01, 0.01, 0.0])
    s = pt.sensitivity(beta, np.eye(5) * 1e-2, [-4, -3, -2, 0, 1], concern_sign=-1, sesoi=0.05)
    assert s.reading == "inconclusive"
    assert s.rm_breakdown.value is None and s.sd_breakdown.value is None
    d = s.to_dict()
    assert "no breakdown value applies" in d["relative_magnitudes"]["breakdown"]["note"]
    assert [g["mbar"] for g in d["relative_magnitudes"]["grid"]] == [0, 0.5, 1, 1.5, 2]


# --- the event study on a simulated court ---------------------------------------------------

def test_event_study_item_on_the_planted_court(planted_table):
    import jsonschema

    from fairness_audit.analyses.timing import event_study, primary_designs
    from fairness_audit.config import AnalysisSpec, load_config
    from fairness_audit.errors import ModelWarning
    from fairness_audit.features import build_frame
    from fairness_audit.models.regression import fit
    from fairness_audit.results import load_schema
    from fairness_audit.schema import coerce_decisions
    from fairness_audit.tables import read_decision_data

    config = load_config()
    data = read_decision_data(planted_table)
    decisions, _ = coerce_decisions(data.decisions)
    frame = build_frame(decisions, data.workload, config,
                        coverage_start=data.metadata.get("coverage_start"))
    name = "H1_event_log_duration"
    spec = AnalysisSpec(kind="event_study", outcome="log_duration",
                        options={"falsification": False, "pretrend_test": "wald"})
    out = event_study(frame, config, name, spec)
    (item,) = out.sensitivity
    assert item["kind"] == "parallel_trends" and item["hypothesis"] == "H1"
    assert item["test_id"] == "H1.primary" and item["sesoi"] == 0.05
    assert item["quarters_pre"] == [-8, -2] and item["quarters_post"] == [0, 11]
    assert item["left_out"] == []  # the window holds exactly quarters -8..11: no bins

    # what Mbar = 0 must equal: refit the same event study and average its 12 post-policy
    # coefficients, l'beta +- z_0.975 sqrt(l' Sigma l) with l = 1/12
    (_, design), _ = primary_designs(frame, config, name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModelWarning)  # few judges: the fit says so, as in timing
        res = fit(design, name=name)
    post = [f"event_time[{q}]:pre_policy_gap" for q in range(12)]
    lw = np.full(12, 1 / 12)
    centre = float(lw @ res.params[post].to_numpy())
    se = math.sqrt(lw @ res.cov.loc[post, post].to_numpy() @ lw)
    zero = item["relative_magnitudes"]["grid"][0]
    assert zero["mbar"] == 0
    assert zero["ci_low"] == pytest.approx(centre - Z975 * se, abs=1e-6)
    assert zero["ci_high"] == pytest.approx(centre + Z975 * se, abs=1e-6)
    assert (item["estimate"], item["std_error"]) == pytest.approx((centre, se), abs=1e-9)
    # the planted effect shortens cases: the average post-policy coefficient is negative
    assert item["ci_high"] < 0 and item["reading"] == "consistent with the concern"
    bd = item["relative_magnitudes"]["breakdown"]["value"]
    assert bd is not None and bd > 0
    # intervals widen with Mbar; the breakdown value lies where the upper end crosses zero
    highs = [g["ci_high"] for g in item["relative_magnitudes"]["grid"]]
    assert highs == sorted(highs)
    first_reached = next(g["mbar"] for g in item["relative_magnitudes"]["grid"] if g["ci_high"] >= 0)
    assert bd <= first_reached

    schema = load_schema()
    jsonschema.validate(item, {**schema["$defs"]["sensitivity_parallel_trends"],
                               "$defs": schema["$defs"]})


def test_grids_are_validated_naming_the_key():
    from fairness_audit.analyses.timing import EVENT_STUDY_OPTIONS, design_options
    from fairness_audit.config import AnalysisSpec
    from fairness_audit.errors import ConfigError

    spec = AnalysisSpec(kind="event_study", outcome="log_duration",
                        options={"relative_magnitudes": [0, "one"]})
    with pytest.raises(ConfigError, match=r"analyses\.E\.options\.relative_magnitudes: expected"):
        design_options("E", spec, EVENT_STUDY_OPTIONS)
    spec = AnalysisSpec(kind="event_study", outcome="log_duration", options={"smoothness": []})
    with pytest.raises(ConfigError, match=r"options\.smoothness: expected a non-empty list"):
        design_options("E", spec, EVENT_STUDY_OPTIONS)


def test_audit_attaches_items_and_the_report_renders_them(planted_results):
    # the session's audit of the planted court (shared with the other report tests)
    from fairness_audit.report.numbers import check_html

    results, out = planted_results
    by_hypothesis = {h["id"]: [s for s in h.get("sensitivity", []) if s["kind"] == "parallel_trends"]
                     for h in results["hypotheses"]}
    assert sorted(s["analysis"] for s in by_hypothesis["H1"]) == [
        "H1_event_log_duration", "H1_event_n_continuances", "H1_event_n_hearings"]
    assert [s["analysis"] for s in by_hypothesis["H2"]] == ["H2_event_granted",
                                                            "H2_event_removal_ordered"]
    assert [s["analysis"] for s in by_hypothesis["H7"]] == ["H7_event_in_absentia"]
    assert not by_hypothesis["H3"] and not by_hypothesis["H6"]
    page = (out / "report.html").read_text()
    assert page.count("<h4>Parallel trends: ") == 6
    assert check_html(page, json.loads((out / "results.json").read_text())) == []
    md = (out / "report.md").read_text()
    assert "**Parallel trends: H1_event_log_duration (log_duration, log-days)**" in md
    assert "| Relative magnitudes: Mbar | 95% robust interval |" in md
