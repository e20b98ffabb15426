"""One audit, end to end: decisions table -> features -> hypotheses -> results.json -> report.

Outputs are written to a temporary folder beside ``outdir`` and moved into place at the end,
so that an interrupted audit never leaves a half-written folder that looks complete.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fairness_audit.config import AuditConfig
from fairness_audit.disparity import disparities
from fairness_audit.errors import AuditError, ValidationFailed
from fairness_audit.features import build_frame
from fairness_audit.hypotheses import run_hypotheses
from fairness_audit.results import SCHEMA_VERSION, provenance, validate_results
from fairness_audit.schema import coerce_decisions, validate_decisions, validate_workload
from fairness_audit.tables import publish, read_decision_data, write_json


def _noop(message: str) -> None:
    return None


def compute_results(path: str | os.PathLike, config: AuditConfig,
                    progress: Callable[[str], None] = _noop) -> dict[str, Any]:
    """Run every analysis of the plan on a decisions table; return results.json as a dict."""
    data = read_decision_data(path)
    problems = validate_decisions(data.decisions)
    if problems:
        raise ValidationFailed(path, problems)
    if data.workload is not None:
        problems = validate_workload(data.workload)
        if problems:
            raise ValidationFailed(data.paths.workload, problems)
    decisions, _ = coerce_decisions(data.decisions)
    progress(f"read {len(decisions):,} decisions")
    frame = build_frame(decisions, data.workload, config,
                        coverage_start=data.metadata.get("coverage_start"))
    progress("fitting the models of the plan")
    hypotheses, models, family = run_hypotheses(frame, config)
    progress("computing group disparities")
    groups = disparities(frame.data, config)

    window = frame.excluded.get("window", {})
    inputs = [data.paths.decisions] + [p for p in (data.paths.workload, data.paths.ledger)
                                       if p.exists()]
    results = {
        "schema_version": SCHEMA_VERSION,
        "provenance": provenance(inputs, config.to_dict(), config.seed),
        "data": {
            "rows_in": int(len(decisions)),
            "rows_used": int(frame.data["in_window"].sum()),
            "set_aside": dict(Counter(window)),
            "ingest": data.ledger,
            "workload": frame.workload_source,
            "completions": frame.completions,
            "features_excluded": frame.excluded,
            "source": data.metadata.get("source"),
        },
        "family": family,
        "hypotheses": hypotheses,
        "models": models,
        "disparities": groups,
    }
    validate_results(results)
    return results


def run_audit(path: str | os.PathLike, config: AuditConfig, outdir: str | os.PathLike,
              progress: Callable[[str], None] = _noop) -> dict[str, Any]:
    """Compute the results and write results.json, report.md, report.html, figures/, tables/."""
    from fairness_audit.report.render import write_report

    out = Path(outdir)
    if out.resolve() in Path(path).resolve().parents:
        raise AuditError(f"--out {out}: the output folder is replaced by each audit, and it holds "
                         f"the input {path}; choose another folder")
    results = compute_results(path, config, progress)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))
    try:
        write_json(results, staging / "results.json")
        progress("writing the report")
        write_report(results, staging)
        if out.exists():
            shutil.rmtree(out)
        publish(staging, out, directory=True)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return results
