"""report.html and report.md as a technical report: contents that link to every part, the parts
in reading order (brief, one part per hypothesis, data, appendices A-E), the long lists in the
appendices, a methods appendix written from the plan stored in results.json, print CSS, and
labels still escaped and numbers still sourced."""

from __future__ import annotations

import copy
import dataclasses
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from fairness_audit.audit import compute_results
from fairness_audit.config import AuditConfig, load_config
from fairness_audit.report.methods import Num, methods
from fairness_audit.report.numbers import check_html, sourced_spans
from fairness_audit.report.render import coverage_tables, write_report
from fairness_audit.simulate import SimulationParams, simulate
from fairness_audit.tables import TablePaths, write_decision_data

PARTS = ["findings", "hypothesis-H2", "hypothesis-H5", "data", "appendix-models",
         "appendix-checks", "appendix-group-rates", "appendix-methods", "appendix-provenance"]
SUBSECTIONS = ["Design", "Primary estimate", "Robustness and supporting evidence", "Sensitivity",
               "Checks", "Limitations"]
SCRIPT = "<script>alert(1)</script>"


def _plan() -> AuditConfig:
    """H2 (primary, placebo, linear-probability support) and H5 with one small group table: a
    2-court audit in a few seconds."""
    base = load_config().to_dict()
    base["models"] = {k: base["models"][k] for k in ("H2", "H2_lpm", "H5")}
    base["analyses"] = {}
    base["hypotheses"] = {
        "H2": {"tests": [{**t, "guards": []} for t in base["hypotheses"]["H2"]["tests"]
                         if t["model"] in ("H2", "H2_lpm")]},
        "H5": base["hypotheses"]["H5"]}
    base["disparities"].update(outcomes=["granted"], continuous=[], dimensions=["represented", "court_id"],
                               intersections=[], bootstrap_replicates=50)
    return AuditConfig.model_validate(base)


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    """results.json of the small plan, with H2's checks made to hold one failed check and one
    that could not be run (so that the one-line summary has all three kinds)."""
    root = tmp_path_factory.mktemp("structure")
    sim = simulate(dataclasses.replace(SimulationParams(), n_courts=2), seed=4)
    paths = TablePaths.from_path(root / "data" / "court.parquet")
    paths.decisions.parent.mkdir(parents=True)
    write_decision_data(paths, sim.decisions, sim.workload, sim.ledger, sim.metadata)
    results = json.loads(json.dumps(compute_results(paths.decisions, _plan())))
    h2 = next(h for h in results["hypotheses"] if h["id"] == "H2")
    h2["checks"] += [
        {"name": "placebo date 2017-10-01 (granted): shifted", "statistic": 2.5, "df": 9,
         "p_value": 0.034, "passed": False, "forces_inconclusive": False},
        {"name": "reversal after the suspension", "statistic": None, "df": None, "p_value": None,
         "passed": None, "forces_inconclusive": True, "note": "not estimable: no decision after"},
    ]
    return results


def _render(results, folder: Path) -> tuple[str, str]:
    write_report(results, folder, pdf=False)
    return (folder / "report.html").read_text(), (folder / "report.md").read_text()


@pytest.fixture(scope="module")
def rendered(audited, tmp_path_factory):
    html, md = _render(audited, tmp_path_factory.mktemp("rendered"))
    return audited, html, md


class _Page(HTMLParser):
    """Ids, contents links, tags, the top-level parts and the headings of each part."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids: list[str] = []
        self.links: list[str] = []
        self.tags: list[str] = []
        self.parts: list[str] = []
        self.headings: dict[str, list[tuple[str, str]]] = {}
        self._in_nav = False
        self._heading: str | None = None
        self._text = ""

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        if attrs.get("id"):
            self.ids.append(attrs["id"])
        if tag == "nav":
            self._in_nav = True
        if tag == "a" and self._in_nav:
            self.links.append(attrs["href"])
        if tag == "section" and "part" in (attrs.get("class") or "").split():
            self.parts.append(attrs["id"])
            self.headings[attrs["id"]] = []
        if tag in ("h2", "h3", "h4") and self.parts:
            self._heading, self._text = tag, ""

    def handle_endtag(self, tag):
        if tag == "nav":
            self._in_nav = False
        if tag == self._heading:
            self.headings[self.parts[-1]].append((tag, self._text.strip()))
            self._heading = None

    def handle_data(self, data):
        if self._heading:
            self._text += data


def _parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


def _part(html: str, part: str) -> str:
    """The HTML of one top-level part (up to the next one)."""
    start = html.index(f'<section class="part" id="{part}">')
    end = html.find('<section class="part"', start + 1)
    return html[start:end if end > 0 else len(html)]


def _plain(html: str) -> str:
    """Text of an HTML fragment with the number spans and tags taken out."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html)).replace("&#39;", "'")


