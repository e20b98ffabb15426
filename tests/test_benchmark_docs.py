"""The README and docs/performance.md quote the whole-audit benchmark exactly as it last wrote
its results (benchmarks/results/bench_audit.json): no figure is typed by hand."""

from __future__ import annotations

import importlib.util
import json
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
