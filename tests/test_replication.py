"""REPLICATION.md (fairness_audit/report/replication.py): the template's sections, every file of
the output folder listed with the program that writes it, the runtime measured by the command
(never in results.json), instructions whose commands rerun the audit and compare, and labels
from the data escaped."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys

import pytest
import yaml
from typer.testing import CliRunner

from fairness_audit.audit import run_audit
from fairness_audit.cli import app
from fairness_audit.config import load_config
from fairness_audit.report.replication import SECTIONS, file_description, replication_md
from fairness_audit.simulate import SimulationParams, simulate
from fairness_audit.tables import TablePaths, write_decision_data

# two models of one hypothesis (a logit and its linear probability version): the audit takes a
# few seconds and writes every kind of output, a regression table among them
PLAN = {
    "models": {
        "H2": {"family": "logit", "outcome": "granted",
               "terms": ["quota_shortfall", "post_policy:quota_shortfall", "represented"],
               "fixed_effects": ["judge_id", "fiscal_year"], "sample": ["in_window", "has_quota_shortfall"]},
        "H2_lpm": {"family": "ols", "outcome": "granted",
                   "terms": ["quota_shortfall", "post_policy:quota_shortfall", "represented"],
                   "fixed_effects": ["judge_id", "fiscal_year"],
                   "sample": ["in_window", "has_quota_shortfall"]},
    },
    "hypotheses": {"H2": {"tests": [
        {"id": "H2.primary", "role": "primary", "model": "H2", "term": "post_policy:quota_shortfall",
         "concern_sign": -1, "sesoi": 0.05, "sesoi_reason": "a small plan for tests"},
        {"id": "H2.placebo", "role": "placebo", "model": "H2", "term": "quota_shortfall",
         "concern_sign": -1, "sesoi": 0.05, "sesoi_reason": "a small plan for tests"},
        {"id": "H2.supporting.lpm", "role": "supporting", "model": "H2_lpm",
         "term": "post_policy:quota_shortfall", "concern_sign": -1, "sesoi": 1.0,
         "sesoi_reason": "a small plan for tests"}]}},
    "disparities": {"dimensions": ["represented"], "bootstrap_replicates": 50, "adjusted": False},
}


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    root = tmp_path_factory.mktemp("replication")
    sim = simulate(SimulationParams(n_courts=2, judges_per_court=3), seed=5)
    table = root / "court.parquet"
    write_decision_data(TablePaths(table), sim.decisions, sim.workload, sim.ledger, sim.metadata)
    plan = root / "plan.yaml"
    plan.write_text(yaml.safe_dump(PLAN))
    out = root / "out"
    results = run_audit(table, load_config(plan), out)
    return results, out


def _section(text: str, title: str) -> str:
    return text.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def _code_blocks(text: str) -> list[list[str]]:
    """The lines of each fenced code block."""
    return [m.group(2).splitlines() for m in re.finditer(r"^(`{3,})\n(.*?)\n\1$", text, re.S | re.M)]


def test_every_section_of_the_template_in_order(audited):
    _, out = audited
    text = (out / "REPLICATION.md").read_text()
    headings = re.findall(r"^## (.+)$", text, re.M)
    assert headings == list(SECTIONS)
    assert SECTIONS == ("Overview", "Data Availability and Provenance Statements", "Dataset list",
                        "Computational requirements", "Description of programs/code",
                        "Instructions to Replicators", "List of tables and programs", "References")
    for sub in ("### Statement about Rights", "### Summary of Availability",
                "### Details on each Data Source", "### Software Requirements",
                "### Controlled Randomness", "#### Summary time to reproduce",
                "#### Summary of required storage space", "#### Computational Details",
                "### License for Code"):
        assert f"\n{sub}\n" in text, sub


def test_every_file_written_is_listed_with_its_program(audited):
    _, out = audited
    text = (out / "REPLICATION.md").read_text()
    listed = re.findall(r"^\| `([^`]+)` \| (.*?) \| (.*?) \| `fairness-audit audit` \|$",
                        _section(text, "List of tables and programs"), re.M)
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert [name for name, _, _ in listed] == written
    names = set(written)
    # the regression table and an SVG beside every PNG
    assert {"tables/H2.tex", "tables/H2.md", "tables/H2.csv", "tables/checks.csv",
            "tables/ledger.csv", "tables/findings.csv", "REPLICATION.md"} <= names
    pngs = {n[:-4] for n in names if n.startswith("figures/") and n.endswith(".png")}
    assert pngs and pngs == {n[:-4] for n in names if n.startswith("figures/") and n.endswith(".svg")}
    rows = {name: (content, program) for name, content, program in listed}
    assert rows["tables/H2.tex"] == ("regression table of a hypothesis (LaTeX booktabs tabular)",
                                     "fairness_audit/report/regression_tables.py")
    assert rows["tables/H2.csv"][0] == "regression table of a hypothesis (CSV, full precision)"
    assert rows["figures/tests.svg"] == ("estimate and interval of every test, SVG",
                                         "fairness_audit/report/plots.py (tests_forest)")
    assert all(content != "written by the audit" for content, _ in rows.values()), rows
    overview = _section(text, "Overview")
    tables = sum(n.startswith("tables/") for n in names)
    figures = sum(n.startswith("figures/") for n in names)
    assert f"{tables} table files and {figures} figure files" in overview


def test_runtime_and_machine_are_stated_but_not_in_results_json(audited):
    results, out = audited
    text = (out / "REPLICATION.md").read_text()
    requirements = _section(text, "Computational requirements")
    seconds = re.search(r"The command that wrote this folder ran for (\d+) s ", requirements)
    assert seconds and 0 < int(seconds.group(1)) < 600
    assert "- [x] <10 minutes" in requirements and requirements.count("- [x]") == 2  # + the seed
    assert re.search(r"Last run on .+, \d+ CPUs available to the process, [\d.]+ GB of memory",
                     requirements)
    assert f"`{results['provenance']['versions']['pandas']}`" in requirements
    recorded = (out / "results.json").read_text()
    assert json.loads(recorded) == results
    for word in ("REPLICATION", "runtime", "seconds\"", ".svg", "CPUs"):
        assert word not in recorded, word


def test_the_instructions_rerun_the_audit_and_compare(audited, monkeypatch):
    results, out = audited
    text = (out / "REPLICATION.md").read_text()
    blocks = _code_blocks(_section(text, "Instructions to Replicators"))
    steps, compare = blocks[0], blocks[1]
    assert steps[1] == ("fairness-audit audit ../court.parquet --out ../replication "
                        "--config ../replication.plan.yaml")
    # the plan written out from results.json is the plan the audit ran
    subprocess.run([sys.executable, *shlex.split(steps[0])[1:]], cwd=out, check=True)
    assert load_config(out.parent / "replication.plan.yaml").to_dict() == \
        results["provenance"]["config"]
    # the audit command, as written, reproduces every number
    monkeypatch.chdir(out)
    run = CliRunner().invoke(app, shlex.split(steps[1])[1:])
    assert run.exit_code == 0, run.output
    check = [sys.executable, *shlex.split(compare[0])[1:]]
    said = subprocess.run(check, cwd=out, check=True, capture_output=True, text=True).stdout
    assert said.strip() == "identical"
    again = out.parent / "replication" / "results.json"
    changed = json.loads(again.read_text())
    changed["hypotheses"][0]["tests"][0]["estimate"] += 1e-12
    again.write_text(json.dumps(changed))
    said = subprocess.run(check, cwd=out, check=True, capture_output=True, text=True).stdout
    assert said.strip() == "different"


# ------------------------------------------------------------------------------ by hand
def hand_results(**provenance) -> dict:
    return {
        "provenance": {"config": {"window": {"start": "2016-10-01", "end": "2021-10-01"}},
                       "inputs": [{"path": "../data/court.parquet", "sha256": "ab" * 32}],
                       "versions": {"python": "3.11.7", "fairness_audit": "0.1.0", "pandas": "3.1.1"},
                       "seed": 7, "created": "2026-01-01T00:00:00Z", **provenance},
        "data": {"rows_in": 1234, "rows_used": 1000, "source": "eoir",
                 "release": {"fingerprint": "f00d", "zip": {"name": "case_data.zip"}}},
        "hypotheses": [{"id": "H2", "title": "t", "tests": []}],
    }


def test_labels_from_the_data_are_escaped():
    evil_path = "../data/`x` <script>alert(1)</script> | $(rm -rf ~)'.parquet"
    results = hand_results(inputs=[{"path": evil_path, "sha256": "cd" * 32}],
                           source={"kind": "table", "table": evil_path})
    results["data"]["release"]["zip"]["name"] = "<img src=x onerror=alert(1)>|z.zip"
    results["data"]["source"] = "50% & $x_1$ {\\bf}|*y*"
    text = replication_md(results, ["REPLICATION.md", "results.json"])
    # outside code (shown as written by any Markdown renderer) no markup survives
    prose = re.sub(r"(`+).*?\1", "", re.sub(r"^(`{3,})\n.*?\n\1$", "", text, flags=re.S | re.M))
    assert "<script>" not in prose and "<img" not in prose
    assert "zip &lt;img src=x onerror=alert(1)&gt;\\|z.zip" in text
    assert "(source kind 50% &amp; \\$x_1\\$ {\\\\bf}\\|\\*y\\*)" in text
    for line in text.splitlines():
        if line.startswith("| "):  # 4 or 5 columns: a pipe in a label, even in code, is escaped
            assert len(re.findall(r"(?<!\\)\|", line)) in (5, 6), line
    # the command quotes the path for the shell, and its code block's fence outlasts backticks
    steps = _code_blocks(_section(text, "Instructions to Replicators"))[0]
    assert shlex.split(steps[1])[2] == evil_path


def test_runtime_not_measured_when_rendered_again_from_results():
    text = replication_md(hand_results(), ["REPLICATION.md"])
    assert "Not measured: this file was rendered from results.json alone" in text
    assert "Not recorded: the machine is stated only by the command that ran the audit." in text
    assert "EOIR Case Data [dataset]" in text and "Release: fingerprint `f00d`, zip case_data.zip." in text
    assert "TRAC" not in text  # neither the plan nor the source names it


def test_a_run_config_and_a_simulated_source_give_their_commands():
    results = hand_results(config_file={"path": "../../demo.yaml", "sha256": "ef" * 32},
                           source={"kind": "simulate", "options": {"seed": 11, "null": True}})
    text = replication_md(results, ["REPLICATION.md"])
    steps = _code_blocks(_section(text, "Instructions to Replicators"))[0]
    assert steps == ["cp results.json ../results.recorded.json", "fairness-audit run ../../demo.yaml"]
    assert "| `REPLICATION.md` | this file | fairness_audit/report/replication.py | `fairness-audit run` |" \
        in text
    results = hand_results(source={"kind": "simulate", "options": {"seed": 11, "null": True,
                                                                    "decisions": None}})
    steps = _code_blocks(_section(replication_md(results, []), "Instructions to Replicators"))[0]
    assert steps[0] == "fairness-audit simulate --out ../data/court.parquet --seed 11 --null"


def test_file_descriptions():
    names = {"tables/H3.tex", "tables/H3.csv"}
    assert file_description("tables/H3.csv", names)[0] == \
        "regression table of a hypothesis (CSV, full precision)"
    assert file_description("tables/other.csv", names) == ("written by the audit",
                                                            "fairness_audit/report/")
    assert file_description("figures/H1_event_log_duration.svg") == (
        "event study by quarter (H1), SVG", "fairness_audit/report/plots.py (event_study)")
    assert file_description("figures/rates_granted_court_id.png")[0] == \
        "group rates before and after the policy, PNG"
