"""Regression tables of each hypothesis (LaTeX, Markdown, CSV), the LaTeX escaper, the report's
other tables as CSV, and figures that are byte-identical (PNG and SVG) from one render to the
next (fairness_audit/report/regression_tables.py, report_tables.py, escape.latex, plots.save).

The results below are written by hand, so that every expected cell is worked out here from the
numbers and the rules in docs/tables.md, not read back from the code.
"""

from __future__ import annotations

import copy
import csv
import re
from pathlib import Path

import matplotlib
import pytest

from fairness_audit.report import plots
from fairness_audit.report.escape import latex
from fairness_audit.report.regression_tables import (
    check_latex,
    check_markdown,
    hypothesis_table,
    to_latex,
    to_markdown,
    write_tables,
)
from fairness_audit.report.report_tables import write_report_tables

HOSTILE = "50% & $x_1$ {\\bf}"
HOSTILE_LATEX = r"50\% \& \$x\_1\$ \{\textbackslash{}bf\}"


def _test(tid, role, model, term, scale, estimate, se, n=107042):
    return {"id": tid, "role": role, "model": model, "outcome": "granted", "term": term,
            "scale": scale, "estimate": estimate, "std_error": se, "ci_low": None, "ci_high": None,
            "p_value": 0.01, "p_adjusted": None, "n_obs": n, "concern_sign": -1, "sesoi": 0.05,
            "verdict": "inconclusive", "verdict_reason": "r"}


def _model(name, family, coefficients, fixed_effects, cov_type, n, g, **extra):
    return {"name": name, "family": family, "engine": "e", "formula": "f",
            "fixed_effects": fixed_effects, "cluster": "judge_id", "cov_type": cov_type,
            "small_sample_correction": None, "n_obs": n, "n_clusters": g,
            "sample": {"filter": "in_window", "excluded": {}},
            "coefficients": [{"term": t, "estimate": b, "std_error": s, "statistic": None,
                              "p_value": None, "ci_low": None, "ci_high": None}
                             for t, b, s in coefficients], **extra}


def hand_results() -> dict:
    """One hypothesis, five tests on four models: a primary logit with its placebo term, a
    robustness logit, a linear probability model reported in percentage points (its
    coefficients are probabilities: 0.00229746 is 0.229746 points), and an event study whose
    difference-in-differences lives in the fit NAME.did."""
    fe = ["judge_id", "fiscal_year"]
    quarter = ["judge_id", "court_id^quarter"]
    return {
        "provenance": {"config": {"inference": {"interval_level": 0.95, "adjustment": "holm",
                                                "alpha": 0.1}},
                       "inputs": [], "versions": {}, "seed": 7, "created": "2026-01-01T00:00:00Z"},
        "data": {"ingest": {"decisions": {"rows_read": 120, "used": 100,
                                          "set_aside": {"duplicate key": 15, "bad date": 5},
                                          "values_nulled": {"nationality": 3}}}},
        "hypotheses": [{
            "id": "H2", "title": "Pressure shifts outcomes", "verdict": "inconclusive",
            "verdict_reason": "r",
            "tests": [
                _test("H2.primary", "primary", "H2", "post_policy:quota_shortfall", "log-odds",
                      -0.0758629, 0.0279157),
                _test("H2.placebo", "placebo", "H2", "quota_shortfall", "log-odds", -0.0351466,
                      0.0222591),
                _test("H2.supporting.lpm", "supporting", "H2_lpm", "post_policy:quota_shortfall",
                      "percentage-points", 0.229746, 0.418720),
                _test("H2.robustness.before_covid", "robustness", "H2_before_covid",
                      "post_policy:quota_shortfall", "log-odds", -0.0712, 0.0301),
                _test("H2.supporting.event", "supporting", "H2_event_granted",
                      "post_policy:pre_policy_gap", "percentage-points", 0.0822157, 0.355037),
            ],
            "checks": [{"name": "placebo", "statistic": -1.5, "df": 39, "p_value": 0.12,
                        "passed": True},
                       {"name": "pre-trend", "statistic": 1.37, "df": 7, "p_value": 0.67,
                        "passed": True, "forces_inconclusive": True, "model": "H2_event_granted"}],
        }],
        "models": [
            _model("H2_event_granted", "ols", [("event_time[-8]:pre_policy_gap", 0.00049, 0.00999)],
                   quarter, "CRV3", 109932, 37, analysis="H2_event_granted"),
            _model("H2_event_granted.did", "ols", [("post_policy:pre_policy_gap", 0.000822157,
                                                    0.00355037)],
                   quarter, "CRV3", 102846, 37, analysis="H2_event_granted"),
            _model("H2", "logit", [("quota_shortfall", -0.0351466, 0.0222591),
                                   ("post_policy:quota_shortfall", -0.0758629, 0.0279157),
                                   ("represented", 1.79, 0.0235)], fe, "CRV1", 107042, 40),
            _model("H2_lpm", "ols", [("quota_shortfall", -0.0105733, 0.00321884),
                                     ("post_policy:quota_shortfall", 0.00229746, 0.00418720)],
                   fe, "CRV1", 107042, 40),
            _model("H2_before_covid", "logit", [("quota_shortfall", -0.0402, 0.0250),
                                                ("post_policy:quota_shortfall", -0.0712, 0.0301)],
                   fe, "CRV1", 80000, 40),
        ],
        "disparities": [],
    }


