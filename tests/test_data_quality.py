"""The data-quality appendix (results.json ``data.quality``) and the release's identity
(``data.release``): exact counts on a table whose missing values were placed by hand, the
ingest's facts summarised from a hand-written ledger, the sentences for sources that cannot give
them, the plan's columns checked against the code that reads them, and hostile labels escaped in
every output of the section."""

from __future__ import annotations

import csv
import dataclasses
import json
import re
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from fairness_audit.audit import compute_results, run_audit
from fairness_audit.config import AuditConfig, load_config
from fairness_audit.data_quality import (
    BASE_COLUMNS,
    DERIVED,
    INGEST_FACTS,
    _filter_columns,
    data_quality,
    plan_columns,
    summarise_ingest,
)
from fairness_audit.errors import TableError
from fairness_audit.features import build_frame
from fairness_audit.models.design import SAMPLE_FILTERS
from fairness_audit.report.render import write_report
from fairness_audit.results import SCHEMA_VERSION, validate_results
from fairness_audit.schema import (
    DECISION_COLUMNS,
    OPTIONAL_DECISION_COLUMNS,
    coerce_decisions,
    validate_decisions,
)
from fairness_audit.simulate import SimulationParams, simulate
from fairness_audit.tables import TablePaths, write_decision_data

SCRIPT = "<script>alert(1)</script>"
FORMULA = "=cmd|' /C calc'!A0"
MATH = "$\\frac$"  # mathematics to matplotlib, which fails to parse it


# --------------------------------------------------------------------------- a table by hand
def hand_table(courts=("A", "B", "C")) -> pd.DataFrame:
    """14 decisions in 4 court x year cells (court B has no decision in FY2019), with missing
    values placed by hand (FY2018 is before the policy, FY2019 after it):

    cell       rows  represented  nationality  decision_date  appealed  remanded null & appealed
    A FY2018   4     rows 2, 3    -            -              rows 0-2  row 2
    A FY2019   3     -            -            row 0          -         -
    B FY2018   2     -            rows 0, 1    -              -         -
    C FY2019   5     row 0        -            -              rows 0-2  rows 0, 1
    """
    a, b, c = courts
    cells = [(a, 2018, 4), (a, 2019, 3), (b, 2018, 2), (c, 2019, 5)]
    rows = []
    for court, fy, n in cells:
        for i in range(n):
            date = pd.Timestamp(f"{fy}-03-{10 + i:02d}")
            outcome = "grant" if i % 2 == 0 else "removal"
            rows.append({
                "case_id": f"{court}-{fy}-{i}", "proceeding_id": f"{court}-{fy}-{i}-p",
                "judge_id": f"J{cells.index((court, fy, n)) % 3}", "court_id": court,
                "fiscal_year": fy, "decision_date": date, "outcome": outcome,
                "granted": outcome == "grant", "removal_ordered": outcome == "removal",
                "case_type": "RMV", "nationality": "MX", "language": "SPA", "gender": "F",
                "custody": "R", "detained": False, "represented": True, "juvenile": False,
                "asylum_application": False, "asylum_decision": None,
                "filed_date": date - pd.Timedelta(days=200), "duration_days": 200.0,
                "n_hearings": 2, "n_continuances": 1, "in_absentia": False, "appealed": False,
                "remanded": None,
            })
    df = pd.DataFrame(rows)
    cell = list(zip(df["court_id"], df["fiscal_year"], strict=True))
    at = {key: [i for i, k in enumerate(cell) if k == key] for key in set(cell)}
    df = coerce_decisions(df)[0]
    df.loc[at[(a, 2018)][2:] + at[(c, 2019)][:1], "represented"] = pd.NA
    df.loc[at[(b, 2018)], "nationality"] = pd.NA
    df.loc[at[(a, 2019)][:1], "decision_date"] = pd.NaT
    df.loc[at[(a, 2018)][:3] + at[(c, 2019)][:3], "appealed"] = True
    df.loc[at[(a, 2018)][0], "remanded"] = False
    df.loc[at[(a, 2018)][1], "remanded"] = True
    df.loc[at[(c, 2019)][2], "remanded"] = False
    assert validate_decisions(df) == []
    return df


