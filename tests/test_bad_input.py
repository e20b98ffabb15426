"""Bad input gives one clear line; degenerate but valid data completes.

Every case runs the command in-process through Typer's CliRunner: a user mistake exits non-zero
with exactly one ``error:`` line that names the file, table, column or key, what was expected and
what was found, and never a traceback. Data that are valid but defeat an analysis (a single
judge, an outcome that never varies, no appeals) complete, with the analysis marked
"not estimable" and the reason in the report.
"""

from __future__ import annotations

import dataclasses
import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from fairness_audit.cli import app
from fairness_audit.ingest.fixtures import HEADERS, ReleaseBuilder
from fairness_audit.simulate import SimulationParams, simulate
from fairness_audit.tables import TablePaths, write_decision_data

runner = CliRunner()
P = "B_TblProceeding"


# ----------------------------------------------------------------------------- the one-line check
def error_line(result) -> str:
    """The single ``error:`` line of a failed command (validate's problem list may follow)."""
    assert result.exit_code != 0, result.output
    # an exception the command did not turn into a message is a bug, not a user mistake
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        repr(result.exception)
    assert "Traceback" not in result.output
    lines = result.output.splitlines()
    errors = [i for i, line in enumerate(lines) if line.startswith("error:")]
    assert len(errors) == 1, result.output
    after = lines[errors[0] + 1:]
    assert all(line.startswith("  - ") for line in after), result.output
    return "\n".join(lines[errors[0]:])


# ----------------------------------------------------------------------------- inputs
def tiny_release(n_cases: int = 3) -> ReleaseBuilder:
    """A release of ``n_cases`` decided proceedings with a row in every table."""
    b = ReleaseBuilder()
    for k in range(n_cases):
        c = b.case(nat="MX" if k % 2 else "GT", custody="N", sex="MF"[k % 2])
        p = b.proceeding(c, osc=f"2018-0{k + 1}-10", comp=f"2019-0{k + 1}-20", dec="XG"[k % 2],
                         judge=("JDP", "ABC")[k % 2], court=("LOS", "SFR")[k % 2],
                         workload="merits")
        b.hearing(p, f"2018-1{k % 3}-01", "01")
        b.application(p, "ASYL", "GD"[k % 2])
        b.rep(c, level="COURT", atty_type="ALIEN", e28="2018-03-01")
        b.juvenile(c)
        b.appeal(p, decision="REM", decided="2019-12-01")
    return b


def write_release(tmp: Path, builder: ReleaseBuilder | None = None) -> Path:
    return (builder or tiny_release()).write(tmp / "release")


def ingest_eoir(release: Path, tmp: Path):
    return runner.invoke(app, ["ingest", "eoir", str(release), "--out", str(tmp / "out" / "e.parquet"),
                               "--quiet"])


@pytest.fixture(scope="module")
def small_table(tmp_path_factory) -> Path:
    """A valid decisions table (2 courts x 2 judges) with its workload and ledger."""
    params = dataclasses.replace(SimulationParams(), n_courts=2, judges_per_court=2,
                                 first_fiscal_year=2016, last_fiscal_year=2018)
    sim = simulate(params, seed=3)
    paths = TablePaths.from_path(tmp_path_factory.mktemp("small") / "court.parquet")
    write_decision_data(paths, sim.decisions, sim.workload, sim.ledger, sim.metadata)
    return paths.decisions


def copy_table(src: Path, dst_folder: Path, edit: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
               edit_workload: Callable[[pd.DataFrame], pd.DataFrame] | None = None) -> Path:
    """A copy of a decisions table (and its workload file), each optionally edited."""
    src_paths = TablePaths.from_path(src)
    dst = TablePaths.from_path(dst_folder / "t.parquet")
    dst_folder.mkdir(parents=True, exist_ok=True)
    frame = pd.read_parquet(src_paths.decisions)
    (edit(frame) if edit else frame).to_parquet(dst.decisions)
    workload = pd.read_parquet(src_paths.workload)
    (edit_workload(workload) if edit_workload else workload).to_parquet(dst.workload)
    return dst.decisions


