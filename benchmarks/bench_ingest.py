"""Benchmark of the raw EOIR ingest at the size of a real release: 2021's, or today's (2026).

Generates (once) a synthetic release of the chosen size (``--size``; ``--scale`` takes a
fraction of it for a quick run) in the real files' layout (tab-separated, unquoted, latin-1,
the real column names), with dirty rows (a stray tab in about one row in 20,000 all through
each file; at the end of each file 1,000 rows with stray tabs, truncated rows, redacted dates)
and, in one case row per thousand, a latin-1 city name; a case priority code (the docket) on
3% of the cases (``PRIORITY_PER_1000``), "N/A" on the others; beside the tables, the release's
row-count file (``TableRowCounts.txt``, a bcp log like EOIR's, with the number of data rows of
every file, dirty rows included). Then, in the same run and each in its own child process:

1. the **fair baseline**: DuckDB reading only the columns the ingest uses, with the ingest's own
   reader (the table specs of ``fairness_audit.ingest.eoir.TABLES`` and the ``read_csv`` call
   that ``fairness_audit.ingest.raw`` builds: strict, every field as text, no padding, UTF-8,
   its buffer size) and its engine settings, a count and a ``max(length())`` over every used
   column, so that each is decoded;
2. the **all-columns baseline** (the earlier one, kept for comparison with the history in
   docs/performance.md): DuckDB reading every column of every table file once, latin-1;
3. the whole ingest (``fairness_audit.ingest.eoir.ingest_eoir``), writing all its files;
4. with ``--diff``: NEW, a copy of the release in which a DuckDB pass deleted about 0.2% of the
   proceedings, gave about 0.1% another judge, relabelled one APPL_DEC code on all its
   well-formed rows and appended new proceedings; then ``fairness-audit diff-releases OLD NEW
   --out DIR`` in a fresh process, its counts checked against the changes made.

Wall time includes each child's start and imports; peak memory is the child's maximum
resident set size. The ratio that counts is ingest / fair baseline. Usage::

    python benchmarks/bench_ingest.py --size 2026 --diff    # today's size, with the release diff
    python benchmarks/bench_ingest.py --size 2021           # the 2021 release's size
    python benchmarks/bench_ingest.py --scale 0.01          # a quick run at 1% of the size

A full-size run writes benchmarks/results/bench_ingest.json (keyed by size) and .md, and the
tables between the ``bench_ingest`` markers of README.md and docs/performance.md; a run at
another scale writes benchmarks/data/bench_ingest_x<scale>.json and .md only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "docs"))
import marked_block  # noqa: E402

ROWS_2021 = {
    "A_TblCase": 7_390_042,
    "B_TblProceeding": 9_704_273,
    "tbl_Court_Appln": 8_058_064,
    "tbl_RepsAssigned": 17_190_449,
    "tbl_schedule": 27_705_572,
    "tbl_JuvenileHistory": 1_935_290,
    "tblAppeal": 1_174_210,
}
# EOIR's February 2026 release (data version 2026-0201), as counted by a data-validation report
# of that release; the benchmark scales every table alike to 16.6 M proceedings, the size users
# meet today.
ROWS_FEB_2026 = {
    "A_TblCase": 12_461_924,
    "B_TblProceeding": 16_216_773,
    "tbl_Court_Appln": 15_756_896,
    "tbl_RepsAssigned": 25_639_802,
    "tbl_schedule": 45_183_976,
    "tbl_JuvenileHistory": 2_953_170,
    "tblAppeal": 1_457_288,
}
PROCEEDINGS_2026 = 16_600_000
SIZES = {
    "2021": ROWS_2021,
    "2026": {t: round(n * PROCEEDINGS_2026 / ROWS_FEB_2026["B_TblProceeding"])
             for t, n in ROWS_FEB_2026.items()},
}
TARGET_SIZE = "2026"
TARGETS = {"ratio": 3.0, "minutes": 3.0, "peak_gb": 8.0, "diff_ratio": 2.0}

DIRTY_PER_TABLE = 1_000
SHIFTED_EVERY = 20_000  # about one row in 20,000, all through each file, has a stray tab
# Well-formed case rows whose city is written in latin-1 ("SAN JOSÉ"), one per thousand cases:
# the ingest reads such rows twice (see docs/ingest.md), so the benchmark includes some.
LATIN1_CASES_PER_1000 = 1
ROW_COUNTS_FILE = "TableRowCounts.txt"

# NEW, the next release: what the DuckDB pass changes (only well-formed rows of the generated
# body, so that every change is one a diff can see, whatever it does with dirty rows)
VANISHED_PER_10000 = 20      # proceedings deleted: about 0.2%
OTHER_JUDGE_PER_10000 = 10   # proceedings given another judge: about 0.1%
OTHER_JUDGE = "NJ1"          # a judge code the generator never writes
RELABEL = ("APPL_DEC", "W", "X")  # field, old code, new code: every well-formed row
APPENDED_SHARE = 0.005       # new proceedings appended, as a share of the generated ones


def _h(i: str, salt: int, mod: int) -> str:
    """A deterministic pseudo-random integer in [0, mod) from a row number."""
    return f"(hash({i} * 7919 + {salt}) % {mod})"


def _date(expr: str) -> str:
    return f"strftime(DATE '2000-01-01' + CAST({expr} AS INTEGER), '%Y-%m-%d 00:00:00.000')"


def _pick(expr: str, values: list[str]) -> str:
    arr = "[" + ", ".join(f"'{v}'" for v in values) + "]"
    return f"{arr}[1 + CAST({expr} AS INTEGER)]"


# Case priority codes (tblLookup_CasePriority) per 1,000 cases; the rest are "N/A".
PRIORITY_PER_1000 = {"UC": 15, "AWC/ATD": 6, "RBC/D": 4, "CR": 3, "AWC/D": 2}


def _priority(expr: str) -> str:
    """SQL for a case's priority code from ``expr`` in [0, 1000) (:data:`PRIORITY_PER_1000`)."""
    whens, upper = [], 0
    for code, n in PRIORITY_PER_1000.items():
        upper += n
        whens.append(f"WHEN {expr} < {upper} THEN '{code}'")
    return f"CASE {' '.join(whens)} ELSE 'N/A' END"


