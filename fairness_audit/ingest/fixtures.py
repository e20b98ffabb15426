"""Small raw EOIR releases with known expected output, for tests and examples.

:class:`ReleaseBuilder` writes the release's tab-separated latin-1 tables with the real
files' names and column layout, and records, row by row, what the ingest must make of them:
the decisions table, the workload file, the rows set aside (with their reason) and the
values nulled. :func:`standard_release` assembles the quirks of real releases: latin-1
names, stray tabs (repairable and not), truncated rows, an extra empty trailing field, empty
and invalid keys, duplicated rows, redacted and impossible dates, completions before the
charging document, transfers, pending cases, government-lawyer rows, remands that open a new
proceeding, placeholder judges, a merged judge code, gzip and CRLF files, mixed-case headers,
case priority codes (every code of the default docket map, N/A, and a code it does not list).
:func:`damaged_release` damages chosen rows of a small release in chosen ways, for property
tests that every line is accounted for.

Expected values are written out by hand for every decision, not derived by the code under
test; only the trivial ones (the proceeding's own codes, fiscal year, duration in days) are
computed here, with plain Python.
"""

from __future__ import annotations

import datetime as dt
import gzip
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from fairness_audit.schema import (
    DECISION_COLUMNS,
    OPTIONAL_DECISION_COLUMNS,
    WORKLOAD_COLUMNS,
    coerce_decisions,
)

CASE_HEADER = (
    "IDNCASE", "ALIEN_CITY", "ALIEN_STATE", "ALIEN_ZIPCODE", "UPDATED_ZIPCODE", "UPDATED_CITY",
    "NAT", "LANG", "CUSTODY", "SITE_TYPE", "E_28_DATE", "ATTY_NBR", "CASE_TYPE", "UPDATE_SITE",
    "LATEST_HEARING", "LATEST_TIME", "LATEST_CAL_TYPE", "UP_BOND_DATE", "UP_BOND_RSN",
    "CORRECTIONAL_FAC", "RELEASE_MONTH", "RELEASE_YEAR", "INMATE_HOUSING", "DATE_OF_ENTRY",
    "C_ASY_TYPE", "C_BIRTHDATE", "C_RELEASE_DATE", "UPDATED_STATE", "ADDRESS_CHANGEDON",
    "ZBOND_MRG_FLAG", "Sex", "DATE_DETAINED", "DATE_RELEASED", "LPR", "DETENTION_DATE",
    "DETENTION_LOCATION", "DCO_LOCATION", "DETENTION_FACILITY_TYPE", "CASEPRIORITY_CODE",
)
PROCEEDING_HEADER = (
    "IDNPROCEEDING", "IDNCASE", "OSC_DATE", "INPUT_DATE", "BASE_CITY_CODE", "HEARING_LOC_CODE",
    "IJ_CODE", "TRANS_IN_DATE", "PREV_HEARING_LOC", "PREV_HEARING_BASE", "PREV_IJ_CODE",
    "TRANS_NBR", "HEARING_DATE", "HEARING_TIME", "DEC_TYPE", "DEC_CODE", "DEPORTED_1",
    "DEPORTED_2", "OTHER_COMP", "APPEAL_RSVD", "APPEAL_NOT_FILED", "COMP_DATE", "ABSENTIA",
    "VENUE_CHG_GRANTED", "TRANSFER_TO", "DATE_APPEAL_DUE_STATUS", "TRANSFER_STATUS", "CUSTODY",
    "CASE_TYPE", "NAT", "LANG", "SCHEDULED_HEAR_LOC", "CORRECTIONAL_FAC", "CRIM_IND", "IHP",
    "AGGRAVATE_FELON", "DATE_DETAINED", "DATE_RELEASED",
)
APPLICATION_HEADER = ("IDNPROCEEDINGAPPLN", "IDNPROCEEDING", "IDNCASE", "APPL_CODE",
                      "APPL_RECD_DATE", "APPL_DEC")
REPS_HEADER = ("IDNREPSASSIGNED", "IDNCASE", "STRATTYLEVEL", "STRATTYTYPE", "PARENT_TABLE",
               "PARENT_IDN", "BASE_CITY_CODE", "INS_TA_DATE_ASSIGNED", "E_27_DATE", "E_28_DATE",
               "BLNPRIMEATTY")
SCHEDULE_HEADER = (
    "IDNSCHEDULE", "IDNPROCEEDING", "IDNCASE", "OSC_DATE", "GENERATION", "SUB_GENERATION",
    "REC_TYPE", "LANG", "HEARING_LOC_CODE", "BASE_CITY_CODE", "IJ_CODE", "INTERPRETER_CODE",
    "INPUT_DATE", "INPUT_TIME", "UPDATE_DATE", "UPDATE_TIME", "ASSIGNMENT_PATH", "CAL_TYPE",
    "ADJ_DATE", "ADJ_TIME_START", "ADJ_TIME_STOP", "ADJ_RSN", "ADJ_MEDIUM", "ADJ_MSG",
    "ADJ_ELAP_DAYS", "LNGSESSNID", "SCHEDULE_TYPE", "NOTICE_CODE", "BLNCLOCKOVERRIDE",
    "EOIRAttorneyID",
)
JUVENILE_HEADER = ("idnJuvenileHistory", "idnCase", "idnProceeding", "idnJuvenile",
                   "DATCREATEDON", "DATMODIFIEDON")
APPEAL_HEADER = ("idnAppeal", "idncase", "idnProceeding", "strAppealCategory", "strAppealType",
                 "datAppealFiled", "strFiledBy", "datAttorneyE27", "datBIADecision",
                 "strBIADecision", "strBIADecisionType", "strCaseType", "strLang", "strNat",
                 "strProceedingIHP", "strCustody", "strProbono")
BASE_CITY_HEADER = ("idnBaseCity", "BASE_CITY_CODE", "BASE_CITY_NAME", "blnActive")

HEADERS = {
    "A_TblCase": CASE_HEADER, "B_TblProceeding": PROCEEDING_HEADER,
    "tbl_Court_Appln": APPLICATION_HEADER, "tbl_RepsAssigned": REPS_HEADER,
    "tbl_schedule": SCHEDULE_HEADER, "tbl_JuvenileHistory": JUVENILE_HEADER,
    "tblAppeal": APPEAL_HEADER, "tblLookupBaseCity": BASE_CITY_HEADER,
}


def d(day: str) -> str:
    """A date as the release writes it."""
    return f"{day} 00:00:00.000"


def _date(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value[:10]) if value else None
    except ValueError:
        return None


def fiscal_year(day: dt.date) -> int:
    return day.year + (1 if day.month >= 10 else 0)


