"""The two-page brief: natural units computed by the audit (natural_units.py), the "how sure"
rule (report/brief.py), brief.html (every number from results.json, nothing fetched, labels
escaped) and brief.pdf (at most two US Letter pages, when Chromium is installed)."""

from __future__ import annotations

import copy
import html
import json
import math
import re
from html.parser import HTMLParser

import pandas as pd
import pytest
from markupsafe import escape

from fairness_audit.natural_units import (
    PERCENT_OF_DURATION,
    PERCENTAGE_POINTS,
    from_log_days,
    from_marginal_effect,
    from_percentage_points,
    natural_units,
)
from fairness_audit.report import brief as brief_module
from fairness_audit.report import plots, render
from fairness_audit.report.brief import (
    brief_context,
    deciding_test,
    how_sure,
    pdf_pages,
    print_pdf,
)
from fairness_audit.report.numbers import check_html, format_named, sourced, sourced_spans

CONSISTENT, NOT_SUPPORTED, INCONCLUSIVE = "consistent with the concern", "not supported", "inconclusive"


# ------------------------------------------------------------------------------ natural units
def test_log_days_become_percent_of_case_duration():
    # by hand: exp(-0.1) = 0.904837418, exp(-0.2) = 0.818730753, exp(0.05) = 1.051271096
    n = from_log_days(-0.1, -0.2, 0.05, term="post_policy:pre_policy_gap")
    assert n.value == pytest.approx(-9.5162582, abs=1e-6)
    assert n.ci_low == pytest.approx(-18.1269247, abs=1e-6)
    assert n.ci_high == pytest.approx(5.1271096, abs=1e-6)
    assert n.unit == PERCENT_OF_DURATION == "percent of case duration"
    assert n.per == "per 100 cases a judge was behind the target before the quota"
    assert "100 x (exp(b) - 1)" in n.formula


def test_logit_pressure_terms_use_the_marginal_effect_per_100_cases():
    effect = {"estimate": -1.25, "ci_low": -2.5, "ci_high": -0.125, "definition": "AME def"}
    n = from_marginal_effect(effect, term="post_policy:quota_shortfall", outcome="granted")
    # quota_shortfall is in hundreds of cases: one unit is 100 cases, the value unchanged
    assert (n.value, n.ci_low, n.ci_high) == (-1.25, -2.5, -0.125)
    assert n.unit == PERCENTAGE_POINTS == "percentage points"
    assert n.per == "per 100 cases a judge is behind the target"
    assert n.quantity == "Change after the quota in the chance of a grant"
    assert "AME def" in n.formula and "hundreds of cases" in n.formula
    group = from_marginal_effect(effect, term="post_policy:quota_shortfall:juvenile", outcome="granted")
    assert group.quantity == ("Extra change after the quota in the chance of a grant for children, "
                              "beyond the others")


def test_log_duration_marginal_effect_is_restated_per_doubling():
    effect = {"estimate": -3.0, "ci_low": -4.0, "ci_high": -2.0, "definition": "d"}
    n = from_marginal_effect(effect, term="log_duration", outcome="remanded")
    # ln 2 = 0.693147181
    assert n.value == pytest.approx(-2.0794415, abs=1e-6)
    assert n.ci_low == pytest.approx(-2.7725887, abs=1e-6)
    assert n.ci_high == pytest.approx(-1.3862944, abs=1e-6)
    assert n.per == "per doubling of the case's duration"
    assert n.quantity == "Difference in the chance of a remand on appeal"


def test_percentage_point_tests_pass_through_with_their_comparison():
    h5 = from_percentage_points(-2.1, -3.8, -0.4, term="post_policy:unrepresented", outcome="granted")
    assert (h5.value, h5.ci_low, h5.ci_high) == (-2.1, -3.8, -0.4)
    assert h5.per == "for respondents without a lawyer compared with the others"
    assert h5.quantity == "Change after the quota in the chance of a grant"
    h6 = from_percentage_points(17.5, 12.9, 22.2, term="judge_sd_within_court", outcome="granted")
    assert (h6.value, h6.unit) == (17.5, "percentage points")
    assert h6.per == "as a standard deviation across the judges of a court"


