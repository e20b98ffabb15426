"""Group rates with judge-clustered intervals, gaps to a reference group, and suppression.

Rates per group come from fairlearn's ``MetricFrame`` (the field's fairness core). Decisions by
the same judge are not independent, so intervals use the judge-clustered (CR1) variance of each
rate and of each difference to the reference group, from the influence of every judge's
decisions, with t(G - 1) critical values. Gaps are tested per outcome x dimension x period
family (Benjamini-Hochberg by default); the four-fifths ratio is information, not a verdict.

Cells with fewer than ``min_cell`` decisions are suppressed (n, rate, intervals and gaps null),
and where a table would show every cell but one, the next smallest is suppressed too, so that no
hidden count can be solved from the table and its margin (contract section 9).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame, count, selection_rate
from scipy import stats

from fairness_audit.config import AuditConfig
from fairness_audit.inference import adjust

PERIODS = {"pre_policy": 0.0, "post_policy": 1.0}


def _cluster_se(influence: pd.Series, clusters: pd.Series) -> tuple[float, int]:
    """CR1 standard error of a statistic from its per-row influence values."""
    per_cluster = influence.groupby(clusters, observed=True).sum()
    g = len(per_cluster)
    if g < 2:
        return float("nan"), g
    return float(np.sqrt(g / (g - 1) * np.sum(per_cluster.to_numpy() ** 2))), g


def group_labels(values: pd.Series) -> pd.Series:
    """Text labels of a dimension's groups; true/false flags read "yes"/"no"."""
    if pd.api.types.is_numeric_dtype(values) and set(values.dropna().unique()) <= {0, 1}:
        return values.map({1: "yes", 0: "no"}).astype(str)
    return values.astype(str)


def group_table(data: pd.DataFrame, *, outcome: str, dimension: str, reference: str | None,
                cluster: str, level: float) -> pd.DataFrame:
    """Rates of ``outcome`` by ``dimension``: n, value, interval, difference and ratio to reference."""
    rows = data[data[dimension].notna() & data[outcome].notna()]
    y = rows[outcome].astype(float).to_numpy()
    groups = group_labels(rows[dimension])
    mf = MetricFrame(metrics={"value": selection_rate, "n": count}, y_true=y, y_pred=y,
                     sensitive_features=groups.rename(dimension))
    by = mf.by_group
    if reference is None:  # the largest group; ties to the first seen
        order = {g: i for i, g in enumerate(pd.unique(groups))}
        reference = max(by.index, key=lambda g: (by.loc[g, "n"], -order[g]))
    clusters = rows[cluster].astype(str)
    g_total = clusters.nunique()
    crit = stats.t.ppf(0.5 + level / 2, max(g_total - 1, 1))
    ref_rate = by.loc[reference, "value"] if reference in by.index else np.nan
    ref_mask = (groups == reference).to_numpy()
    ref_inf = np.where(ref_mask, (y - ref_rate) / max(ref_mask.sum(), 1), 0.0)
    out = []
    for group in by.index:
        mask = (groups == group).to_numpy()
        n = int(mask.sum())
        rate = float(by.loc[group, "value"])
        inf = np.where(mask, (y - rate) / n, 0.0)
        se, _ = _cluster_se(pd.Series(inf), clusters.reset_index(drop=True))
        diff = rate - ref_rate
        if group == reference:
            diff_se, p = float("nan"), float("nan")
        else:
            diff_se, _ = _cluster_se(pd.Series(inf - ref_inf), clusters.reset_index(drop=True))
            p = float(2 * stats.t.sf(abs(diff) / diff_se, max(g_total - 1, 1))) if diff_se > 0 \
                else float("nan")
        out.append({
            "group": group, "reference": reference, "n": n, "value": rate,
            "ci_low": max(0.0, rate - crit * se), "ci_high": min(1.0, rate + crit * se),
            "difference": diff, "difference_ci_low": diff - crit * diff_se,
            "difference_ci_high": diff + crit * diff_se,
            "ratio": rate / ref_rate if ref_rate > 0 else float("nan"), "p_value": p,
            "n_judges": int(clusters[mask].nunique()),
        })
    return pd.DataFrame(out)


def suppress(table: pd.DataFrame, min_cell: int) -> pd.Series:
    """Which cells to hide: those under ``min_cell``, plus complements where one alone is hidden."""
    hidden = table["n"] < min_cell
    if hidden.sum() == 1 and len(table) > 1:
        # the margin (the total) would reveal the single hidden cell: hide the next smallest too
        next_smallest = table.loc[~hidden, "n"].idxmin()
        hidden.loc[next_smallest] = True
    return hidden


def _nan_to_none(value: Any) -> Any:
    if isinstance(value, float | np.floating) and not np.isfinite(value):
        return None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


SUPPRESSED_FIELDS = ("n", "value", "ci_low", "ci_high", "difference", "ratio", "p_value",
                     "p_adjusted", "adjusted_difference", "adjusted_ci_low", "adjusted_ci_high",
                     "difference_ci_low", "difference_ci_high", "n_judges")


def disparities(frame: pd.DataFrame, config: AuditConfig) -> list[dict[str, Any]]:
    """Raw group rates and gaps for every outcome x dimension x period of the plan."""
    cfg = config.disparities
    data = frame[frame["in_window"].astype(bool)]
    rows: list[dict[str, Any]] = []
    for outcome in cfg.outcomes:
        for dimension in cfg.dimensions:
            if dimension not in data.columns:
                continue
            for period, flag in PERIODS.items():
                part = data[data["post_policy"] == flag]
                if part.empty or part[dimension].notna().sum() == 0:
                    continue
                table = group_table(part, outcome=outcome, dimension=dimension,
                                    reference=cfg.reference.get(dimension),
                                    cluster=config.inference.cluster,
                                    level=config.inference.interval_level)
                hidden = suppress(table, cfg.min_cell)
                reference_hidden = bool(hidden[table["group"] == table["reference"]].any())
                table["p_adjusted"] = np.nan
                testable = ~hidden & table["p_value"].notna()
                if testable.any():
                    table.loc[testable, "p_adjusted"] = adjust(
                        table.loc[testable, "p_value"].tolist(), config.inference.adjustment)
                for (_, r), h in zip(table.iterrows(), hidden, strict=True):
                    row = {"dimension": dimension, "group": str(r["group"]),
                           "reference": str(r["reference"]), "outcome": outcome, "period": period,
                           **{k: _nan_to_none(r[k]) for k in ("n", "value", "ci_low", "ci_high",
                                                              "difference", "difference_ci_low",
                                                              "difference_ci_high", "ratio",
                                                              "p_value", "p_adjusted", "n_judges")},
                           "adjusted_difference": None, "adjusted_ci_low": None,
                           "adjusted_ci_high": None, "suppressed": bool(h)}
                    if h:
                        row.update({k: None for k in SUPPRESSED_FIELDS})
                    elif reference_hidden:
                        # a gap to a hidden reference would reveal the reference's rate
                        row.update({k: None for k in ("difference", "difference_ci_low",
                                                      "difference_ci_high", "ratio", "p_value",
                                                      "p_adjusted")})
                    rows.append(row)
    return rows
