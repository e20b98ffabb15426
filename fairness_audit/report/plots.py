"""Figures drawn from results.json only (never from live models).

Figure file names built from plan or data labels go through ``escape.inside`` (they cannot leave
figures/), and labels from the data are drawn as plain text (a ``$`` is not mathematics).
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from fairness_audit.natural_units import group_words  # noqa: E402
from fairness_audit.report.escape import PLAIN_TEXT, inside, plot_label  # noqa: E402

_SAVE = {"dpi": 110, "bbox_inches": "tight", "metadata": {"Software": None}}
# SVG ids (clip paths, glyphs) come from a random salt unless one is set, and the SVG records
# its date: a fixed salt and no date make two renders byte-identical, like the PNGs
SVG_SALT = "fairness_audit"


def interval_level(results: dict[str, Any]) -> str:
    """The plan's interval level as axis text ("95%"), from results.json's provenance."""
    level = (results.get("provenance", {}).get("config", {}).get("inference", {})
             .get("interval_level", 0.95))
    return f"{100 * float(level):g}%"


def save(fig: Any, path: Path, **options: Any) -> Path:
    """Write ``fig`` as PNG at ``path`` and as SVG beside it (``path`` with ``.svg``), then close
    it. ``options`` override the PNG's savefig options (``_SAVE``); both files carry no software
    version or date, so that two renders give identical bytes.

    Example
    -------
    >>> save(fig, Path("figures/tests.png"))  # doctest: +SKIP
    PosixPath('figures/tests.png')
    """
    png = {**_SAVE, **options}
    fig.savefig(path, **png)
    svg = {key: value for key, value in png.items() if key != "metadata"}
    with matplotlib.rc_context({"svg.hashsalt": SVG_SALT}):
        fig.savefig(Path(path).with_suffix(".svg"), format="svg", metadata={"Date": None}, **svg)
    plt.close(fig)
    return path


def tests_forest(results: dict[str, Any], path: Path) -> Path | None:
    """Estimate and interval of every test, one panel per scale, with the smallest effect of
    interest as a grey band (effects inside it are too small to matter)."""
    rows = [t for h in results["hypotheses"] for t in h["tests"] if t["estimate"] is not None]
    if not rows:
        return None
    scales = list(dict.fromkeys(t["scale"] for t in rows))
    by_scale = {s: [t for t in rows if t["scale"] == s] for s in scales}
    heights = [len(v) + 1 for v in by_scale.values()]
    fig, axes = plt.subplots(len(scales), 1, figsize=(7.5, 0.5 * sum(heights) + 1),
                             gridspec_kw={"height_ratios": heights}, squeeze=False)
    for ax, scale in zip(axes[:, 0], scales, strict=True):
        tests = list(reversed(by_scale[scale]))
        for i, t in enumerate(tests):
            color = {"primary": "#1f4e79", "placebo": "#888888"}.get(t["role"], "#4f81bd")
            ax.fill_betweenx([i - 0.35, i + 0.35], -t["sesoi"], t["sesoi"], color="#e8e8e8", zorder=0)
            err = [[t["estimate"] - t["ci_low"]], [t["ci_high"] - t["estimate"]]]
            ax.errorbar(t["estimate"], i, xerr=err, fmt="o", color=color, capsize=3)
        ax.axvline(0, color="black", lw=0.8)
        ax.set_yticks(range(len(tests)))
        ax.set_yticklabels([f"{t['id']} ({t['role']})\n{t['term']}" for t in tests], fontsize=8)
        ax.set_ylim(-0.7, len(tests) - 0.3)
        ax.set_xlabel(f"{scale}: estimate with {interval_level(results)} interval", fontsize=9)
    axes[0, 0].set_title("Tests of the audit plan (grey: smaller than the smallest effect of interest)",
                         fontsize=10)
    fig.tight_layout()
    save(fig, path)
    return path


def group_rates(results: dict[str, Any], outcome: str, dimension: str, path: Path) -> Path | None:
    """Rates by group before and after the policy, with the plan's intervals; suppressed cells
    omitted."""
    rows = [r for r in results["disparities"]
            if r["outcome"] == outcome and r["dimension"] == dimension and not r["suppressed"]]
    if not rows:
        return None
    groups = sorted({r["group"] for r in rows})
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(groups) + 1.3))
    for offset, (period, color) in zip((-0.15, 0.15), (("pre_policy", "#7f7f7f"), ("post_policy", "#c0504d")),
                                       strict=True):
        for i, g in enumerate(groups):
            r = next((x for x in rows if x["group"] == g and x["period"] == period), None)
            if r is None:
                continue
            ax.errorbar(100 * r["value"], i + offset,
                        xerr=[[100 * (r["value"] - r["ci_low"])], [100 * (r["ci_high"] - r["value"])]],
                        fmt="o", color=color, capsize=2, ms=4,
                        label=period.replace("_", " ") if i == 0 else None)
    ax.set_yticks(range(len(groups)))
    ax.set_yticklabels([plot_label(g) for g in groups], fontsize=8, **PLAIN_TEXT)
    ax.set_xlabel(f"{outcome} rate, % ({interval_level(results)} judge-clustered interval)",
                  **PLAIN_TEXT)
    ax.set_title(f"{outcome} by {dimension}", **PLAIN_TEXT)
    ax.legend(fontsize=8, loc="best")
    save(fig, path)
    return path


def _rate_figures(results: dict[str, Any], outdir: Path) -> dict[str, Path]:
    figures = {}
    # one figure per one-way table of the plan's first binary outcome; the other outcomes,
    # continuous outcomes and intersections are in the tables (dozens of figures add little)
    first = next((r["outcome"] for r in results["disparities"] if r.get("statistic", "rate") == "rate"),
                 None)
    pairs = sorted({(r["outcome"], r["dimension"]) for r in results["disparities"]
                    if r["outcome"] == first and " x " not in r["dimension"]})
    for outcome, dimension in pairs:
        name = f"rates_{outcome}_{dimension}"
        path = group_rates(results, outcome, dimension, inside(outdir, name, ".png"))
        if path:
            figures[name] = path
    return figures


def _test_figures(results: dict[str, Any], outdir: Path) -> dict[str, Path]:
    path = tests_forest(results, outdir / "tests.png")
    return {"tests": path} if path else {}


def event_study(model: dict[str, Any], path: Path, level: str = "95%",
                title: str | None = None) -> Path | None:
    """Event-study coefficients by quarter with their intervals (``level``, the plan's), the
    policy date marked; ``title`` replaces the default title."""
    rows = [r for r in model.get("series", []) if r["estimate"] is not None]
    if not rows:
        return None
    k = [r["k"] for r in rows]
    est = [r["estimate"] for r in rows]
    lo = [r["estimate"] - r["ci_low"] for r in rows]
    hi = [r["ci_high"] - r["estimate"] for r in rows]
    fig, ax = plt.subplots(figsize=(7, 3.6))
    colors = ["#888888" if r["k"] < 0 else "#1f4e79" for r in rows]
    for x, y, a, b, c in zip(k, est, lo, hi, colors, strict=True):
        ax.errorbar(x, y, yerr=[[a], [b]], fmt="o", color=c, capsize=2, ms=4)
    ax.axhline(0, color="black", lw=0.8)
    ax.axvline(-0.5, color="#c0504d", lw=1.2, ls="--",
               label=f"policy date {model.get('policy_date', '')}")
    ref = next((r["k"] for r in model["series"] if r.get("reference")), None)
    ax.set_xlabel("quarter relative to the policy date"
                  + (f" (reference {ref}; end quarters binned)" if ref is not None else ""))
    intensity = model.get("intensity", "pre_policy_gap")
    ax.set_ylabel(f"{model.get('outcome', '')} per unit of {intensity}\n[{model.get('scale', '')}]",
                  fontsize=8)
    ax.set_title(title or f"Event study: {model.get('outcome', model['name'])} "
                 f"({level} intervals, {model.get('cov_type', '')} by judge)", fontsize=10)
    ax.legend(fontsize=8, loc="best")
    save(fig, path)
    return path


# how each kind of variant is drawn: colour, marker, marker size; shapes differ as well as
# colours, so that a page printed in grey still tells them apart
_VARIANT_STYLE = {"primary": ("#1f4e79", "D", 7.0), "guard": ("#b8860b", "s", 5.0),
                  "robustness": ("#4f81bd", "o", 5.0), "supporting": ("#6b6b6b", "^", 5.5),
                  "grid": ("#8c8c8c", "o", 3.5)}
_VARIANT_WORDS = {"primary": "primary test", "guard": "guard", "robustness": "robustness test",
                  "supporting": "supporting test (same outcome and term)",
                  "grid": "specification grid"}


def _variant_tick(v: dict[str, Any]) -> str:
    """A variant's axis label: its test id and kind, then how its specification differs from the
    primary test's (results.json ``label``), wrapped to two lines at most."""
    lines = textwrap.wrap(plot_label(v["label"]), 50, max_lines=3, placeholder=" …")
    return "\n".join([plot_label(f"{v['test_id']} ({v['kind']})"), *lines])


def robustness_figure(h: dict[str, Any], path: Path, level: str = "95%") -> Path | None:
    """The robustness plot of hypothesis ``h`` (results.json ``robustness_plot``): one panel per
    primary test and scale, each variant's estimate with its interval at the plan's level
    (``level``), sorted by estimate from the top, the primary test highlighted, zero as a line
    and the smallest effect of interest as dashed lines (per row where the rows' differ). A
    variant without estimate is listed as not estimable. None without a robustness plot.

    Example
    -------
    >>> robustness_figure(results["hypotheses"][1], Path("figures/H2_robustness.png"))  # doctest: +SKIP
    PosixPath('figures/H2_robustness.png')
    """
    plot = h.get("robustness_plot")
    if not plot or not plot.get("panels"):
        return None
    panels = plot["panels"]
    # panels of one scale share their range, so that H4's four groups read alike
    spans: dict[str, list[float]] = {}
    for p in panels:
        for v in p["variants"]:
            if v["estimate"] is not None:
                s = v.get("sesoi") or 0.0
                spans.setdefault(p["scale"], [0.0]).extend([v["ci_low"], v["ci_high"], -s, s])
    # sized to print at its own size on a page (7 in of a US Letter page between margins): a
    # panel's rows are as high as its longest label at 7.5 pt needs; the last panel of a run of
    # one scale carries the axis label
    last = [i + 1 == len(panels) or panels[i + 1]["scale"] != p["scale"]
            for i, p in enumerate(panels)]
    lines = [max(_variant_tick(v).count("\n") + 1 for v in p["variants"]) for p in panels]
    heights = [(0.1 + 0.12 * k) * len(p["variants"]) + (0.72 if is_last else 0.55)
               for p, k, is_last in zip(panels, lines, last, strict=True)]
    fig, axes = plt.subplots(len(panels), 1, figsize=(7.0, sum(heights) + 0.9), squeeze=False,
                             gridspec_kw={"height_ratios": heights}, layout="constrained")
    kinds: set[str] = set()
    for ax, p, is_last in zip(axes[:, 0], panels, last, strict=True):
        rows = p["variants"]
        n = len(rows)
        sesois = {v.get("sesoi") for v in rows if v["estimate"] is not None and v.get("sesoi")}
        for i, v in enumerate(rows):
            y = n - 1 - i  # the smallest estimate on top
            colour, marker, size = _VARIANT_STYLE.get(v["kind"], _VARIANT_STYLE["robustness"])
            kinds.add(v["kind"])
            if v["kind"] == "primary":
                ax.axhspan(y - 0.45, y + 0.45, color="#dbe5f1", zorder=0)
            if v["estimate"] is None:
                ax.text(0.01, y, plot_label(f"not estimable: {v.get('problem') or ''}")[:70],
                        transform=ax.get_yaxis_transform(), va="center", fontsize=7,
                        color="#7f7f7f", **PLAIN_TEXT)
                continue
            ax.errorbar(v["estimate"], y, xerr=[[v["estimate"] - v["ci_low"]],
                                                 [v["ci_high"] - v["estimate"]]],
                        fmt=marker, color=colour, ms=size, capsize=2.5,
                        lw=1.8 if v["kind"] == "primary" else 1.1, zorder=3,
                        mfc="white" if v["kind"] == "grid" else colour)
            if len(sesois) > 1 and v.get("sesoi"):  # the rows hold different thresholds
                for x in (-v["sesoi"], v["sesoi"]):
                    ax.plot([x, x], [y - 0.4, y + 0.4], ls="--", color="#555555", lw=0.9)
        if len(sesois) == 1:
            (s,) = sesois
            for x in (-s, s):
                ax.axvline(x, ls="--", color="#555555", lw=0.9)
        ax.axvline(0, color="black", lw=0.8)
        ax.set_yticks(range(n))
        ax.set_yticklabels([_variant_tick(v) for v in reversed(rows)], fontsize=7.5, **PLAIN_TEXT)
        for tick, v in zip(ax.get_yticklabels(), reversed(rows), strict=True):
            if v["kind"] == "primary":
                tick.set_fontweight("bold")
        ax.set_ylim(-0.6, n - 0.4)
        lo, hi = min(spans.get(p["scale"], [0.0])), max(spans.get(p["scale"], [0.0]))
        pad = 0.06 * (hi - lo or 1.0)
        ax.set_xlim(lo - pad, hi + pad)
        title = f"{p['primary_test']}: {p['term']} ({p['scale']})"
        if len(title) > 72:  # H4's group terms: the term on a line of its own
            title = f"{p['primary_test']} ({p['scale']})\n{p['term']}"
        ax.set_title("\n".join(plot_label(line) for line in title.split("\n")), fontsize=8.5,
                     loc="left", **PLAIN_TEXT)
        ax.tick_params(axis="x", labelsize=7.5)
        if is_last:
            ax.set_xlabel(plot_label(f"{p['scale']}: estimate with {level} interval"), fontsize=8,
                          **PLAIN_TEXT)
    handles = [plt.Line2D([], [], ls="none", marker=_VARIANT_STYLE[k][1], color=_VARIANT_STYLE[k][0],
                          mfc="white" if k == "grid" else _VARIANT_STYLE[k][0],
                          label=_VARIANT_WORDS[k]) for k in ("primary", "guard", "robustness",
                                                              "supporting", "grid") if k in kinds]
    handles.append(plt.Line2D([], [], ls="--", color="#555555", lw=0.9,
                              label="± smallest effect of interest"))
    # the title heads the legend: constrained layout places one artist above the panels
    legend = fig.legend(handles=handles, loc="outside upper center", ncol=3, fontsize=7.5,
                        frameon=False, title_fontsize=10,
                        title=plot_label(f"{h['id']}: every specification of the plan, sorted by "
                                         "estimate"))
    legend.get_title().set_parse_math(False)
    fig.supxlabel("Not shown: placebo terms, and supporting tests of another outcome or term\n(not "
                  "variants of the primary test; the tests table lists them).", fontsize=7,
                  color="#555555", x=0.01, ha="left")
    # the layout once, then fixed: otherwise each of the PNG's and the SVG's draws lays out the
    # many labels again (most of the figure's time)
    fig.get_layout_engine().execute(fig)
    fig.set_layout_engine("none")
    # printed at its own size: a finer grid than the report's screen figures, as the brief's
    save(fig, path, dpi=200)
    return path


def _robustness_figures(results: dict[str, Any], outdir: Path) -> dict[str, Path]:
    """One robustness plot per hypothesis that has one, named "<id>_robustness"."""
    figures = {}
    for h in results["hypotheses"]:
        name = f"{h['id']}_robustness"
        path = robustness_figure(h, inside(outdir, name, ".png"), interval_level(results))
        if path:
            figures[name] = path
    return figures


def _event_figures(results: dict[str, Any], outdir: Path) -> dict[str, Path]:
    """One event-study figure per outcome, named after each hypothesis that reads the analysis
    (a test's model, or the plan's ``checks``), e.g. "H1_event_log_duration"."""
    plan = results.get("provenance", {}).get("config", {}).get("hypotheses", {})
    figures = {}
    for model in results["models"]:
        if not model.get("series") or model.get("design") != "event study":
            continue
        analysis = model.get("analysis", model["name"])
        for h in results["hypotheses"]:
            names = {t["model"] for t in h["tests"]} | set(plan.get(h["id"], {}).get("checks", []))
            if analysis not in names:
                continue
            name = f"{h['id']}_event_{model.get('outcome', analysis)}"
            if name in figures:
                name = f"{h['id']}_event_{analysis}"
            path = event_study(model, inside(outdir, name, ".png"), interval_level(results))
            if path:
                figures[name] = path
    return figures


DOSE_RESPONSE_NOTE = ("Each bin against the judges at or above target before the policy (gap 0): "
                      "under parallel trends, the bin's average effect, ATT(d); differences between "
                      "bins also need strong parallel trends\n(Callaway, Goodman-Bacon & Sant'Anna "
                      "2024, Difference-in-differences with a continuous treatment).")


def dose_response(event: dict[str, Any], pooled: dict[str, Any], path: Path,
                  level: str = "95%") -> Path | None:
    """The dose response of an outcome to the pre-policy gap: left, the event study of each
    gap bin against the judges at gap 0; right, each bin's pooled post-policy coefficient at
    the bin's mean gap (the dose-response line), the comparison group at zero."""
    rows = [r for r in event.get("series", []) if r["estimate"] is not None]
    line = [r for r in pooled.get("dose_response", []) if r["estimate"] is not None]
    if not rows or not line:
        return None
    bins = sorted({r["bin"] for r in rows})
    colours = plt.get_cmap("viridis")(np.linspace(0.1, 0.8, max(len(bins), 1)))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [3, 2]})
    width = 0.6 / max(len(bins), 1)
    edges = {r["bin"]: r for r in pooled["dose_response"]}
    for i, (b, colour) in enumerate(zip(bins, colours, strict=True)):
        mine = [r for r in rows if r["bin"] == b]
        x = [r["k"] + (i - (len(bins) - 1) / 2) * width for r in mine]
        y = [r["estimate"] for r in mine]
        err = [[r["estimate"] - r["ci_low"] for r in mine], [r["ci_high"] - r["estimate"] for r in mine]]
        high = edges[b]["high"]
        label = (f"bin {b}: gap ({edges[b]['low']:.2g}, {high:.2g}]" if high is not None
                 else f"bin {b}: gap > {edges[b]['low']:.2g}")
        ax1.errorbar(x, y, yerr=err, fmt="o", ms=3, capsize=1.5, color=colour, label=label)
    ax1.axhline(0, color="black", lw=0.8)
    ax1.axvline(-0.5, color="#c0504d", lw=1.2, ls="--")
    ax1.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax1.set_xlabel(f"quarter relative to the policy date {event.get('policy_date', '')} "
                   f"(reference {event.get('reference_quarter')}; end quarters binned)", fontsize=8)
    ax1.set_ylabel(f"{event.get('outcome', '')} [{event.get('scale', '')}]", fontsize=8)
    ax1.set_title(f"Event study by bin of the pre-policy gap ({level} intervals, "
                  f"{event.get('cov_type', '')} by judge)", fontsize=9)
    ax1.legend(fontsize=7, loc="best")
    gaps = [0.0] + [r["mean_gap"] for r in line]
    est = [0.0] + [r["estimate"] for r in line]
    ax2.plot(gaps, est, color="#888888", lw=0.8, zorder=0)
    ax2.plot(0.0, 0.0, "s", color="#444444", ms=5,
             label=f"comparison: gap 0 ({event.get('comparison', {}).get('judges', '?')} judges)")
    for r in line:
        ax2.errorbar(r["mean_gap"], r["estimate"], yerr=[[r["estimate"] - r["ci_low"]],
                                                         [r["ci_high"] - r["estimate"]]],
                     fmt="o", ms=5, capsize=3, color=colours[bins.index(r["bin"])]
                     if r["bin"] in bins else "#1f4e79")
    ax2.axhline(0, color="black", lw=0.8)
    ax2.set_xlabel("mean pre-policy gap of the bin's judges (hundreds of cases)", fontsize=8)
    ax2.set_ylabel(f"post-policy change [{pooled.get('scale', '')}]", fontsize=8)
    ax2.set_title("Dose response: pooled post-policy coefficient by bin", fontsize=9)
    ax2.legend(fontsize=7, loc="best")
    fig.text(0.01, -0.02, DOSE_RESPONSE_NOTE, fontsize=7, va="top", color="#444444")
    fig.tight_layout()
    save(fig, path)
    return path