def workload_of(decisions: pd.DataFrame) -> pd.DataFrame:
    rows = decisions[decisions["decision_date"].notna()]
    return pd.DataFrame({"judge_id": rows["judge_id"], "completion_date": rows["decision_date"],
                         "kind": "merits", "case_type": rows["case_type"]})


# the expected appendix of hand_table, worked out from its docstring
EXPECTED_MISSING = {  # column: (rows it applies to, missing)
    "represented": (14, 3), "nationality": (14, 2), "decision_date": (14, 1), "remanded": (6, 3),
}
EXPECTED_CELLS = [
    {"court_id": "A", "fiscal_year": 2018, "n": 4, "missing": {"represented": 2, "remanded": 1},
     "applicable": {"remanded": 3}},
    {"court_id": "A", "fiscal_year": 2019, "n": 3, "missing": {"decision_date": 1},
     "applicable": {"remanded": 0}},
    {"court_id": "B", "fiscal_year": 2018, "n": 2, "missing": {"nationality": 2},
     "applicable": {"remanded": 0}},
    {"court_id": "C", "fiscal_year": 2019, "n": 5, "missing": {"represented": 1, "remanded": 2},
     "applicable": {"remanded": 3}},
]


def small_plan(**disparities) -> AuditConfig:
    """No model and no analysis; one small group table: the audit runs in a second."""
    base = load_config().to_dict()
    base.update(models={}, analyses={}, hypotheses={})
    base["disparities"].update({"outcomes": ["granted"], "continuous": [], "dimensions": ["court_id"],
                                "intersections": [], "adjusted": False, "bootstrap_replicates": 50,
                                **disparities})
    return AuditConfig.model_validate(base)


def default_columns_plan() -> AuditConfig:
    """small_plan with group tables over every column the hand table has missing values in."""
    return small_plan(dimensions=["court_id", "represented", "nationality"],
                      outcomes=["granted", "remanded"])


# --------------------------------------------------------------------------- exact counts
def test_missing_values_by_column_and_by_court_year_by_hand():
    df = hand_table()
    quality = data_quality(df, default_columns_plan(), ledger={}, metadata={}, excluded={})
    out = quality.to_dict()
    assert out["rows"] == 14
    columns = {c["column"]: c for c in out["columns"]}
    assert set(columns) == set(plan_columns(default_columns_plan()))
    for name, record in columns.items():
        rows, missing = EXPECTED_MISSING.get(name, (14, 0))
        assert (record["rows"], record["missing"]) == (rows, missing), name
        assert record["share"] == pytest.approx(missing / rows)
        assert record["applies_to"] == ("appealed" if name == "remanded" else None)
    assert out["by_court_year"] == EXPECTED_CELLS


def test_a_column_the_plan_does_not_read_is_not_counted():
    df = hand_table()
    quality = data_quality(df, small_plan(), ledger={}, metadata={}, excluded={}).to_dict()
    # the small plan reads the base columns and granted: nationality and represented are not
    # read, and their missing values are not counted
    assert [c["column"] for c in quality["columns"]] == [*BASE_COLUMNS, "granted"]
    assert quality["by_court_year"][1]["missing"] == {"decision_date": 1}
    assert all(set(c["missing"]) <= {"decision_date"} for c in quality["by_court_year"])
    assert "applicable" not in quality["by_court_year"][0]


# --------------------------------------------------------------------------- the plan's columns
def test_default_plan_reads_these_columns():
    # worked out from configs/default.yaml: the models' outcomes, terms, fixed effects and
    # filters, the event studies' outcomes, the group tables' outcomes and dimensions
    assert plan_columns(load_config()) == (
        "judge_id", "court_id", "fiscal_year", "decision_date", "granted", "removal_ordered",
        "case_type", "nationality", "language", "gender", "custody", "detained", "represented",
        "juvenile", "asylum_application", "duration_days", "n_hearings", "n_continuances",
        "in_absentia", "appealed", "remanded")


