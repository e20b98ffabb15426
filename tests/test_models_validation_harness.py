"""The validation harness's summaries (fairness_audit/validation.py) on rows with known answers."""

from __future__ import annotations

import csv

import pytest

from fairness_audit import validation
from fairness_audit.validation import FIELDS, coverage_bound, markdown, rate_bound, summarise


def test_bounds_of_contract_section_8():
    assert coverage_bound(200) == pytest.approx(0.899, abs=5e-4)
    assert rate_bound(200) == pytest.approx(0.05 + 2.33 * (0.05 * 0.95 / 200) ** 0.5)


def _write(path, rows):
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=FIELDS)
        w.writeheader()
        for r in rows:
            w.writerow({k: r.get(k) for k in FIELDS})


def test_summary_counts_coverage_false_flags_and_design_check(tmp_path):
    rows = []
    for i in range(10):
        rows.append({"design": "planted", "replicate": i, "kind": "test", "hypothesis": "H2",
                     "test_id": "H2.primary", "role": "primary", "model": "H2",
                     "term": "post_policy:quota_shortfall", "estimate": -0.1, "std_error": 0.02,
                     "target": -0.12, "covered": int(i != 0)})
        flagged = "consistent with the concern" if i < 2 else "inconclusive"
        rows.append({"design": "null", "replicate": i, "kind": "test", "hypothesis": "H7",
                     "test_id": "H7.primary", "role": "primary", "model": "H7",
                     "term": "post_policy:quota_shortfall", "verdict": flagged,
                     "estimate": 0.1, "p_value": 0.5})
        rows.append({"design": "null", "replicate": i, "kind": "test", "hypothesis": "H6",
                     "test_id": "H6.primary", "role": "primary", "model": "H6", "term": "tau",
                     "verdict": "consistent with the concern"})  # H6 is not in the family
        rows.append({"design": "null", "replicate": i, "kind": "design_check", "hypothesis": "H2",
                     "test_id": "x", "role": "design_check", "model": "H2 without judge fixed effects",
                     "term": "quota_shortfall", "estimate": -0.2, "p_value": 0.001 if i < 9 else 0.3,
                     "concern_sign": -1})
    path = tmp_path / "rows.csv"
    _write(path, rows)
    s = summarise([path])
    (cov,) = s["coverage"]
    assert cov["R"] == 10 and cov["coverage"] == pytest.approx(0.9)
    assert cov["mean_error"] == pytest.approx(0.02) and cov["bias_t"] is None  # constant error
    assert s["false_flags"]["R"] == 10 and s["false_flags"]["rate"] == pytest.approx(0.2)
    (check,) = s["design_check"]
    assert check["share_significant_with_confounder_sign"] == pytest.approx(0.9) and check["passed"]
    assert "H2.primary" in markdown(s)
    shares = {(v["design"], v["test"]): v for v in s["verdicts"]}
    h7 = shares["null", "H7.primary"]
    assert h7["R"] == 10 and h7["consistent"] == pytest.approx(0.2)
    assert h7["inconclusive"] == pytest.approx(0.8) and h7["not_supported"] == 0


def test_summary_reports_check_failure_rates_per_design(tmp_path):
    rows = []
    for i in range(20):
        rows.append({"design": "null", "replicate": i, "kind": "check", "hypothesis": "H1",
                     "test_id": "pre-trend (log_duration)", "role": "check",
                     "verdict": "failed" if i < 2 else "passed", "p_value": 0.5})
        rows.append({"design": "anticipation", "replicate": i, "kind": "check", "hypothesis": "H1",
                     "test_id": "anticipation (log_duration)", "role": "check", "estimate": -0.01,
                     "verdict": "failed" if i < 15 else "passed", "p_value": 0.01})
        rows.append({"design": "null", "replicate": i, "kind": "check", "hypothesis": "H1",
                     "test_id": "reversal (log_duration)", "role": "check",
                     "verdict": "not estimable"})  # not counted
    path = tmp_path / "rows.csv"
    _write(path, rows)
    checks = {(c["design"], c["check"]): c for c in summarise([path])["checks"]}
    assert set(checks) == {("null", "pre-trend (log_duration)"),
                           ("anticipation", "anticipation (log_duration)")}
    null = checks["null", "pre-trend (log_duration)"]
    assert null["R"] == 20 and null["failure_rate"] == pytest.approx(0.1)
    assert null["within_bound"] is (rate_bound(20) >= 0.1)
    caught = checks["anticipation", "anticipation (log_duration)"]
    assert caught["failure_rate"] == pytest.approx(0.75) and caught["bound"] is None
    assert caught["mean_estimate"] == pytest.approx(-0.01)


