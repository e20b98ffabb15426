"""Would the ingest be faster without its staged tables? One large table, timed seven ways.

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
   taken from an ingest of a small sample of the release (SAMPLE_ROWS rows of every table:
   the statement does not depend on the rows, which a test checks);
4. **type, one row per key**: the same typed rows stored as one row per key (count, the
   smallest and largest hash of the values, the values): what a duplicate check needs;
5. **type, one row per parent**: the same typed rows aggregated per parent key (the
   proceeding for the schedule; the smallest and largest of each value);
6. **the ingest's path**: 3, then the ingest's own duplicate check over the stored rows, then
   one row per parent from the rows it keeps;
7. **the path without rows**: 4, then one row per parent from the keys whose copies agree.

6 and 7 give the same table per parent (a test checks it); the data-quality facts, read from
either, are not timed. Usage::

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
import profile_ingest  # noqa: E402

from fairness_audit.ingest import eoir, raw  # noqa: E402

RESULTS = HERE / "results" / "ingest_alternatives.json"
DOCS = HERE.parent / "docs" / "performance.md"
BLOCK = "ingest_alternatives"
SAMPLE_ROWS = 20_000  # rows of every table in the sample whose statements are taken


def _head(source: Path, target: Path, rows: int) -> int:
    """Copy the header and the first ``rows`` data lines of ``source``; return the data lines
    copied."""
    n = 0
    with source.open("rb") as src, target.open("wb") as out:
        out.write(src.readline())
        for line in src:
            if n == rows:
                break
            out.write(line)
            n += 1
    return n


def sample_release(release: Path, folder: Path, rows: dict[str, int]) -> dict[str, int]:
    """A release in ``folder``: the first ``rows[name]`` rows of each table named there (no
    row-count file). Returns the rows copied, by table."""
    found = raw.locate_tables(release, eoir.TABLES)
    missing = sorted(set(rows) - set(found))
    if missing:
        raise SystemExit(f"{release}: expected the table(s) {', '.join(missing)}; found "
                         f"{', '.join(sorted(found)) or 'none'}")
    copied = {}
    for name, n in rows.items():
        path = found[name]
        if path.suffix.lower() in (".gz", ".zip"):
            raise SystemExit(f"{path}: expected an uncompressed table file (a benchmark release)")
        copied[name] = _head(path, folder / path.name, n)
    return copied


def ingest_statements(folder: Path, work: Path) -> list[str]:
    """Every statement an ingest of ``folder`` sends through ``_Ingest.sql``, in order."""
    sent: list[str] = []
    with profile_ingest.statements_seen(lambda seconds, query: sent.append(query)):
        eoir.ingest_eoir(folder, work / "sample.parquet", work_dir=work / "work",
                         progress=lambda message: None)
    return sent


ORDER = ("read", "store the text", "type and store (the ingest)", "type, one row per key",
         "type, one row per parent", "the ingest's path", "the path without rows")


def prepare(con, statements: list[str], spec: eoir.TableSpec, folder: Path) -> dict[str, list[str]]:
    """Stage ``spec``'s file of ``folder`` on ``con`` as the ingest does (its macros, the
    view ``src_<relation>``) and return the statements to time, by name (ORDER): each a list
    run in turn. The tables they write are ``t_<relation>``, ``dup_<relation>``, ``keyed`` and
    ``parent``."""
    rel = eoir.RELATION[spec.name]
    macros = next(s for s in statements if "MACRO fa_date" in s)
    con.execute(macros.split("CREATE OR REPLACE TABLE set_aside")[0])
    raw.stage_table(con, raw.open_table(spec, raw.locate_tables(folder, [spec])[spec.name]), rel)
    store = next(s for s in statements
                 if s.lstrip().startswith(f"CREATE OR REPLACE TABLE t_{rel} AS"))
    dup = next(s for s in statements
               if s.lstrip().startswith(f"CREATE OR REPLACE TABLE dup_{rel} AS"))
    typed = store.split(" AS ", 1)[1]
    columns = [c[0] for c in con.execute(f"DESCRIBE ({typed})").fetchall()]
    values = [c for c in columns if c not in ("_k", "_reason", *raw.SET_APART_COLUMNS)]
    quoted = ", ".join(f'"{c}"' for c in values)
    parent = eoir.FOREIGN_KEYS[spec.name][0]
    per_parent = ", ".join(f'min("{c}") AS "min_{c}", max("{c}") AS "max_{c}"'
                           for c in values if c != parent)
    keyed = (f"CREATE OR REPLACE TABLE keyed AS SELECT _k, count(*) AS n, min(hash({quoted})) AS "
             f"h_min, max(hash({quoted})) AS h_max, "
             + ", ".join(f'any_value("{c}") AS "{c}"' for c in values)
             + f" FROM ({typed}) WHERE _reason IS NULL GROUP BY _k")
    return {
        "read": [next(q for name, q, _ in bench_ingest.fair_baseline_queries(folder)
                      if name == spec.name)],
        "store the text": [f"CREATE OR REPLACE TABLE text_rows AS SELECT * FROM src_{rel}"],
        "type and store (the ingest)": [store],
        "type, one row per key": [keyed],
        "type, one row per parent": [
            f"CREATE OR REPLACE TABLE parent AS SELECT {parent}, count(*) AS n, {per_parent} "
            f"FROM ({typed}) WHERE _reason IS NULL GROUP BY {parent}"],
        "the ingest's path": [store, dup, (
            f"CREATE OR REPLACE TABLE parent AS SELECT {parent}, count(*) AS n, {per_parent} "
            f"FROM t_{rel} WHERE _reason IS NULL AND rowid NOT IN (SELECT rid FROM dup_{rel}) "
            f"GROUP BY {parent}")],
        "the path without rows": [keyed, (
            f"CREATE OR REPLACE TABLE parent AS SELECT {parent}, count(*) AS n, {per_parent} "
            f"FROM keyed WHERE _k IS NOT NULL AND h_min = h_max GROUP BY {parent}")],
    }


def time_all(folder: Path, spec: eoir.TableSpec, statements: list[str], repeat: int,
             spill: Path) -> dict[str, list[float]]:
    """Wall seconds of each entry of ORDER, ``repeat`` rounds, on the ingest's engine."""
    rel = eoir.RELATION[spec.name]
    con = eoir.engine_connection(eoir.load_options(), spill, progress_bar=False)
    try:
        queries = prepare(con, statements, spec, folder)
        seconds: dict[str, list[float]] = {name: [] for name in ORDER}
        for _ in range(repeat):
            for name in ORDER:
                start = time.perf_counter()
                for query in queries[name]:
                    con.execute(query).fetchall()
                seconds[name].append(time.perf_counter() - start)
                for table in ("text_rows", "keyed", "parent", f"dup_{rel}", f"t_{rel}"):
                    con.execute(f"DROP TABLE IF EXISTS {table}")
    finally:
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
    names = [t.name for t in eoir.TABLES if t.name in raw.locate_tables(args.release, eoir.TABLES)]
    with tempfile.TemporaryDirectory(dir=args.release.parent) as tmp:
        small, folder = Path(tmp) / "small", Path(tmp) / "sample"
        small.mkdir()
        folder.mkdir()
        sample_release(args.release, small, {name: SAMPLE_ROWS for name in names})
        print("taking the ingest's statements from an ingest of a small sample", flush=True)
        statements = ingest_statements(small, Path(tmp))
        # the other tables too: the fair baseline's queries locate every table of a release
        rows = sample_release(args.release, folder, {**{name: SAMPLE_ROWS for name in names},
                                                     spec.name: args.rows})[spec.name]
        print(f"sampled {rows:,} rows of {spec.name}", flush=True)
        path = raw.locate_tables(folder, [spec])[spec.name]
        seconds = time_all(folder, spec, statements, args.repeat, Path(tmp) / "spill")
        result = {"table": spec.name, "rows": rows, "gb": path.stat().st_size / 1e9,
                  "repeat": args.repeat, "seconds": seconds,
                  "date": dt.date.today().isoformat(),
                  "command": " ".join(["python benchmarks/ingest_alternatives.py",
                                       *(argv if argv is not None else sys.argv[1:])]),
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
