"""The whole scenario: sites, links and workloads with the objective, prices and sweep."""
from __future__ import annotations

from functools import cached_property
from typing import Annotated, Any, Literal

import networkx as nx
from pydantic import Field, PrivateAttr

from planner import catalog
from planner.scenario.fields import NonNeg, NonNegInt, Pos, PosInt, _Model
from planner.scenario.sites import Link, Site
from planner.scenario.workloads import Workload


class Prices(_Model):
    """Prices that differ from the catalog's defaults."""

    electricity_usd_per_kwh: NonNeg | None = None
    amortisation_months: Pos | None = None
    egress_usd_per_gb: NonNeg | None = None


class Sweep(_Model):
    """A study declared in the scenario: `planner sweep FILE` runs every combination of `set`
    (dotted path -> values) with `replications` seeds each."""

    set: dict[str, Annotated[list[Any], Field(min_length=1)]] = {}
    replications: PosInt = 1


class Scenario(_Model):
    """A whole architecture question: sites, links and workloads, with the objective."""

    name: Annotated[str, Field(min_length=1)]
    description: str = ""
    horizon_s: Pos = 600.0
    seed: NonNegInt = 0
    objective: Literal["cost", "latency", "energy", "carbon"] = "cost"
    # A carbon price the cost objective adds per tonne of CO2e (a shadow price: it steers the
    # choice but is no line of the bill the architect pays; 0 leaves the cost plan unchanged).
    carbon_usd_per_t: NonNeg = 0.0
    budget_usd_per_month: Pos | None = None
    # Plan against the pessimistic end of the cost model's 80% interval (`latency_ms_high`):
    # for hardware whose figures are transferred or assumed rather than calibrated.
    robust: bool = False
    prices: Prices = Prices()
    sites: Annotated[dict[str, Site], Field(min_length=1)]
    links: list[Link] = []
    workloads: Annotated[dict[str, Workload], Field(min_length=1)]
    sweep: Sweep | None = None

    # Where the file came from: relative paths (traces, .onnx models) resolve against it.
    source_file: Annotated[str, Field(exclude=True)] = ""

    # Set by loading: fleet name -> its member sites, in order (fleets.py).
    _fleets: dict[str, list[str]] = PrivateAttr(default_factory=dict)

    @property
    def fleets(self) -> dict[str, list[str]]:
        """Each fleet (a site entry with `count:` or `members:`) and its member sites, in order;
        {} when the scenario has none. Members are ordinary entries of `sites`, each with
        `Site.fleet`; a workload sourced at a fleet is one instance per member in `workloads`,
        each with `fleet`, `member` and `base_workload`."""
        return self._fleets

    @cached_property
    def graph(self) -> nx.Graph:
        """The site topology; edge weight is the link's one-way latency in ms."""
        g = nx.Graph()
        g.add_nodes_from(self.sites)
        for i, link in enumerate(self.links):
            g.add_edge(*link.between, index=i, latency_ms=link.rtt / 2)
        return g

    @cached_property
    def _components(self) -> dict[str, frozenset[str]]:
        """Each site's connected component, from one search of the graph (not one per call)."""
        out: dict[str, frozenset[str]] = {}
        for comp in nx.connected_components(self.graph):
            frozen = frozenset(comp)
            for n in frozen:
                out[n] = frozen
        return out

    def reachable_sites(self, source: str) -> frozenset[str]:
        """Sites joined to `source` by some path of links (itself included)."""
        return self._components[source]

    @property
    def names_kv_precision(self) -> bool:
        """Whether any workload sets its KV-cache precision (one value or a choice): only then do
        placement tables (CLI, app, report) show the `kv_precision` column."""
        return any(getattr(w, "kv_precision", None) is not None for w in self.workloads.values())

    def privacy_allows(self, workload: str, site: str) -> bool:
        """Whether the workload's privacy level lets its input go to `site` (links aside)."""
        w = self.workloads[workload]
        if w.privacy == "site":
            return site == w.source
        if w.privacy == "region":
            region = self.sites[w.source].region
            return site == w.source or bool(region and self.sites[site].region == region)
        return True

    def allowed_sites(self, workload: str) -> list[str]:
        """Sites the workload's input may reach under its privacy level (and the links)."""
        reach = self.reachable_sites(self.workloads[workload].source)
        return [n for n in self.sites if n in reach and self.privacy_allows(workload, n)]

    def electricity_usd_per_kwh(self) -> float:
        p = self.prices.electricity_usd_per_kwh
        return p if p is not None else catalog.price("electricity_usd_per_kwh")

    def amortisation_months(self) -> float:
        p = self.prices.amortisation_months
        return p if p is not None else catalog.price("amortisation_months")

    def __repr__(self) -> str:
        return (
            f"Scenario({self.name!r}, sites={len(self.sites)}, links={len(self.links)}, "
            f"workloads={len(self.workloads)}, objective={self.objective})"
        )
