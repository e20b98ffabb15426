"""Unusable output folders and full disks: one line, before the work or with the earlier
output intact, never a traceback and never a staging folder left behind."""

from __future__ import annotations

import errno
import pathlib
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from fairness_audit.cli import app
from fairness_audit.errors import OutputError
from fairness_audit.ingest.fixtures import standard_release
from fairness_audit.simulate import SimulationParams, simulate
from fairness_audit.tables import TablePaths, write_decision_data

ROOT = Path(__file__).resolve().parents[1]
SDUT_MAPPING = ROOT / "configs" / "mappings" / "sdut-asylum-cases.yaml"
SDUT_SAMPLE = ROOT / "tests" / "data" / "sdut_asylum_cases_sample.csv"
TINY_PLAN = ROOT / "tests" / "data" / "tiny_plan.yaml"
NOTHING_REPLACED = "nothing was replaced (an earlier output, if any, is as it was)"

runner = CliRunner()


def one_error_line(result, *, after_progress: bool = False) -> str:
    """The run failed with exit code 1 and printed one line, an error (after the progress
    lines of the work done, if ``after_progress``)."""
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    errors = [line for line in lines if line.startswith("error: ")]
    assert errors == lines[-1:] and (after_progress or len(lines) == 1), result.output
    return errors[0]


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def no_staging(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if ".staging-" in p.name or ".probe-" in p.name]


def _fail(*args, **kwargs):
    raise AssertionError("the work started before the output folder was checked")


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    return standard_release().write(tmp_path_factory.mktemp("release"))[0]


# ---------------------------------------------------------------- before the work starts
@pytest.mark.parametrize("command", ["audit", "ingest eoir", "ingest table", "simulate"])
def test_an_output_folder_under_a_file_is_one_line_before_any_work(command, tmp_path,
                                                                   monkeypatch, release):
    import fairness_audit.audit
    import fairness_audit.ingest.raw
    import fairness_audit.ingest.table
    import fairness_audit.simulation_io

    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder\n")
    monkeypatch.setattr(fairness_audit.audit, "compute_results", _fail)
    monkeypatch.setattr(fairness_audit.ingest.raw, "WorkDir", _fail)
    monkeypatch.setattr(fairness_audit.ingest.table, "read_source", _fail)
    monkeypatch.setattr(fairness_audit.simulation_io, "simulate", _fail)
    out = blocker / "sub" / ("audit" if command == "audit" else "t.parquet")
    args = {
        "audit": ["audit", str(tmp_path / "t.parquet"), "--out", str(out)],
        "ingest eoir": ["ingest", "eoir", str(release), "--out", str(out)],
        "ingest table": ["ingest", "table", str(SDUT_SAMPLE), "--mapping", str(SDUT_MAPPING),
                         "--out", str(out)],
        "simulate": ["simulate", "--out", str(out)],
    }[command]
    line = one_error_line(runner.invoke(app, args))
    assert line == f"error: --out {out}: cannot create the output folder: {blocker} is a file"


def test_audit_out_that_is_a_file_is_refused(tmp_path, monkeypatch):
    import fairness_audit.audit

    monkeypatch.setattr(fairness_audit.audit, "compute_results", _fail)
    out = tmp_path / "results"
    out.write_text("not a folder\n")
    line = one_error_line(runner.invoke(app, ["audit", str(tmp_path / "t.parquet"),
                                              "--out", str(out)]))
    assert line == f"error: --out {out}: expected a folder, found a file"
    assert out.read_text() == "not a folder\n"


def test_audit_will_not_replace_a_folder_of_other_files(tmp_path, monkeypatch):
    import fairness_audit.audit

    monkeypatch.setattr(fairness_audit.audit, "compute_results", _fail)
    out = tmp_path / "documents"
    (out / "sub").mkdir(parents=True)
    (out / "sub" / "notes.txt").write_text("keep me\n")
    line = one_error_line(runner.invoke(app, ["audit", str(tmp_path / "t.parquet"),
                                              "--out", str(out)]))
    assert f"--out {out}: the folder holds other files and no results.json" in line
    assert (out / "sub" / "notes.txt").read_text() == "keep me\n"


def test_audit_out_holding_the_input_is_refused(tmp_path, monkeypatch):
    import fairness_audit.audit

    monkeypatch.setattr(fairness_audit.audit, "compute_results", _fail)
    table = tmp_path / "data" / "court.parquet"
    table.parent.mkdir()
    table.write_bytes(b"PAR1")
    line = one_error_line(runner.invoke(app, ["audit", str(table), "--out", str(tmp_path)]))
    assert f"--out {tmp_path}: the output folder is replaced by each audit" in line
    assert f"holds the input {table}" in line


def test_ingest_table_will_not_overwrite_its_input(tmp_path, monkeypatch):
    import fairness_audit.ingest.table

    monkeypatch.setattr(fairness_audit.ingest.table, "read_source", _fail)
    extract = tmp_path / "extract.parquet"
    extract.write_bytes(b"PAR1 not read")
    line = one_error_line(runner.invoke(app, ["ingest", "table", str(extract), "--mapping",
                                              str(SDUT_MAPPING), "--out", str(extract)]))
    assert line == (f"error: --out {extract}: {extract} would replace the input {extract}; "
                    "choose another --out")
    assert extract.read_bytes() == b"PAR1 not read"


