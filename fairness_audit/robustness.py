"""The robustness plot of a hypothesis: every specification the plan holds for its primary tests.

A referee's first question about a finding is whether it survives other reasonable choices. The
plan already answers part of it: each primary test has guards (robustness tests it lists under
``guards``), other robustness tests (the earlier fixed effects, H1's difference-in-differences
variants) and, for some, a supporting test of the same outcome and term on another scale (H2's
linear probability model). This module gathers them from the test rows, one panel per primary
test and reporting scale (log-odds and percentage points never share an axis), each panel sorted
by estimate, and names every other test of the hypothesis with the reason it is not a variant
(placebo terms; supporting tests of another outcome or term). The optional specification grid
(plan key ``robustness_grid``) refits each primary model over the cross product of alternative
fixed effects, samples and clusters and adds those fits to the panels (kind "grid").

The result is results.json ``hypotheses[].robustness_plot``; the figure is drawn from it alone
(``report/plots.py``). Labels come from the plan: the test id, and how the variant's model
differs from the primary test's (:func:`describe`), never words written here per test.

Example
-------
>>> plot = robustness_plot(config.hypotheses["H2"], rows, config)  # doctest: +SKIP
>>> [(p["primary_test"], p["scale"]) for p in plot["panels"]]  # doctest: +SKIP
[('H2.primary', 'log-odds'), ('H2.primary', 'percentage-points')]
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from fairness_audit.config import AnalysisSpec, AuditConfig, HypothesisSpec, ModelSpec, TestSpec
from fairness_audit.features import AnalysisFrame
from fairness_audit.hypotheses import fit_models, scale_of
from fairness_audit.progress import ProgressLike, as_progress

__all__ = ["KINDS", "GridCell", "describe", "fit_grid", "grid_cells", "robustness_plot",
           "variant_owner"]

#: the kinds of variant a panel holds, in the order the figure's legend lists them
KINDS = ("primary", "guard", "robustness", "supporting", "grid")


# ------------------------------------------------------------------------------ which tests
def _outcome(model: str, config: AuditConfig) -> str | None:
    spec = config.models.get(model) or config.analyses.get(model)
    return spec.outcome if spec is not None else None


def variant_owner(test: TestSpec, hyp: HypothesisSpec,
                  config: AuditConfig) -> tuple[TestSpec | None, str]:
    """The primary test whose panel ``test`` belongs to, and its kind there; or (None, why it is
    not a variant of a primary test).

    A primary test is its own; a robustness test belongs to the primary test that lists it as
    a guard, else to the primary test of its term, else (a different intensity, e.g. H1's
    below-target variant) to the only primary test, or the first of its outcome. A supporting
    test is a variant only when it reads a primary test's outcome and term (H2's linear
    probability model); placebo terms and supporting tests of another outcome or term are not.

    Example
    -------
    >>> hyp = load_config().hypotheses["H2"]  # doctest: +SKIP
    >>> variant_owner(next(t for t in hyp.tests if t.id == "H2.placebo"), hyp, config)  # doctest: +SKIP
    (None, 'placebo term: the slope before the policy, a design check')
    """
    primaries = [t for t in hyp.tests if t.role == "primary"]
    if test.role == "primary":
        return test, "primary"
    if test.role == "placebo":
        return None, "placebo term: the slope before the policy, a design check"
    outcome = _outcome(test.model, config)
    same_outcome = [p for p in primaries if _outcome(p.model, config) == outcome]
    if test.role == "supporting":
        owner = next((p for p in same_outcome if p.term == test.term), None)
        if owner is not None:
            return owner, "supporting"
        if not same_outcome:
            return None, f"supporting test of another outcome: {outcome}"
        return None, f"supporting test of another term: {test.term}"
    guarded = next((p for p in primaries if test.id in p.guards), None)
    if guarded is not None:
        return guarded, "guard"
    owner = next((p for p in primaries if p.term == test.term), None)
    if owner is None:
        owner = primaries[0] if len(primaries) == 1 or not same_outcome else same_outcome[0]
    return owner, "robustness"


# ------------------------------------------------------------------------------ labels
def _text(value: Any) -> str:
    """A plan value as it reads in a label: lists joined, mappings as key: value."""
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {_text(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(_text(v) for v in value)
    return str(value)


def _changed(what: str, mine: tuple[str, ...], theirs: tuple[str, ...]) -> str | None:
    """How a list of the plan (fixed effects, terms, sample filters) differs from the primary's."""
    added = [x for x in mine if x not in theirs]
    dropped = [x for x in theirs if x not in mine]
    if added and dropped:
        return f"{what} {', '.join(added)} instead of {', '.join(dropped)}"
    if added:
        return f"adds {what if len(added) > 1 else what[:-1]} {', '.join(added)}"
    if dropped:
        return f"without {what if len(dropped) > 1 else what[:-1]} {', '.join(dropped)}"
    return None