def _columns(n: dict[str, int]) -> dict[str, dict[str, str]]:
    """SQL for the values of each generated column of each table, over the row number ``i``."""
    judges = [f"J{i:02d}" for i in range(1, 100)] + [f"K{i:02d}" for i in range(1, 100)] + \
        [f"L{i:02d}" for i in range(1, 100)] + ["AAA", "MC1", "VJ1"]
    courts = ["ATL", "BAL", "BOS", "CHI", "DAL", "DEN", "DET", "ELP", "HOU", "LOS", "MIA",
              "NEW", "NYC", "ORL", "PHI", "PHO", "SEA", "SFR", "SND", "WAS"]
    nats = ["MX", "GT", "HO", "ES", "CU", "IN", "CH", "HA", "VE", "EC"]
    langs = ["SP", "ENG", "POR", "MAN", "PUN", "CRE", "FRE"]
    cases, procs = n["A_TblCase"], n["B_TblProceeding"]
    return {
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
            # priority codes (the docket) on a few percent of cases, 3.0% in all; the others
            # "N/A" (Not Applicable), as the 2026 release writes it (no empty values)
            "CASEPRIORITY_CODE": _priority(_h("i", 10, 1000)),
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


def _row_values(table: str, n: dict[str, int], *, stray_tabs: bool = True) -> list[str]:
    """SQL for each field of a generated row of ``table``, in the header's order."""
    from fairness_audit.ingest import fixtures as fx
    from fairness_audit.ingest.eoir import TABLES
    from fairness_audit.ingest.raw import default_validator

    header = fx.HEADERS[table]
    used = {name.upper() for spec in TABLES if spec.name == table
            for names in spec.columns.values() for name in names}
    upper = {k.upper(): v for k, v in _columns(n)[table].items()}
    # all through the file, one row in SHIFTED_EVERY gets a stray tab in a free-text column
    # that the ingest does not read (the first such column written empty)
    spare = next((h.upper() for h in header if upper.get(h.upper(), "''") == "''"
                  and h.upper() not in used and default_validator(h) is None), None)
    if spare and stray_tabs:
        upper[spare] = (f"CASE WHEN {_h('i', 97, SHIFTED_EVERY)} = 0 "
                        "THEN 'STRAY' || chr(9) || 'TAB' ELSE '' END")
    return [upper.get(h.upper(), "''") for h in header]


def sized_rows(size: str, scale: float) -> dict[str, int]:
    """Rows generated per table (before the dirty rows) at ``scale`` times the release size."""
    return {t: max(10, int(r * scale)) for t, r in SIZES[size].items()}


def write_row_counts(folder: Path, rows: dict[str, int]) -> None:
    """The release's row-count file: a bcp log, as EOIR ships (``TableName<TAB>Content``, then
    ``<table><TAB><n> rows copied.`` in name order, no line end after the last line)."""
    lines = ["TableName\tContent"] + [f"{t}\t{rows[t]} rows copied." for t in sorted(rows)]
    (folder / ROW_COUNTS_FILE).write_text("\n".join(lines), encoding="ascii")


def _replace_folder(tmp: Path, folder: Path, *, replace: bool) -> None:
    """Move a finished folder into place; a finished copy already there wins unless told."""
    from fairness_audit.outputs import publish

    if folder.exists():
        if not replace:
            shutil.rmtree(tmp)
            return
        shutil.rmtree(folder)
    publish(tmp, folder, directory=True)


def generate(folder: Path, size: str, scale: float, *, replace: bool = False) -> dict:
    """Write the synthetic release into ``folder``; returns its description (release.json).

    Written into a staging folder beside it and moved into place at the end, so that an
    interrupted run (or another run at the same time) never leaves half a release.
    """
    from fairness_audit.ingest import fixtures as fx

    start = time.perf_counter()
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.partial-", dir=folder.parent))
    n = sized_rows(size, scale)
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = false")
    written: dict[str, int] = {}
    for table in SIZES[size]:
        header = fx.HEADERS[table]
        select = ", ".join(f'{v} AS "{h}"' for v, h in zip(_row_values(table, n), header,
                                                             strict=True))
        path = tmp / f"{table}.csv"
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
    con.close()
    write_row_counts(tmp, written)
    info = {"size": size, "scale": scale, "generated_rows": n, "rows": written,
            "seconds_to_generate": round(time.perf_counter() - start, 1)}
    (tmp / "release.json").write_text(json.dumps(info, indent=1) + "\n")
    _replace_folder(tmp, folder, replace=replace)
    return json.loads((folder / "release.json").read_text())


# --------------------------------------------------------------------------------------------
# NEW: the next release
# --------------------------------------------------------------------------------------------
def _lines_sql(path: Path) -> str:
    """Every data line of a release file as one text column ``line`` (header skipped), read as
    latin-1 so that no line is lost (the delimiter, chr(3), is a byte the files never hold);
    ``f`` its tab-separated fields."""
    from fairness_audit.ingest.raw import NEVER_IN_TEXT, sql_string

    return (f"SELECT line, string_split(line, chr(9)) AS f FROM read_csv("
            f"{sql_string(str(path))}, columns={{'line': 'VARCHAR'}}, header=false, skip=1, "
            f"delim=chr(3), quote='', escape='', auto_detect=false, encoding='latin-1', "
            f"nullstr={sql_string(NEVER_IN_TEXT)}, max_line_size=10000000)")


def _rewrite(con, old: Path, new: Path, *, key: str, generated: int, change: str,
             changed_line: str, vanish: str = "FALSE", appended: str | None = None) -> None:
    """Write ``new`` from ``old`` in one DuckDB pass, and the keys touched into ``changes``.

    Only well-formed rows of the generated body are deleted or changed (``eligible``): pure
    ASCII, as many fields as the header, a key among the generated ones. Rows with text
    beyond ASCII (the dirty rows of the generator) are copied as they are, as latin-1 bytes
    at the end of the file (DuckDB writes UTF-8 only); the order of rows is free.
    """
    from fairness_audit.ingest.raw import sql_string

    with open(old, "rb") as fh:
        header = fh.readline().decode("ascii").rstrip("\r\n")
    names = [h.upper() for h in header.split("\t")]
    k = names.index(key) + 1  # DuckDB lists count from 1
    con.execute(f"""
        CREATE OR REPLACE TEMP VIEW marked AS
        SELECT *, eligible AND ({vanish}) AS vanished,
               eligible AND NOT ({vanish}) AND ({change}) AS changed
        FROM (
          SELECT line, f, strlen(line) = length(line) AS ascii,
                 strlen(line) = length(line) AND len(f) = {len(names)}
                 AND TRY_CAST(f[{k}] AS BIGINT) BETWEEN 1 AND {generated} AS eligible
          FROM ({_lines_sql(old)})
        )""")
    # one read for the keys touched and the lines beyond ASCII, one for the new file
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE touched AS
        SELECT f[{k}] AS key, vanished, changed, CASE WHEN NOT ascii THEN line END AS line
        FROM marked WHERE vanished OR changed OR NOT ascii""")
    con.execute(f"""
        INSERT INTO changes
        SELECT '{old.stem}', key, CASE WHEN vanished THEN 'vanished' ELSE 'changed' END
        FROM touched WHERE vanished OR changed""")
    quoted = header.replace('"', '""')
    rows = (f"SELECT CASE WHEN changed THEN {changed_line} ELSE line END AS \"{quoted}\" "
            "FROM marked WHERE ascii AND NOT vanished")
    if appended:
        rows += f" UNION ALL {appended}"
    con.execute(f"COPY ({rows}) TO {sql_string(str(new))} (FORMAT csv, HEADER, QUOTE '', "
                "ESCAPE '', DELIMITER chr(3))")
    beyond_ascii = con.execute("SELECT line FROM touched WHERE line IS NOT NULL").fetchall()
    with open(new, "ab") as fh:
        for (line,) in beyond_ascii:
            fh.write(line.encode("latin-1") + b"\n")


def _with_field(position: int, value: str) -> str:
    """SQL: the line ``f`` with its field at 0-based ``position`` replaced."""
    return (f"array_to_string(list_concat(f[1:{position}], ['{value}'], f[{position + 2}:]), "
            "chr(9))")


def build_new_release(old: Path, new: Path, *, replace: bool = False) -> dict:
    """NEW from OLD: proceedings deleted, given another judge or appended, one APPL_DEC code
    relabelled; every other table copied byte for byte. Returns NEW's release.json, whose
    ``changes`` hold the exact counts (and ``changes.parquet`` the keys: table, key, change)."""
    from fairness_audit.ingest import fixtures as fx

    start = time.perf_counter()
    info = json.loads((old / "release.json").read_text())
    gen = info["generated_rows"]
    tmp = Path(tempfile.mkdtemp(prefix=f".{new.name}.partial-", dir=new.parent))
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = false")
    con.execute("CREATE TEMP TABLE changes (\"table\" VARCHAR, key VARCHAR, change VARCHAR)")

    procs, appln = "B_TblProceeding", "tbl_Court_Appln"
    header = [h.upper() for h in fx.HEADERS[procs]]
    n_new = max(1, round(gen[procs] * APPENDED_SHARE))
    appended = (f"SELECT concat_ws(chr(9), {', '.join(_row_values(procs, gen, stray_tabs=False))}) "
                f"FROM range({gen[procs]}, {gen[procs] + n_new}) t(i)")
    k = header.index("IDNPROCEEDING") + 1
    _rewrite(con, old / f"{procs}.csv", tmp / f"{procs}.csv", key="IDNPROCEEDING",
             generated=gen[procs],
             vanish=f"hash(f[{k}], 'vanished') % 10000 < {VANISHED_PER_10000}",
             change=f"hash(f[{k}], 'judge') % 10000 < {OTHER_JUDGE_PER_10000}",
             changed_line=_with_field(header.index("IJ_CODE"), OTHER_JUDGE),
             appended=appended)
    con.execute(f"INSERT INTO changes SELECT '{procs}', CAST(i + 1 AS VARCHAR), 'appeared' "
                f"FROM range({gen[procs]}, {gen[procs] + n_new}) t(i)")
    field, was, now = RELABEL
    position = [h.upper() for h in fx.HEADERS[appln]].index(field)
    _rewrite(con, old / f"{appln}.csv", tmp / f"{appln}.csv", key="IDNPROCEEDINGAPPLN",
             generated=gen[appln], change=f"f[{position + 1}] = '{was}'",
             changed_line=_with_field(position, now))
    for table in info["rows"]:
        if table not in (procs, appln):
            shutil.copyfile(old / f"{table}.csv", tmp / f"{table}.csv")

    counts = dict(con.execute("SELECT \"table\" || ':' || change, count(*) FROM changes "
                              "GROUP BY ALL").fetchall())
    changes = {t: {c: counts.get(f"{t}:{c}", 0) for c in ("vanished", "appeared", "changed")}
               for t in info["rows"]}
    rows = {t: n - changes[t]["vanished"] + changes[t]["appeared"]
            for t, n in info["rows"].items()}
    for table, n in rows.items():  # the plan's counts, checked against the files written
        lines = con.execute(f"SELECT count(*) FROM ({_lines_sql(tmp / f'{table}.csv')})"
                            ).fetchall()[0][0]
        assert lines == n, (table, lines, n)
    con.execute(f"COPY (SELECT * FROM changes ORDER BY ALL) TO '{tmp / 'changes.parquet'}' "
                "(FORMAT parquet)")
    con.close()
    write_row_counts(tmp, rows)
    new_info = {"size": info["size"], "scale": info["scale"], "old": old.name, "rows": rows,
                "changes": changes,
                "what": {"B_TblProceeding": f"about {VANISHED_PER_10000 / 100:g}% of the "
                         f"proceedings deleted, about {OTHER_JUDGE_PER_10000 / 100:g}% given the "
                         f"judge {OTHER_JUDGE}, {n_new:,} appended",
                         "tbl_Court_Appln": f"{field} '{was}' relabelled '{now}'"},
                "seconds_to_build": round(time.perf_counter() - start, 1)}
    (tmp / "release.json").write_text(json.dumps(new_info, indent=1) + "\n")
    _replace_folder(tmp, new, replace=replace)
    return json.loads((new / "release.json").read_text())


# --------------------------------------------------------------------------------------------
# What is timed (each in a fresh process, through CHILD)
# --------------------------------------------------------------------------------------------
def fair_baseline_queries(folder: str | Path) -> list[tuple[str, str, str]]:
    """(table, query, rejects table) of the fair baseline for each table the ingest reads.

    The query is the ingest's own reader (``raw._read_fields_sql``, as ``raw.stage_table``
    calls it) with a count and the longest value of each field the ingest uses
    (``eoir.TABLES``), so that DuckDB decodes exactly those fields.
    """
    from fairness_audit.ingest import raw
    from fairness_audit.ingest.eoir import TABLES

    queries = []
    for i, (name, path) in enumerate(raw.locate_tables(Path(folder), TABLES).items()):
        spec = next(s for s in TABLES if s.name == name)
        table = raw.open_table(spec, path)
        # as raw.stage_table asks: one more field when the header ends with a tab
        width = table.n_fields + table.header_trailing_tab
        fields = sorted({p for p in table.positions.values() if p is not None}
                        | ({width - 1} if table.header_trailing_tab else set()))
        aggs = ", ".join(f"max(length(f{p}))" for p in fields)
        rejects = f"rej_{i}"
        queries.append((name, f"SELECT count(*), {aggs} FROM "
                              f"{raw._read_fields_sql(table.path, width, rejects)}", rejects))
    return queries


def fair_baseline(folder: str) -> int:
    """DuckDB reading only the columns the ingest uses, with the ingest's reader and engine
    settings (:func:`fair_baseline_queries`). Returns the rows read (accepted + rejected),
    which must equal the ingest's ``rows_read``."""
    from fairness_audit.ingest import raw
    from fairness_audit.ingest.eoir import load_options

    options = load_options()
    con = duckdb.connect(":memory:")
    con.execute("SET preserve_insertion_order = false")
    if options.memory_limit:
        con.execute(f"SET memory_limit = {raw.sql_string(str(options.memory_limit))}")
    if options.threads:
        con.execute(f"SET threads = {int(options.threads)}")
    total = 0
    for _, query, rejects in fair_baseline_queries(folder):
        # fetchall, not fetchone: DuckDB fills the rejects table when the result is consumed
        accepted = con.execute(query).fetchall()[0][0]
        rejected = con.execute(f"SELECT count(DISTINCT line_byte_position) FROM {rejects}"
                               ).fetchall()[0][0]
        total += accepted + rejected
    return total


