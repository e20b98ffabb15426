"""Group metrics with judge-cluster bootstrap intervals, adjusted gaps, decomposition, suppression.

What each disparity row holds (results.json ``disparities``, contract section 7, plus additive
fields):

* **Raw rates** per group (fairlearn's ``MetricFrame``: ``selection_rate`` and ``count``), for
  every binary outcome x dimension (and intersection of two dimensions) x period (before and
  after the policy date). Continuous outcomes (duration, hearings) get the mean as ``value`` and
  the median beside it.
* **Intervals** from a judge-cluster bootstrap: the judges are resampled with replacement once
  per replicate, and the same resampled judges serve every group, outcome, dimension and period
  (one weight matrix, seeded from ``config.seed``). Each replicate's group sums come from
  per-judge x group sums with one matrix product, never a loop over groups. Intervals are the
  estimate +/- t(G - 1) bootstrap standard errors (G judges), the convention of the models; the
  median's interval is Woodruff's: the bootstrap interval of the share at or below the median,
  mapped back through the group's quantiles.
* **Gaps** to a reference group (``disparities.reference``; default the largest group, ties to
  the first seen): difference and ratio, with a bootstrap interval and a t(G - 1) p-value for the
  difference; Benjamini-Hochberg (or Holm) within each outcome x dimension family (both periods);
  the four-fifths ratio is shown as information, never as a verdict.
* **Adjusted gaps**: each group's gap after controlling for the other case characteristics
  (``controls``), the judge and time (the plan's fixed effects), from a linear probability model
  fitted per period. In a linear model the group coefficient *is* the average marginal effect of
  belonging to the group rather than the reference, and judge fixed effects carry no
  incidental-parameter bias; the model is fitted by Frisch-Waugh-Lovell (fixed effects swept out
  once with pyfixest's ``demean``), with the engine's CRV1 judge-clustered covariance and
  small-sample factor, so the whole set of dimensions fits in memory at national size.
  Controls that encode the dimension itself are left out (custody: detained; language:
  nationality; court: the judge, since judges sit in one court).
* **Oaxaca-Blinder decomposition** of each raw gap (pooled, with group indicators): raw gap =
  unexplained (the adjusted gap) + explained by the controls + explained by the fixed effects
  (the judges the group meets, nationality and case-type mix, timing). The identity is exact
  because the residuals average zero in every group.
* **Suppression** (contract section 9): cells with fewer than ``min_cell`` decisions are hidden,
  then complementary cells are hidden until no hidden count can be solved from the published
  cells and margins: each period's one-way tables and intersection tables form one linear
  system (intersection rows and columns sum to the one-way cells, one-way tables sum to the
  total), and a hidden cell is solvable when the null space of the system restricted to hidden
  cells has no component on it. The same pattern applies to every outcome of a period, so a
  count shown for one outcome never reveals a cell hidden for another.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame, selection_rate
from scipy import stats

from fairness_audit.config import AuditConfig
from fairness_audit.inference import adjust
from fairness_audit.models.cells import demean
from fairness_audit.progress import ProgressLike, as_progress

PERIODS = {"pre_policy": 0.0, "post_policy": 1.0}
INTERSECTION_SEPARATOR = " / "
# controls or fixed effects that encode a dimension, and so are left out of its adjusted gap
RELATED: dict[str, tuple[str, ...]] = {
    "represented": ("represented", "unrepresented"),
    "custody": ("custody", "detained"),
    "detained": ("detained", "custody"),
    "language": ("language", "nationality"),
    "nationality": ("nationality", "language"),
    "court_id": ("court_id", "judge_id"),
    "judge_id": ("judge_id", "court_id"),
}
FAVOURABLE = ("granted",)  # outcomes for which the four-fifths ratio is shown


def group_labels(values: pd.Series) -> pd.Series:
    """Text labels of a dimension's groups; true/false flags read "yes"/"no"; nulls stay null."""
    missing = values.isna().to_numpy()
    if pd.api.types.is_numeric_dtype(values) and set(values.dropna().unique()) <= {0, 1}:
        text = np.where(values.fillna(0).to_numpy() == 1, "yes", "no").astype(object)
    else:
        text = values.astype(str).to_numpy(dtype=object)
    text[missing] = None
    return pd.Series(text, index=values.index, dtype=object)