def test_referee_summary_counts_bootstrap_breakdown_and_robustness_values(tmp_path):
    """Bootstrap and analytic rejections, breakdown quantiles, robust coverage and robustness
    values over replicates whose answers are worked out here."""
    rows = []
    for i in range(10):
        # analytic p below 0.05 in replicates 0-1, bootstrap p in replicates 0-2: agree in 9
        rows.append({"design": "null", "replicate": i, "kind": "test", "hypothesis": "H5",
                     "test_id": "H5.primary", "role": "primary", "model": "H5",
                     "term": "post_policy:unrepresented",
                     "p_value": 0.01 if i < 2 else 0.5, "bootstrap_p": 0.02 if i < 3 else 0.6})
        # a group gap the null keeps: reported, not held to the bound
        rows.append({"design": "null", "replicate": i, "kind": "test", "hypothesis": "H5",
                     "test_id": "H5.supporting.gap", "role": "supporting", "model": "H5",
                     "term": "unrepresented", "p_value": 1e-9, "bootstrap_p": 1e-4})
        reading = "consistent with the concern" if i < 4 else "inconclusive"
        rows.append({"design": "null", "replicate": i, "kind": "sensitivity", "hypothesis": "H1",
                     "test_id": "H1.supporting.event", "role": "relative_magnitudes",
                     "model": "H1_event_log_duration", "verdict": reading,
                     "breakdown": [0.1, 0.2, 0.3, 0.4][i] if i < 4 else None,
                     "robust_ci_low": -1.0 if i else 0.5, "robust_ci_high": 1.0,
                     "ci_low": 0.1 if i < 2 else -0.2, "ci_high": 0.3,
                     "target": 0.0, "covered": int(i != 0)})
        rows.append({"design": "planted", "replicate": i, "kind": "sensitivity",
                     "hypothesis": "H5", "test_id": "H5.primary", "role": "omitted_variable",
                     "model": "H5", "robustness_value": 0.01 * (i + 1),
                     "robustness_value_alpha": 0.0 if i < 5 else 0.005})
    path = tmp_path / "rows.csv"
    _write(path, rows)
    s = summarise([path])
    b, gap = s["bootstrap"]
    assert gap["test"] == "H5.supporting.gap" and gap["bootstrap_rejects"] == 1
    assert gap["bound"] is None and gap["within_bound"] is None
    assert (b["R"], b["analytic_rejects"], b["bootstrap_rejects"]) == (10, 0.2, 0.3)
    assert b["agree"] == pytest.approx(0.9) and b["bound"] == pytest.approx(rate_bound(10))
    assert b["within_bound"] is False  # 0.3 > 0.05 + 2.33 sqrt(0.0475 / 10) = 0.211
    (t,) = s["parallel_trends"]
    assert t["consistent"] == pytest.approx(0.4) and t["with_breakdown"] == 4
    assert t["breakdown_median"] == pytest.approx(0.25)
    assert t["breakdown_q10"] == pytest.approx(0.13) and t["breakdown_q90"] == pytest.approx(0.37)
    assert t["robust_coverage"] == pytest.approx(0.9)
    assert t["conventional_coverage"] == pytest.approx(0.8)
    (o,) = s["omitted_variable"]
    assert o["rv_median"] == pytest.approx(0.055) and o["rv_alpha_positive"] == pytest.approx(0.5)
    text = markdown(s)
    assert "| null | H5.primary | 10 | 0.200 | 0.300 | 0.900 | 0.211 | NO |" in text
    assert "0.13 / 0.25 / 0.37" in text


