import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from fairness_audit.cli import app

runner = CliRunner()
# one small model: the commands' chain is what is tested here (the default plan's audit runs
# through the command line in tests/test_determinism.py and the demo in tests/test_docs_numbers.py)
TINY_PLAN = Path(__file__).parent / "data" / "tiny_plan.yaml"


def test_every_command_has_help():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("simulate", "validate", "audit", "ingest"):
        assert command in result.output
        sub = runner.invoke(app, [command, "--help"])
        assert sub.exit_code == 0 and len(sub.output) > 100


def test_simulate_validate_audit(tmp_path):
    cfg = tmp_path / "sim.yaml"
    cfg.write_text(yaml.safe_dump({"n_courts": 2, "first_fiscal_year": 2016}))
    table = tmp_path / "data" / "court.parquet"
    result = runner.invoke(app, ["simulate", "--out", str(table), "--seed", "3", "--config", str(cfg)])
    assert result.exit_code == 0, result.output
    for suffix in (".parquet", ".judge_completions.parquet", ".ledger.json", ".truth.json"):
        assert (tmp_path / "data" / f"court{suffix}").exists()
    result = runner.invoke(app, ["validate", str(table)])
    assert result.exit_code == 0 and "valid decisions table" in result.output
    result = runner.invoke(app, ["audit", str(table), "--out", str(tmp_path / "audit"),
                                 "--config", str(TINY_PLAN)])
    assert result.exit_code == 0, result.output
    assert "H5" in result.output
    assert json.loads((tmp_path / "audit" / "results.json").read_text())["schema_version"]


def test_validate_reports_problems_with_exit_code(tmp_path):

    import dataclasses

    from fairness_audit.simulate import SimulationParams, simulate

    frame = simulate(dataclasses.replace(SimulationParams(), n_courts=2, last_fiscal_year=2015),
                     seed=1).decisions.head(100)
    frame.loc[4, "outcome"] = "Remove"
    path = tmp_path / "bad.parquet"
    frame.to_parquet(path)
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    assert "column 'outcome': expected one of" in result.output and "'Remove'" in result.output
    assert "Traceback" not in result.output


def test_user_mistakes_are_one_line_errors(tmp_path):
    result = runner.invoke(app, ["audit", str(tmp_path / "missing.parquet"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert "missing.parquet: decisions table not found" in result.output
    assert "Traceback" not in result.output
    result = runner.invoke(app, ["validate", str(tmp_path / "table.csv")])
    assert result.exit_code == 1 and "expected a path ending in .parquet" in result.output


def test_bad_config_key_is_named(tmp_path, planted_table):
    cfg = tmp_path / "plan.yaml"
    cfg.write_text(yaml.safe_dump({"inference": {"alpah": 0.1}}))
    result = runner.invoke(app, ["audit", str(planted_table), "--out", str(tmp_path / "o"),
                                 "--config", str(cfg)])
    assert result.exit_code == 1
    assert "key 'inference.alpah' is not a known option" in result.output
    cfg.write_text(yaml.safe_dump({"inference": {"alpha": 2}}))
    result = runner.invoke(app, ["audit", str(planted_table), "--out", str(tmp_path / "o"),
                                 "--config", str(cfg)])
    assert result.exit_code == 1 and "key 'inference.alpha'" in result.output and "found 2" in result.output


def test_simulation_config_unknown_key(tmp_path):
    cfg = tmp_path / "sim.yaml"
    cfg.write_text(yaml.safe_dump({"n_court": 3}))
    result = runner.invoke(app, ["simulate", "--out", str(tmp_path / "x.parquet"), "--config", str(cfg)])
    assert result.exit_code == 1 and "unknown key(s) ['n_court']" in result.output
