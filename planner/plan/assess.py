"""The analytical verdict on a placement: utilisation of every shared resource, predicted p99
per workload at that utilisation, monthly cost, and which constraints hold.

The solver and `evaluate()` both end here, so a plan the solver returns and the same placement
given by hand get the same numbers. Each step is linear in the number of workloads: loads are
summed per resource once, and who shares a device is looked up per resource, not per pair.
"""
from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field


from planner.model.accounting import ZERO, MonthlyBill
from planner.model.ids import ResourceId
from planner.model.pricing import Mix, best_mix, device_pricing, mixes
from planner.model.system import System
from planner.model.workloads import HOURS_PER_DAY, hourly_shape
from planner.plan.options import LEVELS, LINK_RHO, Option, levels, transfer_ms
from planner.plan.queueing import wait_quantile_s
from planner.plan.violations import Violation

MAX_DEVICE_UTILIZATION = max(LEVELS)


@dataclass
class Assessment:
    """Per workload: its predicted p99, its share of the bill and what it violates; per resource:
    load, utilisation and (pools) whole instances running."""

    load: dict[ResourceId, float]
    utilization: dict[ResourceId, float]
    instances: dict[ResourceId, int]
    p99_ms: dict[str, float]
    bills: dict[str, MonthlyBill]
    violations: dict[str, list[Violation]]
    idle_bill: MonthlyBill = ZERO  # pools kept at their minimum that no workload uses
    plan_violations: list[Violation] = field(default_factory=list)
    ttft_ms: dict[str, float] = field(default_factory=dict)  # language models: p99 time to first token
    tpot_ms: dict[str, float] = field(default_factory=dict)  # and per output token
    mixes: dict[ResourceId, Mix] = field(default_factory=dict)  # pools priced by the hour: how they are bought

    @property
    def cost_usd(self) -> dict[str, float]:
        return {n: b.total_usd for n, b in self.bills.items()}

    @property
    def energy_j(self) -> dict[str, float]:
        return {n: b.energy_j for n, b in self.bills.items()}

    @property
    def bill(self) -> MonthlyBill:
        return sum(self.bills.values(), self.idle_bill)

    @property
    def monthly_cost_usd(self) -> float:
        return self.bill.total_usd

    @property
    def feasible(self) -> bool:
        return not self.plan_violations and not any(self.violations.values())


def pool_instances(system: System, load: dict[ResourceId, float]) -> dict[ResourceId, int]:
    """Whole instances each pool runs: enough for its instance-load, and a pool's minimum kept
    running whatever the load, counted over its own and its dedicated (language-model) instances."""
    n: dict[ResourceId, int] = {}
    for r, v in load.items():
        if r.kind == "pool":
            n[r] = math.ceil(v - 1e-9) if v > 1e-12 else 0
            n[r] = max(n[r], 1) if v > 0 else 0
    by_base: dict[ResourceId, int] = defaultdict(int)
    for r, k in n.items():
        by_base[r.base] += k
    for r, res in system.resources.items():
        if r.kind == "pool" and not r.workload and by_base.get(r, 0) < res.min_instances:
            n[r] = n.get(r, 0) + res.min_instances - by_base.get(r, 0)
    return n


def pool_mixes(system: System, chosen: Mapping[str, Option],
               scale: Mapping[str, float] | None = None) -> dict[ResourceId, Mix]:
    """How each pool that lists more than on demand is bought for `chosen`: its need each hour
    of the day (every option's instance-load times its workload's daily shape, at least the
    pool's minimum) priced by `pricing.best_mix`. `scale` weights a workload's load (fleet copies)."""
    need = pool_needs(system, chosen, scale)
    for r, res in system.resources.items():  # a pool kept at its minimum is bought even when unused
        if r.kind == "pool" and not r.workload and res.min_instances and mixes(res):
            need.setdefault(r, [0.0] * HOURS_PER_DAY)
    return {r: mix_of(system, r, hours) for r, hours in need.items()}


def pool_needs(system: System, chosen: Mapping[str, Option],
               scale: Mapping[str, float] | None = None) -> dict[ResourceId, list[float]]:
    """Each pool bought by the hour: the instance-load `chosen` puts on it each hour of the day."""
    need: dict[ResourceId, list[float]] = {}
    for name, o in chosen.items():
        for r, hours in hourly_need(system, name, o, (scale or {}).get(name, 1.0)):
            acc = need.setdefault(r, [0.0] * HOURS_PER_DAY)
            for h in range(HOURS_PER_DAY):
                acc[h] += hours[h]
    return need


