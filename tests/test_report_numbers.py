"""Every number report.html shows from results.json names its place there, and agrees with it
through the formatter it names (fairness_audit/report/numbers.py)."""

from __future__ import annotations

import json

import pytest

from fairness_audit.report import numbers
from fairness_audit.report.numbers import check_html, format_named, resolve, sourced


def test_pointers_follow_rfc6901_and_escape_slashes_and_tildes():
    doc = {"a/b": {"c~d": [1.5, {"e": 2}]}, "flag": True, "none": None}
    wrapped = sourced(doc)
    assert wrapped["a/b"]["c~d"][0].src == "/a~1b/c~0d/0"
    assert wrapped["a/b"]["c~d"][1]["e"].src == "/a~1b/c~0d/1/e"
    assert wrapped["flag"] is True and wrapped["none"] is None  # not numbers a reader checks
    assert resolve(doc, "/a~1b/c~0d/1/e") == 2
    with pytest.raises(KeyError):
        resolve(doc, "/missing")


def test_named_formatters():
    assert format_named(0.12345, "fmt") == "0.123"
    assert format_named(0.12345, "fmt:2") == "0.12"
    assert format_named(1234567, "fmt") == "1,234,567"
    assert format_named(0.1234, "pct") == "12.3%"
    assert format_named(0.0004, "pvalue") == "< 0.001"
    assert format_named(None, "fmt") == "—"


def test_every_sourced_number_of_the_report_agrees_with_results_json(planted_results):
    results, out = planted_results
    page = (out / "report.html").read_text()
    recorded = json.loads((out / "results.json").read_text())
    spans = numbers.sourced_spans(page)
    # the estimates of every primary test are among them
    pointers = {src for src, _, _ in spans}
    for i, h in enumerate(recorded["hypotheses"]):
        for j, t in enumerate(h["tests"]):
            if t["role"] == "primary" and t["estimate"] is not None:
                assert f"/hypotheses/{i}/tests/{j}/estimate" in pointers, (h["id"], t["id"])
    assert len(spans) > 100
    assert check_html(page, recorded) == []


def test_a_changed_number_is_found(planted_results):
    _, out = planted_results
    page = (out / "report.html").read_text()
    recorded = json.loads((out / "results.json").read_text())
    src, spec, _ = next(s for s in numbers.sourced_spans(page) if s[1] == "fmt"
                        and isinstance(resolve(recorded, s[0]), float))
    parent, key = src.rsplit("/", 1)
    target = resolve(recorded, parent)
    target[int(key) if isinstance(target, list) else key] = 123456.0
    problems = check_html(page, recorded)
    assert problems and all(p.startswith(src) for p in problems)
