"""``fairness-audit verify OUTDIR``: is this audit what its inputs produce?

An audit's results.json records what produced it: the input files with their sha256, the
plan, the seed, the package versions and, since ``fairness-audit run``, where the decisions
table came from (``provenance.source``; docs/run.md). Verification reads that record back:

1. the package versions of this installation against the recorded ones (stated first:
   a difference does not stop verification, but it can explain a mismatch);
2. every recorded input must exist (relative to OUTDIR) with its recorded sha256. A table
   built by a simulation is rebuilt from the recorded seed and options into a temporary folder
   when an input is missing or changed (``rebuild=True``: any source, and always), and the
   rebuilt files must have the recorded sha256; a changed input stays a failure even when the
   rebuilt one matches, since the folder then holds a file the audit did not read;
3. every file the source spec names (an extract, a column mapping, a release, ingest options,
   a judge map, a simulation parameter file) must exist with its recorded sha256 (a release
   folder: each file its ``data.release`` entry lists; a zip: the zip);
4. the audit is recomputed from those inputs with the recorded plan and seed, and every value
   of results.json is compared exactly with the recomputed one, key by key, except
   ``provenance.created`` (the time of the run) and ``provenance.versions`` (step 1);
5. the report is rendered again from results.json and every file compared byte for byte
   (but for those whose bytes record when or where they were made: ``NOT_RENDERED_ALIKE``).

Exact means exact: no tolerance anywhere. The same inputs give byte-identical results for the
same BLAS thread settings (tests/test_determinism.py); another number of BLAS threads changes
last digits (docs/models.md), and verification says so when every difference is of that size.
"""

from __future__ import annotations

import contextlib
import json
import math
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from fairness_audit.errors import AuditError, ResultsError
from fairness_audit.results import SCHEMA_VERSION, input_path, sha256_of, versions
from fairness_audit.run_config import (
    EoirSource,
    SimulateSource,
    TableSource,
    build_table,
    resolve_against,
)

#: results.json values that are not compared, and why: the time of the run; the versions,
#: compared on their own first
EXCLUDED = ("provenance.created", "provenance.versions")
MAX_LINES = 20  # differences listed before a count of the rest
# relative size below which every difference is taken for a change in summation order
LAST_DIGITS = 1e-8
# report files whose bytes differ between two renderings of the same results.json, and why
NOT_RENDERED_ALIKE = {
    "REPLICATION.md": "it states the wall time and machine of the run that wrote it",
    ".pdf": "a PDF records when it was printed; it is printed from a page that is compared",
}


def _noop(message: str) -> None:
    return None


class _Absent:
    def __repr__(self) -> str:
        return "absent"


ABSENT = _Absent()


def _shown(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass(frozen=True)
class Difference:
    """One value of results.json that the recomputation does not reproduce."""

    path: str  # e.g. hypotheses[2].tests[0].estimate
    recorded: Any
    recomputed: Any

    def line(self) -> str:
        if self.recomputed is ABSENT:
            return f"{self.path}: {_shown(self.recorded)} recorded, not recomputed"
        if self.recorded is ABSENT:
            return f"{self.path}: not recorded, {_shown(self.recomputed)} recomputed"
        return f"{self.path}: {_shown(self.recorded)} recorded, {_shown(self.recomputed)} recomputed"

    @property
    def last_digits(self) -> bool:
        """Both numbers, differing only in their last digits."""
        a, b = self.recorded, self.recomputed
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (a, b)):
            return False
        return math.isfinite(a) and math.isfinite(b) and abs(a - b) <= LAST_DIGITS * max(abs(a), abs(b))


@dataclass(frozen=True)
class Verification:
    """What ``verify`` found. ``passed`` when nothing failed and every value was compared."""

    outdir: Path
    version_differences: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()  # inputs, source files and report files that fail
    compared: int | None = None  # values compared; None when the audit was not recomputed
    differences: tuple[Difference, ...] = ()
    lines: tuple[str, ...] = field(default=(), repr=False)  # everything said, in order

    @property
    def passed(self) -> bool:
        return not self.problems and not self.differences and self.compared is not None


