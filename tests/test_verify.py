"""``fairness-audit verify OUTDIR``: a fresh run verifies; an edited number, a missing or
changed input, a changed extract and another installation's versions are each named."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from fairness_audit.cli import app
from fairness_audit.verify import Difference, compare, results_lines

ROOT = Path(__file__).resolve().parents[1]
TINY_PLAN = ROOT / "tests" / "data" / "tiny_plan.yaml"  # one model: the audit takes a second
MAPPING = ROOT / "configs" / "mappings" / "sdut-asylum-cases.yaml"
SDUT_SAMPLE = ROOT / "tests" / "data" / "sdut_asylum_cases_sample.csv"
# 2 courts of 2 slow judges: about 5,600 decisions, the smallest court system the tiny plan fits
TINY_SIMULATION = {"n_courts": 2, "judges_per_court": 2, "pace_mean": 200, "pace_sd": 40,
                   "pace_min": 120, "pace_max": 300}
NOT_COMPARED = "not compared: provenance.created, provenance.versions"
runner = CliRunner()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def leaves(value) -> int:
    if isinstance(value, dict):
        return sum(leaves(v) for v in value.values())
    if isinstance(value, list):
        return sum(leaves(v) for v in value)
    return 1


def verify(outdir: Path, *args: str):
    return runner.invoke(app, ["verify", str(outdir), "--quiet", *args])


def edit(path: Path, change) -> dict:
    results = json.loads(path.read_text())
    change(results)
    path.write_text(json.dumps(results, indent=2))
    return results


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    """A run of a tiny simulation: ROOT/run.yaml, ROOT/sim.yaml, ROOT/out/{data,report}."""
    from fairness_audit.run_config import load_run_config, run_config

    root = tmp_path_factory.mktemp("verify") / "case"
    root.mkdir()
    (root / "sim.yaml").write_text(yaml.safe_dump(TINY_SIMULATION))
    (root / "run.yaml").write_text(yaml.safe_dump({
        "source": {"simulate": {"seed": 5, "config": "sim.yaml"}},
        "plan": yaml.safe_load(TINY_PLAN.read_text()), "out": "out"}))
    run_config(load_run_config(root / "run.yaml"))
    return root


@pytest.fixture
def run_copy(tiny_run, tmp_path) -> Path:
    """A copy of the run (config files included) to change; returns its report folder."""
    shutil.copytree(tiny_run, tmp_path / "case")
    return tmp_path / "case" / "out" / "report"


def test_a_fresh_run_verifies(tiny_run):
    report = tiny_run / "out" / "report"
    result = verify(report)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    results = json.loads((report / "results.json").read_text())
    # every value but the creation time and the versions, worked out from the file itself
    n = leaves(results) - 1 - leaves(results["provenance"]["versions"])
    assert f"results: every number matches ({n:,} values compared; {NOT_COMPARED})" in lines
    assert lines[1] == "versions: as recorded"
    assert lines[2:6] == ["inputs (paths relative to the output folder):"] + [
        f"  ok    ../data/{name}: sha256 as recorded"
        for name in ("court.parquet", "court.judge_completions.parquet", "court.ledger.json")]
    assert "  ok    ../../sim.yaml: sha256 as recorded" in lines
    assert lines[-1].startswith("verified: ")
    assert not any("FAIL" in line for line in lines)


def test_one_edited_number_fails_and_is_named(run_copy):
    before = json.loads((run_copy / "results.json").read_text())
    estimate = before["hypotheses"][0]["tests"][0]["estimate"]
    edit(run_copy / "results.json",
         lambda r: r["hypotheses"][0]["tests"][0].update(estimate=estimate + 0.01))
    result = verify(run_copy)
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    n = leaves(before) - 1 - leaves(before["provenance"]["versions"])
    i = lines.index(f"results: 1 of {n:,} values differ ({NOT_COMPARED}):")
    # the float as JSON writes it: the shortest text that reads back as the same number
    assert lines[i + 1] == (f"  FAIL  hypotheses[0].tests[0].estimate: {estimate + 0.01!r} "
                            f"recorded, {estimate!r} recomputed")
    # the pages were rendered from the number as it was
    assert "  FAIL  report.html: differs from the one rendered from results.json" in lines
    assert lines[-1].startswith("NOT verified: ")


def test_a_missing_simulated_input_is_rebuilt_from_the_recorded_seed(run_copy):
    ledger = run_copy.parent / "data" / "court.ledger.json"
    ledger.unlink()
    result = verify(run_copy)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert ("  ok    ../data/court.ledger.json: not found; rebuilt from provenance.source with "
            "the recorded sha256") in lines
    assert "  ok    ../data/court.parquet: rebuilt, sha256 as recorded" in lines
    assert "  the audit is recomputed from the rebuilt table" in lines
    assert not ledger.exists()  # verify writes nothing beside the audit


@pytest.fixture(scope="module")
def plain_audit_once(tiny_run, tmp_path_factory) -> Path:
    """`fairness-audit audit` of the run's table (copied): ROOT/data, ROOT/audit."""
    root = tmp_path_factory.mktemp("plain")
    shutil.copytree(tiny_run / "out" / "data", root / "data")
    result = runner.invoke(app, ["audit", str(root / "data" / "court.parquet"), "--out",
                                 str(root / "audit"), "--config", str(TINY_PLAN), "--quiet"])
    assert result.exit_code == 0, result.output
    return root


@pytest.fixture
def plain_audit(plain_audit_once, tmp_path) -> Path:
    """A copy of the plain audit and its table to change; returns the audit's folder."""
    shutil.copytree(plain_audit_once, tmp_path / "plain")
    return tmp_path / "plain" / "audit"