def _model_changes(spec: ModelSpec, base: ModelSpec, cluster: str) -> list[str]:
    changes = []
    if spec.family != base.family:
        changes.append(f"family {spec.family} instead of {base.family}")
    if spec.outcome != base.outcome:
        changes.append(f"outcome {spec.outcome}")
    changes += [c for c in (_changed("terms", spec.terms, base.terms),
                            _changed("fixed effects", spec.fixed_effects, base.fixed_effects),
                            _changed("sample filters", spec.sample, base.sample)) if c]
    if spec.end != base.end:
        changes.append(f"decisions before {spec.end}" if spec.end else "no end date")
    if spec.exclude != base.exclude:
        changes += [f"leaves out decisions with any {col}" if v == "all"
                    else f"leaves out {col} {_text(v)}"
                    for col, v in spec.exclude.items() if base.exclude.get(col) != v]
    if (spec.cluster or cluster) != (base.cluster or cluster):
        changes.append(f"clustered by {spec.cluster or cluster}")
    if spec.cov_type != base.cov_type:
        changes.append(f"{spec.cov_type} standard errors")
    return changes


def describe(model: str, base: str, config: AuditConfig,
             spec: ModelSpec | AnalysisSpec | None = None) -> str:
    """How the specification of ``model`` differs from that of ``base`` (the primary test's), in
    the plan's words: "H2_before_covid: decisions before 2020-03-01".

    Parameters
    ----------
    model, base
        Names of the plan's models or analyses.
    config
        The plan.
    spec
        The specification of ``model`` when it is not in the plan (a grid cell).

    Returns
    -------
    str
        ``"<model>: <changes>"``; for an analysis against a model, its kind and options.

    Example
    -------
    >>> describe("H2_fiscal_fe", "H2", load_config())  # doctest: +SKIP
    'H2_fiscal_fe: fixed effects fiscal_year, fiscal_month instead of court_id^calendar_month'
    """
    spec = spec or config.models.get(model) or config.analyses.get(model)
    other = config.models.get(base) or config.analyses.get(base)
    if model == base:
        return f"{model}: the primary specification"
    if isinstance(spec, ModelSpec) and isinstance(other, ModelSpec):
        changes = _model_changes(spec, other, config.inference.cluster)
        return f"{model}: {'; '.join(changes) if changes else f'the specification of {base}'}"
    if isinstance(spec, AnalysisSpec):
        same = isinstance(other, AnalysisSpec) and other.kind == spec.kind
        options = {k: v for k, v in spec.options.items()
                   if not (same and other.options.get(k) == v)}
        words = "; ".join(f"{k} {_text(v)}" for k, v in options.items())
        return f"{model} ({spec.kind}{'' if same else ' analysis'}): {words or 'its default options'}"
    return f"{model}: a model of the plan"


# ------------------------------------------------------------------------------ the grid
@dataclass(frozen=True)
class GridCell:
    """One model of the specification grid: the primary model ``base`` of ``hypothesis`` with
    the ``index``-th combination (1-based, in the order fixed effects x samples x clusters)."""

    hypothesis: str
    base: str
    index: int
    spec: ModelSpec

    @property
    def name(self) -> str:
        return f"{self.base}.grid.{self.index}"


def grid_cells(config: AuditConfig) -> list[GridCell]:
    """Every combination of the plan's ``robustness_grid`` for each primary model of the
    hypotheses it names; [] without a grid. A dimension the grid does not list keeps the
    primary model's own value.

    Example
    -------
    >>> [c.name for c in grid_cells(plan_with_grid)]  # doctest: +SKIP
    ['H2.grid.1', 'H2.grid.2', 'H2.grid.3', 'H2.grid.4']
    """
    grid = config.robustness_grid
    if grid is None:
        return []
    cells = []
    for hid in grid.hypotheses:
        primaries = [t.model for t in config.hypotheses[hid].tests if t.role == "primary"]
        for base in dict.fromkeys(primaries):
            spec = config.models[base]
            combos = itertools.product(grid.fixed_effects or (spec.fixed_effects,),
                                       grid.samples or (spec.sample,),
                                       grid.cluster or (spec.cluster or config.inference.cluster,))
            for k, (fe, sample, cluster) in enumerate(combos, start=1):
                cell = spec.model_copy(update={"fixed_effects": tuple(fe), "sample": tuple(sample),
                                               "cluster": cluster})
                cells.append(GridCell(hid, base, k, cell))
    return cells