# --------------------------------------------------------------------------------------------
# Comparing two results
# --------------------------------------------------------------------------------------------
def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):  # True == 1 in Python, not in results.json
        return type(a) is type(b) and a == b
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def _leaves(value: Any) -> int:
    if isinstance(value, dict):
        return sum(_leaves(v) for v in value.values())
    if isinstance(value, list):
        return sum(_leaves(v) for v in value)
    return 1


def compare(recorded: Any, recomputed: Any, *,
            exclude: tuple[str, ...] = EXCLUDED) -> tuple[int, list[Difference]]:
    """Compare two results.json trees exactly, key by key.

    Parameters
    ----------
    recorded, recomputed
        Parsed JSON (dicts, lists, numbers, strings, booleans, None).
    exclude
        Paths not compared (dotted keys, ``[i]`` for list items).

    Returns
    -------
    (int, list of Difference)
        The number of recorded values compared (leaves of the recorded tree; a subtree missing
        on one side counts its leaves) and each value that differs, in document order. NaN
        equals NaN; a boolean equals only a boolean.

    Example
    -------
    >>> compare({"a": [1, 2.5]}, {"a": [1, 2.25]})
    (2, [Difference(path='a[1]', recorded=2.5, recomputed=2.25)])
    """
    diffs: list[Difference] = []
    count = 0

    def walk(a: Any, b: Any, path: str) -> None:
        nonlocal count
        if path in exclude:
            return
        if isinstance(a, dict) and isinstance(b, dict):
            for key in dict.fromkeys([*a, *b]):
                walk(a.get(key, ABSENT), b.get(key, ABSENT), f"{path}.{key}" if path else str(key))
        elif isinstance(a, list) and isinstance(b, list):
            for i in range(max(len(a), len(b))):
                walk(a[i] if i < len(a) else ABSENT, b[i] if i < len(b) else ABSENT, f"{path}[{i}]")
        else:
            count += 0 if a is ABSENT else _leaves(a)
            if not _same(a, b):
                diffs.append(Difference(path, a, b))

    walk(recorded, recomputed, "")
    return count, diffs


# --------------------------------------------------------------------------------------------
# Reading results.json
# --------------------------------------------------------------------------------------------
def read_results(outdir: Path) -> dict[str, Any]:
    """results.json of an audit's output folder, with the provenance verification needs.

    Raises
    ------
    ResultsError
        No such folder or file, not JSON, or no usable provenance (the message names the key).
    """
    path = outdir / "results.json"
    if not outdir.is_dir():
        found = "a file" if outdir.exists() else "nothing"
        raise ResultsError(f"{outdir}: expected an audit's output folder (the folder that holds "
                           f"results.json; for fairness-audit run, OUT/report), found {found}")
    if not path.is_file():
        raise ResultsError(f"{path}: not found; expected the output folder of an audit (for "
                           "fairness-audit run, OUT/report)")
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ResultsError(f"{path}: expected JSON, could not parse it ({exc})") from None
    prov = results.get("provenance") if isinstance(results, dict) else None
    if not isinstance(prov, dict):
        raise ResultsError(f"{path}: expected a provenance mapping, found {type(prov).__name__}")
    inputs = prov.get("inputs")
    if not (isinstance(inputs, list) and inputs and all(
            isinstance(i, dict) and isinstance(i.get("path"), str)
            and isinstance(i.get("sha256"), str) for i in inputs)):
        raise ResultsError(f"{path}: expected provenance.inputs to list the files read, each "
                           f"with path and sha256, found {_shown(inputs)}")
    if not isinstance(prov.get("config"), dict):
        raise ResultsError(f"{path}: expected the plan in provenance.config, found "
                           f"{_shown(prov.get('config'))}")
    return results


