"""The hybrid placement planner: where should each AI workload run, edge or cloud?

Public API (DESIGN.md, "The interface others rely on")::

    sc = planner.load_scenario("scenarios/smart_factory.yaml")
    e = planner.estimate("resnet-50", "l4", precision="int8", batch=1)
    r = planner.simulate(sc, {"inspection": {"site": "plant", "hardware": "jetson-orin-nx-16gb", "precision": "int8"}})

Names are imported lazily so `import planner` stays fast for the CLI.
"""
from __future__ import annotations

from importlib import import_module
from typing import Any

from planner.errors import CatalogError, PlannerError, ScenarioError
from planner.scenario import Scenario, json_schema, load_scenario, parse_scenario

__version__ = "0.1.0"

# name -> (module, attribute): loaded on first use.
_LAZY = {
    "estimate": ("planner.costs.estimator", "estimate"),
    "Estimate": ("planner.costs.estimator", "Estimate"),
    "FineTune": ("planner.costs.train_step", "FineTune"),
    "profile": ("planner.costs.measure.profiler", "profile"),
    "simulate": ("planner.sim", "simulate"),
    "SimResult": ("planner.sim", "SimResult"),
    "simulate_day": ("planner.sim.day", "simulate_day"),
    "DayResult": ("planner.sim.day", "DayResult"),
    "plan": ("planner.plan", "plan"),
    "evaluate": ("planner.plan", "evaluate"),
    "Plan": ("planner.plan", "Plan"),
    "pareto": ("planner.plan", "pareto"),
    "run": ("planner.runner", "run"),
    "sweep": ("planner.studies", "sweep"),
    "batch": ("planner.studies", "batch"),
    "catalog": ("planner.catalog", None),
    "sweep_plans": ("planner.studies.plans", "sweep_plans"),
    "baselines": ("planner.compare", "baselines"),
    "baseline_placement": ("planner.compare", "baseline_placement"),
    "strategy_table": ("planner.compare", "strategy_table"),
    "Baseline": ("planner.compare", "Baseline"),
    "report": ("planner.report", None),
    "MAX_FILE_BYTES": ("planner.scenario", "MAX_FILE_BYTES"),
    "referenced_files": ("planner.scenario", "referenced_files"),
    "check_alias_expansion": ("planner.scenario.limits", "check_alias_expansion"),
    "load_placement": ("planner.placement", "load_placement"),
    "check_limits": ("planner.limits", "check_limits"),
    # modules the front ends use: escaping of everything shown, studies' helpers, error helpers
    "safe": ("planner.safe", None),
    "studies": ("planner.studies", None),
    "errors": ("planner.errors", None),
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'planner' has no attribute '{name}'")
    module, attr = _LAZY[name]
    mod = import_module(module)
    value = mod if attr is None else getattr(mod, attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = ["load_scenario", "parse_scenario", "json_schema", "Scenario", "ScenarioError", "CatalogError",
           "PlannerError", *_LAZY]
