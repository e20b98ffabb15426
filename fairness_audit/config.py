"""The audit configuration: one frozen object, loaded from YAML, that travels through every stage.

The packaged ``configs/default.yaml`` is the default plan (identical to the repository's
``configs/default.yaml``). A user's file is validated against the same model; every error names
the key, what was expected and what was found.
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
from importlib import resources
from pathlib import Path
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from fairness_audit.errors import ConfigError

Role = Literal["primary", "placebo", "supporting", "robustness"]
Family = Literal["logit", "ols", "poisson"]
# the kinds of design check (contract section 6; fairness_audit/checks.py)
CheckKind = Literal["pre_trend", "anticipation", "placebo_term", "placebo_date", "shock_date",
                    "reversal", "guard"]
# columns a model may leave rows out by (ModelSpec.exclude)
ExcludeColumn = Literal["docket", "case_type"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Policy(_Frozen):
    start: dt.date = dt.date(2018, 10, 1)
    end: dt.date = dt.date(2021, 10, 1)
    memo: dt.date = dt.date(2018, 3, 30)


class Window(_Frozen):
    start: dt.date = dt.date(2016, 10, 1)
    end: dt.date = dt.date(2021, 10, 1)

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.end <= self.start:
            raise ValueError(f"window.end ({self.end}) must be after window.start ({self.start})")
        return self


class Features(_Frozen):
    quota_target: int = Field(700, gt=0)
    completions: Literal["merits", "all"] = "merits"
    intensity_window: tuple[int, int] = (2015, 2016)
    # a judge's fiscal year counts as complete for pre_policy_gap when the judge's first and
    # last completions fall within this many days of its first and last day (docs/features.md)
    complete_year_slack_days: int = Field(30, ge=0, le=180)


class OmittedVariable(_Frozen):
    """The omitted-variable sensitivity (sensitivity/omitted_variable.py; docs/models.md): for
    each test of one of ``roles`` that reads a linear model, the partial R2 of its term, its
    robustness values, and the bounds implied by an omitted variable k times (``multiples``) as
    strong as each benchmark control that the model has. ``roles: []`` turns it off."""

    roles: tuple[Role, ...] = ("primary", "supporting")
    benchmarks: tuple[str, ...] = ("detained",)
    multiples: tuple[float, ...] = (1.0, 2.0, 3.0)

    @model_validator(mode="after")
    def _distinct(self) -> OmittedVariable:
        for key in ("roles", "benchmarks", "multiples"):
            values = list(getattr(self, key))
            repeated = sorted({str(v) for i, v in enumerate(values) if v in values[:i]})
            if repeated:
                raise ValueError(f"{key}: expected distinct values, found {', '.join(repeated)} "
                                 f"more than once")
        bad = [m for m in self.multiples if not (m > 0 and math.isfinite(m))]
        if bad:
            raise ValueError(f"multiples: expected positive numbers (k in 'k times as strong as "
                             f"the benchmark'), found {bad}")
        if self.benchmarks and not self.multiples:
            raise ValueError("multiples: expected at least one multiple for the benchmarks "
                             f"{list(self.benchmarks)}, found none")
        return self


class Bootstrap(_Frozen):
    """Wild cluster bootstrap p-values of the tests that read linear models
    (models/wild_bootstrap.py; docs/models.md): the restricted wild cluster bootstrap with
    ``reps`` replicates and Webb's six-point (or Rademacher) weights by cluster, seeded from the
    plan's ``seed``. ``reps: 0`` turns it off. Verdicts keep the analytic p-values."""

    reps: int = Field(9999, ge=0)
    weights: Literal["webb", "rademacher"] = "webb"

    @model_validator(mode="after")
    def _enough(self) -> Bootstrap:
        # with B replicates the smallest p is 1 / (B + 1): fewer than 99 cannot reach 0.01
        if 0 < self.reps < 99:
            raise ValueError(f"reps: expected 0 (no bootstrap) or at least 99 replicates, found "
                             f"{self.reps}")
        return self