def test_a_model_term_filter_and_feature_bring_their_columns():
    base = small_plan().to_dict()
    base["models"] = {"M": {"family": "ols", "outcome": "log_duration",
                            "terms": ["post_policy:unrepresented"],
                            "fixed_effects": ["judge_id", "nationality^quarter"],
                            "sample": ["board_decided"]}}
    columns = plan_columns(AuditConfig.model_validate(base))
    assert columns == ("judge_id", "court_id", "fiscal_year", "decision_date", "granted",
                       "nationality", "represented", "duration_days", "appealed", "remanded")


def test_sample_filters_are_read_by_probing_them():
    assert _filter_columns("board_decided") == ["appealed", "remanded"]
    assert _filter_columns("not_in_absentia") == ["in_absentia"]
    assert _filter_columns("in_window") == ["in_window"]
    for name in SAMPLE_FILTERS:  # every filter reads some column
        assert _filter_columns(name), name


@pytest.fixture(scope="module")
def small_court():
    sim = simulate(dataclasses.replace(SimulationParams(), n_courts=2, first_fiscal_year=2016), seed=3)
    df = coerce_decisions(sim.decisions)[0].iloc[::10].reset_index(drop=True)
    # a quarter of the decisions known by fiscal year only: then the year places them
    df.loc[df.index % 4 == 0, "decision_date"] = pd.NaT
    return df, sim.metadata["coverage_start"]


def test_derived_features_read_exactly_the_columns_listed(small_court):
    """DERIVED against build_frame: shuffle one column at a time and see which features move."""
    df, coverage = small_court
    config = load_config()
    base = build_frame(df, None, config, coverage_start=coverage).data
    decision = [c.name for c in DECISION_COLUMNS + OPTIONAL_DECISION_COLUMNS]
    features = [c for c in base.columns if c not in decision]
    assert set(features) <= set(DERIVED), set(features) - set(DERIVED)
    reads: dict[str, set[str]] = {f: set() for f in features}
    rng = np.random.default_rng(0)
    for column in decision:
        shuffled = df.copy()
        shuffled[column] = df[column].to_numpy()[rng.permutation(len(df))]
        data = build_frame(shuffled, None, config, coverage_start=coverage).data
        for f in features:
            if not data[f].equals(base[f]):
                reads[f].add(column)
    assert reads == {f: set(DERIVED[f]) for f in features}


