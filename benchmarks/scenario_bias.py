"""How far each stress scenario pushes the primary design toward the concern, with no effect planted.

For each scenario, each seed simulates a court system with ``--null`` (no quota effect
planted) at 100 judges (20 courts of 5, FY2015-FY2021, the size of the validation runs) and
computes, as ``fairness-audit simulate`` does for truth.json, the pseudo-true target of the
primary terms of H1, H2 and H7 (each model fitted to the true expected outcomes of the draw on
the audit's sample) and their causal effect (0: nothing is planted). H2 and H7 are fitted with
the fixed effects F of contract section 5 (judge, fiscal year, fiscal month, nationality, case
type), the design the scenarios are built to bias, and with the plan's own specification of
H2 and H7 where it differs (court x calendar month fixed effects), to show what that absorbs.
The table gives each target's mean over the seeds, its range and its ratio to the test's
smallest effect of interest (sesoi) in the concern's direction: a positive ratio is a bias
toward the concern.

``--national`` instead simulates the national scenario once (its own size, over 500 judges)
in a child process, timed, with the child's peak memory (maximum resident set size) after
simulating and after the targets; then runs ``fairness-audit simulate --scenario national
--null`` (the whole default plan's targets) in another, timed the same way.

    python benchmarks/scenario_bias.py               # 4 scenarios x 3 seeds, about 10 minutes
    python benchmarks/scenario_bias.py --national    # the national scenario's cost
    python benchmarks/scenario_bias.py --seeds 1 --scenario shocks   # a quick look, not saved

A run with the defaults (all scenarios, 3 seeds or more) and a ``--national`` run each write
their part of benchmarks/results/scenario_bias.json, render benchmarks/results/scenario_bias.md
from it, and write that between the ``scenario_bias`` markers of docs/simulator.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing as mp
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from fairness_audit.config import AuditConfig, load_config
from fairness_audit.schema import coerce_decisions
from fairness_audit.simulate import Simulation, SimulationParams, simulate
from fairness_audit.truth import causal_effects, model_targets

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs"))
import marked_block  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "scenario_bias.json"
DOCS = ROOT / "docs" / "simulator.md"
BLOCK = "scenario_bias"  # its markers in docs/simulator.md: docs/marked_block.py
BEGIN, END = marked_block.markers(BLOCK)
SCENARIOS = ("none", "drift", "shocks", "feedback")
TERM = {"H1": "post_policy:pre_policy_gap", "H2": "post_policy:quota_shortfall",
        "H7": "post_policy:quota_shortfall"}
SEED_BASE = 7_000_000
SIZE = {"n_courts": 20, "judges_per_court": 5, "first_fiscal_year": 2015}


def plan(config: AuditConfig) -> tuple[AuditConfig, dict[str, tuple[str, str]]]:
    """The models to fit: H1; H2 and H7 with F, and with the plan's own specification and its
    guards where they differ.

    Returns the plan restricted to those models (with their primary tests, for the causal
    effects) and, per model name, (hypothesis, specification in words).
    """
    models, labels = {}, {}
    for hid in ("H1", "H2", "H7"):
        spec = config.models[hid]
        if hid == "H1":
            models[hid], labels[hid] = spec, (hid, " + ".join(spec.fixed_effects))
            continue
        models[f"{hid}_F"] = spec.model_copy(update={"fixed_effects": config.fixed_effects})
        labels[f"{hid}_F"] = (hid, "F")
        if tuple(spec.fixed_effects) != tuple(config.fixed_effects):
            models[hid], labels[hid] = spec, (hid, "plan: " + " + ".join(spec.fixed_effects))
        tests = {t.id: t for t in config.hypotheses[hid].tests}
        for primary in (t for t in tests.values() if t.role == "primary" and t.model == hid):
            for guard in primary.guards:
                name = tests[guard].model
                models[name], labels[name] = config.models[name], (hid, f"plan, guard {guard}")
    hypotheses = {}
    for hid, hyp in config.hypotheses.items():
        primary = [t for t in hyp.tests if t.role == "primary" and t.model == hid]
        tests = tuple(t.model_copy(update={"model": name, "guards": ()})
                      for t in primary for name in models if labels[name][0] == hid)
        if tests:
            hypotheses[hid] = hyp.model_copy(update={"tests": tests, "checks": ()})
    restricted = config.model_copy(update={"models": models, "analyses": {},
                                           "hypotheses": hypotheses})
    return restricted, labels


def primary_terms(sim: Simulation, config: AuditConfig) -> dict[str, tuple[float, float]]:
    """(target, causal effect) of each model's primary term on one simulated draw."""
    decisions, _ = coerce_decisions(sim.decisions)
    start = sim.metadata["coverage_start"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # small cells in a few fixed effects: not the point here
        targets = model_targets(decisions, sim.workload, sim.expected, config, coverage_start=start)
        causal = causal_effects(decisions, sim.workload, sim.expected_planted,
                                sim.expected_unplanted, config, coverage_start=start)
    return {name: (targets[name][TERM[name[:2]]], causal[name][TERM[name[:2]]])
            for name in config.models}


def _sesoi(config: AuditConfig, hid: str) -> tuple[float, int]:
    (test,) = [t for t in config.hypotheses[hid].tests if t.role == "primary"]
    return test.sesoi, test.concern_sign


def _rows(scenario: str, draws: list[dict[str, tuple[float, float]]],
          labels: dict[str, tuple[str, str]], base: AuditConfig) -> list[dict]:
    rows = []
    for name, (hid, specification) in labels.items():
        sesoi, sign = _sesoi(base, hid)
        rows.append({"scenario": scenario, "hypothesis": hid, "specification": specification,
                     "targets": [d[name][0] for d in draws],
                     "causal_max_abs": max(abs(d[name][1]) for d in draws),
                     "sesoi": sesoi, "concern_sign": sign})
    return rows


def _national_child(queue) -> None:
    base = load_config()
    config, labels = plan(base)
    t0 = time.perf_counter()
    sim = simulate(SimulationParams(scenario="national", first_fiscal_year=2015).null(),
                   seed=SEED_BASE)
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # kB on Linux
    days = sim.decisions["decision_date"]
    out = {"judges": int(sim.decisions["judge_id"].nunique()),
           "courts": int(sim.decisions["court_id"].nunique()),
           "decisions": len(sim.decisions),
           "in_window": int(((days >= "2016-10-01") & (days < "2021-10-01")).sum()),
           "simulate_seconds": seconds, "simulate_peak_gb": peak}
    t0 = time.perf_counter()
    out["rows"] = _rows("national", [primary_terms(sim, config)], labels, base)
    out["targets_seconds"] = time.perf_counter() - t0
    # --null: nothing planted, so the causal effects are 0 without a fit
    out["targets_models"] = len(config.models)
    out["targets_peak_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    queue.put(out)


def run_national() -> dict:
    """The national scenario: its size, its cost, its bias (one seed)."""
    with tempfile.TemporaryDirectory(prefix="fa-national-") as tmp:
        # first, so that the largest child so far (RUSAGE_CHILDREN) is this command
        command = ["fairness-audit", "simulate", "--out", "TMP/court.parquet", "--scenario",
                   "national", "--null", "-q"]
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "fairness_audit", "simulate", "--out",
                        f"{tmp}/court.parquet", *command[4:]], check=True)
        seconds = time.perf_counter() - t0
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2  # kB on Linux
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    child = ctx.Process(target=_national_child, args=(queue,))
    child.start()
    out = queue.get()
    child.join()
    out.update(command=" ".join(command), command_seconds=seconds, command_peak_gb=peak)
    return out


