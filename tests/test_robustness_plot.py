"""The robustness plot of each hypothesis (fairness_audit/robustness.py, report/plots.py): which
tests of the plan are variants of which primary test, panels that never mix scales, variants
sorted by estimate with the primary test marked, labels from the plan, the figure written and
embedded with its caption, and the specification grid (its config errors, its cells, its fits,
its cost as the docs and the methods appendix state it)."""

from __future__ import annotations

import base64
import copy
import dataclasses
import importlib.util
import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from fairness_audit.audit import compute_results
from fairness_audit.config import AuditConfig, default_config_text, load_config, parse_config
from fairness_audit.errors import ConfigError, ModelWarning
from fairness_audit.models.design import build_design
from fairness_audit.models.regression import fit
from fairness_audit.report import plots
from fairness_audit.report.methods import GRID_SECONDS_PER_MODEL, methods
from fairness_audit.report.numbers import check_html
from fairness_audit.report.render import write_report
from fairness_audit.results import load_schema
from fairness_audit.robustness import fit_grid, grid_cells, robustness_plot
from fairness_audit.simulate import SimulationParams, simulate
from fairness_audit.tables import TablePaths, write_decision_data

ROOT = Path(__file__).resolve().parents[1]
FC = ["judge_id", "court_id^calendar_month", "nationality", "case_type"]
F = ["judge_id", "fiscal_year", "fiscal_month", "nationality", "case_type"]
SAMPLE = ["in_window", "has_quota_shortfall", "not_in_absentia"]

# the reporting scale of each test of the default plan, written out by hand (not derived by the
# code under test): percentage points for linear probability models and the timing designs on
# binary outcomes, counts for hearings and continuances
PP = {"H2.supporting.lpm", "H2.supporting.event_granted", "H2.supporting.event_removal",
      "H7.supporting.event_in_absentia"}
COUNT = {"H1.supporting.hearings", "H1.supporting.continuances"}


def _scale(test_id: str) -> str:
    if test_id in PP or test_id.startswith(("H5.", "H6.")):
        return "percentage-points"
    if test_id in COUNT:
        return "count"
    return "log-days" if test_id.startswith("H1.") else "log-odds"


def _rows(config: AuditConfig, hid: str, estimates: dict[str, float | None] | None = None) -> list[dict]:
    """Test rows of hypothesis ``hid`` as run_hypotheses writes them, with the estimates given
    (default: the test's position / 100), intervals of +/- 0.02 and the scales above."""
    rows = []
    for i, t in enumerate(config.hypotheses[hid].tests):
        est = (estimates or {}).get(t.id, (i + 1) / 100)
        rows.append({"id": t.id, "role": t.role, "model": t.model, "term": t.term,
                     "scale": _scale(t.id), "estimate": est,
                     "ci_low": None if est is None else est - 0.02,
                     "ci_high": None if est is None else est + 0.02, "sesoi": t.sesoi,
                     "verdict_reason": "not estimable: docket" if est is None else "reason"})
    return rows


def _membership(plot: dict) -> dict[tuple[str, str], set[str]]:
    return {(p["primary_test"], p["scale"]): {v["test_id"] for v in p["variants"]}
            for p in plot["panels"]}


