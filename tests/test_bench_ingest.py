"""The ingest benchmark's data: the generated release, its row-count file, the fair baseline's
reading, and NEW, the next release built for the release-diff timing (benchmarks/bench_ingest.py).

Each check reads the files written back independently (Python over the bytes), not through the
functions that wrote them.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from fairness_audit.ingest import fixtures as fx
from fairness_audit.ingest.eoir import TABLES

ROOT = Path(__file__).resolve().parents[1]
TABLE_NAMES = ["A_TblCase", "B_TblProceeding", "tbl_Court_Appln", "tbl_RepsAssigned",
               "tbl_schedule", "tbl_JuvenileHistory", "tblAppeal"]


def _bench():
    spec = importlib.util.spec_from_file_location("bench_ingest", ROOT / "benchmarks" / "bench_ingest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench():
    return _bench()


@pytest.fixture(scope="module")
def release(bench, tmp_path_factory):
    """The 2021-size release at 1/1000 (about 10,000 proceedings) and NEW built from it."""
    folder = tmp_path_factory.mktemp("bench") / "eoir_2021_x0.001"
    bench.generate(folder, "2021", 0.001)
    new = folder.with_name("eoir_2021_x0.001_new")
    bench.build_new_release(folder, new)
    return folder, new


def _lines(path: Path) -> list[bytes]:
    """The data lines of a release file, as bytes (header dropped)."""
    data = path.read_bytes()
    assert data.endswith(b"\n")
    return data[:-1].split(b"\n")[1:]


def test_the_2026_size_is_the_february_2026_release_scaled_to_16_6_million_proceedings(bench):
    rows = bench.SIZES["2026"]
    # 16.6 M / 16,216,773 = 1.02363...; each count of the February 2026 release times that,
    # rounded (worked out by hand: 12,461,924 x 1.0236315 = 12,756,418.x, ...)
    assert rows == {"A_TblCase": 12_756_418, "B_TblProceeding": 16_600_000,
                    "tbl_Court_Appln": 16_129_255, "tbl_RepsAssigned": 26_245_710,
                    "tbl_schedule": 46_251_742, "tbl_JuvenileHistory": 3_022_958,
                    "tblAppeal": 1_491_726}
    assert bench.sized_rows("2026", 0.01)["B_TblProceeding"] == 166_000


def test_generated_release_has_its_row_counts_file_with_the_true_number_of_rows(release):
    folder, _ = release
    # at 1/1000 of 2021: max(10, int(rows x 0.001)) generated rows, 1,000 dirty rows at the end
    # of each file, and one latin-1 case row per 1,000 generated cases (7 of 7,390)
    expected = {"A_TblCase": 7_390 + 7 + 1_000, "B_TblProceeding": 9_704 + 1_000,
                "tbl_Court_Appln": 8_058 + 1_000, "tbl_RepsAssigned": 17_190 + 1_000,
                "tbl_schedule": 27_705 + 1_000, "tbl_JuvenileHistory": 1_935 + 1_000,
                "tblAppeal": 1_174 + 1_000}
    for table, n in expected.items():
        assert len(_lines(folder / f"{table}.csv")) == n, table
    text = (folder / "TableRowCounts.txt").read_bytes()
    # the bcp log's layout: a header, one line per table in name order, no end after the last
    assert text == (b"TableName\tContent\n"
                    b"A_TblCase\t8397 rows copied.\n"
                    b"B_TblProceeding\t10704 rows copied.\n"
                    b"tblAppeal\t2174 rows copied.\n"
                    b"tbl_Court_Appln\t9058 rows copied.\n"
                    b"tbl_JuvenileHistory\t2935 rows copied.\n"
                    b"tbl_RepsAssigned\t18190 rows copied.\n"
                    b"tbl_schedule\t28705 rows copied.")
    assert json.loads((folder / "release.json").read_text())["rows"] == expected
    # the dirty rows are there: shifted, truncated and latin-1 lines
    cases = _lines(folder / "A_TblCase.csv")
    assert sum("SAN JOSÉ".encode("latin-1") in line for line in cases) == 7 + 334
    assert sum(line.count(b"\t") < 38 for line in cases) == 333


def test_fair_baseline_reads_every_row_and_only_the_columns_the_ingest_uses(bench, release):
    folder, _ = release
    queries = {table: query for table, query, _ in bench.fair_baseline_queries(folder)}
    assert sorted(queries) == sorted(TABLE_NAMES)
    for spec in TABLES:
        header = [h.upper() for h in fx.HEADERS[spec.name]]
        # the first accepted name found in the header, as the ingest resolves its columns
        used = {next(header.index(n.upper()) for n in names if n.upper() in header)
                for names in spec.columns.values() if any(n.upper() in header for n in names)}
        decoded = {int(p) for p in _fields_aggregated(queries[spec.name])}
        assert decoded == used, spec.name
        assert "strict_mode=true" in queries[spec.name]
        assert "encoding='utf-8'" in queries[spec.name]
        assert f"'f{len(header) - 1}': 'VARCHAR'" in queries[spec.name]  # all fields declared
    assert bench.fair_baseline(str(folder)) == 8397 + 10704 + 9058 + 18190 + 28705 + 2935 + 2174


def _fields_aggregated(query: str) -> list[str]:
    import re

    return re.findall(r"max\(length\(f(\d+)\)\)", query)


def _by_key(lines: list[bytes], width: int) -> tuple[dict[bytes, bytes], list[bytes]]:
    """Well-formed ASCII lines by their key (first field); every other line as it is."""
    keyed, other = {}, []
    for line in lines:
        fields = line.split(b"\t")
        if len(fields) == width and line.isascii() and fields[0].isdigit():
            assert fields[0] not in keyed
            keyed[fields[0]] = line
        else:
            other.append(line)
    return keyed, other


def test_new_release_holds_exactly_the_changes_it_reports(release):
    old, new = release
    info = json.loads((new / "release.json").read_text())
    changes = info["changes"]

    header = [h.upper() for h in fx.HEADERS["B_TblProceeding"]]
    old_p, old_other = _by_key(_lines(old / "B_TblProceeding.csv"), len(header))
    new_p, new_other = _by_key(_lines(new / "B_TblProceeding.csv"), len(header))
    assert sorted(old_other) == sorted(new_other)  # dirty rows untouched, byte for byte
    vanished = old_p.keys() - new_p.keys()
    appeared = new_p.keys() - old_p.keys()
    changed = {k for k in old_p.keys() & new_p.keys() if old_p[k] != new_p[k]}
    ij = header.index("IJ_CODE")
    for k in changed:  # only the judge changed, to NJ1
        a, b = old_p[k].split(b"\t"), new_p[k].split(b"\t")
        assert b[ij] == b"NJ1" and a[ij] != b"NJ1"
        assert a[:ij] + a[ij + 1:] == b[:ij] + b[ij + 1:]
    # appended: the keys after the 9,704 generated ones, 0.5% of them (49)
    assert sorted(int(k) for k in appeared) == list(range(9_705, 9_705 + 49))
    assert all(int(k) <= 9_704 for k in vanished | changed)
    # about 0.2% and 0.1% of 9,704 proceedings; the exact numbers are what the hash picked
    assert 5 <= len(vanished) <= 60 and 1 <= len(changed) <= 40
    assert changes["B_TblProceeding"] == {"vanished": len(vanished), "appeared": 49,
                                          "changed": len(changed)}

    header = [h.upper() for h in fx.HEADERS["tbl_Court_Appln"]]
    old_a, old_other = _by_key(_lines(old / "tbl_Court_Appln.csv"), len(header))
    new_a, new_other = _by_key(_lines(new / "tbl_Court_Appln.csv"), len(header))
    assert sorted(old_other) == sorted(new_other) and old_a.keys() == new_a.keys()
    dec = header.index("APPL_DEC")
    relabelled = {k for k in old_a if old_a[k] != new_a[k]}
    for k in relabelled:
        a, b = old_a[k].split(b"\t"), new_a[k].split(b"\t")
        assert (a[dec], b[dec]) == (b"W", b"X") and a[:dec] == b[:dec]
    # every generated row with W is relabelled (the 1,000 dirty rows at the end have no W)
    assert relabelled == {k for k, line in old_a.items() if line.split(b"\t")[dec] == b"W"}
    assert 800 <= len(relabelled) <= 1_200  # one in eight of 8,058
    assert changes["tbl_Court_Appln"] == {"vanished": 0, "appeared": 0, "changed": len(relabelled)}

    for table in TABLE_NAMES:
        if table not in ("B_TblProceeding", "tbl_Court_Appln"):
            assert (new / f"{table}.csv").read_bytes() == (old / f"{table}.csv").read_bytes()
            assert changes[table] == {"vanished": 0, "appeared": 0, "changed": 0}
        assert len(_lines(new / f"{table}.csv")) == info["rows"][table], table
    counts = dict(line.split("\t") for line in
                  (new / "TableRowCounts.txt").read_text().splitlines()[1:])
    assert counts["B_TblProceeding"] == f"{10_704 - len(vanished) + 49} rows copied."

    keys = pq.read_table(new / "changes.parquet").to_pylist()
    expected = ({("B_TblProceeding", k.decode(), "vanished") for k in vanished}
                | {("B_TblProceeding", k.decode(), "appeared") for k in appeared}
                | {("B_TblProceeding", k.decode(), "changed") for k in changed}
                | {("tbl_Court_Appln", k.decode(), "changed") for k in relabelled})
    assert {(r["table"], r["key"], r["change"]) for r in keys} == expected
    assert len(keys) == len(expected)


def test_a_run_below_full_size_writes_beside_the_data_not_into_the_results(bench, tmp_path):
    entry = {"size": "2021", "scale": 0.01, **_entry_figures()}
    # a file of the earlier script (one flat run) is replaced, not merged
    (tmp_path / "bench_ingest_x0.01.json").write_text(json.dumps({"scale": 0.01, "ratio": 2.6}))
    json_path, md_path = bench.save(entry, tmp_path / "bench_ingest_x0.01")
    assert json_path.name == "bench_ingest_x0.01.json" and md_path.name == "bench_ingest_x0.01.md"
    bench.save({**entry, "size": "2026"}, tmp_path / "bench_ingest_x0.01")
    assert sorted(json.loads(json_path.read_text())) == ["2021", "2026"]  # keyed by size


def _entry_figures() -> dict:
    return {"date": "2026-12-01", "command": "python benchmarks/bench_ingest.py",
            "machine": {"cpus": 2, "memory_gb": 24.0, "python": "3.11.7", "duckdb": "2.0.1"},
            "release": {"rows": {"B_TblProceeding": 16_601_000, "A_TblCase": 1},
                        "input_gb": 15.4, "seconds_to_generate": 100.0},
            "fair_baseline": {"seconds": 40.0, "peak_gb": 0.4, "rows": 16_601_001},
            "all_columns_baseline": {"seconds": 50.0, "peak_gb": 0.4, "rows": 1},
            "ingest": {"seconds": 140.0, "peak_gb": 6.2, "decisions": 8_000_000},
            "ratio_fair": 3.5, "ratio_all_columns": 2.8, "diff": None}


def test_verdict_and_tables_against_the_targets(bench):
    assert bench.markdown({}).startswith("No full-size run is recorded yet")
    only_2021 = {"2021": {"size": "2021", "scale": 1.0, **_entry_figures()}}
    none_yet = ("- no run at the 2026 size recorded yet (the targets: the ingest at most 3 times "
                "the fair baseline, in at most 3 minutes and 8 GB; diff-releases within 2 times "
                "one ingest).\n")
    assert bench.verdict(only_2021) == none_yet
    assert bench.markdown({}).endswith("Against the targets (set for the 2026 size):\n\n" + none_yet)

    entry = {"size": "2026", "scale": 1.0, **_entry_figures()}
    entry["diff"] = {"seconds": 210.0, "peak_gb": 3.0, "ratio_to_ingest": 1.5, "mismatches": [],
                     "changes": {"B_TblProceeding": {"vanished": 33_000, "appeared": 83_000,
                                                     "changed": 16_600},
                                 "tbl_Court_Appln": {"vanished": 0, "appeared": 0,
                                                     "changed": 2_016_000}}}
    results = {"2026": entry}
    # 140 s = 2.3 min; ratio 3.5 > 3; 6.2 GB <= 8; the diff 1.5 <= 2
    assert bench.verdict(results) == (
        "- ingest at most 3 times the fair baseline: not met (ratio 3.50);\n"
        "- ingest in at most 3 minutes: met (2.3 min);\n"
        "- ingest peak memory at most 8 GB: met (6.2 GB);\n"
        "- diff-releases within 2 times one ingest: met (ratio 1.50).\n")
    assert bench.verdict({"2026": {**entry, "scale": 0.01}}) == (
        "- a run at 0.01 of the size: not judged against the targets, which are for the full "
        "size.\n")
    table = bench.markdown(results)
    assert ("| 2026 (16.6 M proceedings) | 16,601,001 | 15.4 GB | 40.0 s | 50.0 s | "
            "140.0 s (2.3 min) | **3.50** | 2.80 | 6.2 GB | 8,000,000 | 2026-12-01 | "
            "2 cores, 24 GB, DuckDB 2.0.1 |") in table
    assert ("| 2026 | 33,000 proceedings deleted, 16,600 given another judge, 83,000 appended; "
            "APPL_DEC 'W' -> 'X' on 2,016,000 applications | 210.0 s | 3.0 GB | 140.0 s | "
            "**1.50** | as built |") in table
    readme = bench.readme_block(results)
    assert ("| 2026 (16.6 M proceedings) | 16,601,001 | 140 s | 40 s (3.50) | 50 s (2.80) | "
            "6.2 GB | 210 s (1.50) |") in readme
    entry["diff"]["mismatches"] = ["B_TblProceeding vanished: diff-releases found 1, NEW was "
                                   "built with 33000"]
    assert "| 1 disagree: B_TblProceeding vanished" in bench.markdown(results)


def test_diff_check_agrees_with_diff_releases_on_new_and_catches_what_disagrees(bench, release,
                                                                                tmp_path):
    from typer.testing import CliRunner

    from fairness_audit.cli import app

    old, new = release
    out = tmp_path / "diff"
    result = CliRunner().invoke(app, ["diff-releases", str(old), str(new), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert bench.check_diff(out, new) == []

    changes = json.loads((new / "release.json").read_text())["changes"]
    n = changes["B_TblProceeding"]["vanished"]
    summary = json.loads((out / "summary.json").read_text())
    summary["tables"]["B_TblProceeding"]["vanished"] += 1
    summary["transitions"] = [t for t in summary["transitions"] if t["field"] != "APPL_DEC"]
    (out / "summary.json").write_text(json.dumps(summary))
    keys = pq.read_table(out / "changed_keys.parquet")
    pq.write_table(keys.slice(1), out / "changed_keys.parquet")
    assert bench.check_diff(out, new) == [
        f"B_TblProceeding vanished: diff-releases found {n + 1}, NEW was built with {n}",
        f"tbl_Court_Appln transitions: diff-releases counted 0, NEW was built with "
        f"{changes['tbl_Court_Appln']['changed']}",
        "changed_keys.parquet: 0 keys NEW was not built with, 1 of NEW's changed keys absent",
    ]


def test_the_profile_times_every_statement_of_one_ingest(release, tmp_path):
    spec = importlib.util.spec_from_file_location(
        "profile_ingest", ROOT / "benchmarks" / "profile_ingest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    old, _ = release
    lines = module.profile(old, tmp_path, top=3)
    summary = next(line for line in lines if line.startswith("whole ingest:"))
    # the statements' time is part of the whole; three statements are listed after it
    total, in_sql = (float(part.split(": ")[-1].rstrip(" s")) for part in
                     summary.split(";")[:2])
    assert 0 < in_sql <= total
    assert len(lines) - lines.index("the 3 slowest statements:") - 1 == 3
    assert (tmp_path / "eoir.parquet").exists()


def test_the_ingest_alternatives_time_the_ingest_s_own_statements_on_the_same_rows(release, tmp_path):
    """benchmarks/ingest_alternatives.py: the statements it times as the ingest's are those an
    ingest of the whole release sends (they do not depend on the rows), every alternative reads
    the same rows (counted here in Python), and both paths give the same table per proceeding."""
    spec = importlib.util.spec_from_file_location(
        "ingest_alternatives", ROOT / "benchmarks" / "ingest_alternatives.py")
    alt = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(alt)
    from fairness_audit.ingest import eoir

    old, _ = release
    small, folder = tmp_path / "small", tmp_path / "sample"
    small.mkdir()
    folder.mkdir()
    assert alt.sample_release(old, small, dict.fromkeys(TABLE_NAMES, 2000)) == \
        dict.fromkeys(TABLE_NAMES, 2000)
    assert alt.sample_release(old, folder, {**dict.fromkeys(TABLE_NAMES, 10), "tbl_schedule": 6000}) \
        == {**dict.fromkeys(TABLE_NAMES, 10), "tbl_schedule": 6000}
    lines = _lines(folder / "tbl_schedule.csv")
    assert lines == _lines(old / "tbl_schedule.csv")[:6000]
    statements = alt.ingest_statements(small, tmp_path / "a")
    whole = alt.ingest_statements(old, tmp_path / "b")
    for table in ("t_sched", "dup_sched"):
        ours = [s for s in statements if s.lstrip().startswith(f"CREATE OR REPLACE TABLE {table} AS")]
        assert len(ours) == 1 and ours[0] in whole, table
    con = eoir.engine_connection(eoir.load_options(), tmp_path / "spill", progress_bar=False)
    queries = alt.prepare(con, statements, eoir.SCHEDULE, folder)
    assert list(queries) == list(alt.ORDER)
    # the reader's rows + its rejects: every line; a stored copy holds the rows it accepted
    (read,) = queries["read"]
    accepted = con.execute(read).fetchall()[0][0]
    header = (folder / "tbl_schedule.csv").read_bytes().split(b"\n", 1)[0]
    for line in lines:
        line.decode("utf-8")  # every line is UTF-8 here, so the reader rejects by field count
    assert accepted == sum(line.count(b"\t") == header.count(b"\t") for line in lines)
    for query in queries["store the text"]:
        con.execute(query)
    assert con.execute("SELECT count(*) FROM text_rows").fetchall()[0][0] == accepted

    def run(name: str) -> list[tuple]:
        for query in queries[name]:
            con.execute(query)
        return con.execute("SELECT * FROM parent ORDER BY ALL").fetchall()

    by_rows, by_keys = run("the ingest's path"), run("the path without rows")
    assert by_rows == by_keys and sum(r[1] for r in by_rows) > 0.9 * accepted
    keys = con.execute("SELECT count(DISTINCT _k) FROM t_sched WHERE _reason IS NULL").fetchall()
    assert con.execute("SELECT count(*), sum(n) FROM keyed").fetchall()[0][0] == keys[0][0]
    per_parent = run("type, one row per parent")
    assert sum(r[1] for r in per_parent) == con.execute(
        "SELECT count(*) FROM t_sched WHERE _reason IS NULL").fetchall()[0][0]