def markdown(result: dict) -> str:
    lines = []
    table = result.get("scenarios")
    if table:
        lines += [f"{table['seeds']} seeds per scenario, {table['judges']} judges in "
                  f"{table['courts']} courts, FY{table['first_fiscal_year']}-FY2021, --null "
                  f"(seeds {SEED_BASE} on). Command: `{table['command']}`.", "",
                  "| scenario | test | specification | target (mean) | range over seeds | "
                  "causal | x sign / sesoi |", "|---|---|---|---|---|---|---|"]
        lines += [_line(r) for r in table["rows"]]
    national = result.get("national")
    if national:
        n = national
        lines += ["", f"National scenario (`{n['command_line']}`): {n['judges']} judges in "
                  f"{n['courts']} courts, {n['decisions']:,} merits decisions FY2015-FY2021, "
                  f"{n['in_window']:,} of them in the analysis window [2016-10-01, 2021-10-01). "
                  f"Simulating took {n['simulate_seconds']:.0f} s and {n['simulate_peak_gb']:.1f} "
                  f"GB (peak resident memory); the {n['targets_models']} target fits of the "
                  f"table below another {n['targets_seconds']:.0f} s (peak "
                  f"{n['targets_peak_gb']:.1f} GB). The whole command, `{n['command']}` "
                  f"(FY2014-FY2021, the default plan's targets and group rates), took "
                  f"{n['command_seconds'] / 60:.0f} min and {n['command_peak_gb']:.1f} GB "
                  f"(with planted effects it also fits every model twice more for the causal "
                  f"effects).",
                  "", "| scenario | test | specification | target | | causal | x sign / sesoi |",
                  "|---|---|---|---|---|---|---|"]
        lines += [_line(r) for r in n["rows"]]
    if result.get("machine"):
        m = result["machine"]
        lines += ["", f"Machine: {m['cpus']} cores, Python {m['python']}."]
    return "\n".join(lines) + "\n"