SDUT_LIKE_COLUMNS = ["IDNCASE", "IDNPROCEEDING", "JUDGE", "COURT", "FY", "DECIDED", "DECISION",
                     "NAT"]


def mapping_dict(**overrides) -> dict:
    columns = {
        "case_id": "IDNCASE", "proceeding_id": "IDNPROCEEDING",
        "judge_id": {"from": "JUDGE", "hash": True}, "court_id": {"from": "COURT", "hash": True},
        "fiscal_year": "FY", "decision_date": {"from": "DECIDED", "format": "%Y-%m-%d"},
        "outcome": {"from": "DECISION", "values": {"Remove": "removal", "Grant": "grant"},
                    "unlisted": "other"},
        "nationality": "NAT", "detained": "missing", "custody": "missing",
    }
    for name in ("case_type", "language", "gender", "represented", "juvenile",
                 "asylum_application", "asylum_decision", "filed_date", "duration_days",
                 "n_hearings", "n_continuances", "in_absentia", "appealed", "remanded"):
        columns[name] = "missing"
    columns.update(overrides)
    return {"name": "test extract", "read": {"format": "csv", "delimiter": ","},
            "columns": columns}


def extract_rows(n: int = 6) -> list[list[str]]:
    return [[str(100 + i), str(200 + i), ("Judge A", "Judge B")[i % 2], "San Diego",
             "2019", f"2019-0{i % 9 + 1}-15", ("Remove", "Grant")[i % 2], "MX"]
            for i in range(n)]


def write_extract(tmp: Path, rows: list[list[str]] | None = None, *, sep: str = ",",
                  mapping: dict | None = None) -> tuple[Path, Path]:
    csv_path = tmp / "extract.csv"
    lines = [sep.join(SDUT_LIKE_COLUMNS)] + [sep.join(r) for r in (rows or extract_rows())]
    csv_path.write_text("\n".join(lines) + "\n")
    map_path = tmp / "mapping.yaml"
    map_path.write_text(yaml.safe_dump(mapping or mapping_dict(), sort_keys=False))
    return csv_path, map_path


def ingest_table(csv_path: Path, map_path: Path, tmp: Path):
    return runner.invoke(app, ["ingest", "table", str(csv_path), "--mapping", str(map_path),
                               "--out", str(tmp / "out" / "t.parquet")])


def plan_file(tmp: Path, text: str) -> Path:
    path = tmp / "plan.yaml"
    path.write_text(text)
    return path


def default_plan() -> dict:
    from fairness_audit.config import default_config_text

    return yaml.safe_load(default_config_text())


# ----------------------------------------------------------------------------- the corpus
# Each case: (tmp folder, small table) -> (CliRunner result, substrings the error line must hold)
Case = Callable[[Path, Path], tuple]
CASES: dict[str, Case] = {}


def case(name: str):
    def register(func: Case) -> Case:
        CASES[name] = func
        return func

    return register


# ---- ingest eoir
@case("eoir: release folder missing")
def _(tmp, table):
    return ingest_eoir(tmp / "nowhere", tmp), [str(tmp / "nowhere"), "expected an EOIR release",
                                               "found nothing"]


@case("eoir: required table missing")
def _(tmp, table):
    release = write_release(tmp)
    (release / f"{P}.csv").unlink()
    return ingest_eoir(release, tmp), ["expected the table B_TblProceeding", "found A_TblCase.csv"]


@case("eoir: required column missing")
def _(tmp, table):
    release = write_release(tmp)
    path = release / f"{P}.csv"
    path.write_bytes(path.read_bytes().replace(b"COMP_DATE", b"COMPLETED", 1))
    return ingest_eoir(release, tmp), [f"{P}.csv", "expected column(s) COMP_DATE", "found",
                                       "COMPLETED"]


@case("eoir: truncated .csv.gz")
def _(tmp, table):
    release = tiny_release(40).write(tmp / "release", gzip_tables=(P,))
    path = release / f"{P}.csv.gz"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    return ingest_eoir(release, tmp), [f"{P}.csv.gz", "expected", "found"]


