"""Figures drawn from results.json only (never from live models)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

_SAVE = {"dpi": 110, "bbox_inches": "tight", "metadata": {"Software": None}}


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
        ax.set_xlabel(f"{scale}: estimate with 95% interval", fontsize=9)
    axes[0, 0].set_title("Tests of the audit plan (grey: smaller than the smallest effect of interest)",
                         fontsize=10)
    fig.tight_layout()
    fig.savefig(path, **_SAVE)
    plt.close(fig)
    return path


def group_rates(results: dict[str, Any], outcome: str, dimension: str, path: Path) -> Path | None:
    """Rates by group before and after the policy, with 95% intervals; suppressed cells omitted."""
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
    ax.set_yticklabels(groups, fontsize=8)
    ax.set_xlabel(f"{outcome} rate, % (95% judge-clustered interval)")
    ax.set_title(f"{outcome} by {dimension}")
    ax.legend(fontsize=8, loc="best")
    fig.savefig(path, **_SAVE)
    plt.close(fig)
    return path


def _rate_figures(results: dict[str, Any], outdir: Path) -> dict[str, Path]:
    figures = {}
    pairs = sorted({(r["outcome"], r["dimension"]) for r in results["disparities"]})
    for outcome, dimension in pairs:
        path = group_rates(results, outcome, dimension, outdir / f"rates_{outcome}_{dimension}.png")
        if path:
            figures[f"rates_{outcome}_{dimension}"] = path
    return figures


def _test_figures(results: dict[str, Any], outdir: Path) -> dict[str, Path]:
    path = tests_forest(results, outdir / "tests.png")
    return {"tests": path} if path else {}


# Each producer reads results and returns {figure name: png path}. The report shows a figure
# named "<hypothesis id>_..." (e.g. "H1_event_log_duration") in that hypothesis' section.
FIGURE_PRODUCERS: list[Callable[[dict[str, Any], Path], dict[str, Path]]] = [
    _test_figures,
    _rate_figures,
]


def all_figures(results: dict[str, Any], outdir: Path) -> dict[str, Path]:
    figures: dict[str, Path] = {}
    for produce in FIGURE_PRODUCERS:
        figures.update(produce(results, outdir))
    return figures