def dimension_labels(data: pd.DataFrame, dimension: str | tuple[str, ...]) -> pd.Series:
    """Group label of every row for a dimension or an intersection (null if any part is null)."""
    parts = (dimension,) if isinstance(dimension, str) else tuple(dimension)
    labels = [group_labels(data[p]) for p in parts]
    out = labels[0].to_numpy(dtype=object)
    for lab in labels[1:]:
        other = lab.to_numpy(dtype=object)
        both = pd.notna(out) & pd.notna(other)
        joined = np.full(len(out), None, dtype=object)
        joined[both] = out[both].astype(str) + INTERSECTION_SEPARATOR + other[both].astype(str)
        out = joined
    return pd.Series(out, index=data.index, dtype=object)


def dimension_name(dimension: str | tuple[str, ...]) -> str:
    return dimension if isinstance(dimension, str) else " x ".join(dimension)


# --------------------------------------------------------------------------- bootstrap weights
@dataclass(frozen=True)
class JudgeBootstrap:
    """One judge-resampling index shared by every table: ``weights[r, j]`` = how many times
    judge j is drawn in replicate r (multinomial, J draws among J judges)."""

    judges: pd.Index
    weights: np.ndarray  # (R, J) float

    @classmethod
    def draw(cls, judges: pd.Series, replicates: int, seed: int) -> JudgeBootstrap:
        index = pd.Index(pd.unique(judges.astype(str)))
        rng = np.random.default_rng([seed, 6])  # stream 6: this module's bootstrap
        j = len(index)
        weights = rng.multinomial(j, np.full(j, 1.0 / j), size=replicates).astype(float)
        return cls(index, weights)

    def codes(self, judges: pd.Series) -> np.ndarray:
        return self.judges.get_indexer(judges.astype(str))


def _bincount2(j: np.ndarray, g: np.ndarray, n_j: int, n_g: int, w: np.ndarray | None) -> np.ndarray:
    return np.bincount(j * n_g + g, weights=w, minlength=n_j * n_g).reshape(n_j, n_g)


def _boot_se(values: np.ndarray) -> np.ndarray:
    """Bootstrap standard error per column, ignoring replicates where the statistic is undefined."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ok = np.isfinite(values)
        n_ok = ok.sum(axis=0)
        se = np.nanstd(np.where(ok, values, np.nan), axis=0, ddof=1)
    return np.where(n_ok >= 10, se, np.nan)


# --------------------------------------------------------------------------- one table
def choose_reference(n: pd.Series, order: list[str], named: str | None) -> str:
    """The named reference, or the largest group (ties: the first seen)."""
    if named is not None:
        return named
    first = {g: i for i, g in enumerate(order)}
    return max(n.index, key=lambda g: (n[g], -first[g]))


def _weighted_count(y_true, y_pred, sample_weight) -> float:
    return float(np.sum(sample_weight))


def group_metrics(y: np.ndarray, groups: pd.Series) -> pd.DataFrame:
    """Rate and count per group from fairlearn's ``MetricFrame``, on sufficient statistics.

    MetricFrame is given one row per (group, outcome value) with the number of decisions as
    the sample weight: ``selection_rate`` and the count are exact, and the cost does not grow
    with the number of decisions (MetricFrame on row-level data takes about a second per
    100,000 rows, too slow for hundreds of tables at national size).
    """
    codes, uniques = pd.factorize(groups)
    return _metric_frame(y, codes, np.asarray(uniques, dtype=object), groups.name)


def _metric_frame(y: np.ndarray, codes: np.ndarray, uniques: np.ndarray, name: Any) -> pd.DataFrame:
    """``group_metrics`` from integer group codes: the (group, outcome value) counts come from
    bincounts, so no label is hashed per row."""
    parts = []
    for value in np.unique(y):
        count = np.bincount(codes[y == value], minlength=len(uniques))
        present = np.flatnonzero(count)
        parts.append(pd.DataFrame({"group": uniques[present], "y": value, "count": count[present]}))
    agg = pd.concat(parts, ignore_index=True)
    weights = agg["count"].to_numpy(dtype=float)
    mf = MetricFrame(metrics={"value": selection_rate, "n": _weighted_count},
                     y_true=agg["y"].to_numpy(), y_pred=agg["y"].to_numpy(),
                     sensitive_features=agg["group"].rename(name),
                     sample_params={"value": {"sample_weight": weights},
                                    "n": {"sample_weight": weights}})
    by = mf.by_group
    by["n"] = by["n"].round().astype(int)
    return by


def label_codes(labels: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes of a dimension's labels (-1 for null) and the labels they stand for."""
    codes, uniques = pd.factorize(labels)
    return codes, np.asarray(uniques, dtype=object)