def _readers(results: dict[str, Any], analysis: str) -> list[str]:
    """The hypotheses whose tests or plan ``checks`` name ``analysis``."""
    plan = results.get("provenance", {}).get("config", {}).get("hypotheses", {})
    return [h["id"] for h in results["hypotheses"]
            if analysis in {t["model"] for t in h["tests"]} | set(plan.get(h["id"], {}).get("checks", []))]


def _quota_figures(results: dict[str, Any], outdir: Path) -> dict[str, Path]:
    """The first stage ("H1_first_stage") and the dose response ("H1_dose_response") of each
    hypothesis that reads them (fairness_audit/analyses/quota.py)."""
    figures: dict[str, Path] = {}
    level = interval_level(results)
    for model in results["models"]:
        design, analysis = model.get("design"), model.get("analysis", model["name"])
        if design not in ("first stage event study", "dose response event study") or \
                not model.get("series"):
            continue
        pooled = next((m for m in results["models"] if m.get("analysis") == analysis
                       and m.get("design") == "dose response difference-in-differences"), None)
        for hid in _readers(results, analysis):
            first = design == "first stage event study"
            name = f"{hid}_first_stage" if first else f"{hid}_dose_response"
            if name in figures:
                name = f"{name}_{analysis}"
            target = inside(outdir, name, ".png")
            if first:
                path = event_study(model, target, level, title=(
                    f"First stage: judges' completions per quarter per 100 cases of pre-policy "
                    f"gap ({level} intervals, {model.get('cov_type', '')} by judge)"))
            else:
                path = dose_response(model, pooled, target, level) if pooled else None
            if path:
                figures[name] = path
    return figures