def all_columns_baseline(folder: str) -> int:
    """DuckDB reading every column of every table file once (latin-1, a count and the longest
    value of each column); the baseline of the runs before the fair one. Returns its count."""
    from fairness_audit.ingest import fixtures as fx

    con = duckdb.connect()
    total = 0
    for table, header in fx.HEADERS.items():
        if table.startswith("tblLookup"):
            continue
        cols = "{" + ", ".join(f"'{h}': 'VARCHAR'" for h in header) + "}"
        aggs = ", ".join(f'max(length("{h}"))' for h in header)
        total += con.sql(f'''SELECT count(*), {aggs} FROM read_csv('{folder}/{table}.csv',
                     columns={cols}, header=true, delim='\t', quote='', escape='',
                     auto_detect=false, encoding='latin-1', ignore_errors=true,
                     null_padding=true)''').fetchall()[0][0]
    return total


def ingest(folder: str, out: str, work: str) -> int:
    """The whole ingest, writing all its files; returns the number of decisions."""
    from fairness_audit.ingest.eoir import ingest_eoir

    result = ingest_eoir(folder, out, work_dir=work,
                         progress=lambda m: print(m, file=sys.stderr, flush=True))
    return result.n_decisions


CHILD = r"""
import importlib.util, json, resource, sys
spec = importlib.util.spec_from_file_location("bench_ingest", sys.argv[1])
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)
result = getattr(bench, sys.argv[3])(*sys.argv[4:])
peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
json.dump({"result": result, "peak_kb": peak_kb}, open(sys.argv[2], "w"))
"""

