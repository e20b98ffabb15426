"""The verdict-only validation plans and the harness' stress designs (docs/validation.md)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from fairness_audit.config import load_config
from fairness_audit.hypotheses import forcing_check_keys
from fairness_audit.validation import (
    DESIGNS,
    SEED_BASE,
    ReplicateSpec,
    arm_and_scenario,
    check_key,
    simulation_params,
)

ROOT = Path(__file__).resolve().parents[1]
PLANS = ROOT / "configs" / "validation"


def _script(path: Path):
    """A script of the repository (not a package module), imported from its file."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _make_plans():
    return _script(PLANS / "make_plans.py")


def test_committed_plans_are_what_the_default_plan_gives():
    make = _make_plans()
    for name, plan in make.plans().items():
        assert (PLANS / name).read_text() == make.text(name, plan), (
            f"{name} is stale: run python configs/validation/make_plans.py")


def test_the_verdict_plan_keeps_every_primary_test_guard_and_forcing_check():
    default, verdicts = load_config(), load_config(PLANS / "verdicts.yaml")
    for hid in ("H1", "H2", "H3", "H4", "H5", "H7"):
        full = default.hypotheses[hid]
        kept = {t.id: t for t in verdicts.hypotheses[hid].tests}
        for t in full.tests:
            if t.role in ("primary", "placebo") or any(t.id in p.guards for p in full.tests):
                assert kept[t.id] == t
                assert verdicts.models[t.model] == default.models[t.model]
            else:
                assert t.id not in kept
        assert verdicts.hypotheses[hid].checks == full.checks
        assert verdicts.hypotheses[hid].forcing_checks == full.forcing_checks
    assert "H6" not in verdicts.hypotheses and verdicts.disparities.dimensions == ()


def test_the_earlier_rules_plan_has_fiscal_effects_no_guards_and_significance():
    earlier = load_config(PLANS / "verdicts_earlier_rules.yaml")
    assert earlier.inference.check_rule == "significance"
    assert all(not t.guards for h in earlier.hypotheses.values() for t in h.tests)
    for name in ("H2", "H4", "H7"):
        assert earlier.models[name].fixed_effects == (
            "judge_id", "fiscal_year", "fiscal_month", "nationality", "case_type")


def test_stress_designs_name_their_arm_and_scenario_with_their_own_seeds():
    assert arm_and_scenario("null_shocks") == ("null", "shocks")
    assert arm_and_scenario("planted_national") == ("planted", "national")
    assert arm_and_scenario("no_spread") == ("no_spread", "none")
    assert len(set(SEED_BASE.values())) == len(DESIGNS)
    null = simulation_params(ReplicateSpec(design="null_drift", replicate=0))
    planted = simulation_params(ReplicateSpec(design="planted_drift", replicate=0))
    assert null.scenario == planted.scenario == "drift"
    assert null == planted.null() and null != planted


def test_the_stress_tables_of_the_docs_are_what_the_committed_replicates_give():
    module = _script(ROOT / "docs" / "validation_stress.py")
    assert module.write(check=True), "run python docs/validation_stress.py"
    table = module.render()
    # every design row counts replicates of its own design and rules only
    assert "| null_shocks | earlier:" in table and "| null_shocks | current:" in table


def test_section_4_of_the_docs_is_what_the_committed_replicates_give():
    module = _script(ROOT / "docs" / "validation_whole_plan.py")
    assert module.write(check=True), "run python docs/validation_whole_plan.py"
    text = module.reading()
    # every figure of the reading comes from the summary: the power of each primary test and
    # the false flags with their bound
    assert "**Power**" in text and "H1 " in text and "null audits (" in text and "bound" in text
    # a fall in power of 10 points or more from the earlier rules has its reason beside it
    earlier = module._primary_shares(module.summarise([module.EARLIER_ROWS]), "planted")
    now = module._primary_shares(module.summarise([module.ROWS]), "planted")
    for h in earlier:
        if h in now and earlier[h] - now[h] >= module.DROP - 1e-9:
            assert f"{h} {round(100 * (earlier[h] - now[h]), 1):g} points" in text
            assert ("H4.primary.unrepresented" if h == "H4" else f"{h}.primary") + "'s estimate" in text


def test_the_referee_tables_of_the_docs_are_what_the_committed_replicates_give():
    module = _script(ROOT / "docs" / "validation_referee.py")
    assert module.write(check=True), "run python docs/validation_referee.py"
    table = module.render()
    # both designs, each quantity
    assert "| null | H1.primary |" in table and "| planted | H1.primary |" in table
    assert "| null | H1_event_log_duration | relative magnitudes |" in table