def test_a_csv_of_an_earlier_harness_is_refused_then_upgraded(tmp_path):
    from fairness_audit.validation import main, run

    old = FIELDS[:FIELDS.index("error") + 1]
    path = tmp_path / "old.csv"
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=old)
        w.writeheader()
        w.writerow({k: "" for k in old} | {"design": "null", "replicate": 0, "kind": "test"})
    with pytest.raises(ValueError, match="missing: bootstrap_p"):
        run(["null"], 1, path, workers=1)
    assert main(["upgrade", str(path)]) == 0
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        (row,) = list(reader)
    assert tuple(reader.fieldnames) == FIELDS and row["design"] == "null" and row["bootstrap_p"] == ""


def _killed_at_replicate_1(spec):
    """A replicate that kills its own worker at replicate 1, as the system does when memory
    runs out (module-level: a spawned worker imports it)."""
    import os
    import signal

    if spec.replicate == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    return [validation._row(spec, kind="error", error="not run", seconds=0.0)]


def test_a_worker_that_dies_stops_the_run_naming_the_replicates_left(tmp_path):
    out = tmp_path / "rows.csv"
    lines = []
    with pytest.raises(validation.WorkerDied, match=r"3 replicate\(s\)|2 replicate\(s\)") as died:
        validation.run(["null"], 4, out, workers=1, log=lines.append,
                       replicate=_killed_at_replicate_1)
    message = str(died.value)
    assert "null #1" in message and "rerun to resume" in message and str(out) in message
    written = {r["replicate"] for r in validation.read_rows([out])}
    assert "1" not in written and "0" in written  # replicate 0 finished before the worker died
    assert all("null #1" not in line for line in lines)


def _quick(spec):
    """A replicate that returns at once (module-level: a spawned worker imports it)."""
    return [validation._row(spec, kind="error", error="not run", seconds=0.0)]


def test_the_time_limit_starts_no_more_replicates_and_keeps_the_rows_written(tmp_path):
    out = tmp_path / "rows.csv"
    lines = []
    validation.run(["null"], 8, out, workers=1, log=lines.append, replicate=_quick,
                   max_minutes=1e-9)
    written = {r["replicate"] for r in validation.read_rows([out])}
    assert 1 <= len(written) < 8
    assert any(line.startswith("time limit reached") for line in lines)
    validation.run(["null"], 8, out, workers=1, log=lines.append, replicate=_quick)
    assert {r["replicate"] for r in validation.read_rows([out])} == {str(i) for i in range(8)}


def test_a_second_run_on_the_same_rows_stops_before_running_anything(tmp_path, capsys):
    """Two runs appending to one file would each run the replicates missing at their start."""
    out = tmp_path / "rows.csv"
    with validation._sole_writer(out):
        with pytest.raises(validation.RowsInUse, match="another run \\(process [0-9]+\\)"):
            validation.run(["null"], 2, out, workers=1, log=lambda m: None, replicate=_quick)
        assert validation.main(["run", "--design", "null", "-R", "1", "--out", str(out),
                                "--workers", "1"]) == 2
    assert f"error: {out}: another run" in capsys.readouterr().err
    assert not out.exists()
    validation.run(["null"], 2, out, workers=1, log=lambda m: None, replicate=_quick)
    assert {r["replicate"] for r in validation.read_rows([out])} == {"0", "1"}


def test_snapshot_copies_whole_replicates_to_the_same_bytes(tmp_path):
    """The replicates of a run under way, committed as it goes: a replicate whose last row was
    cut short is left out, the design ``null`` is kept (pandas' defaults read it as missing),
    and the same rows give the same bytes."""
    rows = [{"design": design, "replicate": i, "kind": "test", "test_id": f"H{k}.primary"}
            for i in range(3) for design in ("planted", "null") for k in (2, 7)]
    path = tmp_path / "rows.csv"
    _write(path, rows)
    text = path.read_text()
    path.write_text(text[: text.rindex("H2.primary") + 4])  # null #2 cut inside its first row
    first, second = tmp_path / "a.csv.gz", tmp_path / "b" / "a.csv.gz"
    assert validation.snapshot([path], first) == {"planted": 3, "null": 2}
    validation.snapshot([path], second)
    assert first.read_bytes() == second.read_bytes()
    kept = validation.read_rows([first])
    assert [(r["design"], r["replicate"]) for r in kept][-2:] == [("planted", "2")] * 2
    assert sum(r["design"] == "null" for r in kept) == 4


