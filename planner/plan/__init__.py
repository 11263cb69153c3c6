"""The planner: options → constraints → MILP → Plan, with reasons.

`plan(scenario)` chooses a placement; `evaluate(scenario, placement)` gives the analytical
verdict on one given by hand (the same numbers); `pareto(scenario)` traces cost against p99.
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from planner.costs.llm import kv_cache_precision
from planner.errors import ScenarioError
from planner.gcpause import gc_paused
from planner.limits import check_limits
from planner.model.accounting import ZERO, MonthlyBill
from planner.model.ids import ResourceId
from planner.model.pricing import Mix
from planner.model.system import System, resolve
from planner.model.workloads import kv_precision_of
from planner.placement import Choice, parse_placement
from planner.plan.assess import Assessment, assess, p99_ms, pool_needs, pricing_of, resource_bills
from planner.plan.classes import Classes, classes
from planner.plan.explain import diagnose, explain
from planner.plan.options import Option, all_options, options_for
from planner.plan.solver import solve
from planner.scenario import Inference, Scenario

__all__ = ["Plan", "plan", "evaluate", "pareto"]


@dataclass
class Plan:
    """A placement with its analytical verdict. `placement` maps workload -> Choice."""

    scenario: Scenario
    placement: dict[str, Choice]
    options: dict[str, Option]
    assessment: Assessment | None
    status: str  # optimal | partial (some workloads left out, see conflicts) | infeasible | evaluated | time_limit
    conflicts: list[str] = field(default_factory=list)
    solve_s: float = 0.0
    system: System | None = field(default=None, repr=False)
    _all_options: dict[str, list[Option]] = field(default_factory=dict, repr=False)
    classes: Classes | None = field(default=None, repr=False)
    _dominance: dict[int, int] = field(default_factory=dict, repr=False)  # the solver's (`Solution.dominance`)

    @property
    def feasible(self) -> bool:
        return self.assessment is not None and self.assessment.feasible and not self.conflicts

    @property
    def monthly_cost_usd(self) -> float:
        return self.assessment.monthly_cost_usd if self.assessment else math.nan

    @property
    def warm_instances(self) -> dict[ResourceId, int]:
        """Instances each cloud pool runs at the planned steady state: a simulation of the plan
        starts there, warm, rather than at its first cold start."""
        return dict(self.assessment.instances) if self.assessment else {}

    def warm_instances_at(self, hour: int) -> dict[ResourceId, int]:
        """Instances each cloud pool runs at `hour` of the day (UTC): a pool bought by the hour
        runs that hour's need (whole instances, at least its minimum and its reserved base), as
        its `pool_mixes` bills it; any other its `warm_instances`. A simulation of that hour
        starts there."""
        warm = self.warm_instances
        for r, hours in self._pool_needs.items():
            res, mix = self.system[r], self.assessment.mixes.get(r)
            floor = max(res.min_instances if not r.workload else 0, mix.n_reserved if mix else 0)
            warm[r] = max(floor, math.ceil(hours[hour] - 1e-9))
        return warm

    @cached_property
    def _pool_needs(self) -> dict[ResourceId, list[float]]:
        """Each pool bought by the hour: the instance-load the plan puts on it each hour of the
        day (computed once: a day of simulation asks for every hour)."""
        if not self.assessment or not self.assessment.mixes or self.system is None:
            return {}
        return pool_needs(self.system, self.options)

    @property
    def job_start_hours(self) -> dict[str, float]:
        """The hour of the day (UTC) each deferrable training run starts at (its `window_h`'s
        cleanest hours): a simulation of the plan counts its emissions at those hours."""
        return {w: o.detail["start_hour"] for w, o in self.options.items() if "start_hour" in o.detail}

    @property
    def pool_mixes(self) -> dict[ResourceId, Mix]:
        """How each pool that lists more than on demand is bought (a reserved base, hourly
        instances above it): a simulation of the plan bills and interrupts its pools by it."""
        return dict(self.assessment.mixes) if self.assessment else {}

    @property
    def bill(self) -> MonthlyBill:
        """The plan's `MonthlyBill` (dollars by component, energy): what the report and the app show."""
        return self.assessment.bill if self.assessment else ZERO

    @cached_property
    @gc_paused
    def explanations(self) -> dict[str, dict[str, Any]]:
        if not self.options:
            return {}
        out = explain(self.system, self._all_options, self.options, only=self._all_options, known=self._dominance,
                      assessment=self.assessment)
        sc = self.scenario
        for name in self.options:  # fleet members decided with their class: their representative's reasons
            w = sc.workloads[name]
            if name in out or w.member is None or self.classes is None:
                continue
            rep = self.classes.rep[w.member]
            src = out.get(f"{w.base_workload}@{rep}")
            if src is not None:
                out[name] = {k: self.classes.rename(v, rep, w.member) if isinstance(v, str) else v for k, v in src.items()}
        return out

    @gc_paused
    def table(self) -> pd.DataFrame:
        """A row per workload: where it runs, predicted p99, monthly cost, constraints, and why."""
        cols = ["workload", "fleet", "member", "kind", "model", "site", "hardware", "precision", "accuracy", "accuracy_metric",
                "min_accuracy", "split", "llm_split", "kv_precision", "predicted_p99_ms", "p99_ms_low", "p99_ms_high", "slo_p99_ms",
                "predicted_ttft_ms", "slo_ttft_ms", "predicted_tpot_ms", "slo_tpot_ms",
                "predicted_availability", "slo_availability", "monthly_cost_usd", "pricing",
                "kgco2e_per_month", "utilization", "ok", "violations", "binding", "next_best",
                "next_best_delta_usd", "source", "reason", "routing", "secondary_site", "secondary_hardware",
                "secondary_share"]
        rows = []
        a = self.assessment
        cost_usd = a.cost_usd if a else {}
        why: dict[str, list[str]] = {}
        for c in self.conflicts:  # each line names its workload first (or a shared limit)
            why.setdefault(_subject(c), []).append(c)
        for name in self.scenario.workloads:
            o = self.options.get(name)
            if o is None or a is None:
                reason = "; ".join(why.get(name, [])) or "; ".join(self.conflicts[:3]) or "not placed"
                w = self.scenario.workloads[name]
                rows.append({"workload": name, "fleet": w.fleet, "member": w.member, "kind": w.kind,
                             "model": w.family or w.model_id, "min_accuracy": w.accuracy_floor,
                             "ok": False, "violations": reason, "reason": reason})
                continue
            ex = self.explanations.get(name, {})
            compute = next(iter(o.p99_ms_by_level), None) or next((r for r in o.loads if r.kind != "link"), None)
            w = self.scenario.workloads[name]
            p99 = a.p99_ms[name] if o.kind == "inference" else np.nan
            # the cost model's 80% interval carried to the p99 (service and queueing times scale, at
            # the planned utilisation; the network and batching holds do not)
            low, high = (p99 if k == 1 or o.kind != "inference" else p99_ms(self.system, o, a.utilization, a.instances, k)
                         for k in o.latency_span)
            rows.append({
                "workload": name, "fleet": w.fleet, "member": w.member, "kind": o.kind, "model": o.model or w.model_id,
                "site": o.site, "hardware": o.hardware, "precision": o.precision,
                "accuracy": np.nan if o.accuracy is None else o.accuracy, "accuracy_metric": o.accuracy_metric, "min_accuracy": w.accuracy_floor,
                "split": o.split, "llm_split": o.llm_split,
                # a language model's KV cache as it runs (the default where the workload names none)
                "kv_precision": kv_cache_precision(o.precision, o.kv_precision) if o.engine else None,
                "predicted_p99_ms": p99, "p99_ms_low": low, "p99_ms_high": high,
                "slo_p99_ms": o.slo_ms,
                "predicted_ttft_ms": a.ttft_ms.get(name, np.nan), "slo_ttft_ms": o.ttft_slo_ms,
                "predicted_tpot_ms": a.tpot_ms.get(name, np.nan), "slo_tpot_ms": o.tpot_slo_ms,
                "predicted_availability": np.nan if o.availability is None else o.availability,
                "slo_availability": getattr(getattr(w, "slo", None), "availability", None),
                "monthly_cost_usd": cost_usd[name], "pricing": pricing_of(self.system, o, a.mixes),
                "kgco2e_per_month": a.bills[name].kgco2e, "utilization": a.utilization.get(compute, np.nan) if compute else np.nan,
                "ok": not a.violations[name], "violations": "; ".join(map(str, a.violations[name])),
                "binding": ex.get("binding", ""), "next_best": ex.get("next_best", ""),
                "next_best_delta_usd": ex.get("next_best_delta_usd", np.nan), "source": o.source,
                "reason": ex.get("reason", "") + "".join(f"; pricing {a.mixes[r].note}" for r in o.loads if r in a.mixes),
                "routing": o.routing, "secondary_site": o.secondary.site if o.secondary else None,
                "secondary_hardware": o.secondary.hardware if o.secondary else None,
                "secondary_share": o.secondary_share if o.secondary else 0.0,
            })
        return pd.DataFrame(rows, columns=cols)

    def routed_shares(self) -> pd.DataFrame:
        """A row per routed workload and hour of the day: the planned share of that hour's
        requests its secondary placement serves (the app draws it over the day)."""
        rows = [{"workload": name, "routing": o.routing, "secondary": o.secondary.label, "hour": h, "secondary_share": v}
                for name, o in self.options.items() if o.parts for h, v in enumerate(o.share_by_hour)]
        return pd.DataFrame(rows, columns=["workload", "routing", "secondary", "hour", "secondary_share"])

    @gc_paused
    def fleet_summary(self) -> pd.DataFrame:
        """Per fleet and workload: how many members run where, the binding constraint, and the
        member figure that splits them (`plan/fleets.py`)."""
        from planner.plan.fleets import fleet_summary

        return fleet_summary(self)

    def fleet_members(self) -> pd.DataFrame:
        """A row per fleet workload instance: its member's figures (uplink, downlink, RTT, region,
        rate, the uplink share its input needs) and where the plan runs it."""
        from planner.plan.fleets import fleet_members

        return fleet_members(self)

    def resources(self) -> pd.DataFrame:
        """Utilisation of every shared resource the plan uses."""
        a = self.assessment
        cols = ["resource", "kind", "site", "hardware", "capacity", "utilization", "instances", "monthly_cost_usd"]
        if a is None:
            return pd.DataFrame(columns=cols)
        kept = resource_bills(self.system, a.load, a.instances, a.mixes)
        rows = [{"resource": str(k), "kind": k.kind, "site": self.system[k].site, "hardware": self.system[k].hardware,
                 "capacity": self.system[k].capacity, "utilization": a.utilization.get(k, 0.0),
                 "instances": a.instances.get(k), "monthly_cost_usd": kept[k].total_usd if k in kept else 0.0}
                for k in sorted(set(a.utilization) | set(a.instances))]
        return pd.DataFrame(rows, columns=cols)

    def to_dict(self) -> dict[str, Any]:
        """The placement as plain data (what `--placement FILE` reads back)."""
        return {name: c.as_dict() for name, c in self.placement.items()}

    def __repr__(self) -> str:
        return (f"Plan({self.scenario.name!r}, {self.status}, feasible={self.feasible}, "
                f"${self.monthly_cost_usd:,.0f}/month, {len(self.placement)}/{len(self.scenario.workloads)} placed)")


