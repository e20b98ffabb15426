"""Picture the demo's brief, and count the pages of its printed report, with headless Chromium.

``make screenshot`` (after ``make demo``) runs::

    python docs/make_screenshot.py out/demo

It writes

- ``docs/images/brief.png``: the top of ``out/demo/report/brief.html`` as a browser window of
  850 x 1100 CSS pixels (the proportions of a US Letter page) shows it, at two device pixels per
  CSS pixel so that it stays sharp on a high-density screen, reduced to 64 colours (a third of
  the bytes, no visible change on a page of text and flat colours);
- ``docs/demo_print.json`` and the block ``demo:print`` of docs/report.md: the pages of
  ``report.html`` printed by ``chromium --print-to-pdf`` (the page's own US Letter size) and the
  page on which each part starts, read from the PDF's named destinations (every part has an
  ``id`` and the contents link to it, so Chromium records the page of each).

Both depend on the browser and its fonts; neither is part of ``make test``
(tests/test_docs_numbers.py checks that the block is what docs/demo_print.json renders).

Example
-------
>>> parts = print_pages(Path("out/demo/report/report.html"))  # doctest: +SKIP
>>> parts["pages"]  # doctest: +SKIP
60
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs"))
import marked_block  # noqa: E402

IMAGE = ROOT / "docs" / "images" / "brief.png"
PRINTED = ROOT / "docs" / "demo_print.json"
REPORT_DOC = ROOT / "docs" / "report.md"
BLOCK = "demo:print"
WINDOW = (850, 1100)  # CSS pixels: 8.5 x 11 at 100 pixels per inch
SCALE = 2
COLOURS = 64
TIMEOUT = 180  # seconds per browser run
# the parts of report.html by id, as docs/report.md names them
PART_NAMES = {"findings": "the brief", "data": "the data", "appendix-models": "A model tables",
              "appendix-checks": "B design checks", "appendix-group-rates": "C group rates",
              "appendix-methods": "D methods", "appendix-provenance": "E provenance"}


def _browser() -> str:
    from fairness_audit.report.brief import CHROMIUM_NAMES, find_chromium

    found = find_chromium()
    if found is None:
        raise SystemExit(f"no Chromium found (looked for {', '.join(CHROMIUM_NAMES)}); install "
                         f"Debian's 'chromium'")
    return found


def _chromium(*args: str) -> None:
    """Run headless Chromium with a throwaway profile; stop with its error if it fails."""
    with tempfile.TemporaryDirectory(prefix="screenshot-chromium-") as profile:
        command = [_browser(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                   "--no-first-run", "--disable-extensions", f"--user-data-dir={profile}", *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed (exit code {done.returncode}): {done.stderr[-500:]}")


def browser_version() -> str:
    """The browser's own words for its version ("Chromium 156.0.8078.114 built on ...")."""
    done = subprocess.run([_browser(), "--version"], capture_output=True, text=True, timeout=60)
    return done.stdout.strip()


def screenshot(page: Path, png: Path) -> None:
    """The top of ``page`` as a reader's window shows it (WINDOW, SCALE), in COLOURS colours."""
    from PIL import Image  # matplotlib's own dependency: no extra package

    with tempfile.TemporaryDirectory(prefix="screenshot-") as tmp:
        raw = Path(tmp) / "raw.png"
        _chromium(f"--window-size={WINDOW[0]},{WINDOW[1]}", f"--force-device-scale-factor={SCALE}",
                  f"--screenshot={raw}", page.resolve().as_uri())
        with Image.open(raw) as image:
            # no dithering: text and flat colours stay clean
            reduced = image.convert("RGB").quantize(colors=COLOURS, method=Image.Quantize.MEDIANCUT,
                                                    dither=Image.Dither.NONE)
        png.parent.mkdir(parents=True, exist_ok=True)
        reduced.save(png, optimize=True)


# ------------------------------------------------------------------------------ the printed report
def _object(pdf: bytes, number: int) -> bytes:
    found = re.search(rb"(?:^|\n)%d 0 obj\s*(.*?)\s*endobj" % number, pdf, re.S)
    if found is None:
        raise SystemExit(f"the PDF has no object {number} (compressed objects are not read here)")
    return found.group(1)


def _pages_in_order(pdf: bytes, node: int) -> list[int]:
    """The page objects under a page-tree node, in reading order."""
    body = _object(pdf, node)
    if re.search(rb"/Type\s*/Pages\b", body):
        kids = re.search(rb"/Kids\s*\[(.*?)\]", body, re.S).group(1)
        return [page for kid in re.findall(rb"(\d+) 0 R", kids) for page in _pages_in_order(pdf, int(kid))]
    return [node]


