"""The docket column: the EOIR ingest's map of case priority codes, the table source's optional
``docket`` column, and what the export and the benchmark's release do with it.

Expected dockets are written out by hand from the documented map (docs/ingest.md, "Dockets"),
and the case table is read back here with plain Python, not through the ingest's reader.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
import yaml
from pandas.testing import assert_frame_equal

from fairness_audit import export as ex
from fairness_audit.errors import ConfigError
from fairness_audit.ingest.eoir import ingest_eoir, load_options
from fairness_audit.ingest.fixtures import CASE_HEADER, ReleaseBuilder, standard_release
from fairness_audit.ingest.mapping import parse_mapping
from fairness_audit.ingest.table import ingest_table
from fairness_audit.schema import coerce_decisions, validate_decisions
from fairness_audit.tables import read_decision_data, read_metadata

P = "B_TblProceeding"
C = "A_TblCase"

# The documented default map (docs/ingest.md), written out again here: priority code -> docket.
DEFAULT_MAP = {"AWC/ATD": "family_unit", "AWC/D": "family_unit",
               "RBC/D": "recent_border_crossers", "UC": "unaccompanied_children",
               "CR": "custody_review"}
ORDINARY = {"N/A", ""}


def expected_docket(code: str | None) -> str | None:
    """The docket the default options give a case's priority code (None: unreadable case)."""
    if code is None or code.strip() in ORDINARY:
        return None
    return DEFAULT_MAP.get(code.strip(), code.strip())


def _expect(b: ReleaseBuilder, proceeding: int, docket: str | None, *,
            represented: bool | None = False) -> None:
    """A removal decided in a release with only the case and proceeding tables."""
    b.expect(proceeding, outcome="removal", represented=represented, juvenile=None,
             asylum_application=None, asylum_decision=None, n_hearings=None,
             n_continuances=None, in_absentia=False, appealed=None, remanded=None,
             gender=None, docket=docket)


# (priority code as written, the docket expected by hand)
CODES = [("AWC/ATD", "family_unit"), ("AWC/D", "family_unit"),
         ("RBC/D", "recent_border_crossers"), ("UC", "unaccompanied_children"),
         ("CR", "custody_review"), ("N/A", None), ("", None),
         ("FAMU", "FAMU"),  # not in the map: kept as written, counted
         ("uc", "uc")]      # codes are matched exactly as written


def coded_release() -> ReleaseBuilder:
    """One case per code of CODES, each with one decision; the UC case is decided twice (a
    remand), the CR case also has a pending proceeding; and a decision whose case row is not
    in the release (its docket is null, like its representation)."""
    b = ReleaseBuilder()
    for i, (code, docket) in enumerate(CODES):
        c = b.case(priority=code)
        p = b.proceeding(c, comp=f"2019-0{i % 9 + 1}-1{i % 3}", dec="X", workload="merits")
        _expect(b, p, docket)
        if code == "UC":
            p = b.proceeding(c, comp="2020-02-03", dec="X", workload="merits")
            _expect(b, p, docket)
        if code == "CR":
            b.proceeding(c, comp="", set_aside="pending")
        if docket is not None and code not in DEFAULT_MAP:
            b.expect_outside_codebook(C, "CASEPRIORITY_CODE", code)
    p = b.proceeding(9999, comp="2019-11-05", dec="X", workload="merits")
    b.expect_orphan(P, "proceeding without its case")
    _expect(b, p, None, represented=None)
    return b


@pytest.fixture(scope="module")
def coded(tmp_path_factory):
    b = coded_release()
    root = tmp_path_factory.mktemp("docket")
    release = b.write(root / "release")
    out = root / "out" / "eoir.parquet"
    messages: list[str] = []
    result = ingest_eoir(release, out, progress=messages.append)
    return b, release, out, result, messages


def _drop_priority_column(release: Path) -> None:
    """Rewrite the release's case table without CASEPRIORITY_CODE (its last column)."""
    assert CASE_HEADER[-1] == "CASEPRIORITY_CODE"
    path = release / f"{C}.csv"
    lines = path.read_bytes().decode("latin-1").split("\n")
    kept = ["\t".join(line.split("\t")[:-1]) if line else line for line in lines]
    path.write_bytes("\n".join(kept).encode("latin-1"))


