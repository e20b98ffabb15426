"""Judge consistency ("refugee roulette") on published judge-level tables such as TRAC's.

A published table gives, per judge x court row, the number of decisions and the percentages
granted and denied; there are no cases, so nothing can be adjusted for case mix. What can be
measured is how much more the judges of one court differ than chance allows.

Readers, one per layout (``LAYOUTS``):

* ``trac_csv``: the FY2012-2017 CSV (columns imm_st, imm_ct, judge, decisions, per_grants,
  per_denials). The court is ``imm_ct``: ``imm_st`` is misaligned in some rows of the source.
* ``trac_json``: the nested JSON {court: {judge: {total_decisions, granted_asylum_percentage,
  granted_other_relief_percentage, denied_percentage}}} with percentages as strings.
* ``decisions``: a decisions table (``.parquet``, contract section 1), aggregated by TRAC's
  published rules (:mod:`fairness_audit.judge_rates`) into exact counts, and also written in
  the FY2012-2017 CSV's layout (``trac_table.csv``) with a yearly table (``judges_by_year.csv``).

Counts of a published table: grants = round(decisions x % granted / 100), denials = round(decisions
x % denied / 100) (other relief, in the JSON layout, likewise, and counted in neither); of a
decisions table: the exact numbers of asylum grants and denials. The grant rate is
grants / (grants + denials). The unit is a judge x court row: a judge who sat in two courts is
two units.

Consistency measures (``consistency``):

* a beta-binomial model: in court c the judges' true grant rates follow Beta(M mu_c,
  M (1 - mu_c)), with a court mean mu_c and one concentration M shared by every court, fitted by
  maximum likelihood (courts with one judge inform mu_c only). The implied within-court SD of
  true rates is sqrt(mu_c (1 - mu_c) / (M + 1)); each judge's empirical-Bayes rate is
  (grants + M mu_c) / (n + M) with a 95% posterior interval;
* per court: the spread of raw and shrunk rates (interquartile range, max - min), a chi-square
  test of equal grant rates among its judges (K - 1 degrees of freedom) with Benjamini-Hochberg
  adjustment across courts, and the method-of-moments within-court SD of H6 (sampling variance
  p (1 - p) / n subtracted);
* a funnel plot: each judge's rate against decisions, with 95% and 99.8% control limits around
  the pooled rate, and the within-court z-scores.

Two tables from different periods and sources are never a before/after pair: their courts,
judges, definitions (TRAC's own decision counts vs. a scraped, undocumented table) and periods
differ, and each is analysed on its own.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from fairness_audit.errors import TableError
from fairness_audit.inference import adjust
from fairness_audit.judge_rates import (
    FAQ,
    JudgeRates,
    TracRules,
    court_labels,
    read_decision_counts,
    trac_rates,
)
from fairness_audit.outputs import (
    check_replaceable_folder,
    staged_folder,
    writing,
)
from fairness_audit.progress import ProgressLike, as_progress
from fairness_audit.report.escape import PLAIN_TEXT, md, plot_label, write_csv

PUBLISHED_LAYOUTS = ("trac_csv", "trac_json")
LAYOUTS = (*PUBLISHED_LAYOUTS, "decisions")
PERCENT_RULE = ("grants = round(decisions x % granted / 100), denials = round(decisions x % denied / "
                "100); rate = grants / (grants + denials)")
EXACT_RULE = ("exact counts from the decisions table: grants = rows with asylum_decision grant, "
              "denials = rows with asylum_decision deny; rate = grants / (grants + denials)")
# everything the command writes; its output folder may hold nothing else (it is replaced)
OUTPUT_FILES = ("judges.csv", "courts.csv", "summary.json", "summary.md", "funnel.png",
                "trac_table.csv", "judges_by_year.csv")
# options that only a decisions table can use: a published table was built by its publisher's
# rules, over its publisher's period, and has no years
DECISIONS_ONLY = ("rules", "from_fy", "to_fy", "min_yearly")
TRAC_CSV_COLUMNS = ("imm_ct", "judge", "decisions", "per_grants", "per_denials")
TRAC_JSON_KEYS = ("total_decisions", "granted_asylum_percentage", "denied_percentage")


def _counts(decisions: pd.Series, percent: pd.Series) -> pd.Series:
    return np.round(decisions * percent / 100.0).astype(int)


def read_trac_csv(path: Path) -> pd.DataFrame:
    """The FY2012-2017 TRAC judge CSV: one row per judge x court."""
    raw = pd.read_csv(path)
    missing = [c for c in TRAC_CSV_COLUMNS if c not in raw.columns]
    if missing:
        raise TableError(f"{path}: expected the TRAC judge CSV layout with columns "
                         f"{list(TRAC_CSV_COLUMNS)}; missing {missing}; columns are {list(raw.columns)}")
    for col in ("decisions", "per_grants", "per_denials"):
        values = pd.to_numeric(raw[col], errors="coerce")
        if values.isna().any():
            bad = raw.loc[values.isna(), col].astype(str).unique()[:3].tolist()
            raise TableError(f"{path}: column '{col}' must be numeric; found {bad}")
        raw[col] = values
    out = pd.DataFrame({
        "judge": raw["judge"].astype(str).str.strip(),
        "court": raw["imm_ct"].astype(str).str.strip(),
        "decisions": raw["decisions"].astype(int),
        "grants": _counts(raw["decisions"], raw["per_grants"]),
        "denials": _counts(raw["decisions"], raw["per_denials"]),
        "other_relief": 0,
    })
    return out


def read_trac_json(path: Path) -> pd.DataFrame:
    """The nested TRAC-style JSON {court: {judge: {...percentages as strings}}}."""
    try:
        data = json.loads(Path(path).read_text())
    except json.JSONDecodeError as exc:
        raise TableError(f"{path}: expected JSON, could not parse it ({exc})") from None
    if not isinstance(data, dict):
        raise TableError(f"{path}: expected an object {{court: {{judge: {{...}}}}}} at the top level")
    rows = []
    for court, judges in data.items():
        if not isinstance(judges, dict):
            raise TableError(f"{path}: court '{court}' should map judge names to records")
        for judge, rec in judges.items():
            missing = [k for k in TRAC_JSON_KEYS if k not in rec]
            if missing:
                raise TableError(f"{path}: court '{court}', judge '{judge}': missing {missing}")
            try:
                values = {k: float(str(rec.get(k, "0")).strip().rstrip("%") or 0)
                          for k in (*TRAC_JSON_KEYS, "granted_other_relief_percentage")}
            except ValueError:
                raise TableError(f"{path}: court '{court}', judge '{judge}': a percentage or "
                                 f"total is not a number: {rec}") from None
            rows.append({"judge": str(judge).strip(), "court": str(court).strip(), **values})
    if not rows:
        raise TableError(f"{path}: no judge records found")
    raw = pd.DataFrame(rows)
    total = raw["total_decisions"]
    return pd.DataFrame({
        "judge": raw["judge"], "court": raw["court"], "decisions": total.round().astype(int),
        "grants": _counts(total, raw["granted_asylum_percentage"]),
        "denials": _counts(total, raw["denied_percentage"]),
        "other_relief": _counts(total, raw["granted_other_relief_percentage"]),
    })


def detect_layout(path: Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix == ".json":
        return "trac_json"
    if suffix in (".csv", ".txt"):
        return "trac_csv"
    if suffix == ".parquet":
        return "decisions"
    raise TableError(f"{path}: cannot tell the layout from the extension '{suffix}'; pass --layout "
                     f"with one of {list(LAYOUTS)}")


def read_judge_table(path: str | Path, layout: str = "auto") -> pd.DataFrame:
    """Read a published judge table into rows of judge, court, decisions, grants, denials,
    other_relief, n (= grants + denials) and rate (= grants / n)."""
    path = Path(path)
    if not path.exists():
        raise TableError(f"{path}: file not found")
    layout = detect_layout(path) if layout == "auto" else layout
    if layout not in PUBLISHED_LAYOUTS:
        raise TableError(f"layout '{layout}' is not a published judge table; known layouts: "
                         f"{list(PUBLISHED_LAYOUTS)} (a decisions table is read by run_judges)")
    table = read_trac_csv(path) if layout == "trac_csv" else read_trac_json(path)
    table["n"] = table["grants"] + table["denials"]
    table = table[table["n"] > 0].reset_index(drop=True)
    if table.empty:
        raise TableError(f"{path}: no judge has any grant or denial")
    table["rate"] = table["grants"] / table["n"]
    return table


# --------------------------------------------------------------------------- beta-binomial
def _betabinom_loglik(grants, n, court_codes, logit_mu, log_m):
    mu = special.expit(logit_mu)[court_codes]
    m = np.exp(log_m)
    a, b = m * mu, m * (1 - mu)
    return float(stats.betabinom.logpmf(grants, n, a, b).sum())


def fit_beta_binomial(grants: np.ndarray, n: np.ndarray, court_codes: np.ndarray
                      ) -> tuple[np.ndarray, float]:
    """Maximum-likelihood court means mu_c and common concentration M."""
    n_courts = int(court_codes.max()) + 1
    pooled = np.bincount(court_codes, weights=grants) / np.bincount(court_codes, weights=n)
    start = np.concatenate([special.logit(np.clip(pooled, 0.01, 0.99)), [np.log(5.0)]])

    def neg(theta):
        return -_betabinom_loglik(grants, n, court_codes, theta[:n_courts], theta[-1])

    res = optimize.minimize(neg, start, method="L-BFGS-B",
                            bounds=[(-12, 12)] * n_courts + [(np.log(0.01), np.log(1e6))])
    return special.expit(res.x[:n_courts]), float(np.exp(res.x[-1]))


@dataclass(frozen=True)
class Consistency:
    """Per judge x court row, per court, and for the whole table."""

    judges: pd.DataFrame
    courts: pd.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)


def consistency(table: pd.DataFrame, *, level: float = 0.95, min_decisions: int = 0,
                source: str = "", count_rule: str = PERCENT_RULE) -> Consistency:
    """Consistency measures of a judge table (see the module docstring); ``count_rule`` says in
    the summary how the counts were obtained."""
    t = table[table["n"] >= min_decisions].reset_index(drop=True).copy()
    if t.empty:
        raise TableError(f"no judge has at least {min_decisions} grants + denials")
    court_codes, courts = pd.factorize(t["court"])
    grants, n = t["grants"].to_numpy(), t["n"].to_numpy()
    mu, m = fit_beta_binomial(grants, n, court_codes)
    a = grants + m * mu[court_codes]
    b = n - grants + m * (1 - mu[court_codes])
    half = (1 - level) / 2
    pooled = grants.sum() / n.sum()
    court_n = np.bincount(court_codes, weights=n)
    court_rate = np.bincount(court_codes, weights=grants) / court_n
    t["court_rate"] = court_rate[court_codes]
    t["shrunk"] = a / (a + b)
    t["shrunk_low"] = stats.beta.ppf(half, a, b)
    t["shrunk_high"] = stats.beta.ppf(1 - half, a, b)
    t["z_within_court"] = (t["rate"] - t["court_rate"]) / np.sqrt(
        np.clip(t["court_rate"] * (1 - t["court_rate"]), 1e-9, None) / n)
    k = np.bincount(court_codes)
    rows = []
    for c, name in enumerate(courts):
        sel = court_codes == c
        r, s, nn, g = t.loc[sel, "rate"].to_numpy(), t.loc[sel, "shrunk"].to_numpy(), n[sel], grants[sel]
        row = {"court": str(name), "judges": int(k[c]), "grants_plus_denials": int(nn.sum()),
               "rate": float(court_rate[c]), "beta_binomial_mean": float(mu[c]),
               "within_court_sd_model": float(np.sqrt(mu[c] * (1 - mu[c]) / (m + 1))),
               "raw_iqr": None, "raw_range": None, "shrunk_iqr": None, "shrunk_range": None,
               "within_court_sd_mom": None, "chi2": None, "df": None, "p_value": None}
        if k[c] >= 2:
            v = r * 0 + court_rate[c] * (1 - court_rate[c]) / nn
            ss = float(((r - r.mean()) ** 2).sum())
            tau2 = (ss - (1 - 1 / k[c]) * v.sum()) / (k[c] - 1)
            expected_g = nn * court_rate[c]
            chi2 = float((((g - expected_g) ** 2) / np.clip(expected_g, 1e-9, None)).sum()
                         + (((nn - g - (nn - expected_g)) ** 2)
                            / np.clip(nn - expected_g, 1e-9, None)).sum())
            row.update(raw_iqr=float(np.subtract(*np.percentile(r, [75, 25]))),
                       raw_range=float(r.max() - r.min()),
                       shrunk_iqr=float(np.subtract(*np.percentile(s, [75, 25]))),
                       shrunk_range=float(s.max() - s.min()),
                       within_court_sd_mom=float(np.sqrt(max(tau2, 0.0))), chi2=chi2,
                       df=int(k[c] - 1), p_value=float(stats.chi2.sf(chi2, k[c] - 1)))
        rows.append(row)
    courts_df = pd.DataFrame(rows)
    tested = courts_df["p_value"].notna()
    courts_df["p_adjusted"] = None
    if tested.any():
        courts_df.loc[tested, "p_adjusted"] = adjust(courts_df.loc[tested, "p_value"].tolist(), "bh")
    multi = courts_df[courts_df["judges"] >= 2]
    # pooled method-of-moments within-court SD over courts with two or more judges
    multi_sel = np.isin(court_codes, np.flatnonzero(k >= 2))
    rr, cc = t.loc[multi_sel, "rate"].to_numpy(), court_codes[multi_sel]
    vv = court_rate[cc] * (1 - court_rate[cc]) / n[multi_sel]
    rbar = np.bincount(cc, weights=rr, minlength=len(k)) / np.maximum(k, 1)
    ss_all = float(((rr - rbar[cc]) ** 2).sum())
    chance = float(sum((1 - 1 / k[c]) * vv[cc == c].sum() for c in np.unique(cc)))
    df_all = int((k[k >= 2] - 1).sum())
    tau_pooled = float(np.sqrt(max((ss_all - chance) / df_all, 0.0))) if df_all else None
    chi2_all = float(multi["chi2"].sum()) if len(multi) else None
    summary = {
        "source": source,
        "rows": int(len(t)), "judges": int(t["judge"].nunique()), "courts": int(len(courts)),
        "courts_with_two_or_more_judges": int(len(multi)),
        "decisions": int(t["decisions"].sum()), "grants": int(grants.sum()),
        "denials": int(t["denials"].sum()), "other_relief": int(t["other_relief"].sum()),
        "pooled_grant_rate": float(pooled),
        "beta_binomial_concentration": m, "intra_court_correlation": float(1 / (m + 1)),
        "within_court_sd_pp": None if tau_pooled is None else 100 * tau_pooled,
        "homogeneity_chi2": chi2_all, "homogeneity_df": df_all or None,
        "homogeneity_p_value": (float(stats.chi2.sf(chi2_all, df_all)) if df_all else None),
        "courts_rejecting_homogeneity": int((multi["p_adjusted"].astype(float) < 0.05).sum())
        if len(multi) else 0,
        "median_within_court_range_pp": (100 * float(multi["raw_range"].median())
                                         if len(multi) else None),
        "median_within_court_range_shrunk_pp": (100 * float(multi["shrunk_range"].median())
                                                if len(multi) else None),
        "min_decisions": min_decisions,
        "count_rule": count_rule,
    }
    return Consistency(t, courts_df, summary)


# --------------------------------------------------------------------------- outputs
def funnel_plot(judges: pd.DataFrame, pooled: float, path: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.5))
    n = judges["n"].to_numpy()
    grid = np.linspace(max(n.min() * 0.9, 1), n.max() * 1.05, 200)
    ax1.scatter(n, 100 * judges["rate"], s=10, alpha=0.6, color="#1f4e79")
    for z, style in ((1.96, "--"), (3.09, ":")):
        half = z * np.sqrt(pooled * (1 - pooled) / grid)
        ax1.plot(grid, 100 * np.clip(pooled + half, 0, 1), "k" + style, lw=0.8)
        ax1.plot(grid, 100 * np.clip(pooled - half, 0, 1), "k" + style, lw=0.8)
    ax1.axhline(100 * pooled, color="black", lw=0.8)
    ax1.set_xlabel("grants + denials")
    ax1.set_ylabel("grant rate, %")
    ax1.set_title("Judges against the pooled rate\n(dashed 95%, dotted 99.8% limits)", fontsize=9)
    ax2.scatter(n, judges["z_within_court"], s=10, alpha=0.6, color="#c0504d")
    for z, style in ((1.96, "--"), (3.09, ":")):
        ax2.axhline(z, color="black", ls=style, lw=0.8)
        ax2.axhline(-z, color="black", ls=style, lw=0.8)
    ax2.set_xlabel("grants + denials")
    ax2.set_ylabel("z = (judge rate - court rate) / binomial SE")
    ax2.set_title("Judges against their own court", fontsize=9)
    fig.suptitle(plot_label(title), fontsize=10, **PLAIN_TEXT)
    fig.savefig(path, dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return path


def _summary_md(result: Consistency, table_name: str, rates: JudgeRates | None = None) -> str:
    """summary.md; the table's name and its court labels are escaped for Markdown (``md``); for
    a decisions table, the rules applied and the ledger of its rows."""
    s = result.summary

    def pp(x):
        return "—" if x is None else f"{x:.1f}"

    lines = [
        f"# Judge consistency: {md(table_name)}",
        "",
        f"{s['rows']} judge x court rows ({s['judges']} judges, {s['courts']} courts, "
        f"{s['courts_with_two_or_more_judges']} with two or more judges); {s['decisions']:,} decisions, "
        f"{s['grants']:,} grants, {s['denials']:,} denials"
        + (f", {s['other_relief']:,} other relief (counted in neither)." if rates is None else "."),
        f"Pooled grant rate {100 * s['pooled_grant_rate']:.1f}%. Counts: {s['count_rule']}.",
        "",
        "| measure | value |",
        "|---|---|",
        f"| within-court SD of judges' true grant rates (method of moments), points | "
        f"{pp(s['within_court_sd_pp'])} |",
        f"| beta-binomial concentration M (intra-court correlation 1/(M+1)) | "
        f"{s['beta_binomial_concentration']:.2f} ({s['intra_court_correlation']:.3f}) |",
        f"| median within-court range of grant rates, points (raw / shrunk) | "
        f"{pp(s['median_within_court_range_pp'])} / {pp(s['median_within_court_range_shrunk_pp'])} |",
        f"| homogeneity chi-square (df), p | {s['homogeneity_chi2']:.1f} ({s['homogeneity_df']}), "
        f"{'< 0.001' if s['homogeneity_p_value'] < 0.001 else round(s['homogeneity_p_value'], 3)} |"
        if s["homogeneity_chi2"] is not None else "| homogeneity chi-square | — |",
        f"| courts where judges differ beyond chance (BH-adjusted p < 0.05) | "
        f"{s['courts_rejecting_homogeneity']} of {s['courts_with_two_or_more_judges']} |",
        "",
        "Largest courts:",
        "",
        "| court | judges | grants + denials | rate | range (raw) | range (shrunk) | SD (model) "
        "| adjusted p |",
        "|---|---|---|---|---|---|---|---|",
    ]
    top = result.courts.sort_values("grants_plus_denials", ascending=False).head(10)
    for r in top.to_dict(orient="records"):
        rng = "—" if r["raw_range"] is None else f"{100 * r['raw_range']:.1f}"
        srng = "—" if r["shrunk_range"] is None else f"{100 * r['shrunk_range']:.1f}"
        padj = "—" if r["p_adjusted"] is None else (
            "< 0.001" if r["p_adjusted"] < 0.001 else f"{r['p_adjusted']:.3f}")
        lines.append(f"| {md(r['court'])} | {r['judges']} | {r['grants_plus_denials']:,} | "
                     f"{100 * r['rate']:.1f}% | {rng} | {srng} | "
                     f"{100 * r['within_court_sd_model']:.1f} | {padj} |")
    if rates is None:
        lines += ["", "Rates are not adjusted for case mix (the table has no cases): judges who hear "
                  "different dockets (detained, affirmative, nationality) differ for that reason "
                  "too.", ""]
    else:
        lines += ["", *_rules_md(rates), "", "Rates are not adjusted for case mix: judges who hear "
                  "different dockets (detained, affirmative, nationality) differ for that reason "
                  "too (the audit's H6 adjusts for case mix).", ""]
    return "\n".join(lines)


def _rules_md(rates: JudgeRates) -> list[str]:
    """The rules applied to a decisions table and the ledger of its rows, for summary.md."""
    r, led = rates.rules, rates.ledger
    first, last = rates.period
    lines = [
        f"Counted by TRAC's published rules for its judge reports ({FAQ}), `--rules {r.rules}`: "
        f"asylum grants and denials (asylum_decision grant / deny) in FY{first}-FY{last}; a "
        f"judge x court row shown with at least {r.min_decisions} decisions; a yearly rate "
        f"shown with at least {r.min_yearly} decisions that year. Court names: "
        f"{md(rates.court_names)}.",
        "",
        "| rows of the decisions table | rows |",
        "|---|---|",
        f"| read | {led['rows_read']:,} |",
        f"| counted (grants {led['grants']:,}, denials {led['denials']:,}) | {led['kept']:,} |",
    ]
    lines += [f"| left out: {md(reason)} | {n:,} |" for reason, n in led["left_out"].items()]
    lines += ["", "| judge x court rows | rows |", "|---|---|"]
    lines += [f"| {md(k.replace('_', ' '))} | {v:,} |" for k, v in led["judge_courts"].items()]
    lines += ["", "| years of the shown judge x court rows | rows |", "|---|---|"]
    lines += [f"| {md(k.replace('_', ' '))} | {v:,} |"
              for k, v in led["judge_years_of_shown_rows"].items()]
    return lines


def check_judges_out(out: Path, path: Path) -> None:
    """Before any work: ``out`` can be created, written and replaced as a whole.

    The command replaces its output folder, so that no file of an earlier run (say, the
    trac_table.csv of a decisions table) stays beside the new ones; the folder may therefore
    hold nothing but the files this command writes (``OUTPUT_FILES``), and not the input.

    Raises
    ------
    OutputError
        One line naming ``--out`` and what is wrong.
    """
    def foreign(folder: Path) -> str | None:
        others = sorted(p.name for p in folder.iterdir() if p.name not in OUTPUT_FILES)
        if not others:
            return None
        return (f"the folder holds {others[:3]}{' ...' if len(others) > 3 else ''}, which this "
                "command does not write; each run replaces its output folder as a whole: choose "
                "a new or empty folder")

    check_replaceable_folder(out, [path], kind="run", foreign=foreign)


def read_rates(path: Path, rules: TracRules) -> JudgeRates:
    """A decisions table's judge x court counts under ``rules``, with the court names of its
    ``<stem>.lookups.json`` when there is one."""
    from fairness_audit.ingest.eoir import read_lookups

    lookups_file = path.with_name(path.name[: -len(path.suffix)] + ".lookups.json")
    courts: dict[str, tuple[str, str]] = {}
    names = "court codes (no lookups file beside the table)"
    if lookups_file.exists():
        try:
            courts = court_labels(read_lookups(lookups_file), str(lookups_file))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise TableError(f"{lookups_file}: expected the table's JSON lookups, could not parse "
                             f"it ({exc})") from None
        names = (f"{lookups_file.name} (key 'court'); codes it does not name are shown as codes"
                 if courts else f"court codes ({lookups_file.name} has no court names)")
    return trac_rates(read_decision_counts(path), rules=rules, courts=courts, source=str(path),
                      court_names=names)


def run_judges(path: str | os.PathLike, out: str | os.PathLike, *, layout: str = "auto",
               min_decisions: int | None = None, rules: str | None = None,
               from_fy: int | None = None, to_fy: int | None = None,
               min_yearly: int | None = None, progress: ProgressLike = None) -> Consistency:
    """Read a judge table, compute the consistency measures and write the outputs to ``out``.

    Parameters
    ----------
    path
        A published judge table (``trac_csv``, ``trac_json``) or a decisions table
        (``decisions``, ``.parquet``).
    out
        The output folder, replaced as a whole at the end (checked before any work):
        judges.csv, courts.csv, summary.json, summary.md, funnel.png; for a decisions table
        also trac_table.csv and judges_by_year.csv.
    layout
        ``auto`` (from the extension) or one of ``LAYOUTS``.
    min_decisions
        Leave out judge x court rows with fewer grants + denials. Default: 0 for a published
        table (its publisher chose whom to list); the rule set's for a decisions table (100
        under ``trac``, 0 under ``all``).
    rules, from_fy, to_fy, min_yearly
        A decisions table only: :class:`~fairness_audit.judge_rates.TracRules` (``rules``
        default ``trac``).
    progress
        Told each step (:mod:`fairness_audit.progress`).

    Returns
    -------
    Consistency
        For a decisions table, its summary also holds ``rules`` and ``ledger``.

    Raises
    ------
    TableError
        The table cannot be read in its layout, an option does not apply to it, or no judge is
        left to analyse.
    NotEstimable
        A decisions table whose asylum_decision is null in every row.
    OutputError
        ``out`` cannot be written or replaced.

    Example
    -------
    >>> run_judges("out/data/court.parquet", "out/judges_trac", from_fy=2019)  # doctest: +SKIP
    """
    path, out = Path(path), Path(out)
    if not path.exists():
        raise TableError(f"{path}: file not found")
    layout = detect_layout(path) if layout == "auto" else layout
    if layout not in LAYOUTS:
        raise TableError(f"layout '{layout}' is not known; known layouts: {list(LAYOUTS)}")
    given = {"rules": rules, "from_fy": from_fy, "to_fy": to_fy, "min_yearly": min_yearly}
    if layout != "decisions":
        wrong = [f"--{k.replace('_', '-')}" for k in DECISIONS_ONLY if given[k] is not None]
        if wrong:
            raise TableError(f"{path}: {', '.join(wrong)} applies to a decisions table (.parquet); "
                             f"a published judge table ({layout}) was built by its publisher's "
                             "rules over its publisher's period")
    rates_rules = (TracRules(rules or "trac", from_fy, to_fy, min_decisions, min_yearly)
                   if layout == "decisions" else None)
    check_judges_out(out, path)
    say = as_progress(progress)

    rates = None
    say(f"reading {path.name} ({layout})")
    if rates_rules is None:
        table = read_judge_table(path, layout)
        result = consistency(table, min_decisions=min_decisions or 0, source=str(path.name))
    else:
        rates = read_rates(path, rates_rules)
        result = consistency(rates.judge_table(), min_decisions=rates_rules.min_decisions,
                             source=str(path.name), count_rule=EXACT_RULE)
        first, last = rates.period
        result = dataclasses.replace(result, summary={
            **result.summary,
            "rules": {**rates_rules.to_dict(), "period": f"FY{first}-FY{last}", "faq": FAQ,
                      "court_names": rates.court_names},
            "ledger": rates.ledger})
    say("writing the judge tables and the funnel plot")
    with staged_folder(out) as staging, writing(staging, shown=out, what="the judge tables"):
        write_csv(result.judges, staging / "judges.csv")
        write_csv(result.courts, staging / "courts.csv")
        if rates is not None:
            write_csv(rates.trac_table, staging / "trac_table.csv")
            write_csv(rates.by_year, staging / "judges_by_year.csv")
        (staging / "summary.json").write_text(json.dumps(result.summary, indent=2) + "\n")
        (staging / "summary.md").write_text(_summary_md(result, path.name, rates))
        funnel_plot(result.judges, result.summary["pooled_grant_rate"], staging / "funnel.png",
                    path.name)
    return result