def _choice(o: Option) -> Choice:
    model = o.model if o.family else None  # a family's variant; a routed pair runs one on both sides
    if o.parts:
        return Choice(o.site, o.hardware, o.precision, routing=o.routing, secondary=_choice(o.parts[1]), model=model,
                      kv_precision=o.kv_precision)
    return Choice(o.site, o.hardware, o.precision, o.split, o.edge_hardware, llm_split=o.llm_split, model=model,
                  kv_precision=o.kv_precision)


def _matches(o: Option, c: Choice, kv: str | None = None) -> bool:
    """Whether option `o` is the placement `c` (a routed pair: its rule and both sides) with its
    KV cache at `kv` (the placement's, else its workload's: `kv_precision_of`)."""
    if (o.site, o.hardware, o.precision, o.split, o.llm_split, o.kv_precision) != (
            c.site, c.hardware, c.precision, c.split, c.llm_split, kv):
        return False
    if c.model is not None and o.model != c.model:  # the placement fixes a family's variant
        return False
    if c.secondary is None or o.parts is None:
        return c.secondary is None and o.parts is None
    s = o.parts[1]
    return o.routing == c.routing and (s.site, s.hardware, s.precision) == (c.secondary.site, c.secondary.hardware,
                                                                            c.secondary.precision)


