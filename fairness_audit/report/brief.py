"""The two-page brief (brief.html, brief.pdf) for readers without statistics.

report.html prints to dozens of pages; an advocate hands a journalist two. For each concern
the brief gives the critics' words, the verdict, one sentence of what the data show in natural
units (results.json ``natural``, computed by the audit in natural_units.py), and how sure the
audit is, in words. This module builds the brief's context from the SOURCED results
(``numbers.sourced``), so that every number the templates print carries its place in
results.json; it computes no number. It also applies the "how sure" rule (words, from stored
values) and prints the page to PDF with Chromium when one is installed.

The rule (docs/brief.md has it as a table), for a primary test:

1. consistent with the concern, and the whole interval beyond the smallest effect of interest
   in the concern's direction -> "clear";
2. consistent otherwise -> "direction" (the effect may be smaller than what matters);
3. not supported, and the interval on the concern's side of zero -> "ruled out, smaller found";
4. not supported otherwise -> "ruled out";
5. inconclusive because a design check failed -> "check failed" (the check named in plain words);
6. inconclusive because a guard did not confirm it -> "guard failed" (the guard's sample named);
7. inconclusive because the test has no estimate -> "not estimable";
8. inconclusive otherwise -> "imprecise".

A hypothesis is as sure as the primary test that decided its verdict (:func:`deciding_test`).

Example
-------
>>> how_sure({"verdict": "not supported", "estimate": 0.1, "ci_low": -0.02, "ci_high": 0.2,
...           "sesoi": 0.05, "concern_sign": -1, "verdict_reason": ""}).key
'ruled out'
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fairness_audit.inference import CONSISTENT, INCONCLUSIVE, NOT_SUPPORTED

# ------------------------------------------------------------------------------ how sure
_CHECK_FAILED = "design check failed: "
# a failed design check in plain words, by the first word of its name (analyses/timing.py,
# hypotheses.py); an unknown check is named as the plan names it
_CHECK_WORDS = {
    "anticipation": "outcomes of the judges behind the target already moved between the "
                    "quota's announcement and its start",
    "pre-trend": "the judges behind the target were already on a different course before "
                 "the quota",
    "placebo": "a judge's shortfall already went with the outcome before the quota existed",
}
# a guard's robustness test id -> its sample in plain words (by the id's variant part)
_GUARD_WORDS = {
    "before_covid": "the decisions made before the COVID closures of March 2020",
    "without_special_dockets": "the decisions outside the special dockets (MPP, family units)",
}
_WORDS = {
    "clear": "Clear evidence of an effect at least as large as the smallest that matters.",
    "direction": "Evidence of an effect in the concern's direction; it may be smaller than "
                 "the smallest that matters.",
    "ruled out, smaller found": "The data rule out an effect as large as the smallest that "
                                "matters; they do show a smaller effect in the concern's direction.",
    "ruled out": "The data rule out an effect as large as the smallest that matters.",
    "check failed": "Cannot tell: a check of the design failed ({detail}).",
    "guard failed": "Cannot tell: the finding is not confirmed when the test is repeated on "
                    "{detail}.",
    "not estimable": "Cannot tell: the test could not be run ({detail}).",
    "imprecise": "Cannot tell: the data are too imprecise to decide; they allow both no "
                 "effect and an effect that matters.",
}


@dataclass(frozen=True)
class Sureness:
    """How sure the audit is about one test, in words (``key`` names the rule's branch)."""

    key: str
    words: str


def _failed_checks(reason: str) -> list[str]:
    """The names of the failed design checks that forced a verdict (from its reason)."""
    if not reason.startswith(_CHECK_FAILED):
        return []
    return [name for name in reason[len(_CHECK_FAILED):].split("; ") if name]


def plain_check(name: str) -> str:
    """A failed design check in plain words (its name as the plan gives it when unknown)."""
    first = re.split(r"[\s(:]", name.strip(), maxsplit=1)[0].lower()
    return _CHECK_WORDS.get(first, name)


def plain_guard(test_id: str) -> str:
    """A guard's sample in plain words (its test id when the variant is not a known one)."""
    return next((words for key, words in _GUARD_WORDS.items() if key in test_id.split(".")),
                f"the variant {test_id}")


def how_sure(test: Mapping[str, Any]) -> Sureness:
    """How sure the audit is about a primary test: the rule of the module docstring.

    Parameters
    ----------
    test
        A test of results.json: ``verdict``, ``verdict_reason``, ``estimate``, ``ci_low``,
        ``ci_high``, ``sesoi`` and ``concern_sign`` (all on the test's own scale).

    Returns
    -------
    Sureness
        The rule's branch and its words. Never a probability ("95% sure"): the words say what
        the interval rules in or out.

    Raises
    ------
    ValueError
        A verdict that is none of the three verdict strings.

    Example
    -------
    >>> how_sure({"verdict": "consistent with the concern", "estimate": -0.3, "ci_low": -0.4,
    ...           "ci_high": -0.2, "sesoi": 0.1, "concern_sign": -1, "verdict_reason": ""}).key
    'clear'
    """
    verdict, reason = test["verdict"], test.get("verdict_reason") or ""
    sign, sesoi = test["concern_sign"], test["sesoi"]
    lo, hi = test.get("ci_low"), test.get("ci_high")
    if verdict == CONSISTENT:
        # the interval's end nearest zero is beyond the smallest effect of interest
        beyond = (hi < -sesoi) if sign < 0 else (lo > sesoi)
        return Sureness("clear", _WORDS["clear"]) if beyond else Sureness("direction", _WORDS["direction"])
    if verdict == NOT_SUPPORTED:
        toward = (hi < 0) if sign < 0 else (lo > 0)
        key = "ruled out, smaller found" if toward else "ruled out"
        return Sureness(key, _WORDS[key])
    if verdict != INCONCLUSIVE:
        raise ValueError(f"test {test.get('id', '?')}: expected a verdict among "
                         f"{[CONSISTENT, NOT_SUPPORTED, INCONCLUSIVE]}, found {verdict!r}")
    guards = test.get("failed_guards") or []
    if guards:
        detail = " or ".join(dict.fromkeys(plain_guard(g) for g in guards))
        return Sureness("guard failed", _WORDS["guard failed"].format(detail=detail))
    failed = _failed_checks(reason)
    if failed:
        detail = "; ".join(dict.fromkeys(plain_check(name) for name in failed))
        return Sureness("check failed", _WORDS["check failed"].format(detail=detail))
    if test.get("estimate") is None:
        detail = reason or "no estimate"
        return Sureness("not estimable", _WORDS["not estimable"].format(detail=detail))
    return Sureness("imprecise", _WORDS["imprecise"])


def deciding_test(verdict: str, primary: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The primary test that decided a hypothesis' verdict (None without primary tests).

    Consistent: the consistent test with the strongest words ("clear" before "direction"),
    the first in the plan's order among equals. Not supported (every test rules the effect
    out): the first test that found no smaller effect either, else the first. Inconclusive: the
    first inconclusive test.

    Example
    -------
    >>> deciding_test("inconclusive", [{"id": "a", "verdict": "not supported"},
    ...                                {"id": "b", "verdict": "inconclusive"}])["id"]
    'b'
    """
    if not primary:
        return None
    if verdict == CONSISTENT:
        hits = [t for t in primary if t["verdict"] == CONSISTENT]
        return next((t for t in hits if how_sure(t).key == "clear"), hits[0] if hits else primary[0])
    if verdict == NOT_SUPPORTED:
        return next((t for t in primary if how_sure(t).key == "ruled out"), primary[0])
    return next((t for t in primary if t["verdict"] == INCONCLUSIVE), primary[0])


# ------------------------------------------------------------------------------ context
_SOURCES = {
    "simulation": "simulated decisions (a synthetic court system, not real court records)",
    "eoir": "the Justice Department's immigration-court case data (EOIR public release)",
    "table": "a decisions table mapped from another source",
}
_VERDICT_CLASS = {CONSISTENT: "consistent", NOT_SUPPORTED: "not", INCONCLUSIVE: "inconclusive"}
# what no run of this audit can show, whatever the plan (text that depends on the plan is
# rendered from results.json in the template)
LIMITS = (
    "These are records of decisions, not an experiment: cases and workloads were not assigned "
    "to judges at random, so a pattern here can have causes the audit does not measure. The full "
    "report lists, for each concern, what could make the finding wrong.",
    "The records do not show the merits of any case: the audit says how outcomes moved, not "
    "whether a decision was right.",
    "\u201cNot supported\u201d means the data rule out an effect as large as the smallest that "
    "matters; it does not prove there was no effect at all.",
    "Quota pressure is measured from the completions in the data: missing or misattributed "
    "records distort it (report.html shows where data are missing).",
    "The audit does not rate individual judges: the spread between judges is a finding about "
    "courts, not about any one judge.",
)


def brief_context(r: Mapping[str, Any]) -> dict[str, Any]:
    """The brief's context for ``_brief.html.j2``, from the SOURCED results.

    Parameters
    ----------
    r
        results.json wrapped by :func:`fairness_audit.report.numbers.sourced`, so that the
        numbers passed on keep their JSON pointers (the templates print them through the
        ``fmt``/``year``/``level`` filters).

    Returns
    -------
    dict
        ``source`` (words), ``simulated``, ``summary`` (results.json ``data.summary`` or None),
        ``window``, ``policy`` (the plan's dates, text), ``level`` (the interval level),
        ``concerns`` (one per hypothesis: ``id``, ``title``, ``concern``, ``verdict``,
        ``verdict_class``, ``tests`` (its primary tests, the deciding one first, each with
        ``natural``), ``sure`` (:class:`Sureness`)), ``limits`` and ``absent`` (hypotheses the
        results do not have).

    Example
    -------
    >>> ctx = brief_context(sourced(results))  # doctest: +SKIP
    >>> ctx["concerns"][0]["sure"].words  # doctest: +SKIP
    'Cannot tell: a check of the design failed (...).'
    """
    data = r.get("data", {})
    config = r.get("provenance", {}).get("config", {})
    concerns = []
    for h in r["hypotheses"]:
        primary = [t for t in h["tests"] if t["role"] == "primary"]
        decider = deciding_test(h["verdict"], primary)
        ordered = ([decider] if decider is not None else []) + [t for t in primary if t is not decider]
        concerns.append({
            "id": h["id"], "title": h["title"], "concern": h["concern"], "verdict": h["verdict"],
            "verdict_class": _VERDICT_CLASS[h["verdict"]],
            "tests": [{"test": t, "natural": t.get("natural"),
                       "toward": _toward(t), "verdict_class": _VERDICT_CLASS[t["verdict"]]}
                      for t in ordered],
            "sure": how_sure(decider) if decider is not None
            else Sureness("not estimable", _WORDS["not estimable"].format(detail="no primary test")),
        })
    present = {h["id"] for h in r["hypotheses"]}
    source = data.get("source")
    return {
        "source": _SOURCES.get(source or "", "a decisions table of unrecorded source"),
        "simulated": source == "simulation",
        "summary": data.get("summary"),
        "rows_used": data.get("rows_used"),
        "window": config.get("window", {}),
        "policy": config.get("policy", {}),
        "level": config.get("inference", {}).get("interval_level"),
        "concerns": concerns,
        "limits": list(LIMITS),
        "absent": [f"H{i}" for i in range(1, 8) if f"H{i}" not in present],
    }


def _toward(test: Mapping[str, Any]) -> bool | None:
    """Whether the estimate points in the concern's direction (None without an estimate)."""
    est = test.get("estimate")
    if est is None or est == 0:
        return None
    return (est > 0) == (test["concern_sign"] > 0)


# ------------------------------------------------------------------------------ PDF
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
BRIEF_MAX_PAGES = 2  # US Letter pages
PDF_TIMEOUT_SECONDS = 120


# The brief and the report are laid out for the widths of Arial (or Helvetica) and Times New
# Roman; Debian's fonts-liberation has fonts of the same widths. Where fontconfig replaces them by
# a wider family (DejaVu, on a machine with no other fonts) the brief runs past two pages.
LAYOUT_FONTS = {
    "Arial": ("Arial", "Helvetica", "Liberation Sans", "Arimo", "Nimbus Sans", "TeX Gyre Heros"),
    "Times New Roman": ("Times New Roman", "Times", "Liberation Serif", "Tinos", "Nimbus Roman",
                        "TeX Gyre Termes"),
}


def substituted_fonts() -> list[str]:
    """The layout's fonts that this machine replaces by a family of other widths, as
    "Arial -> DejaVu Sans"; [] where they (or fonts of their widths) are installed, or where
    fontconfig's ``fc-match`` is not there to ask."""
    fc_match = shutil.which("fc-match")
    if fc_match is None:
        return []
    out = []
    for name, same_widths in LAYOUT_FONTS.items():
        try:
            found = subprocess.run([fc_match, "-f", "%{family}", name], capture_output=True,
                                   text=True, timeout=10).stdout
        except (OSError, subprocess.SubprocessError):
            return []
        families = [f.strip() for f in found.split(",") if f.strip()]
        if families and not any(f in same_widths for f in families):
            out.append(f"{name} -> {families[0]}")
    return out


def find_chromium() -> str | None:
    """The first Chromium or Chrome binary on PATH (``CHROMIUM_NAMES``), or None."""
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def pdf_pages(data: bytes) -> int:
    """The number of pages of a PDF: its ``/Type /Page`` objects (not ``/Pages``).

    Chromium writes page objects uncompressed, so counting them in the bytes is enough here
    (pypdf is not a dependency).

    Example
    -------
    >>> pdf_pages(b"<< /Type /Pages /Kids [1 0 R] >> << /Type /Page /Parent 2 0 R >>")
    1
    """
    return len(re.findall(rb"/Type\s*/Page(?![A-Za-z])", data))


def _stop(proc: subprocess.Popen) -> None:
    """Kill the browser's process group (it started it: ``start_new_session``) and reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()


def print_pdf(html: Path, pdf: Path, *, binary: str | None = None,
              timeout: float = PDF_TIMEOUT_SECONDS) -> str | None:
    """Print ``html`` to ``pdf`` with headless Chromium; return None, or why it was not written.

    Never raises for a missing or failing browser: the brief's PDF is a convenience, and an
    audit must not fail for it. Chromium runs with a throwaway profile folder (so that runs in
    parallel do not share one) in its own process group, killed as a whole on timeout.

    Parameters
    ----------
    html
        The page to print (brief.html; its print CSS sets US Letter).
    pdf
        Where to write the PDF.
    binary
        The browser to run; default :func:`find_chromium`.
    timeout
        Seconds before the browser is stopped.

    Returns
    -------
    str or None
        None when the PDF was written; else one line saying why not.

    Example
    -------
    >>> print_pdf(Path("out/brief.html"), Path("out/brief.pdf"))  # doctest: +SKIP
    """
    binary = binary or find_chromium()
    if binary is None:
        return f"no Chromium found (looked for {', '.join(CHROMIUM_NAMES)})"
    with tempfile.TemporaryDirectory(prefix="fairness-audit-chromium-") as profile:
        command = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
                   "--no-first-run", "--disable-extensions", f"--user-data-dir={profile}",
                   f"--print-to-pdf={Path(pdf).resolve()}", Path(html).resolve().as_uri()]
        try:
            proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    start_new_session=True)
        except OSError as exc:
            return f"{binary} could not be started ({exc.strerror or exc})"
        try:
            _, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _stop(proc)
            Path(pdf).unlink(missing_ok=True)  # a half-written PDF is no brief
            return f"{binary} did not finish within {timeout:g} s"
        except BaseException:
            # interrupted (Ctrl-C, SIGTERM): the browser is in its own session, so it would
            # not get the signal and would outlive the audit
            _stop(proc)
            raise
    if proc.returncode != 0 or not Path(pdf).exists() or Path(pdf).stat().st_size == 0:
        Path(pdf).unlink(missing_ok=True)
        last = err.decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
        return f"{binary} failed (exit code {proc.returncode}: {last[0]})"
    return None
