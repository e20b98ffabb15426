"""REPLICATION.md: the output folder's replication README, generated from results.json.

Why: a journal's data editor, or the other side of a dispute, needs to know where the data come
from, what software and machine produced the numbers, how long it takes, which command writes
which table and figure, and how to rerun it. The file follows the section headings of the
"Template README for social science replication packages" (Vilhuber, Connolly, Koren, Llull and
Morrow, v1.1, 2022, doi:10.5281/zenodo.7293838): Overview; Data Availability and Provenance
Statements; Dataset list; Computational requirements; Description of programs/code;
Instructions to Replicators; List of tables and programs; References.

Everything comes from results.json, except what results.json must not hold because it differs
between two runs of the same audit: the runtime and the machine (measured by the command that
wrote the folder and passed in), and the list and size of the files written beside it. For that
reason REPLICATION.md is not one of the files two runs are compared on (results.json is).
Labels from the data (paths, source names) are escaped for Markdown (``escape.md``); commands
are in code blocks whose fence is longer than any run of backticks they hold.

Example
-------
>>> write_replication(results, Path("out/demo"), started=time.perf_counter())  # doctest: +SKIP
PosixPath('out/demo/REPLICATION.md')
"""

from __future__ import annotations

import json
import os
import platform
import re
import shlex
import time
from pathlib import Path
from typing import Any

from fairness_audit.report.escape import md, md_code
from fairness_audit.report.numbers import fmt

__all__ = ["SECTIONS", "file_description", "machine_facts", "replication_md", "write_replication"]

NAME = "REPLICATION.md"
TEMPLATE = ("Lars Vilhuber, Marie Connolly, Miklós Koren, Joan Llull and Peter Morrow (2022). "
            "A template README for social science replication packages, v1.1. Social Science "
            "Data Editors. https://doi.org/10.5281/zenodo.7293838")
EOIR = ("Executive Office for Immigration Review (EOIR). EOIR Case Data [dataset], monthly "
        "releases. U.S. Department of Justice, FOIA Library. https://www.justice.gov/eoir/foia-library-0")
TRAC = ("TRAC Immigration. Immigration court reports and judge-by-judge asylum decisions "
        "[dataset]. Transactional Records Access Clearinghouse, Syracuse University. "
        "https://trac.syr.edu/immigration/")

#: the template's section headings, in its order (## level; ### subsections inside them)
SECTIONS = ("Overview", "Data Availability and Provenance Statements", "Dataset list",
            "Computational requirements", "Description of programs/code",
            "Instructions to Replicators", "List of tables and programs", "References")

# file (relative to the output folder) -> what it holds and the program that writes it; first
# match wins
_FILES: list[tuple[str, str, str]] = [
    (r"results\.json", "every number of the audit with its provenance (inputs and their sha256, "
     "the plan, package versions, seed)", "fairness_audit/audit.py, results.py"),
    (r"report\.html", "the report (self-contained: figures embedded)", "fairness_audit/report/render.py"),
    (r"report\.md", "the report in Markdown", "fairness_audit/report/render.py"),
    (r"brief\.(html|pdf)", "the two-page brief", "fairness_audit/report/render.py, brief.py"),
    (r"REPLICATION\.md", "this file", "fairness_audit/report/replication.py"),
    (r"tables/tests\.csv", "every test of every hypothesis: estimate, standard error, interval, "
     "p-value, adjusted p-value, verdict", "fairness_audit/report/render.py"),
    (r"tables/coefficients\.csv", "every coefficient of every model", "fairness_audit/report/render.py"),
    (r"tables/disparities\.csv", "group rates and gaps (suppressed cells empty)",
     "fairness_audit/report/render.py"),
    (r"tables/data_quality\.csv", "missing values by court, fiscal year and column",
     "fairness_audit/report/render.py"),
    (r"tables/findings\.csv", "each hypothesis' verdict and reason",
     "fairness_audit/report/report_tables.py"),
    (r"tables/checks\.csv", "every design check", "fairness_audit/report/report_tables.py"),
    (r"tables/ledger\.csv", "the data ledger: rows read, used, set aside, values nulled",
     "fairness_audit/report/report_tables.py"),
    (r"tables/judge_spread\.csv", "spread of judges' adjusted grant rates by period",
     "fairness_audit/report/report_tables.py"),
    (r"tables/data_quality_columns\.csv", "missing values of each column the plan reads",
     "fairness_audit/report/report_tables.py"),
    (r"tables/data_quality_removed\.csv", "rows removed at each stage",
     "fairness_audit/report/report_tables.py"),
    (r"tables/.*\.tex", "regression table of a hypothesis (LaTeX booktabs tabular)",
     "fairness_audit/report/regression_tables.py"),
    (r"tables/.*\.md", "regression table of a hypothesis (Markdown)",
     "fairness_audit/report/regression_tables.py"),
    (r"figures/tests\.(png|svg)", "estimate and interval of every test", "fairness_audit/report/plots.py "
     "(tests_forest)"),
    (r"figures/rates_.*", "group rates before and after the policy", "fairness_audit/report/plots.py "
     "(group_rates)"),
    (r"figures/.*_event_.*", "event study by quarter", "fairness_audit/report/plots.py (event_study)"),
    (r"figures/.*_robustness\..*", "robustness plot: every specification of the primary tests, "
     "sorted by estimate", "fairness_audit/report/plots.py (robustness_figure)"),
    (r"figures/.*_gaps_.*", "raw and adjusted gaps between groups", "fairness_audit/report/plots.py "
     "(gaps_forest)"),
    (r"figures/.*_funnel_.*", "judges' adjusted rates: funnel and by court",
     "fairness_audit/report/plots.py (judge_funnel)"),
    (r"figures/data_quality_missing\..*", "share of values missing by court and fiscal year",
     "fairness_audit/report/plots.py (missing_heatmap)"),
    (r"figures/brief_verdicts\..*", "the brief's verdicts at a glance",
     "fairness_audit/report/plots.py (brief_verdicts)"),
]
_KINDS = {".png": "PNG", ".svg": "SVG", ".csv": "CSV"}


