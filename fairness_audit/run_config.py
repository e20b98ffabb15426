"""The run config: one YAML file that says where the decisions come from, which plan to run and
where to write (``fairness-audit run CONFIG.yaml``; docs/run.md).

::

    source:            # exactly one kind: simulate, eoir or table
      simulate: {seed: 20181001}
    plan: default.yaml # a plan file, or the plan itself as a mapping; default: the packaged plan
    out: ../out/demo   # the run's folder: data/ (the decisions table) and report/ (the audit)

Paths are read relative to the config file's folder, so that a config means the same run from
any working folder. The run builds the decisions table with the library function of its kind
(:func:`~fairness_audit.simulation_io.simulate_to_files`,
:func:`~fairness_audit.ingest.eoir.ingest_eoir`, :func:`~fairness_audit.ingest.table.ingest_table`)
into ``OUT/data/``, then runs the audit (:func:`~fairness_audit.audit.run_audit`) into
``OUT/report/``, and records the source spec in results.json ``provenance.source``, with paths
relative to ``OUT/report`` (what ``fairness-audit verify`` reads back).
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from fairness_audit.config import (
    AuditConfig,
    _expected,  # the plan's words for what a key expects: one vocabulary for both files
    _known_keys,
    load_config,
    read_yaml_mapping,
)
from fairness_audit.errors import ConfigError, OutputError
from fairness_audit.results import input_path, sha256_of
from fairness_audit.tables import TablePaths

SOURCE_KINDS = ("simulate", "eoir", "table")
# the decisions table's stem under OUT/data/, by source kind
TABLE_STEMS = {"simulate": "court", "eoir": "eoir", "table": "table"}


def _noop(message: str) -> None:
    return None


class _Options(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _path_or_mapping(value: Any, what: str) -> Any:
    """A key that takes a file or the thing itself: text (a path), a mapping, or nothing."""
    if value is None or isinstance(value, str | dict):
        return value
    raise ValueError(f"expected a file path or a mapping ({what}), found {value!r}")


class SimulateSource(_Options):
    """The ``simulate`` command's options (docs/simulator.md)."""

    seed: int = 20181001
    decisions: int | None = Field(None, gt=0)
    null: bool = False
    no_judge_spread: bool = False
    anticipation: dt.date | None = None
    config: str | None = None  # a simulation parameter file


class EoirSource(_Options):
    """The ``ingest eoir`` command's options (docs/ingest.md)."""

    release: str  # the release folder or zip
    options: Any = None  # an ingest options file, or the options themselves
    judge_map: str | None = None
    case_types: tuple[str, ...] | None = None
    work_dir: str | None = None

    @field_validator("options", mode="before")
    @classmethod
    def _options(cls, value: Any) -> Any:
        return _path_or_mapping(value, "the ingest options")


class TableSource(_Options):
    """The ``ingest table`` command's options (docs/mappings.md)."""

    file: str  # the extract
    mapping: str
    keep_names: bool = False


class Source(_Options):
    simulate: SimulateSource | None = None
    eoir: EoirSource | None = None
    table: TableSource | None = None

    @model_validator(mode="before")
    @classmethod
    def _empty_kind(cls, data: Any) -> Any:
        # "simulate:" with nothing under it is a simulation with the defaults, not no source
        if isinstance(data, dict):
            return {k: ({} if v is None and k in SOURCE_KINDS else v) for k, v in data.items()}
        return data

    @model_validator(mode="after")
    def _one_kind(self) -> Source:
        kinds = [k for k in SOURCE_KINDS if getattr(self, k) is not None]
        if len(kinds) != 1:
            found = "none" if not kinds else " and ".join(kinds)
            raise ValueError(f"expected exactly one kind of source ({', '.join(SOURCE_KINDS)}), "
                             f"found {found}")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in SOURCE_KINDS if getattr(self, k) is not None)

    @property
    def options(self) -> SimulateSource | EoirSource | TableSource:
        return getattr(self, self.kind)