def _normal(spec: ModelSpec, config: AuditConfig) -> ModelSpec:
    """``spec`` with its cluster written out, so that equal specifications compare equal."""
    return spec.model_copy(update={"cluster": spec.cluster or config.inference.cluster})


def _same_as(cell: GridCell, primary: TestSpec, config: AuditConfig) -> TestSpec | None:
    """The test of the plan (the primary one, or one of its variants) whose model is the cell's
    specification: that fit is not repeated."""
    hyp = config.hypotheses[cell.hypothesis]
    mine = _normal(cell.spec, config)
    for test in hyp.tests:
        if test.model not in config.models or test.term != primary.term:
            continue
        owner = variant_owner(test, hyp, config)[0]
        if owner is None or owner.id != primary.id:
            continue
        if _normal(config.models[test.model], config) == mine:
            return test
    return None


def fit_grid(frame: AnalysisFrame, config: AuditConfig, *,
             progress: ProgressLike = None) -> dict[str, list[dict[str, Any]]]:
    """Fit the plan's specification grid; {primary test id: its grid entries in cell order}.

    An entry is a variant (kind "grid", with the fit's estimate, interval, standard error,
    p-value and rows) or, for a cell whose specification is a model the plan already has for
    the test, ``{"test_id", "reason"}`` (that fit is not repeated). A cell that cannot be fitted
    is a variant without estimate whose ``problem`` says why. {} without ``robustness_grid``.

    Each fit is a stage "model <base>.grid.<k>" of ``audit --profile`` (its seconds); marginal
    effects are not computed for grid fits (the plot reads the coefficient).

    Example
    -------
    >>> fit_grid(frame, plan_with_grid)["H2.primary"][0]["kind"]  # doctest: +SKIP
    'grid'
    """
    cells = grid_cells(config)
    out: dict[str, list[dict[str, Any]]] = {}
    todo = []
    for cell in cells:
        for primary in (t for t in config.hypotheses[cell.hypothesis].tests
                        if t.role == "primary" and t.model == cell.base):
            same = _same_as(cell, primary, config)
            entry_id = f"{primary.id}.grid.{cell.index}"
            if same is not None:
                out.setdefault(primary.id, []).append({
                    "test_id": entry_id,
                    "reason": f"grid cell {cell.index} is the specification of {same.id}, model "
                              f"{same.model}: not fitted again"})
            else:
                out.setdefault(primary.id, []).append({"test_id": entry_id, "_cell": cell,
                                                       "_primary": primary})
                todo.append(cell)
    todo = list({c.name: c for c in todo}.values())
    if not todo:
        return out
    planned = config.model_copy(update={"models": {**config.models,
                                                   **{c.name: c.spec for c in todo}}})
    with as_progress(progress).task("specification grid", len(todo)) as task:
        fits = fit_models(frame, planned, {c.name for c in todo}, task=task)
    level = config.inference.interval_level
    for entries in out.values():
        for i, entry in enumerate(entries):
            if "_cell" in entry:
                entries[i] = _grid_variant(entry["test_id"], entry["_cell"], entry["_primary"],
                                           fits[entry["_cell"].name], config, level)
    return out