# ------------------------------------------------------------------------------ which tests
def test_variants_of_the_default_plan():
    config = load_config()
    h2 = robustness_plot(config.hypotheses["H2"], _rows(config, "H2"), config)
    assert _membership(h2) == {
        ("H2.primary", "log-odds"): {"H2.primary", "H2.robustness.fiscal_fe", "H2.guard.before_covid",
                                     "H2.guard.without_special_dockets",
                                     "H2.supporting.duration_pressure"},
        ("H2.primary", "percentage-points"): {"H2.supporting.lpm"}}
    # (at least these: a plan may hold further supporting tests of other outcomes)
    assert {x["test_id"]: x["reason"] for x in h2["left_out"]}.items() >= {
        "H2.placebo": "placebo term: the slope before the policy, a design check",
        "H2.supporting.removal": "supporting test of another outcome: removal_ordered",
        "H2.supporting.duration": "supporting test of another term: log_duration",
        "H2.supporting.event_granted": "supporting test of another term: post_policy:pre_policy_gap",
        "H2.supporting.event_removal": "supporting test of another outcome: removal_ordered"}.items()

    h1 = robustness_plot(config.hypotheses["H1"], _rows(config, "H1"), config)
    assert _membership(h1) == {("H1.primary", "log-days"): {
        "H1.primary", "H1.robustness.below_target", "H1.robustness.nationality_quarter",
        "H1.robustness.before_covid", "H1.robustness.without_hiring_class",
        "H1.robustness.without_asylum"}}
    assert {x["test_id"] for x in h1["left_out"]} >= {"H1.supporting.hearings",
                                                      "H1.supporting.continuances"}
    assert all(x["reason"].startswith("supporting test of another ") for x in h1["left_out"])

    # H4: one panel per primary term (the four groups), each with its own three variants
    h4 = robustness_plot(config.hypotheses["H4"], _rows(config, "H4"), config)
    groups = ("unrepresented", "detained", "juvenile", "asylum_application")
    assert _membership(h4) == {(f"H4.primary.{g}", "log-odds"): {
        f"H4.primary.{g}", f"H4.robustness.fiscal_fe.{g}", f"H4.guard.before_covid.{g}",
        f"H4.guard.without_special_dockets.{g}"} for g in groups}
    assert [p["primary_test"] for p in h4["panels"]] == [f"H4.primary.{g}" for g in groups]
    assert h4["left_out"] == []

    h7 = robustness_plot(config.hypotheses["H7"], _rows(config, "H7"), config)
    assert _membership(h7) == {("H7.primary", "log-odds"): {
        "H7.primary", "H7.robustness.fiscal_fe", "H7.guard.before_covid",
        "H7.guard.without_special_dockets"}}
    # no variant besides the primary test: no plot
    for hid in ("H3", "H5", "H6"):
        assert robustness_plot(config.hypotheses[hid], _rows(config, hid), config) is None


def test_every_test_of_the_plan_is_in_one_panel_or_left_out_once():
    config = load_config()
    for hid, hyp in config.hypotheses.items():
        plot = robustness_plot(hyp, _rows(config, hid), config)
        if plot is None:
            continue
        shown = [v["test_id"] for p in plot["panels"] for v in p["variants"]]
        left = [x["test_id"] for x in plot["left_out"]]
        assert sorted(shown + left) == sorted(t.id for t in hyp.tests), hid
        assert len(set(shown + left)) == len(shown + left), hid


def test_panels_never_mix_scales_and_sort_by_estimate_with_the_primary_marked():
    config = load_config()
    estimates = {"H2.primary": -0.10, "H2.robustness.fiscal_fe": -0.05, "H2.guard.before_covid": -0.12,
                 "H2.guard.without_special_dockets": None, "H2.supporting.duration_pressure": -0.11,
                 "H2.supporting.lpm": -0.9}
    rows = _rows(config, "H2", estimates)
    plot = robustness_plot(config.hypotheses["H2"], rows, config)
    scale_of_row = {r["id"]: r["scale"] for r in rows}
    for p in plot["panels"]:
        assert {scale_of_row[v["test_id"]] for v in p["variants"]} == {p["scale"]}
    log_odds = plot["panels"][0]
    assert (log_odds["scale"], log_odds["term"]) == ("log-odds", "post_policy:quota_shortfall")
    # increasing estimates; the variant without one last
    assert [v["test_id"] for v in log_odds["variants"]] == [
        "H2.guard.before_covid", "H2.supporting.duration_pressure", "H2.primary",
        "H2.robustness.fiscal_fe", "H2.guard.without_special_dockets"]
    kinds = {v["test_id"]: v["kind"] for v in log_odds["variants"]}
    assert kinds == {"H2.guard.before_covid": "guard", "H2.supporting.duration_pressure": "supporting",
                     "H2.primary": "primary", "H2.robustness.fiscal_fe": "robustness",
                     "H2.guard.without_special_dockets": "guard"}
    last = log_odds["variants"][-1]
    assert (last["estimate"], last["ci_low"], last["problem"]) == (None, None, "not estimable: docket")
    first = log_odds["variants"][0]
    assert (first["estimate"], first["ci_low"], first["ci_high"], first["sesoi"]) == \
        (-0.12, pytest.approx(-0.14), pytest.approx(-0.10), 0.05)
    assert [v["kind"] for v in plot["panels"][1]["variants"]] == ["supporting"]
    definitions = load_schema()["$defs"]
    jsonschema.validate(plot, {"$ref": "#/$defs/robustness_plot", "$defs": definitions})