def test_dispatcher_on_scale_and_the_cases_without_natural_units():
    base = {"term": "post_policy:quota_shortfall", "outcome": "granted", "estimate": -0.08,
            "ci_low": -0.13, "ci_high": -0.02}
    # a logit test without its marginal effect: no natural units (the brief gives the direction)
    assert natural_units({**base, "scale": "log-odds"}) is None
    effect = {"estimate": -1.1, "ci_low": -2.0, "ci_high": -0.3, "definition": "d"}
    assert natural_units({**base, "scale": "log-odds", "marginal_effect": effect})["value"] == -1.1
    assert natural_units({**base, "scale": "log-odds", "marginal_effect": effect,
                          "estimate": None}) is None
    assert natural_units({**base, "scale": "count"}) is None
    days = natural_units({**base, "scale": "log-days", "term": "post_policy:pre_policy_gap"})
    assert days["value"] == pytest.approx(100 * (math.exp(-0.08) - 1))
    assert set(days) == {"value", "ci_low", "ci_high", "unit", "per", "quantity", "formula"}
    pp = natural_units({**base, "scale": "percentage-points"})
    assert (pp["value"], pp["per"]) == (-0.08, "per 100 cases a judge is behind the target")


# ------------------------------------------------------------------------------ how sure
def _test(verdict, lo, hi, *, sign=-1, sesoi=0.05, reason="", estimate=None):
    est = (lo + hi) / 2 if estimate is None and lo is not None else estimate
    return {"id": "T", "verdict": verdict, "verdict_reason": reason, "estimate": est, "ci_low": lo,
            "ci_high": hi, "sesoi": sesoi, "concern_sign": sign}


@pytest.mark.parametrize(("test", "key"), [
    (_test(CONSISTENT, -0.2, -0.1), "clear"),
    (_test(CONSISTENT, -0.2, -0.05), "direction"),  # the end at -sesoi is not beyond it
    (_test(CONSISTENT, -0.2, -0.01), "direction"),
    (_test(NOT_SUPPORTED, -0.04, -0.01), "ruled out, smaller found"),
    (_test(NOT_SUPPORTED, -0.03, 0.1), "ruled out"),
    (_test(INCONCLUSIVE, -0.2, 0.1), "imprecise"),
    (_test(CONSISTENT, 0.1, 0.3, sign=1), "clear"),
    (_test(CONSISTENT, 0.02, 0.3, sign=1), "direction"),
    (_test(NOT_SUPPORTED, 0.01, 0.04, sign=1), "ruled out, smaller found"),
    (_test(NOT_SUPPORTED, -0.2, 0.04, sign=1), "ruled out"),
])
def test_how_sure_branches(test, key):
    assert how_sure(test).key == key


def test_how_sure_words_never_give_a_probability():
    words = [how_sure(_test(v, lo, hi)).words for v, lo, hi in
             [(CONSISTENT, -0.2, -0.1), (CONSISTENT, -0.2, -0.01), (NOT_SUPPORTED, -0.04, -0.01),
              (NOT_SUPPORTED, -0.03, 0.1), (INCONCLUSIVE, -0.2, 0.1)]]
    assert words[0] == "Clear evidence of an effect at least as large as the smallest that matters."
    assert words[4].startswith("Cannot tell: the data are too imprecise to decide")
    assert not any("%" in w or "sure" in w for w in words)


def test_how_sure_names_the_failed_check_in_plain_words():
    reason = ("design check failed: anticipation (log_duration): memo:pre_policy_gap is zero "
              "between the memo (2018-03-30) and the policy date; placebo H2.placebo: "
              "quota_shortfall before the policy is zero")
    sure = how_sure(_test(INCONCLUSIVE, -0.09, -0.07, reason=reason))
    assert sure.key == "check failed"
    assert sure.words == ("Cannot tell: a check of the design failed (outcomes of the judges behind "
                          "the target already moved between the quota's announcement and its "
                          "start; a judge's shortfall already went with the outcome before the "
                          "quota existed).")
    # a check this module has no words for is named as the plan names it
    other = how_sure(_test(INCONCLUSIVE, -0.2, 0.1, reason="design check failed: guard before 2020"))
    assert other.words == "Cannot tell: a check of the design failed (guard before 2020)."


