"""The scenario resolved once against the catalog: every device group, pool and link direction
with its effective figures and tariff, typed ids, the routes between sites, and the sites each
workload's data may reach. The planner and the simulator both read this one model.
"""
from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, replace
from functools import cached_property
from typing import TYPE_CHECKING

import networkx as nx

from planner import catalog
from planner.model.accounting import MonthlyBill, Tariff, combine, unit_bills
from planner.model.ids import ResourceId, ResourceKind
from planner.scenario import Scenario
from planner.scenario.sites import GridIntensity, Site
from planner.scenario.workloads import FALLBACK_PRECISIONS
from planner.units import SECONDS_PER_MONTH

if TYPE_CHECKING:
    from planner.costs.llm import LlmCost

#: z-score of the 99th percentile of a normal: a route's jitter at p99.
Z99 = 2.326


@dataclass(frozen=True)
class Resource:
    """Something workloads share: a device group, a cloud pool (or the instances of one that
    serve one language model), or one direction of a link, with what it costs (`tariff`).

    `capacity` is devices, the maximum instances, or Mbit/s; `site` is where it is (the sending
    end for a link direction, `to_site` the receiving one)."""

    id: ResourceId
    hardware: str  # hardware id, or the network id for links
    capacity: float
    tariff: Tariff
    servers: int = 1  # devices in a group; a pool's maximum instances; 1 for links
    service_cv: float = 0.0
    max_batch: int = 1
    max_wait_ms: float = 0.0
    min_instances: int = 0  # pools: kept running whatever the load
    target_utilization: float = 1.0  # pools: what the autoscaler aims for
    cold_start_s: float = 0.0
    gpus: int = 1  # accelerators per device or instance
    to_site: str = ""
    pricing: tuple[str, ...] = ("on_demand",)  # pools: how the instances may be bought (model/pricing.py)
    provider: str = ""  # pools: whose discounts apply
    interruptions_per_h: float | None = None  # pools: spot interruptions per instance-hour; None = the provider's
    availability: float = 1.0  # the share of time it is up (a device group: some device up; a link: both directions)
    mttr_h: float = 1.0  # an outage's mean length: with `availability`, what the simulator's outages are drawn from
    max_seqs: int | None = None  # a language model's engine: sequences at once (None: the engine default)

    @property
    def kind(self) -> ResourceKind:
        return self.id.kind

    @property
    def site(self) -> str:
        return self.id.site

    @property
    def label(self) -> str:
        if self.kind == "link":
            return f"{self.site}→{self.to_site}"
        return f"{self.hardware}@{self.site}" + ("" if self.kind == "device" else " pool")

    def llm_cost(self, model: str, precision: str, kv_precision: str | None = None) -> LlmCost:
        """The serving engine of language model `model` on one device or instance of this
        resource: tensor-parallel over its `gpus`, holding at most its `max_seqs` sequences (the
        planner's options and the simulator's lanes both price an engine here)."""
        from planner.costs.llm import llm_cost

        return llm_cost(model, self.hardware, precision, self.gpus, kv_precision, self.max_seqs)

    @cached_property
    def unit_bills(self) -> tuple[MonthlyBill, MonthlyBill, MonthlyBill]:
        """`accounting.unit_bills` of its tariff, kept: hashing the tariff for the cache's key
        took a third of the time of pricing an option."""
        return unit_bills(self.tariff)

    def month_bill(self, servers: float = 1.0, busy_per_s: float = 0.0) -> MonthlyBill:
        """A month of `servers` kept and `busy_per_s` server-seconds of work per second."""
        return combine(self.unit_bills, servers, busy_per_s)

    def __repr__(self) -> str:
        unit = "Mbit/s" if self.kind == "link" else ("instances" if self.kind == "pool" else "devices")
        return f"Resource({self.id}: {self.hardware}, {self.capacity:g} {unit})"


@dataclass(frozen=True)
class Route:
    """The link directions a transfer crosses from one site to another, and its delays."""

    hops: tuple[ResourceId, ...]
    sites: tuple[str, ...]  # the sites on the way, source and destination included
    propagation_ms: float
    jitter_p99_ms: float
    loss_prob: float  # probability a packet is lost somewhere on the way

    def __repr__(self) -> str:
        return f"Route({' → '.join(self.sites)}, {self.propagation_ms:g} ms)"