def test_labels_come_from_the_plan():
    config = load_config()
    labels = {v["test_id"]: v["label"]
              for hid in ("H1", "H2") for p in robustness_plot(config.hypotheses[hid],
                                                               _rows(config, hid), config)["panels"]
              for v in p["variants"]}
    assert labels["H2.primary"] == "H2: the primary specification"
    assert labels["H2.guard.before_covid"] == "H2_before_covid: decisions before 2020-03-01"
    assert labels["H2.guard.without_special_dockets"] == \
        "H2_without_special_dockets: leaves out decisions with any docket"
    assert labels["H2.robustness.fiscal_fe"] == \
        "H2_fiscal_fe: fixed effects fiscal_year, fiscal_month instead of court_id^calendar_month"
    assert labels["H2.supporting.duration_pressure"] == "H2_duration: adds term log_duration"
    assert labels["H2.supporting.lpm"] == "H2_lpm: family ols instead of logit"
    assert labels["H1.robustness.below_target"] == \
        "H1_did_below_target (did analysis): intensity below_target; term post_policy:below_target"
    assert labels["H1.robustness.before_covid"] == "H1_did_before_covid (did analysis): end 2020-03-01"

    plan = yaml.safe_load(default_config_text())
    plan["models"]["H2_before_covid"]["end"] = "2020-06-01"
    changed = parse_config(plan)
    plot = robustness_plot(changed.hypotheses["H2"], _rows(changed, "H2"), changed)
    label = next(v["label"] for v in plot["panels"][0]["variants"]
                 if v["test_id"] == "H2.guard.before_covid")
    assert label == "H2_before_covid: decisions before 2020-06-01"


# ------------------------------------------------------------------------------ the figure
def test_the_figure_has_one_panel_per_panel_in_the_order_of_the_variants(monkeypatch, tmp_path):
    config = load_config()
    h4 = {"id": "H4", "robustness_plot": robustness_plot(
        config.hypotheses["H4"], _rows(config, "H4", {"H4.primary.detained": None}), config)}
    drawn = {}

    def keep(fig, path, **options):
        drawn["fig"] = fig
        return path

    monkeypatch.setattr(plots, "save", keep)
    assert plots.robustness_figure(h4, tmp_path / "H4_robustness.png", "90%") is not None
    axes = drawn["fig"].axes
    panels = h4["robustness_plot"]["panels"]
    assert len(axes) == len(panels) == 4
    for ax, p in zip(axes, panels, strict=True):
        ticks = [t.get_text().split("\n")[0] for t in ax.get_yticklabels()]
        # the first variant (smallest estimate) is drawn on top, i.e. at the last tick
        assert ticks == [f"{v['test_id']} ({v['kind']})" for v in reversed(p["variants"])]
        bold = [t.get_text().split("\n")[0] for t in ax.get_yticklabels() if t.get_fontweight() == "bold"]
        primary = next(v for v in p["variants"] if v["kind"] == "primary")
        assert bold == [f"{primary['test_id']} (primary)"]
    # one scale: its axis label under the last panel only
    assert [ax.get_xlabel() for ax in axes] == ["", "", "", "log-odds: estimate with 90% interval"]
    # the detained panel's primary test has no estimate: it is said, not drawn
    texts = [t.get_text() for t in axes[1].texts]
    assert texts == ["not estimable: not estimable: docket"]
    # panels of one scale share their range
    assert len({ax.get_xlim() for ax in axes}) == 1
    assert plots.robustness_figure({"id": "H3"}, tmp_path / "H3_robustness.png") is None


def test_labels_from_the_plan_are_drawn_as_plain_text(tmp_path):
    """A plan's test ids and labels are the plan author's text: a $ is not mathematics (an
    unbalanced one would stop matplotlib), a tab or newline is a space."""
    variant = {"test_id": "H2.$x^$\tprimary", "kind": "primary", "model": "H2", "term": "a$b",
               "label": "H2$: {<script>}\n", "estimate": 0.1, "ci_low": 0.0, "ci_high": 0.2,
               "sesoi": 0.05, "problem": None}
    h = {"id": "H2", "robustness_plot": {"panels": [
        {"scale": "log-odds", "primary_test": "H2.$x^$", "term": "a$b",
         "variants": [variant, {**variant, "test_id": "H2.r$", "kind": "robustness",
                                "estimate": None, "problem": "not estimable: $"}]}],
        "left_out": []}}
    path = plots.robustness_figure(h, tmp_path / "H2_robustness.png")
    assert path.stat().st_size > 1000 and path.with_suffix(".svg").exists()


# ------------------------------------------------------------------------------ the grid
def _grid_plan(**grid) -> dict:
    plan = yaml.safe_load(default_config_text())
    plan["robustness_grid"] = grid
    return plan