def group_table(data: pd.DataFrame, *, outcome: str, dimension: str | tuple[str, ...],
                reference: str | None, cluster: str, level: float, boot: JudgeBootstrap,
                continuous: bool = False, labels: pd.Series | None = None,
                judge_codes: np.ndarray | None = None,
                codes: tuple[np.ndarray, np.ndarray] | None = None) -> pd.DataFrame:
    """Rates (or means) of ``outcome`` by group with bootstrap intervals and gaps to the reference.

    Parameters
    ----------
    data : rows of one period.
    outcome : a 0/1 column (rates) or a numeric column (``continuous=True``: mean and median).
    dimension : a column, or a tuple of columns for an intersection.
    reference : the reference group, or None for the largest group.
    boot : the judge-resampling index shared by all tables.
    labels, judge_codes, codes : the dimension's labels, the judges' bootstrap codes and
        ``label_codes(labels)`` of these rows, when the caller has them (one table per outcome
        shares them).

    Returns
    -------
    One row per group: group, reference, n, value, ci_low, ci_high, difference (+ interval),
    ratio, p_value, n_judges (and median, median_ci_low, median_ci_high when continuous).
    """
    if codes is None:
        codes = label_codes(dimension_labels(data, dimension) if labels is None else labels)
    all_codes, uniques = codes
    y_all = data[outcome].to_numpy(dtype=float, na_value=np.nan)
    keep = (all_codes >= 0) & ~np.isnan(y_all)
    code, y = all_codes[keep], y_all[keep]
    if continuous:
        by = pd.DataFrame({"y": y, "g": uniques[code]}).groupby("g", sort=True)["y"].agg(
            value="mean", n="size", median="median")
    else:
        by = _metric_frame(y, code, uniques, dimension_name(dimension))
    order = list(uniques[pd.unique(code)])  # first seen first
    reference = choose_reference(by["n"], order, reference)
    names = list(by.index)
    position = np.full(len(uniques), -1)
    position[pd.Index(uniques).get_indexer(names)] = np.arange(len(names))
    gcode = position[code]
    jcode = (judge_codes if judge_codes is not None else boot.codes(data[cluster]))[keep]
    n_j, n_g = len(boot.judges), len(names)
    sums = _bincount2(jcode, gcode, n_j, n_g, y)
    counts = _bincount2(jcode, gcode, n_j, n_g, None)
    with np.errstate(invalid="ignore", divide="ignore"):
        boot_values = (boot.weights @ sums) / (boot.weights @ counts)  # (R, G)
    judges_in_table = int(np.count_nonzero(counts.sum(axis=1)))
    if judges_in_table < 2:  # every replicate redraws the one judge: no interval, not a zero-width one
        boot_values = np.full_like(boot_values, np.nan)
    se = _boot_se(boot_values)
    df_t = max(judges_in_table - 1, 1)
    crit = stats.t.ppf(0.5 + level / 2, df_t)
    n_judges = np.count_nonzero(counts, axis=0)
    has_ref = reference in names
    ref_i = names.index(reference) if has_ref else None
    ref_value = float(by.loc[reference, "value"]) if has_ref else np.nan
    if continuous and judges_in_table < 2:
        med_lo = med_hi = np.full(n_g, np.nan)
    elif continuous:
        med_lo, med_hi = _median_intervals(y, gcode, jcode, by["median"].to_numpy(), n_j, n_g, boot,
                                           crit)
    out = []
    for i, group in enumerate(names):
        value = float(by.loc[group, "value"])
        lo, hi = value - crit * se[i], value + crit * se[i]
        if not continuous:
            lo, hi = max(0.0, lo), min(1.0, hi)
        diff = value - ref_value
        if has_ref and i != ref_i:
            d_se = float(_boot_se((boot_values[:, i] - boot_values[:, ref_i])[:, None])[0])
            p = float(2 * stats.t.sf(abs(diff) / d_se, df_t)) if d_se > 0 else float("nan")
            d_lo, d_hi = diff - crit * d_se, diff + crit * d_se
        else:
            p = d_lo = d_hi = float("nan")
        row = {
            "group": group, "reference": reference, "n": int(by.loc[group, "n"]), "value": value,
            "ci_low": lo, "ci_high": hi, "difference": diff, "difference_ci_low": d_lo,
            "difference_ci_high": d_hi,
            "ratio": value / ref_value if ref_value > 0 else float("nan"), "p_value": p,
            "n_judges": int(n_judges[i]),
        }
        if continuous:
            row.update(median=float(by.loc[group, "median"]), median_ci_low=med_lo[i],
                       median_ci_high=med_hi[i])
        out.append(row)
    return pd.DataFrame(out)


