"""Regression tables for papers: one table per hypothesis, in LaTeX, Markdown and CSV.

Why our own formatter: pyfixest's ``etable`` (and the maketables package under it) builds its
tables from fitted model objects, and the report has none: it reads results.json alone, so that
a table can be rebuilt from the published numbers. great-tables renders a data frame, not a
regression layout, and is not a dependency. The layout follows fixest's ``etable`` and R's
modelsummary: one column per model, the estimate with its standard error in parentheses below,
then the number of decisions and clusters, a yes/no row per absorbed fixed effect, the cluster
variable, the standard-error type and the scale of the estimates (docs/tables.md).

Which numbers: a cell of a tested term is the plan's test (``/hypotheses/H/tests/T``), so the
table shows what the report shows, on the test's scale. A term the model has but does not test
in that column shows the model's coefficient (``/models/M/coefficients/C``) only when the
column's tests are on the coefficients' own scale (their estimates are the coefficients); a
linear probability model reported in percentage points leaves it blank rather than mix units.

Every number names its place in results.json, as report.html's spans do (``numbers.py``): a
LaTeX row ends with ``% src:`` and one entry per column after the first, either ``-`` (no
number) or ``FORMATTER POINTER``; the Markdown table carries the same entries in an HTML
comment under it, one line per body row. :func:`check_latex` and :func:`check_markdown`
recompute every number from results.json through the formatter named.

Example
-------
>>> tables = hypothesis_tables(results)  # doctest: +SKIP
>>> print(to_latex(tables[0]))  # doctest: +SKIP
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from fairness_audit.report.escape import inside, latex, md, write_csv
from fairness_audit.report.numbers import format_named, resolve

__all__ = ["Cell", "Column", "RegressionTable", "Row", "check_latex", "check_markdown",
           "hypothesis_tables", "to_csv_frame", "to_latex", "to_markdown", "write_tables"]

# columns: the primary model first, then robustness variants, supporting models, and a model
# that only a placebo test reads; rows: primary terms, placebo terms, then the others
_COLUMN_RANK = {"primary": 0, "robustness": 1, "supporting": 2, "placebo": 3}
_ROW_RANK = {"primary": 0, "placebo": 1, "robustness": 2, "supporting": 3}
_METHODS = {"bh": "Benjamini-Hochberg", "holm": "Holm"}
SRC = "% src:"


@dataclass(frozen=True)
class Cell:
    """One cell: a label (``src`` None) or a number formatted by ``spec`` from ``src``."""

    text: str
    src: str | None = None
    spec: str | None = None
    parens: bool = False  # a standard error, shown as (text)
    value: Any = None  # the value at ``src`` (or the label), for the CSV


@dataclass(frozen=True)
class Row:
    """A row of the table: its label, one cell per column, and its name in the CSV."""

    label: str
    cells: tuple[Cell, ...]
    statistic: str
    group: str  # "terms", "fit", "fixed effects", "inference": a rule separates groups


@dataclass(frozen=True)
class Column:
    """A model the hypothesis' tests read (named as the tests name it)."""

    name: str
    role: str
    outcome: str
    host: int | None  # index in results["models"] of the fit that holds its terms


@dataclass(frozen=True)
class RegressionTable:
    """The table of one hypothesis, before rendering."""

    hypothesis: str
    title: str
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]
    notes: tuple[tuple[str, tuple[Cell, ...]], ...]  # (text with {} for each number, numbers)


# ------------------------------------------------------------------------------ building
def _has_term(model: dict[str, Any], term: str) -> bool:
    return any(c["term"] == term for c in model.get("coefficients", []))


def _host(models: list[dict[str, Any]], test: dict[str, Any]) -> int | None:
    """The fit that holds a test's term: the model the test names, or a fit of the analysis it
    names (an event study's difference-in-differences is ``NAME.did``)."""
    name, term = test["model"], test["term"]
    for wanted in (lambda m: m["name"] == name and _has_term(m, term),
                   lambda m: m.get("analysis") == name and _has_term(m, term),
                   lambda m: m["name"] == name):
        found = next((i for i, m in enumerate(models) if wanted(m)), None)
        if found is not None:
            return found
    return None