def _rate_weights(sc: Scenario) -> dict[str, float]:
    """Each inference workload's share of all requests, weighting its p99 in latency terms."""
    rates = {n: w.arrival.mean_rate_per_s for n, w in sc.workloads.items() if isinstance(w, Inference)}
    total = sum(rates.values()) or 1.0
    return {n: r / total for n, r in rates.items()}


@gc_paused
def plan(scenario: Scenario, *, objective: str | None = None, time_limit_s: float = 60.0,
         max_weighted_p99_ms: float | None = None, slo_margin: dict[str, float] | None = None) -> Plan:
    """Choose where every workload runs (site, hardware, precision, split) by the scenario's objective.

    `slo_margin` (workload -> factor < 1) plans those workloads to a tighter p99 than their SLO:
    `run` uses it where simulation found the analytical estimate optimistic.
    """
    import time

    check_limits(scenario, simulate=False)  # before any work: a limit is an error naming the field
    t0 = time.perf_counter()
    system = resolve(scenario)
    cls = classes(system)  # identical fleet members are decided once, with their number
    opts = {name: options_for(system, name) for name in cls.planned()}
    for name, margin in (slo_margin or {}).items():
        w = scenario.workloads.get(name)
        rep = f"{w.base_workload}@{cls.rep.get(w.member, w.member)}" if w is not None and w.member else name
        for o in opts.get(rep, []):
            o.slo_margin = min(o.slo_margin, margin)
    sol = solve(system, opts, objective=objective or scenario.objective, budget_usd_per_month=scenario.budget_usd_per_month,
                weights=_rate_weights(scenario), max_weighted_p99_ms=max_weighted_p99_ms, time_limit_s=time_limit_s,
                copies=cls.copies, resource_copies=cls.resource_copies)
    chosen = cls.expand(sol.chosen)
    elapsed = time.perf_counter() - t0
    conflicts = _why_left_out(system, opts, sol, cls) if sol.unplaced else []
    if not chosen:
        return Plan(scenario, {}, {}, None, sol.status, conflicts, elapsed, system, opts, cls)
    a = assess(system, chosen)
    return Plan(scenario, {n: _choice(o) for n, o in chosen.items()}, chosen, a, sol.status, conflicts, elapsed,
                system, opts, cls, sol.dominance)


