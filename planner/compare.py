"""The plan against simple strategies: every workload at the edge, or every workload in the cloud.

    b = planner.baselines(sc)                     # {"all-edge": Baseline, "all-cloud": Baseline}
    b["all-edge"].plan.monthly_cost_usd           # judged by planner.evaluate, like any hand placement
    planner.strategy_table({"plan": p, **{k: v.plan for k, v in b.items() if v.plan}})

A baseline is a placement by hand, judged by the same analytical model as the plan, so the
difference in cost and latency is the planner's doing. It never breaks privacy: a workload that
may not reach a site of the wanted kind stays where the plan put it, and says so.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd

from planner import catalog
from planner.errors import ScenarioError
from planner.model.system import resolve

Where = Literal["edge", "cloud"]

#: The columns of `strategy_table`, after `strategy`.
STRATEGY_COLUMNS = ["workload", "site", "hardware", "precision", "predicted_p99_ms", "slo_p99_ms",
                    "monthly_cost_usd", "ok", "violations"]


@dataclass(frozen=True)
class Baseline:
    """One strategy's hand placement (workload -> {site, hardware, precision}), a note per
    workload on what was chosen and why, and its verdict (`plan`; None with `error` when the
    placement names an option the model cannot run there)."""

    where: Where
    placement: dict[str, dict[str, Any]]
    notes: dict[str, str] = field(default_factory=dict)
    plan: Any = None
    error: str = ""

    @property
    def name(self) -> str:
        return f"all-{self.where}"

    def __repr__(self) -> str:
        verdict = self.error or (f"feasible={self.plan.feasible}, ${self.plan.monthly_cost_usd:,.0f}/month"
                                 if self.plan is not None else "not judged")
        return f"Baseline({self.name}, {len(self.placement)} placed, {verdict})"


def baseline_placement(scenario: Any, where: Where, plan: Any = None) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """A placement that runs every workload at the edge (at its source when that is an edge site,
    else the first edge site it may reach) or in the cloud (the first cloud site it may reach),
    on that site's first device group or pool.

    Precision: the plan's where that hardware runs it, else the first the workload allows that the
    hardware runs and that keeps the workload's accuracy floor (where one does). Federated workloads, and those privacy or the links keep from every site of the
    kind, stay as `plan` placed them (left out when there is no plan). Returns the placement and a
    note per workload.
    """
    placement: dict[str, dict[str, Any]] = {}
    notes: dict[str, str] = {}
    chosen = getattr(plan, "placement", {}) or {}
    system = resolve(scenario)
    for name, w in scenario.workloads.items():
        planned = chosen.get(name)
        allowed = [s for s in scenario.allowed_sites(name)
                   if scenario.sites[s].kind == where and system.privacy_allows(name, s)]  # its route too
        if where == "edge" and w.source in allowed:  # data is produced there: no link to cross
            allowed.remove(w.source)
            allowed.insert(0, w.source)
        sites = [s for s in allowed if scenario.sites[s].devices or scenario.sites[s].pools]
        if w.kind == "federated" or not sites:
            if planned is not None:
                placement[name] = planned.as_dict()
            notes[name] = ("federated: as planned" if w.kind == "federated"
                           else f"privacy '{w.privacy}' and the links allow no {where} site: as planned")
            continue
        site = scenario.sites[sites[0]]
        hardware = (site.devices or site.pools)[0].hardware
        runs = catalog.hardware(hardware).precisions
        allowed_precisions = list(w.precisions or catalog.PRECISIONS)
        wanted = ([planned.precision] if planned is not None else []) + allowed_precisions
        usable = [p for p in wanted if p in runs and p in allowed_precisions]
        # a precision some variant runs at the workload's accuracy floor, where one is
        precision = next((p for p in usable if _meets_floor(w, p)), next(iter(usable), runs[0] if runs else "fp32"))
        placement[name] = {"site": sites[0], "hardware": hardware, "precision": precision}
        notes[name] = f"{hardware} at {sites[0]}, {precision}"
    return placement, notes


def _meets_floor(w: Any, precision: str) -> bool:
    """Whether some model the workload may run keeps its accuracy floor at `precision`."""
    floor = w.accuracy_floor
    return floor is None or any(a is not None and a.score >= floor
                                for a in (catalog.accuracy(m, precision) for m in w.variants))


def baselines(scenario: Any, plan: Any = None) -> dict[str, Baseline]:
    """The all-edge and all-cloud placements of `scenario`, each judged by `planner.evaluate`.

    `plan` (default: `planner.plan(scenario)`) supplies the precisions and where the workloads
    that cannot move stay. Keys: ``all-edge``, ``all-cloud``.
    """
    from planner.plan import evaluate, plan as make_plan

    plan = make_plan(scenario) if plan is None else plan
    out: dict[str, Baseline] = {}
    for where in ("edge", "cloud"):
        placement, notes = baseline_placement(scenario, where, plan)
        try:
            verdict, error = evaluate(scenario, placement), ""
        except ScenarioError as e:  # e.g. the site's first hardware cannot run the model at all
            verdict, error = None, str(e)
        b = Baseline(where, placement, notes, verdict, error)
        out[b.name] = b
    return out


def strategy_table(plans: Mapping[str, Any]) -> pd.DataFrame:
    """A row per (strategy, workload): where it runs, predicted p99 against its SLO, monthly cost,
    and whether its constraints hold. `plans` maps a strategy's label to its Plan."""
    frames = []
    for label, p in plans.items():
        t = p.table().reindex(columns=STRATEGY_COLUMNS).copy()
        t.insert(0, "strategy", label)
        frames.append(t)
    if not frames:
        return pd.DataFrame(columns=["strategy", *STRATEGY_COLUMNS])
    return pd.concat(frames, ignore_index=True)


__all__ = ["Baseline", "baseline_placement", "baselines", "strategy_table", "STRATEGY_COLUMNS"]