@case("eoir: not a zip")
def _(tmp, table):
    fake = tmp / "release.zip"
    fake.write_text("IDNCASE\tNAT\n1\tMX\n")
    return ingest_eoir(fake, tmp), ["release.zip", "expected a zip archive"]


@case("eoir: truncated zip")
def _(tmp, table):
    archive = tiny_release().write(tmp / "release", as_zip=True)
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) // 2])
    return ingest_eoir(archive, tmp), ["release.zip", "expected a zip archive"]


@case("eoir: comma-delimited table")
def _(tmp, table):
    release = write_release(tmp)
    path = release / f"{P}.csv"
    path.write_bytes(path.read_bytes().replace(b"\t", b","))
    return ingest_eoir(release, tmp), [f"{P}.csv", "expected a tab-separated header", "found",
                                       "comma"]


@case("eoir: UTF-16 table")
def _(tmp, table):
    release = write_release(tmp)
    path = release / f"{P}.csv"
    path.write_bytes(path.read_bytes().decode("latin-1").encode("utf-16"))
    return ingest_eoir(release, tmp), [f"{P}.csv", "expected", "found", "UTF-16"]


@case("eoir: empty table file")
def _(tmp, table):
    release = write_release(tmp)
    (release / f"{P}.csv").write_bytes(b"")
    return ingest_eoir(release, tmp), [f"{P}.csv", "expected a tab-separated header row",
                                       "found an empty file"]


@case("eoir: judge merge file missing")
def _(tmp, table):
    release = write_release(tmp)
    result = runner.invoke(app, ["ingest", "eoir", str(release), "--out", str(tmp / "o.parquet"),
                                 "--judge-map", str(tmp / "merge.csv"), "-q"])
    return result, ["merge.csv", "not found"]


@case("eoir: unknown ingest option")
def _(tmp, table):
    release = write_release(tmp)
    opts = tmp / "opts.yaml"
    opts.write_text("scope:\n  case_typs: [RMV]\n")
    result = runner.invoke(app, ["ingest", "eoir", str(release), "--out", str(tmp / "o.parquet"),
                                 "--config", str(opts), "-q"])
    return result, ["opts.yaml", "unknown key 'scope.case_typs'", "expected one of case_types"]


@case("eoir: work folder under a file")
def _(tmp, table):
    release = write_release(tmp)
    (tmp / "blocker").write_text("a file, not a folder")
    result = runner.invoke(app, ["ingest", "eoir", str(release), "--out", str(tmp / "o.parquet"),
                                 "--work-dir", str(tmp / "blocker" / "work"), "-q"])
    return result, ["--work-dir", "blocker", "is a file"]


# ---- ingest table
@case("table: mapped column missing from the file")
def _(tmp, table):
    csv_path, map_path = write_extract(tmp, mapping=mapping_dict(nationality="NATIONALITY"))
    return ingest_table(csv_path, map_path, tmp), ["extract.csv", "nationality from 'NATIONALITY'",
                                                   "no such column", "found columns"]


@case("table: mapping with an unknown key")
def _(tmp, table):
    mapping = mapping_dict()
    mapping["columns"]["nationalty"] = mapping["columns"].pop("nationality")
    csv_path, map_path = write_extract(tmp, mapping=mapping)
    return ingest_table(csv_path, map_path, tmp), ["mapping.yaml", "nationalty", "expected"]


@case("table: text in a number column")
def _(tmp, table):
    rows = [r[:4] + [f"FY{r[4]}"] + r[5:] for r in extract_rows()]
    csv_path, map_path = write_extract(tmp, rows)
    return ingest_table(csv_path, map_path, tmp), ["extract.csv", "fiscal_year", "'FY'",
                                                   "expected whole numbers", "found 'FY2019'"]


@case("table: text in a date column")
def _(tmp, table):
    rows = [r[:5] + ["last spring"] + r[6:] for r in extract_rows()]
    csv_path, map_path = write_extract(tmp, rows)
    return ingest_table(csv_path, map_path, tmp), ["extract.csv", "decision_date", "'DECIDED'",
                                                   "expected dates", "found 'last spring'"]


