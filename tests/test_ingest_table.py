"""ingest table: published extracts through a column mapping (issue 3, item 4)."""

from __future__ import annotations

import csv
import hashlib
import json
import tempfile
from pathlib import Path

import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from fairness_audit.errors import MappingError, TableError
from fairness_audit.ingest.commands import app
from fairness_audit.ingest.mapping import load_mapping, parse_mapping
from fairness_audit.ingest.table import (
    ingest_table,
    normalise_name,
    read_source,
    stable_code,
)
from fairness_audit.ledger import Ledger
from fairness_audit.schema import validate_decisions
from fairness_audit.tables import read_decision_data

ROOT = Path(__file__).resolve().parents[1]
SDUT_MAPPING = ROOT / "configs" / "mappings" / "sdut-asylum-cases.yaml"
SDUT_SAMPLE = ROOT / "tests" / "data" / "sdut_asylum_cases_sample.csv"

# The asylum-cases extract's columns, in the order of its dictionary, after the unnamed
# row-number column that the published file starts with.
SDUT_COLUMNS = [
    "", "JUDGE_NAME", "IDNCASE", "IDNPROCEEDING", "CUSTODY", "DECISION", "COMP_FISCAL_YEAR",
    "LAST_DECISION", "BASE_CITY", "REPRESENTED", "CIRCUIT_COURT", "STATE", "NATIONALITY",
    "ORDERED_DEPORTED", "RELIEF_GRANTED", "VOLUNTARY_DEPARTURE", "OTHER_OUTCOME", "DETAINED",
    "RELEASED", "NEVER_DETAINED", "ICE_OR_INS",
]
SDUT_DECISIONS = {
    "removal": "Remove", "grant": "Relief granted", "voluntary_departure": "Voluntary departure",
    "termination": "Termination",
}


def sha_code(prefix: str, normalised: str) -> str:
    """The documented code, computed here independently of the package."""
    return prefix + hashlib.sha256(normalised.encode("utf-8")).hexdigest()[:12]


