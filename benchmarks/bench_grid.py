"""Benchmark: the cost of the specification grid (plan key ``robustness_grid``) on the demo court.

The demo court is the table ``make demo`` simulates (configs/demo.yaml: 8 courts of 5 judges,
FY2014-FY2021, about 180,000 merits decisions, seed 20181001). The benchmark reads
out/demo/data/court.parquet when ``make demo`` has written it, else simulates the same table
into benchmarks/data/demo_court/ (git ignores benchmarks/data/). It builds the analysis frame
with the default plan plus the grid below, fits H2's primary model once (which also compiles
what the engines compile on first use, as an audit's earlier fits do), then fits the grid
exactly as an audit does (``robustness.fit_grid``), timing each fit as the stage
"model H2.grid.<k>" (``fairness_audit/stages.py``, what ``audit --profile`` records). The grid
is fitted ROUNDS times and each model's time is its median over the rounds (the machine may be
shared).

The grid: H2 with its fixed effects Fc or F, its sample with or without
``no_asylum_application``, clustered by judge or by court: 8 combinations, of which 2 are models
the plan already fits (H2 itself and H2_fiscal_fe) and are not refitted, so 6 fits.

Writes benchmarks/results/bench_grid.json and .md (the table docs/models.md quotes; the methods
appendix states the mean seconds per model, ``report/methods.py`` GRID_SECONDS_PER_MODEL).

    python benchmarks/bench_grid.py
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEMO = ROOT / "out" / "demo" / "data" / "court.parquet"
ROUNDS = 3
SAMPLE = ["in_window", "has_quota_shortfall", "not_in_absentia"]
GRID = {
    "hypotheses": ["H2"],
    "fixed_effects": [["judge_id", "court_id^calendar_month", "nationality", "case_type"],
                      ["judge_id", "fiscal_year", "fiscal_month", "nationality", "case_type"]],
    "samples": [SAMPLE, [*SAMPLE, "no_asylum_application"]],
    "cluster": ["judge_id", "court_id"],
}


def demo_table() -> Path:
    """The demo court's decisions table: make demo's, or the same simulation written here."""
    if DEMO.exists():
        return DEMO
    from fairness_audit.simulation_io import simulate_to_files

    path = HERE / "data" / "demo_court" / "court.parquet"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        simulate_to_files(path, seed=20181001)
    return path


def run() -> dict:
    import yaml

    from fairness_audit.config import default_config_text, parse_config
    from fairness_audit.features import build_frame
    from fairness_audit.hypotheses import fit_models
    from fairness_audit.robustness import fit_grid, grid_cells
    from fairness_audit.schema import coerce_decisions
    from fairness_audit.stages import recording
    from fairness_audit.tables import read_decision_data

    plan = yaml.safe_load(default_config_text())
    plan["robustness_grid"] = GRID
    config = parse_config(plan, "the benchmark's plan")
    table = demo_table()
    data = read_decision_data(table)
    decisions, _ = coerce_decisions(data.decisions)
    frame = build_frame(decisions, data.workload, config,
                        coverage_start=data.metadata.get("coverage_start"))
    start = time.perf_counter()
    fit_models(frame, config, {"H2"})
    primary = time.perf_counter() - start
    seconds: dict[str, list[float]] = {}
    for _ in range(ROUNDS):
        with recording() as log:
            grid = fit_grid(frame, config)
        for r in log.records:
            if r["stage"].startswith("model H2.grid."):
                seconds.setdefault(r["stage"].removeprefix("model "), []).append(r["seconds"])
    fits = [{"model": name, "seconds": round(statistics.median(times), 2)}
            for name, times in seconds.items()]
    entries = grid["H2.primary"]
    return {
        "table": os.path.relpath(table, ROOT), "decisions": int(len(decisions)),
        "grid": GRID, "combinations": len(grid_cells(config)), "fitted": len(fits), "rounds": ROUNDS,
        "not_refitted": [e["reason"] for e in entries if "reason" in e],
        "primary_seconds": round(primary, 2), "fits": fits,
        "seconds_per_model": round(sum(f["seconds"] for f in fits) / len(fits), 1),
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
    }


def markdown(result: dict) -> str:
    """The table docs/models.md quotes."""
    lines = [f"Specification grid on the demo court ({result['decisions']:,} decisions; "
             f"`python benchmarks/bench_grid.py`, {result['machine']}): "
             f"{result['combinations']} combinations, {result['fitted']} fitted "
             f"({len(result['not_refitted'])} are models the plan already fits); each grid "
             f"model's median over {result['rounds']} rounds.", "",
             "| model | seconds |", "|---|---|",
             f"| H2 (the primary model, for comparison) | {result['primary_seconds']:.1f} |"]
    lines += [f"| {f['model']} | {f['seconds']:.1f} |" for f in result["fits"]]
    lines += [f"| mean per grid model | {result['seconds_per_model']:.1f} |"]
    return "\n".join(lines) + "\n"


def main() -> None:
    result = run()
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "bench_grid.json").write_text(json.dumps(result, indent=1) + "\n")
    (out / "bench_grid.md").write_text(markdown(result))
    sys.stdout.write(markdown(result))


if __name__ == "__main__":
    main()