def _sourced(results: dict[str, Any], pointer: str, spec: str = "fmt", *,
             parens: bool = False) -> Cell:
    value = resolve(results, pointer)
    return Cell(format_named(value, spec), pointer, spec, parens, value)


def _coefficient_index(model: dict[str, Any], term: str) -> int | None:
    return next((j for j, c in enumerate(model.get("coefficients", [])) if c["term"] == term), None)


def _on_coefficient_scale(results: dict[str, Any], host: int | None,
                          tests: list[dict[str, Any]]) -> bool:
    """Whether a column's tests report the model's coefficients as they are (not rescaled)."""
    if host is None:
        return False
    model = results["models"][host]
    compared = []
    for t in tests:
        j = _coefficient_index(model, t["term"])
        if j is not None and t["estimate"] is not None:
            compared.append(model["coefficients"][j]["estimate"] == t["estimate"])
    return bool(compared) and all(compared)


def _fixed_effect_label(name: str) -> str:
    return name.replace("^", " x ")


def hypothesis_table(results: dict[str, Any], index: int) -> RegressionTable:
    """The regression table of ``results["hypotheses"][index]``.

    Parameters
    ----------
    results
        results.json as a dict.
    index
        The hypothesis' position in ``results["hypotheses"]``.

    Returns
    -------
    RegressionTable
        One column per model its tests read, one estimate row and one standard-error row per
        tested term, then observations, clusters, fixed effects, cluster variable, standard
        errors, model family and scale; notes rendered from the plan.

    Example
    -------
    >>> hypothesis_table(results, 1).columns[0].name  # doctest: +SKIP
    'H2'
    """
    h = results["hypotheses"][index]
    models = results["models"]
    tests = list(enumerate(h["tests"]))
    by_model: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for j, t in tests:
        by_model.setdefault(t["model"], []).append((j, t))

    def column_rank(item: tuple[str, list]) -> int:
        return min(_COLUMN_RANK.get(t["role"], len(_COLUMN_RANK)) for _, t in item[1])

    ordered = sorted(by_model.items(), key=column_rank)  # stable: plan order within a role
    columns = []
    for name, mine in ordered:
        best = min(mine, key=lambda jt: _COLUMN_RANK.get(jt[1]["role"], len(_COLUMN_RANK)))[1]
        columns.append(Column(name=name, role=best["role"], outcome=best["outcome"],
                              host=_host(models, mine[0][1])))

    terms = sorted(dict.fromkeys(t["term"] for _, t in tests),
                   key=lambda term: min(_ROW_RANK.get(t["role"], len(_ROW_RANK))
                                        for _, t in tests if t["term"] == term))
    base = f"/hypotheses/{index}/tests"
    rows: list[Row] = []
    for term in terms:
        estimates, errors = [], []
        for col, (_, mine) in zip(columns, ordered, strict=True):
            test = next(((j, t) for j, t in mine if t["term"] == term), None)
            coefficient = None
            if test is None and _on_coefficient_scale(results, col.host, [t for _, t in mine]):
                coefficient = _coefficient_index(models[col.host], term)
            if test is not None:
                estimates.append(_sourced(results, f"{base}/{test[0]}/estimate"))
                errors.append(_sourced(results, f"{base}/{test[0]}/std_error", parens=True))
            elif coefficient is not None:
                where = f"/models/{col.host}/coefficients/{coefficient}"
                estimates.append(_sourced(results, f"{where}/estimate"))
                errors.append(_sourced(results, f"{where}/std_error", parens=True))
            else:
                estimates.append(Cell(""))
                errors.append(Cell(""))
        rows.append(Row(term, tuple(estimates), f"{term}: estimate", "terms"))
        rows.append(Row("", tuple(errors), f"{term}: std_error", "terms"))

    def per_column(label: str, statistic: str, group: str, make) -> None:
        rows.append(Row(label, tuple(make(col, mine) for col, (_, mine) in
                                     zip(columns, ordered, strict=True)), statistic, group))

    def model_number(key: str, fallback: str | None = None):
        def make(col: Column, mine: list) -> Cell:
            if col.host is not None and models[col.host].get(key) is not None:
                return _sourced(results, f"/models/{col.host}/{key}")
            if fallback is not None:
                return _sourced(results, f"{base}/{mine[0][0]}/{fallback}")
            return Cell("")
        return make

    def model_text(key: str):
        def make(col: Column, mine: list) -> Cell:
            value = models[col.host].get(key) if col.host is not None else None
            return Cell("" if value is None else str(value), value=value)
        return make

    per_column("Observations", "n_obs", "fit", model_number("n_obs", "n_obs"))
    per_column("Clusters", "n_clusters", "fit", model_number("n_clusters"))
    fixed = list(dict.fromkeys(fe for col in columns if col.host is not None
                               for fe in models[col.host].get("fixed_effects", [])))
    for fe in fixed:
        per_column(f"Fixed effects: {_fixed_effect_label(fe)}", f"fixed effect {fe}", "fixed effects",
                   lambda col, mine, fe=fe: Cell(
                       "" if col.host is None else
                       ("yes" if fe in models[col.host].get("fixed_effects", []) else "no")))
    per_column("Cluster", "cluster", "inference", model_text("cluster"))
    per_column("Standard errors", "cov_type", "inference", model_text("cov_type"))
    per_column("Family", "family", "inference", model_text("family"))

    def scale(col: Column, mine: list) -> Cell:
        text = " / ".join(dict.fromkeys(t["scale"] for _, t in mine))
        return Cell(text, value=text)

    per_column("Scale", "scale", "inference", scale)
    return RegressionTable(hypothesis=h["id"], title=h.get("title", ""), columns=tuple(columns),
                           rows=tuple(rows), notes=_notes(results))


