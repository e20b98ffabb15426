"""results.json (contract section 7): assembling, validating and writing it.

``SCHEMA_VERSION`` follows the contract: additive changes bump the minor number.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import platform
from importlib import metadata, resources
from pathlib import Path
from typing import Any

import jsonschema

SCHEMA_VERSION = "1.5"
# matplotlib and jinja2 draw the report's figures and pages: their versions let ``verify`` say
# why a figure's bytes may differ when every number matches
_VERSIONED = ("fairness_audit", "pandas", "numpy", "scipy", "statsmodels", "pyfixest", "fairlearn",
              "duckdb", "pyarrow", "matplotlib", "jinja2")


def load_schema() -> dict[str, Any]:
    return json.loads(resources.files("fairness_audit").joinpath("schemas/results.schema.json")
                      .read_text())


def validate_results(results: dict[str, Any]) -> None:
    """Raise jsonschema.ValidationError if ``results`` breaks the schema."""
    jsonschema.validate(results, load_schema())


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in _VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def created_timestamp() -> str:
    """SOURCE_DATE_EPOCH when set (reproducible builds), else now, in UTC."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    moment = (dt.datetime.fromtimestamp(int(epoch), dt.UTC) if epoch
              else dt.datetime.now(dt.UTC).replace(microsecond=0))
    return moment.isoformat().replace("+00:00", "Z")


def input_path(path: Path, relative_to: str | os.PathLike | None) -> str:
    """How provenance names an input: relative to the output folder when one is given, in
    POSIX form, so that it does not depend on the working folder or the machine."""
    if relative_to is None:
        return Path(path).as_posix()
    return Path(os.path.relpath(Path(path).resolve(), Path(relative_to).resolve())).as_posix()


def provenance(inputs: list[Path], config: dict[str, Any], seed: int,
               relative_to: str | os.PathLike | None = None, *,
               source: dict[str, Any] | None = None,
               config_file: dict[str, str] | None = None) -> dict[str, Any]:
    """results.json ``provenance`` (contract section 7).

    Parameters
    ----------
    inputs
        The files the audit read, the decisions table first; missing ones are left out.
    config
        The resolved plan.
    seed
        The plan's seed.
    relative_to
        The output folder: input paths are written relative to it.
    source
        Where the decisions table came from (``fairness-audit run`` passes its source spec,
        paths already relative to the output folder; docs/run.md). Default: the decisions
        table itself, ``{"kind": "table", "table": <the first input's path>}``.
    config_file
        ``{"path", "sha256"}`` of the run config that started the audit, or None.

    Returns
    -------
    dict
        ``{inputs, config, versions, seed, created, source, config_file}``.

    Example
    -------
    >>> provenance([Path("out/court.parquet")], plan.to_dict(), 7, "out/audit")  # doctest: +SKIP
    """
    present = [p for p in inputs if p.exists()]
    if source is None:
        source = {"kind": "table",
                  "table": input_path(present[0], relative_to) if present else None}
    return {
        "inputs": [{"path": input_path(p, relative_to), "sha256": sha256_of(p)} for p in present],
        "config": config, "versions": versions(), "seed": int(seed), "created": created_timestamp(),
        "source": source, "config_file": config_file,
    }
