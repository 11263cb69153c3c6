"""The options of each workload and their analytical estimates.

An option is one way to run a workload: a site its data may reach under its privacy level,
hardware there, a precision the hardware runs and the workload allows, and for inference an
optional split (first layers on the source's edge device, the rest in the cloud). Each option
says what it consumes of shared resources (device groups, cloud pools, link directions), what
it costs per month, its energy, and its predicted p99 latency at each utilisation level of the
device it shares, so the solver can keep all of that linear.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import lru_cache

import networkx as nx

from planner import catalog
from planner.costs.estimator import BYTES_PER_ELEMENT, Estimate, estimate, estimate_part
from planner.costs.graphs import graph
from planner.costs.llm import LlmCost, is_llm, llm_cost, llm_engine, llm_precisions
from planner.plan.llm_serving import Shape, capacity_per_s, operating_point
from planner.errors import PlannerError
from planner.plan.queueing import ps_transfer_s, wait_quantile_s
from planner.scenario import Federated, Inference, Scenario, Training

SECONDS_PER_MONTH = 730 * 3600
#: Utilisation levels a device group may run at; the solver picks one per group.
LEVELS = (0.3, 0.5, 0.65, 0.8, 0.9)
#: Links are planned to at most this utilisation; transfer times are predicted at it.
LINK_RHO = 0.7
#: z-score of the 99th percentile of a normal, for jitter.
Z99 = 2.326


@dataclass(frozen=True)
class Resource:
    """Something options share: a device group, a cloud pool, or one direction of a link."""

    key: str
    kind: str  # device | pool | link
    site: str
    hardware: str  # hardware id, or the network id for links
    capacity: float  # devices (device-seconds per second), max instances, or Mbps
    fixed_usd_per_month: float  # devices: paid when anything uses them (amortisation and idle power)
    fixed_energy_j_per_month: float
    levels: tuple[float, ...]  # utilisation levels allowed (a single target for pools)
    servers: int  # devices in a group; instances at the level for pools are derived from load
    service_cv: float = 0.0
    unit_usd_per_month: float = 0.0  # pools: one instance running all month
    unit_energy_j_per_month: float = 0.0
    min_units: int = 0  # pools: instances kept running once the pool is used
    gpus: int = 1  # accelerators per device or instance (a pool's instances may hold several)

    def cost(self, load: float) -> tuple[float, float]:
        """(USD, J) per month of this resource under `load`: a used device group costs its fixed
        amount; a pool bills whole instances (at least its minimum), however little they do."""
        if load <= 0:
            return 0.0, 0.0
        if self.kind == "pool":
            n = max(math.ceil(load - 1e-9), self.min_units, 1)
            return n * self.unit_usd_per_month, n * self.unit_energy_j_per_month
        return self.fixed_usd_per_month, self.fixed_energy_j_per_month

    def __repr__(self) -> str:
        return f"Resource({self.key}, capacity={self.capacity:g})"


@dataclass(frozen=True)
class LlmServing:
    """A language-model option's serving model: one server's capacity and the network delays."""

    cost: LlmCost
    shape: Shape
    capacity_per_s: float      # requests per second one server (device or instance) sustains
    up_ms: float               # the p99 prompt's upload
    first_down_ms: float       # the first token's trip back
    down_ms: float             # the whole answer's trip back

    def latencies_ms(self, u: float) -> tuple[float, float, float]:
        """(end-to-end p99, TTFT p99, TPOT p99) in ms with each server at utilisation `u` of its capacity."""
        pt = operating_point(self.cost, self.shape, u * self.capacity_per_s)
        if not pt.stable:
            return math.inf, math.inf, math.inf
        return (self.up_ms + pt.e2e_p99_s * 1e3 + self.down_ms, self.up_ms + pt.ttft_p99_s * 1e3 + self.first_down_ms,
                pt.tpot_p99_s * 1e3)


@dataclass
class Option:
    """One way to run a workload, with everything the solver and the explanations need."""

    workload: str
    site: str
    hardware: str
    precision: str
    kind: str  # inference | training | federated
    split: int | None = None
    edge_hardware: str | None = None
    loads: dict[str, float] = field(default_factory=dict)  # resource key -> load (devices, instances, Mbps)
    variable_usd_per_month: float = 0.0
    energy_j_per_month: float = 0.0
    p99_ms_by_level: dict[str, dict[float, float]] = field(default_factory=dict)  # compute resource -> level -> p99
    p99_alone_ms: float = 0.0  # at this option's own load only: the latency objective's coefficient
    stages: list[tuple[str, float]] = field(default_factory=list)  # (compute resource, service s per batch) in order
    network_ms: float = 0.0
    compute_ms: float = 0.0
    slo_ms: float | None = None
    slo_margin: float = 1.0  # < 1 after simulation found the analytical p99 optimistic (run's tightening)
    memory_gb: float = 0.0
    mem_limit_gb: float = math.inf
    source: str = "assumed"  # the weakest estimate source
    infeasible: str = ""  # why this option can never be chosen ("" = it can)
    detail: dict[str, float] = field(default_factory=dict)
    # language models: p99 time to first token and per output token by level, their SLOs, and
    # what `llm_serving` needs to recompute them at the actual utilisation
    ttft_ms_by_level: dict[float, float] = field(default_factory=dict)
    tpot_ms_by_level: dict[float, float] = field(default_factory=dict)
    ttft_slo_ms: float | None = None
    tpot_slo_ms: float | None = None
    serving: LlmServing | None = None
    engine: str = ""  # a language model's engine (model@precision); "" for everything else

    @property
    def label(self) -> str:
        s = f"{self.hardware}@{self.site} {self.precision}"
        return s if self.split is None else f"{self.edge_hardware}→{s} split@{self.split}"

    def max_level(self, resource: str) -> float:
        """The highest utilisation level of `resource` at which this option meets its SLOs (0 = none)."""
        by_level = self.p99_ms_by_level.get(resource)
        if not by_level:
            return 1.0
        m = self.slo_margin
        ok = [u for u, p in by_level.items()
              if (self.slo_ms is None or p <= self.slo_ms * m)
              and (self.ttft_slo_ms is None or self.ttft_ms_by_level.get(u, 0.0) <= self.ttft_slo_ms * m)
              and (self.tpot_slo_ms is None or self.tpot_ms_by_level.get(u, 0.0) <= self.tpot_slo_ms * m)]
        return max(ok) if ok else 0.0

    def key(self) -> tuple:
        return (self.site, self.hardware, self.precision, self.split)

    def __repr__(self) -> str:
        return f"Option({self.workload}: {self.label}, ${self.variable_usd_per_month:,.0f}/mo)"


# --------------------------------------------------------------------------- resources
def resources(sc: Scenario) -> dict[str, Resource]:
    """Every shared resource of the scenario, keyed `dev:SITE:I`, `pool:SITE:I`, `link:I:up|down`."""
    usd_kwh = sc.electricity_usd_per_kwh()
    months = sc.amortisation_months()
    out: dict[str, Resource] = {}
    for name, site in sc.sites.items():
        for i, d in enumerate(site.devices):
            hw = catalog.hardware(d.hardware)
            idle_j = hw.idle_w * SECONDS_PER_MONTH * d.count
            fixed = d.count * (hw.price_usd or 0.0) / months + idle_j / 3.6e6 * usd_kwh
            if hw.tier == "cloud" and hw.usd_per_hour:  # reserved cloud GPUs listed as devices
                fixed = d.count * hw.usd_per_hour * 730
            out[f"dev:{name}:{i}"] = Resource(f"dev:{name}:{i}", "device", name, d.hardware, float(d.count),
                                              fixed, idle_j, LEVELS, d.count, d.service_cv)
        for i, p in enumerate(site.pools):
            hw = catalog.hardware(p.hardware)
            out[f"pool:{name}:{i}"] = Resource(f"pool:{name}:{i}", "pool", name, p.hardware, float(p.max_instances),
                                               0.0, 0.0, (p.target_utilization,), p.max_instances, p.service_cv,
                                               p.gpus * (hw.usd_per_hour or 0.0) * 730, p.gpus * hw.tdp_w * SECONDS_PER_MONTH,
                                               p.min_instances, p.gpus)
            for w_name in _llm_workloads(sc):  # a language model's instances serve it alone
                base = out[f"pool:{name}:{i}"]
                out[llm_pool_key(base.key, w_name)] = replace(base, key=llm_pool_key(base.key, w_name))
    for i, link in enumerate(sc.links):
        a, b = link.between
        out[f"link:{i}:up"] = Resource(f"link:{i}:up", "link", a, link.network, link.up_mbps, 0.0, 0.0, (LINK_RHO,), 1)
        out[f"link:{i}:down"] = Resource(f"link:{i}:down", "link", b, link.network, link.down_mbps, 0.0, 0.0, (LINK_RHO,), 1)
    return out


def llm_pool_key(pool_key: str, workload: str) -> str:
    """The instances of a pool that serve one language-model workload: an instance holds one
    model's weights and runs one continuous batch, so workloads do not share them."""
    return f"{pool_key}/{workload}"