@case("table: empty CSV")
def _(tmp, table):
    csv_path, map_path = write_extract(tmp)
    csv_path.write_text("")
    return ingest_table(csv_path, map_path, tmp), ["extract.csv", "expected a header row",
                                                   "found an empty file"]


@case("table: wrong delimiter")
def _(tmp, table):
    csv_path, map_path = write_extract(tmp, sep=";")
    return ingest_table(csv_path, map_path, tmp), ["extract.csv", "no such column", "found columns",
                                                   "read.delimiter"]


@case("table: mapping file missing")
def _(tmp, table):
    csv_path, _ = write_extract(tmp)
    return ingest_table(csv_path, tmp / "absent.yaml", tmp), ["absent.yaml", "not found"]


@case("table: extract missing")
def _(tmp, table):
    _, map_path = write_extract(tmp)
    return ingest_table(tmp / "absent.csv", map_path, tmp), ["absent.csv", "not found"]


# ---- audit: the table
def audit(table: Path, tmp: Path, *extra: str):
    return runner.invoke(app, ["audit", str(table), "--out", str(tmp / "audit"), *extra])


@case("audit: not a parquet file")
def _(tmp, table):
    fake = tmp / "fake.parquet"
    fake.write_text("case_id,judge_id\n1,A\n")
    return audit(fake, tmp), ["fake.parquet", "expected a parquet decisions table"]


@case("audit: table missing a contract column")
def _(tmp, table):
    bad = copy_table(table, tmp / "t", edit=lambda f: f.drop(columns=["judge_id"]))
    return audit(bad, tmp), ["t.parquet", "breaks the contract", "missing column(s) 'judge_id'",
                             "expected every canonical column"]


@case("audit: fiscal_year as text")
def _(tmp, table):
    bad = copy_table(table, tmp / "t",
                     edit=lambda f: f.assign(fiscal_year="FY" + f["fiscal_year"].astype(str)))
    return audit(bad, tmp), ["t.parquet", "column 'fiscal_year': expected whole numbers",
                             "found 'FY20"]


@case("audit: workload without the decisions' judges")
def _(tmp, table):
    def drop_judge(w: pd.DataFrame) -> pd.DataFrame:
        return w[w["judge_id"] != sorted(w["judge_id"].unique())[0]]

    bad = copy_table(table, tmp / "t", edit_workload=drop_judge)
    return audit(bad, tmp), ["t.judge_completions.parquet", "judge-workload file breaks",
                             "column 'judge_id'", "expected every judge of the decisions table",
                             "found 1 judge"]


@case("audit: workload with the wrong columns")
def _(tmp, table):
    bad = copy_table(table, tmp / "t",
                     edit_workload=lambda w: w.rename(columns={"completion_date": "date"}))
    return audit(bad, tmp), ["t.judge_completions.parquet", "missing column(s) 'completion_date'",
                             "found columns"]


@case("audit: decisions table path without .parquet")
def _(tmp, table):
    return audit(tmp / "table.csv", tmp), ["table.csv", "expected a path ending in .parquet",
                                           "found '.csv'"]


# ---- audit: the plan
@case("plan: unknown key suggests the nearest")
def _(tmp, table):
    plan = plan_file(tmp, "inference:\n  alpah: 0.1\n")
    return audit(table, tmp, "--config", str(plan)), [
        "plan.yaml", "key 'inference.alpah' is not a known option", "did you mean 'alpha'"]


@case("plan: unknown top-level key suggests the nearest")
def _(tmp, table):
    plan = plan_file(tmp, "hypotheses_: {}\n")
    return audit(table, tmp, "--config", str(plan)), [
        "plan.yaml", "key 'hypotheses_' is not a known option", "did you mean 'hypotheses'"]


@case("plan: wrong type")
def _(tmp, table):
    plan = plan_file(tmp, "inference:\n  alpha: high\n")
    return audit(table, tmp, "--config", str(plan)), [
        "plan.yaml", "key 'inference.alpha'", "expected a number", "found 'high'"]


