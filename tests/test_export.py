"""``fairness-audit export``: a decisions table and its workload file as CSV or Stata .dta.

A small table covering every column type, with nulls and hostile labels (formulas, HTML,
non-ASCII text, ``NA`` as a code, quotes, commas, line breaks), is exported in both formats and
read back with pandas (and, when R and haven are installed, with R through
tests/reference/export_read.R); every value must come back after the documented recoding.
Codes, labels and cell texts are checked against values worked out by hand.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from fairness_audit import export as ex
from fairness_audit.cli import app
from fairness_audit.errors import OutputError, TableError
from fairness_audit.report.escape import safe_cell
from fairness_audit.schema import (
    DECISION_COLUMNS,
    WORKLOAD_COLUMNS,
    Column,
    coerce_decisions,
    validate_decisions,
    validate_workload,
)
from fairness_audit.tables import TablePaths, read_metadata, write_decision_data

R_SCRIPT = Path(__file__).parent / "reference" / "export_read.R"
D = pd.Timestamp


def _decisions() -> pd.DataFrame:
    outcome = ["grant", "removal", "voluntary_departure", "termination", "other", "grant",
               "removal", "other"]
    custody = ["D", "R", "N", None, "D", "R", "N", "D"]
    appealed = [True, False, None, True, False, True, True, False]
    return pd.DataFrame({
        "case_id": ["=1+1", "<b>", "SAN JOSÉ", "K4", "-5", "'quoted", "K7", "K7"],
        "proceeding_id": ["P1", "+P2", "@P3", "\tP4", "\rP5", "P6,x", 'P7"q', "P8\nline"],
        "judge_id": ["=1+1", "<b>", "J é", "NA", "J1", "J1", "=1+1", "-J"],
        "court_id": ["SAN JOSÉ", "<b>", "SAN JOSÉ", "C|1", "C1", "C1", "C1", "'C"],
        "fiscal_year": [2019, 2020, 2019, 2018, 2021, 2017, 2015, 2020],
        "decision_date": [D("2019-01-02"), None, D("2018-10-01"), D("2018-09-30"),
                          D("2021-03-04"), D("2016-12-31"), None, D("2020-02-29")],
        "outcome": outcome,
        "granted": [o == "grant" for o in outcome],
        "removal_ordered": [o == "removal" for o in outcome],
        "case_type": ["RMV", None, "=cmd|' /C calc'!A0", "", "RMV", "AOC", "RMV", "RMV"],
        "nationality": ["NA", "SAN JOSÉ", None, "", "<b>", "ÇÑ", "=1+1", "NA"],
        "language": ["SP", None, "€uro", "x\ny", "A,B", 'q"x', "SP", "+1"],
        "gender": ["M", "F", None, "M", "F", "M", "F", "M"],
        "custody": custody,
        "detained": [None if c is None else c == "D" for c in custody],
        "represented": [True, False, None, True, False, True, None, False],
        "juvenile": [False, None, True, False, False, True, False, None],
        "asylum_application": [True, True, None, False, True, False, True, True],
        "asylum_decision": ["grant", "deny", None, None, "other", None, "deny", "grant"],
        "filed_date": [D("2017-05-06"), D("1999-12-31"), None, D("2018-01-01"),
                       D("2020-02-29"), None, D("2014-10-01"), D("2019-06-30")],
        "duration_days": [0.1, 1 / 3, None, 1e20, 123.0, 2.5e-300, 7.0, 1234.5678901234567],
        "n_hearings": [0, 3, None, 100, 101, 5, 2, 40_000],
        "n_continuances": [0, 1, None, 100, 2, None, 2, 39_999],
        "in_absentia": [False, True, None, False, False, False, True, False],
        "appealed": appealed,
        "remanded": [True, None, None, False, None, None, True, None],
    })


def _workload() -> pd.DataFrame:
    judges = ["=1+1", "<b>", "J é", "NA", "J1", "-J", "ZZ"]
    return pd.DataFrame({
        "judge_id": judges,
        "completion_date": [D("2019-01-02"), None, D("2018-10-01"), D("2018-09-30"),
                            D("2021-03-04"), D("2020-02-29"), D("2016-01-01")],
        "kind": ["merits"] * 6 + ["administrative"],
        "case_type": ["RMV", None, "WL only", "RMV", "=x", "", "AOC"],
    })


# judge codes by hand: sorted by code point ("-" < "<" < "=" < "J" < "N" < "Z"), from both files
JUDGES = ["-J", "<b>", "=1+1", "J é", "J1", "NA", "ZZ"]
OUTCOMES = ["grant", "other", "removal", "termination", "voluntary_departure"]
CUSTODY = ["D", "N", "R"]
CASE_TYPES = ["=cmd|' /C calc'!A0", "=x", "AOC", "RMV", "WL only"]


def _expected(frame: pd.DataFrame, columns) -> pd.DataFrame:
    """The table as an export reads back: canonical dtypes, empty text as missing."""
    out, _ = coerce_decisions(frame[[c.name for c in columns]], columns)
    for c in columns:
        if c.kind == "string":
            out[c.name] = out[c.name].mask(out[c.name] == "")
    return out.reset_index(drop=True)


@pytest.fixture(scope="module")
def table(tmp_path_factory) -> Path:
    decisions, workload = _decisions(), _workload()
    assert validate_decisions(decisions) == []  # the fixture itself meets the contract
    assert validate_workload(workload, decisions) == []
    paths = TablePaths(tmp_path_factory.mktemp("table") / "court.parquet")
    write_decision_data(paths, decisions, workload, {}, {"source": "test"})
    return paths.decisions


@pytest.fixture(scope="module")
def exported(table, tmp_path_factory) -> dict[str, Path]:
    """Each format exported into its own folder (the codebook's name does not hold the format)."""
    folders = {}
    for fmt in ex.FORMATS:
        out = tmp_path_factory.mktemp(fmt)
        messages: list[str] = []
        result = ex.export_table(table, out, format=fmt, progress=messages.append)
        assert [p.name for p in result.files] == [
            f"court.{fmt}", f"court.judge_completions.{fmt}", "court.codebook.md",
            "court.codebook.csv"]
        assert result.rows == {f"court.{fmt}": 8, f"court.judge_completions.{fmt}": 7}
        assert messages[0] == f"reading {table}"
        assert f"writing {out / f'court.{fmt}'} (8 rows)" in messages
        folders[fmt] = out
    return folders


# ------------------------------------------------------------------------------ read back
@pytest.mark.parametrize("fmt", ["dta", "csv"])
def test_every_value_reads_back(exported, fmt):
    out = exported[fmt]
    pd.testing.assert_frame_equal(ex.read_export(out / f"court.{fmt}"),
                                  _expected(_decisions(), DECISION_COLUMNS))
    pd.testing.assert_frame_equal(ex.read_export(out / f"court.judge_completions.{fmt}"),
                                  _expected(_workload(), WORKLOAD_COLUMNS))


def test_dta_codes_labels_and_types(exported, table):
    path = exported["dta"] / "court.dta"
    assert path.read_bytes().startswith(b"<stata_dta><header><release>118</release>")
    raw = pd.read_stata(path, convert_categoricals=False)
    with pd.io.stata.StataReader(path) as reader:
        reader.read()
        labels = reader.value_labels()
        variable_labels = reader.variable_labels()
        data_label = reader.data_label
    assert labels["judge_id"] == dict(enumerate(JUDGES, start=1))
    assert labels["outcome"] == dict(enumerate(OUTCOMES, start=1))
    assert labels["custody"] == dict(enumerate(CUSTODY, start=1))
    assert labels["case_type"] == dict(enumerate(CASE_TYPES, start=1))
    assert labels["granted"] == {0: "no", 1: "yes"}
    assert "case_id" not in labels and "proceeding_id" not in labels
    # row 0: judge "=1+1" is code 3, outcome grant 1, custody D 1, not removal 0
    assert raw.loc[0, ["judge_id", "outcome", "custody", "removal_ordered"]].tolist() == [3, 1, 1, 0]
    assert raw["case_type"].isna().tolist() == [False, True, False, True, False, False, False, False]
    assert raw["represented"].isna().tolist() == [False, False, True, False, False, False, True, False]
    # dates are days since 1960-01-01 (Stata %td): 2019-01-02 is day 21551
    assert raw.loc[0, "decision_date"] == pd.Timestamp("2019-01-02")
    assert (pd.Timestamp("2019-01-02") - pd.Timestamp("1960-01-01")).days == 21551
    assert variable_labels == {c.name: c.meaning for c in DECISION_COLUMNS}
    assert data_label == f"decisions court.parquet, run {read_metadata(table)['run_id']}"
    with pd.io.stata.StataReader(exported["dta"] / "court.judge_completions.dta") as reader:
        reader.read()
        wl = reader.value_labels()
    assert wl["judge_id"] == labels["judge_id"]  # the same codes in both files: mergeable
    assert wl["case_type"] == labels["case_type"]
    assert wl["kind"] == {1: "administrative", 2: "merits"}


def test_dta_types_hold_their_values(exported):
    cb = pd.read_csv(exported["dta"] / "court.codebook.csv", **ex.CSV_READ_OPTIONS)
    types = cb[cb["file"] == "court.dta"].drop_duplicates("variable").set_index("variable")[
        "type_in_file"]
    # 7 judges fit a byte (at most 100); n_hearings up to 40,000 needs a long (an int holds
    # at most 32,740); fiscal years an int; the longest case_id, "SAN JOSÉ", is 9 bytes
    assert types["judge_id"] == "byte"
    assert types["n_hearings"] == "long"
    assert types["fiscal_year"] == "int"
    assert types["case_id"] == "str9"
    assert types["granted"] == "byte"
    assert types["decision_date"] == "double, format %td"


def test_csv_cells_are_neutralised_as_the_reports_do(exported):
    text = (exported["csv"] / "court.csv").read_bytes().decode("utf-8")  # keep CR as CR
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert [r["case_id"] for r in rows] == ["'=1+1", "<b>", "SAN JOSÉ", "K4", "'-5", "''quoted",
                                            "K7", "K7"]
    assert [r["proceeding_id"] for r in rows] == ["P1", "'+P2", "'@P3", "'\tP4", "'\rP5", "P6,x",
                                                  'P7"q', "P8\nline"]
    original = _decisions()
    for col in (c.name for c in DECISION_COLUMNS if c.kind == "string"):
        for value, cell in zip(original[col], (r[col] for r in rows), strict=True):
            if pd.isna(value) or value == "":
                assert cell == ""
            elif not value.startswith("'"):
                assert cell == safe_cell(value)
    assert rows[0]["granted"] == "true" and rows[1]["granted"] == "false"
    assert rows[2]["represented"] == ""
    assert rows[0]["decision_date"] == "2019-01-02" and rows[1]["decision_date"] == ""
    assert rows[0]["nationality"] == "NA"  # a code, not a missing value
    assert rows[0]["fiscal_year"] == "2019" and rows[7]["n_hearings"] == "40000"
    assert float(rows[1]["duration_days"]) == 1 / 3


@given(st.text(max_size=12))
def test_neutralising_is_undone_by_removing_one_apostrophe(value):
    cell = ex.neutralise_text(pa.array([value], pa.string())).to_pylist()[0]
    if value == "":
        assert cell is None
        return
    restored = cell[1:] if cell.startswith("'") else cell
    assert restored == value
    if not value.startswith("'"):
        assert cell == safe_cell(value)


# ------------------------------------------------------------------------------ codebook
def test_codebook_lists_every_column_and_code(exported):
    cb = pd.read_csv(exported["dta"] / "court.codebook.csv", **ex.CSV_READ_OPTIONS)
    assert set(cb["file"]) == {"court.dta", "court.judge_completions.dta"}
    dta = cb[cb["file"] == "court.dta"]
    assert dta.drop_duplicates("variable")["variable"].tolist() == [c.name for c in DECISION_COLUMNS]
    judge = dta[dta["variable"] == "judge_id"]
    assert judge["code"].tolist() == [str(i) for i in range(1, 8)]
    # labels from the data are neutralised in the codebook's CSV as in the data CSV
    assert judge["value"].tolist() == ["'-J", "<b>", "'=1+1", "J é", "J1", "NA", "ZZ"]
    nat = dta[dta["variable"] == "nationality"].iloc[0]
    assert (nat["missing"], nat["empty_text_as_missing"]) == ("2", "1")
    assert nat["meaning"] == "nationality code as in the source"
    # one row per code: 9 coded columns (judges 7, courts 5, outcomes 5, case types 5,
    # nationalities 5, languages 6, genders 2, custody 3, asylum decisions 3 = 41), 9 booleans
    # x 2; one row for each of the 8 other columns
    assert len(dta) == 41 + 18 + 8
    md = (exported["dta"] / "court.codebook.md").read_text(encoding="utf-8")
    assert "<b>" not in md and "&lt;b&gt;" in md
    assert "| 3 | \\=1+1 |" in md  # judge code 3, escaped so that Markdown shows it as text
    assert "run_id" in md and "sha256" in md


def test_csv_codebook_states_the_undo(exported):
    cb = pd.read_csv(exported["csv"] / "court.codebook.csv", **ex.CSV_READ_OPTIONS)
    assert cb["code"].isna().all()  # CSV cells hold the values themselves
    rows = cb[cb["file"] == "court.csv"].set_index("variable")
    assert rows.loc["case_id", "type_in_file"] == "text"
    assert "remove one leading ' to restore the value" in rows.loc["case_id", "note"]
    assert rows.loc["outcome", "note"] == ("one of grant, removal, voluntary_departure, "
                                           "termination, other")
    assert rows.loc["granted", "type_in_file"] == "true / false"
    md = (exported["csv"] / "court.codebook.md").read_text(encoding="utf-8")
    assert "na_values=['']" in md and "na.strings = ''" in md


def test_names_and_labels_fit_stata():
    for col in (*DECISION_COLUMNS, *WORKLOAD_COLUMNS):
        ex.check_stata_name(col.name)
        assert len(col.meaning) <= 80  # variable labels are the meanings, uncut
    for bad in ("1abc", "_all", "strL", "str12", "a" * 33, "naïve", "a-b"):
        with pytest.raises(TableError, match=f"column '{bad}': expected a Stata variable name"):
            ex.check_stata_name(bad)


# ------------------------------------------------------------------------------ limits
def test_large_code_sets_use_wider_codes():
    values = [f"N{i:03d}" for i in range(700)]
    frame = pd.DataFrame({"nationality": pd.array(values[::-1] + [None], dtype="string")})
    col = (Column("nationality", "string", True, "nationality code"),)
    codings = ex.plan_codings([(frame, col)])
    sf = ex.stata_frame(frame, col, codings)
    assert sf.types["nationality"] == "int"  # 700 codes do not fit a byte (at most 100)
    assert sf.frame["nationality"].iloc[0] == 700 and sf.frame["nationality"].iloc[699] == 1


def test_beyond_stata_label_limits_the_column_stays_text(tmp_path, monkeypatch):
    decisions, workload = _decisions(), _workload()
    decisions.loc[2, "language"] = "L" * 33_000  # longer than a value label holds: strL text
    paths = TablePaths(tmp_path / "court.parquet")
    write_decision_data(paths, decisions, workload, {}, {"source": "test"})
    monkeypatch.setattr(ex, "STATA_MAX_LABELS", 6)  # 7 judges: more than the codes allowed
    messages: list[str] = []
    ex.export_table(paths.decisions, tmp_path / "out", format="dta", progress=messages.append)
    assert any("column judge_id: kept as text (7 distinct values, more than the 6" in m
               for m in messages)
    assert any("column language: kept as text (a value of 33,000 bytes" in m for m in messages)
    with pd.io.stata.StataReader(tmp_path / "out" / "court.dta") as reader:
        reader.read()
        assert "judge_id" not in reader.value_labels()
    pd.testing.assert_frame_equal(ex.read_export(tmp_path / "out" / "court.dta"),
                                  _expected(decisions, DECISION_COLUMNS))
    cb = pd.read_csv(tmp_path / "out" / "court.codebook.csv", **ex.CSV_READ_OPTIONS)
    lang = cb[(cb["file"] == "court.dta") & (cb["variable"] == "language")].iloc[0]
    assert lang["type_in_file"] == "strL" and lang["note"].startswith("kept as text")


@pytest.mark.parametrize("fmt", ["dta", "csv"])
def test_a_column_without_values_and_an_empty_table(tmp_path, fmt):
    decisions = _decisions().assign(language=None)  # e.g. a release without its language table
    paths = TablePaths(tmp_path / "court.parquet")
    write_decision_data(paths, decisions, _workload(), {}, {"source": "test"})
    ex.export_table(paths.decisions, tmp_path / "out", format=fmt)
    pd.testing.assert_frame_equal(ex.read_export(tmp_path / "out" / f"court.{fmt}"),
                                  _expected(decisions, DECISION_COLUMNS))
    if fmt == "dta":
        cb = pd.read_csv(tmp_path / "out" / "court.codebook.csv", **ex.CSV_READ_OPTIONS)
        lang = cb[(cb["file"] == "court.dta") & (cb["variable"] == "language")]
        assert lang["note"].tolist() == ["no values (all missing), so no codes"]
        assert lang["missing"].tolist() == ["8"]
    empty = TablePaths(tmp_path / "empty.parquet")
    write_decision_data(empty, decisions.iloc[:0], _workload().iloc[:0], {}, {"source": "test"})
    ex.export_table(empty.decisions, tmp_path / "out", format=fmt)
    for name, columns in (("empty", DECISION_COLUMNS), ("empty.judge_completions", WORKLOAD_COLUMNS)):
        back = ex.read_export(tmp_path / "out" / f"{name}.{fmt}")
        assert back.columns.tolist() == [c.name for c in columns] and len(back) == 0


def test_columns_outside_the_contract_are_left_out_and_named(tmp_path):
    # a table written by hand (no run id, no workload file) with a column the schema lacks
    frame, _ = coerce_decisions(_decisions().assign(hearing_room=["4B"] * 8))
    frame.to_parquet(tmp_path / "court.parquet")
    messages: list[str] = []
    result = ex.export_table(tmp_path / "court.parquet", tmp_path / "out", format="dta",
                             progress=messages.append)
    assert [p.name for p in result.files] == ["court.dta", "court.codebook.md", "court.codebook.csv"]
    assert "court.parquet: left out (not in the contract): hearing_room" in messages
    assert "hearing_room" not in pd.read_stata(tmp_path / "out" / "court.dta").columns
    md = (tmp_path / "out" / "court.codebook.md").read_text(encoding="utf-8")
    assert "Columns of the source left out (not in the contract): hearing_room." in md
    with pd.io.stata.StataReader(tmp_path / "out" / "court.dta") as reader:
        reader.read()
        assert reader.data_label == "decisions court.parquet"  # no run id to name


# ------------------------------------------------------------------------------ R
def _r_with_haven() -> str | None:
    rscript = shutil.which("Rscript")
    if rscript is None:
        return None
    ok = subprocess.run([rscript, "-e", "library(haven)"], capture_output=True).returncode == 0
    return rscript if ok else None


@pytest.mark.parametrize("name,columns", [("court", DECISION_COLUMNS),
                                          ("court.judge_completions", WORKLOAD_COLUMNS)])
def test_r_reads_both_formats(exported, tmp_path, name, columns):
    rscript = _r_with_haven()
    if rscript is None:
        pytest.skip("Rscript with the haven package is not installed")
    original = _decisions() if columns is DECISION_COLUMNS else _workload()
    env = {**os.environ, "LC_ALL": "C", "LANG": "C"}  # non-ASCII text must survive any locale
    for fmt in ("dta", "csv"):
        read = tmp_path / f"{name}.{fmt}.r.csv"
        subprocess.run([rscript, str(R_SCRIPT), str(exported[fmt] / f"{name}.{fmt}"),
                        str(read)], check=True, capture_output=True, env=env)
        # R applied the documented recoding itself: its output is plain text, typed here
        frame, unreadable = coerce_decisions(pd.read_csv(read, **ex.CSV_READ_OPTIONS), columns)
        assert unreadable == {}
        expected = _expected(original, columns)
        if fmt == "csv":
            # R's read.csv turns a carriage return inside a quoted value into a line feed
            # (docs/export.md says so); every other value comes back as written
            for c in columns:
                if c.kind == "string":
                    expected[c.name] = expected[c.name].str.replace("\r", "\n")
        pd.testing.assert_frame_equal(frame[[c.name for c in columns]], expected,
                                      obj=f"R read {fmt}")


# ------------------------------------------------------------------------------ files
def test_rerun_replaces_and_removes_a_stale_workload_export(tmp_path):
    paths = TablePaths(tmp_path / "court.parquet")
    write_decision_data(paths, _decisions(), _workload(), {}, {"source": "test"})
    out = tmp_path / "out"
    ex.export_table(paths.decisions, out, format="csv")
    paths.workload.unlink()
    messages: list[str] = []
    result = ex.export_table(paths.decisions, out, format="csv", progress=messages.append)
    assert [p.name for p in result.files] == ["court.csv", "court.codebook.md", "court.codebook.csv"]
    assert sorted(p.name for p in out.iterdir()) == ["court.codebook.csv", "court.codebook.md",
                                                     "court.csv"]  # no staging folder left
    assert any("removed" in m and "court.judge_completions.csv" in m for m in messages)


def test_same_input_same_bytes(table, tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    a = ex.export_table(table, tmp_path / "a", format="dta")
    b = ex.export_table(table, tmp_path / "b", format="dta")
    for pa_, pb in zip(a.files, b.files, strict=True):
        assert pa_.read_bytes() == pb.read_bytes(), pa_.name


def test_the_input_folder_may_hold_the_export(table, tmp_path):
    folder = tmp_path / "here"
    shutil.copytree(table.parent, folder)
    ex.export_table(folder / "court.parquet", folder, format="csv")
    assert (folder / "court.csv").exists() and (folder / "court.parquet").exists()


# ------------------------------------------------------------------------------ errors
runner = CliRunner()


def _run(*args: str):
    result = runner.invoke(app, list(args))
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    return result.output


def test_cli_help():
    result = runner.invoke(app, ["export", "--help"])
    assert result.exit_code == 0
    assert "--format" in result.output and "Example: fairness-audit export" in result.output


def test_cli_writes_and_lists_the_files(table, tmp_path):
    result = runner.invoke(app, ["export", str(table), "--format", "dta", "--out",
                                 str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    for name in ("court.dta", "court.judge_completions.dta", "court.codebook.md",
                 "court.codebook.csv"):
        assert f"wrote {tmp_path / 'o' / name}" in result.output


def test_cli_unknown_format(table, tmp_path):
    assert "error: --format 'xlsx': expected one of csv, dta" in _run(
        "export", str(table), "--format", "xlsx", "--out", str(tmp_path))


def test_cli_not_a_decisions_table(tmp_path):
    path = tmp_path / "other.parquet"
    pd.DataFrame({"x": [1]}).to_parquet(path)
    output = _run("export", str(path), "--format", "csv", "--out", str(tmp_path / "o"))
    assert f"error: {path}: the decisions table breaks the contract" in output
    assert "missing column(s) 'case_id'" in output
    assert "expected a path ending in .parquet" in _run(
        "export", str(tmp_path / "x.csv"), "--format", "csv", "--out", str(tmp_path / "o"))
    paths = TablePaths(tmp_path / "court.parquet")
    write_decision_data(paths, _decisions(), _workload().iloc[1:], {}, {"source": "test"})
    output = _run("export", str(paths.decisions), "--format", "csv", "--out", str(tmp_path / "o"))
    assert f"error: {paths.workload}: the judge-workload file breaks the contract" in output
    assert "1 judge(s) without a merits completion in it (=1+1)" in output
    assert not (tmp_path / "o" / "court.csv").exists()


def test_cli_output_problems(table, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert f"error: --out {blocker}: cannot create the output folder: {blocker} is a file" in _run(
        "export", str(table), "--format", "csv", "--out", str(blocker))
    out = tmp_path / "o"
    out.mkdir()
    (out / "court.csv").symlink_to(table)
    output = _run("export", str(table), "--format", "csv", "--out", str(out))
    assert f"would replace the input {table}" in output
    assert pd.read_parquet(table).shape == (8, 26)  # the input is untouched


def test_cli_date_with_a_time_of_day(tmp_path):
    decisions = _decisions()
    decisions.loc[0, "filed_date"] = D("2017-05-06 13:45")
    paths = TablePaths(tmp_path / "court.parquet")
    write_decision_data(paths, decisions, _workload(), {}, {"source": "test"})
    output = _run("export", str(paths.decisions), "--format", "dta", "--out", str(tmp_path / "o"))
    assert "error: column 'filed_date': expected dates (midnight), found a time of day" in output
    assert not (tmp_path / "o" / "court.dta").exists()
    assert [p.name for p in (tmp_path / "o").iterdir()] == []  # the staging folder is gone


def test_decode_refuses_bare_codes(exported):
    raw = pd.read_stata(exported["dta"] / "court.dta", convert_categoricals=False)
    with pytest.raises(TableError, match="column 'judge_id': expected its value labels"):
        ex.decode_stata(raw)
    with pytest.raises(TableError, match="the CSV: expected the exported columns, missing "
                                         "'proceeding_id', 'judge_id'"):
        ex.decode_csv(pd.DataFrame({"case_id": ["x"]}))
    with pytest.raises(OutputError, match="expected one of csv, dta"):
        ex.export_table(Path("x.parquet"), Path("o"), format="sav")
