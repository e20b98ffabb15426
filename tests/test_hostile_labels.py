"""Labels from the data (nationality, court, language, judge codes) that hold HTML, script,
Markdown or spreadsheet formulas come out of every report as plain text: escaped in report.html
and report.md, neutralised in every CSV, never part of a file name or a path outside the output
folder; and a YAML file with a Python object tag is refused, never run."""

from __future__ import annotations

import csv
import dataclasses
import json
import re
from html.parser import HTMLParser

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from fairness_audit.audit import run_audit
from fairness_audit.cli import app
from fairness_audit.config import AuditConfig, load_config
from fairness_audit.errors import ConfigError, MappingError
from fairness_audit.ingest.mapping import load_mapping
from fairness_audit.report.escape import md, md_code, safe_cell, slug
from fairness_audit.report.render import write_report
from fairness_audit.simulate import SimulationParams, simulate
from fairness_audit.tables import TablePaths, write_decision_data

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
# simulated code -> hostile label; each code is a large group, so its disparity cells are shown
NATIONALITY = {"ES": SCRIPT, "GT": IMG, "HO": "a|b", "CH": '=HYPERLINK("http://x")',
               "EC": "**bold**", "BR": "[link](http://x)", "HA": "`x`"}
LANGUAGE = {"MAN": "+1+1", "POR": "@SUM(A1)", "CRE": "-2+3", "FRE": "# heading\nnext line"}
# a '$' pair is mathematics to matplotlib, and \frac without arguments does not parse
COURT = {"C001": "../../etc/passwd", "C002": "$\\frac$"}
JUDGE = {"J0001": "<b>j</b>|x", "J0002": "=cmd|' /C calc'!A0", "J0003": "\t=1+2"}
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _plan() -> AuditConfig:
    """The judge-variance analysis and the disparity tables only, with few replicates: the
    labels reach the tables, the judge figures and the model section, in a few seconds."""
    base = load_config().to_dict()
    base["models"] = {}
    base["analyses"] = {"H6": {**base["analyses"]["H6"], "options": {"bootstrap_replicates": 19}}}
    base["hypotheses"] = {"H6": base["hypotheses"]["H6"]}
    base["disparities"].update(outcomes=["granted"], continuous=["n_hearings"],
                               dimensions=["nationality", "court_id", "language", "judge_id"],
                               bootstrap_replicates=50)
    return AuditConfig.model_validate(base)


@pytest.fixture(scope="module")
def hostile_audit(tmp_path_factory):
    """A simulated 2-court system whose labels are replaced by hostile strings, audited."""
    root = tmp_path_factory.mktemp("hostile")
    sim = simulate(dataclasses.replace(SimulationParams(), n_courts=2), seed=5)
    decisions, workload = sim.decisions.copy(), sim.workload.copy()
    for column, labels in (("nationality", NATIONALITY), ("language", LANGUAGE),
                           ("court_id", COURT), ("judge_id", JUDGE)):
        assert set(labels) <= set(decisions[column]), column  # every hostile label is used
        decisions[column] = decisions[column].replace(labels)
        if column in workload.columns:
            workload[column] = workload[column].replace(labels)
    (root / "data").mkdir()
    paths = TablePaths.from_path(root / "data" / "court.parquet")
    write_decision_data(paths, decisions, workload, sim.ledger, sim.metadata)
    before = {p for p in root.rglob("*")}
    out = root / "run" / "out"
    results = run_audit(paths.decisions, _plan(), out)
    return results, out, root, before