@case("plan: a term that no model has")
def _(tmp, table):
    plan = default_plan()
    plan["hypotheses"]["H2"]["tests"][0]["term"] = "post_policy:quota_shortfal"
    path = plan_file(tmp, yaml.safe_dump(plan))
    return audit(table, tmp, "--config", str(path)), [
        "plan.yaml", "hypotheses.H2", "term 'post_policy:quota_shortfal'", "model 'H2'",
        "does not have"]


@case("plan: a hypothesis without a primary test")
def _(tmp, table):
    plan = default_plan()
    for test in plan["hypotheses"]["H3"]["tests"]:
        test["role"] = "supporting"
    path = plan_file(tmp, yaml.safe_dump(plan))
    return audit(table, tmp, "--config", str(path)), [
        "plan.yaml", "hypotheses.H3", "expected at least one test with role 'primary'", "found"]


@case("plan: invalid YAML")
def _(tmp, table):
    plan = plan_file(tmp, "inference:\n  alpha: [0.05\n")
    return audit(table, tmp, "--config", str(plan)), ["plan.yaml", "expected YAML",
                                                      "could not parse it"]


@case("plan: file does not exist")
def _(tmp, table):
    return audit(table, tmp, "--config", str(tmp / "missing.yaml")), ["missing.yaml", "not found"]


@case("plan: a list where a mapping is expected")
def _(tmp, table):
    plan = plan_file(tmp, "- alpha\n- 0.1\n")
    return audit(table, tmp, "--config", str(plan)), ["plan.yaml", "expected a mapping",
                                                      "found list"]


# ---- simulate
@case("simulate: config with an unknown key")
def _(tmp, table):
    cfg = tmp / "sim.yaml"
    cfg.write_text("n_court: 3\n")
    result = runner.invoke(app, ["simulate", "--out", str(tmp / "x.parquet"), "--config", str(cfg)])
    return result, ["sim.yaml", "n_court", "did you mean 'n_courts'"]


@case("simulate: negative --decisions")
def _(tmp, table):
    result = runner.invoke(app, ["simulate", "--out", str(tmp / "x.parquet"), "--decisions", "-5"])
    return result, ["--decisions", "expected a positive number", "found -5"]


@case("simulate: --out without .parquet")
def _(tmp, table):
    result = runner.invoke(app, ["simulate", "--out", str(tmp / "x.csv")])
    return result, ["x.csv", "expected a path ending in .parquet"]


# ---- judges
@case("judges: table missing a needed column")
def _(tmp, table):
    path = tmp / "judges.csv"
    path.write_text("imm_ct,judge,decisions,per_grants\nLOS,Smith,100,40\n")
    result = runner.invoke(app, ["judges", str(path), "--out", str(tmp / "j")])
    return result, ["judges.csv", "expected the TRAC judge CSV layout", "per_denials"]


@case("judges: unknown layout")
def _(tmp, table):
    path = tmp / "judges.csv"
    path.write_text("imm_ct,judge,decisions,per_grants,per_denials\nLOS,Smith,100,40,60\n")
    result = runner.invoke(app, ["judges", str(path), "--out", str(tmp / "j"), "--layout", "trac"])
    return result, ["layout 'trac'", "known layouts"]


@case("eoir: damaged zip member")
def _(tmp, table):
    archive = tiny_release(40).write(tmp / "release", as_zip=True)
    with zipfile.ZipFile(archive) as zf:
        info = zf.getinfo(f"case_data/{P}.csv")
    data = bytearray(archive.read_bytes())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    middle = start + info.compress_size // 2
    data[middle:middle + 16] = bytes(16)  # zeroed bytes inside the compressed data
    archive.write_bytes(bytes(data))
    return ingest_eoir(archive, tmp), ["release.zip", "expected an intact zip archive",
                                       f"found its member case_data/{P}.csv damaged"]


@case("audit: empty decisions table")
def _(tmp, table):
    empty = copy_table(table, tmp / "t", edit=lambda f: f.iloc[:0])
    return audit(empty, tmp), ["t.parquet", "expected at least one decision",
                               "found an empty decisions table"]


