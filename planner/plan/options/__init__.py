"""The options of each workload and their analytical estimates, one module per workload kind.

An option is one way to run a workload: a site its data may reach under its privacy level,
hardware there, a precision the hardware runs and the workload allows, and for inference an
optional split. Each option says what it loads of shared resources (device groups, cloud pools,
link directions), what it costs itself (a `MonthlyBill`), and its predicted p99 latency at each
utilisation level of the device it shares, so the solver can keep all of that linear.
"""
from __future__ import annotations

from collections import Counter

from planner.costs.llm import is_llm
from planner.model.system import System, resolve
from planner.plan.options.availability import hold_availability
from planner.plan.options.common import LEVELS, LINK_RHO, Option, levels, transfer_ms
from planner.plan.options.federated import federated_options
from planner.plan.options.inference import inference_options, split_options
from planner.plan.options.llm import LlmServing, llm_options
from planner.plan.options.llm_boundary import boundary_options
from planner.plan.options.routed import routed_options
from planner.plan.options.training import training_options
from planner.scenario import Scenario

__all__ = ["LEVELS", "LINK_RHO", "LlmServing", "Option", "all_options", "levels", "options_for", "transfer_ms"]


def options_for(system: System, name: str) -> list[Option]:
    """Every option of one workload (infeasible ones kept, with their reason)."""
    w = system.scenario.workloads[name]
    if w.kind == "training":
        return training_options(system, name)
    if w.kind == "federated":
        return federated_options(system, name)
    base = llm_options(system, name) if is_llm(w.model_id) else _single_options(system, name)
    # a routed pair's sides are single placements; a language model across the boundary is one of its own
    opts = base + routed_options(system, name, base) + (boundary_options(system, name) if is_llm(w.model_id) else [])
    hold_availability(system, name, opts)
    return opts


def _single_options(system: System, name: str) -> list[Option]:
    """A workload's whole-model and split options. Workloads alike in every figure but their name
    and latency SLO (the cameras of one kind at a site) have the same options: they are built once
    per kind and copied, with the workload's name and SLO, for the others."""
    w = system.scenario.workloads[name]
    # a fleet member's instance is its member's alone (its source is the member: a member alike
    # in everything is planned by its class), as is a workload no other shares the kind of:
    # built for it, neither kept nor copied
    kinds, counts = _kinds(system)
    key = kinds.get(name)
    if key is None or counts[key] == 1:
        return inference_options(system, name) + split_options(system, name)
    cache = system.memo.setdefault("single_options", {})
    built = cache.get(key)
    if built is None:
        built = cache[key] = inference_options(system, name) + split_options(system, name)
    # copies: what follows (availability, routing, the solver) sets fields of its workload's own
    return [o.copy_for(name, w.slo.p99_ms) for o in built]


def _kinds(system: System) -> tuple[dict[str, tuple], Counter]:
    """Each ordinary inference workload's kind (fleet instances apart), and how many workloads
    share each, computed once per system. A kind is every field, in the model's order, but the
    name and the latency SLO, with the privacy level as what it allows (`any` and `region` build
    the same options where every candidate site is in the source's region)."""
    found = system.memo.get("single_kinds")
    if found is None:
        kinds = {}
        for name, w in system.scenario.workloads.items():
            if w.kind == "inference" and w.member is None and not is_llm(w.model_id):
                allowed = tuple(ok for _, ok in system.candidate_sites(name))
                kinds[name] = (w.model_dump_json(exclude={"slo": {"p99_ms"}, "privacy": True}), allowed,
                               None if all(allowed) else w.privacy)  # a barred site's reason names the level
        found = system.memo["single_kinds"] = (kinds, Counter(kinds.values()))
    return found


def all_options(sc: Scenario) -> tuple[System, dict[str, list[Option]]]:
    """The resolved system and every option of every workload."""
    system = resolve(sc)
    return system, {name: options_for(system, name) for name in sc.workloads}