@dataclass
class ReleaseBuilder:
    """Rows of a raw release plus what the ingest must make of them."""

    judge_merge: dict[str, str] = field(default_factory=dict)
    rows: dict[str, list[str]] = field(default_factory=lambda: {t: [] for t in HEADERS})
    decisions: list[dict[str, Any]] = field(default_factory=list)
    workload: list[dict[str, Any]] = field(default_factory=list)
    set_aside: list[tuple[str, str | None, str]] = field(default_factory=list)
    values_nulled: Counter = field(default_factory=Counter)
    proceedings: dict[int, dict[str, str]] = field(default_factory=dict)
    # data-quality facts of the ledger (they set no row aside)
    orphans: Counter = field(default_factory=Counter)  # (table, description)
    outside_codebook: Counter = field(default_factory=Counter)  # (table, column, value)
    impossible_dates: Counter = field(default_factory=Counter)  # (table, column)
    nulled_by_court_year: Counter = field(default_factory=Counter)  # (column, court, year)
    _next: Counter = field(default_factory=Counter)

    # ------------------------------------------------------------------ writing rows
    def _id(self, table: str, start: int) -> int:
        self._next[table] += 1
        return start + self._next[table]

    def add_row(self, table: str, values: dict[str, str]) -> str:
        header = HEADERS[table]
        upper = {h.upper(): h for h in header}
        unknown = [k for k in values if k.upper() not in upper]
        if unknown:
            raise KeyError(f"{table}: no column {unknown}")
        by_name = {upper[k.upper()]: v for k, v in values.items()}
        line = "\t".join(str(by_name.get(h, "")) for h in header)
        self.rows[table].append(line)
        return line

    def add_line(self, table: str, line: str) -> None:
        """A raw line, written as given (for malformed rows)."""
        self.rows[table].append(line)

    def line(self, table: str, values: dict[str, str]) -> list[str]:
        """The fields of a row in header order, for building malformed lines."""
        upper = {k.upper(): v for k, v in values.items()}
        return [str(upper.get(h.upper(), "")) for h in HEADERS[table]]

    # ------------------------------------------------------------------ tables
    def case(self, *, idncase: int | None = None, nat: str = "MX", lang: str = "SP",
             custody: str = "N", case_type: str = "RMV", e28: str = "", sex: str = "",
             city: str = "LOS ANGELES", priority: str = "", write: bool = True,
             **extra: str) -> int:
        """Add a case; ``priority`` is its CASEPRIORITY_CODE (blank: none)."""
        idn = idncase or self._id("case", 1000)
        values = {"IDNCASE": str(idn), "ALIEN_CITY": city, "ALIEN_STATE": "CA",
                  "ALIEN_ZIPCODE": "90001", "NAT": nat, "LANG": lang, "CUSTODY": custody,
                  "SITE_TYPE": "M", "E_28_DATE": d(e28) if e28 else "", "ATTY_NBR": "01",
                  "CASE_TYPE": case_type, "UPDATE_SITE": "LOS", "Sex": sex,
                  "CASEPRIORITY_CODE": priority, **extra}
        if write:
            self.add_row("A_TblCase", values)
        return idn

    def proceeding(self, case: int, *, idn: int | None = None, osc: str = "2017-01-10",
                   court: str = "LOS", judge: str = "JDP", comp: str = "", dec: str = "",
                   other: str = "", absentia: str = "N", custody: str = "N",
                   case_type: str = "RMV", nat: str = "MX", lang: str = "SP",
                   workload: str | None = None, set_aside: str | None = None,
                   write: bool = True, raw_osc: str | None = None,
                   raw_comp: str | None = None) -> int:
        """Add a proceeding; ``workload`` is the kind of completion it must add to the
        workload file (None: none), ``set_aside`` the reason it must be set aside for."""
        idn = idn or self._id("proceeding", 2000)
        values = {
            "IDNPROCEEDING": str(idn), "IDNCASE": str(case),
            "OSC_DATE": raw_osc if raw_osc is not None else (d(osc) if osc else ""),
            "INPUT_DATE": d("2016-12-01"), "BASE_CITY_CODE": court, "HEARING_LOC_CODE": court,
            "IJ_CODE": judge, "TRANS_NBR": "00", "HEARING_DATE": d(comp) if comp else "",
            "HEARING_TIME": "0900", "DEC_TYPE": "O" if dec else "", "DEC_CODE": dec,
            "OTHER_COMP": other,
            "COMP_DATE": raw_comp if raw_comp is not None else (d(comp) if comp else ""),
            "ABSENTIA": absentia, "CUSTODY": custody, "CASE_TYPE": case_type, "NAT": nat,
            "LANG": lang, "CRIM_IND": "N",
        }
        self.proceedings[idn] = values
        if write:
            self.add_row("B_TblProceeding", values)
        judge_id = self.judge_merge.get(judge, judge)
        if workload is not None:
            self.workload.append({"judge_id": judge_id, "completion_date": comp,
                                  "kind": workload, "case_type": case_type or None})
        if set_aside is not None:
            self.set_aside.append(("B_TblProceeding", str(idn), set_aside))
        return idn

    def hearing(self, proceeding: int, adj_date: str, rsn: str = "", cal: str = "M",
                idn: int | None = None) -> int:
        idn = idn or self._id("schedule", 5000)
        p = self.proceedings[proceeding]
        self.add_row("tbl_schedule", {
            "IDNSCHEDULE": str(idn), "IDNPROCEEDING": str(proceeding), "IDNCASE": p["IDNCASE"],
            "OSC_DATE": p["OSC_DATE"], "GENERATION": "99", "REC_TYPE": "B", "LANG": p["LANG"],
            "HEARING_LOC_CODE": p["BASE_CITY_CODE"], "BASE_CITY_CODE": p["BASE_CITY_CODE"],
            "IJ_CODE": p["IJ_CODE"], "INPUT_DATE": d("2016-12-01"), "INPUT_TIME": "1200",
            "CAL_TYPE": cal, "ADJ_DATE": d(adj_date), "ADJ_TIME_START": "0900",
            "ADJ_RSN": rsn, "SCHEDULE_TYPE": "CY", "BLNCLOCKOVERRIDE": "0"})
        return idn

    def application(self, proceeding: int, code: str, dec: str, idn: int | None = None) -> int:
        idn = idn or self._id("application", 3000)
        p = self.proceedings[proceeding]
        self.add_row("tbl_Court_Appln", {
            "IDNPROCEEDINGAPPLN": str(idn), "IDNPROCEEDING": str(proceeding),
            "IDNCASE": p["IDNCASE"], "APPL_CODE": code, "APPL_RECD_DATE": d("2017-02-01"),
            "APPL_DEC": dec})
        return idn

    def rep(self, case: int, *, level: str, atty_type: str, e28: str,
            raw_e28: str | None = None) -> int:
        idn = self._id("reps", 4000)
        self.add_row("tbl_RepsAssigned", {
            "IDNREPSASSIGNED": str(idn), "IDNCASE": str(case), "STRATTYLEVEL": level,
            "STRATTYTYPE": atty_type, "PARENT_TABLE": "A_TblCase", "PARENT_IDN": str(case),
            "E_28_DATE": raw_e28 if raw_e28 is not None else (d(e28) if e28 else ""),
            "BLNPRIMEATTY": "1"})
        return idn

    def juvenile(self, case: int, code: str = "1") -> int:
        idn = self._id("juvenile", 6000)
        self.add_row("tbl_JuvenileHistory", {
            "idnJuvenileHistory": str(idn), "idnCase": str(case), "idnJuvenile": code,
            "DATCREATEDON": d("2017-01-01")})
        return idn

    def appeal(self, proceeding: int, *, category: str = "IJ", appeal_type: str = "Case Appeal",
               decision: str = "", decided: str = "") -> int:
        idn = self._id("appeal", 7000)
        p = self.proceedings[proceeding]
        self.add_row("tblAppeal", {
            "idnAppeal": str(idn), "idncase": p["IDNCASE"], "idnProceeding": str(proceeding),
            "strAppealCategory": category, "strAppealType": appeal_type,
            "datAppealFiled": d("2019-01-01"), "strFiledBy": "A",
            "datBIADecision": d(decided) if decided else "", "strBIADecision": decision,
            "strCaseType": p["CASE_TYPE"]})
        return idn

    # ------------------------------------------------------------------ expectations
    def expect(self, proceeding: int, *, outcome: str, represented: bool | None,
               juvenile: bool | None, asylum_application: bool | None,
               asylum_decision: str | None, n_hearings: int | None,
               n_continuances: int | None, in_absentia: bool | None, appealed: bool | None,
               remanded: bool | None, gender: str | None, docket: str | None = None) -> None:
        """The decision row ``proceeding`` must become; the proceeding's own codes are copied.
        ``docket``: what the case's priority code must give (None: the ordinary docket)."""
        p = self.proceedings[proceeding]
        comp = _date(p["COMP_DATE"])
        osc = _date(p["OSC_DATE"])
        assert comp is not None, "a decision needs a completion date"
        custody = p["CUSTODY"] if p["CUSTODY"] in ("D", "R", "N") else None
        self.decisions.append({
            "case_id": p["IDNCASE"], "proceeding_id": p["IDNPROCEEDING"],
            "judge_id": self.judge_merge.get(p["IJ_CODE"], p["IJ_CODE"]),
            "court_id": p["BASE_CITY_CODE"], "fiscal_year": fiscal_year(comp),
            "decision_date": pd.Timestamp(comp), "outcome": outcome,
            "granted": outcome == "grant", "removal_ordered": outcome == "removal",
            "case_type": p["CASE_TYPE"] or None, "nationality": p["NAT"] or None,
            "language": p["LANG"] or None, "gender": gender, "custody": custody,
            "detained": None if custody is None else custody == "D",
            "represented": represented, "juvenile": juvenile,
            "asylum_application": asylum_application, "asylum_decision": asylum_decision,
            "filed_date": pd.Timestamp(osc) if osc else None,
            "duration_days": float((comp - osc).days) if osc else None,
            "n_hearings": n_hearings, "n_continuances": n_continuances,
            "in_absentia": in_absentia, "appealed": appealed, "remanded": remanded,
            "docket": docket,
        })

    def expect_set_aside(self, table: str, key: str | None, reason: str) -> None:
        self.set_aside.append((table, key, reason))

    def expect_nulled(self, table: str, column: str, n: int = 1) -> None:
        self.values_nulled[(table, column)] += n

    def expect_orphan(self, table: str, description: str, n: int = 1) -> None:
        self.orphans[(table, description)] += n

    def expect_outside_codebook(self, table: str, column: str, value: str, n: int = 1) -> None:
        self.outside_codebook[(table, column, value)] += n

    def expect_impossible_date(self, table: str, column: str, n: int = 1) -> None:
        self.impossible_dates[(table, column)] += n

    def expect_nulled_at(self, column: str, court: str, fiscal_year: int, n: int = 1) -> None:
        """A value of the proceedings table nulled on a decision of ``court`` in
        ``fiscal_year`` (values_nulled_by_court_year)."""
        self.nulled_by_court_year[(column, court, fiscal_year)] += n

    # ------------------------------------------------------------------ outputs
    def expected_decisions(self) -> pd.DataFrame:
        frame = pd.DataFrame(self.decisions, columns=[
            c.name for c in (*DECISION_COLUMNS, *OPTIONAL_DECISION_COLUMNS)])
        frame, _ = coerce_decisions(frame)
        return frame.sort_values(["decision_date", "proceeding_id"],
                                 key=lambda s: s.astype("int64") if s.name == "proceeding_id"
                                 else s).reset_index(drop=True)

    def expected_workload(self) -> pd.DataFrame:
        frame = pd.DataFrame(self.workload, columns=[c.name for c in WORKLOAD_COLUMNS])
        frame["completion_date"] = pd.to_datetime(frame["completion_date"])
        frame, _ = coerce_decisions(frame, WORKLOAD_COLUMNS)
        return frame

    def expected_set_aside(self) -> pd.DataFrame:
        return pd.DataFrame(self.set_aside, columns=["table", "key", "reason"])

    def expected_ledger(self) -> dict[str, dict[str, Any]]:
        ledger: dict[str, dict[str, Any]] = {}
        for table in HEADERS:
            if table.startswith("tblLookup") or not self.rows[table]:
                continue
            aside = Counter(r for t, _, r in self.set_aside if t == table)
            read = len(self.rows[table])
            ledger[table] = {
                "rows_read": read,
                "used": read - sum(aside.values()),
                "set_aside": dict(sorted(aside.items())),
                "values_nulled": dict(sorted((c, n) for (t, c), n in self.values_nulled.items()
                                             if t == table)),
            }
            orphans = {d: n for (t, d), n in sorted(self.orphans.items()) if t == table}
            if orphans:
                ledger[table]["orphans"] = orphans
            outside: dict[str, dict[str, int]] = {}
            for (t, c, v), n in sorted(self.outside_codebook.items()):
                if t == table:
                    outside.setdefault(c, {})[v] = n
            if outside:
                ledger[table]["values_outside_codebook"] = outside
            dates = {c: n for (t, c), n in sorted(self.impossible_dates.items()) if t == table}
            if dates:
                ledger[table]["impossible_dates"] = dates
            if table == "B_TblProceeding" and self.nulled_by_court_year:
                ledger[table]["values_nulled_by_court_year"] = [
                    {"column": c, "court_id": court, "fiscal_year": fy, "n": n}
                    for (c, court, fy), n in sorted(self.nulled_by_court_year.items())]
        n_proc = ledger["B_TblProceeding"]["used"]
        assert n_proc == len(self.decisions), (
            f"fixture inconsistent: {n_proc} proceedings used, {len(self.decisions)} expected "
            "decisions")
        return ledger

    def shipped_counts(self) -> dict[str, int]:
        """The rows of each table written, as EOIR's bulk-copy log counts them: a row with a
        stray line break in it is still one row."""
        return {t: len(rows) for t, rows in self.rows.items()
                if rows and not t.startswith("tblLookup")}

    def write(self, folder: str | Path, *, gzip_tables: tuple[str, ...] = (),
              crlf_tables: tuple[str, ...] = (), header_case: dict[str, str] | None = None,
              as_zip: bool = False, row_counts: dict[str, int] | None = None,
              row_counts_name: str = "row_counts.txt") -> Path:
        """Write the release; returns the folder, or the zip when ``as_zip``.

        ``row_counts``: also write the release's row-count file (``row_counts_name``), in the
        layout of EOIR's bulk-copy log (``TableName<TAB>Content``, then ``NAME<TAB>N rows
        copied.``, the last line without a line break)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        if row_counts is not None:
            path = folder / row_counts_name
            path.write_bytes("\r\n".join(["TableName\tContent", *(
                f"{t}\t{n} rows copied." for t, n in row_counts.items())]).encode("latin-1"))
            written.append(path)
        for table, header in HEADERS.items():
            rows = self.rows[table]
            if not rows and not table.startswith("tblLookup"):
                continue
            names = list(header)
            if header_case and table in header_case:
                names = [getattr(n, header_case[table])() for n in names]
            newline = "\r\n" if table in crlf_tables else "\n"
            text = newline.join(["\t".join(names), *rows]) + newline
            data = text.encode("latin-1")
            if table in gzip_tables:
                path = folder / f"{table}.csv.gz"
                with gzip.open(path, "wb") as fh:
                    fh.write(data)
            else:
                path = folder / f"{table}.csv"
                path.write_bytes(data)
            written.append(path)
        if not as_zip:
            return folder
        archive = folder.with_suffix(".zip")
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in written:
                zf.write(path, f"case_data/{path.name}")
        return archive


@dataclass(frozen=True)
class FixtureRelease:
    builder: ReleaseBuilder
    judge_merge_csv: str

    @property
    def decisions(self) -> pd.DataFrame:
        return self.builder.expected_decisions()

    @property
    def workload(self) -> pd.DataFrame:
        return self.builder.expected_workload()

    @property
    def set_aside(self) -> pd.DataFrame:
        return self.builder.expected_set_aside()

    @property
    def ledger(self) -> dict[str, dict[str, Any]]:
        return self.builder.expected_ledger()

    def write(self, folder: str | Path, **kwargs) -> tuple[Path, Path]:
        """Write the release (and the judge merge file beside it); returns both paths."""
        folder = Path(folder)
        release = self.builder.write(folder / "release", gzip_tables=("tbl_schedule",),
                                     crlf_tables=("tblAppeal",), **kwargs)
        merge = folder / "judge_merge.csv"
        merge.write_text(self.judge_merge_csv)
        return release, merge


def standard_release() -> FixtureRelease:
    """The reference fixture: every quirk of docs/ingest.md with its expected outcome."""
    b = ReleaseBuilder(judge_merge={"JD2": "JDP"})
    P = "B_TblProceeding"

    # 1. Removal in absentia, detained, represented by the case's EOIR-28; a latin-1 city.
    c = b.case(nat="MX", lang="SP", custody="D", e28="2018-05-01", sex="M", city="SAN JOSÉ")
    p = b.proceeding(c, osc="2018-01-15", court="SFR", judge="JDP", comp="2018-11-02",
                     dec="X", absentia="Y", custody="D", nat="MX", lang="SP",
                     workload="merits")
    b.hearing(p, "2018-03-01", "01")      # respondent to seek representation: continuance
    b.hearing(p, "2018-06-01", "17")      # MC to IC, merits hearing: routine
    b.hearing(p, "2018-11-02", "")        # the decision's hearing
    b.hearing(p, "2019-01-10", "02")      # after the completion: not counted
    b.expect(p, outcome="removal", represented=True, juvenile=False, asylum_application=False,
             asylum_decision=None, n_hearings=3, n_continuances=1, in_absentia=True,
             appealed=False, remanded=None, gender="M")

    # 2. Change of venue (administrative completion), then voluntary departure at the new
    #    court. EOIR-28 filed after the completion; the government's lawyer and a lawyer at
    #    the Board do not make the respondent represented. Custody from the proceeding (R),
    #    not the case (N). A family-unit case (priority code AWC/ATD).
    c = b.case(nat="GT", lang="SP", custody="N", e28="2020-02-01", sex="F",
               priority="AWC/ATD")
    b.proceeding(c, osc="2017-03-01", court="HOU", judge="ABC", comp="2018-02-01", other="C",
                 absentia="", custody="N", nat="GT", workload="administrative",
                 set_aside="administrative completion")
    p = b.proceeding(c, osc="2017-03-01", court="DAL", judge="MRK", comp="2019-09-30",
                     dec="V", absentia="N", custody="R", nat="GT", workload="merits")
    b.hearing(p, "2019-09-30", "")
    b.rep(c, level="COURT", atty_type="INS", e28="2017-04-01")
    b.rep(c, level="BIA", atty_type="ALIEN", e28="2018-01-01")
    b.expect(p, outcome="voluntary_departure", represented=False, juvenile=False,
             asylum_application=False, asylum_decision=None, n_hearings=1, n_continuances=0,
             in_absentia=False, appealed=False, remanded=None, gender="F",
             docket="family_unit")

    # 3. A remand: the removal order is appealed and remanded (it stays a decision row);
    #    the new proceeding ends in a grant by a judge whose second code is merged. A bond
    #    appeal is not an appeal of the decision. Asylum: deny first; then D and G on the
    #    same day, G ranks first; a torture-convention application is not asylum. The case
    #    is on the docket of unaccompanied children (UC): both its decisions are.
    c = b.case(nat="HO", lang="SP", custody="N", e28="", priority="UC")
    p1 = b.proceeding(c, osc="2016-05-01", court="NYC", judge="JDP", comp="2017-06-15",
                      dec="X", absentia="N", custody="N", nat="HO", workload="merits")
    b.appeal(p1, decision="REM", decided="2018-03-01")
    b.appeal(p1, appeal_type="Bond Appeal", decision="DIS", decided="2017-08-01")
    b.application(p1, "ASYL", "D")
    p2 = b.proceeding(c, osc="2016-05-01", court="NYC", judge="JD2", comp="2019-01-20",
                      dec="G", absentia="N", custody="N", nat="HO", workload="merits")
    b.application(p2, "ASYL", "D")
    b.application(p2, "ASYL", "G")
    b.application(p2, "WCAT", "L")
    b.rep(c, level="COURT", atty_type="ALIEN", e28="2018-06-01")
    b.expect(p1, outcome="removal", represented=False, juvenile=False,
             asylum_application=True, asylum_decision="deny", n_hearings=0, n_continuances=0,
             in_absentia=False, appealed=True, remanded=True, gender=None,
             docket="unaccompanied_children")
    b.expect(p2, outcome="grant", represented=True, juvenile=False, asylum_application=True,
             asylum_decision="grant", n_hearings=0, n_continuances=0, in_absentia=False,
             appealed=False, remanded=None, gender=None, docket="unaccompanied_children")

    # 4. A juvenile; the appeal is pending at the Board; the charging date is redacted (b6):
    #    filed_date and duration are null and the value is counted as nulled. An asylum
    #    application without a decision does not count under the "decided" rule. Priority
    #    code N/A (Not Applicable): the ordinary docket.
    c = b.case(nat="ES", lang="SP", e28="2019-01-01", sex="M", priority="N/A")
    b.juvenile(c)
    b.expect_set_aside("tbl_JuvenileHistory", str(6000 + b._next["juvenile"]), "duplicate row")
    b.add_line("tbl_JuvenileHistory", b.rows["tbl_JuvenileHistory"][-1])  # exact duplicate
    p = b.proceeding(c, raw_osc="b6", court="LOS", judge="ABC", comp="2020-10-05", dec="T",
                     absentia="N", custody="N", nat="ES", workload="merits")
    b.expect_nulled(P, "OSC_DATE")
    b.expect_impossible_date(P, "OSC_DATE")
    b.expect_nulled_at("OSC_DATE", "LOS", 2021)  # decided 2020-10-05: FY2021
    b.appeal(p)
    b.application(p, "ASYL", "")
    b.expect(p, outcome="termination", represented=True, juvenile=True,
             asylum_application=False, asylum_decision=None, n_hearings=0, n_continuances=0,
             in_absentia=False, appealed=True, remanded=None, gender="M")

    # 5. Detained removal (D in RMV), appeal dismissed, asylum abandoned, continuances for
    #    an interpreter and a technical malfunction. A recent border crosser, detained (RBC/D).
    c = b.case(nat="IN", lang="PUN", custody="D", sex="M", priority="RBC/D")
    p = b.proceeding(c, osc="2019-02-01", court="SFR", judge="MRK", comp="2019-10-01",
                     dec="D", absentia="N", custody="D", nat="IN", lang="PUN",
                     workload="merits")
    b.hearing(p, "2019-03-01", "18")
    b.hearing(p, "2019-05-01", "4A")
    b.hearing(p, "2019-10-01", "")
    b.appeal(p, decision="DIS", decided="2020-06-01")
    b.application(p, "ASYL", "A")
    b.expect(p, outcome="removal", represented=False, juvenile=False, asylum_application=True,
             asylum_decision="other", n_hearings=3, n_continuances=2, in_absentia=False,
             appealed=True, remanded=False, gender="M", docket="recent_border_crossers")

    # 6. Exclusion (A = admitted: a grant) decided on the first day of FY2019; deportation
    #    (D = deported) on the last day of FY2017, and a second decision the same day.
    #    Priority codes CR (custody review) and AWC/D (adults with children, detained).
    c = b.case(nat="CU", lang="SP", case_type="EXC", priority="CR")
    p = b.proceeding(c, osc="1995-01-01", court="MIA", judge="JDP", comp="2018-10-01",
                     dec="A", case_type="EXC", nat="CU", workload="merits")
    b.expect(p, outcome="grant", represented=False, juvenile=False, asylum_application=False,
             asylum_decision=None, n_hearings=0, n_continuances=0, in_absentia=False,
             appealed=False, remanded=None, gender=None, docket="custody_review")
    c = b.case(nat="PL", lang="POL", case_type="DEP", priority="AWC/D")
    p = b.proceeding(c, osc="1996-01-01", court="CHI", judge="ABC", comp="2017-09-30",
                     dec="D", case_type="DEP", nat="PL", lang="POL", workload="merits")
    b.expect(p, outcome="removal", represented=False, juvenile=False, asylum_application=False,
             asylum_decision=None, n_hearings=0, n_continuances=0, in_absentia=False,
             appealed=False, remanded=None, gender=None, docket="family_unit")
    p = b.proceeding(c, osc="1996-01-01", court="CHI", judge="ABC", comp="2017-09-30",
                     dec="T", case_type="DEP", nat="PL", lang="POL", workload="merits")
    b.expect(p, outcome="termination", represented=False, juvenile=False,
             asylum_application=False, asylum_decision=None, n_hearings=0, n_continuances=0,
             in_absentia=False, appealed=False, remanded=None, gender=None,
             docket="family_unit")

    # 7. Proceedings that are not merits decisions, each with its reason.
    c = b.case(nat="SV", lang="SP")
    b.proceeding(c, comp="", set_aside="pending")
    b.proceeding(c, raw_comp=d("2019-02-30"), comp="", dec="X", set_aside="invalid completion date")
    b.proceeding(c, raw_comp="b6", comp="", dec="X", set_aside="invalid completion date")
    b.expect_impossible_date(P, "COMP_DATE", 2)
    b.proceeding(c, osc="2019-05-01", comp="2019-04-01", dec="X", judge="ABC",
                 workload="merits", set_aside="completion before charging document")
    b.proceeding(c, comp="2019-04-02", dec="X", other="C", set_aside="conflicting completion")
    b.proceeding(c, comp="2019-04-03", set_aside="completion without decision code")
    b.proceeding(c, comp="2019-04-04", dec="X", judge="AAA", set_aside="placeholder judge")
    b.proceeding(c, comp="2019-04-05", dec="X", judge="", set_aside="missing judge")
    b.proceeding(c, comp="2019-04-06", dec="G", case_type="WHO", workload="merits",
                 set_aside="out of scope case type")
    b.proceeding(c, comp="2019-04-07", dec="Q", workload="merits",
                 set_aside="unmapped decision code")
    b.expect_outside_codebook(P, "DEC_CODE", "RMV:Q")  # not in the outcome table's RMV codes
    b.proceeding(c, comp="2019-04-08", dec="X", court="", workload="merits",
                 set_aside="missing court")
    # an empty key and a non-numeric case key
    empty = b.line(P, {"IDNCASE": str(c), "COMP_DATE": d("2019-04-09"), "DEC_CODE": "X"})
    b.add_line(P, "\t".join(empty))
    b.expect_set_aside(P, None, "missing or invalid key")
    bad_case = b.line(P, {"IDNPROCEEDING": "2900", "IDNCASE": "x12",
                          "COMP_DATE": d("2019-04-10"), "DEC_CODE": "X"})
    b.add_line(P, "\t".join(bad_case))
    b.expect_set_aside(P, "2900", "missing or invalid key")
    # an exact duplicate (one copy kept) and a conflicting duplicate (both set aside)
    p = b.proceeding(c, osc="2018-01-01", comp="2019-05-01", dec="X", court="ATL",
                     judge="MRK", nat="SV", workload="merits")
    b.add_line(P, b.rows[P][-1])
    b.expect_set_aside(P, str(p), "duplicate row")
    b.expect(p, outcome="removal", represented=False, juvenile=False, asylum_application=False,
             asylum_decision=None, n_hearings=0, n_continuances=0, in_absentia=False,
             appealed=False, remanded=None, gender=None)
    p = b.proceeding(c, osc="2018-01-01", comp="2019-05-02", dec="X", court="ATL",
                     judge="MRK", nat="SV", workload="merits",
                     set_aside="conflicting duplicate key")
    b.workload.pop()  # neither copy is readable, so neither is a completion
    conflicting = b.rows[P][-1].replace("\tX\t", "\tV\t", 1)
    b.add_line(P, conflicting)
    b.expect_set_aside(P, str(p), "conflicting duplicate key")

    # 8. Shifted rows. A stray tab in the case table's city (repairable), a stray tab in a
    #    proceeding's hearing time (repairable), one extra empty trailing field (fine), a
    #    truncated proceeding (malformed), and an extra field before an empty Sex column:
    #    two readings give different values (ambiguous -> malformed).
    c = b.case(nat="BR", lang="POR", e28="2018-01-01", sex="F", write=False)
    fields = b.line("A_TblCase", {"IDNCASE": str(c), "ALIEN_CITY": "SAN", "ALIEN_STATE": "CA",
                                  "ALIEN_ZIPCODE": "95110", "NAT": "BR", "LANG": "POR",
                                  "CUSTODY": "N", "E_28_DATE": d("2018-01-01"),
                                  "CASE_TYPE": "RMV", "Sex": "F"})
    fields.insert(2, "JOSÉ")
    b.add_line("A_TblCase", "\t".join(fields))
    p = b.proceeding(c, osc="2018-02-01", court="BOS", judge="MRK", comp="2019-03-01",
                     dec="R", nat="BR", lang="POR", workload="merits", write=False)
    fields = b.line(P, b.proceedings[p])
    time_at = PROCEEDING_HEADER.index("HEARING_TIME")
    fields[time_at:time_at + 1] = ["09", "00"]
    b.add_line(P, "\t".join(fields))
    b.expect(p, outcome="grant", represented=True, juvenile=False, asylum_application=False,
             asylum_decision=None, n_hearings=0, n_continuances=0, in_absentia=False,
             appealed=False, remanded=None, gender="F")
    p = b.proceeding(c, osc="2018-02-01", court="BOS", judge="MRK", comp="2019-03-02",
                     dec="X", nat="BR", lang="POR", workload="merits", write=False)
    b.add_line(P, "\t".join(b.line(P, b.proceedings[p])) + "\t")
    b.expect(p, outcome="removal", represented=True, juvenile=False, asylum_application=False,
             asylum_decision=None, n_hearings=0, n_continuances=0, in_absentia=False,
             appealed=False, remanded=None, gender="F")
    p = b.proceeding(c, osc="2018-02-01", court="BOS", judge="MRK", comp="2019-03-03",
                     dec="X", nat="BR", write=False)
    b.add_line(P, "\t".join(b.line(P, b.proceedings[p])[:20]))
    b.expect_set_aside(P, str(p), "malformed row")

    c = b.case(nat="PE", lang="SP", write=False)
    fields = b.line("A_TblCase", {"IDNCASE": str(c), "NAT": "PE", "LANG": "SP", "CUSTODY": "N",
                                  "CASE_TYPE": "RMV", "ZBOND_MRG_FLAG": "", "Sex": ""})
    fields.insert(CASE_HEADER.index("Sex"), "M")
    b.add_line("A_TblCase", "\t".join(fields))
    b.expect_set_aside("A_TblCase", str(c), "malformed row")
    p = b.proceeding(c, osc="2018-03-01", court="BOS", judge="MRK", comp="2019-03-04",
                     dec="X", nat="PE", workload="merits")
    b.expect_orphan(P, "proceeding without its case")  # its case row is malformed
    b.expect(p, outcome="removal", represented=None, juvenile=False, asylum_application=False,
             asylum_decision=None, n_hearings=0, n_continuances=0, in_absentia=False,
             appealed=False, remanded=None, gender=None)

    # 9. Bad values that null a field without setting the row aside: a custody code Z in
    #    the case table, a custody code Q and an absentia "?" on the decided proceeding, a
    #    redacted EOIR-28 date on a lawyer row (which then does not count). A priority code
    #    that the docket map does not list (FU/D) is kept as the docket and counted.
    c = b.case(nat="CN", lang="MAN", custody="Z", priority="FU/D")
    b.expect_nulled("A_TblCase", "CUSTODY")
    b.expect_outside_codebook("A_TblCase", "CUSTODY", "Z")
    b.expect_outside_codebook("A_TblCase", "CASEPRIORITY_CODE", "FU/D")
    p = b.proceeding(c, osc="2018-04-01", court="SEA", judge="ABC", comp="2019-06-03",
                     dec="X", absentia="?", custody="Q", nat="CN", lang="MAN",
                     workload="merits")
    b.expect_nulled(P, "CUSTODY")
    b.expect_nulled(P, "ABSENTIA")
    b.expect_outside_codebook(P, "CUSTODY", "Q")
    b.expect_outside_codebook(P, "ABSENTIA", "?")
    b.expect_nulled_at("CUSTODY", "SEA", 2019)
    b.expect_nulled_at("ABSENTIA", "SEA", 2019)
    b.rep(c, level="COURT", atty_type="ALIEN", e28="", raw_e28="b6")
    b.expect_nulled("tbl_RepsAssigned", "E_28_DATE")
    b.expect_impossible_date("tbl_RepsAssigned", "E_28_DATE")
    b.hearing(p, "2019-06-03", "")
    b.expect(p, outcome="removal", represented=False, juvenile=False, asylum_application=False,
             asylum_decision=None, n_hearings=1, n_continuances=0, in_absentia=None,
             appealed=False, remanded=None, gender=None, docket="FU/D")

    # 10. Unreadable rows of the other tables: a truncated hearing, an application without
    #     its proceeding key.
    sched = b.line("tbl_schedule", {"IDNSCHEDULE": "5999", "IDNPROCEEDING": str(p)})
    b.add_line("tbl_schedule", "\t".join(sched[:10]))
    b.expect_set_aside("tbl_schedule", "5999", "malformed row")
    b.add_line("tbl_Court_Appln", "\t".join(b.line("tbl_Court_Appln", {
        "IDNPROCEEDINGAPPLN": "3999", "IDNPROCEEDING": "", "APPL_CODE": "ASYL",
        "APPL_DEC": "G"})))
    b.expect_set_aside("tbl_Court_Appln", "3999", "missing or invalid key")

    # Court names of the release's own lookup table.
    for i, (code, name) in enumerate([("SFR", "SAN FRANCISCO"), ("HOU", "HOUSTON"),
                                      ("DAL", "DALLAS"), ("NYC", "NEW YORK CITY"),
                                      ("LOS", "LOS ANGELES"), ("MIA", "MIAMI"),
                                      ("CHI", "CHICAGO"), ("ATL", "ATLANTA"),
                                      ("BOS", "BOSTON"), ("SEA", "SEATTLE")], start=1):
        b.add_row("tblLookupBaseCity", {"idnBaseCity": str(i), "BASE_CITY_CODE": code,
                                        "BASE_CITY_NAME": name, "blnActive": "1"})
    return FixtureRelease(b, "code,merged_code\nJD2,JDP\n")


# ------------------------------------------------------------------------------ damaged releases
# The damage a row can take, by table, and what the ingest must then make of it:
# "truncated" (half its fields) and "many stray tabs" (25 extra fields): malformed;
# "empty key", "bad foreign key": a missing or invalid key; "duplicate row": one copy kept;
# "conflicting duplicate": a second copy differing in a value the ingest reads, both set
# aside; "latin-1": a byte beyond ASCII in a field (used); "stray tab": a value split by a tab
# where the split is unambiguous (repaired, used); "redacted date", "impossible date": the
# value is nulled, except the proceeding's completion date, which sets the proceeding aside;
# "unknown code": nulled where the ingest checks the code (the case's custody, the juvenile
# code), the proceeding set aside for its decision code, kept elsewhere; "unknown custody":
# the proceeding's custody nulled; "orphan": a row whose parent
# is not in the release (used: the join leaves the parent's columns null); "drop case": the
# case row of a decided proceeding is missing; "extra case": a case without proceedings.
DAMAGE_KINDS: dict[str, tuple[str, ...]] = {
    "A_TblCase": ("truncated", "many stray tabs", "empty key", "duplicate row",
                  "conflicting duplicate", "latin-1", "stray tab", "redacted date",
                  "impossible date", "unknown code", "drop case", "extra case"),
    "B_TblProceeding": ("truncated", "many stray tabs", "empty key", "bad foreign key",
                        "duplicate row", "conflicting duplicate", "latin-1", "stray tab",
                        "redacted date", "impossible date", "unknown code", "unknown custody"),
    "tbl_schedule": ("truncated", "many stray tabs", "empty key", "bad foreign key",
                     "duplicate row", "conflicting duplicate", "latin-1", "redacted date",
                     "unknown code", "orphan"),
    "tbl_Court_Appln": ("truncated", "many stray tabs", "empty key", "bad foreign key",
                        "duplicate row", "conflicting duplicate", "latin-1", "unknown code",
                        "orphan"),
    "tbl_RepsAssigned": ("truncated", "many stray tabs", "empty key", "bad foreign key",
                         "duplicate row", "conflicting duplicate", "latin-1", "redacted date",
                         "orphan"),
    "tbl_JuvenileHistory": ("truncated", "many stray tabs", "empty key", "bad foreign key",
                            "duplicate row", "conflicting duplicate", "latin-1", "unknown code",
                            "orphan"),
    "tblAppeal": ("truncated", "many stray tabs", "empty key", "bad foreign key",
                  "duplicate row", "conflicting duplicate", "latin-1", "unknown code", "orphan"),
}
# per table: (foreign key, a value the ingest reads and its other value, a field for latin-1
# text, a date field, a coded field and its unknown code)
_DAMAGE_COLUMNS: dict[str, dict[str, Any]] = {
    "A_TblCase": {"fk": None, "conflict": ("Sex", {"M": "F", "F": "M"}),
                  "latin1": ("ALIEN_CITY", "SAN JOSÉ"), "date": "E_28_DATE",
                  "code": ("CUSTODY", "Z")},
    "B_TblProceeding": {"fk": "IDNCASE", "conflict": ("ABSENTIA", {"N": "Y", "Y": "N"}),
                        "latin1": ("IJ_CODE", "JÉ1"), "date": "OSC_DATE",
                        "code": ("DEC_CODE", "Q")},
    "tbl_schedule": {"fk": "IDNPROCEEDING", "conflict": ("ADJ_RSN", {"01": "02"}),
                     "latin1": ("INTERPRETER_CODE", "É"), "date": "ADJ_DATE",
                     "code": ("ADJ_RSN", "ZZ")},
    "tbl_Court_Appln": {"fk": "IDNPROCEEDING", "conflict": ("APPL_DEC", {"G": "D", "D": "G"}),
                        "latin1": ("APPL_CODE", "ÉSY"), "code": ("APPL_DEC", "Z")},
    "tbl_RepsAssigned": {"fk": "IDNCASE", "conflict": ("STRATTYTYPE", {"ALIEN": "INS"}),
                         "latin1": ("BASE_CITY_CODE", "SÉA"), "date": "E_28_DATE"},
    "tbl_JuvenileHistory": {"fk": "idnCase", "conflict": ("idnJuvenile", {"1": "2"}),
                            "latin1": ("DATMODIFIEDON", "JOSÉ"), "code": ("idnJuvenile", "x")},
    "tblAppeal": {"fk": "idnProceeding", "conflict": ("strBIADecision", {"REM": "DIS"}),
                  "latin1": ("strProbono", "É"), "code": ("strBIADecision", "ZZZ")},
}
_BAD_DATES = ("2019-02-30 00:00:00.000", "1901-01-01 00:00:00.000", "0000-00-00")
_ORPHAN_KEY = "999999"


@dataclass(frozen=True)
class DamagedRelease:
    """A small release with chosen rows damaged, and what the ingest must make of it.

    ``decided``: the proceeding ids the decisions table must hold; the builder's
    ``set_aside`` and ``values_nulled`` hold the rows set aside and the values nulled.
    """

    builder: ReleaseBuilder
    decided: tuple[str, ...]
    crlf_tables: tuple[str, ...] = ()
    gzip_tables: tuple[str, ...] = ()

    def write(self, folder: str | Path) -> Path:
        return self.builder.write(folder, gzip_tables=self.gzip_tables,
                                  crlf_tables=self.crlf_tables)


def _column_index(table: str) -> Callable[[str], int]:
    header = [h.upper() for h in HEADERS[table]]
    return lambda column: header.index(column.upper())


def damaged_release(damage: Iterable[tuple[str, str, int]] = (), *, n_cases: int = 4,
                    crlf_tables: Iterable[str] = (),
                    gzip_tables: Iterable[str] = ()) -> DamagedRelease:
    """``n_cases`` cases, each with a decided proceeding and a row in every other table, plus
    a pending proceeding and an administrative completion; then each ``(table, kind, row)``
    of ``damage`` (kinds: :data:`DAMAGE_KINDS`) damages row ``row`` (modulo the table's rows;
    in the proceeding table, the decided ones) unless that row was damaged already.
    """
    b = ReleaseBuilder()
    P = "B_TblProceeding"
    decided: dict[int, str] = {}  # row of the proceeding table -> proceeding id
    c = 0
    for k in range(n_cases):
        c = b.case(nat="MX" if k % 2 else "GT", custody="D" if k % 3 == 0 else "N",
                   e28="2018-06-01" if k % 2 else "", sex="MF"[k % 2])
        p = b.proceeding(c, osc=f"2018-0{k % 9 + 1}-10", comp=f"2019-0{k % 9 + 1}-20",
                         dec="XVGT"[k % 4], judge=("JDP", "ABC", "MRK")[k % 3],
                         court=("LOS", "SFR")[k % 2], workload="merits")
        decided[len(b.rows[P]) - 1] = str(p)
        b.hearing(p, f"2018-1{k % 3}-01", "01")
        b.application(p, "ASYL", "GD"[k % 2])
        b.rep(c, level="COURT", atty_type="ALIEN", e28="2018-03-01")
        b.juvenile(c)
        b.appeal(p, decision="REM", decided="2019-12-01")
    if n_cases:
        b.proceeding(c, osc="2019-01-01", comp="", set_aside="pending")
        b.proceeding(c, osc="2017-01-01", comp="2017-06-01", other="C",
                     workload="administrative", set_aside="administrative completion")

    base = {t: list(rows) for t, rows in b.rows.items()}
    keys = {(t, i): line.split("\t")[0] or None for t in base for i, line in enumerate(base[t])}
    # the reason each row of the release must be set aside for (None: used)
    reasons: dict[tuple[str, int], str | None] = dict.fromkeys(keys)
    for table, key, reason in b.set_aside:
        reasons[next(r for r in reasons if r[0] == table and keys[r] == key)] = reason
    b.set_aside.clear()
    written: dict[tuple[str, int], str | None] = {}  # damaged rows (None: not written)
    added: dict[str, list[str]] = {t: [] for t in HEADERS}
    for table, kind, index in damage:
        if kind not in DAMAGE_KINDS.get(table, ()):
            raise ValueError(f"damage {kind!r} is not known for {table}; expected one of "
                             f"{DAMAGE_KINDS.get(table)}")
        targets = sorted(decided) if table == P else list(range(len(base[table])))
        if not targets or (table, targets[index % len(targets)]) in written:
            continue
        row = (table, targets[index % len(targets)])
        fields = base[table][row[1]].split("\t")
        cols = _DAMAGE_COLUMNS[table]
        at = _column_index(table)
        if kind == "truncated":
            fields, reasons[row] = fields[: len(fields) // 2], "malformed row"
        elif kind == "many stray tabs":
            fields, reasons[row] = fields[:3] + [""] * 25 + fields[3:], "malformed row"
        elif kind == "empty key":
            fields[0], keys[row] = "", None
            reasons[row] = "missing or invalid key"
        elif kind == "bad foreign key":
            fields[at(cols["fk"])], reasons[row] = "", "missing or invalid key"
        elif kind == "duplicate row":
            added[table].append(base[table][row[1]])
            b.expect_set_aside(table, keys[row], "duplicate row")
        elif kind == "conflicting duplicate":
            column, flip = cols["conflict"]
            copy = list(fields)
            copy[at(column)] = flip[copy[at(column)]]
            added[table].append("\t".join(copy))
            reasons[row] = "conflicting duplicate key"
            b.expect_set_aside(table, keys[row], "conflicting duplicate key")
        elif kind == "latin-1":
            column, text = cols["latin1"]
            fields[at(column)] = text
        elif kind == "stray tab":  # a value split where only one reading is plausible
            if table == P:
                i = at("HEARING_TIME")
                fields[i:i + 1] = [fields[i][:2], fields[i][2:]]
            else:
                fields[at("ALIEN_CITY")] = "SAN"
                fields.insert(at("ALIEN_CITY") + 1, "JOSÉ")
        elif kind in ("redacted date", "impossible date"):
            value = "b6" if kind == "redacted date" else _BAD_DATES[index % len(_BAD_DATES)]
            if table == P and kind == "impossible date":
                fields[at("COMP_DATE")], reasons[row] = value, "invalid completion date"
            else:
                fields[at(cols["date"])] = value
                b.expect_nulled(table, cols["date"].upper())
        elif kind == "unknown code":
            column, code = cols["code"]
            fields[at(column)] = code
            if table == P:
                reasons[row] = "unmapped decision code"
            elif table in ("A_TblCase", "tbl_JuvenileHistory"):
                b.expect_nulled(table, column.upper())
        elif kind == "unknown custody":
            fields[at("CUSTODY")] = "Q"
            b.expect_nulled(table, "CUSTODY")
        elif kind == "orphan":
            fields[at(cols["fk"])] = _ORPHAN_KEY
        elif kind == "drop case":  # the last case row stays: the case table is required
            dropped = sum(1 for (t, _), line in written.items() if t == table and line is None)
            if dropped + 1 < len(base[table]):
                written[row] = None
            continue
        elif kind == "extra case":
            fields[0] = str(int(fields[0]) + 500)
            added[table].append("\t".join(fields))
            fields = base[table][row[1]].split("\t")
        written[row] = "\t".join(fields)

    for (table, i), reason in reasons.items():
        if reason is not None and written.get((table, i), "") is not None:
            b.expect_set_aside(table, keys[(table, i)], reason)
    for table in HEADERS:
        lines = [written.get((table, i), line) for i, line in enumerate(base[table])]
        b.rows[table] = [line for line in lines if line is not None] + added[table]
    kept = tuple(pid for i, pid in sorted(decided.items()) if reasons[(P, i)] is None)
    return DamagedRelease(b, kept, tuple(crlf_tables), tuple(gzip_tables))


# ------------------------------------------------------------------------------ row counts
def counted_release(*, split_row: bool = False) -> ReleaseBuilder:
    """Three cases and four proceedings, for the release's row-count file
    (:meth:`ReleaseBuilder.shipped_counts`). With ``split_row``, one more proceeding row
    (2005) holds a stray line break in its HEARING_LOC_CODE: the file then has one line more
    than the rows the release counts, and each half has fewer fields than the header
    (both set aside as malformed rows)."""
    b = ReleaseBuilder()
    P = "B_TblProceeding"
    for k in range(3):
        c = b.case(nat="MX", e28="2018-01-01" if k else "")
        b.proceeding(c, comp=f"2019-0{k + 1}-15", dec="X", workload="merits")
    b.proceeding(c, comp="", set_aside="pending")
    if split_row:
        fields = b.line(P, {"IDNPROCEEDING": "2005", "IDNCASE": str(c), "COMP_DATE":
                            d("2019-05-01"), "DEC_CODE": "X", "IJ_CODE": "JDP",
                            "BASE_CITY_CODE": "LOS", "HEARING_LOC_CODE": "LO\nS",
                            "CASE_TYPE": "RMV"})
        b.add_line(P, "\t".join(fields))
        b.expect_set_aside(P, "2005", "malformed row")
        # the second half starts with the rest of the split field, read as its key
        b.expect_set_aside(P, "S", "malformed row")
    return b


# ------------------------------------------------------------------------------ who decided
def attribution_release() -> ReleaseBuilder:
    """Cases whose proceedings have different judges, for ``judges.attribution``.

    Proceedings (ids in the order written; merge JX9 -> JA1; "last" = the case's highest
    IDNPROCEEDING), judge by ``decided_proceeding`` / by ``case_last_proceeding``:

    - case 1001: 2001 X by JA1 -> JA1 / JB2; 2002 G by JB2 -> JB2 / JB2;
    - case 1002: 2003 X by JA1 -> JA1 / AAA (placeholder: set aside); 2004 pending, AAA;
    - case 1003: 2005 V by JX9 -> JA1 / JA1; 2006 administrative completion by JA1;
    - case 1004: 2007 X by JB2 -> JB2 / none (missing judge: set aside); 2008 pending, no
      judge code;
    - case 1005: 2009 X by JC3 -> JC3 / JC3;
    - case 1006: 2010 X by MC1 (placeholder: set aside) / JC3; 2011 T by JC3 -> JC3 / JC3.

    The expectations recorded (decisions, workload, set-aside rows) are those of the
    default rule, ``decided_proceeding``.
    """
    b = ReleaseBuilder(judge_merge={"JX9": "JA1"})
    c = b.case()
    p = b.proceeding(c, comp="2019-01-10", dec="X", judge="JA1", workload="merits")
    _expect_plain(b, p, "removal")
    p = b.proceeding(c, comp="2019-06-01", dec="G", judge="JB2", workload="merits")
    _expect_plain(b, p, "grant")
    c = b.case()
    p = b.proceeding(c, comp="2019-02-01", dec="X", judge="JA1", workload="merits")
    _expect_plain(b, p, "removal")
    b.proceeding(c, comp="", judge="AAA", set_aside="pending")
    c = b.case()
    p = b.proceeding(c, comp="2019-03-01", dec="V", judge="JX9", workload="merits")
    _expect_plain(b, p, "voluntary_departure")
    b.proceeding(c, comp="2019-04-01", other="C", judge="JA1", workload="administrative",
                 set_aside="administrative completion")
    c = b.case()
    p = b.proceeding(c, comp="2019-05-01", dec="X", judge="JB2", workload="merits")
    _expect_plain(b, p, "removal")
    b.proceeding(c, comp="", judge="", set_aside="pending")
    c = b.case()
    p = b.proceeding(c, comp="2019-06-15", dec="X", judge="JC3", workload="merits")
    _expect_plain(b, p, "removal")
    c = b.case()
    b.proceeding(c, comp="2019-07-01", dec="X", judge="MC1", set_aside="placeholder judge")
    p = b.proceeding(c, comp="2019-08-01", dec="T", judge="JC3", workload="merits")
    _expect_plain(b, p, "termination")
    return b


def _expect_plain(b: ReleaseBuilder, proceeding: int, outcome: str) -> None:
    """A decision of a release with only the case and proceeding tables."""
    b.expect(proceeding, outcome=outcome, represented=False, juvenile=None,
             asylum_application=None, asylum_decision=None, n_hearings=None,
             n_continuances=None, in_absentia=False, appealed=None, remanded=None, gender=None)
