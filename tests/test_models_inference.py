"""Multiple testing and verdicts (contract section 6) on known values."""

from __future__ import annotations

import pytest
from test_models_marginal import TERMS, court_frame

from fairness_audit.config import parse_config
from fairness_audit.features import AnalysisFrame
from fairness_audit.hypotheses import run_hypotheses
from fairness_audit.inference import CONSISTENT, INCONCLUSIVE, NOT_SUPPORTED, adjust, verdict_of_test

P = [0.01, 0.04, 0.03, 0.005]


def test_benjamini_hochberg_by_hand():
    # sorted: 0.005, 0.01, 0.03, 0.04 -> p * m / rank = 0.02, 0.02, 0.04, 0.04 (monotone from the top)
    assert adjust(P, "bh") == pytest.approx([0.02, 0.04, 0.04, 0.02])


def test_holm_by_hand():
    # sorted: 0.005 x 4 = 0.02, 0.01 x 3 = 0.03, 0.03 x 2 = 0.06, 0.04 x 1 = 0.04 -> max so far: 0.06
    assert adjust(P, "holm") == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_verdicts_in_the_contracts_order():
    common = {"concern_sign": -1, "sesoi": 0.05, "alpha": 0.05}
    # (1) excludes every effect of at least sesoi in the concern's direction, even if significant
    v, why = verdict_of_test(estimate=-0.01, ci_low=-0.02, ci_high=-0.005, p_value=0.001, **common)
    assert v == NOT_SUPPORTED and "smaller effect" in why
    # (2) significant with the concern's sign
    assert verdict_of_test(estimate=-0.1, ci_low=-0.15, ci_high=-0.05, p_value=0.01,
                           **common)[0] == CONSISTENT
    # (3) otherwise
    assert verdict_of_test(estimate=-0.1, ci_low=-0.25, ci_high=0.05, p_value=0.2,
                           **common)[0] == INCONCLUSIVE
    assert verdict_of_test(estimate=0.1, ci_low=-0.06, ci_high=0.2, p_value=0.01,
                           **common)[0] == INCONCLUSIVE
    # a failed design check forces inconclusive
    assert verdict_of_test(estimate=-0.1, ci_low=-0.15, ci_high=-0.05, p_value=0.01,
                           failed_check="pre-trend", **common)[0] == INCONCLUSIVE


@pytest.mark.parametrize("method,name", [("bh", "Benjamini-Hochberg"), ("holm", "Holm")])
def test_primary_family_is_adjusted_together(method, name):
    frame = court_frame(per_judge=250, seed=11)
    model = {"family": "logit", "outcome": "granted", "terms": list(TERMS),
             "fixed_effects": ["judge_id", "fiscal_year"]}
    lpm = {**model, "family": "ols"}

    def test(i, m, term, role="primary"):
        return {"id": f"H{i}.{role}.{m}", "role": role, "model": m, "term": term,
                "concern_sign": -1, "sesoi": 0.05, "sesoi_reason": "test"}

    config = parse_config({
        "inference": {"adjustment": method},
        "models": {"A": model, "B": lpm},
        "hypotheses": {
            "H2": {"tests": [test(2, "A", "post_policy:quota_shortfall"),
                             test(2, "A", "quota_shortfall", "placebo")]},
            "H7": {"tests": [test(7, "B", "post_policy:quota_shortfall"),
                             test(7, "B", "detained")]},
        },
    })
    hypotheses, _, family = run_hypotheses(AnalysisFrame(frame), config)
    tests = [t for h in hypotheses for t in h["tests"]]
    primary = [t for t in tests if t["role"] == "primary"]
    assert family["method"] == name
    assert family["tests"] == [t["id"] for t in primary]
    assert [t["p_adjusted"] for t in primary] == pytest.approx(adjust([t["p_value"] for t in primary],
                                                                       method))
    assert all(t["p_adjusted"] is None for t in tests if t["role"] != "primary")
    # the linear probability model reports percentage points
    assert {t["scale"] for t in tests if t["model"] == "B"} == {"percentage-points"}
