"""Shared fixtures: small simulated court systems written to disk once per test session."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from fairness_audit.simulate import SimulationParams
from fairness_audit.simulation_io import simulate_to_files

# 6 courts x 5 judges, FY2014-FY2021: about 130,000 decisions, enough for H2 at a fixed seed
SMALL = dataclasses.replace(SimulationParams(), n_courts=6)


@pytest.fixture(scope="session")
def small_params() -> SimulationParams:
    return SMALL


def _write(tmp: Path, name: str, seed: int, **kwargs) -> Path:
    import yaml

    cfg = tmp / f"{name}.yaml"
    cfg.write_text(yaml.safe_dump({"n_courts": SMALL.n_courts}))
    return simulate_to_files(tmp / f"{name}.parquet", seed=seed, config=cfg, **kwargs).decisions


@pytest.fixture(scope="session")
def planted_table(tmp_path_factory) -> Path:
    """A simulated decisions table with the default planted effects (and its companions)."""
    return _write(tmp_path_factory.mktemp("planted"), "court", seed=11)


@pytest.fixture(scope="session")
def null_table(tmp_path_factory) -> Path:
    return _write(tmp_path_factory.mktemp("null"), "court", seed=12, null=True)


@pytest.fixture(scope="session")
def planted_results(planted_table, tmp_path_factory):
    """results.json of the default plan on the planted table (the audit run once)."""
    from fairness_audit.audit import run_audit
    from fairness_audit.config import load_config

    out = tmp_path_factory.mktemp("audit") / "out"
    return run_audit(planted_table, load_config(), out), out