def test_how_sure_without_an_estimate_and_with_a_wrong_verdict():
    sure = how_sure(_test(INCONCLUSIVE, None, None, reason="not estimable: remanded"))
    assert (sure.key, sure.words) == ("not estimable",
                                      "Cannot tell: the test could not be run (not estimable: remanded).")
    with pytest.raises(ValueError, match="test T: expected a verdict among .* found 'maybe'"):
        how_sure(_test("maybe", -0.1, 0.1))


def test_the_deciding_test_of_a_hypothesis():
    direction = {**_test(CONSISTENT, -0.2, -0.01), "id": "a"}
    clear = {**_test(CONSISTENT, -0.2, -0.1), "id": "b"}
    unsure = {**_test(INCONCLUSIVE, -0.2, 0.1), "id": "c"}
    smaller = {**_test(NOT_SUPPORTED, -0.04, -0.01), "id": "d"}
    out = {**_test(NOT_SUPPORTED, -0.03, 0.1), "id": "e"}
    assert deciding_test(CONSISTENT, [unsure, direction, clear])["id"] == "b"
    assert deciding_test(CONSISTENT, [unsure, direction])["id"] == "a"
    assert deciding_test(NOT_SUPPORTED, [smaller, out])["id"] == "e"
    assert deciding_test(NOT_SUPPORTED, [smaller])["id"] == "d"
    assert deciding_test(INCONCLUSIVE, [smaller, unsure])["id"] == "c"
    assert deciding_test(INCONCLUSIVE, []) is None


# ------------------------------------------------------------------------------ small parts
def test_year_formatter_and_pdf_page_count():
    assert format_named(2019, "year") == "2019" and format_named(None, "year") == "—"
    pdf = b"<< /Type /Catalog /Pages 2 0 R >> << /Type /Pages /Count 2 >> << /Type /Page >> " \
          b"<</Type/Page/Parent 2 0 R>> << /Type /PageLabel >>"
    assert pdf_pages(pdf) == 2


def test_a_missing_or_failing_browser_is_a_line_not_an_error(tmp_path, monkeypatch):
    page = tmp_path / "brief.html"
    page.write_text("<p>x</p>")
    assert "could not be started" in print_pdf(page, tmp_path / "a.pdf", binary=str(tmp_path / "nope"))
    problem = print_pdf(page, tmp_path / "b.pdf", binary="/bin/false")
    assert problem.startswith("/bin/false failed (exit code 1") and not (tmp_path / "b.pdf").exists()
    monkeypatch.setattr(brief_module, "find_chromium", lambda: None)
    lines: list[str] = []
    render._brief_pdf(tmp_path, lines.append)
    assert lines == ["brief.pdf not written: no Chromium found (looked for chromium, "
                     "chromium-browser, google-chrome)"]
    assert not (tmp_path / "brief.pdf").exists()


# ------------------------------------------------------------------------------ on an audit
def test_the_audit_stores_natural_units_and_the_data_summary(planted_results, planted_table):
    results, out = planted_results
    recorded = json.loads((out / "results.json").read_text())
    seen = set()
    for h in recorded["hypotheses"]:
        for t in h["tests"]:
            if t["role"] != "primary":
                assert "natural" not in t, t["id"]
                continue
            n, me = t["natural"], t.get("marginal_effect")
            assert n is not None, t["id"]
            if t["scale"] == "log-days":
                expected = [100 * (math.exp(t[k]) - 1) for k in ("estimate", "ci_low", "ci_high")]
            elif t["scale"] == "log-odds" and t["term"] == "log_duration":
                expected = [math.log(2) * me[k] for k in ("estimate", "ci_low", "ci_high")]
            elif t["scale"] == "log-odds":
                expected = [me[k] for k in ("estimate", "ci_low", "ci_high")]
            else:
                expected = [t[k] for k in ("estimate", "ci_low", "ci_high")]
            assert [n["value"], n["ci_low"], n["ci_high"]] == pytest.approx(expected, rel=1e-12), t["id"]
            assert n["ci_low"] <= n["value"] <= n["ci_high"], t["id"]
            seen.add(t["scale"])
    assert seen == {"log-days", "log-odds", "percentage-points"}

    # the summary, counted again from the table: decisions dated inside the analysis window
    table = pd.read_parquet(planted_table)
    dates = pd.to_datetime(table["decision_date"])
    used = table[(dates >= "2016-10-01") & (dates < "2021-10-01")]
    assert recorded["data"]["summary"] == {
        "decisions": len(used), "judges": used["judge_id"].nunique(),
        "courts": used["court_id"].nunique(), "first_fiscal_year": 2017, "last_fiscal_year": 2021}
    assert recorded["data"]["summary"]["decisions"] == recorded["data"]["rows_used"]
    assert recorded["data"]["summary"]["courts"] == 6  # the fixture's court system


