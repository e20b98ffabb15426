"""Nothing lost: every row read is used or set aside with a reason, at every stage.

Properties over generated inputs (hypothesis, derandomised so that CI sees the same examples):

1. ``ingest eoir`` on small releases with chosen rows damaged (``ingest.fixtures``): for every
   table, rows read = the data lines in the file (counted here from the bytes written) = used
   + set aside, the set-aside file holds those rows with the same reasons, the reasons and
   nulled values are the ones planted, and each decided proceeding is one decision row.
2. ``ingest table`` through a mapping, on CSVs with planted bad values: the ledger's per-reason
   counts are the planted ones.
3. The audit's window and sample filters: rows in = rows in the window + rows outside it, and
   each model's observations + its sample's exclusions = the rows it starts from (the whole
   analysis frame: every model's first filter is the window).
"""

from __future__ import annotations

import csv
import gzip
import json
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from fairness_audit.config import default_config_text, load_config, parse_config
from fairness_audit.errors import NotEstimable
from fairness_audit.features import build_frame
from fairness_audit.ingest.eoir import ingest_eoir
from fairness_audit.ingest.fixtures import DAMAGE_KINDS, damaged_release
from fairness_audit.ingest.table import ingest_table
from fairness_audit.models.design import SAMPLE_FILTERS, build_design
from fairness_audit.schema import coerce_decisions

PROPERTY = settings(max_examples=15, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.function_scoped_fixture])


def data_lines(path: Path) -> list[bytes]:
    """The lines after the header, split from the file's bytes."""
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        data = gzip.decompress(data)
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return [line.removesuffix(b"\r") for line in lines[1:]]


def first_field(line: bytes) -> str | None:
    return line.split(b"\t", 1)[0].decode("latin-1").strip() or None


# ---------------------------------------------------------------------------------- ingest eoir
TABLES = tuple(DAMAGE_KINDS)
damage = st.lists(st.tuples(st.sampled_from([(t, k) for t in TABLES for k in DAMAGE_KINDS[t]]),
                            st.integers(0, 40)).map(lambda d: (*d[0], d[1])), max_size=12)


@PROPERTY
@given(damage=damage, n_cases=st.integers(1, 5), crlf=st.sets(st.sampled_from(TABLES)),
       gz=st.sets(st.sampled_from(TABLES)))
# every kind of damage at once, each on its own row
@example(damage=[(t, k, i) for t in TABLES for i, k in enumerate(DAMAGE_KINDS[t])], n_cases=12,
         crlf={"B_TblProceeding", "tbl_schedule"}, gz={"A_TblCase", "tblAppeal"})
def test_ingest_eoir_accounts_for_every_line(damage, n_cases, crlf, gz):
    release = damaged_release(damage, n_cases=n_cases, crlf_tables=sorted(crlf),
                              gzip_tables=sorted(gz))
    b = release.builder
    with tempfile.TemporaryDirectory() as tmp:
        folder = release.write(Path(tmp) / "release")
        out = Path(tmp) / "out" / "eoir.parquet"
        result = ingest_eoir(folder, out)
        ledger = json.loads(out.with_name("eoir.ledger.json").read_text())
        decisions = pd.read_parquet(out)
        aside = pd.read_parquet(out.with_name("eoir.set_aside.parquet"))
        files = {p.name.split(".")[0]: p for p in folder.iterdir()
                 if not p.name.startswith("tblLookup")}
        lines = {t: data_lines(p) for t, p in files.items()}

    assert ledger == result.ledger
    assert set(ledger) == set(files)  # every table read has its entry, and no other
    planted_aside = Counter((t, r) for t, _, r in b.set_aside)
    for table, entry in ledger.items():
        n_aside = sum(entry["set_aside"].values())
        assert entry["rows_read"] == len(lines[table]), table
        assert entry["rows_read"] == entry["used"] + n_aside, table
        got = Counter(aside.loc[aside["table"] == table, "reason"])
        assert got == Counter(entry["set_aside"]), table
        assert entry["set_aside"] == {r: n for (t, r), n in planted_aside.items() if t == table}
        assert entry["values_nulled"] == {c: n for (t, c), n in b.values_nulled.items()
                                          if t == table}
    # each decided proceeding is one decision row, and only those
    assert decisions["proceeding_id"].is_unique
    assert len(decisions) == ledger["B_TblProceeding"]["used"]
    assert sorted(decisions["proceeding_id"]) == sorted(release.decided)
    # key by key: every proceeding line is a decision or a set-aside row
    p_aside = aside.loc[aside["table"] == "B_TblProceeding", "key"]
    accounted = Counter(decisions["proceeding_id"]) + Counter(
        None if pd.isna(k) else k for k in p_aside)
    assert accounted == Counter(first_field(line) for line in lines["B_TblProceeding"])