def test_a_missing_input_fails_naming_the_file(plain_audit):
    (plain_audit.parent / "data" / "court.ledger.json").unlink()
    result = verify(plain_audit)
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert "  FAIL  ../data/court.ledger.json: not found" in lines
    assert "results: not recomputed: no complete set of inputs as recorded" in lines
    assert "source: table: the decisions table itself (a plain audit)" in lines


def test_a_changed_input_fails_naming_the_file_and_both_hashes(plain_audit):
    ledger = plain_audit.parent / "data" / "court.ledger.json"
    recorded = sha256(ledger)
    ledger.write_bytes(ledger.read_bytes() + b"\n")
    result = verify(plain_audit)
    assert result.exit_code == 1
    assert (f"  FAIL  ../data/court.ledger.json: sha256 differs from the recorded one "
            f"({recorded} recorded, {sha256(ledger)} found)") in result.stdout.splitlines()


def test_version_differences_are_stated_first(run_copy, monkeypatch):
    import fairness_audit.verify as verify_module

    recorded = json.loads((run_copy / "results.json").read_text())["provenance"]["versions"]
    # this installation, as another one would be: the numbers still match
    monkeypatch.setattr(verify_module, "versions", lambda: {**recorded, "numpy": "0.0.1"})
    result = verify(run_copy)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[1:3] == ["versions: this installation differs from the one that wrote the "
                          "results (a difference can explain a mismatch):",
                          f"  numpy: {recorded['numpy']} recorded, 0.0.1 installed"]
    monkeypatch.undo()
    # versions edited in results.json: stated first too; the pages, which list the versions,
    # are then no longer the rendering of results.json
    edit(run_copy / "results.json", lambda r: r["provenance"]["versions"].update(numpy="0.0.1"))
    result = verify(run_copy)
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[2] == f"  numpy: 0.0.1 recorded, {recorded['numpy']} installed"
    assert any(line.startswith("results: every number matches") for line in lines)


def test_an_extract_run_verifies_and_rebuilds_and_a_changed_extract_fails(tmp_path):
    shutil.copy(SDUT_SAMPLE, tmp_path / "extract.csv")
    (tmp_path / "run.yaml").write_text(yaml.safe_dump({
        "source": {"table": {"file": "extract.csv", "mapping": str(MAPPING)}},
        "plan": {"disparities": {"dimensions": ["represented"], "bootstrap_replicates": 50,
                                 "adjusted": False}},
        "out": "out"}))
    assert runner.invoke(app, ["run", str(tmp_path / "run.yaml"), "-q"]).exit_code == 0
    report = tmp_path / "out" / "report"
    result = verify(report, "--rebuild")
    assert result.exit_code == 0, result.output
    assert "  ok    ../data/table.parquet: rebuilt, sha256 as recorded" in result.stdout
    assert "  ok    ../../extract.csv: sha256 as recorded" in result.stdout

    recorded = sha256(tmp_path / "extract.csv")
    with open(tmp_path / "extract.csv", "a") as fh:  # one more row
        fh.write(SDUT_SAMPLE.read_text().splitlines()[1].replace("1,", "99,", 1) + "\n")
    result = verify(report)
    assert result.exit_code == 1
    assert (f"  FAIL  ../../extract.csv: sha256 differs from the recorded one ({recorded} "
            f"recorded, {sha256(tmp_path / 'extract.csv')} found)") in result.stdout.splitlines()


def test_an_output_folder_without_results_is_one_error_line(tmp_path):
    result = verify(tmp_path)
    assert result.exit_code == 1
    assert result.output.strip() == (f"error: {tmp_path / 'results.json'}: not found; expected "
                                     "the output folder of an audit (for fairness-audit run, "
                                     "OUT/report)")


# ------------------------------------------------------------------------------ comparison
def test_compare_is_exact_key_by_key():
    recorded = {"a": [1, 2.5, float("nan")], "b": True, "c": {"d": None, "e": "x"},
                "provenance": {"created": "then", "versions": {"numpy": "1"}, "seed": 1}}
    recomputed = {"a": [1, 2.25, float("nan")], "b": 1, "c": {"e": "x", "f": 3},
                  "provenance": {"created": "now", "versions": {"numpy": "2"}, "seed": 1}}
    n, diffs = compare(recorded, recomputed)
    # a[0..2], b, c.d, c.e, provenance.seed: 7 recorded values compared
    assert n == 7
    assert [d.line() for d in diffs] == ["a[1]: 2.5 recorded, 2.25 recomputed",
                                         "b: true recorded, 1 recomputed",
                                         "c.d: null recorded, not recomputed",
                                         "c.f: not recorded, 3 recomputed"]
    assert compare([0.1 + 0.2], [0.3])[1][0].line() == \
        "[0]: 0.30000000000000004 recorded, 0.3 recomputed"
    assert compare({}, {}) == (0, [])


def test_at_most_twenty_differences_are_listed():
    diffs = [Difference(f"x[{i}]", float(i), float(i) + 0.5) for i in range(25)]
    lines = results_lines(1000, diffs)
    assert lines[0] == f"results: 25 of 1,000 values differ ({NOT_COMPARED}):"
    assert lines[1] == "  FAIL  x[0]: 0.0 recorded, 0.5 recomputed"
    assert lines[20] == "  FAIL  x[19]: 19.0 recorded, 19.5 recomputed"
    assert lines[21:] == ["  ... and 5 more"]
    # differences in the last digits only: the likely cause is said
    lines = results_lines(10, [Difference("y", 0.1 + 0.2, 0.3)])
    assert lines[-1].startswith("  every difference is in the last digits")
