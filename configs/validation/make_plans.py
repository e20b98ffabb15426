"""Write the verdict-only validation plans from the default plan (docs/validation.md).

The stress validation runs hundreds of audits, so its plans keep only what decides a verdict:
the primary tests of H1-H5 and H7, the checks that can force them (H1's event study, the
placebo terms) and the guards; no supporting or other robustness tests, no H6, no group tables.

* ``verdicts.yaml``: the default plan's rules (court x month effects, guards, checks judged by
  relevance).
* ``verdicts_earlier_rules.yaml``: the rules before them (fiscal-year and fiscal-month effects
  with CRV1 errors, no guards, checks judged by significance alone), to record how often they
  false-flag.
* ``referee.yaml``: the default plan with what the referee's quantities need (bootstrap
  p-values, parallel-trends and omitted-variable sensitivity) and without what they do not
  (the group tables, H6), to record their behaviour on the null and planted designs.

Run from the repository's top folder: ``python configs/validation/make_plans.py``; a test
checks that the committed files are what this writes.
"""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
DEFAULT = HERE.parent.parent / "fairness_audit" / "configs" / "default.yaml"
HYPOTHESES = ("H1", "H2", "H3", "H4", "H5", "H7")
F = ["judge_id", "fiscal_year", "fiscal_month", "nationality", "case_type"]
NO_GROUP_TABLES = {"outcomes": [], "continuous": [], "dimensions": [], "intersections": [],
                   "adjusted": False, "bootstrap_replicates": 50}


def verdict_plan(plan: dict) -> dict:
    """The plan's primary tests, placebo terms, guards and the analyses named under checks."""
    out = {k: copy.deepcopy(v) for k, v in plan.items()
           if k not in ("models", "analyses", "hypotheses", "disparities")}
    out["hypotheses"] = {}
    for hid in HYPOTHESES:
        hyp = copy.deepcopy(plan["hypotheses"][hid])
        guards = {g for t in hyp["tests"] for g in t.get("guards", [])}
        hyp["tests"] = [t for t in hyp["tests"]
                        if t["role"] in ("primary", "placebo") or t["id"] in guards]
        out["hypotheses"][hid] = hyp
    tests = [t for h in out["hypotheses"].values() for t in h["tests"]]
    names = {t["model"] for t in tests}
    out["models"] = {k: v for k, v in plan["models"].items() if k in names}
    checks = {c for h in out["hypotheses"].values() for c in h.get("checks", [])}
    out["analyses"] = {k: copy.deepcopy(v) for k, v in plan["analyses"].items()
                       if k in names | checks}
    out["disparities"] = dict(NO_GROUP_TABLES)
    # what reads no verdict costs time and is left out: bootstrap p-values, omitted-variable
    # and parallel-trends sensitivity (the verdicts keep the analytic p-values)
    out["inference"]["bootstrap"] = {**out["inference"].get("bootstrap", {}), "reps": 0}
    out["inference"]["omitted_variable"] = {**out["inference"].get("omitted_variable", {}),
                                            "roles": []}
    for spec in out["analyses"].values():
        if spec.get("kind") == "event_study":
            spec["options"] = {**spec.get("options", {}), "parallel_trends": False}
    return out


def earlier_rules(plan: dict) -> dict:
    """The verdict plan under the earlier rules: F fixed effects, no guards, significance."""
    out = copy.deepcopy(plan)
    out["inference"]["check_rule"] = "significance"
    guard_models = set()
    for hyp in out["hypotheses"].values():
        guard_ids = {g for t in hyp["tests"] for g in t.pop("guards", [])}
        guard_models |= {t["model"] for t in hyp["tests"] if t["id"] in guard_ids}
        hyp["tests"] = [t for t in hyp["tests"] if t["id"] not in guard_ids]
        if "forcing_checks" in hyp:
            hyp["forcing_checks"] = [k for k in hyp["forcing_checks"] if k != "guard"]
    for name in guard_models:
        del out["models"][name]
    for spec in out["models"].values():
        if "court_id^calendar_month" in spec.get("fixed_effects", []):
            spec["fixed_effects"] = list(F)
            spec.pop("cov_type", None)  # CRV1, the earlier rules' standard errors
    return out


def referee_plan(plan: dict) -> dict:
    """The default plan without the group tables and H6, which carry no referee's quantity."""
    out = copy.deepcopy(plan)
    out["disparities"] = dict(NO_GROUP_TABLES)
    del out["hypotheses"]["H6"]
    out["analyses"] = {k: v for k, v in out["analyses"].items() if v.get("kind") != "judge_variance"}
    return out


def plans() -> dict[str, dict]:
    plan = yaml.safe_load(DEFAULT.read_text())
    verdicts = verdict_plan(plan)
    return {"verdicts.yaml": verdicts, "verdicts_earlier_rules.yaml": earlier_rules(verdicts),
            "referee.yaml": referee_plan(plan)}


def text(name: str, plan: dict) -> str:
    head = (f"# {name}: written by configs/validation/make_plans.py from the default plan; do not "
            "edit by hand.\n")
    return head + yaml.safe_dump(plan, sort_keys=False, width=100)


if __name__ == "__main__":
    for name, plan in plans().items():
        (HERE / name).write_text(text(name, plan))
        print(f"wrote {HERE / name}")
