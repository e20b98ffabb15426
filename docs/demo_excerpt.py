"""Write the numbers the documentation quotes from the demo into README.md and docs/*.md.

Every figure of a run of the demo (``make demo``: ``fairness-audit run configs/demo.yaml``) that
the documentation quotes sits between two markers, ``<!-- demo:NAME:begin -->`` and
``<!-- demo:NAME:end -->``, and is written there by this script, never by hand::

    make demo
    python docs/demo_excerpt.py out/demo          # extract, write docs/demo_results.json and the blocks
    python docs/demo_excerpt.py --render          # rewrite the blocks from docs/demo_results.json
    python docs/demo_excerpt.py out/demo --check  # compare only; exit 1 on any difference

The extract (docs/demo_results.json) holds the quoted figures as they are printed: the lines
``make demo`` prints, H5's and H6's tests with their truth.json targets, the representation gap
and its decomposition, the coverage of the group rates, and what ``fairness-audit judges``
prints on the demo's table (the script runs it). tests/test_docs_numbers.py checks that the
blocks are what the extract renders, and that a fresh run of the demo gives the same extract.

Example
-------
>>> quoted = extract(Path("out/demo"))  # doctest: +SKIP
>>> blocks(quoted)["demo:run"].splitlines()[1]  # doctest: +SKIP
'$ fairness-audit run configs/demo.yaml'
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from fairness_audit.report.numbers import fmt
from fairness_audit.report.render import REPORT_FILES, findings_lines

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs"))
import marked_block  # noqa: E402

EXTRACT = ROOT / "docs" / "demo_results.json"
DEMO_CONFIG = ROOT / "configs" / "demo.yaml"
# the files whose blocks this script writes; a block name may appear in several of them
DOCUMENTS = ("README.md", "docs/disparities.md", "docs/judges.md")
# the folder the judges example writes to, as the docs show it
JUDGES_OUT = "out/judges_trac"
MIN_JUDGES = 20  # group rates are checked against the truth for groups decided by this many judges


# ------------------------------------------------------------------------------ extract
def _test(results: dict, test_id: str) -> dict:
    for h in results["hypotheses"]:
        for t in h["tests"]:
            if t["id"] == test_id:
                return t
    raise SystemExit(f"results.json: no test {test_id!r}; the demo's plan should have it")


def _quoted_test(results: dict, truth: dict, hypothesis: str, test_id: str) -> dict[str, str]:
    t = _test(results, test_id)
    return {"hypothesis": hypothesis, "term": t["term"], "estimate": fmt(t["estimate"]),
            "ci_low": fmt(t["ci_low"]), "ci_high": fmt(t["ci_high"]), "std_error": fmt(t["std_error"]),
            "target": fmt(truth["targets"][hypothesis][t["term"]]), "verdict": t["verdict"],
            "role": t["role"]}


def _points(value: float) -> str:
    return f"{100 * value:.1f}"


def _representation_gap(results: dict) -> dict[str, str]:
    """The grant gap of respondents without a lawyer after the policy, in points."""
    row = next(d for d in results["disparities"]
               if (d["dimension"], d["group"], d["outcome"], d["period"])
               == ("represented", "no", "granted", "post_policy"))
    return {"raw": _points(row["difference"]), "adjusted": _points(row["adjusted_difference"]),
            "explained": _points(row["explained"]), "controls": _points(row["explained_controls"]),
            "fixed_effects": _points(row["explained_fixed_effects"])}


def _coverage(results: dict, truth: dict) -> dict[str, int]:
    """How many group-rate intervals cover the rate conditional on the simulated judges
    (truth.json ``group_rates``), over cells shown of groups decided by >= MIN_JUDGES judges
    (the rule of tests/test_disparities.py)."""
    target = {(t["outcome"], t["dimension"], t["group"], t["period"]): t for t in truth["group_rates"]}
    covered = checked = 0
    for r in results["disparities"]:
        t = target.get((r["outcome"], r["dimension"], r["group"], r["period"]))
        if t is None or r["suppressed"] or t["n_judges"] < MIN_JUDGES:
            continue
        checked += 1
        covered += r["ci_low"] <= t["value"] <= r["ci_high"]
    return {"covered": covered, "checked": checked}


def _judges(table: Path) -> dict[str, Any]:
    """What ``fairness-audit judges TABLE --out out/judges_trac`` prints, and its summary's
    counts of rows and judge-years shown."""
    with tempfile.TemporaryDirectory(prefix="demo-judges-") as tmp:
        out = Path(tmp) / "judges_trac"
        done = subprocess.run([sys.executable, "-m", "fairness_audit", "judges", str(table),
                               "--out", str(out), "--quiet"],
                              capture_output=True, text=True, env={**os.environ, "CI": "1"})
        if done.returncode != 0:
            raise SystemExit(f"fairness-audit judges {table} failed: {done.stdout}{done.stderr}")
        summary = json.loads((out / "summary.json").read_text())
        lines = done.stdout.replace(str(out), JUDGES_OUT).splitlines()
    ledger = summary["ledger"]
    return {"lines": lines,
            "rows_shown": ledger["judge_courts"]["shown"],
            "rows_hidden": ledger["judge_courts"]["with_a_decision"] - ledger["judge_courts"]["shown"],
            "judge_years": ledger["judge_years_of_shown_rows"]["with_a_decision"],
            "judge_year_rates_shown": ledger["judge_years_of_shown_rows"]["rate_shown"]}


def extract(demo: Path) -> dict[str, Any]:
    """The figures the docs quote, from the demo's folder (``OUT`` of configs/demo.yaml).

    Parameters
    ----------
    demo
        The folder ``make demo`` writes: ``data/court.parquet`` (with its truth.json) and
        ``report/results.json``.

    Returns
    -------
    dict
        JSON-safe; every number already formatted as the docs print it.

    Raises
    ------
    SystemExit
        A file is missing, or results.json is not a run of configs/demo.yaml's simulation.
    """
    demo = Path(demo)
    paths = {"results": demo / "report" / "results.json", "truth": demo / "data" / "court.truth.json",
             "table": demo / "data" / "court.parquet"}
    for what, path in paths.items():
        if not path.exists():
            raise SystemExit(f"{path}: not found (the demo's {what}); run `make demo` first")
    results = json.loads(paths["results"].read_text())
    truth = json.loads(paths["truth"].read_text())
    expected = yaml.safe_load(DEMO_CONFIG.read_text())["source"]["simulate"]
    source = results["provenance"].get("source") or {}
    if source.get("kind") != "simulate" or source.get("seed") != expected["seed"]:
        raise SystemExit(f"{paths['results']}: expected a run of {DEMO_CONFIG.name} (a simulation, "
                         f"seed {expected['seed']}), found source {source}")
    h6 = next(m for m in results["models"] if m["name"] == "H6")["periods"]["post_policy"]
    return {
        "command": "fairness-audit run configs/demo.yaml",
        "decisions": results["data"]["rows_in"],
        "summary": results["data"]["summary"],
        "findings": findings_lines(results),
        "h5": [_quoted_test(results, truth, "H5", "H5.primary"),
               _quoted_test(results, truth, "H5", "H5.supporting.gap")],
        "h6": [_quoted_test(results, truth, "H6", "H6.primary"),
               _quoted_test(results, truth, "H6", "H6.supporting.change")],
        # the bootstrap's standard error against the asymptotic tau / sqrt(2 df) of the method
        # of moments (docs/disparities.md, H6)
        "h6_asymptotic_se": fmt(h6["tau"] / (2 * h6["df"]) ** 0.5),
        "representation_gap": _representation_gap(results),
        "group_rate_coverage": _coverage(results, truth),
        "disparity_rows": len(results["disparities"]),
        "judges": _judges(paths["table"]),
    }


# ------------------------------------------------------------------------------ render
def _run_block(q: dict) -> str:
    wrote = ["out/demo/data/court.parquet"] + [f"out/demo/report/{name}" for name in REPORT_FILES]
    # the command itself: `make demo` also echoes the recipe's line first
    lines = ["```", f"$ {q['command']}", *(f"wrote {path}" for path in wrote),
             *(f"  {line}" for line in q["findings"]), "```"]
    return "\n".join(lines) + "\n"


def _h5_block(q: dict) -> str:
    t = q["h5"][0]
    return (f"On the demo (`{q['command']}`) the target of `{t['term']}` (truth.json) is "
            f"{t['target']} points; the audit finds {t['estimate']} [{t['ci_low']}, {t['ci_high']}], "
            f"\"{t['verdict']}\".\n")


def _measured_block(q: dict) -> str:
    s = q["summary"]
    lines = [f"The demo (`make demo`, that is `{q['command']}`: {q['decisions']:,} simulated "
             f"decisions, {s['decisions']:,} of them in the analysis window, "
             f"{s['courts']} courts, {s['judges']} judges):", "",
             "| test | estimate | 95% interval | truth.json target | verdict |",
             "|---|---|---|---|---|"]
    for t in q["h5"] + q["h6"]:
        role = "" if t["role"] == "primary" else f" ({t['role']})"
        lines.append(f"| {t['hypothesis']} `{t['term']}` (points) | {t['estimate']} | {t['ci_low']} to "
                     f"{t['ci_high']} | {t['target']} | {t['verdict']}{role} |")
    g, c, h6 = q["representation_gap"], q["group_rate_coverage"], q["h6"][0]
    lines += ["", f"Representation gap in grants after the policy: raw {g['raw']} points, adjusted "
              f"{g['adjusted']}, explained {g['explained']} (controls {g['controls']}, "
              f"judges/nationality/timing {g['fixed_effects']}). H6's bootstrap standard error "
              f"{h6['std_error']} against the asymptotic tau / sqrt(2 df) = {q['h6_asymptotic_se']}. "
              f"Group-rate intervals covered the rates conditional on the simulated judges "
              f"(truth.json `group_rates`) in {c['covered']} of {c['checked']} cells shown of groups "
              f"decided by at least {MIN_JUDGES} judges; results.json holds {q['disparity_rows']:,} "
              f"group rows."]
    return "\n".join(lines) + "\n"


def _judges_block(q: dict) -> str:
    j = q["judges"]
    every = ("every rate shown" if j["judge_year_rates_shown"] == j["judge_years"]
             else f"{j['judge_year_rates_shown']:,} rates shown")
    lines = ["```", f"$ fairness-audit judges out/demo/data/court.parquet --out {JUDGES_OUT}",
             *j["lines"], "```", "",
             f"(`summary.json`: {j['rows_shown']} judge x court rows shown, {j['rows_hidden']} hidden; "
             f"{j['judge_years']:,} judge-years, {every}.)"]
    return "\n".join(lines) + "\n"


def blocks(quoted: dict[str, Any]) -> dict[str, str]:
    """Each block's text (Markdown, ending in a newline), by name."""
    return {"demo:run": _run_block(quoted), "demo:h5": _h5_block(quoted),
            "demo:measured": _measured_block(quoted), "demo:judges": _judges_block(quoted)}