def _notes(results: dict[str, Any]) -> tuple[tuple[str, tuple[Cell, ...]], ...]:
    """The table's notes, rendered from the plan (provenance.config)."""
    inference = results.get("provenance", {}).get("config", {}).get("inference", {})
    notes = ["Standard errors in parentheses under each estimate (type per column). A tested "
             "term's cell is the plan's test; a blank cell: the model has no such term, or the "
             "column reports its tests on another scale than the coefficients (every "
             "coefficient: tables/coefficients.csv)."]
    numbers: list[tuple[Cell, ...]] = [()]
    pointer = "/provenance/config/inference"
    if inference.get("interval_level") is not None:
        notes.append("Intervals ({} level), p-values and verdicts of the tests: tables/tests.csv.")
        numbers.append((_sourced(results, f"{pointer}/interval_level", "pct"),))
    method = inference.get("adjustment")
    if method is not None:
        text = (f"Adjusted p-values of the primary tests: {_METHODS.get(method, method)} across the "
                "primary family")
        if inference.get("alpha") is not None:
            notes.append(text + ", verdicts at alpha {}.")
            numbers.append((_sourced(results, f"{pointer}/alpha"),))
        else:
            notes.append(text + ".")
            numbers.append(())
    notes.append("No significance stars: a verdict rests on the adjusted p-value, the smallest "
                 "effect of interest and the guards, not on an unadjusted p-value.")
    numbers.append(())
    return tuple(zip(notes, numbers, strict=True))


def hypothesis_tables(results: dict[str, Any]) -> list[RegressionTable]:
    """The table of every hypothesis with at least one test, in the order of results.json."""
    return [hypothesis_table(results, i) for i, h in enumerate(results["hypotheses"]) if h["tests"]]


# ------------------------------------------------------------------------------ LaTeX
def latex_number(text: str) -> str:
    """A formatter's text in LaTeX text mode: a true minus sign, "---" for a missing value."""
    return "".join({"-": "$-$", "\u2014": "---", "%": r"\%", "<": "$<$", ">": "$>$"}.get(c, c)
                   for c in text)


def _latex_cell(cell: Cell) -> str:
    if cell.src is None:
        return latex(cell.text)
    text = latex_number(cell.text)
    return f"({text})" if cell.parens else text


def _fill(text: str, numbers: tuple[Cell, ...], escape, number) -> str:
    """A note: its words escaped, each ``{}`` replaced by its number's text."""
    parts = text.split("{}")
    out = [escape(parts[0])]
    for cell, part in zip(numbers, parts[1:], strict=True):
        out += [number(cell.text), escape(part) if part else ""]
    return "".join(out)


