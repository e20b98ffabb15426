"""Wild cluster bootstrap p-values (fairness_audit/models/wild_bootstrap.py).

Checked against independent computations:

* every replicate refitted by least squares with every fixed effect as dummy columns (numpy,
  here), for one term and for a joint test, with and without row weights (cell sizes), for
  both of the module's ways of re-projecting the fixed effects;
* the observed t against pyfixest's CRV1 t (same errors, without the k factor);
* a plain loop in R over the audit's own Webb draws (tests/reference/wild_bootstrap.R, its
  committed output): H1 on the decisions in R against H1 on cell means here, H5, and H2's
  linear probability version with court x calendar month effects;
* a simulation with a known null: with eight unequal judge clusters the t(G - 1) p-value of the
  CRV1 t rejects far too often, the bootstrap p-value is close to uniform.

Then the audit's use of it: the test rows of the linear models carry it, the logit rows say
why they have none, verdicts and the multiple-testing family are those of the analytic p, the
report shows it.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import numpy as np
import pandas as pd
import pyfixest as pf
import pytest
import yaml
from scipy import stats

from fairness_audit.config import default_config_text, parse_config
from fairness_audit.errors import ConfigError, NotEstimable
from fairness_audit.models import wild_bootstrap as wb
from fairness_audit.models.wild_bootstrap import LinearBootstrap, draw_weights, webb_values

REF = Path(__file__).parent / "reference"
sys.path.insert(0, str(REF))
from draw_wild_weights import CASES, case_bootstrap  # noqa: E402

# t statistics of order 1: the same least-squares problems solved two ways agree to rounding
# (largest seen: 1e-10, R against the cells; 3e-11 numpy refits against the algebra)
T_ATOL = 1e-8


# -- the weights -------------------------------------------------------------------------------

def test_webb_weights_have_mean_zero_variance_one_and_six_equally_likely_points():
    points = webb_values(wb.WEBB_CODES)
    # exactly: -sqrt(3/2), -1, -sqrt(1/2), sqrt(1/2), 1, sqrt(3/2)
    np.testing.assert_allclose(points, [-1.5 ** 0.5, -1, -0.5 ** 0.5, 0.5 ** 0.5, 1, 1.5 ** 0.5],
                               rtol=1e-15)
    assert points.mean() == pytest.approx(0, abs=1e-15)
    assert (points ** 2).mean() == pytest.approx(1, rel=1e-15)  # (1/2 + 1 + 3/2) / 3
    draws = draw_weights("webb", 20_000, 30, seed=1).ravel()  # 600,000 draws
    # standard errors: mean 1/sqrt(600,000) = 0.0013, share 0.0005; 4 standard errors allowed
    assert abs(draws.mean()) < 0.0052
    assert abs(draws.var() - 1) < 0.0052 * 0.6  # var of v^2 is 1/3: its SE is 0.00075
    shares = pd.Series(draws).round(12).value_counts(normalize=True)
    assert len(shares) == 6 and np.all(np.abs(shares - 1 / 6) < 0.002)


def test_draws_repeat_with_the_seed_and_rademacher_is_the_pre_trend_draw():
    a, b = draw_weights("webb", 50, 7, seed=3), draw_weights("webb", 50, 7, seed=3)
    assert np.array_equal(a, b) and not np.array_equal(a, draw_weights("webb", 50, 7, seed=4))
    # the pre-trend test's draw before the machinery moved here: rng.choice([-1, 1])
    expected = np.random.default_rng(5).choice([-1.0, 1.0], size=(40, 9))
    assert np.array_equal(draw_weights("rademacher", 40, 9, seed=5), expected)
    with pytest.raises(ValueError, match="mammen"):
        draw_weights("mammen", 1, 2, seed=0)


# -- the algebra against refitting every replicate ----------------------------------------------

def _problem(seed: int, *, weighted: bool, n: int = 500, G: int = 14):
    """Rows with a judge effect (nested in the clusters) and two effects that are not."""
    rng = np.random.default_rng(seed)
    clusters = rng.integers(0, G, n)
    fe = np.column_stack([clusters, rng.integers(0, 6, n), rng.integers(0, 3, n)])
    X = np.column_stack([rng.normal(size=n) + 0.4 * fe[:, 1], rng.normal(size=n),
                         (rng.random(n) < 0.3).astype(float)])
    y = X @ [0.1, 1.0, -0.5] + 0.3 * fe[:, 2] + rng.normal(size=G)[clusters] + rng.normal(size=n)
    w = rng.integers(1, 6, n).astype(float) if weighted else np.ones(n)
    return y, X, fe, clusters, w


def _refits(y, X, fe, clusters, w, tested, draws):
    """Each replicate refitted with dummies: the observed and bootstrap Wald statistics (CRV1
    by cluster with G / (G - 1), the restricted model's fit plus its residuals x the weights)."""
    n, G = len(y), clusters.max() + 1
    dummies = [np.ones((n, 1))] + [np.eye(fe[:, j].max() + 1)[fe[:, j]][:, 1:]
                                   for j in range(fe.shape[1])]
    Z = np.column_stack([X, *dummies])
    sw = np.sqrt(w)
    restricted = np.delete(Z, tested, axis=1)
    y_r = restricted @ np.linalg.lstsq(restricted * sw[:, None], y * sw, rcond=None)[0]
    u = y - y_r
    solve = np.linalg.pinv(Z * sw[:, None])  # coefficients = solve @ (sw * y)
    a = solve[tested] * sw  # estimates of the tested terms = a @ y

    def wald(ys):
        coef = solve @ (sw * ys)
        e = ys - Z @ coef
        scores = np.stack([np.bincount(clusters, weights=a[q] * e, minlength=G)
                           for q in range(len(tested))], axis=1)
        b = coef[tested]
        return b @ np.linalg.solve(G / (G - 1) * scores.T @ scores, b)

    return wald(y), np.array([wald(y_r + u * v[clusters]) for v in draws])


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("way", ["levels", "levels, triangular solves", "demean each block"])
def test_one_term_equals_refitting_every_replicate(weighted, way, monkeypatch):
    y, X, fe, clusters, w = _problem(11, weighted=weighted)
    draws = draw_weights("webb", 60, 14, seed=2)
    if way == "levels, triangular solves":  # the path of many levels (national court x month)
        monkeypatch.setattr(wb, "_SMALL_SYSTEM", 0)
    boot = LinearBootstrap(y, X, fe, clusters, w, terms=["x", "z", "d"],
                           max_levels=0 if way == "demean each block" else wb.MAX_LEVELS)
    for j, term in enumerate(["x", "z", "d"]):
        test = boot.test([term], draws)
        assert test.path == ("demean" if way == "demean each block" else "levels")
        observed, refitted = _refits(y, X, fe, clusters, w, [j], draws)
        assert test.statistic ** 2 == pytest.approx(observed, rel=1e-9)
        np.testing.assert_allclose(test.draws ** 2, refitted, rtol=1e-8)
        # the signed t: the sign of each replicate's estimate
        assert np.sign(test.statistic) == np.sign(np.linalg.lstsq(
            np.column_stack([X, *[np.eye(f.max() + 1)[f] for f in fe.T]]) * np.sqrt(w)[:, None],
            y * np.sqrt(w), rcond=None)[0][j])
        p = (1 + np.sum(refitted >= observed * (1 - 1e-12))) / (len(draws) + 1)
        assert test.p_value == pytest.approx(p)


def test_joint_test_equals_refitting_every_replicate():
    y, X, fe, clusters, w = _problem(12, weighted=True)
    draws = draw_weights("rademacher", 60, 14, seed=3)
    test = LinearBootstrap(y, X, fe, clusters, w, terms=["x", "z", "d"]).test(["x", "d"], draws)
    observed, refitted = _refits(y, X, fe, clusters, w, [0, 2], draws)
    assert test.statistic == pytest.approx(observed, rel=1e-9)
    np.testing.assert_allclose(test.draws, refitted, rtol=1e-8)


def test_without_fixed_effects_the_intercept_is_swept():
    y, X, _, clusters, w = _problem(13, weighted=False)
    none = np.zeros((len(y), 0), dtype=np.int64)
    draws = draw_weights("webb", 40, 14, seed=4)
    test = LinearBootstrap(y, X, none, clusters, terms=["x", "z", "d"]).test(["z"], draws)
    observed, refitted = _refits(y, X, none, clusters, w, [1], draws)
    np.testing.assert_allclose(test.draws ** 2, refitted, rtol=1e-8)


def test_a_term_collinear_with_the_fixed_effects_is_not_estimable():
    y, X, fe, clusters, w = _problem(14, weighted=False)
    X = np.column_stack([X, fe[:, 1] == 2])  # a level of a fixed effect
    boot = LinearBootstrap(y, X, fe, clusters, terms=["x", "z", "d", "level"])
    with pytest.raises(NotEstimable, match="not estimable: level"):
        boot.test(["level"], draw_weights("webb", 9, 14, seed=0))


def _reference_input(name: str) -> pd.DataFrame:
    text = {c: str for c in ("judge_id", "court_id", "nationality", "case_type", "quarter",
                             "calendar_month")}
    return pd.read_csv(REF / name, dtype=text)


@pytest.mark.parametrize("case", ["h5", "h2_lpm"])
def test_observed_t_is_pyfixest_crv1_t(case):
    """The bootstrap's t is the CRV1 t with G / (G - 1) and no (n - 1) / (n - k) factor."""
    boot, term = case_bootstrap(case)
    name, spec, _ = CASES[case]
    frame = _reference_input(name)
    frame["pp"] = frame["post_policy"] * frame[term.split(":")[1]]
    if "calendar_month" in frame:
        frame["court_month"] = frame["court_id"] + " " + frame["calendar_month"]
    rhs = " + ".join("pp" if t == term else t for t in spec.terms)
    fes = " + ".join(f.replace("court_id^calendar_month", "court_month") for f in spec.fixed_effects)
    fitted = pf.feols(f"{spec.outcome} ~ {rhs} | {fes}", frame, vcov={"CRV1": "judge_id"},
                      ssc=pf.ssc(k_adj=False, G_adj=True))
    t = boot.test([term], draw_weights("webb", 9, boot.n_clusters, seed=0)).statistic
    # pyfixest sweeps the fixed effects to its own tolerance: 4e-8 apart with court x month
    # effects (the same t agrees with R's refits to 1e-10: test_matches_a_plain_loop_in_r)
    assert t == pytest.approx(float(fitted.tstat()["pp"]), rel=1e-6)


def test_cell_means_give_the_bootstrap_of_the_decisions():
    """H1's bootstrap on cell means (its jackknife design) equals the one on the decisions."""
    cells, term = case_bootstrap("h1")
    name, spec, _ = CASES["h1"]
    from fairness_audit.models.design import build_design

    decisions = LinearBootstrap.from_design(
        build_design(_reference_input(name), spec.model_copy(update={"cov_type": "CRV1"})))
    assert len(cells.yd) < len(decisions.yd) == 4047  # fewer rows: cells
    assert list(cells.cluster_labels) == list(decisions.cluster_labels)
    draws = draw_weights("webb", 200, cells.n_clusters, seed=6)
    a, b = cells.test([term], draws), decisions.test([term], draws)
    assert a.statistic == pytest.approx(b.statistic, rel=1e-9)
    np.testing.assert_allclose(a.draws, b.draws, atol=T_ATOL)
    assert a.p_value == b.p_value


# -- against R -------------------------------------------------------------------------------

def _weights(case: str, labels) -> np.ndarray:
    codes = pd.read_csv(REF / f"wild_{case}_weights.csv")
    return webb_values(codes[[str(c) for c in labels]].to_numpy())


@pytest.mark.parametrize("case", list(CASES))
def test_committed_weights_are_the_audits_draw(case):
    boot, _ = case_bootstrap(case)
    codes = pd.read_csv(REF / f"wild_{case}_weights.csv")
    assert list(codes.columns) == [str(c) for c in boot.cluster_labels]  # sorted judge codes
    seed = parse_config(yaml.safe_load(default_config_text())).seed
    assert np.array_equal(webb_values(codes.to_numpy()),
                          draw_weights("webb", len(codes), boot.n_clusters, seed=seed))


@pytest.mark.parametrize("case", list(CASES))
def test_matches_a_plain_loop_in_r(case):
    boot, term = case_bootstrap(case)
    summary = pd.read_csv(REF / "wild_r_output.csv").set_index("case").loc[case]
    r_draws = pd.read_csv(REF / "wild_r_draws.csv")
    r_draws = r_draws.loc[r_draws["case"] == case, "t"].to_numpy()
    test = boot.test([term], _weights(case, boot.cluster_labels))
    assert summary["term"] == term
    assert (test.n_obs, test.n_clusters, test.reps) == (summary["n_obs"], summary["n_clusters"],
                                                        summary["reps"])
    assert test.statistic == pytest.approx(summary["statistic"], abs=T_ATOL)
    np.testing.assert_allclose(test.draws, r_draws, atol=T_ATOL)
    assert test.p_value == pytest.approx(summary["p_value"], abs=1e-12)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("Rscript") is None, reason="Rscript is not on the PATH")
