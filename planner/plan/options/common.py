"""What every kind of option shares: the `Option` itself, the planner's utilisation levels, and
the helpers that price traffic and time transfers on the resolved system."""
from __future__ import annotations

import math
from operator import attrgetter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache

from planner import catalog
from planner.costs.estimator import Estimate, estimate
from planner.costs.llm import kv_cache_precision
from planner.costs.sources import weakest  # noqa: F401 - the options' modules take it from here
from planner.costs.train_step import FineTune
from planner.errors import PlannerError
from planner.model.accounting import ZERO, MonthlyBill, month_of
from planner.model.ids import ResourceId
from planner.model.system import Resource, Route, System
from planner.model.workloads import is_onnx, model_ref
from planner.plan.queueing import ps_transfer_s
from planner.plan.violations import Violation
from planner.scenario import Scenario
from planner.units import mbps

#: Reasons that replace one an option already has (lower wins): see `Option.rule_out`.
_OVERRIDES = {"privacy": 0, "accuracy": 1}
#: Utilisation levels a device group may run at; the solver picks one per group.
LEVELS = (0.3, 0.5, 0.65, 0.8, 0.9)
#: The level only options whose queue a routing rule bounds (an overflow pair's edge side) may
#: run a device group at: the rule sends the excess on, so the wait stays bounded at any load,
#: and the edge is meant to be full at the peak. An option without such a bound lists no
#: p99 at this level, so a group it shares never reaches it.
FULL_LEVEL = 1.0
#: Links are planned to at most this utilisation; transfer times are predicted at it.
LINK_RHO = 0.7


def levels(r: Resource) -> tuple[float, ...]:
    """The utilisation levels the planner allows a resource: a device group picks one of
    LEVELS, a pool runs at its autoscaler's target, a link at LINK_RHO at most."""
    if r.kind == "device":
        return LEVELS
    if r.kind == "pool":
        return (r.target_utilization,)
    return (LINK_RHO,)