def gaps_forest(results: dict[str, Any], outcome: str, period: str, path: Path) -> Path | None:
    """Raw and adjusted gaps to each dimension's reference group, with the plan's intervals
    (points)."""
    rows = [r for r in results["disparities"]
            if r["outcome"] == outcome and r["period"] == period and not r["suppressed"]
            and r["group"] != r["reference"] and " x " not in r["dimension"]
            and r.get("difference") is not None]
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(7.5, 0.28 * len(rows) + 1.5))
    for i, r in enumerate(reversed(rows)):
        if r.get("difference_ci_low") is not None:
            ax.plot([100 * r["difference_ci_low"], 100 * r["difference_ci_high"]], [i + 0.15] * 2,
                    color="#999999", lw=1.2)
        ax.plot(100 * r["difference"], i + 0.15, "o", color="#7f7f7f", ms=4,
                label="raw gap" if i == 0 else None)
        if r.get("adjusted_difference") is not None:
            ax.plot([100 * r["adjusted_ci_low"], 100 * r["adjusted_ci_high"]], [i - 0.15] * 2,
                    color="#1f4e79", lw=1.2)
            ax.plot(100 * r["adjusted_difference"], i - 0.15, "s", color="#1f4e79", ms=4,
                    label="adjusted gap" if i == 0 else None)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([plot_label(f"{r['dimension']}: {r['group']} vs {r['reference']}")
                        for r in reversed(rows)], fontsize=7, **PLAIN_TEXT)
    ax.set_xlabel(f"gap in {outcome} rate, percentage points ({interval_level(results)} "
                  "interval)")
    ax.set_title(f"Raw and adjusted gaps, {outcome}, {period.replace('_', ' ')}")
    ax.legend(fontsize=8, loc="best")
    save(fig, path)
    return path