SRC_TESTS = "fmt /hypotheses/0/tests"


# ------------------------------------------------------------------------------ layout
def test_columns_rows_and_cells_follow_the_rules():
    table = to_latex(hypothesis_table(hand_results(), 0))
    lines = table.splitlines()
    # primary model first, then robustness, then supporting in plan order
    assert r"Model & H2 & H2\_before\_covid & H2\_lpm & H2\_event\_granted \\" in lines
    assert r"Role & primary & robustness & supporting & supporting \\" in lines
    assert r"\begin{tabular}{lcccc}" in lines
    expected = [
        # the tested term: each column's own test (the LPM's in points, as tested)
        r"post\_policy:quota\_shortfall & $-$0.0759 & $-$0.0712 & 0.23 &  \\ % src: "
        f"{SRC_TESTS}/0/estimate; {SRC_TESTS}/3/estimate; {SRC_TESTS}/2/estimate; -",
        r" & (0.0279) & (0.0301) & (0.419) &  \\ % src: "
        f"{SRC_TESTS}/0/std_error; {SRC_TESTS}/3/std_error; {SRC_TESTS}/2/std_error; -",
        # the placebo term: the test in H2; the robustness model's coefficient (its tests are
        # its coefficients); blank in the LPM (probability units beside points) and in the
        # event study (no such term)
        r"quota\_shortfall & $-$0.0351 & $-$0.0402 &  &  \\ % src: "
        f"{SRC_TESTS}/1/estimate; fmt /models/4/coefficients/0/estimate; -; -",
        r" & (0.0223) & (0.025) &  &  \\ % src: "
        f"{SRC_TESTS}/1/std_error; fmt /models/4/coefficients/0/std_error; -; -",
        # the event study's term, from the test; its fit is H2_event_granted.did (model 1)
        r"post\_policy:pre\_policy\_gap &  &  &  & 0.0822 \\ % src: -; -; -; "
        f"{SRC_TESTS}/4/estimate",
        r"Observations & 107,042 & 80,000 & 107,042 & 102,846 \\ % src: fmt /models/2/n_obs; "
        "fmt /models/4/n_obs; fmt /models/3/n_obs; fmt /models/1/n_obs",
        r"Clusters & 40 & 40 & 40 & 37 \\ % src: fmt /models/2/n_clusters; "
        "fmt /models/4/n_clusters; fmt /models/3/n_clusters; fmt /models/1/n_clusters",
        r"Fixed effects: judge\_id & yes & yes & yes & yes \\ % src: -; -; -; -",
        r"Fixed effects: fiscal\_year & yes & yes & yes & no \\ % src: -; -; -; -",
        r"Fixed effects: court\_id $\times$ quarter & no & no & no & yes \\ % src: -; -; -; -",
        r"Standard errors & CRV1 & CRV1 & CRV1 & CRV3 \\ % src: -; -; -; -",
        r"Family & logit & logit & ols & ols \\ % src: -; -; -; -",
        r"Scale & log-odds & log-odds & percentage-points & percentage-points \\ % src: -; -; -; -",
    ]
    for line in expected:
        assert line in lines, line
    # notes rendered from the plan: Holm, alpha 0.1, the interval level
    assert "Intervals (95.0\\% level)" in table and "Holm across the primary family" in table
    assert "verdicts at alpha 0.1." in table
    assert check_latex(table, hand_results()) == []