def _line(r: dict) -> str:
    values = np.array(r["targets"])
    ratio = r["concern_sign"] * values.mean() / r["sesoi"]
    spread = (f"[{values.min():+.4f}, {values.max():+.4f}]" if len(values) > 1 else "")
    return (f"| {r['scenario']} | {r['hypothesis']} | {r['specification']} | "
            f"{values.mean():+.4f} | {spread} | {r['causal_max_abs']:.2g} | {ratio:+.2f} |")


def write(part: str, value: dict) -> None:
    result = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    result[part] = value
    result["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version()}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    text = markdown(result)
    RESULTS.with_suffix(".md").write_text(text)
    marked_block.write(DOCS, BLOCK, text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--scenario", action="append", choices=SCENARIOS)
    parser.add_argument("--national", action="store_true",
                        help="one draw of the national scenario instead, timed")
    args = parser.parse_args(argv)
    if args.national:
        national = run_national()
        national["command_line"] = "python benchmarks/scenario_bias.py --national"
        write("national", national)
        print(markdown({"national": national}))
        return 0
    base = load_config()
    config, labels = plan(base)
    rows = []
    for scenario in args.scenario or SCENARIOS:
        params = dataclasses.replace(SimulationParams(), **SIZE, scenario=scenario).null()
        draws = []
        for r in range(args.seeds):
            draws.append(primary_terms(simulate(params, seed=SEED_BASE + r), config))
            print(f"{scenario}: seed {r + 1} of {args.seeds} done", file=sys.stderr, flush=True)
        rows += _rows(scenario, draws, labels, base)
    table = {"seeds": args.seeds, "judges": SIZE["n_courts"] * SIZE["judges_per_court"],
             "courts": SIZE["n_courts"], "first_fiscal_year": SIZE["first_fiscal_year"],
             "command": "python benchmarks/scenario_bias.py"
                        + (f" --seeds {args.seeds}" if args.seeds != 3 else ""), "rows": rows}
    if args.scenario is None and args.seeds >= 3:
        write("scenarios", table)
    print(markdown({"scenarios": table}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
