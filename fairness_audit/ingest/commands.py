"""``fairness-audit ingest ...``: turn a raw EOIR release or a published extract into the
decisions table. Each command parses its options, calls one library function and prints a
summary; a user mistake is one line on stderr and exit code 1."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fairness_audit.errors import AuditError

app = typer.Typer(help="Turn a raw EOIR release or a published extract into the decisions table.")


@app.callback()
def _ingest() -> None:
    """Turn a raw EOIR release or a published extract into the decisions table."""


@app.command("table")
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
) -> None:
    """Read a published extract (CSV, parquet or Excel) through a column mapping."""
    from fairness_audit.ingest.table import ingest_table

    try:
        result = ingest_table(file, mapping, out, keep_names=keep_names)
    except AuditError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(result.summary())