# ---------------------------------------------------------------------------------- ingest table
MAPPING = {
    "name": "a generated extract",
    "read": {"format": "csv"},
    "columns": {
        "case_id": "case", "proceeding_id": "proc", "judge_id": "judge", "court_id": "court",
        "fiscal_year": "derived",
        "decision_date": {"from": "decided", "format": "%m/%d/%Y"},
        "outcome": {"from": "result", "values": {
            "X": "removal", "G": "grant", "V": "voluntary_departure", "T": "termination",
            "C": {"set_aside": "change of venue", "workload": "administrative"}}},
        "case_type": {"from": "type", "values": {"RMV": "RMV", "DEP": "DEP"},
                      "unlisted": {"set_aside": "out of scope case type"}},
        "custody": {"from": "custody", "values": {"D": "D", "R": "R", "N": "N"}},
        "filed_date": {"from": "filed", "format": "%m/%d/%Y"}, "duration_days": "derived",
        **{c: "missing" for c in (
            "nationality", "language", "gender", "detained", "represented", "juvenile",
            "asylum_application", "asylum_decision", "n_hearings", "n_continuances",
            "in_absentia", "appealed", "remanded")},
    },
}
HEADER = ["case", "proc", "judge", "court", "decided", "result", "type", "custody", "filed"]
# bad value -> (column, value written, set-aside reason or None when the row is used)
BAD_VALUES = {
    "unparseable date": ("decided", "13/45/2018", "unreadable decision_date"),
    "empty date": ("decided", "", "missing decision_date"),
    "empty judge": ("judge", "  ", "missing judge_id"),
    "empty court": ("court", "", "missing court_id"),
    "empty case": ("case", "", "missing case_id"),
    "empty proceeding": ("proc", "", "missing proceeding_id"),
    "unlisted outcome": ("result", "Z", None),
    "set-aside outcome": ("result", "C", "change of venue"),
    "unlisted case type": ("type", "WHO", "out of scope case type"),
    "unlisted custody": ("custody", "U", None),
    "redacted filed date": ("filed", "b6", None),
    "filed after decision": ("filed", "12/31/2020", "decision before filed_date"),
}
ROW_DAMAGE = st.sampled_from([None, *BAD_VALUES, "duplicate key", "extra field"])


@PROPERTY
@given(damage=st.lists(ROW_DAMAGE, max_size=40).map(lambda d: [*d, None]))
# one field too many on the first line: pandas would take the first column for the row index
@example(damage=["extra field", "unparseable date", None])
def test_ingest_table_sets_aside_what_was_planted(damage):
    """Each row takes at most one bad value; the last row is clean (a column with no readable
    value at all is an error, not a row to set aside)."""
    planted, lines = Counter(), []
    unlisted, nulled, used = Counter(), Counter(), []
    first_used = None
    for i, kind in enumerate(damage):
        row = {"case": str(100 + i), "proc": str(5000 + i), "judge": f"IJ{i % 3}",
               "court": "SDC", "decided": f"{i % 12 + 1:02d}/15/2019", "result": "XGVT"[i % 4],
               "type": "RMV", "custody": "DRN"[i % 3], "filed": "01/10/2018"}
        reason = None
        if kind in BAD_VALUES:
            column, value, reason = BAD_VALUES[kind]
            row[column] = value
            if kind == "unlisted outcome":
                unlisted[("outcome", value)] += 1
            elif kind == "unlisted custody":
                unlisted[("custody", value)] += 1
                nulled["custody"] += 1
            elif kind == "redacted filed date":
                nulled["filed_date"] += 1
        elif kind == "duplicate key" and first_used is not None:
            row["proc"], reason = first_used, "duplicate proceeding_id"
        elif kind == "extra field":
            reason = "unparseable line"
        if reason is None and first_used is None:
            first_used = row["proc"]
        if reason is None:
            used.append(row["proc"])
        else:
            planted[reason] += 1
        fields = [row[c] for c in HEADER] + (["stray"] if kind == "extra field" else [])
        lines.append(fields)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "extract.csv"
        with src.open("w", newline="", encoding="utf-8") as fh:
            csv.writer(fh, lineterminator="\n").writerows([HEADER, *lines])
        mapping = Path(tmp) / "mapping.yaml"
        mapping.write_text(yaml.safe_dump(MAPPING, sort_keys=False))
        out = Path(tmp) / "t.parquet"
        result = ingest_table(src, mapping, out)
        n_lines = src.read_bytes().count(b"\n") - 1
        decisions = pd.read_parquet(out)
        aside = pd.read_parquet(out.with_name("t.set_aside.parquet"))
    entry = result.ledger["extract.csv"]
    assert entry["rows_read"] == n_lines == len(damage)
    assert entry["rows_read"] == entry["used"] + sum(entry["set_aside"].values())
    assert entry["set_aside"] == dict(planted)
    assert Counter(aside["reason"]) == planted
    assert decisions["proceeding_id"].tolist() == used
    assert entry["values_nulled"] == dict(nulled)
    assert Counter({(c, v): n for c, vs in entry.get("values_unlisted", {}).items()
                    for v, n in vs.items()}) == unlisted


