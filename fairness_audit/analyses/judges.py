"""H6, "refugee roulette": how much the outcome depends on which judge of a court decides.

Estimand (``judge_sd_within_court``, percentage points): tau, the within-court standard
deviation of the judges' true grant rates. For each judge x court unit with at least
``min_decisions`` decisions in the period, m_j is the mean true grant probability over the unit's
decisions; tau^2 = sum over courts of sum_j (m_j - mean_c m)^2 / sum over courts (K_c - 1), over
courts with at least two such judges (K_c of them). truth.json states this value for a
simulation (``judge_targets``), computed on exactly the rows the estimator uses.

Estimator (method of moments on case-mix-adjusted judge rates):

1. A linear probability model without the judge, ``granted ~ controls | court + fiscal year +
   fiscal month + nationality + case type``, gives each decision its expected outcome e_i
   (fixed effects swept out with pyfixest's ``demean``). The court effect keeps the comparison
   within courts; the controls and the other effects remove case mix.
2. Each judge's adjusted rate r_j = observed rate - expected rate, and its sampling variance
   v_j = sum_i p_i (1 - p_i) / n_j^2 with p_i = e_i + r_j (clipped to [0.001, 0.999]).
3. Within court c (K_c judges), E[sum_j (r_j - rbar_c)^2] = (K_c - 1) tau^2 + (1 - 1/K_c)
   sum_j v_j, so tau^2 = [sum_c sum_j (r_j - rbar_c)^2 - sum_c (1 - 1/K_c) sum_j v_j] /
   sum_c (K_c - 1), truncated at zero.
4. Interval: a judge-cluster bootstrap stratified by court (Rao-Wu rescaling: K_c - 1 judges
   drawn with replacement in each court, weights K_c / (K_c - 1) per draw, which keeps the
   variance of court-level sums unbiased with few judges per court). The interval is tau +/-
   t(G - 1) bootstrap standard errors, truncated at zero: with five judges per court the
   replicates' squared deviations are biased downward (duplicated judges), which shifts a
   percentile interval below the estimate while leaving its spread right. The case-mix model is
   not refitted per replicate (its error is small next to the judges').
5. Test of tau = 0: Cochran's homogeneity statistic Q = sum_c sum_j (r_j - rbar^w_c)^2 / v_j
   (inverse-variance weighted court means) against chi-square with sum_c (K_c - 1) degrees of
   freedom; the p-value is one-sided by construction (only spread beyond chance counts).

For display: adjusted judge rates (the court's rate + r_j - rbar_c), shrunk toward the court by
empirical Bayes (weight tau^2 / (tau^2 + v_j)), within-court interquartile range and max - min
of the shrunk rates, the judges' share of the outcome variance (tau^2 / var(y)), a funnel of
adjusted rates against decisions with control limits, and the change post - pre of tau
(supporting test ``judge_sd_change``: the same bootstrap draws serve both periods, so the
interval allows for judges sitting in both).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from fairness_audit.config import AnalysisSpec, AuditConfig
from fairness_audit.errors import NotEstimable
from fairness_audit.features import AnalysisFrame
from fairness_audit.hypotheses import AnalysisOutput, Estimate, register_analysis
from fairness_audit.models.cells import demean
from fairness_audit.models.design import SAMPLE_FILTERS

PERCENT = 100.0
DEFAULTS: dict[str, Any] = {
    "sample": ["in_window", "not_in_absentia"],
    "fixed_effects": ["court_id", "fiscal_year", "fiscal_month", "nationality", "case_type"],
    "min_decisions": 30,
    "bootstrap_replicates": 499,
    "court": "court_id",
}
PERIODS = {"pre_policy": 0.0, "post_policy": 1.0}


def options_of(spec: AnalysisSpec, config: AuditConfig) -> dict[str, Any]:
    unknown = sorted(set(spec.options) - set(DEFAULTS) - {"controls"})
    if unknown:
        from fairness_audit.errors import ConfigError

        raise ConfigError(f"analyses: judge_variance options {unknown} are not known; known options: "
                          f"{sorted(DEFAULTS) + ['controls']}")
    return {**DEFAULTS, "controls": list(config.controls), **spec.options}


def sample_rows(data: pd.DataFrame, outcome: str, options: dict[str, Any], cluster: str,
                flag: float, excluded: dict[str, int] | None = None) -> pd.DataFrame:
    """Decisions of one period that enter H6: the sample filters, complete inputs, and units
    (judge x court) with at least ``min_decisions`` in courts with at least two such units.
    ``excluded``, when given, receives the number of rows of ``data`` left out, by reason."""
    counts: dict[str, int] = {}

    def leave_out(keep: pd.Series, mask: pd.Series | np.ndarray, reason: str) -> pd.Series:
        n = int((keep & ~mask).sum())
        if n:
            counts[reason] = counts.get(reason, 0) + n
        return keep & mask

    keep = pd.Series(True, index=data.index)
    for name in options["sample"]:
        sample_filter = SAMPLE_FILTERS[name]
        keep = leave_out(keep, sample_filter.keep(data).fillna(False).astype(bool),
                         sample_filter.reason)
    keep = leave_out(keep, data["post_policy"] == flag,
                     SAMPLE_FILTERS["post_policy"].reason if flag else "in the policy period")
    need = [outcome, *options["controls"], *options["fixed_effects"], cluster, options["court"]]
    missing = [c for c in need if c not in data.columns]
    if missing:
        raise NotEstimable(missing[0], "judge_variance")
    for column in dict.fromkeys(need):
        keep = leave_out(keep, data[column].notna(), f"missing {column}")
    rows = data[keep]
    unit = rows[options["court"]].astype(str) + "|" + rows[cluster].astype(str)
    size = unit.map(unit.value_counts())
    big = rows.index[(size >= options["min_decisions"]).to_numpy(dtype=bool)]
    keep = leave_out(keep, data.index.isin(big),
                     f"judge with fewer than {options['min_decisions']} decisions in the court")
    rows = data[keep]
    unit = unit[rows.index]
    judges_in_court = unit.groupby(rows[options["court"]].astype(str)).transform("nunique")
    shared = rows.index[(judges_in_court >= 2).to_numpy(dtype=bool)]
    keep = leave_out(keep, data.index.isin(shared),
                     "court without two judges with enough decisions")
    if excluded is not None:
        excluded.update(counts)
    return data[keep]


def within_court_sd(values: pd.Series, courts: pd.Series) -> float:
    """sqrt(sum_c sum_j (x_j - mean_c x)^2 / sum_c (K_c - 1)) over units (one value per unit)."""
    frame = pd.DataFrame({"x": values.to_numpy(), "c": courts.to_numpy()})
    dev = frame["x"] - frame.groupby("c")["x"].transform("mean")
    df = int((frame.groupby("c").size() - 1).sum())
    return float(np.sqrt((dev ** 2).sum() / df)) if df > 0 else float("nan")


def _expected(rows: pd.DataFrame, outcome: str, controls: list[str], fes: list[str]) -> np.ndarray:
    """Fitted values of the case-mix model without the judge (linear, fixed effects absorbed)."""
    y = rows[outcome].astype(float).to_numpy()
    x = rows[controls].astype(float).to_numpy() if controls else np.zeros((len(rows), 0))
    fe = np.column_stack([pd.factorize(rows[f].astype(str))[0] for f in fes]) if fes \
        else np.zeros((len(rows), 0), dtype=int)
    both = demean(np.column_stack([y, x]), fe, np.ones(len(y)))
    yt, xt = both[:, 0], both[:, 1:]
    beta = np.linalg.lstsq(xt, yt, rcond=None)[0] if x.shape[1] else np.zeros(0)
    return y - (yt - xt @ beta)


@dataclass(frozen=True)
class Units:
    """Per judge x court unit of one period: adjusted rate, its variance, and the court."""

    table: pd.DataFrame  # unit, judge_id, court_id, n, observed, expected, r, v
    n_obs: int
    outcome_variance: float


def judge_units(rows: pd.DataFrame, outcome: str, options: dict[str, Any], cluster: str) -> Units:
    e = _expected(rows, outcome, list(options["controls"]), list(options["fixed_effects"]))
    y = rows[outcome].astype(float).to_numpy()
    court = rows[options["court"]].astype(str).to_numpy()
    judge = rows[cluster].astype(str).to_numpy()
    frame = pd.DataFrame({"unit": pd.Series(court) + "|" + pd.Series(judge), "judge_id": judge,
                          "court_id": court, "y": y, "e": e})
    g = frame.groupby("unit", sort=False)
    table = g.agg(judge_id=("judge_id", "first"), court_id=("court_id", "first"), n=("y", "size"),
                  observed=("y", "mean"), expected=("e", "mean"))
    table["r"] = table["observed"] - table["expected"]
    p = np.clip(frame["e"].to_numpy() + frame["unit"].map(table["r"]).to_numpy(), 0.001, 0.999)
    frame["pq"] = p * (1 - p)
    table["v"] = frame.groupby("unit", sort=False)["pq"].sum() / table["n"] ** 2
    return Units(table.reset_index(), len(rows), float(np.var(y)))


def _tau2_weighted(r: np.ndarray, v: np.ndarray, court_codes: np.ndarray, k: np.ndarray,
                   weights: np.ndarray) -> np.ndarray:
    """Method-of-moments tau^2 for each row of ``weights`` (R, U); unit weights = plain estimate."""
    n_c = len(k)
    member = np.zeros((len(r), n_c))
    member[np.arange(len(r)), court_codes] = 1.0
    sw = weights @ member  # (R, C)
    swr = (weights * r) @ member
    swr2 = (weights * r ** 2) @ member
    swv = (weights * v) @ member
    with np.errstate(invalid="ignore", divide="ignore"):
        ss = swr2 - np.where(sw > 0, swr ** 2 / sw, 0.0)
    # each court's weights sum to K_c, so sw / K_c rescales the chance term like the squares
    chance = swv * (1 - 1 / k)
    return (ss.sum(axis=1) - chance.sum(axis=1)) / (k - 1).sum()


def _rao_wu_weights(court_codes: np.ndarray, k: np.ndarray, replicates: int,
                    rng: np.random.Generator) -> np.ndarray:
    """(R, U) weights: in each court K_c - 1 draws with replacement, each worth K_c / (K_c - 1)."""
    weights = np.zeros((replicates, len(court_codes)))
    for c, kc in enumerate(k):
        members = np.flatnonzero(court_codes == c)
        draws = rng.multinomial(kc - 1, np.full(kc, 1.0 / kc), size=replicates)
        weights[:, members] = draws * kc / (kc - 1)
    return weights


@dataclass(frozen=True)
class PeriodResult:
    tau: float  # proportion scale
    tau_boot: np.ndarray
    q: float
    df: int
    p_value: float
    units: pd.DataFrame
    courts: pd.DataFrame
    n_obs: int
    n_judges: int
    outcome_variance: float


def _analyse_period(units: Units, weights_of_unit: np.ndarray) -> PeriodResult:
    t = units.table
    court_codes, courts = pd.factorize(t["court_id"])
    k = np.bincount(court_codes)
    r, v = t["r"].to_numpy(), t["v"].to_numpy()
    tau2 = float(_tau2_weighted(r, v, court_codes, k, np.ones((1, len(r))))[0])
    tau = float(np.sqrt(max(tau2, 0.0)))
    boot = np.sqrt(np.clip(_tau2_weighted(r, v, court_codes, k, weights_of_unit), 0, None))
    # homogeneity: Cochran's Q within courts
    w = 1 / v
    rbar_w = np.bincount(court_codes, weights=w * r) / np.bincount(court_codes, weights=w)
    q_unit = (r - rbar_w[court_codes]) ** 2 * w
    q_court = np.bincount(court_codes, weights=q_unit)
    q, df = float(q_unit.sum()), int((k - 1).sum())
    p = float(stats.chi2.sf(q, df))
    # display: adjusted and shrunk rates around each court's observed rate
    n = t["n"].to_numpy()
    court_rate = np.bincount(court_codes, weights=n * t["observed"].to_numpy()) / np.bincount(
        court_codes, weights=n)
    rbar = np.bincount(court_codes, weights=r) / k
    dev = r - rbar[court_codes]
    shrink = tau ** 2 / (tau ** 2 + v) if tau > 0 else np.zeros_like(v)
    out = t.assign(court_rate=court_rate[court_codes], adjusted=court_rate[court_codes] + dev,
                   shrunk=court_rate[court_codes] + shrink * dev, shrinkage_weight=shrink,
                   z=(r - rbar_w[court_codes]) * np.sqrt(w))
    summary = []
    for c, name in enumerate(courts):
        s = out.loc[court_codes == c, "shrunk"].to_numpy()
        a = out.loc[court_codes == c, "adjusted"].to_numpy()
        summary.append({
            "court_id": str(name), "judges": int(k[c]), "decisions": int(n[court_codes == c].sum()),
            "rate": float(court_rate[c]),
            "adjusted_iqr": float(np.subtract(*np.percentile(a, [75, 25]))),
            "adjusted_range": float(a.max() - a.min()),
            "shrunk_iqr": float(np.subtract(*np.percentile(s, [75, 25]))),
            "shrunk_range": float(s.max() - s.min()),
            "q": float(q_court[c]), "df": int(k[c] - 1),
            "p_value": float(stats.chi2.sf(q_court[c], k[c] - 1)),
        })
    return PeriodResult(tau, boot, q, df, p, out, pd.DataFrame(summary), units.n_obs, len(t),
                        units.outcome_variance)


def _judge_rows(period: str, res: PeriodResult, min_cell: int) -> list[dict[str, Any]]:
    rows = []
    for rec in res.units.to_dict(orient="records"):
        if rec["n"] < min_cell:
            continue
        rows.append({"period": period, "judge_id": rec["judge_id"], "court_id": rec["court_id"],
                     "n": int(rec["n"]), "observed": float(rec["observed"]),
                     "expected": float(rec["expected"]), "adjusted": float(rec["adjusted"]),
                     "shrunk": float(rec["shrunk"]), "court_rate": float(rec["court_rate"]),
                     "shrinkage_weight": float(rec["shrinkage_weight"]), "z": float(rec["z"])})
    return rows


@register_analysis("judge_variance")
def judge_variance(frame: AnalysisFrame, config: AuditConfig, name: str,
                   spec: AnalysisSpec) -> AnalysisOutput:
    """H6: within-court SD of judge effects (post-policy), its change, and display tables."""
    options = options_of(spec, config)
    cluster = config.inference.cluster
    level = config.inference.interval_level
    data = frame.data
    units = {}
    excluded: dict[str, dict[str, int]] = {}
    for period, flag in PERIODS.items():
        excluded[period] = {}
        rows = sample_rows(data, spec.outcome, options, cluster, flag, excluded[period])
        if len(rows):
            units[period] = judge_units(rows, spec.outcome, options, cluster)
    if "post_policy" not in units:
        raise NotEstimable(spec.outcome, "no court has two judges with enough post-policy decisions")
    if units["post_policy"].outcome_variance == 0:  # a judge cannot differ where no outcome does
        raise NotEstimable(spec.outcome, "the outcome is constant in the post-policy sample")
    # one set of bootstrap draws over every unit of either period, stratified by court
    all_units = pd.concat([u.table[["unit", "court_id"]] for u in units.values()]).drop_duplicates("unit")
    court_codes, _ = pd.factorize(all_units["court_id"])
    k_all = np.bincount(court_codes)
    rng = np.random.default_rng([config.seed, 60])
    reps = int(options["bootstrap_replicates"])
    weights = np.ones((reps, len(all_units)))
    multi = k_all >= 2
    w_multi = _rao_wu_weights(court_codes, np.where(multi, k_all, 2), reps, rng)
    weights[:, multi[court_codes]] = w_multi[:, multi[court_codes]]
    position = pd.Index(all_units["unit"])
    results = {p: _analyse_period(u, weights[:, position.get_indexer(u.table["unit"])])
               for p, u in units.items()}
    post = results["post_policy"]
    crit = stats.t.ppf(0.5 + level / 2, max(post.n_judges - 1, 1))
    se = PERCENT * float(np.std(post.tau_boot, ddof=1))
    tau = PERCENT * post.tau
    estimates = {"judge_sd_within_court": Estimate(
        estimate=tau, std_error=se, ci_low=max(0.0, tau - crit * se), ci_high=tau + crit * se,
        p_value=post.p_value, n_obs=post.n_obs)}
    if "pre_policy" in results:
        pre = results["pre_policy"]
        change = PERCENT * (post.tau - pre.tau)
        boot = PERCENT * (post.tau_boot - pre.tau_boot)
        c_se = float(np.std(boot, ddof=1))
        df_t = max(post.n_judges - 1, 1)
        estimates["judge_sd_change"] = Estimate(
            estimate=change, std_error=c_se, ci_low=change - crit * c_se, ci_high=change + crit * c_se,
            p_value=float(2 * stats.t.sf(abs(change) / c_se, df_t)) if c_se > 0 else float("nan"),
            n_obs=post.n_obs + pre.n_obs)
    min_cell = config.disparities.min_cell
    model = {
        "name": name, "family": "variance components", "engine":
            "method of moments on case-mix-adjusted judge rates (fairness_audit.analyses.judges); "
            "Rao-Wu judge bootstrap within courts; Cochran's Q",
        "formula": f"{spec.outcome} ~ {' + '.join(options['controls'])} | "
                   f"{' + '.join(options['fixed_effects'])} (expected outcome without the judge)",
        "fixed_effects": list(options["fixed_effects"]), "cluster": cluster,
        "cov_type": "judge bootstrap (stratified by court)", "small_sample_correction":
            f"Rao-Wu rescaling, {reps} replicates; estimate +/- t(G-1) bootstrap SE",
        "n_obs": int(post.n_obs), "n_clusters": int(post.n_judges),
        "sample": {"filter": " & ".join([*options["sample"], "post_policy"]),
                   "excluded": excluded["post_policy"]},
        "coefficients": [
            {"term": term, "estimate": e.estimate, "std_error": e.std_error,
             "statistic": None, "p_value": e.p_value, "ci_low": e.ci_low, "ci_high": e.ci_high}
            for term, e in estimates.items()],
        "judges": [row for p, res in results.items() for row in _judge_rows(p, res, min_cell)],
        "periods": {p: {"tau": PERCENT * res.tau, "q": res.q, "df": res.df, "p_value": res.p_value,
                        "judges": res.n_judges, "decisions": res.n_obs,
                        "judge_share_of_variance": (res.tau ** 2 / res.outcome_variance
                                                    if res.outcome_variance > 0 else None),
                        "courts": res.courts.to_dict(orient="records")}
                    for p, res in results.items()},
        "warnings": [],
    }
    checks = []
    return AnalysisOutput(scale="percentage-points", estimates=estimates, checks=checks,
                          models=[model])


def judge_targets(data: pd.DataFrame, expected_grant: pd.Series, config: AuditConfig,
                  spec: AnalysisSpec) -> dict[str, float]:
    """truth.json targets of H6 on a simulation: tau (and its change) from the true probabilities.

    ``expected_grant`` holds each decision's true probability of the outcome (aligned with
    ``data``); the rows and units are exactly those the estimator uses.
    """
    options = options_of(spec, config)
    cluster = config.inference.cluster
    taus = {}
    for period, flag in PERIODS.items():
        rows = sample_rows(data, spec.outcome, options, cluster, flag)
        if rows.empty:
            continue
        unit = rows[options["court"]].astype(str) + "|" + rows[cluster].astype(str)
        m = expected_grant.loc[rows.index].groupby(unit).mean()
        court = rows[options["court"]].astype(str).groupby(unit).first()
        taus[period] = within_court_sd(m, court.loc[m.index])
    out = {}
    if "post_policy" in taus:
        out["judge_sd_within_court"] = PERCENT * taus["post_policy"]
        if "pre_policy" in taus:
            out["judge_sd_change"] = PERCENT * (taus["post_policy"] - taus["pre_policy"])
    return out
