"""The analytical verdict on a placement: utilisation of every shared resource, predicted p99
per workload at that utilisation, monthly cost, and which constraints hold.

The solver and `evaluate()` both end here, so a plan the solver returns and the same placement
given by hand get the same numbers.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from planner.plan.options import LINK_RHO, LEVELS, Option, Resource, route, transfer_ms
from planner.plan.queueing import wait_quantile_s
from planner.scenario import Scenario

MAX_DEVICE_UTILIZATION = max(LEVELS)


@dataclass
class Assessment:
    """Per workload: the option, its predicted p99, its cost share and what it violates."""

    utilization: dict[str, float]
    instances: dict[str, int]
    p99_ms: dict[str, float]
    cost_usd: dict[str, float]
    energy_j: dict[str, float]
    violations: dict[str, list[str]]
    monthly_cost_usd: float
    plan_violations: list[str] = field(default_factory=list)
    ttft_ms: dict[str, float] = field(default_factory=dict)  # language models: p99 time to first token
    tpot_ms: dict[str, float] = field(default_factory=dict)  # and per output token

    @property
    def feasible(self) -> bool:
        return not self.plan_violations and not any(self.violations.values())


def assess(sc: Scenario, res: dict[str, Resource], chosen: dict[str, Option]) -> Assessment:
    """Utilisations, predicted p99 and costs of `chosen` (workload -> option), with violations."""
    load: dict[str, float] = {}
    for o in chosen.values():
        for r, v in o.loads.items():
            load[r] = load.get(r, 0.0) + v
    util = {r: v / res[r].capacity for r, v in load.items() if res[r].kind != "pool"}
    instances = {}  # pools run whole instances at about their target utilisation
    for r, v in load.items():
        if res[r].kind == "pool":
            instances[r] = max(1, math.ceil(v - 1e-9), res[r].min_units) if v > 0 else 0
            util[r] = v * res[r].levels[0] / instances[r] if v > 0 else 0.0

    violations: dict[str, list[str]] = {}
    p99: dict[str, float] = {}
    ttft: dict[str, float] = {}
    tpot: dict[str, float] = {}
    for name, o in chosen.items():
        v: list[str] = []
        if o.infeasible:
            v.append(o.infeasible)
        if o.serving is not None:
            p99[name], ttft[name], tpot[name] = _llm(res, o, util)
            for label, got, slo in (("TTFT", ttft[name], o.ttft_slo_ms), ("TPOT", tpot[name], o.tpot_slo_ms)):
                if slo is not None and got > slo * (1 + 1e-9):
                    v.append(f"SLO: {label} p99 {_ms(got)} > {slo:g} ms")
        else:
            p99[name] = _p99(sc, res, o, util, load)
        if o.slo_ms is not None and p99[name] > o.slo_ms * (1 + 1e-9):
            v.append(f"SLO: p99 {_ms(p99[name])} > {o.slo_ms:g} ms")
        for r in o.loads:
            rr = res[r]
            if rr.kind == "device" and util[r] > MAX_DEVICE_UTILIZATION + 1e-9:
                v.append(f"capacity: {rr.hardware}@{rr.site} at {util[r]:.0%} (limit {MAX_DEVICE_UTILIZATION:.0%})")
            elif rr.kind == "pool" and load[r] > rr.capacity + 1e-9:
                v.append(f"capacity: {rr.hardware} pool at {rr.site} needs {load[r]:.1f} instances, max {rr.capacity:g}")
            elif rr.kind == "link" and util[r] > LINK_RHO + 1e-9:
                v.append(f"bandwidth: {_link_name(sc, r)} at {util[r]:.0%} (limit {LINK_RHO:.0%})")
        for r in o.loads:
            others = sorted({c.engine or "other models" for c in chosen.values() if r in c.loads} - {o.engine or "other models"})
            if res[r].kind == "device" and others and (o.engine or any(c.engine for c in chosen.values() if r in c.loads)):
                v.append(f"device: {res[r].hardware}@{res[r].site} also runs {', '.join(others)}; a device serves "
                         f"one language model (or other models) at a time")
        violations[name] = v

    # Costs: each option's variable cost plus a load-weighted share of the fixed costs it uses.
    cost = {name: o.variable_usd_per_month for name, o in chosen.items()}
    energy = {name: o.energy_j_per_month for name, o in chosen.items()}
    for r, total in load.items():
        rr = res[r]
        if rr.kind == "link" or total <= 0:
            continue
        usd, joules = rr.cost(total)
        for name, o in chosen.items():
            if o.loads.get(r):
                share = o.loads[r] / total
                cost[name] += usd * share
                energy[name] += joules * share
    total_cost = sum(cost.values())
    plan_v = []
    if sc.budget_usd_per_month is not None and total_cost > sc.budget_usd_per_month * (1 + 1e-9):
        plan_v.append(f"budget: ${total_cost:,.0f}/month > ${sc.budget_usd_per_month:,.0f}")
    return Assessment(util, instances, p99, cost, energy, violations, total_cost, plan_v, ttft, tpot)


def _llm(res: dict[str, Resource], o: Option, util: dict[str, float]) -> tuple[float, float, float]:
    """A language model's p99 end to end, TTFT and TPOT with its servers at their actual
    utilisation (the share of capacity every workload on them uses)."""
    r = o.stages[0][0]
    return o.serving.latencies_ms(min(util.get(r, 0.0), 0.999))


def _p99(sc: Scenario, res: dict[str, Resource], o: Option, util: dict[str, float], load: dict[str, float]) -> float:
    """p99 at the actual utilisation of the device group or pool and links."""
    if o.kind != "inference" or not o.p99_ms_by_level:
        return o.p99_alone_ms
    w = sc.workloads[o.workload]
    link_rho = {r: u for r, u in util.items() if res[r].kind == "link"}
    up, down = route(sc, w.source, o.site), route(sc, o.site, w.source)
    net = transfer_ms(sc, res, up, o.detail["input_bytes"], link_rho=link_rho) + \
        transfer_ms(sc, res, down, o.detail["output_bytes"], link_rho=link_rho)
    wait_ms = 0.0  # the sum of each stage's p99 wait: an upper bound on the p99 of their sum
    for r, service_s in o.stages:
        rr = res[r]
        if rr.kind == "pool":
            servers = max(1, math.ceil(load[r] - 1e-9), rr.min_units)
            u = min(load[r] * rr.levels[0] / servers, 0.999)
        else:
            servers, u = rr.servers, util[r]
        wait_ms += 1000 * wait_quantile_s(servers, u, service_s, 0.99, rr.service_cv)
    return net + o.compute_ms + wait_ms


def _link_name(sc: Scenario, key: str) -> str:
    _, i, d = key.split(":")
    a, b = sc.links[int(i)].between
    return f"{a}→{b}" if d == "up" else f"{b}→{a}"


def _ms(x: float) -> str:
    return "∞ ms" if math.isinf(x) else f"{x:,.1f} ms"