# ---------------------------------------------------------------------------------- the audit
WINDOW = (pd.Timestamp("2016-10-01"), pd.Timestamp("2021-10-01"))
NULLABLE = ("decision_date", "represented", "detained", "juvenile", "asylum_application",
            "in_absentia", "duration_days", "nationality", "case_type", "appealed", "remanded")


@pytest.fixture(scope="module")
def court():
    """A small simulated court system (2 courts x 4 judges, about 30,000 decisions)."""
    import dataclasses

    from fairness_audit.simulate import SimulationParams, simulate

    sim = simulate(dataclasses.replace(SimulationParams(), n_courts=2, judges_per_court=4),
                   seed=5)
    decisions, _ = coerce_decisions(sim.decisions)
    return decisions, sim


def perturb(decisions: pd.DataFrame, *, drop, move, nulls) -> pd.DataFrame:
    """Drop rows, move decision dates out of the window, null model inputs (by position);
    the table stays valid (fiscal year and duration follow the date)."""
    df = decisions.copy()
    n = len(df)
    for i, after in move:
        day = (WINDOW[1] if after else WINDOW[0] - pd.Timedelta(days=400)) + pd.Timedelta(
            days=i % 300)
        idx = df.index[i % n]
        df.loc[idx, "decision_date"] = day
        df.loc[idx, "fiscal_year"] = day.year + (day.month >= 10)
        duration = (day - df.loc[idx, "filed_date"]).days if pd.notna(
            df.loc[idx, "filed_date"]) else None
        if duration is None or duration < 0:
            df.loc[idx, ["filed_date", "duration_days"]] = None
        else:
            df.loc[idx, "duration_days"] = float(duration)
    for column, rows in nulls.items():
        at = df.index if rows == "all" else df.index[[i % n for i in rows]]
        df.loc[at, column] = None
        if column == "appealed":
            df.loc[at, "remanded"] = None
    df = df.drop(index=df.index[sorted({i % n for i in drop})])
    return coerce_decisions(df.reset_index(drop=True))[0]


def needed_columns(spec) -> list[str]:
    parts = [p for t in spec.terms for p in t.split(":")]
    fes = [p for fe in spec.fixed_effects for p in fe.split("^")]
    return list(dict.fromkeys([spec.outcome, *parts, *fes, "judge_id"]))


