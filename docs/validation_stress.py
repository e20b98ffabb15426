"""Write the stress-scenario validation tables of docs/validation.md from the committed replicates.

The rows of every replicate are committed (``docs/validation_stress.csv.gz``: the plan's rules;
``docs/validation_stress_earlier_rules.csv.gz``: the rules before them), and the tables between
``<!-- validation_stress:begin -->`` and ``<!-- validation_stress:end -->`` are written from them
by this script, never by hand::

    python docs/validation_stress.py            # rewrite the block
    python docs/validation_stress.py --check    # compare only; exit 1 on any difference

tests/test_validation_plans.py checks that the block is what the committed rows give.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fairness_audit.validation import (
    CONCERN,
    FALSE_FLAG_HYPOTHESES,
    guards_at_family_level,
    rate_bound,
    read_rows,
)

HERE = Path(__file__).resolve().parent
PAGE = HERE / "validation.md"
RUNS = {"current": HERE / "validation_stress.csv.gz",
        "earlier": HERE / "validation_stress_earlier_rules.csv.gz"}
RULES = {"current": "court x month effects, guards, checks judged by relevance",
         "family": "as current, guards held at the family's level (`inference.guard_level: "
                   "family`; recomputed from the same replicates)",
         "earlier": "fiscal-year and fiscal-month effects, no guards, checks judged by significance"}
BEGIN, END = "<!-- validation_stress:begin -->", "<!-- validation_stress:end -->"


def _replicates(rows, design):
    """{replicate: [its primary test rows]} of one design."""
    out: dict[str, list] = {}
    for r in rows:
        if r["design"] == design and r["kind"] == "test" and r["role"] == "primary":
            out.setdefault(r["replicate"], []).append(r)
    return out


def _share(reps, test_id=None) -> tuple[int, int]:
    """(audits with a primary test of H1-H5, H7 consistent, audits): any test, or one test."""
    hits = 0
    for tests in reps.values():
        hits += any(t["verdict"] == CONCERN and t["hypothesis"] in FALSE_FLAG_HYPOTHESES
                    and (test_id is None or t["test_id"] == test_id) for t in tests)
    return hits, len(reps)


def _size(reps) -> str:
    """The judges and courts of a design's court systems (a range where they differ)."""
    def span(key):
        values = sorted({int(float(t[key])) for tests in reps.values() for t in tests})
        return f"{values[0]:,}" if len(values) == 1 else f"{values[0]:,}-{values[-1]:,}"
    return f"{span('n_judges')} ({span('n_courts')})"


def render() -> str:
    rows = {rules: read_rows([path]) for rules, path in RUNS.items()}
    # the family-level rule changes only verdicts, from what the current rules' rows hold
    rows = {"current": rows["current"], "family": guards_at_family_level(rows["current"]),
            "earlier": rows["earlier"]}
    designs = sorted({r["design"] for rs in rows.values() for r in rs if r["kind"] == "test"},
                     key=lambda d: (not d.startswith("null"), d))
    lines = ["False flags (designs `null_*`: no effect planted, any primary test of H1-H5 or H7 "
             f"\"{CONCERN}\"; bound alpha + 2.33 sqrt(alpha (1 - alpha) / R)) and power "
             "(designs `planted*`: the share of audits with each primary test consistent), "
             "the verdict-only plans of configs/validation/:", "",
             "| design | rules | judges (courts) | R | any primary test consistent | bound | H1 | H2 | H3 "
             "| H4 (any group) | H5 | H7 |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for design in designs:
        for rules in rows:
            reps = _replicates(rows[rules], design)
            if not reps:
                continue
            hits, n = _share(reps)
            bound = f"{rate_bound(n):.3f}" if design.startswith("null") else "—"
            cells = []
            for prefix in ("H1.primary", "H2.primary", "H3.primary", "H4.primary", "H5.primary",
                           "H7.primary"):
                k = sum(any(t["verdict"] == CONCERN and t["test_id"].startswith(prefix)
                            for t in tests) for tests in reps.values())
                cells.append(f"{k}/{n}")
            lines.append(f"| {design} | {rules}: {RULES[rules]} | {_size(reps)} | {n} "
                         f"| {hits}/{n} = {hits / n:.2f} | {bound} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_block(path: Path, begin: str, end: str, text: str, *, check: bool = False) -> bool:
    """Put ``text`` between the markers ``begin`` and ``end`` of ``path``; with ``check``, only
    say whether it is there already (docs/validation_referee.py writes its block with it)."""
    page = path.read_text()
    start, stop = page.index(begin) + len(begin), page.index(end)
    new = page[:start] + "\n" + text + "\n" + page[stop:]
    if check:
        return new == page
    path.write_text(new)
    return True


def write(check: bool = False) -> bool:
    return write_block(PAGE, BEGIN, END, render(), check=check)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true")
    ok = write(check=parser.parse_args().check)
    sys.exit(0 if ok else 1)