# --------------------------------------------------------------------------- order and links
def test_parts_in_order_and_every_contents_link_resolves(rendered):
    _, html, _ = rendered
    page = _parse(html)
    assert page.parts == PARTS
    assert len(page.ids) == len(set(page.ids)), "ids are unique"
    assert page.links == ["#" + p for p in PARTS]
    assert all(link[1:] in page.ids for link in page.links)
    # every in-page link anywhere (e.g. a part's checks line to appendix B) resolves too
    for href in re.findall(r'href="#([^"]+)"', html):
        assert href in page.ids, href
    # the contents come right after the title, the brief right after the contents
    assert html.index("<h1>") < html.index('<nav class="contents"') < html.index('id="findings"')
    assert '<div class="brief">' in _part(html, "findings")


def test_each_hypothesis_part_reads_in_order(rendered):
    results, html, _ = rendered
    page = _parse(html)
    for h in results["hypotheses"]:
        headings = page.headings[f"hypothesis-{h['id']}"]
        assert headings[0][0] == "h2" and headings[0][1].startswith(f"{h['id']}. {h['title']}")
        assert [text for tag, text in headings if tag == "h3"] == SUBSECTIONS


def test_appendix_headings(rendered):
    _, html, _ = rendered
    page = _parse(html)
    titles = [page.headings[p][0][1] for p in PARTS[4:]]
    assert titles == ["Appendix A. Model tables", "Appendix B. Design checks",
                      "Appendix C. Group rates", "Appendix D. Methods, from the plan",
                      "Appendix E. Provenance and citation"]
    data = [text for tag, text in page.headings["data"] if tag == "h3"]
    assert data == ["Data ledger", "Data quality", "Coverage by court and fiscal year"]


def test_markdown_has_the_same_order(rendered):
    results, _, md = rendered
    headings = [line for line in md.splitlines() if re.match(r"#{1,3} ", line)]
    top = [line for line in headings if line.startswith("## ")]
    assert top == ["## Contents", "## Findings at a glance"] + [
        f"## {h['id']}. {h['title']}" for h in results["hypotheses"]] + [
        "## Data", "## Appendix A. Model tables", "## Appendix B. Design checks",
        "## Appendix C. Group rates", "## Appendix D. Methods, from the plan",
        "## Appendix E. Provenance and citation"]
    first = md[md.index("## H2."):md.index("## H5.")]
    assert [line[4:] for line in first.splitlines() if line.startswith("### ")] == SUBSECTIONS
    # every Markdown link into the page names an anchor the page sets
    anchors = set(re.findall(r'<a id="([^"]+)"></a>', md))
    for target in re.findall(r"\]\(#([^)]+)\)", md):
        assert target in anchors, target


# --------------------------------------------------------------------------- what goes where
def test_tests_split_between_primary_and_robustness(rendered):
    results, html, _ = rendered
    for h in results["hypotheses"]:
        part = _part(html, f"hypothesis-{h['id']}")
        primary_table = part[part.index("<h3>Primary estimate</h3>"):part.index("<h3>Robustness")]
        others_table = part[part.index("<h3>Robustness"):part.index("<h3>Sensitivity</h3>")]
        for t in h["tests"]:
            row = f"<tr><td>{t['id']} ({t['role']})</td>"
            where = primary_table if t["role"] == "primary" else others_table
            other = others_table if t["role"] == "primary" else primary_table
            assert where.count(row) == 1 and row not in other, t["id"]