class _Elements(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def _unescaped_pipes(line: str) -> int:
    """Pipes that end a Markdown table cell (a backslash escapes the character after it)."""
    return re.sub(r"\\.", "", line).count("|")


def _md_tables(text: str) -> list[list[str]]:
    tables, current = [], []
    for line in text.splitlines():
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append(current)
            current = []
    return tables + ([current] if current else [])


def test_html_shows_hostile_labels_as_text(hostile_audit):
    results, out, _, _ = hostile_audit
    shown = {r["group"] for r in results["disparities"] if not r["suppressed"] and r["n"]}
    assert {SCRIPT, IMG, "a|b", "$\\frac$", "<b>j</b>|x"} <= shown  # the groups are in the tables
    page = (out / "report.html").read_text()
    parser = _Elements()
    parser.feed(page)
    tags = [tag for tag, _ in parser.tags]
    assert "script" not in tags and "b" not in tags
    images = [attrs for tag, attrs in parser.tags if tag == "img"]
    assert images and all(a["src"].startswith("data:image/png;base64,") for a in images)
    assert not [a for _, attrs in parser.tags for a in attrs if a.startswith("on")]
    text = "".join(parser.text)
    for label in (SCRIPT, IMG, "<b>j</b>|x", '=HYPERLINK("http://x")', "[link](http://x)"):
        assert label in text, label  # shown as written ...
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # ... because it is escaped
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    # each hostile group has its row with numbers in the nationality table
    row = re.search(r"<tr><td>&lt;script&gt;alert\(1\)&lt;/script&gt;</td><td>"
                    r"(?:<span [^>]*>)?([^<]*)(?:</span>)?</td>", page)
    assert row and row.group(1) != "—"


def test_markdown_tables_hold_and_labels_do_not_format(hostile_audit):
    _, out, _, _ = hostile_audit
    text = (out / "report.md").read_text()
    assert "<script" not in text and "<img src=x" not in text and "<b>" not in text
    tables = _md_tables(text)
    assert len(tables) >= 4
    for table in tables:
        columns = _unescaped_pipes(table[0])
        assert all(_unescaped_pipes(row) == columns for row in table), table[0]
    for escaped in ("| &lt;script&gt;alert(1)&lt;/script&gt; |", "| a\\|b |", "| \\*\\*bold\\*\\* |",
                    "| \\[link\\](http://x) |", "| \\`x\\` |", "| \\# heading next line |",
                    "| &lt;b&gt;j&lt;/b&gt;\\|x |", "| \\$\\\\frac\\$ |"):
        assert escaped in text, escaped


def test_csv_cells_cannot_run_and_numbers_stay_numbers(hostile_audit):
    _, out, _, _ = hostile_audit
    written = sorted((out / "tables").glob("*.csv"))
    assert {p.name for p in written} == {"tests.csv", "disparities.csv", "coefficients.csv",
                                         "data_quality.csv", "findings.csv", "checks.csv",
                                         "ledger.csv", "judge_spread.csv", "data_quality_columns.csv",
                                         "data_quality_removed.csv", "H6.csv"}
    cells = []
    for path in written:
        with open(path, newline="") as fh:
            cells += [cell for row in csv.reader(fh) for cell in row]
    for cell in cells:
        if cell.startswith(FORMULA_START):
            float(cell)  # only numbers may start so; a label is prefixed with an apostrophe
    for label in ('=HYPERLINK("http://x")', "+1+1", "@SUM(A1)", "-2+3", "=cmd|' /C calc'!A0",
                  "\t=1+2"):
        assert "'" + label in cells, label
    table = pd.read_csv(out / "tables" / "disparities.csv")
    for column in ("n", "value", "ci_low", "difference"):
        assert pd.api.types.is_numeric_dtype(table[column]), column
    assert (table["difference"] < 0).any()  # negative numbers are written as numbers


def test_no_file_outside_the_output_folder(hostile_audit, tmp_path):
    results, out, root, before = hostile_audit
    new = {p for p in root.rglob("*")} - before
    assert new and all(p == out or out in p.parents or p == out.parent for p in new)
    # names built from plan labels: a dimension, an outcome and a hypothesis id that are paths
    evil = json.loads(json.dumps(results))
    for row in evil["disparities"]:
        row["dimension"] = "../../" + row["dimension"]
        row["outcome"] = "../" + row["outcome"]
    for h in evil["hypotheses"]:
        h["id"] = "../.." + h["id"]
    target = tmp_path / "a" / "b" / "report"
    write_report(evil, target)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert all(target in p.parents for p in files)
    figures = sorted(p.name for p in (target / "figures").iterdir())
    # as many files as the report with the plan's own names: no two names became one file
    assert len(figures) == len(list((out / "figures").iterdir())) >= 4
    assert all(re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9._-]*", name) and ".." not in name
               for name in figures)