def version_differences(results: dict[str, Any]) -> list[str]:
    """Each package whose recorded version differs from this installation's, and the schema
    version if it differs."""
    lines = []
    recorded_schema = results.get("schema_version")
    if recorded_schema != SCHEMA_VERSION:
        lines.append(f"results.json schema: {recorded_schema} recorded, {SCHEMA_VERSION} written "
                     "by this installation (keys added since are differences)")
    recorded = results["provenance"].get("versions") or {}
    current = versions()
    for name in dict.fromkeys([*recorded, *current]):
        r, c = recorded.get(name), current.get(name)
        if r != c:
            lines.append(f"{name}: {f'{r} recorded' if r else 'not recorded'}, "
                         f"{f'{c} installed' if c else 'not installed'}")
    return lines


# --------------------------------------------------------------------------------------------
# The source spec
# --------------------------------------------------------------------------------------------
def _file(entry: Any) -> str | None:
    return entry.get("path") if isinstance(entry, dict) else None


def source_options(source: dict[str, Any]) -> SimulateSource | EoirSource | TableSource | None:
    """The options that rebuild the decisions table, from ``provenance.source`` (paths
    relative to the audit's output folder); None for a plain audit (the table is the source).

    Raises
    ------
    ResultsError
        The source spec lacks a key or holds a value of the wrong type.
    """
    try:
        return _source_options(source)
    except ValidationError as exc:
        detail = "; ".join(f"key '{'.'.join(map(str, e['loc']))}': {e['msg'].lower()}, found "
                           f"{e.get('input')!r}" for e in exc.errors())
    except (KeyError, TypeError) as exc:
        detail = f"no {exc}"
    raise ResultsError(f"provenance.source: expected the spec of the {source.get('kind')} source "
                       f"(docs/run.md), could not read it ({detail})")


def _source_options(source: dict[str, Any]) -> SimulateSource | EoirSource | TableSource | None:
    kind = source.get("kind")
    if kind == "simulate":
        return SimulateSource(seed=source["seed"], decisions=source.get("decisions"),
                              null=source.get("null", False),
                              no_judge_spread=source.get("no_judge_spread", False),
                              anticipation=source.get("anticipation"),
                              config=_file(source.get("config")))
    if kind == "eoir":
        return EoirSource(release=source["release"]["path"],
                          options=source.get("options") or _file(source.get("options_file")),
                          judge_map=_file(source.get("judge_map")),
                          case_types=source.get("case_types"))
    if kind == "table" and "file" in source:
        return TableSource(file=source["file"]["path"], mapping=source["mapping"]["path"],
                           keep_names=source.get("keep_names", False))
    return None


def source_files(results: dict[str, Any], outdir: Path) -> list[tuple[str, Path, str | None]]:
    """Every file the source spec names, as (name shown, path, recorded sha256)."""
    source = results["provenance"].get("source") or {}
    files = []
    for key in ("config", "options_file", "judge_map", "file", "mapping"):
        entry = source.get(key)
        if isinstance(entry, dict) and "sha256" in entry:
            files.append((entry["path"], resolve_against(outdir, entry["path"]), entry["sha256"]))
    if source.get("kind") == "eoir":
        where = source["release"]["path"]
        release = (results.get("data") or {}).get("release") or {}
        if release.get("zip"):
            files.append((where, resolve_against(outdir, where), release["zip"]["sha256"]))
        else:
            files += [(f"{where}/{f['name']}", resolve_against(outdir, where) / f["name"],
                       f["sha256"]) for f in release.get("files", []) if f.get("sha256")]
    return files


def _check_file(path: Path, sha256: str | None) -> str | None:
    """None if ``path`` is a file with ``sha256``, else what is wrong."""
    if not path.is_file():
        return "not found"
    found = sha256_of(path)
    if found != sha256:
        return f"sha256 differs from the recorded one ({sha256} recorded, {found} found)"
    return None