# Runs a command and reports its wall time and the peak resident set size of its largest
# process (RUSAGE_CHILDREN of a fresh parent: nothing else has been its child).
WRAPPER = r"""
import json, resource, subprocess, sys, time
start = time.perf_counter()
code = subprocess.run(sys.argv[2:]).returncode
seconds = time.perf_counter() - start
peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
json.dump({"returncode": code, "seconds": seconds, "peak_kb": peak_kb}, open(sys.argv[1], "w"))
"""


def timed_child(function: str, *args: str) -> tuple[float, float, object]:
    """Run one of this module's functions in a fresh interpreter: wall seconds, its peak RSS
    (GB) and its result."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "child.json"
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", CHILD, __file__, str(report), function, *args],
                       check=True)
        wall = time.perf_counter() - start
        child = json.loads(report.read_text())
    return wall, child["peak_kb"] / 1024**2, child["result"]


def time_diff(old: Path, new: Path, out: Path) -> dict:
    """``fairness-audit diff-releases OLD NEW --out DIR`` in a fresh process: wall, peak."""
    if out.exists():
        shutil.rmtree(out)
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "diff.json"
        cmd = [sys.executable, "-m", "fairness_audit", "diff-releases", str(old), str(new),
               "--out", str(out)]
        subprocess.run([sys.executable, "-c", WRAPPER, str(report), *cmd], check=True)
        run = json.loads(report.read_text())
    if run["returncode"]:
        raise SystemExit(f"diff-releases failed (exit {run['returncode']}): {' '.join(cmd)}")
    return {"seconds": run["seconds"], "peak_gb": run["peak_kb"] / 1024**2}


def check_diff(out: Path, new: Path) -> list[str]:
    """diff-releases' outputs against the changes NEW was built with; one line per
    disagreement (none when every count, field count, transition and key agrees).

    Checked: summary.json's vanished / appeared / changed rows of every table it compared
    (the cases, proceedings and applications must be among them), its rows changed per field
    and its transitions (IJ_CODE to the new judge; the relabelled APPL_DEC code), and the keys
    of changed_keys.parquet against NEW's changes.parquet.
    """
    info = json.loads((new / "release.json").read_text())
    summary = json.loads((out / "summary.json").read_text())
    expected, tables = info["changes"], summary["tables"]
    procs, appln = "B_TblProceeding", "tbl_Court_Appln"
    problems = [f"{t}: not compared by diff-releases" for t in ("A_TblCase", procs, appln)
                if t not in tables]
    for table, entry in tables.items():
        if table not in expected:
            problems.append(f"{table}: compared by diff-releases, not in NEW's changes")
            continue
        for change, n in expected[table].items():
            if entry.get(change) != n:
                problems.append(f"{table} {change}: diff-releases found {entry.get(change)}, "
                                f"NEW was built with {n}")
    field, was, now = RELABEL
    by_field = {procs: {"IJ_CODE": expected[procs]["changed"]},
                appln: {field: expected[appln]["changed"]}}
    transitions = {
        procs: sum(r["n"] for r in summary["transitions"] if r["table"] == procs
                   and r["field"] == "IJ_CODE" and r["new"] == OTHER_JUDGE),
        appln: sum(r["n"] for r in summary["transitions"] if r["table"] == appln
                   and r["field"] == field and (r["old"], r["new"]) == (was, now)),
    }
    for table in (procs, appln):
        found = tables.get(table, {}).get("changed_by_field")
        if found is not None and found != {f: n for f, n in by_field[table].items() if n}:
            problems.append(f"{table} rows changed per field: diff-releases found {found}, NEW "
                            f"was built with {by_field[table]}")
        if transitions[table] != expected[table]["changed"]:
            problems.append(f"{table} transitions: diff-releases counted {transitions[table]}, "
                            f"NEW was built with {expected[table]['changed']}")
    from fairness_audit.ingest.raw import sql_string

    con = duckdb.connect()
    found, made = (f"(SELECT \"table\", CAST(key AS VARCHAR) AS key, change FROM "
                   f"read_parquet({sql_string(str(p))}))"
                   for p in (out / "changed_keys.parquet", new / "changes.parquet"))
    extra, missing = (con.execute(f"SELECT count(*) FROM ({a} EXCEPT ALL {b})").fetchall()[0][0]
                      for a, b in ((found, made), (made, found)))
    con.close()
    if extra or missing:
        problems.append(f"changed_keys.parquet: {extra:,} keys NEW was not built with, "
                        f"{missing:,} of NEW's changed keys absent")
    return problems


# --------------------------------------------------------------------------------------------
# Results: json, markdown, README and docs blocks
# --------------------------------------------------------------------------------------------
def _met(ok: bool) -> str:
    return "met" if ok else "not met"


def _rows(entry: dict) -> int:
    return sum(entry["release"]["rows"].values())


def _proceedings(entry: dict) -> str:
    return f"{entry['release']['rows']['B_TblProceeding'] / 1e6:.1f} M proceedings"


def _diff_changes(diff: dict) -> str:
    c = diff["changes"]
    p, a = c["B_TblProceeding"], c["tbl_Court_Appln"]
    field, was, now = RELABEL
    return (f"{p['vanished']:,} proceedings deleted, {p['changed']:,} given another judge, "
            f"{p['appeared']:,} appended; {field} '{was}' -> '{now}' on {a['changed']:,} "
            "applications")


def verdict(results: dict) -> str:
    """The run at the target size against the targets, one line each."""
    entry = results.get(TARGET_SIZE)
    if entry is None:
        return (f"- no run at the {TARGET_SIZE} size recorded yet (the targets: the ingest at most "
                f"{TARGETS['ratio']:g} times the fair baseline, in at most {TARGETS['minutes']:g} "
                f"minutes and {TARGETS['peak_gb']:g} GB; diff-releases within "
                f"{TARGETS['diff_ratio']:g} times one ingest).\n")
    if entry["scale"] != 1.0:  # fixed costs (process start, imports) dominate a small run
        return (f"- a run at {entry['scale']:g} of the size: not judged against the targets, "
                "which are for the full size.\n")
    ing, ratio = entry["ingest"], entry["ratio_fair"]
    minutes = ing["seconds"] / 60
    lines = [
        f"- ingest at most {TARGETS['ratio']:g} times the fair baseline: "
        f"{_met(ratio <= TARGETS['ratio'])} (ratio {ratio:.2f});",
        f"- ingest in at most {TARGETS['minutes']:g} minutes: "
        f"{_met(minutes <= TARGETS['minutes'])} ({minutes:.1f} min);",
        f"- ingest peak memory at most {TARGETS['peak_gb']:g} GB: "
        f"{_met(ing['peak_gb'] <= TARGETS['peak_gb'])} ({ing['peak_gb']:.1f} GB);",
    ]
    diff = entry.get("diff")
    if diff is None:
        lines.append(f"- diff-releases within {TARGETS['diff_ratio']:g} times one ingest: "
                     "not measured in this run.")
    else:
        ok = diff["ratio_to_ingest"] <= TARGETS["diff_ratio"]
        lines.append(f"- diff-releases within {TARGETS['diff_ratio']:g} times one ingest: "
                     f"{_met(ok)} (ratio {diff['ratio_to_ingest']:.2f}).")
    return "\n".join(lines) + "\n"


def markdown(results: dict) -> str:
    """The results of every size as tables (benchmarks/results/bench_ingest.md and the block
    of docs/performance.md)."""
    if not results:
        return ("No full-size run is recorded yet: `python benchmarks/bench_ingest.py --size "
                f"{TARGET_SIZE} --diff` and `python benchmarks/bench_ingest.py --size 2021` write "
                f"it.\n\nAgainst the targets (set for the {TARGET_SIZE} size):\n\n" + verdict(results))
    lines = [
        "| size | rows read | text | fair baseline | all-columns baseline | ingest | "
        "ingest / fair baseline | ingest / all-columns | peak memory (ingest) | decisions | "
        "date | machine |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for size in sorted(results):
        e = results[size]
        m, ing = e["machine"], e["ingest"]
        lines.append(
            f"| {size} ({_proceedings(e)}) | {_rows(e):,} | {e['release']['input_gb']:.1f} GB | "
            f"{e['fair_baseline']['seconds']:.1f} s | {e['all_columns_baseline']['seconds']:.1f} s"
            f" | {ing['seconds']:.1f} s ({ing['seconds'] / 60:.1f} min) | **{e['ratio_fair']:.2f}**"
            f" | {e['ratio_all_columns']:.2f} | {ing['peak_gb']:.1f} GB | {ing['decisions']:,} | "
            f"{e['date']} | {m['cpus']} cores, {m['memory_gb']:.0f} GB, DuckDB {m['duckdb']} |")
    lines += ["", "The release diff (`fairness-audit diff-releases OLD NEW --out DIR`, fresh "
              "process; OLD the release above, NEW built from it with the changes listed):", "",
              "| size | NEW's changes | diff-releases | peak memory | one ingest | diff / ingest | "
              "counts |", "|---|---|---|---|---|---|---|"]
    for size in sorted(results):
        e, diff = results[size], results[size].get("diff")
        if diff is None:
            lines.append(f"| {size} | not measured (run with `--diff`) | | | | | |")
            continue
        counts = ("as built" if not diff["mismatches"]
                  else f"{len(diff['mismatches'])} disagree: " + "; ".join(diff["mismatches"]))
        lines.append(f"| {size} | {_diff_changes(diff)} | {diff['seconds']:.1f} s | "
                     f"{diff['peak_gb']:.1f} GB | {e['ingest']['seconds']:.1f} s | "
                     f"**{diff['ratio_to_ingest']:.2f}** | {counts} |")
    lines += ["", f"Against the targets (set for the {TARGET_SIZE} size):", "",
              verdict(results).rstrip("\n"), "",
              "Commands: " + "; ".join(f"`{results[s]['command']}`" for s in sorted(results))
              + "."]
    return "\n".join(lines) + "\n"


def readme_block(results: dict) -> str:
    """The README's lines for the ingest (a test checks the README holds them)."""
    if not results:
        return markdown(results)
    lines = ["| size | rows read | ingest | fair baseline (ratio) | all-columns baseline (ratio) "
             "| peak memory | release diff (ratio to one ingest) |",
             "|---|---|---|---|---|---|---|"]
    for size in sorted(results):
        e = results[size]
        diff = e.get("diff")
        shown = ("not measured" if diff is None
                 else f"{diff['seconds']:.0f} s ({diff['ratio_to_ingest']:.2f})")
        lines.append(
            f"| {size} ({_proceedings(e)}) | {_rows(e):,} | {e['ingest']['seconds']:.0f} s | "
            f"{e['fair_baseline']['seconds']:.0f} s ({e['ratio_fair']:.2f}) | "
            f"{e['all_columns_baseline']['seconds']:.0f} s ({e['ratio_all_columns']:.2f}) | "
            f"{e['ingest']['peak_gb']:.1f} GB | {shown} |")
    lines += ["", f"Against the targets (set for the {TARGET_SIZE} size):", "",
              verdict(results).rstrip("\n")]
    return "\n".join(lines) + "\n"


