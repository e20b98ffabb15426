"""Stress scenarios: simulated court systems built to bias the audit's primary design.

The default simulator follows the estimators' assumptions (flat pre-policy trends, shortfall
unrelated to anything but the quota, nothing court-specific after the policy date). A scenario
adds deviations that the real release has and that push the primary specifications (contract
section 5, fixed effects F) toward the concern when no quota effect is planted: H1's slope
negative, H2's negative, H7's positive. They are documented, with what each imitates, in
docs/simulator.md.

* ``drift``: each judge's grant and in-absentia log-odds and log duration follow a linear time
  trend whose slope is proportional to the judge's pre-policy gap (behind-target judges drift
  toward shorter cases, fewer grants, more in-absentia orders); small by construction.
* ``shocks``: a COVID-like closure of the non-detained dockets in half the courts (few
  non-detained decisions, worse outcomes for those still decided), then a backlog surge; and
  special dockets (MPP, family unit) on a few slow judges in a few courts from November 2018,
  which slow those judges and carry high in-absentia and low grant rates.
* ``feedback``: after the policy the dockets of the slowest judges of each court turn harder
  (an unobserved difficulty): they slow down, fall behind, and their respondents fare worse.
* ``national``: ``drift`` at the size of the national court system.

Every draw a scenario makes comes from its own random stream (seeded by the simulation's seed),
so that the scenario ``none`` consumes the simulator's stream exactly as before and gives the
same tables for the same seed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from fairness_audit.errors import ConfigError
from fairness_audit.features import to_day

if TYPE_CHECKING:
    from fairness_audit.simulate import SimulationParams

SCENARIOS = ("none", "drift", "shocks", "feedback", "national")
DOCKETS = ("MPP", "family_unit")
# the scenario's own stream: SeedSequence((seed, STREAM)) never meets the simulator's (seed,)
_STREAM = 0x5CE


def check_scenario(name: str, *, source: str = "scenario") -> str:
    """Return ``name`` if it is a scenario; otherwise a ConfigError naming ``source``.

    Parameters
    ----------
    name
        The scenario asked for.
    source
        Where it was given (an option or a config file's key), for the message.

    Returns
    -------
    str
        ``name``, unchanged.

    Raises
    ------
    ConfigError
        ``name`` is not one of ``SCENARIOS``.

    Example
    -------
    >>> check_scenario("drift")
    'drift'
    """
    if name not in SCENARIOS:
        raise ConfigError(f"{source}: expected one of {', '.join(SCENARIOS)}; found {name!r}")
    return name


def resolve_size(params: SimulationParams) -> SimulationParams:
    """The parameters with the scenario's own size: ``national`` replaces ``n_courts`` and
    ``judges_per_court`` by ``national_courts`` and ``national_judges_per_court``; the other
    scenarios return ``params`` as they are.

    Example
    -------
    >>> from fairness_audit.simulate import SimulationParams
    >>> p = resolve_size(SimulationParams(scenario="national"))
    >>> p.n_courts * p.judges_per_court >= 500
    True
    """
    if params.scenario != "national":
        return params
    return dataclasses.replace(params, n_courts=params.national_courts,
                               judges_per_court=params.national_judges_per_court)


def _day(s: str) -> int:
    return to_day(dt.date.fromisoformat(s))


def _years_since(days: np.ndarray, start: str) -> np.ndarray:
    return (days - _day(start)) / 365.25


@dataclass(frozen=True, eq=False)  # arrays: compared by identity
class Stress:
    """What a scenario draws for one court system, before the completions are simulated.

    Attributes
    ----------
    params
        The simulation's parameters (the scenario and its settings).
    closed_courts
        Per court: its non-detained docket closes (``shocks``).
    detained_share
        Per court, the share of detained decisions, drawn here where the closure needs it
        before the completions (``shocks``); otherwise None (the simulator draws it later).
    docket
        Per judge: the special docket the judge holds ("" for none; ``shocks``).
    hard_docket
        Per judge: the docket turns harder after the policy (``feedback``).
    rng
        The scenario's own random stream (which decisions go on a special docket).
    """

    params: SimulationParams
    closed_courts: np.ndarray
    detained_share: np.ndarray | None
    docket: np.ndarray
    hard_docket: np.ndarray
    rng: np.random.Generator = dataclasses.field(repr=False)

    @property
    def drift(self) -> bool:
        return self.params.scenario in ("drift", "national")

    @property
    def shocks(self) -> bool:
        return self.params.scenario == "shocks"

    @property
    def feedback(self) -> bool:
        return self.params.scenario == "feedback"

    # ------------------------------------------------------------------ completions
    def _nondetained_factor(self, court: np.ndarray, days: np.ndarray) -> np.ndarray:
        """How many times the usual number of non-detained decisions a court makes on a day:
        ``closure_open_share`` while closed, 1 + ``backlog_surge`` in the backlog months."""
        p = self.params
        start, end = _day(p.closure_start), _day(p.closure_end) + 1  # closure_end: last day closed
        backlog_end = _months_after(end, p.backlog_months)
        closed = self.closed_courts[court]
        factor = np.ones(np.broadcast(court, days).shape)
        factor = np.where(closed & (days >= start) & (days < end), p.closure_open_share, factor)
        return np.where(closed & (days >= end) & (days < backlog_end), 1.0 + p.backlog_surge,
                        factor)

    def _difficulty(self, judge: np.ndarray, days: np.ndarray) -> np.ndarray:
        """The hard dockets' difficulty: 0 before the policy, rising linearly to 1 over
        ``feedback_ramp_years``."""
        p = self.params
        ramp = np.clip(_years_since(days, p.policy_start) / p.feedback_ramp_years, 0.0, 1.0)
        return np.where(self.hard_docket[judge], ramp, 0.0)

    def rate_factor(self, court_of_judge: np.ndarray, days: np.ndarray) -> np.ndarray | None:
        """Each judge's completion rate on each day as a multiple of the usual rate (judges x
        days), or None when the scenario leaves the rates alone.

        A closure removes most non-detained decisions (the detained docket goes on), a backlog
        surge adds some; a special docket slows its judge from ``docket_start``; a hard docket
        slows its judge as its difficulty rises.
        """
        p = self.params
        n_judges = len(court_of_judge)
        judges = np.arange(n_judges)[:, None]
        if self.shocks:
            assert self.detained_share is not None
            d = self.detained_share[court_of_judge][:, None]
            factor = d + (1 - d) * self._nondetained_factor(court_of_judge[:, None], days[None, :])
            on_docket = (self.docket != "")[:, None] & (days[None, :] >= _day(p.docket_start))
            return factor * np.where(on_docket, p.docket_pace, 1.0)
        if self.feedback:
            return p.feedback_pace ** self._difficulty(judges, days[None, :])
        return None

    # ------------------------------------------------------------------ decisions
    def detained_probability(self, base: np.ndarray, court: np.ndarray,
                             day: np.ndarray) -> np.ndarray:
        """Each decision's probability of a detained respondent: during a closure few
        non-detained cases are decided, so the decisions made are mostly detained ones."""
        if not self.shocks:
            return base
        f = self._nondetained_factor(court, day)
        return base / (base + (1 - base) * f)

    def dockets(self, judge: np.ndarray, day: np.ndarray, detained: np.ndarray) -> np.ndarray:
        """Each decision's special docket ("" for the ordinary docket): a share
        ``docket_share`` of a docket judge's non-detained decisions from ``docket_start``."""
        p = self.params
        out = np.full(len(judge), "", dtype=object)
        if not self.shocks:
            return out
        draw = self.rng.random(len(judge))
        on = ((self.docket[judge] != "") & (day >= _day(p.docket_start)) & (detained == 0)
              & (draw < p.docket_share))
        out[on] = self.docket[judge][on]
        return out

    def deviations(self, *, judge: np.ndarray, court: np.ndarray, day: np.ndarray,
                   detained: np.ndarray, gap: np.ndarray,
                   docket: np.ndarray) -> dict[str, np.ndarray] | None:
        """The scenario's additions to each decision's in-absentia and grant log-odds and to
        its mean log duration (keys ``in_absentia``, ``grant``, ``log_duration``), or None.

        ``gap`` is each decision's judge's pre-policy gap (0 where the judge has none).
        """
        p = self.params
        n = len(judge)
        ia, grant, dur = np.zeros(n), np.zeros(n), np.zeros(n)
        if self.drift:
            t = _years_since(day, p.policy_start) * gap
            ia, grant, dur = p.drift_in_absentia * t, p.drift_grant * t, p.drift_duration * t
        elif self.shocks:
            closed = (self._nondetained_factor(court, day) < 1.0) & (detained == 0)
            special = docket != ""
            ia = p.closure_in_absentia * closed + p.docket_in_absentia * special
            grant = p.closure_grant * closed + p.docket_grant * special
            dur = p.docket_duration * special
        elif self.feedback:
            hard = self._difficulty(judge, day)
            ia, grant, dur = (p.feedback_in_absentia * hard, p.feedback_grant * hard,
                              p.feedback_duration * hard)
        else:
            return None
        return {"in_absentia": ia, "grant": grant, "log_duration": dur}

    def describe(self, judge_ids: np.ndarray, court_ids: np.ndarray) -> dict[str, Any]:
        """The scenario's draws for truth.json (``dgp.stress``)."""
        return {
            "closed_courts": [str(c) for c in court_ids[self.closed_courts]],
            "special_dockets": {str(j): str(d) for j, d in zip(judge_ids, self.docket, strict=True)
                                if d},
            "hard_dockets": [str(j) for j in judge_ids[self.hard_docket]],
        }


