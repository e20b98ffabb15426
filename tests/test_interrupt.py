"""Interrupted runs never leave half-written output.

Each test runs the real command in a subprocess, holds it at a named stage (the test-only hook
of fairness_audit/checkpoints.py), sends SIGINT or SIGKILL, and checks that the previous
output is byte-identical, that no partial output or staging folder is left (or, after a
SIGKILL, that what is left is a named staging folder the next run removes), and that a mix of
files from two runs is refused when read.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from fairness_audit.checkpoints import PAUSE_AT, PAUSE_MARKER
from fairness_audit.errors import TableError
from fairness_audit.ingest.eoir import ingest_eoir, load_options
from fairness_audit.ingest.fixtures import standard_release
from fairness_audit.outputs import INTERRUPTED
from fairness_audit.simulate import SimulationParams, simulate
from fairness_audit.tables import TablePaths, read_decision_data, write_decision_data

TINY_PLAN = Path(__file__).parent / "data" / "tiny_plan.yaml"  # one model: a few seconds
SMALL = SimulationParams(n_courts=2, judges_per_court=3)


def start(args: list, stage: str, tmp_path: Path) -> subprocess.Popen:
    """Start ``fairness-audit ARGS`` and return once it is held at ``stage``."""
    marker = tmp_path / f"held-at-{stage.replace(':', '-')}"
    env = {**os.environ, PAUSE_AT: stage, PAUSE_MARKER: str(marker)}
    proc = subprocess.Popen([sys.executable, "-m", "fairness_audit", *map(str, args)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not marker.exists():
        if proc.poll() is not None:
            pytest.fail(f"the run ended before {stage}: {proc.communicate()[1]}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the run did not reach {stage} in 120 s")
        time.sleep(0.05)
    return proc


def stop(proc: subprocess.Popen, sig: int) -> tuple[int, str]:
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    return proc.returncode, err


def files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` and its bytes, staging folders left aside."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and ".staging-" not in p.relative_to(folder).parts[0]}


def staging_left(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".staging-" in p.name)


def assert_one_line_interrupt(code: int, err: str, sig: int = signal.SIGINT) -> None:
    assert code == 128 + sig, err  # 130 for Ctrl-C, 143 for a plain kill
    assert "Traceback" not in err and "Aborted" not in err
    assert err.strip().splitlines()[-1] == INTERRUPTED


# ------------------------------------------------------------------------------------ audit
@pytest.fixture(scope="module")
def audit_case(tmp_path_factory):
    """A small decisions table, the tiny plan, and a complete audit of them (the previous
    output every test starts from)."""
    from fairness_audit.audit import run_audit
    from fairness_audit.config import load_config

    root = tmp_path_factory.mktemp("interrupt-audit")
    sim = simulate(SMALL, seed=5)
    table = root / "data" / "court.parquet"
    write_decision_data(TablePaths(table), sim.decisions, sim.workload, sim.ledger, sim.metadata)
    previous = root / "previous"
    run_audit(table, load_config(TINY_PLAN), previous)
    return table, TINY_PLAN, previous


@pytest.fixture
def audit_out(tmp_path, audit_case):
    """The previous audit's output copied to tmp_path/audit (with its bytes as they were)."""
    _, _, previous = audit_case
    out = tmp_path / "runs" / "audit"
    shutil.copytree(previous, out)
    return out, files(out)


@pytest.mark.parametrize("stage", ["audit:results-staged", "publish"])
def test_sigint_leaves_the_previous_audit_output(stage, tmp_path, audit_case, audit_out):
    table, plan, _ = audit_case
    out, before = audit_out
    proc = start(["audit", table, "--out", out, "--config", plan], stage, tmp_path)
    assert staging_left(out.parent), "the run holds its staging folder while it writes"
    assert_one_line_interrupt(*stop(proc, signal.SIGINT))
    assert files(out) == before
    assert staging_left(out.parent) == []


def test_sigkill_leaves_a_named_staging_folder_that_the_next_run_removes(
        tmp_path, audit_case, audit_out):
    from fairness_audit.audit import run_audit
    from fairness_audit.config import load_config

    table, plan, _ = audit_case
    out, before = audit_out
    proc = start(["audit", table, "--out", out, "--config", plan], "audit:report-staged",
                 tmp_path)
    code, _ = stop(proc, signal.SIGKILL)
    assert code == -signal.SIGKILL
    assert files(out) == before
    left = staging_left(out.parent)
    assert len(left) == 1 and left[0].startswith(f".audit.staging-{proc.pid}-"), left
    assert (out.parent / left[0] / "report.md").exists()  # what the killed run had written
    # a staging folder of a live process (pid 1) is not the next run's to remove
    held = out.parent / ".audit.staging-1-heldbyinit"
    held.mkdir()
    run_audit(table, load_config(plan), out)
    assert staging_left(out.parent) == [held.name]
    assert (out / "results.json").exists() and (out / "report.html").exists()


