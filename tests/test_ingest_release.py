"""The EOIR ingest's record of the release: its identity by content (fingerprint, sidecar),
the row counts it ships, who decided (``judges.attribution``), and the data-quality facts of
the ledger. Expected values are worked out by hand from the fixtures (see each test)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import zlib
from pathlib import Path

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal
from typer.testing import CliRunner

from fairness_audit.errors import ConfigError
from fairness_audit.ingest.commands import app
from fairness_audit.ingest.eoir import ReleaseError, ingest_eoir, load_options
from fairness_audit.ingest.fixtures import (
    ReleaseBuilder,
    attribution_release,
    counted_release,
    standard_release,
)
from fairness_audit.ledger import Ledger, TableLedger
from fairness_audit.schema import WORKLOAD_COLUMNS, coerce_decisions
from fairness_audit.tables import read_metadata

SET_FILES = (".parquet", ".judge_completions.parquet", ".ledger.json", ".set_aside.parquet",
             ".lookups.json")
P = "B_TblProceeding"
TODAY = dt.date.today().isoformat()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def ledger_of(out: Path) -> dict:
    return json.loads(out.with_name(out.name.replace(".parquet", ".ledger.json")).read_text())


# ------------------------------------------------------------------------------ identity
@pytest.fixture(scope="module")
def two_copies(tmp_path_factory):
    """The standard release ingested from two folders: the same bytes, other paths, other
    modification times (and the judge merge file, the same bytes, beside each)."""
    root = tmp_path_factory.mktemp("copies")
    release, merge = standard_release().write(root / "a")
    other = root / "b" / "elsewhere" / "release"
    shutil.copytree(release, other)
    other_merge = other.parent / "judge_merge.csv"
    shutil.copy(merge, other_merge)
    for path in (*other.iterdir(), other_merge):
        os.utime(path, (1_000_000_000, 1_000_000_000))  # 2001-09-09T01:46:40Z
    out_a, out_b = root / "out_a" / "eoir.parquet", root / "out_b" / "deeper" / "eoir.parquet"
    ingest_eoir(release, out_a, options=load_options(judge_merge_file=merge))
    ingest_eoir(other, out_b, options=load_options(judge_merge_file=other_merge))
    return release, other, out_a, out_b


def test_same_release_bytes_from_two_folders_give_byte_identical_files(two_copies):
    *_, out_a, out_b = two_copies
    for suffix in SET_FILES:
        a, b = out_a.with_name("eoir" + suffix), out_b.with_name("eoir" + suffix)
        assert a.read_bytes() == b.read_bytes(), suffix
    # the sidecars are where the two runs differ
    assert (out_a.with_name("eoir.source.json").read_bytes()
            != out_b.with_name("eoir.source.json").read_bytes())


def test_where_and_when_go_to_the_sidecar_only(two_copies):
    release, other, out_a, out_b = two_copies
    meta = read_metadata(out_b)
    text = json.dumps(meta)
    assert "source_path" not in meta and str(other.parent) not in text and "mtime" not in text
    assert ".source.json" not in meta["companions"]  # not one of the set's tied files
    sidecar = json.loads(out_b.with_name("eoir.source.json").read_text())
    assert sidecar["source_path"] == str(other.resolve())
    assert sidecar["run_id"] == meta["run_id"]
    assert set(sidecar["mtimes"]) == {p.name for p in other.iterdir()}
    assert set(sidecar["mtimes"].values()) == {"2001-09-09T01:46:40+00:00"}
    assert sidecar["judge_merge_file"] == str((other.parent / "judge_merge.csv").resolve())
    # dates.latest is null by default: the day of the run bounds the dates, and only the
    # sidecar says so
    assert meta["derivations"]["latest_date"] is None
    assert sidecar["dates_latest_used"] == TODAY and sidecar["ingested_on"] == TODAY
    assert json.loads(out_a.with_name("eoir.source.json").read_text())["source_path"] == str(
        release.resolve())


def test_release_entry_lists_every_file_read_with_its_sha256(two_copies):
    release, _, out_a, _ = two_copies
    entry = read_metadata(out_a)["release"]
    names = ["A_TblCase.csv", "B_TblProceeding.csv", "tblAppeal.csv", "tblLookupBaseCity.csv",
             "tbl_Court_Appln.csv", "tbl_JuvenileHistory.csv", "tbl_RepsAssigned.csv",
             "tbl_schedule.csv.gz"]
    assert [f["name"] for f in entry["files"]] == names  # sorted by name
    for f in entry["files"]:
        path = release / f["name"]
        assert f == {"table": f["name"].split(".")[0], "name": f["name"],
                     "size": path.stat().st_size, "sha256": sha256(path)}
    canonical = json.dumps({"files": entry["files"], "zip": None}, sort_keys=True,
                           separators=(",", ":"))
    assert entry["fingerprint"] == hashlib.sha256(canonical.encode()).hexdigest()
    assert entry["zip"] is None and entry["row_counts"] is None
    # latest valid completion, charging, hearing or EOIR-28 date: the termination decided
    # 2020-10-05 (appeal dates are not among them: the board decided one on 2020-06-01)
    assert entry["latest_date"] == "2020-10-05"
    merge_sha = hashlib.sha256(b"code,merged_code\nJD2,JDP\n").hexdigest()
    assert read_metadata(out_a)["derivations"]["judge_merge_file"] == {
        "name": "judge_merge.csv", "sha256": merge_sha}


def test_one_byte_changes_the_fingerprint_and_that_files_sha256_only(tmp_path, two_copies):
    release, _, out_a, _ = two_copies
    changed = tmp_path / "release"
    shutil.copytree(release, changed)
    reps = changed / "tbl_RepsAssigned.csv"
    data = reps.read_bytes()
    # PARENT_TABLE, a column the ingest does not read: A_TblCase -> a_TblCase, one byte
    at = data.index(b"\tA_TblCase\t") + 1
    reps.write_bytes(data[:at] + b"a" + data[at + 1:])
    out = tmp_path / "out" / "eoir.parquet"
    ingest_eoir(changed, out, options=load_options(judge_merge_file=release.parent /
                                                   "judge_merge.csv"))
    before, after = read_metadata(out_a)["release"], read_metadata(out)["release"]
    assert after["fingerprint"] != before["fingerprint"]
    differ = [(a["name"], k) for a, b in zip(before["files"], after["files"], strict=True)
              for k in a if a[k] != b[k]]
    assert differ == [("tbl_RepsAssigned.csv", "sha256")]
    assert after["files"][6]["sha256"] == sha256(reps)
    assert ledger_of(out) == ledger_of(out_a)


def test_a_zip_is_identified_by_its_sha256_and_its_members_crc(tmp_path):
    fixture = standard_release()
    folder, merge = fixture.write(tmp_path)
    archive, _ = fixture.write(tmp_path, as_zip=True)
    out = tmp_path / "zip" / "eoir.parquet"
    ingest_eoir(archive, out, options=load_options(judge_merge_file=merge))
    entry = read_metadata(out)["release"]
    assert entry["zip"] == {"name": "release.zip", "size": archive.stat().st_size,
                            "sha256": sha256(archive)}
    assert len(entry["files"]) == 8
    for f in entry["files"]:
        assert f["name"].startswith("case_data/") and f["sha256"] is None
        data = (folder / f["name"].removeprefix("case_data/")).read_bytes()
        assert f["size"] == len(data)
        assert f["crc32"] == format(zlib.crc32(data), "08x")
    canonical = json.dumps({"files": entry["files"], "zip": entry["zip"]}, sort_keys=True,
                           separators=(",", ":"))
    assert entry["fingerprint"] == hashlib.sha256(canonical.encode()).hexdigest()
    sidecar = json.loads(out.with_name("eoir.source.json").read_text())
    assert list(sidecar["mtimes"]) == ["release.zip"]


# ------------------------------------------------------------------------------ row counts
def test_counted_release_counts_are_as_written():
    # 3 cases; 4 proceedings (3 decided, 1 pending); 5 once a split row is added
    assert counted_release().shipped_counts() == {"A_TblCase": 3, P: 4}
    assert counted_release(split_row=True).shipped_counts() == {"A_TblCase": 3, P: 5}


def test_row_counts_equal_to_the_rows_read(tmp_path):
    b = counted_release()
    # a table the ingest does not read is listed too, and not checked
    release = b.write(tmp_path / "rel", row_counts={"A_TblCase": 3, "tblAppeal2": 99, P: 4})
    out = tmp_path / "out" / "e.parquet"
    ingest_eoir(release, out)
    entry = read_metadata(out)["release"]
    assert entry["row_counts"] == {
        "A_TblCase": {"shipped": 3, "read": 3, "excess": 0, "explained_by": 0},
        P: {"shipped": 4, "read": 4, "excess": 0, "explained_by": 0}}
    counts = next(f for f in entry["files"] if f["table"] == "row_counts")
    path = release / "row_counts.txt"
    assert counts == {"table": "row_counts", "name": "row_counts.txt",
                      "size": path.stat().st_size, "sha256": sha256(path)}


def test_fewer_rows_than_shipped_is_an_error_before_anything_is_written(tmp_path):
    release = counted_release().write(tmp_path / "rel", row_counts={"A_TblCase": 3, P: 6})
    out = tmp_path / "out" / "e.parquet"
    with pytest.raises(ReleaseError, match=(
            r"B_TblProceeding\.csv: expected the 6 rows of B_TblProceeding that the release's "
            r"row-count file row_counts\.txt lists, found 4 \(2 fewer\)")):
        ingest_eoir(release, out)
    assert list(out.parent.iterdir()) == []
    res = CliRunner().invoke(app, ["eoir", str(release), "--out", str(out)])
    assert res.exit_code == 1 and "Traceback" not in res.stderr
    assert res.stderr.strip().splitlines()[-1].startswith("error: ")
    assert "found 4 (2 fewer)" in res.stderr


def test_more_rows_than_shipped_are_explained_by_a_split_row(tmp_path):
    b = counted_release(split_row=True)
    release = b.write(tmp_path / "rel", row_counts=b.shipped_counts())
    out = tmp_path / "out" / "e.parquet"
    res = CliRunner().invoke(app, ["eoir", str(release), "--out", str(out)])
    assert res.exit_code == 0, res.output
    # the split row is two lines, each with fewer fields than the header: 6 rows read, 5
    # shipped, both halves set aside as malformed
    assert read_metadata(out)["release"]["row_counts"] == {
        "A_TblCase": {"shipped": 3, "read": 3, "excess": 0, "explained_by": 0},
        P: {"shipped": 5, "read": 6, "excess": 1, "explained_by": 2}}
    entry = ledger_of(out)[P]
    assert entry["rows_read"] == 6 and entry["set_aside"] == {"malformed row": 2, "pending": 1}
    assert ("1 more rows read than the 5 that row_counts.txt lists; 2 lines with fewer fields "
            "than the header") in res.stderr
    aside = pd.read_parquet(out.with_name("e.set_aside.parquet"))
    malformed = aside[aside["reason"] == "malformed row"]
    assert sorted(malformed["key"]) == ["2005", "S"]


def test_row_counts_found_by_content_inside_a_zip(tmp_path):
    b = counted_release()
    archive = b.write(tmp_path / "rel", row_counts={"A_TblCase": 3, P: 4},
                      row_counts_name="bcp_log.txt", as_zip=True)
    out = tmp_path / "out" / "e.parquet"
    ingest_eoir(archive, out)
    entry = read_metadata(out)["release"]
    assert entry["row_counts"][P] == {"shipped": 4, "read": 4, "excess": 0, "explained_by": 0}
    counts = next(f for f in entry["files"] if f["table"] == "row_counts")
    text = (tmp_path / "rel" / "bcp_log.txt").read_bytes()
    assert counts == {"table": "row_counts", "name": "case_data/bcp_log.txt", "size": len(text),
                      "crc32": format(zlib.crc32(text), "08x"), "sha256": None}


def test_row_counts_file_option_is_relative_to_the_config_file(tmp_path):
    release = counted_release().write(tmp_path / "rel")  # no row-count file in the release
    config_dir = tmp_path / "config"
    (config_dir / "counts").mkdir(parents=True)
    counts = config_dir / "counts" / "shipped.txt"
    counts.write_text("TableName\tContent\nA_TblCase\t3 rows copied.\n"
                      "B_TblProceeding\t4 rows copied.\n")
    opts = config_dir / "opts.yaml"
    opts.write_text("row_counts_file: counts/shipped.txt\n")
    out = tmp_path / "out" / "e.parquet"
    ingest_eoir(release, out, options=load_options(opts))
    meta = read_metadata(out)
    assert meta["derivations"]["row_counts_file"] == {"name": "shipped.txt",
                                                      "sha256": sha256(counts)}
    assert meta["release"]["row_counts"][P]["shipped"] == 4
    assert [f["table"] for f in meta["release"]["files"]] == ["A_TblCase", P,
                                                              "tblLookupBaseCity"]
    opts.write_text("row_counts_file: counts/missing.txt\n")
    with pytest.raises(ConfigError, match=r"'row_counts_file': expected a file, found nothing "
                                          r"at .*config/counts/missing\.txt"):
        load_options(opts)


def test_an_unreadable_row_count_line_names_the_file_and_line(tmp_path):
    release = counted_release().write(tmp_path / "rel")
    (release / "rows.txt").write_text("TableName\tContent\nA_TblCase\t3 rows copied.\n"
                                      "B_TblProceeding\tfour rows copied.\n")
    with pytest.raises(ReleaseError, match=r"rows\.txt, line 3: expected 'B_TblProceeding"
                                           r"<TAB>N rows copied\.', found 'B_TblProceeding"):
        ingest_eoir(release, tmp_path / "out" / "e.parquet")
    (release / "more_rows.csv").write_text("tablename\tcontent\n")
    with pytest.raises(ReleaseError, match="expected at most one row-count file"):
        ingest_eoir(release, tmp_path / "out" / "e.parquet")


# ------------------------------------------------------------------------------ who decided
def _judges(out: Path) -> dict[str, str]:
    got = pd.read_parquet(out)
    return dict(zip(got["proceeding_id"], got["judge_id"], strict=True))


def _workload(out: Path) -> list[tuple[str, str, str]]:
    w = pd.read_parquet(out.with_name(out.name.replace(".parquet", ".judge_completions.parquet")))
    return sorted((j, str(d.date()), k) for j, d, k in
                  w[["judge_id", "completion_date", "kind"]].itertuples(index=False))


@pytest.fixture(scope="module")
def two_rules(tmp_path_factory):
    root = tmp_path_factory.mktemp("attribution")
    b = attribution_release()
    release = b.write(root / "rel")
    merge = root / "merge.csv"
    merge.write_text("code,merged_code\nJX9,JA1\n")
    outs = {}
    for rule in ("decided_proceeding", "case_last_proceeding"):
        outs[rule] = root / rule / "e.parquet"
        res = CliRunner().invoke(app, ["eoir", str(release), "--out", str(outs[rule]),
                                       "--judge-map", str(merge), "--config",
                                       str(_rule_config(root, rule))])
        assert res.exit_code == 0, res.output
        outs[rule + ":stderr"] = res.stderr
    return b, outs


def _rule_config(root: Path, rule: str) -> Path:
    path = root / f"{rule}.yaml"
    path.write_text(f"judges:\n  attribution: {rule}\n")
    return path


def test_decided_proceeding_rule(two_rules):
    b, outs = two_rules
    out = outs["decided_proceeding"]
    # see attribution_release's docstring: the judge of each decided proceeding, merged
    assert _judges(out) == {"2001": "JA1", "2002": "JB2", "2003": "JA1", "2005": "JA1",
                            "2007": "JB2", "2009": "JC3", "2011": "JC3"}
    assert_frame_equal(coerce_decisions(pd.read_parquet(out))[0], b.expected_decisions())
    assert _workload(out) == [
        ("JA1", "2019-01-10", "merits"), ("JA1", "2019-02-01", "merits"),
        ("JA1", "2019-03-01", "merits"), ("JA1", "2019-04-01", "administrative"),
        ("JB2", "2019-05-01", "merits"), ("JB2", "2019-06-01", "merits"),
        ("JC3", "2019-06-15", "merits"), ("JC3", "2019-08-01", "merits")]
    assert ledger_of(out)[P]["set_aside"] == {"administrative completion": 1, "pending": 2,
                                              "placeholder judge": 1}
    # 2001 (JA1 / JB2), 2003 (JA1 / AAA) and 2007 (JB2 / no judge) differ
    assert read_metadata(out)["judge_attribution"] == {
        "rule": "decided_proceeding", "decisions_attributed_differently": 3}
    assert ("judges attributed by decided_proceeding: 3 of 7 decisions would have another "
            "judge (or none) by case_last_proceeding") in outs["decided_proceeding:stderr"]


def test_case_last_proceeding_rule(two_rules):
    _, outs = two_rules
    out = outs["case_last_proceeding"]
    # 2003's case ends with a placeholder (set aside), 2007's with no judge (set aside);
    # 2010, a placeholder's decision, goes to the judge of the case's last proceeding
    assert _judges(out) == {"2001": "JB2", "2002": "JB2", "2005": "JA1", "2009": "JC3",
                            "2010": "JC3", "2011": "JC3"}
    assert _workload(out) == [
        ("JA1", "2019-03-01", "merits"), ("JA1", "2019-04-01", "administrative"),
        ("JB2", "2019-01-10", "merits"), ("JB2", "2019-06-01", "merits"),
        ("JC3", "2019-06-15", "merits"), ("JC3", "2019-07-01", "merits"),
        ("JC3", "2019-08-01", "merits")]
    entry = ledger_of(out)[P]
    assert entry["set_aside"] == {"administrative completion": 1, "missing judge": 1,
                                  "pending": 2, "placeholder judge": 1}
    assert entry["rows_read"] == entry["used"] + 5 == 11
    # 2001 (JB2 / JA1) and 2010 (JC3 / MC1) differ
    meta = read_metadata(out)
    assert meta["judge_attribution"] == {"rule": "case_last_proceeding",
                                         "decisions_attributed_differently": 2}
    assert meta["derivations"]["judge_attribution"] == "case_last_proceeding"
    w = pd.read_parquet(out.with_name("e.judge_completions.parquet"))
    assert list(w.columns) == [c.name for c in WORKLOAD_COLUMNS]


def test_attribution_option_is_checked():
    with pytest.raises(ConfigError, match=r"'judges.attribution': expected one of "
                                          r"decided_proceeding, case_last_proceeding, found "
                                          r"'last'"):
        load_options({"judges": {"attribution": "last"}})


# ------------------------------------------------------------------------------ data quality
def _quality_release(*, court_lookup: bool) -> ReleaseBuilder:
    """Orphans in every table, codes outside the codebooks, and a late hearing."""
    b = ReleaseBuilder()
    c = b.case()
    p = b.proceeding(c, osc="2018-01-01", comp="2019-01-15", dec="X", workload="merits")
    b.hearing(p, "2021-03-01")  # after the decision: not a hearing of it, but a date read
    b.application(p, "ASYL", "A")
    b.case()  # a case without a proceeding
    b.proceeding(c, comp="2019-03-01", dec="X", court="XYZ", nat="ZZ", lang="QQQ",
                 case_type="ZZZ", set_aside="out of scope case type")
    b.proceeding(c, comp="2019-04-01", dec="A", case_type="DEP",
                 set_aside="unmapped decision code")
    orphan = "999999"
    b.add_row("tbl_schedule", {"IDNSCHEDULE": "5999", "IDNPROCEEDING": orphan,
                               "ADJ_DATE": "2019-01-01", "ADJ_RSN": "01"})
    b.add_row("tbl_Court_Appln", {"IDNPROCEEDINGAPPLN": "3999", "IDNPROCEEDING": orphan,
                                  "APPL_CODE": "ZZZZ", "APPL_DEC": "Q"})
    b.add_row("tblAppeal", {"idnAppeal": "7999", "idnProceeding": orphan,
                            "strAppealCategory": "IJ", "strAppealType": "Case Appeal"})
    b.add_row("tbl_RepsAssigned", {"IDNREPSASSIGNED": "4999", "IDNCASE": "888888",
                                   "STRATTYLEVEL": "COURT", "STRATTYTYPE": "ALIEN",
                                   "E_28_DATE": "2018-01-01"})
    b.add_row("tbl_JuvenileHistory", {"idnJuvenileHistory": "6999", "idnCase": "888888",
                                      "idnJuvenile": "1"})
    if court_lookup:
        b.add_row("tblLookupBaseCity", {"idnBaseCity": "1", "BASE_CITY_CODE": "LOS",
                                        "BASE_CITY_NAME": "LOS ANGELES", "blnActive": "1"})
    return b


def _write_quality(folder: Path, *, court_lookup: bool = True,
                   appl_decisions: tuple[str, ...] | None = ("G", "D")) -> Path:
    release = _quality_release(court_lookup=court_lookup).write(folder)
    if appl_decisions is not None:  # the release's own codebook of APPL_DEC
        (release / "tblLookupCourtAppDecisions.csv").write_text(
            "idnCourtAppDecision\tstrCode\tstrDescription\n"
            + "".join(f"{i}\t{code}\tDECISION {code}\n"
                      for i, code in enumerate(appl_decisions, start=1)))
    return release


def test_data_quality_facts_in_the_ledger(tmp_path):
    release = _write_quality(tmp_path / "rel")
    out = tmp_path / "out" / "e.parquet"
    ingest_eoir(release, out)
    ledger = ledger_of(out)
    for table, entry in ledger.items():  # facts, not reasons: the counts still add up
        assert entry["rows_read"] == entry["used"] + sum(entry["set_aside"].values()), table
    assert ledger["A_TblCase"]["orphans"] == {"case without a proceeding": 1}
    assert "orphans" not in ledger[P]
    for table in ("tbl_schedule", "tbl_Court_Appln", "tblAppeal"):
        assert ledger[table]["orphans"] == {"row without its proceeding": 1}, table
        assert ledger[table]["used"] == ledger[table]["rows_read"], table
    for table in ("tbl_RepsAssigned", "tbl_JuvenileHistory"):
        assert ledger[table]["orphans"] == {"row without its case": 1}, table
    assert ledger[P]["values_outside_codebook"] == {
        "BASE_CITY_CODE": {"XYZ": 1}, "CASE_TYPE": {"ZZZ": 1}, "DEC_CODE": {"DEP:A": 1},
        "LANG": {"QQQ": 1}, "NAT": {"ZZ": 1}}
    # the release's APPL_DEC codebook lists G and D only: A is outside it there
    assert ledger["tbl_Court_Appln"]["values_outside_codebook"] == {
        "APPL_CODE": {"ZZZZ": 1}, "APPL_DEC": {"A": 1, "Q": 1}}
    meta = read_metadata(out)
    assert meta["codebooks"]["APPL_DEC"] == "tblLookupCourtAppDecisions.csv"
    assert meta["codebooks"]["BASE_CITY_CODE"] == "tblLookupBaseCity.csv"
    assert meta["codebooks"]["NAT"] == "packaged fallback (marrowb/eoir)"
    # the lookup files read are part of the release's identity
    assert {f["name"] for f in meta["release"]["files"]} >= {
        "tblLookupBaseCity.csv", "tblLookupCourtAppDecisions.csv"}
    # the hearing of 2021-03-01 is the latest date read
    assert meta["release"]["latest_date"] == "2021-03-01"


def test_codebooks_fall_back_to_the_packaged_ones(tmp_path):
    release = _write_quality(tmp_path / "rel", court_lookup=False, appl_decisions=None)
    out = tmp_path / "out" / "e.parquet"
    ingest_eoir(release, out, options=load_options({"dates": {"latest": "2020-12-31"}}))
    ledger = ledger_of(out)
    # no court lookup in the release: courts are not checked (none is packaged)
    assert "BASE_CITY_CODE" not in ledger[P]["values_outside_codebook"]
    assert ledger["tbl_Court_Appln"]["values_outside_codebook"] == {
        "APPL_CODE": {"ZZZZ": 1}, "APPL_DEC": {"Q": 1}}  # A (abandonment) is a packaged code
    meta = read_metadata(out)
    assert "BASE_CITY_CODE" not in meta["codebooks"]
    assert meta["codebooks"]["APPL_DEC"].startswith("packaged")
    # dates.latest 2020-12-31: the 2021 hearing is an impossible date, nulled and counted;
    # the latest date read is then the completion of 2019-04-01
    assert ledger["tbl_schedule"]["values_nulled"] == {"ADJ_DATE": 1}
    assert ledger["tbl_schedule"]["impossible_dates"] == {"ADJ_DATE": 1}
    assert meta["release"]["latest_date"] == "2019-04-01"
    assert meta["derivations"]["latest_date"] == "2020-12-31"
    sidecar = json.loads(out.with_name("e.source.json").read_text())
    assert sidecar["dates_latest_used"] == "2020-12-31"


def test_case_custody_kept_for_its_codebook_does_not_make_copies_conflict(tmp_path):
    """Copies of a case row that differ only in CUSTODY (which the case table gives only as a
    fallback) stay duplicates: one is kept, as before the codebook check kept the column."""
    b = ReleaseBuilder()
    c = b.case(custody="D")
    b.proceeding(c, comp="2019-01-15", dec="X", workload="merits")
    b.add_line("A_TblCase", b.rows["A_TblCase"][0].replace("\tD\t", "\tN\t", 1))
    release = b.write(tmp_path / "rel")
    ingest_eoir(release, tmp_path / "out" / "e.parquet")
    entry = ledger_of(tmp_path / "out" / "e.parquet")["A_TblCase"]
    assert entry["set_aside"] == {"duplicate row": 1} and entry["used"] == 1
    assert "values_outside_codebook" not in entry
    # with the fallback on, the case's custody is read: the copies conflict
    ingest_eoir(release, tmp_path / "fb" / "e.parquet",
                options=load_options({"case_fields": {"fallback_to_case_table": True}}))
    entry = ledger_of(tmp_path / "fb" / "e.parquet")["A_TblCase"]
    assert entry["set_aside"] == {"conflicting duplicate key": 2}


def test_ledger_keeps_the_twenty_most_frequent_values_and_round_trips():
    entry = TableLedger(rows_read=10, used=10)
    entry.outside_codebook("NAT", {f"Q{i:02d}": i for i in range(1, 26)})
    entry.orphan_rows("row without its case", 2)
    entry.impossible_date("ADJ_DATE", 3)
    entry.nulled_by_court_year("OSC_DATE", "LOS", 2021, 1)
    entry.nulled_by_court_year("CUSTODY", "SEA", 2019, 4)
    got = entry.to_dict()
    # Q25 (25) down to Q06 (6) are shown; Q01-Q05 sum to 1 + 2 + 3 + 4 + 5 = 15
    assert list(got["values_outside_codebook"]["NAT"]) == [
        f"Q{i:02d}" for i in range(25, 5, -1)] + ["(other values)"]
    assert got["values_outside_codebook"]["NAT"]["(other values)"] == 15
    assert got["orphans"] == {"row without its case": 2}
    assert got["impossible_dates"] == {"ADJ_DATE": 3}
    assert got["values_nulled_by_court_year"] == [
        {"column": "CUSTODY", "court_id": "SEA", "fiscal_year": 2019, "n": 4},
        {"column": "OSC_DATE", "court_id": "LOS", "fiscal_year": 2021, "n": 1}]
    again = Ledger.from_dict(json.loads(json.dumps({"t": got}))).to_dict()
    assert again == {"t": got}
    # an entry without such facts keeps the contract's four keys only
    assert set(TableLedger().to_dict()) == {"rows_read", "used", "set_aside", "values_nulled"}