def _llm_workloads(sc: Scenario) -> list[str]:
    return [n for n, w in sc.workloads.items() if isinstance(w, Inference) and is_llm(w.model)]


# --------------------------------------------------------------------------- network
@dataclass(frozen=True)
class Route:
    """The links a transfer crosses from one site to another, as resource keys, and its delays."""

    hops: tuple[str, ...]
    propagation_ms: float
    jitter_p99_ms: float
    loss_pct: float


def route(sc: Scenario, src: str, dst: str) -> Route:
    """The lowest-latency path of links from `src` to `dst` (networkx, by one-way latency)."""
    return _routes(sc)(src, dst)


def _routes(sc: Scenario) -> Callable[[str, str], Route]:
    cache = sc.__dict__.setdefault("_route_cache", {})

    def get(src: str, dst: str) -> Route:
        if (src, dst) in cache:
            return cache[src, dst]
        paths = sc.__dict__.setdefault("_path_cache", {})
        if src not in paths:  # one Dijkstra per source gives the paths to every site
            paths[src] = nx.single_source_dijkstra_path(sc.graph, src, weight="latency_ms")
        if src == dst:
            r = Route((), 0.0, 0.0, 0.0)
        else:
            path = paths[src][dst]
            hops, prop, jit2, keep = [], 0.0, 0.0, 1.0
            for u, v in zip(path, path[1:]):
                i = sc.graph.edges[u, v]["index"]
                link = sc.links[i]
                hops.append(f"link:{i}:{'up' if link.between[0] == u else 'down'}")
                prop += link.rtt / 2
                jit2 += link.jitter**2
                keep *= 1 - link.loss / 100
            r = Route(tuple(hops), prop, Z99 * math.sqrt(jit2), (1 - keep) * 100)
        cache[src, dst] = r
        return r

    return get


