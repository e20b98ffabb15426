"""No figure of a demo run is typed by hand in README.md or docs/*.md: each sits in a block
written by docs/demo_excerpt.py from docs/demo_results.json (the figures extracted from the
demo's output), and a fresh run of the demo must give that same extract."""

from __future__ import annotations

import doctest
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
REGENERATE = "make demo-docs (make demo, then python docs/demo_excerpt.py out/demo)"
# where each block must be, once
PLACES = {"demo:run": ["README.md"], "demo:h5": ["docs/disparities.md"],
          "demo:measured": ["docs/disparities.md"], "demo:judges": ["docs/judges.md"]}


sys.path.insert(0, str(ROOT / "docs"))
import marked_block  # noqa: E402  (docs/marked_block.py, which the scripts import)


def _excerpt():
    spec = importlib.util.spec_from_file_location("demo_excerpt", ROOT / "docs" / "demo_excerpt.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


excerpt = _excerpt()


def _screenshot():
    spec = importlib.util.spec_from_file_location("make_screenshot", ROOT / "docs" / "make_screenshot.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


screenshot = _screenshot()


def _quoted() -> dict:
    return json.loads(excerpt.EXTRACT.read_text(encoding="utf-8"))


# ------------------------------------------------------------------------------ the blocks
def test_every_block_is_what_the_committed_extract_renders():
    rendered = excerpt.blocks(_quoted())
    assert set(rendered) == set(PLACES)
    assert excerpt.stale(ROOT, rendered) == [], f"rerun: {REGENERATE}"
    for name, docs in PLACES.items():
        for doc in excerpt.DOCUMENTS:
            text = (ROOT / doc).read_text(encoding="utf-8")
            begin, end = marked_block.markers(name)
            expected = 1 if doc in docs else 0
            assert (text.count(begin), text.count(end)) == (expected, expected), (doc, name)
            if expected:
                assert marked_block.contents(text, name) == [rendered[name]]


def test_the_places_that_quote_one_test_agree():
    """The README's H5 line, the H5 note and the measured table quote the same numbers and
    verdict (a hand edit of one of them once gave H5 the opposite verdict)."""
    q = _quoted()
    h5 = q["h5"][0]
    assert h5["role"] == "primary" and h5["term"] == "post_policy:unrepresented"
    line = next(f for f in q["findings"] if f.startswith("H5 "))
    assert f": {h5['verdict']}: {h5['term']} = {h5['estimate']} percentage-points " \
           f"[{h5['ci_low']}, {h5['ci_high']}]" in line
    blocks = excerpt.blocks(q)
    assert f"the audit finds {h5['estimate']} [{h5['ci_low']}, {h5['ci_high']}], \"{h5['verdict']}\"" \
        in blocks["demo:h5"]
    assert (f"| H5 `{h5['term']}` (points) | {h5['estimate']} | {h5['ci_low']} to {h5['ci_high']} | "
            f"{h5['target']} | {h5['verdict']} |") in blocks["demo:measured"]
    h6 = q["h6"][0]
    line6 = next(f for f in q["findings"] if f.startswith("H6 "))
    assert f": {h6['verdict']}: {h6['term']} = {h6['estimate']} percentage-points" in line6
    # the judges command reads the same table: its rows read are the demo's decisions
    assert f"{q['decisions']:,} rows read" in q["judges"]["lines"][1]


SAMPLE = {
    "command": "fairness-audit run configs/demo.yaml", "decisions": 1234, "findings": ["H1 t: v"],
    "summary": {"decisions": 1000, "judges": 5, "courts": 2, "first_fiscal_year": 2017,
                "last_fiscal_year": 2021},
    "h5": [{"hypothesis": "H5", "term": "a:b", "estimate": "-1.5", "ci_low": "-2", "ci_high": "-1",
            "std_error": "0.25", "target": "-1.4", "verdict": "consistent with the concern",
            "role": "primary"}],
    "h6": [{"hypothesis": "H6", "term": "tau", "estimate": "9", "ci_low": "5", "ci_high": "13",
            "std_error": "2", "target": "8", "verdict": "not supported", "role": "supporting"}],
    "h6_asymptotic_se": "1.9",
    "representation_gap": {"raw": "-30.0", "adjusted": "-28.0", "explained": "-2.0",
                           "controls": "-1.5", "fixed_effects": "-0.5"},
    "group_rate_coverage": {"covered": 9, "checked": 10}, "disparity_rows": 1500,
    "judges": {"lines": ["wrote x", "  1,234 rows read"], "rows_shown": 5, "rows_hidden": 1,
               "judge_years": 25, "judge_year_rates_shown": 24},
}


def test_the_blocks_render_as_written_here():
    b = excerpt.blocks(SAMPLE)
    assert b["demo:h5"] == ('On the demo (`fairness-audit run configs/demo.yaml`) the target of `a:b` '
                            '(truth.json) is -1.4 points; the audit finds -1.5 [-2, -1], '
                            '"consistent with the concern".\n')
    measured = b["demo:measured"].splitlines()
    assert measured[0] == ("The demo (`make demo`, that is `fairness-audit run configs/demo.yaml`: "
                           "1,234 simulated decisions, 1,000 of them in the analysis window, 2 courts, "
                           "5 judges):")
    assert measured[4] == "| H5 `a:b` (points) | -1.5 | -2 to -1 | -1.4 | consistent with the concern |"
    assert measured[5] == "| H6 `tau` (points) | 9 | 5 to 13 | 8 | not supported (supporting) |"
    assert ("raw -30.0 points, adjusted -28.0, explained -2.0 (controls -1.5, "
            "judges/nationality/timing -0.5)") in measured[7]
    assert "in 9 of 10 cells shown" in measured[7] and "1,500 group rows" in measured[7]
    run = b["demo:run"].splitlines()
    assert run[:3] == ["```", "$ fairness-audit run configs/demo.yaml", "wrote out/demo/data/court.parquet"]
    assert run[-2:] == ["  H1 t: v", "```"]
    assert b["demo:judges"].endswith("(`summary.json`: 5 judge x court rows shown, 1 hidden; "
                                     "25 judge-years, 24 rates shown.)\n")


def test_a_hand_edit_inside_a_block_is_found(tmp_path):
    rendered = excerpt.blocks(SAMPLE)
    begin, end = marked_block.markers("demo:h5")
    text = f"before\n{begin}\nold words\n{end}\nafter\n"
    new = excerpt.replace_blocks(text, rendered)
    assert new == f"before\n{begin}\n{rendered['demo:h5']}{end}\nafter\n"
    assert marked_block.contents(new, "demo:h5") == [rendered["demo:h5"]]
    for doc in excerpt.DOCUMENTS:
        (tmp_path / doc).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / doc).write_text("", encoding="utf-8")
    (tmp_path / "docs/disparities.md").write_text(new.replace("-1.5", "+0.9"), encoding="utf-8")
    problems = excerpt.stale(tmp_path, rendered)
    assert "docs/disparities.md: block demo:h5 is not what demo_results.json renders" in problems
    assert "block demo:run: in none of README.md, docs/disparities.md, docs/judges.md" in problems


def test_the_block_writer_replaces_every_copy_and_nothing_else(tmp_path):
    """docs/marked_block.py, which every script that writes figures into the docs uses: the
    block's text replaced, every copy of it, the rest untouched; a check writes nothing; a page
    without the block is an error naming both."""
    begin, end = marked_block.markers("x")
    page = tmp_path / "page.md"
    page.write_text(f"a\n{begin}\nold\n{end}\nb\n{begin}\nold\n{end}\n", encoding="utf-8")
    assert not marked_block.is_current(page, "x", "new\n")
    assert "new" not in page.read_text(encoding="utf-8")
    assert marked_block.write(page, "x", "new\n")
    assert page.read_text(encoding="utf-8") == f"a\n{begin}\nnew\n{end}\nb\n{begin}\nnew\n{end}\n"
    assert marked_block.is_current(page, "x", "new\n")
    assert not marked_block.write(page, "x", "new\n")
    assert marked_block.contents(page.read_text(encoding="utf-8"), "x") == ["new\n", "new\n"]
    assert not marked_block.update(page, {"x": "newer\n"}, check=True)
    assert marked_block.update(page, {"x": "newer\n"}) and marked_block.is_current(page, "x", "newer\n")
    assert doctest.testmod(marked_block).failed == 0
    with pytest.raises(SystemExit, match="page.md: expected a block <!-- y:begin -->"):
        marked_block.write(page, "y", "new\n")
    page.write_text(f"{begin}\nno end\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="page.md: expected a block"):
        marked_block.write(page, "x", "new\n")


# ------------------------------------------------------------------------------ the printed report
def test_the_print_block_is_what_the_committed_page_ranges_render():
    printed = json.loads(screenshot.PRINTED.read_text(encoding="utf-8"))
    text = (ROOT / "docs" / "report.md").read_text(encoding="utf-8")
    assert marked_block.contents(text, screenshot.BLOCK) == [screenshot.print_block(printed)], \
        "rerun: make screenshot"
    # the ranges tile the document: from page 1 to the last, each part after the one before
    parts = printed["parts"]
    assert parts[0]["first"] == 1 and parts[-1]["last"] == printed["pages"]
    assert all(b["first"] == a["last"] + 1 for a, b in zip(parts, parts[1:], strict=False))
    assert all(p["first"] <= p["last"] for p in parts)
    assert (ROOT / "docs" / "images" / "brief.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_page_ranges_read_from_a_nested_page_tree():
    # a page tree of two levels, pages in the order of the kids, one name with a #xx escape
    pdf = (b"1 0 obj\n<</Type /Catalog\n/Pages 2 0 R\n/Dests 9 0 R>>\nendobj\n"
           b"2 0 obj\n<</Type /Pages\n/Count 3\n/Kids [3 0 R 4 0 R]>>\nendobj\n"
           b"3 0 obj\n<</Type /Pages\n/Count 2\n/Kids [6 0 R 5 0 R]>>\nendobj\n"
           b"4 0 obj\n<</Type /Page>>\nendobj\n5 0 obj\n<</Type /Page>>\nendobj\n"
           b"6 0 obj\n<</Type /Page>>\nendobj\n"
           b"9 0 obj\n<</findings [6 0 R /XYZ 0 792 0]\n/a#2Db [5 0 R /XYZ 0 780 0]\n"
           b"/data [4 0 R /XYZ 0 780 0]>>\nendobj\n")
    assert screenshot.destination_pages(pdf) == (3, {"findings": 1, "a-b": 2, "data": 3})
    block = screenshot.print_block({"browser": "Chromium 1", "pages": 5, "parts": [
        {"part": "contents", "first": 1, "last": 1}, {"part": "findings", "first": 2, "last": 3},
        {"part": "hypothesis-H1", "first": 4, "last": 4}, {"part": "appendix-x", "first": 5, "last": 5}]})
    assert block == ("With Chromium 1 the demo's report.html prints on 5 pages: the title and contents "
                     "(page 1), the brief (pages 2-3), H1 (page 4), appendix-x (page 5).\n")


# ------------------------------------------------------------------------------ drift
def test_a_fresh_demo_run_gives_the_committed_extract(tmp_path):
    """`fairness-audit run configs/demo.yaml` into a temporary folder: what it prints and the
    figures extracted from what it writes are the ones the docs quote."""
    config = yaml.safe_load(excerpt.DEMO_CONFIG.read_text(encoding="utf-8"))
    config["plan"] = str((excerpt.DEMO_CONFIG.parent / config["plan"]).resolve())
    config["out"] = str(tmp_path / "demo")
    (tmp_path / "demo.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "fairness_audit", "run", str(tmp_path / "demo.yaml"),
                           "--quiet"], capture_output=True, text=True, cwd=tmp_path,
                          env={**os.environ, "CI": "1"})
    assert done.returncode == 0, done.stderr
    quoted = _quoted()
    printed = [line.strip() for line in done.stdout.splitlines() if not line.startswith("wrote ")]
    assert printed == quoted["findings"], f"the demo's verdicts changed; rerun: {REGENERATE}"
    fresh = excerpt.extract(tmp_path / "demo")
    assert fresh == quoted, f"the demo's figures changed; rerun: {REGENERATE}"


def test_the_extract_refuses_another_run(tmp_path):
    (tmp_path / "report").mkdir()
    (tmp_path / "data").mkdir()
    other = {"provenance": {"source": {"kind": "simulate", "seed": 11}}}
    (tmp_path / "report" / "results.json").write_text(json.dumps(other), encoding="utf-8")
    (tmp_path / "data" / "court.truth.json").write_text("{}", encoding="utf-8")
    (tmp_path / "data" / "court.parquet").write_bytes(b"")
    with pytest.raises(SystemExit, match="expected a run of demo.yaml \\(a simulation, seed 20181001\\), "
                                         "found source {'kind': 'simulate', 'seed': 11}"):
        excerpt.extract(tmp_path)
    (tmp_path / "data" / "court.truth.json").unlink()
    with pytest.raises(SystemExit, match=r"court.truth.json: not found \(the demo.s truth\); run `make"):
        excerpt.extract(tmp_path)