class Inference(_Frozen):
    alpha: float = Field(0.05, gt=0, lt=1)
    adjustment: Literal["bh", "holm"] = "bh"
    cluster: str = "judge_id"
    interval_level: float = Field(0.95, gt=0, lt=1)
    placebo_forces_inconclusive: bool = True
    # how a design check is judged (contract section 6): "relevance" fails a check only when its
    # deviation is significant and not shown to be small (its 1 - 2 alpha interval not inside
    # +/- check_margin x the test's sesoi); "significance" fails it whenever it is significant
    check_rule: Literal["relevance", "significance"] = "relevance"
    check_margin: float = Field(1.0, gt=0)
    # the level at which a primary test's guards must exclude zero (contract section 6):
    # "unadjusted" (each guard at alpha); "family" (the intersection-union p-value, the largest
    # of the test's and its guards' p-values, enters the multiple-testing adjustment in place of
    # the test's own p-value; docs/validation.md section 5 says why)
    guard_level: Literal["unadjusted", "family"] = "unadjusted"
    # wild cluster bootstrap p-values beside the analytic ones (linear models)
    bootstrap: Bootstrap = Bootstrap()
    # Cinelli-Hazlett omitted-variable sensitivity of the linear models' tested terms
    omitted_variable: OmittedVariable = OmittedVariable()