# ------------------------------------------------------------------------------ documents
def replace_blocks(text: str, rendered: dict[str, str]) -> str:
    """``text`` with every block's content replaced by its rendering."""
    for name, body in rendered.items():
        text = marked_block.replace(text, name, body)
    return text


def stale(root: Path, rendered: dict[str, str]) -> list[str]:
    """Every block of DOCUMENTS whose text is not its rendering, and every block rendered
    that no document holds (as lines naming the file and the block)."""
    problems, seen = [], set()
    for doc in DOCUMENTS:
        text = (root / doc).read_text(encoding="utf-8")
        for name, body in rendered.items():
            for found in marked_block.contents(text, name):
                seen.add(name)
                if found != body:
                    problems.append(f"{doc}: block {name} is not what {EXTRACT.name} renders")
    problems += [f"block {name}: in none of {', '.join(DOCUMENTS)}" for name in rendered if name not in seen]
    return problems


def write_documents(root: Path, rendered: dict[str, str]) -> list[Path]:
    """Rewrite the blocks of DOCUMENTS in place; return the files changed."""
    changed = []
    for doc in DOCUMENTS:
        path = root / doc
        text = path.read_text(encoding="utf-8")
        new = replace_blocks(text, rendered)
        if new != text:
            marked_block.write_page(path, new)
            changed.append(path)
    return changed


