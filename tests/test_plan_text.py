"""Text that depends on the plan is rendered from it: the hypotheses' designs name the plan's
policy date and quota target, and figures name the plan's interval level."""

from __future__ import annotations

from fairness_audit.config import AuditConfig, load_config
from fairness_audit.hypotheses import HYPOTHESES, design_text
from fairness_audit.report.plots import interval_level


def _plan(**changes) -> AuditConfig:
    base = load_config().to_dict()
    for section, values in changes.items():
        base[section] = {**base[section], **values}
    return AuditConfig.model_validate(base)


def test_designs_name_the_plans_policy_date_and_quota_target():
    plan = _plan(features={"quota_target": 650}, policy={"start": "2018-11-01"})
    h1 = design_text(HYPOTHESES["H1"], plan)
    assert "around 2018-11-01" in h1 and "shortfall from 650 a year" in h1
    assert "pro-rated 650 target" in design_text(HYPOTHESES["H2"], plan)
    assert "pro-rated 650 target" in design_text(HYPOTHESES["H7"], plan)
    for text in HYPOTHESES.values():  # every placeholder is filled, none is left in braces
        rendered = design_text(text, load_config())
        assert "{" not in rendered and "700" not in design_text(text, plan)


def test_figures_name_the_plans_interval_level():
    assert interval_level({"provenance": {"config": {"inference": {"interval_level": 0.9}}}}) == "90%"
    assert interval_level({}) == "95%"
