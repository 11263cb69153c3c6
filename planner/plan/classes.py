"""Fleet members planned by class: members whose resolved figures are the same (their site, their
links, their workload instances) are decided once, with their number as a multiplicity in the
MILP, so that shared cloud pools and the budget stay joint while the problem grows with the
number of distinct members, not of members. Members that differ are decided apart.

A member referred to by anything but its own instances (a federated workload's sites, another
workload's source, a link to another member) is its own class.
"""
from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from functools import lru_cache

from planner.model.ids import ResourceId
from planner.model.system import System
from planner.plan.options import Option


@dataclass
class Classes:
    """Which member stands for which (`rep`), and how to carry a representative's decision over."""

    system: System
    rep: dict[str, str] = field(default_factory=dict)  # member site -> its class's representative
    members: dict[str, list[str]] = field(default_factory=dict)  # representative -> its class, itself first
    links: dict[str, dict[tuple, int]] = field(default_factory=dict)  # member -> (other end, side, n) -> link index
    member_of: dict[str, str] = field(default_factory=dict)  # fleet workload instance -> its member
    _owners: dict[ResourceId, int] = field(default_factory=dict)  # resource -> copies it stands for (cache)

    def planned(self) -> list[str]:
        """The workloads the solver decides: all but the instances of non-representative members."""
        sc = self.system.scenario
        return [n for n in sc.workloads if n not in self.member_of or self.rep.get(self.member_of[n]) == self.member_of[n]]

    def copies(self, workload: str) -> int:
        """How many members a planned workload stands for."""
        m = self.member_of.get(workload)
        return len(self.members.get(m, ())) or 1 if m is not None else 1

    def resource_copies(self, r: ResourceId) -> int:
        """How many members' resources a representative's own resource stands for (1 if shared)."""
        k = self._owners.get(r)
        if k is None:
            k = self._owners[r] = len(self.members.get(self._owner(r), ())) or 1
        return k

    def _owner(self, r: ResourceId) -> str | None:
        if r.kind != "link":
            return r.site if r.site in self.members else None
        link = self.system.scenario.links[r.index]
        return next((s for s in link.between if s in self.members), None)

    def expand(self, chosen: dict[str, Option]) -> dict[str, Option]:
        """Every member's instances with their representative's choice, on their own resources."""
        sc = self.system.scenario
        out = dict(chosen)
        for name, o in chosen.items():
            w = sc.workloads[name]
            if w.member is None or len(self.members.get(w.member, ())) < 2:
                continue
            for m in self.members[w.member][1:]:
                out[f"{w.base_workload}@{m}"] = self._carry(o, w.member, m, f"{w.base_workload}@{m}")
        return out

    def _carry(self, o: Option, rep: str, m: str, name: str) -> Option:
        def move(r: ResourceId) -> ResourceId:
            if r.kind == "link":
                if self._owner(r) != rep:
                    return r
                key = self._link_key(r.index, rep)
                j = self.links[m][key]
                frm = m if r.site == rep else r.site
                return ResourceId.link(frm, j, r.direction)
            moved = r._replace(site=m) if r.site == rep else r
            if r.workload and r.workload == o.workload:  # the instance's own engines become the member's
                return moved.dedicated(name)
            return moved  # and those its fleet's members share stay shared

        return replace(o, workload=name, site=m if o.site == rep else o.site,
                       loads={move(r): v for r, v in o.loads.items()},
                       p99_ms_by_level={move(r): v for r, v in o.p99_ms_by_level.items()},
                       stages=[(move(r), s) for r, s in o.stages],
                       hourly={move(r): v for r, v in o.hourly.items()},
                       parts=tuple(self._carry(p, rep, m, name) for p in o.parts) if o.parts else None)

    def _link_key(self, index: int, member: str) -> tuple:
        for key, i in self.links[member].items():
            if i == index:
                return key
        raise KeyError(index)

    def rename(self, text: str, rep: str, member: str) -> str:
        """A representative's explanation, told of another member of its class."""
        return _name_pattern(rep).sub(member, text)


@lru_cache(maxsize=4096)
def _name_pattern(name: str) -> re.Pattern[str]:
    """`name` as a whole word of an explanation (not part of a longer site or workload name)."""
    return re.compile(rf"(?<![\w.-]){re.escape(name)}(?![\w.-])")


def classes(system: System) -> Classes:
    """Group each fleet's members by their resolved figures."""
    sc = system.scenario
    out = Classes(system)
    if not sc.fleets:
        return out
    members = {m for ms in sc.fleets.values() for m in ms}
    alone: set[str] = set()
    for n, w in sc.workloads.items():  # members referred to by other than their own instances
        if w.member is None:
            alone.add(w.source)
            alone.update(getattr(w, "sites", []) or [])
            if getattr(w, "aggregator", None):
                alone.add(w.aggregator)
    by_site: dict[str, list[int]] = {}
    for i, link in enumerate(sc.links):
        for s in link.between:
            by_site.setdefault(s, []).append(i)
        if link.between[0] in members and link.between[1] in members:
            alone.update(link.between)
    instances: dict[str, list[str]] = {}
    for n, w in sc.workloads.items():
        if w.member is not None:
            instances.setdefault(w.member, []).append(n)
            out.member_of[n] = w.member
    # A member's own figures (its site and links) first: where no other member shares them (a
    # fleet whose links are drawn per member) it is its own class, and its workloads' figures,
    # most of the work, need not be compared.
    own: dict[str, str] = {}
    for fleet, ms in sc.fleets.items():
        for m in ms:
            keys: dict[tuple, int] = {}
            parts = []
            for i in by_site.get(m, []):
                link = sc.links[i]
                side = link.between.index(m)
                other = link.between[1 - side]
                k = (other, side, sum(1 for key in keys if key[:2] == (other, side)))
                keys[k] = i
                parts.append([list(k), link.model_dump(exclude={"between"})])
            out.links[m] = keys
            if m not in alone:
                own[m] = json.dumps([fleet, sc.sites[m].model_dump(), sorted(parts, key=str)], sort_keys=True, default=str)
    alike = Counter(own.values())
    groups: dict[tuple, list[str]] = {}
    for ms in sc.fleets.values():
        for m in ms:
            if m in alone:
                sig: tuple = ("alone", m)
            elif alike[own[m]] == 1:
                sig = (own[m],)
            else:
                wl = [[sc.workloads[n].base_workload, _workload_figures(sc.workloads[n])] for n in instances.get(m, [])]
                sig = (own[m], json.dumps(sorted(wl, key=str), sort_keys=True, default=str))
            groups.setdefault(sig, []).append(m)
    for ms in groups.values():
        out.members[ms[0]] = ms
        for m in ms:
            out.rep[m] = ms[0]
    return out


def _workload_figures(w) -> dict:
    """What decides an instance's options: everything but where it comes from and what it is called."""
    d = w.model_dump(exclude={"source"})
    if "deploy_to" in d:  # a member's training deploys to the same member's instances
        d["deploy_to"] = sorted(t.split("@", 1)[0] for t in d["deploy_to"])
    return d
