"""The audit report, written from results.json alone (no model is consulted here).

``write_report(results, outdir)`` writes report.md, report.html (self-contained: figures are
embedded), figures/*.png and tables/*.csv. Labels from the data (groups, courts, judges, and the
warnings and reasons that quote them) are escaped for each output (``escape.py``): by
autoescaping in every HTML template, by the ``md`` filter in the Markdown template, in CSV cells
a spreadsheet would run as formulas, and in figure file names. Every number that report.html
shows from results.json names its place there (``numbers.py``: ``data-src`` and ``data-fmt``).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, PackageLoader, pass_eval_context, select_autoescape

from fairness_audit.models.design import cluster_unit
from fairness_audit.report import plots, regression_tables, replication, report_tables
from fairness_audit.report.brief import (
    BRIEF_MAX_PAGES,
    brief_context,
    pdf_pages,
    print_pdf,
    substituted_fonts,
)
from fairness_audit.report.escape import md, md_code, safe_cell, slug, write_csv
from fairness_audit.report.methods import methods
from fairness_audit.report.numbers import FORMATTERS, as_html, fmt, pvalue, sourced

__all__ = ["findings_lines", "report_files", "safe_cell", "write_report"]


def _silent(message: str) -> None:
    return None


def upper_median(values: Any) -> Any:
    """The middle value (the upper one of an even count); None for no values."""
    ordered = sorted(values)
    return ordered[len(ordered) // 2] if ordered else None


def _number_filter(name: str):
    """The template filter of formatter ``name``: in HTML, the text in a span that names the
    number's place in results.json (``numbers.as_html``); in Markdown, the text alone."""
    formatter = FORMATTERS[name]

    @pass_eval_context
    def render_number(eval_ctx, value: Any, *args: Any) -> Any:
        text = formatter(value, *args)
        if not eval_ctx.autoescape:
            return text
        spec = name + "".join(f":{a}" for a in args)
        return as_html(value, spec, text)

    return render_number


