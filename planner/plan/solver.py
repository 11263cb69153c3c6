"""The joint placement MILP, solved by HiGHS through `scipy.optimize.milp`.

Variables: x[o] = 1 when option o is chosen (one per workload); y[r] = 1 when device group or
pool r is used; z[g, l] = 1 when device group g runs at utilisation level l; n[p] = whole
instances running in pool p.

Constraints:
- one option per workload;
- a device group's load <= devices x its chosen level; an option on the group needs a level at
  which it still meets its SLO (so p99 predictions stay valid whatever else shares the group);
- a pool runs whole instances (an integer, up to max_instances) enough for its instance-loads,
  billed per instance; its minimum is kept running whether used or not, counted over its own
  instances and those dedicated to language models; a link direction's Mbps <= LINK_RHO x capacity;
- a pool that lists more than on demand is bought by the hour of the day: each hour its options'
  instance-loads at that hour's rate fit in a reserved base rv[p] (paid all month) plus whole
  hourly instances hv[p, h] (on demand or spot, paid for that hour), as `model/pricing.py` prices it;
- monthly cost <= budget; optionally the rate-weighted p99 <= a bound (the Pareto front).
Objective: one of `objectives.OBJECTIVES` (monthly cost with the scenario's carbon price, rate-weighted p99,
energy, emissions), each with its tie-break.

At fleet size (`RELAXATION_FIRST_COLUMNS`) the LP relaxation is solved first and kept where it
comes out in whole numbers: it is then the MILP's optimum, found without the MIP presolve.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_matrix

from planner.errors import InputError
from planner.model.accounting import MonthlyBill
from planner.model.ids import ResourceId
from planner.model.pricing import DAYS_PER_MONTH, hourly_rate, mixes, reserved_rate
from planner.model.system import System
from planner.model.workloads import HOURS_PER_DAY, hourly_shape
from planner.plan.objectives import OBJECTIVES
from planner.plan.options import LINK_RHO, Option, levels
from planner.units import HOURS_PER_MONTH



#: MILPs of this many columns or more (fleets of a few hundred distinct members) try their LP
#: relaxation first (`solve`); smaller ones go straight to HiGHS's MIP, which solves them in
#: well under a second
RELAXATION_FIRST_COLUMNS = 20_000
#: how far from a whole number a relaxation's value may be and still be read as that number
INTEGRAL_TOL = 1e-6


@dataclass
class Solution:
    """What the solver chose: an option index per workload and the level per device group."""

    status: str  # optimal | infeasible | time_limit | error
    chosen: dict[str, Option]
    levels: dict[ResourceId, float]
    objective: float
    message: str = ""
    unplaced: list[str] = field(default_factory=list)  # workloads left out: no option, or none fits beside the rest
    # what `undominated` found of the options (id -> 0 for one no other dominates, that the MILP
    # chose among, else the id of one that dominates it): explanations start from it
    dominance: dict[int, int] = field(default_factory=dict)


def solve(
    system: System,
    options: dict[str, list[Option]],
    *,
    objective: str = "cost",
    budget_usd_per_month: float | None = None,
    weights: dict[str, float] | None = None,
    max_weighted_p99_ms: float | None = None,
    time_limit_s: float = 60.0,
    copies: Callable[[str], int] | None = None,
    resource_copies: Callable[[ResourceId], int] | None = None,
) -> Solution:
    """Choose one feasible option per workload, placing all it can: a workload with no feasible
    option, or none that fits beside the others, is left out (`Solution.unplaced`) rather than
    making the whole plan infeasible. `weights` (workload -> share) weight each p99 in the latency
    objective and in `max_weighted_p99_ms`.

    `copies(workload)` is how many identical fleet members a workload stands for, and
    `resource_copies(r)` how many members' own resources `r` stands for (`classes.Classes`): a
    shared resource carries every copy's load, a member's own resource one member's, and money
    counts every copy."""
    weights = weights or {}
    copies = copies or (lambda w: 1)
    resource_copies = resource_copies or (lambda r: 1)
    memo: dict = {}  # dominance per kind of workload (`undominated`)
    dominance: dict[int, int] = {}
    # dominance among every feasible option, then those with a level that meets their SLO: a
    # dominator of one that has such a level has it too, so these are the undominated among
    # them, and the record answers the explanations for every feasible option
    cand = {w: [o for o in undominated([o for o in os_ if not o.infeasible], memo, record=dominance) if _slo_possible(o)]
            for w, os_ in options.items()}
    empty = [w for w, os_ in cand.items() if not os_]
    cand = {w: os_ for w, os_ in cand.items() if os_}
    if not cand:
        return Solution("infeasible", {}, {}, math.nan, f"no feasible option for {', '.join(empty)}", empty)

    # Variable layout: options, then fixed-cost indicators, then levels.
    flat: list[Option] = [o for w in cand for o in cand[w]]
    n_x = len(flat)
    # One pass over every option's loads (hundreds of thousands at fleet size): each resource's
    # loads in copies (a shared resource carries every copy's load, a member's own one member's),
    # and on each device group the levels its options allow, each option's highest, and the
    # language-model engines on it. A device runs one language-model engine or ordinary batches,
    # not both: the simulator's engine holds the device while it has sequences, and two models'
    # weights rarely fit.
    k_of = {w: copies(w) for w in cand}  # looked up once: thousands of fleet members load each
    k_res: dict[ResourceId, int] = {}
    by_resource: dict[ResourceId, list[tuple[int, float]]] = {}
    # a device group's levels: LEVELS, and FULL_LEVEL where an option that could run on it has
    # its queue bounded by a routing rule (the others' max_level keeps it below when they share)
    glevels: dict[ResourceId, tuple[float, ...]] = {}
    top_of: dict[tuple[int, ResourceId], float] = {}  # each option's highest level on each group it loads
    lowest: dict[ResourceId, float] = {}  # the least of those per group
    kinds: dict[ResourceId, dict[str, list[int]]] = {}
    for j, o in enumerate(flat):
        k_w = k_of[o.workload]
        for r, load in o.loads.items():
            k_r = k_res.get(r)
            if k_r is None:
                k_r = k_res[r] = resource_copies(r)
            by_resource.setdefault(r, []).append((j, load if k_w == 1 and k_r == 1 else load * k_w / k_r))
            if r.kind == "device":
                if o.bounds_queue(r):
                    glevels[r] = o.group_levels(system[r])
                elif r not in glevels:
                    glevels[r] = levels(system[r])
                top_of[j, r] = top = o.max_level(r)
                if top < lowest.get(r, math.inf):
                    lowest[r] = top
                kinds.setdefault(r, {}).setdefault(o.engine, []).append(j)
    used = sorted(by_resource)
    groups = [r for r in used if r.kind == "device"]
    # every pool with a minimum runs it whatever is placed; pools anything may use scale with load
    kept = {r for r, res in system.resources.items() if r.kind == "pool" and not r.workload and res.min_instances > 0}
    pools = sorted({r for r in used if r.kind == "pool"} | kept)
    y_index = {r: n_x + i for i, r in enumerate(groups)}
    z_index: dict[tuple[ResourceId, float], int] = {}
    nxt = n_x + len(groups)
    # a group on which every option meets its SLOs at its highest level has no level to choose
    # (the highest serves them all): no level variables, its load against that level
    leveled = [g for g in groups if lowest[g] < max(glevels[g]) - 1e-12]
    for g in leveled:
        for u in glevels[g]:
            z_index[g, u] = nxt
            nxt += 1
    n_index = {r: nxt + i for i, r in enumerate(pools)}  # whole instances running in each pool
    nxt += len(pools)
    # Pools that list more than on demand are bought by the hour of the day (model/pricing.py):
    # a reserved base rv[p], paid every hour, and whole hourly instances hv[p, h] above it.
    mixed = [r for r in pools if mixes(system[r])]
    rv_index: dict[ResourceId, int] = {}
    hv_index: dict[tuple[ResourceId, int], int] = {}
    for r in mixed:
        if reserved_rate(system[r]):
            rv_index[r] = nxt
            nxt += 1
        if hourly_rate(system[r]):
            for h in range(HOURS_PER_DAY):
                hv_index[r, h] = nxt
                nxt += 1
    e_index: dict[tuple[str, str], int] = {}
    for r, by_kind in kinds.items():
        if len(by_kind) > 1:
            for k in by_kind:
                e_index[r, k] = nxt
                nxt += 1
    u_index = {w: nxt + i for i, w in enumerate(cand)}  # 1 = the workload is left out
    nxt += len(cand)
    n = nxt
    upper = np.ones(n)
    for r, k in n_index.items():
        upper[k] = system[r].capacity
    for r, k in rv_index.items():
        upper[k] = system[r].capacity
    for (r, _), k in hv_index.items():
        upper[k] = system[r].capacity

    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    lo: list[float] = []
    hi: list[float] = []

    def add_row(entries: list[tuple[int, float]], lb: float, ub: float) -> None:
        r = len(lo)
        for c, v in entries:
            rows.append(r)
            cols.append(c)
            vals.append(v)
        lo.append(lb)
        hi.append(ub)

    # One option per workload, or none (left out, at a penalty above any placement's objective).
    i = 0
    for w in cand:
        add_row([(i + k, 1.0) for k in range(len(cand[w]))] + [(u_index[w], 1.0)], 1.0, 1.0)
        i += len(cand[w])

    for r, entries in by_resource.items():
        res = system[r]
        if r.kind == "device" and (r, glevels[r][0]) not in z_index:
            # load - capacity * highest level * y <= 0; each workload's options on it only where it is used
            add_row(entries + [(y_index[r], -res.capacity * max(glevels[r]))], -np.inf, 0.0)
            on: dict[str, list[int]] = {}
            for j, _ in entries:
                on.setdefault(flat[j].workload, []).append(j)
            for js in on.values():
                add_row([(j, 1.0) for j in js] + [(y_index[r], -1.0)], -np.inf, 0.0)
        elif r.kind == "device":
            # load - capacity * sum(level * z) <= 0; sum z == y
            add_row(entries + [(z_index[r, u], -res.capacity * u) for u in glevels[r]], -np.inf, 0.0)
            add_row([(z_index[r, u], 1.0) for u in glevels[r]] + [(y_index[r], -1.0)], 0.0, 0.0)
            # an option runs only at a level where it meets its SLOs: the options of one workload
            # allowing the same levels share a row (it places at most one of them, so their sum
            # is that one's x: the same integer plans, as tight a relaxation, fewer rows)
            same_top: dict[tuple[str, float], list[int]] = {}
            for j, _ in entries:
                same_top.setdefault((flat[j].workload, top_of[j, r]), []).append(j)
            for (_, top), js in same_top.items():
                ok = [(z_index[r, u], -1.0) for u in glevels[r] if u <= top + 1e-12]
                add_row([(j, 1.0) for j in js] + ok, -np.inf, 0.0)
        elif r.kind == "pool":
            add_row(entries + [(n_index[r], -1.0)], -np.inf, 0.0)  # instance-loads <= whole instances
        else:  # link direction
            add_row(entries, -np.inf, LINK_RHO * res.capacity)
    shapes = {w: hourly_shape(system.scenario.workloads[w]) for w in cand}
    for r in mixed:  # each hour: the options' instance-loads at that hour's rate <= reserved + hourly
        base_min = system[r].min_instances if not r.workload else 0
        for h in range(HOURS_PER_DAY):
            own = [(rv_index[r], -1.0)] if r in rv_index else []
            own += [(hv_index[r, h], -1.0)] if (r, h) in hv_index else []
            add_row([(j, v * flat[j].hourly_load(r, shapes[flat[j].workload])[h]) for j, v in by_resource.get(r, [])]
                    + own, -np.inf, 0.0)
            if base_min:
                add_row([(k, -v) for k, v in own], float(base_min), np.inf)
    bases: dict[ResourceId, list[int]] = {}
    for p, k in n_index.items():
        bases.setdefault(p.base, []).append(k)
    for r in kept:  # the minimum, over the pool's own instances and its dedicated ones
        add_row([(k, 1.0) for k in bases[r]], float(system[r].min_instances), np.inf)
    for b, ks in bases.items():  # the instances of a pool, its own and dedicated, share its maximum
        if len(ks) > 1:
            add_row([(k, 1.0) for k in ks], -np.inf, system[b].capacity)

    for r, by_kind in kinds.items():
        if len(by_kind) > 1:
            for k, js in by_kind.items():
                for j in js:
                    add_row([(j, 1.0), (e_index[r, k], -1.0)], -np.inf, 0.0)
            add_row([(e_index[r, k], 1.0) for k in by_kind], -np.inf, 1.0)

    if objective not in OBJECTIVES:
        raise InputError(f"unknown objective '{objective}': one of {', '.join(OBJECTIVES)}")
    score = OBJECTIVES[objective]
    usd_per_t = system.scenario.carbon_usd_per_t
    # each option's column: its bill (times its copies), rate-weighted p99, cost and score
    x_p99, x_cost, x_score = [], [], []
    for o in flat:
        k_w = k_of[o.workload]
        b = o.bill if k_w == 1 else o.bill * k_w
        wp99 = weights.get(o.workload, 0.0) * k_w * o.p99_alone_ms
        x_p99.append(wp99)
        x_cost.append(b.total_usd)
        x_score.append(score(b, wp99, usd_per_t))
    p99, cost, c = np.zeros(n), np.zeros(n), np.zeros(n)
    p99[:n_x], cost[:n_x], c[:n_x] = x_p99, x_cost, x_score
    bills: dict[int, MonthlyBill] = {}  # the other columns' bills: a used device group's, an instance's
    for r, k in y_index.items():  # a used device group keeps all its devices
        bills[k] = system[r].month_bill(servers=system[r].servers) * resource_copies(r)
    for r, k in n_index.items():  # per instance running all month
        bills[k] = system[r].month_bill(servers=1) * resource_copies(r)
        if r in mixed:  # its energy; the mix's columns carry its price
            bills[k] = bills[k]._replace(instances_usd=0.0)
    for r, k in rv_index.items():
        bills[k] = MonthlyBill(instances_usd=reserved_rate(system[r]).usd_per_instance_hour * HOURS_PER_MONTH)
    for (r, _), k in hv_index.items():
        bills[k] = MonthlyBill(instances_usd=hourly_rate(system[r]).usd_per_instance_hour * DAYS_PER_MONTH)
    for k, b in bills.items():
        cost[k] = b.total_usd
        c[k] = score(b, 0.0, usd_per_t)
    if budget_usd_per_month is not None:
        add_row([(k, cost[k]) for k in range(n) if cost[k]], -np.inf, budget_usd_per_month)
    if max_weighted_p99_ms is not None:
        add_row([(j, p99[j]) for j in range(n_x) if p99[j]], -np.inf, max_weighted_p99_ms)
    penalty = 2.0 * float(np.abs(c) @ upper) + 1.0
    for w, k in u_index.items():
        c[k] = penalty * copies(w)

    a = coo_matrix((vals, (rows, cols)), shape=(len(lo), n)).tocsr()
    constraints = LinearConstraint(a, np.array(lo), np.array(hi))

    def run(strict: bool):
        ub = upper.copy()
        if strict:  # everything placed: the left-out columns closed
            ub[list(u_index.values())] = 0.0
        bounds = Bounds(np.zeros(n), ub)
        if n >= RELAXATION_FIRST_COLUMNS:
            # A fleet's MILP is mostly one choice per member's workload, and its relaxation is
            # often integral at an optimum: then that is the MILP's optimum too, found in linear
            # time where HiGHS's MIP presolve grew faster than the fleet (2,000 members: 0.8 s
            # against 1.6 s; 4,000: 1.6 s against 5.0 s). A relaxation with no solution means the
            # MILP has none either; a fractional one leaves the MILP to decide.
            lp = milp(c, constraints=constraints, integrality=np.zeros(n), bounds=bounds,
                      options={"time_limit": time_limit_s, "presolve": True})
            if lp.status == 2:
                return lp
            if lp.status == 0 and lp.x is not None:
                whole = np.round(lp.x)
                if np.all(np.abs(lp.x - whole) <= INTEGRAL_TOL):
                    lp.x = whole
                    return lp
        return milp(c, constraints=constraints, integrality=np.ones(n), bounds=bounds,
                    options={"time_limit": time_limit_s, "presolve": True, "mip_rel_gap": 1e-6})

    # First with every workload placed: that MILP is what the solver's heuristics find solutions
    # to quickly at size. Only when it has none, again with workloads allowed out at a penalty.
    result = run(strict=True)
    if result.status == 2:
        result = run(strict=False)
    if result.x is None:
        status = {2: "infeasible", 1: "time_limit"}.get(result.status, "error")
        return Solution(status, {}, {}, math.nan, result.message, empty + list(cand))
    x = result.x
    chosen: dict[str, Option] = {}
    left_out = list(empty)
    j = 0
    for w in cand:
        if x[u_index[w]] > 0.5:
            left_out.append(w)
        else:
            chosen[w] = cand[w][int(np.argmax(x[j : j + len(cand[w])]))]
        j += len(cand[w])
    chosen_levels = {g: u for (g, u), k in z_index.items() if x[k] > 0.5}
    chosen_levels |= {g: max(glevels[g]) for g, k in y_index.items() if x[k] > 0.5 and g not in chosen_levels}
    status = ("optimal" if result.status == 0 else "time_limit") if not left_out else "partial"
    value = float(result.fun) - sum(c[k] for k in u_index.values() if x[k] > 0.5)
    return Solution(status, chosen, chosen_levels, value, result.message, left_out, dominance)


def undominated(opts: list[Option], memo: dict | None = None, known: dict[int, int] | None = None,
                record: dict[int, int] | None = None) -> list[Option]:
    """`opts` without those another option of the workload strictly dominates: the same resources
    (and language-model engine), no more load on any, no larger bill component, energy or
    emissions, a p99 no worse at every level and the same or a higher level allowed on each. A
    dominated option is never needed by an optimal plan under any objective, budget or p99
    bound, so the MILP is smaller (int8 beside fp16 on the same device, split points that send
    more and compute more). Routed pairs and language models, whose constraints go beyond
    these figures, are kept as they are.

    With `memo` (a dict the caller keeps for one pass over the workloads), copies of one kind's
    options (`Option.copy_for`: the same figures but the name and the SLO, which all of one
    workload's options share) are judged once per kind and list.

    `record` (a dict) learns, by option id, 0 for an option kept and the id of its dominator for
    one dropped; `known`, such a record of a superset of `opts` (the solver's, of every feasible
    option, for the explanations, which leave the chosen one out), spares the tests it answers:
    an option kept there is kept, one whose dominator is among `opts` is dropped, and only one
    whose dominator is not is tested. Testing a kept option against every cheaper one is most
    of the work."""
    if known:
        found = _from_record(opts, known)
        if found is not None:
            return found
    if len(opts) < 2:
        if record is not None:
            record.update((id(o), 0) for o in opts)
        return opts
    protos = [o.proto for o in opts] if memo is not None else []
    if not protos or any(p is None for p in protos):
        return _undominated(opts, record)
    key = tuple(map(id, protos))  # the kinds' options outlive the pass: their ids stay theirs
    kept = memo.get(key)
    if kept is None:
        ids = {id(o) for o in _undominated(opts)}
        kept = memo[key] = tuple(i for i, o in enumerate(opts) if id(o) in ids)
    return [opts[i] for i in kept]


def _from_record(opts: list[Option], known: dict[int, int]) -> list[Option] | None:
    """`undominated` read from a record (see there) where it judged every option (else None):
    an option whose dominator there is not among `opts` is tested against the others."""
    here = {id(o) for o in opts}
    out = []
    for b in opts:
        by = known.get(id(b))
        if by is None:
            return None
        if by == 0:
            out.append(b)
        elif by not in here and not any(a is not b and not _kept(a) and a.engine == b.engine
                                        and a.loads.keys() == b.loads.keys() and dominates(a, b) for a in opts):
            out.append(b)
    return out


def _undominated(opts: list[Option], record: dict[int, int] | None = None) -> list[Option]:
    by_use: dict[tuple, list[Option]] = {}
    for o in opts:
        if _kept(o):
            by_use.setdefault(("kept", id(o)), []).append(o)
        else:
            by_use.setdefault((frozenset(o.loads), o.engine), []).append(o)
    if len(by_use) == len(opts):
        if record is not None:
            record.update((id(o), 0) for o in opts)
        return opts
    out = []
    for key, group in by_use.items():
        if key[0] == "kept" or len(group) == 1:
            out.extend(group)
            if record is not None:
                record.update((id(o), 0) for o in group)
            continue
        out.extend(_undominated_in(group, record))
    kept = {id(o) for o in out}
    return [o for o in opts if id(o) in kept]  # the workload's own order: ties break as before


def _kept(o: Option) -> bool:
    """Routed pairs and language models: kept whatever else the workload has (see `undominated`)."""
    return bool(o.parts or o.hourly or o.serving is not None)


def _undominated_in(group: list[Option], record: dict[int, int] | None) -> list[Option]:
    """The options of one group (same resources) that no other dominates. A dominator costs no
    more, so each option is tested only against those up to its own total, cheapest first."""
    ranked = sorted(((o.bill.total_usd, o) for o in group), key=lambda t: t[0])
    out = []
    for total_b, b in ranked:
        beaten = 0
        limit, p99_b = total_b + 1e-8, b.p99_alone_ms
        for total_a, a in ranked:
            if total_a > limit:
                break
            # dominates' first test, here: most pairs end at it, and calls cost more than it
            if a.p99_alone_ms <= p99_b and a is not b and dominates(a, b):
                beaten = id(a)
                break
        if not beaten:
            out.append(b)
        if record is not None:
            record[id(b)] = beaten
    return out


def dominates(a: Option, b: Option) -> bool:
    """Whether `a` strictly dominates `b` (see `undominated`; both on the same resources).
    Loops written out, the cheap scalar tests first: it runs for hundreds of thousands of pairs."""
    if a.p99_alone_ms > b.p99_alone_ms or a.bill.total_usd > b.bill.total_usd + 1e-8:  # 4 components within 1e-9
        return False
    strictly = a.p99_alone_ms < b.p99_alone_ms
    loads_a = a.loads
    for r, y in b.loads.items():
        x = loads_a[r]
        if x > y + 1e-12:
            return False
        if x < y - 1e-12:
            strictly = True
    for x, y in zip(a.bill, b.bill):
        if x > y + 1e-9:
            return False
        if x < y - 1e-9:
            strictly = True
    by_level_a, by_level_b = a.p99_ms_by_level, b.p99_ms_by_level
    if by_level_a.keys() != by_level_b.keys():
        return False
    # a p99 no worse at every level meets the same p99 SLO at every level: only differing
    # SLOs (or margins, or token SLOs, which these levels do not hold) need max_level
    same_slo = (a.slo_ms == b.slo_ms and a.slo_margin == b.slo_margin
                and a.ttft_slo_ms is a.tpot_slo_ms is b.ttft_slo_ms is b.tpot_slo_ms is None)
    for r, levels_b in by_level_b.items():
        levels_a = by_level_a[r]
        if levels_a.keys() != levels_b.keys():
            return False
        for u, y in levels_b.items():
            if levels_a[u] > y:
                return False
        if not same_slo and a.max_level(r) < b.max_level(r):
            return False
    return strictly


def _slo_possible(o: Option) -> bool:
    """An option whose compute resource has no level meeting its SLO can never be chosen."""
    for r in o.p99_ms_by_level:  # a loop, not all(): it runs for every option
        if o.max_level(r) <= 0:
            return False
    return True