def transfer_ms(sc: Scenario, res: dict[str, Resource], r: Route, size_bytes: float, rho: float = LINK_RHO,
                link_rho: dict[str, float] | None = None) -> float:
    """Predicted p99-ish time to move `size_bytes` along a route: propagation, jitter, and each
    link's processor-shared serialisation at its utilisation; lost packets cost a retransmission
    round trip each (TCP fast retransmit)."""
    if not r.hops:
        return 0.0
    t_s = 0.0
    for hop in r.hops:
        u = rho if link_rho is None else link_rho.get(hop, 0.0)
        t_s += ps_transfer_s(size_bytes, res[hop].capacity, min(u, 0.999))
    retrans_ms = (r.loss_pct / 100) * max(1.0, size_bytes / 1460) * 2 * r.propagation_ms
    return r.propagation_ms + r.jitter_p99_ms + t_s * 1000 + min(retrans_ms, 4 * r.propagation_ms)


def mbps(rate_per_s: float, size_bytes: float) -> float:
    return rate_per_s * size_bytes * 8 / 1e6


def egress_usd_per_gb(sc: Scenario, src: str, r: Route) -> float:
    """What leaving `src` costs per GB: cloud sites pay their provider's internet egress."""
    if not r.hops or sc.sites[src].kind != "cloud":
        return 0.0
    first = sc.links[int(r.hops[0].split(":")[1])]
    if first.egress_usd_per_gb is not None:
        return first.egress_usd_per_gb
    if sc.prices.egress_usd_per_gb is not None:
        return sc.prices.egress_usd_per_gb
    return catalog.egress_usd_per_gb(sc.sites[src].provider)


# --------------------------------------------------------------------------- estimates
@lru_cache(maxsize=65536)
def _estimate(model: str, hardware: str, precision: str, batch: int, training: bool) -> Estimate:
    return estimate(model, hardware, precision=precision, batch=batch, training=training)


def cost_estimate(sc: Scenario, model: str, hardware: str, precision: str, batch: int = 1, training: bool = False) -> Estimate:
    """The cost model's estimate, cached; `.onnx` paths resolve against the scenario file."""
    if model.lower().endswith(".onnx"):
        from pathlib import Path

        p = Path(model)
        if not p.is_absolute() and sc.source_file:
            p = Path(sc.source_file).parent / p
        model = str(p)
    return _estimate(model, hardware, precision, batch, training)


def _weakest(*sources: str) -> str:
    order = ["measured", "interpolated", "extrapolated", "assumed"]
    return max(sources, key=order.index)


def _precisions(sc: Scenario, w, hardware: str) -> list[str]:
    runs = catalog.hardware(hardware).precisions
    allowed = w.precisions or list(runs)
    return [p for p in allowed if p in runs]


def candidate_sites(sc: Scenario, name: str) -> list[tuple[str, str]]:
    """(site, reason it is forbidden or '') for every reachable site with compute. Sites beyond
    the workload's privacy level are kept, marked, so explanations can say privacy ruled them out."""
    w = sc.workloads[name]
    cache = sc.__dict__.setdefault("_candidate_cache", {})
    key = (w.source, w.privacy)
    if key in cache:
        return cache[key]
    allowed = set(sc.allowed_sites(name))
    out = []
    for site in sorted(sc.reachable_sites(w.source), key=list(sc.sites).index):
        if not (sc.sites[site].devices or sc.sites[site].pools):
            continue
        if site != w.source and sc.sites[site].kind == "edge" and _via_cloud(sc, w.source, site):
            continue  # another edge site reached only through a cloud region is never the sensible place
        why = "" if site in allowed else f"privacy '{w.privacy}': input may not leave {'site' if w.privacy == 'site' else 'the region'} of '{w.source}'"
        out.append((site, why))
    cache[key] = out
    return out


def _via_cloud(sc: Scenario, src: str, dst: str) -> bool:
    """Whether the route from `src` to `dst` passes through a cloud site."""
    hops = route(sc, src, dst).hops
    path_sites = [sc.links[int(h.split(":")[1])].between[1 if h.endswith("up") else 0] for h in hops[:-1]]
    return any(sc.sites[n].kind == "cloud" for n in path_sites)


