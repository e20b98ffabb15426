"""Does the method work? Coverage, false flags and the design check over simulated court systems.

Each replicate simulates an independent court system, writes it as a decisions table, runs the
full audit (``compute_results``) with the plan, and records one row per test of the plan
(whatever hypotheses it contains) with the term's target from the simulation. The rows go to a
CSV as replicates finish, so that a run can be summarised, interrupted and resumed.

Designs:

* ``planted``: the simulator's default effects; coverage of each test's interval against the
  target of its term (contract section 8).
* ``null``: every tested term of H1-H5 and H7 zero (``SimulationParams.null``); the share of
  audits with any primary test of H1-H5 or H7 "consistent with the concern", and the design
  check: the quota_shortfall slope of the grant model without judge fixed effects (confounded
  by the pace-leniency correlation) against the same slope with them.
* ``no_spread``: no judge spread (H6's own calibration).
* ``anticipation``: the planted effects starting at 2018-04-01, six months before the policy
  date (just after the memo): the share of audits whose anticipation check catches it.

Every design also records the hypotheses' design checks (pre-trend, anticipation, placebo
dates, concurrent shocks) with their p-values, so that their rejection rates can be read: on
the null and on the planted effects (which start on the policy date) a check should fail no
more often than its level.

Command line::

    python -m fairness_audit.validation run --design planted --design null -R 200 \\
        --out validation/runs/replicates.csv --workers 2
    python -m fairness_audit.validation summarise validation/runs/replicates.csv
    python -m fairness_audit.validation snapshot validation/runs/replicates.csv rows.csv.gz
    python -m fairness_audit.validation recheck rows.csv.gz --design planted --replicate 0

The bounds are those of contract section 8: coverage at least
0.95 - 3.3 sqrt(0.0475 / R); false-flag and design-check rates at most
alpha + 2.33 sqrt(alpha (1 - alpha) / R).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import dataclasses
import gzip
import io
import itertools
import math
import os
import re
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from fairness_audit.progress import Live, ProgressLike, as_progress, terminal_progress

# one thread per worker process: the workers share the machine's cores
_THREAD_VARIABLES = ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                     "MKL_NUM_THREADS")


@contextlib.contextmanager
def _one_thread_per_worker():
    """Workers spawned inside this block start with one thread each (unless the user set the
    variables); the calling process's environment is restored after, so that nothing else it
    starts inherits the setting (importing this module used to change it for good)."""
    saved = {v: os.environ.get(v) for v in _THREAD_VARIABLES}
    for v in _THREAD_VARIABLES:
        os.environ.setdefault(v, "1")
    try:
        yield
    finally:
        for v, value in saved.items():
            if value is None:
                os.environ.pop(v, None)
            else:
                os.environ[v] = value

# stress scenarios (fairness_audit/scenarios.py), each without ("null_<s>") and with
# ("planted_<s>") the planted effects; verdicts there are judged against the causal effect
# planted (zero on the null arm), not against the models' pseudo-true targets
STRESS = ("drift", "shocks", "feedback", "national")
DESIGNS = ("planted", "null", "no_spread", "anticipation") + tuple(
    f"{arm}_{s}" for s in STRESS for arm in ("null", "planted"))
SEED_BASE = {"planted": 1_000_000, "null": 2_000_000, "no_spread": 3_000_000,
             "anticipation": 4_000_000} | {
    f"{arm}_{s}": 10_000_000 + 1_000_000 * i + (500_000 if arm == "planted" else 0)
    for i, s in enumerate(STRESS) for arm in ("null", "planted")}
ANTICIPATION_START = "2018-04-01"
FALSE_FLAG_HYPOTHESES = ("H1", "H2", "H3", "H4", "H5", "H7")
CONCERN = "consistent with the concern"
FIELDS = ("design", "replicate", "seed", "kind", "hypothesis", "test_id", "role", "model", "term",
          "scale", "estimate", "std_error", "ci_low", "ci_high", "p_value", "p_adjusted",
          "concern_sign", "verdict", "hypothesis_verdict", "target", "covered", "n_obs",
          "n_judges", "n_courts", "seconds", "error",
          # the referee's quantities (rows of kind "sensitivity", and tests' bootstrap p-values)
          "bootstrap_p", "bound", "robust_ci_low", "robust_ci_high", "breakdown",
          "robustness_value", "robustness_value_alpha")
# the grid point whose robust interval a sensitivity row records: relative magnitudes at
# Mbar = 1 (post-policy changes as large as the largest pre-policy one), smoothness at M = the
# plan's M per smallest effect of interest
SENSITIVITY_BOUND = 1.0


@dataclasses.dataclass(frozen=True)
class ReplicateSpec:
    """What one replicate simulates and how it is audited."""

    design: str
    replicate: int
    n_courts: int = 20
    judges_per_court: int = 5
    first_fiscal_year: int = 2015
    config: str | None = None  # audit plan (YAML); None = the packaged default
    design_model: str = "H2"  # model whose judge fixed effects the design check removes
    design_term: str = "quota_shortfall"
    confounder_sign: int = -1  # slow judges are stricter: shortfall and grant move apart

    @property
    def seed(self) -> int:
        return SEED_BASE[self.design] + self.replicate


def arm_and_scenario(design: str) -> tuple[str, str]:
    """("null" | "planted" | ..., scenario) of a design name such as "null_shocks"."""
    arm, _, scenario = design.partition("_")
    return (arm, scenario) if scenario in STRESS else (design, "none")


def simulation_params(spec: ReplicateSpec):
    from fairness_audit.simulate import SimulationParams

    arm, scenario = arm_and_scenario(spec.design)
    params = dataclasses.replace(SimulationParams(), n_courts=spec.n_courts,
                                 judges_per_court=spec.judges_per_court,
                                 first_fiscal_year=spec.first_fiscal_year, scenario=scenario)
    if scenario != "none":  # national sets its own size; the others keep the spec's
        return params.null() if arm == "null" else params
    if spec.design == "null":
        params = params.null()
    elif spec.design == "no_spread":
        params = params.without_judge_spread()
    elif spec.design == "anticipation":
        params = dataclasses.replace(params, effect_start=ANTICIPATION_START)
    return params


def _row(spec: ReplicateSpec, **values: Any) -> dict[str, Any]:
    row = {k: None for k in FIELDS}
    row.update(design=spec.design, replicate=spec.replicate, seed=spec.seed)
    row.update(values)
    return row


def _design_check_rows(spec: ReplicateSpec, frame, config) -> list[dict[str, Any]]:
    """The plan's grant model with and without judge fixed effects, its quota_shortfall slope."""
    import warnings

    from fairness_audit.errors import ModelWarning
    from fairness_audit.models.design import build_design
    from fairness_audit.models.regression import fit

    base = config.models[spec.design_model]
    variant = base.model_copy(update={"fixed_effects": tuple(
        fe for fe in base.fixed_effects if "judge_id" not in fe.split("^"))})
    rows = []
    for label, mspec in (("without judge fixed effects", variant),):
        design = build_design(frame.data, mspec, cluster=config.inference.cluster)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ModelWarning)
            result = fit(design, name=f"{spec.design_model} {label}")
        table = result.to_frame(config.inference.interval_level).set_index("term")
        for term in (spec.design_term, f"post_policy:{spec.design_term}"):
            if term not in table.index:
                continue
            t = table.loc[term]
            rows.append(_row(spec, kind="design_check", hypothesis=spec.design_model,
                             test_id=f"{spec.design_model} {label}", role="design_check",
                             model=f"{spec.design_model} {label}", term=term, scale="log-odds",
                             estimate=float(t["estimate"]), std_error=float(t["std_error"]),
                             ci_low=float(t["ci_low"]), ci_high=float(t["ci_high"]),
                             p_value=float(t["p_value"]), concern_sign=spec.confounder_sign,
                             n_obs=int(result.n_obs)))
    return rows