# --------------------------------------------------------------------------- the ingest's facts
LEDGER = {
    "A_TblCase": {"rows_read": 9, "used": 9, "set_aside": {}, "values_nulled": {},
                  "orphans": {"case without a proceeding": 1}},
    "B_TblProceeding": {
        "rows_read": 20, "used": 14, "set_aside": {"pending": 4, "administrative completion": 2},
        "values_nulled": {"osc_date": 3, "custody": 10},
        "orphans": {"proceeding without its case": 2},
        "values_outside_codebook": {"custody": {"X": 3, "Q": 1, "Z": 1, "W": 1, "(other values)": 4},
                                    "absentia": {"?": 7}},
        "impossible_dates": {"osc_date": 3, "comp_date": 1},
        "values_nulled_by_court_year": [
            {"column": "filed_date", "court_id": "A", "fiscal_year": 2019, "n": 2},
            {"column": "filed_date", "court_id": "C", "fiscal_year": 2020, "n": 5},
            {"column": "filed_date", "court_id": "A", "fiscal_year": 2020, "n": 1},
            {"column": "filed_date", "court_id": "B", "fiscal_year": 2019, "n": 2},
            {"column": "custody", "court_id": "B", "fiscal_year": 2019, "n": 10},
        ],
    },
}
SUMMARY = {
    "A_TblCase": {"orphans": {"case without a proceeding": 1}},
    "B_TblProceeding": {
        "orphans": {"proceeding without its case": 2},
        "impossible_dates": {"osc_date": 3, "comp_date": 1},
        "values_outside_codebook": {
            "absentia": {"n": 7, "distinct": 1, "top": [{"value": "?", "n": 7}]},
            # most frequent first, ties by value; "(other values)" counts in n, not in distinct
            "custody": {"n": 10, "distinct": 4, "top": [{"value": "X", "n": 3}, {"value": "Q", "n": 1},
                                                      {"value": "W", "n": 1}]},
        },
        "values_nulled_by_court_year": {
            "custody": {"n": 10, "court_years": 1,
                        "largest": [{"court_id": "B", "fiscal_year": 2019, "n": 10}]},
            "filed_date": {"n": 10, "court_years": 4,
                           "largest": [{"court_id": "C", "fiscal_year": 2020, "n": 5},
                                       {"court_id": "A", "fiscal_year": 2019, "n": 2},
                                       {"court_id": "B", "fiscal_year": 2019, "n": 2}]},
        },
    },
}
RELEASE = {
    "fingerprint": "ab" * 32,
    "zip": {"name": "case_data.zip", "size": 1234, "sha256": "cd" * 32},
    "files": [{"table": "B_TblProceeding", "name": "B_TblProceeding.csv", "size": 99,
               "sha256": "ef" * 32}],
    "latest_date": "2021-09-30",
    "row_counts": {"B_TblProceeding": {"shipped": 20, "read": 20, "excess": 0, "explained_by": 0}},
}
ATTRIBUTION = {"rule": "decided_proceeding", "decisions_attributed_differently": 2}


def test_ledger_facts_summarised():
    assert summarise_ingest(LEDGER) == SUMMARY


def test_nulled_values_without_court_or_year_are_summarised():
    rows = [{"column": "custody", "court_id": None, "fiscal_year": None, "n": 3},
            {"column": "custody", "court_id": "A", "fiscal_year": 2019, "n": 3},
            {"column": "custody", "court_id": None, "fiscal_year": 2019, "n": 1}]
    ledger = {"B_TblProceeding": {"rows_read": 1, "used": 1, "set_aside": {}, "values_nulled": {},
                                  "values_nulled_by_court_year": rows}}
    # ties by court as text: "A" before "None"
    assert summarise_ingest(ledger)["B_TblProceeding"]["values_nulled_by_court_year"] == {
        "custody": {"n": 7, "court_years": 3,
                    "largest": [{"court_id": "A", "fiscal_year": 2019, "n": 3},
                                {"court_id": None, "fiscal_year": None, "n": 3},
                                {"court_id": None, "fiscal_year": 2019, "n": 1}]}}


def test_an_ingested_release_reaches_the_appendix(tmp_path):
    """The EOIR ingest's ledger facts and release entry, as it writes them, pass through the
    audit into results.json (and its schema) and the report."""
    from fairness_audit.ingest.eoir import ingest_eoir, load_options
    from fairness_audit.ingest.fixtures import standard_release
    from fairness_audit.tables import read_metadata

    release, merge = standard_release().write(tmp_path / "release")
    out = tmp_path / "eoir.parquet"
    ingest_eoir(release, out, options=load_options(judge_merge_file=merge))
    paths = TablePaths.from_path(out)
    ledger, metadata = json.loads(paths.ledger.read_text()), read_metadata(out)
    results = compute_results(out, small_plan(dimensions=["represented"]))
    validate_results(results)
    quality = results["data"]["quality"]
    assert quality["source"] == "eoir" and quality["not_available"] == []
    assert quality["ingest"]["decisions_table"] == "B_TblProceeding"
    facts = {key for table in quality["ingest"]["tables"].values() for key in table}
    recorded = {key for entry in ledger.values() for key in entry if key in INGEST_FACTS}
    assert facts == recorded and "orphans" in facts  # the fixture has orphans
    assert results["data"]["release"] == {**metadata["release"],
                                          "judge_attribution": metadata["judge_attribution"]}
    proceeding = ledger["B_TblProceeding"]["set_aside"]
    assert {(r["reason"], r["n"]) for r in quality["removed"]
            if r["stage"] == "ledger: B_TblProceeding"} == set(proceeding.items())
    write_report(results, tmp_path / "report")
    text = (tmp_path / "report" / "report.md").read_text()
    assert f"fingerprint `{metadata['release']['fingerprint']}`" in text