def test_markdown_table_and_its_sources():
    results = hand_results()
    text = to_markdown(hypothesis_table(results, 0))
    assert "| post_policy:quota_shortfall | -0.0759 | -0.0712 | 0.23 |  |" in text
    assert "|  | (0.0279) | (0.0301) | (0.419) |  |" in text
    assert "| Fixed effects: court_id x quarter | no | no | no | yes |" in text
    # the sources comment: row 4 is the first estimate row (after model, outcome and role)
    assert (f"\n4: {SRC_TESTS}/0/estimate; {SRC_TESTS}/3/estimate; {SRC_TESTS}/2/estimate; -\n"
            in text)
    assert "Holm across the primary family, verdicts at alpha 0.1." in text
    assert check_markdown(text, results) == []


def test_csv_holds_full_precision_and_neutralised_labels(tmp_path):
    results = hand_results()
    results["models"][3]["name"] = "=cmd"
    results["hypotheses"][0]["tests"][2]["model"] = "=cmd"
    write_tables(results, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["H2.csv", "H2.md", "H2.tex"]
    with open(tmp_path / "H2.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["row", "statistic", "H2", "H2_before_covid", "'=cmd", "H2_event_granted"]
    by = {(r["row"], r["statistic"]): r for r in rows}
    assert by[("post_policy:quota_shortfall", "estimate")]["H2"] == "-0.0758629"
    assert by[("post_policy:quota_shortfall", "estimate")]["'=cmd"] == "0.229746"
    assert by[("quota_shortfall", "std_error")]["H2_before_covid"] == "0.025"
    assert by[("quota_shortfall", "estimate")]["'=cmd"] == ""
    assert by[("Observations", "n_obs")]["H2_event_granted"] == "102846"
    assert by[("Fixed effects: fiscal_year", "fixed effect fiscal_year")]["H2_event_granted"] == "no"
    assert by[("Scale", "scale")]["'=cmd"] == "percentage-points"


# ------------------------------------------------------------------------------ checks
def test_a_changed_number_is_found_in_latex_and_markdown():
    results = hand_results()
    table = hypothesis_table(results, 0)
    tex, md_text = to_latex(table), to_markdown(table)
    changed = copy.deepcopy(results)
    changed["hypotheses"][0]["tests"][3]["estimate"] = -0.5
    for problems in (check_latex(tex, changed), check_markdown(md_text, changed)):
        assert len(problems) == 1 and "/hypotheses/0/tests/3/estimate" in problems[0], problems
    assert "results.json gives '$-$0.5'" in check_latex(tex, changed)[0]
    changed = copy.deepcopy(results)
    changed["provenance"]["config"]["inference"]["interval_level"] = 0.9
    for problems in (check_latex(tex, changed), check_markdown(md_text, changed)):
        assert len(problems) == 1 and "interval_level" in problems[0], problems
    changed = copy.deepcopy(results)
    del changed["models"][4]
    assert any("/models/4/" in p and "not found" in p for p in check_latex(tex, changed))


def test_a_number_without_a_source_is_found():
    results = hand_results()
    tex = to_latex(hypothesis_table(results, 0))
    unsourced = tex.replace(f"{SRC_TESTS}/0/estimate; ", "-; ", 1)
    problems = check_latex(unsourced, results)
    assert len(problems) == 1 and "'$-$0.0759' names no source" in problems[0], problems
    lines = tex.splitlines()
    where = next(i for i, line in enumerate(lines) if line.startswith("Clusters"))
    lines[where] = lines[where].split(" % src:")[0]
    assert check_latex("\n".join(lines), results) == [
        f"line {where + 1}: the row has no '% src:' comment"]
    md_text = to_markdown(hypothesis_table(results, 0))
    unsourced = md_text.replace(f"4: {SRC_TESTS}/0/estimate; ", "4: -; ", 1)
    problems = check_markdown(unsourced, results)
    assert len(problems) == 1 and "'-0.0759' names no source" in problems[0], problems


# ------------------------------------------------------------------------------ LaTeX
def test_latex_escapes_every_special_character():
    assert latex("& % $ # _ { } ~ ^ \\ < > |") == (
        r"\& \% \$ \# \_ \{ \} \textasciitilde{} \textasciicircum{} \textbackslash{} "
        r"\textless{} \textgreater{} \textbar{}")
    assert latex(HOSTILE) == HOSTILE_LATEX
    assert latex("a\nb\tc") == "a b c"  # a newline would end a comment or a row
    assert latex(None) == "---"
    assert latex("quota_shortfall") == r"quota\_shortfall"


def _structure_problems(tex: str, columns: int) -> list[str]:
    """Balanced braces (escaped ones aside) and, in the tabular, the same number of cells in
    every row, each row ended by \\\\."""
    problems = []
    code = "\n".join(re.split(r"(?<!\\)%", line)[0] for line in tex.splitlines())
    depth = 0
    for i, ch in enumerate(code):
        escaped = i > 0 and code[i - 1] == "\\" and not (i > 1 and code[i - 2] == "\\")
        if ch == "{" and not escaped:
            depth += 1
        elif ch == "}" and not escaped:
            depth -= 1
            if depth < 0:
                problems.append(f"unbalanced }} at {i}")
    if depth:
        problems.append(f"{depth} unclosed braces")
    body = code.split("\\toprule", 1)[1].split("\\end{tabular}", 1)[0]
    for line in body.splitlines():
        line = line.strip()
        if not line or line in (r"\midrule", r"\bottomrule"):
            continue
        if not line.endswith("\\\\"):
            problems.append(f"row not ended: {line}")
        cells = len(re.findall(r"(?<!\\)&", line)) + 1
        expected = 1 if line.startswith(r"\multicolumn") else columns + 1
        if cells != expected:
            problems.append(f"{cells} cells, expected {expected}: {line}")
    return problems


def test_latex_structure_holds_with_hostile_labels(tmp_path):
    results = hand_results()
    assert _structure_problems(to_latex(hypothesis_table(results, 0)), 4) == []
    # labels from the plan and the data pass through latex(): a court name never reaches these
    # tables, but a model, term, fixed effect, outcome or title as hostile as one is escaped
    h = results["hypotheses"][0]
    h["title"] = HOSTILE
    h["tests"][2]["model"] = results["models"][3]["name"] = HOSTILE
    h["tests"][4]["outcome"] = HOSTILE
    results["models"][1]["fixed_effects"] = ["judge_id", HOSTILE]
    for i in (0, 1):
        h["tests"][i]["term"] = HOSTILE if i == 0 else "x\n\\end{tabular}%"
    results["models"][2]["coefficients"][1]["term"] = HOSTILE
    results["models"][2]["coefficients"][0]["term"] = "x\n\\end{tabular}%"
    tex = to_latex(hypothesis_table(results, 0))
    assert HOSTILE not in tex and HOSTILE_LATEX in tex
    assert f"Model & H2 & H2\\_before\\_covid & {HOSTILE_LATEX} & H2\\_event\\_granted \\\\" in tex
    assert tex.count(r"\end{tabular}") == 1 and r"x \textbackslash{}end\{tabular\}\%" in tex
    assert _structure_problems(tex, 4) == []
    assert check_latex(tex, results) == []
    md_text = to_markdown(hypothesis_table(results, 0))
    rows = [line for line in md_text.splitlines() if line.startswith("|")]
    pipes = {len(re.findall(r"(?<!\\)\|", line)) for line in rows}
    assert pipes == {6}, pipes  # 5 columns: no label broke a row
    assert "50% &amp; \\$x_1\\$ {\\\\bf}" in md_text  # md(): x_1 is an identifier
    assert check_markdown(md_text, results) == []
    # a hypothesis id that is a path names a file inside the folder
    h["id"] = "../../H2"
    folder = tmp_path / "tables"
    folder.mkdir()
    written = write_tables(results, folder)
    assert len(written) == 3 and all(p.parent == folder for p in written)
    assert {p for p in tmp_path.rglob("*") if p.is_file()} == set(written)


# ------------------------------------------------------------------------------ other tables
def test_report_tables_as_csv(tmp_path):
    results = hand_results()
    written = write_report_tables(results, tmp_path)
    assert [p.name for p in written] == ["findings.csv", "checks.csv", "ledger.csv"]
    with open(tmp_path / "ledger.csv", newline="") as fh:
        ledger = [tuple(r.values()) for r in csv.DictReader(fh)]
    assert ledger == [("decisions", "rows_read", "", "120"), ("decisions", "used", "", "100"),
                      ("decisions", "set_aside", "duplicate key", "15"),
                      ("decisions", "set_aside", "bad date", "5"),
                      ("decisions", "values_nulled", "nationality", "3")]
    # counts add up: read = used + set aside
    assert 120 == 100 + 15 + 5
    with open(tmp_path / "checks.csv", newline="") as fh:
        checks = list(csv.DictReader(fh))
    assert [c["name"] for c in checks] == ["placebo", "pre-trend"]
    assert checks[0]["df"] == "39" and checks[1]["forces_inconclusive"] == "True"
    assert checks[0]["model"] == "" and checks[1]["model"] == "H2_event_granted"


# ------------------------------------------------------------------------------ figures
def figure_results() -> dict:
    """Enough results for three figures: the forest of tests, group rates, and the heat map of
    missing values (an image: rasterised inside the SVG)."""
    results = hand_results()
    for t in results["hypotheses"][0]["tests"]:
        t["ci_low"], t["ci_high"] = t["estimate"] - 2 * t["std_error"], t["estimate"] + 2 * t["std_error"]
    results["disparities"] = [
        {"outcome": "granted", "dimension": "represented", "group": g, "period": p, "value": v,
         "ci_low": v - 0.05, "ci_high": v + 0.05, "suppressed": False, "reference": "yes"}
        for g, p, v in (("yes", "pre_policy", 0.5), ("no", "pre_policy", 0.2),
                        ("yes", "post_policy", 0.45), ("no", "post_policy", 0.15))]
    results["data"]["quality"] = {
        "columns": [{"column": "nationality", "applies_to": None, "rows": 300, "missing": 12,
                     "share": 0.04}],
        "by_court_year": [{"court_id": c, "fiscal_year": y, "n": 100,
                           "missing": {"nationality": m}} for c, y, m in
                          (("C1", 2019, 3), ("C1", 2020, 0), ("C2", 2019, 9))]}
    return results


def _render(results: dict, folder: Path) -> dict[str, bytes]:
    folder.mkdir()
    plots.tests_forest(results, folder / "tests.png")
    plots.group_rates(results, "granted", "represented", folder / "rates.png")
    plots.missing_heatmap(results, folder / "missing.png")
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_figures_are_png_and_svg_with_identical_bytes_in_two_renders(tmp_path):
    results = figure_results()
    first, second = _render(results, tmp_path / "a"), _render(results, tmp_path / "b")
    assert sorted(first) == ["missing.png", "missing.svg", "rates.png", "rates.svg", "tests.png",
                             "tests.svg"]
    assert first == second
    for name in ("missing.svg", "rates.svg", "tests.svg"):
        svg = first[name].decode()
        assert svg.startswith("<?xml") and "<svg" in svg and "<dc:date>" not in svg
    assert b"<image" in first["missing.svg"]  # the raster inside is stable too
    assert b"Software" not in first["tests.png"]


def test_without_the_fixed_salt_two_svgs_differ(tmp_path, monkeypatch):
    # what the fixed svg.hashsalt buys: matplotlib draws clip-path ids from a random salt
    monkeypatch.setattr(plots, "SVG_SALT", None)
    assert matplotlib.rcParams["svg.hashsalt"] is None
    results = figure_results()
    first, second = _render(results, tmp_path / "a"), _render(results, tmp_path / "b")
    assert first["tests.png"] == second["tests.png"]
    assert first["tests.svg"] != second["tests.svg"]


@pytest.mark.parametrize("name", ["H2.tex", "H2.md", "H2.csv"])
def test_tables_written_twice_are_identical(tmp_path, name):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        write_tables(hand_results(), tmp_path / folder)
    assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
