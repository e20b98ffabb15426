"""The value each model targets on a simulated population (contract section 2, truth.json).

Each model of the plan is fitted to the *expected* outcomes of the simulated draw (the true
probabilities, or the mean of log duration before noise) on exactly the sample the audit uses.
Where the model is the generating model this returns the generating parameters exactly; where
it is not (H2 omits the group interactions that generate grants; a linear probability model is
never the generating model) it returns the model's pseudo-true value, as the contract asks.

The fit is an independent implementation: iteratively reweighted least squares in numpy, with
fixed effects swept out by pyfixest's alternating-projections ``demean``; it shares only the
design (sample filters and term columns) with the audit's engine.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit

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
    eta = np.log(y + 0.1) if poisson else np.log((y + 0.5) / (1.5 - y))
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
    expected = expected.set_index(frame.index)
    targets: dict[str, dict[str, float]] = {}
    fitted = {name: spec for name, spec in config.models.items()
              if EXPECTED_OUTCOME.get(spec.outcome) is not None}
    with as_progress(progress).task("model targets", len(fitted)) as task:
        for name, spec in fitted.items():
            design = build_design(frame, spec, cluster=config.inference.cluster,
                                  outcome=spec.outcome)
            y = _expected_outcome(expected.loc[design.data.index], spec)
            beta = fit_expected(y, design.X, design.fe_codes(), spec.family)
            scale = scale_of(spec)[1]
            targets[name] = {t: float(b) * scale for t, b in zip(design.terms, beta, strict=True)}
            task.advance()
    return targets


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