@dataclass(slots=True)
class Option:
    """One way to run a workload, with everything the solver and the explanations need. (Slots,
    not a `__dict__`: a fleet of 10,000 members that all differ holds most of a million options,
    and a 45-entry dict was half of each one's 3.2 KB.)"""

    workload: str
    site: str
    hardware: str
    precision: str
    kind: str  # inference | training | federated
    split: int | None = None
    edge_hardware: str | None = None
    loads: dict[ResourceId, float] = field(default_factory=dict)  # devices, instances, or Mbit/s
    bill: MonthlyBill = ZERO  # what the option costs itself (fixed costs of what it shares are the solver's)
    p99_ms_by_level: dict[ResourceId, dict[float, float]] = field(default_factory=dict)  # compute -> level -> p99
    p99_alone_ms: float = 0.0  # at this option's own load only: the latency objective's coefficient
    stages: list[tuple[ResourceId, float]] = field(default_factory=list)  # (compute, service s per batch) in order
    network_ms: float = 0.0
    compute_ms: float = 0.0
    slo_ms: float | None = None
    slo_margin: float = 1.0  # < 1 after simulation found the analytical p99 optimistic (run's tightening)
    memory_gb: float = 0.0
    mem_limit_gb: float = math.inf
    source: str = "assumed"  # the weakest estimate source
    infeasible: Violation | None = None  # why this option can never be chosen (None = it can)
    input_bytes: float = 0.0
    output_bytes: float = 0.0
    detail: dict[str, float] = field(default_factory=dict)  # figures shown to users, never read back
    # language models: p99 time to first token and per output token by level, and their SLOs
    ttft_ms_by_level: dict[float, float] = field(default_factory=dict)
    tpot_ms_by_level: dict[float, float] = field(default_factory=dict)
    ttft_slo_ms: float | None = None
    tpot_slo_ms: float | None = None
    serving: object | None = None  # llm.LlmServing: recomputes latencies at the actual utilisation
    engine: str = ""  # a language model's engine (model@precision, `llm_engine`); "" for everything else
    kv_precision: str | None = None  # a language model's KV cache; None: the default (`kv_cache_precision`)
    # a language model across the boundary (`llm_boundary.py`): prefill_cloud_decode_edge |
    # speculative, with `edge_hardware` the source's device; None = served on one side
    llm_split: str | None = None
    # the cost model's 80% interval of the compute times, relative to those planned with
    latency_span: tuple[float, float] = (1.0, 1.0)
    # inference: the share of requests its path (and fallback) can answer; None for jobs (options/availability.py)
    availability: float | None = None
    path_availability: float | None = None  # the path alone, without the fallback
    model: str = ""  # the model this option runs: the workload's, or the variant of its family
    family: str | None = None  # set where the workload names a family: labels then name the variant
    accuracy: float | None = None  # the catalog's figure at this precision, higher is better (None: none)
    accuracy_metric: str | None = None  # top1 | map50_95 | word_accuracy | mmlu
    # a routed pair (options/routed.py): the rule, its two sides (each a scaled Option of its
    # own, so the same p99 and cost rules price them), the planned share of requests the
    # secondary serves, and that share each hour of the day
    routing: str | None = None
    parts: tuple[Option, Option] | None = None
    secondary_share: float = 0.0
    share_by_hour: tuple[float, ...] = ()
    hourly: dict[ResourceId, tuple[float, ...]] = field(default_factory=dict)  # a resource's load each hour / peak
    max_wait_ms: float = math.inf  # the queue wait an overflow rule's limit bounds (its primary side)
    # what a `copy_for` copy is a copy of: dominance is judged once per kind (`solver.undominated`);
    # not an __init__ argument, so `replace` leaves an option it changes with none
    proto: Option | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def secondary(self) -> Option | None:
        """A routed pair's secondary side (None for a single placement)."""
        return self.parts[1] if self.parts else None

    @property
    def label(self) -> str:
        if self.parts:
            return f"{self.parts[0].label} + {self.parts[1].label} ({self.routing} {self.secondary_share:.1%})"
        s = f"{self.hardware}@{self.site} {self.precision}"
        if self.kv_precision is not None and self.kv_precision != kv_cache_precision(self.precision):
            s += f" KV {self.kv_precision}"  # a cache other than the default: "why not fp8 KV?" reads here
        if self.llm_split is not None:
            s = f"{self.edge_hardware}→{s} {self.llm_split}"
        elif self.split is not None:
            s = f"{self.edge_hardware}→{s} split@{self.split}"
        return f"{self.model} on {s}" if self.family else s

    @property
    def variable_usd_per_month(self) -> float:
        return self.bill.total_usd

    @property
    def energy_j_per_month(self) -> float:
        return self.bill.energy_j

    def group_levels(self, r: Resource) -> tuple[float, ...]:
        """The levels this option allows device group `r`: LEVELS, and FULL_LEVEL where its
        queue is bounded (it lists a p99 there)."""
        return levels(r) + (FULL_LEVEL,) if r.kind == "device" and self.bounds_queue(r.id) else levels(r)

    def bounds_queue(self, r: ResourceId) -> bool:
        """Whether a routing rule bounds its queue on device group `r` (it lists a p99 at FULL_LEVEL)."""
        return FULL_LEVEL in self.p99_ms_by_level.get(r, ())

    def copy_for(self, workload: str, slo_ms: float | None) -> Option:
        """This option for another workload alike in every figure but its name and latency SLO;
        the fields later steps set (loads, detail) are its own. (A shallow copy of the fields:
        `dataclasses.replace` re-runs __init__ and took most of the time at 10,000 workloads.)"""
        o = self.stamped(workload, slo_ms)
        o.loads, o.p99_ms_by_level, o.detail = dict(self.loads), self.p99_ms_by_level, dict(self.detail)
        o.proto = self
        return o

    def stamped(self, workload: str, slo_ms: float | None) -> Option:
        """A fresh option from this template (`Option` fields every member of a fleet, or every
        workload of one model, shares: hardware, precision, accuracy, estimate source), for
        `workload`, with its own loads, levels, stages and detail to fill in. (A shallow copy:
        building each from scratch, accuracy judged and sources compared, was half the time of
        planning a fleet whose members all differ.)"""
        o = object.__new__(Option)
        for put, value in zip(_SETTERS, _GET_ALL(self)):
            put(o, value)
        o.workload, o.slo_ms, o.loads, o.p99_ms_by_level, o.detail, o.proto = workload, slo_ms, {}, {}, {}, None
        return o

    def max_level(self, resource: ResourceId) -> float:
        """The highest utilisation level of `resource` at which this option meets its SLOs (0 = none)."""
        by_level = self.p99_ms_by_level.get(resource)
        if not by_level:
            return 1.0
        m = self.slo_margin
        if self.ttft_slo_ms is None and self.tpot_slo_ms is None:  # the common case, called ~15 times an option
            if self.slo_ms is None:
                return max(by_level)
            limit, best = self.slo_ms * m, 0.0
            for u, p in by_level.items():
                if p <= limit and u > best:
                    best = u
            return best
        ok = [u for u, p in by_level.items()
              if (self.slo_ms is None or p <= self.slo_ms * m)
              and (self.ttft_slo_ms is None or self.ttft_ms_by_level.get(u, 0.0) <= self.ttft_slo_ms * m)
              and (self.tpot_slo_ms is None or self.tpot_ms_by_level.get(u, 0.0) <= self.tpot_slo_ms * m)]
        return max(ok) if ok else 0.0

    def key(self) -> tuple:
        if self.parts:
            return (self.site, self.hardware, self.precision, self.split, self.model, self.kv_precision, self.routing,
                    self.parts[1].key())
        return (self.site, self.hardware, self.precision, self.split, self.llm_split, self.model, self.kv_precision)

    def hourly_load(self, r: ResourceId, workload_shape: tuple[float, ...]) -> tuple[float, ...]:
        """Each hour's load on `r` over its planned (peak) load: the option's own where a routed
        rule shapes it (overflow reaches a pool only at the peak), else the workload's daily shape."""
        return self.hourly.get(r, workload_shape)

    def rule_out(self, v: Violation) -> None:
        """Record why the option can never be chosen; the first reason found stays, except that
        privacy, then accuracy, win: they are the reasons a user must hear (no cheaper hardware
        changes them)."""
        if self.infeasible is None or _OVERRIDES.get(v.kind, 9) < _OVERRIDES.get(self.infeasible.kind, 9):
            self.infeasible = v

    def judge_accuracy(self, floor: float | None) -> None:
        """Fill in the catalog's accuracy of this option's model at its precision, and rule the
        option out where it falls below the workload's floor (or has no figure to hold against it)."""
        a = None if is_onnx(self.model) else catalog.accuracy(self.model, self.precision)
        if a is not None:
            self.accuracy, self.accuracy_metric = a.score, a.score_metric
        if floor is None or (a is not None and a.score >= floor - 1e-12):
            return
        if a is None:
            self.rule_out(Violation("accuracy", f"{self.model} has no {self.precision} accuracy figure to hold "
                                                f"against the floor {floor:.1%}", limit=floor))
        else:
            self.rule_out(Violation("accuracy", f"{self.model} {a.describe()} < floor {floor:.1%}",
                                    value=a.score, limit=floor))

    def __repr__(self) -> str:
        return f"Option({self.workload}: {self.label}, ${self.bill.total_usd:,.0f}/mo)"


