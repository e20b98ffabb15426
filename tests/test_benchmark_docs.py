"""The README and docs/performance.md quote the whole-audit benchmark exactly as it last wrote
its results (benchmarks/results/bench_audit.json): no figure is typed by hand."""

from __future__ import annotations

import importlib.util
import json
import statistics
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _bench():
    spec = importlib.util.spec_from_file_location("bench_audit", ROOT / "benchmarks" / "bench_audit.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_and_performance_docs_quote_the_benchmark_results():
    bench = _bench()
    result = json.loads((ROOT / "benchmarks" / "results" / "bench_audit.json").read_text())
    assert bench.readme_rows(result) in (ROOT / "README.md").read_text()
    assert bench.markdown(result) in (ROOT / "docs" / "performance.md").read_text()
    assert (ROOT / "benchmarks" / "results" / "bench_audit.md").read_text() == bench.markdown(result)


def _bench_ingest():
    spec = importlib.util.spec_from_file_location("bench_ingest", ROOT / "benchmarks" / "bench_ingest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_and_performance_docs_quote_the_ingest_benchmark_results():
    bench = _bench_ingest()
    results = json.loads((ROOT / "benchmarks" / "results" / "bench_ingest.json").read_text())
    # keyed by size; only full-size runs are recorded here
    assert set(results) <= {"2021", "2026"}
    assert all(entry["scale"] == 1.0 and entry["size"] == size for size, entry in results.items())
    assert bench.readme_block(results) in (ROOT / "README.md").read_text()
    assert bench.markdown(results) in (ROOT / "docs" / "performance.md").read_text()
    assert (ROOT / "benchmarks" / "results" / "bench_ingest.md").read_text() == bench.markdown(results)
    # the whole block between the markers is the generated text, nothing typed beside it
    for path, expected in ((ROOT / "README.md", bench.readme_block(results)),
                           (ROOT / "docs" / "performance.md", bench.markdown(results))):
        text = path.read_text()
        assert text.count(bench.DOCS_BEGIN) == 1 and text.count(bench.DOCS_END) == 1
        assert text.split(bench.DOCS_BEGIN, 1)[1].split(bench.DOCS_END, 1)[0] == f"\n{expected}"


def _alternatives():
    spec = importlib.util.spec_from_file_location(
        "ingest_alternatives", ROOT / "benchmarks" / "ingest_alternatives.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_performance_docs_quote_the_ingest_alternatives_as_last_measured():
    alt = _alternatives()
    result = json.loads(alt.RESULTS.read_text())
    assert list(result["seconds"]) == list(alt.ORDER)
    text = (ROOT / "docs" / "performance.md").read_text()
    assert alt.marked_block.contents(text, alt.BLOCK) == [alt.markdown(result)]
    assert alt.RESULTS.with_suffix(".md").read_text() == alt.markdown(result)
    # the order the page's reading of the table states
    median = {name: statistics.median(values) for name, values in result["seconds"].items()}
    assert median["read"] < median["store the text"] < median["type and store (the ingest)"]
    assert median["the ingest's path"] < median["the path without rows"]
