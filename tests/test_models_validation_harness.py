"""The validation harness's summaries (fairness_audit/validation.py) on rows with known answers."""

from __future__ import annotations

import csv

import pytest

from fairness_audit.validation import FIELDS, coverage_bound, markdown, rate_bound, summarise


def test_bounds_of_contract_section_8():
    assert coverage_bound(200) == pytest.approx(0.899, abs=5e-4)
    assert rate_bound(200) == pytest.approx(0.05 + 2.33 * (0.05 * 0.95 / 200) ** 0.5)


def _write(path, rows):
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=FIELDS)
        w.writeheader()
        for r in rows:
            w.writerow({k: r.get(k) for k in FIELDS})


def test_summary_counts_coverage_false_flags_and_design_check(tmp_path):
    rows = []
    for i in range(10):
        rows.append({"design": "planted", "replicate": i, "kind": "test", "hypothesis": "H2",
                     "test_id": "H2.primary", "role": "primary", "model": "H2",
                     "term": "post_policy:quota_shortfall", "estimate": -0.1, "std_error": 0.02,
                     "target": -0.12, "covered": int(i != 0)})
        flagged = "consistent with the concern" if i < 2 else "inconclusive"
        rows.append({"design": "null", "replicate": i, "kind": "test", "hypothesis": "H7",
                     "test_id": "H7.primary", "role": "primary", "model": "H7",
                     "term": "post_policy:quota_shortfall", "verdict": flagged,
                     "estimate": 0.1, "p_value": 0.5})
        rows.append({"design": "null", "replicate": i, "kind": "test", "hypothesis": "H6",
                     "test_id": "H6.primary", "role": "primary", "model": "H6", "term": "tau",
                     "verdict": "consistent with the concern"})  # H6 is not in the family
        rows.append({"design": "null", "replicate": i, "kind": "design_check", "hypothesis": "H2",
                     "test_id": "x", "role": "design_check", "model": "H2 without judge fixed effects",
                     "term": "quota_shortfall", "estimate": -0.2, "p_value": 0.001 if i < 9 else 0.3,
                     "concern_sign": -1})
    path = tmp_path / "rows.csv"
    _write(path, rows)
    s = summarise([path])
    (cov,) = s["coverage"]
    assert cov["R"] == 10 and cov["coverage"] == pytest.approx(0.9)
    assert cov["mean_error"] == pytest.approx(0.02) and cov["bias_t"] is None  # constant error
    assert s["false_flags"]["R"] == 10 and s["false_flags"]["rate"] == pytest.approx(0.2)
    (check,) = s["design_check"]
    assert check["share_significant_with_confounder_sign"] == pytest.approx(0.9) and check["passed"]
    assert "H2.primary" in markdown(s)
    shares = {(v["design"], v["test"]): v for v in s["verdicts"]}
    h7 = shares["null", "H7.primary"]
    assert h7["R"] == 10 and h7["consistent"] == pytest.approx(0.2)
    assert h7["inconclusive"] == pytest.approx(0.8) and h7["not_supported"] == 0


def test_summary_reports_check_failure_rates_per_design(tmp_path):
    rows = []
    for i in range(20):
        rows.append({"design": "null", "replicate": i, "kind": "check", "hypothesis": "H1",
                     "test_id": "pre-trend (log_duration)", "role": "check",
                     "verdict": "failed" if i < 2 else "passed", "p_value": 0.5})
        rows.append({"design": "anticipation", "replicate": i, "kind": "check", "hypothesis": "H1",
                     "test_id": "anticipation (log_duration)", "role": "check", "estimate": -0.01,
                     "verdict": "failed" if i < 15 else "passed", "p_value": 0.01})
        rows.append({"design": "null", "replicate": i, "kind": "check", "hypothesis": "H1",
                     "test_id": "reversal (log_duration)", "role": "check",
                     "verdict": "not estimable"})  # not counted
    path = tmp_path / "rows.csv"
    _write(path, rows)
    checks = {(c["design"], c["check"]): c for c in summarise([path])["checks"]}
    assert set(checks) == {("null", "pre-trend (log_duration)"),
                           ("anticipation", "anticipation (log_duration)")}
    null = checks["null", "pre-trend (log_duration)"]
    assert null["R"] == 20 and null["failure_rate"] == pytest.approx(0.1)
    assert null["within_bound"] is (rate_bound(20) >= 0.1)
    caught = checks["anticipation", "anticipation (log_duration)"]
    assert caught["failure_rate"] == pytest.approx(0.75) and caught["bound"] is None
    assert caught["mean_estimate"] == pytest.approx(-0.01)
