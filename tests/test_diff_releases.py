"""``diff-releases``: two small releases that differ in known ways, every count checked.

The releases (built with ``ReleaseBuilder``) and what NEW does to OLD:

* cases 1001-1010; NEW deletes case 1009 and gives case 1001 an EOIR-28 date (2019-01-10);
* proceedings 2001-2020, proceeding 2000 + k of case 1000 + (k + 1) // 2, court LOS for
  k <= 10 and SFR after, completed on 2019-03-01 (FY2019) with decision X when k is odd,
  pending when k is even. NEW deletes 2003 (LOS, FY2019) and 2004 (LOS, pending); adds 2021
  (case 1010, SFR, completed 2020-11-01: FY2021), 2022 (SFR, pending) and 2023 (case 1005,
  LOS, completed 2021-01-05: FY2021); changes IJ_CODE JDP -> ABC on 2005 (FY2019) and 2006
  (pending); moves 2007's COMP_DATE from 2019-03-01 to 2019-11-15 (259 days later, FY2020);
  writes 2008 truncated (a malformed row); writes 2010 twice with different judges; writes
  2011's COMP_DATE as "2019-03-01" without its time (the same date: no change); keeps 2012's
  latin-1 judge code "JÉ1" (read again as latin-1 in both: no change);
* applications 3001-3008 (ASYL) on proceedings 2001, 2003, 2005, 2009, 2011, 2013, 2015, 2017
  with decisions D, D, D, D, G, D, G, D, and in OLD a row without its key; NEW deletes 3002
  (on 2003), relabels D -> X on 3001, 3003, 3004 and 3006, and adds 3009 (on 2021, G).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from fairness_audit.cli import app
from fairness_audit.errors import OutputError
from fairness_audit.ingest import eoir
from fairness_audit.ingest.diff import (
    DECISIONS_NOTE,
    RELEASE_PLANS,
    DiffError,
    diff_releases,
)
from fairness_audit.ingest.fixtures import ReleaseBuilder
from fairness_audit.results import provenance, sha256_of
from fairness_audit.schema import DECISION_COLUMNS, coerce_decisions

P = "B_TblProceeding"
CASE, PROC, APPL = "A_TblCase", "B_TblProceeding", "tbl_Court_Appln"
runner = CliRunner()
DOC = (Path(__file__).resolve().parents[1] / "docs" / "releases.md").read_text()


# ------------------------------------------------------------------------------ the releases
def build(new: bool) -> ReleaseBuilder:
    b = ReleaseBuilder()
    for c in range(1001, 1011):
        if new and c == 1009:
            continue
        b.case(idncase=c, e28="2019-01-10" if new and c == 1001 else "")
    for k in range(1, 21):
        idn = 2000 + k
        if new and idn in (2003, 2004):
            continue
        case = 1000 + (k + 1) // 2
        court = "LOS" if k <= 10 else "SFR"
        comp = "2019-03-01" if k % 2 else ""
        judge = "JÉ1" if idn == 2012 else "ABC" if new and idn in (2005, 2006) else "JDP"
        if new and idn == 2007:
            comp = "2019-11-15"
        b.proceeding(case, idn=idn, court=court, judge=judge, comp=comp,
                     dec="X" if comp else "", write=not (new and idn == 2008),
                     raw_comp="2019-03-01" if new and idn == 2011 else None)
        if new and idn == 2008:
            b.add_line(P, "\t".join(b.line(P, b.proceedings[2008])[:20]))
        if new and idn == 2010:
            b.proceeding(case, idn=idn, court=court, judge="MRK")
    if new:
        b.proceeding(1010, idn=2021, court="SFR", comp="2020-11-01", dec="X")
        b.proceeding(1010, idn=2022, court="SFR")
        b.proceeding(1005, idn=2023, court="LOS", comp="2021-01-05", dec="X")
    applications = [(3001, 2001, "D"), (3002, 2003, "D"), (3003, 2005, "D"), (3004, 2009, "D"),
                    (3005, 2011, "G"), (3006, 2013, "D"), (3007, 2015, "G"), (3008, 2017, "D")]
    for idn, proceeding, dec in applications:
        if new and idn == 3002:
            continue
        b.application(proceeding, "ASYL", "X" if new and idn in (3001, 3003, 3004, 3006)
                      else dec, idn=idn)
    if new:
        b.application(2021, "ASYL", "G", idn=3009)
    else:
        b.add_line(APPL, "\t".join(b.line(APPL, {
            "IDNPROCEEDINGAPPLN": "", "IDNPROCEEDING": "2019", "APPL_CODE": "ASYL",
            "APPL_DEC": "G"})))
    return b


@pytest.fixture(scope="module")
def releases(tmp_path_factory):
    root = tmp_path_factory.mktemp("releases")
    return build(False).write(root / "old"), build(True).write(root / "new")


@pytest.fixture(scope="module")
def diffed(releases, tmp_path_factory):
    """The command run once on the two releases (default threshold)."""
    out = tmp_path_factory.mktemp("diff") / "out"
    old, new = releases
    result = runner.invoke(app, ["diff-releases", str(old), str(new), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out, result.output


def summary(out: Path) -> dict:
    return json.loads((out / "summary.json").read_text())


# ------------------------------------------------------------------------------ expected
SHIFT_NONE = {"min": None, "median": None, "max": None,
              "bins": {"more than a year earlier": 0, "31 days to a year earlier": 0,
                       "1 to 30 days earlier": 0, "1 to 30 days later": 0,
                       "31 days to a year later": 0, "more than a year later": 0}}
EXPECTED_TABLES = {
    CASE: {
        "key": "IDNCASE",
        "old": {"rows_read": 10, "compared": 10, "set_aside": {}},
        "new": {"rows_read": 9, "compared": 9, "set_aside": {}},
        "unchanged": 8, "vanished": 1, "appeared": 0, "changed": 1,
        "changed_by_field": {"E_28_DATE": 1},
        "dates": {"E_28_DATE": {"set_to_missing": 0, "missing_to_set": 1, "moved": 0,
                                "not_a_date": 0, "moved_to_another_fiscal_year": 0,
                                "shift_days": SHIFT_NONE}},
    },
    PROC: {
        "key": "IDNPROCEEDING",
        # 2010: duplicated in NEW; 2008: unreadable in NEW
        "old": {"rows_read": 20, "compared": 18,
                "set_aside": {"key duplicated in the other release": 1,
                              "row unreadable in the other release": 1}},
        # 18 kept - 2 deleted + 3 added + the truncated 2008 + the second 2010
        "new": {"rows_read": 22, "compared": 19,
                "set_aside": {"duplicate key": 2, "malformed row": 1}},
        "unchanged": 13, "vanished": 2, "appeared": 3, "changed": 3,
        "changed_by_field": {"IJ_CODE": 2, "COMP_DATE": 1},
        "dates": {"COMP_DATE": {
            "set_to_missing": 0, "missing_to_set": 0, "moved": 1, "not_a_date": 0,
            "moved_to_another_fiscal_year": 1,
            # March 1 -> November 15: 31+30+31+30+31+31+30+31 days to November 1, then 14
            "shift_days": {"min": 259, "median": 259, "max": 259,
                           "bins": {**SHIFT_NONE["bins"], "31 days to a year later": 1}}}},
    },
    APPL: {
        "key": "IDNPROCEEDINGAPPLN",
        "old": {"rows_read": 9, "compared": 8, "set_aside": {"missing or invalid key": 1}},
        "new": {"rows_read": 8, "compared": 8, "set_aside": {}},
        "unchanged": 3, "vanished": 1, "appeared": 1, "changed": 4,
        "changed_by_field": {"APPL_DEC": 4},
        "dates": {},
    },
}
# (table, court, fiscal year): (vanished, appeared, changed); vanished rows where OLD had
# them, the others where NEW has them; a case by its latest proceeding (1009: 2018, pending;
# 1001: 2002, pending), an application by its proceeding.
EXPECTED_COUNTS = {
    (CASE, "LOS", "pending"): (0, 0, 1),
    (CASE, "SFR", "pending"): (1, 0, 0),
    (PROC, "LOS", "2019"): (1, 0, 1),       # 2003 vanished, 2005 changed
    (PROC, "LOS", "2020"): (0, 0, 1),       # 2007 moved into FY2020
    (PROC, "LOS", "2021"): (0, 1, 0),       # 2023
    (PROC, "LOS", "pending"): (1, 0, 1),    # 2004 vanished, 2006 changed
    (PROC, "SFR", "2021"): (0, 1, 0),       # 2021
    (PROC, "SFR", "pending"): (0, 1, 0),    # 2022
    (APPL, "LOS", "2019"): (1, 0, 3),       # 3002 (on 2003); 3001, 3003, 3004
    (APPL, "SFR", "2019"): (0, 0, 1),       # 3006 (on 2013)
    (APPL, "SFR", "2021"): (0, 1, 0),       # 3009 (on 2021)
}
EXPECTED_TRANSITIONS = [
    (CASE, "E_28_DATE", None, "FY2019", 1),
    (PROC, "IJ_CODE", "JDP", "ABC", 2),
    (PROC, "COMP_DATE", "FY2019", "FY2020", 1),
    (APPL, "APPL_DEC", "D", "X", 4),
]
EXPECTED_KEYS = {
    (CASE, "1009", "vanished", None), (CASE, "1001", "changed", ("E_28_DATE",)),
    (PROC, "2003", "vanished", None), (PROC, "2004", "vanished", None),
    (PROC, "2021", "appeared", None), (PROC, "2022", "appeared", None),
    (PROC, "2023", "appeared", None),
    (PROC, "2005", "changed", ("IJ_CODE",)), (PROC, "2006", "changed", ("IJ_CODE",)),
    (PROC, "2007", "changed", ("COMP_DATE",)),
    (APPL, "3002", "vanished", None), (APPL, "3009", "appeared", None),
    *((APPL, str(k), "changed", ("APPL_DEC",)) for k in (3001, 3003, 3004, 3006)),
}


def _csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _keys(out: Path) -> set[tuple]:
    frame = pd.read_parquet(out / "changed_keys.parquet")
    assert list(frame.columns) == ["table", "key", "change", "fields"]
    return {(t, k, c, None if f is None else tuple(f))
            for t, k, c, f in frame.itertuples(index=False)}


# ------------------------------------------------------------------------------ releases
def test_the_compared_fields_are_the_ingests_columns():
    plans = {p.name: p for p in RELEASE_PLANS}
    for spec in (eoir.CASE, eoir.PROCEEDING, eoir.APPLICATION):
        names = [names[0].upper() for col, names in spec.columns.items() if col != spec.key]
        extra = ["APPL_RECD_DATE"] if spec is eoir.APPLICATION else []
        assert [f.name for f in plans[spec.name].fields] == names + extra
        # docs/releases.md lists them in its table of what is compared
        row = next(line for line in DOC.splitlines() if line.startswith(f"| `{spec.name}` |"))
        assert [f.strip("`") for f in re.findall(r"`[A-Z0-9_]+`", row.split("|")[3])
                ] == names + extra


def test_every_table_count(diffed):
    out, _ = diffed
    s = summary(out)
    assert s["kind"] == "release" and s["note"] is None and s["tables_not_compared"] == {}
    for table, expected in EXPECTED_TABLES.items():
        got = s["tables"][table]
        assert {k: got[k] for k in expected} == expected, table
        for side in ("old", "new"):  # every row read is compared or set aside
            c = got[side]
            assert c["rows_read"] == c["compared"] + sum(c["set_aside"].values())
        assert got["vanished_share"] == pytest.approx(expected["vanished"]
                                                      / expected["old"]["rows_read"])


def test_counts_by_court_and_fiscal_year(diffed):
    out, _ = diffed
    frame = _csv(out / "counts.csv")
    assert list(frame.columns) == ["table", "court", "fiscal_year", "vanished", "appeared",
                                   "changed"]
    got = {(t, c, y): (int(v), int(a), int(ch)) for t, c, y, v, a, ch
           in frame.itertuples(index=False)}
    assert got == EXPECTED_COUNTS
    assert [(r["table"], r["court"], r["fiscal_year"]) for r in summary(out)["counts"]] == list(
        EXPECTED_COUNTS)
    # the counts add up to each table's totals
    for table, e in EXPECTED_TABLES.items():
        sums = [sum(v[i] for k, v in EXPECTED_COUNTS.items() if k[0] == table) for i in range(3)]
        assert sums == [e["vanished"], e["appeared"], e["changed"]]


def test_transitions(diffed):
    out, _ = diffed
    frame = _csv(out / "transitions.csv")
    assert list(frame.columns) == ["table", "field", "old", "new", "n"]
    got = [(t, f, o or None, n or None, int(k)) for t, f, o, n, k in frame.itertuples(index=False)]
    assert got == EXPECTED_TRANSITIONS
    assert [tuple(r.values()) for r in summary(out)["transitions"]] == EXPECTED_TRANSITIONS


def test_changed_keys(diffed):
    out, _ = diffed
    assert _keys(out) == EXPECTED_KEYS
    # a date written without its time, and a latin-1 code read again, are no change
    assert not {k for k in EXPECTED_KEYS if k[1] in ("2011", "2012")}


def test_verdicts_come_first_and_the_command_prints_them(diffed):
    out, output = diffed
    verdicts = [
        "A_TblCase: 10.00% of rows vanished (above the 0.1% threshold)",
        "A_TblCase: 10.00% of rows changed a used field (above the 0.1% threshold)",
        "B_TblProceeding: 10.00% of rows vanished (above the 0.1% threshold)",
        "B_TblProceeding: 15.00% of rows changed a used field (above the 0.1% threshold)",
        "tbl_Court_Appln: 11.11% of rows vanished (above the 0.1% threshold)",
        "tbl_Court_Appln: 44.44% of rows changed a used field (above the 0.1% threshold)",
    ]
    assert summary(out)["verdicts"] == verdicts
    md = (out / "summary.md").read_text().splitlines()
    assert md[2:8] == [f"- {v}" for v in verdicts]
    assert "| tbl_Court_Appln | APPL_DEC | 'D' | 'X' | 4 |" in md
    for line in verdicts:
        assert line in output
    assert f"wrote {out}/summary.md" in output and "changed_keys.parquet" in output


@pytest.mark.parametrize(("threshold", "expected"), [
    # at 12%: vanished 10% / 10% / 11.11% are within; changed 15% and 44.44% are above
    (0.12, ["A_TblCase: 10.00% of rows vanished and 10.00% changed a used field (within the "
            "12% threshold)",
            "B_TblProceeding: 15.00% of rows changed a used field (above the 12% threshold)",
            "tbl_Court_Appln: 44.44% of rows changed a used field (above the 12% threshold)"]),
    # at 50% nothing is above
    (0.5, ["A_TblCase: 10.00% of rows vanished and 10.00% changed a used field (within the "
           "50% threshold)",
           "B_TblProceeding: 10.00% of rows vanished and 15.00% changed a used field (within "
           "the 50% threshold)",
           "tbl_Court_Appln: 11.11% of rows vanished and 44.44% changed a used field (within "
           "the 50% threshold)"]),
])
def test_threshold_on_both_sides(releases, tmp_path, threshold, expected):
    old, new = releases
    result = diff_releases(old, new, tmp_path / "out", threshold=threshold)
    assert list(result.verdicts) == expected
    assert summary(tmp_path / "out")["tables"][PROC]["above_threshold"] == (
        ["changed"] if threshold == 0.12 else [])


def test_a_zip_release_gives_the_same_counts(releases, diffed, tmp_path):
    old, _ = releases
    new_zip = build(True).write(tmp_path / "new", as_zip=True)
    assert new_zip.suffix == ".zip"
    diff_releases(old, new_zip, tmp_path / "out")
    got, expected = summary(tmp_path / "out"), summary(diffed[0])
    for key in ("tables", "counts", "transitions", "verdicts"):
        assert got[key] == expected[key], key
    assert _keys(tmp_path / "out") == EXPECTED_KEYS


def test_hostile_labels_are_escaped(tmp_path):
    def release(court: str) -> ReleaseBuilder:
        b = ReleaseBuilder()
        c = b.case(idncase=1001)
        b.proceeding(c, idn=2001, court=court, comp="2019-03-01", dec="X")
        return b

    old = release("LOS").write(tmp_path / "old")
    new = release("=1+2|<b>").write(tmp_path / "new")
    diff_releases(old, new, tmp_path / "out")
    assert (_csv(tmp_path / "out" / "transitions.csv").values.tolist()
            == [[PROC, "BASE_CITY_CODE", "LOS", "'=1+2|<b>", "1"]])
    assert _csv(tmp_path / "out" / "counts.csv")["court"].tolist() == ["'=1+2|<b>"]
    md = (tmp_path / "out" / "summary.md").read_text()
    assert "| 'LOS' | '\\=1+2\\|&lt;b&gt;' | 1 |" in md and "<b>" not in md
    assert "| B_TblProceeding | \\=1+2\\|&lt;b&gt; | 2019 | 0 | 0 | 1 |" in md


# ------------------------------------------------------------------------------ --audit
def decisions(rows: list[dict]) -> pd.DataFrame:
    """A decisions table (contract columns) from a few hand-written values per row."""
    base = {"judge_id": "JDP", "court_id": "LOS", "fiscal_year": 2019,
            "decision_date": pd.Timestamp("2019-03-01"), "outcome": "removal",
            "granted": False, "removal_ordered": True, "case_type": "RMV",
            "nationality": "MX", "language": "SP", "custody": "N", "detained": False,
            "represented": False, "asylum_application": False,
            "filed_date": pd.Timestamp("2017-01-10"), "duration_days": 780.0}
    frame = pd.DataFrame([{**base, **r} for r in rows],
                         columns=[c.name for c in DECISION_COLUMNS])
    return coerce_decisions(frame)[0]


def write_audit(folder: Path, table: Path) -> Path:
    """A minimal audit output: results.json whose provenance names ``table``."""
    folder.mkdir(parents=True)
    results = {"provenance": provenance([table], {}, 1, relative_to=folder)}
    (folder / "results.json").write_text(json.dumps(results))
    return folder


@pytest.fixture(scope="module")
def old_decisions(tmp_path_factory) -> Path:
    """The 10 decisions an ingest of OLD holds: the odd proceedings 2001-2019."""
    path = tmp_path_factory.mktemp("tables") / "old.parquet"
    decisions([{"case_id": str(1000 + (k + 1) // 2), "proceeding_id": str(2000 + k),
                "court_id": "LOS" if k <= 10 else "SFR"} for k in range(1, 21, 2)]
              ).to_parquet(path)
    return path


def test_audit_decisions_that_changed(releases, old_decisions, tmp_path):
    old, new = releases
    audit = write_audit(tmp_path / "audit", old_decisions)
    out = tmp_path / "out"
    result = runner.invoke(app, ["diff-releases", str(old), str(new), "--out", str(out),
                                 "--audit", str(audit)])
    assert result.exit_code == 0, result.output
    assert f"{out}/audit_decisions_changed.csv" in result.output
    rows = _csv(out / "audit_decisions_changed.csv").values.tolist()
    assert rows == [
        ["1001", "2001", CASE, "1001", "changed", "E_28_DATE"],
        ["1001", "2001", APPL, "3001", "changed", "APPL_DEC"],
        ["1002", "2003", PROC, "2003", "vanished", ""],
        ["1002", "2003", APPL, "3002", "vanished", ""],
        ["1003", "2005", PROC, "2005", "changed", "IJ_CODE"],
        ["1003", "2005", APPL, "3003", "changed", "APPL_DEC"],
        ["1004", "2007", PROC, "2007", "changed", "COMP_DATE"],
        ["1005", "2009", APPL, "3004", "changed", "APPL_DEC"],
        ["1007", "2013", APPL, "3006", "changed", "APPL_DEC"],
        ["1009", "2017", CASE, "1009", "vanished", ""],
    ]
    got = summary(out)["audit"]
    assert {k: got[k] for k in ("decisions", "found_in_old", "decisions_changed", "by_table")
            } == {"decisions": 10, "found_in_old": 10, "decisions_changed": 7,
                  "by_table": {CASE: 2, PROC: 3, APPL: 5}}
    assert ("7 of its 10 decisions rest on rows that vanished, appeared or changed"
            in (out / "summary.md").read_text())


def test_audit_with_a_table_that_changed_since_is_refused(releases, old_decisions, tmp_path):
    old, new = releases
    table = tmp_path / "table.parquet"
    table.write_bytes(old_decisions.read_bytes())
    audit = write_audit(tmp_path / "audit", table)
    decisions([{"case_id": "1", "proceeding_id": "1"}]).to_parquet(table)  # another table
    result = runner.invoke(app, ["diff-releases", str(old), str(new), "--out",
                                 str(tmp_path / "out"), "--audit", str(audit)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.strip().splitlines() == [
        f"error: {audit / '..' / 'table.parquet'}: its sha256 is {sha256_of(table)}, not the "
        f"{sha256_of(old_decisions)} that {audit / 'results.json'} records: the file changed "
        "since the audit read it; expected the audit's own decisions table"]
    assert not (tmp_path / "out").exists()
    table.unlink()
    with pytest.raises(DiffError, match=r"table.parquet: the decisions table the audit read "
                                        r"\(provenance.inputs of .*results.json\) is missing"):
        diff_releases(old, new, tmp_path / "out", audit=audit)


# ------------------------------------------------------------------------------ decisions tables
@pytest.fixture(scope="module")
def tables(tmp_path_factory) -> tuple[Path, Path]:
    """OLD: decisions 2001-2006. NEW: 2001 as it was; 2002's judge JDP -> ABC; 2003 gone;
    2004 decided 259 days later (FY2020, duration 1039 days); 2005's asylum decision deny ->
    other; 2006 no longer known to be represented; 2007 new (SFR, FY2021); 2008 twice."""
    root = tmp_path_factory.mktemp("tables")
    sfr = {"court_id": "SFR"}
    asylum = {"asylum_application": True, "asylum_decision": "deny"}
    old = [{"case_id": "1", "proceeding_id": "2001"}, {"case_id": "1", "proceeding_id": "2002"},
           {"case_id": "2", "proceeding_id": "2003"}, {"case_id": "2", "proceeding_id": "2004"},
           {"case_id": "3", "proceeding_id": "2005", **sfr, **asylum},
           {"case_id": "3", "proceeding_id": "2006", **sfr}]
    new = [old[0], {**old[1], "judge_id": "ABC"},
           {**old[3], "decision_date": pd.Timestamp("2019-11-15"), "fiscal_year": 2020,
            "duration_days": 1039.0},
           {**old[4], "asylum_decision": "other"}, {**old[5], "represented": None},
           {"case_id": "4", "proceeding_id": "2007", **sfr, "fiscal_year": 2021,
            "decision_date": pd.Timestamp("2020-11-01")},
           {"case_id": "4", "proceeding_id": "2008"}, {"case_id": "4", "proceeding_id": "2008",
                                                       "judge_id": "MRK"}]
    paths = root / "old.parquet", root / "new.parquet"
    decisions(old).to_parquet(paths[0])
    decisions(new).to_parquet(paths[1])
    return paths


def test_decisions_tables_compare_their_decisions(tables, tmp_path):
    old, new = tables
    audit = write_audit(tmp_path / "audit", old)
    out = tmp_path / "out"
    result = runner.invoke(app, ["diff-releases", str(old), str(new), "--out", str(out),
                                 "--audit", str(audit)])
    assert result.exit_code == 0, result.output
    assert f"note: {DECISIONS_NOTE}" in result.output
    s = summary(out)
    assert s["kind"] == "decisions table" and s["note"] == DECISIONS_NOTE
    got = s["tables"]["decisions"]
    assert {k: got[k] for k in ("key", "old", "new", "unchanged", "vanished", "appeared",
                                "changed", "changed_by_field")} == {
        "key": "proceeding_id",
        "old": {"rows_read": 6, "compared": 6, "set_aside": {}},
        "new": {"rows_read": 8, "compared": 6, "set_aside": {"duplicate key": 2}},
        "unchanged": 1, "vanished": 1, "appeared": 1, "changed": 4,
        "changed_by_field": {"judge_id": 1, "fiscal_year": 1, "decision_date": 1,
                             "represented": 1, "asylum_decision": 1, "duration_days": 1}}
    assert got["dates"]["decision_date"]["shift_days"]["median"] == 259
    assert _csv(out / "transitions.csv").values.tolist() == [
        ["decisions", "judge_id", "JDP", "ABC", "1"],
        ["decisions", "fiscal_year", "2019", "2020", "1"],
        ["decisions", "decision_date", "FY2019", "FY2020", "1"],
        ["decisions", "represented", "false", "", "1"],
        ["decisions", "asylum_decision", "deny", "other", "1"],
        ["decisions", "duration_days", "a value", "another value", "1"]]
    assert _csv(out / "counts.csv").values.tolist() == [
        ["decisions", "LOS", "2019", "1", "0", "1"], ["decisions", "LOS", "2020", "0", "0", "1"],
        ["decisions", "SFR", "2019", "0", "0", "2"], ["decisions", "SFR", "2021", "0", "1", "0"]]
    assert _keys(out) == {
        ("decisions", "2003", "vanished", None), ("decisions", "2007", "appeared", None),
        ("decisions", "2002", "changed", ("judge_id",)),
        ("decisions", "2004", "changed", ("fiscal_year", "decision_date", "duration_days")),
        ("decisions", "2005", "changed", ("asylum_decision",)),
        ("decisions", "2006", "changed", ("represented",))}
    assert [r[1] for r in _csv(out / "audit_decisions_changed.csv").values.tolist()] == [
        "2002", "2003", "2004", "2005", "2006"]
    assert s["audit"]["found_in_old"] == 6 and s["audit"]["decisions_changed"] == 5


# ------------------------------------------------------------------------------ mistakes
def test_inputs_of_two_kinds_are_refused(releases, tables, tmp_path):
    old, _ = releases
    with pytest.raises(DiffError, match=rf"OLD {old} is a release and NEW {tables[1]} is a "
                                        r"decisions table: expected two releases"):
        diff_releases(old, tables[1], tmp_path / "out")
    with pytest.raises(DiffError, match=r"NEW .*nothing.parquet: expected a release folder, a "
                                        r"release .zip or an ingested decisions table"):
        diff_releases(tables[0], tmp_path / "nothing.parquet", tmp_path / "out")
    with pytest.raises(DiffError, match=r"--threshold: expected a share between 0 and 1"):
        diff_releases(old, old, tmp_path / "out", threshold=5)


def test_an_output_folder_that_holds_or_sits_in_an_input_is_refused(releases, tmp_path):
    old, new = releases
    with pytest.raises(OutputError, match=r"inside the input folder"):
        diff_releases(old, new, old / "diff")
    with pytest.raises(OutputError, match=r"holds the input"):
        diff_releases(old, new, old.parent)
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match=r"holds other files and no summary.json"):
        diff_releases(old, new, other)
    assert (other / "notes.txt").read_text() == "mine" and not (old / "diff").exists()


def test_an_earlier_output_is_replaced_as_a_whole(releases, tmp_path):
    old, new = releases
    out = tmp_path / "out"
    diff_releases(old, new, out, audit=None)
    (out / "stray.txt").write_text("left by hand")
    diff_releases(old, new, out)
    assert sorted(p.name for p in out.iterdir()) == [
        "changed_keys.parquet", "counts.csv", "summary.json", "summary.md", "transitions.csv"]
    assert not [p for p in tmp_path.iterdir() if ".staging-" in p.name]


def test_a_table_only_one_release_has_is_not_compared(tmp_path):
    def release(with_application: bool) -> Path:
        b = ReleaseBuilder()
        c = b.case(idncase=1001)
        p = b.proceeding(c, idn=2001, comp="2019-03-01", dec="X")
        if with_application:
            b.application(p, "ASYL", "G", idn=3001)
        return b.write(tmp_path / ("old" if with_application else "new"))

    result = diff_releases(release(True), release(False), tmp_path / "out")
    assert [t.table for t in result.tables] == [CASE, PROC]
    assert summary(tmp_path / "out")["tables_not_compared"] == {APPL: "only in OLD"}
    assert "Not compared: tbl_Court_Appln (only in OLD)." in (
        tmp_path / "out" / "summary.md").read_text()
