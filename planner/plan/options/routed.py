"""Routed pairs: one workload served by a primary placement at the edge and a secondary in a
cloud pool, its requests split by the workload's `routing:` rule.

- `overflow`: the edge serves while its queue is below the rule's limit; an arrival that finds
  it at the limit goes to the pool. The share sent on, and the episodes it comes in, are those
  of the edge's queue cut at the limit (`plan.overflow`, a Markov chain of the simulator's
  edge) at each point of the day's arrival rate, so the edge can be sized below the peak and
  the pool serves the excess at the peak hours.
- `by_tokens`: a language model answers prompts up to the threshold at the edge and sends longer
  ones to the pool; the share is exact from the prompt-token distribution, and each side is
  priced with its own side of that distribution (short prompts at the edge, long ones in the pool).

A pair is an `Option` like any other: it loads both resources (so the MILP keeps each one's
shared capacity joint), costs both sides' bills, and its p99 is the larger of the two sides'
(the tail of a mixture is below the larger of its parts' tails: an upper bound).

Assumed: the overflow share is that of the workload alone on its edge group (others sharing the
group lengthen its queue), served one request at a time at its planned batch's time per request
(the rule's limit counts requests at batch 1), and the day's rate holds still for the edge
(milliseconds) while it moves over minutes (bench/routing.py measures the shares and episodes).
"""
from __future__ import annotations

import math
from dataclasses import replace

from planner.model.ids import ResourceId
from planner.model.pricing import DAYS_PER_MONTH, hourly_rate, mixes
from planner.model.routing import kept_up_share, queue_limit
from planner.model.system import System
from planner.model.workloads import HOURS_PER_DAY, planned_rate_per_s, profile_at
from planner.plan.llm_serving import Shape
from planner.plan.options.common import FULL_LEVEL, LEVELS, Option, cost_estimate, weakest
from planner.plan.options.llm import llm_option
from planner.plan.overflow import Overflow, overflow, overflow_by_rate

#: an hour's share of requests that overflow and find no instance up (they wait a cold start)
#: below which the pool runs no scheduled instance that hour: the autoscaler serves them
COLD_SHARE = 0.005
#: an hour in which the sparse overflow would keep an instance up this share of the time or more
#: is bought as a scheduled instance (it runs nearly all hour either way)
SCHEDULED_UP = 0.9
#: points of the day at which the arrival rate is sampled for an overflow share (5 minutes)
DAY_POINTS = 288
#: a share of the requests so small that the side serving it may as well not be there: a pair
#: whose secondary (or primary) would serve no more is left to the single options
NEGLIGIBLE_SHARE = 1e-6


def routed_options(system: System, name: str, base: list[Option]) -> list[Option]:
    """The routed pairs of a workload with `routing:`: every feasible edge option (a device
    group) paired with every feasible cloud option (a pool), per rule the workload gives."""
    w = system.scenario.workloads[name]
    routing = getattr(w, "routing", None)
    if routing is None:
        return []
    whole = [o for o in base if o.split is None and not o.infeasible and o.stages]
    edge = [o for o in whole if system[o.stages[0][0]].kind == "device"]
    cloud = [o for o in whole if system[o.stages[0][0]].kind == "pool"]
    out: list[Option] = []
    for rule in routing.rules():
        for p in edge:
            # a pair runs one variant of a family, with one KV-cache precision (placements name one)
            for s in (s for s in cloud if (s.model, s.kv_precision) == (p.model, p.kv_precision)):
                pair = _overflow(system, name, p, s) if rule == "overflow" else _by_tokens(system, name, p, s)
                if pair is not None:
                    out.append(pair)
    return out