def grid_gco2e_per_kwh(site: Site) -> float:
    """The carbon intensity of the electricity a site draws: its `grid:` (a figure or a catalog
    zone), else its provider region's grid, else the world's mean grid."""
    if isinstance(site.grid, GridIntensity):
        return site.grid.gco2e_per_kwh
    return catalog.grid(site.grid or site.provider_region or catalog.WORLD_GRID).gco2e_per_kwh


def site_hourly_gco2e_per_kwh(site: Site) -> tuple[float, ...] | None:
    """A site's emissions per kWh of IT energy hour by hour (hour 0 = 00:00 UTC; grid times PUE)
    where its `grid:` gives an hourly profile; None where only the yearly figure is known."""
    g = site.grid
    if not isinstance(g, GridIntensity) or not g.hourly_gco2e_per_kwh:
        return None
    pue = catalog.pue(site.provider if site.kind == "cloud" else None)
    return tuple(x * pue for x in g.hourly_gco2e_per_kwh)


def site_gco2e_per_kwh(site: Site) -> float:
    """Emissions per kWh of IT energy at a site: its grid's intensity times its facility's PUE
    (a cloud provider's data centres; an edge site counts none)."""
    return grid_gco2e_per_kwh(site) * catalog.pue(site.provider if site.kind == "cloud" else None)


def _device_tariff(sc: Scenario, site: Site, hw: catalog.Hardware, gpus: int = 1, owned: bool = False) -> Tariff:
    """A device's or instance's tariff. An owned device (`owned: true`) bills no amortisation and
    no idle power: it is on for its owner's purposes anyway, so the workload pays only the active
    surplus its work draws."""
    g = site_gco2e_per_kwh(site)
    if owned:
        return Tariff(0.0, "amortisation", 0.0, hw.tdp_w, sc.electricity_usd_per_kwh(), gco2e_per_kwh=g)
    if hw.tier == "cloud" and hw.usd_per_hour:  # reserved cloud GPUs listed as devices, or a pool
        # a cloud site's provider region selects its price where the catalog has one
        usd = catalog.region_usd_per_hour(hw.id, site.provider_region) or hw.usd_per_hour
        return Tariff(gpus * usd, "instances", hw.idle_w * gpus, hw.tdp_w * gpus, gco2e_per_kwh=g)
    usd_per_hour = (hw.price_usd or 0.0) / (sc.amortisation_months() * SECONDS_PER_MONTH / 3600.0)
    return Tariff(usd_per_hour, "amortisation", hw.idle_w, hw.tdp_w, sc.electricity_usd_per_kwh(), gco2e_per_kwh=g)


def _egress_usd_per_gb(sc: Scenario, link, sender: str) -> float:
    """Leaving a cloud site costs the link's egress price, else the scenario's, else the
    provider's by path: to another of its own regions at its inter-region price, else (the
    internet, another provider, an edge site) at its internet price."""
    site = sc.sites[sender]
    if site.kind != "cloud":
        return 0.0
    if link.egress_usd_per_gb is not None:
        return link.egress_usd_per_gb
    if sc.prices.egress_usd_per_gb is not None:
        return sc.prices.egress_usd_per_gb
    receiver = sc.sites[link.between[1] if link.between[0] == sender else link.between[0]]
    own_region = receiver.kind == "cloud" and receiver.provider == site.provider
    return catalog.egress_usd_per_gb(site.provider, "inter_region" if own_region else "internet")


def _energy_j_per_byte(network_id: str) -> float:
    """Network energy by medium (catalog prices, marked assumed there)."""
    try:
        return catalog.price(f"energy_nj_per_bit_{catalog.network(network_id).medium}") * 8e-9
    except Exception:  # a medium without a figure draws nothing we can count
        return 0.0


