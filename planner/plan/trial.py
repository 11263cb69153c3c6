"""One workload moved to another option, re-costed only where the move changes something.

Explanations ask of every alternative "what if this workload ran there instead?". Assessing the
whole plan again for each would cost O(workloads) per alternative, O(workloads² x options) in
all; a `Baseline` indexes the assessed plan once per resource, and `Baseline.trial` looks only at
the resources the two options load.
"""
from __future__ import annotations

import math
from collections import ChainMap, defaultdict
from dataclasses import dataclass, field

from planner.model.accounting import MonthlyBill
from planner.model.ids import ResourceId
from planner.model.pricing import Mix, mixes
from planner.model.system import System
from planner.model.workloads import HOURS_PER_DAY
from planner.plan.assess import (
    MAX_DEVICE_UTILIZATION, Assessment, hourly_need, mix_of, option_latencies, pool_needs,
)
from planner.plan.options import LINK_RHO, Option, levels
from planner.plan.violations import Violation


@dataclass
class Trial:
    """The verdict on one alternative: the moved workload's own figures and violations, those it
    causes others or the plan, and what the plan's bill changes by."""

    p99_ms: float
    delta: MonthlyBill
    own: list[Violation] = field(default_factory=list)
    others: list[Violation] = field(default_factory=list)

    @property
    def delta_usd(self) -> float:
        return self.delta.total_usd

    @property
    def violations(self) -> list[Violation]:
        return self.own + self.others