# --------------------------------------------------------------------------- the day's rates
def day_rates(w) -> list[tuple[float, float]]:
    """(arrival rate, weight in time) over a day: a diurnal profile at DAY_POINTS points,
    interpolated as the simulator draws it; a bursty process's two states; else the mean rate."""
    a = w.arrival
    if a.process == "diurnal":
        prof = list(a.profile)
        return [(a.rate_per_s * profile_at(prof, k * HOURS_PER_DAY / DAY_POINTS), 1.0 / DAY_POINTS)
                for k in range(DAY_POINTS)]
    if a.process == "bursty":
        total = a.mean_low_s + a.mean_high_s
        return [(a.rate_low_per_s, a.mean_low_s / total), (a.rate_high_per_s, a.mean_high_s / total)]
    return [(a.mean_rate_per_s, 1.0)]


def _hours(rates: list[tuple[float, float]], values: list[float]) -> tuple[float, ...]:
    """Each hour's highest value (a diurnal day's points fall into 24 hours; else all the same)."""
    if len(rates) != DAY_POINTS:
        top = max(values, default=0.0)
        return (top,) * HOURS_PER_DAY
    per = DAY_POINTS // HOURS_PER_DAY
    return tuple(max(values[h * per:(h + 1) * per]) for h in range(HOURS_PER_DAY))


# --------------------------------------------------------------------------- overflow
def _overflow(system: System, name: str, p: Option, s: Option) -> Option | None:
    """Edge option `p` with its queue cut at the rule's limit, the excess served by pool option `s`."""
    sc = system.scenario
    w = sc.workloads[name]
    rule = w.routing.overflow
    edge = system[p.stages[0][0]]
    rate, _ = planned_rate_per_s(w)
    if rate <= 0 or "busy_per_s" not in p.detail:
        return None
    service_s = p.detail["busy_per_s"] / rate  # device-seconds per request at the planned batch
    first_s = cost_estimate(sc, p.model or w.model_id, p.hardware, p.precision, 1).latency_ms / 1000
    limit = queue_limit(rule.queue_ms, rule.queue_len, edge.servers, first_s)
    rates = day_rates(w)
    peak = overflow(edge.servers, max(lam for lam, _ in rates), service_s, limit, edge.service_cv)
    if peak.share <= NEGLIGIBLE_SHARE:  # not even at the peak: no day's share is more (and the chain is spared)
        return None
    figs = overflow_by_rate(edge.servers, [lam for lam, _ in rates], service_s, limit, edge.service_cv)
    shares = [f.share for f in figs]
    arrived = sum(lam * t for lam, t in rates)
    share = sum(lam * t * b for (lam, t), b in zip(rates, shares)) / arrived if arrived > 0 else 0.0
    to_edge = [lam * (1 - b) for (lam, _), b in zip(rates, shares)]
    to_pool = [lam * b for (lam, _), b in zip(rates, shares)]
    peak_edge, peak_pool = max(to_edge), max(to_pool)
    if share <= NEGLIGIBLE_SHARE or share >= 1 - NEGLIGIBLE_SHARE:
        return None  # one side would serve (almost) everything: the single options cover it
    wait_cap_ms = (limit / edge.servers + 1) * first_s * 1000  # the limit bounds the edge's queue
    primary = _scaled(p, peak_edge / rate, 1 - share)
    primary.max_wait_ms = wait_cap_ms
    secondary = _scaled(s, peak_pool / rate, share)
    # the share each hour is of that hour's requests (its highest point), not of the day's
    o = _pair(system, name, "overflow", primary, secondary, share, _hours(rates, shares))
    pool = system[s.stages[0][0]]
    scheduled, kept_by_hour = _pool_hours(rates, figs, pool.cold_start_s)
    kept_h = sum(kept_by_hour)
    pool_shape = tuple(x / peak_pool if on else 0.0 for x, on in zip(_hours(rates, to_pool), scheduled))
    edge_shape = _hours(rates, [x / peak_edge for x in to_edge])
    o.hourly = {r: pool_shape for r in secondary.loads} | {r: edge_shape for r in primary.loads}
    if kept_h > 0:  # instance-hours a day the autoscaler keeps up for sparse overflow, billed as it runs them
        kept = pool.month_bill(servers=kept_h / HOURS_PER_DAY)
        hourly = hourly_rate(pool) if mixes(pool) else None
        o.bill += kept._replace(instances_usd=kept_h * hourly.usd_per_instance_hour * DAYS_PER_MONTH) if hourly else kept
    o.detail.update({"queue_limit": limit, "edge_servers": edge.servers, "kept_up_h_per_day": kept_h,
                     "kept_up_h_by_hour": kept_by_hour,
                     "edge_servers_alone": _servers_alone(p, rate, service_s),
                     "peak_share": max(shares), "peak_hour": float(_peak_hour(rates, shares))})
    return o


