"""Draw the inputs of tests/reference/reference_more.R from one small simulated court system.

Run from the repository root: python tests/reference/draw_more_inputs.py

Writes, each a random subsample of one model's sample in the plan (configs/default.yaml):

* h1_input.csv: H1's sample (in the window, judges with a pre-policy gap);
* h5_input.csv: H5's sample (in the window);
* h7_input.csv: H7's sample (in the window, with a quota shortfall);
* h2_court_month_input.csv: H2's sample, with court_id and calendar_month for the court x
  calendar month fixed effects;
* h2_separated_input.csv: H2's sample as above, with levels of one outcome: the first judge's
  decisions all set to "not granted"; to "granted": the second judge's, those of the largest
  court x month cell of the last judge's court, and those of the other judges in a cell of the
  first judge (a cell of one outcome once the first judge is dropped); levels whose outcome
  happens to be constant are left in.

The first four hold no fixed-effect level that R cannot fit as our engines do: no singleton
level for the linear models (our engines drop singletons, R's lm keeps them, which changes n in
the small-sample factor), and for the logits no level whose outcomes are all 0 or all 1 (R's
glm has no separation handling). Both are removed repeatedly until none is left.

A change to the simulator changes what this draws: the committed inputs are the reference, and
a new draw needs a new run of the R script (tests/test_reference_r_more.py says how).
"""
import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

from fairness_audit.config import load_config
from fairness_audit.features import build_frame
from fairness_audit.models.design import build_design
from fairness_audit.schema import coerce_decisions
from fairness_audit.simulate import SimulationParams, simulate

OUT = Path("tests/reference")
F = ["judge_id", "fiscal_year", "fiscal_month", "nationality", "case_type"]
FC = ["judge_id", "court_month", "nationality", "case_type"]
BINARY = ["granted", "in_absentia", "post_policy", "represented", "unrepresented", "detained",
          "juvenile", "asylum_application"]


def _prune(df: pd.DataFrame, fixed_effects: list[str], outcome: str, *, logit: bool) -> pd.DataFrame:
    """Drop rows of fixed-effect levels with one row (or, for a logit, one outcome), repeatedly."""
    while True:
        bad = pd.Series(False, index=df.index)
        for fe in fixed_effects:
            g = df.groupby(fe)[outcome]
            if logit:
                mean = g.transform("mean")
                bad |= (mean == 0) | (mean == 1)
            else:
                bad |= g.transform("size") == 1
        if not bad.any():
            return df
        df = df[~bad]


def _sample(frame: pd.DataFrame, model: str, n: int, seed: int) -> pd.DataFrame:
    cfg = load_config()
    rows = frame.loc[build_design(frame, cfg.models[model]).data.index]
    keep = np.random.default_rng(seed).random(len(rows)) < n / len(rows)
    return rows[keep].copy()


def _write(df: pd.DataFrame, cols: list[str], name: str) -> None:
    out = df[cols].copy()
    for c in cols:
        if c in BINARY or c in ("fiscal_year", "fiscal_month"):
            out[c] = out[c].astype(int)
        elif c in ("quota_shortfall", "pre_policy_gap", "log_duration"):
            out[c] = out[c].astype(float).round(6)
    out.to_csv(OUT / name, index=False)
    print(f"{name}: {len(out)} rows, {out['judge_id'].nunique()} judges")


def main() -> None:
    p = dataclasses.replace(SimulationParams(), n_courts=4, judges_per_court=8, first_fiscal_year=2015,
                            pace_mean=300.0, pace_min=150.0, pace_max=500.0)
    sim = simulate(p, seed=4243)
    d, _ = coerce_decisions(sim.decisions)
    fr = build_frame(d, sim.workload, load_config(), coverage_start=sim.metadata["coverage_start"]).data
    fr["court_month"] = fr["court_id"].astype(str) + " " + fr["calendar_month"].astype(str)
    fr["court_quarter"] = fr["court_id"].astype(str) + " " + fr["quarter"].astype(str)

    h1 = _prune(_sample(fr, "H1", 4000, 1), ["judge_id", "court_quarter"], "log_duration", logit=False)
    _write(h1, ["judge_id", "court_id", "quarter", "log_duration", "post_policy", "pre_policy_gap"],
           "h1_input.csv")

    h5 = _prune(_sample(fr, "H5", 4000, 5), F, "granted", logit=False)
    _write(h5, F + ["granted", "unrepresented", "post_policy", "detained", "juvenile",
                    "asylum_application"], "h5_input.csv")

    x = ["quota_shortfall", "post_policy", "represented", "detained", "juvenile", "asylum_application"]
    h7 = _prune(_sample(fr, "H7", 4000, 7), F, "in_absentia", logit=True)
    _write(h7, F + ["in_absentia"] + x, "h7_input.csv")

    fc_cols = ["judge_id", "court_id", "calendar_month", "nationality", "case_type", "granted"] + x
    h2c = _prune(_sample(fr, "H2", 6000, 2), FC, "granted", logit=True)
    _write(h2c, fc_cols, "h2_court_month_input.csv")

    sep = _sample(fr, "H2", 5000, 3)
    judges = sorted(sep["judge_id"].unique())
    sep.loc[sep["judge_id"] == judges[0], "granted"] = 0.0
    sep.loc[sep["judge_id"] == judges[1], "granted"] = 1.0
    # a court x month cell that is constant only once the first judge is dropped (the other
    # judges' decisions in it all granted): found on the second pass
    own = sep["judge_id"] == judges[0]
    shared = sep[sep["court_month"].isin(sep.loc[own, "court_month"])]
    others = shared[shared["judge_id"] != judges[0]].groupby("court_month").size()
    sep.loc[sep["court_month"].eq(others.idxmax()) & ~own, "granted"] = 1.0
    # the largest court x month cell of another court: granted for every decision
    court = sep.loc[sep["judge_id"] == judges[-1], "court_id"].iloc[0]
    cell = sep[sep["court_id"] == court].groupby("court_month").size().idxmax()
    sep.loc[sep["court_month"] == cell, "granted"] = 1.0
    _write(sep, fc_cols, "h2_separated_input.csv")


if __name__ == "__main__":
    main()