# --------------------------------------------------------------------------------------------
# Verifying
# --------------------------------------------------------------------------------------------
class _Report:
    """Collects the lines and problems of a verification."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.problems: list[str] = []

    def say(self, line: str) -> None:
        self.lines.append(line)

    def ok(self, line: str) -> None:
        self.say(f"  ok    {line}")

    def fail(self, line: str) -> None:
        self.problems.append(line)
        self.say(f"  FAIL  {line}")


@contextlib.contextmanager
def _temporary() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="fairness-audit-verify-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _rebuild(results: dict[str, Any], outdir: Path, folder: Path,
             progress: Callable[[str], None]) -> tuple[dict[str, Path], list[tuple[bool, str]]]:
    """Rebuild the decisions table from ``provenance.source`` into ``folder``.

    Returns each recorded input that the rebuild reproduced (recorded path -> rebuilt file),
    and what to say: (passed, line) pairs.
    """
    prov = results["provenance"]
    source = prov.get("source") or {}
    try:
        options = source_options(source)
        if options is None:
            return {}, [(True, "the decisions table is the source (a plain audit): nothing to "
                               "rebuild it from")]
        table = folder / Path(str(source.get("table"))).name
        progress(f"rebuilding the decisions table from provenance.source in {folder}")
        build_table(options, outdir, table, where=f"{outdir / 'results.json'}: provenance.source",
                    progress=progress)
    except AuditError as exc:
        return {}, [(False, f"rebuilding the decisions table from provenance.source failed: "
                            f"{exc}")]
    rebuilt, said = {}, []
    for entry in prov["inputs"]:
        file = folder / Path(entry["path"]).name
        problem = _check_file(file, entry["sha256"])
        if problem is None:
            rebuilt[entry["path"]] = file
        said.append((problem is None, f"{entry['path']}: rebuilt, "
                                      f"{problem or 'sha256 as recorded'}"))
    return rebuilt, said


def _inputs(results: dict[str, Any], outdir: Path, folder: Path, rebuild: bool, out: _Report,
            progress: Callable[[str], None]) -> Path | None:
    """Check the recorded inputs (rebuilding them if asked, or if a simulation's are missing
    or changed); return the decisions table to recompute from, or None if no complete set of
    inputs is as recorded."""
    prov = results["provenance"]
    inputs = prov["inputs"]
    problems = {e["path"]: _check_file(resolve_against(outdir, e["path"]), e["sha256"])
                for e in inputs}
    present = not any(problems.values())
    kind = (prov.get("source") or {}).get("kind")
    rebuilt: dict[str, Path] = {}
    said: list[tuple[bool, str]] = []
    if rebuild or (not present and kind == "simulate"):
        rebuilt, said = _rebuild(results, outdir, folder, progress)
    out.say("inputs (paths relative to the output folder):")
    for name, problem in problems.items():
        if problem is None:
            out.ok(f"{name}: sha256 as recorded")
        elif problem == "not found" and name in rebuilt:
            # the record says how to make it again, and the remake is the file recorded
            out.ok(f"{name}: not found; rebuilt from provenance.source with the recorded sha256")
        else:
            out.fail(f"{name}: {problem}")
    if said:
        out.say(f"  rebuilt from provenance.source ({kind}) in a temporary folder:")
        for passed, line in said:
            (out.ok if passed else out.fail)(line)
    first = inputs[0]["path"]
    if present:
        return resolve_against(outdir, first)
    if len(rebuilt) == len(inputs):
        out.say("  the audit is recomputed from the rebuilt table")
        return rebuilt[first]
    return None


def _source(results: dict[str, Any], outdir: Path, out: _Report,
            progress: Callable[[str], None]) -> None:
    prov = results["provenance"]
    source = prov.get("source")
    if not isinstance(source, dict):
        out.say("source: not recorded (results.json from before provenance.source)")
        return
    try:
        files = source_files(results, outdir)
    except (KeyError, TypeError, AttributeError) as exc:
        out.say("source: not readable:")
        out.fail(f"provenance.source: expected the spec of the {source.get('kind')} source "
                 f"(docs/run.md), could not read it (no {exc})")
        return
    kind = source.get("kind")
    described = {"simulate": f"a simulation, seed {source.get('seed')} and the recorded options",
                 "eoir": "an EOIR release read with the recorded options",
                 "table": ("an extract read through a column mapping" if "file" in source
                           else "the decisions table itself (a plain audit)")}
    out.say(f"source: {kind}: {described.get(kind, 'unknown')}")
    for name, path, sha256 in files:
        if path.is_file() and path.stat().st_size > 1 << 26:
            progress(f"hashing {path}")
        problem = _check_file(path, sha256)
        if problem is None:
            out.ok(f"{name}: sha256 as recorded")
        else:
            out.fail(f"{name}: {problem}" + ("; the decisions table cannot be traced to it"
                                             if problem == "not found" else ""))
    config_file = prov.get("config_file")
    if isinstance(config_file, dict):
        problem = _check_file(resolve_against(outdir, config_file["path"]), config_file["sha256"])
        state = "sha256 as recorded" if problem is None else problem
        # not a failure: results.json records everything the run config said
        out.say(f"  run config {config_file['path']}: {state} (not needed: results.json records "
                "its source and plan)")


def _recompute(results: dict[str, Any], outdir: Path, table: Path,
               progress: Callable[[str], None]) -> tuple[int, list[Difference]]:
    from fairness_audit.audit import compute_results
    from fairness_audit.config import parse_config

    prov = results["provenance"]
    plan = parse_config(prov["config"], f"{outdir / 'results.json'}: provenance.config")
    progress("recomputing the audit with the recorded plan and seed")
    fresh = compute_results(table, plan, progress, outdir=outdir, source=prov.get("source"),
                            config_file=prov.get("config_file"))
    # a rebuilt table lies in a temporary folder: name it as the record does
    recorded = {input_path(table.parent / Path(i["path"]).name, outdir): i["path"]
                for i in prov["inputs"]}
    for entry in fresh["provenance"]["inputs"]:
        entry["path"] = recorded.get(entry["path"], entry["path"])
    # the values as results.json holds them (tuples as lists, NaN as NaN, other objects as text)
    fresh = json.loads(json.dumps(fresh, default=str))
    return compare(results, fresh)


def _report_files(results: dict[str, Any], outdir: Path, folder: Path, out: _Report,
                  progress: Callable[[str], None]) -> None:
    """Render the report from results.json again and compare every file byte for byte."""
    from fairness_audit.report.render import write_report

    progress("rendering the report from results.json")
    rendered = folder / "report"
    write_report(results, rendered, pdf=False)  # not compared (NOT_RENDERED_ALIKE)

    def why_not(path: Path) -> str | None:
        return NOT_RENDERED_ALIKE.get(path.name) or NOT_RENDERED_ALIKE.get(path.suffix)

    def files(root: Path) -> set[str]:
        return {p.relative_to(root).as_posix() for p in root.rglob("*")
                if p.is_file() and p.name != "results.json" and why_not(p) is None}

    expected, present = files(rendered), files(outdir)
    bad = []
    for name in sorted(expected):
        if name not in present:
            bad.append(f"{name}: not found")
        elif (outdir / name).read_bytes() != (rendered / name).read_bytes():
            bad.append(f"{name}: differs from the one rendered from results.json")
    if bad:
        out.say("report: not the report rendered from results.json:")
        for line in bad:
            out.fail(line)
    else:
        out.say(f"report: its {len(expected)} files (pages, tables, figures) are byte for byte "
                "the report rendered from results.json")
    for path in sorted(outdir.rglob("*")):
        if path.is_file() and why_not(path):
            out.say(f"  not compared: {path.relative_to(outdir).as_posix()} ({why_not(path)})")
    others = sorted(present - expected)
    if others:
        shown = ", ".join(others[:MAX_LINES]) + (" ..." if len(others) > MAX_LINES else "")
        out.say(f"  not part of the report, not checked: {shown}")


def results_lines(compared: int, diffs: list[Difference]) -> list[str]:
    """What the comparison of results.json found: one line if every value matches, else the
    first ``MAX_LINES`` differences (then a count of the rest), and a note when every
    difference lies in the last digits.

    Example
    -------
    >>> results_lines(3, [Difference("a[1]", 2.5, 2.25)])[1]
    '  FAIL  a[1]: 2.5 recorded, 2.25 recomputed'
    """
    skipped = ", ".join(EXCLUDED)
    if not diffs:
        return [f"results: every number matches ({compared:,} values compared; not compared: "
                f"{skipped})"]
    lines = [f"results: {len(diffs):,} of {compared:,} values differ (not compared: {skipped}):"]
    lines += [f"  FAIL  {d.line()}" for d in diffs[:MAX_LINES]]
    if len(diffs) > MAX_LINES:
        lines.append(f"  ... and {len(diffs) - MAX_LINES:,} more")
    if all(d.last_digits for d in diffs):
        lines.append(f"  every difference is in the last digits (relative difference at most "
                     f"{LAST_DIGITS:g}): another number of BLAS threads gives such differences "
                     "(docs/models.md); verify with the thread settings of the machine that "
                     "wrote the audit (e.g. OPENBLAS_NUM_THREADS)")
    return lines


def verify_output(outdir: str | Path, *, rebuild: bool = False,
                  progress: Callable[[str], None] = _noop) -> Verification:
    """Check that an audit's output folder is what its recorded inputs produce.

    Parameters
    ----------
    outdir
        The folder that holds results.json (for ``fairness-audit run``, ``OUT/report``).
    rebuild
        Also rebuild the decisions table from ``provenance.source`` (simulate again, or ingest
        the release or extract again) and require the recorded sha256 of every input. Without
        it, only a simulation is rebuilt, and only when an input is missing or changed.
    progress
        Called with progress lines of the long steps (hashing, rebuilding, recomputing).

    Returns
    -------
    Verification
        ``passed`` when every input, source file, value and report file is as recorded;
        ``lines`` says what was checked and what failed, in order.

    Raises
    ------
    ResultsError
        OUTDIR has no readable results.json with a provenance. Whatever else goes wrong (a
        recorded plan this installation cannot read, a source that cannot be rebuilt) is a
        failed check in the result, not an exception.

    Example
    -------
    >>> verify_output("out/demo/report").passed  # doctest: +SKIP
    True
    """
    outdir = Path(outdir)
    results = read_results(outdir)
    out = _Report()
    prov = results["provenance"]
    out.say(f"verifying {outdir / 'results.json'} (created {prov.get('created')}, the plan's "
            f"seed {prov.get('seed')})")
    differing = version_differences(results)
    if differing:
        out.say("versions: this installation differs from the one that wrote the results "
                "(a difference can explain a mismatch):")
        for line in differing:
            out.say(f"  {line}")
    else:
        out.say("versions: as recorded")
    compared, diffs = None, []
    # recorded paths are relative to the real folder (results.input_path resolves both ends)
    base = outdir.resolve()
    with _temporary() as folder:
        table = _inputs(results, base, folder, rebuild, out, progress)
        _source(results, base, out, progress)
        if table is None:
            out.say("results: not recomputed: no complete set of inputs as recorded")
        else:
            try:
                compared, diffs = _recompute(results, base, table, progress)
            except AuditError as exc:  # e.g. a recorded plan this installation cannot read
                out.say("results: not recomputed:")
                out.fail(str(exc))
            else:
                for line in results_lines(compared, diffs):
                    out.say(line)
        _report_files(results, base, folder, out, progress)
    n_problems = len(out.problems) + len(diffs) + (compared is None)
    if n_problems == 0:
        out.say("verified: the inputs are the ones recorded, every number of results.json is what "
                "they produce, and the report is its rendering")
    else:
        out.say(f"NOT verified: {n_problems} problem(s) above")
    return Verification(outdir=outdir, version_differences=tuple(differing),
                        problems=tuple(out.problems), compared=compared,
                        differences=tuple(diffs), lines=tuple(out.lines))