def check_key(name: str) -> str:
    """A check's short name: its text up to the first colon, e.g. 'pre-trend (log_duration)'."""
    return name.split(":", 1)[0]


def _check_rows(spec: ReplicateSpec, results: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per distinct design check of the audit (an analysis' checks appear once)."""
    rows, seen = [], set()
    for h in results["hypotheses"]:
        for c in h["checks"]:
            if c["name"] in seen:
                continue
            seen.add(c["name"])
            verdict = {True: "passed", False: "failed", None: "not estimable"}[c.get("passed")]
            rows.append(_row(spec, kind="check", hypothesis=h["id"], test_id=check_key(c["name"]),
                             role="check", model=c.get("model"), estimate=c.get("estimate"),
                             ci_low=c.get("ci_low"), ci_high=c.get("ci_high"),
                             p_value=c.get("p_value"), verdict=verdict,
                             error=c.get("note") if c.get("passed") is None else None))
    return rows


def _sensitivity_rows(spec: ReplicateSpec, results: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per parallel-trends bound (relative magnitudes, smoothness) and per
    omitted-variable entry of the audit, so that breakdown values and robustness values can be
    read over replicates (docs/validation.md section 6).

    On the ``null`` design the event studies' true post-policy average is zero, so ``target``
    is 0 and ``covered`` says whether the robust interval at :data:`SENSITIVITY_BOUND` holds it.
    """
    rows = []
    null_truth = arm_and_scenario(spec.design)[0] == "null"
    for h in results["hypotheses"]:
        for s in h.get("sensitivity", []):
            common = dict(kind="sensitivity", hypothesis=h["id"], test_id=s["test_id"],
                          scale=s.get("scale"), estimate=s.get("estimate"))
            if s["kind"] == "parallel_trends":
                for method, key in (("relative_magnitudes", "mbar"), ("smoothness", "multiple")):
                    bounds = s.get(method) or {}
                    point = next((g for g in bounds.get("grid", [])
                                  if g[key] == SENSITIVITY_BOUND), None)
                    lo, hi = (point["ci_low"], point["ci_high"]) if point else (None, None)
                    breakdown = (bounds.get("breakdown") or {})
                    value = breakdown.get("multiple" if method == "smoothness" else "value")
                    covered = None
                    if null_truth and lo is not None:
                        covered = int(lo <= 0 <= hi)
                    rows.append(_row(
                        spec, **common, role=method, model=s["analysis"],
                        std_error=s.get("std_error"), ci_low=s.get("ci_low"),
                        ci_high=s.get("ci_high"), concern_sign=s.get("concern_sign"),
                        verdict=s.get("reading"), bound=SENSITIVITY_BOUND if point else None,
                        robust_ci_low=lo, robust_ci_high=hi, breakdown=value,
                        target=0.0 if null_truth else None, covered=covered,
                        error=breakdown.get("note") or None))
            elif s["kind"] == "omitted_variable":
                rows.append(_row(spec, **common, role="omitted_variable", model=s["model"],
                                 term=s["term"], std_error=s.get("std_error_classical"),
                                 robustness_value=s.get("rv"),
                                 robustness_value_alpha=s.get("rv_alpha")))
    return rows


def run_replicate(spec: ReplicateSpec) -> list[dict[str, Any]]:
    """Simulate one court system, audit it, and return one row per test (and design check)."""
    import warnings

    from fairness_audit.audit import compute_results
    from fairness_audit.config import load_config
    from fairness_audit.features import build_frame
    from fairness_audit.schema import coerce_decisions
    from fairness_audit.simulate import simulate
    from fairness_audit.tables import TablePaths, write_decision_data
    from fairness_audit.truth import model_targets

    start = time.perf_counter()
    try:
        config = load_config(spec.config)
        params = simulation_params(spec)
        sim = simulate(params, seed=spec.seed)
        decisions, _ = coerce_decisions(sim.decisions)
        targets: dict[str, dict[str, float]] = {}
        if spec.design == "planted":
            targets = model_targets(decisions, sim.workload, sim.expected, config,
                                    coverage_start=sim.metadata["coverage_start"])
        with tempfile.TemporaryDirectory(prefix="fa-validation-") as tmp:
            paths = TablePaths.from_path(Path(tmp) / "court.parquet")
            write_decision_data(paths, sim.decisions, sim.workload, sim.ledger, sim.metadata)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                results = compute_results(paths.decisions, config)
        rows = []
        for h in results["hypotheses"]:
            for t in h["tests"]:
                target = targets.get(t["model"], {}).get(t["term"])
                covered = None
                if target is not None and t["ci_low"] is not None:
                    covered = int(t["ci_low"] <= target <= t["ci_high"])
                rows.append(_row(
                    spec, kind="test", hypothesis=h["id"], test_id=t["id"], role=t["role"],
                    model=t["model"], term=t["term"], scale=t["scale"], estimate=t["estimate"],
                    std_error=t["std_error"], ci_low=t["ci_low"], ci_high=t["ci_high"],
                    p_value=t["p_value"], p_adjusted=t["p_adjusted"],
                    concern_sign=t["concern_sign"], verdict=t["verdict"],
                    hypothesis_verdict=h["verdict"], target=target, covered=covered,
                    n_obs=t["n_obs"], bootstrap_p=(t.get("bootstrap") or {}).get("p_value"),
                    error=None if t["estimate"] is not None else t["verdict_reason"]))
        rows.extend(_check_rows(spec, results))
        rows.extend(_sensitivity_rows(spec, results))
        if spec.design == "null" and spec.design_model in config.models:
            frame = build_frame(decisions, sim.workload, config,
                                coverage_start=sim.metadata["coverage_start"])
            rows.extend(_design_check_rows(spec, frame, config))
    except Exception as exc:  # a failed replicate is a result too: it is counted, not lost
        return [_row(spec, kind="error", error=f"{type(exc).__name__}: {exc} | "
                     + traceback.format_exc(limit=3).replace("\n", " "),
                     seconds=round(time.perf_counter() - start, 1))]
    seconds = round(time.perf_counter() - start, 1)
    n_judges, n_courts = spec.n_courts * spec.judges_per_court, spec.n_courts
    if arm_and_scenario(spec.design)[1] == "national":
        n_judges, n_courts = int(sim.decisions["judge_id"].nunique()), \
            int(sim.decisions["court_id"].nunique())
    for r in rows:
        r.update(n_judges=n_judges, n_courts=n_courts, seconds=seconds)
    return rows


def _done(path: Path) -> set[tuple[str, int]]:
    """The replicates already in ``path``; a file with other columns than :data:`FIELDS` (an
    earlier harness's) is refused rather than appended to with misaligned columns."""
    if not path.exists():
        return set()
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames and tuple(reader.fieldnames) != FIELDS:
            missing = [f for f in FIELDS if f not in reader.fieldnames]
            raise ValueError(
                f"{path}: its columns are not this harness's (missing: {', '.join(missing) or '-'}; "
                f"unknown: {', '.join(f for f in reader.fieldnames if f not in FIELDS) or '-'}); "
                "write to a new --out file, or rewrite the file with "
                "`python -m fairness_audit.validation upgrade FILE`")
        return {(r["design"], int(r["replicate"])) for r in reader}


def upgrade(path: Path) -> int:
    """Rewrite a CSV of an earlier harness with this one's columns (new ones empty); returns
    the number of rows. Columns this harness does not know are refused, not dropped."""
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
    unknown = [f for f in reader.fieldnames or [] if f not in FIELDS]
    if unknown:
        raise ValueError(f"{path}: unknown columns {', '.join(unknown)}: not rewritten")
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)
    return len(rows)


def run(designs: Sequence[str], replicates: int, out: Path, *, workers: int = 2,
        start: int = 0, max_minutes: float | None = None, log=print,
        progress: ProgressLike = None, replicate=None, **spec_options: Any) -> Path:
    """Run the replicates not yet in ``out`` (designs interleaved), appending rows as they finish.

    ``log`` gets a line per replicate; ``progress`` (:mod:`fairness_audit.progress`) counts them.
    ``replicate`` runs one spec in a worker (default :func:`run_replicate`; a module-level
    function, which a spawned worker imports). After ``max_minutes`` no replicate starts; those
    running finish and are kept. A worker process that dies (the system kills the largest
    process when memory runs out) stops the run with :class:`WorkerDied` naming the replicates
    left, instead of waiting for them forever; the rows written so far are kept, and a rerun
    resumes. A second run on the same ``out`` while one is under way stops at once with
    :class:`RowsInUse`.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    with _sole_writer(out), open(out, "a", newline="") as fh:
        done = _done(out)
        specs = [ReplicateSpec(design=d, replicate=i, **spec_options)
                 for i in range(start, start + replicates) for d in designs if (d, i) not in done]
        log(f"{len(specs)} replicate(s) to run ({len(done)} already in {out}), {workers} worker(s)")
        if fh.tell() == 0:
            csv.DictWriter(fh, fieldnames=FIELDS).writeheader()
        _append_replicates(specs, fh, workers=workers, max_minutes=max_minutes, log=log,
                           progress=progress, replicate=replicate or run_replicate)
    return out


class RowsInUse(ValueError):
    """Another run is appending to the same rows file."""


@contextlib.contextmanager
def _sole_writer(out: Path):
    """Hold an exclusive lock on ``out``'s lock file while a run appends to it: two runs on one
    file would each run the replicates missing at their start and write them twice."""
    import fcntl

    lock_path = out.with_name(out.name + ".lock")
    with open(lock_path, "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "unknown"
            raise RowsInUse(f"{out}: another run (process {holder}) is appending to it; wait for "
                            "it to finish, or give this run another --out file") from None
        lock.seek(0)
        lock.truncate()
        lock.write(str(os.getpid()))
        lock.flush()
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _append_replicates(specs: list[ReplicateSpec], fh, *, workers: int,
                       max_minutes: float | None, log, progress: ProgressLike, replicate) -> None:
    """Run ``specs`` in ``workers`` processes, appending each replicate's rows to ``fh`` as it
    finishes."""
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    deadline = time.monotonic() + 60 * max_minutes if max_minutes else None
    t0 = time.monotonic()
    ctx = mp.get_context("spawn")
    with _one_thread_per_worker(), \
            ProcessPoolExecutor(workers, mp_context=ctx) as pool, \
            as_progress(progress).task("replicates", len(specs)) as task:
        # one replicate per worker is handed out at a time, so that after the time limit
        # none starts however quickly the running ones return
        waiting = iter(specs)
        running = {pool.submit(replicate, s): s for s in itertools.islice(waiting, workers)}
        written: set[ReplicateSpec] = set()
        try:
            while running:
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    rows = future.result()
                    written.add(running.pop(future))
                    # a replicate's rows in one write, so that a run stopped mid-way leaves
                    # whole replicates (and at most a cut line, see snapshot)
                    fh.write(_csv_text(rows))
                    fh.flush()
                    task.advance()
                    first = rows[0]
                    log(f"[{len(written)}/{len(specs)}] {first['design']} "
                        f"#{first['replicate']}: "
                        f"{'ERROR ' + str(first['error'])[:200] if first['kind'] == 'error' else 'ok'} "
                        f"({first['seconds']} s; {time.monotonic() - t0:.0f} s elapsed)")
                    if deadline and time.monotonic() > deadline:
                        left = len(specs) - len(written) - len(running)
                        log(f"time limit reached: {left} replicate(s) not started, those "
                            "running finish (rows so far are kept; rerun to resume)")
                        deadline = None
                        waiting = iter(())
                    for spec in itertools.islice(waiting, 1):
                        running[pool.submit(replicate, spec)] = spec
        except BrokenProcessPool:
            left = sorted(f"{s.design} #{s.replicate}" for s in specs if s not in written)
            raise WorkerDied(
                f"a worker process died before it returned (the system kills the largest "
                f"process when memory runs out: fewer --workers, or a larger machine); "
                f"{len(left)} replicate(s) not written: {', '.join(left[:6])}"
                f"{', ...' if len(left) > 6 else ''}. The rows so far are in {fh.name}; rerun "
                "to resume.") from None


def _csv_text(rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO(newline="")
    csv.DictWriter(buffer, fieldnames=FIELDS).writerows(rows)
    return buffer.getvalue()


def snapshot(sources: Sequence[Path], out: Path) -> dict[str, int]:
    """Copy the whole replicates of a harness's CSVs (one a run is still appending to) to one
    gzip file that holds the same bytes for the same rows (no time or file name in its header):
    what is committed while a long run goes on. A replicate with a row cut short (a run stopped
    in the middle of writing it) is left out; a replicate found in two files is refused. Returns
    the replicates copied per design.

    Rows are read as text: a spreadsheet or pandas reading the file with its defaults takes the
    design ``null`` for a missing value and loses those rows.
    """
    kept: list[dict[str, str]] = []
    found_in: dict[tuple[str, str], Path] = {}
    for source in sources:
        with open(source, newline="") as fh:
            reader = csv.DictReader(fh)
            if tuple(reader.fieldnames or ()) != FIELDS:
                raise ValueError(f"{source}: its columns are not this harness's; rewrite it "
                                 "first with `python -m fairness_audit.validation upgrade FILE`")
            rows = list(reader)
        cut = {(r["design"], r["replicate"]) for r in rows
               if None in r or any(v is None for v in r.values())}
        whole = [r for r in rows if (r["design"], r["replicate"]) not in cut]
        for key in dict.fromkeys((r["design"], r["replicate"]) for r in whole):
            if key in found_in:
                raise ValueError(f"{source}: replicate {key[0]} #{key[1]} is in {found_in[key]} "
                                 "too; snapshot files of different replicates")
            found_in[key] = source
        kept += whole
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with open(tmp, "wb") as raw, \
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as zipped, \
            io.TextIOWrapper(zipped, encoding="utf-8", newline="") as text:
        writer = csv.DictWriter(text, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(kept)
    tmp.replace(out)
    return dict(Counter(d for d, _ in dict.fromkeys((r["design"], r["replicate"])
                                                     for r in kept)))


# the columns that say which row it is (a replicate has several rows of one test: its checks)
_ROW_KEY = ("kind", "test_id", "role", "model", "term")


def recheck(path: Path, designs: Sequence[str], replicates: Sequence[int], *,
            config: str | None = None, replicate=None, atol: float = 1e-12) -> dict[str, Any]:
    """Run committed replicates again with this checkout's code and compare every value with
    the rows in ``path``: whether rows written by an earlier commit are still this code's.
    ``config`` is the audit plan the rows ran with (as for :func:`run`; the rows do not record
    it): the stress rows ran with configs/validation/verdicts.yaml.

    Returns the numbers compared, the largest absolute difference, the largest relative
    difference of the values that differ by more than ``atol`` (a zero computed as 1e-16 on one
    side and -1e-16 on the other is no relative difference of 2) and where it is, and every
    difference that is not a number (a text, a value present on one side only, a row missing).
    ``replicate`` as for :func:`run`.
    """
    committed: dict[tuple[str, str], list[dict[str, str]]] = {}
    for r in read_rows([path]):
        committed.setdefault((r["design"], r["replicate"]), []).append(r)
    compared, largest, where, largest_abs, problems = 0, 0.0, None, 0.0, []
    for design in designs:
        for i in replicates:
            spec = ReplicateSpec(design=design, replicate=i, config=config)
            old = committed.get((design, str(i)), [])
            if not old:
                problems.append(f"{design} #{i}: not in {path}")
                continue
            waiting: dict[tuple[str, ...], list[dict[str, str]]] = {}
            for r in old:
                waiting.setdefault(_key(r), []).append(r)
            for row in (replicate or run_replicate)(spec):
                matches = waiting.get(_key(row))
                if not matches:
                    problems.append(f"{design} #{i}: row {_key(row)} is new")
                    continue
                before = matches.pop(0)
                for field in FIELDS:
                    if field == "seconds":
                        continue
                    now, then = _text(row.get(field)), before.get(field) or ""
                    if now == then:
                        if _number(now) is not None:
                            compared += 1
                        continue
                    a, b = _number(now), _number(then)
                    if a is None or b is None:
                        problems.append(f"{design} #{i} {_key(row)} {field}: {then!r} then, "
                                        f"{now!r} now")
                        continue
                    compared += 1
                    largest_abs = max(largest_abs, abs(a - b))
                    if abs(a - b) <= atol:  # also "0" and "0.0"
                        continue
                    gap = abs(a - b) / max(abs(a), abs(b))
                    if gap > largest:
                        largest, where = gap, f"{design} #{i} {_key(row)} {field}"
            problems.extend(f"{design} #{i}: row {k} is gone" for k, rs in waiting.items() for _ in rs)
    return {"compared": compared, "largest_relative_difference": largest, "where": where,
            "largest_absolute_difference": largest_abs, "problems": problems}


def _key(row: dict[str, Any]) -> tuple[str, ...]:
    return tuple(_text(row.get(f)) for f in _ROW_KEY)


def _text(value: Any) -> str:
    """A value as the CSV holds it."""
    return "" if value is None else str(value)


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


class WorkerDied(RuntimeError):
    """A replicate's worker process died without returning (killed, e.g. out of memory)."""


# ---------------------------------------------------------------- summaries


def coverage_bound(r: int) -> float:
    return 0.95 - 3.3 * math.sqrt(0.0475 / r)


def rate_bound(r: int, alpha: float = 0.05) -> float:
    return alpha + 2.33 * math.sqrt(alpha * (1 - alpha) / r)


def read_rows(paths: Iterable[Path]) -> list[dict[str, str]]:
    """Rows of the harness's CSVs (``.csv`` or gzip-compressed ``.csv.gz``)."""
    rows = []
    for p in paths:
        opener = gzip.open if str(p).endswith(".gz") else open
        with opener(p, "rt", newline="") as fh:
            rows.extend(csv.DictReader(fh))
    return rows


_GUARD_CHECK = re.compile(r"^guard (\S+) of (\S+)$")
# a target this close to zero is "no effect" (the simulator's zeros come out of its model fits
# as 1e-16 or so)
NO_EFFECT = 1e-9


def guards_at_family_level(rows: list[dict[str, str]], *, method: str = "bh",
                           alpha: float = 0.05) -> list[dict[str, str]]:
    """The rows as an audit with ``inference.guard_level: family`` would have written them.

    Rows of audits run with guards at the unadjusted level hold everything that rule needs:
    each primary test's p-value and verdict, each guard's estimate and p-value (kind "test"),
    and which guard belongs to which primary test (the guard checks, "guard X of Y"). The
    intersection-union p-values enter the family's adjustment
    (:func:`fairness_audit.inference.intersection_union_p`); since they are never below the
    tests' own p-values, a test is consistent under that rule exactly when it was consistent
    and its new adjusted p-value is below ``alpha`` (its hypothesis' verdict follows); every
    other row is unchanged
    (tests/test_validation_plans.py checks this against an audit run with the option).
    """
    from fairness_audit.inference import INCONCLUSIVE, adjust, hypothesis_verdict, intersection_union_p

    out = [dict(r) for r in rows]
    by_rep: dict[tuple[str, str], list[dict[str, str]]] = {}
    for r in out:
        by_rep.setdefault((r["design"], r["replicate"]), []).append(r)
    for reps in by_rep.values():
        tests = {r["test_id"]: r for r in reps if r["kind"] == "test"}
        guards: dict[str, list[str]] = {}
        for r in reps:
            m = _GUARD_CHECK.match(r["test_id"]) if r["kind"] == "check" else None
            if m:
                guards.setdefault(m.group(2), []).append(m.group(1))
        primary = [r for r in tests.values() if r["role"] == "primary" and _f(r["p_value"]) is not None]
        family_p = [intersection_union_p(_f(r["p_value"]), int(float(r["concern_sign"])),
                                         [(_f(tests[g]["estimate"]), _f(tests[g]["p_value"]))
                                          for g in guards.get(r["test_id"], [])])
                    for r in primary]
        for r, p_adj in zip(primary, adjust(family_p, method), strict=True):
            r["p_adjusted"] = str(p_adj)
            if r["verdict"] == CONCERN and p_adj >= alpha:
                r["verdict"] = INCONCLUSIVE
        for hid in {r["hypothesis"] for r in primary}:
            verdict = hypothesis_verdict([r["verdict"] for r in tests.values()
                                          if r["hypothesis"] == hid and r["role"] == "primary"])[0]
            for r in tests.values():
                if r["hypothesis"] == hid:
                    r["hypothesis_verdict"] = verdict
    return out


def _f(x: str | None) -> float | None:
    return float(x) if x not in (None, "") else None


def _mean_sd(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    mean = sum(values) / len(values)
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / max(len(values) - 1, 1))


def _false_flags(rows: list[dict[str, str]], design: str, alpha: float) -> dict[str, Any]:
    """The share of a no-effect design's audits with any primary test of H1-H5 or H7
    "consistent with the concern", with its bound and the share per primary test."""
    null_tests = [r for r in rows if r["design"] == design and r["kind"] == "test"]
    reps: dict[str, bool] = {}
    for r in null_tests:
        flag = (r["role"] == "primary" and r["hypothesis"] in FALSE_FLAG_HYPOTHESES
                and r["verdict"] == CONCERN)
        reps[r["replicate"]] = reps.get(r["replicate"], False) or flag
    if not reps:
        return {}
    r_n = len(reps)
    rate = sum(reps.values()) / r_n
    per_test: dict[str, list[int]] = {}
    for r in null_tests:
        if r["role"] == "primary":
            per_test.setdefault(r["test_id"], []).append(int(r["verdict"] == CONCERN))
    return {
        "design": design, "R": r_n, "rate": rate, "bound": rate_bound(r_n, alpha),
        "passed": rate <= rate_bound(r_n, alpha),
        # the hypotheses counted (H6 is not: the no-effect designs keep the judges' spread)
        "hypotheses": [h for h in FALSE_FLAG_HYPOTHESES
                       if any(r["hypothesis"] == h for r in null_tests if r["role"] == "primary")],
        "per_test": {k: sum(v) / len(v) for k, v in sorted(per_test.items())},
    }


def summarise(paths: Iterable[Path], *, alpha: float = 0.05) -> dict[str, Any]:
    """:func:`summarise_rows` of the rows in ``paths``."""
    return summarise_rows(read_rows(paths), alpha=alpha)


def summarise_rows(rows: list[dict[str, str]], *, alpha: float = 0.05) -> dict[str, Any]:
    """Coverage and bias per tested term, false-flag rate, the design check, verdict shares and
    the failure rate of each of the audit's checks, with their bounds."""
    out: dict[str, Any] = {"coverage": [], "false_flags": {}, "design_check": [], "checks": [],
                           "verdicts": [], "errors": {}}
    for design in DESIGNS:
        errs = [r for r in rows if r["design"] == design and r["kind"] == "error"]
        if errs:
            out["errors"][design] = len(errs)
    # coverage (planted): per test with a target
    planted = [r for r in rows if r["design"] == "planted" and r["kind"] == "test"]
    by_test: dict[str, list[dict[str, str]]] = {}
    for r in planted:
        by_test.setdefault(r["test_id"], []).append(r)
    for test_id, rs in by_test.items():
        rs = [r for r in rs if r["covered"] not in ("", None)]  # replicates with a target
        if not rs:
            continue
        r_n = len(rs)
        cov = [int(r["covered"]) for r in rs]
        est = [_f(r["estimate"]) for r in rs]
        tgt = [_f(r["target"]) for r in rs]
        se = [_f(r["std_error"]) for r in rs]
        mean_est, sd_est = _mean_sd(est)
        # bias: the mean error against each replicate's own target, in its standard errors
        mean_err, sd_err = _mean_sd([e - t for e, t in zip(est, tgt, strict=True)])
        out["coverage"].append({
            "test": test_id, "term": rs[0]["term"], "model": rs[0]["model"], "R": r_n,
            "coverage": sum(cov) / r_n, "bound": coverage_bound(r_n),
            "passed": sum(cov) / r_n >= coverage_bound(r_n),
            "mean_estimate": mean_est, "mean_target": sum(tgt) / r_n,
            "sd_estimate": sd_est, "mean_se": sum(se) / r_n, "mean_error": mean_err,
            "bias_t": mean_err / (sd_err / math.sqrt(r_n)) if sd_err > 0 else None,
        })
    # false flags (null, and the null arm of each stress scenario): any primary test of
    # H1-H5, H7 consistent with the concern
    out["false_flags"] = _false_flags(rows, "null", alpha)
    out["stress_false_flags"] = [ff for d in DESIGNS if d.startswith("null_")
                                 if (ff := _false_flags(rows, d, alpha))]
    # design check (null): significant slope with the confounder's sign
    checks: dict[tuple[str, str], list[int]] = {}
    for r in rows:
        if r["design"] != "null":
            continue
        is_check = r["kind"] == "design_check"
        is_primary_model = (r["kind"] == "test" and r["test_id"].split(".")[0] in ("H2",)
                            and r["model"] == "H2")
        if not (is_check or is_primary_model) or r["p_value"] in ("", None):
            continue
        sign = int(r["concern_sign"]) if is_check else -1
        hit = int(float(r["p_value"]) < alpha and math.copysign(1, float(r["estimate"])) == sign)
        checks.setdefault((r["model"], r["term"]), []).append(hit)
    for (model, term), hits in sorted(checks.items()):
        r_n = len(hits)
        without_fe = "without judge" in model
        out["design_check"].append({
            "model": model, "term": term, "R": r_n, "share_significant_with_confounder_sign":
            sum(hits) / r_n, "requirement": ">= 0.80" if without_fe and term == "quota_shortfall"
            else f"<= {rate_bound(r_n, alpha):.3f}" if not without_fe else "(reported)",
            "passed": (sum(hits) / r_n >= 0.8) if without_fe and term == "quota_shortfall"
            else (sum(hits) / r_n <= rate_bound(r_n, alpha)) if not without_fe else None,
        })
    # verdicts of the primary tests per design (on the planted effects: how often each concern
    # is found, and how often a failed design check makes it inconclusive)
    verdicts: dict[tuple[str, str], list[str]] = {}
    for r in rows:
        if r["kind"] == "test" and r["role"] == "primary":
            verdicts.setdefault((r["design"], r["test_id"]), []).append(r["verdict"])
    for (design, test_id), vs in sorted(verdicts.items()):
        out["verdicts"].append({
            "design": design, "test": test_id, "R": len(vs),
            "consistent": vs.count(CONCERN) / len(vs),
            "inconclusive": vs.count("inconclusive") / len(vs),
            "not_supported": vs.count("not supported") / len(vs),
        })
    # design checks of the audit: how often each fails, per design. A placebo check tests its
    # term against zero, so it is held to its level only where that term's target (the model's
    # pseudo-true value, on the rows of its placebo test) is zero
    from fairness_audit.checks import check_label

    placebo_targets: dict[tuple[str, str], list[float]] = {}
    for r in rows:
        if r["kind"] == "test" and r["role"] == "placebo" and r["target"] not in ("", None):
            placebo_targets.setdefault((r["design"], check_label("placebo_term", r["test_id"])),
                                       []).append(_f(r["target"]))
    failures: dict[tuple[str, str], list[dict[str, str]]] = {}
    for r in rows:
        if r["kind"] == "check" and r["verdict"] in ("passed", "failed"):
            failures.setdefault((r["design"], r["test_id"]), []).append(r)
    for (design, key), rs in sorted(failures.items()):
        r_n = len(rs)
        rate = sum(r["verdict"] == "failed" for r in rs) / r_n
        est = [_f(r["estimate"]) for r in rs if r["estimate"] not in ("", None)]
        # a guard "fails" when its interval does not exclude zero with the concern's sign: on a
        # design without that effect this is what it should do, so no false-alarm bound applies
        targets = placebo_targets.get((design, key))
        target = sum(targets) / len(targets) if targets else None
        bounded = ((design in ("null", "planted") or design.startswith("null_"))
                   and not _GUARD_CHECK.match(key)
                   and (target is None or abs(target) < NO_EFFECT))
        out["checks"].append({
            "design": design, "check": key, "R": r_n, "failure_rate": rate,
            "bound": rate_bound(r_n, alpha) if bounded else None,
            "within_bound": rate <= rate_bound(r_n, alpha) if bounded else None,
            "mean_estimate": sum(est) / len(est) if est else None,
            "target": target,
        })
    out.update(referee_summary(rows, alpha=alpha))
    return out


def _quantile(values: list[float], q: float) -> float:
    """The q-quantile by linear interpolation (numpy's default), without numpy."""
    v = sorted(values)
    pos = q * (len(v) - 1)
    lo = math.floor(pos)
    return v[lo] + (v[min(lo + 1, len(v) - 1)] - v[lo]) * (pos - lo)


def _spread(name: str, values: list[float]) -> dict[str, float | None]:
    """``{name}_q10``, ``{name}_median`` and ``{name}_q90`` of the values (None without any)."""
    return {f"{name}_{key}": _quantile(values, q) if values else None
            for key, q in (("q10", 0.1), ("median", 0.5), ("q90", 0.9))}


def zero_on_the_null(term: str) -> bool:
    """Whether a term is zero where no effect is planted: the policy and quota-pressure terms
    (``SimulationParams.null`` zeroes them) are; the group gaps (e.g. ``unrepresented``), which
    the null keeps, are not."""
    return any(part in term for part in ("post_policy", "quota_shortfall", "pre_policy_gap"))


def referee_summary(rows: list[dict[str, str]], *, alpha: float = 0.05) -> dict[str, Any]:
    """The referee's quantities over replicates: bootstrap against analytic p-values per test,
    the parallel-trends breakdown values and robust-interval coverage, and the robustness values.
    On a no-effect design the rejection rates of the terms :func:`zero_on_the_null` are held to
    the false-flag bound.

    Rows of an earlier harness (without these columns) contribute nothing.
    """
    out: dict[str, Any] = {"bootstrap": [], "parallel_trends": [], "omitted_variable": []}
    boot: dict[tuple[str, str], list[tuple[float, float]]] = {}
    terms: dict[tuple[str, str], str] = {}
    for r in rows:
        if r["kind"] == "test" and _f(r.get("bootstrap_p")) is not None \
                and _f(r["p_value"]) is not None:
            boot.setdefault((r["design"], r["test_id"]), []).append(
                (_f(r["p_value"]), _f(r["bootstrap_p"])))
            terms[r["design"], r["test_id"]] = r["term"]
    for (design, test_id), ps in sorted(boot.items()):
        r_n = len(ps)
        analytic = sum(a < alpha for a, _ in ps) / r_n
        bootstrap = sum(b < alpha for _, b in ps) / r_n
        bounded = arm_and_scenario(design)[0] == "null" and zero_on_the_null(terms[design, test_id])
        out["bootstrap"].append({
            "design": design, "test": test_id, "R": r_n, "analytic_rejects": analytic,
            "bootstrap_rejects": bootstrap,
            "agree": sum((a < alpha) == (b < alpha) for a, b in ps) / r_n,
            "bound": rate_bound(r_n, alpha) if bounded else None,
            "within_bound": (max(analytic, bootstrap) <= rate_bound(r_n, alpha)) if bounded
            else None})
    trends: dict[tuple[str, str, str], list[dict[str, str]]] = {}
    ovb: dict[tuple[str, str], list[dict[str, str]]] = {}
    for r in rows:
        if r["kind"] != "sensitivity":
            continue
        if r["role"] in ("relative_magnitudes", "smoothness"):
            trends.setdefault((r["design"], r["model"], r["role"]), []).append(r)
        elif r["role"] == "omitted_variable" and _f(r.get("robustness_value")) is not None:
            ovb.setdefault((r["design"], r["test_id"]), []).append(r)
    for (design, analysis, method), rs in sorted(trends.items()):
        r_n = len(rs)
        values = [v for r in rs if (v := _f(r["breakdown"])) is not None]
        cov = [int(r["covered"]) for r in rs if r["covered"] not in ("", None)]
        # the conventional interval (the bounds at 0) against the same zero: the calibration
        # the bounds start from
        conventional = [int(_f(r["ci_low"]) <= _f(r["target"]) <= _f(r["ci_high"])) for r in rs
                        if _f(r["target"]) is not None and _f(r["ci_low"]) is not None]
        out["parallel_trends"].append({
            "design": design, "analysis": analysis, "method": method, "R": r_n,
            "consistent": sum(r["verdict"] == CONCERN for r in rs) / r_n,
            "not_supported": sum(r["verdict"] == "not supported" for r in rs) / r_n,
            "with_breakdown": len(values),
            **_spread("breakdown", values),
            "conventional_coverage": sum(conventional) / len(conventional) if conventional
            else None,
            "robust_coverage": sum(cov) / len(cov) if cov else None,
            "coverage_bound": coverage_bound(len(cov)) if cov else None,
            "covered_enough": (sum(cov) / len(cov) >= coverage_bound(len(cov))) if cov else None,
        })
    for (design, test_id), rs in sorted(ovb.items()):
        rv = [_f(r["robustness_value"]) for r in rs]
        rv_alpha = [_f(r["robustness_value_alpha"]) for r in rs]
        out["omitted_variable"].append({
            "design": design, "test": test_id, "R": len(rs),
            **_spread("rv", rv), "rv_alpha_median": _quantile(rv_alpha, 0.5),
            "rv_alpha_positive": sum(v > 0 for v in rv_alpha) / len(rv_alpha)})
    return out


def _g(x: float | None) -> str:
    return "—" if x is None else f"{x:.3g}"


def _yes_no(flag: bool | None) -> str:
    """A table cell for a pass/fail: yes, NO, or a dash where none applies."""
    return "—" if flag is None else ("yes" if flag else "NO")


def referee_markdown(summary: dict[str, Any]) -> list[str]:
    """The tables of the referee's quantities (docs/validation.md section 6)."""
    lines: list[str] = []
    if summary.get("bootstrap"):
        lines += ["Bootstrap and analytic p-values of the linear tests (share of replicates "
                  "below alpha; on the no-effect designs both are held to the bound):", "",
                  "| design | test | R | analytic p < alpha | bootstrap p < alpha | agree | bound "
                  "| within bound |", "|---|---|---|---|---|---|---|---|"]
        for b in summary["bootstrap"]:
            within = _yes_no(b["within_bound"])
            lines.append(f"| {b['design']} | {b['test']} | {b['R']} | {b['analytic_rejects']:.3f} "
                         f"| {b['bootstrap_rejects']:.3f} | {b['agree']:.3f} | "
                         f"{'—' if b['bound'] is None else format(b['bound'], '.3f')} | {within} |")
        lines.append("")
    if summary.get("parallel_trends"):
        lines += [f"Parallel-trends sensitivity of the event studies' post-policy average: the "
                  f"conventional reading, the breakdown values where one applies (relative "
                  f"magnitudes: Mbar; smoothness: M as a multiple of the plan's M per smallest "
                  f"effect of interest), and, where no effect is planted, how often the "
                  f"conventional interval and the robust interval at {SENSITIVITY_BOUND:g} hold "
                  f"zero (coverage bound as in section 4):", "",
                  "| design | event study | bounds | R | consistent | not supported | with a "
                  "breakdown value | breakdown: 10% / median / 90% | conventional interval holds "
                  "0 | robust interval holds 0 | bound |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for t in summary["parallel_trends"]:
            spread = ("—" if t["breakdown_median"] is None else
                      f"{_g(t['breakdown_q10'])} / {_g(t['breakdown_median'])} / "
                      f"{_g(t['breakdown_q90'])}")
            cov = "—" if t["robust_coverage"] is None else f"{t['robust_coverage']:.3f}"
            conv = "—" if t["conventional_coverage"] is None else \
                f"{t['conventional_coverage']:.3f}"
            bound = "—" if t["coverage_bound"] is None else f"{t['coverage_bound']:.3f}"
            lines.append(f"| {t['design']} | {t['analysis']} | {t['method'].replace('_', ' ')} | "
                         f"{t['R']} | {t['consistent']:.3f} | {t['not_supported']:.3f} | "
                         f"{t['with_breakdown']} | {spread} | {conv} | {cov} | {bound} |")
        lines.append("")
    if summary.get("omitted_variable"):
        lines += ["Robustness values (Cinelli and Hazlett, classical standard errors) of the "
                  "linear models' terms:", "",
                  "| design | test | R | RV: 10% / median / 90% | median RV at alpha | RV at alpha "
                  "> 0 |", "|---|---|---|---|---|---|"]
        for o in summary["omitted_variable"]:
            lines.append(f"| {o['design']} | {o['test']} | {o['R']} | {_g(o['rv_q10'])} / "
                         f"{_g(o['rv_median'])} / {_g(o['rv_q90'])} | {_g(o['rv_alpha_median'])} "
                         f"| {o['rv_alpha_positive']:.3f} |")
        lines.append("")
    return lines


def markdown(summary: dict[str, Any]) -> str:
    """The summary as the tables of docs/validation.md."""
    lines = []
    if summary["coverage"]:
        lines += ["| test | term | model | R | coverage | bound | passed | mean estimate | mean target "
                  "| SD of estimates | mean SE | mean error (t) |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for c in summary["coverage"]:
            bias_t = "—" if c["bias_t"] is None else f"{c['bias_t']:.1f}"
            lines.append(f"| {c['test']} | `{c['term']}` | {c['model']} | {c['R']} | "
                         f"{c['coverage']:.3f} | {c['bound']:.3f} | {'yes' if c['passed'] else 'NO'} | "
                         f"{c['mean_estimate']:.4g} | {c['mean_target']:.4g} | {c['sd_estimate']:.4g} | "
                         f"{c['mean_se']:.4g} | {c['mean_error']:.3g} ({bias_t}) |")
        lines.append("")
    ff = summary["false_flags"]
    if ff:
        h6 = any(k.startswith("H6.") for k in ff["per_test"])
        lines += [f"False flags on the null: {ff['rate']:.3f} of R = {ff['R']} audits had a "
                  f"primary test of {', '.join(ff['hypotheses'])} \"{CONCERN}\" (bound "
                  f"{ff['bound']:.3f}: {'passed' if ff['passed'] else 'FAILED'})."
                  + (" H6 is not counted: the design plants no quota effect but keeps the "
                     "judges' spread in leniency, which H6 tests (its share below is its power)."
                     if h6 else ""), "",
                  "| primary test | share consistent with the concern |", "|---|---|"]
        lines += [f"| {k} | {v:.3f} |" for k, v in ff["per_test"].items()]
        lines.append("")
    if summary.get("stress_false_flags"):
        tests = sorted({k for ff in summary["stress_false_flags"] for k in ff["per_test"]})
        lines += ["False flags in the stress scenarios without planted effects (any primary "
                  f"test of {', '.join(FALSE_FLAG_HYPOTHESES)} \"{CONCERN}\"), and the share per "
                  "primary test:", "",
                  "| design | R | false flags | bound | passed | " + " | ".join(tests) + " |",
                  "|---|---|---|---|---|" + "---|" * len(tests)]
        for ff in summary["stress_false_flags"]:
            lines.append(f"| {ff['design']} | {ff['R']} | {ff['rate']:.3f} | {ff['bound']:.3f} | "
                         f"{'yes' if ff['passed'] else 'NO'} | "
                         + " | ".join(f"{ff['per_test'][t]:.3f}" if t in ff["per_test"] else "—"
                                      for t in tests) + " |")
        lines.append("")
    if summary["design_check"]:
        lines += ["| model | term | R | significant with the confounder's sign | requirement | passed |",
                  "|---|---|---|---|---|---|"]
        for d in summary["design_check"]:
            passed = _yes_no(d["passed"])
            lines.append(f"| {d['model']} | `{d['term']}` | {d['R']} | "
                         f"{d['share_significant_with_confounder_sign']:.3f} | {d['requirement']} | "
                         f"{passed} |")
        lines.append("")
    if summary.get("verdicts"):
        lines += ["| design | primary test | R | consistent with the concern | inconclusive | "
                  "not supported |", "|---|---|---|---|---|---|"]
        lines += [f"| {v['design']} | {v['test']} | {v['R']} | {v['consistent']:.3f} | "
                  f"{v['inconclusive']:.3f} | {v['not_supported']:.3f} |"
                  for v in summary["verdicts"]]
        lines.append("")
    if summary.get("checks"):
        lines += ["Design checks: how often each fails (a guard fails when its interval does not "
                  "exclude zero with the concern's sign, as it should where the effect is absent: "
                  "no bound is held to it; nor to a placebo check whose term's target is not zero "
                  "on the design, shown beside its dash).", "",
                  "| design | check | R | failed | bound | within bound | mean estimate |",
                  "|---|---|---|---|---|---|---|"]
        for c in summary["checks"]:
            within = _yes_no(c["within_bound"])
            bound = "—" if c["bound"] is None else f"{c['bound']:.3f}"
            if c.get("target") is not None and abs(c["target"]) >= NO_EFFECT:
                bound += f" (target {c['target']:.3g})"
            mean = "—" if c["mean_estimate"] is None else f"{c['mean_estimate']:.4g}"
            lines.append(f"| {c['design']} | {c['check']} | {c['R']} | {c['failure_rate']:.3f} | "
                         f"{bound} | {within} | {mean} |")
        lines.append("")
    lines += referee_markdown(summary)
    if summary["errors"]:
        lines.append("Replicates that failed: " + ", ".join(f"{k}: {v}" for k, v in
                                                             summary["errors"].items()))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fairness_audit.validation",
                                     description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_run = sub.add_parser("run", help="simulate and audit replicates, appending rows to a CSV")
    p_run.add_argument("--design", action="append", choices=DESIGNS, required=True)
    p_run.add_argument("-R", "--replicates", type=int, default=200)
    p_run.add_argument("--start", type=int, default=0, help="first replicate index (seed offset)")
    p_run.add_argument("--out", type=Path, required=True)
    p_run.add_argument("--workers", type=int, default=2)
    p_run.add_argument("--courts", type=int, default=20)
    p_run.add_argument("--judges-per-court", type=int, default=5)
    p_run.add_argument("--first-fiscal-year", type=int, default=2015)
    p_run.add_argument("--config", type=str, default=None, help="audit plan (default: packaged)")
    p_run.add_argument("--max-minutes", type=float, default=None)
    p_sum = sub.add_parser("summarise",
                           help="coverage, bias, false flags, verdicts and check rates from CSVs")
    p_sum.add_argument("csv", type=Path, nargs="+")
    p_sum.add_argument("--alpha", type=float, default=0.05)
    p_up = sub.add_parser("upgrade", help="rewrite an earlier harness's CSV with this one's columns")
    p_up.add_argument("csv", type=Path, nargs="+")
    p_snap = sub.add_parser("snapshot", help="copy the whole replicates of one or more CSVs to a "
                            ".csv.gz that is the same bytes for the same rows (to commit a run "
                            "under way)")
    p_snap.add_argument("csv", type=Path, nargs="+")
    p_snap.add_argument("out", type=Path, help="the .csv.gz to write")
    p_re = sub.add_parser("recheck", help="run committed replicates again with this code and "
                          "compare every value (are rows of an earlier commit still this code's?)")
    p_re.add_argument("csv", type=Path)
    p_re.add_argument("--design", action="append", choices=DESIGNS, required=True)
    p_re.add_argument("--replicate", type=int, action="append", required=True)
    p_re.add_argument("--config", type=str, default=None,
                      help="the audit plan the rows ran with (default: packaged)")
    p_re.add_argument("--rtol", type=float, default=1e-9,
                      help="largest relative difference taken as rounding (default 1e-9)")
    p_re.add_argument("--atol", type=float, default=1e-12,
                      help="differences this small are rounding whatever the values' size "
                           "(default 1e-12: zeros computed on both sides)")
    args = parser.parse_args(argv)
    try:
        return _main(args)
    except ValueError as exc:  # a CSV this harness cannot append to or rewrite
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except WorkerDied as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _main(args: argparse.Namespace) -> int:
    if args.command == "run":
        from fairness_audit.command_errors import say

        # each replicate's line on stderr (the summary alone on stdout), with a bar on a
        # terminal; in a log the replicate lines are the count (fairness_audit.progress)
        with terminal_progress() as progress:
            run(args.design, args.replicates, args.out, workers=args.workers, start=args.start,
                max_minutes=args.max_minutes, n_courts=args.courts,
                judges_per_court=args.judges_per_court, first_fiscal_year=args.first_fiscal_year,
                config=args.config, log=say,
                progress=progress if isinstance(progress, Live) else None)
        print(markdown(summarise([args.out])))
    elif args.command == "recheck":
        found = recheck(args.csv, args.design, args.replicate, config=args.config,
                        atol=args.atol)
        print(f"{found['compared']} numbers compared; largest absolute difference "
              f"{found['largest_absolute_difference']:.1e}; largest relative difference beyond "
              f"{args.atol:g} {found['largest_relative_difference']:.1e}"
              + (f" ({found['where']})" if found["where"] else ""))
        for problem in found["problems"]:
            print(f"differs: {problem}")
        return 0 if not found["problems"] and found["largest_relative_difference"] <= args.rtol \
            else 1
    elif args.command == "snapshot":
        kept = snapshot(args.csv, args.out)
        print(f"{args.out}: " + ", ".join(f"{n} {design} replicate(s)"
                                            for design, n in sorted(kept.items())))
    elif args.command == "upgrade":
        for path in args.csv:
            print(f"{path}: {upgrade(path)} rows rewritten with {len(FIELDS)} columns")
    else:
        print(markdown(summarise(args.csv, alpha=args.alpha)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