def dumps(quoted: dict[str, Any]) -> str:
    return json.dumps(quoted, indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("demo", nargs="?", type=Path,
                    help="the demo's folder (out/demo after `make demo`); omit with --render")
    ap.add_argument("--render", action="store_true",
                    help=f"only rewrite the blocks from {EXTRACT.relative_to(ROOT)}")
    ap.add_argument("--check", action="store_true", help="write nothing; exit 1 on any difference")
    args = ap.parse_args(argv)
    if args.demo is None and not args.render:
        ap.error("give the demo's folder (e.g. out/demo), or --render")
    quoted = json.loads(EXTRACT.read_text(encoding="utf-8")) if args.render else extract(args.demo)
    rendered = blocks(quoted)
    if args.check:
        problems = stale(ROOT, rendered)
        if not args.render and EXTRACT.read_text(encoding="utf-8") != dumps(quoted):
            problems.insert(0, f"{EXTRACT.relative_to(ROOT)}: differs from the figures of {args.demo}")
        for line in problems:
            print(line)
        return 1 if problems else 0
    if not args.render:
        EXTRACT.write_text(dumps(quoted), encoding="utf-8")
        print(f"wrote {EXTRACT.relative_to(ROOT)}")
    for path in write_documents(ROOT, rendered):
        print(f"wrote {path.relative_to(ROOT)}")
    missing = [line for line in stale(ROOT, rendered) if "in none of" in line]
    for line in missing:
        print(line)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
