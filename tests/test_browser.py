"""brief.html and report.html read as a person reads them: opened in a real browser (Debian's
Chromium, driven through the DevTools protocol by tests/browser.py).

For each page of the planted audit: no console error, log error or uncaught exception; no
request beyond the file itself and data: URLs; every image decoded and shown; the brief printed
with its own CSS page size on at most two US Letter pages; no sideways scrolling where the page
is meant to fit the window. The checks are first run on a page built to break each of them, so
that they are known to be able to fail. One browser serves the whole module; without one, the
module skips (CI installs it: .ci/run).
"""

from __future__ import annotations

import copy
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from browser import Browser, Page, find_browser

from fairness_audit.report import render
from fairness_audit.report.brief import (
    BRIEF_MAX_PAGES,
    brief_context,
    pdf_pages,
    substituted_fonts,
)
from fairness_audit.report.numbers import sourced

pytestmark = pytest.mark.skipif(
    find_browser() is None,
    reason="no Chromium found (chromium, chromium-browser or google-chrome on PATH): the pages "
           "are not opened in a browser; .ci/run installs Debian's chromium")

# the page sizes and widths below are those of the layout's fonts (Arial's and Times New Roman's
# widths: Debian's fonts-liberation); with wider ones in their place they are not the layout's
REPLACED_FONTS = substituted_fonts()
layout_fonts = pytest.mark.skipif(
    bool(REPLACED_FONTS),
    reason=f"this machine replaces {', '.join(REPLACED_FONTS)}: the printed and window "
           "widths are measured with the layout's fonts; install Debian's fonts-liberation "
           "(.ci/run does)")

DESKTOP, PHONE = 1280, 390  # window widths in CSS pixels: a laptop, a phone held upright
LETTER_POINTS = (612, 792)

# every image: complete, decoded to a non-empty bitmap, and drawn with a non-zero box
IMAGES = """Array.from(document.images, i => ({
  src: i.getAttribute('src').slice(0, 40), complete: i.complete, natural: i.naturalWidth,
  shown: i.getBoundingClientRect().width * i.getBoundingClientRect().height}))"""
# how far the page reaches beyond the window's right edge, and the first element that does
OVERFLOW = """(() => {
  const width = document.documentElement.clientWidth;
  const wide = Array.from(document.body.querySelectorAll('*'))
    .filter(e => e.getBoundingClientRect().right > width + 0.5)
    .map(e => e.tagName.toLowerCase() + (e.className ? '.' + e.className : ''));
  return {beyond: document.documentElement.scrollWidth - width, first: wide.slice(0, 3)};
})()"""


def problems(page: Page, own_url: str) -> list[str]:
    """What a reader of the page would meet: errors, exceptions, fetches, broken images."""
    found = []
    for event in page.named("Runtime.exceptionThrown"):
        details = event["exceptionDetails"]
        found.append(f"exception: {details.get('exception', {}).get('description') or details['text']}")
    for event in page.named("Runtime.consoleAPICalled"):
        if event["type"] in ("error", "assert"):
            words = " ".join(str(a.get("value", a.get("description", ""))) for a in event["args"])
            found.append(f"console {event['type']}: {words}")
    for event in page.named("Log.entryAdded"):
        if event["entry"]["level"] == "error":
            found.append(f"log error: {event['entry']['text']}")
    for event in page.named("Page.javascriptDialogOpening"):
        found.append(f"dialog: {event['message']}")
    for event in page.named("Network.requestWillBeSent"):
        url = event["request"]["url"]
        if url != own_url and not url.startswith("data:"):
            found.append(f"request: {url}")
    for image in page.evaluate(IMAGES):
        if not (image["complete"] and image["natural"] > 0 and image["shown"] > 0):
            found.append(f"image not rendered: {image}")
    return found


def _img_tags(path: Path) -> int:
    class Images(HTMLParser):
        count = 0

        def handle_starttag(self, tag, attrs):
            self.count += tag == "img"

    parser = Images()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser.count


@pytest.fixture(scope="module")
def browser():
    with Browser.start() as started:
        yield started


@pytest.fixture(scope="module")
def audit_folder(planted_results) -> Path:
    return planted_results[1]


@pytest.fixture(scope="module")
def opened(browser, audit_folder):
    """brief.html and report.html of the planted audit, each opened once at desktop width."""
    pages = {}
    for name in ("brief.html", "report.html"):
        url = (audit_folder / name).resolve().as_uri()
        pages[name] = (browser.open(url, width=DESKTOP), url)
    yield pages
    for page, _ in pages.values():
        page.close()


# ------------------------------------------------------------------------------ the checks fail
BROKEN = """<!doctype html><html><head><title>broken</title></head><body>
<img src="data:image/png;base64,AAAA" alt="not a PNG">
<img src="http://127.0.0.1:9/figure.png" alt="remote">
<table><tr><td style="white-space:nowrap">{wide}</td></tr></table>
<script>console.error("from the console"); throw new Error("thrown by the page");</script>
</body></html>"""