BLOCK = "bench_ingest"  # its markers in the pages: docs/marked_block.py
DOCS_BEGIN, DOCS_END = marked_block.markers(BLOCK)


def write_docs(results: dict, root: Path = HERE.parent) -> None:
    """Put the results into docs/performance.md and the README, between their markers."""
    marked_block.write(root / "docs" / "performance.md", BLOCK, markdown(results))
    marked_block.write(root / "README.md", BLOCK, readme_block(results))


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def save(entry: dict, stem: Path) -> tuple[Path, Path]:
    """Merge this run's entry (keyed by its size) into ``stem``.json; write ``stem``.md from
    every entry. Returns the two paths."""
    json_path, md_path = (stem.with_name(stem.name + suffix) for suffix in (".json", ".md"))
    results = json.loads(json_path.read_text()) if json_path.exists() else {}
    # entries by size only (a file the earlier script wrote holds one flat run: dropped)
    results = {k: v for k, v in results.items() if k in SIZES}
    results[entry["size"]] = entry
    results = dict(sorted(results.items()))
    json_path.parent.mkdir(parents=True, exist_ok=True)
    _write_atomic(json_path, json.dumps(results, indent=1) + "\n")
    _write_atomic(md_path, markdown(results))
    return json_path, md_path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", choices=sorted(SIZES), default="2021",
                    help="the release's size: 2021 (9.7 M proceedings) or 2026 (16.6 M)")
    ap.add_argument("--scale", type=float, default=1.0, help="fraction of that size")
    ap.add_argument("--diff", action="store_true",
                    help="also build NEW and time fairness-audit diff-releases OLD NEW")
    ap.add_argument("--data", type=Path, default=HERE / "data",
                    help="folder for the generated releases and the outputs")
    ap.add_argument("--results", type=Path, default=HERE / "results",
                    help="folder of the full-size results (a run at another scale writes "
                         "into --data)")
    ap.add_argument("--regenerate", action="store_true")
    args = ap.parse_args()
    if args.diff:  # before anything is timed: is the command there?
        probe = subprocess.run([sys.executable, "-m", "fairness_audit", "diff-releases", "--help"],
                               capture_output=True, text=True)
        if probe.returncode:
            raise SystemExit("--diff: the command `fairness-audit diff-releases` is not available "
                             f"in this installation ({probe.stderr.strip().splitlines()[-1:]})")
    name = f"eoir_{args.size}_x{args.scale:g}"
    release = args.data / name
    if args.regenerate or not (release / "release.json").exists():
        print(f"generating {release} ...", file=sys.stderr, flush=True)
        info = generate(release, args.size, args.scale, replace=args.regenerate)
        print(f"generation: {info['seconds_to_generate']:.0f} s", file=sys.stderr, flush=True)
    info = json.loads((release / "release.json").read_text())
    rows = info["rows"]
    out = args.data / f"out_{args.size}_x{args.scale:g}" / "eoir.parquet"
    work = args.data / "work"
    work.mkdir(parents=True, exist_ok=True)
    size_gb = sum(p.stat().st_size for p in release.glob("*.csv")) / 1e9

    print("fair baseline ...", file=sys.stderr, flush=True)
    fair_s, fair_gb, fair_rows = timed_child("fair_baseline", str(release))
    assert fair_rows == sum(rows.values()), (fair_rows, sum(rows.values()))
    print("all-columns baseline ...", file=sys.stderr, flush=True)
    all_s, all_gb, all_rows = timed_child("all_columns_baseline", str(release))
    print("ingest ...", file=sys.stderr, flush=True)
    ingest_s, ingest_gb, n_dec = timed_child("ingest", str(release), str(out), str(work))
    ledger = json.loads(out.with_name("eoir.ledger.json").read_text())
    for table, n in rows.items():
        entry = ledger[table]
        assert entry["rows_read"] == n, (table, entry["rows_read"], n)
        assert entry["used"] + sum(entry["set_aside"].values()) == n, table

    diff = None
    if args.diff:
        new = args.data / f"{name}_new"
        if args.regenerate or not (new / "release.json").exists() or (
                (new / "release.json").stat().st_mtime < (release / "release.json").stat().st_mtime):
            print(f"building {new} ...", file=sys.stderr, flush=True)
            build_new_release(release, new, replace=True)
        new_info = json.loads((new / "release.json").read_text())
        print("diff-releases ...", file=sys.stderr, flush=True)
        timing = time_diff(release, new, args.data / f"diff_{args.size}_x{args.scale:g}")
        problems = check_diff(args.data / f"diff_{args.size}_x{args.scale:g}", new)
        for p in problems:
            print(f"diff-releases count disagrees: {p}", file=sys.stderr, flush=True)
        diff = {"seconds": round(timing["seconds"], 1), "peak_gb": round(timing["peak_gb"], 2),
                "ratio_to_ingest": round(timing["seconds"] / ingest_s, 2),
                "new_input_gb": round(sum(p.stat().st_size for p in new.glob("*.csv")) / 1e9, 2),
                "seconds_to_build_new": new_info["seconds_to_build"],
                "changes": new_info["changes"], "mismatches": problems}

    entry = {
        "size": args.size, "scale": args.scale, "date": time.strftime("%Y-%m-%d"),
        "command": " ".join(["python benchmarks/bench_ingest.py", *sys.argv[1:]]),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "duckdb": duckdb.__version__,
                    "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
                                       / 1024**3, 1)},
        "release": {"rows": rows, "input_gb": round(size_gb, 2),
                    "seconds_to_generate": info["seconds_to_generate"]},
        "fair_baseline": {"seconds": round(fair_s, 1), "peak_gb": round(fair_gb, 2),
                          "rows": int(fair_rows)},
        "all_columns_baseline": {"seconds": round(all_s, 1), "peak_gb": round(all_gb, 2),
                                 "rows": int(all_rows)},
        "ingest": {"seconds": round(ingest_s, 1), "peak_gb": round(ingest_gb, 2),
                   "decisions": int(n_dec)},
        "ratio_fair": round(ingest_s / fair_s, 2), "ratio_all_columns": round(ingest_s / all_s, 2),
        "diff": diff,
    }
    full = args.scale == 1.0
    stem = (args.results / "bench_ingest") if full else (args.data / f"bench_ingest_x{args.scale:g}")
    json_path, md_path = save(entry, stem)
    if full:
        write_docs(json.loads(json_path.read_text()))
    print(md_path.read_text())
    print(f"written: {json_path}, {md_path}" + (", README.md, docs/performance.md" if full else ""))


if __name__ == "__main__":
    main()
