"""The raw EOIR ingest against fixture releases with known expected output."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pandas.testing import assert_frame_equal
from typer.testing import CliRunner

from fairness_audit.errors import ConfigError
from fairness_audit.ingest import raw
from fairness_audit.ingest.commands import app
from fairness_audit.ingest.eoir import (
    PROCEEDING,
    ReleaseError,
    default_config_text,
    engine_connection,
    ingest_eoir,
    load_options,
    read_lookups,
)
from fairness_audit.ingest.fixtures import (
    PROCEEDING_HEADER,
    SCHEDULE_HEADER,
    ReleaseBuilder,
    d,
    standard_release,
)
from fairness_audit.schema import WORKLOAD_COLUMNS, coerce_decisions, validate_decisions
from fairness_audit.tables import read_decision_data, read_metadata

REPO = Path(__file__).resolve().parents[1]


def _sorted_workload(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["completion_date", "judge_id", "kind", "case_type"],
                             na_position="first").reset_index(drop=True)


def _set_aside_counts(frame: pd.DataFrame) -> Counter:
    return Counter(
        (t, None if pd.isna(k) else str(k), r)
        for t, k, r in frame[["table", "key", "reason"]].itertuples(index=False)
    )


@pytest.fixture(scope="module")
def fixture_release():
    return standard_release()


@pytest.fixture(scope="module")
def ingested(tmp_path_factory, fixture_release):
    root = tmp_path_factory.mktemp("eoir")
    release, merge = fixture_release.write(root)
    out = root / "out" / "eoir.parquet"
    result = ingest_eoir(release, out, options=load_options(judge_merge_file=merge))
    return release, merge, out, result


# ------------------------------------------------------------------------------ engine
def test_rowids_survive_checkpoints_only_in_tables_never_deleted_from(tmp_path):
    """The duplicate checks hold rowids from one statement to the next (``check_table``), and
    DuckDB's checkpoints compact a table with deleted rows, renumbering its rowids: so the
    staged tables are only ever appended to. Both halves, on the engine the ingest opens."""
    con = engine_connection(load_options(), tmp_path / "spill", progress_bar=False)
    some = "SELECT rowid, k FROM {} WHERE k % 9973 = 0 ORDER BY k"
    con.execute("CREATE TABLE appended AS SELECT range AS k FROM range(1000000)")
    con.execute("INSERT INTO appended SELECT 2000000 + range FROM range(1000)")
    before = con.execute(some.format("appended")).fetchall()
    con.execute("CHECKPOINT")
    assert con.execute(some.format("appended")).fetchall() == before
    con.execute("CREATE TABLE deleted AS SELECT range AS k FROM range(1000000)")
    con.execute("DELETE FROM deleted WHERE k % 10 < 7")
    before = con.execute(some.format("deleted")).fetchall()
    con.execute("CHECKPOINT")
    assert con.execute(some.format("deleted")).fetchall() != before
    con.close()


# ------------------------------------------------------------------------------ config
def test_repo_config_is_the_packaged_config():
    assert (REPO / "configs" / "eoir_ingest.yaml").read_text() == default_config_text()


def test_unknown_config_key_is_named(tmp_path):
    bad = tmp_path / "opts.yaml"
    bad.write_text("scope:\n  case_typs: [RMV]\n")
    with pytest.raises(ConfigError, match=r"unknown key 'scope.case_typs'"):
        load_options(bad)


def test_invalid_outcome_is_named():
    with pytest.raises(ConfigError, match=r"outcomes.RMV.X.*expected one of grant"):
        load_options({"outcomes": {"RMV": {"X": "deported"}, "DEP": {}, "EXC": {}}})


def test_scope_without_outcome_table_is_an_error():
    with pytest.raises(ConfigError, match="CFR have no entry under 'outcomes'"):
        load_options(case_types=["RMV", "CFR"])


def test_judge_merge_file_must_be_one_step(tmp_path):
    merge = tmp_path / "merge.csv"
    merge.write_text("code,merged_code\nA1,B1\nB1,C1\n")
    with pytest.raises(ConfigError, match="expected one step"):
        load_options(judge_merge_file=merge)


# ------------------------------------------------------------------------------ the fixture
def test_decisions_reproduce_expected_table(ingested, fixture_release):
    *_, out, _ = ingested
    got = read_decision_data(out).decisions
    assert validate_decisions(got) == []
    assert_frame_equal(coerce_decisions(got)[0], fixture_release.decisions)


def test_workload_reproduces_expected(ingested, fixture_release):
    *_, out, _ = ingested
    got = coerce_decisions(read_decision_data(out).workload, WORKLOAD_COLUMNS)[0]
    assert_frame_equal(_sorted_workload(got), _sorted_workload(fixture_release.workload))


def test_ledger_matches_and_adds_up(ingested, fixture_release):
    *_, out, result = ingested
    ledger = json.loads(out.with_name("eoir.ledger.json").read_text())
    assert ledger == fixture_release.ledger
    assert result.ledger == ledger
    for table, entry in ledger.items():
        assert entry["rows_read"] == entry["used"] + sum(entry["set_aside"].values()), table
    assert ledger["B_TblProceeding"]["used"] == len(fixture_release.decisions)


def test_set_aside_rows_carry_key_table_and_reason(ingested, fixture_release):
    *_, out, _ = ingested
    got = pd.read_parquet(out.with_name("eoir.set_aside.parquet"))
    assert _set_aside_counts(got) == _set_aside_counts(fixture_release.set_aside)
    details = got.loc[got["reason"] == "malformed row", "detail"].tolist()
    assert any("ambiguous shift" in d for d in details)
    assert any("header has 38" in d for d in details)


def test_metadata_names_every_derivation(ingested):
    *_, out, _ = ingested
    meta = read_metadata(out)
    assert meta["source"] == "eoir"
    assert meta["coverage_start"] == "2017-06-15"   # earliest completion in the workload
    assert meta["coverage_end"] == "2020-10-05"
    derivations = meta["derivations"]
    for key in ("unit", "case_types", "outcomes", "representation_rule", "continuance_codes",
                "remand_codes", "placeholder_judges", "judge_merge", "asylum_rank"):
        assert key in derivations
    assert derivations["judge_merge"] == {"JD2": "JDP"}
    tables = meta["tables"]
    assert tables["A_TblCase"]["rows_repaired"] == 1
    assert tables["B_TblProceeding"]["rows_repaired"] == 1
    assert tables["B_TblProceeding"]["rows_with_trailing_empty_field"] == 1
    assert meta["tables_absent"] == []


def test_lookups_file_has_court_names_from_the_release(ingested):
    *_, out, _ = ingested
    lookups = read_lookups(out.with_name("eoir.lookups.json"))
    assert lookups["court"]["SFR"] == "SAN FRANCISCO"
    assert lookups["nationality"]["MX"] == "MEXICO"
    assert lookups["language"]["SP"] == "SPANISH"
    assert lookups["sources"]["court"] == "tblLookupBaseCity.csv"


def test_zip_release_gives_the_same_tables(tmp_path, ingested, fixture_release):
    *_, out, result = ingested
    archive, merge = fixture_release.write(tmp_path, as_zip=True)
    assert archive.suffix == ".zip"
    out_zip = tmp_path / "zip" / "eoir.parquet"
    result_zip = ingest_eoir(archive, out_zip, options=load_options(judge_merge_file=merge))
    assert_frame_equal(pd.read_parquet(out_zip), pd.read_parquet(out))
    assert result_zip.ledger == result.ledger


# ------------------------------------------------------------------------------ options
def test_case_last_keeps_the_last_decision_of_each_case(tmp_path, fixture_release):
    release, merge = fixture_release.write(tmp_path)
    out = tmp_path / "last.parquet"
    ingest_eoir(release, out, options=load_options({"unit": "case_last"},
                                                   judge_merge_file=merge))
    got = pd.read_parquet(out)
    expected = fixture_release.decisions.copy()
    expected["_pid"] = expected["proceeding_id"].astype(int)
    last = (expected.sort_values(["decision_date", "_pid"])
            .groupby("case_id").tail(1).drop(columns="_pid")
            .sort_values(["decision_date", "proceeding_id"]).reset_index(drop=True))
    assert got["proceeding_id"].tolist() == last["proceeding_id"].tolist()
    # ties on the completion date go to the higher proceeding id (case 1007: 2009 and 2010)
    assert "2010" in got["proceeding_id"].tolist() and "2009" not in got["proceeding_id"].tolist()
    ledger = json.loads(out.with_name("last.ledger.json").read_text())
    superseded = ledger["B_TblProceeding"]["set_aside"]["superseded by a later decision"]
    assert superseded == len(fixture_release.decisions) - len(last)


def test_withholding_only_is_opt_in(tmp_path, fixture_release):
    release, merge = fixture_release.write(tmp_path)
    out = tmp_path / "who.parquet"
    ingest_eoir(release, out, options=load_options(judge_merge_file=merge,
                                                   case_types=["RMV", "DEP", "EXC", "WHO"]))
    got = pd.read_parquet(out)
    who = got[got["case_type"] == "WHO"]
    assert len(who) == 1 and who["outcome"].iloc[0] == "grant"


def test_representation_by_first_hearing_is_stricter(tmp_path, fixture_release):
    release, merge = fixture_release.write(tmp_path)
    out = tmp_path / "fh.parquet"
    opts = load_options({"representation": {"rule": "by_first_hearing"}},
                        judge_merge_file=merge)
    ingest_eoir(release, out, options=opts)
    got = pd.read_parquet(out).set_index("proceeding_id")
    # EOIR-28 filed 2018-05-01: after the first hearing (2018-03-01), before the decision
    assert not got.loc["2001", "represented"]
    # no hearing: falls back to the completion date
    assert got.loc["2005", "represented"]


def test_reversals_can_count_as_remands(tmp_path):
    b = ReleaseBuilder()
    c = b.case()
    p = b.proceeding(c, comp="2019-01-01", dec="X", workload="merits")
    b.appeal(p, decision="SUS", decided="2019-06-01")
    release = b.write(tmp_path / "rel")
    default = ingest_eoir(release, tmp_path / "a.parquet")
    assert default.n_decisions == 1
    assert not pd.read_parquet(tmp_path / "a.parquet")["remanded"].iloc[0]
    opts = load_options({"appeals": {"remand_codes": ["REM", "BCR", "SUS", "TER"]}})
    ingest_eoir(release, tmp_path / "b.parquet", options=opts)
    assert pd.read_parquet(tmp_path / "b.parquet")["remanded"].iloc[0]


def test_missing_optional_tables_leave_their_columns_null(tmp_path):
    b = ReleaseBuilder()
    c = b.case(e28="2018-01-01")
    b.proceeding(c, comp="2019-01-01", dec="X", workload="merits")
    release = b.write(tmp_path / "rel")
    result = ingest_eoir(release, tmp_path / "o.parquet")
    got = pd.read_parquet(tmp_path / "o.parquet")
    assert got["n_hearings"].isna().all() and got["appealed"].isna().all()
    assert got["juvenile"].isna().all() and got["asylum_application"].isna().all()
    assert bool(got["represented"].iloc[0])
    assert "tbl_schedule" in result.metadata["tables_absent"]


# ------------------------------------------------------------------------------ errors, CLI
def test_cli_writes_every_file(tmp_path, fixture_release):
    release, merge = fixture_release.write(tmp_path)
    out = tmp_path / "cli" / "court.parquet"
    res = CliRunner().invoke(app, ["eoir", str(release), "--out", str(out),
                                   "--judge-map", str(merge)])
    assert res.exit_code == 0, res.output
    for suffix in (".parquet", ".judge_completions.parquet", ".ledger.json",
                   ".set_aside.parquet", ".lookups.json"):
        assert out.with_name("court" + suffix).exists(), suffix
    assert "reading B_TblProceeding" in res.stderr
    assert len(pd.read_parquet(out)) == len(fixture_release.decisions)


def test_cli_missing_table_is_one_line(tmp_path, fixture_release):
    release, _ = fixture_release.write(tmp_path)
    (release / "B_TblProceeding.csv").unlink()
    res = CliRunner().invoke(app, ["eoir", str(release), "--out", str(tmp_path / "x.parquet")])
    assert res.exit_code == 1
    assert res.stderr.startswith("error: ")
    assert "expected the table B_TblProceeding" in res.stderr
    assert "A_TblCase.csv" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_missing_column_names_file_column_and_header(tmp_path):
    b = ReleaseBuilder()
    c = b.case()
    b.proceeding(c, comp="2019-01-01", dec="X")
    release = b.write(tmp_path / "rel")
    path = release / "B_TblProceeding.csv"
    path.write_bytes(path.read_bytes().replace(b"COMP_DATE", b"COMPLETED", 1))
    with pytest.raises(ReleaseError, match=r"B_TblProceeding.csv: expected column\(s\) "
                                           r"COMP_DATE.*found IDNPROCEEDING, IDNCASE"):
        ingest_eoir(release, tmp_path / "o.parquet")


def test_column_names_match_case_insensitively(tmp_path):
    b = ReleaseBuilder()
    c = b.case(e28="2018-01-01", sex="F")
    p = b.proceeding(c, comp="2019-01-01", dec="X", workload="merits")
    b.appeal(p, decision="REM", decided="2019-05-01")
    release = b.write(tmp_path / "rel", header_case={"B_TblProceeding": "lower",
                                                      "tblAppeal": "upper",
                                                      "A_TblCase": "lower"})
    ingest_eoir(release, tmp_path / "o.parquet")
    got = pd.read_parquet(tmp_path / "o.parquet")
    assert got["remanded"].iloc[0] and got["gender"].iloc[0] == "F"


# ------------------------------------------------------------------------------ shifted rows
def _table(spec, header):
    return raw.resolve_columns(spec, Path("t.csv"), tuple(header))


def test_repair_glues_a_split_value_back():
    table = _table(PROCEEDING, PROCEEDING_HEADER)
    fields = [""] * len(PROCEEDING_HEADER)
    values = {"IDNPROCEEDING": "7", "IDNCASE": "8", "COMP_DATE": d("2019-01-01"),
              "DEC_CODE": "X", "DEC_TYPE": "O", "IJ_CODE": "ABC", "BASE_CITY_CODE": "LOS",
              "CASE_TYPE": "RMV", "HEARING_DATE": d("2019-01-01")}
    for k, v in values.items():
        fields[PROCEEDING_HEADER.index(k)] = v
    at = PROCEEDING_HEADER.index("COMP_DATE")
    split = fields[:at] + ["2019-01-01", "00:00:00.000"] + fields[at + 1:]
    result = raw.repair_row("\t".join(split), table)
    assert result.values is not None and not result.trailing_only
    staged = dict(zip(table.positions, result.values, strict=True))
    assert staged["comp_date"] == d("2019-01-01") and staged["dec_code"] == "X"


def test_repair_refuses_fewer_fields_and_ambiguous_shifts():
    table = _table(PROCEEDING, PROCEEDING_HEADER)
    assert raw.repair_row("1\t2\t3", table).values is None
    fields = [""] * len(PROCEEDING_HEADER)
    fields[0], fields[1] = "7", "8"
    # an extra "D" just before an empty CUSTODY: custody is either D or empty
    at = PROCEEDING_HEADER.index("CUSTODY")
    shifted = fields[:at] + ["D"] + fields[at:]
    result = raw.repair_row("\t".join(shifted), table)
    assert result.values is None and "ambiguous" in result.detail


def test_one_extra_empty_trailing_field_is_not_an_error():
    table = _table(PROCEEDING, PROCEEDING_HEADER)
    fields = [""] * len(PROCEEDING_HEADER)
    fields[0], fields[1], fields[PROCEEDING_HEADER.index("DEC_CODE")] = "7", "8", "X"
    result = raw.repair_row("\t".join(fields) + "\t", table)
    assert result.values is not None and result.trailing_only


def test_a_csv_reader_would_not_notice_the_shift(tmp_path):
    """Why the field count of every row is checked: DuckDB's own CSV reader, told to be
    lenient, drops or misreads a shifted row without a word; the ingest sees it, repairs it
    when the repair is unambiguous (here: the stray field belongs to the unused column before
    COMP_DATE), and sets it aside otherwise."""
    import duckdb

    b = ReleaseBuilder()
    c = b.case()
    b.proceeding(c, comp="2019-01-01", dec="X", workload="merits")
    values = {"IDNPROCEEDING": "9", "IDNCASE": str(c), "COMP_DATE": d("2019-02-01"),
              "DEC_CODE": "X", "IJ_CODE": "ABC", "BASE_CITY_CODE": "LOS", "CASE_TYPE": "RMV"}
    fields = b.line("B_TblProceeding", values)
    fields.insert(PROCEEDING_HEADER.index("COMP_DATE"), "JUNK")
    b.add_line("B_TblProceeding", "\t".join(fields))
    fields = b.line("B_TblProceeding", {**values, "IDNPROCEEDING": "10"})
    # an extra "D" just before an empty CUSTODY: detained, or custody unknown?
    fields.insert(PROCEEDING_HEADER.index("CUSTODY"), "D")
    b.add_line("B_TblProceeding", "\t".join(fields))
    release = b.write(tmp_path / "rel")
    lenient = duckdb.sql(
        f"SELECT IDNPROCEEDING, COMP_DATE, DEC_CODE FROM read_csv("
        f"'{release}/B_TblProceeding.csv', delim='\t', header=true, quote='', "
        "all_varchar=true, null_padding=true, ignore_errors=true)"
    ).fetchall()
    read_right = [r for r in lenient if r[0] in ("9", "10") and r[1] == d("2019-02-01")
                  and r[2] == "X"]
    assert len(read_right) < 2          # dropped or misread, and never flagged
    result = ingest_eoir(release, tmp_path / "o.parquet")
    entry = result.ledger["B_TblProceeding"]
    assert entry["rows_read"] == 3 and entry["used"] == 2
    assert entry["set_aside"] == {"malformed row": 1}
    got = pd.read_parquet(tmp_path / "o.parquet").set_index("proceeding_id")
    assert got.loc["9", "decision_date"] == pd.Timestamp("2019-02-01")
    assert result.metadata["tables"]["B_TblProceeding"]["rows_repaired"] == 1


def test_a_header_ending_with_a_tab_allows_rows_with_and_without_it(tmp_path):
    """A header with a trailing tab: rows with the empty trailing field and rows without it
    are well formed; a row with text in that unnamed field was shifted, and is repaired."""
    b = ReleaseBuilder()
    c = b.case()
    for k in range(3):
        b.proceeding(c, comp=f"2019-01-0{k + 1}", dec="X", workload="merits")
    values = {"IDNPROCEEDING": "9", "IDNCASE": str(c), "COMP_DATE": d("2019-02-01"),
              "DEC_CODE": "X", "IJ_CODE": "ABC", "BASE_CITY_CODE": "LOS", "CASE_TYPE": "RMV",
              PROCEEDING_HEADER[-1]: d("2019-03-01")}
    shifted = b.line("B_TblProceeding", values)
    # no trailing tab, and the last column, pushed into the unnamed field, is not empty (a
    # shift of a row whose last column is empty cannot be seen at its end)
    shifted.insert(PROCEEDING_HEADER.index("COMP_DATE"), "JUNK")
    release = b.write(tmp_path / "rel")
    path = release / "B_TblProceeding.csv"
    header, *rows = path.read_text(encoding="latin-1").splitlines()
    # every row but the last ends with the tab its header has
    lines = [header + "\t", *(r + "\t" for r in rows[:-1]), rows[-1], "\t".join(shifted)]
    path.write_text("\n".join(lines) + "\n", encoding="latin-1")
    result = ingest_eoir(release, tmp_path / "o.parquet")
    entry = result.ledger["B_TblProceeding"]
    assert entry["rows_read"] == 4 and entry["used"] == 4 and entry["set_aside"] == {}
    table = result.metadata["tables"]["B_TblProceeding"]
    assert table["rows_repaired"] == 1 and table["rows_with_trailing_empty_field"] == 2
    got = pd.read_parquet(tmp_path / "o.parquet").set_index("proceeding_id")
    assert got.loc["9", "decision_date"] == pd.Timestamp("2019-02-01")


@pytest.mark.parametrize("layout", ["lf", "crlf", "gzip", "bom"])
def test_text_beyond_ascii_is_read_as_latin1(tmp_path, layout):
    """The files are read as UTF-8 for speed; every byte must still mean its latin-1
    character: a byte that is not UTF-8 in a field the ingest does not use, in a judge code,
    and two bytes that happen to be valid UTF-8 ("Ã©" in latin-1, "é" in UTF-8)."""
    b = ReleaseBuilder()
    c = b.case()
    values = {"IDNCASE": str(c), "COMP_DATE": d("2019-02-01"), "DEC_CODE": "X",
              "BASE_CITY_CODE": "LOS", "CASE_TYPE": "RMV", "OSC_DATE": d("2018-01-01")}
    rows = {"7": {"IJ_CODE": "ABC", "CORRECTIONAL_FAC": "SAN JOSÉ"},
            "8": {"IJ_CODE": "JÉ1"},
            "9": {"IJ_CODE": "Ã©1"}}
    for idn, extra in rows.items():
        b.add_line("B_TblProceeding", "\t".join(
            b.line("B_TblProceeding", {**values, **extra, "IDNPROCEEDING": idn})))
    release = b.write(tmp_path / "rel", crlf_tables=("B_TblProceeding",) if layout == "crlf"
                      else (), gzip_tables=("B_TblProceeding",) if layout == "gzip" else ())
    if layout == "bom":  # a byte-order mark before the header must not shift the positions
        path = release / "B_TblProceeding.csv"
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    result = ingest_eoir(release, tmp_path / "o.parquet")
    assert result.ledger["B_TblProceeding"] == {"rows_read": 3, "used": 3, "set_aside": {},
                                                "values_nulled": {}}
    got = pd.read_parquet(tmp_path / "o.parquet").set_index("proceeding_id")["judge_id"]
    assert got.to_dict() == {"7": "ABC", "8": "JÉ1", "9": "Ã©1"}


@pytest.mark.parametrize("newline", [b"\n", b"\r\n"])
def test_rejected_rows_are_found_throughout_a_large_file(tmp_path, newline):
    """A file larger than DuckDB's read buffers, read in parallel, with dirty rows all through
    it: every rejected row is read again from the file exactly as written."""
    import duckdb

    from fairness_audit.ingest.eoir import SCHEDULE

    width = len(SCHEDULE_HEADER)
    clean = "\t".join(["{}", "77", ""] + ["2019-01-01 00:00:00.000"] * (width - 3)).encode()
    lines, dirty = ["\t".join(SCHEDULE_HEADER).encode()], []
    for i in range(1, 450_001):
        line = clean.replace(b"{}", str(i).encode())
        if i % 4001 == 0:
            fields = line.split(b"\t")
            kind = i // 4001 % 3
            if kind == 0:    # a stray tab and a latin-1 byte: shifted
                fields.insert(2, "SAN JOSÉ".encode("latin-1"))
            elif kind == 1:  # truncated
                fields = fields[:5]
            else:            # well formed, with a latin-1 byte in a field the ingest uses
                fields[SCHEDULE_HEADER.index("ADJ_RSN")] = "É".encode("latin-1")
            line = b"\t".join(fields)
            dirty.append(line.decode("latin-1"))
        lines.append(line)
    path = tmp_path / "tbl_schedule.csv"
    path.write_bytes(newline.join(lines) + newline)
    assert path.stat().st_size > 64 << 20
    table = raw.open_table(SCHEDULE, path)
    con = duckdb.connect()
    raw.stage_table(con, table, "sched")
    con.execute("CREATE TABLE t AS SELECT * FROM src_sched")
    rejects = raw.rejected_rows(con, "sched")
    assert raw.read_rejected_lines(path, rejects) == dirty
    assert con.execute("SELECT count(*) FROM t").fetchone()[0] + len(rejects) == 450_000


def test_keys_with_leading_zeros_are_one_key_and_keep_their_text(tmp_path):
    """"007" and "7" are the same proceeding: differing copies of one key are all set aside,
    each under the key's text as the file wrote it."""
    b = ReleaseBuilder()
    c = b.case()
    b.proceeding(c, comp="2019-01-01", dec="X", workload="merits")
    values = {"IDNCASE": str(c), "COMP_DATE": d("2019-02-01"), "DEC_CODE": "X",
              "IJ_CODE": "ABC", "BASE_CITY_CODE": "LOS", "CASE_TYPE": "RMV"}
    b.add_line("B_TblProceeding", "\t".join(b.line("B_TblProceeding",
                                                   {**values, "IDNPROCEEDING": "007"})))
    b.add_line("B_TblProceeding", "\t".join(b.line("B_TblProceeding",
                                                   {**values, "IDNPROCEEDING": "7"})))
    release = b.write(tmp_path / "rel")
    result = ingest_eoir(release, tmp_path / "o.parquet")
    assert result.ledger["B_TblProceeding"]["set_aside"] == {"conflicting duplicate key": 2}
    aside = pd.read_parquet(tmp_path / "o.set_aside.parquet")
    assert sorted(aside["key"]) == ["007", "7"]


