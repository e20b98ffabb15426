"""Benchmark: CR2's covariance (models/bias_reduced.py ``adjusted_cov``) at national size.

A synthetic design shaped like H2's at the national benchmark's size: 70 courts of 10 judges,
48 months, 60 decisions a judge-month (2,016,000 rows), fixed effects for the judge, court x
month (3,360 levels), nationality (200 codes with Zipf shares) and case type (5), 8 terms, the
first varying between a court's judges by month as the quota shortfall does, logit weights.
Prints the median wall time of ``--repeats`` calls. It imports only ``adjusted_cov``, so the
same script times an earlier commit's (copy it there).

    python benchmarks/bench_cr2.py                 # national size
    python benchmarks/bench_cr2.py --courts 20 --per 10   # a quick check
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from fairness_audit.models.bias_reduced import adjusted_cov


def synthetic(courts: int, judges: int, months: int, per: int, nationalities: int, k: int,
              seed: int = 0):
    """(X, fe, clusters, weights, residuals) of a design like H2's, rows in random order."""
    rng = np.random.default_rng(seed)
    n_judges = courts * judges
    n = n_judges * months * per
    judge = np.repeat(np.arange(n_judges), months * per)
    month = np.tile(np.repeat(np.arange(months), per), n_judges)
    court_month = judge // judges * months + month
    nationality = np.minimum(rng.zipf(1.5, n) - 1, nationalities - 1)
    case_type = rng.integers(0, 5, n)
    X = rng.normal(size=(n, k))
    X[:, 0] = rng.normal(size=(n_judges, months))[judge, month]
    fe = np.column_stack([np.unique(c, return_inverse=True)[1]
                          for c in (judge, court_month, nationality, case_type)])
    mu = rng.uniform(0.1, 0.9, n)
    order = rng.permutation(n)
    return X[order], fe[order], judge[order], (mu * (1 - mu))[order], rng.normal(size=n)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--courts", type=int, default=70)
    parser.add_argument("--judges", type=int, default=10, help="judges a court")
    parser.add_argument("--months", type=int, default=48)
    parser.add_argument("--per", type=int, default=60, help="decisions a judge-month")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    X, fe, clusters, weights, residuals = synthetic(args.courts, args.judges, args.months,
                                                    args.per, 200, 8)
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        adjusted_cov(X, fe, clusters, weights=weights, residuals=residuals)
        times.append(time.perf_counter() - start)
    print(f"adjusted_cov on {len(X):,} rows, {args.courts * args.judges} judges: median "
          f"{statistics.median(times):.2f} s of {args.repeats} ({', '.join(f'{t:.2f}' for t in times)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