def _environment() -> Environment:
    # templates are named report.html.j2: autoescaping keyed on "html" alone would miss them
    env = Environment(loader=PackageLoader("fairness_audit", "report/templates"),
                      autoescape=select_autoescape(["html", "htm", "html.j2", "htm.j2"]),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update({name: _number_filter(name) for name in FORMATTERS})
    # anchor: a plan name (hypothesis id) as an HTML id that a contents link can name
    env.filters.update(upper_median=upper_median, md=md, md_code=md_code, anchor=slug,
                       cluster_unit=cluster_unit)
    return env


def _disparity_tables(results: dict[str, Any]) -> list[dict[str, Any]]:
    tables: dict[tuple[str, str], dict[str, Any]] = {}
    for row in results["disparities"]:
        key = (row["outcome"], row["dimension"])
        table = tables.setdefault(key, {"outcome": row["outcome"], "dimension": row["dimension"],
                                        "reference": row["reference"], "groups": {},
                                        "statistic": row.get("statistic", "rate")})
        table["groups"].setdefault(row["group"], {})[row["period"]] = row
    return list(tables.values())


QUALITY_COLUMNS_SHOWN = 8  # the report lists the columns with most missing values


def quality_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """tables/data_quality.csv: for every column with missing values (results.json
    ``data.quality``), one row per court x fiscal year: decisions, rows the column applies to,
    missing values and their share."""
    quality = results.get("data", {}).get("quality") or {}
    columns = plots.quality_columns(results)
    rows = []
    for cell in quality.get("by_court_year", []):
        for column in columns:
            name = column["column"]
            applicable = cell.get("applicable", {}).get(name, cell["n"]) if column["applies_to"] \
                else cell["n"]
            missing = cell["missing"].get(name, 0)
            rows.append({"court_id": cell["court_id"], "fiscal_year": cell["fiscal_year"],
                         "decisions": cell["n"], "column": name, "applies_to": column["applies_to"],
                         "rows": applicable, "missing": missing,
                         "share": missing / applicable if applicable else None})
    return rows


COVERAGE_YEARS_PER_TABLE = 10  # fiscal years per coverage table: a table fits a printed page


def coverage_tables(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The decisions of results.json ``data.quality.by_court_year`` as court x fiscal-year
    tables, each of at most ``COVERAGE_YEARS_PER_TABLE`` consecutive years (courts in rows);
    a cell is the record itself (None where a court has no decisions that year), so that its
    ``n`` keeps its place in results.json. [] without the appendix."""
    cells = ((results.get("data") or {}).get("quality") or {}).get("by_court_year") or []

    def order(value: Any) -> tuple[bool, str]:  # unknown (null) last; years sort as numbers
        return value is None, f"{value:>12}" if isinstance(value, int) else str(value)

    years = sorted({c["fiscal_year"] for c in cells}, key=order)
    courts = sorted({c["court_id"] for c in cells}, key=order)
    by_key = {(c["court_id"], c["fiscal_year"]): c for c in cells}
    tables = []
    for start in range(0, len(years), COVERAGE_YEARS_PER_TABLE):
        chunk = years[start:start + COVERAGE_YEARS_PER_TABLE]
        tables.append({"years": chunk,
                       "rows": [{"court": court, "cells": [by_key.get((court, y)) for y in chunk]}
                                for court in courts]})
    return tables


QUALITY_CSV_COLUMNS = ["court_id", "fiscal_year", "decisions", "column", "applies_to", "rows",
                       "missing", "share"]


def write_report(results: dict[str, Any], outdir: Path, *, pdf: bool = True,
                 progress: Callable[[str], None] = _silent, started: float | None = None) -> None:
    """Write report.md, report.html, brief.html, figures/ and tables/ from a results dict;
    and brief.pdf when ``pdf`` and a Chromium is installed (``brief.print_pdf``; without one,
    ``progress`` says so and the rest is written as usual). Each hypothesis' regression table
    goes to tables/ as .tex, .md and .csv (``regression_tables``), every other table the report
    shows as CSV (``report_tables``); REPLICATION.md, written last, lists every file and states
    the runtime since ``started`` (a ``time.perf_counter()`` reading; None: not measured)."""
    outdir = Path(outdir)
    figures_dir, tables_dir = outdir / "figures", outdir / "tables"
    figures_dir.mkdir(parents=True, exist_ok=True)
    tables_dir.mkdir(parents=True, exist_ok=True)

    figures = plots.all_figures(results, figures_dir)
    embedded = {name: base64.b64encode(path.read_bytes()).decode() for name, path in figures.items()}

    tests = [{"hypothesis": h["id"], **t} for h in results["hypotheses"] for t in h["tests"]]
    write_csv(tests, tables_dir / "tests.csv")
    write_csv(results["disparities"], tables_dir / "disparities.csv")
    coefs = [{"model": m["name"], **c} for m in results["models"] for c in m["coefficients"]]
    write_csv(coefs, tables_dir / "coefficients.csv")
    if results["data"].get("quality"):
        # written with its header when nothing is missing, so that the file is always there
        write_csv(pd.DataFrame(quality_rows(results), columns=QUALITY_CSV_COLUMNS),
                  tables_dir / "data_quality.csv")
    regression_tables.write_tables(results, tables_dir)
    report_tables.write_report_tables(results, tables_dir)

    # the templates see numbers that know their place in results.json (numbers.sourced)
    r = sourced(results)
    context = {
        "r": r,
        "disparity_tables": _disparity_tables(r),
        "figures": {name: f"figures/{path.name}" for name, path in figures.items()},
        "embedded": embedded,
        "quality_columns": plots.quality_columns(r, QUALITY_COLUMNS_SHOWN),
        "coverage": coverage_tables(r),
        "methods": methods(r),
        "brief": brief_context(r),  # report.html opens with the brief (_brief.html.j2)
        "absent": [h for h in ("H1", "H2", "H3", "H4", "H5", "H6", "H7")
                   if h not in {x["id"] for x in results["hypotheses"]}],
    }
    env = _environment()
    (outdir / "report.md").write_text(env.get_template("report.md.j2").render(**context))
    (outdir / "report.html").write_text(env.get_template("report.html.j2").render(**context))
    (outdir / "brief.html").write_text(env.get_template("brief.html.j2").render(**context))
    if pdf:
        _brief_pdf(outdir, progress)
    # last: it lists every file written above
    replication.write_replication(results, outdir, started=started)


def _brief_pdf(outdir: Path, progress: Callable[[str], None]) -> None:
    """brief.pdf from brief.html, or a progress line saying why not (never an error)."""
    problem = print_pdf(outdir / "brief.html", outdir / "brief.pdf")
    if problem is not None:
        progress(f"brief.pdf not written: {problem}")
        return
    pages = pdf_pages((outdir / "brief.pdf").read_bytes())
    if pages > BRIEF_MAX_PAGES:
        replaced = substituted_fonts()
        why = (f" (this machine replaces {', '.join(replaced)}, wider fonts than the layout's: "
               "install fonts of Arial's and Times New Roman's widths, such as Debian's "
               "fonts-liberation)") if replaced else ""
        progress(f"brief.pdf has {pages} pages, more than the {BRIEF_MAX_PAGES} a brief "
                 f"should{why}")


#: the files of an audit's output folder named at the end of a command, in reading order
REPORT_FILES = ("brief.html", "brief.pdf", "report.html", "report.md", "results.json",
                "REPLICATION.md")


def report_files(outdir: str | Path) -> list[Path]:
    """The files of ``REPORT_FILES`` that an audit wrote in ``outdir`` (brief.pdf only where
    Chromium printed it)."""
    return [Path(outdir) / name for name in REPORT_FILES if (Path(outdir) / name).exists()]


def findings_lines(results: dict[str, Any]) -> list[str]:
    """A few lines for the terminal: each hypothesis' verdict and its primary estimate."""
    lines = []
    for h in results["hypotheses"]:
        primary = [t for t in h["tests"] if t["role"] == "primary"]
        detail = ""
        if primary and primary[0]["estimate"] is not None:
            t = primary[0]
            detail = (f": {t['term']} = {fmt(t['estimate'])} {t['scale']} "
                      f"[{fmt(t['ci_low'])}, {fmt(t['ci_high'])}], adjusted p {pvalue(t['p_adjusted'])}")
        lines.append(f"{h['id']} {h['title']}: {h['verdict']}{detail}")
    return lines

