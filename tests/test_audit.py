import json
import os

import jsonschema
import pytest

from fairness_audit.audit import compute_results, run_audit
from fairness_audit.config import load_config
from fairness_audit.inference import VERDICTS
from fairness_audit.results import validate_results
from fairness_audit.tables import TablePaths


def _test(results, test_id):
    return next(t for h in results["hypotheses"] for t in h["tests"] if t["id"] == test_id)


def test_results_validate_and_files_written(planted_results):
    results, out = planted_results
    validate_results(results)
    on_disk = json.loads((out / "results.json").read_text())
    validate_results(on_disk)
    for name in ("report.html", "report.md", "figures/tests.png", "tables/tests.csv",
                 "tables/disparities.csv"):
        assert (out / name).exists(), name
    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html and "http" not in html.split("<body>")[1].split("sha256")[0]


def test_schema_rejects_a_broken_results_file(planted_results):
    results, _ = planted_results
    broken = json.loads(json.dumps(results))
    broken["hypotheses"][0]["verdict"] = "probably fine"
    with pytest.raises(jsonschema.ValidationError):
        validate_results(broken)


def test_h2_planted_effect_recovered(planted_results, planted_table):
    results, _ = planted_results
    targets = json.loads(TablePaths.from_path(planted_table).truth.read_text())["targets"]["H2"]
    for test_id in ("H2.primary", "H2.placebo"):
        t = _test(results, test_id)
        target = targets[t["term"]]
        assert abs(t["estimate"] - target) < 3.5 * t["std_error"], (test_id, t["estimate"], target)
    primary = _test(results, "H2.primary")
    assert primary["verdict"] in VERDICTS and primary["p_adjusted"] is not None
    assert _test(results, "H2.placebo")["p_adjusted"] is None


def test_counts_add_up(planted_results):
    results, _ = planted_results
    data = results["data"]
    assert data["rows_in"] == data["rows_used"] + sum(data["set_aside"].values())
    model = next(m for m in results["models"] if m["name"] == "H2")
    assert model["n_obs"] + sum(model["sample"]["excluded"].values()) == data["rows_in"]
    assert model["cluster"] == "judge_id" and model["n_clusters"] >= 30


def test_group_rates_suppress_small_cells(planted_results):
    results, _ = planted_results
    rows = results["disparities"]
    assert {r["dimension"] for r in rows} >= {"represented", "custody", "nationality", "court_id"}
    for r in rows:
        if r["suppressed"]:
            assert r["n"] is None and r["value"] is None and r["ci_low"] is None
        else:
            assert r["n"] >= 30 and r["ci_low"] <= r["value"] <= r["ci_high"]


def test_output_folder_may_not_hold_the_input(planted_table, tmp_path):
    from fairness_audit.errors import AuditError

    with pytest.raises(AuditError, match="holds the input"):
        run_audit(planted_table, load_config(), planted_table.parent)
    assert planted_table.exists()
    assert os.path.exists(planted_table)


def test_extract_without_dates_reports_not_estimable(tmp_path):
    """An extract with only fiscal years (SDUT): date-based models say what is missing."""
    from pathlib import Path

    from fairness_audit.ingest.table import ingest_table

    repo = Path(__file__).resolve().parents[1]
    out = tmp_path / "sdut.parquet"
    ingest_table(repo / "tests" / "data" / "sdut_asylum_cases_sample.csv",
                 repo / "configs" / "mappings" / "sdut-asylum-cases.yaml", out)
    results = compute_results(out, load_config())
    validate_results(results)
    h2 = _test(results, "H2.primary")
    assert h2["estimate"] is None and h2["verdict"] == "inconclusive"
    assert h2["verdict_reason"].startswith("not estimable: decision_date")
    # the hypothesis says what kept its primary test from a verdict
    (hypothesis,) = [h for h in results["hypotheses"] if h["id"] == "H2"]
    assert h2["verdict_reason"] in hypothesis["verdict_reason"]


def test_outputs_have_ordinary_permissions(planted_results):
    import stat

    from fairness_audit.outputs import default_mode

    _, out = planted_results
    assert stat.S_IMODE(out.stat().st_mode) == default_mode(directory=True)
    assert stat.S_IMODE((out / "results.json").stat().st_mode) == default_mode()
