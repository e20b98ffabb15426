"""Would the ingest be faster without its staged tables? One large table read five ways, timed.

The ingest reads each large file once into a typed, staged table (``t_<relation>``: every used
column typed, the flags of unreadable values, the key's text where it is not its digits) and
reads that table again for the duplicate-key check, the set-aside rows, the ledger and the
aggregates. At the 2026 size that first step alone costs about three times the fair baseline
(docs/performance.md). This script asks whether keeping fewer rows would help: it takes one
table of a release (default ``tbl_schedule``, the largest), copies its first ``--rows`` rows
into a file of the same layout, and times, with the ingest's engine settings
(``eoir.engine_connection``) and the median of ``--repeat`` runs each:

1. **read**: the fair baseline's reading of that file (``bench_ingest.fair_baseline_queries``:
   the ingest's reader, a count and the longest value of each used column);
2. **store the text**: the used columns' text (trimmed, as the ingest stages it) stored in a
   table, nothing typed: the least any design that keeps the rows pays;
3. **type and store (the ingest)**: the ingest's own statement that writes ``t_<relation>``,
   taken from an ingest of a small sample of the release (the statement does not depend on
   the rows);
4. **type, one row per key**: the same typed rows, stored as one row per key (count, hashes of
   the values, the values): what a duplicate check needs, without the rows;
5. **type, one row per parent**: the same typed rows aggregated per parent key (the
   proceeding for the schedule): what the decisions table needs, without the rows.

Usage::

    python benchmarks/ingest_alternatives.py benchmarks/data/eoir_2026_x1
    python benchmarks/ingest_alternatives.py RELEASE --table B_TblProceeding --rows 3000000

It writes benchmarks/results/ingest_alternatives.json and .md, and the table between the
``ingest_alternatives`` markers of docs/performance.md (``--no-write``: print only). Run it on an
idle machine: the figures are wall times.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import duckdb

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "docs"))
import bench_ingest  # noqa: E402
import marked_block  # noqa: E402

from fairness_audit.ingest import eoir, raw  # noqa: E402

RESULTS = HERE / "results" / "ingest_alternatives.json"
DOCS = HERE.parent / "docs" / "performance.md"
BLOCK = "ingest_alternatives"
SAMPLE_OTHERS = 20_000  # rows of the other tables in the sample whose statements are taken


def _head(source: Path, target: Path, rows: int) -> int:
    """Copy the header and the first ``rows`` data lines of ``source``; return the lines."""
    n = 0
    with source.open("rb") as src, target.open("wb") as out:
        out.write(src.readline())
        for line in src:
            if n == rows:
                break
            out.write(line)
            n += 1
    return n


def sample_release(release: Path, folder: Path, table: str, rows: int) -> int:
    """A release in ``folder``: ``table``'s first ``rows`` rows, the others' first
    SAMPLE_OTHERS (no row-count file). Returns the rows of ``table`` copied."""
    copied = 0
    for name, path in raw.locate_tables(release, eoir.TABLES).items():
        if path.suffix.lower() in (".gz", ".zip"):
            raise SystemExit(f"{path}: expected an uncompressed table file (a benchmark release)")
        n = _head(path, folder / path.name, rows if name == table else SAMPLE_OTHERS)
        copied = n if name == table else copied
    return copied


def ingest_statements(folder: Path, work: Path) -> list[str]:
    """Every statement an ingest of ``folder`` sends through ``_Ingest.sql``, in order."""
    sent: list[str] = []
    original = eoir._Ingest.sql

    def sql(self, query, params=None):
        sent.append(query)
        return original(self, query, params)

    eoir._Ingest.sql = sql
    try:
        eoir.ingest_eoir(folder, work / "sample.parquet", work_dir=work / "work",
                         progress=lambda message: None)
    finally:
        eoir._Ingest.sql = original
    return sent


ORDER = ("read", "store the text", "type and store (the ingest)", "type, one row per key",
         "type, one row per parent")


def prepare(con, statements: list[str], spec: eoir.TableSpec, folder: Path) -> dict[str, str]:
    """Stage ``spec``'s file of ``folder`` on ``con`` as the ingest does (its macros, the
    view ``src_<relation>``) and return the five statements to time, by name (ORDER)."""
    rel = eoir.RELATION[spec.name]
    macros = next(s for s in statements if "MACRO fa_date" in s)
    con.execute(macros.split("CREATE OR REPLACE TABLE set_aside")[0])
    raw.stage_table(con, raw.open_table(spec, raw.locate_tables(folder, [spec])[spec.name]), rel)
    store = next(s for s in statements
                 if s.lstrip().startswith(f"CREATE OR REPLACE TABLE t_{rel} AS"))
    typed = store.split(" AS ", 1)[1]
    columns = [c[0] for c in con.execute(f"DESCRIBE ({typed})").fetchall()]
    values = [c for c in columns if c not in ("_k", "_reason", *raw.SET_APART_COLUMNS)]
    quoted = ", ".join(f'"{c}"' for c in values)
    parent = eoir.FOREIGN_KEYS[spec.name][0]
    return {
        "read": next(q for name, q, _ in bench_ingest.fair_baseline_queries(folder)
                     if name == spec.name),
        "store the text": f"CREATE OR REPLACE TABLE x AS SELECT * FROM src_{rel}",
        "type and store (the ingest)": store,
        "type, one row per key": (
            f"CREATE OR REPLACE TABLE x AS SELECT _k, count(*) AS n, min(hash({quoted})) AS "
            f"h_min, max(hash({quoted})) AS h_max, "
            + ", ".join(f'any_value("{c}") AS "{c}"' for c in values)
            + f" FROM ({typed}) GROUP BY _k"),
        "type, one row per parent": (
            f"CREATE OR REPLACE TABLE x AS SELECT {parent}, count(*) AS n, "
            + ", ".join(f'min("{c}") AS "min_{c}", max("{c}") AS "max_{c}"'
                        for c in values if c != parent)
            + f" FROM ({typed}) GROUP BY {parent}"),
    }


def time_all(folder: Path, spec: eoir.TableSpec, statements: list[str], repeat: int,
             spill: Path) -> dict[str, list[float]]:
    """Wall seconds of each statement (ORDER), ``repeat`` rounds, on the ingest's engine."""
    con = eoir.engine_connection(eoir.load_options(), spill, progress_bar=False)
    queries = prepare(con, statements, spec, folder)
    seconds: dict[str, list[float]] = {name: [] for name in ORDER}
    for _ in range(repeat):
        for name in ORDER:
            start = time.perf_counter()
            con.execute(queries[name]).fetchall()
            seconds[name].append(time.perf_counter() - start)
            for table in ("x", f"t_{eoir.RELATION[spec.name]}"):
                con.execute(f"DROP TABLE IF EXISTS {table}")
    con.close()
    return seconds


