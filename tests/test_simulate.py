import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from fairness_audit.simulate import SimulationParams, judges_for, simulate
from fairness_audit.tables import TablePaths, read_decision_data


def test_same_seed_same_table():
    p = dataclasses.replace(SimulationParams(), n_courts=2, last_fiscal_year=2016)
    a, b = simulate(p, seed=4).decisions, simulate(p, seed=4).decisions
    pd.testing.assert_frame_equal(a, b)
    assert not simulate(p, seed=5).decisions["judge_id"].equals(a["judge_id"]) or \
        not simulate(p, seed=5).decisions["outcome"].equals(a["outcome"])


def test_decisions_scale_judges_not_pace():
    small, large = judges_for(50_000, SimulationParams()), judges_for(500_000, SimulationParams())
    assert large.n_courts > 5 * small.n_courts
    assert (small.pace_mean, small.pace_min, small.pace_max) == (large.pace_mean, large.pace_min,
                                                                large.pace_max)


def test_judges_paces_and_spread(planted_table):
    truth = json.loads(TablePaths.from_path(planted_table).truth.read_text())
    judges = pd.DataFrame(truth["dgp"]["judges"])
    assert judges["pace"].between(300, 1000).all()
    # slow judges are stricter: the confounder
    assert np.corrcoef(judges["pace"], judges["leniency"])[0, 1] > 0.2
    # grant-rate spread within a court is tens of points
    data = read_decision_data(planted_table).decisions
    rates = data[data["fiscal_year"] < 2019].groupby(["court_id", "judge_id"])["granted"].mean()
    spread = rates.groupby(level=0).agg(lambda r: r.max() - r.min())
    assert spread.median() > 0.25


def test_truth_has_targets_for_every_model(planted_table):
    truth = json.loads(TablePaths.from_path(planted_table).truth.read_text())
    assert truth["dgp"]["grant_post_shortfall"] == -0.12
    targets = truth["targets"]
    assert targets["H2"]["post_policy:quota_shortfall"] < -0.05
    # the planted widening of the representation gap shows on H5's percentage-point scale
    assert targets["H5"]["post_policy:unrepresented"] < -1.0  # about -1.7 points on this draw
    for model in ("H2", "H3", "H4", "H5", "H7", "H1"):
        assert targets[model], model


def test_null_zeroes_tested_terms(null_table):
    truth = json.loads(TablePaths.from_path(null_table).truth.read_text())
    assert truth["targets"]["H2"]["post_policy:quota_shortfall"] == pytest.approx(0, abs=1e-9)
    assert truth["dgp"]["grant_post_shortfall"] == 0 and truth["dgp"]["remand_log_duration"] == 0
    assert truth["dgp"]["leniency_sd"] == SimulationParams().leniency_sd


def test_ledger_accounts_for_every_completion(planted_table):
    data = read_decision_data(planted_table)
    entry = data.ledger["simulated_completions"]
    assert entry["rows_read"] == len(data.workload)
    assert entry["used"] == len(data.decisions)
    assert entry["rows_read"] == entry["used"] + sum(entry["set_aside"].values())


def test_generating_logit_recovered_exactly_from_expected_outcomes(planted_table):
    """Fitting the generating model to the true probabilities returns its parameters: the
    features (quota_shortfall, post_policy) are exactly those the simulator used."""
    truth = json.loads(TablePaths.from_path(planted_table).truth.read_text())
    dgp = truth["dgp"]
    # H2 omits the group interactions, so only its pseudo-true value is known; it lies near the
    # reference-group slope and the unrepresented one
    h2 = truth["targets"]["H2"]["post_policy:quota_shortfall"]
    lo = dgp["grant_post_shortfall"] + dgp["group_post_shortfall"]["unrepresented"]
    assert lo - 0.02 < h2 < dgp["grant_post_shortfall"] + 0.02


