"""Benchmark: the outcome models of H2, H3, H4 and H7 on a national-size decisions table.

The table (default 6 M decisions, 700 judges in 70 courts, 200 nationalities, 15 fiscal years
FY2007-FY2021) is built directly with numpy: the benchmark measures the models, not the
day-by-day simulator. Every feature column the models read is drawn with realistic shares
(grant ~30%, in absentia ~6%, appeals ~16%, remands ~15% of decided appeals) and outcomes come
from logits with judge effects and the planted pressure terms.

Each stage runs in its own child process, so that its peak memory is the child's maximum
resident set size (``ru_maxrss``, which counts native memory that tracemalloc cannot see):

1. baseline: one pyfixest ``feols`` of ``granted`` on H2's terms and fixed effects, on H2's
   sample (the same rows the logits fit);
2. the models: every model of the plan that the tests of H2, H3, H4 and H7 read (H2, its
   removal, linear-probability and duration variants, H3, H4, H7), each built with
   ``build_design`` and fitted with ``fit`` exactly as an audit does, with the average
   marginal effects of the tested terms.

    python benchmarks/bench_models.py                 # 6 M decisions
    python benchmarks/bench_models.py --rows 300000   # a quick check
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HYPOTHESES = ("H2", "H3", "H4", "H7")


def national_frame(rows: int, *, judges: int = 700, courts: int = 70, nationalities: int = 200,
                   first_fy: int = 2007, last_fy: int = 2021, seed: int = 1) -> pd.DataFrame:
    """An analysis frame (the columns features.build_frame produces) of national size."""
    from scipy.special import expit

    rng = np.random.default_rng(seed)
    judge = rng.integers(0, judges, rows)
    court = judge % courts
    start = np.datetime64(f"{first_fy - 1}-10-01")
    days = (np.datetime64(f"{last_fy}-10-01") - start).astype(int)
    date = start + rng.integers(0, days, rows).astype("timedelta64[D]")
    month = date.astype("datetime64[M]").astype(int) % 12 + 1
    year = date.astype("datetime64[Y]").astype(int) + 1970
    fy = year + (month >= 10)
    post = ((date >= np.datetime64("2018-10-01")) & (date < np.datetime64("2021-10-01"))).astype(float)
    in_window = (date >= np.datetime64("2016-10-01")) & (date < np.datetime64("2021-10-01"))
    share = rng.dirichlet(np.full(nationalities, 0.3))
    nat = rng.choice(nationalities, rows, p=share)
    nat_effect = rng.normal(0, 0.8, nationalities)
    detained = (rng.random(rows) < 0.3).astype(float)
    represented = (rng.random(rows) < np.where(detained == 1, 0.3, 0.75)).astype(float)
    juvenile = (rng.random(rows) < 0.07).astype(float)
    asylum = (rng.random(rows) < 0.5).astype(float)
    case_type = rng.choice(3, rows, p=[0.93, 0.04, 0.03])
    sf = rng.gamma(1.5, 0.6, rows) * (rng.random(rows) < 0.8)
    leniency = rng.normal(0, 1.0, judges)
    log_duration = rng.normal(0.4 - 1.6 * detained + 0.3 * represented, 0.5)
    eta_ia = -1.2 - 1.6 * represented - 3.0 * detained + rng.normal(0, 0.3, judges)[judge] + 0.15 * post * sf
    in_absentia = rng.random(rows) < expit(eta_ia)
    eta_g = (-1.6 + leniency[judge] + nat_effect[nat] + 1.5 * represented - 0.5 * detained
             + 0.3 * juvenile + 0.4 * asylum - 0.12 * post * sf - 0.10 * post * sf * (1 - represented))
    granted = ~in_absentia & (rng.random(rows) < expit(eta_g))
    removal = ~granted & (in_absentia | (rng.random(rows) < 0.8))
    appealed = rng.random(rows) < np.where(removal, 0.25, 0.05)
    decided = appealed & (rng.random(rows) < 0.85)
    eta_r = -2.0 - 0.3 * log_duration + 0.1 * post * sf + rng.normal(0, 0.3, judges)[judge]
    remanded = np.where(decided, (rng.random(rows) < expit(eta_r)).astype(float), np.nan)
    judge_ids = np.array([f"J{j:04d}" for j in range(judges)])
    return pd.DataFrame({
        "judge_id": pd.Categorical(judge_ids[judge]),
        "court_id": pd.Categorical(np.array([f"C{c:03d}" for c in range(courts)])[court]),
        "fiscal_year": fy.astype("int64"), "fiscal_month": month.astype("int64"),
        "nationality": pd.Categorical(np.array([f"N{k:03d}" for k in range(nationalities)])[nat]),
        "case_type": pd.Categorical(np.array(["RMV", "DEP", "EXC"])[case_type]),
        "in_window": in_window, "post_policy": post, "quota_shortfall": sf,
        "represented": represented, "unrepresented": 1.0 - represented, "detained": detained,
        "juvenile": juvenile, "asylum_application": asylum, "log_duration": log_duration,
        "granted": granted.astype(float), "removal_ordered": removal.astype(float),
        "in_absentia": in_absentia.astype(float), "appealed": appealed.astype(float),
        "remanded": remanded,
    })


def plan_models():
    """The models that the plan's H2, H3, H4 and H7 tests read, with their tested terms."""
    from fairness_audit.config import load_config

    config = load_config()
    wanted: dict[str, list[str]] = {}
    for hid in HYPOTHESES:
        for t in config.hypotheses[hid].tests:
            if t.model in config.models:
                wanted.setdefault(t.model, []).append(t.term)
    return config, wanted


