"""Fleets: a site entry that stands for many member sites, expanded into ordinary sites at load.

A site with `count: N` is a fleet of N members named `<site>-001` ... (zero-padded to the width
of N); with `members: FILE.csv` its members are the inventory's rows (`inventory.py`), named by
its `name` column, and `count`, if given, must match. Each member is the fleet's site entry with
the inventory's overrides. Then:
  - a link with a fleet at one end becomes one link per member;
  - a workload whose `source` is a fleet becomes one instance per member, `<workload>@<member>`;
  - a numeric field of such a link, or of such a workload's arrival, may be a distribution
    (`distributions.py`), drawn per member from the scenario's seed;
  - a federated workload's `sites:` naming a fleet lists its members (a federated workload is one
    job across sites, not copied per member: a fleet as its `source` stands for its first member);
  - `deploy_to` naming a fleet workload names its instances: the same member's instance when the
    training workload is itself an instance of that fleet, else every instance.

Loading validates the file first as written, each fleet standing as one site and each
distribution as its mean (so errors name the fields as written), then the expanded scenario.
The planner and the simulator see only ordinary sites, links and workloads; what was a fleet is
kept as `Scenario.fleets`, `Site.fleet` and each workload's `fleet`, `member`, `base_workload`.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, ValidationError

from planner.errors import ScenarioError
from planner.scenario.distributions import Distribution, is_distribution
from planner.scenario.fields import PosInt, _Model
from planner.scenario.inventory import Inventory, read_inventory
from planner.scenario.limits import MAX_FLEET_MEMBERS
from planner.scenario.validation_errors import _to_scenario_error

#: Site fields that make a site entry a fleet (removed from each member).
FLEET_FIELDS = ("count", "members")

Resolve = Callable[[str, str], tuple[Path, str]]  # (file name, field) -> (path, name shown in errors)


class FleetSpec(_Model):
    """The fleet fields of a site entry, validated before anything is expanded."""

    count: Annotated[PosInt, Field(le=MAX_FLEET_MEMBERS)] | None = None
    members: Annotated[str, Field(min_length=1)] | None = None


@dataclass
class Fleet:
    """One fleet: its member names in order and the inventory they came from (if any)."""

    name: str
    members: list[str]
    inventory: Inventory | None = None

    def figure(self, column: str, i: int) -> Any:
        """Member `i`'s inventory value in `column`, or None (no inventory, column or value)."""
        inv = self.inventory
        if inv is None:
            return None
        if column == "region":
            return inv.regions[i] if inv.regions else None
        values = inv.numbers.get(column)
        return values[i] if values else None

    def __repr__(self) -> str:
        return f"Fleet({self.name!r}, {len(self.members)} members)"


@dataclass
class Expansion:
    """The scenario mapping with fleets expanded, and where each expanded entry came from."""

    data: dict[str, Any]
    fleets: dict[str, Fleet]
    site_fleet: dict[str, str] = field(default_factory=dict)  # member -> fleet
    instances: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # name -> (fleet, member, base)
    link_origin: list[int] = field(default_factory=list)  # expanded link index -> index as written
    link_member: list[str | None] = field(default_factory=list)

    def error_as_written(self, err: ScenarioError) -> ScenarioError:
        """An error in the expanded scenario, its field named as written (which member, in the hint)."""
        path, member = err.field, None
        m = re.match(r"(sites|workloads)\.([^.\[]+)(.*)", path)
        if m and m.group(1) == "sites" and m.group(2) in self.site_fleet:
            member = m.group(2)
            path = f"sites.{self.site_fleet[member]}{m.group(3)}"
        elif m and m.group(1) == "workloads" and m.group(2) in self.instances:
            _, member, base = self.instances[m.group(2)]
            path = f"workloads.{base}{m.group(3)}"
        m = re.match(r"links\[(\d+)\](.*)", path)
        if m and int(m.group(1)) < len(self.link_origin):
            member = self.link_member[int(m.group(1))]
            path = f"links[{self.link_origin[int(m.group(1))]}]{m.group(2)}"
        hint = "; ".join(x for x in (err.hint, f"fleet member '{member}'" if member else "") if x)
        return ScenarioError(err.file, path, err.reason, hint)