@case("simulate: config value of the wrong type")
def _(tmp, table):
    cfg = tmp / "sim.yaml"
    cfg.write_text("n_courts: three\n")
    result = runner.invoke(app, ["simulate", "--out", str(tmp / "x.parquet"), "--config", str(cfg)])
    return result, ["sim.yaml", "key 'n_courts'", "expected a whole number", "found 'three'"]


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_gives_one_clear_line(name, tmp_path, small_table):
    result, needles = CASES[name](tmp_path, small_table)
    line = error_line(result)
    for needle in needles:
        assert needle in line, f"{needle!r} not in {line!r}"


def test_the_corpus_is_large_enough():
    assert len(CASES) >= 30


# ----------------------------------------------------------------------------- --debug
def test_debug_lets_the_traceback_of_an_input_error_through(tmp_path):
    args = ["audit", str(tmp_path / "missing.parquet"), "--out", str(tmp_path / "o")]
    quiet = runner.invoke(app, args)
    assert isinstance(quiet.exception, SystemExit) and "error: " in quiet.output
    for result in (runner.invoke(app, ["--debug", *args]),
                   runner.invoke(app, args, env={"FAIRNESS_AUDIT_DEBUG": "1"})):
        assert result.exit_code != 0
        assert type(result.exception).__name__ == "TableError"
        assert "missing.parquet: decisions table not found" in str(result.exception)
        assert "error: " not in result.output  # the traceback replaces the one line
    # the option is reset for the next run
    assert isinstance(runner.invoke(app, args).exception, SystemExit)


def test_debug_reaches_the_ingest_commands(tmp_path):
    args = ["ingest", "eoir", str(tmp_path / "nowhere"), "--out", str(tmp_path / "e.parquet")]
    assert "error: " in runner.invoke(app, args).output
    assert type(runner.invoke(app, ["--debug", *args]).exception).__name__ == "ReleaseError"


def test_an_unexpected_exception_is_a_traceback_not_a_line(tmp_path, monkeypatch):
    import fairness_audit.judge_tables as judge_tables

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(judge_tables, "run_judges", broken)
    result = runner.invoke(app, ["judges", str(tmp_path / "j.csv"), "--out", str(tmp_path / "o")])
    assert isinstance(result.exception, RuntimeError)
    assert "error: " not in result.output


# ----------------------------------------------------------------------------- rows, not errors
def _release_with(tmp: Path, add: Callable[[ReleaseBuilder], None]) -> tuple[dict, pd.DataFrame]:
    """Ingest the tiny release plus rows added by ``add``; the ledger and set-aside rows."""
    builder = tiny_release()
    add(builder)
    result = ingest_eoir(write_release(tmp, builder), tmp)
    assert result.exit_code == 0, result.output
    ledger = json.loads((tmp / "out" / "e.ledger.json").read_text())
    return ledger, pd.read_parquet(tmp / "out" / "e.set_aside.parquet")


def test_eoir_duplicated_keys_are_set_aside_with_a_reason(tmp_path):
    def add(b: ReleaseBuilder) -> None:
        b.rows[P].append(b.rows[P][0])  # the same row twice: one copy kept
        fields = b.rows[P][1].split("\t")  # the same key with another decision: both set aside
        at = [h.upper() for h in HEADERS[P]].index("DEC_CODE")
        fields[at] = "V" if fields[at] != "V" else "X"
        b.rows[P].append("\t".join(fields))

    ledger, aside = _release_with(tmp_path, add)
    proc = ledger[P]
    assert proc["rows_read"] == 5
    assert proc["set_aside"] == {"duplicate row": 1, "conflicting duplicate key": 2}
    assert proc["used"] == 2  # the duplicated row once, the third proceeding
    assert sorted(aside.loc[aside["table"] == P, "reason"]) == [
        "conflicting duplicate key", "conflicting duplicate key", "duplicate row"]


