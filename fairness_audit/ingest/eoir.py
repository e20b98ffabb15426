"""Raw EOIR release -> decisions table, as SQL over the files (DuckDB).

The release's tables are read once each, every row accounted for
(:mod:`fairness_audit.ingest.raw`), checked and typed in DuckDB, joined and aggregated
there; pandas sees only the final decisions table and the workload file. Every derivation
is an option of :class:`EoirOptions` (defaults in ``fairness_audit/configs/eoir_ingest.yaml``,
documented in docs/ingest.md) and is written into the output's metadata.

Ledger (contract section 2): for every table read, ``rows_read == used + set aside``. For
``B_TblProceeding``, ``used`` is the number of rows of the decisions table; every other
proceeding row is set aside with its reason (pending, administrative completion, out of
scope, ...). For the other tables, ``used`` counts rows that were readable and joinable;
unreadable rows (malformed, bad or missing key, duplicated key) are set aside.
"""

from __future__ import annotations

import csv
import datetime as dt
import errno
import io
import json
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import yaml

from fairness_audit.checkpoints import checkpoint
from fairness_audit.config import read_yaml_mapping
from fairness_audit.errors import ConfigError, OutputError
from fairness_audit.ingest import quality, raw, release
from fairness_audit.ingest.raw import (
    MALFORMED,
    ReleaseError,
    StagedTable,
    TableSpec,
    one_of,
    pattern,
    sql_string,
)
from fairness_audit.ledger import Ledger
from fairness_audit.outputs import check_output_folder, writing
from fairness_audit.progress import engine_bar
from fairness_audit.schema import OUTCOMES
from fairness_audit.tables import TablePaths, TableSet, check_table_output

Progress = Callable[[str], None]

# --------------------------------------------------------------------------------------------
# Options
# --------------------------------------------------------------------------------------------
UNITS = ("decision", "case_last")
REPRESENTATION_RULES = ("by_completion", "by_first_hearing")
ASYLUM_RULES = ("decided", "filed")
ATTRIBUTION_RULES = ("decided_proceeding", "case_last_proceeding")

BAD_KEY = "missing or invalid key"
#: the case table's column of priority codes, as the ledger and messages name it
PRIORITY_COLUMN = "CASEPRIORITY_CODE"
# "2018-10-01 00:00:00.000" or "2018-10-01"; anything else (b6, junk) is a bad date
DATE_REGEX = r"[0-9]{4}-[0-9]{2}-[0-9]{2}( [0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,7})?)?)?"
#: a key as the ingest reads it: 1 to 18 digits, else null (shared with diff-releases)
KEY_MACRO = ("CREATE OR REPLACE MACRO fa_key(x) AS "
             "CASE WHEN regexp_full_match(x, '[0-9]{1,18}') THEN CAST(x AS BIGINT) END;")
DUPLICATE_ROW = "duplicate row"
DUPLICATE_KEY = "conflicting duplicate key"
# The ``_reason`` of a staged row that was read again (repaired, or read as latin-1): its
# second reading is appended to the staged table, and this first one is never used nor set
# aside. Not a set-aside reason; it never leaves the engine.
READ_AGAIN = "read again"


def _codes(value: Any, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list | tuple):
        raise ConfigError(f"eoir ingest option '{key}': expected a list of codes, found "
                          f"{value!r}")
    return tuple(str(v).strip() for v in value)


@dataclass(frozen=True)
class EoirOptions:
    """Every derivation choice of the EOIR ingest (see docs/ingest.md)."""

    unit: str = "decision"
    case_types: tuple[str, ...] = ("RMV", "DEP", "EXC")
    earliest_date: str = "1950-01-01"
    latest_date: str | None = None  # None: the day the ingest runs
    case_field_fallback: bool = False
    outcomes: dict[str, dict[str, str]] = field(default_factory=dict)
    absentia_yes: tuple[str, ...] = ("Y",)
    absentia_no: tuple[str, ...] = ("N", "")
    detained_codes: tuple[str, ...] = ("D",)
    representation_rule: str = "by_completion"
    use_case_e28: bool = True
    use_reps_assigned: bool = True
    reps_types: tuple[str, ...] = ("ALIEN",)
    reps_levels: tuple[str, ...] = ("COURT",)
    juvenile_exclude_codes: tuple[str, ...] = ()
    asylum_codes: tuple[str, ...] = ("ASYL",)
    asylum_rule: str = "decided"
    asylum_rank: tuple[str, ...] = ()
    asylum_grant: tuple[str, ...] = ()
    asylum_deny: tuple[str, ...] = ()
    continuance_codes: tuple[str, ...] = ()
    appeal_categories: tuple[str, ...] = ("IJ",)
    appeal_types: tuple[str, ...] = ("Case Appeal",)
    remand_codes: tuple[str, ...] = ("REM", "BCR")
    # case priority code -> docket (None: the ordinary docket); codes that mean "no priority"
    docket_codes: dict[str, str | None] = field(default_factory=dict)
    docket_ordinary_codes: tuple[str, ...] = ("N/A",)
    judge_merge_file: str | None = None
    judge_merge: dict[str, str] = field(default_factory=dict)
    placeholder_judges: tuple[str, ...] = ()
    judge_attribution: str = "decided_proceeding"
    row_counts_file: str | None = None
    workload_include_before_charging: bool = True
    memory_limit: str | None = "6GB"
    threads: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for k, v in out.items():
            if isinstance(v, tuple):
                out[k] = list(v)
        return out


DOCKET_CODES_KEY = "docket.codes"


