"""Benchmark of the raw EOIR ingest at the size of the 2021 release.

Generates (once) a synthetic release with the 2021 row counts (7.4 M cases, 9.7 M proceedings,
8.1 M applications, 17.2 M representation rows, 27.7 M schedule rows, plus juvenile and appeal
tables), in the real files' layout (tab-separated, unquoted, latin-1, the real column names),
with dirty rows (a stray tab in about one row in 20,000 all through each file; at the end of
each file 1,000 rows with stray tabs, truncated rows, redacted dates) and, in one case row per
thousand, a latin-1 city name. Then, in the same run and each in its own child process:

1. the baseline: DuckDB reading every table file once (``read_csv``, every column, latin-1);
2. the whole ingest (``fairness_audit.ingest.eoir.ingest_eoir``), writing all its files.

It prints wall time and peak memory (the child's maximum resident set size) of each, and the
ratio of the two times. Usage::

    python benchmarks/bench_ingest.py                 # full 2021 size, data in benchmarks/data
    python benchmarks/bench_ingest.py --scale 0.01    # a quick run at 1% of the size

Not a test: run by hand (``make bench``); the figures are recorded in docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import duckdb

ROWS_2021 = {
    "A_TblCase": 7_390_042,
    "B_TblProceeding": 9_704_273,
    "tbl_Court_Appln": 8_058_064,
    "tbl_RepsAssigned": 17_190_449,
    "tbl_schedule": 27_705_572,
    "tbl_JuvenileHistory": 1_935_290,
    "tblAppeal": 1_174_210,
}
DIRTY_PER_TABLE = 1_000
SHIFTED_EVERY = 20_000  # about one row in 20,000, all through each file, has a stray tab
# Well-formed case rows whose city is written in latin-1 ("SAN JOSÉ"), one per thousand cases:
# the ingest reads such rows twice (see docs/ingest.md), so the benchmark includes some.
LATIN1_CASES_PER_1000 = 1


def _h(i: str, salt: int, mod: int) -> str:
    """A deterministic pseudo-random integer in [0, mod) from a row number."""
    return f"(hash({i} * 7919 + {salt}) % {mod})"


def _date(expr: str) -> str:
    return f"strftime(DATE '2000-01-01' + CAST({expr} AS INTEGER), '%Y-%m-%d 00:00:00.000')"


def _pick(expr: str, values: list[str]) -> str:
    arr = "[" + ", ".join(f"'{v}'" for v in values) + "]"
    return f"{arr}[1 + CAST({expr} AS INTEGER)]"


def generate(folder: Path, scale: float) -> dict[str, int]:
    """Write the synthetic release; returns the row counts written (clean + dirty)."""
    from fairness_audit.ingest import fixtures as fx
    from fairness_audit.ingest.eoir import TABLES
    from fairness_audit.ingest.raw import default_validator

    used = {spec.name: {n.upper() for names in spec.columns.values() for n in names}
            for spec in TABLES}

    folder.mkdir(parents=True, exist_ok=True)
    n = {t: max(10, int(r * scale)) for t, r in ROWS_2021.items()}
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = false")
    judges = [f"J{i:02d}" for i in range(1, 100)] + [f"K{i:02d}" for i in range(1, 100)] + \
        [f"L{i:02d}" for i in range(1, 100)] + ["AAA", "MC1", "VJ1"]
    courts = ["ATL", "BAL", "BOS", "CHI", "DAL", "DEN", "DET", "ELP", "HOU", "LOS", "MIA",
              "NEW", "NYC", "ORL", "PHI", "PHO", "SEA", "SFR", "SND", "WAS"]
    nats = ["MX", "GT", "HO", "ES", "CU", "IN", "CH", "HA", "VE", "EC"]
    langs = ["SP", "ENG", "POR", "MAN", "PUN", "CRE", "FRE"]
    cases, procs = n["A_TblCase"], n["B_TblProceeding"]
    columns = {
        "A_TblCase": {
            "IDNCASE": "CAST(i + 1 AS VARCHAR)",
            "ALIEN_CITY": "'LOS ANGELES'", "ALIEN_STATE": "'CA'", "ALIEN_ZIPCODE": "'90001'",
            "NAT": _pick(_h("i", 1, len(nats)), nats),
            "LANG": _pick(_h("i", 2, len(langs)), langs),
            "CUSTODY": _pick(_h("i", 3, 3), ["D", "R", "N"]),
            "SITE_TYPE": "'M'",
            "E_28_DATE": f"CASE WHEN {_h('i', 4, 10)} < 6 THEN {_date(_h('i', 5, 7800))} "
                         "ELSE '' END",
            "CASE_TYPE": _pick(_h("i", 6, 20), ["RMV"] * 17 + ["DEP", "EXC", "WHO"]),
            "UPDATE_SITE": "'LOS'", "LATEST_HEARING": _date(_h("i", 7, 7800)),
            "Sex": _pick(_h("i", 8, 3), ["M", "F", ""]),
            "DATE_OF_ENTRY": _date(_h("i", 9, 7000)),
        },
        "B_TblProceeding": {
            "IDNPROCEEDING": "CAST(i + 1 AS VARCHAR)",
            "IDNCASE": f"CAST(1 + i % {cases} AS VARCHAR)",
            "OSC_DATE": _date(_h("i", 11, 6000)),
            "INPUT_DATE": _date(_h("i", 12, 6000)),
            "BASE_CITY_CODE": _pick(_h("i", 13, len(courts)), courts),
            "HEARING_LOC_CODE": _pick(_h("i", 13, len(courts)), courts),
            "IJ_CODE": _pick(_h("i", 14, len(judges)), judges),
            "TRANS_NBR": "'00'", "HEARING_DATE": _date(_h("i", 15, 7800)),
            "HEARING_TIME": "'0900'",
            "DEC_TYPE": f"CASE WHEN {_h('i', 16, 100)} < 55 THEN 'O' ELSE '' END",
            "DEC_CODE": f"CASE WHEN {_h('i', 16, 100)} < 55 THEN "
                        + _pick(_h("i", 17, 8), ["X", "X", "X", "V", "G", "R", "T", "O"])
                        + " ELSE '' END",
            "OTHER_COMP": f"CASE WHEN {_h('i', 16, 100)} BETWEEN 55 AND 79 THEN "
                          + _pick(_h("i", 18, 3), ["C", "A", "T"]) + " ELSE '' END",
            # completion after the charging document (on average); 20% pending
            "COMP_DATE": f"CASE WHEN {_h('i', 16, 100)} < 80 THEN "
                         + _date(f"{_h('i', 11, 6000)} + 30 + {_h('i', 19, 1800)}")
                         + " ELSE '' END",
            "ABSENTIA": _pick(_h("i", 20, 4), ["Y", "N", "N", "N"]),
            "CUSTODY": _pick(_h("i", 21, 3), ["D", "R", "N"]),
            "CASE_TYPE": _pick(_h(f"i % {cases}", 6, 20), ["RMV"] * 17 + ["DEP", "EXC", "WHO"]),
            "NAT": _pick(_h(f"i % {cases}", 1, len(nats)), nats),
            "LANG": _pick(_h(f"i % {cases}", 2, len(langs)), langs),
            "CRIM_IND": "'N'",
        },
        "tbl_Court_Appln": {
            "IDNPROCEEDINGAPPLN": "CAST(i + 1 AS VARCHAR)",
            "IDNPROCEEDING": f"CAST(1 + {_h('i', 31, procs)} AS VARCHAR)",
            "IDNCASE": "''",
            "APPL_CODE": _pick(_h("i", 32, 4), ["ASYL", "ASYW", "WCAT", "42B"]),
            "APPL_RECD_DATE": _date(_h("i", 33, 7000)),
            "APPL_DEC": _pick(_h("i", 34, 8), ["G", "D", "D", "A", "W", "", "F", "O"]),
        },
        "tbl_RepsAssigned": {
            "IDNREPSASSIGNED": "CAST(i + 1 AS VARCHAR)",
            "IDNCASE": f"CAST(1 + {_h('i', 41, cases)} AS VARCHAR)",
            "STRATTYLEVEL": _pick(_h("i", 42, 4), ["COURT", "COURT", "COURT", "BIA"]),
            "STRATTYTYPE": _pick(_h("i", 43, 2), ["ALIEN", "INS"]),
            "PARENT_TABLE": "'A_TblCase'", "PARENT_IDN": "'0'", "BASE_CITY_CODE": "'LOS'",
            "E_28_DATE": _date(_h("i", 44, 7800)), "BLNPRIMEATTY": "'1'",
        },
        "tbl_schedule": {
            "IDNSCHEDULE": "CAST(i + 1 AS VARCHAR)",
            "IDNPROCEEDING": f"CAST(1 + {_h('i', 51, procs)} AS VARCHAR)",
            "IDNCASE": "''", "OSC_DATE": _date(_h("i", 52, 6000)), "GENERATION": "'99'",
            "REC_TYPE": "'B'", "LANG": "'SP'", "HEARING_LOC_CODE": "'LOS'",
            "BASE_CITY_CODE": "'LOS'", "IJ_CODE": _pick(_h("i", 53, len(judges)), judges),
            "INPUT_DATE": _date(_h("i", 54, 7000)), "INPUT_TIME": "'1200'",
            "UPDATE_DATE": _date(_h("i", 55, 7000)), "UPDATE_TIME": "'1300'",
            "CAL_TYPE": _pick(_h("i", 56, 2), ["M", "I"]),
            "ADJ_DATE": _date(_h("i", 57, 7800)), "ADJ_TIME_START": "'0900'",
            "ADJ_TIME_STOP": "'1000'",
            "ADJ_RSN": _pick(_h("i", 58, 8), ["17", "01", "02", "12", "18", "", "8B", "4A"]),
            "ADJ_MEDIUM": "'A'", "SCHEDULE_TYPE": "'CY'", "BLNCLOCKOVERRIDE": "'0'",
        },
        "tbl_JuvenileHistory": {
            "idnJuvenileHistory": "CAST(i + 1 AS VARCHAR)",
            "idnCase": f"CAST(1 + {_h('i', 61, cases)} AS VARCHAR)",
            "idnProceeding": "''", "idnJuvenile": _pick(_h("i", 62, 3), ["1", "2", "3"]),
            "DATCREATEDON": _date(_h("i", 63, 7000)),
        },
        "tblAppeal": {
            "idnAppeal": "CAST(i + 1 AS VARCHAR)", "idncase": "''",
            "idnProceeding": f"CAST(1 + {_h('i', 71, procs)} AS VARCHAR)",
            "strAppealCategory": _pick(_h("i", 72, 4), ["IJ", "IJ", "IJ", "DD"]),
            "strAppealType": _pick(_h("i", 73, 3), ["Case Appeal", "Case Appeal",
                                                      "Bond Appeal"]),
            "datAppealFiled": _date(_h("i", 74, 7800)),
            "strBIADecision": _pick(_h("i", 75, 5), ["DIS", "REM", "SUS", "", "DIS"]),
            "datBIADecision": _date(_h("i", 76, 7800)),
        },
    }
    written: dict[str, int] = {}
    for table, cols in columns.items():
        header = fx.HEADERS[table]
        upper = {k.upper(): v for k, v in cols.items()}
        # all through the file, one row in SHIFTED_EVERY gets a stray tab in a free-text
        # column that the ingest does not read (the first such column written empty)
        spare = next((h.upper() for h in header if upper.get(h.upper(), "''") == "''"
                      and h.upper() not in used[table] and default_validator(h) is None), None)
        if spare:
            upper[spare] = (f"CASE WHEN {_h('i', 97, SHIFTED_EVERY)} = 0 "
                            "THEN 'STRAY' || chr(9) || 'TAB' ELSE '' END")
        select = ", ".join(f"{upper.get(h.upper(), chr(39) * 2)} AS \"{h}\"" for h in header)
        path = folder / f"{table}.csv"
        t0 = time.perf_counter()
        con.execute(f"""
            COPY (SELECT {select} FROM range({n[table]}) t(i))
            TO '{path}' (FORMAT csv, DELIMITER '\t', HEADER, QUOTE '', ESCAPE '')
        """)
        # more dirty rows at the end: stray tabs, truncated rows, redacted dates, latin-1 text
        with open(path, "ab") as fh:
            width = len(header)
            n_latin1 = n[table] * LATIN1_CASES_PER_1000 // 1000 if table == "A_TblCase" else 0
            city = [h.upper() for h in header].index("ALIEN_CITY") if n_latin1 else 0
            for k in range(n_latin1):
                fields = [str(2 * 10**12 + k)] + [""] * (width - 1)
                fields[city] = "SAN JOSÉ"
                fh.write(("\t".join(fields) + "\n").encode("latin-1"))
            for k in range(DIRTY_PER_TABLE):
                key = str(10**12 + k)
                fields = [key] + [""] * (width - 1)
                if k % 3 == 0:
                    fields.insert(2, "SAN JOSÉ")       # one extra field: shifted
                elif k % 3 == 1:
                    fields = fields[: width // 2]       # truncated
                else:
                    fields[-1] = "b6"                   # a redacted value, well formed
                fh.write(("\t".join(fields) + "\n").encode("latin-1"))
        written[table] = n[table] + n_latin1 + DIRTY_PER_TABLE
        print(f"generated {table}: {written[table]:,} rows, "
              f"{path.stat().st_size / 1e9:.2f} GB in {time.perf_counter() - t0:.0f} s",
              file=sys.stderr, flush=True)
    (folder / "rows.json").write_text(json.dumps(written))
    return written


BASELINE = r"""
import sys, duckdb
from fairness_audit.ingest import fixtures as fx
folder = sys.argv[1]
con = duckdb.connect()
total = 0
for table, header in fx.HEADERS.items():
    if table.startswith("tblLookup"):
        continue
    cols = "{" + ", ".join(f"'{h}': 'VARCHAR'" for h in header) + "}"
    aggs = ", ".join(f'max(length("{h}"))' for h in header)
    n = con.sql(f'''SELECT count(*), {aggs} FROM read_csv('{folder}/{table}.csv', columns={cols},
                 header=true, delim='\t', quote='', escape='', auto_detect=false,
                 encoding='latin-1', ignore_errors=true, null_padding=true)''').fetchall()[0][0]
    total += n