@pytest.mark.parametrize("crlf", [False, True])
def test_a_row_the_reader_rejects_is_still_repaired(tmp_path, crlf):
    """Three stray tabs: more fields than DuckDB's reader is asked for (it rejects the row),
    few enough for the repair. The row is read again from the file at the position the
    reader's rejects record (a byte off in LF files, exact in CRLF ones), repaired and used."""
    b = ReleaseBuilder()
    c = b.case()
    b.proceeding(c, comp="2019-01-01", dec="X", workload="merits")
    values = {"IDNPROCEEDING": "9", "IDNCASE": str(c), "COMP_DATE": d("2019-02-01"),
              "DEC_CODE": "X", "IJ_CODE": "ABC", "BASE_CITY_CODE": "LOS", "CASE_TYPE": "RMV"}
    # the fields without a known format filled, so that only one way of gluing the fields
    # back gives valid formats
    staged = {name for names in PROCEEDING.columns.values() for name in names}
    filled = {name: "x" for name in PROCEEDING_HEADER
              if name not in staged and raw.default_validator(name) is None}
    fields = b.line("B_TblProceeding", {**filled, **values})
    at = PROCEEDING_HEADER.index("COMP_DATE")
    b.add_line("B_TblProceeding", "\t".join(fields[:at] + ["san", "josé", "ca"] + fields[at:]))
    release = b.write(tmp_path / "rel", crlf_tables=("B_TblProceeding",) if crlf else ())
    result = ingest_eoir(release, tmp_path / "o.parquet")
    entry = result.ledger["B_TblProceeding"]
    assert entry["rows_read"] == 2 and entry["used"] == 2
    assert result.metadata["tables"]["B_TblProceeding"]["rows_repaired"] == 1
    got = pd.read_parquet(tmp_path / "o.parquet").set_index("proceeding_id")
    assert got.loc["9", "decision_date"] == pd.Timestamp("2019-02-01")