def _numbers_outside_spans(page: str) -> list[str]:
    """Digits the reader sees that no span sources: everything but styles, embedded images,
    sourced spans, tags, hypothesis ids, plan dates and the unit "100 cases"."""
    text = re.sub(r"<style>.*?</style>", "", page, flags=re.DOTALL)
    text = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", text)
    text = re.sub(r'<span data-src="[^"]*" data-fmt="[^"]*">.*?</span>', "", text, flags=re.DOTALL)
    text = re.sub(r"<!--.*?-->|<[^>]+>", " ", text, flags=re.DOTALL)
    text = html.unescape(text)
    text = re.sub(r"\bH[1-7]\b|\d{4}-\d{2}-\d{2}|\b100 cases\b", "", text)
    return re.findall(r"\d[\d.,]*", text)


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def test_brief_html_sources_every_number_and_fetches_nothing(planted_results):
    _, out = planted_results
    page = (out / "brief.html").read_text()
    recorded = json.loads((out / "results.json").read_text())
    for h in recorded["hypotheses"]:
        assert f"{h['id']}. {escape(h['title'])}" in page
        assert str(escape(h["concern"])) in page  # the critics' words, as autoescaping writes them
        assert h["verdict"] in page
    assert "@page { size: letter" in page
    assert check_html(page, recorded) == []
    pointers = {src for src, _, _ in sourced_spans(page)}
    for i, h in enumerate(recorded["hypotheses"]):
        for j, t in enumerate(h["tests"]):
            if t.get("natural"):
                for key in ("value", "ci_low", "ci_high"):
                    assert f"/hypotheses/{i}/tests/{j}/natural/{key}" in pointers, (t["id"], key)
    for key in ("decisions", "judges", "courts", "first_fiscal_year", "last_fiscal_year"):
        assert f"/data/summary/{key}" in pointers
    assert _numbers_outside_spans(page) == []
    # self-contained: no script, nothing fetched (every image embedded, no link, no remote URL)
    assert "<script" not in page.lower()
    parser = _Tags()
    parser.feed(page)
    for tag, attrs in parser.tags:
        assert tag not in ("script", "link", "iframe", "object", "embed"), tag
        for name in ("src", "href"):
            if attrs.get(name) is not None:
                assert attrs[name].startswith("data:image/png;base64,"), (tag, name, attrs[name][:40])
    assert not re.search(r"url\(|@import|https?://", page)
    assert any(tag == "img" for tag, _ in parser.tags)  # the verdicts figure is there


def test_brief_pdf_is_at_most_two_letter_pages(planted_results):
    _, out = planted_results
    if brief_module.find_chromium() is None:
        pytest.skip("no Chromium: the audit writes no brief.pdf")
    if replaced := brief_module.substituted_fonts():
        pytest.skip(f"this machine replaces {', '.join(replaced)}: the "
                    "brief's two pages are laid out with Arial's widths (Debian's "
                    "fonts-liberation; .ci/run installs it)")
    data = (out / "brief.pdf").read_bytes()
    assert data.startswith(b"%PDF")
    assert 1 <= pdf_pages(data) <= 2
    # US Letter: 612 x 792 points
    assert re.search(rb"/MediaBox\s*\[\s*0 0 612 792\s*\]", data)


# ------------------------------------------------------------------------------ hostile text
SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"


