"""Group metrics: fairlearn's numbers, bootstrap intervals against the truth, adjusted gaps against
the models engine, the decomposition identity, label invariance and suppression in every output."""

from __future__ import annotations

import csv
import json
import warnings

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import MetricFrame, count, selection_rate
from hypothesis import given, settings
from hypothesis import strategies as st

from fairness_audit import disparity
from fairness_audit.config import AuditConfig, ModelSpec, load_config
from fairness_audit.disparity import (
    INTERSECTION_SEPARATOR,
    JudgeBootstrap,
    _Cells,
    adjusted_gaps,
    disparities,
    group_metrics,
    group_table,
    suppression_pattern,
)
from fairness_audit.errors import ModelWarning
from fairness_audit.models.design import build_design
from fairness_audit.models.regression import fit


def synthetic_frame(n: int = 4000, seed: int = 0, n_judges: int = 40) -> pd.DataFrame:
    """A small analysis frame with the columns the disparity tables and adjusted gaps read."""
    rng = np.random.default_rng(seed)
    judge = rng.integers(0, n_judges, n)
    court = judge % 4
    nat = rng.choice(["MX", "GT", "HO", "CH", "RU"], size=n, p=[0.4, 0.25, 0.2, 0.1, 0.05])
    represented = (rng.random(n) < 0.6).astype(float)
    detained = (rng.random(n) < 0.3).astype(float)
    lenient = rng.normal(0, 0.8, n_judges)[judge]
    eta = -1 + 1.4 * represented - 0.5 * detained + lenient + np.where(nat == "CH", 0.8, 0.0)
    granted = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float)
    return pd.DataFrame({
        "judge_id": [f"J{j:03d}" for j in judge], "court_id": [f"C{c}" for c in court],
        "nationality": nat, "represented": represented, "detained": detained,
        "juvenile": (rng.random(n) < 0.05).astype(float),
        "asylum_application": (rng.random(n) < 0.5).astype(float),
        "custody": np.where(detained == 1, "D", "N"),
        "fiscal_year": rng.choice([2019, 2020], n), "fiscal_month": rng.integers(1, 13, n),
        "case_type": rng.choice(["RMV", "DEP"], n, p=[0.9, 0.1]),
        "granted": granted, "removal_ordered": 1.0 - granted,
        "in_absentia": np.zeros(n), "duration_days": rng.gamma(2.0, 200.0, n),
        "in_window": True, "post_policy": (rng.random(n) < 0.5).astype(float),
    })


def plan(**disparities_options) -> AuditConfig:
    base = load_config().to_dict()
    base.update(models={}, analyses={}, hypotheses={})
    base["disparities"].update(disparities_options)
    return AuditConfig.model_validate(base)


def test_group_metrics_reproduce_fairlearn_on_rows():
    """MetricFrame on sufficient statistics gives fairlearn's own row-level numbers exactly."""
    rng = np.random.default_rng(3)
    y = (rng.random(500) < 0.35).astype(int)
    g = pd.Series(rng.choice(["a", "b", "c"], 500), name="g")
    reference = MetricFrame(metrics={"value": selection_rate, "n": count}, y_true=y, y_pred=y,
                            sensitive_features=g).by_group
    ours = group_metrics(y.astype(float), g)
    assert list(ours.index) == list(reference.index)
    np.testing.assert_allclose(ours["value"].to_numpy(dtype=float),
                               reference["value"].to_numpy(dtype=float), rtol=0, atol=1e-15)
    assert ours["n"].tolist() == reference["n"].astype(int).tolist()
    # and group_table reports the same rates and counts
    frame = pd.DataFrame({"y": y, "g": g, "judge_id": [f"J{i % 25}" for i in range(500)]})
    boot = JudgeBootstrap.draw(frame["judge_id"], 100, seed=1)
    table = group_table(frame, outcome="y", dimension="g", reference=None, cluster="judge_id",
                        level=0.95, boot=boot).set_index("group")
    np.testing.assert_allclose(table.loc[reference.index, "value"], reference["value"].astype(float))
    assert table["reference"].iloc[0] == reference["n"].astype(int).idxmax()