def file_description(name: str, names: set[str] | frozenset[str] = frozenset()) -> tuple[str, str]:
    """What the output file ``name`` (relative to the output folder, POSIX) holds, and the
    program that writes it. A hypothesis' CSV is known by its .tex beside it (``names``)."""
    stem, suffix = os.path.splitext(name)
    if name.startswith("tables/") and suffix == ".csv" and f"{stem}.tex" in names:
        return "regression table of a hypothesis (CSV, full precision)", \
            "fairness_audit/report/regression_tables.py"
    for pattern, content, program in _FILES:
        if re.fullmatch(pattern, name):
            kind = _KINDS.get(suffix) if name.startswith("figures/") else None
            hypothesis = re.match(r"figures/(H\d+)_", name)
            extra = f" ({hypothesis.group(1)})" if hypothesis else ""
            return content + extra + (f", {kind}" if kind else ""), program
    return "written by the audit", "fairness_audit/report/"


def machine_facts() -> dict[str, Any]:
    """The machine the command runs on, as it sees it: never part of results.json, which must
    not change between machines. Memory in bytes (None where unknown); ``memory_limit`` is a
    cgroup (container) limit when one is set; the BLAS thread settings change last digits."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        memory = None
    limit = None
    try:
        text = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        limit = int(text) if text.isdigit() else None
    except OSError:
        pass
    threads = {k: os.environ[k] for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
               if k in os.environ}
    return {"system": f"{platform.system()} {platform.release()}", "machine": platform.machine(),
            "cpus": cpus, "memory": memory, "memory_limit": limit, "blas_threads": threads}


# ------------------------------------------------------------------------------ pieces
def _gb(n: int | None) -> str:
    return "unknown" if n is None else f"{n / 1024**3:.1f} GB"


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    minutes = seconds / 60
    return f"{minutes:.1f} minutes" if minutes < 120 else f"{minutes / 60:.1f} hours"


_BUCKETS = [(600, "<10 minutes"), (3600, "10-60 minutes"), (7200, "1-2 hours"), (28800, "2-8 hours"),
            (86400, "8-24 hours"), (259200, "1-3 days"), (1209600, "3-14 days"), (float("inf"), "> 14 days")]


def _code(lines: list[str]) -> list[str]:
    """A fenced code block that no backtick in ``lines`` can close."""
    longest = max((len(run) for line in lines for run in re.findall(r"`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence, *(" ".join(line.splitlines()) for line in lines), fence]


def _cell_code(value: Any) -> str:
    """A code span inside a table cell: a pipe would end the cell even there (GFM), so it is
    escaped, which GFM undoes inside the cell."""
    return md_code(value).replace("|", "\\|")


def _q(path: Any) -> str:
    return shlex.quote(str(path))


def _input_role(path: str) -> str:
    if path.endswith(".judge_completions.parquet"):
        return "judges' workload (every completion of every judge)"
    if path.endswith(".ledger.json"):
        return "ingest ledger (every source row: used, or set aside with its reason)"
    return "decisions table (one row per merits decision)"


def _source_kind(results: dict[str, Any]) -> str | None:
    return (results.get("data") or {}).get("source")


def _uses_trac(results: dict[str, Any]) -> bool:
    prov = results.get("provenance", {})
    text = json.dumps([prov.get("config"), prov.get("source"), _source_kind(results)])
    return bool(re.search(r"\bTRAC\b", text) or re.search(r"trac", json.dumps(prov.get("source")) or "",
                                                            re.IGNORECASE))


def _table_path(results: dict[str, Any]) -> str | None:
    prov = results.get("provenance", {})
    source = prov.get("source") or {}
    if isinstance(source, dict) and source.get("kind") == "table" and source.get("table"):
        return source["table"]
    inputs = prov.get("inputs") or []
    return inputs[0]["path"] if inputs else None


# ------------------------------------------------------------------------------ sections
def _overview(results: dict[str, Any], n_tables: int, n_figures: int,
              runtime: float | None) -> list[str]:
    data, prov = results.get("data", {}), results.get("provenance", {})
    window = (prov.get("config") or {}).get("window", {})
    ids = ", ".join(md(h["id"]) for h in results["hypotheses"])
    lines = [
        f"This folder holds an audit of immigration-court decisions by the `fairness_audit` package "
        f"(version {md_code((prov.get('versions') or {}).get('fairness_audit', 'unknown'))}): "
        f"{fmt(data.get('rows_in'))} merits decisions read, {fmt(data.get('rows_used'))} in the "
        f"analysis window ({md(window.get('start'))} to {md(window.get('end'))}, end excluded), "
        f"tested against the pre-registered plan's hypotheses {ids}. One command turns the "
        f"decisions table into results.json, the report, {n_tables} table files and {n_figures} "
        "figure files (List of tables and programs below).",
    ]
    if runtime is not None:
        lines.append("")
        lines.append(f"The command that wrote this folder ran for {_duration(runtime)} "
                     "(Computational requirements).")
    return lines


def _availability(results: dict[str, Any]) -> list[str]:
    kind = _source_kind(results)
    release = (results.get("data") or {}).get("release") or {}
    lines = []
    synthetic = kind == "simulation"
    lines.append(f"- [{'x' if synthetic else ' '}] This audit does not involve analysis of external "
                 "data (the only data are generated by the package's simulator).")
    lines.append("")
    if synthetic:
        lines.append("The decisions table is synthetic: written by `fairness-audit simulate`, a "
                     "simulated court system with effects planted at known sizes "
                     "(docs/simulator.md in the package). It shares the layout of EOIR's case data "
                     "(EOIR, see References) and no record of it.")
    elif kind == "eoir":
        lines.append("The decisions table was read from a release of EOIR's case data (EOIR, see "
                     "References) by `fairness-audit ingest eoir`. EOIR publishes the releases in "
                     "its FOIA library; they are public records. Releases change from month to "
                     "month: the release's identity is recorded below and in results.json "
                     "`data.release`.")
    elif kind:
        lines.append(f"The decisions table was read from a published extract (source kind "
                     f"{md(kind)}) by `fairness-audit ingest table` through a column mapping. Its "
                     "availability and license are those of its publisher: state them here.")
    else:
        lines.append("results.json does not record where the decisions table came from: state its "
                     "origin here.")
    if release:
        facts = []
        if release.get("fingerprint"):
            facts.append(f"fingerprint {md_code(release['fingerprint'])}")
        if isinstance(release.get("zip"), dict) and release["zip"].get("name"):
            facts.append(f"zip {md(release['zip']['name'])}")
        if release.get("files"):
            facts.append(f"{len(release['files'])} files")
        if release.get("latest_date"):
            facts.append(f"latest date {md(release['latest_date'])}")
        if facts:
            lines += ["", "Release: " + ", ".join(facts) + "."]
    lines += ["", "### Statement about Rights", ""]
    public = synthetic or kind == "eoir"
    lines.append(f"- [{'x' if public else ' '}] The data are public records (EOIR's releases) or "
                 "generated by the package; anyone may use them.")
    lines.append("- [ ] Permission to redistribute the data with this folder is documented "
                 "(to be confirmed by whoever distributes it).")
    lines += ["", "### License for Data", "",
              "EOIR's case data are U.S. government records released under the Freedom of "
              "Information Act; simulated data carry the package's license (MIT). A published "
              "extract keeps its publisher's terms.",
              "", "### Summary of Availability", ""]
    lines.append(f"- [{'x' if public else ' '}] All data **are** publicly available.")
    lines.append(f"- [{' ' if public else 'x'}] Some data **cannot be made** publicly available "
                 "(unless the extract's publisher allows it).")
    lines += ["", "### Details on each Data Source", "",
              "| Data.Name | Data.Files | Location | Provided | Citation |", "|---|---|---|---|---|"]
    name = {"simulation": "Simulated court system", "eoir": "EOIR case data"}.get(kind or "",
                                                                               f"Extract ({kind})")
    citation = "this package" if synthetic else ("EOIR" if kind == "eoir" else "its publisher")
    for item in (results.get("provenance") or {}).get("inputs", []):
        path = item["path"]
        folder = _cell_code(os.path.dirname(path) or ".")
        lines.append(f"| {md(name)} | {_cell_code(os.path.basename(path))} | {folder} (relative to this "
                     f"folder) | with the audit's inputs | {md(citation)} |")
    return lines


def _datasets(results: dict[str, Any]) -> list[str]:
    lines = ["The audit's inputs, as results.json `provenance.inputs` records them (paths relative "
             "to this folder; a file with another sha256 is another input):", "",
             "| Data file | Source | Notes | Provided |", "|---|---|---|---|"]
    for item in (results.get("provenance") or {}).get("inputs", []):
        lines.append(f"| {_cell_code(item['path'])} | {md(_input_role(item['path']))} | sha256 "
                     f"{_cell_code(item['sha256'])} | beside this folder |")
    if not (results.get("provenance") or {}).get("inputs"):
        lines.append("| — | — | no input recorded | — |")
    return lines


def _requirements(results: dict[str, Any], runtime: float | None, machine: dict[str, Any] | None,
                  size: int | None) -> list[str]:
    prov = results.get("provenance", {})
    versions = prov.get("versions") or {}
    lines = ["### Software Requirements", ""]
    if "python" in versions:
        lines.append(f"- Python {md_code(versions['python'])}")
    for package, version in versions.items():
        if package != "python":
            lines.append(f"  - {md_code(package)} {md_code(version)}")
    pins = [f"{p}=={v}" for p, v in versions.items() if p not in ("python", "fairness_audit")]
    if pins:
        lines += ["", "The same versions of the dependencies (the package itself is installed from "
                  "its repository: `make demo` or `pip install .` there):", "",
                  *_code(["pip install " + " ".join(_q(p) for p in pins)])]
    lines += ["", "### Controlled Randomness", "",
              f"- [x] The random seed is the plan's `seed`: {md(prov.get('seed'))} (results.json "
              "`provenance.seed`); every bootstrap and random draw of the audit derives from it.",
              "- Two runs of the same audit in two processes write byte-identical results, tables "
              "and figures, apart from `provenance.created`, with the same number of BLAS threads "
              "(another number changes last digits: set `OPENBLAS_NUM_THREADS` alike)."]
    lines += ["", "### Memory, Runtime, Storage Requirements", "", "#### Summary time to reproduce", ""]
    if runtime is None:
        lines.append("Not measured: this file was rendered from results.json alone, not by the "
                     "command that ran the audit (which states its runtime here).")
    else:
        bucket = next(label for limit, label in _BUCKETS if runtime < limit)
        lines.append(f"The command that wrote this folder ran for {_duration(runtime)} (wall time "
                     "from its start to this file, measured by the command; it is not in "
                     "results.json, which two runs must reproduce exactly), on the machine below:")
        lines.append("")
        lines += [f"- [{'x' if label == bucket else ' '}] {label}" for _, label in _BUCKETS]
    lines += ["", "#### Summary of required storage space", ""]
    if size is not None:
        lines.append(f"This folder: {size / 1024**2:.1f} MB (the report, tables and figures), "
                     "beside the inputs listed above.")
    else:
        lines.append("The inputs listed above, and this folder (the report, tables and figures).")
    lines += ["", "#### Computational Details", ""]
    if machine is None:
        lines.append("Not recorded: the machine is stated only by the command that ran the audit.")
    else:
        limit = (f"; a memory limit of {_gb(machine['memory_limit'])} applies to the process"
                 if machine.get("memory_limit") else "")
        threads = ", ".join(f"{k}={v}" for k, v in machine.get("blas_threads", {}).items()) or \
            "not set (the BLAS library's default)"
        lines.append(f"Last run on {md(machine['system'])} ({md(machine['machine'])}), "
                     f"{md(machine['cpus'])} CPUs available to the process, "
                     f"{_gb(machine['memory'])} of memory{limit}; BLAS threads: {md(threads)}.")
    lines += ["", "Time and memory grow with the number of decisions and judges; the package's "
              "docs/performance.md gives measured figures at national size."]
    return lines


def _programs(results: dict[str, Any]) -> list[str]:
    return [
        "The code is the `fairness_audit` Python package. Its stages run in one direction:",
        "",
        "- `fairness_audit/ingest/` (EOIR releases, published extracts) and `simulate.py` write "
        "the decisions table, its workload file and its ledger;",
        "- `features.py` derives quota pressure, fiscal years and durations;",
        "- `hypotheses.py`, `models/` and `analyses/` fit every model of the plan; `inference.py` "
        "adjusts p-values and assigns verdicts; `disparity.py` computes group rates and gaps;",
        "- `audit.py` writes results.json; `report/` writes the report, tables and figures from "
        "results.json alone.",
        "",
        "The plan (every model, test, smallest effect of interest, the error rate and the "
        "multiple-testing method) is results.json `provenance.config`; the report prints it.",
        "",
        "### License for Code",
        "",
        "The package is licensed under the MIT license (its pyproject.toml).",
    ]


def _instructions(results: dict[str, Any]) -> list[str]:
    prov = results.get("provenance", {})
    source = prov.get("source") if isinstance(prov.get("source"), dict) else {}
    config_file = prov.get("config_file") if isinstance(prov.get("config_file"), dict) else None
    lines = ["Run these commands in this folder (the one holding results.json), with the package and "
             "the versions above installed.", ""]
    if config_file and config_file.get("path"):
        lines += [f"The audit was started by `fairness-audit run` with the run config "
                  f"{md_code(config_file['path'])} (sha256 {md_code(config_file.get('sha256', '—'))}), "
                  "which names the source, the plan and the output folder. Keep a copy of this "
                  "results.json, then rerun it (it replaces its output folder):", "",
                  *_code(["cp results.json ../results.recorded.json",
                          f"fairness-audit run {_q(config_file['path'])}"]),
                  "", "Then compare the new results.json with the copy:", ""]
        compare = ("../results.recorded.json", "results.json")
    else:
        table = _table_path(results)
        steps = []
        if source.get("kind") == "simulate" and isinstance(source.get("options"), dict):
            steps.append(_simulate_command(source["options"], table))
        plan = ('import json, yaml; yaml.safe_dump(json.load(open("results.json"))["provenance"]'
                '["config"], open("../replication.plan.yaml", "w"), sort_keys=False)')
        steps += [f"python -c {_q(plan)}",
                  f"fairness-audit audit {_q(table or 'TABLE')} --out ../replication "
                  "--config ../replication.plan.yaml"]
        lines += ["The plan is written out from results.json; the audit reads the decisions table "
                  f"{md_code(table or 'TABLE')} (path relative to this folder) and writes a new "
                  "folder `../replication` beside this one:", "", *_code(steps), "",
                  "Then compare its results.json with this one:", ""]
        compare = ("results.json", "../replication/results.json")
    check = ('import json; a, b = (json.load(open(p)) for p in ("{}", "{}")); '
             '[d["provenance"].pop("created") for d in (a, b)]; '
             'print("identical" if a == b else "different")').format(*compare)
    lines += [*_code([f"python -c {_q(check)}"]), "",
              "Every number of results.json must be the same; only `provenance.created` (when the "
              "audit ran) differs. Package versions or a number of BLAS threads other than those "
              "above can change last digits."]
    if source:
        lines += ["", "### Details on various programs", "",
                  "The source of the decisions table as results.json `provenance.source` records it:",
                  "", *_code(json.dumps(source, indent=2, sort_keys=True).splitlines())]
    return lines


def _simulate_command(options: dict[str, Any], table: str | None) -> str:
    flags = [f"fairness-audit simulate --out {_q(table or 'TABLE')}"]
    for key, flag in (("seed", "--seed"), ("decisions", "--decisions"), ("config", "--config"),
                      ("anticipation", "--anticipation")):
        if options.get(key) is not None:
            flags.append(f"{flag} {_q(options[key])}")
    for key, flag in (("null", "--null"), ("no_judge_spread", "--no-judge-spread")):
        if options.get(key):
            flags.append(flag)
    return " ".join(flags)


def _files(results: dict[str, Any], files: list[str]) -> list[str]:
    prov = results.get("provenance", {})
    config_file = prov.get("config_file") if isinstance(prov.get("config_file"), dict) else None
    command = "fairness-audit run" if config_file else "fairness-audit audit"
    names = set(files)
    lines = ["The command reproduces:", "",
             "- [x] All numbers in the report (every one is in results.json)",
             "- [x] All tables and figures in the report", "",
             f"Every file below is written by one command, `{command}` (Instructions to "
             "Replicators); the program is the module of the package that writes it. Figures are "
             "PNG with an SVG of the same name beside them; tables are CSV, and each hypothesis "
             "has its regression table as LaTeX (`\\input{}` it; needs booktabs), Markdown and CSV.",
             "", "| Output file | Content | Program | Command |", "|---|---|---|---|"]
    for name in files:
        content, program = file_description(name, names)
        lines.append(f"| {_cell_code(name)} | {md(content)} | {md(program)} | `{command}` |")
    return lines


def _references(results: dict[str, Any]) -> list[str]:
    lines = [EOIR]
    if _uses_trac(results):
        lines += ["", TRAC]
    lines += ["", TEMPLATE]
    return lines


# ------------------------------------------------------------------------------ the file
def replication_md(results: dict[str, Any], files: list[str], *, runtime: float | None = None,
                   machine: dict[str, Any] | None = None, size: int | None = None) -> str:
    """REPLICATION.md's text.

    Parameters
    ----------
    results
        results.json as a dict.
    files
        The output folder's files, relative to it in POSIX form (``tables/H2.tex``), including
        REPLICATION.md itself; each gets a row in "List of tables and programs".
    runtime
        Seconds the command that wrote the folder ran, or None (not measured).
    machine
        :func:`machine_facts` of that command's machine, or None.
    size
        Bytes of the output folder's files, or None.

    Returns
    -------
    str
        Markdown with the template's sections (:data:`SECTIONS`), labels escaped.

    Example
    -------
    >>> replication_md(results, ["results.json", "tables/H2.tex"])  # doctest: +SKIP
    """
    n_tables = sum(name.startswith("tables/") for name in files)
    n_figures = sum(name.startswith("figures/") for name in files)
    body = {
        "Overview": _overview(results, n_tables, n_figures, runtime),
        "Data Availability and Provenance Statements": _availability(results),
        "Dataset list": _datasets(results),
        "Computational requirements": _requirements(results, runtime, machine, size),
        "Description of programs/code": _programs(results),
        "Instructions to Replicators": _instructions(results),
        "List of tables and programs": _files(results, files),
        "References": _references(results),
    }
    created = md_code(results.get("provenance", {}).get("created"))
    lines = ["# Replication README: audit of immigration-court decisions", "",
             f"Written by `fairness_audit` from results.json (created {created}); the sections "
             "follow the Template README for social science replication packages (References).", ""]
    for section in SECTIONS:
        lines += [f"## {section}", "", *body[section], ""]
    return "\n".join(lines)


def write_replication(results: dict[str, Any], outdir: Path, *, started: float | None = None) -> Path:
    """Write ``outdir/REPLICATION.md``, listing every file already in ``outdir``: call it last.

    Parameters
    ----------
    results
        results.json as a dict.
    outdir
        The output folder (the report, tables and figures already written in it).
    started
        ``time.perf_counter()`` when the command started, or None: then the runtime and the
        machine are "not measured" (a report rendered again from results.json).

    Returns
    -------
    Path
        The file written.
    """
    outdir = Path(outdir)
    paths = [p for p in sorted(outdir.rglob("*")) if p.is_file() and p.name != NAME]
    files = sorted({p.relative_to(outdir).as_posix() for p in paths} | {NAME})
    size = sum(p.stat().st_size for p in paths)
    runtime = None if started is None else time.perf_counter() - started
    machine = None if started is None else machine_facts()
    path = outdir / NAME
    path.write_text(replication_md(results, files, runtime=runtime, machine=machine, size=size))
    return path