def write_table(tmp_path, df, ledger, metadata, name="court"):
    paths = TablePaths.from_path(tmp_path / "data" / f"{name}.parquet")
    paths.decisions.parent.mkdir(parents=True, exist_ok=True)
    write_decision_data(paths, df, workload_of(df), ledger, metadata)
    return paths


@pytest.fixture(scope="module")
def eoir_audit(tmp_path_factory):
    """The hand table as an EOIR ingest would write it: a ledger with the ingest's facts and a
    release entry in the metadata; audited with a small plan."""
    root = tmp_path_factory.mktemp("eoir")
    metadata = {"source": "eoir", "release": RELEASE, "judge_attribution": ATTRIBUTION}
    paths = write_table(root, hand_table(), LEDGER, metadata)
    out = root / "out"
    return run_audit(paths.decisions, default_columns_plan(), out), out


def test_audit_writes_the_appendix_and_the_release(eoir_audit):
    results, out = eoir_audit
    validate_results(results)
    validate_results(json.loads((out / "results.json").read_text()))
    assert results["schema_version"] == SCHEMA_VERSION == "1.5"
    quality = results["data"]["quality"]
    assert quality["source"] == "eoir" and quality["not_available"] == []
    assert quality["by_court_year"] == EXPECTED_CELLS
    assert quality["ingest"] == {"decisions_table": "B_TblProceeding", "tables": SUMMARY}
    # the ledger itself is in data.ingest once, as written
    assert results["data"]["ingest"] == LEDGER
    assert results["data"]["release"] == {**RELEASE, "judge_attribution": ATTRIBUTION}
    # removed: the decisions' source table first (largest first), then the audit's window
    # (the hand table's dates are all inside it; one row has none) and features
    stages = [(r["stage"], r["reason"], r["n"]) for r in quality["removed"]]
    assert stages[:2] == [("ledger: B_TblProceeding", "pending", 4),
                          ("ledger: B_TblProceeding", "administrative completion", 2)]
    assert ("audit: analysis window", "no decision date", 1) not in stages  # placed by its year
    assert all(s.startswith(("ledger: B_TblProceeding", "audit: ")) for s, _, _ in stages)