def test_ingest_eoir_will_not_write_inside_the_release(release):
    before = files(release)
    out = release / "out" / "eoir.parquet"
    line = one_error_line(runner.invoke(app, ["ingest", "eoir", str(release),
                                              "--out", str(out)]))
    assert line == (f"error: --out {out}: the output would be written inside the input folder "
                    f"{release}; choose an --out outside it, so the input stays as it was")
    assert files(release) == before


def test_a_folder_that_cannot_be_written_is_one_line(tmp_path, monkeypatch):
    import fairness_audit.outputs

    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", kwargs.get("dir"))

    monkeypatch.setattr(fairness_audit.outputs.tempfile, "mkstemp", denied)
    out = tmp_path / "ro" / "t.parquet"
    line = one_error_line(runner.invoke(app, ["simulate", "--out", str(out)]))
    assert line == f"error: --out {out}: cannot write in the folder {out.parent}: permission denied"


def test_a_folder_that_cannot_be_created_is_one_line(tmp_path, monkeypatch):
    def read_only(self, *args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(self))

    monkeypatch.setattr(pathlib.Path, "mkdir", read_only)
    out = tmp_path / "new" / "audit"
    line = one_error_line(runner.invoke(app, ["audit", str(tmp_path / "t.parquet"),
                                              "--out", str(out)]))
    assert line == (f"error: --out {out}: cannot create the output folder {out.parent}: the "
                    "file system is read-only")


# ---------------------------------------------------------------- a disk that fills
def _enospc_on_call(n: int, original):
    """A writer that works n - 1 times, then fails as a full disk does."""
    calls = []

    def writer(*args, **kwargs):
        calls.append(args)
        if len(calls) == n:
            raise OSError(errno.ENOSPC, "No space left on device")
        return original(*args, **kwargs)

    return writer


def test_disk_full_while_ingest_table_writes(tmp_path, monkeypatch):
    out = tmp_path / "tables" / "sdut.parquet"
    args = ["ingest", "table", str(SDUT_SAMPLE), "--mapping", str(SDUT_MAPPING), "--out", str(out)]
    assert runner.invoke(app, args).exit_code == 0
    (out.parent / "court.parquet").write_bytes(b"another table in the same folder")
    before = files(out.parent)
    # the second parquet file of the set: the set-aside rows (the workload file is first)
    monkeypatch.setattr(pq, "write_table", _enospc_on_call(2, pq.write_table))
    line = one_error_line(runner.invoke(app, args), after_progress=True)
    assert line == (f"error: {out.with_name('sdut.set_aside.parquet')}: could not write it: no "
                    f"space left on device; {NOTHING_REPLACED}")
    assert files(out.parent) == before
    assert no_staging(out.parent)


def test_disk_full_while_duckdb_writes_the_set_aside_rows(tmp_path, monkeypatch, release):
    import fairness_audit.ingest.eoir

    def full(con, path, run_id):
        path.write_bytes(b"PAR1 half a file")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(fairness_audit.ingest.eoir, "_write_set_aside", full)
    out = tmp_path / "eoir.parquet"
    line = one_error_line(runner.invoke(app, ["ingest", "eoir", str(release), "--out", str(out),
                                              "--quiet"]))
    assert line == (f"error: {out.with_name('eoir.set_aside.parquet')}: could not write it: no "
                    f"space left on device; {NOTHING_REPLACED}")
    assert [p.name for p in tmp_path.iterdir()] == []


def test_disk_full_while_writing_the_table_itself(tmp_path, monkeypatch):
    """The decisions table is written last; the companions written before it go too."""
    sim = simulate(SimulationParams(n_courts=2, judges_per_court=2, last_fiscal_year=2016), seed=1)
    paths = TablePaths(tmp_path / "t.parquet")
    write_decision_data(paths, sim.decisions, sim.workload, sim.ledger, sim.metadata)
    before = files(tmp_path)
    monkeypatch.setattr(pq, "write_table", _enospc_on_call(2, pq.write_table))
    with pytest.raises(OutputError, match=rf"^{paths.decisions}: could not write it: no space"):
        write_decision_data(paths, sim.decisions.head(10), sim.workload, {}, {"other": 1})
    assert files(tmp_path) == before
    assert no_staging(tmp_path)


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    """A small table and a complete audit of it with the tiny plan."""
    from fairness_audit.audit import run_audit
    from fairness_audit.config import load_config

    root = tmp_path_factory.mktemp("audited")
    sim = simulate(SimulationParams(n_courts=2, judges_per_court=3), seed=5)
    table = root / "court.parquet"
    write_decision_data(TablePaths(table), sim.decisions, sim.workload, sim.ledger, sim.metadata)
    out = root / "runs" / "audit"
    run_audit(table, load_config(TINY_PLAN), out)
    return table, out


@pytest.mark.parametrize("where", ["results.json", "report.md"])
def test_disk_full_while_the_audit_writes(where, audited, monkeypatch):
    table, out = audited
    before = files(out)

    def full(self, *args, **kwargs):
        if self.name.startswith(f".{where}") or self.name == where:
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return original[type(args[0])](self, *args, **kwargs)

    original = {bytes: pathlib.Path.write_bytes, str: pathlib.Path.write_text}
    monkeypatch.setattr(pathlib.Path, "write_bytes", full)
    monkeypatch.setattr(pathlib.Path, "write_text", full)
    line = one_error_line(runner.invoke(app, ["audit", str(table), "--out", str(out),
                                              "--config", str(TINY_PLAN)]), after_progress=True)
    assert line == (f"error: {out / where}: could not write it: no space left on device; "
                    f"{NOTHING_REPLACED}")
    assert files(out) == before
    assert no_staging(out.parent)