def check_frame_and_designs(decisions, workload, coverage_start, config) -> None:
    frame = build_frame(decisions, workload, config, coverage_start=coverage_start)
    data = frame.data
    rows_in = len(decisions)
    assert len(data) == rows_in
    # the window: in it, or counted outside it (contract section 3)
    window = frame.excluded.get("window", {})
    assert int(data["in_window"].sum()) + sum(window.values()) == rows_in
    date = data["decision_date"]
    by_year = pd.to_datetime((data["fiscal_year"] - 1).astype(str) + "-10-01")
    placed = date.fillna(by_year)
    assert data["in_window"].tolist() == ((placed >= WINDOW[0]) & (placed < WINDOW[1])).tolist()
    # every feature left null is counted under a reason
    for feature in ("quota_shortfall", "pre_policy_gap"):
        assert int(data[feature].isna().sum()) == sum(frame.excluded.get(feature, {}).values())
    for name, spec in config.models.items():
        try:
            design = build_design(data, spec, cluster=config.inference.cluster)
        except NotEstimable:
            continue
        assert len(design.data) + sum(design.excluded.values()) == rows_in, name
        keep = pd.Series(True, index=data.index)
        for f in spec.sample:
            keep &= SAMPLE_FILTERS[f].keep(data).fillna(False).astype(bool)
        if spec.end is not None:
            keep &= (data["decision_date"] < pd.Timestamp(spec.end)).fillna(False).astype(bool)
        for column, values in spec.exclude.items():
            if column in data.columns:
                hit = data[column].notna() if values == "all" else data[column].isin(values)
                keep &= ~hit.fillna(False).astype(bool)
        keep &= data[needed_columns(spec)].notna().all(axis=1)
        assert design.data.index.tolist() == data.index[keep].tolist(), name
        assert spec.sample[0] == "in_window", name  # the documented starting point
        assert design.excluded.get("outside window or no decision date", 0) == int(
            (~data["in_window"]).sum()), name


positions = st.lists(st.integers(0, 10**6), max_size=60)


@PROPERTY
@given(drop=positions, move=st.lists(st.tuples(st.integers(0, 10**6), st.booleans()),
                                     max_size=60),
       nulls=st.dictionaries(st.sampled_from(NULLABLE), st.one_of(positions, st.just("all")),
                             max_size=4))
def test_window_and_sample_filters_account_for_every_row(court, drop, move, nulls):
    decisions, sim = court
    config = load_config()
    table = perturb(decisions, drop=drop, move=move, nulls=nulls)
    check_frame_and_designs(table, sim.workload, sim.metadata["coverage_start"], config)


def test_results_account_for_every_row(court, tmp_path):
    """The full audit once, on a perturbed table written with its ledger: results.json says
    where every row went, model by model, and carries the ledger as written."""
    from fairness_audit.audit import compute_results
    from fairness_audit.tables import TablePaths, write_decision_data

    decisions, sim = court
    rng = np.random.default_rng(1)
    n = len(decisions)
    drop = rng.choice(n, 300, replace=False).tolist()
    table = perturb(decisions, drop=drop,
                    move=[(int(i), bool(i % 2)) for i in rng.choice(n, 400, replace=False)],
                    nulls={c: rng.choice(n, 500, replace=False).tolist()
                           for c in ("represented", "decision_date", "in_absentia",
                                     "duration_days", "nationality")})
    ledger = json.loads(json.dumps(sim.ledger))
    (entry,) = ledger.values()
    assert entry["used"] == n
    entry["used"] -= len(drop)
    entry["set_aside"]["left out of this test table"] = len(drop)
    paths = TablePaths.from_path(tmp_path / "court.parquet")
    write_decision_data(paths, table, sim.workload, ledger, sim.metadata)

    # the default plan; its disparity tables say nothing about rows, so one small one will do
    plan = yaml.safe_load(default_config_text())
    plan["disparities"].update(outcomes=["granted"], continuous=[], dimensions=["represented"],
                               intersections=[], adjusted=False)
    results = compute_results(paths.decisions, parse_config(plan))
    data = results["data"]
    assert data["ingest"] == json.loads(paths.ledger.read_text()) == ledger
    assert data["rows_in"] == len(table) == entry["used"]
    assert data["rows_in"] == data["rows_used"] + sum(data["set_aside"].values())
    fitted = [m for m in results["models"] if m["engine"] is not None]
    assert len(fitted) > 10
    for m in fitted:
        if "panel" in m:  # the first stage's rows are judge x quarters: its panel accounts
            panel = m["panel"]
            counted = panel["completions"]
            assert counted["counted"] == counted["used"] + sum(counted["left_out"].values())
            assert m["n_obs"] + sum(m["sample"]["excluded"].values()) == panel["judge_quarters"]
            continue
        assert m["n_obs"] + sum(m["sample"]["excluded"].values()) == data["rows_in"], m["name"]