def markdown(result: dict) -> str:
    read = statistics.median(result["seconds"]["read"])
    lines = [f"`{result['table']}`, its first {result['rows']:,} rows ({result['gb']:.2f} GB), "
             f"median of {result['repeat']} runs each, the ingest's engine settings "
             f"({result['date']}, {result['machine']['cpus']} cores, DuckDB "
             f"{result['machine']['duckdb']}; `{result['command']}`):", "",
             "| what | seconds | / read |", "|---|---|---|"]
    for name, values in result["seconds"].items():
        median = statistics.median(values)
        lines.append(f"| {name} | {median:.2f} | {median / read:.2f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("release", type=Path, help="a release folder (uncompressed table files)")
    parser.add_argument("--table", default=eoir.SCHEDULE.name,
                        help="the table to time (default: %(default)s)")
    parser.add_argument("--rows", type=int, default=5_000_000, help="rows of it (default: %(default)s)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each (default: %(default)s)")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    if not args.release.is_dir():
        parser.error(f"{args.release}: expected a release folder (a zip: extract it first)")
    spec = next((s for s in eoir.TABLES if s.name == args.table), None)
    if spec is None or not eoir.FOREIGN_KEYS[spec.name]:
        names = [s.name for s in eoir.TABLES if eoir.FOREIGN_KEYS[s.name]]
        parser.error(f"--table: expected one of {', '.join(names)}; found {args.table!r}")
    with tempfile.TemporaryDirectory(dir=args.release.parent) as tmp:
        folder = Path(tmp) / "sample"
        folder.mkdir()
        rows = sample_release(args.release, folder, spec.name, args.rows)
        path = raw.locate_tables(folder, [spec])[spec.name]
        print(f"sampled {rows:,} rows of {spec.name}; taking the ingest's statements", flush=True)
        statements = ingest_statements(folder, Path(tmp))
        shutil.rmtree(Path(tmp) / "work", ignore_errors=True)
        seconds = time_all(folder, spec, statements, args.repeat, Path(tmp) / "spill")
        result = {"table": spec.name, "rows": rows, "gb": path.stat().st_size / 1e9,
                  "repeat": args.repeat, "seconds": seconds,
                  "date": dt.date.today().isoformat(),
                  "command": "python benchmarks/ingest_alternatives.py "
                             + " ".join(a for a in (argv if argv is not None else sys.argv[1:])),
                  "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                              "duckdb": duckdb.__version__}}
    text = markdown(result)
    print(text)
    if not args.no_write:
        RESULTS.write_text(json.dumps(result, indent=1) + "\n")
        RESULTS.with_suffix(".md").write_text(text)
        marked_block.write(DOCS, BLOCK, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