def test_snapshot_joins_files_and_refuses_a_replicate_found_twice(tmp_path, capsys):
    """Two runs' files (the 100-judge designs and `national`) into one snapshot, each file's cut
    replicate left out; the same replicate in both files is an error, not a doubled count."""
    small, national = tmp_path / "stress.csv", tmp_path / "national.csv"
    _write(small, [{"design": "null_drift", "replicate": i, "kind": "test"} for i in range(2)])
    _write(national, [{"design": "null_national", "replicate": i, "kind": "test"}
                      for i in range(3)])
    text = national.read_text()
    national.write_text(text[: text.rindex("null_national") + 5])  # #2 cut short
    out = tmp_path / "all.csv.gz"
    assert validation.main(["snapshot", str(small), str(national), str(out)]) == 0
    assert "2 null_drift replicate(s), 2 null_national replicate(s)" in capsys.readouterr().out
    assert [(r["design"], r["replicate"]) for r in validation.read_rows([out])] == [
        ("null_drift", "0"), ("null_drift", "1"), ("null_national", "0"), ("null_national", "1")]
    twice = tmp_path / "twice.csv.gz"
    assert validation.main(["snapshot", str(small), str(national), str(small), str(twice)]) == 2
    assert f"error: {small}: replicate null_drift #0 is in {small} too" in capsys.readouterr().err
    assert not twice.exists()


