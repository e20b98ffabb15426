"""The cell-mean engine of the linear timing designs equals OLS on the decisions.

Checked against pyfixest's ``feols`` on the decisions themselves (an independent fit: other
code, every row), including singleton decisions that pyfixest drops, a term collinear with the
fixed effects, and the jackknife against leave-one-judge-out refits by pyfixest.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyfixest as pf
import pytest

from fairness_audit.config import ModelSpec
from fairness_audit.models.design import build_design
from fairness_audit.models.regression import fit


def _frame(seed: int = 3, judges: int = 24) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for j in range(judges):
        court = j % 4
        gap = max(0.0, rng.normal(1.0, 0.8))
        for q in range(-4, 4):
            n = int(rng.integers(3, 12))
            post = float(q >= 0)
            y = 0.3 * rng.normal() - 0.08 * post * gap + 0.05 * q + rng.normal(0, 0.5, n)
            rows += [{"judge_id": f"J{j:02d}", "court_id": f"C{court}", "quarter": q,
                      "post_policy": post, "pre_policy_gap": gap, "log_duration": v} for v in y]
    frame = pd.DataFrame(rows)
    # a singleton court x quarter level: one decision of a court seen in no other quarter
    lone = frame.iloc[[0]].assign(court_id="C9", quarter=9, judge_id="J00")
    frame = pd.concat([frame, lone], ignore_index=True)
    frame["constant_within_judge"] = frame["pre_policy_gap"]  # collinear with judge effects
    return frame


SPEC = ModelSpec(family="ols", outcome="log_duration",
                 terms=("post_policy:pre_policy_gap", "constant_within_judge"),
                 fixed_effects=("judge_id", "court_id^quarter"), sample=(), cov_type="CRV3")


def _pyfixest(frame: pd.DataFrame):
    data = frame.assign(pg=frame["post_policy"] * frame["pre_policy_gap"],
                        cq=frame["court_id"] + "|" + frame["quarter"].astype(str))
    return pf.feols("log_duration ~ pg + constant_within_judge | judge_id + cq", data,
                    vcov={"CRV1": "judge_id"})


def test_cells_reproduce_ols_on_the_decisions():
    frame = _frame()
    design = build_design(frame, SPEC, cluster="judge_id")
    with pytest.warns(UserWarning):  # the collinear term and the singleton are reported
        res = fit(design, name="cells")
    ref = _pyfixest(frame)
    assert res.params["post_policy:pre_policy_gap"] == pytest.approx(ref.coef()["pg"], rel=1e-8)
    assert np.isnan(res.params["constant_within_judge"])  # dropped, as pyfixest drops it
    assert "constant_within_judge" not in ref.coef().index
    assert res.n_obs == ref._N == len(frame) - 1  # the singleton decision is dropped by both
    assert res.excluded["dropped by the engine: singleton or constant-outcome fixed-effect group"] == 1
    assert res.cov_type == "CRV3"


def test_cell_jackknife_equals_leave_one_judge_out_refits():
    frame = _frame(seed=5, judges=12)
    spec = ModelSpec(family="ols", outcome="log_duration", terms=("post_policy:pre_policy_gap",),
                     fixed_effects=("judge_id", "court_id^quarter"), sample=(), cov_type="CRV3")
    with pytest.warns(UserWarning):  # few judge clusters
        res = fit(build_design(frame, spec, cluster="judge_id"), name="cells")
    b = _pyfixest(frame.drop(columns="constant_within_judge").assign(constant_within_judge=0.0))
    full = b.coef()["pg"]
    judges = sorted(frame["judge_id"].unique())
    deviations = [_pyfixest(frame[frame["judge_id"] != g].assign(constant_within_judge=0.0))
                  .coef()["pg"] - full for g in judges]
    G = len(judges)
    expected = np.sqrt((G - 1) / G * np.sum(np.square(deviations)))
    assert res.std_errors["post_policy:pre_policy_gap"] == pytest.approx(expected, rel=1e-6)


def test_refactorize_makes_each_columns_codes_consecutive():
    from fairness_audit.models.cells import refactorize

    fe = np.array([[7, 0], [2, 5], [7, 5], [9, 0]])
    np.testing.assert_array_equal(refactorize(fe), [[1, 0], [0, 1], [1, 1], [2, 0]])
    assert refactorize(fe[:0]).shape == (0, 2)
    with pytest.raises(ValueError, match="non-negative"):
        refactorize(np.array([[0], [-1]]))