@pytest.mark.parametrize(("grid", "message"), [
    ({"hypotheses": ["H9"], "cluster": ["court_id"]},
     r"robustness_grid.hypotheses: 'H9' is not a hypothesis of the plan; expected one of \['H1'"),
    ({"hypotheses": ["H6"], "cluster": ["court_id"]},
     r"robustness_grid.hypotheses: H6's primary test 'H6.primary' reads analysis 'H6' \(kind "
     r"judge_variance\); expected a hypothesis whose primary tests read models"),
    ({"hypotheses": ["H2"]}, r"key 'robustness_grid': expected at least one of fixed_effects, "
                             r"samples or cluster"),
    ({"hypotheses": [], "cluster": ["court_id"]}, r"key 'robustness_grid': hypotheses: expected the "
                                                  r"ids of the hypotheses"),
    ({"cluster": ["court_id"]}, r"key 'robustness_grid.hypotheses' is required"),
    ({"hypotheses": ["H2"], "samples": [SAMPLE, ["in_window", "in_windw"]]},
     r"key 'robustness_grid': samples entry 2 names 'in_windw', which is not a sample filter; "
     r"expected one of \['board_decided'"),
    ({"hypotheses": ["H2"], "cluster": ["judge_id", "judge_id"]},
     r"key 'robustness_grid': cluster entry 2 \('judge_id'\) repeats entry 1"),
    ({"hypotheses": ["H2"], "fixed_effects": [FC, ["judge_id", "court_id^"]]},
     r"key 'robustness_grid': fixed_effects entry 2: expected column names, or interactions "
     r"written a\^b, found 'court_id\^'"),
    ({"hypotheses": ["H2"], "clusters": ["court_id"]},
     r"key 'robustness_grid.clusters' is not a known option; did you mean 'cluster'\?"),
    ({"hypotheses": ["H2"], "fixed_effects": ["judge_id"]},
     r"key 'robustness_grid.fixed_effects.0': expected a list, found 'judge_id'"),
])
def test_grid_config_errors_name_the_key(grid, message):
    with pytest.raises(ConfigError, match=message):
        parse_config(_grid_plan(**grid), "plan.yaml")


def test_the_grid_example_of_the_docs_is_a_valid_plan():
    text = (ROOT / "docs" / "models.md").read_text()
    block = re.search(r"```yaml\n(robustness_grid:.*?)```", text, re.DOTALL).group(1)
    plan = yaml.safe_load(default_config_text())
    plan.update(yaml.safe_load(block))
    config = parse_config(plan, "docs/models.md")
    assert len(grid_cells(config)) == 8
    assert config.robustness_grid.samples[1][-1] == "no_asylum_application"


def test_the_grid_is_off_by_default_and_its_cells_are_the_cross_product():
    assert load_config().robustness_grid is None
    assert grid_cells(load_config()) == []
    config = parse_config(_grid_plan(hypotheses=["H2", "H4"], fixed_effects=[FC, F],
                                     cluster=["judge_id", "court_id"]))
    cells = grid_cells(config)
    assert [c.name for c in cells] == [f"{m}.grid.{k}" for m in ("H2", "H4") for k in (1, 2, 3, 4)]
    # fixed effects vary slowest, clusters fastest; the sample is the primary model's own
    assert [(list(c.spec.fixed_effects), c.spec.cluster) for c in cells[:4]] == \
        [(FC, "judge_id"), (FC, "court_id"), (F, "judge_id"), (F, "court_id")]
    assert {c.spec.sample for c in cells} == {tuple(SAMPLE)}
    assert {c.spec.end for c in cells} == {None}


def test_grid_cells_the_plan_already_fits_are_not_fitted_again():
    # FC with the judge cluster is H2 itself, F is H2_fiscal_fe: nothing is left to fit, so the
    # frame is never read
    config = parse_config(_grid_plan(hypotheses=["H2"], fixed_effects=[FC, F]))
    assert fit_grid(None, config) == {"H2.primary": [
        {"test_id": "H2.primary.grid.1",
         "reason": "grid cell 1 is the specification of H2.primary, model H2: not fitted again"},
        {"test_id": "H2.primary.grid.2",
         "reason": "grid cell 2 is the specification of H2.robustness.fiscal_fe, model "
                   "H2_fiscal_fe: not fitted again"}]}