def test_checks_summarised_in_one_line_and_listed_in_appendix_b(rendered):
    results, html, _ = rendered
    h2 = next(h for h in results["hypotheses"] if h["id"] == "H2")
    # the fixture: the placebo check (passed), a failed one, one that could not be run
    assert [c["passed"] for c in h2["checks"]] == [True, False, None]
    part = _plain(_part(html, "hypothesis-H2"))
    assert ("1 of 3 checks passed; failed: placebo date 2017-10-01 (granted): shifted "
            "(reported; does not change the verdict); 1 could not be run.") in part
    assert "p = " not in part.split("Checks", 1)[1].split("Limitations", 1)[0]
    assert "The plan has no design check for H5." in _plain(_part(html, "hypothesis-H5"))
    appendix = _plain(_part(html, "appendix-checks"))
    for h in results["hypotheses"]:
        for c in h["checks"]:
            assert c["name"] in appendix, c["name"]
    assert "placebo date 2017-10-01 (granted): shifted: statistic 2.5 (df 9), p = 0.034, FAILED" in appendix
    assert "reversal after the suspension: not estimable: no decision after." in appendix
    # the check names do not appear as a list anywhere in the main part
    main = html[:html.index('id="appendix-models"')]
    assert "placebo H2.placebo: quota_shortfall before the policy is zero" not in main


def test_appendix_a_holds_every_model_and_only_it_has_coefficient_tables(rendered):
    results, html, _ = rendered
    appendix = _part(html, "appendix-models")
    models = re.findall(r"<h3>([^<:]+): <code>", appendix)
    assert models == [m["name"] for m in results["models"]]
    coefficients = sum(len(m["coefficients"]) for m in results["models"])
    assert appendix.count("<tr><td><code>") == coefficients
    assert "<th>std. error</th>" not in html[:html.index('id="appendix-models"')]
    # the group tables are in appendix C, not in the hypotheses' parts
    assert html.count("<h3>granted by ") == _part(html, "appendix-group-rates").count("<h3>granted by ") == 2


def test_model_lines_name_the_cluster_in_words(audited, tmp_path):
    # "judge" for judge_id, as the models' own notes say it; only the suffix goes
    results = json.loads(json.dumps(audited))
    results["models"][0]["cluster"] = "idea_id_court_id"
    html, md = _render(results, tmp_path)
    for text in (html, md):
        assert re.search(r"\d(</span>)? judge clusters;", text)
        assert "idea id court clusters;" in text


def test_sensitivity_says_none_only_when_true(audited, rendered, tmp_path):
    results, html, _ = rendered
    none = "No sensitivity analysis applies to"
    for h in results["hypotheses"]:
        part = _plain(_part(html, f"hypothesis-{h['id']}"))
        assert (none in part) == (not h.get("sensitivity")), h["id"]
    held = copy.deepcopy(audited)
    h2 = next(h for h in held["hypotheses"] if h["id"] == "H2")
    h2["sensitivity"] = [{"analysis": "leave one court out", "estimate": -0.25}]
    i = held["hypotheses"].index(h2)
    html_held, md_held = _render(held, tmp_path / "held")
    part = _part(html_held, "hypothesis-H2")
    assert none not in _plain(part) and "analysis: leave one court out; estimate: -0.25" in _plain(part)
    assert (f'<span data-src="/hypotheses/{i}/sensitivity/0/estimate" data-fmt="fmt">-0.25</span>'
            in part)
    assert "- analysis: leave one court out; estimate: -0.25" in md_held


def test_coverage_table_shows_every_court_year(rendered):
    results, html, md = rendered
    cells = results["data"]["quality"]["by_court_year"]
    data = _part(html, "data")
    pointers = {src for src, _, _ in sourced_spans(data)}
    for i, _cell in enumerate(cells):
        assert f"/data/quality/by_court_year/{i}/n" in pointers
    years = sorted({c["fiscal_year"] for c in cells})
    header = "| court | " + " | ".join(f"FY{y}" for y in years) + " |"
    assert header in md


def test_coverage_tables_split_years_and_put_unknown_last():
    cells = [{"court_id": c, "fiscal_year": y, "n": 1} for c in ("B", "A") for y in range(1998, 2021)]
    cells += [{"court_id": None, "fiscal_year": 2000, "n": 2}, {"court_id": "A", "fiscal_year": None, "n": 3}]
    tables = coverage_tables({"data": {"quality": {"by_court_year": cells}}})
    # 23 known years and an unknown one: 10 + 10 + 4
    assert [t["years"] for t in tables] == [list(range(1998, 2008)), list(range(2008, 2018)),
                                            [2018, 2019, 2020, None]]
    assert [row["court"] for row in tables[0]["rows"]] == ["A", "B", None]
    assert tables[0]["rows"][2]["cells"][2] == {"court_id": None, "fiscal_year": 2000, "n": 2}
    assert tables[0]["rows"][2]["cells"][0] is None  # no decision there
    assert tables[2]["rows"][0]["cells"][3]["n"] == 3
    assert coverage_tables({"data": {}}) == []