class ModelSpec(_Frozen):
    """One regression: outcome ~ terms | fixed effects, on the named sample filters."""

    family: Family
    outcome: str
    terms: tuple[str, ...]
    fixed_effects: tuple[str, ...] = ()
    sample: tuple[str, ...] = ()
    # CRV1 (default); CRV3, the leave-one-judge-out jackknife (linear models; see
    # models/jackknife.py for when CRV1 is too small); CR2, bias-reduced linearization (models
    # with fixed effects; models/bias_reduced.py: with court x month effects)
    cov_type: Literal["CRV1", "CRV3", "CR2"] = "CRV1"
    # the cluster of this model's standard errors (default: inference.cluster)
    cluster: str | None = None
    # decisions dated on or after this day are left out (e.g. 2020-03-01: before COVID)
    end: dt.date | None = None
    # rows left out by a column's value: a list of codes, or "all" for every non-null value
    # (docket: all = without special dockets)
    exclude: dict[ExcludeColumn, Literal["all"] | tuple[str, ...]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_samples(self) -> ModelSpec:
        # the filters are named in the models' module, which imports this one: read at run time
        from fairness_audit.models.design import SAMPLE_FILTERS

        for name in self.sample:
            if name not in SAMPLE_FILTERS:
                raise ValueError(f"sample names '{name}', which is not a sample filter; expected "
                                 f"one of {sorted(SAMPLE_FILTERS)}")
        if self.cov_type == "CRV3" and self.family != "ols":
            raise ValueError(f"cov_type CRV3 (the jackknife on cell means) is computed for linear "
                             f"models; found family '{self.family}': use CR2 or CRV1")
        if self.cov_type == "CR2" and not self.fixed_effects:
            raise ValueError("cov_type CR2 is computed for models with fixed effects; this model "
                             "has none: use CRV1")
        return self


class TestSpec(_Frozen):
    id: str
    role: Role
    model: str
    term: str
    concern_sign: Literal[-1, 1]
    sesoi: float = Field(gt=0)
    sesoi_reason: str
    # robustness tests of the same hypothesis that must also exclude zero with the concern's
    # sign for this (primary) test to be "consistent with the concern" (contract section 6)
    guards: tuple[str, ...] = ()


class HypothesisSpec(_Frozen):
    tests: tuple[TestSpec, ...]
    # analyses whose design checks (e.g. a pre-trend test) apply to this hypothesis
    checks: tuple[str, ...] = ()
    # the kinds of check that force the primary verdicts to "inconclusive" when they fail or
    # cannot be run; the others are reported and force nothing
    forcing_checks: tuple[CheckKind, ...] = ("pre_trend", "anticipation", "placebo_term", "guard")


class AnalysisSpec(_Frozen):
    """A design that is not one regression (event study, variance components): its ``kind``
    names a function registered in ``fairness_audit.hypotheses.ANALYSES``; ``options`` are
    passed to it as they are."""

    kind: str
    outcome: str
    options: dict[str, Any] = Field(default_factory=dict)


class Disparities(_Frozen):
    """Group metrics (fairness_audit.disparity): rates, gaps, adjusted gaps, suppression."""

    outcomes: tuple[str, ...] = ("granted",)
    # continuous outcomes: mean and median by group (e.g. duration_days, n_hearings)
    continuous: tuple[str, ...] = ()
    dimensions: tuple[str, ...] = ("represented", "custody", "nationality", "court_id")
    # intersections of two dimensions, e.g. [nationality, represented]; their margins are the
    # one-way tables of the two dimensions
    intersections: tuple[tuple[str, str], ...] = ()
    min_cell: int = Field(30, ge=1)
    # dimension -> reference group; default the largest group (ties: the first seen). An
    # intersection's reference is written "a / b" (e.g. "MX / yes")
    reference: dict[str, str] = Field(default_factory=dict)
    # judge-cluster bootstrap for group-rate intervals (judges resampled once per replicate)
    bootstrap_replicates: int = Field(499, ge=50)
    # regression-adjusted gaps and the Oaxaca-Blinder decomposition
    adjusted: bool = True
    adjusted_max_groups: int = Field(100, ge=1)


class RobustnessGrid(_Frozen):
    """The specification grid of the robustness plots (docs/models.md), off unless the plan has
    this key: for each hypothesis named, its primary model refitted with every combination of
    the fixed effects, samples and clusters listed (a dimension not listed keeps the primary
    model's own). Each combination is one more model fit."""

    hypotheses: tuple[str, ...]
    # alternatives of each dimension: lists of fixed effects, lists of sample filters, clusters
    fixed_effects: tuple[tuple[str, ...], ...] = ()
    samples: tuple[tuple[str, ...], ...] = ()
    cluster: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _alternatives(self) -> RobustnessGrid:
        # the filters are named in the models' module, which imports this one: read at run time
        from fairness_audit.models.design import SAMPLE_FILTERS

        if not self.hypotheses:
            raise ValueError("hypotheses: expected the ids of the hypotheses whose primary models "
                             "the grid refits (e.g. [H2]), found none")
        if not (self.fixed_effects or self.samples or self.cluster):
            raise ValueError("expected at least one of fixed_effects, samples or cluster (each a "
                             "list of alternatives), found none: the grid would hold only the "
                             "primary model")
        for key in ("hypotheses", "fixed_effects", "samples", "cluster"):
            values = [v if isinstance(v, str) else list(v) for v in getattr(self, key)]
            for i, value in enumerate(values):
                if value in values[:i]:
                    raise ValueError(f"{key} entry {i + 1} ({value!r}) repeats entry "
                                     f"{values.index(value) + 1}; expected distinct alternatives")
        for i, effects in enumerate(self.fixed_effects):
            for fe in effects:
                if not fe or any(not part or part != part.strip() for part in fe.split("^")):
                    raise ValueError(f"fixed_effects entry {i + 1}: expected column names, or "
                                     f"interactions written a^b, found {fe!r}")
        for i, filters in enumerate(self.samples):
            for name in filters:
                if name not in SAMPLE_FILTERS:
                    raise ValueError(f"samples entry {i + 1} names '{name}', which is not a "
                                     f"sample filter; expected one of {sorted(SAMPLE_FILTERS)}")
        for i, column in enumerate(self.cluster):
            if not column or column != column.strip():
                raise ValueError(f"cluster entry {i + 1}: expected a column name, found {column!r}")
        return self


class AuditConfig(_Frozen):
    seed: int = 20181001
    policy: Policy = Policy()
    window: Window = Window()
    features: Features = Features()
    inference: Inference = Inference()
    controls: tuple[str, ...] = ("represented", "detained", "juvenile", "asylum_application")
    fixed_effects: tuple[str, ...] = ("judge_id", "fiscal_year", "fiscal_month", "nationality",
                                      "case_type")
    models: dict[str, ModelSpec] = Field(default_factory=dict)
    analyses: dict[str, AnalysisSpec] = Field(default_factory=dict)
    hypotheses: dict[str, HypothesisSpec] = Field(default_factory=dict)
    disparities: Disparities = Disparities()
    # the specification grid of the robustness plots; None (the default): no grid
    robustness_grid: RobustnessGrid | None = None

    @model_validator(mode="after")
    def _grid_names_hypotheses(self) -> AuditConfig:
        grid = self.robustness_grid
        for hid in grid.hypotheses if grid is not None else ():
            if hid not in self.hypotheses:
                raise ValueError(f"robustness_grid.hypotheses: '{hid}' is not a hypothesis of "
                                 f"the plan; expected one of {sorted(self.hypotheses)}")
            for test in self.hypotheses[hid].tests:
                if test.role == "primary" and test.model not in self.models:
                    kind = self.analyses[test.model].kind if test.model in self.analyses else "?"
                    raise ValueError(
                        f"robustness_grid.hypotheses: {hid}'s primary test '{test.id}' reads "
                        f"analysis '{test.model}' (kind {kind}); expected a hypothesis whose "
                        f"primary tests read models of `models` (the grid refits a regression)")
        return self

    @model_validator(mode="after")
    def _benchmarks_are_regressors(self) -> AuditConfig:
        # a benchmark must be a control or a term of some model: a misspelt one would give
        # every sensitivity item "no benchmark" rather than an error
        known = set(self.controls) | {t for m in self.models.values() for t in m.terms}
        for name in self.inference.omitted_variable.benchmarks:
            if name not in known:
                near = difflib.get_close_matches(name, sorted(known), n=1)
                raise ValueError(f"inference.omitted_variable.benchmarks: '{name}' is neither a "
                                 f"control nor a term of a model"
                                 + (f"; did you mean '{near[0]}'?" if near else "")
                                 + f" (controls: {', '.join(self.controls) or 'none'})")
        return self

    @model_validator(mode="after")
    def _tests_name_models(self) -> AuditConfig:
        for hid, hyp in self.hypotheses.items():
            if not any(t.role == "primary" for t in hyp.tests):
                # a hypothesis' verdict is read from its primary tests alone (contract section 6)
                roles = ", ".join(f"'{t.role}'" for t in hyp.tests)
                raise ValueError(f"hypotheses.{hid}: expected at least one test with role "
                                 f"'primary', found {'roles ' + roles if roles else 'no tests'}")
            for name in hyp.checks:
                if name not in self.analyses:
                    raise ValueError(f"hypotheses.{hid}.checks: '{name}' is not in analyses "
                                     f"({sorted(self.analyses)})")
            for test in hyp.tests:
                if test.model in self.analyses:
                    continue
                if test.model not in self.models:
                    raise ValueError(
                        f"hypotheses.{hid}: test '{test.id}' names model '{test.model}', "
                        f"expected one of {sorted(self.models) + sorted(self.analyses)}"
                    )
                if test.term not in self.models[test.model].terms:
                    raise ValueError(
                        f"hypotheses.{hid}: test '{test.id}' tests term '{test.term}', which model "
                        f"'{test.model}' does not have (terms: {list(self.models[test.model].terms)})"
                    )
            by_id = {t.id: t for t in hyp.tests}
            for test in hyp.tests:
                if test.guards and test.role != "primary":
                    raise ValueError(f"hypotheses.{hid}: test '{test.id}' has guards, expected "
                                     f"guards on primary tests only (its role is '{test.role}')")
                for guard in test.guards:
                    if guard not in by_id or by_id[guard].role != "robustness":
                        robust = [t.id for t in hyp.tests if t.role == "robustness"]
                        raise ValueError(f"hypotheses.{hid}: test '{test.id}' names guard "
                                         f"'{guard}', expected a robustness test of {hid} "
                                         f"({robust or 'none'})")
                    if by_id[guard].concern_sign != test.concern_sign:
                        raise ValueError(f"hypotheses.{hid}: guard '{guard}' of '{test.id}' has "
                                         f"concern_sign {by_id[guard].concern_sign}, expected "
                                         f"{test.concern_sign} (the primary test's)")
        return self

    def to_dict(self) -> dict[str, Any]:
        """The resolved configuration, JSON-safe (dates as ISO strings)."""
        return self.model_dump(mode="json")


# what a pydantic error type expected, in the words of a plan's reader
_EXPECTED = {
    "float_parsing": "a number", "float_type": "a number", "int_parsing": "a whole number",
    "int_type": "a whole number", "int_from_float": "a whole number",
    "bool_parsing": "true or false", "bool_type": "true or false", "string_type": "text",
    "dict_type": "a mapping of options", "model_type": "a mapping of options",
    "model_attributes_type": "a mapping of options", "tuple_type": "a list",
    "list_type": "a list",
}
_BOUNDS = {"greater_than": ("gt", "greater than"), "greater_than_equal": ("ge", "at least"),
           "less_than": ("lt", "less than"), "less_than_equal": ("le", "at most")}


def _known_keys(loc: tuple) -> list[str]:
    """The option names allowed where ``loc`` ends (for "did you mean"); [] if free-form."""
    model: type[BaseModel] = AuditConfig
    parts = list(loc[:-1])
    while parts:
        field = model.model_fields.get(str(parts.pop(0)))
        if field is None:
            return []
        annotation = field.annotation
        if get_origin(annotation) in (Union, UnionType):  # an optional section: its options
            annotation = next(a for a in get_args(annotation) if a is not type(None))
        if get_origin(annotation) in (dict, tuple):  # a named entry or a list item: skip its key
            annotation = get_args(annotation)[-1 if get_origin(annotation) is dict else 0]
            if parts:
                parts.pop(0)
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return list(model.model_fields)


def _expected(err: dict[str, Any]) -> str:
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind in _EXPECTED:
        return _EXPECTED[kind]
    if kind in _BOUNDS:
        name, words = _BOUNDS[kind]
        return f"a number {words} {ctx.get(name)}"
    if kind == "literal_error":
        return f"one of {ctx.get('expected')}"
    if kind.startswith("date"):
        return "a date (YYYY-MM-DD)"
    return err["msg"].removeprefix("Input should be ")


def _format_error(source: str, exc: ValidationError) -> str:
    """One line for every problem of a plan: the key, what was expected and what was found."""
    problems = []
    # a misspelt key first: the required keys reported missing beside it are its consequence
    for err in sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden"):
        key = ".".join(str(p) for p in err["loc"])
        found = repr(err.get("input"))
        found = found if len(found) <= 60 else found[:57] + "..."
        if err["type"] == "extra_forbidden":
            known = _known_keys(err["loc"])
            near = difflib.get_close_matches(str(err["loc"][-1]), known, n=1)
            problems.append(f"key '{key}' is not a known option"
                            + (f"; did you mean '{near[0]}'?" if near else "")
                            + (f" (expected one of: {', '.join(known)})" if known else ""))
        elif err["type"] == "missing":
            problems.append(f"key '{key}' is required")
        elif err["type"] == "value_error":  # the plan's own rules: the message says it all
            text = err["msg"].removeprefix("Value error, ")
            problems.append(f"key '{key}': {text}" if key else text)
        else:
            problems.append(f"key '{key}': expected {_expected(err)}, found {found}")
    return f"{source}: " + "; ".join(problems)


def default_config_text() -> str:
    return resources.files("fairness_audit").joinpath("configs/default.yaml").read_text()


def parse_config(data: Any, source: str = "config") -> AuditConfig:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of options at the top level, found "
                          f"{type(data).__name__}")
    try:
        return AuditConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_error(source, exc)) from None


def read_yaml_mapping(path: str | Path, what: str) -> dict[str, Any]:
    """Read a YAML file that must hold a mapping of options; errors name the file and ``what``.

    An empty file is an empty mapping.
    """
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"{p}: {what} not found")
    try:
        data = yaml.safe_load(p.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: expected YAML, could not parse it ({' '.join(str(exc).split())})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: expected a mapping of options in the {what}, found "
                          f"{type(data).__name__}")
    return data


def load_config(path: str | Path | None = None) -> AuditConfig:
    """Load a configuration file, or the packaged default when ``path`` is None."""
    if path is None:
        return parse_config(yaml.safe_load(default_config_text()), "default config")
    return parse_config(read_yaml_mapping(path, "config file"), str(path))