def test_snapshot_refuses_a_csv_of_other_columns(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text("design,replicate\nnull,0\n")
    with pytest.raises(ValueError, match="upgrade"):
        validation.snapshot([path], tmp_path / "out.csv.gz")
    assert not (tmp_path / "out.csv.gz").exists()


def _two_rows(spec, scale=1.0, verdict="inconclusive"):
    return [validation._row(spec, kind="test", test_id="H2.primary", role="primary", model="H2",
                            term="post_policy:quota_shortfall", estimate=-0.1 * scale,
                            std_error=0.02, verdict=verdict, seconds=1.0),
            validation._row(spec, kind="check", test_id="placebo", role="check", model="H2",
                            term=None, p_value=0.5, seconds=1.0)]


def test_recheck_compares_every_value_of_a_rerun_with_the_committed_rows(tmp_path, monkeypatch,
                                                                         capsys):
    """Rows written by an earlier commit are still this code's when a rerun gives them again:
    equal, equal to rounding (the largest difference reported), or not (each difference named)."""
    path = tmp_path / "rows.csv"
    spec = validation.ReplicateSpec(design="null", replicate=3)
    rows = _two_rows(spec)
    with open(path, "w", newline="") as fh:
        fh.write(",".join(FIELDS) + "\r\n" + validation._csv_text(rows))
    same = validation.recheck(path, ["null"], [3], replicate=_two_rows)
    assert same["problems"] == [] and same["largest_relative_difference"] == 0
    assert same["compared"] >= 5  # replicate, seed, estimate, std_error, p_value, ...
    rounding = validation.recheck(path, ["null"], [3],
                                  replicate=lambda s: _two_rows(s, scale=1 + 1e-10))
    assert rounding["problems"] == []
    assert 1e-11 < rounding["largest_relative_difference"] < 1e-9
    assert "estimate" in rounding["where"]
    zero = tmp_path / "zero.csv"  # a 0 written as "0" is the 0.0 of a rerun
    with open(zero, "w", newline="") as fh:
        fh.write(",".join(FIELDS) + "\r\n" + validation._csv_text(
            [dict(r, std_error=0) for r in _two_rows(spec)]))
    as_zero = validation.recheck(zero, ["null"], [3],
                                 replicate=lambda s: [dict(r, std_error=0.0) for r in _two_rows(s)])
    assert as_zero["problems"] == [] and as_zero["largest_relative_difference"] == 0
    other = validation.recheck(path, ["null", "planted"], [3],
                               replicate=lambda s: _two_rows(s, verdict="consistent with the concern"))
    assert any("verdict" in p and "inconclusive" in p for p in other["problems"])
    assert any("planted #3: not in" in p for p in other["problems"])
    command = ["recheck", str(path), "--design", "null", "--replicate", "3"]
    monkeypatch.setattr(validation, "run_replicate", _two_rows)
    assert validation.main(command) == 0
    monkeypatch.setattr(validation, "run_replicate", lambda s: _two_rows(s, scale=1.01))
    assert validation.main(command) == 1  # 1% is not rounding
    assert "largest relative difference beyond 1e-12 9.9e-03" in capsys.readouterr().out
    # a zero computed as 1e-16 then and -1e-16 now is rounding, not a relative difference of 2
    tiny = validation.recheck(path, ["null"], [3], replicate=lambda s: [
        dict(r, estimate=-1e-16) if r["estimate"] else r for r in _two_rows(s)])
    assert tiny["largest_relative_difference"] > 0  # the estimate -0.1 against -1e-16 differs
    zeros = tmp_path / "zeros.csv"
    with open(zeros, "w", newline="") as fh:
        fh.write(",".join(FIELDS) + "\r\n" + validation._csv_text(
            [dict(r, estimate=1e-16) if r["estimate"] else r for r in _two_rows(spec)]))
    flipped = validation.recheck(zeros, ["null"], [3], replicate=lambda s: [
        dict(r, estimate=-1e-16) if r["estimate"] else r for r in _two_rows(s)])
    assert flipped["largest_relative_difference"] == 0 and flipped["problems"] == []
    assert flipped["largest_absolute_difference"] == pytest.approx(2e-16)


def test_recheck_reruns_with_the_plan_the_rows_ran_with(tmp_path, monkeypatch):
    """The stress rows ran with configs/validation/verdicts.yaml: rechecked with the packaged
    plan they would differ by every row that plan adds, so `--config` reaches the rerun."""
    path = tmp_path / "rows.csv"
    spec = validation.ReplicateSpec(design="null_shocks", replicate=7, config="verdicts.yaml")
    with open(path, "w", newline="") as fh:
        fh.write(",".join(FIELDS) + "\r\n" + validation._csv_text(_two_rows(spec)))
    plans = []
    monkeypatch.setattr(validation, "run_replicate", lambda s: plans.append(s.config) or _two_rows(s))
    command = ["recheck", str(path), "--design", "null_shocks", "--replicate", "7"]
    assert validation.main([*command, "--config", "verdicts.yaml"]) == 0
    assert validation.main(command) == 0 and plans == ["verdicts.yaml", None]


def test_a_placebo_check_is_held_to_its_level_only_where_its_terms_target_is_zero(tmp_path):
    """On the planted design a model's placebo slope can have a pseudo-true value that is not
    zero; the check that tests it against zero then fails more often than its level by rights."""
    rows = []
    for i in range(20):
        for design, target in (("planted", -0.015), ("null", 1e-16)):
            rows.append({"design": design, "replicate": i, "kind": "test", "hypothesis": "H2",
                         "test_id": "H2.placebo", "role": "placebo", "model": "H2",
                         "term": "quota_shortfall", "estimate": -0.02, "std_error": 0.01,
                         "target": target, "covered": 1})
            rows.append({"design": design, "replicate": i, "kind": "check", "hypothesis": "H2",
                         "test_id": "placebo H2.placebo", "role": "check",
                         "verdict": "failed" if i < 5 else "passed"})
    path = tmp_path / "rows.csv"
    _write(path, rows)
    s = summarise([path])
    checks = {c["design"]: c for c in s["checks"]}
    shifted, held = checks["planted"], checks["null"]
    assert shifted["target"] == pytest.approx(-0.015) and shifted["bound"] is None
    assert shifted["within_bound"] is None and shifted["failure_rate"] == pytest.approx(0.25)
    assert held["bound"] == pytest.approx(rate_bound(20)) and held["within_bound"] is False
    assert "— (target -0.015)" in markdown(s)
