"""Draw tests/reference/h2_input.csv: a small simulated court system, the H2 design's columns.

Run from the repository root: python tests/reference/draw_input.py
"""
import dataclasses

import numpy as np

from fairness_audit.config import load_config
from fairness_audit.features import build_frame
from fairness_audit.models.design import build_design
from fairness_audit.schema import coerce_decisions
from fairness_audit.simulate import SimulationParams, simulate

p = dataclasses.replace(SimulationParams(), n_courts=6, judges_per_court=5, first_fiscal_year=2017,
                        pace_mean=300.0, pace_min=150.0, pace_max=500.0)
sim = simulate(p, seed=4242)
d, _ = coerce_decisions(sim.decisions)
cfg = load_config()
fr = build_frame(d, sim.workload, cfg, coverage_start=sim.metadata["coverage_start"]).data
spec = cfg.models["H2"]
des = build_design(fr, spec)
df = fr.loc[des.data.index]
rng = np.random.default_rng(7)
keep = rng.random(len(df)) < 4000 / len(df)
df = df[keep]
cols = ["judge_id", "fiscal_year", "fiscal_month", "nationality", "case_type", "granted", "quota_shortfall",
        "post_policy", "represented", "detained", "juvenile", "asylum_application"]
out = df[cols].copy()
for c in ["granted", "post_policy", "represented", "detained", "juvenile", "asylum_application"]:
    out[c] = out[c].astype(int)
out["fiscal_month"] = out["fiscal_month"].astype(int)
out["quota_shortfall"] = out["quota_shortfall"].round(6)
# every fixed-effect level has both outcomes (R's glm has no separation handling)
for fe in ["judge_id", "fiscal_year", "fiscal_month", "nationality", "case_type"]:
    ok = out.groupby(fe)["granted"].transform(lambda s: 0 < s.mean() < 1)
    out = out[ok]
out.to_csv("tests/reference/h2_input.csv", index=False)
print(len(out), out.judge_id.nunique(), out.groupby("judge_id").size().describe())