def _median_intervals(y, gcode, jcode, medians, n_j, n_g, boot, crit):
    """Woodruff intervals: bootstrap the share of each group at or below its median."""
    below = (y <= medians[gcode]).astype(float)
    s = _bincount2(jcode, gcode, n_j, n_g, below)
    c = _bincount2(jcode, gcode, n_j, n_g, None)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = (boot.weights @ s) / (boot.weights @ c)
    se = _boot_se(share)
    lo, hi = np.full(n_g, np.nan), np.full(n_g, np.nan)
    for g in range(n_g):
        if not np.isfinite(se[g]):
            continue
        vals = y[gcode == g]
        lo[g] = float(np.quantile(vals, np.clip(0.5 - crit * se[g], 0, 1), method="inverted_cdf"))
        hi[g] = float(np.quantile(vals, np.clip(0.5 + crit * se[g], 0, 1), method="inverted_cdf"))
    return lo, hi


# --------------------------------------------------------------------------- suppression
@dataclass
class _Cells:
    """Every cell of a period's tables (one-way and intersections) and the sums that tie them."""

    keys: list[tuple[str, str]]  # (dimension name, group)
    n: np.ndarray
    equations: list[tuple[int | None, list[int]]]  # (total cell or None = published total, parts)


def suppression_pattern(cells: _Cells, min_cell: int) -> np.ndarray:
    """Hide cells under ``min_cell`` and enough complements that no hidden cell can be solved.

    Two rules alternate until nothing changes: (1) an equation (a total and its parts) with
    exactly one hidden member hides its smallest shown member; (2) the audit: with the shown
    cells fixed, a hidden cell is determined when every solution of the system gives it the
    same value, i.e. the null space of the system restricted to hidden cells is zero on it; the
    smallest shown cell of an equation containing it is then hidden too. Ties go to the cell
    listed first, which follows the data's order of first appearance (not the labels).
    """
    n = cells.n
    m = len(n)
    hidden = n < min_cell
    if not hidden.any():
        return hidden
    members = [([t] if t is not None else []) + list(parts) for t, parts in cells.equations]
    order = np.lexsort((np.arange(m), n))  # smallest first, ties by position
    rank_of = np.empty(m, dtype=int)
    rank_of[order] = np.arange(m)

    def hide_smallest_shown(eq: list[int]) -> bool:
        shown = [i for i in eq if not hidden[i]]
        if not shown:
            return False
        hidden[min(shown, key=lambda i: rank_of[i])] = True
        return True

    for _ in range(10 * m + 10):
        changed = False
        for eq in members:
            if sum(hidden[i] for i in eq) == 1:
                changed |= hide_smallest_shown(eq)
        if changed:
            continue
        solvable = _determined(cells, hidden)
        if not solvable:
            break
        cell = solvable[0]
        eqs = [eq for eq in members if cell in eq and any(not hidden[i] for i in eq)]
        if not eqs or not hide_smallest_shown(min(eqs, key=len)):
            hidden[:] = True  # nothing left to hide around it: hide the whole system
            break
    return hidden


def _determined(cells: _Cells, hidden: np.ndarray) -> list[int]:
    """Hidden cells whose value the shown cells and the equations pin down."""
    idx = np.flatnonzero(hidden)
    if len(idx) == 0:
        return []
    col = {c: k for k, c in enumerate(idx)}
    rows = []
    for total, parts in cells.equations:
        vec = np.zeros(len(idx))
        if total is not None and hidden[total]:
            vec[col[total]] = -1.0
        for p in parts:
            if hidden[p]:
                vec[col[p]] += 1.0
        if vec.any():
            rows.append(vec)
    if not rows:
        return []
    a = np.array(rows)
    _, s, vt = np.linalg.svd(a, full_matrices=True)
    rank = int((s > 1e-9 * max(s.max(), 1.0)).sum())
    null = vt[rank:]  # basis of the null space, (k - rank, k)
    if null.shape[0] == 0:
        return [int(i) for i in idx]
    norms = np.sqrt((null ** 2).sum(axis=0))
    return [int(idx[k]) for k in np.flatnonzero(norms < 1e-9)]