def test_targets_equal_generating_parameters_where_the_model_generates(small_params):
    """H4's logit generates grants: fitting it to the true probabilities returns the parameters,
    which also shows that the audit's features are exactly the simulator's."""
    from fairness_audit.config import ModelSpec, load_config
    from fairness_audit.schema import coerce_decisions
    from fairness_audit.simulate import GROUPS
    from fairness_audit.truth import model_targets

    p = dataclasses.replace(small_params, n_courts=2)
    sim = simulate(p, seed=8)
    terms = ["quota_shortfall", "post_policy:quota_shortfall", "represented", "detained", "juvenile",
             "asylum_application"]
    for g in GROUPS:
        terms += [f"quota_shortfall:{g}", f"post_policy:{g}", f"post_policy:quota_shortfall:{g}"]
    plan = load_config()
    spec = ModelSpec(family="logit", outcome="granted", terms=tuple(terms),
                     fixed_effects=plan.fixed_effects, sample=("in_window", "has_quota_shortfall",
                                                              "not_in_absentia"))
    decisions, _ = coerce_decisions(sim.decisions)
    targets = model_targets(decisions, sim.workload, sim.expected,
                            plan.model_copy(update={"models": {"H4": spec}}),
                            coverage_start=sim.metadata["coverage_start"])["H4"]
    expected = {"post_policy:quota_shortfall": p.grant_post_shortfall, "represented": p.grant_represented,
                "detained": p.grant_detained, "quota_shortfall": p.grant_shortfall}
    for g in GROUPS:
        expected[f"post_policy:{g}"] = p.group_post[g]
        expected[f"post_policy:quota_shortfall:{g}"] = p.group_post_shortfall[g]
    for term, value in expected.items():
        assert targets[term] == pytest.approx(value, abs=1e-9), term


def test_linear_target_is_the_engine_fitted_to_the_outcome_the_simulator_draws(small_params):
    """A linear model's estimate is linear in the outcome, so its target must be the audit's
    engine fitted to the mean of many draws of that outcome. Drawn here as the simulator draws
    it (an in-absentia order first, a grant only for a respondent present), this checks H5's
    target independently of truth.py; its sample keeps in-absentia decisions, so the target is
    not the grant probability among respondents present (which is 0.5-1 point off here)."""
    import warnings

    from fairness_audit.config import load_config
    from fairness_audit.errors import ModelWarning
    from fairness_audit.features import build_frame
    from fairness_audit.models.design import build_design
    from fairness_audit.models.regression import fit
    from fairness_audit.schema import coerce_decisions
    from fairness_audit.truth import model_targets

    sim = simulate(dataclasses.replace(small_params, n_courts=2), seed=8)
    plan = load_config()
    plan = plan.model_copy(update={"models": {"H5": plan.models["H5"]}})
    decisions, _ = coerce_decisions(sim.decisions)
    targets = model_targets(decisions, sim.workload, sim.expected, plan,
                            coverage_start=sim.metadata["coverage_start"])["H5"]
    frame = build_frame(decisions, sim.workload, plan,
                        coverage_start=sim.metadata["coverage_start"]).data
    p_ia = sim.expected["p_in_absentia"].to_numpy()
    p_grant = sim.expected["p_grant"].to_numpy()
    rng = np.random.default_rng(3)
    draws = 400
    present = rng.random((draws, len(p_ia))) >= p_ia
    frame["granted"] = (present & (rng.random((draws, len(p_ia))) < p_grant)).mean(axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModelWarning)  # 10 judges: only the estimate is used
        result = fit(build_design(frame, plan.models["H5"]), name="H5")
    for term in ("unrepresented", "post_policy:unrepresented"):
        assert 100 * result.params[term] == pytest.approx(targets[term], abs=0.12), term


def test_a_variant_whose_sample_is_whole_shares_its_primary_models_fit(small_params, monkeypatch):
    """A guard without special dockets on a court system that has none is the primary model's
    fit: truth.py fits it once and gives both the same targets; a variant whose sample differs
    (decisions before March 2020) is fitted on its own."""
    from fairness_audit import truth
    from fairness_audit.config import load_config
    from fairness_audit.schema import coerce_decisions

    sim = simulate(dataclasses.replace(small_params, n_courts=2), seed=8)
    assert not (sim.decisions["docket"] != "regular").any()
    plan = load_config()
    names = ["H7", "H7_without_special_dockets", "H7_before_covid"]
    plan = plan.model_copy(update={"models": {n: plan.models[n] for n in names}})
    calls = []
    original = truth.fit_expected
    monkeypatch.setattr(truth, "fit_expected", lambda *a, **k: calls.append(1) or original(*a, **k))
    decisions, _ = coerce_decisions(sim.decisions)
    targets = truth.model_targets(decisions, sim.workload, sim.expected, plan,
                                  coverage_start=sim.metadata["coverage_start"])
    assert len(calls) == 2
    assert targets["H7_without_special_dockets"] == targets["H7"]
    assert targets["H7_before_covid"] != targets["H7"]
