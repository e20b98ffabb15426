"""Benchmark: the whole audit (``fairness-audit audit``, default plan) on a national-size table.

1. **The table** (made once, kept in benchmarks/data/, which git ignores): the simulator's court
   system at national size (default 70 courts x 10 judges = 700 judges, FY2008-FY2022, a mean
   pace of 760 completions a year, its judge-workload file), with nationalities spread over 200
   codes (the simulator draws 15; a fifth of the decisions get one of 185 further codes with
   Zipf shares, so the nationality fixed effects and the disparity tables have the real
   release's many small groups). No truth file: the benchmark measures the audit, not the
   targets.
2. **The audit**: ``fairness-audit audit TABLE --out DIR --profile stages.json`` in a fresh
   process. Its wall time includes process start and imports; its peak memory is the largest
   resident set size the stage log saw (VmHWM, read before every reset). ``--profile``
   records each stage's wall time and its own peak (the peak is reset between stages,
   fairness_audit/stages.py).
3. **The fits it cannot avoid**, in another fresh process in the same run: one point-estimate
   fit with pyfixest (``feols`` or ``feglm``, judge-clustered) on the decisions, per plan model
   (on that model's sample, with its fixed effects) and per regression of each timing analysis
   (each event study and its difference-in-differences, each difference-in-differences
   variant); the jackknife, bootstrap and falsification refits do not count, nor does H6's
   small expected-outcome model (leaving it out makes the baseline smaller, the ratio larger).
   Their sum is the baseline: the target is the whole audit within 1.5 times it. The audit
   itself fits the linear timing designs on exact cell means (models/cells.py), so its own
   fits cost less than these.

Writes benchmarks/results/bench_audit.json and .md (the table the README quotes).

    python benchmarks/bench_audit.py                       # 700 judges, FY2008-FY2022 (about 6 M decisions)
    python benchmarks/bench_audit.py --courts 4 --first-fy 2014   # a quick check
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "docs"))
import marked_block  # noqa: E402

EXTRA_NATIONALITIES = 185
EXTRA_SHARE = 0.2


def build_table(path: Path, *, courts: int, judges_per_court: int, first_fy: int, last_fy: int,
                seed: int, pace_mean: float) -> dict:
    """Simulate the national court system and write it as a decisions table (no truth file)."""
    from fairness_audit.simulate import SimulationParams, simulate
    from fairness_audit.tables import TablePaths, write_decision_data

    params = dataclasses.replace(SimulationParams(), n_courts=courts, judges_per_court=judges_per_court,
                                 first_fiscal_year=first_fy, last_fiscal_year=last_fy,
                                 pace_mean=pace_mean)
    start = time.perf_counter()
    sim = simulate(params, seed=seed)
    decisions = sim.decisions
    rng = np.random.default_rng(seed + 1)
    extra = rng.random(len(decisions)) < EXTRA_SHARE
    shares = 1.0 / np.arange(1, EXTRA_NATIONALITIES + 1)
    codes = np.array([f"X{i:03d}" for i in range(EXTRA_NATIONALITIES)], dtype=object)
    nationality = decisions["nationality"].astype(object).to_numpy().copy()
    nationality[extra] = rng.choice(codes, int(extra.sum()), p=shares / shares.sum())
    decisions = decisions.assign(nationality=nationality)
    write_decision_data(TablePaths(path), decisions, sim.workload, sim.ledger,
                        {**sim.metadata, "benchmark": "national table, 200 nationality codes"})
    return {"decisions": int(len(decisions)), "judges": courts * judges_per_court, "pace_mean": pace_mean,
            "courts": courts, "nationalities": int(decisions["nationality"].nunique()),
            "fiscal_years": f"FY{first_fy}-FY{last_fy}", "seconds_to_simulate": time.perf_counter() - start}


def run_audit(table: Path, out: Path) -> dict:
    """The whole command in a fresh process: wall time, peak memory and its stage log."""
    profile = out.parent / f"{out.name}.stages.json"
    cmd = [sys.executable, "-m", "fairness_audit", "audit", str(table), "--out", str(out),
           "--profile", str(profile)]
    start = time.perf_counter()
    subprocess.run(cmd, check=True)
    seconds = time.perf_counter() - start
    stages = json.loads(profile.read_text())
    # the stage log resets the peak between stages, which also resets what getrusage reports:
    # the process's peak is the largest the log saw
    return {"seconds": seconds, "peak_gb": stages["process_peak_gb"], "stages": stages}


FITS_SCRIPT = r"""
import gc, json, sys, time, warnings
import pyfixest as pf
from fairness_audit.analyses.timing import primary_designs
from fairness_audit.config import load_config
from fairness_audit.features import build_frame
from fairness_audit.models.design import build_design, column_for
from fairness_audit.schema import coerce_decisions
from fairness_audit.tables import read_decision_data

config = load_config()
data = read_decision_data(sys.argv[1])
decisions, _ = coerce_decisions(data.decisions)
frame = build_frame(decisions, data.workload, config,
                    coverage_start=data.metadata.get("coverage_start"))
