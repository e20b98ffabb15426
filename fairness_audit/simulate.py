"""A simulated court system with planted effects, for validating the audit.

The generating process follows the primary specifications of contract section 5, so that each
tested term has a known target (written to ``<stem>.truth.json``):

* Judges sit in courts, each with a leniency (logit scale) and a pace of 300-1000 completions a
  year. Pace is correlated with leniency (slow judges are stricter): a design without judge
  fixed effects mistakes that for a pressure effect.
* Each judge's completions are simulated day by day, in date order, so that ``quota_shortfall``
  is exactly the contract's feature; after the policy date judges behind the target speed up.
* Cases are assigned at random among a court's judges; case mix (nationality, detention,
  case type) differs by court. Covariate effects follow the sizes in due-process-audit.md.
* Outcomes, in order: in absentia (H7's logit), grant among the rest (H4's logit, which
  contains H2's terms and the group interactions), the other outcomes, duration (H1's linear
  model on log duration), hearings and continuances, appeal and remand (H3's logit).

``--null`` sets every tested term of H1-H5 and H7 to zero (and holds the grant baseline flat
across years, so that the representation gap in percentage points cannot change mechanically);
group gaps and judge spread keep their values.

``scenario`` (:mod:`fairness_audit.scenarios`) adds the deviations of a stress scenario to this
process: judges' drift, court shocks and special dockets, dockets that feed back into pressure,
or the national size. The expected outcomes are kept for three worlds of the same draw: with the
scenario (the targets), with the planted effects alone (no scenario), and with neither, so that
truth.json can keep each model's pseudo-true target apart from the causal effect planted.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit

from fairness_audit.features import (
    Workload,
    coverage_start_day,
    fiscal_year_of_day,
    pre_policy_gap,
    to_day,
)
from fairness_audit.ledger import Ledger
from fairness_audit.progress import ProgressLike, Task, as_progress
from fairness_audit.scenarios import check_scenario, draw_stress, resolve_size

GROUPS = ("unrepresented", "detained", "juvenile", "asylum_application")

# nationality code: (share, grant log-odds effect, language, asylum share)
NATIONALITIES: dict[str, tuple[float, float, str, float]] = {
    "MX": (0.22, -1.4, "SP", 0.25),
    "GT": (0.14, -0.6, "SP", 0.55),
    "HO": (0.12, -0.7, "SP", 0.55),
    "ES": (0.12, -0.5, "SP", 0.60),
    "CH": (0.06, 0.9, "MAN", 0.80),
    "IN": (0.05, 0.2, "PUN", 0.75),
    "VE": (0.04, 0.7, "SP", 0.80),
    "CU": (0.03, 0.5, "SP", 0.60),
    "HA": (0.04, -0.2, "CRE", 0.60),
    "EC": (0.04, -0.4, "SP", 0.50),
    "BR": (0.03, -0.3, "POR", 0.40),
    "NI": (0.03, 0.0, "SP", 0.55),
    "CO": (0.03, 0.3, "SP", 0.55),
    "RU": (0.02, 0.8, "RUS", 0.80),
    "CM": (0.03, 0.6, "FRE", 0.85),
}
CASE_TYPES = {"RMV": 0.93, "DEP": 0.04, "EXC": 0.03}


@dataclass(frozen=True)
class SimulationParams:
    """Every parameter of the generating process; documented in docs/simulator.md."""

    n_courts: int = 8
    judges_per_court: int = 5
    first_fiscal_year: int = 2014
    last_fiscal_year: int = 2021
    policy_start: str = "2018-10-01"
    policy_end: str = "2021-10-01"
    effect_start: str = "2018-10-01"  # earlier than policy_start = anticipation
    release_date: str = "2022-06-30"  # appeals decided after this are still pending
    # judges
    pace_mean: float = 650.0
    pace_sd: float = 180.0
    pace_min: float = 300.0
    pace_max: float = 1000.0
    leniency_sd: float = 1.0  # judge spread within a court (logit scale)
    pace_leniency_corr: float = 0.6  # slow judges stricter: the confounder
    court_sd: float = 0.3
    share_joining_late: float = 0.15  # judges who start between FY2017 and FY2021
    administrative_share: float = 0.15
    speedup_per_hundred: float = 0.15  # post-policy pace rises with shortfall
    speedup_cap: float = 1.6
    # case mix
    detained_share_range: tuple[float, float] = (0.10, 0.45)
    represented_if_detained: float = 0.30
    represented_if_free: float = 0.75
    juvenile_share: float = 0.07
    # in absentia (H7 logit)
    ia_intercept: float = -1.2
    ia_represented: float = -1.6
    ia_detained: float = -3.0
    ia_juvenile: float = 0.3
    ia_asylum: float = -1.0
    ia_judge_sd: float = 0.3
    ia_shortfall: float = 0.0  # placebo term: 0
    ia_post_shortfall: float = 0.15  # H7 primary
    # grant (H4 logit; H2's terms are its first two)
    grant_intercept: float = -1.6
    grant_represented: float = 1.5
    grant_detained: float = -0.5
    grant_juvenile: float = 0.3
    grant_asylum: float = 0.4
    grant_shortfall: float = 0.0  # placebo term: 0
    grant_post_shortfall: float = -0.12  # H2 primary (and H4's reference-group slope)
    grant_year_effects: dict[int, float] = field(
        default_factory=lambda: {2019: -0.15, 2020: -0.30, 2021: -0.30})
    group_shortfall: dict[str, float] = field(
        default_factory=lambda: {g: 0.0 for g in GROUPS})  # quota_shortfall:g
    group_post: dict[str, float] = field(
        # -0.5: the representation gap widens by about 1.7 points after the quota (H5), net of
        # the general decline in grants, which narrows gaps in percentage points
        default_factory=lambda: {"unrepresented": -0.5, "detained": 0.0, "juvenile": 0.0,
                                 "asylum_application": 0.0})  # post_policy:g
    group_post_shortfall: dict[str, float] = field(
        default_factory=lambda: {"unrepresented": -0.10, "detained": 0.0, "juvenile": 0.0,
                                 "asylum_application": 0.0})  # post_policy:quota_shortfall:g
    other_outcome_shares: dict[str, float] = field(
        default_factory=lambda: {"removal": 0.80, "voluntary_departure": 0.10,
                                 "termination": 0.07, "other": 0.03})
    # duration (H1 linear model on log duration)
    duration_intercept: float = 0.4
    duration_detained: float = -1.6
    duration_represented: float = 0.3
    duration_asylum: float = 0.4
    duration_juvenile: float = 0.2
    duration_judge_sd: float = 0.2
    duration_court_quarter_sd: float = 0.1
    duration_noise_sd: float = 0.5
    duration_post_gap: float = -0.08  # H1 primary: per hundred cases of pre-policy gap
    hearings_base: float = 0.3
    hearings_duration: float = 0.6
    hearings_post_gap: float = -0.05
    continuance_share: float = 0.4
    continuance_post_gap: float = -0.10
    # appeal and remand (H3 logit)
    appeal_rate: dict[str, float] = field(
        default_factory=lambda: {"removal": 0.25, "grant": 0.08, "voluntary_departure": 0.03,
                                 "termination": 0.05, "other": 0.05, "in_absentia": 0.02})
    board_lag_days: tuple[int, int] = (120, 900)
    remand_intercept: float = -2.0
    remand_log_duration: float = -0.3  # H3 primary: shorter cases remanded more
    remand_shortfall: float = 0.0
    remand_post_shortfall: float = 0.10  # H3 supporting
    remand_represented: float = 0.2
    remand_detained: float = -0.3
    remand_juvenile: float = 0.0
    remand_asylum: float = 0.3
    remand_judge_sd: float = 0.3
    # stress scenarios (fairness_audit/scenarios.py, docs/simulator.md): none, drift, shocks,
    # feedback, national; "none" is the process above
    scenario: str = "none"
    # drift (and national): per year from policy_start, per 100 cases of the judge's pre-policy
    # gap; each below a tenth of its test's smallest effect of interest (0.05)
    drift_duration: float = -0.0049  # log-days (H1)
    drift_grant: float = -0.0049  # log-odds (H2)
    drift_in_absentia: float = 0.0049  # log-odds (H7)
    # shocks: closure of the non-detained dockets in a share of the courts, then a backlog
    closure_share_of_courts: float = 0.5
    closure_start: str = "2020-03-01"
    closure_end: str = "2020-09-30"  # the last day closed
    closure_open_share: float = 0.3  # non-detained decisions still made, share of the usual
    closure_grant: float = -1.2  # non-detained decisions made while closed
    closure_in_absentia: float = 1.2
    backlog_months: int = 6  # after the closure: non-detained decisions x (1 + backlog_surge)
    backlog_surge: float = 0.4
    # shocks: special dockets (MPP, family unit) held by the slowest judges of a few courts
    docket_start: str = "2018-11-01"
    docket_courts: int = 3
    docket_judges_per_court: int = 2
    docket_share: float = 0.5  # of those judges' non-detained decisions
    docket_pace: float = 0.8  # those judges' completion rate, as a multiple of their pace
    docket_grant: float = -2.0
    docket_in_absentia: float = 2.0
    docket_duration: float = -1.0  # expedited dockets: cases decided in months, not years
    # feedback: the slowest judges of each court get harder dockets after the policy
    feedback_share: float = 0.3
    feedback_ramp_years: float = 1.5  # difficulty rises from 0 to 1 over this time
    feedback_pace: float = 0.8  # completion rate at full difficulty, as a multiple of pace
    feedback_grant: float = -0.3
    feedback_in_absentia: float = 0.3
    feedback_duration: float = 0.0  # > 0 would lengthen the hard cases: H1 against the concern
    # national: drift at the size of the national court system
    national_courts: int = 72
    national_judges_per_court: int = 11

    def __post_init__(self) -> None:
        check_scenario(self.scenario)

    def null(self) -> SimulationParams:
        """Every tested term of H1-H5 and H7 set to zero; group gaps and judge spread kept."""
        zero = {g: 0.0 for g in GROUPS}
        return dataclasses.replace(
            self, ia_shortfall=0.0, ia_post_shortfall=0.0, grant_shortfall=0.0,
            grant_post_shortfall=0.0, grant_year_effects={}, group_shortfall=zero,
            group_post=zero, group_post_shortfall=zero, duration_post_gap=0.0,
            hearings_post_gap=0.0, continuance_post_gap=0.0, remand_log_duration=0.0,
            remand_shortfall=0.0, remand_post_shortfall=0.0)

    def without_judge_spread(self) -> SimulationParams:
        return dataclasses.replace(self, leniency_sd=0.0)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "simulation config") -> SimulationParams:
        """Parameters from a mapping; an unknown key or a value of the wrong type is a
        ConfigError naming ``source``, the key, what was expected and what was found."""
        import difflib

        from fairness_audit.errors import ConfigError

        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            near = difflib.get_close_matches(unknown[0], known, n=1)
            raise ConfigError(f"{source}: unknown key(s) {unknown}"
                              f"{f' (did you mean {near[0]!r}?)' if near else ''}; known keys: "
                              f"{sorted(known)}")
        # (type of the default, types accepted, in words); bool first: a bool is an int too
        kinds = ((bool, (bool,), "true or false"), (int, (int,), "a whole number"),
                 (float, (int, float), "a number"), (str, (str,), "text"))
        defaults, values = cls(), dict(data)
        if isinstance(data.get("scenario"), str):
            check_scenario(data["scenario"], source=f"{source}: key 'scenario'")
        for key, value in data.items():
            default = getattr(defaults, key)
            if isinstance(default, str) and isinstance(value, dt.date):
                values[key] = value.isoformat()  # YAML reads an unquoted date as a date
                continue
            for kind, accepted, words in kinds:
                if isinstance(default, kind):
                    if isinstance(value, bool) != (kind is bool) or not isinstance(value, accepted):
                        raise ConfigError(f"{source}: key '{key}': expected {words}, found "
                                          f"{value!r}")
                    break
        return dataclasses.replace(defaults, **values)


def judges_for(decisions: int | None, params: SimulationParams) -> SimulationParams:
    """Scale the number of courts (and so judges) to about ``decisions`` merits decisions."""
    if decisions is None:
        return params
    years = params.last_fiscal_year - params.first_fiscal_year + 1
    per_judge = params.pace_mean * years * (1 - params.administrative_share) * 0.93
    n_judges = max(2 * params.judges_per_court, round(decisions / per_judge))
    return dataclasses.replace(params, n_courts=max(2, round(n_judges / params.judges_per_court)))


@dataclass(frozen=True)
class Simulation:
    decisions: pd.DataFrame
    workload: pd.DataFrame
    ledger: dict[str, Any]
    truth: dict[str, Any]
    metadata: dict[str, Any]
    expected: pd.DataFrame  # true probabilities per decision, for the targets
    # the same with the planted effects alone (no scenario), and with nothing planted: the same
    # object where the worlds coincide (no scenario; --null)
    expected_planted: pd.DataFrame | None = None
    expected_unplanted: pd.DataFrame | None = None


def _date(s: str) -> int:
    return to_day(dt.date.fromisoformat(s))


def _days_to_dates(days: np.ndarray) -> pd.Series:
    return pd.Series((days.astype("int64") + np.datetime64("1970-01-01", "D")).astype(
        "datetime64[s]"))


def _simulate_completions(p: SimulationParams, rng: np.random.Generator, pace: np.ndarray,
                          join_day: np.ndarray, day0: int, day1: int, task: Task,
                          factor: np.ndarray | None = None):
    """Day-by-day completions per judge; returns per-judge-day merits/admin counts and shortfall.

    The shortfall of a day is the contract's feature for decisions dated that day: completions
    strictly before it in the fiscal year against the target pro-rated from the later of Oct 1
    and the judge's first completion in the fiscal year. ``factor`` (judges x days, from a
    stress scenario) multiplies each judge's rate on each day.
    """
    n_judges, n_days = len(pace), day1 - day0
    merits = np.zeros((n_judges, n_days), dtype=np.int32)
    admin = np.zeros((n_judges, n_days), dtype=np.int32)
    shortfall = np.zeros((n_judges, n_days), dtype=np.float64)
    effect_day = _date(p.effect_start)
    done = np.zeros(n_judges)
    first = np.full(n_judges, -1)
    fy_start = None
    days = np.arange(day0, day1)
    dates = (days + np.datetime64("1970-01-01", "D")).astype("datetime64[D]")
    months = dates.astype("datetime64[M]").astype("int64") % 12 + 1
    daymonth = (dates - dates.astype("datetime64[M]")).astype("int64") + 1
    for i, day in enumerate(days):
        if months[i] == 10 and daymonth[i] == 1 or fy_start is None:
            if fy_start is not None:  # a fiscal year simulated
                task.advance()
            fy_start, done[:], first[:] = day, 0, -1
        started = first >= 0
        span = np.where(started, day - np.maximum(first, fy_start) + 1, 0)
        sf = np.where(started, np.maximum(0.0, 700.0 * span / 365.0 - done) / 100.0, 0.0)
        shortfall[:, i] = sf
        rate = pace / 365.0
        if day >= effect_day:
            rate = rate * np.minimum(1.0 + p.speedup_per_hundred * sf, p.speedup_cap)
        if factor is not None:
            rate = rate * factor[:, i]
        total = rng.poisson(np.where(day >= join_day, rate, 0.0))
        m = rng.binomial(total, 1.0 - p.administrative_share)
        merits[:, i], admin[:, i] = m, total - m
        new = (m > 0) & ~started
        first[new] = day
        # same-day completions share the start-of-day shortfall (completions strictly before)
        if new.any():
            shortfall[new, i] = 700.0 / 365.0 / 100.0
        done += m
    task.advance()  # the last fiscal year
    return merits, admin, shortfall


def simulate(params: SimulationParams | None = None, *, seed: int = 20181001,
             progress: ProgressLike = None) -> Simulation:
    """Simulate a court system; see the module docstring for the generating process.

    ``progress`` (:mod:`fairness_audit.progress`) counts the fiscal years of the day-by-day
    completions as they are simulated.
    """
    p = resolve_size(params or SimulationParams())
    rng = np.random.default_rng(seed)
    day0 = _date(f"{p.first_fiscal_year - 1}-10-01")
    day1 = _date(f"{p.last_fiscal_year}-10-01")
    policy1 = _date(p.policy_end)
    effect_day = _date(p.effect_start)

    # --- courts and judges
    n_courts = p.n_courts
    n_judges = n_courts * p.judges_per_court
    court_of_judge = np.repeat(np.arange(n_courts), p.judges_per_court)
    z = rng.normal(size=n_judges)
    pace = np.clip(p.pace_mean + p.pace_sd * z, p.pace_min, p.pace_max)
    rho = p.pace_leniency_corr
    leniency = p.leniency_sd * (rho * z + np.sqrt(1 - rho**2) * rng.normal(size=n_judges))
    court_effect = p.court_sd * rng.normal(size=n_courts)
    late = rng.random(n_judges) < p.share_joining_late
    join_day = np.where(late, rng.integers(_date("2016-10-01"), _date("2020-10-01"), n_judges), day0)
    judge_ids = np.array([f"J{j + 1:04d}" for j in range(n_judges)])
    court_ids = np.array([f"C{c + 1:03d}" for c in range(n_courts)])

    stress = draw_stress(p, seed=seed, pace=pace, court_of_judge=court_of_judge)
    factor = stress.rate_factor(court_of_judge, np.arange(day0, day1))

    with as_progress(progress).task("fiscal years simulated",
                                    p.last_fiscal_year - p.first_fiscal_year + 1) as task:
        merits, admin, shortfall = _simulate_completions(p, rng, pace, join_day, day0, day1, task,
                                                         factor)

    # --- workload file: every completion
    jj, dd = np.nonzero(merits + admin)
    n_m, n_a = merits[jj, dd], admin[jj, dd]
    w_judge = np.concatenate([np.repeat(jj, n_m), np.repeat(jj, n_a)])
    w_day = np.concatenate([np.repeat(dd, n_m), np.repeat(dd, n_a)]) + day0
    w_kind = np.array(["merits"] * int(n_m.sum()) + ["administrative"] * int(n_a.sum()))

    # --- decisions: one per merits completion, in date order per judge
    jm, dm = np.nonzero(merits)
    reps = merits[jm, dm]
    judge = np.repeat(jm, reps)
    day = np.repeat(dm, reps) + day0
    sf = np.repeat(shortfall[jm, dm], reps)
    n = len(judge)
    court = court_of_judge[judge]
    post_eff = ((day >= effect_day) & (day < policy1)).astype(float)
    work = Workload(judge_ids[w_judge], w_day.astype("int64"), "simulation", "merits")
    merits_work = Workload(judge_ids[w_judge][w_kind == "merits"],
                           w_day[w_kind == "merits"].astype("int64"), "simulation", "merits")
    gap = pre_policy_gap(merits_work, years=(2015, 2016), target=700,
                         covered_from=coverage_start_day(work, f"{p.first_fiscal_year - 1}-10-01"))
    gap_judge = gap.reindex(judge_ids).fillna(0.0).to_numpy()[judge]

    # case mix by court
    nat_codes = np.array(list(NATIONALITIES))
    base_share = np.array([v[0] for v in NATIONALITIES.values()])
    court_nat = rng.dirichlet(base_share * 40, size=n_courts)
    u = rng.random(n)
    nat_idx = (u[:, None] > np.cumsum(court_nat[court], axis=1)).sum(axis=1)
    nat_idx = np.minimum(nat_idx, len(nat_codes) - 1)
    nat_effect = np.array([v[1] for v in NATIONALITIES.values()])[nat_idx]
    language = np.array([v[2] for v in NATIONALITIES.values()])[nat_idx]
    asy_share = np.array([v[3] for v in NATIONALITIES.values()])[nat_idx]
    det_court = rng.uniform(*p.detained_share_range, size=n_courts)
    if stress.detained_share is not None:  # drawn before the completions, which a closure needs
        det_court = stress.detained_share
    det_share = stress.detained_probability(det_court[court], court, day)
    detained = (rng.random(n) < det_share).astype(float)
    custody = np.where(detained == 1, "D", np.where(rng.random(n) < 0.3, "R", "N"))
    represented = (rng.random(n) < np.where(detained == 1, p.represented_if_detained,
                                            p.represented_if_free)).astype(float)
    juvenile = (rng.random(n) < p.juvenile_share).astype(float)
    asylum = (rng.random(n) < asy_share).astype(float)
    ct_codes = np.array(list(CASE_TYPES))
    case_type = ct_codes[rng.choice(len(ct_codes), size=n, p=np.array(list(CASE_TYPES.values())))]
    gender = np.where(rng.random(n) < 0.6, "M", "F")
    unrep = 1.0 - represented
    groups = {"unrepresented": unrep, "detained": detained, "juvenile": juvenile,
              "asylum_application": asylum}
    docket = stress.dockets(judge, day, detained)
    # the scenario's additions to the linear predictors (None: no scenario); every expression
    # below keeps its order of terms, so that scenario "none" gives the same numbers as before
    dev = stress.deviations(judge=judge, court=court, day=day, detained=detained, gap=gap_judge,
                            docket=docket)
    worlds = {"planted": p, "unplanted": p.null()}

    def stressed(eta: np.ndarray, outcome: str) -> np.ndarray:
        return eta if dev is None else eta + dev[outcome]

    # --- in absentia (H7)
    ia_judge = p.ia_judge_sd * rng.normal(size=n_judges)

    def eta_in_absentia(q: SimulationParams) -> np.ndarray:
        return (q.ia_intercept + ia_judge[judge] + q.ia_represented * represented
                + q.ia_detained * detained + q.ia_juvenile * juvenile + q.ia_asylum * asylum
                + q.ia_shortfall * sf + q.ia_post_shortfall * post_eff * sf)

    eta_ia = {w: eta_in_absentia(q) for w, q in worlds.items()}
    p_ia = expit(stressed(eta_ia["planted"], "in_absentia"))
    in_absentia = rng.random(n) < p_ia

    # --- grant among decisions with the respondent present (H4, containing H2)
    fy = fiscal_year_of_day(day)

    def eta_grant(q: SimulationParams) -> np.ndarray:
        year_effect = np.array([q.grant_year_effects.get(int(y), 0.0) for y in range(2000, 2040)])
        eta = (q.grant_intercept + leniency[judge] + court_effect[court] + nat_effect
               + year_effect[fy - 2000] + q.grant_represented * represented
               + q.grant_detained * detained + q.grant_juvenile * juvenile + q.grant_asylum * asylum
               + q.grant_shortfall * sf + q.grant_post_shortfall * post_eff * sf)
        for g, x in groups.items():
            eta = eta + (q.group_shortfall[g] * sf * x + q.group_post[g] * post_eff * x
                         + q.group_post_shortfall[g] * post_eff * sf * x)
        return eta

    eta_g = {w: eta_grant(q) for w, q in worlds.items()}
    p_grant = expit(stressed(eta_g["planted"], "grant"))
    granted = ~in_absentia & (rng.random(n) < p_grant)
    other_names = np.array(list(p.other_outcome_shares))
    other_p = np.array(list(p.other_outcome_shares.values()))
    other = other_names[rng.choice(len(other_names), size=n, p=other_p / other_p.sum())]
    outcome = np.where(in_absentia, "removal", np.where(granted, "grant", other))

    # --- duration (H1): log((days + 1) / 365) linear in the judge's pre-policy gap after policy
    dur_judge = p.duration_judge_sd * rng.normal(size=n_judges)
    months = (day + np.datetime64("1970-01-01", "D")).astype("datetime64[M]").astype("int64")
    quarter_idx = months // 3 - months.min() // 3  # calendar quarters, as the models' court x quarter
    cq = p.duration_court_quarter_sd * rng.normal(size=(n_courts, quarter_idx.max() + 1))

    def duration_mean(q: SimulationParams) -> np.ndarray:
        return (q.duration_intercept + dur_judge[judge] + cq[court, quarter_idx]
                + q.duration_detained * detained + q.duration_represented * represented
                + q.duration_asylum * asylum + q.duration_juvenile * juvenile
                + q.duration_post_gap * post_eff * gap_judge)

    mean_dur = {w: duration_mean(q) for w, q in worlds.items()}
    latent_mean = stressed(mean_dur["planted"], "log_duration")
    latent = latent_mean + p.duration_noise_sd * rng.normal(size=n)
    duration = np.maximum(0, np.round(365.0 * np.exp(latent) - 1.0))
    filed_day = day - duration
    log_duration = np.log((duration + 1.0) / 365.0)

    def hearings_mean(q: SimulationParams) -> np.ndarray:
        return np.exp(q.hearings_base + q.hearings_duration * (log_duration - 0.4)
                      + q.hearings_post_gap * post_eff * gap_judge)

    def continuance_probability(q: SimulationParams) -> np.ndarray:
        return np.clip(q.continuance_share * np.exp(q.continuance_post_gap * post_eff * gap_judge),
                       0, 0.95)

    mu_h = hearings_mean(p)
    n_hearings = 1 + rng.poisson(mu_h)
    cont_p = continuance_probability(p)
    n_continuances = rng.binomial(n_hearings - 1, cont_p)

    # --- appeal and remand (H3)
    appeal_p = np.array([p.appeal_rate[o] for o in outcome])
    appeal_p = np.where(in_absentia, p.appeal_rate["in_absentia"], appeal_p)
    appealed = rng.random(n) < appeal_p
    lag = rng.integers(p.board_lag_days[0], p.board_lag_days[1] + 1, size=n)
    decided = appealed & (day + lag <= _date(p.release_date))
    remand_judge = p.remand_judge_sd * rng.normal(size=n_judges)

    def remand_probability(q: SimulationParams) -> np.ndarray:
        return expit(q.remand_intercept + remand_judge[judge] + q.remand_log_duration * log_duration
                     + q.remand_shortfall * sf + q.remand_post_shortfall * post_eff * sf
                     + q.remand_represented * represented + q.remand_detained * detained
                     + q.remand_juvenile * juvenile + q.remand_asylum * asylum)

    p_remand = remand_probability(p)
    remanded = np.where(decided, rng.random(n) < p_remand, False)

    decision_date = _days_to_dates(day)
    frame = pd.DataFrame({
        "case_id": [f"K{i + 1:08d}" for i in range(n)],
        "proceeding_id": [f"P{i + 1:08d}" for i in range(n)],
        "judge_id": judge_ids[judge],
        "court_id": court_ids[court],
        "fiscal_year": fy,
        "decision_date": decision_date,
        "outcome": outcome,
        "granted": outcome == "grant",
        "removal_ordered": outcome == "removal",
        "case_type": case_type,
        "nationality": nat_codes[nat_idx],
        "language": language,
        "gender": gender,
        "custody": custody,
        "detained": detained == 1,
        "represented": represented == 1,
        "juvenile": juvenile == 1,
        "asylum_application": asylum == 1,
        "asylum_decision": np.where(asylum == 1, np.where(outcome == "grant", "grant",
                                                          np.where(outcome == "removal", "deny",
                                                                   "other")), None),
        "filed_date": _days_to_dates(filed_day),
        "duration_days": duration.astype(float),
        "n_hearings": n_hearings,
        "n_continuances": n_continuances,
        "in_absentia": in_absentia,
        "appealed": appealed,
        "remanded": pd.array(np.where(decided, remanded, None), dtype="boolean"),
        "docket": pd.array(np.where(docket == "", None, docket), dtype="string"),
    })
    workload = pd.DataFrame({
        "judge_id": judge_ids[w_judge],
        "completion_date": _days_to_dates(w_day),
        "kind": w_kind,
        # merits completions come first, in the decisions' order; administrative ones after
        "case_type": np.concatenate([case_type, ct_codes[rng.choice(
            len(ct_codes), size=int(n_a.sum()), p=np.array(list(CASE_TYPES.values())))]]),
    }).sort_values(["judge_id", "completion_date"], kind="stable", ignore_index=True)

    def expected_frame(p_ia, p_grant, p_remand, latent_mean, mu_h, cont_p, removal_share):
        return pd.DataFrame({
            "p_in_absentia": p_ia, "p_grant": p_grant, "p_remand": p_remand,
            "p_removal": (1 - p_grant) * removal_share,
            "log_duration_mean": latent_mean,
            # given the drawn duration: hearings 1 + Poisson(mu_h), continuances
            # Binomial(hearings - 1)
            "n_hearings_mean": 1.0 + mu_h,
            "n_continuances_mean": mu_h * cont_p,
            "quota_shortfall": sf,  # as the simulator computed it while generating the data
        })

    expected = expected_frame(p_ia, p_grant, p_remand, latent_mean, mu_h, cont_p,
                              p.other_outcome_shares["removal"])
    # the other worlds of the same draw: every drawn variable (dates, shortfall, case mix,
    # duration) as drawn, only the outcomes' expectations change
    planted = expected if dev is None else expected_frame(
        expit(eta_ia["planted"]), expit(eta_g["planted"]), p_remand, mean_dur["planted"], mu_h,
        cont_p, p.other_outcome_shares["removal"])
    q = worlds["unplanted"]
    unplanted = planted if q == p else expected_frame(
        expit(eta_ia["unplanted"]), expit(eta_g["unplanted"]), remand_probability(q),
        mean_dur["unplanted"], hearings_mean(q), continuance_probability(q),
        q.other_outcome_shares["removal"])
    ledger = Ledger()
    t = ledger.table("simulated_completions")
    t.rows_read = len(workload)
    t.used = n
    t.set_aside_rows("administrative completion", int(n_a.sum()))
    ledger.check()
    dgp = dataclasses.asdict(p)
    dgp["seed"] = seed
    dgp["judges"] = [
        {"judge_id": judge_ids[j], "court_id": court_ids[court_of_judge[j]],
         "leniency": float(leniency[j]), "pace": float(pace[j]),
         "joined": str(_days_to_dates(np.array([join_day[j]]))[0].date()),
         "pre_policy_gap": None if np.isnan(gap.get(judge_ids[j], np.nan))
         else float(gap[judge_ids[j]])}
        for j in range(n_judges)
    ]
    dgp["courts"] = [{"court_id": court_ids[c], "effect": float(court_effect[c])}
                     for c in range(n_courts)]
    dgp["stress"] = stress.describe(judge_ids, court_ids)
    metadata = {
        "source": "simulation",
        "coverage_start": f"{p.first_fiscal_year - 1}-10-01",
        "coverage_end": f"{p.last_fiscal_year}-09-30",
        "seed": seed,
        "workload": "judge_completions file",
        "scenario": p.scenario,
    }
    return Simulation(frame, workload, ledger.to_dict(), {"dgp": dgp}, metadata, expected,
                      planted, unplanted)
