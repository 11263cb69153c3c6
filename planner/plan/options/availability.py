"""Availability of an option: the share of time every resource on its path is up (the links of
its route there and back, the device group or pool, the cloud region), lifted by a fallback at
the source's own devices, and held against the workload's `slo.availability`.

Resources fail independently, so a path is up with the product of their availabilities; a link
counts once however many of its directions the path crosses (both fail together). With a
fallback, a request the path cannot answer is answered at the source:
A = shared x (P + (1 - P) x F), where `shared` is what the path and the fallback both need (the
source's device group, for a split model), P the rest of the path and F the rest of the
fallback; with nothing shared, A = A_path + (1 - A_path) x A_fallback.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from planner.errors import PlannerError
from planner.model.ids import ResourceId
from planner.model.system import Resource, System
from planner.model.workloads import planned_rate_per_s
from planner.plan.options.common import Option, cost_estimate
from planner.plan.options.inference import batch_size
from planner.plan.violations import Violation


@dataclass(frozen=True)
class Part:
    """One thing on a path that can be down: a link (both directions), a device group or pool,
    or a cloud region; `label` is how an explanation names it."""

    key: tuple
    label: str
    availability: float


def pct(x: float) -> str:
    """An availability as a percentage with the digits that matter (99.52%, 99.995%)."""
    return f"{100 * x:.3f}".rstrip("0").rstrip(".") + "%"


def _compute_part(system: System, r: Resource) -> Part:
    what = "device group" if r.kind == "device" else "pool"
    return Part((r.kind, r.site, r.id.index), f"the {r.hardware} {what} at {r.site}", r.availability)


def path_parts(system: System, o: Option) -> tuple[list[Part], float, Part | None]:
    """Every resource a request of `o` needs up (the route's links, the compute of each stage, and
    the cloud regions it runs in), their product and the least available one (None if all are
    always up). The same for every option from one source along one path: kept per system, so
    that thousands of options compute it once."""
    sc = system.scenario
    w = sc.workloads[o.workload]
    compute = [rid for rid, _ in o.stages] or [rid for rid in o.loads if rid.kind != "link"][:1]
    # keyed by the resources as they are (a language model's dedicated instances apart from
    # their pool's: the same parts, kept twice) rather than their bases: cheaper to key
    key = (w.source, o.site, *compute)
    cache = system.memo.setdefault("path_parts", {})
    found = cache.get(key)
    if found is None:
        parts = _path_parts(system, w.source, o.site, compute)
        weakest = min(parts, key=lambda p: p.availability) if parts else None
        if weakest is not None and weakest.availability >= 1.0:
            weakest = None
        found = cache[key] = (parts, math.prod(p.availability for p in parts), weakest)
    return found


def _path_parts(system: System, source: str, site: str, compute: list[ResourceId]) -> list[Part]:
    sc = system.scenario
    parts: dict[tuple, Part] = {}
    for rid in compute:
        r = system[rid.base]
        parts.setdefault((r.kind, r.site, rid.index), _compute_part(system, r))
        a, _ = system.site_availability[r.site]
        if a < 1.0:
            parts.setdefault(("site", r.site), Part(("site", r.site), f"the {r.site} region", a))
    for route in (system.route(source, site), system.route(site, source)):
        for hop in route.hops:
            link = sc.links[hop.index]
            key = ("link", hop.index)
            if key not in parts:
                a, b = link.between
                parts[key] = Part(key, f"the {a}–{b} link ({link.network})", system[hop].availability)
    return list(parts.values())


@dataclass(frozen=True)
class FallbackCost:
    """What a workload's fallback needs of its device group: device-seconds per second when it
    serves the whole rate, its latency, and whether that latency meets the workload's SLO."""

    device: Resource
    busy_per_s: float
    latency_ms: float
    meets_slo: bool
    why_not: str = ""


