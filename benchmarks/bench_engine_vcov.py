"""Benchmark: what a logit fit costs when pyfixest computes its own clustered covariance.

A model with ``cov_type: CR2`` gets its covariance from models/bias_reduced.py after the fit,
so the engine's CRV1 covariance would be thrown away; models/regression.py asks the engine for
its cheapest ("iid") instead. This script fits the same logit (``--rows`` synthetic rows shaped
like H2's: judge, court x month, nationality and case-type effects, twelve terms) with
``vcov={"CRV1": "judge_id"}`` and with ``vcov="iid"``, alternating, and prints each median.
The estimates do not depend on the choice (checked here too).

    python benchmarks/bench_engine_vcov.py                    # 2 M rows, 700 judges, 3 repeats
    python benchmarks/bench_engine_vcov.py --rows 200000 --repeats 2
"""
from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np
import pandas as pd
import pyfixest as pf


def synthetic_logit(rows: int, judges: int, seed: int = 0) -> tuple[str, pd.DataFrame]:
    """The formula and data of a logit shaped like H2's primary model."""
    rng = np.random.default_rng(seed)
    judge = rng.integers(0, judges, rows)
    court, month = judge // 10, rng.integers(0, 60, rows)
    X = rng.normal(size=(rows, 12))
    eta = X @ rng.normal(scale=0.1, size=12) + rng.normal(scale=0.3, size=judges)[judge] - 0.5
    data = pd.DataFrame(X, columns=[f"x{i}" for i in range(12)])
    data["y"] = (rng.random(rows) < 1 / (1 + np.exp(-eta))).astype(float)
    data["judge_id"] = judge.astype(str)
    data["court_month"] = (court * 100 + month).astype(str)
    data["nationality"] = rng.integers(0, 200, rows).astype(str)
    data["case_type"] = rng.integers(0, 5, rows).astype(str)
    formula = ("y ~ " + " + ".join(f"x{i}" for i in range(12))
               + " | judge_id + court_month + nationality + case_type")
    return formula, data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--judges", type=int, default=700)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    formula, data = synthetic_logit(args.rows, args.judges)
    ssc = pf.ssc(k_adj=True, k_fixef="full", G_adj=True, G_df="min")
    times: dict[str, list[float]] = {"CRV1": [], "iid": []}
    estimates = {}
    for _ in range(args.repeats):
        for name, vcov in (("CRV1", {"CRV1": "judge_id"}), ("iid", "iid")):
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = pf.feglm(formula, data, family="logit", vcov=vcov, ssc=ssc,
                                 store_data=False, copy_data=False, separation_check=[])
            times[name].append(time.perf_counter() - start)
            estimates[name] = np.asarray(model._beta_hat, dtype=float)
    difference = float(np.max(np.abs(estimates["CRV1"] - estimates["iid"])))
    print(f"{args.rows:,} rows, {args.judges} judges, {args.repeats} repeats each (alternating)")
    for name, values in times.items():
        print(f"  vcov {name:>4}: median {statistics.median(values):.2f} s "
              f"({', '.join(f'{v:.2f}' for v in values)})")
    print(f"  largest difference between the estimates: {difference:.1e}")


if __name__ == "__main__":
    main()