class RunSpec(_Options):
    """The run config file as written (paths not yet resolved)."""

    source: Source
    plan: Any = None
    out: str

    @field_validator("plan", mode="before")
    @classmethod
    def _plan(cls, value: Any) -> Any:
        return _path_or_mapping(value, "the plan")


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------
def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The options model behind an annotation (``X | None`` included), or None."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None


def _run_known_keys(loc: tuple) -> list[str]:
    """The keys allowed where ``loc`` ends in the run config (for "did you mean")."""
    model: type[BaseModel] | None = RunSpec
    for part in loc[:-1]:
        field = model.model_fields.get(str(part)) if model else None
        model = _model_of(field.annotation) if field else None
    return list(model.model_fields) if model else []


def _problems(errors: list[dict[str, Any]], known: Callable[[tuple], list[str]],
              prefix: tuple = ()) -> list[str]:
    """One phrase per error: the key (with its section), what was expected, what was found."""
    problems = []
    # a misspelt key first: the required keys reported missing beside it are its consequence
    for err in sorted(errors, key=lambda e: e["type"] != "extra_forbidden"):
        key = ".".join(str(p) for p in (*prefix, *err["loc"]))
        found = repr(err.get("input"))
        found = found if len(found) <= 60 else found[:57] + "..."
        if err["type"] == "extra_forbidden":
            names = known(err["loc"])
            near = difflib.get_close_matches(str(err["loc"][-1]), names, n=1)
            problems.append(f"key '{key}' is not a known option"
                            + (f"; did you mean '{near[0]}'?" if near else "")
                            + (f" (expected one of: {', '.join(names)})" if names else ""))
        elif err["type"] == "missing":
            problems.append(f"key '{key}' is required")
        elif err["type"] == "value_error":  # a rule of the file: the message says it all
            text = err["msg"].removeprefix("Value error, ")
            problems.append(f"key '{key}': {text}" if key else text)
        else:
            problems.append(f"key '{key}': expected {_expected(err)}, found {found}")
    return problems


@dataclass(frozen=True)
class RunConfig:
    """A validated run config, its paths resolved against the config file's folder.

    ``source`` holds the source's options as written (paths still relative); :meth:`path`
    resolves one. ``plan_file`` is the plan's file (None: the plan was written inline, or
    the packaged plan is used).
    """

    file: Path
    source: Source
    plan: AuditConfig
    plan_file: Path | None
    out: Path

    @property
    def kind(self) -> str:
        return self.source.kind

    def path(self, value: str | os.PathLike) -> Path:
        """A path of the config, resolved against the config file's folder."""
        return resolve_against(self.file.parent, value)

    @property
    def table(self) -> TablePaths:
        """Where the run writes its decisions table: ``OUT/data/<stem>.parquet``."""
        return TablePaths(self.out / "data" / f"{TABLE_STEMS[self.kind]}.parquet")

    @property
    def report(self) -> Path:
        """The audit's output folder: ``OUT/report``."""
        return self.out / "report"

    def inputs(self) -> list[Path]:
        """Every file or folder the run reads (none of them may lie in ``OUT/report``)."""
        o = self.source.options
        paths = [self.file] + ([self.plan_file] if self.plan_file else [])
        if isinstance(o, SimulateSource):
            paths += [self.path(o.config)] if o.config else []
        elif isinstance(o, EoirSource):
            paths += [self.path(o.release)] + [self.path(p) for p in (o.options, o.judge_map)
                                                if isinstance(p, str)]
        else:
            paths += [self.path(o.file), self.path(o.mapping)]
        return paths


def resolve_against(folder: Path, value: str | os.PathLike) -> Path:
    """``value`` (``~`` expanded) if absolute, else ``folder / value``, with ``..`` steps
    taken (``configs/../out/demo`` is ``out/demo``) so that the paths printed read plainly."""
    p = Path(value).expanduser()
    return Path(os.path.normpath(p if p.is_absolute() else Path(folder) / p))


