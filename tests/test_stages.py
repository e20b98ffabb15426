"""``audit --profile``: each stage's wall time and peak memory, and an unusable path refused
before the work starts."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from fairness_audit.cli import app
from fairness_audit.stages import recording, stage

TINY_PLAN = Path(__file__).parent / "data" / "tiny_plan.yaml"
runner = CliRunner()


def test_profile_records_every_stage(planted_table, tmp_path):
    profile = tmp_path / "prof" / "stages.json"
    result = runner.invoke(app, ["audit", str(planted_table), "--out", str(tmp_path / "out"),
                                 "--config", str(TINY_PLAN), "--profile", str(profile)])
    assert result.exit_code == 0, result.output
    log = json.loads(profile.read_text())
    stages = {s["stage"]: s for s in log["stages"]}
    for name in ("read", "features", "hypotheses", "model H5", "disparities", "report"):
        assert stages[name]["seconds"] >= 0 and stages[name]["peak_gb"] > 0, name
    assert stages["model H5"]["parent"] == "hypotheses"
    # the whole process's peak is at least every stage's own
    assert log["process_peak_gb"] >= max(s["peak_gb"] for s in log["stages"])


def test_profile_path_refused_before_the_work(planted_table, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    result = runner.invoke(app, ["audit", str(planted_table), "--out", str(tmp_path / "out"),
                                 "--config", str(TINY_PLAN), "--profile", str(blocker / "x.json")])
    assert result.exit_code == 1
    assert "--profile" in result.output and "is a file" in result.output
    assert not (tmp_path / "out").exists()  # refused before the audit ran


def test_nested_stages_carry_their_children_peaks():
    with recording() as log, stage("outer"), stage("inner"):
        block = b"\x01" * (300 * 1024 * 1024)  # 300 MB written inside the inner stage
        del block
    inner, outer = log.records
    assert inner["parent"] == "outer" and outer["parent"] is None
    assert inner["peak_gb"] >= 0.29  # the stage's peak includes what it held
    assert outer["peak_gb"] >= inner["peak_gb"]
