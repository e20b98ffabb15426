"""H6 without judge spread (contract section 8), slow: over R simulated court systems of 100 judges
in 10 courts, the share of audits in which H6 is "consistent with the concern" is at most
alpha + 2.33 sqrt(alpha (1 - alpha) / R). On the full null (no judge spread and no quota effect on
grants, so that judges of a court share one grant probability given the case) the homogeneity
test's rejection rate is reported too: it checks the test's calibration.

Run: FA_H6_R=200 FA_H6_OUT=h6.json python -m pytest -m slow tests/test_judges_error_rate.py
"""

from __future__ import annotations

import dataclasses
import json
import os

import numpy as np
import pytest

from fairness_audit.config import AuditConfig, load_config
from fairness_audit.features import build_frame
from fairness_audit.hypotheses import run_hypotheses
from fairness_audit.inference import CONSISTENT
from fairness_audit.schema import coerce_decisions
from fairness_audit.simulate import SimulationParams, simulate
from fairness_audit.truth import audit_truth

R = int(os.environ.get("FA_H6_R", "200"))
BASE = dataclasses.replace(SimulationParams(), n_courts=10, judges_per_court=10,
                           first_fiscal_year=2017, pace_mean=400.0, pace_min=150.0)


def plan() -> AuditConfig:
    base = load_config().to_dict()
    base["models"] = {}
    base["analyses"] = {"H6": base["analyses"]["H6"]}
    base["hypotheses"] = {"H6": base["hypotheses"]["H6"]}
    return AuditConfig.model_validate(base)


def run(params: SimulationParams, seed: int, config: AuditConfig):
    sim = simulate(params, seed=seed)
    decisions, _ = coerce_decisions(sim.decisions)
    start = sim.metadata["coverage_start"]
    frame = build_frame(decisions, sim.workload, config, coverage_start=start)
    hypotheses, _, _ = run_hypotheses(frame, config.model_copy(update={"seed": seed}))
    test = next(t for t in hypotheses[0]["tests"] if t["role"] == "primary")
    tau = audit_truth(decisions, sim.workload, sim.expected, config,
                      coverage_start=start)["analyses"]["H6"]["judge_sd_within_court"]
    return test, tau


@pytest.mark.slow
def test_h6_error_rate_without_judge_spread():
    config = plan()
    alpha = config.inference.alpha
    flagged, rejected_null, taus, estimates = [], [], [], []
    for i in range(R):
        test, tau = run(BASE.without_judge_spread(), 5000 + i, config)
        flagged.append(test["verdict"] == CONSISTENT)
        taus.append(tau)
        estimates.append(test["estimate"])
        test0, _ = run(BASE.null().without_judge_spread(), 9000 + i, config)
        rejected_null.append(test0["p_value"] < alpha)
    summary = {"replicates": R, "flagged_share": float(np.mean(flagged)),
               "mean_true_tau_pp": float(np.mean(taus)), "mean_estimate_pp": float(np.mean(estimates)),
               "homogeneity_rejection_full_null": float(np.mean(rejected_null))}
    if os.environ.get("FA_H6_OUT"):
        with open(os.environ["FA_H6_OUT"], "w") as fh:
            json.dump(summary, fh, indent=2)
    assert summary["flagged_share"] <= alpha + 2.33 * np.sqrt(alpha * (1 - alpha) / R)
    assert summary["homogeneity_rejection_full_null"] <= alpha + 2.33 * np.sqrt(alpha * (1 - alpha) / R)