def test_a_period_whose_known_groups_have_no_outcome_is_skipped_not_an_error():
    """Before the policy every row with an outcome lacks its nationality, and every row with a
    nationality lacks its outcome: that period has no nationality table (not a crash); the
    other period has its table as usual."""
    frame = synthetic_frame(600, seed=3)
    pre = frame["post_policy"] == 0
    with_outcome = pre & (np.arange(len(frame)) % 2 == 0)
    frame["nationality"] = frame["nationality"].astype(object)
    frame.loc[with_outcome, "nationality"] = None
    frame.loc[pre & ~with_outcome, "granted"] = np.nan
    rows = disparities(frame, plan(dimensions=["nationality"], outcomes=["granted"],
                                   continuous=[], adjusted=False))
    periods = {r["period"] for r in rows if r["dimension"] == "nationality"}
    assert periods == {"post_policy"}


def test_reference_default_is_largest_with_ties_to_first_seen():
    n = pd.Series({"a": 5, "b": 7, "c": 7})
    assert disparity.choose_reference(n, ["c", "b", "a"], None) == "c"
    assert disparity.choose_reference(n, ["b", "c", "a"], None) == "b"
    assert disparity.choose_reference(n, ["b", "c", "a"], "a") == "a"


def test_bootstrap_interval_matches_cluster_variance():
    """The bootstrap SE of a group rate agrees with the analytic CR1 (judge-clustered) SE."""
    frame = synthetic_frame(6000, seed=5, n_judges=60)
    boot = JudgeBootstrap.draw(frame["judge_id"], 2000, seed=2)
    table = group_table(frame, outcome="granted", dimension="represented", reference=None,
                        cluster="judge_id", level=0.95, boot=boot).set_index("group")
    for group, flag in (("yes", 1.0), ("no", 0.0)):
        rows = frame[frame["represented"] == flag]
        rate = rows["granted"].mean()
        per_judge = ((rows["granted"] - rate) / len(rows)).groupby(rows["judge_id"]).sum()
        g = frame["judge_id"].nunique()
        se_cr1 = np.sqrt(g / (g - 1) * (per_judge ** 2).sum())
        crit = disparity.stats.t.ppf(0.975, g - 1)
        se_boot = (table.loc[group, "ci_high"] - table.loc[group, "ci_low"]) / (2 * crit)
        assert se_boot == pytest.approx(se_cr1, rel=0.12)  # 2000 replicates: MC error ~2-3%