def test_each_check_catches_what_it_looks_for(browser, tmp_path):
    page_file = tmp_path / "broken.html"
    page_file.write_text(BROKEN.format(wide="x" * 400), encoding="utf-8")
    url = page_file.as_uri()
    page = browser.open(url, width=PHONE)
    try:
        # a dialog once the page has loaded (one during loading would hold the load up)
        page.evaluate("setTimeout(() => alert('a dialog'), 0), true")
        browser.wait_for(page, "Page.javascriptDialogOpening")
        page.send("Page.handleJavaScriptDialog", {"accept": True})  # else the page stays blocked
        found = problems(page, url)
        overflow = page.evaluate(OVERFLOW)
    finally:
        page.close()
    assert any(p.startswith("exception:") and "thrown by the page" in p for p in found), found
    assert "console error: from the console" in found
    assert "dialog: a dialog" in found
    assert any(p.startswith("log error: Failed to load resource") for p in found), found
    assert "request: http://127.0.0.1:9/figure.png" in found
    broken = [p for p in found if p.startswith("image not rendered:")]
    assert len(broken) == 2, found  # the undecodable one and the one that could not be fetched
    assert overflow["beyond"] > 0 and overflow["first"][0] == "table", overflow


# ------------------------------------------------------------------------------ the audit's pages
@pytest.mark.parametrize("name", ["brief.html", "report.html"])
def test_page_opens_without_errors_fetches_nothing_and_shows_every_image(opened, audit_folder, name):
    page, url = opened[name]
    assert problems(page, url) == []
    requests = [e["request"]["url"] for e in page.named("Network.requestWillBeSent")]
    assert requests[0] == url  # the file itself was loaded, through the recorded events
    images = page.evaluate(IMAGES)
    # every <img> of the file is in the page and drawn, each an embedded PNG
    assert len(images) == _img_tags(audit_folder / name) >= 1
    assert all(i["src"].startswith("data:image/png;base64,") for i in images), images
    assert page.evaluate("document.scripts.length") == 0  # nothing runs: the pages are documents


@pytest.mark.parametrize("name", ["brief.html", "report.html"])
def test_a_reader_sees_every_concern_with_its_verdict(opened, planted_results, name):
    results, _ = planted_results
    page, _ = opened[name]
    text = page.evaluate("document.body.innerText")
    for h in results["hypotheses"]:
        # the heading as it is drawn ("H2. Pressure shifts ..."), then its verdict
        heading = re.search(rf"{h['id']}\. {re.escape(h['title'])}\s*\n?\s*{re.escape(h['verdict'])}", text)
        assert heading, (h["id"], h["verdict"])


@layout_fonts
def test_brief_prints_on_at_most_two_letter_pages(opened, audit_folder):
    page, _ = opened["brief.html"]
    printed = page.print_pdf()  # the page's own @page size
    assert 1 <= pdf_pages(printed) <= BRIEF_MAX_PAGES
    assert re.search(rb"/MediaBox\s*\[\s*0 0 %d %d\s*\]" % LETTER_POINTS, printed)
    # the audit's own brief.pdf (printed by the chromium command line) agrees
    written = (audit_folder / "brief.pdf").read_bytes()
    assert 1 <= pdf_pages(written) <= BRIEF_MAX_PAGES


@layout_fonts
@pytest.mark.parametrize("width", [DESKTOP, PHONE])
def test_brief_fits_the_window_without_sideways_scrolling(browser, audit_folder, width):
    page = browser.open((audit_folder / "brief.html").resolve().as_uri(), width=width)
    try:
        assert page.evaluate(OVERFLOW) == {"beyond": 0, "first": []}
    finally:
        page.close()


@layout_fonts
def test_report_fits_a_desktop_window_without_sideways_scrolling(opened):
    page, _ = opened["report.html"]
    assert page.evaluate(OVERFLOW) == {"beyond": 0, "first": []}


def _printed_overflow(browser, path: Path, content_width: int) -> dict:
    """OVERFLOW with the print CSS, in a window as wide as the page's printed column: what
    is wider makes Chromium shrink the whole printout to fit."""
    page = browser.open(path.resolve().as_uri(), width=content_width)
    try:
        page.send("Emulation.setEmulatedMedia", {"media": "print"})
        return page.evaluate(OVERFLOW)
    finally:
        page.close()


@layout_fonts
def test_brief_prints_at_full_size(browser, audit_folder):
    # @page { size: letter; margin: 0.5in 0.6in }: 8.5 - 1.2 = 7.3 inches of 96 CSS pixels
    assert _printed_overflow(browser, audit_folder / "brief.html", 700) == {"beyond": 0, "first": []}


@layout_fonts
def test_report_prints_at_full_size(browser, audit_folder):
    # @page { size: letter; margin: 0.75in }: 8.5 - 1.5 = 7 inches of 96 CSS pixels
    assert _printed_overflow(browser, audit_folder / "report.html", 672) == {"beyond": 0, "first": []}


def test_hostile_labels_run_nothing_and_fetch_nothing_in_the_browser(browser, planted_results, tmp_path):
    results, _ = planted_results
    hostile = copy.deepcopy(results)
    h = hostile["hypotheses"][0]
    h["title"] = "<script>alert('title')</script>"
    h["concern"] = "<img src=http://127.0.0.1:9/x.png onerror=alert('concern')>"
    r = sourced(hostile)
    text = render._environment().get_template("brief.html.j2").render(
        brief=brief_context(r), embedded={}, r=r)
    page_file = tmp_path / "brief.html"
    page_file.write_text(text, encoding="utf-8")
    url = page_file.as_uri()
    page = browser.open(url, width=DESKTOP)
    try:
        assert problems(page, url) == []  # no dialog, no request, no error
        shown = page.evaluate("document.body.innerText")
    finally:
        page.close()
    assert "<script>alert('title')</script>" in shown  # shown as written, as text
    assert h["concern"] in shown