def _period_cells(tables: dict[str, pd.DataFrame], intersections: dict[str, tuple[str, str]]) -> _Cells:
    keys, n = [], []
    position: dict[tuple[str, str], int] = {}
    for dim, table in tables.items():
        for group, size in zip(table["group"], table["n"], strict=True):
            position[(dim, group)] = len(keys)
            keys.append((dim, group))
            n.append(int(size))
    equations: list[tuple[int | None, list[int]]] = []
    for dim in tables:
        if dim in intersections:
            continue
        equations.append((None, [position[(dim, g)] for g in tables[dim]["group"]]))
    for dim, (a, b) in intersections.items():
        if dim not in tables:
            continue
        parts = [tuple(g.split(INTERSECTION_SEPARATOR, 1)) for g in tables[dim]["group"]]
        for margin_dim, side in ((a, 0), (b, 1)):
            if margin_dim not in tables:
                equations.append((None, [position[(dim, g)] for g in tables[dim]["group"]]))
                continue
            for mg in tables[margin_dim]["group"]:
                members = [position[(dim, g)] for g, pr in zip(tables[dim]["group"], parts, strict=True)
                           if pr[side] == mg]
                if members:
                    equations.append((position[(margin_dim, mg)], members))
    return _Cells(keys, np.array(n, dtype=int), equations)


# --------------------------------------------------------------------------- adjusted gaps
def _fe_k(fe: np.ndarray, clusters: np.ndarray) -> int:
    """Fixed-effect parameters counted in the small-sample factor (fixest's "nonnested")."""
    if fe.shape[1] == 0:
        return 0
    k = 0
    for col in fe.T:
        levels = int(col.max()) + 1
        nested = pd.DataFrame({"f": col, "c": clusters}).groupby("f")["c"].nunique().max() == 1
        k += 1 if nested else levels
    return k - (fe.shape[1] - 1)


@dataclass(frozen=True)
class AdjustedFit:
    """One period x dimension x outcome: group coefficients and their decomposition."""

    coef: dict[str, tuple[float, float, float, float, float]]  # group -> (est, se, lo, hi, p)
    explained: dict[str, tuple[float, float, float, float, float]]  # group -> (est, lo, hi, ctrl, fe)
    n_obs: int
    controls: tuple[str, ...]
    fixed_effects: tuple[str, ...]