def _pool_hours(rates: list[tuple[float, float]], figs: list[Overflow],
                cold_start_s: float) -> tuple[list[bool], tuple[float, ...]]:
    """Which hours the pool runs instances for the overflow (scheduled, bought by the hour), and
    the instance-hours it keeps one up in each of the others for the sparse overflow (launched by
    the episode that finds none, retired when idle: `routing.kept_up_share` of the episodes,
    averaged over the hour). An hour is scheduled where an instance would be up nearly all of it
    anyway, or where the requests that would find none and wait a cold start reach COLD_SHARE of
    the hour's (far inside the 1% a p99 allows below it)."""
    up = [kept_up_share(f.episodes_per_s, cold_start_s) for f in figs]
    cold = [f.rate_per_s * f.share * (1 - u) for f, u in zip(figs, up)]
    arrived = [f.rate_per_s for f in figs]
    if len(rates) == DAY_POINTS:  # a diurnal day's points fall into its hours
        hours = [tuple(_over_hour(v, h) for v in (up, cold, arrived)) for h in range(HOURS_PER_DAY)]
    else:  # any other process's rates hold all day alike
        t = [w for _, w in rates]
        hours = [tuple(sum(x * w for x, w in zip(v, t)) / sum(t) for v in (up, cold, arrived))] * HOURS_PER_DAY
    scheduled = [u >= SCHEDULED_UP or (n > 0 and c / n >= COLD_SHARE) for u, c, n in hours]
    return scheduled, tuple(0.0 if on else u for on, (u, _, _) in zip(scheduled, hours))


def _over_hour(values: list[float], hour: int) -> float:
    """The mean over `hour` of a figure at the day's points (each at the start of its 5 minutes,
    the rate linear between them), by the trapezoid rule: the hour's first point and the next
    hour's count half. (A point standing for its whole 5 minutes would shift a ramping hour's
    figures by 2.5 minutes; the day's sum is the same either way.)"""
    per = DAY_POINTS // HOURS_PER_DAY
    pts = [values[(hour * per + i) % DAY_POINTS] for i in range(per + 1)]
    return (sum(pts) - (pts[0] + pts[-1]) / 2) / per


def _servers_alone(p: Option, rate: float, service_s: float) -> int:
    """Devices the edge would need to serve the peak alone, at the highest level its SLO allows
    (the explanation's "3 boxes instead of 8")."""
    level = p.max_level(p.stages[0][0]) or min(LEVELS)
    return max(1, math.ceil(rate * service_s / min(level, max(LEVELS)) - 1e-9))


def _peak_hour(rates: list[tuple[float, float]], shares: list[float]) -> int:
    """The hour of the day in which the most requests overflow."""
    if len(rates) != DAY_POINTS:
        return 0
    per = DAY_POINTS // HOURS_PER_DAY
    sent = [lam * b for (lam, _), b in zip(rates, shares)]
    return max(range(HOURS_PER_DAY), key=lambda h: sum(sent[h * per:(h + 1) * per]))


def _scaled(o: Option, peak_frac: float, mean_frac: float) -> Option:
    """One side of a pair: `o` carrying `peak_frac` of the planned (peak) load and `mean_frac`
    of the requests over the month (what its own bill counts: active energy, egress)."""
    return replace(o, loads={r: v * peak_frac for r, v in o.loads.items()}, bill=o.bill * mean_frac,
                   p99_ms_by_level=dict(o.p99_ms_by_level), detail=dict(o.detail))