@pytest.mark.parametrize("crlf", [False, True])
def test_a_row_with_many_stray_tabs_is_counted_and_set_aside(tmp_path, crlf):
    """More extra fields than the repair tries: read, counted and set aside, never lost."""
    b = ReleaseBuilder()
    c = b.case()
    b.proceeding(c, comp="2019-01-01", dec="X", workload="merits")
    fields = b.line("B_TblProceeding", {"IDNPROCEEDING": "9", "IDNCASE": str(c),
                                        "COMP_DATE": d("2019-02-01"), "DEC_CODE": "X"})
    b.add_line("B_TblProceeding", "\t".join(fields[:3] + [""] * 25 + fields[3:]))
    release = b.write(tmp_path / "rel", crlf_tables=("B_TblProceeding",) if crlf else ())
    result = ingest_eoir(release, tmp_path / "o.parquet")
    entry = result.ledger["B_TblProceeding"]
    assert entry["rows_read"] == 2 and entry["used"] == 1
    assert entry["set_aside"] == {"malformed row": 1}
    aside = pd.read_parquet(tmp_path / "o.set_aside.parquet")
    (detail,) = aside.loc[aside["table"] == "B_TblProceeding", "detail"]
    assert "too many to repair" in detail and aside["key"].tolist() == ["9"]