def test_methods_appendix_states_the_grid_from_the_plan():
    plan = load_config().to_dict()
    text = ["".join(str(p.value if hasattr(p, "value") else p) for p in item.text)
            for item in methods({"provenance": {"config": plan}}).inference
            if item.label == "specification grid"]
    assert text == ["not in the plan (robustness_grid): the plots show the plan's own "
                    "specifications."]
    plan["robustness_grid"] = {"hypotheses": ["H2", "H4"], "fixed_effects": [FC, F],
                               "samples": [], "cluster": ["judge_id", "court_id"]}
    results = {"provenance": {"config": plan}, "hypotheses": [{"robustness_plot": {"panels": [
        {"variants": [{"model": "H2.grid.2", "kind": "grid"}, {"model": "H2", "kind": "primary"},
                      {"model": "H2.grid.4", "kind": "grid"}]}]}}]}
    (grid,) = [item for item in methods(results).inference if item.label == "specification grid"]
    words = "".join(str(p.value if hasattr(p, "value") else p) for p in grid.text)
    assert words.startswith(
        "For H2 and H4, each primary model (H2 and H4) refitted with every combination of fixed "
        "effects (judge_id, court_id^calendar_month, nationality, case_type) or (judge_id, "
        "fiscal_year, fiscal_month, nationality, case_type); clusters judge_id or court_id (its "
        "own sample filters): 4 combinations per primary model, 8 in all.")
    assert f"this audit fitted 2, each about as costly as one fit of the primary model (about " \
           f"{GRID_SECONDS_PER_MODEL} s per model on the demo court" in words