def _device_groups(sc: Scenario, site: str) -> list[tuple[str, str, int, float, int]]:
    """(resource key, hardware, max_batch, max_wait_ms, count) of each compute group at a site
    (a pool's count is its maximum number of instances)."""
    s = sc.sites[site]
    out = [(f"dev:{site}:{i}", d.hardware, d.max_batch, d.max_wait_ms, d.count) for i, d in enumerate(s.devices)]
    out += [(f"pool:{site}:{i}", p.hardware, p.max_batch, p.max_wait_ms, p.max_instances) for i, p in enumerate(s.pools)]
    return out


# --------------------------------------------------------------------------- inference
def _add_traffic(sc: Scenario, o: Option, up: Route, down: Route, rate: float, mean_rate: float,
                 in_bytes: float, out_bytes: float) -> float:
    """Load the route's links with requests at `rate` (Mbps each way) and bill the answers'
    egress at the mean rate; returns the egress GB per month."""
    for hop in up.hops:
        o.loads[hop] = o.loads.get(hop, 0.0) + mbps(rate, in_bytes)
    for hop in down.hops:
        o.loads[hop] = o.loads.get(hop, 0.0) + mbps(rate, out_bytes)
    egress_gb = mean_rate * out_bytes * SECONDS_PER_MONTH / 1e9
    o.variable_usd_per_month += egress_gb * egress_usd_per_gb(sc, o.site, down)
    return egress_gb


def _planned_rate(w: Inference) -> tuple[float, float]:
    """(rate to plan capacity and SLOs for, mean rate / that rate). Capacity and SLOs are planned
    for the daily peak (it lasts long enough to fill any queue); money and energy follow the mean
    rate, as pools scale down and devices idle off-peak."""
    rate = getattr(w.arrival, "peak_rate_per_s", w.arrival.mean_rate_per_s) if w.arrival.process == "diurnal" \
        else w.arrival.mean_rate_per_s
    return rate, w.arrival.mean_rate_per_s / rate


def inference_options(sc: Scenario, res: dict[str, Resource], name: str) -> list[Option]:
    """Every way to serve an inference workload, with loads, cost and p99 per level."""
    w: Inference = sc.workloads[name]
    if is_llm(w.model):
        return llm_options(sc, res, name)
    info = catalog.model(w.model) if not w.model.lower().endswith(".onnx") else None
    in_bytes = w.input_bytes if w.input_bytes is not None else (info.input_bytes if info else 0)
    out_bytes = w.output_bytes if w.output_bytes is not None else (info.output_bytes if info else 0)
    rate, mean_share = _planned_rate(w)
    usd_kwh = sc.electricity_usd_per_kwh()
    options = []
    for site, forbidden in candidate_sites(sc, name):
        up, down = route(sc, w.source, site), route(sc, site, w.source)
        for key, hw_id, max_batch, max_wait_ms, count in _device_groups(sc, site):
            r = res[key]
            hw = catalog.hardware(hw_id)
            for prec in _precisions(sc, w, hw_id):
                o = Option(name, site, hw_id, prec, "inference", slo_ms=w.slo.p99_ms, mem_limit_gb=hw.mem_gb)
                try:
                    e1 = cost_estimate(sc, w.model, hw_id, prec, 1)
                except PlannerError as err:
                    o.infeasible = f"no estimate: {err}"
                    options.append(o)
                    continue
                # Batch that fills within max_wait at this workload's rate per server, at most max_batch.
                per_server_rate = rate / max(1, count if r.kind == "device" else 1)
                batch = max(1, min(max_batch, int(per_server_rate * max_wait_ms / 1000) + 1))
                eb = e1 if batch == 1 else cost_estimate(sc, w.model, hw_id, prec, batch)
                service_s = eb.latency_ms / 1000
                busy_per_s = rate * service_s / batch  # device-seconds per second
                o.memory_gb, o.source = eb.memory_gb, _weakest(e1.source, eb.source)
                if not eb.fits:
                    o.infeasible = f"needs {eb.memory_gb:.1f} GB, {hw_id} has {hw.mem_gb:g} GB"
                o.network_ms = transfer_ms(sc, res, up, in_bytes) + transfer_ms(sc, res, down, out_bytes)
                # A batching server holds a lone request up to max_wait for company.
                batch_wait_ms = max_wait_ms if max_batch > 1 else 0.0
                o.compute_ms = eb.latency_ms + batch_wait_ms
                levels = r.levels
                servers = count if r.kind == "device" else None
                by_level = {}
                for u in levels:
                    n = servers or max(1, math.ceil(busy_per_s / u))
                    by_level[u] = o.network_ms + o.compute_ms + 1000 * wait_quantile_s(n, u, service_s, 0.99, r.service_cv)
                o.p99_ms_by_level[key] = by_level
                o.stages = [(key, service_s)]
                alone_u = busy_per_s / (servers or max(1, math.ceil(busy_per_s / levels[0])))
                o.p99_alone_ms = o.network_ms + o.compute_ms + 1000 * wait_quantile_s(
                    servers or max(1, math.ceil(busy_per_s / levels[0])), min(alone_u, 0.999), service_s, 0.99, r.service_cv)
                if r.kind == "device":
                    o.loads[key] = busy_per_s
                    active_j = mean_share * busy_per_s * (hw.tdp_w - hw.idle_w) * SECONDS_PER_MONTH
                    o.energy_j_per_month += active_j
                    o.variable_usd_per_month += active_j / 3.6e6 * usd_kwh
                else:  # the pool bills whole instances: the solver counts them (Resource.cost)
                    o.loads[key] = busy_per_s / r.levels[0]
                egress_gb = _add_traffic(sc, o, up, down, rate, w.arrival.mean_rate_per_s, in_bytes, out_bytes)
                o.detail = {"batch": batch, "service_ms": eb.latency_ms, "busy_per_s": busy_per_s,
                            "input_bytes": in_bytes, "output_bytes": out_bytes, "egress_gb_per_month": egress_gb}
                o.infeasible = forbidden or o.infeasible
                options.append(o)
    return options