def fallback_cost(system: System, name: str) -> FallbackCost | None:
    """The fallback's load and latency at the full rate on its device group (None without one)."""
    sc = system.scenario
    w = sc.workloads[name]
    choice = system.fallback_choice(name)
    if choice is None:
        return None
    dev, precision = choice
    fb = w.fallback
    rate, _ = planned_rate_per_s(w)
    batch = batch_size(rate, dev.servers, dev.max_batch, dev.max_wait_ms)
    try:
        e = cost_estimate(sc, fb.model or w.model_id, dev.hardware, precision, batch)  # a family: its smallest variant
    except PlannerError as err:
        return FallbackCost(dev, 0.0, math.inf, False, f"no estimate: {err}")
    latency_ms = e.latency_ms + (dev.max_wait_ms if dev.max_batch > 1 else 0.0)
    slo = w.slo.p99_ms
    if not e.fits:
        return FallbackCost(dev, 0.0, latency_ms, False, f"the fallback needs {e.memory_gb:.1f} GB on {dev.hardware}")
    if slo is not None and latency_ms > slo:
        return FallbackCost(dev, 0.0, latency_ms, False, f"the fallback takes {latency_ms:,.1f} ms > {slo:g} ms")
    return FallbackCost(dev, rate * e.latency_ms / 1000 / batch, latency_ms, True)


def option_availability(system: System, o: Option, fb: FallbackCost | None) -> tuple[float, float, Part | None]:
    """(availability with the fallback, of the path alone, the path's least available part)."""
    if o.parts:  # a routed pair: each side answers its share of the requests
        sides = [option_availability(system, side, fb) for side in o.parts]
        s = o.secondary_share
        weakest = min((x[2] for x in sides if x[2] is not None), key=lambda p: p.availability, default=None)
        return (1 - s) * sides[0][0] + s * sides[1][0], (1 - s) * sides[0][1] + s * sides[1][1], weakest
    parts, path, weakest = path_parts(system, o)
    if fb is None or not fb.meets_slo:
        return path, path, weakest
    fb_part = _compute_part(system, fb.device)
    shared = [p for p in parts if p.key == fb_part.key]
    if len(shared) == len(parts):  # the option runs where the fallback would: nothing to fall back from
        return path, path, weakest
    rest = math.prod(p.availability for p in parts if p.key != fb_part.key)
    own = 1.0 if shared else fb_part.availability
    s = math.prod(p.availability for p in shared)
    return s * (rest + (1.0 - rest) * own), path, weakest


def hold_availability(system: System, name: str, options: list[Option]) -> None:
    """Set each option's predicted availability, charge its fallback's device capacity (reserved
    for outages) and energy (during them), and rule out options below `slo.availability`."""
    sc = system.scenario
    w = sc.workloads[name]
    if w.kind != "inference":
        return
    floor = w.slo.availability
    fb = fallback_cost(system, name)
    if fb is None and floor is None:  # nothing to fall back on or hold: each option's path is its figure
        by_path: dict[tuple, float] = {}  # options on the same compute at one site share their path
        for o in options:
            stages = o.stages
            if o.parts or not stages or len(stages) > 2:
                o.availability, o.path_availability, _ = option_availability(system, o, None)
                continue
            key = (o.site, len(stages), stages[0][0], stages[-1][0])
            a = by_path.get(key)
            if a is None:
                a = by_path[key] = option_availability(system, o, None)[0]
            o.availability = o.path_availability = a
        return
    for o in options:
        a, path, weakest = option_availability(system, o, fb)
        o.availability, o.path_availability = a, path
        uses_fallback = fb is not None and fb.meets_slo and a > path
        if uses_fallback:
            dev = fb.device.id
            o.loads[dev] = o.loads.get(dev, 0.0) + fb.busy_per_s
            _, mean_share = planned_rate_per_s(w)
            o.bill += fb.device.month_bill(0.0, mean_share * fb.busy_per_s * (1.0 - path))
            o.detail["fallback_busy_per_s"] = fb.busy_per_s
        if floor is not None and a < floor * (1 - 1e-12):
            where = "cloud" if sc.sites[o.site].kind == "cloud" else "edge"
            blame = f": {weakest.label}" if weakest else ""
            note = ""
            if uses_fallback:
                note = f" with the fallback (path alone {pct(path)})"
            elif fb is not None and not fb.meets_slo:
                note = f" ({fb.why_not})"
            o.rule_out(Violation("availability", f"{where} path availability {pct(a)} < {pct(floor)}{note}{blame}",
                                 _resource(system, weakest), a, floor))


def _resource(system: System, part: Part | None) -> ResourceId | None:
    """The resource id of a part (None for a region or nothing)."""
    if part is None:
        return None
    kind = part.key[0]
    if kind == "link":
        i = part.key[1]
        return system.link_id(i, system.scenario.links[i].between[0])
    if kind in ("device", "pool"):
        return ResourceId(kind, part.key[1], part.key[2])
    return None