def _src_entries(cells: tuple[Cell, ...]) -> str:
    if not cells:  # a note without numbers
        return "-"
    return "; ".join(f"{c.spec} {c.src}" if c.src is not None else "-" for c in cells)


def _latex_label(text: str) -> str:
    # a fixed effect such as court_id^quarter is an interaction: shown with a times sign
    return r" $\times$ ".join(latex(part) for part in text.split(" x ")) if text.startswith(
        "Fixed effects: ") else latex(text)


def to_latex(table: RegressionTable) -> str:
    """The table as a booktabs ``tabular`` to ``\\input{}`` (needs ``\\usepackage{booktabs}``).

    Every body row ends with ``% src:`` and one entry per column after the first (``-``, or
    the formatter and JSON pointer of its number); a note row lists the numbers it contains.
    """
    n = len(table.columns)
    lines = [f"% Table {latex(table.hypothesis)}: {latex(table.title)}",
             "% Written by fairness-audit from results.json; needs \\usepackage{booktabs}.",
             "% Each row ends with \"% src:\" and one entry per column after the first: \"-\" (no "
             "number) or FORMATTER POINTER",
             "% (the formatter of fairness_audit.report.numbers applied to the value at the JSON "
             "pointer in results.json).",
             f"\\begin{{tabular}}{{l{'c' * n}}}", r"\toprule"]
    header = [("", [f"({i})" for i in range(1, n + 1)]), ("Model", [c.name for c in table.columns]),
              ("Outcome", [c.outcome for c in table.columns]), ("Role", [c.role for c in table.columns])]
    for label, cells in header:
        lines.append(" & ".join([latex(label), *(latex(c) for c in cells)]) + r" \\")
    group = None
    for row in table.rows:
        if row.group != group:
            lines.append(r"\midrule")
            group = row.group
        cells = " & ".join([_latex_label(row.label), *(_latex_cell(c) for c in row.cells)])
        lines.append(f"{cells} \\\\ {SRC} {_src_entries(row.cells)}")
    lines.append(r"\bottomrule")
    for text, numbers in table.notes:
        filled = _fill(text, numbers, latex, latex_number)
        lines.append(f"\\multicolumn{{{n + 1}}}{{p{{0.95\\linewidth}}}}{{\\footnotesize {filled}}} "
                     f"\\\\ {SRC} {_src_entries(numbers)}")
    lines.append(r"\end{tabular}")
    return "\n".join(lines) + "\n"


_COMMENT = re.compile(r"(?<!\\)%")
_AMPERSAND = re.compile(r"(?<!\\)&")
_LATEX_NUMERIC = re.compile(r"\(?(\$-\$)?[0-9][0-9.,]*(e(\$-\$)?[0-9]+)?(\\%)?\)?|\(?---\)?")
_MD_NUMERIC = re.compile(r"\(?-?[0-9][0-9.,]*(e-?[0-9]+)?%?\)?|\(?\u2014\)?")


def _entries(comment: str) -> list[tuple[str, str] | None]:
    entries: list[tuple[str, str] | None] = []
    for entry in comment.split(";"):
        entry = entry.strip()
        if entry == "-":
            entries.append(None)
        else:
            spec, _, pointer = entry.partition(" ")
            entries.append((spec, pointer))
    return entries


def _expected(results: dict[str, Any], entry: tuple[str, str]) -> str:
    spec, pointer = entry
    return format_named(resolve(results, pointer), spec)


def _check_cells(where: str, cells: list[str], entries: list[tuple[str, str] | None],
                 results: dict[str, Any], render, numeric: re.Pattern) -> list[str]:
    problems = []
    if len(cells) != len(entries):
        return [f"{where}: {len(cells)} cells but {len(entries)} source entries"]
    for k, (cell, entry) in enumerate(zip(cells, entries, strict=True), start=2):
        cell = cell.strip()
        if entry is None:
            if numeric.fullmatch(cell):
                problems.append(f"{where}, column {k}: the number {cell!r} names no source")
            continue
        try:
            expected = render(_expected(results, entry))
        except (KeyError, IndexError, ValueError, TypeError) as exc:
            problems.append(f"{where}, column {k}: {entry[1]} ({entry[0]}) not found in "
                            f"results.json ({exc!r})")
            continue
        if cell not in (expected, f"({expected})"):
            problems.append(f"{where}, column {k}: {entry[1]} ({entry[0]}): the table shows "
                            f"{cell!r}, results.json gives {expected!r}")
    return problems