def _months_after(day: int, months: int) -> int:
    """The first day of the month ``months`` calendar months after the month of ``day``."""
    month = (np.datetime64(day, "D").astype("datetime64[M]") + months).astype("datetime64[D]")
    return int(month.astype("int64"))


def draw_stress(params: SimulationParams, *, seed: int, pace: np.ndarray,
                court_of_judge: np.ndarray) -> Stress:
    """Draw what the scenario needs before the completions: closed courts, special-docket
    judges, hard-docket judges.

    Parameters
    ----------
    params
        The simulation's parameters (``params.scenario`` says what is drawn).
    seed
        The simulation's seed; the scenario draws from its own stream of it.
    pace
        Each judge's completions a year (the slowest judges get the special dockets and the
        hard dockets).
    court_of_judge
        Each judge's court (index).

    Returns
    -------
    Stress
        The draws; empty (no court closed, no docket) for scenarios that draw nothing.

    Example
    -------
    >>> import numpy as np
    >>> from fairness_audit.simulate import SimulationParams
    >>> s = draw_stress(SimulationParams(scenario="shocks", n_courts=4), seed=1,
    ...                 pace=np.full(20, 650.0), court_of_judge=np.repeat(np.arange(4), 5))
    >>> int(s.closed_courts.sum())
    2
    """
    p = params
    rng = np.random.default_rng([seed, _STREAM])
    n_courts, n_judges = int(court_of_judge.max()) + 1, len(pace)
    closed = np.zeros(n_courts, dtype=bool)
    docket = np.full(n_judges, "", dtype=object)
    hard = np.zeros(n_judges, dtype=bool)
    detained_share = None
    if p.scenario == "shocks":
        n_closed = int(round(p.closure_share_of_courts * n_courts))
        closed[rng.choice(n_courts, size=n_closed, replace=False)] = True
        detained_share = rng.uniform(*p.detained_share_range, size=n_courts)
        docket_courts = rng.choice(n_courts, size=min(p.docket_courts, n_courts), replace=False)
        for k, c in enumerate(docket_courts):
            members = np.flatnonzero(court_of_judge == c)
            slowest = members[np.argsort(pace[members], kind="stable")][:p.docket_judges_per_court]
            docket[slowest] = DOCKETS[k % len(DOCKETS)]
    elif p.scenario == "feedback":
        for c in range(n_courts):
            members = np.flatnonzero(court_of_judge == c)
            k = int(round(p.feedback_share * len(members)))
            if k:
                hard[members[np.argsort(pace[members], kind="stable")][:k]] = True
    return Stress(p, closed, detained_share, docket, hard, rng)
