"""One audit, end to end: decisions table -> features -> hypotheses -> results.json -> report.

Outputs are written to a staging folder beside ``outdir`` and moved into place at the end,
so that an interrupted audit never leaves a half-written folder that looks complete.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from fairness_audit.checkpoints import checkpoint
from fairness_audit.config import AuditConfig
from fairness_audit.data_quality import data_quality, release_of
from fairness_audit.disparity import disparities
from fairness_audit.errors import TableError, ValidationFailed
from fairness_audit.features import build_frame
from fairness_audit.hypotheses import run_hypotheses
from fairness_audit.outputs import (
    check_replaceable_folder,
    staged_folder,
    writing,
)
from fairness_audit.results import SCHEMA_VERSION, provenance, validate_results
from fairness_audit.schema import coerce_decisions, validate_decisions, validate_workload
from fairness_audit.stages import stage
from fairness_audit.tables import read_decision_data, write_json


def _noop(message: str) -> None:
    return None


def compute_results(path: str | os.PathLike, config: AuditConfig,
                    progress: Callable[[str], None] = _noop,
                    outdir: str | os.PathLike | None = None, *,
                    source: dict[str, Any] | None = None,
                    config_file: dict[str, str] | None = None) -> dict[str, Any]:
    """Run every analysis of the plan on a decisions table; return results.json as a dict.

    With ``outdir``, the input paths in the provenance are relative to it (so that the same
    audit written from another working folder records the same paths). ``source`` and
    ``config_file`` go to the provenance as they are (:func:`fairness_audit.results.provenance`;
    ``fairness-audit run`` passes them, docs/run.md).
    """
    with stage("read"):
        data = read_decision_data(path)
        problems = validate_decisions(data.decisions)
        if problems:
            raise ValidationFailed(path, problems)
        if data.workload is not None:
            problems = validate_workload(data.workload, data.decisions)
            if problems:
                raise ValidationFailed(data.paths.workload, problems)
        if data.decisions.empty:
            raise TableError(f"{path}: expected at least one decision to audit, found an empty "
                             f"decisions table (its ledger, if any, says what was set aside)")
        decisions, _ = coerce_decisions(data.decisions)
    progress(f"read {len(decisions):,} decisions")
    with stage("features"):
        frame = build_frame(decisions, data.workload, config,
                            coverage_start=data.metadata.get("coverage_start"))
    # cheap, and before the fits: a ledger of the wrong shape stops the audit at once
    with stage("data quality"):
        quality = data_quality(decisions, config, ledger=data.ledger, metadata=data.metadata,
                               excluded=frame.excluded, ledger_path=str(data.paths.ledger))
        release = release_of(data.metadata, str(data.paths.decisions))
    progress("fitting the models of the plan")
    with stage("hypotheses"):
        hypotheses, models, family = run_hypotheses(frame, config, progress=progress)
    progress("computing group disparities")
    with stage("disparities"):
        groups = disparities(frame.data, config, progress=progress)

    window = frame.excluded.get("window", {})
    inputs = [data.paths.decisions] + [p for p in (data.paths.workload, data.paths.ledger)
                                       if p.exists()]
    results = {
        "schema_version": SCHEMA_VERSION,
        "provenance": provenance(inputs, config.to_dict(), config.seed, relative_to=outdir,
                                 source=source, config_file=config_file),
        "data": {
            "rows_in": int(len(decisions)),
            "rows_used": int(frame.data["in_window"].sum()),
            "set_aside": dict(Counter(window)),
            "ingest": data.ledger,
            "workload": frame.workload_source,
            "completions": frame.completions,
            "features_excluded": frame.excluded,
            "source": data.metadata.get("source"),
            "quality": quality.to_dict(),
            "release": release,
            "summary": data_summary(frame.data),
        },
        "family": family,
        "hypotheses": hypotheses,
        "models": models,
        "disparities": groups,
    }
    validate_results(results)
    return results


def data_summary(data: pd.DataFrame) -> dict[str, Any]:
    """The data in one line (results.json ``data.summary``): the decisions in the analysis
    window, the judges and courts that decided them, and their first and last fiscal years.

    Parameters
    ----------
    data
        The analysis frame's rows (``in_window``, ``judge_id``, ``court_id``, ``fiscal_year``).

    Returns
    -------
    dict
        ``{decisions, judges, courts, first_fiscal_year, last_fiscal_year}``; ``decisions``
        equals ``data.rows_used``; the years are null when no decision is in the window.

    Example
    -------
    >>> data_summary(frame.data)  # doctest: +SKIP
    {'decisions': 114316, 'judges': 40, 'courts': 8, 'first_fiscal_year': 2017, 'last_fiscal_year': 2021}
    """
    used = data.loc[data["in_window"]]
    years = used["fiscal_year"].dropna()
    return {"decisions": int(len(used)), "judges": int(used["judge_id"].nunique()),
            "courts": int(used["court_id"].nunique()),
            "first_fiscal_year": int(years.min()) if len(years) else None,
            "last_fiscal_year": int(years.max()) if len(years) else None}


def check_out(out: Path, path: str | os.PathLike) -> None:
    """Before any work: ``out`` can be created, written and replaced without losing anything.

    The audit replaces its output folder as a whole, so the folder may not hold the input, nor
    be a folder of other files (only an earlier audit's output or an empty folder). Staging
    folders left by killed audits of the same output are removed.

    Raises
    ------
    OutputError
        One line naming ``--out`` and what is wrong.
    """
    def foreign(folder: Path) -> str | None:
        if (folder / "results.json").exists() or not any(folder.iterdir()):
            return None
        return ("the folder holds other files and no results.json, so it is not an earlier "
                "audit's output; each audit replaces its output folder as a whole: choose a new "
                "or empty folder")

    check_replaceable_folder(out, [path], kind="audit", foreign=foreign)


def run_audit(path: str | os.PathLike, config: AuditConfig, outdir: str | os.PathLike,
              progress: Callable[[str], None] = _noop, *,
              source: dict[str, Any] | None = None,
              config_file: dict[str, str] | None = None,
              started: float | None = None) -> dict[str, Any]:
    """Compute the results and write results.json, report.md, report.html, figures/, tables/.

    ``started`` is the ``time.perf_counter()`` reading at the start of the command (default:
    this call's start); REPLICATION.md states the runtime from it (never results.json, which
    two runs must reproduce exactly).

    The output folder is checked before the work starts (:func:`check_out`); the outputs are
    written into a staging folder beside it and replace it only when all are written
    (:func:`fairness_audit.outputs.staged_folder`).
    """
    from fairness_audit.report.render import write_report

    started = time.perf_counter() if started is None else started
    out = Path(outdir)
    check_out(out, path)
    results = compute_results(path, config, progress, outdir=out, source=source,
                              config_file=config_file)
    checkpoint("audit:computed")
    with staged_folder(out) as staging:
        with writing(staging / "results.json", shown=out / "results.json"):
            write_json(results, staging / "results.json")
        checkpoint("audit:results-staged")
        progress("writing the report")
        with stage("report"), writing(staging, shown=out, what="the report"):
            write_report(results, staging, progress=progress, started=started)
        checkpoint("audit:report-staged")
    return results