def adjusted_gaps(data: pd.DataFrame, *, outcomes: list[str], dimension: str | tuple[str, ...],
                  labels: pd.Series, reference: str, shown: set[str],
                  config: AuditConfig,
                  codes: tuple[np.ndarray, np.ndarray] | None = None) -> dict[str, AdjustedFit]:
    """Linear-probability adjusted gaps of every group to ``reference``, with decomposition.

    ``outcome ~ group indicators + controls | fixed effects`` on one period's rows (one fit per
    outcome, the fixed effects swept out once for all of them); judge-clustered CRV1 covariance
    with the engine's small-sample factor and t(G - 1) intervals. Groups beyond
    ``adjusted_max_groups`` (the largest kept) share one indicator and get no adjusted gap.
    Rows missing a control, a fixed effect or any of ``outcomes`` are left out (the caller groups
    outcomes that are missing on the same rows).
    """
    parts = (dimension,) if isinstance(dimension, str) else tuple(dimension)
    related = set(parts) | {r for p in parts for r in RELATED.get(p, ())}
    controls = tuple(c for c in config.controls if c not in related and c in data.columns)
    fes = tuple(f for f in config.fixed_effects if f not in related and f in data.columns)
    cluster = config.inference.cluster
    need = [*outcomes, *controls, *fes, cluster]
    all_codes, all_uniques = label_codes(labels) if codes is None else codes
    keep = (all_codes >= 0) & data[need].notna().all(axis=1).to_numpy()
    rows = data[keep]
    codes, present = pd.factorize(all_codes[keep])
    uniques = np.asarray([str(g) for g in all_uniques[present]], dtype=object)
    if len(rows) < 10 or reference not in set(uniques) or rows[cluster].nunique() < 2:
        return {}  # (with one judge no clustered covariance exists)
    sizes = np.bincount(codes, minlength=len(uniques))
    ref_code = int(np.flatnonzero(uniques == reference)[0])
    others = [k for k in np.argsort(-sizes, kind="stable") if k != ref_code]
    kept = others[: config.disparities.adjusted_max_groups]
    pooled = others[config.disparities.adjusted_max_groups:]
    # rows in judge order: each judge's scores are then a sum over one block of rows
    clusters = pd.factorize(rows[cluster])[0]
    order = np.argsort(clusters, kind="stable")
    rows, codes, clusters = rows.iloc[order], codes[order], clusters[order]
    clusters = pd.factorize(clusters)[0]
    starts = np.flatnonzero(np.r_[True, np.diff(clusters) != 0])
    n_obs, n_dummies = len(rows), len(kept) + (1 if pooled else 0)
    # one matrix [outcomes | group indicators | controls], filled in place (no stacked copies)
    n_out, n_ctrl = len(outcomes), len(controls)
    both = np.zeros((n_obs, n_out + n_dummies + n_ctrl))
    both[:, :n_out] = rows[list(outcomes)].astype(float).to_numpy()
    column_of_code = np.full(len(uniques), -1)
    column_of_code[kept] = np.arange(len(kept))
    if pooled:
        column_of_code[pooled] = len(kept)
    has_column = column_of_code[codes] >= 0
    both[np.flatnonzero(has_column), n_out + column_of_code[codes][has_column]] = 1.0
    if controls:
        both[:, n_out + n_dummies:] = rows[list(controls)].astype(float).to_numpy()
    raw = both  # the demeaned copy is a new array: raw keeps the values as they are
    ys, x = raw[:, :n_out], raw[:, n_out:]
    xc = x[:, n_dummies:]
    fe = np.column_stack([pd.factorize(rows[f])[0] for f in fes]) if fes \
        else np.zeros((len(rows), 0), dtype=int)
    n_clusters = int(clusters.max()) + 1
    # every column in one call: the engine's only extra memory is its result
    both = demean(both, fe, np.ones(len(both)))
    yts, xt = both[:, : len(outcomes)], both[:, len(outcomes):]
    usable = np.sqrt(np.einsum("ij,ij->j", xt, xt)) > 1e-8 * np.sqrt(n_obs)
    xt_u = xt[:, usable] if not usable.all() else xt
    x_u = x[:, usable] if not usable.all() else x
    xtx_inv = np.linalg.pinv(xt_u.T @ xt_u)
    df_k = int(usable.sum()) + _fe_k(fe, clusters)
    ssc = n_clusters / (n_clusters - 1) * (n_obs - 1) / max(n_obs - df_k, 1)
    df_t = max(n_clusters - 1, 1)
    crit = stats.t.ppf(0.5 + config.inference.interval_level / 2, df_t)
    col_of = {c: k for k, c in enumerate(np.flatnonzero(usable))}
    n_groups = len(uniques)
    n_g = np.bincount(codes, minlength=n_groups).astype(float)
    counts = _bincount2(clusters, codes, n_clusters, n_groups, None)
    xc_means = np.column_stack([np.bincount(codes, weights=xc[:, i], minlength=n_groups) / n_g
                                for i in range(xc.shape[1])]) if controls else None
    # every outcome at once: one pass over the demeaned matrix for the coefficients, one for
    # the fitted values, and each judge's scores X_g' e_g from the judge's block of rows
    betas = xtx_inv @ (xt_u.T @ yts)  # (k, outcomes)
    fitted_all = xt_u @ betas
    fe_fitted = x_u @ betas
    ends = np.r_[starts[1:], n_obs]
    resid_all = yts - fitted_all
    scores_all = np.stack([xt_u[a:b].T @ resid_all[a:b] for a, b in zip(starts, ends, strict=True)])
    fits: dict[str, AdjustedFit] = {}
    for o, outcome in enumerate(outcomes):
        y, yt = ys[:, o], yts[:, o]
        beta_u, fitted = betas[:, o], fitted_all[:, o]
        scores = scores_all[:, :, o]  # (G, k) per judge
        cov_u = ssc * xtx_inv @ (scores.T @ scores) @ xtx_inv
        coef_inf = scores @ xtx_inv  # per-judge influence on the coefficients
        beta = np.full(x.shape[1], np.nan)
        beta[usable] = beta_u
        fe_part = (y - yt) - (fe_fitted[:, o] - fitted)  # each row's fitted fixed effects
        fe_means = np.bincount(codes, weights=fe_part, minlength=n_groups) / n_g
        sums = _bincount2(clusters, codes, n_clusters, n_groups, y)
        means = sums.sum(axis=0) / n_g
        raw_inf = (sums - counts * means) / n_g  # per-judge influence on each group's mean
        coef, explained = {}, {}
        for k, code in enumerate(kept):
            g = str(uniques[code])
            if g not in shown or k not in col_of:
                continue
            c = col_of[k]
            est, se = float(beta[k]), float(np.sqrt(max(cov_u[c, c], 0.0)))
            p = float(2 * stats.t.sf(abs(est) / se, df_t)) if se > 0 else float("nan")
            coef[g] = (est, se, est - crit * se, est + crit * se, p)
            raw = means[code] - means[ref_code]
            ctrl = float((xc_means[code] - xc_means[ref_code]) @ np.nan_to_num(beta[n_dummies:])) \
                if controls else 0.0
            fe_gap = float(fe_means[code] - fe_means[ref_code])
            per_cluster = raw_inf[:, code] - raw_inf[:, ref_code] - coef_inf[:, c]
            e_se = float(np.sqrt(n_clusters / (n_clusters - 1) * np.sum(per_cluster ** 2)))
            e = float(raw - est)
            explained[g] = (e, e - crit * e_se, e + crit * e_se, ctrl, fe_gap)
        fits[outcome] = AdjustedFit(coef, explained, n_obs, controls, fes)
    return fits