def _gap_figures(results: dict[str, Any], outdir: Path) -> dict[str, Path]:
    """Forest plots of raw vs adjusted gaps, shown in the representation hypothesis' section."""
    hid = next((h["id"] for h in results["hypotheses"] if h["id"] == "H5"), "disparities")
    figures = {}
    for outcome in sorted({r["outcome"] for r in results["disparities"]
                           if r.get("statistic", "rate") == "rate"}):
        path = gaps_forest(results, outcome, "post_policy", inside(outdir, f"{hid}_gaps_{outcome}", ".png"))
        if path:
            figures[f"{hid}_gaps_{outcome}"] = path
    return figures


def judge_funnel(model: dict[str, Any], period: str, path: Path) -> Path | None:
    """Case-mix-adjusted judge rates: funnel against decisions, and shrunk rates by court."""
    rows = [s for s in model.get("judges", []) if s.get("period") == period]
    if not rows:
        return None
    n = np.array([s["n"] for s in rows], dtype=float)
    dev = np.array([100 * (s["adjusted"] - s["court_rate"]) for s in rows])
    pooled = float(np.sum([s["observed"] * s["n"] for s in rows]) / n.sum())
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.5))
    ax1.scatter(n, dev, s=12, color="#1f4e79", alpha=0.7)
    grid = np.linspace(n.min() * 0.9, n.max() * 1.05, 200)
    for z, style in ((1.96, "--"), (3.09, ":")):
        half = 100 * z * np.sqrt(pooled * (1 - pooled) / grid)
        ax1.plot(grid, half, "k" + style, lw=0.8)
        ax1.plot(grid, -half, "k" + style, lw=0.8)
    ax1.axhline(0, color="black", lw=0.8)
    ax1.set_xlabel("decisions")
    ax1.set_ylabel("adjusted grant rate - court rate, points")
    ax1.set_title("Funnel: judges against their court\n(dashed 95%, dotted 99.8% limits)", fontsize=9)
    courts = sorted({s["court_id"] for s in rows})
    for i, c in enumerate(courts):
        mine = [s for s in rows if s["court_id"] == c]
        ax2.scatter([100 * s["adjusted"] for s in mine], [i] * len(mine), s=12, color="#bbbbbb",
                    label="adjusted" if i == 0 else None)
        ax2.scatter([100 * s["shrunk"] for s in mine], [i] * len(mine), s=14, color="#c0504d",
                    label="shrunk (empirical Bayes)" if i == 0 else None)
    ax2.set_yticks(range(len(courts)))
    ax2.set_yticklabels([plot_label(c) for c in courts], fontsize=7, **PLAIN_TEXT)
    ax2.set_xlabel("case-mix-adjusted grant rate, %")
    ax2.set_title("Judges by court", fontsize=9)
    ax2.legend(fontsize=7, loc="best")
    fig.suptitle(f"Judges, {period.replace('_', ' ')}", fontsize=10)
    save(fig, path)
    return path