def _yaml_null_key(data: dict[str, Any]) -> dict[str, Any]:
    """YAML reads an unquoted ``null:`` key as no key (None): under ``source.simulate`` it is
    the simulate command's ``--null`` option, so it is read back as ``"null"``."""
    source = data.get("source")
    simulate = source.get("simulate") if isinstance(source, dict) else None
    if isinstance(simulate, dict) and None in simulate:
        fixed = {("null" if k is None else k): v for k, v in simulate.items()}
        return {**data, "source": {**data["source"], "simulate": fixed}}
    return data


def parse_run_config(data: Any, file: str | os.PathLike) -> RunConfig:
    """Validate a run config's mapping (as read from ``file``) and resolve its paths.

    Checks the keys and types of every section, the plan (a file: loaded and validated; a
    mapping: validated in place), and the configuration files the source names (a simulation
    parameter file, EOIR ingest options and judge map, a column mapping), which must exist. The
    data the source reads (a release, an extract) is looked for only when the run starts, so
    that a config can be checked on a machine without the data.

    Parameters
    ----------
    data
        The config file's contents, as YAML reads them.
    file
        The config file: its folder is where relative paths start; messages name it.

    Returns
    -------
    RunConfig

    Raises
    ------
    ConfigError
        One line naming the config file, each key that is wrong (with its section, e.g.
        ``source.simulate.seeed``, and the nearest valid key), what was expected and what was
        found.

    Example
    -------
    >>> parse_run_config({"source": {"simulate": {"seed": 7}}, "out": "o"}, "runs/a.yaml").out
    PosixPath('runs/o')
    """
    file = Path(file)
    if not isinstance(data, dict):
        raise ConfigError(f"{file}: expected a mapping with source, plan and out, found "
                          f"{type(data).__name__}")
    try:
        spec = RunSpec.model_validate(_yaml_null_key(data))
    except ValidationError as exc:
        raise ConfigError(f"{file}: " + "; ".join(_problems(exc.errors(), _run_known_keys))
                          ) from None
    folder = file.parent
    plan_file = None
    if isinstance(spec.plan, dict):
        try:
            plan = AuditConfig.model_validate(spec.plan)
        except ValidationError as exc:
            raise ConfigError(f"{file}: " + "; ".join(
                _problems(exc.errors(), _known_keys, prefix=("plan",)))) from None
    elif isinstance(spec.plan, str):
        plan_file = resolve_against(folder, spec.plan)
        if not plan_file.is_file():
            raise ConfigError(f"{file}: key 'plan': expected a plan file, found nothing at "
                              f"{plan_file}")
        plan = load_config(plan_file)
    else:
        plan = load_config(None)
    config = RunConfig(file=file, source=spec.source, plan=plan, plan_file=plan_file,
                       out=resolve_against(folder, spec.out))
    _check_source_files(config)
    return config


def load_run_config(path: str | os.PathLike) -> RunConfig:
    """Read and validate a run config file (:func:`parse_run_config`).

    Example
    -------
    >>> config = load_run_config("configs/demo.yaml")  # doctest: +SKIP
    >>> config.kind, config.report  # doctest: +SKIP
    ('simulate', PosixPath('out/demo/report'))
    """
    return parse_run_config(read_yaml_mapping(path, "run config"), path)


def _check_source_files(config: RunConfig) -> None:
    """The configuration files a source names exist and are valid (before any work)."""
    o = config.source.options
    where = f"{config.file}: key 'source.{config.kind}"
    if isinstance(o, SimulateSource) and o.config:
        from fairness_audit.simulation_io import load_params

        load_params(_existing(config.path(o.config), f"{where}.config'", "a simulation config"))
    elif isinstance(o, EoirSource):
        eoir_options(o, config.file.parent, where=str(config.file))
    elif isinstance(o, TableSource):
        from fairness_audit.ingest.mapping import load_mapping

        load_mapping(_existing(config.path(o.mapping), f"{where}.mapping'", "a column mapping"))