# ------------------------------------------------------------------------------ the map
def test_each_priority_code_gives_its_docket(coded):
    b, _, out, _, _ = coded
    got = read_decision_data(out).decisions
    assert validate_decisions(got) == []
    assert_frame_equal(coerce_decisions(got)[0], b.expected_decisions())
    by_case = dict(zip(got["proceeding_id"], got["docket"].astype(object), strict=True))
    # spelled out: proceedings 2001.. in the order of CODES (the UC case's second decision is
    # 2005, the CR case's pending proceeding 2007), then the decision without its case row
    assert {k: (None if pd.isna(v) else v) for k, v in by_case.items()} == {
        "2001": "family_unit", "2002": "family_unit", "2003": "recent_border_crossers",
        "2004": "unaccompanied_children", "2005": "unaccompanied_children",
        "2006": "custody_review", "2008": None, "2009": None, "2010": "FAMU", "2011": "uc",
        "2012": None}


def test_unlisted_codes_are_counted_and_the_ledger_adds_up(coded):
    b, _, out, result, _ = coded
    ledger = json.loads(out.with_name("eoir.ledger.json").read_text())
    assert ledger == b.expected_ledger() == result.ledger
    assert ledger[C]["values_outside_codebook"] == {"CASEPRIORITY_CODE": {"FAMU": 1, "uc": 1}}
    for table, entry in ledger.items():
        assert entry["rows_read"] == entry["used"] + sum(entry["set_aside"].values()), table
    assert ledger[P]["used"] == 11 and ledger[P]["set_aside"] == {"pending": 1}


def test_metadata_says_where_the_docket_came_from_and_counts_it(coded):
    *_, out, result, messages = coded
    meta = read_metadata(out)
    assert meta["docket"] == {
        "source_column": "A_TblCase.CASEPRIORITY_CODE",
        "decisions_by_docket": {"FAMU": 1, "custody_review": 1, "family_unit": 2,
                                "recent_border_crossers": 1, "uc": 1,
                                "unaccompanied_children": 2}}
    assert meta["tables"][C]["columns_absent"] == []
    assert meta["codebooks"]["CASEPRIORITY_CODE"] == ("options docket.codes and "
                                                      "docket.ordinary_codes")
    assert meta["derivations"]["docket_codes"] == DEFAULT_MAP
    assert meta["derivations"]["docket_ordinary_codes"] == ["N/A"]
    assert not any("CASEPRIORITY_CODE column" in m for m in messages)


def test_a_case_table_without_the_column_gives_null_dockets_and_says_so(tmp_path, coded):
    b, _, out_with, *_ = coded
    release = b.write(tmp_path / "release")
    _drop_priority_column(release)
    out = tmp_path / "out" / "eoir.parquet"
    messages: list[str] = []
    result = ingest_eoir(release, out, progress=messages.append)
    got = read_decision_data(out).decisions
    assert validate_decisions(got) == []
    assert got["docket"].isna().all() and len(got) == 11
    # every other column as with the column
    with_column = read_decision_data(out_with).decisions
    assert_frame_equal(got.drop(columns="docket"), with_column.drop(columns="docket"))
    meta = read_metadata(out)
    assert meta["docket"] == {"source_column": None, "decisions_by_docket": {}}
    assert meta["tables"][C]["columns_absent"] == ["priority_code"]
    assert ("A_TblCase has no CASEPRIORITY_CODE column: docket is null for every decision"
            in messages)
    ledger = result.ledger
    assert "values_outside_codebook" not in ledger[C]
    for table, entry in ledger.items():
        assert entry["rows_read"] == entry["used"] + sum(entry["set_aside"].values()), table


def test_the_codebook_spelling_of_the_column_is_read_too(tmp_path):
    b = coded_release()
    release = b.write(tmp_path / "release")
    path = release / f"{C}.csv"
    text = path.read_bytes().decode("latin-1")
    path.write_bytes(text.replace("\tCASEPRIORITY_CODE\n", "\tcase_priority_code\n", 1)
                     .encode("latin-1"))
    result = ingest_eoir(release, tmp_path / "o.parquet")
    got = pd.read_parquet(tmp_path / "o.parquet")
    assert_frame_equal(coerce_decisions(got)[0], b.expected_decisions())
    assert result.metadata["docket"]["source_column"] == "A_TblCase.case_priority_code"