def fleet_specs(data: Mapping[str, Any], file: str) -> dict[str, FleetSpec]:
    """The fleets of a raw scenario mapping by site name ({} when there are none)."""
    sites = data.get("sites")
    if not isinstance(sites, dict):
        return {}
    out = {}
    for name, site in sites.items():
        if isinstance(site, dict) and any(k in site for k in FLEET_FIELDS):
            try:
                out[name] = FleetSpec.model_validate({k: site[k] for k in FLEET_FIELDS if k in site})
            except ValidationError as e:
                raise _to_scenario_error(e, file, FleetSpec, f"sites.{name}") from None
    return out


def as_written(data: dict[str, Any], specs: Mapping[str, FleetSpec], file: str) -> dict[str, Any]:
    """The scenario as written with each fleet one site and each distribution its mean: what is
    validated first, so that errors of types, ranges and field names name the fields as written."""
    out = {**data, "sites": {n: ({k: v for k, v in s.items() if k not in FLEET_FIELDS} if n in specs else s)
                             for n, s in data["sites"].items()}}
    if isinstance(data.get("links"), list):
        out["links"] = [_typical(link, f"links[{i}]", file) if isinstance(link, dict) else link
                        for i, link in enumerate(data["links"])]
    if isinstance(data.get("workloads"), dict):
        out["workloads"] = {n: ({**w, "arrival": _typical(w["arrival"], f"workloads.{n}.arrival", file)}
                                if isinstance(w, dict) and isinstance(w.get("arrival"), dict) else w)
                            for n, w in data["workloads"].items()}
    return out


def expand(data: dict[str, Any], specs: Mapping[str, FleetSpec], seed: int, file: str, resolve: Resolve) -> Expansion:
    """Expand the fleets of a scenario mapping already valid as written (`as_written`)."""
    fleets = {name: _members(name, spec, file, resolve) for name, spec in specs.items()}
    out = Expansion(data={**data}, fleets=fleets)
    out.data["sites"] = _sites(data["sites"], fleets, out, file)
    out.data["links"] = _links(data.get("links") or [], fleets, seed, out, file)
    out.data["workloads"] = _workloads(data["workloads"], fleets, seed, out, file)
    return out


# --------------------------------------------------------------------------- members and sites
def _members(name: str, spec: FleetSpec, file: str, resolve: Resolve) -> Fleet:
    if spec.members is None:
        if spec.count is None:  # FleetSpec is only made when one of the two is present
            raise ScenarioError(file, f"sites.{name}.count", "missing required field")
        width = len(str(spec.count))
        return Fleet(name, [f"{name}-{i:0{width}d}" for i in range(1, spec.count + 1)])
    path, shown = resolve(spec.members, f"sites.{name}.members")
    try:
        inv = read_inventory(path, shown)
    except ScenarioError as e:
        raise _inventory_error(file, name, e.file, e.field, e.reason, e.hint) from None
    if spec.count is not None and spec.count != len(inv):
        raise ScenarioError(file, f"sites.{name}.count", f"count is {spec.count} but the inventory {shown} "
                            f"lists {len(inv)} members", "leave count out, or make them agree")
    width = len(str(len(inv)))
    names = [n if n is not None else f"{name}-{i:0{width}d}" for i, n in enumerate(inv.names, start=1)]
    return Fleet(name, names, inv)


def _sites(sites: dict[str, Any], fleets: Mapping[str, Fleet], out: Expansion, file: str) -> dict[str, Any]:
    expanded: dict[str, Any] = {}
    for name, site in sites.items():
        if name not in fleets:
            expanded[name] = site
            continue
        fleet = fleets[name]
        template = {k: v for k, v in site.items() if k not in FLEET_FIELDS}
        counts = fleet.inventory.device_counts if fleet.inventory else {}
        for i, member in enumerate(fleet.members):
            entry = dict(template)
            region = fleet.figure("region", i)
            if region is not None:
                entry["region"] = region
            if counts:
                entry["devices"] = _devices(template.get("devices") or [], {hw: c[i] for hw, c in counts.items()})
            if member in expanded or member in sites:
                raise _clash(fleet, i, member, "site", file)
            expanded[member] = entry
            out.site_fleet[member] = name
    return expanded


def _devices(template: list[dict[str, Any]], counts: Mapping[str, int | None]) -> list[dict[str, Any]]:
    """The fleet's device groups with each inventory count applied: the group of that hardware
    gets the count (0 removes it), or a new group of default settings is added."""
    groups = [dict(g) for g in template]
    for hw, n in counts.items():
        if n is None:
            continue
        group = next((g for g in groups if g.get("hardware") == hw), None)
        if group is None and n > 0:
            groups.append({"hardware": hw, "count": n})
        elif group is not None:
            group["count"] = n
    return [g for g in groups if g.get("count", 1) != 0]