def test_rerunning_the_r_script_gives_the_committed_output(tmp_path):
    """About a minute and a half: 3 x 999 refits with a few hundred dummy columns."""
    for f in REF.glob("*_input.csv"):
        shutil.copy(f, tmp_path)
    for f in REF.glob("wild_*_weights.csv"):
        shutil.copy(f, tmp_path)
    done = subprocess.run(["Rscript", str(REF / "wild_bootstrap.R"), str(tmp_path), str(tmp_path)],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    for name in ("wild_r_output.csv", "wild_r_draws.csv"):
        fresh, committed = pd.read_csv(tmp_path / name), pd.read_csv(REF / name)
        pd.testing.assert_frame_equal(fresh.select_dtypes(exclude="float"),
                                      committed.select_dtypes(exclude="float"))
        np.testing.assert_allclose(fresh.select_dtypes("float"), committed.select_dtypes("float"),
                                   rtol=1e-10)


# -- a known null ------------------------------------------------------------------------------

def test_under_the_null_the_bootstrap_p_is_close_to_uniform_where_the_t_test_over_rejects():
    """300 draws of eight judges of 10 to 200 decisions, judge effects in the regressor and the
    errors, a non-nested fixed effect, and no effect of x. Fixed seeds: the shares below are
    exact for this code; the bounds are what a valid test must meet (binomial, 300 draws)."""
    rng = np.random.default_rng(2024)
    sizes = np.round(np.geomspace(10, 200, 8)).astype(int)
    clusters = np.repeat(np.arange(8), sizes)
    n = len(clusters)
    boot_p, t_p = [], []
    for _ in range(300):
        period = rng.integers(0, 4, n)
        x = rng.normal(size=8)[clusters] + rng.normal(size=n)
        y = 2 * rng.normal(size=8)[clusters] + rng.normal(size=n) + 0.5 * period
        boot = LinearBootstrap(y, np.column_stack([x, rng.normal(size=n)]), period[:, None],
                               clusters, terms=["x", "z"])
        test = boot.test(["x"], draw_weights("webb", 199, 8, seed=int(rng.integers(2 ** 31))))
        boot_p.append(test.p_value)
        t_p.append(2 * stats.t.sf(abs(test.statistic), 7))
    boot_p, t_p = np.array(boot_p), np.array(t_p)
    # here the t(G - 1) test rejects 18.3% at 5% (23.7% at 10%), the bootstrap 5.7% (10.3%);
    # a valid test rejects within the central 99% of Binomial(300, alpha) / 300: 2.0%-8.3% at
    # 5%, 5.7%-14.7% at 10%
    assert (t_p < 0.05).mean() > 0.12
    assert 0.02 <= (boot_p < 0.05).mean() <= 0.083
    assert 0.057 <= (boot_p < 0.10).mean() <= 0.147
    assert stats.kstest(boot_p, "uniform").pvalue > 0.01
    assert stats.kstest(t_p, "uniform").pvalue < 1e-6


# -- the plan --------------------------------------------------------------------------------

@pytest.mark.parametrize(("options", "message"), [
    ({"reps": -1}, r"inference\.bootstrap\.reps': expected a number at least 0, found -1"),
    ({"reps": 20}, r"inference\.bootstrap': reps: expected 0 \(no bootstrap\) or at least 99 "
                   r"replicates, found 20"),
    ({"weights": "mammen"}, r"inference\.bootstrap\.weights': expected one of 'webb' or "
                            r"'rademacher', found 'mammen'"),
    ({"replicates": 999}, r"inference\.bootstrap\.replicates' is not a known option"),
])
def test_plan_options_are_checked_and_errors_name_the_key(options, message):
    with pytest.raises(ConfigError, match=message):
        parse_config({"inference": {"bootstrap": options}})


def test_default_plan_asks_for_9999_webb_replicates():
    boot = parse_config(yaml.safe_load(default_config_text())).inference.bootstrap
    assert (boot.reps, boot.weights) == (9999, "webb")


# -- in the audit ------------------------------------------------------------------------------

_CORE = {"seed", "policy", "window", "features", "inference", "controls", "fixed_effects", "models",
         "analyses", "hypotheses", "disparities"}


def _plan(reps: int) -> dict:
    """The default plan cut to H1's, H2's and H5's tests of H1, H2, H2_lpm and H5."""
    plan = yaml.safe_load(default_config_text())
    h = plan["hypotheses"]
    plan["models"] = {k: plan["models"][k] for k in ("H1", "H2", "H2_lpm", "H5")}
    plan["analyses"] = {}
    keep = {"H1.primary", "H2.primary", "H2.supporting.lpm"}
    plan["hypotheses"] = {
        "H1": {"forcing_checks": [], "tests": [t for t in h["H1"]["tests"] if t["id"] in keep]},
        "H2": {"forcing_checks": [], "tests": [{k: v for k, v in t.items() if k != "guards"}
                                               for t in h["H2"]["tests"] if t["id"] in keep]},
        "H5": h["H5"]}
    plan["disparities"] = {"outcomes": ["granted"], "dimensions": ["represented"],
                           "bootstrap_replicates": 50, "adjusted": False}
    plan["inference"]["bootstrap"] = {"reps": reps, "weights": "webb"}
    for key in set(plan) - _CORE:
        plan.pop(key)  # options of other parts of the plan, which the cut plan does not need
    return plan


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    """A court of 3 x 5 judges (about 27,000 decisions), audited and reported."""
    from fairness_audit.audit import compute_results
    from fairness_audit.features import build_frame
    from fairness_audit.report.render import write_report
    from fairness_audit.schema import coerce_decisions
    from fairness_audit.simulate import SimulationParams, simulate
    from fairness_audit.tables import TablePaths, write_decision_data

    out = tmp_path_factory.mktemp("wild")
    params = dataclasses.replace(SimulationParams(), n_courts=3, judges_per_court=5,
                                 first_fiscal_year=2015, pace_mean=300.0, pace_min=150.0,
                                 pace_max=500.0)
    sim = simulate(params, seed=7)
    paths = TablePaths.from_path(out / "court.parquet")
    write_decision_data(paths, sim.decisions, sim.workload, sim.ledger, dict(sim.metadata),
                        json_files={})
    config = parse_config(_plan(999))
    results = compute_results(paths.decisions, config)
    write_report(results, out / "report", pdf=False)
    decisions, _ = coerce_decisions(sim.decisions)
    frame = build_frame(decisions, sim.workload, config,
                        coverage_start=sim.metadata["coverage_start"])
    return results, out / "report", frame


def _rows(results) -> dict:
    return {t["id"]: t for h in results["hypotheses"] for t in h["tests"]}


def test_linear_rows_carry_the_bootstrap_and_logit_rows_say_why_not(audited):
    results, _, _ = audited
    rows = _rows(results)
    models = {m["name"]: m for m in results["models"]}
    linear = ("H1.primary", "H2.supporting.lpm", "H5.primary", "H5.supporting.gap")
    for tid in linear:
        b = rows[tid]["bootstrap"]
        assert b["method"] == "restricted wild cluster bootstrap"
        assert (b["weights"], b["reps"], b["cluster"], b["seed"]) == ("webb", 999, "judge_id",
                                                                     20181001)
        assert b["n_clusters"] == models[rows[tid]["model"]]["n_clusters"]
        # (1 + #) / 1000: a multiple of 1/1000 in (0, 1]
        assert 0 < b["p_value"] <= 1 and round(b["p_value"] * 1000, 9).is_integer()
    # where the analytic errors are CRV1 the bootstrap's t is the analytic t without the
    # (n - 1) / (n - k) factor: the same sign, a little larger
    for tid in ("H5.primary", "H5.supporting.gap"):
        t = rows[tid]["estimate"] / rows[tid]["std_error"]
        assert 1 < rows[tid]["bootstrap"]["statistic"] / t < 1.01
    # where they are CR2 (H2's models) the bootstrap's t still uses CRV1, which CR2 exceeds
    assert models["H2_lpm"]["cov_type"] == "CR2"
    t = rows["H2.supporting.lpm"]["estimate"] / rows["H2.supporting.lpm"]["std_error"]
    assert rows["H2.supporting.lpm"]["bootstrap"]["statistic"] / t > 1
    assert rows["H2.primary"]["bootstrap"]["method"] is None
    assert rows["H2.primary"]["bootstrap"]["reason"].startswith("no bootstrap for logit fits: ")
    schema = json.loads((Path(wb.__file__).parents[1] / "schemas" / "results.schema.json").read_text())
    for row in rows.values():
        jsonschema.validate(row, {"$ref": "#/$defs/test", "$defs": schema["$defs"]})


def test_verdicts_and_the_family_keep_the_analytic_p_and_reruns_repeat(audited):
    from fairness_audit.hypotheses import run_hypotheses

    results, _, frame = audited
    again, _, family = run_hypotheses(frame, parse_config(_plan(999)))
    without, _, family0 = run_hypotheses(frame, parse_config(_plan(0)))
    rows, rows0 = _rows({"hypotheses": again}), _rows({"hypotheses": without})
    # byte-identical reruns: the draws come from the plan's seed
    assert json.dumps({k: r["bootstrap"] for k, r in rows.items()}, sort_keys=True) == \
        json.dumps({k: r["bootstrap"] for k, r in _rows(results).items()}, sort_keys=True)
    assert family == family0
    for tid, row in rows.items():
        assert {k: v for k, v in row.items() if k != "bootstrap"} == \
            {k: v for k, v in rows0[tid].items() if k != "bootstrap"}
    assert rows0["H5.primary"]["bootstrap"] == {
        "method": None, "reason": "not computed: the plan's inference.bootstrap.reps is 0"}
    # a bootstrap p on the other side of alpha changes nothing: H1 here (15 judges)
    h1 = rows["H1.primary"]
    assert h1["verdict"] == rows0["H1.primary"]["verdict"]


def test_the_report_shows_the_bootstrap_p_beside_the_analytic_one(audited):
    from fairness_audit.report.numbers import check_html

    results, report, _ = audited
    page = (report / "report.html").read_text()
    assert "<th>adjusted p</th><th>bootstrap p</th>" in page
    rows = [(h, i, t) for h, x in enumerate(results["hypotheses"]) for i, t in enumerate(x["tests"])]
    for h, i, t in rows:
        if t["bootstrap"]["method"]:
            shown = f"{t['bootstrap']['p_value']:.3f}" if t["bootstrap"]["p_value"] >= 0.001 \
                else "&lt; 0.001"
            assert (f'<td><span data-src="/hypotheses/{h}/tests/{i}/bootstrap/p_value" '
                    f'data-fmt="pvalue">{shown}</span></td>') in page
    assert '<span class="muted" title="no bootstrap for logit fits: ' in page
    assert 'data-src="/provenance/config/inference/bootstrap/reps" data-fmt="fmt">999<' in page
    assert check_html(page, results) == []
    text = (report / "report.md").read_text()
    p = _rows(results)["H5.primary"]["bootstrap"]["p_value"]
    assert f"wild cluster bootstrap {p:.3f};" in text
    assert "No bootstrap for logit fits" in text  # the methods appendix
    assert copy.deepcopy(results) == results  # rendering left results.json as it was


def test_docs_quote_the_benchmark_results():
    """docs/models.md's cost table is benchmarks/results/bench_wild_bootstrap.md, as written by
    `python benchmarks/bench_wild_bootstrap.py`: no figure typed by hand."""
    root = Path(__file__).parents[1]
    docs = (root / "docs" / "models.md").read_text()
    block = docs.split("<!-- bench_wild_bootstrap:begin -->\n")[1].split(
        "<!-- bench_wild_bootstrap:end -->")[0]
    assert block == (root / "benchmarks" / "results" / "bench_wild_bootstrap.md").read_text()
    report = json.loads((root / "benchmarks" / "results" / "bench_wild_bootstrap.json").read_text())
    h5 = next(r for r in report["exactness"] if r["term"] == "post_policy:unrepresented")
    assert f'"p_value": {h5["p_audit"]}' in docs  # the example row of results.json