def _render_brief(results) -> str:
    r = sourced(results)
    return render._environment().get_template("brief.html.j2").render(
        brief=brief_context(r), embedded={}, r=r)


def test_hostile_text_is_escaped_and_a_missing_natural_falls_back_to_the_direction(planted_results,
                                                                                    tmp_path):
    results, _ = planted_results
    hostile = copy.deepcopy(results)
    h = hostile["hypotheses"][0]
    h["title"], h["concern"] = SCRIPT + " $\\frac$", IMG + " a|b"
    primary = next(t for t in h["tests"] if t["role"] == "primary")
    primary.update(verdict=INCONCLUSIVE, verdict_reason=f"design check failed: {SCRIPT}")
    primary["natural"] = {**primary["natural"], "quantity": IMG, "per": SCRIPT}
    h2 = next(x for x in hostile["hypotheses"] if x["id"] == "H2")
    h2_primary = next(t for t in h2["tests"] if t["role"] == "primary")
    h2_primary["natural"] = None
    page = _render_brief(hostile)
    parser = _Tags()
    parser.feed(page)
    assert not any(tag in ("script", "img") for tag, _ in parser.tags)
    assert html.escape(SCRIPT, quote=False) in page and html.escape(IMG, quote=False) in page
    assert "a check of the design failed (&lt;script&gt;" in page
    # H2's estimate is negative, the concern's sign is -1: the direction alone
    toward = h2_primary["estimate"] < 0
    assert toward
    assert "The estimate points in the concern&#39;s direction; it has no statement in natural units" in page
    assert check_html(page, hostile) == []
    # the figure draws the hostile title as text (a '$' pair is not mathematics)
    assert plots.brief_verdicts(hostile, tmp_path / "v.png").exists()


def test_the_verdicts_figure_keeps_every_label_clear_of_its_badge(planted_results, tmp_path,
                                                                  monkeypatch):
    """Each row's title and units end left of its verdict badge, even a long title: a smaller
    font first, then an ellipsis (plots._fit_left_of)."""
    results, _ = planted_results
    results = copy.deepcopy(results)
    h = results["hypotheses"][0]
    h["title"] = "A title far longer than any the plan uses, so long that it must be cut " * 2
    drawn = []
    monkeypatch.setattr(plots, "save", lambda fig, path, **options: drawn.append(fig) or path)
    plots.brief_verdicts(results, tmp_path / "v.png")
    (fig,) = drawn
    renderer = fig.canvas.get_renderer()
    # each row draws its badge, then its title and its units
    starts = [i for i, t in enumerate(fig.texts) if t.get_bbox_patch() is not None]
    assert len(starts) == sum(t["role"] == "primary" for h in results["hypotheses"]
                              for t in h["tests"])
    labels = []
    for i in starts:
        badge, row = fig.texts[i], fig.texts[i + 1:i + 3]
        assert all(t.get_bbox_patch() is None and t.get_position()[0] < 0.01 for t in row)
        assert all(t.get_window_extent(renderer).x1 < badge.get_window_extent(renderer).x0
                   for t in row), [t.get_text() for t in row]
        labels += row
    assert labels[0].get_text().endswith("…")  # the long title was cut


def test_a_brief_past_two_pages_names_the_fonts_replaced(tmp_path, monkeypatch):
    """On a machine whose fonts are wider than the layout's the brief runs to a third page;
    the audit's line says which fonts were replaced and what to install."""
    from fairness_audit.report import render

    def three_pages(html, pdf):
        pdf.write_bytes(b"%PDF-1.4 " + b"<< /Type /Page >> " * 3)

    monkeypatch.setattr(render, "print_pdf", three_pages)
    for replaced, hint in (([], False), (["Arial -> DejaVu Sans"], True)):
        monkeypatch.setattr(render, "substituted_fonts", lambda replaced=replaced: replaced)
        lines: list[str] = []
        render._brief_pdf(tmp_path, lines.append)
        assert lines[0].startswith("brief.pdf has 3 pages, more than the 2 a brief should")
        assert ("Arial -> DejaVu Sans" in lines[0] and "fonts-liberation" in lines[0]) == hint
