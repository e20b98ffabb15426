"""Write the bootstrap weights that tests/reference/wild_bootstrap.R reads.

Run from the repository root: python tests/reference/draw_wild_weights.py

For each case of the R script (an input of tests/reference/ and a model of the plan), the
audit's own draw of Webb weights (fairness_audit.models.wild_bootstrap.draw_weights, 999
replicates, the default plan's seed) for the judges of the rows the model fits, in the
bootstrap's order (sorted judge codes). Written as codes, one row per replicate and one column
per judge: a code c stands for the weight sign(c) x sqrt(|c| / 2), so that R and Python use the
same numbers to the last bit. R is not needed to run the comparisons
(tests/test_wild_bootstrap.py); a change to the draws needs a new run of the R script.
"""
from pathlib import Path

import numpy as np
import pandas as pd

from fairness_audit.config import ModelSpec, load_config
from fairness_audit.models.design import build_design
from fairness_audit.models.wild_bootstrap import LinearBootstrap, draw_weights, webb_values

REF = Path("tests/reference")
REPS = 999
X = ("quota_shortfall", "post_policy:quota_shortfall", "represented", "detained", "juvenile",
     "asylum_application")
# case -> (input, model, tested term); H2_lpm is read on the court x calendar month input
CASES = {
    "h1": ("h1_input.csv", ModelSpec(family="ols", outcome="log_duration",
                                     terms=("post_policy:pre_policy_gap",),
                                     fixed_effects=("judge_id", "court_id^quarter"),
                                     cov_type="CRV3"), "post_policy:pre_policy_gap"),
    "h5": ("h5_input.csv", ModelSpec(family="ols", outcome="granted",
                                     terms=("unrepresented", "post_policy:unrepresented", "detained",
                                            "juvenile", "asylum_application"),
                                     fixed_effects=("judge_id", "fiscal_year", "fiscal_month",
                                                    "nationality", "case_type")),
           "post_policy:unrepresented"),
    "h2_lpm": ("h2_court_month_input.csv", ModelSpec(
        family="ols", outcome="granted", terms=X,
        fixed_effects=("judge_id", "court_id^calendar_month", "nationality", "case_type")),
        "post_policy:quota_shortfall"),
}


def read_input(name: str) -> pd.DataFrame:
    text = {c: str for c in ("judge_id", "court_id", "nationality", "case_type", "quarter",
                             "calendar_month")}
    return pd.read_csv(REF / name, dtype=text)


def case_bootstrap(case: str) -> tuple[LinearBootstrap, str]:
    """The audit's bootstrap rows for a case, and its tested term."""
    name, spec, term = CASES[case]
    return LinearBootstrap.from_design(build_design(read_input(name), spec)), term


def main() -> None:
    seed = load_config().seed
    for case in CASES:
        boot, _ = case_bootstrap(case)
        weights = draw_weights("webb", REPS, boot.n_clusters, seed=seed)
        codes = np.rint(np.sign(weights) * 2 * weights ** 2).astype(int)
        assert np.array_equal(webb_values(codes), weights)
        out = pd.DataFrame(codes, columns=[str(c) for c in boot.cluster_labels])
        out.to_csv(REF / f"wild_{case}_weights.csv", index=False)
        print(f"wild_{case}_weights.csv: {REPS} replicates x {boot.n_clusters} judges")


if __name__ == "__main__":
    main()