class Baseline:
    """An assessed plan indexed per resource: who uses it, the two tightest utilisation levels
    its users allow, the language-model engines on each device, instances per pool."""

    def __init__(self, system: System, chosen: dict[str, Option], a: Assessment):
        self.system, self.chosen, self.a = system, chosen, a
        self.users: dict[ResourceId, list[str]] = defaultdict(list)
        self.tight: dict[ResourceId, list[tuple[float, str]]] = {}  # the two lowest max levels and whose
        self.engines: dict[ResourceId, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for name, o in chosen.items():
            for r in o.loads:
                self.users[r].append(name)
                if r.kind == "device":
                    self.engines[r][o.engine] += 1
                    t = self.tight.setdefault(r, [])
                    t.append((o.max_level(r), name))
                    t.sort()
                    del t[2:]
        self.by_base: dict[ResourceId, int] = defaultdict(int)
        for r, n in a.instances.items():
            self.by_base[r.base] += n
        # each pool bought by the hour: its need each hour, so a move re-prices it from the
        # difference (not by summing every workload again: explanations stay linear)
        self.need = pool_needs(system, chosen)
        # what starting each idle pool costs a month (0 for one that runs): `delta_lower_bound` asks per alternative
        self._start_usd: dict[ResourceId, float] = {}

    def _mixes_after(self, name: str, alt: Option, bases: list[ResourceId]) -> dict[ResourceId, Mix]:
        """The mixes of pools `bases` with `name` moved to `alt`."""
        need = {b: list(self.need.get(b, [0.0] * HOURS_PER_DAY)) for b in bases}
        for o, sign in ((self.chosen[name], -1.0), (alt, 1.0)):
            for r, hours in hourly_need(self.system, name, o):
                if r in need:
                    need[r] = [x + sign * y for x, y in zip(need[r], hours)]
        return {b: mix_of(self.system, b, [max(x, 0.0) for x in hours]) for b, hours in need.items()
                if any(x > 1e-12 for x in hours) or (not b.workload and self.system[b].min_instances)}

    def _pool_total(self, base: ResourceId, pools: dict[ResourceId, int]) -> int:
        """Instances a pool runs in all (its own and dedicated) with `pools` changed, its minimum kept."""
        total = self.by_base.get(base, 0) - sum(self.a.instances.get(r, 0) for r in pools) + sum(pools.values())
        return max(total, self.system[base].min_instances)

    def _moved(self, name: str, alt: Option):
        """Loads and whole pool instances of the resources the move changes."""
        before, mine, theirs = self.a.load, self.chosen[name].loads, alt.loads
        # in the options' own order, not a set's: the bill's sum then rounds the same in every run
        changed = [*mine, *(r for r in theirs if r not in mine)]
        load, inst = {}, {}
        for r in changed:  # one pass: it runs for every alternative of every workload
            load[r] = v = _zeroed(before.get(r, 0.0) - mine.get(r, 0.0) + theirs.get(r, 0.0))
            if r.kind == "pool":
                inst[r] = max(1, math.ceil(v - 1e-9)) if v > 0 else 0
        return changed, load, inst

    def delta(self, name: str, alt: Option, moved=None) -> MonthlyBill:
        """What the plan's bill changes by when `name` moves to `alt`."""
        system, a, old = self.system, self.a, self.chosen[name]
        changed, load, inst = moved or self._moved(name, alt)
        delta = alt.bill.plus(old.bill, -1.0)
        for r in changed:  # device groups bought or no longer needed
            if r.kind == "device" and (a.load.get(r, 0.0) > 0) != (load[r] > 0):
                b = system[r].month_bill(servers=system[r].servers)
                delta += b if load[r] > 0 else b * -1.0
        if not inst:  # no pool changes: nothing bought by the instance to re-price
            return delta
        bases: dict[ResourceId, dict[ResourceId, int]] = defaultdict(dict)
        for r, n in inst.items():
            bases[r.base][r] = n
        mixed = [b for b in bases if b in a.mixes or mixes(system[b])]
        after_mix = self._mixes_after(name, alt, mixed) if mixed else {}
        for base, pools in bases.items():
            before = max(self.by_base.get(base, 0), system[base].min_instances)
            after = self._pool_total(base, pools)
            if base in mixed:  # bought by the hour of the day: the mix before and after, as assess prices it
                old_b = system[base].month_bill(servers=before)
                new_b = system[base].month_bill(servers=after)
                if base in a.mixes:
                    old_b = old_b._replace(instances_usd=a.mixes[base].usd_per_month)
                if base in after_mix:
                    new_b = new_b._replace(instances_usd=after_mix[base].usd_per_month)
                delta += new_b + old_b * -1.0
            elif after != before:
                delta += system[base].month_bill(servers=after - before)
        return delta

    def removal(self, name: str) -> tuple[float, dict[ResourceId, float]]:
        """What the plan's bill changes by (USD a month) with `name` taken out, and the device
        groups that frees, with what each costs a month: what `delta_lower_bound` starts from."""
        a, old = self.a, self.chosen[name]
        freed = {}
        for r, v in old.loads.items():
            if r.kind == "device" and a.load.get(r, 0.0) > 0 and _zeroed(a.load.get(r, 0.0) - v) <= 0:
                freed[r] = self.system[r].month_bill(servers=self.system[r].servers).total_usd
        return self.delta(name, _NOTHING).total_usd, freed

    def delta_lower_bound(self, name: str, alt: Option, removal: tuple[float, dict[ResourceId, float]]) -> float:
        """A lower bound of `delta(name, alt).total_usd` that re-costs nothing: the workload taken
        out (its `removal`), `alt`'s own bill added, and back the device groups taking it out
        would free that `alt` keeps busy. Fixed costs (groups bought, whole instances, a pool's
        hourly mix) only grow with load, so whatever else `alt` adds costs nothing or more."""
        removed, freed = removal
        lower = removed + alt.bill.total_usd
        before, mine = self.a.load, self.chosen[name].loads
        started: set[ResourceId] = set()
        for r, v in alt.loads.items():
            kind = r.kind
            if kind == "link" or (kind == "device" and r not in freed):
                continue
            loaded = _zeroed(before.get(r, 0.0) - mine.get(r, 0.0) + v) > 0  # as `_moved` adds it
            if not loaded:
                continue
            if kind == "device":
                lower += freed[r]
            elif kind == "pool":
                base = r.base
                start_usd = self._start_usd.get(base)
                if start_usd is None:
                    start_usd = self._start_usd[base] = (self.system[base].month_bill(servers=1).total_usd
                                                         if self._idle(base) else 0.0)
                if start_usd and base not in started:
                    started.add(base)  # a pool that runs nothing starts a whole instance
                    lower += start_usd
        return lower - LOWER_BOUND_SLACK_USD

    def _idle(self, base: ResourceId) -> bool:
        """Whether a pool runs no instance (none needed, no minimum) and is bought by the
        instance-month, not by the hour (then its mix, not an instance, is what a move adds)."""
        res = self.system[base]
        return not self.by_base.get(base, 0) and not res.min_instances and base not in self.a.mixes and not mixes(res)

    def moved_delta(self, name: str, alt: Option) -> tuple[tuple, MonthlyBill]:
        """The resources `name`'s move to `alt` changes, and what the bill changes by: what
        `trial` starts from (an explanation ranks alternatives by it before judging any)."""
        moved = self._moved(name, alt)
        return moved, self.delta(name, alt, moved)

    def trial(self, name: str, alt: Option, moved_delta: tuple[tuple, MonthlyBill] | None = None) -> Trial:
        """`name` moved from its chosen option to `alt` (from its `moved_delta` where known)."""
        system, a, old = self.system, self.a, self.chosen[name]
        moved, delta = moved_delta or self.moved_delta(name, alt)
        changed, load, inst = moved
        util: dict[ResourceId, float] = {}
        for r, v in load.items():
            res = system[r]
            util[r] = (v * levels(res)[0] / inst[r] if inst[r] else 0.0) if r.kind == "pool" else v / res.capacity

        t = Trial(math.nan, delta)
        if alt.infeasible:
            t.own.append(alt.infeasible)
        u_all = ChainMap(util, a.utilization)
        t.p99_ms, ttft, tpot = option_latencies(system, alt, u_all, ChainMap(inst, a.instances))
        if ttft is not None:
            for label, got, slo in (("TTFT", ttft, alt.ttft_slo_ms), ("TPOT", tpot, alt.tpot_slo_ms)):
                if slo is not None and got > slo * (1 + 1e-9):
                    t.own.append(Violation("slo", f"SLO: {label} p99 {_ms(got)} > {slo:g} ms", None, got, slo))
        if alt.slo_ms is not None and t.p99_ms > alt.slo_ms * (1 + 1e-9):
            t.own.append(Violation("slo", f"SLO: p99 {_ms(t.p99_ms)} > {alt.slo_ms:g} ms", None, t.p99_ms, alt.slo_ms))

        for r in changed:
            res, u = system[r], util[r]
            mine = r in alt.loads
            found: Violation | None = None
            # alone on a group, a routed pair's bounded queue may fill it (assess.device_limit)
            alone = not any(n != name for _, n in self.tight.get(r, []))
            limit = max(alt.group_levels(res)) if mine and alone else MAX_DEVICE_UTILIZATION
            if r.kind == "device" and u > limit + 1e-9:
                found = Violation("capacity", f"capacity: {res.label} at {u:.0%} (limit {limit:.0%})", r, u, limit)
            elif r.kind == "pool" and load[r] > res.capacity + 1e-9:
                found = Violation("capacity", f"capacity: {res.hardware} pool at {res.site} needs {load[r]:.1f} "
                                              f"instances, max {res.capacity:g}", r, load[r], res.capacity)
            elif r.kind == "link" and u > LINK_RHO + 1e-9:
                found = Violation("bandwidth", f"bandwidth: {res.label} at {u:.0%} (limit {LINK_RHO:.0%})", r, u, LINK_RHO)
            if found is not None:
                (t.own if mine else t.others).append(found)
                continue
            if r.kind != "device" or not mine:
                continue
            # what the move does to the others on this device: their SLO level, their engine
            other = next(((lvl, n) for lvl, n in self.tight.get(r, []) if n != name), None)
            if other is not None and u > other[0] + 1e-9:
                t.others.append(Violation("slo", f"SLO: puts {other[1]} on {res.label} at {u:.0%}, above the "
                                                 f"{other[0]:.0%} at which it meets its SLO", r, u, other[0]))
            engines = {e for e, k in self.engines.get(r, {}).items() if k - (old.engine == e and r in old.loads) > 0}
            if engines and engines != {alt.engine}:
                names = sorted({e or "other models" for e in engines} - {alt.engine or "other models"})
                t.own.append(Violation("engine", f"device: {res.label} also runs {', '.join(names) or 'other models'}; "
                                                 f"a device serves one language model (or other models) at a time", r))
        budget = system.scenario.budget_usd_per_month
        if budget is not None and a.monthly_cost_usd + delta.total_usd > budget * (1 + 1e-9):
            total = a.monthly_cost_usd + delta.total_usd
            t.others.append(Violation("budget", f"budget: ${total:,.0f}/month > ${budget:,.0f}", None, total, budget))
        return t


#: what a delta's lower bound gives away to rounding (USD a month): it must never exceed the delta
LOWER_BOUND_SLACK_USD = 1e-6
#: an option that loads nothing and costs nothing: a workload moved to it is taken out of the plan
_NOTHING = Option("", "", "", "", "inference")


def _zeroed(load: float) -> float:
    """A load after a move, with what rounding leaves of a load taken off read as none."""
    return 0.0 if abs(load) < 1e-12 else load


def _ms(x: float) -> str:
    return "∞ ms" if math.isinf(x) else f"{x:,.1f} ms"
