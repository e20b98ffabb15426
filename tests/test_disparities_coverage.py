"""Coverage of the group-rate intervals (contract section 8), slow: R independently simulated court
systems of 100 judges in 10 courts; each interval checked against the rates conditional on the
simulated judges (truth group_rates), for groups decided by at least 20 judges. H6's interval is
checked against its target on the same draws.

Run: FA_COVERAGE_R=200 FA_COVERAGE_OUT=coverage.json python -m pytest -m slow \
tests/test_disparities_coverage.py (results in docs/disparities.md).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections import defaultdict

import numpy as np
import pytest

from fairness_audit.analyses.judges import judge_variance
from fairness_audit.config import AuditConfig, load_config
from fairness_audit.disparity import disparities
from fairness_audit.features import build_frame
from fairness_audit.schema import coerce_decisions
from fairness_audit.simulate import SimulationParams, simulate
from fairness_audit.truth import audit_truth

R = int(os.environ.get("FA_COVERAGE_R", "200"))
PARAMS = dataclasses.replace(SimulationParams(), n_courts=10, judges_per_court=10,
                             first_fiscal_year=2017, pace_mean=400.0, pace_min=150.0)


def coverage_plan() -> AuditConfig:
    base = load_config().to_dict()
    base["hypotheses"] = {}
    base["models"] = {}
    base["analyses"] = {"H6": base["analyses"]["H6"]}
    base["disparities"].update(continuous=[], adjusted=False)
    return AuditConfig.model_validate(base)


def one_replicate(seed: int, config: AuditConfig):
    sim = simulate(PARAMS, seed=seed)
    decisions, _ = coerce_decisions(sim.decisions)
    start = sim.metadata["coverage_start"]
    frame = build_frame(decisions, sim.workload, config, coverage_start=start)
    rows = disparities(frame.data, config.model_copy(update={"seed": seed}))
    truth = audit_truth(decisions, sim.workload, sim.expected, config, coverage_start=start)
    target = {(t["outcome"], t["dimension"], t["group"], t["period"]): t for t in truth["group_rates"]}
    cells = []
    for r in rows:
        t = target.get((r["outcome"], r["dimension"], r["group"], r["period"]))
        if t is None or r["suppressed"] or t["n_judges"] < 20:
            continue
        cells.append(((r["outcome"], r["dimension"], r["group"], r["period"]),
                      bool(r["ci_low"] <= t["value"] <= r["ci_high"])))
    h6 = judge_variance(frame, config.model_copy(update={"seed": seed}), "H6", config.analyses["H6"])
    est = h6.estimates["judge_sd_within_court"]
    tau = truth["analyses"]["H6"]["judge_sd_within_court"]
    return cells, (est.ci_low <= tau <= est.ci_high, est.estimate - tau)


@pytest.mark.slow
def test_group_rate_coverage():
    config = coverage_plan()
    by_cell: dict[tuple, list[bool]] = defaultdict(list)
    h6 = []
    for i in range(R):
        cells, h6_row = one_replicate(1000 + i, config)
        for key, ok in cells:
            by_cell[key].append(ok)
        h6.append(h6_row)
    by_table: dict[tuple, list[bool]] = defaultdict(list)
    for (outcome, dimension, _g, _p), oks in by_cell.items():
        by_table[(outcome, dimension)].extend(oks)
    summary = {
        "replicates": R,
        "tables": {f"{o} by {d}": {"cells": len(v), "coverage": float(np.mean(v))}
                   for (o, d), v in sorted(by_table.items())},
        "cells_checked": int(sum(len(v) for v in by_cell.values())),
        "overall": float(np.mean([ok for v in by_cell.values() for ok in v])),
        "worst_cell": min(((float(np.mean(v)), " | ".join(k)) for k, v in by_cell.items()
                           if len(v) >= 0.9 * R), default=None),
        "h6_coverage": float(np.mean([c for c, _ in h6])),
        "h6_mean_error_pp": float(np.mean([e for _, e in h6])),
    }
    if os.environ.get("FA_COVERAGE_OUT"):
        with open(os.environ["FA_COVERAGE_OUT"], "w") as fh:
            json.dump(summary, fh, indent=2)
    for key, oks in by_cell.items():  # each cell is a "term": 0.95 - 3.3 sqrt(0.0475 / its count)
        if len(oks) >= 0.9 * R:
            assert np.mean(oks) >= 0.95 - 3.3 * np.sqrt(0.0475 / len(oks)), (key, np.mean(oks), len(oks))
    assert summary["overall"] >= 0.95 - 3.3 * np.sqrt(0.0475 / R)