def test_eoir_impossible_and_future_dates_are_set_aside_or_nulled_and_counted(tmp_path):
    def add(b: ReleaseBuilder) -> None:
        for comp in ("2019-02-30 00:00:00.000", "2099-01-01 00:00:00.000"):
            c = b.case()
            b.proceeding(c, dec="X", raw_comp=comp)
        c = b.case()
        b.proceeding(c, dec="X", comp="2019-05-02", raw_osc="2098-01-01 00:00:00.000")
        b.rep(c, level="COURT", atty_type="ALIEN", e28="", raw_e28="2097-01-01 00:00:00.000")

    ledger, _ = _release_with(tmp_path, add)
    assert ledger[P]["set_aside"] == {"invalid completion date": 2}
    assert ledger[P]["values_nulled"] == {"OSC_DATE": 1}
    assert ledger["tbl_RepsAssigned"]["values_nulled"] == {"E_28_DATE": 1}
    decisions = pd.read_parquet(tmp_path / "out" / "e.parquet")
    assert len(decisions) == 4 and decisions["decision_date"].max() < pd.Timestamp("2020-01-01")


def test_eoir_unknown_codes_are_counted(tmp_path):
    def add(b: ReleaseBuilder) -> None:
        c = b.case()
        b.proceeding(c, dec="Q", comp="2019-05-02")  # no outcome for (RMV, Q)
        c = b.case()
        b.proceeding(c, dec="X", comp="2019-05-03", custody="Q")

    ledger, _ = _release_with(tmp_path, add)
    assert ledger[P]["set_aside"] == {"unmapped decision code": 1}
    assert ledger[P]["values_nulled"] == {"CUSTODY": 1}
    decisions = pd.read_parquet(tmp_path / "out" / "e.parquet")
    assert len(decisions) == 4 and decisions["custody"].isna().sum() == 1


def test_eoir_header_only_table_is_an_empty_result_that_audit_refuses(tmp_path):
    release = write_release(tmp_path)
    path = release / f"{P}.csv"
    path.write_text(path.read_text(encoding="latin-1").splitlines()[0] + "\n", encoding="latin-1")
    assert ingest_eoir(release, tmp_path).exit_code == 0
    ledger = json.loads((tmp_path / "out" / "e.ledger.json").read_text())
    assert ledger[P] == {"rows_read": 0, "used": 0, "set_aside": {}, "values_nulled": {}}
    assert len(pd.read_parquet(tmp_path / "out" / "e.parquet")) == 0
    line = error_line(audit(tmp_path / "out" / "e.parquet", tmp_path))
    assert "expected at least one decision" in line


def test_table_header_only_is_an_empty_result(tmp_path):
    csv_path, map_path = write_extract(tmp_path)
    csv_path.write_text(",".join(SDUT_LIKE_COLUMNS) + "\n")
    result = ingest_table(csv_path, map_path, tmp_path)
    assert result.exit_code == 0, result.output
    ledger = json.loads((tmp_path / "out" / "t.ledger.json").read_text())
    assert ledger["extract.csv"] == {"rows_read": 0, "used": 0, "set_aside": {},
                                     "values_nulled": {}}
    assert len(pd.read_parquet(tmp_path / "out" / "t.parquet")) == 0


def test_table_with_a_few_unreadable_values_sets_them_aside(tmp_path):
    rows = extract_rows()
    rows[0][4] = "FY2019"  # one bad year among readable ones: that row, not the file
    result = ingest_table(*write_extract(tmp_path, rows), tmp_path)
    assert result.exit_code == 0, result.output
    ledger = json.loads((tmp_path / "out" / "t.ledger.json").read_text())
    assert ledger["extract.csv"]["set_aside"] == {"unreadable fiscal_year": 1}


# ----------------------------------------------------------------------------- degenerate data
def degenerate_table(folder: Path, *, n_courts: int, judges_per_court: int,
                     edit: Callable[[pd.DataFrame], None] | None = None) -> Path:
    params = dataclasses.replace(SimulationParams(), n_courts=n_courts,
                                 judges_per_court=judges_per_court, first_fiscal_year=2015)
    sim = simulate(params, seed=5)
    decisions = sim.decisions.copy()
    if edit is not None:
        edit(decisions)
    folder.mkdir(parents=True, exist_ok=True)
    paths = TablePaths.from_path(folder / "court.parquet")
    write_decision_data(paths, decisions, sim.workload, sim.ledger, sim.metadata)
    return paths.decisions