def _grid_variant(test_id: str, cell: GridCell, primary: TestSpec, outcome: Any,
                  config: AuditConfig, level: float) -> dict[str, Any]:
    scale, factor = scale_of(cell.spec)
    variant = {
        "test_id": test_id, "kind": "grid", "model": cell.name, "term": primary.term,
        "label": describe(cell.name, cell.base, config, cell.spec).replace(
            f"{cell.name}: ", f"grid {cell.index}: ", 1),
        "estimate": None, "ci_low": None, "ci_high": None, "sesoi": primary.sesoi,
        "scale": scale, "std_error": None, "p_value": None, "n_obs": None,
        "fixed_effects": list(cell.spec.fixed_effects), "sample": list(cell.spec.sample),
        "cluster": cell.spec.cluster, "problem": outcome.problem,
    }
    res = outcome.result
    if res is None:
        return variant
    table = res.to_frame(level).set_index("term")
    if primary.term not in table.index or not np.isfinite(table.loc[primary.term, "estimate"]):
        variant["problem"] = f"not estimable: {primary.term} (dropped by the engine)"
        return variant
    t = table.loc[primary.term]
    variant.update({"estimate": float(t["estimate"]) * factor,
                    "ci_low": float(t["ci_low"]) * factor, "ci_high": float(t["ci_high"]) * factor,
                    "std_error": float(t["std_error"]) * factor, "p_value": float(t["p_value"]),
                    "n_obs": int(res.n_obs), "warnings": list(res.warnings)})
    return variant


# ------------------------------------------------------------------------------ the plot
def _variant(row: dict[str, Any], kind: str, label: str) -> dict[str, Any]:
    return {"test_id": row["id"], "kind": kind, "model": row["model"], "term": row["term"],
            "label": label, "estimate": row["estimate"], "ci_low": row["ci_low"],
            "ci_high": row["ci_high"], "sesoi": row["sesoi"],
            "problem": None if row["estimate"] is not None else row["verdict_reason"]}


def _by_estimate(variant: dict[str, Any]) -> tuple[bool, float]:
    # estimates in increasing order; variants without one last, in the plan's order
    return variant["estimate"] is None, variant["estimate"] if variant["estimate"] is not None else 0.0


def robustness_plot(hyp: HypothesisSpec, rows: list[dict[str, Any]], config: AuditConfig,
                    grid: Mapping[str, list[dict[str, Any]]] | None = None) -> dict[str, Any] | None:
    """results.json ``robustness_plot`` of one hypothesis, from its test rows.

    Parameters
    ----------
    hyp
        The hypothesis of the plan.
    rows
        Its test rows (results.json ``tests``), one per test of ``hyp``.
    config
        The plan (labels and the assignment of tests to primary tests read it).
    grid
        :func:`fit_grid`'s entries, by primary test id (None: no grid).

    Returns
    -------
    dict or None
        ``{"panels": [{"scale", "primary_test", "term", "variants": [...]}], "left_out":
        [{"test_id", "reason"}]}``: one panel per primary test and scale, its variants sorted
        by estimate (none last); every test of ``hyp`` is in exactly one panel or in
        ``left_out``. None when the plan holds no variant besides the primary tests.

    Example
    -------
    >>> plot = robustness_plot(config.hypotheses["H7"], h7_rows, config)  # doctest: +SKIP
    >>> [v["kind"] for v in plot["panels"][0]["variants"]]  # doctest: +SKIP
    ['guard', 'primary', 'robustness', 'guard']
    """
    by_id = {r["id"]: r for r in rows}
    primaries = [t for t in hyp.tests if t.role == "primary"]
    panels: dict[tuple[str, str], dict[str, Any]] = {}
    left_out = []

    def panel(primary: TestSpec, scale: str) -> dict[str, Any]:
        key = (primary.id, scale or by_id[primary.id]["scale"])
        return panels.setdefault(key, {"scale": key[1], "primary_test": primary.id,
                                       "term": primary.term, "variants": []})

    for p in primaries:  # each primary test's own panel first
        panel(p, by_id[p.id]["scale"])
    for test in hyp.tests:
        owner, kind = variant_owner(test, hyp, config)
        if owner is None:
            left_out.append({"test_id": test.id, "reason": kind})
            continue
        row = by_id[test.id]
        label = describe(test.model, owner.model, config)
        if test.term != owner.term:  # another measure of the same effect (H1's below_target)
            label += f"; term {test.term}"
        panel(owner, row["scale"])["variants"].append(_variant(row, kind, label))
    for p in primaries:
        for entry in (grid or {}).get(p.id, []):
            if "kind" not in entry:
                left_out.append(entry)
                continue
            panel(p, entry["scale"])["variants"].append(
                {k: v for k, v in entry.items() if k != "scale"})
    out = [dict(p, variants=sorted(p["variants"], key=_by_estimate)) for p in panels.values()
           if p["variants"]]
    if not any(v["kind"] != "primary" for p in out for v in p["variants"]):
        return None
    return {"panels": out, "left_out": left_out}