# ------------------------------------------------------------------------------ property
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 40), st.sampled_from(
    ["", "X", "b6", "2019-01-01 00:00:00.000", "JOSÉ", "17", "9999"])), max_size=15))
def test_every_row_is_accounted_for(tmp_path_factory, edits):
    """Whatever the damage, rows read = used + set aside, in every table."""
    b = ReleaseBuilder()
    for k in range(6):
        c = b.case(e28="2018-01-01" if k % 2 else "")
        p = b.proceeding(c, comp=f"2019-01-{k + 1:02d}", dec="XVGTRA"[k],
                         workload="merits")
        b.hearing(p, "2018-12-01", "01")
    lines = b.rows["B_TblProceeding"]
    sched = b.rows["tbl_schedule"]
    for row, pos, value in edits:
        target = lines if row % 2 == 0 else sched
        width = len(PROCEEDING_HEADER if target is lines else SCHEDULE_HEADER)
        fields = target[row % len(target)].split("\t")
        op = pos % 3
        if op == 0:
            fields.insert(pos % (width + 1), value)      # stray field
        elif op == 1 and len(fields) > 1:
            del fields[pos % len(fields)]                # lost field
        else:
            fields[pos % len(fields)] = value            # bad value
        target.append("\t".join(fields))
    folder = tmp_path_factory.mktemp("prop")
    release = b.write(folder / "rel")
    result = ingest_eoir(release, folder / "o.parquet")
    set_aside = pd.read_parquet(folder / "o.set_aside.parquet")
    for table, entry in result.ledger.items():
        assert entry["rows_read"] == len(b.rows[table]), table
        assert entry["rows_read"] == entry["used"] + sum(entry["set_aside"].values()), table
        assert (set_aside["table"] == table).sum() == sum(entry["set_aside"].values()), table
    assert result.ledger["B_TblProceeding"]["used"] == len(pd.read_parquet(folder / "o.parquet"))