def _one_nationality(d: pd.DataFrame) -> None:
    d["nationality"] = "MX"


def _nothing_varies(d: pd.DataFrame) -> None:
    """One nationality, no grants, no in-absentia order, no appeal."""
    _one_nationality(d)
    d["outcome"] = d["outcome"].where(d["outcome"] != "grant", "removal")
    d["granted"] = False
    d["removal_ordered"] = d["outcome"] == "removal"
    d["in_absentia"] = False
    d["appealed"] = False
    d["remanded"] = None


DEGENERATE = {
    # name: (courts, judges per court, edit, {hypothesis: start of its primary tests' reason})
    "a single judge": (1, 1, None, {h: "not estimable: judge_id" for h in
                                    ("H1", "H2", "H3", "H4", "H5", "H7")}
                       | {"H6": "not estimable: granted"}),
    "one court and nationality; no grant, in-absentia order or appeal": (
        1, 3, _nothing_varies,
        {"H2": "not estimable: granted", "H4": "not estimable: granted",
         "H5": "not estimable: granted", "H6": "not estimable: granted",
         "H3": "not estimable: remanded", "H7": "not estimable: in_absentia"}),
}


@pytest.fixture(scope="module", params=list(DEGENERATE))
def degenerate_audit(request, tmp_path_factory):
    courts, judges, edit, reasons = DEGENERATE[request.param]
    folder = tmp_path_factory.mktemp("degenerate")
    table = degenerate_table(folder / "data", n_courts=courts, judges_per_court=judges, edit=edit)
    # the default plan, with group tables for the dimensions made degenerate only (for time)
    plan = default_plan()
    plan["disparities"].update(dimensions=["nationality", "court_id"], bootstrap_replicates=50)
    plan_path = folder / "plan.yaml"
    plan_path.write_text(yaml.safe_dump(plan))
    result = runner.invoke(app, ["audit", str(table), "--out", str(folder / "audit"),
                                 "--config", str(plan_path)])
    return request.param, result, folder / "audit", reasons


def test_degenerate_data_completes_with_not_estimable_reasons(degenerate_audit):
    name, result, out, reasons = degenerate_audit
    assert result.exit_code == 0, result.output
    results = json.loads((out / "results.json").read_text())
    report = (out / "report.md").read_text().replace("\\_", "_")
    by_id = {h["id"]: h for h in results["hypotheses"]}
    for hid, reason in reasons.items():
        h = by_id[hid]
        assert h["verdict"] == "inconclusive", (name, hid)
        assert reason in h["verdict_reason"], (name, hid, h["verdict_reason"])
        for t in h["tests"]:
            if t["role"] == "primary":
                assert t["estimate"] is None and t["verdict"] == "inconclusive"
                assert t["verdict_reason"].startswith(reason), (name, t["id"], t["verdict_reason"])
        assert reason in report, (name, hid)


def test_one_court_and_one_nationality_leave_the_models_estimable(tmp_path):
    """A fixed effect or a disparity dimension with one level defeats nothing else."""
    from fairness_audit.audit import compute_results
    from fairness_audit.config import parse_config

    table = degenerate_table(tmp_path, n_courts=1, judges_per_court=3, edit=_one_nationality)
    plan = default_plan()
    plan["hypotheses"] = {h: {"tests": [{**t, "guards": []} for t in plan["hypotheses"][h]["tests"]
                                        if t["role"] == "primary"]} for h in ("H2", "H5")}
    plan["models"] = {m: plan["models"][m] for m in ("H2", "H5")}
    plan["analyses"] = {}
    plan["disparities"]["bootstrap_replicates"] = 50
    results = compute_results(table, parse_config(plan))
    for h in results["hypotheses"]:
        primary = next(t for t in h["tests"] if t["role"] == "primary")
        assert primary["estimate"] is not None, (h["id"], primary["verdict_reason"])
    for dimension in ("nationality", "court_id"):
        rows = [r for r in results["disparities"] if r["dimension"] == dimension]
        assert rows and all(r["group"] == r["reference"] for r in rows)
        assert all(r["difference"] in (0.0, None) for r in rows)