# --------------------------------------------------------------------------- the whole set
def _nan_to_none(value: Any) -> Any:
    if isinstance(value, float | np.floating) and not np.isfinite(value):
        return None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


GAP_FIELDS = ("difference", "difference_ci_low", "difference_ci_high", "ratio", "p_value",
              "p_adjusted", "four_fifths_below", "adjusted_difference", "adjusted_ci_low",
              "adjusted_ci_high", "adjusted_p_value", "adjusted_p_adjusted", "explained",
              "explained_ci_low", "explained_ci_high", "explained_controls",
              "explained_fixed_effects")
SUPPRESSED_FIELDS = ("n", "value", "ci_low", "ci_high", "n_judges", "median", "median_ci_low",
                     "median_ci_high", *GAP_FIELDS)


def plan_dimensions(config: AuditConfig, columns) -> list[str | tuple[str, str]]:
    cfg = config.disparities
    dims: list[str | tuple[str, str]] = [d for d in cfg.dimensions if d in columns]
    dims += [tuple(i) for i in cfg.intersections if all(p in columns for p in i)]
    return dims


def disparities(frame: pd.DataFrame, config: AuditConfig, *,
                progress: ProgressLike = None) -> list[dict[str, Any]]:
    """Rates, gaps, adjusted gaps and decompositions for every outcome x dimension x period.

    ``progress`` (:mod:`fairness_audit.progress`) counts the tables (each with its bootstrap
    intervals) and each period's adjusted gaps as they are done.
    """
    cfg = config.disparities
    data = frame[frame["in_window"].astype(bool)]
    if data.empty:  # no decision in the window: no group has a rate
        return []
    cluster = config.inference.cluster
    level = config.inference.interval_level
    boot = JudgeBootstrap.draw(data[cluster], cfg.bootstrap_replicates, config.seed)
    dims = plan_dimensions(config, data.columns)
    outcomes = [(o, False) for o in cfg.outcomes if o in data.columns] + \
        [(o, True) for o in cfg.continuous if o in data.columns]
    intersections = {dimension_name(d): d for d in dims if isinstance(d, tuple)}
    rows: list[dict[str, Any]] = []
    periods = {period: flag for period, flag in PERIODS.items()
               if (data["post_policy"] == flag).any()}
    total = len(periods) * (len(outcomes) * len(dims) + int(cfg.adjusted))
    with as_progress(progress).task("disparity tables", total) as task:
        for period, flag in periods.items():
            part = data[data["post_policy"] == flag]
            labels = {dimension_name(d): dimension_labels(part, d) for d in dims}
            codes = {name: label_codes(values) for name, values in labels.items()}
            judge_codes = boot.codes(part[cluster])
            tables: dict[tuple[str, str], pd.DataFrame] = {}
            for outcome, continuous in outcomes:
                for dim in dims:
                    name = dimension_name(dim)
                    # a table needs a row with both a group and an outcome (not each on its own row)
                    if ((codes[name][0] >= 0) & part[outcome].notna().to_numpy()).any():
                        tables[(outcome, name)] = group_table(
                            part, outcome=outcome, dimension=dim, reference=cfg.reference.get(name),
                            cluster=cluster, level=level, boot=boot, continuous=continuous,
                            labels=labels[name], judge_codes=judge_codes, codes=codes[name])
                    task.advance()
            hidden = _hidden_cells(tables, intersections, cfg.min_cell)
            fits = {}
            if cfg.adjusted:
                fits = _adjusted_fits(part, tables, labels, hidden, dims, config, codes)
                task.advance()
            for (outcome, name), table in tables.items():
                rows.extend(_rows_of(table, outcome=outcome, name=name, period=period, hidden=hidden,
                                     continuous=outcome in cfg.continuous,
                                     adjusted=fits.get((outcome, name))))
    _adjust_p(rows, config)
    return rows


def _hidden_cells(tables, intersections, min_cell) -> set[tuple[str, str]]:
    """One suppression pattern per period for all outcomes: a cell is as small as its smallest n."""
    sizes: dict[str, pd.DataFrame] = {}
    for (_outcome, name), table in tables.items():
        t = table[["group", "n"]]
        if name in sizes:
            merged = sizes[name].merge(t, on="group", how="outer", suffixes=("", "_o"), sort=False)
            merged["n"] = merged[["n", "n_o"]].min(axis=1).fillna(0).astype(int)
            sizes[name] = merged[["group", "n"]]
        else:
            sizes[name] = t.copy()
    cells = _period_cells(sizes, intersections)
    hide = suppression_pattern(cells, min_cell)
    return {cells.keys[i] for i in np.flatnonzero(hide)}