def _subject(line: str) -> str:
    """The workload a diagnosis line is about: its first word (`name:` or `name needs ...`)."""
    return line.split(":", 1)[0].split(" ", 1)[0]


def _why_left_out(system: System, opts: dict[str, list[Option]], sol, cls: Classes) -> list[str]:
    """A line per workload the solver left out, each starting `name:` (the diagnosis where it
    names the workload, else that it fits nowhere beside the rest), then lines on shared limits;
    a fleet member left out with its class says its representative's reason."""
    lines = diagnose(system, {w: opts[w] for w in sol.unplaced}, sol.message)
    sc = system.scenario
    for w in list(sol.unplaced):
        m = sc.workloads[w].member
        for other in cls.members.get(m, [])[1:] if m is not None else []:
            name = f"{sc.workloads[w].base_workload}@{other}"
            sol.unplaced.append(name)
            lines += [cls.rename(line, m, other) for line in lines if _subject(line) == w]
    left = set(sol.unplaced)
    mine = [line for line in lines if _subject(line) in left]
    named = {_subject(line) for line in mine}
    mine_set = set(mine)
    shared = [line for line in lines if line not in mine_set]
    return mine + [f"{w}: fits nowhere beside the other workloads (shared capacity, bandwidth or budget)"
                   for w in sol.unplaced if w not in named] + shared