def write_sdut_layout(records: list[dict], path: Path) -> None:
    """Write canonical records as the Union-Tribune's asylum-cases.csv would hold them."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(SDUT_COLUMNS)
        for i, r in enumerate(records, start=1):
            decision = r.get("decision_text") or SDUT_DECISIONS[r["outcome"]]
            named = decision in ("Remove", "Relief granted", "Voluntary departure")
            w.writerow([
                i, r["judge"], r["case_id"], r["proceeding_id"], r["custody"], decision,
                r["fiscal_year"], decision, r["court"], "1" if r["represented"] else "0", "9",
                "California", r["nationality"], int(decision == "Remove"),
                int(decision == "Relief granted"), int(decision == "Voluntary departure"),
                int(not named), int(r["custody"] == "D"), int(r["custody"] == "R"),
                int(r["custody"] == "N"), 0,
            ])


def expected_frame(records: list[dict]) -> pd.DataFrame:
    return pd.DataFrame({
        "case_id": [r["case_id"] for r in records],
        "proceeding_id": [r["proceeding_id"] for r in records],
        "judge_id": [sha_code("J", r["judge_norm"]) for r in records],
        "court_id": [sha_code("C", r["court_norm"]) for r in records],
        "fiscal_year": [r["fiscal_year"] for r in records],
        "outcome": [r["outcome"] for r in records],
        "granted": [r["outcome"] == "grant" for r in records],
        "removal_ordered": [r["outcome"] == "removal" for r in records],
        "nationality": [r["nationality"] for r in records],
        "custody": [r["custody"] for r in records],
        "detained": [r["custody"] == "D" for r in records],
        "represented": [r["represented"] for r in records],
    })


def read_out(stem: Path):
    data = read_decision_data(stem)
    set_aside = pd.read_parquet(stem.with_name(stem.stem + ".set_aside.parquet"))
    return data, set_aside


def write_mapping(tmp_path: Path, data: dict, name: str = "mapping.yaml") -> Path:
    p = tmp_path / name
    p.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return p


def sdut_mapping_dict() -> dict:
    return yaml.safe_load(SDUT_MAPPING.read_text())


# ---------------------------------------------------------------------------------------------
# The SDUT mapping on a sample in the extract's layout


JUDGES = [  # (as written in the source, normalised)
    ("Marlowe, Ingrid", "MARLOWE, INGRID"),
    ("  marlowe,   Ingrid ", "MARLOWE, INGRID"),
    ("Brennan, Siobhán", "BRENNAN, SIOBHAN"),
    ("Castillo, Ramón", "CASTILLO, RAMON"),
    ("Okafor, Daniel", "OKAFOR, DANIEL"),
]
COURTS = [("SAN DIEGO", "SAN DIEGO"), ("San José", "SAN JOSE"), ("NEW YORK CITY", "NEW YORK CITY")]

record = st.fixed_dictionaries({
    "judge_pair": st.sampled_from(JUDGES),
    "court_pair": st.sampled_from(COURTS),
    "case_id": st.integers(1_000_000, 9_999_999).map(str),
    "fiscal_year": st.integers(2009, 2018),
    "outcome": st.sampled_from(sorted(SDUT_DECISIONS)),
    "custody": st.sampled_from(["D", "R", "N"]),
    "represented": st.booleans(),
    "nationality": st.sampled_from(["MEXICO", "GUATEMALA", "CHINA", "EL SALVADOR", "CÔTE D'IVOIRE"]),
})


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(record, min_size=1, max_size=30))
def test_sdut_mapping_round_trips_a_sample_in_the_extract_layout(records):
    for i, r in enumerate(records):
        r["proceeding_id"] = str(20_000_000 + i)
        r["judge"], r["judge_norm"] = r.pop("judge_pair")
        r["court"], r["court_norm"] = r.pop("court_pair")
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "asylum-cases.csv"
        write_sdut_layout(records, src)
        result = ingest_table(src, SDUT_MAPPING, Path(tmp) / "out" / "sdut.parquet")
        data = read_decision_data(result.paths.decisions)
    got = data.decisions
    assert validate_decisions(got) == []
    want = expected_frame(records)
    for column in want.columns:
        assert got[column].tolist() == want[column].tolist(), column
    missing = ["decision_date", "filed_date", "duration_days", "case_type", "language", "gender",
               "juvenile", "asylum_application", "asylum_decision", "n_hearings",
               "n_continuances", "in_absentia", "appealed", "remanded"]
    assert got[missing].isna().all().all()
    assert result.ledger == {"asylum-cases.csv": {
        "rows_read": len(records), "used": len(records), "set_aside": {}, "values_nulled": {}}}


def test_sdut_sample_ledger_adds_up_and_names_every_reason(tmp_path):
    result = ingest_table(SDUT_SAMPLE, SDUT_MAPPING, tmp_path / "sdut.parquet")
    with SDUT_SAMPLE.open(newline="", encoding="utf-8") as fh:
        n_rows = sum(1 for _ in csv.reader(fh)) - 1
    ledger = json.loads((tmp_path / "sdut.ledger.json").read_text())
    assert ledger == result.ledger
    entry = ledger["sdut_asylum_cases_sample.csv"]
    assert entry == {
        "rows_read": n_rows,
        "used": 16,
        "set_aside": {
            "administrative close": 2, "duplicate proceeding_id": 1, "missing court_id": 1,
            "missing judge_id": 1, "missing outcome": 1, "missing proceeding_id": 1,
            "unreadable fiscal_year": 1,
        },
        "values_nulled": {"custody": 1, "represented": 1},
        "values_unlisted": {
            "custody": {"U": 1},
            "outcome": {"Other": 1, "Prosecutorial Discretion - Terminated": 1},
            "represented": {"2": 1},
        },
    }
    Ledger.from_dict(ledger).check()
    assert entry["used"] + sum(entry["set_aside"].values()) == entry["rows_read"] == 24

    data, set_aside = read_out(tmp_path / "sdut.parquet")
    assert len(data.decisions) == entry["used"]
    assert len(set_aside) == sum(entry["set_aside"].values())
    assert set(set_aside["table"]) == {"sdut_asylum_cases_sample.csv"}
    reasons = dict(zip(set_aside["row_number"].tolist(), set_aside["reason"].tolist(), strict=True))
    assert reasons == {
        13: "administrative close", 14: "administrative close", 19: "missing judge_id",
        20: "unreadable fiscal_year", 21: "duplicate proceeding_id", 22: "missing proceeding_id",
        23: "missing court_id", 24: "missing outcome",
    }
    # the source keys travel with the row that was set aside
    row = set_aside.set_index("row_number").loc[21]
    assert (row["case_id"], row["proceeding_id"]) == ("4512873", "8123456")
    assert pd.isna(set_aside.set_index("row_number").loc[22, "proceeding_id"])


def test_sdut_sample_table_is_valid_and_says_what_it_lacks(tmp_path):
    ingest_table(SDUT_SAMPLE, SDUT_MAPPING, tmp_path / "sdut.parquet")
    data, _ = read_out(tmp_path / "sdut.parquet")
    d = data.decisions
    assert validate_decisions(d) == []
    unlisted = d.set_index("proceeding_id").loc[["9300024", "8200004"], "outcome"]
    assert unlisted.tolist() == ["other", "other"]
    nulled = d.set_index("proceeding_id").loc["8200005"]
    assert pd.isna(nulled["custody"]) and pd.isna(nulled["detained"])
    assert d["decision_date"].isna().all()

    meta = data.metadata
    assert meta["source"] == "table"
    assert meta["coverage_start"] is None and meta["coverage_end"] is None
    assert meta["fiscal_years"] == [2009, 2018]
    assert meta["workload"] == "decisions table" and meta["workload_dates"] is None
    assert meta["mapping"] == load_mapping(SDUT_MAPPING).to_dict()
    assert "decision_date" in meta["columns_missing"]
    assert meta["input"]["sha256"] == hashlib.sha256(SDUT_SAMPLE.read_bytes()).hexdigest()
    # the extract's identity by content, in the shape of the EOIR ingest's release entry
    files = [{"table": "extract", "name": SDUT_SAMPLE.name, "size": SDUT_SAMPLE.stat().st_size,
              "sha256": hashlib.sha256(SDUT_SAMPLE.read_bytes()).hexdigest()}]
    canonical = json.dumps({"files": files, "zip": None}, sort_keys=True, separators=(",", ":"))
    assert meta["release"] == {"fingerprint": hashlib.sha256(canonical.encode()).hexdigest(),
                               "zip": None, "files": files, "latest_date": None,
                               "row_counts": None}

    # no dates anywhere: the workload is what there is, merits and administrative completions
    w = data.workload
    assert w["completion_date"].isna().all()
    assert (w["kind"] == "merits").sum() == len(d)
    assert (w["kind"] == "administrative").sum() == 2
    assert w["fiscal_year"].notna().all()


def test_resolved_mapping_reads_back_as_the_same_mapping():
    mapping = load_mapping(SDUT_MAPPING)
    again = parse_mapping(json.loads(json.dumps(mapping.to_dict())), origin=mapping.origin)
    assert again == mapping


# ---------------------------------------------------------------------------------------------
# Names and stable codes


def test_codes_are_stable_hashes_of_the_normalised_name():
    assert normalise_name("  Brennan,\tSiobhán ") == "BRENNAN, SIOBHAN"
    assert stable_code("Brennan, Siobhán", "J") == sha_code("J", "BRENNAN, SIOBHAN")
    assert stable_code("brennan,  siobhan", "J") == stable_code("BRENNAN, SIOBHÁN", "J")
    assert stable_code("San José", "C") == sha_code("C", "SAN JOSE")
    assert stable_code("Brennan, Siobhan", "J") != stable_code("Brennan, Sinead", "J")


def test_names_are_absent_unless_asked_for(tmp_path):
    result = ingest_table(SDUT_SAMPLE, SDUT_MAPPING, tmp_path / "sdut.parquet")
    assert result.names_path is None
    names = ["Marlowe", "MARLOWE", "Okafor", "Brennan", "Castillo", "SAN DIEGO", "HOUSTON"]
    for f in tmp_path.iterdir():
        blob = f.read_bytes()
        for n in names:
            assert n.encode() not in blob, (f.name, n)
    data, _ = read_out(tmp_path / "sdut.parquet")
    assert set(data.decisions["judge_id"]) == {
        sha_code("J", n) for n in
        ("MARLOWE, INGRID", "OKAFOR, DANIEL", "BRENNAN, SIOBHAN", "CASTILLO, RAMON")}
    # spellings that differ only in case, spacing or accents are one judge
    d = data.decisions.set_index("proceeding_id")
    assert d.loc["8123456", "judge_id"] == d.loc["8123458", "judge_id"]  # "MARLOWE,  INGRID"
    assert d.loc["9100011", "judge_id"] == d.loc["9100012", "judge_id"]  # "Brennan, Siobhan"


def test_keep_names_writes_the_names_behind_the_codes(tmp_path):
    result = ingest_table(SDUT_SAMPLE, SDUT_MAPPING, tmp_path / "sdut.parquet", keep_names=True)
    names = pd.read_parquet(result.names_path)
    assert result.metadata["names"] == "sdut.names.parquet"
    brennan = names[names["id"] == sha_code("J", "BRENNAN, SIOBHAN")]
    assert sorted(brennan["name"]) == ["Brennan, Siobhan", "Brennan, Siobhán"]
    assert set(names["kind"]) == {"judge", "court"}
    # a later run without the opt-in leaves no names behind
    ingest_table(SDUT_SAMPLE, SDUT_MAPPING, tmp_path / "sdut.parquet")
    assert not result.names_path.exists()


# ---------------------------------------------------------------------------------------------
# Mapping errors


def test_unmapped_required_column_is_an_error_listing_what_was_found(tmp_path):
    data = sdut_mapping_dict()
    del data["columns"]["judge_id"]
    p = write_mapping(tmp_path, data)
    with pytest.raises(MappingError, match=r"mapping\.yaml: key 'columns': required column\(s\) "
                                           r"'judge_id' are not mapped; found entries for "
                                           r"'case_id', 'proceeding_id', 'court_id'"):
        load_mapping(p)


def test_a_mapped_column_the_file_lacks_is_an_error_listing_the_columns_found(tmp_path):
    data = sdut_mapping_dict()
    data["columns"]["judge_id"]["from"] = "IJ_NAME"
    p = write_mapping(tmp_path, data)
    with pytest.raises(TableError, match=r"sdut_asylum_cases_sample\.csv: mapping 'mapping\.yaml' "
                                         r"maps judge_id from 'IJ_NAME', but the file has no such "
                                         r"column; found columns 'Unnamed: 0', 'JUDGE_NAME', "):
        ingest_table(SDUT_SAMPLE, p, tmp_path / "out.parquet")
    assert not (tmp_path / "out.parquet").exists()


def test_source_columns_match_ignoring_case(tmp_path):
    data = sdut_mapping_dict()
    data["columns"]["judge_id"]["from"] = "judge_name"
    result = ingest_table(SDUT_SAMPLE, write_mapping(tmp_path, data), tmp_path / "out.parquet")
    assert result.ledger["sdut_asylum_cases_sample.csv"]["used"] == 16


@pytest.mark.parametrize(("edit", "message"), [
    (lambda m: m["columns"]["outcome"].update(values=["Remove", "Relief granted"]),
     r"^mapping\.yaml: key 'columns\.outcome\.values': expected a mapping of source value to one "
     r"of grant/removal/voluntary_departure/termination/other, null or \{set_aside: reason\}; "
     r"found a list$"),
    (lambda m: m["columns"]["outcome"]["values"].update(Remove="removed"),
     r"key 'columns\.outcome\.values\.Remove': expected one of grant/removal/.*; found 'removed'"),
    (lambda m: m["columns"]["represented"].update(values={"1": "yes"}),
     r"key 'columns\.represented\.values\.1': expected true or false, null or .*; found 'yes'"),
    (lambda m: m["columns"]["outcome"].update(value_map={}),
     r"key 'columns\.outcome': unknown key\(s\) 'value_map'; expected only from, values, "
     r"unlisted, hash, format"),
    (lambda m: m.update(colums={}),
     r"top level: unknown key\(s\) 'colums'"),
    (lambda m: m["columns"].update(judge_name="JUDGE_NAME"),
     r"key 'columns': unknown column\(s\) 'judge_name'"),
    (lambda m: m["columns"].update(fiscal_year="missing"),
     r"key 'columns\.fiscal_year': fiscal_year cannot be missing .* or 'derived'"),
    (lambda m: m["columns"].update(fiscal_year="derived"),
     r"key 'columns\.fiscal_year': fiscal_year is derived from decision_date, but decision_date "
     r"is missing"),
    (lambda m: m["columns"].update(language="derived"),
     r"key 'columns\.language': expected a source column or 'missing'"),
    (lambda m: m["columns"].update(granted="RELIEF_GRANTED"),
     r"key 'columns\.granted': expected 'derived' \(granted always comes from outcome\)"),
    (lambda m: m["columns"].update(nationality={"from": "NATIONALITY", "hash": True}),
     r"key 'columns\.nationality\.hash': expected no 'hash'"),
    (lambda m: m["columns"].update(custody={"from": "CUSTODY", "unlisted": "keep"}),
     r"key 'columns\.custody\.unlisted': .*'keep' cannot apply"),
    (lambda m: m["columns"].pop("language"),
     r"column\(s\) 'language' are not mapped \(write 'language: missing' if the source lacks it\)"),
    (lambda m: m["read"].update(format="xls"),
     r"key 'read\.format': expected one of csv, parquet, excel or null .*; found 'xls'"),
    (lambda m: m["columns"]["outcome"]["values"].update(
        {"Admin": {"set_aside": "administrative close", "workload": "merits"}}),
     r"key 'columns\.outcome\.values\.Admin\.workload': expected one of administrative or null; "
     r"found 'merits'"),
])
def test_mapping_errors_name_the_key_what_was_expected_and_what_was_found(tmp_path, edit, message):
    data = sdut_mapping_dict()
    edit(data)
    with pytest.raises(MappingError, match=message):
        load_mapping(write_mapping(tmp_path, data))


def test_yaml_keys_that_are_not_text_are_rejected(tmp_path):
    p = tmp_path / "m.yaml"
    text = SDUT_MAPPING.read_text().replace('values: {"1": true, "0": false}',
                                            "values: {yes: true, no: false}")
    p.write_text(text)
    with pytest.raises(MappingError, match=r"m\.yaml: key 'columns\.represented\.values': expected "
                                           r"source values written as text .*; found the key the "
                                           r"boolean true"):
        load_mapping(p)


def test_values_that_differ_only_in_case_are_one_value(tmp_path):
    data = sdut_mapping_dict()
    data["columns"]["outcome"]["values"]["REMOVE"] = "removal"
    with pytest.raises(MappingError, match=r"source values 'Remove' and 'REMOVE' are the same"):
        load_mapping(write_mapping(tmp_path, data))


def test_mapping_file_problems(tmp_path):
    with pytest.raises(MappingError, match=r"nope\.yaml: mapping file not found"):
        load_mapping(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("columns: [\n")
    with pytest.raises(MappingError, match=r"bad\.yaml: expected YAML, could not parse it"):
        load_mapping(bad)
    bad.write_text("- a list\n")
    with pytest.raises(MappingError, match=r"bad\.yaml: expected a mapping with keys name, "
                                           r"description, read, keep_names, columns; found a list"):
        load_mapping(bad)


# ---------------------------------------------------------------------------------------------
# Values: unlisted codes, set-aside reasons


def test_unlisted_codes_can_be_sent_to_a_set_aside_reason(tmp_path):
    data = sdut_mapping_dict()
    data["columns"]["outcome"]["unlisted"] = {"set_aside": "unknown decision"}
    result = ingest_table(SDUT_SAMPLE, write_mapping(tmp_path, data), tmp_path / "o.parquet")
    entry = result.ledger["sdut_asylum_cases_sample.csv"]
    assert entry["set_aside"]["unknown decision"] == 2
    assert entry["used"] == 14
    assert "outcome" not in entry.get("values_unlisted", {})  # set aside, not in the table
    Ledger.from_dict(result.ledger).check()


def test_a_listed_value_can_set_rows_aside_without_entering_the_workload(tmp_path):
    data = sdut_mapping_dict()
    data["columns"]["outcome"]["values"]["Prosecutorial discretion - Admin close"] = {
        "set_aside": "administrative close"}
    result = ingest_table(SDUT_SAMPLE, write_mapping(tmp_path, data), tmp_path / "o.parquet")
    data_out, _ = read_out(tmp_path / "o.parquet")
    assert result.ledger["sdut_asylum_cases_sample.csv"]["set_aside"]["administrative close"] == 2
    assert set(data_out.workload["kind"]) == {"merits"}


# ---------------------------------------------------------------------------------------------
# Sources with dates


def dated_mapping(tmp_path: Path, **overrides) -> Path:
    columns = {
        "case_id": "case", "proceeding_id": "proc", "judge_id": "judge_code",
        "court_id": "court_code", "fiscal_year": "derived",
        "decision_date": {"from": "decided", "format": "%m/%d/%Y"},
        "outcome": {"from": "result", "values": {"X": "removal", "G": "grant", "V":
                                                 "voluntary_departure", "T": "termination",
                                                 "C": {"set_aside": "change of venue",
                                                       "workload": "administrative"}}},
        "case_type": "type", "nationality": "missing", "language": "missing", "gender": "missing",
        "custody": "missing", "detained": "missing", "represented": "missing",
        "juvenile": "missing", "asylum_application": "missing", "asylum_decision": "missing",
        "filed_date": {"from": "filed", "format": "%m/%d/%Y"}, "duration_days": "derived",
        "n_hearings": "hearings", "n_continuances": "continuances", "in_absentia": "missing",
        "appealed": "appealed", "remanded": "remanded",
    }
    columns.update(overrides)
    return write_mapping(tmp_path, {"name": "a dated extract", "columns": columns}, "dated.yaml")


DATED_ROWS = [
    # case, proc, judge, court, decided, result, type, filed, hearings, continuances, appealed, remanded
    ("1", "11", "IJ1", "SDC", "09/30/2018", "X", "RMV", "01/15/2017", "4", "1", "true", "false"),
    ("2", "21", "IJ1", "SDC", "10/01/2018", "G", "RMV", "02/01/2018", "3", "0", "false", ""),
    ("3", "31", "IJ2", "SDC", "10/02/2018", "C", "RMV", "03/01/2018", "1", "0", "", ""),
    ("4", "41", "IJ2", "SDC", "13/45/2018", "X", "RMV", "03/01/2018", "2", "0", "", ""),
    ("5", "51", "IJ2", "SDC", "05/01/2018", "V", "RMV", "06/01/2018", "2", "0", "", ""),
    ("6", "61", "IJ3", "HOU", "11/20/2019", "T", "RMV", "b6", "x", "0", "false", "true"),
    ("7", "71", "IJ3", "HOU", "12/01/2019", "X", "RMV", "01/01/2019", "2", "5", "true", ""),
]


def write_dated(path: Path, rows=DATED_ROWS) -> Path:
    header = ["case", "proc", "judge_code", "court_code", "decided", "result", "type", "filed",
              "hearings", "continuances", "appealed", "remanded"]
    pd.DataFrame(rows, columns=header).to_csv(path, index=False)
    return path


def test_dates_give_fiscal_years_durations_and_the_workload(tmp_path):
    src = write_dated(tmp_path / "dated.csv")
    result = ingest_table(src, dated_mapping(tmp_path), tmp_path / "d.parquet")
    entry = result.ledger["dated.csv"]
    assert entry["set_aside"] == {"change of venue": 1, "decision before filed_date": 1,
                                  "unreadable decision_date": 1}
    # "b6" is a redaction marker: filed_date null; "x" hearings null; 5 continuances > 2 hearings
    # null; a remand on a decision not appealed null
    assert entry["values_nulled"] == {"filed_date": 1, "n_continuances": 1, "n_hearings": 1,
                                      "remanded": 1}
    Ledger.from_dict(result.ledger).check()
    data, set_aside = read_out(tmp_path / "d.parquet")
    d = data.decisions.set_index("proceeding_id")
    assert validate_decisions(data.decisions) == []
    assert d.loc["11", "fiscal_year"] == 2018 and d.loc["21", "fiscal_year"] == 2019
    assert d.loc["11", "duration_days"] == (pd.Timestamp("2018-09-30")
                                            - pd.Timestamp("2017-01-15")).days
    assert pd.isna(d.loc["61", "duration_days"]) and pd.isna(d.loc["61", "filed_date"])
    assert pd.isna(d.loc["61", "remanded"]) and d.loc["11", "remanded"] == False  # noqa: E712
    assert data.metadata["coverage_start"] == "2018-09-30"
    assert data.metadata["coverage_end"] == "2019-12-01"
    assert data.metadata["workload_dates"] == "decision_date"
    w = data.workload
    assert w["completion_date"].notna().all()
    admin = w[w["kind"] == "administrative"]
    assert admin["completion_date"].tolist() == [pd.Timestamp("2018-10-02")]
    assert dict(zip(set_aside["proceeding_id"], set_aside["reason"], strict=True)) == {
        "31": "change of venue", "41": "unreadable decision_date",
        "51": "decision before filed_date"}


def test_a_fiscal_year_that_contradicts_the_date_sets_the_row_aside(tmp_path):
    rows = [r + (fy,) for r, fy in zip(DATED_ROWS[:2], ["2018", "2018"], strict=True)]
    header = ["case", "proc", "judge_code", "court_code", "decided", "result", "type", "filed",
              "hearings", "continuances", "appealed", "remanded", "fy"]
    src = tmp_path / "fy.csv"
    pd.DataFrame(rows, columns=header).to_csv(src, index=False)
    result = ingest_table(src, dated_mapping(tmp_path, fiscal_year="fy"), tmp_path / "f.parquet")
    assert result.ledger["fy.csv"]["set_aside"] == {"fiscal_year disagrees with decision_date": 1}


def test_lines_with_too_many_fields_are_set_aside_with_their_line(tmp_path):
    src = write_dated(tmp_path / "dated.csv", DATED_ROWS[:2])
    lines = src.read_text().splitlines()
    lines.insert(2, "9,91,IJ1,SDC,10/05/2018,X,RMV,01/15/2017,4,1,true,false,stray")
    src.write_text("\n".join(lines) + "\n")
    result = ingest_table(src, dated_mapping(tmp_path), tmp_path / "l.parquet")
    entry = result.ledger["dated.csv"]
    assert entry["rows_read"] == 3 and entry["used"] == 2
    assert entry["set_aside"] == {"unparseable line": 1}
    _, set_aside = read_out(tmp_path / "l.parquet")
    assert set_aside["line"].tolist() == [3]


# ---------------------------------------------------------------------------------------------
# Other file types


def _sample_frame() -> pd.DataFrame:
    return pd.read_csv(SDUT_SAMPLE, dtype=str, keep_default_na=False)


def _decisions_from(tmp_path: Path, src: Path, fmt: str | None = None) -> pd.DataFrame:
    mapping = sdut_mapping_dict()
    mapping["read"]["format"] = fmt
    p = write_mapping(tmp_path, mapping, f"m-{src.suffix[1:]}.yaml")
    out = tmp_path / f"{src.stem}-{src.suffix[1:]}.parquet"
    result = ingest_table(src, p, out)
    Ledger.from_dict(result.ledger).check()
    return read_decision_data(out).decisions


def test_excel_input_gives_the_same_table_as_csv(tmp_path):
    frame = _sample_frame()
    # Excel cells hold numbers as numbers: write the numeric columns as such
    for c in ("IDNCASE", "REPRESENTED", "ORDERED_DEPORTED"):
        frame[c] = pd.to_numeric(frame[c], errors="coerce").astype("Int64")
    xlsx = tmp_path / "asylum-cases.xlsx"
    frame.to_excel(xlsx, index=False, engine="openpyxl")
    want = _decisions_from(tmp_path, SDUT_SAMPLE, "csv")
    got = _decisions_from(tmp_path, xlsx)
    pd.testing.assert_frame_equal(got, want)


def test_parquet_input_with_typed_columns_gives_the_same_table_as_csv(tmp_path):
    frame = _sample_frame()
    frame["IDNCASE"] = frame["IDNCASE"].astype("int64")
    frame["REPRESENTED"] = pd.to_numeric(frame["REPRESENTED"]).astype("float64")  # 1.0, NaN
    frame["COMP_FISCAL_YEAR"] = pd.to_numeric(frame["COMP_FISCAL_YEAR"], errors="coerce")
    pq = tmp_path / "asylum-cases.parquet"
    frame.to_parquet(pq, index=False)
    want = _decisions_from(tmp_path, SDUT_SAMPLE, "csv")
    got = _decisions_from(tmp_path, pq)
    # "FY2017" is not a number in the typed file: that row has no fiscal year there
    pd.testing.assert_frame_equal(got, want)


def test_csv_codes_are_never_coerced(tmp_path):
    src = tmp_path / "codes.csv"
    src.write_text("ID,NAT\n007,NA\n008,\n")
    read = read_source(src, load_mapping(SDUT_MAPPING))
    assert read.frame["ID"].tolist() == ["007", "008"]
    assert read.frame["NAT"].tolist()[0] == "NA" and pd.isna(read.frame["NAT"].tolist()[1])


def test_unknown_suffix_and_missing_file_are_one_line_errors(tmp_path):
    bad = tmp_path / "cases.xls"
    bad.write_bytes(b"\xd0\xcf")
    mapping = sdut_mapping_dict()
    mapping["read"]["format"] = None
    p = write_mapping(tmp_path, mapping)
    with pytest.raises(TableError, match=r"cases\.xls: expected a file ending in .*save as \.xlsx"):
        ingest_table(bad, p, tmp_path / "o.parquet")
    with pytest.raises(TableError, match=r"absent\.csv: extract not found"):
        ingest_table(tmp_path / "absent.csv", p, tmp_path / "o.parquet")


def test_a_wrong_encoding_is_named(tmp_path):
    src = tmp_path / "latin.csv"
    frame = _sample_frame()
    frame.to_csv(src, index=False, encoding="latin-1")
    with pytest.raises(TableError, match=r"latin\.csv: expected text in utf-8, found byte .* set "
                                         r"read\.encoding in the mapping"):
        ingest_table(src, SDUT_MAPPING, tmp_path / "o.parquet")
    mapping = sdut_mapping_dict()
    mapping["read"]["encoding"] = "latin-1"
    got = _decisions_from_mapping(tmp_path, src, mapping)
    assert len(got) == 16


def _decisions_from_mapping(tmp_path: Path, src: Path, mapping: dict) -> pd.DataFrame:
    out = tmp_path / "enc.parquet"
    ingest_table(src, write_mapping(tmp_path, mapping, "enc.yaml"), out)
    return read_decision_data(out).decisions


# ---------------------------------------------------------------------------------------------
# The command


def test_command_writes_the_table_and_exits_0(tmp_path):
    out = tmp_path / "sdut.parquet"
    result = CliRunner().invoke(app, ["table", str(SDUT_SAMPLE), "--mapping", str(SDUT_MAPPING),
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "read 24 rows, used 16, set aside 8" in result.output
    for suffix in (".parquet", ".judge_completions.parquet", ".ledger.json",
                   ".set_aside.parquet"):
        assert (tmp_path / f"sdut{suffix}").exists(), suffix
    assert not (tmp_path / "sdut.names.parquet").exists()
    result = CliRunner().invoke(app, ["table", str(SDUT_SAMPLE), "--mapping", str(SDUT_MAPPING),
                                      "--out", str(out), "--keep-names"])
    assert result.exit_code == 0 and (tmp_path / "sdut.names.parquet").exists()


def test_command_turns_user_mistakes_into_one_line_and_exit_1(tmp_path):
    data = sdut_mapping_dict()
    data["columns"]["outcome"]["values"] = ["Remove"]
    p = write_mapping(tmp_path, data)
    result = CliRunner().invoke(app, ["table", str(SDUT_SAMPLE), "--mapping", str(p),
                                      "--out", str(tmp_path / "o.parquet")])
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)  # not a traceback
    assert result.stderr.startswith("error: mapping.yaml: key 'columns.outcome.values': expected")
    assert len(result.stderr.strip().splitlines()) == 1
    result = CliRunner().invoke(app, ["table", str(SDUT_SAMPLE), "--mapping", str(SDUT_MAPPING),
                                      "--out", str(tmp_path / "o.csv")])
    assert result.exit_code == 1
    assert "expected a path ending in .parquet" in result.stderr


def test_every_option_has_help():
    result = CliRunner().invoke(app, ["table", "--help"])
    assert result.exit_code == 0
    for option in ("--mapping", "--out", "--keep-names"):
        assert option in result.output
    import typer.main

    command = typer.main.get_command(app).commands["table"]  # type: ignore[attr-defined]
    assert all(p.help for p in command.params if p.name != "help")