def hourly_need(system: System, name: str, o: Option, scale: float = 1.0) -> list[tuple[ResourceId, list[float]]]:
    """The instance-load `o` puts on each pool bought by the hour, each hour of the day."""
    out = []
    for r, v in o.loads.items():
        if r.kind == "pool" and mixes(system[r]):
            shape = o.hourly_load(r, hourly_shape(system.scenario.workloads[name]))
            out.append((r, [v * scale * shape[h] for h in range(HOURS_PER_DAY)]))
    return out


def mix_of(system: System, r: ResourceId, need_by_hour: list[float]) -> Mix:
    """`pricing.best_mix` of a pool's hourly need, at least its minimum every hour."""
    res = system[r]
    if not r.workload and res.min_instances:
        need_by_hour = [max(x, res.min_instances) for x in need_by_hour]
    return best_mix(res, need_by_hour)


def pricing_of(system: System, o: Option, mixes_: Mapping[ResourceId, Mix] | None = None) -> str:
    """How the compute an option runs on is paid for: its pool's mix (`reserved_1y×2+on_demand`),
    `on_demand`, or devices `bought` (amortised) or `owned` (energy only). A job's dedicated
    instances are found by site and hardware (they load no shared resource) and run on demand."""
    compute = [r for r in o.loads if r.kind != "link"] or [
        res.id for res in system.compute_at(o.site) if res.hardware == o.hardware][:1]
    out = []
    for r in compute:
        res = system[r]
        if mixes_ and r in mixes_ and r in o.loads:
            out.append(mixes_[r].label)
        elif r.kind == "pool" or res.tariff.billed_as == "instances":
            out.append("on_demand")
        else:
            out.append(device_pricing(res.tariff))
    return "+".join(dict.fromkeys(out))


def resource_bills(system: System, load: dict[ResourceId, float], instances: dict[ResourceId, int],
                   mixes_: Mapping[ResourceId, Mix] | None = None) -> dict[ResourceId, MonthlyBill]:
    """What keeping each shared resource costs a month: a used device group its devices, a pool
    its whole instances (its minimum too when unused); a pool bought by the hour pays its mix
    (its energy stays that of its planned instances kept all month)."""
    out = {}
    for r, n in instances.items():
        if n:
            out[r] = system[r].month_bill(servers=n)
            if mixes_ and r in mixes_:
                out[r] = out[r]._replace(instances_usd=mixes_[r].usd_per_month)
    for r, v in load.items():
        if r.kind == "device" and v > 0:
            out[r] = system[r].month_bill(servers=system[r].servers)
    return out


def assess(system: System, chosen: dict[str, Option]) -> Assessment:
    """Utilisations, predicted p99 and costs of `chosen` (workload -> option), with violations."""
    sc = system.scenario
    load: dict[ResourceId, float] = defaultdict(float)
    users: dict[ResourceId, list[str]] = defaultdict(list)
    for name, o in chosen.items():
        for r, v in o.loads.items():
            load[r] += v
            users[r].append(name)
    instances = pool_instances(system, load)
    util = {}
    for r, v in load.items():
        res = system[r]
        if r.kind == "pool":
            util[r] = v * levels(res)[0] / instances[r] if instances.get(r) else 0.0
        else:
            util[r] = v / res.capacity
    engines: dict[ResourceId, set[str]] = {r: {chosen[n].engine for n in names} for r, names in users.items()
                                           if r.kind == "device"}
    # once per device group, not per user of it (a group may carry thousands of workloads)
    limits = {r: device_limit(system, r, [chosen[n] for n in names]) for r, names in users.items() if r.kind == "device"}

    violations: dict[str, list[Violation]] = {}
    p99: dict[str, float] = {}
    ttft: dict[str, float] = {}
    tpot: dict[str, float] = {}
    for name, o in chosen.items():
        v: list[Violation] = []
        if o.infeasible:
            v.append(o.infeasible)
        p99[name], got_ttft, got_tpot = option_latencies(system, o, util, instances)
        if got_ttft is not None:
            ttft[name], tpot[name] = got_ttft, got_tpot or 0.0
            for label, got, slo in (("TTFT", ttft[name], o.ttft_slo_ms), ("TPOT", tpot[name], o.tpot_slo_ms)):
                if slo is not None and got > slo * (1 + 1e-9):
                    v.append(Violation("slo", f"SLO: {label} p99 {_ms(got)} > {slo:g} ms", o.stages[0][0], got, slo))
        if o.slo_ms is not None and p99[name] > o.slo_ms * (1 + 1e-9):
            v.append(Violation("slo", f"SLO: p99 {_ms(p99[name])} > {o.slo_ms:g} ms", None, p99[name], o.slo_ms))
        for r in o.loads:
            res = system[r]
            limit = limits[r] if r.kind == "device" else 0.0
            if r.kind == "device" and util[r] > limit + 1e-9:
                v.append(Violation("capacity", f"capacity: {res.label} at {util[r]:.0%} (limit {limit:.0%})",
                                   r, util[r], limit))
            elif r.kind == "pool" and load[r] > res.capacity + 1e-9:
                v.append(Violation("capacity", f"capacity: {res.hardware} pool at {res.site} needs {load[r]:.1f} "
                                               f"instances, max {res.capacity:g}", r, load[r], res.capacity))
            elif r.kind == "link" and util[r] > LINK_RHO + 1e-9:
                v.append(Violation("bandwidth", f"bandwidth: {res.label} at {util[r]:.0%} (limit {LINK_RHO:.0%})",
                                   r, util[r], LINK_RHO))
            if r.kind == "device" and len(engines[r]) > 1:
                others = sorted({e or "other models" for e in engines[r]} - {o.engine or "other models"})
                v.append(Violation("engine", f"device: {res.label} also runs {', '.join(others)}; a device serves "
                                             f"one language model (or other models) at a time", r))
        violations[name] = v

    # Each option's own bill plus a load-weighted share of what the resources it uses cost to keep.
    bills = {name: o.bill for name, o in chosen.items()}
    mix = pool_mixes(system, chosen)
    kept = resource_bills(system, load, instances, mix)
    idle = ZERO
    for r, b in kept.items():
        total = load.get(r, 0.0)
        if total <= 0:
            idle += b
            continue
        for name in users[r]:
            bills[name] += b * (chosen[name].loads[r] / total)
    a = Assessment(dict(load), util, instances, p99, bills, violations, idle, [], ttft, tpot, mix)
    if sc.budget_usd_per_month is not None and a.monthly_cost_usd > sc.budget_usd_per_month * (1 + 1e-9):
        a.plan_violations.append(Violation("budget", f"budget: ${a.monthly_cost_usd:,.0f}/month > "
                                                     f"${sc.budget_usd_per_month:,.0f}", None, a.monthly_cost_usd,
                                           sc.budget_usd_per_month))
    return a


