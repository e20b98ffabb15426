"""Simulate a court system and write it as a decisions table with its truth file."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from fairness_audit.checkpoints import checkpoint
from fairness_audit.config import load_config, read_yaml_mapping
from fairness_audit.errors import ConfigError
from fairness_audit.schema import coerce_decisions
from fairness_audit.simulate import SimulationParams, judges_for, simulate
from fairness_audit.tables import TablePaths, check_table_output, write_decision_data
from fairness_audit.truth import audit_truth, model_targets


def load_params(config: Path | None) -> SimulationParams:
    if config is None:
        return SimulationParams()
    data = read_yaml_mapping(config, "simulation config")
    try:
        return SimulationParams.from_dict(data, source=str(config))
    except TypeError as exc:
        raise ConfigError(f"{config}: {exc}") from None


def simulate_to_files(out: Path, *, decisions: int | None = None, seed: int = 20181001,
                      config: Path | None = None, null: bool = False,
                      no_judge_spread: bool = False, anticipation: str | None = None,
                      progress: Callable[[str], None] = lambda m: None) -> TablePaths:
    """Simulate, compute each model term's target, and write the files of contract section 2.

    ``out`` is checked before the work starts, and the files are written as one set
    (:class:`~fairness_audit.tables.TableSet`): an error or interrupt leaves an earlier
    table at ``out`` as it was.
    """
    paths = TablePaths.from_path(out)
    if decisions is not None and decisions < 1:
        raise ConfigError(f"--decisions: expected a positive number of decisions, found {decisions}")
    params = judges_for(decisions, load_params(config))
    check_table_output(paths)
    if null:
        params = params.null()
    if no_judge_spread:
        params = params.without_judge_spread()
    if anticipation:
        params = dataclasses.replace(params, effect_start=anticipation)
    progress(f"simulating {params.n_courts} courts x {params.judges_per_court} judges, "
             f"FY{params.first_fiscal_year}-FY{params.last_fiscal_year} (seed {seed})")
    sim = simulate(params, seed=seed, progress=progress)
    decisions_frame, _ = coerce_decisions(sim.decisions)
    progress(f"computing each model term's target on {len(decisions_frame):,} decisions")
    targets = model_targets(decisions_frame, sim.workload, sim.expected, load_config(),
                            coverage_start=sim.metadata["coverage_start"], progress=progress)
    # group rates conditional on the simulated judges, and H6's judge-spread target
    extra = audit_truth(decisions_frame, sim.workload, sim.expected, load_config(),
                        coverage_start=sim.metadata["coverage_start"])
    targets.update(extra["analyses"])
    metadata = {**sim.metadata, "null": null, "no_judge_spread": no_judge_spread,
                "anticipation": anticipation}
    truth = {**sim.truth, "targets": targets,
             "target_definition": "each model of the default plan fitted to the expected "
                                  "outcomes of this draw, on the audit's sample",
             "group_rates": extra["group_rates"],
             "group_rates_definition": "mean true probability of the outcome over the "
                                       "audit's decisions of each group and period (rates "
                                       "conditional on the simulated judges and cases)"}
    checkpoint("simulate:computed")
    write_decision_data(paths, sim.decisions, sim.workload, sim.ledger, metadata,
                        json_files={paths.truth: truth})
    return paths