needed = {t.model for h in config.hypotheses.values() for t in h.tests} | {
    c for h in config.hypotheses.values() for c in h.checks}
def designs():
    # one design at a time: all of them at once hold a copy of their columns each (27 models
    # and the timing designs at the national size did not fit in 24 GB)
    for name in sorted(needed - set(config.analyses)):
        yield name, build_design(frame.data, config.models[name], cluster=config.inference.cluster)
    for name in sorted(needed & set(config.analyses)):
        if config.analyses[name].kind in ("event_study", "did"):
            yield from primary_designs(frame, config, name)
rows = []
for name, design in designs():
    formula = (f"{design.spec.outcome} ~ " + " + ".join(column_for(t) for t in design.terms)
               + " | " + " + ".join(design.fe_columns))
    family = design.spec.family
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if family == "logit":
            pf.feglm(formula, design.data, family="logit", vcov={"CRV1": design.cluster})
        else:
            pf.feols(formula, design.data, vcov={"CRV1": design.cluster})
    seconds = time.perf_counter() - start
    gc.collect()  # as the audit's fit does: the engine's objects sit in reference cycles
    rows.append({"fit": name, "rows": len(design.data), "family": family, "seconds": seconds})
    print(f"  {name:40s} {len(design.data):>10,} rows {seconds:7.1f} s", flush=True)
json.dump(rows, open(sys.argv[2], "w"), indent=1)
"""


def run_fits(table: Path, out: Path) -> dict:
    """One point-estimate fit per plan model and analysis regression, in a fresh process."""
    rows_path = out.parent / f"{out.name}.fits.json"
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", FITS_SCRIPT, str(table), str(rows_path)], check=True)
    wall = time.perf_counter() - start
    rows = json.loads(rows_path.read_text())
    return {"fits": rows, "sum_seconds": sum(r["seconds"] for r in rows), "wall_seconds": wall}


def markdown(result: dict) -> str:
    t, a, f = result["table"], result["audit"], result["fits"]
    stages = a["stages"]["stages"]
    lines = [
        f"Table: {t['decisions']:,} decisions ({t['in_window']:,} in the analysis window), "
        f"{t['judges']} judges in {t['courts']} courts, {t['nationalities']} nationalities, "
        f"{t['fiscal_years']}, with its judge-workload file.",
        "",
        "| what | wall time | peak memory |",
        "|---|---|---|",
        f"| **the whole audit** (`fairness-audit audit`, fresh process) | **{a['seconds']:.0f} s "
        f"({a['seconds'] / 60:.1f} min)** | **{a['peak_gb']:.1f} GB** |",
        f"| the plan's own fits (one point-estimate fit each, {len(f['fits'])} fits) | "
        f"{f['sum_seconds']:.0f} s | |",
        f"| **ratio** | **{a['seconds'] / f['sum_seconds']:.2f}** | |",
        "",
        "Stages of the audit (each stage's own peak memory; nested stages indented):",
        "",
        "| stage | seconds | peak GB |",
        "|---|---|---|",
    ]
    for s in _ordered(stages):
        indent = "&nbsp;&nbsp;" * s["depth"]
        lines.append(f"| {indent}{s['stage']} | {s['seconds']:.1f} | {s['peak_gb']:.2f} |")
    lines += ["", "The plan's fits (the baseline):", "", "| fit | family | rows | seconds |",
              "|---|---|---|---|"]
    lines += [f"| {r['fit']} | {r['family']} | {r['rows']:,} | {r['seconds']:.1f} |" for r in f["fits"]]
    lines += ["", "Against the targets:", "", verdict(result).rstrip("\n")]
    m = result["machine"]
    lines += ["", f"Machine: {m['cpus']} cores, {m['memory_gb']:.0f} GB, Python {m['python']}, "
              f"run {result['date']}. Command: `{result['command']}`."]
    return "\n".join(lines) + "\n"


TARGETS = {"minutes": 10.0, "peak_gb": 12.0, "ratio": 1.5}


def verdict(result: dict) -> str:
    """The run against the targets, one line each (rendered into the README and the docs)."""
    a, f = result["audit"], result["fits"]
    top = {s["stage"]: s for s in a["stages"]["stages"] if s["parent"] is None}
    minutes, ratio = a["seconds"] / 60, a["seconds"] / f["sum_seconds"]
    heaviest = max(top.values(), key=lambda s: s["peak_gb"])
    rest = a["seconds"] - f["sum_seconds"]

    def met(ok: bool) -> str:
        return "met" if ok else "not met"

    return "\n".join([
        f"- at most {TARGETS['minutes']:.0f} minutes: {met(minutes <= TARGETS['minutes'])} "
        f"({minutes:.1f} min);",
        f"- at most {TARGETS['peak_gb']:.0f} GB: {met(a['peak_gb'] <= TARGETS['peak_gb'])} "
        f"({a['peak_gb']:.1f} GB, in the stage '{heaviest['stage']}');",
        f"- at most {TARGETS['ratio']} times the plan's own fits: {met(ratio <= TARGETS['ratio'])} "
        f"(ratio {ratio:.2f}: the fits take {f['sum_seconds']:.0f} s, everything else "
        f"{rest:.0f} s, of which the disparity tables "
        f"{top.get('disparities', {}).get('seconds', 0):.0f} s).",
    ]) + "\n"


def readme_rows(result: dict) -> str:
    """The README's table for the whole audit (a test checks the README holds it)."""
    t, a, f = result["table"], result["audit"], result["fits"]
    stages = {s["stage"]: s for s in a["stages"]["stages"] if s["parent"] is None}
    split = ", ".join(f"{name} {stages[name]['seconds']:.0f} s" for name in
                      ("read", "features", "hypotheses", "disparities", "report") if name in stages)
    return ("| stage | size | time | peak memory | target |\n|---|---|---|---|---|\n"
            f"| the whole audit (`python benchmarks/bench_audit.py`) | {t['decisions']:,} decisions "
            f"({t['in_window']:,} in the window), {t['judges']} judges, {t['courts']} courts, "
            f"{t['nationalities']} nationalities, {t['fiscal_years']}, with the workload file | "
            f"{a['seconds'] / 60:.1f} min ({split}); the plan's own fits "
            f"{f['sum_seconds']:.0f} s, ratio {a['seconds'] / f['sum_seconds']:.2f} | "
            f"{a['peak_gb']:.1f} GB | 10 min, 12 GB, 1.5x the fits |\n\nAgainst the targets:\n\n"
            + verdict(result))