def _judge_figures(results: dict[str, Any], outdir: Path) -> dict[str, Path]:
    figures = {}
    for m in results["models"]:
        if m.get("family") != "variance components":
            continue
        hid = next((h["id"] for h in results["hypotheses"] for t in h["tests"] if t["model"] == m["name"]),
                   m["name"])
        for period in ("post_policy", "pre_policy"):
            path = judge_funnel(m, period, inside(outdir, f"{hid}_funnel_{period}", ".png"))
            if path:
                figures[f"{hid}_funnel_{period}"] = path
    return figures


def quality_columns(results: dict[str, Any], limit: int | None = None) -> list[dict[str, Any]]:
    """The columns of results.json ``data.quality`` with missing values, most missing first
    (by share, then count, then the contract's column order)."""
    quality = results.get("data", {}).get("quality") or {}
    columns = [c for c in quality.get("columns", []) if c["missing"]]
    ranked = sorted(enumerate(columns), key=lambda ic: (-(ic[1]["share"] or 0), -ic[1]["missing"], ic[0]))
    return [c for _, c in ranked][:limit]


QUALITY_PANELS = 3  # the columns with most missing values that the heat map shows


def missing_heatmap(results: dict[str, Any], path: Path) -> Path | None:
    """Share missing by court (rows) x fiscal year (columns), one panel for each of the columns
    with most missing values; a court x year without decisions (or, for a column null by
    definition outside some rows, without such rows) is grey."""
    cells = (results.get("data", {}).get("quality") or {}).get("by_court_year", [])
    columns = quality_columns(results, QUALITY_PANELS)
    if not columns or not cells:
        return None
    courts = sorted({c["court_id"] for c in cells})
    years = sorted({c["fiscal_year"] for c in cells})
    row, col = {c: i for i, c in enumerate(courts)}, {y: j for j, y in enumerate(years)}
    fig, axes = plt.subplots(1, len(columns), squeeze=False, sharey=True, layout="constrained",
                             figsize=(1.2 + 0.32 * len(years) * len(columns) + 1.2 * len(columns),
                                      1.8 + 0.2 * len(courts)))
    # no decisions: grey, apart from 0% missing (white)
    cmap = plt.get_cmap("Reds").with_extremes(bad="#d9d9d9")
    for ax, column in zip(axes[0], columns, strict=True):
        name = column["column"]
        share = np.full((len(courts), len(years)), np.nan)
        for c in cells:
            # a column null by definition outside some rows is counted among the rows it applies to
            rows = c.get("applicable", {}).get(name, c["n"]) if column["applies_to"] else c["n"]
            if rows:
                share[row[c["court_id"]], col[c["fiscal_year"]]] = c["missing"].get(name, 0) / rows
        image = ax.imshow(100 * share, aspect="auto", cmap=cmap, vmin=0,
                          vmax=max(1e-9, 100 * float(np.nanmax(share))), interpolation="nearest")
        ax.set_xticks(range(len(years)))
        ax.set_xticklabels([f"FY{y % 100:02d}" for y in years], rotation=90, fontsize=7)
        ax.set_title(plot_label(name if not column["applies_to"] else
                                f"{name} (where {column['applies_to']})"), fontsize=9, **PLAIN_TEXT)
        fig.colorbar(image, ax=ax, fraction=0.05, pad=0.02).set_label("% missing", fontsize=8)
    axes[0, 0].set_yticks(range(len(courts)))
    axes[0, 0].set_yticklabels([plot_label(c) for c in courts], fontsize=7, **PLAIN_TEXT)
    axes[0, 0].set_ylabel("court")
    fig.suptitle("Share of values missing by court and fiscal year (grey: no decisions, or none "
                 "the column applies to)", fontsize=10)
    save(fig, path)
    return path