def _check_note(where: str, text: str, entries: list[tuple[str, str] | None],
                results: dict[str, Any], render) -> list[str]:
    problems, position = [], 0
    for entry in entries:
        if entry is None:
            continue
        try:
            expected = render(_expected(results, entry))
        except (KeyError, IndexError, ValueError, TypeError) as exc:
            problems.append(f"{where}: {entry[1]} not found in results.json ({exc!r})")
            continue
        found = text.find(expected, position)
        if found < 0:
            problems.append(f"{where}: {entry[1]} ({entry[0]}): {expected!r} is not in the note")
        else:
            position = found + len(expected)
    return problems


def check_latex(text: str, results: dict[str, Any]) -> list[str]:
    """The numbers of a LaTeX table (:func:`to_latex`) that are not what their formatter writes
    for the value at their pointer in ``results``, and the numbers that name no source (one
    line each); empty when every number agrees.

    Checked: every row between the first ``\\midrule`` and ``\\end{tabular}``; each must end
    with a ``% src:`` comment with one entry per column after the first (a note row, one
    ``\\multicolumn`` cell, lists the numbers it contains, in order).

    Example
    -------
    >>> check_latex(to_latex(hypothesis_table(results, 0)), results)  # doctest: +SKIP
    []
    """
    problems = []
    in_body = False
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith(r"\midrule"):
            in_body = True
            continue
        if not in_body or not stripped or stripped.startswith(("%", r"\bottomrule")):
            continue
        if stripped.startswith(r"\end{tabular}"):
            break
        split = _COMMENT.search(line)
        content = line[:split.start()] if split else line
        comment = line[split.start():].strip() if split else ""
        where = f"line {number}"
        if not comment.startswith(SRC):
            problems.append(f"{where}: the row has no '{SRC}' comment")
            continue
        entries = _entries(comment[len(SRC):])
        content = content.strip()
        if content.endswith("\\\\"):
            content = content[:-2]
        if content.startswith(r"\multicolumn"):
            problems += _check_note(where, content, entries, results, latex_number)
            continue
        cells = _AMPERSAND.split(content)[1:]
        problems += _check_cells(where, cells, entries, results, latex_number, _LATEX_NUMERIC)
    return problems


# ------------------------------------------------------------------------------ Markdown
def _md_cell(cell: Cell) -> str:
    # numbers are the formatter's text (digits, '-', '.', ',', 'e', '—'): nothing to escape
    if cell.src is None:
        return md(cell.text) if cell.text else ""
    return f"({cell.text})" if cell.parens else cell.text


def to_markdown(table: RegressionTable) -> str:
    """The table in Markdown (a pipe table and its notes), followed by an HTML comment that
    names the source of every number: one line per body row, ``N: entry; entry; ...``."""
    n = len(table.columns)
    lines = [f"**Table {md(table.hypothesis)}.** {md(table.title)}", "",
             "| " + " | ".join(["", *(f"({i})" for i in range(1, n + 1))]) + " |",
             "|" + "---|" * (n + 1)]
    header = [("Model", [c.name for c in table.columns]),
              ("Outcome", [c.outcome for c in table.columns]),
              ("Role", [c.role for c in table.columns])]
    sources = []
    for label, cells in header:
        lines.append("| " + " | ".join([md(label), *(md(c) for c in cells)]) + " |")
        sources.append("; ".join("-" for _ in cells))
    for row in table.rows:
        lines.append("| " + " | ".join([md(row.label) if row.label else "",
                                         *(_md_cell(c) for c in row.cells)]) + " |")
        sources.append(_src_entries(row.cells))
    lines.append("")
    note_sources = []
    for text, numbers in table.notes:
        lines.append(_fill(text, numbers, md, lambda s: s))
        lines.append("")
        note_sources.append(_src_entries(numbers))
    lines.append("<!-- sources of the numbers: one line per body row of the table above (N: one "
                 "entry per column after the first: \"-\" or FORMATTER POINTER, the formatter of "
                 "fairness_audit.report.numbers applied to the value at the JSON pointer in "
                 "results.json); then one line per note")
    lines += [f"{i}: {s}" for i, s in enumerate(sources, start=1)]
    lines += [f"note {i}: {s}" for i, s in enumerate(note_sources, start=1)]
    lines.append("-->")
    return "\n".join(lines) + "\n"