BLOCK = "bench_audit"  # its markers in the pages: docs/marked_block.py


def write_docs(result: dict, root: Path = HERE.parent) -> None:
    """Put this run's tables into docs/performance.md and the README, between their markers."""
    marked_block.write(root / "docs" / "performance.md", BLOCK, markdown(result))
    marked_block.write(root / "README.md", BLOCK, readme_rows(result))


def _ordered(stages: list[dict]) -> list[dict]:
    """Stages in the order they started, each with its nesting depth (records end child-first)."""
    children: dict[str | None, list[dict]] = {}
    for s in stages:
        children.setdefault(s["parent"], []).append(s)
    out: list[dict] = []

    def walk(parent: str | None, depth: int) -> None:
        for s in children.get(parent, []):
            out.append({**s, "depth": depth})
            walk(s["stage"], depth + 1)

    walk(None, 0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--courts", type=int, default=70)
    ap.add_argument("--judges-per-court", type=int, default=10)
    ap.add_argument("--pace-mean", type=float, default=760.0,
                    help="judges' mean completions a year (the simulator's default is 650; 760 "
                         "gives 700 judges over 15 years about 6 M merits decisions)")
    ap.add_argument("--first-fy", type=int, default=2008)
    ap.add_argument("--last-fy", type=int, default=2022)
    ap.add_argument("--seed", type=int, default=2018)
    ap.add_argument("--data", type=Path, default=HERE / "data")
    ap.add_argument("--results", type=Path, default=HERE / "results")
    ap.add_argument("--skip-fits", action="store_true", help="time the audit only")
    args = ap.parse_args()

    name = (f"national_{args.courts}x{args.judges_per_court}_fy{args.first_fy}-{args.last_fy}"
            f"_pace{args.pace_mean:g}_s{args.seed}")
    table = args.data / name / "court.parquet"
    info_path = table.with_name("table.json")
    if not info_path.exists():
        print(f"simulating {args.courts} courts x {args.judges_per_court} judges, "
              f"FY{args.first_fy}-FY{args.last_fy} ...", flush=True)
        table.parent.mkdir(parents=True, exist_ok=True)
        info_path.write_text(json.dumps(build_table(
            table, courts=args.courts, judges_per_court=args.judges_per_court,
            first_fy=args.first_fy, last_fy=args.last_fy, seed=args.seed, pace_mean=args.pace_mean)))
    info = json.loads(info_path.read_text())
    print(f"table: {info['decisions']:,} decisions, {info['judges']} judges", flush=True)

    out = args.data / name / "audit"
    print("running the audit in a fresh process ...", flush=True)
    audit = run_audit(table, out)
    results = json.loads((out / "results.json").read_text())
    info["in_window"] = results["data"]["rows_used"]
    print(f"audit: {audit['seconds']:.0f} s, {audit['peak_gb']:.1f} GB", flush=True)
    fits = {"fits": [], "sum_seconds": float("nan")} if args.skip_fits else run_fits(table, out)
    result = {
        "date": time.strftime("%Y-%m-%d"), "table": info, "audit": audit, "fits": fits,
        "command": " ".join(["python benchmarks/bench_audit.py", *sys.argv[1:]]),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "memory_gb": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3},
    }
    args.results.mkdir(parents=True, exist_ok=True)
    default = ap.parse_args([])
    same = all(getattr(args, k) == getattr(default, k) for k in ("courts", "judges_per_court",
                                                                  "first_fy", "last_fy", "pace_mean"))
    stem = args.results / ("bench_audit" if same else f"bench_audit_{name}")
    stem.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    stem.with_suffix(".md").write_text(markdown(result))
    if same and not args.skip_fits:
        write_docs(result)
    print(markdown(result))


if __name__ == "__main__":
    main()