# --------------------------------------------------------------------------- network

#: every slot of an Option, read in one call and written by its descriptor (`Option.stamped`)
_GET_ALL = attrgetter(*Option.__slots__)
_SETTERS = tuple(getattr(Option, name).__set__ for name in Option.__slots__)

def transfer_ms(system: System, r: Route, size_bytes: float, rho: float = LINK_RHO,
                link_rho: Mapping[ResourceId, float] | None = None) -> float:
    """Predicted p99-ish time to move `size_bytes` along a route: propagation, jitter, and each
    link's processor-shared serialisation at its utilisation; lost packets cost a retransmission
    round trip each (TCP fast retransmit)."""
    if not r.hops:
        return 0.0
    if link_rho is None:  # at the planned link load: the same for every option sending this size this way
        cache = system.memo.setdefault("transfer_ms", {})
        key = (r.hops, size_bytes, rho)
        found = cache.get(key)
        if found is None:
            found = cache[key] = _transfer_ms(system, r, size_bytes, lambda hop: rho)
        return found
    return _transfer_ms(system, r, size_bytes, lambda hop: link_rho.get(hop, 0.0))


def _transfer_ms(system: System, r: Route, size_bytes: float, rho_of) -> float:
    t_s = 0.0
    for hop in r.hops:
        t_s += ps_transfer_s(size_bytes, system.resources[hop].capacity, min(rho_of(hop), 0.999))
    retrans_ms = r.loss_prob * max(1.0, size_bytes / 1460) * 2 * r.propagation_ms
    return r.propagation_ms + r.jitter_p99_ms + t_s * 1000 + min(retrans_ms, 4 * r.propagation_ms)


def send(system: System, o: Option, r: Route, rate_per_s: float, size_bytes: float,
         billed_rate_per_s: float | None = None) -> None:
    """Load every link of a route with `rate_per_s` messages of `size_bytes` (Mbit/s), and bill
    the bytes sent at `billed_rate_per_s` (the mean rate; default the same) per link tariff."""
    if not r.hops:
        return
    billed = rate_per_s if billed_rate_per_s is None else billed_rate_per_s
    load, loads = mbps(rate_per_s, size_bytes), o.loads
    for hop in r.hops:
        loads[hop] = loads.get(hop, 0.0) + load
    o.bill = o.bill.plus(byte_bill(system, r), billed * size_bytes)