def _existing(path: Path, where: str, what: str) -> Path:
    if not path.is_file():
        raise ConfigError(f"{where}: expected {what} file, found nothing at {path}")
    return path


def eoir_options(o: EoirSource, folder: Path, *, where: str):
    """The ingest options of an EOIR source, resolved like ``ingest eoir``'s own options;
    relative paths are read against ``folder``; ``where`` names the file that holds ``o``."""
    from fairness_audit.ingest.eoir import load_options

    where = f"{where}: key 'source.eoir"
    options: Any = o.options
    if isinstance(options, str):
        options = _existing(resolve_against(folder, options), f"{where}.options'",
                            "an ingest options")
    judge_map = (None if o.judge_map is None else
                 _existing(resolve_against(folder, o.judge_map), f"{where}.judge_map'",
                           "a judge map"))
    if isinstance(options, dict):
        _known_ingest_keys(options, f"{where}.options")
    try:
        return load_options(options, judge_merge_file=judge_map,
                            case_types=None if o.case_types is None else list(o.case_types))
    except ConfigError as exc:
        if isinstance(options, dict):  # inline options: say where they are written
            raise ConfigError(f"{where}.options': {exc}") from None
        raise


def _known_ingest_keys(options: dict[str, Any], where: str) -> None:
    """Inline ingest options use the keys of the packaged eoir_ingest.yaml: an unknown one is
    named with its section and the nearest valid key, like a plan's."""
    import yaml

    from fairness_audit.ingest.eoir import default_config_text

    def walk(user: dict[str, Any], known: dict[str, Any], path: str) -> None:
        for key, value in user.items():
            if key not in known:
                near = difflib.get_close_matches(str(key), [str(k) for k in known], n=1)
                raise ConfigError(f"{where}.{path}{key}' is not a known option"
                                  + (f"; did you mean '{near[0]}'?" if near else "")
                                  + f" (expected one of: {', '.join(map(str, known))})")
            # the outcomes are keyed by case type and code: free-form below their key
            if isinstance(value, dict) and isinstance(known[key], dict) and key != "outcomes":
                walk(value, known[key], f"{path}{key}.")

    walk(options, yaml.safe_load(default_config_text()), "")


# --------------------------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunResult:
    """What a run wrote: the decisions table (and companions), the report folder, results."""

    config: RunConfig
    table: TablePaths
    report: Path
    results: dict[str, Any]

    @property
    def written(self) -> list[Path]:
        """The files to name at the end of a run."""
        from fairness_audit.report.render import report_files

        return [self.table.decisions, *report_files(self.report)]


def build_table(options: SimulateSource | EoirSource | TableSource, folder: Path, table: Path,
                *, where: str, progress: Callable[[str], None] = _noop) -> dict[str, Any]:
    """Build the decisions table of a source at ``table`` with the library function of its
    kind; relative paths in ``options`` are read against ``folder``; ``where`` names the file
    the options come from (in error messages). Returns the table's metadata as its builder
    recorded it (for the source spec).

    Shared by :func:`run_config` and ``fairness-audit verify``, which rebuilds a table from
    the source spec that results.json records.
    """
    at = Path(folder)
    if isinstance(options, SimulateSource):
        from fairness_audit.simulation_io import simulate_to_files
        from fairness_audit.tables import read_metadata

        paths = simulate_to_files(
            table, decisions=options.decisions, seed=options.seed,
            config=None if options.config is None else resolve_against(at, options.config),
            null=options.null, no_judge_spread=options.no_judge_spread,
            anticipation=None if options.anticipation is None else options.anticipation.isoformat(),
            progress=progress)
        return read_metadata(paths.decisions)
    if isinstance(options, EoirSource):
        from fairness_audit.ingest.eoir import ingest_eoir

        result = ingest_eoir(resolve_against(at, options.release), table,
                             options=eoir_options(options, at, where=where),
                             work_dir=None if options.work_dir is None
                             else resolve_against(at, options.work_dir), progress=progress)
        return result.metadata
    if isinstance(options, TableSource):
        from fairness_audit.ingest.table import ingest_table

        result = ingest_table(resolve_against(at, options.file), resolve_against(at, options.mapping),
                              table, keep_names=options.keep_names)
        for line in result.summary().splitlines()[:-1]:  # the last line names the table
            progress(line)
        return result.metadata
    raise AssertionError(type(options))