# ------------------------------------------------------------------------------ options
def test_a_users_map_adds_dockets_and_can_send_a_code_to_the_ordinary_docket(tmp_path, coded):
    _, release, *_ = coded
    opts_file = tmp_path / "opts.yaml"
    opts_file.write_text("docket:\n  codes:\n    FAMU: family_unit\n    CR: null\n")
    opts = load_options(opts_file)
    assert opts.docket_codes == {**DEFAULT_MAP, "FAMU": "family_unit", "CR": None}
    result = ingest_eoir(release, tmp_path / "o.parquet", options=opts)
    got = pd.read_parquet(tmp_path / "o.parquet").set_index("proceeding_id")["docket"]
    assert got["2010"] == "family_unit"    # FAMU, now in the map
    assert pd.isna(got["2006"])            # CR: the ordinary docket
    assert got["2001"] == "family_unit"    # the default entries stay
    assert result.ledger[C]["values_outside_codebook"] == {"CASEPRIORITY_CODE": {"uc": 1}}


def test_an_emptied_map_keeps_every_code_as_written():
    opts = load_options({"docket": {"codes": None}})
    assert opts.docket_codes == {} and opts.docket_ordinary_codes == ("N/A",)


@pytest.mark.parametrize("docket, message", [
    ({"codes": {"UC": 5}}, r"option 'docket.codes.UC': expected a docket name \(text\) or null"
                           r" \(the ordinary docket\), found 5"),
    ({"codes": {"UC": " "}}, r"option 'docket.codes.UC': expected a docket name"),
    ({"codes": {True: "x"}}, r"option 'docket.codes.True': expected a priority code as text"),
    ({"codes": ["UC"]}, r"option 'docket.codes': expected a mapping of priority code to "
                        r"docket name, found \['UC'\]"),
    ({"ordinary_codes": ["N/A", "CR"]}, r"option 'docket.ordinary_codes': code\(s\) CR are "
                                        r"also in 'docket.codes'"),
    ({"code": {"UC": "x"}}, r"unknown key 'docket.code'"),
])
def test_bad_docket_options_name_the_key(docket, message):
    with pytest.raises(ConfigError, match=message):
        load_options({"docket": docket})


# ------------------------------------------------------------------------------ property
def random_release(seed: int) -> ReleaseBuilder:
    """Cases with random priority codes (and some copies of case rows, identical or differing
    in the code alone), each with 1-3 proceedings: decided, pending or administrative."""
    rng = random.Random(seed)
    codes = ["AWC/ATD", "AWC/D", "RBC/D", "UC", "CR", "N/A", "", "XYZ"]
    b = ReleaseBuilder()
    for _ in range(120):
        c = b.case(priority=rng.choices(codes, weights=[2, 1, 1, 2, 1, 8, 3, 1])[0])
        copy = rng.random()
        if copy < 0.05:  # an identical copy: one is kept
            b.add_line(C, b.rows[C][-1])
        elif copy < 0.10:  # a copy with another code: both set aside
            fields = b.rows[C][-1].split("\t")
            fields[-1] = "UC" if fields[-1] != "UC" else "CR"
            b.add_line(C, "\t".join(fields))
        for _ in range(rng.randint(1, 3)):
            kind = rng.choice(["decided", "decided", "pending", "administrative"])
            day = f"2019-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
            if kind == "decided":
                b.proceeding(c, comp=day, dec=rng.choice("XGVT"))
            elif kind == "pending":
                b.proceeding(c, comp="")
            else:
                b.proceeding(c, comp=day, other="C")
    return b


@pytest.mark.parametrize("seed", [1, 2])
def test_every_decision_has_the_docket_of_its_cases_code(tmp_path, seed):
    release = random_release(seed).write(tmp_path / "release")
    result = ingest_eoir(release, tmp_path / "o.parquet")
    got = pd.read_parquet(tmp_path / "o.parquet")
    # the case table read back with plain Python: a key written twice with different lines
    # is unreadable (both copies set aside), so its decisions have no docket
    lines: dict[str, set[str]] = {}
    raw = (release / f"{C}.csv").read_bytes().decode("latin-1").splitlines()
    header = raw[0].split("\t")
    at = header.index("CASEPRIORITY_CODE")
    for line in raw[1:]:
        lines.setdefault(line.split("\t")[0], set()).add(line)
    code = {k: next(iter(v)).split("\t")[at] for k, v in lines.items() if len(v) == 1}
    assert len(got) > 100
    for case_id, docket in zip(got["case_id"], got["docket"], strict=True):
        want = expected_docket(code.get(case_id))
        assert (None if pd.isna(docket) else docket) == want, case_id
    # the counts: every row read is used or set aside; unlisted codes counted per case row
    ledger = result.ledger
    for table, entry in ledger.items():
        assert entry["rows_read"] == entry["used"] + sum(entry["set_aside"].values()), table
    assert ledger[C]["rows_read"] == len(raw) - 1
    conflicting = sum(len(v) for v in lines.values() if len(v) > 1)
    assert ledger[C]["set_aside"].get("conflicting duplicate key", 0) == conflicting
    xyz = sum(1 for c in code.values() if c == "XYZ")
    outside = ledger[C].get("values_outside_codebook", {}).get("CASEPRIORITY_CODE", {})
    assert outside == ({"XYZ": xyz} if xyz else {})


