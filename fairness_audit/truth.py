"""The value each model targets on a simulated population (contract section 2, truth.json).

Each model of the plan is fitted to the *expected* outcomes of the simulated draw (the true
probabilities, or the mean of log duration before noise) on exactly the sample the audit uses.
Where the model is the generating model this returns the generating parameters exactly; where
it is not (H2 omits the group interactions that generate grants; a linear probability model is
never the generating model) it returns the model's pseudo-true value, as the contract asks.

The fit is an independent implementation: iteratively reweighted least squares in numpy, with
fixed effects swept out by pyfixest's alternating-projections ``demean``; it shares only the
design (sample filters and term columns) with the audit's engine.

In a stress scenario (:mod:`fairness_audit.scenarios`) the target includes the scenario's bias.
:func:`causal_effects` keeps the causal effect planted apart: the same fit to the expected
outcomes of the planted effects alone, minus the fit with nothing planted.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
from scipy.special import expit, logit

from fairness_audit.config import AuditConfig, ModelSpec
from fairness_audit.features import build_frame
from fairness_audit.hypotheses import scale_of
from fairness_audit.models.design import build_design
from fairness_audit.progress import ProgressLike, as_progress

# The simulator's expected value of each outcome; p_grant and p_removal are among respondents
# present (the samples with not_in_absentia), see _expected_outcome for the others.
EXPECTED_OUTCOME = {
    "granted": "p_grant",
    "removal_ordered": "p_removal",
    "in_absentia": "p_in_absentia",
    "remanded": "p_remand",
    "log_duration": "log_duration_mean",
    "n_hearings": "n_hearings_mean",
    "n_continuances": "n_continuances_mean",
}
PERCENT = 100.0


def _demean(x: np.ndarray, fe: np.ndarray, weights: np.ndarray) -> np.ndarray:
    if fe.shape[1] == 0:
        w = weights / weights.sum()
        return x - (w[:, None] * x).sum(axis=0)
    from pyfixest.estimation import demean

    out, converged = demean(np.ascontiguousarray(x, dtype=float), np.ascontiguousarray(fe),
                            np.ascontiguousarray(weights, dtype=float), tol=1e-10, maxiter=100_000)
    if not converged:
        raise RuntimeError("fixed-effect demeaning did not converge")
    return out


def fit_expected(y: np.ndarray, X: np.ndarray, fe: np.ndarray, family: str,
                 tol: float = 1e-11, max_iter: int = 100) -> np.ndarray:
    """Coefficients of a logit (fractional response allowed), Poisson (non-integer mean
    allowed) or linear model with fixed effects."""
    if family == "ols":
        both = _demean(np.column_stack([y, X]), fe, np.ones(len(y)))
        return np.linalg.lstsq(both[:, 1:], both[:, 0], rcond=None)[0]
    if fe.shape[1] == 0:
        X = np.column_stack([np.ones(len(y)), X])
    poisson = family == "poisson"
    # the expected outcome's own link is the start: where the model is the generating model it
    # is the answer, and a pseudo-true fit starts near its own (the default simulation's logits
    # took two to five steps instead of six to nine from the start glm uses for 0/1 outcomes,
    # the targets equal to 1e-11); the stopping rule is unchanged
    eta = np.log(y + 0.1) if poisson else logit(np.clip(y, 1e-6, 1 - 1e-6))
    beta = np.zeros(X.shape[1])
    for _ in range(max_iter):
        mu = np.exp(eta) if poisson else expit(eta)
        w = np.clip(mu if poisson else mu * (1 - mu), 1e-12, None)
        z = eta + (y - mu) / w
        both = _demean(np.column_stack([z, X]), fe, w)
        sw = np.sqrt(w)
        new = np.linalg.lstsq(both[:, 1:] * sw[:, None], both[:, 0] * sw, rcond=None)[0]
        resid = both[:, 0] - both[:, 1:] @ new
        eta = z - resid
        if np.max(np.abs(new - beta)) < tol:
            beta = new
            break
        beta = new
    return beta if fe.shape[1] else beta[1:]


def model_targets(decisions: pd.DataFrame, workload: pd.DataFrame, expected: pd.DataFrame,
                  config: AuditConfig, *, coverage_start: str | None,
                  progress: ProgressLike = None) -> dict[str, dict[str, float]]:
    """Target of every term of every model in the plan whose outcome has a known expectation.

    ``progress`` (:mod:`fairness_audit.progress`) counts the models fitted: the long part of
    ``fairness-audit simulate``.
    """
    frame = build_frame(decisions, workload, config, coverage_start=coverage_start).data
    fitted = [name for name, spec in config.models.items()
              if EXPECTED_OUTCOME.get(spec.outcome) is not None]
    return _fit_models(frame, [expected], config, fitted, progress, "model targets")[0]


def _fit_models(frame: pd.DataFrame, expecteds: list[pd.DataFrame], config: AuditConfig,
                names: list[str], progress: ProgressLike,
                label: str) -> list[dict[str, dict[str, float]]]:
    """Each named model of the plan fitted to each frame of expected outcomes (one design per
    model, shared by the fits)."""
    expecteds = [e.set_index(frame.index) for e in expecteds]
    fits: list[dict[str, dict[str, float]]] = [{} for _ in expecteds]
    seen: dict[str, np.ndarray] = {}
    with as_progress(progress).task(label, len(names)) as task:
        for name in names:
            spec = config.models[name]
            design = build_design(frame, spec, cluster=config.inference.cluster,
                                  outcome=spec.outcome)
            scale = scale_of(spec)[1]
            for out, expected in zip(fits, expecteds, strict=True):
                y = _expected_outcome(expected.loc[design.data.index], spec)
                fe = design.fe_codes()
                key = _fit_key(spec.family, y, design.X, fe)
                if key not in seen:
                    seen[key] = fit_expected(y, design.X, fe, spec.family)
                out[name] = {t: float(b) * scale
                             for t, b in zip(design.terms, seen[key], strict=True)}
            task.advance()
    return fits


def _fit_key(family: str, *arrays: np.ndarray) -> str:
    """A fingerprint of one fit's inputs. A variant whose restriction leaves its sample whole (a
    guard without special dockets on a court system that has none) is the same fit as its
    primary model: the coefficients are taken from that fit, equal to a refit to the last digit."""
    digest = hashlib.sha256(family.encode())
    for a in arrays:
        a = np.ascontiguousarray(a)
        digest.update(f"{a.dtype.str}{a.shape}".encode())
        digest.update(a.tobytes())
    return digest.hexdigest()


def terms_tested(config: AuditConfig) -> dict[str, list[str]]:
    """The terms the plan's tests read, by model, for the models that have targets.

    Example
    -------
    >>> from fairness_audit.config import load_config
    >>> "post_policy:quota_shortfall" in terms_tested(load_config())["H7"]
    True
    """
    terms: dict[str, list[str]] = {}
    for hyp in config.hypotheses.values():
        for test in hyp.tests:
            spec = config.models.get(test.model)
            if spec is None or EXPECTED_OUTCOME.get(spec.outcome) is None:
                continue  # analyses (event studies, judge variance) have no fitted target here
            if test.term not in terms.setdefault(test.model, []):
                terms[test.model].append(test.term)
    return terms


def causal_effects(decisions: pd.DataFrame, workload: pd.DataFrame, planted: pd.DataFrame,
                   unplanted: pd.DataFrame, config: AuditConfig, *, coverage_start: str | None,
                   fitted: dict[str, dict[str, float]] | None = None,
                   progress: ProgressLike = None) -> dict[str, dict[str, float]]:
    """The causal effect planted for each tested term: the part of the term's value on this
    draw that the planted effects produce, apart from a stress scenario's bias.

    Each model is fitted (as in :func:`model_targets`) to the expected outcomes of the planted
    effects alone (``planted``: the draw's dates, shortfall and case mix, without the
    scenario's deviations) and to those with nothing planted (``unplanted``: the effects
    ``SimulationParams.null`` removes, removed); the causal effect is the difference. Where
    the model generates the outcome (H1, H3, H4, H7) this is the planted parameter; it is
    exactly 0 when nothing is planted (``--null``), whatever the scenario.

    Parameters
    ----------
    decisions, workload
        The simulated decisions table (canonical dtypes) and its workload file.
    planted, unplanted
        ``Simulation.expected_planted`` and ``Simulation.expected_unplanted``.
    config
        The plan whose tested terms (:func:`terms_tested`) are returned.
    coverage_start
        ``Simulation.metadata["coverage_start"]``.
    fitted
        The models already fitted to ``planted`` (the targets, when no scenario changes the
        expected outcomes), to save a fit.
    progress
        :mod:`fairness_audit.progress` counts the models fitted.

    Returns
    -------
    dict
        {model: {term: causal effect}}, on each term's reporting scale (as the targets).

    Example
    -------
    >>> causal = causal_effects(decisions, workload, sim.expected_planted,  # doctest: +SKIP
    ...                         sim.expected_unplanted, config, coverage_start="2013-10-01")
    >>> causal["H7"]["post_policy:quota_shortfall"]  # doctest: +SKIP
    0.15
    """
    tested = terms_tested(config)
    if planted is unplanted or planted.equals(unplanted):  # nothing planted: 0 by definition
        return {m: {t: 0.0 for t in terms} for m, terms in tested.items()}
    frame = build_frame(decisions, workload, config, coverage_start=coverage_start).data
    if fitted is not None and all(m in fitted for m in tested):
        (without,) = _fit_models(frame, [unplanted], config, list(tested), progress,
                                 "causal effects")
        with_effects = fitted
    else:
        with_effects, without = _fit_models(frame, [planted, unplanted], config, list(tested),
                                            progress, "causal effects")
    return {m: {t: with_effects[m][t] - without[m][t] for t in terms if t in without[m]}
            for m, terms in tested.items()}


def _expected_outcome(rows: pd.DataFrame, spec: ModelSpec) -> np.ndarray:
    """Each row's expected outcome for a model of the plan.

    The simulator's grant and removal probabilities are those of a respondent present: the
    expectation in a sample without in-absentia decisions. A sample that keeps them expects
    the unconditional rates of :func:`_expected_rates`.
    """
    if spec.outcome in ("granted", "removal_ordered") and "not_in_absentia" not in spec.sample:
        return _expected_rates(rows)[spec.outcome]
    return rows[EXPECTED_OUTCOME[spec.outcome]].to_numpy(dtype=float)


def _expected_rates(expected: pd.DataFrame) -> dict[str, np.ndarray]:
    """Each decision's true probability of each binary outcome of the group tables.

    A grant needs the respondent present: P(granted) = (1 - p_in_absentia) p_grant; removal
    is every in-absentia order plus the removals among the rest:
    P(removal_ordered) = p_in_absentia + (1 - p_in_absentia) p_removal.
    """
    p_ia = expected["p_in_absentia"].to_numpy(dtype=float)
    return {
        "granted": (1 - p_ia) * expected["p_grant"].to_numpy(dtype=float),
        "removal_ordered": p_ia + (1 - p_ia) * expected["p_removal"].to_numpy(dtype=float),
        "in_absentia": p_ia,
    }


def audit_truth(decisions: pd.DataFrame, workload: pd.DataFrame, expected: pd.DataFrame,
                config: AuditConfig, *, coverage_start: str | None) -> dict:
    """Group rates conditional on the simulated judges, and the targets of the plan's analyses
    that have one (H6's judge_variance).

    ``group_rates``: for every binary outcome x dimension (and intersection) x period of the
    plan's disparity tables, the mean of the true probabilities over the audit's rows of the
    group (the value the group's observed rate estimates, given the judges and cases drawn),
    with the number of decisions and of judges.
    """
    from fairness_audit.analyses.judges import judge_targets
    from fairness_audit.disparity import PERIODS, dimension_labels, dimension_name, plan_dimensions

    frame = build_frame(decisions, workload, config, coverage_start=coverage_start).data
    probs = {k: pd.Series(v, index=frame.index) for k, v in _expected_rates(
        expected.set_axis(frame.index)).items()}
    data = frame[frame["in_window"].astype(bool)]
    rates = []
    for period, flag in PERIODS.items():
        part = data[data["post_policy"] == flag]
        for dim in plan_dimensions(config, part.columns):
            labels = dimension_labels(part, dim)
            for outcome in config.disparities.outcomes:
                if outcome not in probs:
                    continue
                keep = labels.notna() & part[outcome].notna()
                g = pd.DataFrame({"group": labels[keep], "p": probs[outcome].loc[part.index[keep]],
                                  "judge": part.loc[keep, config.inference.cluster]})
                agg = g.groupby("group", sort=True).agg(value=("p", "mean"), n=("p", "size"),
                                                        n_judges=("judge", "nunique"))
                rates.extend({"outcome": outcome, "dimension": dimension_name(dim), "group": str(grp),
                              "period": period, "value": float(r.value), "n": int(r.n),
                              "n_judges": int(r.n_judges)} for grp, r in agg.iterrows())
    analyses = {}
    for name, spec in config.analyses.items():
        if spec.kind == "judge_variance" and spec.outcome == "granted":
            analyses[name] = judge_targets(frame, pd.Series(expected["p_grant"].to_numpy(dtype=float),
                                                            index=frame.index), config, spec)
    return {"group_rates": rates, "analyses": analyses}