# --------------------------------------------------------------------------- the methods appendix
def test_methods_appendix_is_rendered_from_the_plan(audited, rendered, tmp_path):
    _, html, md = rendered
    methods_html = _plain(_part(html, "appendix-methods"))
    assert "Intervals are at the 95% level" in methods_html
    assert "Benjamini-Hochberg adjustment across the primary family" in methods_html
    assert "max(0, 700 × (days since" in methods_html
    assert "over FY2015–FY2016" in methods_html
    assert "Cells with fewer than 30 decisions are suppressed" in methods_html
    assert "Judge-cluster bootstrap, 50 replicates" in methods_html
    assert ("test H2.primary (primary): post_policy:quota_shortfall on the log-odds scale; smallest "
            "effect of interest 0.05; concern sign negative") in methods_html
    assert "Not supported: the test's 95% interval excludes every effect" in methods_html

    changed = copy.deepcopy(audited)
    plan = changed["provenance"]["config"]
    plan["inference"].update(interval_level=0.9, adjustment="holm", alpha=0.01)
    plan["features"].update(quota_target=650, intensity_window=[2013, 2014])
    plan["disparities"]["min_cell"] = 45
    plan["hypotheses"]["H2"]["tests"][0]["sesoi"] = 0.07
    plan["inference"]["guard_margin"] = 1.5  # an option this version does not describe
    html2, md2 = _render(changed, tmp_path / "changed")
    methods2 = _plain(_part(html2, "appendix-methods"))
    for before, after in (("Intervals are at the 95% level", "Intervals are at the 90% level"),
                          ("Benjamini-Hochberg adjustment", "Holm adjustment"),
                          ("alpha = 0.05", "alpha = 0.01"),
                          ("max(0, 700 ×", "max(0, 650 ×"), ("FY2015–FY2016", "FY2013–FY2014"),
                          ("fewer than 30 decisions", "fewer than 45 decisions"),
                          ("(primary): post_policy:quota_shortfall on the log-odds scale; smallest "
                           "effect of interest 0.05", "(primary): post_policy:quota_shortfall on the "
                           "log-odds scale; smallest effect of interest 0.07")):
        assert before in methods_html and before not in methods2, before
        assert after in methods2 and after not in methods_html, after
    assert ('<dt>inference.guard_margin</dt><dd><span data-src="/provenance/config/inference/'
            'guard_margin" data-fmt="fmt">1.5</span></dd>') in _part(html2, "appendix-methods")
    assert "Other options of the plan" not in methods_html
    assert "Intervals are at the 90% level" in md2 and "Holm adjustment" in md2
    # the plan's interval level also names the interval columns of the report's tables (the
    # omitted-variable bounds name their own level, 1 - alpha, stored with them in results.json)
    assert ('<th><span data-src="/provenance/config/inference/interval_level" data-fmt="level">90%'
            '</span> interval</th>') in html2
    assert not re.search(r'data-src="(?!/hypotheses/\d+/sensitivity/)[^"]*" data-fmt="level">95%'
                         r'</span> interval', html2)
    # each plan number names its place in provenance.config
    spans = {(src, fmt_, text) for src, fmt_, text in sourced_spans(_part(html2, "appendix-methods"))}
    assert ("/provenance/config/inference/interval_level", "level", "90%") in spans
    assert ("/provenance/config/features/quota_target", "fmt", "650") in spans
    assert ("/provenance/config/features/intensity_window/0", "year", "2013") in spans
    assert ("/provenance/config/hypotheses/H2/tests/0/sesoi", "fmt", "0.07") in spans
    assert check_html(html2, changed) == []