def _docket_map(value: Any) -> dict[str, str | None]:
    """The option ``docket.codes``: priority code -> docket name, or null (ordinary docket)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"eoir ingest option '{DOCKET_CODES_KEY}': expected a mapping of "
                          f"priority code to docket name, found {value!r}")
    out: dict[str, str | None] = {}
    for code, docket in value.items():
        key = f"{DOCKET_CODES_KEY}.{code}"
        if isinstance(code, bool) or not str(code).strip():
            raise ConfigError(f"eoir ingest option '{key}': expected a priority code as text, "
                              f"found {code!r}")
        if docket is not None and (not isinstance(docket, str) or not docket.strip()):
            raise ConfigError(f"eoir ingest option '{key}': expected a docket name (text) or "
                              f"null (the ordinary docket), found {docket!r}")
        out[str(code).strip()] = None if docket is None else docket.strip()
    return out


def default_config_text() -> str:
    return resources.files("fairness_audit").joinpath("configs/eoir_ingest.yaml").read_text()


def _merge(base: dict, override: dict, where: str = "") -> dict:
    out = dict(base)
    for k, v in override.items():
        path = f"{where}.{k}" if where else str(k)
        if k not in base:
            raise ConfigError(f"eoir ingest config: unknown key '{path}'; expected one of "
                              f"{', '.join(map(str, base))}")
        if path == DOCKET_CODES_KEY and isinstance(base[k], dict) and isinstance(v, dict):
            # a user's map adds dockets to the default one (a code set to null: ordinary)
            out[k] = {**base[k], **v}
        elif isinstance(base[k], dict) and isinstance(v, dict) and k != "outcomes":
            out[k] = _merge(base[k], v, path)
        else:
            out[k] = v
    return out


def read_judge_merge(path: str | os.PathLike) -> dict[str, str]:
    """A judge-code merge file: CSV with columns code,merged_code, or a YAML mapping."""
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"judge merge file {p}: not found")
    text = p.read_text(encoding="utf-8")
    mapping: dict[str, str] = {}
    if p.suffix.lower() in (".yaml", ".yml"):
        data = yaml.safe_load(text) or {}
        if not isinstance(data, dict):
            raise ConfigError(f"judge merge file {p}: expected a mapping code: merged_code, "
                              f"found {type(data).__name__}")
        mapping = {str(k).strip(): str(v).strip() for k, v in data.items()}
    else:
        rows = list(csv.DictReader(io.StringIO(text)))
        cols = [c.strip().lower() for c in (rows[0].keys() if rows else [])]
        if rows and cols[:2] != ["code", "merged_code"]:
            raise ConfigError(f"judge merge file {p}: expected columns code,merged_code, found "
                              f"{','.join(cols)}")
        for row in rows:
            vals = [str(v or "").strip() for v in row.values()]
            if not vals[0] or not vals[1]:
                raise ConfigError(f"judge merge file {p}: expected a code and a merged_code on "
                                  f"every row, found {row}")
            mapping[vals[0]] = vals[1]
    for src, dst in mapping.items():
        if dst in mapping and mapping[dst] != dst:
            raise ConfigError(f"judge merge file {p}: code {src!r} merges into {dst!r}, which "
                              f"itself merges into {mapping[dst]!r}; expected one step")
    return mapping


def load_options(config: str | os.PathLike | dict | None = None, *,
                 judge_merge_file: str | os.PathLike | None = None,
                 case_types: list[str] | None = None) -> EoirOptions:
    """Resolve the options: the packaged defaults, overridden by a user file or dict, then by
    the keyword arguments (the command line's options)."""
    data = yaml.safe_load(default_config_text())
    user: dict = {}
    if config is not None:
        user = config if isinstance(config, dict) else read_yaml_mapping(config, "eoir ingest config")
        try:
            data = _merge(data, user)
        except ConfigError as exc:  # name the user's file
            raise ConfigError(f"{config}: {exc}" if not isinstance(config, dict) else str(exc)
                              ) from None
    try:
        opts = EoirOptions(
            unit=str(data["unit"]),
            case_types=_codes(data["scope"]["case_types"], "scope.case_types"),
            earliest_date=str(data["dates"]["earliest"]),
            latest_date=None if data["dates"]["latest"] is None else str(data["dates"]["latest"]),
            case_field_fallback=bool(data["case_fields"]["fallback_to_case_table"]),
            outcomes={str(ct): {str(code): str(out) for code, out in (codes or {}).items()}
                      for ct, codes in (data["outcomes"] or {}).items()},
            absentia_yes=_codes(data["in_absentia"]["yes_values"], "in_absentia.yes_values"),
            absentia_no=_codes(data["in_absentia"]["no_values"], "in_absentia.no_values"),
            detained_codes=_codes(data["detained"]["custody_codes"], "detained.custody_codes"),
            representation_rule=str(data["representation"]["rule"]),
            use_case_e28=bool(data["representation"]["use_case_e28"]),
            use_reps_assigned=bool(data["representation"]["use_reps_assigned"]),
            reps_types=_codes(data["representation"]["reps_types"], "representation.reps_types"),
            reps_levels=_codes(data["representation"]["reps_levels"],
                               "representation.reps_levels"),
            juvenile_exclude_codes=_codes(data["juvenile"]["exclude_codes"],
                                          "juvenile.exclude_codes"),
            asylum_codes=_codes(data["asylum"]["application_codes"], "asylum.application_codes"),
            asylum_rule=str(data["asylum"]["application_rule"]),
            asylum_rank=_codes(data["asylum"]["decision_rank"], "asylum.decision_rank"),
            asylum_grant=_codes(data["asylum"]["grant_codes"], "asylum.grant_codes"),
            asylum_deny=_codes(data["asylum"]["deny_codes"], "asylum.deny_codes"),
            continuance_codes=_codes(data["hearings"]["continuance_codes"],
                                     "hearings.continuance_codes"),
            appeal_categories=_codes(data["appeals"]["categories"], "appeals.categories"),
            appeal_types=_codes(data["appeals"]["types"], "appeals.types"),
            remand_codes=_codes(data["appeals"]["remand_codes"], "appeals.remand_codes"),
            docket_codes=_docket_map(data["docket"]["codes"]),
            docket_ordinary_codes=_codes(data["docket"]["ordinary_codes"],
                                         "docket.ordinary_codes"),
            judge_merge_file=data["judges"]["merge_file"],
            placeholder_judges=_codes(data["judges"]["placeholder_codes"],
                                      "judges.placeholder_codes"),
            judge_attribution=str(data["judges"]["attribution"]),
            row_counts_file=release.resolve_option_path(
                data["row_counts_file"], "row_counts_file",
                # relative to the user's file when it names one, else to the working folder
                Path(config).parent if config is not None and not isinstance(config, dict)
                and user.get("row_counts_file") is not None else None),
            workload_include_before_charging=bool(data["workload"]["include_before_charging"]),
            memory_limit=data["engine"]["memory_limit"],
            threads=data["engine"]["threads"],
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(f"eoir ingest config: expected the structure of the default "
                          f"eoir_ingest.yaml, could not read {exc}") from None
    if judge_merge_file is not None:
        opts = replace(opts, judge_merge_file=str(judge_merge_file))
    if case_types is not None:
        opts = replace(opts, case_types=tuple(case_types))
    if opts.judge_merge_file:
        opts = replace(opts, judge_merge=read_judge_merge(opts.judge_merge_file))
    _check_options(opts)
    return opts


def _check_options(o: EoirOptions) -> None:
    def choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
        if value not in allowed:
            raise ConfigError(f"eoir ingest option '{name}': expected one of "
                              f"{', '.join(allowed)}, found {value!r}")

    choice("unit", o.unit, UNITS)
    choice("representation.rule", o.representation_rule, REPRESENTATION_RULES)
    choice("asylum.application_rule", o.asylum_rule, ASYLUM_RULES)
    choice("judges.attribution", o.judge_attribution, ATTRIBUTION_RULES)
    for ct, codes in o.outcomes.items():
        for code, outcome in codes.items():
            if outcome not in OUTCOMES:
                raise ConfigError(f"eoir ingest option 'outcomes.{ct}.{code}': expected one of "
                                  f"{', '.join(OUTCOMES)}, found {outcome!r}")
    missing = [ct for ct in o.case_types if ct not in o.outcomes]
    if missing:
        raise ConfigError(f"eoir ingest option 'scope.case_types': case type(s) "
                          f"{', '.join(missing)} have no entry under 'outcomes'")
    try:
        pd.Timestamp(o.earliest_date)
    except ValueError:
        raise ConfigError(f"eoir ingest option 'dates.earliest': expected a date, found "
                          f"{o.earliest_date!r}") from None
    try:
        if o.latest_date is not None:
            pd.Timestamp(o.latest_date)
    except ValueError:
        raise ConfigError(f"eoir ingest option 'dates.latest': expected a date or null, found "
                          f"{o.latest_date!r}") from None
    both = sorted(set(o.docket_codes) & set(o.docket_ordinary_codes))
    if both:
        raise ConfigError(f"eoir ingest option 'docket.ordinary_codes': code(s) "
                          f"{', '.join(both)} are also in '{DOCKET_CODES_KEY}'; expected each "
                          "code in one of the two (write 'CODE: null' in the map for the "
                          "ordinary docket)")
    if o.threads is not None and (not isinstance(o.threads, int) or o.threads < 1):
        raise ConfigError(f"eoir ingest option 'engine.threads': expected a positive integer "
                          f"or null, found {o.threads!r}")


# --------------------------------------------------------------------------------------------
# Tables of the release
# --------------------------------------------------------------------------------------------
_CODE = pattern(r"^[A-Z0-9?<>*]{1,3}$")
_CASE_TYPES = tuple(yaml.safe_load(
    resources.files("fairness_audit").joinpath("configs/eoir_lookups.yaml").read_text()
)["case_type"])

CASE = TableSpec(
    name="A_TblCase", key="idncase",
    columns={"idncase": ("IDNCASE",), "nat": ("NAT",), "lang": ("LANG",),
             "custody": ("CUSTODY",), "case_type": ("CASE_TYPE",), "e28": ("E_28_DATE",),
             "gender": ("GENDER", "SEX"),
             # CASEPRIORITY_CODE in the releases; case_priority_code in the codebook
             "priority_code": ("CASEPRIORITY_CODE", "CASE_PRIORITY_CODE")},
    required=("idncase",), optional_table=False,
    validators={"nat": pattern(r"^[A-Z0-9?<>]{2,3}$"), "lang": pattern(r"^[A-Z0-9?<>]{2,3}$"),
                "custody": one_of("DRN"), "case_type": one_of(_CASE_TYPES),
                "gender": pattern(r"^[A-Z]$"),
                # tblLookup_CasePriority: AWC/ATD, AWC/D, CR, RBC/D, UC, and N/A
                "priority_code": pattern(r"^[A-Za-z0-9]{1,8}(/[A-Za-z0-9]{1,8})?$")},
)
PROCEEDING = TableSpec(
    name="B_TblProceeding", key="idnproceeding",
    columns={"idnproceeding": ("IDNPROCEEDING",), "idncase": ("IDNCASE",),
             "osc_date": ("OSC_DATE",), "court": ("BASE_CITY_CODE",), "ij_code": ("IJ_CODE",),
             "comp_date": ("COMP_DATE",), "dec_code": ("DEC_CODE",), "dec_type": ("DEC_TYPE",),
             "other_comp": ("OTHER_COMP",), "absentia": ("ABSENTIA",), "custody": ("CUSTODY",),
             "case_type": ("CASE_TYPE",), "nat": ("NAT",), "lang": ("LANG",)},
    required=("idnproceeding", "idncase", "court", "ij_code", "comp_date", "dec_code",
              "other_comp", "case_type"),
    optional_table=False,
    validators={"court": pattern(r"^[A-Z0-9]{3}$"), "ij_code": pattern(r"^[A-Z0-9]{2,3}$"),
                "dec_code": pattern(r"^[A-Z0-9]$"), "dec_type": one_of("OW"),
                "other_comp": pattern(r"^[A-Z0-9]$"), "absentia": one_of("YN"),
                "custody": one_of("DRN"), "case_type": one_of(_CASE_TYPES),
                "nat": pattern(r"^[A-Z0-9?<>]{2,3}$"), "lang": pattern(r"^[A-Z0-9?<>]{2,3}$")},
)
APPLICATION = TableSpec(
    name="tbl_Court_Appln", key="idnproceedingappln",
    columns={"idnproceedingappln": ("IDNPROCEEDINGAPPLN",), "idnproceeding": ("IDNPROCEEDING",),
             "appl_code": ("APPL_CODE",), "appl_dec": ("APPL_DEC",)},
    required=("idnproceedingappln", "idnproceeding", "appl_code", "appl_dec"),
    validators={"appl_code": pattern(r"^[A-Za-z0-9]{2,5}$"), "appl_dec": _CODE},
)
REPS = TableSpec(
    name="tbl_RepsAssigned", key="idnrepsassigned",
    columns={"idnrepsassigned": ("IDNREPSASSIGNED",), "idncase": ("IDNCASE",),
             "level": ("STRATTYLEVEL",), "atty_type": ("STRATTYTYPE",), "e28": ("E_28_DATE",)},
    required=("idnrepsassigned", "idncase", "level", "atty_type", "e28"),
    validators={"level": pattern(r"^[A-Z]{2,6}$"), "atty_type": pattern(r"^[A-Z]{2,6}$")},
)
SCHEDULE = TableSpec(
    name="tbl_schedule", key="idnschedule",
    columns={"idnschedule": ("IDNSCHEDULE",), "idnproceeding": ("IDNPROCEEDING",),
             "adj_date": ("ADJ_DATE",), "adj_rsn": ("ADJ_RSN",), "cal_type": ("CAL_TYPE",)},
    required=("idnschedule", "idnproceeding", "adj_date", "adj_rsn"),
    validators={"adj_rsn": pattern(r"^[A-Z0-9]{1,2}$"), "cal_type": pattern(r"^[A-Z*]$")},
)
JUVENILE = TableSpec(
    name="tbl_JuvenileHistory", key="idnjuvenilehistory",
    columns={"idnjuvenilehistory": ("IDNJUVENILEHISTORY",), "idncase": ("IDNCASE",),
             "idnjuvenile": ("IDNJUVENILE",)},
    required=("idnjuvenilehistory", "idncase"),
)
APPEAL = TableSpec(
    name="tblAppeal", key="idnappeal",
    columns={"idnappeal": ("IDNAPPEAL",), "idnproceeding": ("IDNPROCEEDING",),
             "category": ("STRAPPEALCATEGORY",), "appeal_type": ("STRAPPEALTYPE",),
             "bia_decision": ("STRBIADECISION",)},
    required=("idnappeal", "idnproceeding", "category", "appeal_type", "bia_decision"),
    validators={"category": pattern(r"^[A-Z]{2}$"),
                "bia_decision": pattern(r"^[A-Z0-9-]{2,3}$")},
)
TABLES: tuple[TableSpec, ...] = (CASE, PROCEEDING, APPLICATION, REPS, SCHEDULE, JUVENILE, APPEAL)
RELATION = {CASE.name: "case_", PROCEEDING.name: "proc", APPLICATION.name: "appln",
            REPS.name: "reps", SCHEDULE.name: "sched", JUVENILE.name: "juv", APPEAL.name: "appeal"}

LOOKUP_TABLES = {
    "nationality": ("tblLookupNationality", "tblLookupAlienNat"),
    "language": ("tblLanguage", "tblLookupLanguage"),
    "court": ("tblLookupBaseCity",),
    "case_type": ("tblLookupCaseType",),
}

# Foreign keys a row needs to be of any use: rows without them are set aside.
FOREIGN_KEYS = {CASE.name: (), PROCEEDING.name: ("idncase",),
                APPLICATION.name: ("idnproceeding",), REPS.name: ("idncase",),
                SCHEDULE.name: ("idnproceeding",), JUVENILE.name: ("idncase",),
                APPEAL.name: ("idnproceeding",)}


# --------------------------------------------------------------------------------------------
# Result
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class IngestResult:
    paths: TablePaths
    n_decisions: int
    n_completions: int
    ledger: dict[str, Any]
    metadata: dict[str, Any]
    source_file: Path | None = None  # STEM.source.json (informational, outside the set)


def _docket_sql(o: EoirOptions, column: str) -> str:
    """SQL for the docket of a case from its priority code ``column`` (options
    ``docket.codes`` and ``docket.ordinary_codes``): null for a blank or ordinary code and for
    a code mapped to null; the map's docket for a listed code; an unlisted code as written."""
    ordinary = [*o.docket_ordinary_codes, *(c for c, dk in o.docket_codes.items() if dk is None)]
    named = " ".join(f"WHEN {sql_string(c)} THEN {sql_string(dk)}"
                     for c, dk in o.docket_codes.items() if dk is not None)
    listed = f"CASE {column} {named} ELSE {column} END" if named else column
    return (f"CASE WHEN {column} IS NULL OR {column} IN {_sql_list(ordinary)} THEN NULL "
            f"ELSE {listed} END")


def _sql_list(values) -> str:
    vals = list(values)
    if not vals:
        # an empty list: IN is false and NOT IN is true (a NULL here would make both NULL)
        return "(chr(0) || chr(1))"
    return "(" + ", ".join(sql_string(str(v)) for v in vals) + ")"


class _Ingest:
    def __init__(self, con, options: EoirOptions, progress: Progress, *,
                 codebooks: quality.Codebooks, shipped: dict[str, int] | None = None,
                 counts_file: str = "", latest_bound: str | None = None):
        self.con = con
        self.o = options
        self.say = progress
        self.ledger = Ledger()
        self.files: dict[str, raw.TableFile] = {}
        self.staged: dict[str, StagedTable] = {}
        self.codebooks = codebooks
        self.shipped = shipped  # the release's row counts (None: it ships none)
        self.counts_file = counts_file
        self.row_counts: dict[str, dict[str, int]] = {}
        # dates.latest null: the day the ingest runs (recorded in the sidecar only)
        self.latest_bound = latest_bound or options.latest_date or dt.date.today().isoformat()
        self.attribution: dict[str, Any] = {}
        self.latest_date: str | None = None
        # the case table's priority-code column as its header names it (None: absent)
        self.priority_header: str | None = None

    def sql(self, query: str, params=None):
        return self.con.execute(query, params) if params is not None else self.con.execute(query)

    def one(self, query: str):
        return self.sql(query).fetchall()[0]

    # ---------------------------------------------------------------- generic table checks
    def check_table(self, spec: TableSpec, typed: dict[str, str],
                    bad_values: dict[str, str], transient: tuple[str, ...] = (),
                    not_compared: tuple[str, ...] = ()) -> None:
        """Read and type one table into ``t_<rel>``; set aside dirty rows, bad keys, duplicates.

        The key and the foreign keys are typed here (``fa_key``): the key as ``_k``, exposed
        by ``ok_<rel>`` under its own name, the foreign keys under theirs. ``typed`` maps every
        other output column -> SQL expression over the staging columns of ``src_<rel>``;
        ``bad_values`` maps a source column name (for the ledger) -> a SQL
        condition over the *typed* columns, true when that value was present but unreadable.
        Usable rows are exposed as view ``ok_<rel>``. ``transient`` typed columns serve only
        ``bad_values`` and are not kept; ``not_compared`` columns are kept but do not make
        two copies of a key differ (they serve only the data-quality facts). The key's text
        is kept only where it differs from the typed key's digits (``_key_alt``); ``ok_<rel>``
        exposes it again as ``_key_text``.
        The file is read once; the rows the reader rejects or sets apart are settled in Python
        (repaired, read again as latin-1, or set aside) and typed afterwards, by the same
        expressions (:mod:`fairness_audit.ingest.raw`).
        """
        rel = RELATION[spec.name]
        table = self.files[spec.name]
        self.say(f"reading {spec.name} ({table.path.name})")
        raw.stage_table(self.con, table, rel)
        foreign = FOREIGN_KEYS[spec.name]
        key_ok = " AND ".join(f"{k} IS NOT NULL" for k in ("_k", *foreign))
        typed = {**{k: f"fa_key({k})" for k in foreign}, **typed}
        cols = ",\n  ".join(f"{expr} AS {name}" for name, expr in typed.items())
        flags = ",\n  ".join(f"({cond}) AS \"_bad_{name}\"" for name, cond in bad_values.items())
        key_text = "coalesce(_key_alt, CAST(_k AS VARCHAR))"

        def typed_rows(source: str) -> str:
            return f"""
            SELECT * EXCLUDE ({', '.join(('_key_text', *transient))}),
              -- the digits of a valid key differ from its text only by leading zeros
              CASE WHEN _k IS NULL OR (starts_with(_key_text, '0') AND _key_text <> '0')
                   THEN _key_text END AS _key_alt,
              CASE WHEN {raw.SET_APART} THEN '{READ_AGAIN}' WHEN {key_ok} THEN NULL
                   ELSE '{BAD_KEY}' END AS _reason{',' if flags else ''}
              {flags}
            FROM (
              SELECT {spec.key} AS _key_text, fa_key({spec.key}) AS _k,
                {cols}, {", ".join(raw.SET_APART_COLUMNS)}
              FROM {source}
            )"""

        try:
            self.sql(f"CREATE OR REPLACE TABLE t_{rel} AS {typed_rows(f'src_{rel}')}")
        except duckdb.Error as exc:  # several error types for unreadable files
            gz = "a complete gzip file of " if table.path.name.lower().endswith(".gz") else ""
            raise ReleaseError(f"{table.path}: expected {gz}the table {spec.name} as "
                               f"tab-separated latin-1 text, found a file that cannot be read "
                               f"({str(exc).splitlines()[0]})") from None
        staged = raw.settle_dirty_rows(self.con, table, rel, f"t_{rel}")
        self.staged[spec.name] = staged
        # The staged table is only ever appended to: the rows read again stay in it, marked
        # (READ_AGAIN), rather than being deleted, because DuckDB's checkpoints compact a table
        # with deleted rows and renumber its rowids, which the duplicate checks below hold
        # from one statement to the next.
        self.sql(f"INSERT INTO t_{rel} {typed_rows(f'fix_{rel}')}")
        self.say(f"  {staged.rows_read:,} rows, {staged.repaired:,} repaired, "
                 f"{staged.malformed:,} malformed")
        self.check_row_count(spec, table, staged)
        # Duplicated keys: copies that agree on every value read keep one row; differing
        # copies are all set aside. Only rows whose key occurs more than once are compared.
        values = [c for c in typed if c not in transient and c not in not_compared] + [
            "_key_alt", *(f'"_bad_{name}"' for name in bad_values)]
        self.sql(f"""
            CREATE OR REPLACE TABLE dup_{rel} AS
            WITH d AS (
              SELECT rowid AS rid, _k, hash({', '.join(values)}) AS _h FROM t_{rel}
              WHERE _reason IS NULL AND _k IN (
                SELECT _k FROM t_{rel} WHERE _reason IS NULL GROUP BY _k HAVING count(*) > 1)
            ), g AS (SELECT _k, count(DISTINCT _h) AS nh, min(rid) AS first_rid FROM d GROUP BY _k)
            SELECT d.rid,
              CASE WHEN g.nh > 1 THEN '{DUPLICATE_KEY}' ELSE '{DUPLICATE_ROW}' END AS reason
            FROM d JOIN g USING (_k)
            WHERE g.nh > 1 OR d.rid <> g.first_rid
        """)
        self.sql(f"""
            CREATE OR REPLACE VIEW ok_{rel} AS
            SELECT * EXCLUDE (_key_alt, {", ".join(raw.SET_APART_COLUMNS)}),
              _k AS {spec.key}, {key_text} AS _key_text
            FROM t_{rel}
            WHERE _reason IS NULL AND rowid NOT IN (SELECT rid FROM dup_{rel})
        """)
        name = spec.name
        self.sql(f"""
            INSERT INTO set_aside
            SELECT '{name}', key, '{MALFORMED}', detail FROM bad_{rel}
            UNION ALL
            SELECT '{name}', {key_text}, _reason, NULL FROM t_{rel}
            WHERE _reason IS NOT NULL AND _reason <> '{READ_AGAIN}'
            UNION ALL
            SELECT '{name}', {key_text}, d.reason, NULL
            FROM t_{rel} t JOIN dup_{rel} d ON t.rowid = d.rid
        """)

    def check_row_count(self, spec: TableSpec, table: raw.TableFile,
                        staged: StagedTable) -> None:
        """Compare the rows read with the release's row-count file, before anything is
        written (fewer rows: an error; more: reported)."""
        if self.shipped is None or spec.name not in self.shipped:
            return
        counted = release.compare_row_count(
            spec.name, table.path, self.counts_file, shipped=self.shipped[spec.name],
            read=staged.rows_read, fewer_fields=staged.fewer_fields)
        self.row_counts[spec.name] = counted
        if counted["excess"]:
            self.say(f"  {counted['excess']:,} more rows read than the {counted['shipped']:,} "
                     f"that {self.counts_file} lists; {counted['explained_by']:,} lines with "
                     "fewer fields than the header were set aside as malformed rows (a row "
                     "split by a stray line break gives two)")
        else:
            self.say(f"  as many rows as {self.counts_file} lists")

    def ledger_for(self, spec: TableSpec, used: int, bad_values: dict[str, str],
                   used_relation: str | None = None, dates: tuple[str, ...] = ()) -> None:
        rel = RELATION[spec.name]
        entry = self.ledger.table(spec.name)
        entry.rows_read = self.staged[spec.name].rows_read
        entry.used = int(used)
        for reason, n in self.sql(
            "SELECT reason, count(*) FROM set_aside WHERE \"table\" = ? GROUP BY reason",
            [spec.name],
        ).fetchall():
            entry.set_aside_rows(reason, n)
        if bad_values:
            relation = used_relation or f"ok_{rel}"
            counts = self.one(
                "SELECT " + ", ".join(f'count(*) FILTER (WHERE "_bad_{n}")' for n in bad_values)
                + f" FROM {relation}"
            )
            for name, n in zip(bad_values, counts, strict=True):
                entry.null_values(name, n)
                if name in dates:  # over the same rows: the per-column view of dates
                    entry.impossible_date(name, n)

    # ---------------------------------------------------------------- proceedings
    def classify_proceedings(self, have_case: bool) -> None:
        o = self.o
        fb = o.case_field_fallback and have_case

        def field_expr(col: str) -> str:
            return f"coalesce(p.{col}, c.{col})" if fb else f"p.{col}"

        merge = pa.table({"code": list(o.judge_merge), "merged": list(o.judge_merge.values())},
                         schema=pa.schema([("code", pa.string()), ("merged", pa.string())]))
        self.con.register("_judge_merge", merge)
        self.sql("CREATE OR REPLACE TABLE judge_merge AS SELECT * FROM _judge_merge")
        self.con.unregister("_judge_merge")
        outcomes = pa.table(
            {"case_type": [ct for ct, codes in o.outcomes.items() for _ in codes],
             "dec_code": [code for codes in o.outcomes.values() for code in codes],
             "outcome": [out for codes in o.outcomes.values() for out in codes.values()]},
            schema=pa.schema([("case_type", pa.string()), ("dec_code", pa.string()),
                              ("outcome", pa.string())]))
        self.con.register("_outcomes", outcomes)
        self.sql("CREATE OR REPLACE TABLE outcome_map AS SELECT * FROM _outcomes")
        self.con.unregister("_outcomes")

        case_join = "LEFT JOIN ok_case_ c ON c.idncase = p.idncase" if fb else ""
        placeholders = _sql_list(o.placeholder_judges)
        chosen = ("judge_own" if o.judge_attribution == "decided_proceeding"
                  else "judge_last")
        # Both attributions are computed, so that the metadata can say how many decisions
        # they attribute differently. The case's last proceeding: the highest IDNPROCEEDING
        # of the case among the rows with a valid key (ok_proc), whatever its state; its
        # judge code (merged) may be empty (then "missing judge"). It is computed from the
        # three columns it needs, not from ``own``: a CTE read twice is materialised, and
        # ``own`` holds every proceeding with all its columns (memory, spilling at scale).
        self.sql(f"""
            CREATE OR REPLACE TABLE p_class AS
            WITH own AS (
              SELECT p.*, coalesce(m.merged, p.ij_code) AS judge_own,
                {field_expr('case_type')} AS case_type_eff,
                {field_expr('custody_raw')} AS custody_eff_raw,
                {field_expr('nat')} AS nat_eff, {field_expr('lang')} AS lang_eff
              FROM ok_proc p LEFT JOIN judge_merge m ON m.code = p.ij_code {case_join}
            ), last_judge AS (
              SELECT p.idncase,
                arg_max_null(coalesce(m.merged, p.ij_code), p.idnproceeding) AS judge_last
              FROM ok_proc p LEFT JOIN judge_merge m ON m.code = p.ij_code
              GROUP BY p.idncase
            ), p AS (
              SELECT own.*, l.judge_last, {chosen} AS judge_id
              FROM own JOIN last_judge l ON l.idncase = own.idncase
            )
            SELECT p.* EXCLUDE (_k, _reason, comp_raw, ij_code, dec_code,
                                other_comp, case_type, nat, lang, judge_own, judge_last),
              p.judge_own IS DISTINCT FROM p.judge_last AS judge_differs,
              om.outcome,
              CASE WHEN p.dec_code IS NOT NULL AND p.other_comp IS NULL THEN 'merits'
                   WHEN p.dec_code IS NULL AND p.other_comp IS NOT NULL THEN 'administrative'
              END AS kind,
              (p.judge_id IS NOT NULL AND p.judge_id NOT IN {placeholders}) AS judge_ok,
              CASE
                WHEN p.comp_raw IS NULL THEN 'pending'
                WHEN p.comp_date IS NULL THEN 'invalid completion date'
                WHEN p.osc_date IS NOT NULL AND p.comp_date < p.osc_date
                  THEN 'completion before charging document'
                WHEN p.dec_code IS NOT NULL AND p.other_comp IS NOT NULL
                  THEN 'conflicting completion'
                WHEN p.dec_code IS NULL AND p.other_comp IS NULL
                  THEN 'completion without decision code'
                WHEN p.dec_code IS NULL THEN 'administrative completion'
                WHEN p.judge_id IS NULL THEN 'missing judge'
                WHEN p.judge_id IN {placeholders} THEN 'placeholder judge'
                WHEN p.court IS NULL THEN 'missing court'
                WHEN p.case_type_eff IS NULL OR p.case_type_eff NOT IN {_sql_list(o.case_types)}
                  THEN 'out of scope case type'
                WHEN om.outcome IS NULL THEN 'unmapped decision code'
              END AS status
            FROM p LEFT JOIN outcome_map om
              ON om.case_type = p.case_type_eff AND om.dec_code = p.dec_code
        """)
        if o.unit == "case_last":
            self.sql("""
                UPDATE p_class SET status = 'superseded by a later decision'
                WHERE status IS NULL AND rowid NOT IN (
                  SELECT rowid FROM p_class WHERE status IS NULL
                  QUALIFY row_number() OVER (PARTITION BY idncase
                                             ORDER BY comp_date DESC, idnproceeding DESC) = 1)
            """)
        self.sql(f"""
            INSERT INTO set_aside
            SELECT '{PROCEEDING.name}', _key_text, status, NULL FROM p_class
            WHERE status IS NOT NULL
        """)

    # ---------------------------------------------------------------- run
    def run(self, files: dict[str, raw.TableFile]) -> tuple[int, int]:
        o = self.o
        self.sql(f"""
            {KEY_MACRO}
            CREATE OR REPLACE MACRO fa_date(x) AS
              CASE WHEN regexp_full_match(x, '{DATE_REGEX}')
                   AND try_cast(left(x, 10) AS DATE) >= DATE '{o.earliest_date}'
                   AND try_cast(left(x, 10) AS DATE) <= DATE '{self.latest_bound}'
                   THEN try_cast(left(x, 10) AS DATE) END;
            CREATE OR REPLACE TABLE set_aside
              ("table" VARCHAR, key VARCHAR, reason VARCHAR, detail VARCHAR);
        """)
        self.files = files
        have = {name: name in files for name in RELATION}
        case_file = files[CASE.name]
        position = case_file.positions.get("priority_code")
        self.priority_header = None if position is None else case_file.header[position]
        custody_codes = _sql_list("DRN")
        # ---- cases
        case_bad = {"E_28_DATE": "e28_raw IS NOT NULL AND e28 IS NULL",
                    "CUSTODY": f"custody_raw IS NOT NULL AND custody_raw NOT IN {custody_codes}"}
        self.check_table(CASE, {
            "e28_raw": "e28", "e28": "fa_date(e28)",
            "gender": "gender", "priority_code": "priority_code",
            "nat": "nat", "lang": "lang", "case_type": "case_type",
            "custody_raw": "custody",
            "custody": f"CASE WHEN custody IN {custody_codes} THEN custody END",
        }, case_bad, transient=("e28_raw",) + (
            () if o.case_field_fallback  # the case's fields are read only as fallbacks
            else ("nat", "lang", "case_type", "custody")),
            # kept for its codebook only (values_outside_codebook): copies of a case row that
            # differ in it alone stay duplicates, as when the ingest did not keep it
            not_compared=() if o.case_field_fallback else ("custody_raw",))
        n_case = self.one("SELECT count(*) FROM ok_case_")[0]
        self.ledger_for(CASE, n_case, case_bad, dates=("E_28_DATE",))

        # ---- proceedings
        absentia_known = _sql_list(v for v in (*o.absentia_yes, *o.absentia_no) if v != "")
        no_blank = "" in o.absentia_no
        proc_bad = {
            "OSC_DATE": "osc_raw IS NOT NULL AND osc_date IS NULL",
            "CUSTODY": f"custody_raw IS NOT NULL AND custody_raw NOT IN {custody_codes}",
            "ABSENTIA": (f"absentia IS NOT NULL AND absentia NOT IN {absentia_known}"
                         + ("" if no_blank else " OR absentia IS NULL")),
        }
        self.check_table(PROCEEDING, {
            "osc_raw": "osc_date", "osc_date": "fa_date(osc_date)",
            "comp_raw": "comp_date", "comp_date": "fa_date(comp_date)",
            "court": "court", "ij_code": "ij_code", "dec_code": "dec_code",
            "other_comp": "other_comp", "absentia": "absentia", "custody_raw": "custody",
            "case_type": "case_type", "nat": "nat", "lang": "lang",
        }, proc_bad, transient=("osc_raw",))
        self.say("classifying proceedings")
        self.classify_proceedings(have[CASE.name])
        # the decided proceedings: the spine of every join below
        self.sql("""
            CREATE OR REPLACE VIEW dec AS
            SELECT * EXCLUDE (custody_raw) , custody_eff_raw AS custody_raw
            FROM p_class WHERE status IS NULL
        """)
        n_dec = self.one("SELECT count(*) FROM dec")[0]
        self.ledger_for(PROCEEDING, n_dec, proc_bad, used_relation="dec")
        proc_entry = self.ledger.table(PROCEEDING.name)
        proc_entry.values_nulled_by_court_year = quality.by_court_year(
            self.con, "dec", {name: f'"_bad_{name}"' for name in proc_bad})
        # dates over every usable proceeding (values_nulled counts OSC_DATE on decisions)
        for name, n in quality.count_where(self.con, "ok_proc", {
                "COMP_DATE": "comp_raw IS NOT NULL AND comp_date IS NULL",
                "OSC_DATE": '"_bad_OSC_DATE"'}).items():
            proc_entry.impossible_date(name, n)
        n_differ = self.one("SELECT count(*) FILTER (WHERE judge_differs) FROM dec")[0]
        self.attribution = {"rule": o.judge_attribution,
                            "decisions_attributed_differently": int(n_differ)}
        other = next(r for r in ATTRIBUTION_RULES if r != o.judge_attribution)
        self.say(f"judges attributed by {o.judge_attribution}: {n_differ:,} of {n_dec:,} "
                 f"decisions would have another judge (or none) by {other}")
        self.data_quality(CASE)
        self.data_quality(PROCEEDING)
        self.drop_staged(PROCEEDING)

        # ---- secondary tables
        aggregates: dict[str, str] = {}
        if have[SCHEDULE.name]:
            sched_bad = {"ADJ_DATE": "adj_raw IS NOT NULL AND adj_date IS NULL"}
            self.check_table(SCHEDULE, {
                "adj_raw": "adj_date",
                "adj_date": "fa_date(adj_date)", "adj_rsn": "adj_rsn"}, sched_bad,
                transient=("adj_raw",))
            self.ledger_for(SCHEDULE, self.one("SELECT count(*) FROM ok_sched")[0], sched_bad,
                            dates=("ADJ_DATE",))
            self.say("counting hearings")
            self.sql(f"""
                CREATE OR REPLACE TABLE agg_hearings AS
                SELECT d.idnproceeding, count(*) AS n_hearings,
                  count(*) FILTER (WHERE s.adj_rsn IN {_sql_list(o.continuance_codes)})
                    AS n_continuances,
                  min(s.adj_date) AS first_hearing
                FROM ok_sched s JOIN dec d ON d.idnproceeding = s.idnproceeding
                WHERE s.adj_date IS NOT NULL AND s.adj_date <= d.comp_date
                GROUP BY d.idnproceeding
            """)
            aggregates["hearings"] = "agg_hearings"
            self.data_quality(SCHEDULE)
            self.drop_staged(SCHEDULE)
        if have[APPLICATION.name]:
            self.check_table(APPLICATION, {
                "appl_code": "appl_code",
                "appl_dec": "appl_dec"}, {})
            self.ledger_for(APPLICATION, self.one("SELECT count(*) FROM ok_appln")[0], {})
            rank = {code: i for i, code in enumerate(o.asylum_rank)}
            rank_sql = ("CASE a.appl_dec " + " ".join(
                f"WHEN {sql_string(c)} THEN {i}" for c, i in rank.items())
                + f" ELSE {len(rank)} END") if rank else "0"
            self.sql(f"""
                CREATE OR REPLACE TABLE agg_asylum AS
                SELECT d.idnproceeding,
                  count(*) AS n_asylum, count(a.appl_dec) AS n_asylum_decided,
                  arg_min(a.appl_dec, {rank_sql}) FILTER (WHERE a.appl_dec IS NOT NULL)
                    AS best_dec
                FROM ok_appln a JOIN dec d ON d.idnproceeding = a.idnproceeding
                WHERE a.appl_code IN {_sql_list(o.asylum_codes)}
                GROUP BY d.idnproceeding
            """)
            aggregates["asylum"] = "agg_asylum"
            self.data_quality(APPLICATION)
            self.drop_staged(APPLICATION)
        if have[REPS.name]:
            reps_bad = {"E_28_DATE": "e28_raw IS NOT NULL AND e28 IS NULL"}
            self.check_table(REPS, {
                "level": "upper(level)",
                "atty_type": "upper(atty_type)", "e28_raw": "e28", "e28": "fa_date(e28)"},
                reps_bad, transient=("e28_raw",))
            self.ledger_for(REPS, self.one("SELECT count(*) FROM ok_reps")[0], reps_bad,
                            dates=("E_28_DATE",))
            self.sql(f"""
                CREATE OR REPLACE TABLE agg_reps AS
                SELECT r.idncase, min(r.e28) AS first_e28
                FROM ok_reps r
                WHERE r.atty_type IN {_sql_list(o.reps_types)}
                  AND r.level IN {_sql_list(o.reps_levels)} AND r.e28 IS NOT NULL
                  AND r.idncase IN (SELECT idncase FROM dec)
                GROUP BY r.idncase
            """)
            self.data_quality(REPS)
            self.drop_staged(REPS)
        if have[JUVENILE.name]:
            juv_bad = {"IDNJUVENILE": "idnjuvenile IS NOT NULL AND juv_code IS NULL"}
            self.check_table(JUVENILE, {
                "idnjuvenile": "idnjuvenile",
                "juv_code": "fa_key(idnjuvenile)"}, juv_bad)
            self.ledger_for(JUVENILE, self.one("SELECT count(*) FROM ok_juv")[0], juv_bad)
            self.sql(f"""
                CREATE OR REPLACE TABLE agg_juv AS
                SELECT DISTINCT idncase FROM ok_juv
                WHERE idnjuvenile IS NULL
                   OR idnjuvenile NOT IN {_sql_list(o.juvenile_exclude_codes)}
            """)
            self.data_quality(JUVENILE)
            self.drop_staged(JUVENILE)
        if have[APPEAL.name]:
            self.check_table(APPEAL, {
                "category": "upper(category)",
                "appeal_type": "lower(appeal_type)", "bia_decision": "upper(bia_decision)"}, {})
            self.ledger_for(APPEAL, self.one("SELECT count(*) FROM ok_appeal")[0], {})
            self.sql(f"""
                CREATE OR REPLACE TABLE agg_appeal AS
                SELECT a.idnproceeding, count(*) AS n_appeals,
                  count(a.bia_decision) AS n_decided,
                  bool_or(a.bia_decision IN {_sql_list(o.remand_codes)}) AS any_remand
                FROM ok_appeal a
                WHERE a.category IN {_sql_list(c.upper() for c in o.appeal_categories)}
                  AND a.appeal_type IN {_sql_list(t.lower() for t in o.appeal_types)}
                  AND a.idnproceeding IN (SELECT idnproceeding FROM dec)
                GROUP BY a.idnproceeding
            """)
            self.data_quality(APPEAL)
            self.drop_staged(APPEAL)
        return n_dec, self.build_decisions(have)

    # ---------------------------------------------------------------- data quality
    def data_quality(self, spec: TableSpec) -> None:
        """Facts for the ledger that set no row aside (:mod:`fairness_audit.ingest.quality`)
        about one table: its orphans, its values outside the codebooks, and its latest date
        (the release's is the latest of all).

        Counted as soon as the table and its parent are read, so that the table's staged rows
        can be dropped then (:meth:`drop_staged`): the staged tables of a national release do
        not fit in the engine's memory together, and spilling them costs more than reading.
        """
        name = spec.name
        # p_class holds one row per usable proceeding (a row of ok_proc), with its keys: it
        # stands for ok_proc as a parent once t_proc is dropped
        parent, key, what = {  # (parent relation, key, what a row without its parent is)
            CASE.name: ("p_class", "idncase", "case without a proceeding"),
            PROCEEDING.name: ("ok_case_", "idncase", "proceeding without its case"),
            APPLICATION.name: ("p_class", "idnproceeding", "row without its proceeding"),
            SCHEDULE.name: ("p_class", "idnproceeding", "row without its proceeding"),
            APPEAL.name: ("p_class", "idnproceeding", "row without its proceeding"),
            REPS.name: ("ok_case_", "idncase", "row without its case"),
            JUVENILE.name: ("ok_case_", "idncase", "row without its case"),
        }[name]
        relation = f"ok_{RELATION[name]}"
        self.ledger.table(name).orphan_rows(what, quality.count_orphans(
            self.con, relation, key, parent))
        fallback = {"NAT": ("nat",), "LANG": ("lang",), "CASE_TYPE": ("case_type",)}
        sets = {
            CASE.name: {"CUSTODY": ("custody_raw",), PRIORITY_COLUMN: ("priority_code",),
                        **(fallback if self.o.case_field_fallback else {})},
            PROCEEDING.name: {"CUSTODY": ("custody_raw",), "ABSENTIA": ("absentia",),
                              "CASE_TYPE": ("case_type",), "NAT": ("nat",), "LANG": ("lang",),
                              "BASE_CITY_CODE": ("court",),
                              "DEC_CODE": ("case_type", "dec_code")},
            APPLICATION.name: {"APPL_CODE": ("appl_code",), "APPL_DEC": ("appl_dec",)},
        }.get(name, {})
        codes = self.codebooks.codes
        counts = quality.value_counts(self.con, relation,
                                      {k: v for k, v in sets.items() if k in codes})
        for column, values in counts.items():
            self.ledger.table(name).outside_codebook(column, quality.outside(
                values, codes[column],
                only_first=frozenset(self.o.outcomes) if column == "DEC_CODE" else None))
        dates = {CASE.name: ("e28",), PROCEEDING.name: ("comp_date", "osc_date"),
                 SCHEDULE.name: ("adj_date",), REPS.name: ("e28",)}.get(name, ())
        # YYYY-MM-DD: the latest text is the latest date
        found = quality.latest_date(self.con, [(relation, column) for column in dates])
        self.latest_date = max((d for d in (self.latest_date, found) if d), default=None)

    def drop_staged(self, spec: TableSpec) -> None:
        """Drop a table's staged rows once everything read from them is counted (only its
        aggregate, if any, is joined into the decisions), to free the engine's memory."""
        self.sql(f"DROP TABLE t_{RELATION[spec.name]}")

    # ---------------------------------------------------------------- final tables
    def build_decisions(self, have: dict[str, bool]) -> int:
        o = self.o
        # each table read contributes one join; a table the release lacks leaves its columns null
        table_joins = (
            (CASE, "LEFT JOIN ok_case_ c ON c.idncase = d.idncase"),
            (SCHEDULE, "LEFT JOIN agg_hearings h ON h.idnproceeding = d.idnproceeding"),
            (APPLICATION, "LEFT JOIN agg_asylum a ON a.idnproceeding = d.idnproceeding"),
            (REPS, "LEFT JOIN agg_reps r ON r.idncase = d.idncase"),
            (JUVENILE, "LEFT JOIN agg_juv j ON j.idncase = d.idncase"),
            (APPEAL, "LEFT JOIN agg_appeal ap ON ap.idnproceeding = d.idnproceeding"),
        )
        joins = [sql for table, sql in table_joins if have[table.name]]

        ref = ("d.comp_date" if o.representation_rule == "by_completion" or not have[SCHEDULE.name]
               else "coalesce(h.first_hearing, d.comp_date)")
        # Evidence of a lawyer makes a decision represented; its absence makes it unrepresented
        # only when the case row could be read (a missing case row leaves it unknown).
        evidence, capable = [], "TRUE"
        if o.use_case_e28 and have[CASE.name]:
            evidence.append(f"c.e28 <= {ref}")
            capable = "c.idncase IS NOT NULL"
        if o.use_reps_assigned and have[REPS.name]:
            evidence.append(f"r.first_e28 <= {ref}")
        represented = (
            f"CASE WHEN {' OR '.join(f'coalesce({e}, FALSE)' for e in evidence)} THEN TRUE "
            f"WHEN {capable} THEN FALSE END" if evidence else "CAST(NULL AS BOOLEAN)"
        )
        yes, no = _sql_list(o.absentia_yes), _sql_list(v for v in o.absentia_no if v != "")
        blank_no = "" in o.absentia_no
        in_absentia = (f"CASE WHEN d.absentia IN {yes} THEN TRUE WHEN d.absentia IN {no} "
                       f"{'OR d.absentia IS NULL ' if blank_no else ''}THEN FALSE END")
        null_b, null_i = "CAST(NULL AS BOOLEAN)", "CAST(NULL AS BIGINT)"
        if have[APPLICATION.name]:
            has_app = ("coalesce(a.n_asylum_decided, 0) > 0" if o.asylum_rule == "decided"
                       else "coalesce(a.n_asylum, 0) > 0")
            asylum_app = has_app
            asylum_dec = (f"CASE WHEN NOT ({has_app}) OR a.best_dec IS NULL THEN NULL "
                          f"WHEN a.best_dec IN {_sql_list(o.asylum_grant)} THEN 'grant' "
                          f"WHEN a.best_dec IN {_sql_list(o.asylum_deny)} THEN 'deny' "
                          f"ELSE 'other' END")
        else:
            asylum_app, asylum_dec = null_b, "CAST(NULL AS VARCHAR)"
        if self.priority_header is not None:
            docket = _docket_sql(o, "c.priority_code")
        else:
            docket = "CAST(NULL AS VARCHAR)"
            self.say(f"{CASE.name} has no {PRIORITY_COLUMN} column: docket is null for every "
                     "decision")
        query = f"""
            SELECT
              CAST(d.idncase AS VARCHAR) AS case_id,
              CAST(d.idnproceeding AS VARCHAR) AS proceeding_id,
              d.judge_id, d.court AS court_id,
              CAST(year(d.comp_date) + CASE WHEN month(d.comp_date) >= 10 THEN 1 ELSE 0 END
                   AS BIGINT) AS fiscal_year,
              CAST(d.comp_date AS TIMESTAMP) AS decision_date,
              d.outcome,
              d.outcome = 'grant' AS granted,
              d.outcome = 'removal' AS removal_ordered,
              d.case_type_eff AS case_type,
              d.nat_eff AS nationality, d.lang_eff AS language,
              {'c.gender' if have[CASE.name] else 'CAST(NULL AS VARCHAR)'} AS gender,
              CASE WHEN d.custody_raw IN ('D', 'R', 'N') THEN d.custody_raw END AS custody,
              CASE WHEN d.custody_raw IN ('D', 'R', 'N')
                   THEN d.custody_raw IN {_sql_list(o.detained_codes)} END AS detained,
              {represented} AS represented,
              {'j.idncase IS NOT NULL' if have[JUVENILE.name] else null_b} AS juvenile,
              {asylum_app} AS asylum_application,
              {asylum_dec} AS asylum_decision,
              {docket} AS docket,
              CAST(d.osc_date AS TIMESTAMP) AS filed_date,
              CAST(d.comp_date - d.osc_date AS DOUBLE) AS duration_days,
              {'coalesce(h.n_hearings, 0)' if have[SCHEDULE.name] else null_i} AS n_hearings,
              {'coalesce(h.n_continuances, 0)' if have[SCHEDULE.name] else null_i}
                AS n_continuances,
              {in_absentia} AS in_absentia,
              {'coalesce(ap.n_appeals, 0) > 0' if have[APPEAL.name] else null_b} AS appealed,
              {'CASE WHEN ap.n_decided > 0 THEN ap.any_remand END'
               if have[APPEAL.name] else null_b} AS remanded
            FROM dec d
            {' '.join(joins)}
            ORDER BY d.comp_date, d.idnproceeding
        """
        self.decisions_arrow = self.con.sql(query).to_arrow_table()
        include_before = ("" if o.workload_include_before_charging
                          else "AND status IS DISTINCT FROM 'completion before charging document'")
        self.workload_arrow = self.con.sql(f"""
            SELECT judge_id, CAST(comp_date AS TIMESTAMP) AS completion_date, kind,
                   case_type_eff AS case_type
            FROM p_class
            WHERE comp_date IS NOT NULL AND kind IS NOT NULL AND judge_ok {include_before}
            ORDER BY comp_date, idnproceeding
        """).to_arrow_table()
        return self.workload_arrow.num_rows


# --------------------------------------------------------------------------------------------
# Lookups
# --------------------------------------------------------------------------------------------
# Code tables read only as codebooks (values_outside_codebook), not written to lookups.json.
CODEBOOK_TABLES = {
    "application": ("tblLookUp_Appln", "tblLookupAppln"),
    "application_decision": ("tblLookupCourtAppDecisions", "tblLookupCourtAppDecision"),
}
PACKAGED_CODEBOOKS = {
    "application": ("packaged (the codes of EOIR's tblLookUp_Appln)", quality.APPLICATION_CODES),
    "application_decision": ("packaged (the codes of EOIR's tblLookupCourtAppDecisions)",
                             quality.APPLICATION_DECISION_CODES),
}


def shipped_lookups() -> dict[str, dict[str, str]]:
    data = yaml.safe_load(resources.files("fairness_audit").joinpath(
        "configs/eoir_lookups.yaml").read_text())
    return {k: {str(code): str(name) for code, name in v.items()} for k, v in data.items()}


def read_lookup_file(path: Path) -> dict[str, str]:
    """A release lookup table (tab-separated, latin-1): code column -> description column."""
    header = raw.read_header(path)
    upper = [h.upper() for h in header]
    code_i = next((i for i, h in enumerate(upper) if h in ("STRCODE", "CODE")), None)
    if code_i is None:
        code_i = next((i for i, h in enumerate(upper) if h.endswith("CODE")), None)
    desc_i = next((i for i, h in enumerate(upper) if "DESC" in h or h.endswith("NAME")
                   or h in ("BASE_CITY", "CITY")), None)
    if code_i is None or desc_i is None:
        return {}
    opener = __import__("gzip").open if path.name.lower().endswith(".gz") else open
    out: dict[str, str] = {}
    with opener(path, "rb") as fh:
        fh.readline()
        for rawline in fh:
            fields = rawline.decode("latin-1").rstrip("\r\n").split("\t")
            if len(fields) > max(code_i, desc_i) and fields[code_i].strip():
                out[fields[code_i].strip()] = fields[desc_i].strip()
    return out


@dataclass(frozen=True)
class ReleaseLookups:
    """Code tables: the release's own where present, else the packaged fallback."""

    tables: dict[str, dict[str, str]]  # kind -> code -> name
    sources: dict[str, str]  # kind -> the release file's name, or the fallback used
    read: tuple[tuple[str, Path], ...] = ()  # (table, file) of every release file read
    from_release: frozenset[str] = frozenset()  # kinds read from the release


def find_lookups(folder: Path, kinds: dict[str, tuple[str, ...]],
                 fallback: dict[str, tuple[str, dict[str, str]]]) -> ReleaseLookups:
    """For each kind, the first of its tables found in ``folder`` that yields codes, else
    ``fallback[kind]`` (source label, codes), else nothing ("not available")."""
    specs = [TableSpec(name=n, key="", columns={}, required=())
             for names in kinds.values() for n in names]
    located = raw.locate_tables(folder, specs) if folder.is_dir() else {}
    tables: dict[str, dict[str, str]] = {}
    sources: dict[str, str] = {}
    read: list[tuple[str, Path]] = []
    for kind, names in kinds.items():
        for n in names:
            if n in located:
                read.append((n, located[n]))
                table = read_lookup_file(located[n])
                if table:
                    tables[kind], sources[kind] = table, located[n].name
                    break
        if kind not in tables:
            label, codes = fallback.get(kind, ("not available", {}))
            tables[kind], sources[kind] = dict(codes), label
    return ReleaseLookups(tables, sources, tuple(read),
                          frozenset(k for k in kinds if sources[k] != fallback.get(
                              k, ("not available",))[0]))


def collect_lookups(folder: Path) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """The code -> name tables of ``<stem>.lookups.json`` and where each came from."""
    found = _lookups(folder)
    return found.tables, found.sources


def _lookups(folder: Path) -> ReleaseLookups:
    shipped = shipped_lookups()
    return find_lookups(folder, LOOKUP_TABLES, {
        kind: ("packaged fallback (marrowb/eoir)", codes) for kind, codes in shipped.items()})


def collect_codebooks(o: EoirOptions, lookups: ReleaseLookups,
                      extra: ReleaseLookups) -> quality.Codebooks:
    """The codebook of each coded column the ingest checks (values_outside_codebook), and
    where it comes from. The court codebook is used only when the release has one (the
    packaged lookups name no courts)."""
    known_absentia = [v for v in (*o.absentia_yes, *o.absentia_no) if v != ""]
    codes = {
        "CUSTODY": (quality.CUSTODY_CODES, "D, R, N (codebook)"),
        "ABSENTIA": (frozenset(known_absentia),
                     "options in_absentia.yes_values and no_values: "
                     + ", ".join(known_absentia)),
        "DEC_CODE": (frozenset(f"{ct}:{code}" for ct, table in o.outcomes.items()
                               for code in table),
                     "options outcomes: (case type, DEC_CODE) pairs, for the case types "
                     "listed there"),
        PRIORITY_COLUMN: (frozenset((*o.docket_codes, *o.docket_ordinary_codes)),
                          "options docket.codes and docket.ordinary_codes"),
        "CASE_TYPE": (frozenset(lookups.tables["case_type"]), lookups.sources["case_type"]),
        "NAT": (frozenset(lookups.tables["nationality"]), lookups.sources["nationality"]),
        "LANG": (frozenset(lookups.tables["language"]), lookups.sources["language"]),
        "APPL_CODE": (frozenset(extra.tables["application"]), extra.sources["application"]),
        "APPL_DEC": (frozenset(extra.tables["application_decision"]),
                     extra.sources["application_decision"]),
    }
    if "court" in lookups.from_release:
        codes["BASE_CITY_CODE"] = (frozenset(lookups.tables["court"]), lookups.sources["court"])
    codes = {k: v for k, v in codes.items() if v[0]}  # an empty codebook checks nothing
    return quality.Codebooks({k: c for k, (c, _) in codes.items()},
                             {k: src for k, (_, src) in sorted(codes.items())})


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------
#: The in-memory database that holds the work tables (see :func:`engine_connection`).
WORK_DATABASE = "work"


def engine_connection(o: EoirOptions, spill: Path, *,
                      progress_bar: bool) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the options' memory limit and threads, spilling to ``spill``
    (the ingest's settings, also used by ``diff-releases``).

    The work tables go to an attached in-memory database with DuckDB's lightweight
    compression (``COMPRESS``): the staged tables of a national release then take less of the
    memory limit and spill less, which is faster at national size (docs/performance.md).
    A cursor starts on the default database: take one with :func:`engine_cursor`.
    """
    con = duckdb.connect(":memory:")
    settings: dict[str, Any] = {"temp_directory": str(spill), "preserve_insertion_order": False,
                                "enable_progress_bar": progress_bar}
    if o.memory_limit:
        settings["memory_limit"] = str(o.memory_limit)
    if o.threads:
        settings["threads"] = int(o.threads)
    for key, value in settings.items():
        literal = sql_string(value) if isinstance(value, str) else value
        con.execute(f"SET {key} = {literal}")
    con.execute(f"ATTACH ':memory:' AS {WORK_DATABASE} (COMPRESS); USE {WORK_DATABASE}")
    return con


def engine_cursor(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """A cursor of ``con`` (for another thread) on its work database."""
    cursor = con.cursor()
    cursor.execute(f"USE {WORK_DATABASE}")
    return cursor


def ingest_eoir(
    source: str | os.PathLike,
    out: str | os.PathLike,
    *,
    options: EoirOptions | None = None,
    work_dir: str | os.PathLike | None = None,
    progress: Progress | None = None,
) -> IngestResult:
    """Read a raw EOIR release and write the decisions table and its companion files.

    Parameters
    ----------
    source
        The unzipped release folder, or the release zip itself.
    out
        ``STEM.parquet``; ``STEM.judge_completions.parquet``, ``STEM.ledger.json``,
        ``STEM.set_aside.parquet`` and ``STEM.lookups.json`` are written beside it as one
        set, then the informational ``STEM.source.json`` (where and when; not in the set).
    options
        Derivation options; the packaged defaults when omitted (see :func:`load_options`).
    work_dir
        Where extracted zip members and DuckDB's spill files go (default: the system's
        temporary folder).
    progress
        Called with short progress lines.

    Returns
    -------
    IngestResult

    Raises
    ------
    ReleaseError
        A required table or column is missing, a file cannot be read, or a table has fewer
        rows than the release's row-count file lists (before anything is written).
    LedgerMismatch
        Rows were lost (a bug): the counts of a table do not add up.
    OutputError
        ``out`` cannot be written (checked before the release is read), or writing failed;
        the files are written as one set (:class:`~fairness_audit.tables.TableSet`), so an
        earlier table at ``out`` is then left as it was.

    Example
    -------
    >>> ingest_eoir("eoir_release/", "out/eoir.parquet")  # doctest: +SKIP
    """
    o = options or load_options()
    say = progress or (lambda _msg: None)
    paths = TablePaths.from_path(out)
    source = Path(source)
    if not source.exists():
        raise ReleaseError(f"{source}: expected an EOIR release folder or zip, found nothing")
    check_table_output(paths, inputs=(source,))
    if work_dir is not None:  # before the work: an unusable folder is one line, not a traceback
        check_output_folder(Path(work_dir), f"--work-dir {work_dir}")
    sidecar = release.source_sidecar_path(paths)
    if sidecar.is_dir():
        raise OutputError(f"--out {paths.decisions}: {sidecar} is a folder; expected a file of "
                          "the table or nothing")
    latest_bound = o.latest_date or dt.date.today().isoformat()
    with raw.WorkDir(work_dir) as wd, release.Hasher() as hasher:
        # the files are hashed in the background while DuckDB reads them
        inventory = release.ReleaseInventory(source, hasher)
        lookup_names = [n for ns in (*LOOKUP_TABLES.values(), *CODEBOOK_TABLES.values())
                        for n in ns]
        counts_member = None
        if source.is_file():
            names = [s.name for s in TABLES] + lookup_names
            if o.row_counts_file is None:
                counts_member = release.find_row_counts_member(
                    source, {n.lower() for n in names})
            folder = raw.extract_zip(source, names, wd.path, say,
                                     members=[counts_member] if counts_member else ())
        else:
            folder = source
        located = raw.locate_tables(folder, TABLES)
        files = {}
        for spec in TABLES:
            if spec.name in located:
                path = located[spec.name]
                files[spec.name] = raw.open_table(spec, path)
                inventory.add(spec.name, path, folder)
        lookups = _lookups(folder)
        extra = find_lookups(folder, CODEBOOK_TABLES, {
            kind: (label, dict.fromkeys(codes, "")) for kind, (label, codes)
            in PACKAGED_CODEBOOKS.items()})
        for table, path in (*lookups.read, *extra.read):
            inventory.add(table, path, folder)
        codebooks = collect_codebooks(o, lookups, extra)
        # the release's row counts: the option's file, else the release's own
        if o.row_counts_file is not None:
            counts_path: Path | None = Path(o.row_counts_file)
            counts_label = counts_path.name
        else:
            if counts_member is not None:
                counts_path = folder / os.path.basename(counts_member)
            elif source.is_dir():
                counts_path = release.find_row_counts_file(
                    folder, {*located.values(), *(p for _, p in (*lookups.read, *extra.read))})
            else:
                counts_path = None
            if counts_path is not None:
                inventory.add(release.ROW_COUNTS, counts_path, folder)
                counts_label = counts_member or counts_path.relative_to(folder).as_posix()
        shipped = None
        if counts_path is not None:
            shipped = release.read_row_counts(counts_path, tuple(files))
            say(f"row counts shipped with the release: {counts_label} "
                f"({len(shipped)} of the tables read listed)")
        # DuckDB's own progress bar (long statements) only when progress is wanted and it
        # cannot garble a redirected stdout or a live display (progress.engine_bar)
        con = engine_connection(o, wd.path / "spill", progress_bar=engine_bar(progress))
        try:
            job = _Ingest(con, o, say, codebooks=codebooks, shipped=shipped,
                          counts_file=counts_label if shipped is not None else "",
                          latest_bound=latest_bound)
            n_dec, n_comp = job.run(files)
            job.ledger.check()
            checkpoint("ingest:read")
            say("writing outputs")
            lookup_sources = lookups.sources
            workload = job.workload_arrow
            dates = (pc.min_max(workload.column("completion_date")) if workload.num_rows
                     else None)
            coverage_start = dates["min"].as_py().date().isoformat() if dates else None
            coverage_end = dates["max"].as_py().date().isoformat() if dates else None
            derivations = o.to_dict()
            # what the option files hold, not where they lie (the table must not depend on
            # the folder); their paths go to the sidecar
            derivations["judge_merge_file"] = release.file_identity(o.judge_merge_file)
            derivations["row_counts_file"] = release.file_identity(o.row_counts_file)
            metadata = {
                "source": "eoir",
                "release": inventory.entry(
                    latest_date=job.latest_date,
                    row_counts=job.row_counts if shipped is not None else None),
                "coverage_start": coverage_start,
                "coverage_end": coverage_end,
                "derivations": derivations,
                "judge_attribution": job.attribution,
                "docket": _docket_summary(job.priority_header, job.decisions_arrow),
                "codebooks": codebooks.sources,
                "lookups": {"file": paths.decisions.name[: -len(".parquet")] + ".lookups.json",
                            "sources": lookup_sources},
                "tables": {
                    name: {"file": st.table.path.name,
                           "rows_read": st.rows_read,
                           "rows_repaired": st.repaired,
                           "rows_malformed": st.malformed,
                           "rows_with_trailing_empty_field": st.trailing_empty_field,
                           "columns_absent": sorted(c for c, p in st.table.positions.items()
                                                    if p is None)}
                    for name, st in job.staged.items()
                },
                "tables_absent": [s.name for s in TABLES if s.name not in files],
            }
            where = {
                "about": "Where and when the table was ingested: informational, not part of "
                         "the table's set of files (their run_id does not depend on it).",
                "run_id": None,
                "source_path": str(source.resolve()),
                "mtimes": inventory.mtimes(),
                "ingested_on": dt.date.today().isoformat(),
                "dates_latest_used": job.latest_bound,
                "judge_merge_file": (None if o.judge_merge_file is None
                                     else str(Path(o.judge_merge_file).resolve())),
                "row_counts_file": (None if counts_path is None
                                    or (source.is_file() and o.row_counts_file is None)
                                    else str(counts_path.resolve())),
            }
            ledger = job.ledger.to_dict()
            decisions_arrow = job.decisions_arrow
            del job
            # DuckDB writes the set-aside rows (a sort) while pandas builds the final tables:
            # the other tables are dropped first, so that their memory is free for pandas
            for (name,) in con.execute("SELECT table_name FROM duckdb_tables() "
                                       "WHERE table_name <> 'set_aside'").fetchall():
                con.execute(f'DROP TABLE "{name}"')
            # all files are written as one set (tables.TableSet), moved into place at the end
            files = TableSet(paths, metadata, {
                paths.ledger: ledger,
                lookups_path(paths): {"sources": lookup_sources, **lookups.tables}})
            with files, ThreadPoolExecutor(max_workers=1) as pool:
                set_aside_path = files.staged(paths.set_aside)
                set_aside_written = pool.submit(_write_set_aside, engine_cursor(con), set_aside_path,
                                                files.run_id)
                decisions = decisions_arrow.to_pandas(types_mapper=_types_mapper)
                del decisions_arrow
                workload_df = workload.to_pandas(types_mapper=_types_mapper)
                del workload
                files.write_tables(decisions, workload_df)
                with writing(set_aside_path, shown=paths.set_aside):
                    set_aside_written.result()
        finally:
            con.close()
    # informational, outside the set: written once the set is in place
    release.write_source_sidecar(sidecar, {**where, "run_id": files.run_id})
    say(f"wrote {sidecar} (where and when the release was read; informational)")
    return IngestResult(paths, n_dec, n_comp, ledger, metadata, sidecar)


def _docket_summary(header: str | None, decisions: pa.Table) -> dict[str, Any]:
    """Where the docket column came from and the decisions on each special docket."""
    counts = pc.value_counts(decisions.column("docket").drop_null()).to_pylist()
    return {"source_column": None if header is None else f"{CASE.name}.{header}",
            "decisions_by_docket": {c["values"]: int(c["counts"])
                                    for c in sorted(counts, key=lambda c: c["values"])}}


def lookups_path(paths: TablePaths) -> Path:
    return paths.decisions.with_name(paths.stem + ".lookups.json")


def _types_mapper(arrow_type: pa.DataType):
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return pd.StringDtype()
    if pa.types.is_boolean(arrow_type):
        return pd.BooleanDtype()
    if pa.types.is_integer(arrow_type):
        return pd.Int64Dtype()
    if pa.types.is_floating(arrow_type):
        return pd.Float64Dtype()
    return None


def _write_set_aside(con, path: Path, run_id: str) -> None:
    """Write the set-aside rows (into the table set's staging folder) with the set's run id."""
    tag = sql_string(json.dumps({"run_id": run_id}))
    try:
        con.execute(f"""
            COPY (SELECT "table", key, reason, detail FROM set_aside
                  ORDER BY "table", reason, key)
            TO {sql_string(str(path))} (FORMAT parquet, KV_METADATA {{fairness_audit: {tag}}})
        """)
    except duckdb.IOException as exc:  # DuckDB's own type: an OSError for outputs.writing
        full = "No space left on device" in str(exc)
        raise OSError(errno.ENOSPC if full else None, str(exc)) from exc


def read_lookups(path: str | os.PathLike) -> dict[str, Any]:
    """The code tables written beside a decisions table (``<stem>.lookups.json``)."""
    return json.loads(Path(path).read_text())