# --------------------------------------------------------------------------- language models
#: bytes of UTF-8 text per token travelling to and from the model (assumed: ~4 characters a token)
BYTES_PER_TOKEN = 4.0


def llm_options(sc: Scenario, res: dict[str, Resource], name: str) -> list[Option]:
    """A language model served with continuous batching on each device group or pool it may
    reach, at each weight precision (int4 included, W4A16): the load is the share of a server's
    capacity, and p99 end-to-end, TTFT and TPOT come from `llm_serving` at each level."""
    w: Inference = sc.workloads[name]
    shape = Shape.of(w.prompt_dist(), w.output_dist())
    in_bytes = w.input_bytes if w.input_bytes is not None else shape.prompt * BYTES_PER_TOKEN
    out_bytes = w.output_bytes if w.output_bytes is not None else shape.output * BYTES_PER_TOKEN
    rate, mean_share = _planned_rate(w)
    usd_kwh = sc.electricity_usd_per_kwh()
    options = []
    for site, forbidden in candidate_sites(sc, name):
        up, down = route(sc, w.source, site), route(sc, site, w.source)
        for key, hw_id, _, _, count in _device_groups(sc, site):
            if key.startswith("pool:"):
                key = llm_pool_key(key, name)
            r = res[key]
            hw = catalog.hardware(hw_id)
            gpus = r.gpus
            allowed = w.precisions or list(llm_precisions(hw_id))
            for prec in [p for p in allowed if p in llm_precisions(hw_id)]:
                o = Option(name, site, hw_id, prec, "inference", slo_ms=w.slo.p99_ms, mem_limit_gb=hw.mem_gb * gpus,
                           ttft_slo_ms=w.slo.ttft_ms, tpot_slo_ms=w.slo.tpot_ms, engine=llm_engine(w.model, prec))
                try:
                    cost = llm_cost(w.model, hw_id, prec, gpus)
                except PlannerError as err:
                    o.infeasible = f"no estimate: {err}"
                    options.append(o)
                    continue
                mu = capacity_per_s(cost, shape)
                o.source, o.memory_gb = cost.source, cost.weight_gb + cost.workspace_gb
                if mu <= 0:
                    o.infeasible = operating_point(cost, shape, 1e-9).why
                o.network_ms = transfer_ms(sc, res, up, in_bytes) + transfer_ms(sc, res, down, out_bytes)
                sv = LlmServing(cost, shape, mu, transfer_ms(sc, res, up, shape.prompt_p99 * BYTES_PER_TOKEN),
                                transfer_ms(sc, res, down, BYTES_PER_TOKEN), transfer_ms(sc, res, down, out_bytes))
                o.serving = sv
                servers = count if r.kind == "device" else None
                share = rate / mu if mu > 0 else math.inf  # servers' worth of capacity
                if servers:
                    own_u = min(share / servers, 0.999)
                else:  # the workload's own instances, as many as keep each below the target
                    own_u = share / max(1, math.ceil(share / r.levels[0] - 1e-9), r.min_units) if mu > 0 else 1.0
                # a device group's level is what every workload on it uses; a pool's instances
                # serve this workload alone (llm_pool_key), at the utilisation it gives them
                levels = {u: (u if servers else own_u) for u in r.levels}
                by = {u: sv.latencies_ms(v) for u, v in levels.items()} if mu > 0 else {u: (math.inf,) * 3 for u in r.levels}
                o.p99_ms_by_level[key] = {u: v[0] for u, v in by.items()}
                o.ttft_ms_by_level = {u: v[1] for u, v in by.items()}
                o.tpot_ms_by_level = {u: v[2] for u, v in by.items()}
                alone = sv.latencies_ms(own_u) if mu > 0 else (math.inf,) * 3
                o.p99_alone_ms = alone[0]
                pt = operating_point(cost, shape, own_u * mu) if mu > 0 else None
                o.compute_ms = (pt.e2e_p99_s * 1e3) if pt is not None and pt.stable else math.inf
                o.stages = [(key, 0.0)]
                if r.kind == "device":
                    o.loads[key] = share if mu > 0 else 0.0
                    active_j = mean_share * min(o.loads[key], count) * (hw.tdp_w - hw.idle_w) * gpus * SECONDS_PER_MONTH
                    o.energy_j_per_month += active_j
                    o.variable_usd_per_month += active_j / 3.6e6 * usd_kwh
                else:
                    o.loads[key] = share / r.levels[0] if mu > 0 else 0.0
                egress_gb = _add_traffic(sc, o, up, down, rate, w.arrival.mean_rate_per_s, in_bytes, out_bytes)
                o.detail = {"capacity_per_s": mu, "weights_gb": cost.weight_gb, "kv_capacity_tokens": cost.kv_capacity_tokens,
                            "max_batch": cost.max_batch(shape.prompt + shape.output), "gpus": gpus,
                            "decode_ms": cost.decode_step_s(1, shape.prompt + shape.output / 2) * 1e3,
                            "prefill_ms": cost.prefill_s(int(shape.prompt)) * 1e3,
                            "input_bytes": in_bytes, "output_bytes": out_bytes, "egress_gb_per_month": egress_gb}
                o.infeasible = forbidden or o.infeasible
                options.append(o)
    return options