def test_report_section_and_files(eoir_audit):
    _, out = eoir_audit
    text = (out / "report.md").read_text()
    # the data part: its ledger, then data quality, before the appendices
    assert text.index("### Data ledger") < text.index("### Data quality") < text.index("## Appendix A")
    section = text[text.index("### Data quality"):text.index("## Appendix A")]
    # the columns with missing values, largest share first: 3/6, 3/14, 2/14, 1/14
    table = [line for line in section.splitlines() if line.startswith("| ")]
    assert table[0] == "| column with missing values | rows | missing | share |"
    assert table[1:5] == ["| remanded (where appealed) | 6 | 3 | 50.0% |",
                          "| represented | 14 | 3 | 21.4% |",
                          "| nationality | 14 | 2 | 14.3% |",
                          "| decision_date | 14 | 1 | 7.1% |"]
    assert "- `B_TblProceeding`: 2 proceeding without its case (orphans)" in section
    assert ("- `B_TblProceeding`: 10 values outside the codebook in custody (4 distinct; most "
            "frequent: X 3, Q 1, W 1)") in section
    assert "- `B_TblProceeding`: 3 impossible dates in osc_date" in section
    assert ("- `B_TblProceeding`: 10 values of filed_date nulled in 4 court x years; most in "
            "C FY2020 (5), A FY2019 (2), B FY2019 (2)") in section
    assert "Not available" not in section
    assert f"fingerprint `{'ab' * 32}`" in section and "2 decisions differently" in section
    assert "| ledger: B_TblProceeding | pending | 4 |" in section
    assert (out / "figures" / "data_quality_missing.png").stat().st_size > 1000
    html = (out / "report.html").read_text()
    assert html.index('<h3 id="data-quality">Data quality</h3>') < html.index('id="appendix-models"')
    # numbers read from results.json are wrapped in spans that name their source (numbers.py)
    plain = re.sub(r"<span data-src=[^>]*>(.*?)</span>", r"\1", html)
    assert "<tr><td>remanded (where appealed)</td><td>6</td><td>3</td><td>50.0%</td></tr>" in plain
    with open(out / "tables" / "data_quality.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    # 4 cells x the 4 columns with missing values
    assert len(rows) == 16
    by_key = {(r["court_id"], r["fiscal_year"], r["column"]): r for r in rows}
    c_remanded = by_key[("C", "2019", "remanded")]
    assert float(c_remanded.pop("share")) == pytest.approx(2 / 3)
    assert c_remanded == {"court_id": "C", "fiscal_year": "2019", "decisions": "5",
                          "column": "remanded", "applies_to": "appealed", "rows": "3", "missing": "2"}
    assert by_key[("A", "2018", "represented")]["share"] == "0.5"
    assert by_key[("B", "2018", "nationality")]["share"] == "1.0"
    assert by_key[("A", "2019", "remanded")]["share"] == ""  # no appealed decision there


def test_a_simulated_source_says_what_it_cannot_give(tmp_path):
    sim = simulate(dataclasses.replace(SimulationParams(), n_courts=2, first_fiscal_year=2016), seed=4)
    paths = write_table(tmp_path, coerce_decisions(sim.decisions)[0], sim.ledger, sim.metadata)
    results = compute_results(paths.decisions, small_plan())
    validate_results(results)
    quality = results["data"]["quality"]
    assert quality["source"] == "simulation" and results["data"]["release"] is None
    assert [s.split(":")[0] for s in quality["not_available"]] == [
        "Orphans", "Values outside the codebook",
        "Values nulled by the ingest, by court and fiscal year", "Impossible dates in raw fields",
        "Release identity (fingerprint, files, row counts)"]
    assert quality["ingest"] == {"decisions_table": "simulated_completions", "tables": {}}
    administrative = sim.ledger["simulated_completions"]["set_aside"]["administrative completion"]
    assert quality["removed"][0] == {"stage": "ledger: simulated_completions",
                                     "reason": "administrative completion", "n": administrative}
    # the small plan reads no feature: only the window's exclusions are listed for the audit
    assert {r["stage"] for r in quality["removed"][1:]} == {"audit: analysis window"}
    assert sum(r["n"] for r in quality["removed"][1:]) == sum(results["data"]["set_aside"].values())
    write_report(results, tmp_path / "report")
    text = (tmp_path / "report" / "report.md").read_text()
    assert "Not available from this source:" in text and "- Orphans: a simulation" in text
    # nothing missing: no figure, and the table's header alone
    assert "No value is missing in these columns." in text
    assert not (tmp_path / "report" / "figures" / "data_quality_missing.png").exists()
    assert (tmp_path / "report" / "tables" / "data_quality.csv").read_text().strip() == \
        "court_id,fiscal_year,decisions,column,applies_to,rows,missing,share"


@pytest.mark.parametrize(("source", "ledger", "metadata", "first_words"), [
    ("table", {"x.csv": {"rows_read": 1, "used": 1, "set_aside": {}, "values_nulled": {}}},
     {"input": {"file": "x.csv"}}, "Orphans: a mapped table"),
    ("eoir", {}, {}, "No ledger was found"),
    ("eoir", {"B_TblProceeding": {"rows_read": 1, "used": 1, "set_aside": {}, "values_nulled": {}}},
     {}, "The ingest that wrote this table recorded neither"),
    (None, {}, {}, "The table's metadata names no known source"),
])
def test_not_available_by_source(source, ledger, metadata, first_words):
    quality = data_quality(hand_table(), small_plan(), ledger=ledger,
                           metadata={"source": source, **metadata}, excluded={})
    assert quality.not_available[0].startswith(first_words)
    if source == "table":
        assert quality.ingest["decisions_table"] == "x.csv"


def test_a_ledger_fact_of_another_shape_is_named():
    ledger = {"B_TblProceeding": {**LEDGER["B_TblProceeding"],
                                  "values_outside_codebook": {"custody": ["X", "Y"]}}}
    with pytest.raises(TableError, match=r"^court.ledger.json: table 'B_TblProceeding', key "
                                         r"'values_outside_codebook'.custody: expected a mapping of "
                                         r"names to counts, found \['X', 'Y'\]$"):
        data_quality(hand_table(), small_plan(), ledger=ledger, metadata={"source": "eoir"},
                     excluded={}, ledger_path="court.ledger.json")


def test_a_release_entry_of_another_shape_is_named(tmp_path):
    paths = write_table(tmp_path, hand_table(), {}, {"source": "eoir", "release": "abc"})
    with pytest.raises(TableError, match=r"court.parquet: metadata key 'release': expected a "
                                         r"mapping, found 'abc'"):
        compute_results(paths.decisions, small_plan())


def test_results_without_the_appendix_still_render(eoir_audit, tmp_path):
    results, _ = eoir_audit
    older = json.loads(json.dumps(results))
    del older["data"]["quality"], older["data"]["release"]
    older["schema_version"] = "1.1"
    validate_results(older)
    write_report(older, tmp_path)
    assert "## Data quality" not in (tmp_path / "report.md").read_text()
    assert not (tmp_path / "tables" / "data_quality.csv").exists()


# --------------------------------------------------------------------------- hostile labels
class _Elements(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text.append(data)


def test_hostile_labels_in_the_section(tmp_path):
    courts = (SCRIPT, FORMULA, MATH)
    ledger = json.loads(json.dumps(LEDGER))
    entry = ledger["B_TblProceeding"]
    entry["values_outside_codebook"]["custody"] = {"<b>x</b>|y": 3, "`z`": 1}
    entry["values_nulled_by_court_year"] = [
        {"column": "filed_date", "court_id": SCRIPT, "fiscal_year": 2019, "n": 4}]
    metadata = {"source": "eoir", "release": {**RELEASE, "zip": {**RELEASE["zip"], "name": "<i>z</i>.zip"}}}
    paths = write_table(tmp_path, hand_table(courts), ledger, metadata)
    out = tmp_path / "run" / "out"
    results = run_audit(paths.decisions, default_columns_plan(), out)
    assert {c["court_id"] for c in results["data"]["quality"]["by_court_year"]} == set(courts)

    text = (out / "report.md").read_text()
    section = text[text.index("### Data quality"):text.index("## Appendix A")]
    assert "<script" not in section and "<b>" not in section and "<i>" not in section
    assert "&lt;b&gt;x&lt;/b&gt;\\|y 3, \\`z\\` 1" in section
    assert "most in &lt;script&gt;alert(1)&lt;/script&gt; FY2019 (4)" in section
    assert "zip &lt;i&gt;z&lt;/i&gt;.zip" in section

    parser = _Elements()
    parser.feed((out / "report.html").read_text())
    assert not {"script", "b", "i"} & set(parser.tags)
    shown = "".join(parser.text)
    assert "<b>x</b>|y 3" in shown and f"most in {SCRIPT} FY2019 (4)" in shown
    assert "zip <i>z</i>.zip" in shown

    with open(out / "tables" / "data_quality.csv", newline="") as fh:
        cells = {row["court_id"] for row in csv.DictReader(fh)}
    assert cells == {SCRIPT, "'" + FORMULA, MATH}
    # the heat map drew the labels as plain text; its file name is the plan's own
    names = sorted(p.name for p in (out / "figures").iterdir())
    assert "data_quality_missing.png" in names
    assert all(re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9._-]*", n) for n in names)