def _md_cells(line: str) -> list[str]:
    body = line.strip()
    body = body[1:] if body.startswith("|") else body
    body = body[:-1] if body.endswith("|") and not body.endswith("\\|") else body
    return re.split(r"(?<!\\)\|", body)


def check_markdown(text: str, results: dict[str, Any]) -> list[str]:
    """:func:`check_latex` for a Markdown table written by :func:`to_markdown`: every number of
    the table and its notes against results.json through the formatter its source names."""
    lines = text.splitlines()
    table = [line for line in lines if line.startswith("|")]
    start = text.find("<!-- sources")
    if not table or start < 0:
        return ["no table, or no sources comment"]
    comment = text[start:text.find("-->", start)].splitlines()[1:]
    rows = {k.strip(): v for k, _, v in (c.partition(":") for c in comment)}
    body = table[2:]
    problems = []
    for i, line in enumerate(body, start=1):
        if str(i) not in rows:
            problems.append(f"body row {i}: no source line")
            continue
        cells = _md_cells(line)[1:]
        problems += _check_cells(f"body row {i}", cells, _entries(rows[str(i)]), results,
                                 lambda s: s, _MD_NUMERIC)
    if len(rows) - sum(1 for k in rows if k.startswith("note")) != len(body):
        problems.append(f"{len(body)} body rows but source lines for "
                        f"{len(rows) - sum(1 for k in rows if k.startswith('note'))}")
    last = max(i for i, line in enumerate(lines) if line.startswith("|"))
    notes = "\n".join(lines[last + 1:]).split("<!-- sources")[0]
    paragraphs = [p.strip() for p in notes.split("\n\n") if p.strip()]
    for i, paragraph in enumerate(paragraphs, start=1):
        entry = rows.get(f"note {i}")
        if entry is None:
            problems.append(f"note {i}: no source line")
        elif entry.strip() != "-":
            problems += _check_note(f"note {i}", paragraph, _entries(entry), results, lambda s: s)
    return problems


# ------------------------------------------------------------------------------ CSV and files
def to_csv_frame(table: RegressionTable) -> pd.DataFrame:
    """The table as a data frame for CSV: ``row`` and ``statistic``, then one column per model
    with the values at full precision (numbers as numbers, labels as text)."""
    names = [c.name for c in table.columns]
    records = [{"row": key, "statistic": key,
                **dict(zip(names, (getattr(c, key) for c in table.columns), strict=True))}
               for key in ("outcome", "role")]
    current = ""
    for row in table.rows:
        current = row.label or current
        label = current if row.group == "terms" else row.label
        values = [c.value if c.src is not None or c.value is not None else (c.text or None)
                  for c in row.cells]
        records.append({"row": label, "statistic": row.statistic.split(": ")[-1],
                        **dict(zip(names, values, strict=True))})
    return pd.DataFrame(records, columns=["row", "statistic", *names])


def write_tables(results: dict[str, Any], folder: Path) -> list[Path]:
    """Write ``H*.tex``, ``H*.md`` and ``H*.csv`` (one of each per hypothesis with tests) into
    ``folder``; file names from hypothesis ids go through ``escape.inside``.

    Returns
    -------
    list of Path
        The files written.

    Example
    -------
    >>> write_tables(results, Path("out/demo/tables"))  # doctest: +SKIP
    [PosixPath('out/demo/tables/H1.tex'), ...]
    """
    written = []
    for table in hypothesis_tables(results):
        for suffix, render in ((".tex", to_latex), (".md", to_markdown)):
            path = inside(folder, table.hypothesis, suffix)
            path.write_text(render(table))
            written.append(path)
        path = inside(folder, table.hypothesis, ".csv")
        write_csv(to_csv_frame(table), path)
        written.append(path)
    return written