def test_methods_as_data():
    plan = {"inference": {"interval_level": 0.99, "adjustment": "bh", "alpha": 0.05,
                          "cluster": "judge_id", "placebo_forces_inconclusive": False, "new": [1, 2]},
            "models": {"M": {"family": "ols", "outcome": "granted", "terms": ["a", "b:c"],
                             "fixed_effects": ["judge_id"], "sample": ["in_window"]}},
            "analyses": {"E": {"kind": "event_study", "outcome": "granted", "options": {"family": "ols"}}},
            "hypotheses": {"H": {"checks": ["E"], "tests": [
                {"id": "H.p", "role": "primary", "model": "M", "term": "b:c", "concern_sign": -1,
                 "sesoi": 0.5, "sesoi_reason": "why", "guard": "x"}]}},
            "surprise": True}
    results = {"provenance": {"config": plan},
               "hypotheses": [{"id": "H", "tests": [{"id": "H.p", "scale": "percentage-points"}]}]}
    m = methods(results)
    model, analysis = m.models
    assert (model.name, model.formula, model.fixed_effects, model.cluster, model.sample) == (
        "M", "granted ~ a + b:c", ("judge_id",), "judge_id", ("in_window",))
    assert [(t.id, t.term, t.scale, t.sesoi, t.concern) for t in model.tests] == [
        ("H.p", "b:c", "percentage-points", 0.5, "negative")]
    assert (analysis.kind, analysis.checked_by, analysis.options[0].label) == (
        "event_study", ("H",), "family")
    assert m.inference[0].text[1] == Num(0.99, "level")
    assert "force no verdict" in m.inference[3].text[0]
    assert [item.label for item in m.other] == ["surprise", "inference.new", "hypotheses.H.tests.H.p.guard"]
    assert m.features == () and m.disparities == ()


# --------------------------------------------------------------------------- safety and print
def test_labels_in_the_new_parts_are_escaped(audited, tmp_path):
    hostile = copy.deepcopy(audited)
    plan = hostile["provenance"]["config"]
    plan["disparities"]["reference"] = {"court_id": SCRIPT}
    plan["models"]["H5"]["sample"] = ["in_window", "<img src=x onerror=alert(1)>"]
    hostile["data"]["quality"]["by_court_year"][0]["court_id"] = "<b>x</b>|y"
    hostile["hypotheses"][0]["checks"][0]["name"] = "`a`|**b**"
    html, md = _render(hostile, tmp_path / "hostile")
    page = _parse(html)
    assert "script" not in page.tags and "b" not in page.tags
    assert all(src.startswith("data:image/png;base64,")
               for src in re.findall(r'<img [^>]*src="([^"]*)"', html))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in _part(html, "appendix-methods")
    assert "&lt;img src=x onerror=alert(1)&gt;" in _part(html, "appendix-methods")
    assert "&lt;b&gt;x&lt;/b&gt;|y" in _part(html, "data")
    assert "<script" not in md and "<b>" not in md
    # a plan name is shown in a code span, whose text Markdown never reads as HTML
    assert md.count("<img src=x") == md.count("`<img src=x onerror=alert(1)>`") == 1
    assert "| &lt;b&gt;x&lt;/b&gt;\\|y |" in md
    assert "\\`a\\`\\|\\*\\*b\\*\\*" in md
    # a Markdown table keeps its columns with the label in a cell
    coverage = md[md.index("### Coverage"):md.index("## Appendix A")]
    rows = [line for line in coverage.splitlines() if line.startswith("|")]
    pipes = {len(re.findall(r"(?<!\\)\|", line)) for line in rows}
    assert len(pipes) == 1


def test_every_number_is_sourced_and_agrees(rendered):
    results, html, _ = rendered
    assert check_html(html, results) == []
    spans = sourced_spans(html)
    assert len(spans) > 100
    # the interval level in the table headers and the plan numbers of appendix D are sourced
    pointers = {src for src, _, _ in spans}
    assert "/provenance/config/inference/interval_level" in pointers
    assert "/provenance/config/disparities/min_cell" in pointers


def test_print_css(rendered):
    _, html, _ = rendered
    style = html[html.index("<style>"):html.index("</style>")]
    assert "@page { size: letter; margin: 0.75in; }" in style
    printed = style[style.index("@media print"):]
    assert re.search(r"section\.part \{ break-before: page;", printed)
    assert "h2 { page-break-before" not in style  # not before every heading
    assert re.search(r"tr, [^{]*\{ break-inside: avoid;", printed)
    assert "thead { display: table-header-group; }" in printed
    assert re.search(r"figure img \{ max-width: 100%; max-height: [\d.]+in; \}", printed)


def test_level_formatter():
    from fairness_audit.report.numbers import format_named

    assert [format_named(v, "level") for v in (0.95, 0.9, 0.995, None)] == ["95%", "90%", "99.5%", "—"]