def _child(stage: str, data: str, out: str) -> None:
    import warnings

    from fairness_audit.models.design import build_design
    from fairness_audit.models.regression import fit

    frame = pd.read_parquet(data)
    config, wanted = plan_models()
    timings: dict[str, float] = {}
    t_all = time.perf_counter()
    if stage == "baseline":
        import pyfixest as pf

        spec = config.models["H2"]
        design = build_design(frame, spec)
        t0 = time.perf_counter()
        pf.feols(" + ".join([f"{spec.outcome} ~ " + " + ".join(
            c for c in design.data.columns if c not in (spec.outcome, *design.fe_columns, design.cluster))])
            + " | " + " + ".join(design.fe_columns), design.data,
            vcov={"CRV1": design.cluster}, store_data=False, copy_data=False)
        timings["feols"] = time.perf_counter() - t0
        n_obs = {"feols": len(design.data)}
    else:
        n_obs = {}
        for name, terms in wanted.items():
            t0 = time.perf_counter()
            design = build_design(frame, config.models[name])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = fit(design, name=name, marginal_terms=tuple(terms))
            timings[name] = time.perf_counter() - t0
            n_obs[name] = result.n_obs
            del design, result
    total = time.perf_counter() - t_all
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    Path(out).write_text(json.dumps({"stage": stage, "seconds": timings, "total": total,
                                     "n_obs": n_obs, "peak_rss_gb": rss_kb / 1024**2}))


def run_stage(stage: str, data: Path) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
        out = fh.name
    ctx = mp.get_context("spawn")
    proc = ctx.Process(target=_child, args=(stage, str(data), out))
    t0 = time.perf_counter()
    proc.start()
    proc.join()
    wall = time.perf_counter() - t0
    if proc.exitcode != 0:
        raise SystemExit(f"stage {stage} failed with exit code {proc.exitcode}")
    result = json.loads(Path(out).read_text())
    os.unlink(out)
    result["wall_with_startup"] = wall
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=6_000_000)
    parser.add_argument("--judges", type=int, default=700)
    parser.add_argument("--courts", type=int, default=70)
    parser.add_argument("--nationalities", type=int, default=200)
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    frame = national_frame(args.rows, judges=args.judges, courts=args.courts,
                           nationalities=args.nationalities)
    build = time.perf_counter() - t0
    with tempfile.TemporaryDirectory(prefix="bench-models-") as tmp:
        data = Path(tmp) / "national.parquet"
        frame.to_parquet(data)
        n_window = int(frame["in_window"].sum())
        del frame
        print(f"table: {args.rows:,} decisions ({n_window:,} in the window), built in {build:.1f} s",
              flush=True)
        baseline = run_stage("baseline", data)
        print(f"baseline feols: {baseline['seconds']['feols']:.1f} s on {baseline['n_obs']['feols']:,} "
              f"rows, peak {baseline['peak_rss_gb']:.2f} GB", flush=True)
        models = run_stage("models", data)
    for name, sec in models["seconds"].items():
        print(f"  {name}: {sec:.1f} s ({models['n_obs'][name]:,} rows)")
    ratio = models["total"] / baseline["seconds"]["feols"]
    print(f"models: {models['total']:.1f} s in all ({models['wall_with_startup']:.1f} s with process "
          f"start and reading the table), peak {models['peak_rss_gb']:.2f} GB; "
          f"ratio to one feols: {ratio:.1f}")
    if args.json:
        args.json.write_text(json.dumps({"rows": args.rows, "rows_in_window": n_window,
                                         "baseline": baseline, "models": models,
                                         "ratio": ratio}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