def up_share(mtbf_h: float | None, mttr_h: float) -> float:
    """Availability of something that fails every `mtbf_h` on average and is repaired in
    `mttr_h`: MTBF / (MTBF + MTTR); 1 when it never fails (`mtbf_h` None)."""
    return 1.0 if mtbf_h is None else mtbf_h / (mtbf_h + mttr_h)


def group_up_share(mtbf_h: float | None, mttr_h: float, count: int) -> float:
    """A group of `count` devices failing independently answers while any one is up."""
    return 1.0 - (1.0 - up_share(mtbf_h, mttr_h)) ** count


def pool_up_share(site: Site, pool) -> tuple[float, float]:
    """(availability, mean outage hours) of a cloud pool beyond its region's: its own
    `availability:`, else the provider's single-instance SLA when it runs one instance at most;
    a pool of several instances, spread over zones, adds nothing to its region's figure."""
    sla = catalog.availability(site.provider, "instance")
    if pool.availability is not None:
        return pool.availability, sla.mttr_h
    return (sla.availability, sla.mttr_h) if pool.max_instances == 1 else (1.0, sla.mttr_h)


def site_up_share(site: Site) -> tuple[float, float]:
    """(availability, mean outage hours) of a site itself: a cloud region's `availability:`, else
    its provider's region-level SLA (data/availability.csv); an edge site's failures are those
    of its devices and links."""
    if site.kind != "cloud":
        return 1.0, 1.0
    sla = catalog.availability(site.provider, "region")
    return (sla.availability if site.availability is None else site.availability), sla.mttr_h