# --------------------------------------------------------------------------- split
#: split points tried per model: the cuts whose activations are smallest
MAX_SPLITS = 3


@lru_cache(maxsize=65536)
def _part(model: str, hardware: str, precision: str, batch: int, start: int, stop: int) -> Estimate:
    return estimate_part(model, hardware, precision, batch, start, stop)


@lru_cache(maxsize=4096)
def _cuts(model: str, precision: str, input_bytes: float) -> list[tuple[int, float]]:
    """The MAX_SPLITS cuts whose activations (at `precision`) are smallest and below the input."""
    bpe = BYTES_PER_ELEMENT[precision]
    cuts = [(i, b * bpe / 4) for i, b in graph(model, 1).split_points()[:-1] if b * bpe / 4 < input_bytes]
    return sorted(cuts, key=lambda t: (t[1], t[0]))[:MAX_SPLITS]


def split_options(sc: Scenario, res: dict[str, Resource], name: str) -> list[Option]:
    """The model's first layers on the source's edge devices, the rest on a cloud pool: worth it
    where a layer's output is smaller than the input the workload would otherwise upload."""
    w: Inference = sc.workloads[name]
    src = sc.sites[w.source]
    if not w.allow_split or not src.devices or w.model.lower().endswith(".onnx") or is_llm(w.model):
        return []
    info = catalog.model(w.model)
    in_bytes = w.input_bytes if w.input_bytes is not None else info.input_bytes
    out_bytes = w.output_bytes if w.output_bytes is not None else info.output_bytes
    rate = w.arrival.mean_rate_per_s
    n_ops = len(graph(w.model, 1).ops)
    edge_key, edge_hw = f"dev:{w.source}:0", src.devices[0].hardware
    edge = res[edge_key]
    options = []
    for site, forbidden in candidate_sites(sc, name):
        if sc.sites[site].kind != "cloud":
            continue
        up, down = route(sc, w.source, site), route(sc, site, w.source)
        for key, hw_id, max_batch, max_wait_ms, _ in _device_groups(sc, site):
            pool = res[key]
            if pool.kind != "pool":
                continue
            for prec in [p for p in _precisions(sc, w, hw_id) if p in _precisions(sc, w, edge_hw)]:
                for k, cut_bytes in _cuts(w.model, prec, in_bytes):
                    try:
                        e_edge = _part(w.model, edge_hw, prec, 1, 0, k + 1)
                        batch = max(1, min(max_batch, int(rate * max_wait_ms / 1000) + 1))
                        e_cloud = _part(w.model, hw_id, prec, batch, k + 1, n_ops)
                    except PlannerError:
                        continue
                    o = Option(name, site, hw_id, prec, "inference", split=k, edge_hardware=edge_hw,
                               slo_ms=w.slo.p99_ms, source=_weakest(e_edge.source, e_cloud.source))
                    if not (e_edge.fits and e_cloud.fits):
                        o.infeasible = "the model's parts do not fit in memory"
                    edge_s, cloud_s = e_edge.latency_ms / 1000, e_cloud.latency_ms / 1000
                    o.network_ms = transfer_ms(sc, res, up, cut_bytes) + transfer_ms(sc, res, down, out_bytes)
                    o.compute_ms = e_edge.latency_ms + e_cloud.latency_ms + (max_wait_ms if max_batch > 1 else 0.0)
                    busy_edge = rate * edge_s
                    instances = rate * cloud_s / batch / pool.levels[0]
                    n_cloud = max(1, math.ceil(instances))
                    cloud_wait_ms = 1000 * wait_quantile_s(n_cloud, instances * pool.levels[0] / n_cloud, cloud_s, 0.99, pool.service_cv)
                    o.p99_ms_by_level[edge_key] = {
                        u: o.network_ms + o.compute_ms + cloud_wait_ms + 1000 * wait_quantile_s(edge.servers, u, edge_s, 0.99, edge.service_cv)
                        for u in edge.levels}
                    o.p99_alone_ms = o.network_ms + o.compute_ms + cloud_wait_ms
                    o.stages = [(edge_key, edge_s), (key, cloud_s)]
                    o.loads = {edge_key: busy_edge, key: instances}
                    for hop in up.hops:
                        o.loads[hop] = o.loads.get(hop, 0.0) + mbps(rate, cut_bytes)
                    for hop in down.hops:
                        o.loads[hop] = o.loads.get(hop, 0.0) + mbps(rate, out_bytes)
                    hw, ehw = catalog.hardware(hw_id), catalog.hardware(edge_hw)
                    active_j = busy_edge * (ehw.tdp_w - ehw.idle_w) * SECONDS_PER_MONTH
                    egress_gb = rate * out_bytes * SECONDS_PER_MONTH / 1e9
                    o.variable_usd_per_month = (active_j / 3.6e6 * sc.electricity_usd_per_kwh()
                                                + egress_gb * egress_usd_per_gb(sc, site, down))
                    o.energy_j_per_month = active_j
                    o.memory_gb = max(e_edge.memory_gb, e_cloud.memory_gb)
                    o.detail = {"batch": batch, "service_ms": e_cloud.latency_ms, "edge_ms": e_edge.latency_ms,
                                "input_bytes": cut_bytes, "output_bytes": out_bytes, "egress_gb_per_month": egress_gb}
                    o.infeasible = forbidden or o.infeasible
                    options.append(o)
    return options