def _adjusted_fits(part, tables, labels, hidden, dims, config,
                   codes=None) -> dict[tuple[str, str], AdjustedFit]:
    """Adjusted gaps for every table whose reference is shown; outcomes missing on the same rows
    and sharing a reference are fitted together (one sweep of the fixed effects)."""
    fits: dict[tuple[str, str], AdjustedFit] = {}
    for dim in dims:
        name = dimension_name(dim)
        batches: dict[tuple[str, bytes], list[str]] = {}
        for (outcome, tname), table in tables.items():
            if tname != name:
                continue
            reference = str(table["reference"].iloc[0])
            if (name, reference) in hidden:
                continue
            mask = np.packbits(part[outcome].isna().to_numpy()).tobytes()
            batches.setdefault((reference, mask), []).append(outcome)
        shown = {g for (d, g) in ((d, g) for d, g in _all_cells(tables, name)) if (d, g) not in hidden}
        for (reference, _mask), outcomes in batches.items():
            for outcome, fit in adjusted_gaps(part, outcomes=outcomes, dimension=dim,
                                              labels=labels[name], reference=reference, shown=shown,
                                              config=config,
                                              codes=None if codes is None else codes[name]).items():
                fits[(outcome, name)] = fit
    return fits


def _all_cells(tables, name):
    seen = set()
    for (_outcome, tname), table in tables.items():
        if tname == name:
            seen |= {(name, g) for g in table["group"]}
    return seen


def _rows_of(table, *, outcome, name, period, hidden, continuous, adjusted):
    reference = str(table["reference"].iloc[0])
    shown = {g for g in table["group"] if (name, g) not in hidden}
    out = []
    for r in table.to_dict(orient="records"):
        g = str(r["group"])
        row = {"dimension": name, "group": g, "reference": reference, "outcome": outcome,
               "period": period, "statistic": "mean" if continuous else "rate",
               **{k: _nan_to_none(r.get(k)) for k in ("n", "value", "ci_low", "ci_high", "difference",
                                                      "difference_ci_low", "difference_ci_high",
                                                      "ratio", "p_value", "n_judges")},
               "p_adjusted": None,
               "four_fifths_below": (bool(r["ratio"] < 0.8) if outcome in FAVOURABLE
                                     and np.isfinite(r["ratio"]) else None),
               "adjusted_difference": None, "adjusted_ci_low": None, "adjusted_ci_high": None,
               "adjusted_p_value": None, "adjusted_p_adjusted": None, "explained": None,
               "explained_ci_low": None, "explained_ci_high": None, "explained_controls": None,
               "explained_fixed_effects": None, "suppressed": (name, g) in hidden}
        if continuous:
            row.update({k: _nan_to_none(r[k]) for k in ("median", "median_ci_low", "median_ci_high")})
        if g == reference:
            row.update(adjusted_difference=0.0, explained=0.0)
        elif adjusted is not None and g in adjusted.coef:
            est, _se, lo, hi, p = adjusted.coef[g]
            e, e_lo, e_hi, ctrl, fe_gap = adjusted.explained[g]
            row.update(adjusted_difference=est, adjusted_ci_low=lo, adjusted_ci_high=hi,
                       adjusted_p_value=_nan_to_none(p), explained=e, explained_ci_low=e_lo,
                       explained_ci_high=e_hi, explained_controls=ctrl,
                       explained_fixed_effects=fe_gap)
        if row["suppressed"]:
            row.update({k: None for k in SUPPRESSED_FIELDS if k in row})
        elif reference not in shown:
            # a gap to a hidden reference would reveal the reference's rate
            row.update({k: None for k in GAP_FIELDS})
        out.append(row)
    return out


def _adjust_p(rows: list[dict[str, Any]], config: AuditConfig) -> None:
    """Benjamini-Hochberg (or Holm) within each outcome x dimension family, both periods."""
    method = config.inference.adjustment
    families: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        families.setdefault((row["outcome"], row["dimension"]), []).append(row)
    for members in families.values():
        for raw, adjusted in (("p_value", "p_adjusted"), ("adjusted_p_value", "adjusted_p_adjusted")):
            tested = [r for r in members if r[raw] is not None]
            for r, p in zip(tested, adjust([r[raw] for r in tested], method), strict=True):
                r[adjusted] = p
