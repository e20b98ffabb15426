"""Benchmark and exactness check of the wild cluster bootstrap p-values (models/wild_bootstrap.py).

1. Exactness, on a simulated court (6 courts of 5 judges, seed 11: tests/conftest.py's planted
   table): for each test of the plan that reads a linear model (H1, H2_lpm, H5), the bootstrap
   p-value and replicates computed three ways with the same Webb draws (the plan's replicates
   and seed):

   * the audit's: the fixed effects that are not nested in the judge clusters enter one system
     of their levels, solved once;
   * refits: each block of bootstrap outcomes swept of the fixed effects again and refitted
     (the module's slower exact path);
   * the shortcut: the fixed effects partialled out once and the bootstrap run on the
     transformed rows, each replicate's residuals not re-projected (exact only when every
     fixed effect is nested in the clusters);

   with the seconds the audit's way takes per model (what it adds to an audit of this court).
2. National size: decisions drawn with numpy in the shapes of H2_lpm (judge, court x calendar
   month, nationality, case type) and H5 (judge, fiscal year, fiscal month, nationality, case
   type): 2 M decisions, 700 judges in 70 courts, 60 months, 200 nationalities, 5 case types, the
   plan's replicates; seconds per model and peak memory, in a child process.

    python benchmarks/bench_wild_bootstrap.py                    # both parts
    python benchmarks/bench_wild_bootstrap.py --rows 200000      # a quick check

Writes benchmarks/results/bench_wild_bootstrap.json and .md (the table docs/models.md quotes).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing as mp
import platform
import resource
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results"
# the plan's linear tests: model -> tested terms
TESTS = {"H1": ["post_policy:pre_policy_gap"], "H2_lpm": ["post_policy:quota_shortfall"],
         "H5": ["post_policy:unrepresented", "unrepresented"]}


def _court_frame():
    from fairness_audit.config import load_config
    from fairness_audit.features import build_frame
    from fairness_audit.schema import coerce_decisions
    from fairness_audit.simulate import SimulationParams, simulate

    config = load_config()
    sim = simulate(dataclasses.replace(SimulationParams(), n_courts=6), seed=11)
    decisions, _ = coerce_decisions(sim.decisions)
    frame = build_frame(decisions, sim.workload, config,
                        coverage_start=sim.metadata["coverage_start"])
    return frame, config


def exactness() -> list[dict]:
    from fairness_audit.models import wild_bootstrap as wb
    from fairness_audit.models.cells import demean
    from fairness_audit.models.design import build_design

    class Shortcut(wb.LinearBootstrap):
        """No re-projection of the bootstrap residuals off the fixed effects."""

        def _level_setup(self):
            others, offsets, _, factor = super()._level_setup()
            return others, offsets, 0, factor

    frame, config = _court_frame()
    reps, seed = config.inference.bootstrap.reps, config.seed
    # the engine's first call loads its code: in an audit the model's fit has made it already
    demean(np.ones((4, 1)), np.zeros((4, 1), dtype=np.int64), np.ones(4))
    rows = []
    for name, terms in TESTS.items():
        design = build_design(frame.data, config.models[name], cluster=config.inference.cluster)
        started = time.perf_counter()
        boot = wb.LinearBootstrap.from_design(design)
        tests = [boot.test([t], wb.draw_weights("webb", reps, boot.n_clusters, seed=seed))
                 for t in terms]
        seconds = time.perf_counter() - started
        refit = wb.LinearBootstrap.from_design(design, max_levels=0)
        short = Shortcut.from_design(design)
        for term, test in zip(terms, tests, strict=True):
            draws = wb.draw_weights("webb", reps, boot.n_clusters, seed=seed)
            r, s = refit.test([term], draws), short.test([term], draws)
            assert r.path == "demean"
            rows.append({
                "model": name, "term": term, "rows": len(boot.yd), "decisions": test.n_obs,
                "judges": test.n_clusters, "levels": int(boot._level_setup()[2]),
                "p_audit": test.p_value, "p_refits": r.p_value, "p_shortcut": s.p_value,
                "max_abs_t_refits": float(np.abs(test.draws - r.draws).max()),
                "max_abs_t_shortcut": float(np.abs(test.draws - s.draws).max()),
                "median_rel_t_shortcut": float(np.median(np.abs(s.draws - test.draws)
                                                         / np.abs(test.draws))),
                "seconds_model": seconds})
    return rows


def _national_child(rows: int, queue) -> None:
    from fairness_audit.config import load_config
    from fairness_audit.models.wild_bootstrap import LinearBootstrap, draw_weights

    config = load_config()
    reps, seed = config.inference.bootstrap.reps, config.seed
    rng = np.random.default_rng(1)
    judges, months = 700, 60
    judge = rng.integers(0, judges, rows)
    court = judge // 10
    month = rng.integers(0, months, rows)
    zipf = 1 / np.arange(1, 201)
    nationality = rng.choice(200, rows, p=zipf / zipf.sum())
    case_type = rng.integers(0, 5, rows)
    shortfall = rng.gamma(2, 0.5, rows)
    X = np.column_stack([shortfall, (month >= 24) * shortfall]
                        + [(rng.random(rows) < p).astype(float) for p in (0.4, 0.3, 0.1, 0.6)])
    y = (rng.random(rows) < 0.3 + 0.01 * shortfall).astype(float)
    shapes = {"H2_lpm": np.column_stack([judge, court * months + month, nationality, case_type]),
              "H5": np.column_stack([judge, month // 12, month % 12, nationality, case_type])}
    terms = ["quota_shortfall", "post_policy:quota_shortfall", "represented", "detained",
             "juvenile", "asylum_application"]
    out = []
    for name, fe in shapes.items():
        started = time.perf_counter()
        boot = LinearBootstrap(y, X, fe, judge, terms=terms)
        test = boot.test(["post_policy:quota_shortfall"],
                         draw_weights("webb", reps, boot.n_clusters, seed=seed))
        out.append({"shape": name, "decisions": rows, "judges": test.n_clusters,
                    "levels": int(boot._level_setup()[2]), "reps": test.reps,
                    "seconds": time.perf_counter() - started})
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2
    queue.put({"models": out, "peak_gb": peak})


def national(rows: int) -> dict:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    child = ctx.Process(target=_national_child, args=(rows, queue))
    child.start()
    result = queue.get()
    child.join()
    return result


def markdown(report: dict) -> str:
    lines = [f"Exactness on a simulated court (6 courts of 5 judges, seed 11), {report['reps']:,} "
             f"Webb replicates, seed {report['seed']}:", "",
             "| model | term | rows | judges | levels not nested | p (audit) | p (refits) | "
             "p (shortcut) | largest t* difference: refits | shortcut | seconds (model) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in report["exactness"]:
        lines.append(f"| {r['model']} | `{r['term']}` | {r['rows']:,} | {r['judges']} | "
                     f"{r['levels']} | {r['p_audit']:.4f} | {r['p_refits']:.4f} | "
                     f"{r['p_shortcut']:.4f} | {r['max_abs_t_refits']:.1e} | "
                     f"{r['max_abs_t_shortcut']:.2f} (median {100 * r['median_rel_t_shortcut']:.1f}%) "
                     f"| {r['seconds_model']:.2f} |")
    n = report["national"]
    lines += ["", f"National size ({n['models'][0]['decisions']:,} decisions, "
                  f"{n['models'][0]['judges']} judges), {n['models'][0]['reps']:,} replicates, "
                  f"one term; peak memory {n['peak_gb']:.1f} GB:", "",
              "| shape | fixed-effect levels not nested in the judges | seconds |", "|---|---|---|"]
    for m in n["models"]:
        lines.append(f"| {m['shape']} | {m['levels']:,} | {m['seconds']:.1f} |")
    lines += ["", f"Machine: {report['machine']}; run {report['date']}. Command: "
                  f"`python benchmarks/bench_wild_bootstrap.py`."]
    return "\n".join(lines) + "\n"


def main() -> None:
    from fairness_audit.config import load_config

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000,
                        help="decisions of the national-size part (default 2,000,000)")
    args = parser.parse_args()
    config = load_config()
    report = {"reps": config.inference.bootstrap.reps, "seed": config.seed,
              "exactness": exactness(), "national": national(args.rows),
              "machine": f"{mp.cpu_count()} cores, Python {platform.python_version()}",
              "date": time.strftime("%Y-%m-%d")}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bench_wild_bootstrap.json").write_text(json.dumps(report, indent=1) + "\n")
    text = markdown(report)
    (RESULTS / "bench_wild_bootstrap.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