def test_the_standard_fixture_keeps_its_dockets():
    """The reference fixture carries every default code, N/A and an unlisted one."""
    decisions = standard_release().decisions
    counts = Counter(d for d in decisions["docket"].astype(object) if not pd.isna(d))
    assert counts == {"unaccompanied_children": 2, "family_unit": 3,
                      "recent_border_crossers": 1, "custody_review": 1, "FU/D": 1}


# ------------------------------------------------------------------------------ export
def test_the_export_writes_the_docket_and_reads_it_back(tmp_path, coded):
    *_, out, _, _ = coded
    result = ex.export_table(out, tmp_path / "csv", format="csv")
    assert result.rows["eoir.csv"] == 11
    back = ex.read_export(tmp_path / "csv" / "eoir.csv")
    table = read_decision_data(out).decisions
    assert back["docket"].tolist() == table["docket"].tolist()
    codebook = pd.read_csv(tmp_path / "csv" / "eoir.codebook.csv", **ex.CSV_READ_OPTIONS)
    assert "docket" in set(codebook.loc[codebook["file"] == "eoir.csv", "variable"])


# ------------------------------------------------------------------------------ ingest table
BASE_MAPPING = {
    "name": "a small extract",
    "columns": {
        "case_id": "CASE", "proceeding_id": "PROC", "judge_id": "JUDGE", "court_id": "COURT",
        "fiscal_year": "derived", "decision_date": "DATE", "outcome": "OUTCOME",
        **{c: "missing" for c in (
            "case_type", "nationality", "language", "gender", "custody", "detained",
            "represented", "juvenile", "asylum_application", "asylum_decision", "filed_date",
            "duration_days", "n_hearings", "n_continuances", "in_absentia", "appealed",
            "remanded")},
    },
}
EXTRACT = ("CASE,PROC,JUDGE,COURT,DATE,OUTCOME,DOCKET_TYPE\n"
           "C1,P1,J1,LOS,2019-03-01,removal,Regular\n"
           "C2,P2,J1,LOS,2019-03-02,grant,MPP\n"
           "C3,P3,J2,SFR,2019-03-03,removal,\n"
           "C4,P4,J2,SFR,2019-03-04,removal,Rocket docket\n")


def _table(tmp_path: Path, mapping: dict) -> tuple[pd.Series, dict, dict]:
    (tmp_path / "extract.csv").write_text(EXTRACT)
    (tmp_path / "map.yaml").write_text(yaml.safe_dump(mapping))
    result = ingest_table(tmp_path / "extract.csv", tmp_path / "map.yaml",
                          tmp_path / "t.parquet")
    got = pd.read_parquet(tmp_path / "t.parquet")
    assert validate_decisions(got) == []
    return got.set_index("proceeding_id")["docket"], read_metadata(tmp_path / "t.parquet"), \
        result.ledger


def test_a_mapping_without_docket_gives_a_null_docket_and_says_so(tmp_path):
    docket, meta, _ = _table(tmp_path, BASE_MAPPING)
    assert docket.isna().all() and len(docket) == 4
    assert "docket" in meta["columns_missing"]
    assert meta["mapping"]["columns"]["docket"] == "missing"
    # the resolved mapping reads back as the same mapping
    mapping = parse_mapping(BASE_MAPPING)
    assert parse_mapping(json.loads(json.dumps(mapping.to_dict()))) == mapping


def test_a_mapping_can_read_the_docket_from_a_column(tmp_path):
    mapping = {**BASE_MAPPING, "columns": {
        **BASE_MAPPING["columns"],
        "docket": {"from": "DOCKET_TYPE", "values": {"Regular": None, "MPP": "mpp"}}}}
    docket, meta, ledger = _table(tmp_path, mapping)
    # Regular: the ordinary docket (null); MPP -> mpp; blank: null; an unlisted label kept
    assert docket.astype(object).where(docket.notna(), None).to_dict() == {
        "P1": None, "P2": "mpp", "P3": None, "P4": "Rocket docket"}
    assert "docket" not in meta["columns_missing"]
    assert ledger["extract.csv"]["rows_read"] == 4 and ledger["extract.csv"]["used"] == 4