def test_adjusted_gap_equals_the_models_engine():
    """FWL with swept-out fixed effects reproduces pyfixest feols (CRV1 by judge) exactly."""
    frame = synthetic_frame(5000, seed=7)
    config = plan(dimensions=["nationality"])
    part = frame[frame["post_policy"] == 1].copy()
    labels = disparity.dimension_labels(part, "nationality")
    fits = adjusted_gaps(part, outcomes=["granted"], dimension="nationality", labels=labels,
                         reference="MX", shown={"GT", "HO", "CH", "RU", "MX"}, config=config)
    ours = fits["granted"].coef
    for g in ("GT", "HO", "CH", "RU"):
        part[f"is_{g}"] = (part["nationality"] == g).astype(float)
    spec = ModelSpec(family="ols", outcome="granted",
                     terms=("is_GT", "is_HO", "is_CH", "is_RU", "represented", "detained", "juvenile",
                            "asylum_application"),
                     fixed_effects=("judge_id", "fiscal_year", "fiscal_month", "case_type"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModelWarning)  # notes about the small design
        res = fit(build_design(part, spec), name="check")
    table = res.to_frame().set_index("term")
    for g in ("GT", "HO", "CH", "RU"):
        est, se, lo, hi, _p = ours[g]
        assert est == pytest.approx(table.loc[f"is_{g}", "estimate"], abs=1e-9)
        assert se == pytest.approx(table.loc[f"is_{g}", "std_error"], rel=1e-6)
        assert lo == pytest.approx(table.loc[f"is_{g}", "ci_low"], abs=1e-8)


def test_decomposition_adds_up():
    """raw gap = adjusted gap + explained, and explained = controls + fixed-effects parts."""
    frame = synthetic_frame(5000, seed=9)
    rows = disparities(frame, plan(outcomes=["granted"], dimensions=["represented", "nationality"],
                                   continuous=[], intersections=[]))
    checked = 0
    for r in rows:
        if r["group"] == r["reference"] or r["adjusted_difference"] is None:
            continue
        assert r["difference"] == pytest.approx(r["adjusted_difference"] + r["explained"], abs=1e-10)
        assert r["explained"] == pytest.approx(r["explained_controls"] + r["explained_fixed_effects"],
                                               abs=1e-9)
        assert r["explained_ci_low"] < r["explained"] < r["explained_ci_high"]
        checked += 1
    assert checked >= 8


@settings(max_examples=8, deadline=None)
@given(st.lists(st.text(alphabet="abcdefghijklmnopqrstuvwxyz=-+@ ", min_size=1, max_size=8),
                min_size=5, max_size=5, unique=True))
def test_renaming_group_labels_changes_nothing(names):
    frame = synthetic_frame(3000, seed=11)
    config = plan(outcomes=["granted"], continuous=["duration_days"], dimensions=["nationality"],
                  intersections=[["nationality", "represented"]], min_cell=150,
                  bootstrap_replicates=60)
    mapping = dict(zip(["MX", "GT", "HO", "CH", "RU"], names, strict=True))
    renamed = frame.assign(nationality=frame["nationality"].map(mapping))
    before = disparities(frame, config)
    after = disparities(renamed, config)

    def relabel(label: str) -> str:
        parts = label.split(INTERSECTION_SEPARATOR)
        return INTERSECTION_SEPARATOR.join([mapping.get(parts[0], parts[0]), *parts[1:]])

    key = lambda r: (r["outcome"], r["dimension"], r["period"], r["group"])  # noqa: E731
    expected = {key({**r, "group": relabel(r["group"])}): {**r, "group": relabel(r["group"]),
                                                           "reference": relabel(r["reference"])}
                for r in before}
    got = {key(r): r for r in after}
    assert expected.keys() == got.keys()
    for k, row in expected.items():
        for field, value in row.items():
            other = got[k][field]
            if isinstance(value, float):
                assert other == pytest.approx(value, rel=1e-9, abs=1e-11), (k, field)
            else:
                assert other == value, (k, field)


# --------------------------------------------------------------------------- suppression
def _solvable(cells: _Cells, hidden: np.ndarray) -> list[int]:
    """Independent check: hidden cell i is determined iff adding e_i to the system's hidden part
    does not raise its rank."""
    idx = np.flatnonzero(hidden)
    if not len(idx):
        return []
    col = {c: k for k, c in enumerate(idx)}
    rows = []
    for total, parts in cells.equations:
        v = np.zeros(len(idx))
        if total is not None and hidden[total]:
            v[col[total]] -= 1
        for p in parts:
            if hidden[p]:
                v[col[p]] += 1
        rows.append(v)
    a = np.array(rows)
    rank = np.linalg.matrix_rank(a)
    out = []
    for k, c in enumerate(idx):
        e = np.zeros(len(idx))
        e[k] = 1
        if np.linalg.matrix_rank(np.vstack([a, e])) == rank:
            out.append(int(c))
    return out


def test_single_small_cell_gets_a_complement():
    cells = _Cells([("d", "a"), ("d", "b"), ("d", "c")], np.array([10, 50, 80]), [(None, [0, 1, 2])])
    hidden = suppression_pattern(cells, 30)
    assert hidden.tolist() == [True, True, False]
    assert _solvable(cells, hidden) == []


def test_intersection_and_margins_protected():
    """A 3 x 2 intersection with its two one-way margins: no hidden cell can be solved."""
    tables = {
        "a": pd.DataFrame({"group": ["x", "y", "z"], "n": [400, 300, 60]}),
        "b": pd.DataFrame({"group": ["p", "q"], "n": [500, 260]}),
        "a x b": pd.DataFrame({"group": ["x / p", "x / q", "y / p", "y / q", "z / p", "z / q"],
                               "n": [250, 150, 200, 100, 50, 10]}),
    }
    cells = disparity._period_cells(tables, {"a x b": ("a", "b")})
    hidden = suppression_pattern(cells, 30)
    assert hidden[cells.keys.index(("a x b", "z / q"))]
    assert hidden.sum() >= 4  # its row and column complements, and theirs
    assert _solvable(cells, hidden) == []


@pytest.fixture(scope="module")
def suppressed_audit(tmp_path_factory):
    """An audit of the synthetic table with a large minimum cell, so that many cells are hidden."""
    from fairness_audit.report.render import write_report

    frame = synthetic_frame(6000, seed=13)
    config = plan(outcomes=["granted", "removal_ordered"], continuous=["duration_days"],
                  dimensions=["nationality", "represented", "custody"],
                  intersections=[["nationality", "represented"]], min_cell=400,
                  bootstrap_replicates=60)
    rows = disparities(frame, config)
    out = tmp_path_factory.mktemp("suppressed")
    results = {"schema_version": "1.1", "provenance": {"config": config.to_dict(), "inputs": [],
                                                       "versions": {}, "seed": 1, "created": "x"},
               "data": {"rows_in": len(frame), "rows_used": len(frame), "set_aside": {}, "ingest": {},
                        "workload": "-", "completions": "merits"},
               "family": {"method": "Benjamini-Hochberg", "tests": []}, "hypotheses": [],
               "models": [], "disparities": rows}
    from fairness_audit.results import validate_results

    validate_results(results)
    (out / "results.json").write_text(json.dumps(results))
    write_report(results, out)
    return frame, config, out


def test_suppression_in_every_output_file(suppressed_audit):
    frame, config, out = suppressed_audit
    results = json.loads((out / "results.json").read_text())
    with open(out / "tables" / "disparities.csv") as fh:
        csv_rows = list(csv.DictReader(fh))
    assert len(csv_rows) == len(results["disparities"])
    hidden_rows = [r for r in results["disparities"] if r["suppressed"]]
    assert hidden_rows, "the fixture must hide cells"
    for r, c in zip(results["disparities"], csv_rows, strict=True):
        if r["suppressed"]:
            for field in ("n", "value", "ci_low", "ci_high", "difference", "ratio", "p_value",
                          "adjusted_difference", "explained", "n_judges", "median"):
                assert r.get(field) is None, field
                assert c.get(field, "") == "", field
    data = frame[frame["in_window"]]
    for period, flag in disparity.PERIODS.items():
        part = data[data["post_policy"] == flag]
        for outcome in ("granted", "removal_ordered", "duration_days"):
            shown = {(r["dimension"], r["group"]): r for r in results["disparities"]
                     if r["outcome"] == outcome and r["period"] == period}
            # rebuild the tables' true sizes and structure, then ask what the published cells pin down
            tables = {}
            for dim in disparity.plan_dimensions(config, part.columns):
                name = disparity.dimension_name(dim)
                labels = disparity.dimension_labels(part, dim)
                sizes = labels.value_counts(sort=False)
                tables[name] = pd.DataFrame({"group": sizes.index.astype(str), "n": sizes.to_numpy()})
            cells = disparity._period_cells(tables, {"nationality x represented":
                                                     ("nationality", "represented")})
            hidden = np.array([shown[k]["suppressed"] for k in cells.keys])
            assert (cells.n[~hidden] >= config.disparities.min_cell).all()
            assert (cells.n[cells.n < config.disparities.min_cell] >= 0).all()
            assert hidden[cells.n < config.disparities.min_cell].all()
            assert _solvable(cells, hidden) == [], (period, outcome)
            for k, i in zip(cells.keys, range(len(cells.keys)), strict=True):
                if not hidden[i]:
                    assert shown[k]["n"] == cells.n[i]


# --------------------------------------------------------------------------- against the truth
def test_group_rate_intervals_cover_truth(planted_results, planted_table):
    """Fast sanity at a fixed seed: intervals of groups decided by >= 20 judges cover the rates
    conditional on the simulated judges (truth.json group_rates) in most cells."""
    results, _ = planted_results
    truth = json.loads(planted_table.with_name(planted_table.stem + ".truth.json").read_text())
    target = {(t["outcome"], t["dimension"], t["group"], t["period"]): t for t in truth["group_rates"]}
    covered = total = 0
    for r in results["disparities"]:
        t = target.get((r["outcome"], r["dimension"], r["group"], r["period"]))
        if t is None or r["suppressed"] or t["n_judges"] < 20:
            continue
        assert r["n"] == t["n"]
        total += 1
        covered += r["ci_low"] <= t["value"] <= r["ci_high"]
    assert total >= 50
    assert covered / total >= 0.85, (covered, total)


def test_h5_estimate_near_truth(planted_results, planted_table):
    results, _ = planted_results
    truth = json.loads(planted_table.with_name(planted_table.stem + ".truth.json").read_text())
    h5 = next(h for h in results["hypotheses"] if h["id"] == "H5")
    for t in h5["tests"]:
        target = truth["targets"]["H5"][t["term"]]
        assert t["scale"] == "percentage-points"
        assert abs(t["estimate"] - target) <= 3.5 * t["std_error"], (t["term"], t["estimate"], target)
