"""`judges` on a decisions table: TRAC's judge-report rules applied to case rows.

The small table below is counted by hand in the comments; every expected number in the tests is
written out from those counts, not recomputed by the code under test.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from fairness_audit.cli import app
from fairness_audit.errors import NotEstimable, TableError
from fairness_audit.judge_rates import TracRules, percent_1dp, trac_rates
from fairness_audit.judge_tables import _counts, read_trac_csv

runner = CliRunner()

# (judge_id, court_id, fiscal_year, asylum_decision, number of rows)
ROWS = [
    # JA in LOS: FY2018 4 G + 2 D; FY2019 3 G + 3 D + 1 other; FY2020 1 G + 1 D + 1 null
    #   -> counted 8 G + 6 D = 14
    ("JA", "LOS", 2018, "grant", 4), ("JA", "LOS", 2018, "deny", 2),
    ("JA", "LOS", 2019, "grant", 3), ("JA", "LOS", 2019, "deny", 3),
    ("JA", "LOS", 2019, "other", 1),
    ("JA", "LOS", 2020, "grant", 1), ("JA", "LOS", 2020, "deny", 1), ("JA", "LOS", 2020, None, 1),
    # JA also in SFR (a judge in two courts): FY2019 1 G + 2 D = 3
    ("JA", "SFR", 2019, "grant", 1), ("JA", "SFR", 2019, "deny", 2),
    # JB in LOS: FY2017 1 D (outside FY2018-FY2020); FY2018 2 G + 3 D; FY2020 4 D + 1 other
    #   -> in FY2018-FY2020: 2 G + 7 D = 9; over FY2017-FY2020: 2 G + 8 D = 10
    ("JB", "LOS", 2017, "deny", 1),
    ("JB", "LOS", 2018, "grant", 2), ("JB", "LOS", 2018, "deny", 3),
    ("JB", "LOS", 2020, "deny", 4), ("JB", "LOS", 2020, "other", 1),
    # JC in SFR: FY2018 1 G + 1 D; FY2019 5 G + 1 D + 2 null; FY2020 2 G + 2 D -> 8 G + 4 D = 12
    ("JC", "SFR", 2018, "grant", 1), ("JC", "SFR", 2018, "deny", 1),
    ("JC", "SFR", 2019, "grant", 5), ("JC", "SFR", 2019, "deny", 1), ("JC", "SFR", 2019, None, 2),
    ("JC", "SFR", 2020, "grant", 2), ("JC", "SFR", 2020, "deny", 2),
    # rows that cannot be placed: no judge (twice: null and blank), no court, no fiscal year
    (None, "LOS", 2019, "grant", 1), ("  ", "LOS", 2019, "deny", 1),
    ("JB", None, 2019, "deny", 1), ("JC", "SFR", None, "grant", 1),
]
N_ROWS = 48  # 16 JA-LOS + 3 JA-SFR + 11 JB (one in FY2017) + 14 JC + 4 without judge, court or year
LOOKUPS = {"sources": {"court": "tblLookupBaseCity.csv"},
           "court": {"LOS": "LOS ANGELES", "SFR": {"name": "SAN FRANCISCO", "state": "CA"}},
           "nationality": {"MX": "MEXICO"}}


def decisions_frame(rows=ROWS) -> pd.DataFrame:
    flat = [(j, c, fy, dec) for j, c, fy, dec, n in rows for _ in range(n)]
    frame = pd.DataFrame(flat, columns=["judge_id", "court_id", "fiscal_year", "asylum_decision"])
    frame["fiscal_year"] = frame["fiscal_year"].astype("Int64")
    for col in ("judge_id", "court_id", "asylum_decision"):
        frame[col] = frame[col].astype("string")
    frame.insert(0, "case_id", [f"K{i}" for i in range(len(frame))])
    return frame


def write_table(folder: Path, frame: pd.DataFrame | None = None, lookups=LOOKUPS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "court.parquet"
    (decisions_frame() if frame is None else frame).to_parquet(path, index=False)
    if lookups is not None:
        (folder / "court.lookups.json").write_text(json.dumps(lookups))
    return path


def test_the_hand_built_table_has_the_rows_counted_in_its_comments():
    assert len(decisions_frame()) == N_ROWS


def test_trac_rules_with_lowered_thresholds(tmp_path):
    """FY2018-FY2020, 5 decisions per judge x court, 5 per yearly rate: the CLI end to end."""
    table = write_table(tmp_path / "data")
    out = tmp_path / "out"
    result = runner.invoke(app, ["judges", str(table), "--out", str(out), "--from-fy", "2018",
                                 "--to-fy", "2020", "--min-decisions", "5", "--min-yearly", "5"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == sorted([
        "courts.csv", "funnel.png", "judges.csv", "judges_by_year.csv", "summary.json",
        "summary.md", "trac_table.csv"])
    assert f"wrote {out}/summary.md" in result.output
    assert "48 rows read, 38 asylum grants and denials counted" in result.output

    trac = pd.read_csv(out / "trac_table.csv", keep_default_na=False)
    assert list(trac.columns) == ["imm_st", "imm_ct", "judge", "decisions", "per_grants",
                                  "per_denials"]
    # JA-LOS 8/14 = 57.14%, 6/14 = 42.86%; JB-LOS 2/9 = 22.22%, 7/9 = 77.78%;
    # JC-SFR 8/12 = 66.67%, 4/12 = 33.33%; JA-SFR (3 decisions) is hidden
    assert trac.to_dict(orient="records") == [
        {"imm_st": "", "imm_ct": "LOS ANGELES", "judge": "JA", "decisions": 14,
         "per_grants": 57.1, "per_denials": 42.9},
        {"imm_st": "", "imm_ct": "LOS ANGELES", "judge": "JB", "decisions": 9,
         "per_grants": 22.2, "per_denials": 77.8},
        {"imm_st": "CA", "imm_ct": "SAN FRANCISCO", "judge": "JC", "decisions": 12,
         "per_grants": 66.7, "per_denials": 33.3},
    ]

    by_year = pd.read_csv(out / "judges_by_year.csv")
    assert list(by_year.columns) == ["imm_st", "imm_ct", "judge", "fiscal_year", "decisions",
                                     "per_grants", "per_denials", "rate_note"]
    got = [(r.imm_ct, r.judge, r.fiscal_year, r.decisions,
            None if np.isnan(r.per_grants) else r.per_grants,
            None if np.isnan(r.per_denials) else r.per_denials,
            isinstance(r.rate_note, str))
           for r in by_year.itertuples()]
    # years with at least 5 decisions get rates: JA 2018 4/6, 2019 3/6; JB 2018 2/5; JC 2019 5/6
    assert got == [
        ("LOS ANGELES", "JA", 2018, 6, 66.7, 33.3, False),
        ("LOS ANGELES", "JA", 2019, 6, 50.0, 50.0, False),
        ("LOS ANGELES", "JA", 2020, 2, None, None, True),
        ("LOS ANGELES", "JB", 2018, 5, 40.0, 60.0, False),
        ("LOS ANGELES", "JB", 2020, 4, None, None, True),
        ("SAN FRANCISCO", "JC", 2018, 2, None, None, True),
        ("SAN FRANCISCO", "JC", 2019, 6, 83.3, 16.7, False),
        ("SAN FRANCISCO", "JC", 2020, 4, None, None, True),
    ]
    assert set(by_year["rate_note"].dropna()) == {
        "rate not shown: fewer than 5 decisions this year"}

    summary = json.loads((out / "summary.json").read_text())
    assert summary["ledger"] == {
        "rows_read": 48, "kept": 38, "grants": 19, "denials": 19,
        "left_out": {"missing judge_id": 2, "missing court_id": 1, "missing fiscal_year": 1,
                     "outside the period": 1,
                     "asylum_decision null (no asylum application decided)": 3,
                     "asylum_decision other (e.g. abandoned, withdrawn)": 2},
        "judge_courts": {"with_a_decision": 4, "shown": 3,
                         "hidden: fewer than 5 decisions": 1,
                         "decisions_shown": 35, "decisions_hidden": 3},
        "judge_years_of_shown_rows": {"with_a_decision": 8, "rate_shown": 4,
                                      "rate not shown: fewer than 5 decisions": 4},
    }
    assert summary["rules"]["period"] == "FY2018-FY2020"
    assert (summary["rules"]["min_decisions"], summary["rules"]["min_yearly"]) == (5, 5)
    assert "court.lookups.json" in summary["rules"]["court_names"]
    # the analysis runs on the exact counts: 3 rows, 35 decisions, 18 grants (8 + 2 + 8)
    assert (summary["rows"], summary["decisions"], summary["grants"], summary["denials"]) == (
        3, 35, 18, 17)
    assert summary["other_relief"] == 0
    assert summary["count_rule"].startswith("exact counts from the decisions table")
    courts = pd.read_csv(out / "courts.csv").set_index("court")
    # LOS: JA 8 of 14, JB 2 of 9; Pearson chi-square of the 2x2 table
    # = N (ad - bc)^2 / (row and column totals) = 23 (8 x 7 - 6 x 2)^2 / (14 x 9 x 10 x 13)
    assert courts.loc["LOS ANGELES", "chi2"] == pytest.approx(23 * 44 ** 2 / (14 * 9 * 10 * 13))
    assert courts.loc["LOS ANGELES", "rate"] == pytest.approx(10 / 23)
    assert courts.loc["LOS ANGELES", "df"] == 1
    judges = pd.read_csv(out / "judges.csv")
    assert judges[["judge", "court", "grants", "denials"]].values.tolist() == [
        ["JA", "LOS ANGELES", 8, 6], ["JB", "LOS ANGELES", 2, 7], ["JC", "SAN FRANCISCO", 8, 4]]
    md = (out / "summary.md").read_text()
    assert "judgefaq.html" in md and "| left out: outside the period | 1 |" in md

    # the TRAC-layout table reads back through the published-table reader with the same counts
    back = read_trac_csv(out / "trac_table.csv")
    assert back[["judge", "court", "decisions", "grants", "denials"]].values.tolist() == [
        ["JA", "LOS ANGELES", 14, 8, 6], ["JB", "LOS ANGELES", 9, 2, 7],
        ["JC", "SAN FRANCISCO", 12, 8, 4]]


def test_rules_all_shows_every_judge_and_year_over_the_whole_table():
    """`all`: no thresholds; the period defaults to the table's FY2017-FY2020, so JB's FY2017
    denial counts (JB 2 G + 8 D = 10); JA has one row per court."""
    rates = trac_rates(decisions_frame(), rules=TracRules("all"))
    assert rates.period == (2017, 2020)
    assert rates.trac_table[["imm_ct", "judge", "decisions", "per_grants", "per_denials"]
                            ].values.tolist() == [
        ["LOS", "JA", 14, 57.1, 42.9], ["LOS", "JB", 10, 20.0, 80.0],
        ["SFR", "JA", 3, 33.3, 66.7], ["SFR", "JC", 12, 66.7, 33.3]]
    assert rates.trac_table["imm_st"].tolist() == ["", "", "", ""]  # no lookups: codes
    assert rates.ledger["kept"] == 39 and rates.ledger["left_out"]["outside the period"] == 0
    assert len(rates.by_year) == 10  # JA-LOS 3, JB 3 (2017, 2018, 2020), JA-SFR 1, JC 3
    assert rates.by_year["rate_note"].eq("").all()


def test_the_default_thresholds_are_trac_s():
    rules = TracRules()
    assert (rules.rules, rules.min_decisions, rules.min_yearly) == ("trac", 100, 25)
    assert (TracRules("all").min_decisions, TracRules("all").min_yearly) == (0, 0)
    assert TracRules("trac", min_decisions=7).min_decisions == 7


def test_a_court_name_shared_by_two_codes_keeps_the_codes_apart():
    rates = trac_rates(decisions_frame(), rules=TracRules("all"),
                       courts={"LOS": ("SAME", "CA"), "SFR": ("SAME", "")})
    assert rates.trac_table["imm_ct"].tolist() == ["SAME (LOS)", "SAME (LOS)", "SAME (SFR)",
                                                   "SAME (SFR)"]
    assert rates.trac_table["imm_st"].tolist() == ["CA", "CA", "", ""]


def test_the_analysis_uses_exact_counts_not_rounded_percentages():
    """2,001 decisions with 1,001 grants: 50.02% is written as 50.0, which reads back as
    round(2001 x 0.5) = 1000 grants; the consistency table keeps the exact 1,001."""
    frame = pd.DataFrame({"judge_id": "J1", "court_id": "C1", "fiscal_year": 2019,
                          "asylum_decision": ["grant"] * 1001 + ["deny"] * 1000})
    rates = trac_rates(frame, rules=TracRules(min_decisions=0))
    assert rates.trac_table["per_grants"].tolist() == [50.0]
    assert rates.judge_table()[["grants", "denials", "n"]].values.tolist() == [[1001, 1000, 2001]]
    assert _counts(pd.Series([2001]), pd.Series([50.0])).tolist() == [1000]  # the reader's rule


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 60_000), st.integers(0, 60_000))
def test_round_trip_bound(grants, denials):
    """The documented bound: counts rebuilt from the one-decimal percentages equal the exact
    counts below 1,000 decisions, and are within 0.5 + decisions / 2000 otherwise."""
    n = grants + denials
    if n == 0:
        return
    for count in (grants, denials):
        rebuilt = int(_counts(pd.Series([n]), pd.Series(percent_1dp([count], [n])))[0])
        if n < 1000:
            assert rebuilt == count
        assert abs(rebuilt - count) <= 0.5 + n / 2000


def test_percent_rounds_half_up():
    # 1/8 = 12.5% exactly; 1/16 = 6.25% -> 6.3; 3/16 = 18.75% -> 18.8; 2/3 = 66.67% -> 66.7
    assert percent_1dp([1, 1, 3, 2], [8, 16, 16, 3]).tolist() == [12.5, 6.3, 18.8, 66.7]


# ----------------------------------------------------------------------------- errors
def one_line_error(result) -> str:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, result.output
    return lines[0]


def test_default_rules_on_a_small_table_say_why_nothing_is_shown(tmp_path):
    table = write_table(tmp_path / "d")
    line = one_line_error(runner.invoke(app, ["judges", str(table), "--out", str(tmp_path / "o")]))
    assert "no judge x court has at least 100 asylum grants + denials in FY2017-FY2020" in line
    assert "(the most is 14)" in line and "--min-decisions" in line
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_a_table_without_asylum_decisions_is_not_estimable(tmp_path):
    frame = decisions_frame()
    frame["asylum_decision"] = pd.array([None] * len(frame), dtype="string")
    table = write_table(tmp_path / "d", frame)
    line = one_line_error(runner.invoke(app, ["judges", str(table), "--out", str(tmp_path / "o")]))
    assert "not estimable: asylum_decision" in line
    assert "null in all 48 rows" in line and "TRAC's rules" in line
    with pytest.raises(NotEstimable):
        trac_rates(frame)


@pytest.mark.parametrize(("args", "edit", "needles"), [
    (["--from-fy", "2020", "--to-fy", "2018"], None, ["--from-fy 2020 is after --to-fy 2018"]),
    (["--from-fy", "2030"], None, ["period FY2030-FY2020 is empty", "FY2017-FY2020"]),
    (["--rules", "tracc"], None, ["--rules 'tracc' is not known", "['trac', 'all']"]),
    (["--min-yearly", "-1"], None, ["--min-yearly must be 0 or more", "found -1"]),
    ([], lambda f: f.drop(columns="asylum_decision"), ["court.parquet", "missing ['asylum_decision']"]),
    ([], lambda f: f.assign(asylum_decision=f["asylum_decision"].replace("grant", "granted")),
     ["column 'asylum_decision' must be one of", "'granted'"]),
])
def test_option_and_table_errors_are_one_line(tmp_path, args, edit, needles):
    frame = decisions_frame()
    table = write_table(tmp_path / "d", edit(frame) if edit else frame)
    line = one_line_error(runner.invoke(app, ["judges", str(table), "--out", str(tmp_path / "o"),
                                              *args]))
    for needle in needles:
        assert needle in line, (needle, line)


def test_decisions_only_options_are_refused_for_a_published_table(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("imm_st,imm_ct,judge,decisions,per_grants,per_denials\nA,C,J,100,50,50\n")
    line = one_line_error(runner.invoke(app, ["judges", str(path), "--out", str(tmp_path / "o"),
                                              "--from-fy", "2019", "--rules", "all"]))
    assert "--rules, --from-fy applies to a decisions table (.parquet)" in line


def test_a_broken_lookups_file_is_named(tmp_path):
    table = write_table(tmp_path / "d", lookups=None)
    (tmp_path / "d" / "court.lookups.json").write_text("{not json")
    line = one_line_error(runner.invoke(app, ["judges", str(table), "--out", str(tmp_path / "o"),
                                              "--rules", "all"]))
    assert "court.lookups.json: expected the table's JSON lookups" in line
    (tmp_path / "d" / "court.lookups.json").write_text(json.dumps({"court": {"LOS": 3}}))
    line = one_line_error(runner.invoke(app, ["judges", str(table), "--out", str(tmp_path / "o"),
                                              "--rules", "all"]))
    assert "court 'LOS': expected a name" in line


def test_the_output_folder_is_replaced_as_a_whole_and_never_a_folder_of_other_files(tmp_path):
    table = write_table(tmp_path / "d")
    out = tmp_path / "o"
    args = ["judges", str(table), "--out", str(out), "--rules", "all"]
    assert runner.invoke(app, args).exit_code == 0
    # a published table into the same folder: the decisions-only files of the first run go
    csv = tmp_path / "t.csv"
    csv.write_text("imm_st,imm_ct,judge,decisions,per_grants,per_denials\nA,C,J,100,50,50\n"
                   "A,C,K,100,20,80\n")
    assert runner.invoke(app, ["judges", str(csv), "--out", str(out)]).exit_code == 0
    assert not (out / "trac_table.csv").exists() and (out / "summary.json").exists()
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    line = one_line_error(runner.invoke(app, ["judges", str(table), "--out", str(other)]))
    assert "the folder holds ['notes.txt'], which this command does not write" in line
    assert (other / "notes.txt").read_text() == "mine"
    (out / "trac").mkdir()  # an earlier output with a folder put inside it is not replaced
    line = one_line_error(runner.invoke(app, ["judges", str(csv), "--out", str(out)]))
    assert "holds ['trac']" in line and (out / "summary.json").exists()
    line = one_line_error(runner.invoke(app, ["judges", str(table), "--out", str(tmp_path / "d")]))
    assert "holds the input" in line


def test_trac_rates_without_any_countable_row_says_which_reasons():
    frame = decisions_frame([("JA", "LOS", 2019, "other", 2), ("JA", "LOS", 2019, None, 1)])
    with pytest.raises(TableError, match=r"of 3 rows, 1 asylum_decision null .*, 2 asylum_decision other"):
        trac_rates(frame)
