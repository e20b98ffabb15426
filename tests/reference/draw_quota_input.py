"""Draw the input of tests/reference/reference_quota.R: the first stage's judge x quarter panel.

Run from the repository root: python tests/reference/draw_quota_input.py

Writes first_stage_input.csv: the panel that ``fairness_audit.analyses.quota.completions_panel``
builds from one small simulated court system (3 courts of 6 judges, FY2014-FY2021), with the
default plan but a quota target of 40 completions a year: the judges are simulated at a slow
pace (5-60 completions a year), so that some quarters of a spell hold no completion (rows of
0) and the pre-policy gaps differ between judges. Columns: judge_id, court_id, quarter,
completions, post_policy, pre_policy_gap.

A court x quarter with one judge is a singleton (our engine drops it, R's lm keeps it and fits
it exactly: the same coefficients, another n); none is left in the panel, so that the number
of rows fitted agrees too. A change to the simulator or to the panel changes what this draws:
the committed input is the reference, and a new draw needs a new run of the R script
(tests/test_reference_r_quota.py says how).
"""
import dataclasses
from pathlib import Path

from fairness_audit.analyses.quota import completions_panel
from fairness_audit.config import load_config, parse_config
from fairness_audit.features import build_frame
from fairness_audit.schema import coerce_decisions
from fairness_audit.simulate import SimulationParams, simulate

OUT = Path("tests/reference")


def main() -> None:
    p = dataclasses.replace(SimulationParams(), n_courts=3, judges_per_court=6, pace_mean=25.0,
                            pace_sd=12.0, pace_min=5.0, pace_max=60.0)
    sim = simulate(p, seed=2024)
    plan = load_config().to_dict()
    plan["features"]["quota_target"] = 40
    config = parse_config(plan)
    decisions, _ = coerce_decisions(sim.decisions)
    frame = build_frame(decisions, sim.workload, config, coverage_start=sim.metadata["coverage_start"])
    panel = completions_panel(frame, config, first=-8, last=11).data
    sizes = panel.groupby(["court_id", "quarter"])["judge_id"].transform("size")
    panel = panel[sizes > 1]
    out = panel[["judge_id", "court_id", "quarter", "completions", "post_policy", "pre_policy_gap"]].copy()
    out["completions"] = out["completions"].astype(int)
    out["post_policy"] = out["post_policy"].astype(int)
    out["pre_policy_gap"] = out["pre_policy_gap"].round(6)
    out.to_csv(OUT / "first_stage_input.csv", index=False)
    print(f"first_stage_input.csv: {len(out)} rows, {out['judge_id'].nunique()} judges, "
          f"{int((out['completions'] == 0).sum())} quarters without a completion")


if __name__ == "__main__":
    main()