def test_docs_and_methods_quote_the_grid_benchmark():
    spec = importlib.util.spec_from_file_location("bench_grid", ROOT / "benchmarks" / "bench_grid.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    result = json.loads((ROOT / "benchmarks" / "results" / "bench_grid.json").read_text())
    assert bench.markdown(result) in (ROOT / "docs" / "models.md").read_text()
    assert (ROOT / "benchmarks" / "results" / "bench_grid.md").read_text() == bench.markdown(result)
    assert result["seconds_per_model"] == GRID_SECONDS_PER_MODEL


# ------------------------------------------------------------------------------ an audit
def _small_plan() -> AuditConfig:
    """H2 with its guards, the fiscal-year variant, the placebo and the linear probability
    model, and a grid of two samples x two sets of fixed effects: a 2-court audit."""
    base = load_config().to_dict()
    keep = ("H2", "H2_lpm", "H2_fiscal_fe", "H2_before_covid", "H2_without_special_dockets")
    base["models"] = {k: base["models"][k] for k in keep}
    base["analyses"] = {}
    base["hypotheses"] = {"H2": {**base["hypotheses"]["H2"], "tests": [
        t for t in base["hypotheses"]["H2"]["tests"] if t["model"] in keep]}}
    base["disparities"].update(outcomes=["granted"], continuous=[], dimensions=["represented"],
                               intersections=[], bootstrap_replicates=50, adjusted=False)
    # what this file does not test is off, so that the audit stays small (the bootstrap and the
    # omitted-variable bounds, where the plan has them)
    base["inference"].get("bootstrap", {}).update(reps=0)
    base["inference"].get("omitted_variable", {}).update(roles=[])
    base["robustness_grid"] = {"hypotheses": ["H2"], "fixed_effects": [FC, F],
                               "samples": [SAMPLE, [*SAMPLE, "no_asylum_application"]]}
    return AuditConfig.model_validate(base)


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    root = tmp_path_factory.mktemp("robustness")
    sim = simulate(dataclasses.replace(SimulationParams(), n_courts=2), seed=4)
    paths = TablePaths.from_path(root / "data" / "court.parquet")
    paths.decisions.parent.mkdir(parents=True)
    write_decision_data(paths, sim.decisions, sim.workload, sim.ledger, sim.metadata)
    config = _small_plan()
    results = json.loads(json.dumps(compute_results(paths.decisions, config)))  # schema-checked
    out = root / "report"
    write_report(results, out, pdf=False)
    return results, config, paths, out


def test_the_audit_writes_the_plot_with_the_grid(audited):
    results, config, paths, _ = audited
    (h2,) = results["hypotheses"]
    plot = h2["robustness_plot"]
    log_odds, pp = plot["panels"]
    assert (log_odds["scale"], pp["scale"]) == ("log-odds", "percentage-points")
    assert {v["test_id"]: v["kind"] for v in log_odds["variants"]} == {
        "H2.primary": "primary", "H2.robustness.fiscal_fe": "robustness",
        "H2.guard.before_covid": "guard", "H2.guard.without_special_dockets": "guard",
        "H2.primary.grid.2": "grid", "H2.primary.grid.4": "grid"}
    assert [v["test_id"] for v in pp["variants"]] == ["H2.supporting.lpm"]
    estimates = [v["estimate"] for v in log_odds["variants"] if v["estimate"] is not None]
    assert estimates == sorted(estimates)
    assert [x["test_id"] for x in plot["left_out"]] == ["H2.placebo", "H2.primary.grid.1",
                                                        "H2.primary.grid.3"]
    # each test row's numbers, as the tests table has them
    rows = {t["id"]: t for t in h2["tests"]}
    for v in log_odds["variants"] + pp["variants"]:
        if v["kind"] != "grid":
            assert (v["estimate"], v["ci_low"], v["ci_high"]) == \
                (rows[v["test_id"]]["estimate"], rows[v["test_id"]]["ci_low"],
                 rows[v["test_id"]]["ci_high"])
    # a grid fit is the primary model on the cell's sample, fitted here on its own
    grid4 = next(v for v in log_odds["variants"] if v["test_id"] == "H2.primary.grid.4")
    assert grid4["label"] == ("grid 4: fixed effects fiscal_year, fiscal_month instead of "
                              "court_id^calendar_month; adds sample filter no_asylum_application")
    spec = config.models["H2"].model_copy(update={"fixed_effects": tuple(F),
                                                  "sample": (*SAMPLE, "no_asylum_application")})
    from fairness_audit.features import build_frame
    from fairness_audit.schema import coerce_decisions
    from fairness_audit.tables import read_decision_data

    data = read_decision_data(paths.decisions)
    frame = build_frame(coerce_decisions(data.decisions)[0], data.workload, config,
                        coverage_start=data.metadata.get("coverage_start"))
    with pytest.warns(ModelWarning):  # 10 judges; asylum_application is constant in this sample
        res = fit(build_design(frame.data, spec), name="check", level=0.95)
    table = res.to_frame(0.95).set_index("term").loc["post_policy:quota_shortfall"]
    assert grid4["estimate"] == pytest.approx(table["estimate"], rel=1e-9)
    assert (grid4["ci_low"], grid4["ci_high"]) == (pytest.approx(table["ci_low"], rel=1e-9),
                                                   pytest.approx(table["ci_high"], rel=1e-9))
    assert grid4["n_obs"] == res.n_obs and grid4["cluster"] == "judge_id"
    # the fit's notes travel with it, as a model's do
    assert any("only 10 judge clusters" in w for w in grid4["warnings"])
    # grid fits are not models of appendix A
    assert not any(".grid." in m["name"] for m in results["models"])


def test_the_figure_is_written_and_embedded_with_its_caption(audited):
    results, _, _, out = audited
    png = out / "figures" / "H2_robustness.png"
    assert png.stat().st_size > 10_000 and png.with_suffix(".svg").exists()
    html = (out / "report.html").read_text()
    part = html[html.index('id="hypothesis-H2"'):html.index("<h3>Sensitivity</h3>")]
    robustness = part[part.index("<h3>Robustness and supporting evidence</h3>"):]
    encoded = base64.b64encode(png.read_bytes()).decode()
    assert html.count(encoded) == 1 and encoded in robustness
    caption = re.sub(r"<[^>]+>", "", robustness[robustness.index("<figcaption"):
                                                robustness.index("</figcaption>")])
    assert "Robustness plot: every specification the plan holds for the primary test of H2" in caption
    assert "and the models of the specification grid" in caption
    assert "each with its 95% interval, sorted by estimate" in caption
    assert ("Not shown (not variants of the primary test, or a grid model the plan already fits): "
            "H2.placebo (placebo term: the slope "
            "before the policy, a design check); H2.primary.grid.1 (grid cell 1 is the "
            "specification of H2.primary, model H2: not fitted again)") in caption
    assert check_html(html, results) == []
    md = (out / "report.md").read_text()
    assert md.count("![Robustness plot of H2](figures/H2_robustness.png)") == 1
    assert "![H2_robustness]" not in md
    replication = (out / "REPLICATION.md").read_text()
    assert "robustness plot: every specification of the primary tests" in replication


def test_no_plot_no_figure(audited, tmp_path):
    results = copy.deepcopy(audited[0])
    del results["hypotheses"][0]["robustness_plot"]
    write_report(results, tmp_path, pdf=False)
    assert not (tmp_path / "figures" / "H2_robustness.png").exists()
    assert "Robustness plot" not in (tmp_path / "report.html").read_text()
