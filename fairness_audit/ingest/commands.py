"""``fairness-audit ingest ...``: turn a raw source into the decisions table.

A thin layer over the library: parse the options, call one function with the command's
progress display (``fairness_audit.progress``: live on a terminal, plain lines on stderr
otherwise, nothing with ``--quiet``), print what was written on stdout, and turn an
:class:`~fairness_audit.errors.AuditError` into one line and exit code 1
(``command_errors.user_errors``, which ``--debug`` turns off).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fairness_audit.command_errors import Quiet, user_errors

app = typer.Typer(help="Read a raw source (an EOIR release, or any table with a column "
                       "mapping) and write the decisions table with its ledger.",
                  no_args_is_help=True)


@app.command("eoir")
@user_errors
def eoir(
    source: Annotated[Path, typer.Argument(
        help="The unzipped EOIR case-data release folder, or the release .zip itself.")],
    out: Annotated[Path, typer.Option(
        "--out", help="Output STEM.parquet; the workload file, ledger, set-aside rows and "
                      "lookups are written beside it.")],
    config: Annotated[Path | None, typer.Option(
        "--config", help="YAML file overriding the derivation options of "
                         "configs/eoir_ingest.yaml.")] = None,
    judge_map: Annotated[Path | None, typer.Option(
        "--judge-map", help="CSV (code,merged_code) or YAML mapping that merges judge "
                            "codes.")] = None,
    case_types: Annotated[str | None, typer.Option(
        "--case-types", help="Comma-separated case types in scope (default RMV,DEP,EXC).")
    ] = None,
    work_dir: Annotated[Path | None, typer.Option(
        "--work-dir", help="Folder for temporary files (extracted zip members, DuckDB's "
                           "spill files).")] = None,
    quiet: Quiet = False,
) -> None:
    """Ingest a raw EOIR release: every merits decision, the judges' workload, and a ledger
    that accounts for every row read.

    Example: fairness-audit ingest eoir ~/eoir/case_data.zip --out out/data/eoir.parquet
    """
    from fairness_audit.ingest.eoir import ingest_eoir, load_options
    from fairness_audit.progress import terminal_progress

    options = load_options(config, judge_merge_file=judge_map,
                           case_types=None if case_types is None else
                           [c.strip() for c in case_types.split(",") if c.strip()])
    with terminal_progress(quiet=quiet) as progress:
        result = ingest_eoir(source, out, options=options, work_dir=work_dir, progress=progress)
    typer.echo(f"wrote {result.paths.decisions} ({result.n_decisions:,} decisions, "
               f"{result.n_completions:,} completions in the workload file)")


@app.command("table")
@user_errors
def table(
    file: Annotated[Path, typer.Argument(
        help="The extract: a .csv, .parquet or .xlsx file (another suffix needs read.format in "
             "the mapping).", show_default=False)],
    mapping: Annotated[Path, typer.Option(
        "--mapping", help="Column mapping YAML: the source column of each canonical column, "
                          "code values, what is missing (docs/mappings.md; shipped mappings in "
                          "configs/mappings/).", show_default=False)],
    out: Annotated[Path, typer.Option(
        "--out", help="Where to write the decisions table, STEM.parquet; its companions "
                      "(STEM.judge_completions.parquet, STEM.ledger.json, STEM.set_aside.parquet) "
                      "are written beside it.", show_default=False)],
    keep_names: Annotated[bool, typer.Option(
        "--keep-names", help="Also write the judge and court names behind hashed codes to "
                             "STEM.names.parquet (off by default: names are never kept unless "
                             "asked for).")] = False,
    quiet: Quiet = False,
) -> None:
    """Read a published extract (CSV, parquet or Excel) through a column mapping: every row is
    used or set aside with its reason, and the ledger accounts for all of them.

    Example: fairness-audit ingest table asylum.csv --mapping
    configs/mappings/sdut_asylum_cases.yaml --out out/data/sdut.parquet
    """
    from fairness_audit.ingest.table import ingest_table
    from fairness_audit.progress import terminal_progress

    with terminal_progress(quiet=quiet) as progress:
        result = ingest_table(file, mapping, out, keep_names=keep_names, progress=progress)
    typer.echo(result.summary())