def test_referee_plan_keeps_every_quantity_and_drops_the_group_tables():
    make = _make_plans()
    plan = make.plans()["referee.yaml"]
    assert "H6" not in plan["hypotheses"] and plan["disparities"]["dimensions"] == []
    assert plan["inference"]["bootstrap"]["reps"] == 9999
    assert plan["inference"]["omitted_variable"]["roles"]
    assert all(a.get("options", {}).get("parallel_trends", True)
               for a in plan["analyses"].values() if a["kind"] == "event_study")


def test_guards_at_family_level_recomputed_from_rows_equal_an_audit_run_with_the_option(tmp_path):
    """docs/validation.md's family-level rows are recomputed from audits run with guards at the
    unadjusted level: the recomputation must give what an audit with the option gives."""
    import math

    import yaml

    from fairness_audit.validation import guards_at_family_level, run_replicate

    plan = yaml.safe_load((PLANS / "verdicts.yaml").read_text())
    plan["inference"]["guard_level"] = "family"
    family_plan = tmp_path / "family.yaml"
    family_plan.write_text(yaml.safe_dump(plan))
    common = dict(design="null_shocks", replicate=18, n_courts=4, judges_per_court=5,
                  first_fiscal_year=2016)
    unadjusted = run_replicate(ReplicateSpec(**common, config=str(PLANS / "verdicts.yaml")))
    family = run_replicate(ReplicateSpec(**common, config=str(family_plan)))
    assert all(r["kind"] != "error" for r in unadjusted + family), unadjusted[0].get("error")
    recomputed = {r["test_id"]: r for r in guards_at_family_level(unadjusted)
                  if r["kind"] == "test" and r["role"] == "primary"}
    ran = {r["test_id"]: r for r in family if r["kind"] == "test" and r["role"] == "primary"}
    assert set(recomputed) == set(ran) and len(ran) >= 9
    raised = 0
    for tid, r in ran.items():
        if r["p_adjusted"] is None:
            continue
        assert math.isclose(float(recomputed[tid]["p_adjusted"]), r["p_adjusted"], rel_tol=1e-9), tid
        assert recomputed[tid]["verdict"] == r["verdict"], tid
        assert recomputed[tid]["hypothesis_verdict"] == r["hypothesis_verdict"], tid
        raised += r["p_adjusted"] > next(u["p_adjusted"] for u in unadjusted
                                         if u["kind"] == "test" and u["test_id"] == tid) + 1e-12
    assert raised > 0, "the guards never raised an adjusted p-value: the check tests nothing"


def test_forcing_check_keys_are_the_checks_an_audit_lets_force(planted_results):
    # section 4's reading names the checks that decide verdicts from the plan; they must be the
    # ones the audit marks as forcing (guards are counted in the verdicts, not as checks)
    results, _ = planted_results
    forced = {check_key(c["name"]) for h in results["hypotheses"] for c in h["checks"]
              if c.get("forces_inconclusive") and c.get("kind") != "guard"}
    plan = load_config()
    assert forced == set(forcing_check_keys(plan))
    assert {"pre-trend (log_duration)", "placebo H7.placebo"} <= forced
    inference = plan.inference.model_copy(update={"placebo_forces_inconclusive": False})
    keys = forcing_check_keys(plan.model_copy(update={"inference": inference}))
    assert keys == ["pre-trend (log_duration)", "anticipation (log_duration)"]


def test_the_anticipation_rerun_fails_the_same_checks_in_the_same_replicates():
    """docs/validation.md section 4 says the anticipation design's rerun under the current plan
    has its pre-trend and anticipation checks at the earlier run's estimates, failing in the same
    replicates: the committed rows of both runs show it."""
    import csv
    import gzip

    def checks(name):
        with gzip.open(ROOT / "docs" / name, "rt", newline="") as fh:
            return {(r["replicate"], r["test_id"]): r for r in csv.DictReader(fh)
                    if r["kind"] == "check" and r["test_id"].startswith(("pre-trend", "anticipation"))}

    now = checks("validation_anticipation.csv.gz")
    before = checks("validation_anticipation_earlier_rules.csv.gz")
    assert before and set(before) <= set(now)
    for key, row in before.items():
        assert now[key]["verdict"] == row["verdict"], key
        if row["estimate"]:
            assert abs(float(now[key]["estimate"]) - float(row["estimate"])) <= 1e-12, key