def _clash(fleet: Fleet, i: int, name: str, what: str, file: str) -> ScenarioError:
    inv = fleet.inventory
    if inv is not None and inv.names[i] is not None:
        return _inventory_error(file, fleet.name, inv.file, f"row {inv.rows[i]}, column 'name'",
                                f"'{name}' is already a {what} name")
    return ScenarioError(file, f"sites.{fleet.name}", f"member '{name}' is already a {what} name")


def _inventory_error(file: str, fleet: str, inventory: str, where: str, reason: str, hint: str = "") -> ScenarioError:
    """An error in a fleet's inventory, reported against the scenario's `sites.<fleet>.members`
    with the inventory's file, row and column leading the reason."""
    return ScenarioError(file, f"sites.{fleet}.members", f"{inventory}{' ' + where if where else ''}: {reason}", hint)


# --------------------------------------------------------------------------- links
def _links(links: list[dict[str, Any]], fleets: Mapping[str, Fleet], seed: int, out: Expansion, file: str) -> list[dict[str, Any]]:
    expanded: list[dict[str, Any]] = []
    for i, link in enumerate(links):
        ends = list(link["between"])
        at_fleet = [k for k, end in enumerate(ends) if end in fleets]
        if len(at_fleet) == 2:
            raise ScenarioError(file, f"links[{i}].between", "a link joins at most one fleet (give each member's "
                                "link to one site, or list the links)")
        draws = _draws(link, f"links[{i}]", None if not at_fleet else fleets[ends[at_fleet[0]]], seed, file,
                       "this link joins no fleet")
        if not at_fleet:
            expanded.append(link)
            out.link_origin.append(i)
            out.link_member.append(None)
            continue
        k = at_fleet[0]
        fleet = fleets[ends[k]]
        # the member's uplink runs from the member: the link's uplink when the member is between[0]
        up_field, down_field = ("uplink_mbps", "downlink_mbps") if k == 0 else ("downlink_mbps", "uplink_mbps")
        for j, member in enumerate(fleet.members):
            entry = dict(link)
            entry["between"] = [member, ends[1]] if k == 0 else [ends[0], member]
            for name, values in draws.items():
                entry[name] = values[j]
            for column, target in (("uplink_mbps", up_field), ("downlink_mbps", down_field), ("rtt_ms", "rtt_ms")):
                value = fleet.figure(column, j)
                if value is not None:
                    entry[target] = value
            expanded.append(entry)
            out.link_origin.append(i)
            out.link_member.append(member)
    return expanded


def _draws(entry: Mapping[str, Any], at: str, fleet: Fleet | None, seed: int, file: str, why_not: str) -> dict[str, list[float]]:
    """Per-member values of the distribution fields of `entry` (a link or an arrival)."""
    out = {}
    for name, value in entry.items():
        if not is_distribution(value):
            continue
        if fleet is None:
            raise ScenarioError(file, f"{at}.{name}", f"a distribution is drawn per fleet member, and {why_not}",
                                "give a number")
        # as a list of floats: indexing a numpy array per member costs more than the draw
        out[name] = _distribution(value, f"{at}.{name}", file).draw(seed, f"{at}.{name}", len(fleet.members)).tolist()
    return out


def _distribution(value: Any, at: str, file: str) -> Distribution:
    try:
        return Distribution.model_validate(value)
    except ValidationError as e:
        raise _to_scenario_error(e, file, Distribution, at) from None


def _typical(entry: dict[str, Any], at: str, file: str) -> dict[str, Any]:
    """`entry` with each distribution replaced by its mean (checked as a distribution first)."""
    if not any(is_distribution(v) for v in entry.values()):
        return entry
    return {k: (_distribution(v, f"{at}.{k}", file).typical if is_distribution(v) else v) for k, v in entry.items()}


# --------------------------------------------------------------------------- workloads
#: arrival fields that a member's `rate_scale` multiplies
RATE_FIELDS = ("rate_per_s", "rate_low_per_s", "rate_high_per_s")