class System:
    """The resolved scenario. Build with `resolve(scenario)` (cached on the scenario)."""

    def __init__(self, sc: Scenario):
        self.scenario = sc
        #: what the layers above derive once per system and keep with it (name -> key -> value):
        #: the planner's availability paths and the options of each kind of workload
        self.memo: dict[str, dict] = {}
        self.resources: dict[ResourceId, Resource] = {}
        self._at_site: dict[str, list[Resource]] = {}
        #: each site's own (availability, mean outage hours): a cloud region's SLA; 1 at the edge
        self.site_availability: dict[str, tuple[float, float]] = {}
        for name, site in sc.sites.items():
            self.site_availability[name] = site_up_share(site)
            groups = self._at_site.setdefault(name, [])
            for i, d in enumerate(site.devices):
                hw = catalog.hardware(d.hardware)
                r = Resource(ResourceId.device(name, i), d.hardware, float(d.count), _device_tariff(sc, site, hw, owned=d.owned),
                             d.count, d.service_cv, d.max_batch, d.max_wait_ms,
                             availability=group_up_share(d.mtbf_h, d.mttr_h, d.count), mttr_h=d.mttr_h,
                             max_seqs=d.max_seqs)
                self.resources[r.id] = r
                groups.append(r)
            for i, p in enumerate(site.pools):
                hw = catalog.hardware(p.hardware)
                up = pool_up_share(site, p)
                tariff = _device_tariff(sc, site, hw, p.gpus)
                if p.usd_per_hour is not None:  # the architect's own price for one instance
                    tariff = replace(tariff, usd_per_server_hour=p.usd_per_hour, billed_as="instances")
                r = Resource(ResourceId.pool(name, i), p.hardware, float(p.max_instances),
                             tariff, p.max_instances, p.service_cv, p.max_batch,
                             p.max_wait_ms, p.min_instances, p.target_utilization, p.cold_start_s, p.gpus,
                             pricing=tuple(p.pricing), provider=site.provider, interruptions_per_h=p.interruptions_per_h,
                             availability=up[0], mttr_h=up[1], max_seqs=p.max_seqs)
                self.resources[r.id] = r
                groups.append(r)
        for i, link in enumerate(sc.links):
            a, b = link.between
            e = _energy_j_per_byte(link.network)
            for direction, frm, to, mbps in (("up", a, b, link.up_mbps), ("down", b, a, link.down_mbps)):
                rid = ResourceId.link(frm, i, direction)
                # network energy is counted on the sender's grid (no facility PUE: the network's own)
                self.resources[rid] = Resource(rid, link.network, mbps,
                                               Tariff(egress_usd_per_gb=_egress_usd_per_gb(sc, link, frm),
                                                      energy_j_per_byte=e,
                                                      gco2e_per_kwh=grid_gco2e_per_kwh(sc.sites[frm])), to_site=to,
                                               availability=up_share(link.mtbf_h, link.mttr_h), mttr_h=link.mttr_h)
        self._routes: dict[tuple[str, str], Route] = {}
        self._paths: dict[object, dict[str, list[str]]] = {}
        self._candidates: dict[tuple[str, str], list[tuple[str, bool]]] = {}

    # ------------------------------------------------------------------ resources
    def __getitem__(self, rid: ResourceId) -> Resource:
        if rid.workload and rid not in self.resources:  # a pool's instances serving one model
            self.resources[rid] = replace(self.resources[rid.base], id=rid)
        return self.resources[rid]

    def compute_at(self, site: str) -> list[Resource]:
        """The device groups, then the pools, at `site`."""
        return self._at_site.get(site, [])

    def fallback_device(self, workload: str) -> Resource | None:
        """The source's device group a workload's `fallback:` runs on (None without one)."""
        choice = self.fallback_choice(workload)
        return None if choice is None else choice[0]

    def fallback_choice(self, workload: str) -> tuple[Resource, str] | None:
        """(device group, precision) of a workload's `fallback:`: the first of the source's device
        groups (of its `hardware`, where named) that runs its precision; a fallback naming none
        takes the first of the workload's `precisions` (else FALLBACK_PRECISIONS) the group runs."""
        w = self.scenario.workloads[workload]
        fb = getattr(w, "fallback", None)
        if fb is None:
            return None
        wanted = [fb.precision] if fb.precision else (w.precisions or FALLBACK_PRECISIONS)
        for r in self.compute_at(w.source):
            if r.kind == "device" and fb.hardware in (None, r.hardware):
                runs = catalog.hardware(r.hardware).precisions
                prec = next((p for p in wanted if p in runs), None)
                if prec is not None:
                    return r, prec
        return None

    def outage_figures(self, rid: ResourceId) -> tuple[float, float]:
        """(availability, mean outage hours) of a compute resource as a whole: a device group's
        own; a pool's with its region's (both must be up), the outage length the longer one's."""
        r = self[rid]
        if r.kind != "pool":
            return r.availability, r.mttr_h
        site_a, site_mttr_h = self.site_availability[r.site]
        return r.availability * site_a, max(r.mttr_h, site_mttr_h)

    def link_id(self, index: int, frm: str) -> ResourceId:
        """The direction of link `index` that leaves `frm`."""
        a = self.scenario.links[index].between[0]
        return ResourceId.link(frm, index, "up" if frm == a else "down")

    # ------------------------------------------------------------------ routes
    @property
    def graph(self) -> nx.Graph:
        """The scenario's site topology (edge weight: one-way latency in ms)."""
        return self.scenario.graph

    @cached_property
    def _order(self) -> dict[str, int]:
        return {n: i for i, n in enumerate(self.scenario.sites)}

    @cached_property
    def clouds(self) -> list[str]:
        return [n for n, s in self.scenario.sites.items() if s.kind == "cloud"]

    def _from_cloud(self, cloud: str) -> dict[str, list[str]]:
        """Lowest-latency paths from a cloud site to every site: one Dijkstra per cloud serves the
        routes of every edge site to and from it (links are symmetric in latency)."""
        if cloud not in self._paths:
            self._paths[cloud] = nx.single_source_dijkstra_path(self.graph, cloud, weight="latency_ms")
        return self._paths[cloud]

    def _near(self, src: str) -> dict[str, list[str]]:
        """Lowest-latency paths from an edge site to the sites it reaches without passing through
        a cloud region: a search that stops at cloud sites, so a fleet member linked to a cloud
        hub looks at its own links only, not at every other member behind the hub."""
        key = ("near", src)
        if key not in self._paths:
            adj = self._search_adj
            dist, paths, heap, seen = {src: 0.0}, {src: [src]}, [(0.0, 0, src)], set()
            tick = 1
            while heap:
                d, _, u = heapq.heappop(heap)
                if u in seen:
                    continue
                seen.add(u)
                if u != src and u in self._cloud_set:
                    continue
                for v, latency_ms in adj[u]:
                    nd = d + latency_ms
                    if nd < dist.get(v, math.inf):
                        dist[v], paths[v] = nd, paths[u] + [v]
                        heapq.heappush(heap, (nd, tick, v))
                        tick += 1
            self._paths[key] = paths
        return self._paths[key]

    @cached_property
    def _search_adj(self) -> dict[str, list[tuple[str, float]]]:
        """The topology's adjacency (neighbour, one-way latency ms) for searches from edge sites,
        with a site's links to a fleet's single-link members cut to the two best connected (as
        `one_per_fleet` ranks them). Such a member is on the way to nothing else, and no search
        from another member needs more of them than the best (the second: when the first is
        the searcher): a search from each of a hub's thousand members stays small, where it
        walked every member (quadratic in the members)."""
        g, fleet_of = self.graph, self._fleet_of
        out: dict[str, list[tuple[str, float]]] = {}
        for u in g.nodes:
            leaves: dict[str, list[str]] = {}
            for v in g.adj[u]:
                if v in fleet_of and g.degree(v) == 1:
                    leaves.setdefault(fleet_of[v], []).append(v)
            kept = {v for vs in leaves.values() for v in sorted(vs, key=self._host_rank)[:2]}
            out[u] = [(v, e["latency_ms"]) for v, e in g.adj[u].items() if v not in fleet_of or g.degree(v) != 1 or v in kept]
        return out

    @cached_property
    def _cloud_set(self) -> frozenset[str]:
        return frozenset(self.clouds)

    def _path(self, src: str, dst: str) -> list[str]:
        if dst in self._cloud_set:
            return self._from_cloud(dst)[src][::-1]
        if src in self._cloud_set:
            return self._from_cloud(src)[dst]
        near = self._near(src)
        if dst in near:
            return near[dst]
        if ("all", src) not in self._paths:  # anything else: a full search, kept per source
            self._paths[("all", src)] = nx.single_source_dijkstra_path(self.graph, src, weight="latency_ms")
        return self._paths[("all", src)][dst]

    def route(self, src: str, dst: str) -> Route:
        """The lowest-latency path of links from `src` to `dst`."""
        key = (src, dst)
        r = self._routes.get(key)
        if r is not None:
            return r
        if src == dst:
            r = Route((), (src,), 0.0, 0.0, 0.0)
        else:
            path = self._path(src, dst)
            hops, prop, jit2, keep = [], 0.0, 0.0, 1.0
            for u, v in zip(path, path[1:]):
                i = self.graph.edges[u, v]["index"]
                link = self.scenario.links[i]
                hops.append(self.link_id(i, u))
                prop += link.rtt / 2
                jit2 += link.jitter ** 2
                keep *= 1 - link.loss_prob
            r = Route(tuple(hops), tuple(path), prop, Z99 * math.sqrt(jit2), 1 - keep)
        self._routes[key] = r
        return r

    def connected(self, a: str, b: str) -> bool:
        """Whether some path of links joins `a` and `b`."""
        return b in self.scenario.reachable_sites(a)  # one search of the graph, kept by the scenario

    def candidate_sites(self, workload: str) -> list[tuple[str, bool]]:
        """(site, whether the workload's privacy level lets its input go there) for every site
        with compute its source reaches: the source itself, every cloud region, and other edge
        sites reached without passing through a cloud (one reached only through a cloud region is
        never the sensible place), of a fleet's members other than the source only the best
        connected (`one_per_fleet`), and of the source's own fleet none with the devices the
        source has. Sites beyond the privacy level are kept so explanations can
        say privacy ruled them out. Linear in the candidates, not in the scenario's sites."""
        sc = self.scenario
        w = sc.workloads[workload]
        key = (w.source, w.privacy)
        if key in self._candidates:
            return self._candidates[key]
        found = {c for c in self.clouds if self.connected(w.source, c)}
        found |= {n for n in self._near(w.source) if sc.sites[n].kind == "edge"}
        fleet, own = self._fleet_of.get(w.source), self._compute_spec(w.source)
        out = []
        for site in self.one_per_fleet(sorted(found, key=self._order.__getitem__), keep=w.source):
            if not self.compute_at(site):
                continue
            if fleet is not None and site != w.source and self._fleet_of.get(site) == fleet \
                    and self._compute_spec(site) == own:
                # a member of the source's own fleet with the devices the source has: running
                # there only adds the transfer (and as a candidate for every member, its small
                # device left the MILP's relaxation far from the plan: 1,200 cameras behind a
                # server took 20 s to prove a plan found in one)
                continue
            out.append((site, self.privacy_allows(workload, site)))
        self._candidates[key] = out
        return out

    def _compute_spec(self, site: str) -> tuple:
        """What computes at `site`: each device group's or pool's hardware and count."""
        return tuple((r.kind, r.hardware, r.capacity) for r in self.compute_at(site))

    def one_per_fleet(self, sites: list[str], keep: str | None = None) -> list[str]:
        """`sites` in their order, but of each fleet's members with compute only the best
        connected one (its widest link, in that link's narrower direction; the first of the
        widest), and `keep`. A fleet's members are alike but for their links: one of them hosting
        another's work (a training job, a federated round, a member's requests) is one choice,
        not one per member, so options grow with the fleets, not with their members."""
        fleet_of = self._fleet_of
        best: dict[str, str] = {}
        for n in sites:
            f = fleet_of.get(n)
            if f is None or n == keep or not self.compute_at(n):
                continue
            if f not in best or self._host_rank(n) < self._host_rank(best[f]):
                best[f] = n
        return [n for n in sites if n not in fleet_of or n == keep or best.get(fleet_of[n]) == n or not self.compute_at(n)]

    def _host_rank(self, member: str) -> tuple[float, int]:
        """How a fleet's members rank as hosts, best first: the widest link, in that link's
        narrower direction, then the scenario's order."""
        return (-self._widest_mbps.get(member, 0.0), self._order[member])

    @cached_property
    def _fleet_of(self) -> dict[str, str]:
        """Each fleet member's fleet."""
        return {m: f for f, ms in self.scenario.fleets.items() for m in ms}

    @cached_property
    def _widest_mbps(self) -> dict[str, float]:
        """Each site's widest link, in that link's narrower direction (Mbit/s)."""
        out: dict[str, float] = {}
        for link in self.scenario.links:
            for site in link.between:
                out[site] = max(out.get(site, 0.0), min(link.up_mbps, link.down_mbps))
        return out

    def privacy_allows(self, workload: str, site: str) -> bool:
        """Whether the workload's privacy level lets its input go to `site`, along the route the
        planner and the simulator send it: under `region`, no site it crosses on the way may be
        in another region (a site that names no region is taken as the source's own, as an
        on-premise gateway is)."""
        sc = self.scenario
        if not sc.privacy_allows(workload, site):
            return False
        return self.foreign_transit(workload, site) is None

    def foreign_transit(self, workload: str, site: str) -> str | None:
        """The first site of another region that the workload's input crosses on its way to
        `site` under privacy `region` (None: none, or another privacy level)."""
        sc = self.scenario
        w = sc.workloads[workload]
        if w.privacy != "region" or site == w.source or not self.connected(w.source, site):
            return None
        region = sc.sites[w.source].region
        return next((s for s in self.route(w.source, site).sites[1:-1]
                     if sc.sites[s].region is not None and sc.sites[s].region != region), None)

    def __repr__(self) -> str:
        kinds = {}
        for r in self.resources.values():
            kinds[r.kind] = kinds.get(r.kind, 0) + 1
        return f"System({self.scenario.name!r}: " + ", ".join(f"{n} {k}s" for k, n in sorted(kinds.items())) + ")"


def resolve(sc: Scenario) -> System:
    """The scenario's `System`, built once and kept with the scenario."""
    s = sc.__dict__.get("_system")
    if s is None or s.scenario is not sc:  # a copy (`model_copy`) carries its original's system
        s = sc.__dict__["_system"] = System(sc)
    return s