# ------------------------------------------------------------------------------------ ingest
@pytest.fixture(scope="module")
def release(tmp_path_factory):
    return standard_release().write(tmp_path_factory.mktemp("interrupt-release"))


@pytest.fixture
def ingested(tmp_path, release):
    """A complete ingest (judge codes merged) into tmp_path/tables/eoir.parquet."""
    source, merge = release
    out = tmp_path / "tables" / "eoir.parquet"
    ingest_eoir(source, out, options=load_options(judge_merge_file=merge))
    (out.parent / "notes.txt").write_text("another file in the same folder\n")
    return out, files(out.parent)


@pytest.mark.parametrize(("stage", "sig"), [("ingest:read", signal.SIGINT),
                                            ("table:partly-staged", signal.SIGTERM)])
def test_sigint_or_sigterm_leaves_the_previous_ingest_output(stage, sig, tmp_path, release,
                                                             ingested):
    out, before = ingested
    proc = start(["ingest", "eoir", release[0], "--out", out], stage, tmp_path)
    assert_one_line_interrupt(*stop(proc, sig), sig)
    assert files(out.parent) == before
    assert staging_left(out.parent) == []


def test_a_kill_between_two_moves_gives_a_mix_that_is_refused(tmp_path, release, ingested):
    out, before = ingested
    # without the judge map: another table than the previous run's, so another run id
    proc = start(["ingest", "eoir", release[0], "--out", out], "table:moving", tmp_path)
    code, _ = stop(proc, signal.SIGKILL)
    assert code == -signal.SIGKILL
    after = files(out.parent)
    changed = sorted(name for name in after if after[name] != before.get(name))
    assert changed == ["eoir.judge_completions.parquet"], changed  # the first move; table last
    assert after["eoir.parquet"] == before["eoir.parquet"]
    with pytest.raises(TableError, match=r"judge_completions\.parquet: written by another run "
                                         r"than the decisions table eoir\.parquet"):
        read_decision_data(out)
    assert [n.split("-")[0] for n in staging_left(out.parent)] == [".eoir.parquet.staging"]
    # the next run removes the killed run's staging folder and writes a whole set again
    ingest_eoir(release[0], out, options=load_options(judge_merge_file=release[1]))
    assert staging_left(out.parent) == []
    assert files(out.parent) == before
    read_decision_data(out)


def test_a_ledger_from_another_run_is_refused(tmp_path):
    sim = simulate(SimulationParams(n_courts=2, judges_per_court=2, last_fiscal_year=2016),
                   seed=1)
    a, b = TablePaths(tmp_path / "a" / "t.parquet"), TablePaths(tmp_path / "b" / "t.parquet")
    write_decision_data(a, sim.decisions, sim.workload, sim.ledger, sim.metadata)
    other = {**sim.ledger, "extra": {"rows_read": 1, "used": 1, "set_aside": {},
                                     "values_nulled": {}}}
    write_decision_data(b, sim.decisions, sim.workload, other, sim.metadata)
    read_decision_data(a.decisions)
    shutil.copy(b.ledger, a.ledger)
    with pytest.raises(TableError, match=r"t\.ledger\.json: written by another run"):
        read_decision_data(a.decisions)


# ---------------------------------------------------------------------------------- simulate
def test_sigint_while_simulate_writes_leaves_the_previous_files(tmp_path):
    out = tmp_path / "sim" / "court.parquet"
    sim = simulate(SMALL, seed=3)
    write_decision_data(TablePaths(out), sim.decisions, sim.workload, sim.ledger, sim.metadata)
    before = files(out.parent)
    config = tmp_path / "sim.yaml"
    config.write_text(yaml.safe_dump({"n_courts": 2, "judges_per_court": 2,
                                      "first_fiscal_year": 2015}))
    proc = start(["simulate", "--out", out, "--config", config, "--seed", "4"],
                 "table:partly-staged", tmp_path)
    held = staging_left(out.parent)
    assert len(held) == 1 and (out.parent / held[0] / "court.truth.json").exists()
    assert_one_line_interrupt(*stop(proc, signal.SIGINT))
    assert files(out.parent) == before
    assert staging_left(out.parent) == []


def test_a_previous_audit_set_aside_by_a_killed_run_goes_back_into_place(tmp_path):
    """A kill in the instant between the two renames that replace an audit folder leaves the
    previous output set aside; the next run puts it back and removes the new, unfinished one."""
    from fairness_audit.outputs import remove_stale_staging

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    pid = int(gone.stdout)  # a process that has ended
    out = tmp_path / "audit"
    previous = tmp_path / f".audit.staging-{pid}-abcd1234-previous"
    previous.mkdir()
    (previous / "results.json").write_text("{}\n")
    (tmp_path / f".audit.staging-{pid}-abcd1234").mkdir()
    removed = remove_stale_staging(out)
    assert [p.name for p in removed] == [f".audit.staging-{pid}-abcd1234"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audit"]
    assert (out / "results.json").read_text() == "{}\n"