def route_loads(up: Route, down: Route, rate_per_s: float, in_bytes: float, out_bytes: float) -> dict[ResourceId, float]:
    """The link loads (Mbit/s) of a request's input up and its answer down, as `send` adds them;
    the caller bills the bytes with the rest of the option (`byte_bill`, `accounting.weighted`)."""
    loads: dict[ResourceId, float] = {}
    for r, size_bytes in ((up, in_bytes), (down, out_bytes)):
        if r.hops:
            load = mbps(rate_per_s, size_bytes)
            for hop in r.hops:
                loads[hop] = loads.get(hop, 0.0) + load
    return loads


def byte_bill(system: System, r: Route) -> MonthlyBill:
    """A month of one byte a second along `r`: every link's tariff (ZERO for a route that stays
    on site; kept per route and system: every option of every workload sends along a few routes)."""
    cache = system.memo.setdefault("byte_bill", {})
    found = cache.get(r.hops)
    if found is None:
        found = cache[r.hops] = sum((month_of(system.resources[hop].tariff, bytes_per_s=1.0) for hop in r.hops), ZERO)
    return found


# --------------------------------------------------------------------------- estimates
@lru_cache(maxsize=65536)
def _estimate(model: str, hardware: str, precision: str, batch: int, training: bool | FineTune) -> Estimate:
    return estimate(model, hardware, precision=precision, batch=batch, training=training)


def cost_estimate(sc: Scenario, model: str, hardware: str, precision: str, batch: int = 1,
                  training: bool | FineTune = False) -> Estimate:
    """The cost model's estimate, cached; `.onnx` paths resolve against the scenario file; at the
    high end of its 80% interval when the scenario plans `robust`."""
    return planned(sc, _estimate(model_ref(sc, model), hardware, precision, batch, training))


def planned(sc: Scenario, e: Estimate) -> Estimate:
    """`e` as the planner uses it: unchanged, or slowed to `latency_ms_high` (same power, so
    energy grows with time) when the scenario plans `robust`."""
    if not sc.robust or e.latency_ms_high <= e.latency_ms or e.latency_ms <= 0:
        return e
    k = e.latency_ms_high / e.latency_ms
    return replace(e, latency_ms=e.latency_ms_high, throughput_per_s=e.throughput_per_s / k, energy_j=e.energy_j * k)


def span(*estimates: Estimate) -> tuple[float, float]:
    """The 80% interval of the compute time of `estimates` (as `planned`) run one after another,
    relative to the time planned with: (low, high) / nominal, or (low / high, 1) when robust."""
    planned_ms = low_ms = high_ms = 0.0
    for e in estimates:  # one pass: called for every option
        planned_ms += e.latency_ms
        low_ms += e.latency_ms_low
        high_ms += e.latency_ms_high
    if planned_ms <= 0:
        return (1.0, 1.0)
    return (low_ms / planned_ms, high_ms / planned_ms)


def llm_span(sc: Scenario, model: str, hardware: str, precision: str) -> tuple[float, float]:
    """The 80% interval of a language model's iteration times on `hardware` relative to the
    nominal ones (its batch-1 estimate's; (1, 1) where there is none)."""
    try:
        return span(_estimate(model_ref(sc, model), hardware, precision, 1, False))
    except PlannerError:
        return (1.0, 1.0)


@lru_cache(maxsize=None)
def _runs(hardware: str) -> tuple[str, ...]:
    return catalog.hardware(hardware).precisions


def precisions(w, hardware: str) -> list[str]:
    """The precisions the workload allows that the hardware runs (fp8 where the workload names
    it and the hardware has an fp8 rate)."""
    runs = _runs(hardware)
    if not w.precisions:
        return list(runs)
    return [p for p in w.precisions if p in runs or (p in catalog.BY_NAME_PRECISIONS and p in catalog.hardware(hardware).peak_tflops)]


def privacy_violation(system: System, name: str, site: str) -> Violation:
    """Why the workload's privacy level keeps its input from `site`: it would leave the source's
    site or region there, or cross another region's site on the way."""
    sc = system.scenario
    w = sc.workloads[name]
    where = "site" if w.privacy == "site" else "the region"
    via = system.foreign_transit(name, site) if sc.privacy_allows(name, site) else None
    if via is not None:
        return Violation("privacy", f"privacy '{w.privacy}': input may not leave the region of '{w.source}', "
                                    f"and its route to '{site}' crosses '{via}' (region {sc.sites[via].region})")
    return Violation("privacy", f"privacy '{w.privacy}': input may not leave {where} of '{w.source}'")