@gc_paused
def evaluate(scenario: Scenario, placement: Any) -> Plan:
    """The analytical verdict on a placement given by hand: the same numbers the solver optimises."""
    check_limits(scenario, simulate=False)
    choices = parse_placement(scenario, placement)
    system, opts = all_options(scenario)
    chosen: dict[str, Option] = {}
    for name, c in choices.items():
        kv = kv_precision_of(scenario.workloads[name], c)
        match = [o for o in opts[name] if _matches(o, c, kv)]
        # a family's variant left out: the cheapest variant (options come cheapest first) that meets the floor
        match.sort(key=lambda o: o.infeasible is not None and o.infeasible.kind == "accuracy")
        if not match:
            pair = "" if c.secondary is None else (f" routed ({c.routing}) with {c.secondary.hardware} at "
                                                    f"{c.secondary.site} in {c.secondary.precision}")
            how = f" split at {c.split}" if c.split is not None else f" {c.llm_split} (not opted into, or unsupported)" \
                if c.llm_split is not None else " (unreachable or unsupported)"
            if c.kv_precision is not None:
                how = f" with its KV cache at {c.kv_precision}" + how
            raise ScenarioError("<placement>", f"{name}", f"no such option: {c.hardware} at {c.site} in {c.precision}"
                                + pair + how)
        chosen[name] = match[0]
        if match[0].family:  # the placement records the variant it runs
            choices[name] = _choice(match[0])
    missing = [n for n in scenario.workloads if n not in chosen]
    a = assess(system, chosen)
    conflicts = [f"{n}: not placed" for n in missing]
    return Plan(scenario, choices, chosen, a, "evaluated", conflicts, 0.0, system, opts)


def pareto(scenario: Scenario, points: int = 8) -> pd.DataFrame:
    """Cost against rate-weighted p99: the cheapest plan for each bound on latency between the
    fastest and the cheapest plans. A row per non-dominated point."""
    weights = _rate_weights(scenario)
    cheap = plan(scenario, objective="cost")
    fast = plan(scenario, objective="latency")
    if not cheap.options or not fast.options:
        return pd.DataFrame(columns=["monthly_cost_usd", "weighted_p99_ms", "max_p99_ms", "placement"])

    def wp99(p: Plan) -> float:
        return sum(weights.get(n, 0) * o.p99_alone_ms for n, o in p.options.items())

    lo, hi = wp99(fast), wp99(cheap)
    bounds = [hi] if hi <= lo + 1e-9 else list(np.linspace(hi, lo, points))
    rows = []
    for b in bounds:
        p = cheap if b == hi else plan(scenario, objective="cost", max_weighted_p99_ms=b * (1 + 1e-9))
        if not p.options:
            continue
        rows.append({"monthly_cost_usd": p.monthly_cost_usd, "weighted_p99_ms": wp99(p),
                     "max_p99_ms": max((v for n, v in p.assessment.p99_ms.items() if n in weights), default=math.nan),
                     "placement": "; ".join(f"{n}={o.label}" for n, o in p.options.items())})
    df = pd.DataFrame(rows).drop_duplicates("placement").sort_values("monthly_cost_usd")
    keep, best = [], math.inf
    for _, r in df.iterrows():  # keep the non-dominated points
        if r["weighted_p99_ms"] < best - 1e-9:
            keep.append(r)
            best = r["weighted_p99_ms"]
    return pd.DataFrame(keep).reset_index(drop=True)


class _CallablePackage(type(sys.modules[__name__])):
    """`planner.plan(scenario)` is the public API, and `planner/plan/` is also this package: once
    the package is imported, Python binds `planner.plan` to it, so calling it must plan."""

    def __call__(self, scenario: Scenario, **kwargs: Any) -> Plan:
        return plan(scenario, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