def _quality_figures(results: dict[str, Any], outdir: Path) -> dict[str, Path]:
    path = missing_heatmap(results, inside(outdir, "data_quality_missing", ".png"))
    return {"data_quality_missing": path} if path else {}


VERDICT_COLOURS = {"consistent with the concern": "#c0504d", "not supported": "#3d7f3d",
                   "inconclusive": "#b8860b"}
# a marker shape per verdict as well, for a brief printed in black and white
_VERDICT_MARKERS = {"consistent with the concern": "o", "not supported": "s", "inconclusive": "D"}


def _fit_left_of(fig, text, right: float, label: str, width: int) -> None:
    """Make ``text`` (an artist showing ``label``, at most ``width`` characters) end left of
    ``right`` (figure fraction), so that it never runs under what stands there: first a smaller
    font (down to 85% of its size), then a shorter text, the cut marked with an ellipsis."""
    renderer = fig.canvas.get_renderer()
    limit = right * fig.bbox.width
    smallest = 0.85 * text.get_fontsize()
    while text.get_window_extent(renderer).x1 > limit and text.get_fontsize() > smallest:
        text.set_fontsize(max(smallest, text.get_fontsize() - 0.2))
    while width > 20 and text.get_window_extent(renderer).x1 > limit:
        width -= 2
        text.set_text(textwrap.shorten(label, width, placeholder="…"))


