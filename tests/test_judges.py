"""H6 (judge variance) against its truth target and on a court system without judge spread, and the
`judges` command on the published TRAC tables."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from fairness_audit.cli import app
from fairness_audit.config import AuditConfig, load_config
from fairness_audit.errors import TableError
from fairness_audit.features import build_frame
from fairness_audit.hypotheses import run_hypotheses
from fairness_audit.inference import CONSISTENT
from fairness_audit.judge_tables import consistency, read_judge_table
from fairness_audit.schema import coerce_decisions
from fairness_audit.simulate import SimulationParams, simulate
from fairness_audit.truth import audit_truth

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "data"
CSV = EXAMPLES / "trac_judge_asylum_fy2012_2017.csv"
JSON = EXAMPLES / "trac_style_judge_grant_rates_recent.json"


def h6_plan() -> AuditConfig:
    base = load_config().to_dict()
    base["models"] = {}
    base["analyses"] = {"H6": base["analyses"]["H6"]}
    base["hypotheses"] = {"H6": base["hypotheses"]["H6"]}
    return AuditConfig.model_validate(base)


def test_h6_estimate_near_truth(planted_results, planted_table):
    """Contract section 8: the tested term within 3.5 standard errors of its truth.json target."""
    results, _ = planted_results
    truth = json.loads(planted_table.with_name(planted_table.stem + ".truth.json").read_text())
    h6 = next(h for h in results["hypotheses"] if h["id"] == "H6")
    for t in h6["tests"]:
        target = truth["targets"]["H6"][t["term"]]
        assert abs(t["estimate"] - target) <= 3.5 * t["std_error"], (t["term"], t["estimate"], target)
    primary = next(t for t in h6["tests"] if t["role"] == "primary")
    assert primary["ci_low"] <= truth["targets"]["H6"]["judge_sd_within_court"] <= primary["ci_high"]
    assert primary["verdict"] == CONSISTENT  # leniency_sd = 1 on the logit scale: a large spread
    model = next(m for m in results["models"] if m["name"] == "H6")
    assert {j["period"] for j in model["judges"]} == {"pre_policy", "post_policy"}
    assert 0 < model["periods"]["post_policy"]["judge_share_of_variance"] < 1


def test_h6_not_flagged_without_judge_spread():
    """On a court system where a court's judges share one leniency, H6 is not flagged."""
    params = dataclasses.replace(SimulationParams(), n_courts=6,
                                 first_fiscal_year=2016).without_judge_spread()
    sim = simulate(params, seed=31)
    decisions, _ = coerce_decisions(sim.decisions)
    config = h6_plan()
    frame = build_frame(decisions, sim.workload, config, coverage_start=sim.metadata["coverage_start"])
    hypotheses, _, _ = run_hypotheses(frame, config)
    test = next(t for t in hypotheses[0]["tests"] if t["role"] == "primary")
    assert test["verdict"] != CONSISTENT, test
    truth = audit_truth(decisions, sim.workload, sim.expected, config,
                        coverage_start=sim.metadata["coverage_start"])
    target = truth["analyses"]["H6"]["judge_sd_within_court"]
    # without leniency spread the judges still differ a little (quota pressure moves grants)
    assert target < 3.0
    assert abs(test["estimate"] - target) <= 3.5 * test["std_error"] + 0.5


def test_readers_rebuild_counts(tmp_path):
    (tmp_path / "t.csv").write_text(
        "imm_st,imm_ct,judge,decisions,per_grants,per_denials\n"
        '"Misaligned, Calif.",Court A,"Doe, J.",333,10.5,89.5\n'
        "A,Court A,\"Roe, K.\",100,50,50\n")
    table = read_judge_table(tmp_path / "t.csv")
    assert table["court"].tolist() == ["Court A", "Court A"]  # imm_ct, never imm_st
    assert table["grants"].tolist() == [35, 50]  # round(333 x 10.5 / 100) = round(34.97)
    assert table["denials"].tolist() == [298, 50]
    assert table["rate"].iloc[0] == pytest.approx(35 / 333)
    (tmp_path / "t.json").write_text(json.dumps({"B": {"X": {
        "total_decisions": "200", "granted_asylum_percentage": "30.0",
        "granted_other_relief_percentage": "5.0", "denied_percentage": "65.0"}}}))
    j = read_judge_table(tmp_path / "t.json")
    assert j[["grants", "denials", "other_relief", "n"]].iloc[0].tolist() == [60, 130, 10, 190]
    assert j["rate"].iloc[0] == pytest.approx(60 / 190)
    (tmp_path / "bad.csv").write_text("judge,decisions\nA,3\n")
    with pytest.raises(TableError, match="missing"):
        read_judge_table(tmp_path / "bad.csv")


def test_consistency_recovers_spread_and_homogeneity():
    """Simulated judge table: the moment SD is near the true within-court SD, and a court whose
    judges share one rate is not flagged."""
    rng = np.random.default_rng(4)
    rows = []
    true = []
    for c in range(40):
        base = rng.uniform(0.2, 0.6)
        rates = np.clip(base + rng.normal(0, 0.12, 8), 0.01, 0.99)
        true.append(rates - rates.mean())
        for j, p in enumerate(rates):
            n = int(rng.integers(200, 800))
            g = rng.binomial(n, p)
            rows.append({"judge": f"J{c}-{j}", "court": f"C{c}", "decisions": n, "grants": g,
                         "denials": n - g, "other_relief": 0})
    for j in range(8):  # a homogeneous court
        g = rng.binomial(500, 0.3)
        rows.append({"judge": f"H{j}", "court": "Homogeneous", "decisions": 500, "grants": g,
                     "denials": 500 - g, "other_relief": 0})
    table = pd.DataFrame(rows)
    table["n"] = table["grants"] + table["denials"]
    table["rate"] = table["grants"] / table["n"]
    res = consistency(table)
    true_sd = np.sqrt(sum((t ** 2).sum() for t in true) / sum(len(t) - 1 for t in true) * 40 / 41)
    assert res.summary["within_court_sd_pp"] == pytest.approx(100 * true_sd, abs=1.5)
    homogeneous = res.courts.set_index("court").loc["Homogeneous"]
    assert homogeneous["p_value"] > 0.01
    assert res.summary["courts_rejecting_homogeneity"] >= 35
    # the empirical-Bayes rate lies between the judge's rate and the court's beta-binomial mean
    mu = res.judges["court"].map(res.courts.set_index("court")["beta_binomial_mean"])
    assert ((res.judges["shrunk"] - mu).abs() <= (res.judges["rate"] - mu).abs() + 1e-12).all()


@pytest.mark.parametrize(("path", "rows", "courts", "decisions"),
                         [(CSV, 293, 53, 120_077), (JSON, 732, 65, 291_096)])
def test_judges_command_on_published_tables(tmp_path, path, rows, courts, decisions):
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["judges", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    for name in ("summary.md", "summary.json", "judges.csv", "courts.csv", "funnel.png"):
        assert (out / name).exists(), name
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["rows"], summary["courts"], summary["decisions"]) == (rows, courts, decisions)
    assert 5 < summary["within_court_sd_pp"] < 30
    judges = pd.read_csv(out / "judges.csv")
    assert len(judges) == rows
    assert ((judges["shrunk_low"] <= judges["shrunk"]) & (judges["shrunk"] <= judges["shrunk_high"])).all()


def test_judges_command_errors_are_one_line(tmp_path):
    result = CliRunner().invoke(app, ["judges", str(tmp_path / "none.csv"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert "file not found" in result.output
    assert "Traceback" not in result.output
