"""Simulate a court system and write it as a decisions table with its truth file."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from fairness_audit.checkpoints import checkpoint
from fairness_audit.config import load_config, read_yaml_mapping
from fairness_audit.errors import ConfigError
from fairness_audit.scenarios import check_scenario, resolve_size
from fairness_audit.schema import coerce_decisions
from fairness_audit.simulate import SimulationParams, judges_for, simulate
from fairness_audit.tables import TablePaths, check_table_output, write_decision_data
from fairness_audit.truth import audit_truth, causal_effects, model_targets


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
                      scenario: str | None = None,
                      progress: Callable[[str], None] = lambda m: None) -> TablePaths:
    """Simulate, compute each model term's target, and write the files of contract section 2.

    ``scenario`` (one of :data:`fairness_audit.scenarios.SCENARIOS`) overrides the config's;
    truth.json then holds, besides each model's target (which includes the scenario's bias),
    the causal effect planted for each tested term (``causal``).

    ``out`` is checked before the work starts, and the files are written as one set
    (:class:`~fairness_audit.tables.TableSet`): an error or interrupt leaves an earlier
    table at ``out`` as it was.
    """
    paths = TablePaths.from_path(out)
    if decisions is not None and decisions < 1:
        raise ConfigError(f"--decisions: expected a positive number of decisions, found {decisions}")
    params = load_params(config)
    if scenario is not None:
        params = dataclasses.replace(params, scenario=check_scenario(scenario, source="--scenario"))
    if decisions is not None and params.scenario == "national":
        raise ConfigError(f"--decisions: the scenario 'national' sets its own size "
                          f"({params.national_courts} courts x {params.national_judges_per_court} "
                          f"judges); found --decisions {decisions}")
    params = resolve_size(judges_for(decisions, params))
    check_table_output(paths)
    if null:
        params = params.null()
    if no_judge_spread:
        params = params.without_judge_spread()
    if anticipation:
        params = dataclasses.replace(params, effect_start=anticipation)
    progress(f"simulating {params.n_courts} courts x {params.judges_per_court} judges, "
             f"FY{params.first_fiscal_year}-FY{params.last_fiscal_year} (seed {seed}, scenario "
             f"{params.scenario})")
    sim = simulate(params, seed=seed, progress=progress)
    decisions_frame, _ = coerce_decisions(sim.decisions)
    progress(f"computing each model term's target on {len(decisions_frame):,} decisions")
    targets = model_targets(decisions_frame, sim.workload, sim.expected, load_config(),
                            coverage_start=sim.metadata["coverage_start"], progress=progress)
    # group rates conditional on the simulated judges, and H6's judge-spread target
    extra = audit_truth(decisions_frame, sim.workload, sim.expected, load_config(),
                        coverage_start=sim.metadata["coverage_start"])
    # the causal effect apart from the targets only where a stress scenario can set them
    # apart: without one, its extra fits (as many as the targets') would double the time
    causal = None
    if params.scenario != "none":
        causal = causal_effects(decisions_frame, sim.workload, sim.expected_planted,
                                sim.expected_unplanted, load_config(),
                                coverage_start=sim.metadata["coverage_start"],
                                fitted=targets if sim.expected_planted is sim.expected else None,
                                progress=progress)
    targets.update(extra["analyses"])
    metadata = {**sim.metadata, "null": null, "no_judge_spread": no_judge_spread,
                "anticipation": anticipation}
    truth = {**sim.truth, "targets": targets,
             "target_definition": "each model of the default plan fitted to the expected "
                                  "outcomes of this draw, on the audit's sample (in a stress "
                                  "scenario: including the scenario's bias; the pseudo-true "
                                  "value that coverage is judged against)",
             "causal": causal,
             "causal_definition": "for each tested term of the default plan's models, the "
                                  "causal effect planted: the model fitted to the expected "
                                  "outcomes of the planted effects alone (the scenario's "
                                  "deviations removed) minus the fit with nothing planted; 0 "
                                  "under --null whatever the scenario; verdicts are judged "
                                  "against it; null without a stress scenario, where the "
                                  "targets are the planted effects as the models read them",
             "group_rates": extra["group_rates"],
             "group_rates_definition": "mean true probability of the outcome over the "
                                       "audit's decisions of each group and period (rates "
                                       "conditional on the simulated judges and cases)"}
    checkpoint("simulate:computed")
    write_decision_data(paths, sim.decisions, sim.workload, sim.ledger, metadata,
                        json_files={paths.truth: truth})
    return paths