import resource
print(total)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""

INGEST = r"""
import sys
from fairness_audit.ingest.eoir import ingest_eoir
r = ingest_eoir(sys.argv[1], sys.argv[2], work_dir=sys.argv[3],
                progress=lambda m: print(m, file=sys.stderr, flush=True))
import resource
print(r.n_decisions)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def timed_child(code: str, *args: str) -> tuple[float, float, str]:
    """Run ``code`` in a fresh interpreter; wall seconds, its peak RSS (GB), its result.

    The child prints its result, then its own maximum resident set size (KB).
    """
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code, *args], stdout=subprocess.PIPE,
                          text=True, check=True)
    wall = time.perf_counter() - t0
    result, peak_kb = proc.stdout.strip().splitlines()[-2:]
    return wall, int(peak_kb) / 1024**2, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the 2021 size")
    parser.add_argument("--data", type=Path, default=Path(__file__).parent / "data",
                        help="folder for the generated release and the outputs")
    parser.add_argument("--regenerate", action="store_true")
    args = parser.parse_args()
    release = args.data / f"eoir_release_x{args.scale:g}"
    if args.regenerate or not (release / "rows.json").exists():
        t0 = time.perf_counter()
        generate(release, args.scale)
        print(f"generation: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    rows = json.loads((release / "rows.json").read_text())
    out = args.data / f"out_x{args.scale:g}" / "eoir.parquet"
    work = args.data / "work"
    work.mkdir(parents=True, exist_ok=True)
    size_gb = sum(p.stat().st_size for p in release.glob("*.csv")) / 1e9

    base_s, base_gb, base_rows = timed_child(BASELINE, str(release))
    ingest_s, ingest_gb, n_dec = timed_child(INGEST, str(release), str(out), str(work))
    ledger = json.loads(out.with_name("eoir.ledger.json").read_text())
    for table, n in rows.items():
        entry = ledger[table]
        assert entry["rows_read"] == n, (table, entry["rows_read"], n)
        assert entry["used"] + sum(entry["set_aside"].values()) == n, table
    result = {
        "scale": args.scale, "rows": rows, "input_gb": round(size_gb, 2),
        "cpu_count": __import__("os").cpu_count(), "machine": platform.platform(),
        "duckdb": duckdb.__version__,
        "baseline_read_s": round(base_s, 1), "baseline_peak_gb": round(base_gb, 2),
        "baseline_rows": int(base_rows),
        "ingest_s": round(ingest_s, 1), "ingest_peak_gb": round(ingest_gb, 2),
        "decisions": int(n_dec), "ratio": round(ingest_s / base_s, 2),
    }
    print(json.dumps(result, indent=2))
    (args.data / f"bench_ingest_x{args.scale:g}.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