def test_judges_command_on_a_hostile_table(tmp_path):
    rows = [("<script>alert(1)</script>", "+1+1", 300, 20.0, 80.0),
            ("<script>alert(1)</script>", "**bold**", 250, 60.0, 40.0),
            ("a|b", "@SUM(A1)", 400, 35.0, 65.0), ("a|b", "-2+3", 350, 45.0, 55.0),
            ('=HYPERLINK("http://x")', "[link](http://x)", 200, 50.0, 50.0),
            ('=HYPERLINK("http://x")', "`x`", 220, 30.0, 70.0)]
    table = pd.DataFrame(rows, columns=["imm_ct", "judge", "decisions", "per_grants", "per_denials"])
    table.insert(0, "imm_st", "X")
    source = tmp_path / "$\\frac$ <i>.csv"  # the title of the funnel plot is the file's name
    table.to_csv(source, index=False)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["judges", str(source), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([source.name, "out"])
    summary = (out / "summary.md").read_text()
    assert "<script" not in summary and "<i>" not in summary
    assert "| &lt;script&gt;alert(1)&lt;/script&gt; |" in summary and "| a\\|b |" in summary
    for md_table in _md_tables(summary):
        columns = _unescaped_pipes(md_table[0])
        assert all(_unescaped_pipes(row) == columns for row in md_table)
    for name in ("judges.csv", "courts.csv"):
        with open(out / name, newline="") as fh:
            cells = [cell for row in csv.reader(fh) for cell in row]
        for cell in cells:
            if cell.startswith(FORMULA_START):
                float(cell)
    judges = pd.read_csv(out / "judges.csv")
    assert {"'+1+1", "'@SUM(A1)", "'-2+3"} <= set(judges["judge"])
    assert "'=HYPERLINK(\"http://x\")" in set(pd.read_csv(out / "courts.csv")["court"])
    assert pd.api.types.is_numeric_dtype(judges["z_within_court"]) and (judges["z_within_court"] < 0).any()


@pytest.mark.parametrize(("value", "expected"), [
    ("a|b", "a\\|b"), ("`x`", "\\`x\\`"), ("**bold**", "\\*\\*bold\\*\\*"),
    ("_x_", "\\_x\\_"), ("quota_shortfall", "quota_shortfall"),
    ("[link](http://x)", "\\[link\\](http://x)"), ("# h", "\\# h"), ("- item", "\\- item"),
    ("1. item", "1\\. item"), ("<b>&", "&lt;b&gt;&amp;"), ("a\r\nb\nc", "a b c"),
    ("back\\slash", "back\\\\slash"), (None, "—"),
])
def test_md_escapes(value, expected):
    assert md(value) == expected


def test_md_code_and_safe_cell():
    assert md_code("a`b") == "``a`b``"
    assert md_code("`x`") == "`` `x` ``"
    assert [safe_cell(v) for v in ("=1", "+1", "-1", "@a", "\tx", "\rx", "ok")] == [
        "'=1", "'+1", "'-1", "'@a", "'\tx", "'\rx", "ok"]
    assert safe_cell(-2.5) == -2.5 and safe_cell(-3) == -3 and safe_cell(None) is None


@given(st.text(max_size=40))
def test_slug_is_a_safe_file_name(name):
    s = slug(name)
    assert re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9._-]*", s) and ".." not in s and len(s) <= 110
    if name and s == name:
        assert re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9._-]*", name)


def test_slug_keeps_safe_names_and_separates_unsafe_ones():
    assert slug("rates_granted_nationality") == "rates_granted_nationality"
    assert slug("a/b") != slug("a_b") and slug("a/b") != slug("a?b")
    assert "/" not in slug("../../etc/passwd") and not slug(".hidden").startswith(".")


@pytest.mark.parametrize(("kind", "text"), [
    ("plan", "alpha: !!python/object/apply:os.system [\"touch {marker}\"]\n"),
    ("mapping", "columns: !!python/object/apply:os.system [\"touch {marker}\"]\n"),
])
def test_yaml_with_python_object_tag_is_refused(tmp_path, kind, text):
    marker = tmp_path / "ran"
    path = tmp_path / f"{kind}.yaml"
    path.write_text(text.format(marker=marker))
    error = ConfigError if kind == "plan" else MappingError
    with pytest.raises(error, match="could not determine a constructor") as info:
        load_config(path) if kind == "plan" else load_mapping(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)
    assert not marker.exists()


def test_cli_refuses_a_plan_with_python_object_tag_in_one_line(tmp_path):
    marker = tmp_path / "ran"
    plan = tmp_path / "plan.yaml"
    plan.write_text(f"alpha: !!python/object/apply:os.system [\"touch {marker}\"]\n")
    data = tmp_path / "court.parquet"
    result = CliRunner().invoke(app, ["audit", str(data), "--out", str(tmp_path / "out"),
                                      "--config", str(plan)])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "python/object" in lines[0]
    assert not marker.exists() and not (tmp_path / "out").exists()
