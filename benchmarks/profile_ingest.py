"""Where the raw EOIR ingest spends its time: every DuckDB statement of one ingest, timed.

Runs ``fairness_audit.ingest.eoir.ingest_eoir`` once on a release (a benchmark release of
``bench_ingest.py``, or a real one) with its progress lines stamped with the seconds since the
start, then lists the slowest statements and the time outside them (the data-quality counts,
Python, writing the outputs). It times the statements the ingest sends through its one
``sql`` method; a statement's time includes the reading of a file when the statement reads
one. Usage::

    python benchmarks/profile_ingest.py benchmarks/data/eoir_2026_x1 --out /tmp/profile
    python benchmarks/profile_ingest.py RELEASE --out DIR --memory-limit 4GB --top 20

Run it on an idle machine: the figures are wall times.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from fairness_audit.ingest import eoir


@contextlib.contextmanager
def statements_seen(record: Callable[[float, str], None]) -> Iterator[None]:
    """While inside, every statement an ingest sends through its one ``sql`` method is passed
    to ``record`` with its wall seconds (benchmarks/ingest_alternatives.py takes the statements
    this way too)."""
    original = eoir._Ingest.sql

    def sql(self, query, params=None):
        start = time.perf_counter()
        result = original(self, query, params)
        record(time.perf_counter() - start, query)
        return result

    eoir._Ingest.sql = sql
    try:
        yield
    finally:
        eoir._Ingest.sql = original


def profile(release: Path, out: Path, *, memory_limit: str | None = None,
            top: int = 15) -> list[str]:
    """Ingest ``release`` into ``out`` and return the report's lines."""
    timed: list[tuple[float, str]] = []
    t0 = time.perf_counter()
    lines: list[str] = []

    def say(message: str) -> None:
        line = f"{time.perf_counter() - t0:7.1f} s  {message}"
        lines.append(line)
        print(line, flush=True)

    options = eoir.load_options(
        {"engine": {"memory_limit": memory_limit}} if memory_limit else None)
    with statements_seen(lambda seconds, query: timed.append((seconds, " ".join(query.split())))):
        eoir.ingest_eoir(release, out / "eoir.parquet", work_dir=out / "work", progress=say,
                         options=options)
    total = time.perf_counter() - t0
    in_sql = sum(t for t, _ in timed)
    lines += ["", f"whole ingest: {total:.1f} s; {len(timed)} statements: {in_sql:.1f} s; "
              f"outside them: {total - in_sql:.1f} s", "", f"the {top} slowest statements:"]
    lines += [f"{t:7.2f} s  {q[:100]}" for t, q in sorted(timed, reverse=True)[:top]]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("release", type=Path, help="a release folder or zip")
    parser.add_argument("--out", type=Path, required=True,
                        help="folder for the ingest's outputs and work files")
    parser.add_argument("--memory-limit", help="DuckDB's memory limit (default: the config's)")
    parser.add_argument("--top", type=int, default=15, help="statements listed")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    lines = profile(args.release, args.out, memory_limit=args.memory_limit, top=args.top)
    print("\n".join(lines[lines.index(""):]))


if __name__ == "__main__":
    main()