# --------------------------------------------------------------------------- training
def _samples(sc: Scenario, w) -> float:
    if isinstance(w, Training) and w.samples:
        return float(w.samples)
    info = catalog.model(w.model) if not w.model.lower().endswith(".onnx") else None
    per_sample = info.input_bytes if info and info.input_bytes else 150_528
    return w.dataset_gb * 1e9 / per_sample


def training_options(sc: Scenario, res: dict[str, Resource], name: str) -> list[Option]:
    """Centralised training: every device group or pool the dataset may reach that fits the
    model in memory and finishes (dataset transfer + epochs) within the deadline."""
    w: Training = sc.workloads[name]
    samples = _samples(sc, w)
    usd_kwh = sc.electricity_usd_per_kwh()
    every_s, deadline_s = w.every_h * 3600, w.deadline_h * 3600
    options = []
    for site, forbidden in candidate_sites(sc, name):
        up = route(sc, w.source, site)
        for key, hw_id, _, _, count in _device_groups(sc, site):
            r, hw = res[key], catalog.hardware(hw_id)
            for prec in _precisions(sc, w, hw_id):
                o = Option(name, site, hw_id, prec, "training", mem_limit_gb=hw.mem_gb)
                try:
                    e = cost_estimate(sc, w.model, hw_id, prec, w.batch, training=True)
                except PlannerError as err:
                    o.infeasible = f"no estimate: {err}"
                    options.append(o)
                    continue
                o.memory_gb, o.source = e.memory_gb, e.source
                compute_s = w.epochs * samples / w.batch * e.latency_ms / 1000
                move_s = transfer_ms(sc, res, up, w.dataset_gb * 1e9, rho=0.0) / 1000
                deploy_s = _deploy_s(sc, res, w, site)
                job_s = compute_s + move_s + deploy_s
                o.compute_ms, o.network_ms = compute_s * 1000, (move_s + deploy_s) * 1000
                if not e.fits:
                    o.infeasible = f"needs {e.memory_gb:.1f} GB to train, {hw_id} has {hw.mem_gb:g} GB"
                elif job_s > deadline_s:
                    o.infeasible = f"takes {job_s / 3600:.1f} h, deadline {w.deadline_h:g} h"
                duty = compute_s / every_s
                if r.kind == "device":
                    o.loads[key] = duty
                    active_j = duty * (hw.tdp_w - hw.idle_w) * SECONDS_PER_MONTH
                    o.energy_j_per_month = active_j
                    o.variable_usd_per_month = active_j / 3.6e6 * usd_kwh
                else:  # a job launches its own instance and pays per second of it
                    o.variable_usd_per_month = duty * (hw.usd_per_hour or 0.0) * 730
                    o.energy_j_per_month = duty * hw.tdp_w * SECONDS_PER_MONTH
                for hop in up.hops:
                    o.loads[hop] = o.loads.get(hop, 0.0) + mbps(1 / every_s, w.dataset_gb * 1e9)
                o.p99_alone_ms = job_s * 1000
                o.detail = {"job_h": job_s / 3600, "compute_h": compute_s / 3600, "transfer_h": move_s / 3600,
                            "deploy_s": deploy_s, "step_ms": e.latency_ms}
                o.infeasible = forbidden or o.infeasible
                options.append(o)
    return options