def device_limit(system: System, r: ResourceId, users: list[Option]) -> float:
    """The utilisation a device group may reach: MAX_DEVICE_UTILIZATION, or FULL_LEVEL when every
    option on it has its queue bounded by a routing rule (an overflow pair's edge side)."""
    return min(max(o.group_levels(system[r])) for o in users) if users else MAX_DEVICE_UTILIZATION


def option_latencies(system: System, o: Option, util: Mapping[ResourceId, float],
                     instances: Mapping[ResourceId, int]) -> tuple[float, float | None, float | None]:
    """(p99, TTFT p99, TPOT p99) of an option at the actual utilisation; the token figures are
    None for all but language models. A routed pair's are the larger of its two sides' (the
    tail of a mixture is below the larger of its parts' tails: an upper bound)."""
    if o.parts:
        sides = [option_latencies(system, part, util, instances) for part in o.parts]
        if all(x[1] is None for x in sides):
            return max(x[0] for x in sides), None, None
        return tuple(max(x[i] or 0.0 for x in sides) for i in range(3))  # type: ignore[return-value]
    if o.serving is not None:
        return o.serving.latencies_ms(min(util.get(o.stages[0][0], 0.0), 0.999))
    return p99_ms(system, o, util, instances), None, None


def p99_ms(system: System, o: Option, util: Mapping[ResourceId, float], instances: Mapping[ResourceId, int],
           scale: float = 1.0) -> float:
    """p99 at the actual utilisation of the device group or pool and links; `scale` multiplies
    every service time (the cost model's interval), the utilisation held as planned."""
    if o.kind != "inference" or not o.p99_ms_by_level:
        return o.p99_alone_ms
    w = system.scenario.workloads[o.workload]
    up, down = system.route(w.source, o.site), system.route(o.site, w.source)
    net = transfer_ms(system, up, o.input_bytes, link_rho=util) + transfer_ms(system, down, o.output_bytes, link_rho=util)
    service_ms = 1000 * sum(s for _, s in o.stages)
    # a language model's stages carry no service time: its whole compute p99 scales
    compute_ms = o.compute_ms + (service_ms if service_ms else o.compute_ms) * (scale - 1)
    wait_ms = 0.0  # the sum of each stage's p99 wait: an upper bound on the p99 of their sum
    for r, service_s in o.stages:
        res = system[r]
        servers = max(1, instances.get(r, 0)) if r.kind == "pool" else res.servers
        wait_ms += 1000 * wait_quantile_s(servers, min(util[r], 0.999), service_s * scale, 0.99, res.service_cv)
    return net + compute_ms + min(wait_ms, o.max_wait_ms)  # an overflow rule's limit bounds the queue


def _ms(x: float) -> str:
    return "∞ ms" if math.isinf(x) else f"{x:,.1f} ms"