def _name(raw: bytes) -> str:
    """A PDF name with its #xx escapes read."""
    return re.sub(r"#([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)), raw.decode("latin-1"))


def destination_pages(pdf: bytes) -> tuple[int, dict[str, int]]:
    """The number of pages and the page (from 1) of each named destination of a PDF that
    Chromium printed (objects uncompressed, ``/Dests`` in the catalog).

    Example
    -------
    >>> pdf = (b"1 0 obj\\n<</Type /Catalog /Pages 2 0 R /Dests 5 0 R>>\\nendobj\\n"
    ...        b"2 0 obj\\n<</Type /Pages /Kids [3 0 R 4 0 R] /Count 2>>\\nendobj\\n"
    ...        b"3 0 obj\\n<</Type /Page>>\\nendobj\\n4 0 obj\\n<</Type /Page>>\\nendobj\\n"
    ...        b"5 0 obj\\n<</a-1 [4 0 R /XYZ 0 792 0]>>\\nendobj\\n")
    >>> destination_pages(pdf)
    (2, {'a-1': 2})
    """
    catalog = re.search(rb"/Type\s*/Catalog\b(.*?)>>\s*endobj", pdf, re.S)
    if catalog is None:
        raise SystemExit("the PDF has no catalog this script can read")
    root = int(re.search(rb"/Pages\s+(\d+) 0 R", catalog.group(0)).group(1))
    order = {page: i + 1 for i, page in enumerate(_pages_in_order(pdf, root))}
    dests = re.search(rb"/Dests\s+(\d+) 0 R", catalog.group(0))
    if dests is None:
        return len(order), {}
    body = _object(pdf, int(dests.group(1)))
    return len(order), {_name(name): order[int(page)]
                        for name, page in re.findall(rb"/([^\s/\[\]<>()]+)\s*\[\s*(\d+) 0 R", body)}


class _Parts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section" and "part" in (attrs.get("class") or "").split() and attrs.get("id"):
            self.ids.append(attrs["id"])


def print_pages(report: Path) -> dict[str, Any]:
    """Print ``report`` (report.html) with Chromium; return its pages and each part's range."""
    parser = _Parts()
    parser.feed(report.read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory(prefix="screenshot-print-") as tmp:
        pdf_path = Path(tmp) / "report.pdf"
        _chromium("--no-pdf-header-footer", f"--print-to-pdf={pdf_path}", report.resolve().as_uri())
        pdf = pdf_path.read_bytes()
    total, starts = destination_pages(pdf)
    missing = [part for part in parser.ids if part not in starts]
    if missing:
        raise SystemExit(f"{report}: the printed PDF names no page for the parts {missing}")
    firsts = [starts[part] for part in parser.ids]
    lasts = [following - 1 for following in firsts[1:]] + [total]
    parts = [{"part": "contents", "first": 1, "last": firsts[0] - 1}]
    parts += [{"part": part, "first": first, "last": last}
              for part, first, last in zip(parser.ids, firsts, lasts, strict=True)]
    return {"browser": browser_version(), "pages": total, "parts": parts}


def _range(part: dict[str, Any]) -> str:
    first, last = part["first"], part["last"]
    return f"page {first}" if first == last else f"pages {first}-{last}"


def print_block(printed: dict[str, Any]) -> str:
    """The sentence docs/report.md gives for the printed report (Markdown, ends in a newline)."""
    named = []
    for part in printed["parts"]:
        name = ("the title and contents" if part["part"] == "contents"
                else PART_NAMES.get(part["part"], part["part"].removeprefix("hypothesis-")))
        named.append(f"{name} ({_range(part)})")
    return (f"With {printed['browser']} the demo's report.html prints on {printed['pages']} pages: "
            f"{', '.join(named)}.\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("demo", nargs="?", type=Path, default=ROOT / "out" / "demo",
                    help="the demo's folder (default out/demo, written by `make demo`)")
    args = ap.parse_args(argv)
    report = args.demo / "report"
    results = report / "results.json"
    if not results.exists():
        raise SystemExit(f"{results}: not found; run `make demo` first")
    source = json.loads(results.read_text(encoding="utf-8"))["provenance"].get("source") or {}
    if source.get("kind") != "simulate":
        raise SystemExit(f"{results}: expected the demo's audit of a simulation, found source {source}")
    screenshot(report / "brief.html", IMAGE)
    print(f"wrote {IMAGE.relative_to(ROOT)}")
    printed = print_pages(report / "report.html")
    PRINTED.write_text(json.dumps(printed, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {PRINTED.relative_to(ROOT)}")
    if marked_block.write(REPORT_DOC, BLOCK, print_block(printed)):
        print(f"wrote {REPORT_DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