def _identity(path: Path, relative_to: Path) -> dict[str, str]:
    return {"path": input_path(path, relative_to), "sha256": sha256_of(path)}


def _json_safe(value: Any) -> Any:
    # inline options from YAML may hold dates: written as the text ingest reads back alike
    return json.loads(json.dumps(value, default=str))


def source_spec(config: RunConfig, metadata: dict[str, Any]) -> dict[str, Any]:
    """results.json ``provenance.source`` of a run: the source's kind, the decisions table and
    every option that built it, with each file named relative to the report folder (POSIX) and
    identified by its sha256 (a release: by its fingerprint, whose files are listed in
    ``data.release``). ``work_dir`` is not recorded: where temporary files go changes nothing.
    """
    report = config.report
    o = config.source.options
    spec: dict[str, Any] = {"kind": config.kind,
                            "table": input_path(config.table.decisions, report)}
    if isinstance(o, SimulateSource):
        spec.update(seed=o.seed, decisions=o.decisions, null=o.null,
                    no_judge_spread=o.no_judge_spread,
                    anticipation=None if o.anticipation is None else o.anticipation.isoformat(),
                    config=None if o.config is None else _identity(config.path(o.config), report))
    elif isinstance(o, EoirSource):
        spec.update(
            release={"path": input_path(config.path(o.release), report),
                     "fingerprint": (metadata.get("release") or {}).get("fingerprint")},
            options=_json_safe(o.options) if isinstance(o.options, dict) else None,
            options_file=(_identity(config.path(o.options), report)
                          if isinstance(o.options, str) else None),
            judge_map=None if o.judge_map is None else _identity(config.path(o.judge_map), report),
            case_types=None if o.case_types is None else list(o.case_types))
    else:
        spec.update(file=_identity(config.path(o.file), report),
                    mapping=_identity(config.path(o.mapping), report), keep_names=o.keep_names)
    return spec


def run_config(config: RunConfig, *, progress: Callable[[str], None] = _noop) -> RunResult:
    """Build the decisions table from the config's source, run its plan, write the report.

    Parameters
    ----------
    config
        From :func:`load_run_config`.
    progress
        Called with short progress lines.

    Returns
    -------
    RunResult
        The table's paths, the report folder and the results.

    Raises
    ------
    ConfigError, TableError, ReleaseError, MappingError
        A source that cannot be read (the message names the file).
    OutputError
        ``OUT/report`` or ``OUT/data`` cannot be written, or ``OUT/report`` holds a file the
        run reads (checked before any work: the audit replaces that folder as a whole).

    Example
    -------
    >>> result = run_config(load_run_config("configs/demo.yaml"))  # doctest: +SKIP
    >>> result.report / "report.html"  # doctest: +SKIP
    PosixPath('out/demo/report/report.html')
    """
    from fairness_audit.audit import check_out, run_audit

    table = config.table
    # before the work: a report folder that cannot be replaced is one line, not a lost run
    report = config.report.resolve()
    for path in config.inputs():
        if report in path.resolve().parents or report == path.resolve():
            raise OutputError(f"{config.file}: key 'out': {config.report} is replaced as a "
                              f"whole by each run, and it holds {path}, which the run reads; "
                              "choose another out")
    check_out(config.report, table.decisions)
    progress(f"building the decisions table ({config.kind}) at {table.decisions}")
    metadata = build_table(config.source.options, config.file.parent, table.decisions,
                           where=str(config.file), progress=progress)
    results = run_audit(table.decisions, config.plan, config.report, progress,
                        source=source_spec(config, metadata),
                        config_file=_identity(config.file, config.report))
    return RunResult(config, table, config.report, results)
