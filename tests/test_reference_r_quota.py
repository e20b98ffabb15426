"""The first stage's pooled coefficient and its jackknife standard error against base R.

The input (tests/reference/first_stage_input.csv, the judge x quarter panel of a small
simulated court drawn by tests/reference/draw_quota_input.py), the script
(tests/reference/reference_quota.R: lm with judge and court x quarter factor dummies, the
leave-one-judge-out jackknife as a loop) and its exact output
(tests/reference/first_stage_r_output.csv) are committed; R is not needed to run the comparison.
To regenerate the output (R 4.2.2, base packages only):

    Rscript tests/reference/reference_quota.R tests/reference tests/reference

The last test reruns the script when Rscript is there and checks that it writes the committed
output. The simulated judges work at a slow pace against a target of 40 a year so that the
panel holds quarters without a completion; the sign of the estimate means nothing here.

Tolerances (relative), as in tests/test_reference_r_more.py for H1: the coefficient 1e-6 (the
same least-squares problem; we sweep the fixed effects out at 1e-10, R solves the dummies by QR);
the jackknife standard error 1e-4 (R refits lm once per judge, we refit on cell means).
"""

from __future__ import annotations

import shutil
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fairness_audit.analyses.quota import FIRST_STAGE_OPTIONS
from fairness_audit.config import ModelSpec
from fairness_audit.errors import ModelWarning
from fairness_audit.models.design import build_design
from fairness_audit.models.regression import fit

REF = Path(__file__).parent / "reference"
SCRIPT = REF / "reference_quota.R"
TERM = "post_policy:pre_policy_gap"
# the first stage's pooled model as the analysis fits it (analyses/quota.py first_stage)
SPEC = ModelSpec(family="ols", outcome="completions", terms=(TERM,),
                 fixed_effects=tuple(FIRST_STAGE_OPTIONS["fixed_effects"]),
                 cov_type=FIRST_STAGE_OPTIONS["cov_type"], cluster="judge_id")
COEF_RTOL = 1e-6
SE_RTOL = 1e-4


def _input() -> pd.DataFrame:
    return pd.read_csv(REF / "first_stage_input.csv",
                       dtype={"judge_id": str, "court_id": str, "quarter": str})


def _r_output(folder: Path = REF) -> pd.DataFrame:
    return pd.read_csv(folder / "first_stage_r_output.csv", skipinitialspace=True)


def test_first_stage_jackknife_matches_r_loop_over_judges():
    frame = _input()
    assert (frame["completions"] == 0).sum() > 0  # the panel's zeros are in the reference
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModelWarning)  # 17 judges: the few-clusters note
        result = fit(build_design(frame, SPEC), name="first stage reference")
    ref = _r_output().set_index("term").loc[TERM]
    assert SPEC.cov_type == "CRV3" and result.cov_type == "CRV3"
    assert result.n_obs == int(ref["n_obs"]) == len(frame)
    assert result.n_clusters == int(ref["n_clusters"]) == frame["judge_id"].nunique()
    assert result.params[TERM] == pytest.approx(float(ref["estimate"]), rel=COEF_RTOL)
    assert result.std_errors[TERM] == pytest.approx(float(ref["std_error"]), rel=SE_RTOL)


@pytest.mark.skipif(shutil.which("Rscript") is None, reason="Rscript is not on the PATH")
def test_rerunning_the_r_script_gives_the_committed_output(tmp_path):
    done = subprocess.run(["Rscript", str(SCRIPT), str(REF), str(tmp_path)], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    fresh, committed = _r_output(tmp_path), _r_output()
    text = ["model", "term", "n_obs", "k", "n_aliased", "n_clusters"]
    pd.testing.assert_frame_equal(fresh[text], committed[text])
    # R prints 15 digits; another BLAS may move the last
    np.testing.assert_allclose(fresh[["estimate", "std_error"]], committed[["estimate", "std_error"]],
                               rtol=1e-10)


def _differences() -> None:
    """Print the relative differences from R (docs/validation.md)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModelWarning)
        result = fit(build_design(_input(), SPEC), name="first stage reference")
    ref = _r_output().set_index("term").loc[TERM]
    coef = abs(result.params[TERM] / float(ref["estimate"]) - 1)
    se = abs(result.std_errors[TERM] / float(ref["std_error"]) - 1)
    print(f"first stage: n {result.n_obs}, G {result.n_clusters}; coefficient {coef:.1e}, "
          f"standard error {se:.1e}")


if __name__ == "__main__":
    # python tests/test_reference_r_quota.py (from the repository root)
    _differences()