def _deploy_s(sc: Scenario, res: dict[str, Resource], w: Training, site: str) -> float:
    """Time to push the trained model to every site that could serve its deploy_to workloads."""
    info = catalog.model(w.model) if not w.model.lower().endswith(".onnx") else None
    model_bytes = (info.params_millions * 1e6 * 2) if info else 0.0  # fp16 weights shipped
    worst = 0.0
    for target in w.deploy_to:
        for dst in sc.allowed_sites(target):
            if dst in sc.reachable_sites(site):
                worst = max(worst, transfer_ms(sc, res, route(sc, site, dst), model_bytes, rho=0.0) / 1000)
    return worst


# --------------------------------------------------------------------------- federated
def federated_options(sc: Scenario, res: dict[str, Resource], name: str) -> list[Option]:
    """Federated training: each participating site trains on its own devices; the option is
    where the updates are aggregated and at which precision the sites train."""
    w: Federated = sc.workloads[name]
    info = catalog.model(w.model) if not w.model.lower().endswith(".onnx") else None
    model_bytes = w.model_bytes or (info.params_millions * 1e6 * 4 if info else 0.0)
    every_s, deadline_s = w.every_h * 3600, w.deadline_h * 3600
    usd_kwh = sc.electricity_usd_per_kwh()
    aggregators = [w.aggregator] if w.aggregator else [n for n in sc.sites if sc.sites[n].devices or sc.sites[n].pools]
    options = []
    for agg in aggregators:
        if not all(agg in sc.reachable_sites(s) for s in w.sites):
            continue
        agg_key, agg_hw = _device_groups(sc, agg)[0][:2] if _device_groups(sc, agg) else (None, None)
        common = None
        for s in w.sites:
            groups = _device_groups(sc, s)
            p = set(_precisions(sc, w, groups[0][1])) if groups else set()
            common = p if common is None else common & p
        for prec in sorted(common or {"fp32"}, key=["fp32", "fp16", "bf16", "int8", "int4"].index):
            o = Option(name, agg, agg_hw or "-", prec, "federated")
            local_s, sources = 0.0, []
            for s in w.sites:
                groups = _device_groups(sc, s)
                if not groups:
                    o.infeasible = f"site '{s}' has no device to train on"
                    break
                key, hw_id = groups[0][:2]
                hw = catalog.hardware(hw_id)
                try:
                    e = cost_estimate(sc, w.model, hw_id, prec, w.batch, training=True)
                except PlannerError as err:
                    o.infeasible = f"no estimate on {hw_id}: {err}"
                    break
                sources.append(e.source)
                if not e.fits:
                    o.infeasible = f"needs {e.memory_gb:.1f} GB to train, {hw_id} at {s} has {hw.mem_gb:g} GB"
                t_s = w.local_epochs * w.samples_per_site / w.batch * e.latency_ms / 1000
                local_s = max(local_s, t_s)
                duty = w.rounds * t_s / every_s
                o.loads[key] = o.loads.get(key, 0.0) + duty
                active_j = duty * (hw.tdp_w - hw.idle_w) * SECONDS_PER_MONTH
                o.energy_j_per_month += active_j
                o.variable_usd_per_month += active_j / 3.6e6 * usd_kwh
                upr, downr = route(sc, s, agg), route(sc, agg, s)
                for hop in upr.hops + downr.hops:
                    o.loads[hop] = o.loads.get(hop, 0.0) + mbps(w.rounds / every_s, model_bytes)
                rounds_per_month = w.rounds * SECONDS_PER_MONTH / every_s
                o.variable_usd_per_month += rounds_per_month * model_bytes / 1e9 * egress_usd_per_gb(sc, agg, downr)
                o.network_ms = max(o.network_ms, transfer_ms(sc, res, upr, model_bytes, rho=0.0)
                                   + transfer_ms(sc, res, downr, model_bytes, rho=0.0))
            if o.infeasible:
                options.append(o)
                continue
            round_s = local_s + o.network_ms / 1000
            o.compute_ms = local_s * 1000
            o.source = _weakest(*sources) if sources else "assumed"
            if w.rounds * round_s > deadline_s:
                o.infeasible = f"{w.rounds} rounds take {w.rounds * round_s / 3600:.1f} h, deadline {w.deadline_h:g} h"
            if agg_key and res[agg_key].kind == "pool":
                hw = catalog.hardware(agg_hw)
                agg_duty = w.rounds * 1.0 / every_s  # about a second of instance time per round to average updates
                o.variable_usd_per_month += agg_duty * (hw.usd_per_hour or 0.0) * 730
            o.p99_alone_ms = w.rounds * round_s * 1000
            o.detail = {"round_s": round_s, "local_s": local_s, "model_bytes": model_bytes}
            options.append(o)
    return options


def all_options(sc: Scenario) -> tuple[dict[str, Resource], dict[str, list[Option]]]:
    """Resources and every option of every workload (infeasible ones kept, with their reason)."""
    res = resources(sc)
    builders = {"inference": lambda *a: inference_options(*a) + split_options(*a), "training": training_options,
                "federated": federated_options}
    opts = {name: builders[w.kind](sc, res, name) for name, w in sc.workloads.items()}
    return res, opts