# --------------------------------------------------------------------------- by tokens
def _by_tokens(system: System, name: str, p: Option, s: Option) -> Option | None:
    """Language-model option `p` (edge) for prompts up to the threshold, `s` (pool) for the rest."""
    w = system.scenario.workloads[name]
    if p.serving is None or s.serving is None:
        return None
    n = w.routing.by_tokens.edge_max_prompt_tokens
    prompt, output = w.prompt_dist(), w.output_dist()
    share = prompt.share_above(n)
    if share <= 0 or share >= 1:
        return None
    rate, mean_share = planned_rate_per_s(w)
    mean = w.arrival.mean_rate_per_s
    sides = []
    for o, frac, dist in ((p, 1 - share, prompt.below(n)), (s, share, prompt.above(n))):
        r = system[o.stages[0][0]]
        # pairs are made of feasible options only: the workload's privacy allows both sites
        sides.append(llm_option(system, name, o.site, True, r, o.precision, Shape.of(dist, output), rate * frac,
                                mean_share, mean * frac, o.model, o.kv_precision))
    if any(x.infeasible for x in sides):
        return None
    return _pair(system, name, "by_tokens", sides[0], sides[1], share, (share,) * HOURS_PER_DAY)


# --------------------------------------------------------------------------- the pair
def _pair(system: System, name: str, rule: str, primary: Option, secondary: Option, share: float,
          share_by_hour: tuple[float, ...]) -> Option:
    """The option that runs `primary` and `secondary` together: both sides' loads and bills,
    and at each level of the edge group the larger of the two sides' p99 (and TTFT, TPOT)."""
    edge_id: ResourceId = primary.stages[0][0]
    loads: dict[ResourceId, float] = dict(primary.loads)
    for r, v in secondary.loads.items():
        loads[r] = loads.get(r, 0.0) + v
    cap = primary.network_ms + primary.compute_ms + primary.max_wait_ms
    sec_p99 = secondary.p99_alone_ms
    by_level = {u: max(min(v, cap), sec_p99) for u, v in primary.p99_ms_by_level.get(edge_id, {}).items()}
    if math.isfinite(cap):  # the rule bounds the edge's queue: it may run full (FULL_LEVEL)
        by_level[FULL_LEVEL] = max(cap, sec_p99)
    sec_ttft = max(secondary.ttft_ms_by_level.values(), default=0.0)
    sec_tpot = max(secondary.tpot_ms_by_level.values(), default=0.0)
    o = Option(name, primary.site, primary.hardware, primary.precision, primary.kind, loads=loads,
               bill=primary.bill + secondary.bill, p99_ms_by_level={edge_id: by_level},
               p99_alone_ms=max(min(primary.p99_alone_ms, cap), sec_p99),
               stages=list(primary.stages) + list(secondary.stages),
               network_ms=max(primary.network_ms, secondary.network_ms),
               compute_ms=max(primary.compute_ms, secondary.compute_ms), slo_ms=primary.slo_ms,
               memory_gb=primary.memory_gb, mem_limit_gb=primary.mem_limit_gb,
               source=weakest(primary.source, secondary.source), input_bytes=primary.input_bytes,
               output_bytes=primary.output_bytes,
               ttft_ms_by_level={u: max(v, sec_ttft) for u, v in primary.ttft_ms_by_level.items()},
               tpot_ms_by_level={u: max(v, sec_tpot) for u, v in primary.tpot_ms_by_level.items()},
               ttft_slo_ms=primary.ttft_slo_ms, tpot_slo_ms=primary.tpot_slo_ms, engine=primary.engine,
               kv_precision=primary.kv_precision,
               routing=rule, parts=(primary, secondary), secondary_share=share, share_by_hour=share_by_hour,
               model=primary.model, family=primary.family, accuracy_metric=primary.accuracy_metric,
               # the sides may differ in precision: the pair is as accurate as its weaker side
               accuracy=min((a for a in (primary.accuracy, secondary.accuracy) if a is not None), default=None))
    o.detail = {"secondary_share": share, "egress_usd_per_month": o.bill.egress_usd}
    return o

