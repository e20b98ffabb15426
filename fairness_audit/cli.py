"""The ``fairness-audit`` command: a thin Typer layer over the library.

Each command parses its options, calls one library function and prints a short summary. A
user mistake (``AuditError``) becomes one line on stderr and exit code 1, never a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from fairness_audit.command_errors import DEBUG_ENV, Quiet, set_debug, user_errors
from fairness_audit.ingest.commands import app as ingest_app

app = typer.Typer(
    name="fairness-audit",
    help="Audit immigration-court decisions for due-process and fairness problems: ingest or "
         "simulate a decisions table, run the pre-registered audit plan, write the report.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _options(
    debug: Annotated[bool, typer.Option(
        "--debug", envvar=DEBUG_ENV,
        help="Show the full traceback of an input error instead of its one-line message (for "
             "a bug report); also set by FAIRNESS_AUDIT_DEBUG=1. Unexpected errors always show "
             "their traceback.")] = False,
) -> None:
    set_debug(debug)


@app.command()
@user_errors
def simulate(
    out: Annotated[Path, typer.Option("--out", help="Where to write the table: STEM.parquet "
                                                    "(companions are written beside it).")],
    decisions: Annotated[int | None, typer.Option(
        help="About how many merits decisions to simulate; scales the number of judges and "
             "courts, never a judge's pace. Default: 8 courts of 5 judges, about 180,000.")] = None,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same files.")]
    = 20181001,
    config: Annotated[Path | None, typer.Option(
        "--config", help="YAML file overriding simulation parameters (see docs/simulator.md).")]
    = None,
    null: Annotated[bool, typer.Option(
        "--null", help="Set every tested term of H1-H5 and H7 to zero (group gaps and judge "
                       "spread kept).")] = False,
    no_judge_spread: Annotated[bool, typer.Option(
        "--no-judge-spread", help="Give every judge of a court the same leniency (H6's null).")]
    = False,
    anticipation: Annotated[str | None, typer.Option(
        help="Start the pressure effects at this date (YYYY-MM-DD) instead of 2018-10-01.")]
    = None,
    scenario: Annotated[str | None, typer.Option(
        "--scenario", metavar="NAME",
        help="A stress scenario that biases the primary design toward the concern: none, "
             "drift (judges' leniency drifts with their pre-policy gap), shocks (COVID "
             "closures, backlog, MPP and family-unit dockets), feedback (harder dockets slow "
             "judges down), national (drift at national size: over 500 judges and 2 million "
             "decisions in the analysis window); see docs/simulator.md. Default: the "
             "simulation config's, else none.")] = None,
    quiet: Quiet = False,
) -> None:
    """Simulate a court system with planted effects and write it as a decisions table.

    Writes STEM.parquet, STEM.judge_completions.parquet, STEM.ledger.json and STEM.truth.json
    (the generating parameters, each model term's target and each tested term's causal effect).

    Example: fairness-audit simulate --out out/data/court.parquet --seed 7 --scenario shocks
    """
    from fairness_audit.progress import terminal_progress
    from fairness_audit.simulation_io import simulate_to_files

    with terminal_progress(quiet=quiet) as progress:
        paths = simulate_to_files(out, decisions=decisions, seed=seed, config=config, null=null,
                                  no_judge_spread=no_judge_spread, anticipation=anticipation,
                                  scenario=scenario, progress=progress)
    typer.echo(f"wrote {paths.decisions} (+ judge_completions, ledger, truth)")


@app.command()
@user_errors
def validate(
    file: Annotated[Path, typer.Argument(help="A decisions table (.parquet).")],
) -> None:
    """Check a decisions table against the contract; one line per problem, exit 1 if any.

    Example: fairness-audit validate out/data/court.parquet
    """
    from fairness_audit.schema import validate_decisions, validate_workload
    from fairness_audit.tables import read_decision_data

    data = read_decision_data(file)
    problems = validate_decisions(data.decisions)
    if data.workload is not None:
        problems += [f"{data.paths.workload.name}: {p}"
                     for p in validate_workload(data.workload, data.decisions)]
    if problems:
        for line in problems:
            typer.echo(f"{file}: {line}", err=True)
        raise typer.Exit(1)
    workload = "with" if data.workload is not None else "without"
    typer.echo(f"{file}: valid decisions table, {len(data.decisions):,} rows ({workload} a "
               f"judge-workload file)")


@app.command()
@user_errors
def audit(
    file: Annotated[Path, typer.Argument(help="A decisions table (.parquet) from ingest or simulate.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for results.json, report.md, "
                                                    "report.html, figures/ and tables/.")],
    config: Annotated[Path | None, typer.Option(
        "--config", help="The audit plan (YAML). Default: the packaged configs/default.yaml.")]
    = None,
    profile: Annotated[Path | None, typer.Option(
        "--profile", help="Also write each stage's wall time and peak memory (JSON) to this "
                          "file: reading, features, each model and analysis, disparities, "
                          "report.")] = None,
    quiet: Quiet = False,
) -> None:
    """Run the audit plan on a decisions table and write the report.

    Example: fairness-audit audit out/data/court.parquet --out out/audit
    """
    from fairness_audit.audit import run_audit
    from fairness_audit.config import load_config
    from fairness_audit.outputs import check_output_folder, writing
    from fairness_audit.progress import terminal_progress
    from fairness_audit.report.render import findings_lines, report_files
    from fairness_audit.stages import recording

    plan = load_config(config)
    if profile is not None:  # before the work: an unusable path is one line, not a lost run
        check_output_folder(profile.parent.resolve(), f"--profile {profile}")
    with recording() as stages, terminal_progress(quiet=quiet) as progress:
        results = run_audit(file, plan, out, progress=progress)
    if profile is not None:
        with writing(profile):
            stages.write(profile)
    typer.echo("wrote " + ", ".join(map(str, report_files(out))) + f" and {out}/tables, "
               f"{out}/figures")
    for line in findings_lines(results):
        typer.echo(f"  {line}")



@app.command("run")
@user_errors
def run_command(
    config: Annotated[Path, typer.Argument(
        metavar="CONFIG.yaml", help="The run config: source (simulate, eoir or table), plan and "
                                    "out; paths relative to its folder (docs/run.md).",
        show_default=False)],
    quiet: Quiet = False,
) -> None:
    """Run a whole audit from one file: build the decisions table from its source into
    OUT/data/, run the plan on it, and write the report into OUT/report/.

    Example: fairness-audit run configs/demo.yaml
    """
    from fairness_audit.progress import terminal_progress
    from fairness_audit.report.render import findings_lines
    from fairness_audit.run_config import load_run_config, run_config

    spec = load_run_config(config)
    with terminal_progress(quiet=quiet) as progress:
        result = run_config(spec, progress=progress)
    for path in result.written:
        typer.echo(f"wrote {path}")
    for line in findings_lines(result.results):
        typer.echo(f"  {line}")


@app.command()
@user_errors
def verify(
    outdir: Annotated[Path, typer.Argument(
        metavar="OUTDIR", help="An audit's output folder, the one holding results.json (for "
                               "fairness-audit run: OUT/report).", show_default=False)],
    rebuild: Annotated[bool, typer.Option(
        "--rebuild", help="Also rebuild the decisions table from the recorded source (simulate "
                          "again, or ingest the release or extract again) and require the "
                          "recorded sha256.")] = False,
    quiet: Annotated[bool, typer.Option(
        "--quiet", "-q", help="No progress display or lines; what was checked and what "
                              "differs still prints.")] = False,
) -> None:
    """Check that an audit is what its inputs produce: versions, input hashes, every value of
    results.json recomputed and compared exactly, the report rendered again. Exit 1 if
    anything differs (docs/run.md).

    Example: fairness-audit verify out/demo/report
    """
    from fairness_audit.progress import terminal_progress
    from fairness_audit.verify import verify_output

    with terminal_progress(quiet=quiet) as progress:
        result = verify_output(outdir, rebuild=rebuild, progress=progress)
    for line in result.lines:
        typer.echo(line)
    if not result.passed:
        raise typer.Exit(1)


@app.command()
@user_errors
def judges(
    table: Annotated[Path, typer.Argument(help="A published judge-level table (the TRAC judge CSV "
                                                "of FY2012-2017, or the TRAC-style JSON), or a "
                                                "decisions table (.parquet) from ingest or "
                                                "simulate.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for judges.csv, courts.csv, "
                                                    "summary.json, summary.md and funnel.png (and, "
                                                    "for a decisions table, trac_table.csv and "
                                                    "judges_by_year.csv); replaced as a whole.")],
    layout: Annotated[str, typer.Option(
        help="auto (from the extension: .csv trac_csv, .json trac_json, .parquet decisions), "
             "trac_csv, trac_json or decisions.")] = "auto",
    min_decisions: Annotated[int | None, typer.Option(
        help="Leave out judge x court rows with fewer grants + denials. Default: 100 for a "
             "decisions table under --rules trac, else 0.")] = None,
    rules: Annotated[str | None, typer.Option(
        help="Decisions table only: trac (default; TRAC's judge-report rules: asylum grants "
             "and denials, 100 decisions per judge x court, 25 per yearly rate) or all (the same "
             "counts, no thresholds).")] = None,
    from_fy: Annotated[int | None, typer.Option(
        help="Decisions table only: first fiscal year counted (default: the table's first).")]
    = None,
    to_fy: Annotated[int | None, typer.Option(
        help="Decisions table only: last fiscal year counted (default: the table's last).")]
    = None,
    min_yearly: Annotated[int | None, typer.Option(
        help="Decisions table only: show a yearly rate only with this many decisions that year. "
             "Default: 25 under --rules trac, 0 under all.")] = None,
    quiet: Quiet = False,
) -> None:
    """Judge consistency ("refugee roulette") on a judge x court table.

    Beta-binomial shrinkage of each judge's grant rate toward the court, within-court spread,
    a homogeneity test per court and a funnel plot. Rates are not adjusted for case mix. A
    decisions table is first counted by TRAC's published rules into a table in TRAC's layout.

    Example: fairness-audit judges examples/data/trac_judge_asylum_fy2012_2017.csv --out out/judges

    Example: fairness-audit judges out/data/court.parquet --out out/judges_trac --from-fy 2019
    """
    from fairness_audit.judge_tables import run_judges
    from fairness_audit.progress import terminal_progress

    with terminal_progress(quiet=quiet) as progress:
        result = run_judges(table, out, layout=layout, min_decisions=min_decisions, rules=rules,
                            from_fy=from_fy, to_fy=to_fy, min_yearly=min_yearly,
                            progress=progress)
    s = result.summary
    extra = ", trac_table.csv, judges_by_year.csv" if "ledger" in s else ""
    typer.echo(f"wrote {out}/summary.md, summary.json, judges.csv, courts.csv, funnel.png{extra}")
    if "ledger" in s:
        led = s["ledger"]
        left = ", ".join(f"{n:,} {reason}" for reason, n in led["left_out"].items() if n)
        typer.echo(f"  {s['rules']['period']}: {led['rows_read']:,} rows read, {led['kept']:,} "
                   f"asylum grants and denials counted; left out: {left or 'none'}")
    sd = "not estimable" if s["within_court_sd_pp"] is None else f"{s['within_court_sd_pp']:.1f} points"
    typer.echo(f"  {s['rows']} judge x court rows in {s['courts']} courts; pooled grant rate "
               f"{100 * s['pooled_grant_rate']:.1f}%; within-court SD of judges' grant rates {sd}; "
               f"{s['courts_rejecting_homogeneity']} of {s['courts_with_two_or_more_judges']} courts "
               f"with judges differing beyond chance")


@app.command("diff-releases")
@user_errors
def diff_releases(
    old: Annotated[Path, typer.Argument(
        metavar="OLD", help="The earlier release: a folder or .zip, or a decisions table "
                            "(.parquet) ingested from it.", show_default=False)],
    new: Annotated[Path, typer.Argument(
        metavar="NEW", help="The later release, of the same kind as OLD.",
        show_default=False)],
    out: Annotated[Path, typer.Option(
        "--out", help="Folder for summary.md, summary.json, counts.csv, transitions.csv and "
                      "changed_keys.parquet; replaced as a whole.", show_default=False)],
    threshold: Annotated[float, typer.Option(
        help="Flag a table whose vanished or changed rows exceed this share of OLD's rows "
             "(0.001 = 0.1%).")] = 0.001,
    audit: Annotated[Path | None, typer.Option(
        "--audit", help="An audit's output folder: list its decisions whose proceeding, case "
                        "or applications changed (audit_decisions_changed.csv).")] = None,
    work_dir: Annotated[Path | None, typer.Option(
        "--work-dir", help="Folder for temporary files (extracted zip members, DuckDB's spill "
                           "files).")] = None,
    quiet: Quiet = False,
) -> None:
    """What changed between two releases: rows that vanished, appeared, or changed a field
    the audit uses, by table, court and fiscal year, and each code's old -> new values.

    Example: fairness-audit diff-releases ~/eoir/2024-01.zip ~/eoir/2024-02.zip --out out/diff
    """
    from fairness_audit.ingest.diff import diff_releases as run_diff
    from fairness_audit.progress import terminal_progress

    with terminal_progress(quiet=quiet) as progress:
        result = run_diff(old, new, out, threshold=threshold, audit=audit, work_dir=work_dir,
                          progress=progress)
    for line in result.verdicts:
        typer.echo(line)
    if result.note:
        typer.echo(f"note: {result.note}")
    written = ["summary.md", "summary.json", "counts.csv", "transitions.csv",
               "changed_keys.parquet"] + (["audit_decisions_changed.csv"] if audit else [])
    typer.echo(f"wrote {', '.join(f'{out}/{name}' for name in written)}")


@app.command()
@user_errors
def export(
    table: Annotated[Path, typer.Argument(help="A decisions table (.parquet) from ingest or "
                                                "simulate.", show_default=False)],
    fmt: Annotated[str, typer.Option(
        "--format", help="csv (UTF-8, for R and spreadsheets) or dta (Stata 14+, value labels).",
        show_default=False)],
    out: Annotated[Path, typer.Option(
        "--out", help="Folder for STEM.csv or STEM.dta, the same for the workload file "
                      "(STEM.judge_completions.*), STEM.codebook.md and STEM.codebook.csv.",
        show_default=False)],
    quiet: Quiet = False,
) -> None:
    """Export a decisions table and its workload file for R or Stata, with a codebook.

    Coded columns become Stata codes with value labels; the codebook (from the schema) gives
    every column's type in the file, its meaning and its codes (docs/export.md).

    Example: fairness-audit export out/data/court.parquet --format dta --out out/stata
    """
    from fairness_audit.export import export_table
    from fairness_audit.progress import terminal_progress

    with terminal_progress(quiet=quiet) as progress:
        result = export_table(table, out, format=fmt, progress=progress)
    for path in result.files:
        typer.echo(f"wrote {path}")


app.add_typer(ingest_app, name="ingest")


def main() -> None:
    from fairness_audit.outputs import exit_on_interrupt

    with exit_on_interrupt():  # Ctrl-C or kill: one line, exit code 130 or 143
        app(prog_name="fairness-audit")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
