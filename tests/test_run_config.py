"""``fairness-audit run CONFIG.yaml``: the run config's validation, and whole runs of the three
kinds of source on small inputs (a few seconds each)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from fairness_audit.cli import app
from fairness_audit.config import load_config
from fairness_audit.errors import ConfigError
from fairness_audit.results import validate_results
from fairness_audit.run_config import load_run_config, parse_run_config

ROOT = Path(__file__).resolve().parents[1]
MAPPING = ROOT / "configs" / "mappings" / "sdut-asylum-cases.yaml"
SDUT_SAMPLE = ROOT / "tests" / "data" / "sdut_asylum_cases_sample.csv"
TINY_PLAN = ROOT / "tests" / "data" / "tiny_plan.yaml"  # one model: the audit takes a second
# 2 courts of 2 slow judges: about 5,600 decisions, the smallest court system the tiny plan fits
TINY_SIMULATION = {"n_courts": 2, "judges_per_court": 2, "pace_mean": 200, "pace_sd": 40,
                   "pace_min": 120, "pace_max": 300}
# group rates only: the extract has no dates, so no model of a plan could be fitted to it
EXTRACT_PLAN = {"disparities": {"dimensions": ["represented"], "bootstrap_replicates": 50,
                                "adjusted": False}}
runner = CliRunner()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def error(data, file="conf/run.yaml") -> str:
    with pytest.raises(ConfigError) as info:
        parse_run_config(data, file)
    return str(info.value)


# ------------------------------------------------------------------------------ validation
@pytest.mark.parametrize("data, message", [
    ({"sourc": {"simulate": {}}, "out": "o"},
     "key 'sourc' is not a known option; did you mean 'source'? (expected one of: source, plan, "
     "out); key 'source' is required"),
    ({"source": {"simulate": {}}, "plna": "p.yaml", "out": "o"},
     "key 'plna' is not a known option; did you mean 'plan'? (expected one of: source, plan, out)"),
    ({"source": {"simulat": {}}, "out": "o"},
     "key 'source.simulat' is not a known option; did you mean 'simulate'? (expected one of: "
     "simulate, eoir, table)"),
    ({"source": {"simulate": {"seeed": 1}}, "out": "o"},
     "key 'source.simulate.seeed' is not a known option; did you mean 'seed'? (expected one of: "
     "seed, decisions, null, no_judge_spread, anticipation, config)"),
    ({"source": {"eoir": {"releas": "r.zip"}}, "out": "o"},
     "key 'source.eoir.releas' is not a known option; did you mean 'release'? (expected one of: "
     "release, options, judge_map, case_types, work_dir); key 'source.eoir.release' is required"),
    ({"source": {"eoir": {"release": "r.zip", "options": {"dates": {"lates": None}}}}, "out": "o"},
     "key 'source.eoir.options.dates.lates' is not a known option; did you mean 'latest'? "
     "(expected one of: earliest, latest)"),
    ({"source": {"table": {"file": "x.csv", "mapping": str(MAPPING), "keep_name": True}},
      "out": "o"},
     "key 'source.table.keep_name' is not a known option; did you mean 'keep_names'? (expected "
     "one of: file, mapping, keep_names)"),
])
def test_a_misspelt_key_is_named_with_its_section_and_the_nearest_key(data, message):
    assert error(data) == f"conf/run.yaml: {message}"


def test_a_misspelt_key_of_an_inline_plan_is_named_under_plan():
    message = error({"source": {"simulate": {}}, "plan": {"inference": {"alpah": 0.1}},
                     "out": "o"})
    assert message.startswith("conf/run.yaml: key 'plan.inference.alpah' is not a known option; "
                              "did you mean 'alpha'? (expected one of: alpha, ")


@pytest.mark.parametrize("source, found", [
    ({"simulate": {}, "table": {"file": "x.csv", "mapping": str(MAPPING)}}, "simulate and table"),
    ({}, "none"),
])
def test_a_source_needs_exactly_one_kind(source, found):
    assert error({"source": source, "out": "o"}) == (
        "conf/run.yaml: key 'source': expected exactly one kind of source (simulate, eoir, "
        f"table), found {found}")


def test_wrong_types_name_the_key_what_was_expected_and_what_was_found():
    message = error({"source": {"simulate": {"seed": "abc", "decisions": 0,
                                             "anticipation": "2018-13-01"}},
                     "plan": 5, "out": "o"})
    assert message == (
        "conf/run.yaml: key 'source.simulate.seed': expected a whole number, found 'abc'; "
        "key 'source.simulate.decisions': expected a number greater than 0, found 0; "
        "key 'source.simulate.anticipation': expected a date (YYYY-MM-DD), found '2018-13-01'; "
        "key 'plan': expected a file path or a mapping (the plan), found 5")
    assert error({"source": {"simulate": 3}, "out": "o"}) == (
        "conf/run.yaml: key 'source.simulate': expected a mapping of options, found 3")
    assert error([1, 2]) == "conf/run.yaml: expected a mapping with source, plan and out, found list"


def test_paths_are_read_relative_to_the_config_file(tmp_path):
    folder = tmp_path / "conf"
    folder.mkdir()
    shutil.copy(TINY_PLAN, folder / "plan.yaml")
    (folder / "run.yaml").write_text("source:\n  simulate:\nplan: plan.yaml\nout: ../runs/a\n")
    config = load_run_config(folder / "run.yaml")
    assert config.out == tmp_path / "runs" / "a"
    assert config.table.decisions == tmp_path / "runs" / "a" / "data" / "court.parquet"
    assert config.report == tmp_path / "runs" / "a" / "report"
    assert config.plan_file == folder / "plan.yaml"
    assert config.plan == load_config(TINY_PLAN)
    # "simulate:" with nothing under it: the simulate command's defaults
    assert config.source.simulate.seed == 20181001 and config.source.simulate.null is False
    (folder / "run.yaml").write_text("source: {simulate: }\nplan: other.yaml\nout: o\n")
    with pytest.raises(ConfigError, match=rf"^{folder / 'run.yaml'}: key 'plan': expected a plan "
                                          rf"file, found nothing at {folder / 'other.yaml'}$"):
        load_run_config(folder / "run.yaml")


def test_the_yaml_null_key_is_the_simulate_null_option(tmp_path):
    # YAML reads an unquoted `null:` key as no key at all
    (tmp_path / "run.yaml").write_text("source:\n  simulate:\n    null: true\nout: o\n")
    assert load_run_config(tmp_path / "run.yaml").source.simulate.null is True


def test_the_example_configs_validate():
    demo = load_run_config(ROOT / "configs" / "demo.yaml")
    assert demo.kind == "simulate" and demo.source.simulate.seed == 20181001
    assert demo.out == ROOT / "out" / "demo"
    assert demo.table.decisions == ROOT / "out" / "demo" / "data" / "court.parquet"
    assert demo.plan_file == ROOT / "configs" / "default.yaml" and demo.plan == load_config()
    # the data of these two are not shipped: they validate without them
    eoir = load_run_config(ROOT / "configs" / "eoir.yaml")
    assert eoir.kind == "eoir" and not eoir.path(eoir.source.eoir.release).exists()
    assert eoir.report == ROOT / "out" / "eoir" / "report"
    sdut = load_run_config(ROOT / "configs" / "sdut.yaml")
    assert sdut.kind == "table" and sdut.path(sdut.source.table.mapping) == MAPPING
    assert sdut.report == ROOT / "out" / "sdut" / "report"


def test_make_demo_runs_the_demo_config():
    recipe = (ROOT / "Makefile").read_text().split("\ndemo: ")[1].split("\n\n")[0]
    assert recipe.splitlines()[1:] == ["\t$(BIN)/fairness-audit run configs/demo.yaml"]


# ------------------------------------------------------------------------------ runs
@pytest.fixture(scope="module")
def simulated_run(tmp_path_factory):
    """`fairness-audit run` of a tiny simulation, started from another working folder."""
    root = tmp_path_factory.mktemp("run")
    (root / "conf").mkdir()
    (root / "conf" / "sim.yaml").write_text(yaml.safe_dump(TINY_SIMULATION))
    shutil.copy(TINY_PLAN, root / "conf" / "plan.yaml")
    (root / "conf" / "run.yaml").write_text(
        "source:\n  simulate: {seed: 5, config: sim.yaml}\nplan: plan.yaml\nout: ../runs/tiny\n")
    (root / "elsewhere").mkdir()
    here = os.getcwd()
    os.chdir(root / "elsewhere")
    try:
        result = runner.invoke(app, ["run", "../conf/run.yaml", "--quiet"])
    finally:
        os.chdir(here)
    return root, result


def test_run_writes_the_table_under_data_and_the_report_under_report(simulated_run):
    root, result = simulated_run
    assert result.exit_code == 0, result.output
    out = root / "runs" / "tiny"
    for name in ("court.parquet", "court.judge_completions.parquet", "court.ledger.json",
                 "court.truth.json"):
        assert (out / "data" / name).is_file(), name
    for name in ("results.json", "report.html", "report.md"):
        assert (out / "report" / name).is_file(), name
    # the paths written (as the config names them, from the working folder), then the verdicts
    lines = result.stdout.splitlines()
    report = ["brief.html", "brief.pdf", "report.html", "report.md", "results.json",
              "REPLICATION.md"]
    written = ["wrote ../runs/tiny/data/court.parquet"] + [
        f"wrote ../runs/tiny/report/{name}" for name in report
        if (out / "report" / name).exists()]  # brief.pdf only where Chromium printed it
    assert lines[:len(written)] == written
    assert len(lines) == len(written) + 1
    assert lines[-1].startswith("  H5 Disparities between groups")


def test_run_records_its_source_and_config_file(simulated_run):
    root, _ = simulated_run
    results = json.loads((root / "runs" / "tiny" / "report" / "results.json").read_text())
    validate_results(results)
    prov = results["provenance"]
    assert prov["source"] == {
        "kind": "simulate", "table": "../data/court.parquet", "seed": 5, "decisions": None,
        "null": False, "no_judge_spread": False, "anticipation": None,
        "config": {"path": "../../../conf/sim.yaml", "sha256": sha256(root / "conf" / "sim.yaml")}}
    assert prov["config_file"] == {"path": "../../../conf/run.yaml",
                                   "sha256": sha256(root / "conf" / "run.yaml")}
    data = root / "runs" / "tiny" / "data"
    assert prov["inputs"] == [
        {"path": f"../data/{name}", "sha256": sha256(data / name)}
        for name in ("court.parquet", "court.judge_completions.parquet", "court.ledger.json")]
    assert prov["config"] == load_config(TINY_PLAN).to_dict()


def test_a_plain_audit_records_the_table_as_its_source(simulated_run, tmp_path):
    from fairness_audit.audit import compute_results

    root, _ = simulated_run
    table = root / "runs" / "tiny" / "data" / "court.parquet"
    results = compute_results(table, load_config(TINY_PLAN), outdir=tmp_path / "audit")
    rel = os.path.relpath(table, tmp_path / "audit")
    assert results["provenance"]["source"] == {"kind": "table", "table": rel}
    assert results["provenance"]["config_file"] is None


def test_a_report_folder_that_holds_an_input_is_refused_before_any_work(tmp_path):
    folder = tmp_path / "runs" / "report"
    folder.mkdir(parents=True)
    (folder / "run.yaml").write_text("source: {simulate: {seed: 1}}\nout: ..\n")
    result = runner.invoke(app, ["run", str(folder / "run.yaml")])
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"error: {folder / 'run.yaml'}: key 'out': {folder} is replaced as a whole by each run, "
        f"and it holds {folder / 'run.yaml'}, which the run reads; choose another out")
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["report", "run.yaml", "runs"]


def test_run_of_an_extract_through_a_mapping(tmp_path):
    shutil.copy(SDUT_SAMPLE, tmp_path / "extract.csv")
    (tmp_path / "run.yaml").write_text(yaml.safe_dump({
        "source": {"table": {"file": "extract.csv", "mapping": str(MAPPING)}},
        "plan": EXTRACT_PLAN, "out": "out"}))
    result = runner.invoke(app, ["run", str(tmp_path / "run.yaml"), "-q"])
    assert result.exit_code == 0, result.output
    results = json.loads((tmp_path / "out" / "report" / "results.json").read_text())
    assert results["provenance"]["source"] == {
        "kind": "table", "table": "../data/table.parquet",
        "file": {"path": "../../extract.csv", "sha256": sha256(tmp_path / "extract.csv")},
        "mapping": {"path": os.path.relpath(MAPPING, tmp_path / "out" / "report"),
                    "sha256": sha256(MAPPING)},
        "keep_names": False}
    # the 24 rows of the sample: 16 merits decisions used (tests/test_ingest_table.py)
    assert results["data"]["rows_in"] == 16
    assert results["provenance"]["config_file"]["path"] == "../../run.yaml"


def test_run_of_an_eoir_release(tmp_path):
    from fairness_audit.ingest.fixtures import standard_release

    release, merge = standard_release().write(tmp_path / "rel")
    (tmp_path / "run.yaml").write_text(yaml.safe_dump({
        "source": {"eoir": {"release": "rel/release", "judge_map": "rel/judge_merge.csv",
                            "options": {"dates": {"latest": "2024-01-31"}}}},
        "plan": yaml.safe_load(TINY_PLAN.read_text()), "out": "out"}))
    result = runner.invoke(app, ["run", str(tmp_path / "run.yaml"), "-q"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == f"wrote {tmp_path / 'out' / 'data' / 'eoir.parquet'}"
    results = json.loads((tmp_path / "out" / "report" / "results.json").read_text())
    source = results["provenance"]["source"]
    assert source == {
        "kind": "eoir", "table": "../data/eoir.parquet",
        "release": {"path": "../../rel/release",
                    "fingerprint": results["data"]["release"]["fingerprint"]},
        "options": {"dates": {"latest": "2024-01-31"}}, "options_file": None,
        "judge_map": {"path": "../../rel/judge_merge.csv", "sha256": sha256(merge)},
        "case_types": None}
    assert len(source["release"]["fingerprint"]) == 64