def brief_verdicts(results: dict[str, Any], path: Path) -> Path | None:
    """The brief's verdicts at a glance: one row per primary test, its hypothesis' title, the
    test's verdict in colour, and its estimate with the interval in natural units (results.json
    ``natural``) on the row's own axis, since the rows' units and comparisons differ (points per
    100 cases of shortfall, percent of case duration, a spread between judges); zero is marked
    on every row. A test without natural units is shown as such."""
    rows = [(h, t) for h in results["hypotheses"] for t in h["tests"] if t["role"] == "primary"]
    if not rows:
        return None
    counts = {h["id"]: sum(t["role"] == "primary" for t in h["tests"]) for h in results["hypotheses"]}
    row_in, head_in, width_in = 0.36, 0.42, 7.5
    height_in = head_in + row_in * len(rows) + 0.1
    fig = plt.figure(figsize=(width_in, height_in))
    row = row_in / height_in  # one row, in figure fractions

    for i, (h, t) in enumerate(rows):
        top = 1 - (head_in / height_in) - i * row
        n = t.get("natural")
        title = f"{h['id']} {h['title']}"
        group = group_words(t["term"])
        if counts[h["id"]] > 1:  # several tests of one concern: say which group each reads
            title += f": {group}" if group else f": {t['id']}"
        colour = VERDICT_COLOURS[t["verdict"]]
        badge = fig.text(0.615, top - 0.42 * row, t["verdict"], ha="center", va="center",
                         fontsize=6.5, color="white", weight="bold",
                         bbox={"boxstyle": "round,pad=0.25", "facecolor": colour,
                               "edgecolor": colour})
        # the title and the units end before the badge's box, with a small gap
        renderer = fig.canvas.get_renderer()
        badge.update_bbox_position_size(renderer)
        badge_left = (badge.get_bbox_patch().get_window_extent(renderer).x0
                      / fig.bbox.width) - 0.01
        units = f"{n['unit']} {n['per']}" if n else "no estimate in natural units"
        for y, label, size, width, style in (
                (0.08, plot_label(title), 7.5, 78, {}),
                (0.52, plot_label(units), 6.3, 96, {"color": "#555555"})):
            shown = fig.text(0.005, top - y * row, textwrap.shorten(label, width, placeholder="…"),
                             fontsize=size, va="top", **style, **PLAIN_TEXT)
            _fit_left_of(fig, shown, badge_left, label, width)
        ax = fig.add_axes((0.735, top - 0.5 * row, 0.255, 0.3 * row))
        ax.patch.set_visible(False)
        ax.set_yticks([])
        for side in ("top", "right", "left"):
            ax.spines[side].set_visible(False)
        ax.set_ylim(-1, 1)
        ax.axvline(0, color="black", lw=0.8)
        if n:
            lo, hi, value = n["ci_low"], n["ci_high"], n["value"]
            ax.errorbar(value, 0, xerr=[[value - lo], [hi - value]],
                        fmt=_VERDICT_MARKERS[t["verdict"]], color=colour, capsize=2.5, ms=4.5, lw=1.5)
            left, right = min(lo, 0.0), max(hi, 0.0)
            pad = 0.12 * (right - left or 1.0)
            ax.set_xlim(left - pad, right + pad)
            # the concern's side of zero, tinted: where an effect would bear the concern out
            ax.axvspan(0, right + pad, color="#f6dede", zorder=0) if t["concern_sign"] > 0 \
                else ax.axvspan(left - pad, 0, color="#f6dede", zorder=0)
            ax.xaxis.set_major_locator(MaxNLocator(5))
            ax.tick_params(axis="x", labelsize=6, length=2, pad=1)
        else:
            ax.set_xticks([])
        if i + 1 < len(rows) and rows[i + 1][0]["id"] != h["id"]:
            fig.add_artist(plt.Line2D([0.005, 0.995], [top - row] * 2, color="#cccccc", lw=0.6))
    level = results.get("provenance", {}).get("config", {}).get("inference", {}).get("interval_level")
    interval = f"{100 * level:g}% interval" if level else "interval"
    fig.text(0.005, 1 - 0.04 / height_in, f"Verdicts, and estimates with their plausible range "
             f"({interval})\nEach row has its own scale; the line is 0 (no effect); the shaded side "
             "is the concern's direction", fontsize=8, va="top", linespacing=1.4)
    # printed on paper: a finer grid than the report's screen figures
    save(fig, path, dpi=200, bbox_inches=None)
    return path


def _brief_figures(results: dict[str, Any], outdir: Path) -> dict[str, Path]:
    path = brief_verdicts(results, outdir / "brief_verdicts.png")
    return {"brief_verdicts": path} if path else {}


# Each producer reads results and returns {figure name: png path}. The report shows a figure
# named "<hypothesis id>_..." (e.g. "H1_event_log_duration") in that hypothesis' section.
FIGURE_PRODUCERS: list[Callable[[dict[str, Any], Path], dict[str, Path]]] = [
    _test_figures,
    _robustness_figures,
    _rate_figures,
    _event_figures,
    _quota_figures,
    _gap_figures,
    _judge_figures,
    _quality_figures,
    _brief_figures,
]


def all_figures(results: dict[str, Any], outdir: Path) -> dict[str, Path]:
    figures: dict[str, Path] = {}
    for produce in FIGURE_PRODUCERS:
        figures.update(produce(results, outdir))
    return figures