def _workloads(workloads: dict[str, Any], fleets: Mapping[str, Fleet], seed: int, out: Expansion, file: str) -> dict[str, Any]:
    # instance names of each fleet workload, for deploy_to
    instances_of = {name: fleets[w["source"]] for name, w in workloads.items()
                    if w["source"] in fleets and w.get("kind") != "federated"}
    expanded: dict[str, Any] = {}
    for name, w in workloads.items():
        at = f"workloads.{name}"
        if w.get("kind") == "federated":
            expanded[name] = _federated(w, fleets)
            continue
        fleet = fleets.get(w["source"])
        arrival = w.get("arrival")
        draws = _draws(arrival, f"{at}.arrival", fleet, seed, file, f"source '{w['source']}' is not a fleet") \
            if isinstance(arrival, dict) else {}
        if fleet is None:
            expanded[name] = _deploy_to(w, instances_of, None)
            continue
        scales = fleet.inventory.numbers.get("rate_scale") if fleet.inventory else None
        if scales and isinstance(arrival, dict) and arrival.get("process") == "trace":
            raise _inventory_error(file, fleet.name, fleet.inventory.file if fleet.inventory else "", "column 'rate_scale'",
                                   f"cannot scale the trace arrival of {at} (a trace replays its timestamps)")
        for j, member in enumerate(fleet.members):
            inst = _deploy_to(w, instances_of, (fleet.name, member))
            inst["source"] = member
            if isinstance(arrival, dict) and (draws or scales):
                a = {**arrival, **{k: v[j] for k, v in draws.items()}}
                scale = scales[j] if scales else None
                if scale is not None:
                    for k in RATE_FIELDS:
                        if k in a:
                            a[k] = a[k] * scale
                inst["arrival"] = a
            key = f"{name}@{member}"
            if key in workloads or key in expanded:
                raise ScenarioError(file, at, f"instance '{key}' is already a workload name")
            expanded[key] = inst
            out.instances[key] = (fleet.name, member, name)
    return expanded


def _federated(w: dict[str, Any], fleets: Mapping[str, Fleet]) -> dict[str, Any]:
    sites = w.get("sites") or []
    if not any(s in fleets for s in sites) and w["source"] not in fleets:
        return w
    entry = dict(w)
    entry["sites"] = [m for s in sites for m in (fleets[s].members if s in fleets else [s])]
    if w["source"] in fleets:
        entry["source"] = fleets[w["source"]].members[0]
    return entry


def _deploy_to(w: dict[str, Any], instances_of: Mapping[str, Fleet], own: tuple[str, str] | None) -> dict[str, Any]:
    """A copy of `w` whose `deploy_to` names instances: this member's own where the target is of
    the same fleet, else every instance of a fleet workload."""
    targets = w.get("deploy_to")
    entry = dict(w)
    if not targets or not any(t in instances_of for t in targets):
        return entry
    names: list[str] = []
    for t in targets:
        fleet = instances_of.get(t)
        if fleet is None:
            names.append(t)
        elif own is not None and own[0] == fleet.name:
            names.append(f"{t}@{own[1]}")
        else:
            names.extend(f"{t}@{m}" for m in fleet.members)
    entry["deploy_to"] = names
    return entry



def attach(sc: Any, exp: Expansion) -> None:
    """Record on the validated scenario what was a fleet (private attributes, read through
    `Scenario.fleets`, `Site.fleet`, and each workload's `fleet`, `member`, `base_workload`)."""
    sc._fleets = {name: list(f.members) for name, f in exp.fleets.items()}
    for member, fleet in exp.site_fleet.items():
        sc.sites[member]._fleet = fleet
    for name, (fleet, member, base) in exp.instances.items():
        w = sc.workloads[name]
        w._fleet, w._member, w._base_workload = fleet, member, base


def schema_with_fleets(schema: dict[str, Any]) -> dict[str, Any]:
    """Add the fleet format to the JSON Schema of the expanded models: a site's `count` and
    `members`, and a distribution wherever a link or an arrival takes a number."""
    defs = schema.setdefault("$defs", {})
    defs["Distribution"] = Distribution.model_json_schema()
    site = defs.get("Site", {}).get("properties", {})
    site.update(FleetSpec.model_json_schema()["properties"])
    dist = {"$ref": "#/$defs/Distribution"}
    for model in ("Link", "Poisson", "Periodic", "Bursty", "Diurnal"):
        for prop in defs.get(model, {}).get("properties", {}).values():
            kinds = prop.get("anyOf", [prop])
            if any(k.get("type") in ("number", "integer") for k in kinds):
                if "anyOf" in prop:
                    prop["anyOf"].append(dist)
                else:
                    number = {k: prop.pop(k) for k in list(prop) if k not in ("title", "default", "description")}
                    prop["anyOf"] = [number, dist]
    return schema
