"""Why each workload runs where it does: the binding constraint, the next-best option and why
it lost; and, when nothing is feasible, which constraints conflict and by how much."""
from __future__ import annotations

import heapq
import math
from collections.abc import Iterable

from planner.model.system import System
from planner.plan.assess import Assessment, assess, resource_bills
from planner.plan.solver import undominated
from planner.plan.trial import Baseline
from planner.plan.options import Option, levels
from planner.plan.options.availability import pct
from planner.plan.violations import ROOT_CAUSE_ORDER, join, root_cause
from planner.units import J_PER_KWH


def explain(system: System, options: dict[str, list[Option]], chosen: dict[str, Option],
            only: Iterable[str] | None = None, known: dict[int, int] | None = None,
            assessment: Assessment | None = None) -> dict[str, dict[str, object]]:
    """Per workload of `only` (default: every chosen one): `reason` (one sentence), `binding`,
    `next_best`, `next_best_delta_usd`, `lost_because`. Each alternative is judged against the
    whole plan, re-costing only the resources it changes. `known`: what the solver found of
    dominance among its options (`Solution.dominance`), not judged again; `assessment`, the
    plan's, where the caller has it (`assess(system, chosen)` otherwise)."""
    sc = system.scenario
    base = assessment or assess(system, chosen)
    index = Baseline(system, chosen, base)
    cost_usd = base.cost_usd
    kinds: dict = {}  # dominance per kind of workload (`undominated`)
    out: dict[str, dict[str, object]] = {}
    for name in (chosen if only is None else only):
        o = chosen.get(name)
        if o is None:
            continue
        alts = _alternatives(system, index, base, name, o, options.get(name, []), kinds, known)
        binding = _binding(sc, o, alts, base, name)
        nb = alts[0] if alts else None
        p99 = base.p99_ms[name]
        slo = f" (SLO {o.slo_ms:g} ms)" if o.slo_ms else ""
        if o.kind == "inference":
            head = f"{o.label}: p99 {p99:,.1f} ms{slo}, ${cost_usd[name]:,.0f}/month"
        elif o.kind == "training":
            head = f"{o.label}: job {o.detail.get('job_h', 0):.1f} h, ${cost_usd[name]:,.0f}/month"
            if "start_hour" in o.detail:  # a deferrable run, started in its cleanest hours
                h = o.detail["start_hour"]
                head += f", starts at {int(h):02d}:{int(round(h % 1 * 60)) % 60:02d} UTC (the cleanest hours of its window)"
        else:
            head = f"aggregate at {o.site}, train at {o.precision}: {o.p99_alone_ms / 3.6e6:.2f} h per run, ${cost_usd[name]:,.0f}/month"
        floor = getattr(getattr(sc.workloads[name], "slo", None), "availability", None)
        if floor is not None and o.availability is not None:
            head += f", availability {pct(o.availability)} (SLO {pct(floor)})"
            if o.path_availability is not None and o.path_availability < o.availability:
                head += f" with its fallback at the source (path alone {pct(o.path_availability)})"
        reason = f"{head}; binding: {binding}"
        if base.violations[name]:  # a placement given by hand may break its own constraints
            reason += f"; breaks: {join(base.violations[name])}"
        barred = sorted({a.site for a in options.get(name, []) if a.infeasible and a.infeasible.kind == "privacy"})
        if barred and not binding.startswith("privacy"):
            reason += f"; privacy '{sc.workloads[name].privacy}' rules out {', '.join(barred)}"
        short = [a for a in options.get(name, []) if a.infeasible and a.infeasible.kind == "accuracy"]
        if short and not binding.startswith("accuracy"):
            reason += f"; {_accuracy_note(o, short)}"
        if o.parts:
            reason += "; " + _routed_reason(system, o, alts, base)
        if nb:
            # "would win" weighs dollars; under the carbon objective a cheaper runner-up still loses
            wins = nb[0] == 0.0 and nb[3] < -max(TIE_USD, TIE_SHARE * o.bill.total_usd) and sc.objective != "carbon"
            reason += f"; next best {nb[1].label} {'would win' if wins else 'lost'}: {nb[2]}"
            elsewhere = next((t for t in alts if t[1].site != o.site), None)
            if elsewhere and elsewhere is not nb and not (elsewhere[4] and elsewhere[4].kind == "privacy"):
                reason += f"; best at another site, {elsewhere[1].label}, lost: {elsewhere[2]}"
            reason += _boundary(o, alts, nb)
        out[name] = {
            "reason": reason,
            "binding": binding,
            "next_best": nb[1].label if nb else "",
            "next_best_delta_usd": nb[3] if nb else math.nan,
            "lost_because": nb[2] if nb else "",
        }
    return out


def _alternatives(system: System, index: Baseline, base, name: str, o: Option, options: list[Option],
                  kinds: dict, known: dict[int, int] | None = None) -> list[tuple]:
    """The alternatives a reason speaks of, best first: (rank, option, why it lost, cost delta,
    root cause). Rank 0: meets everything (by cost delta); 1: breaks something (by p99); 2: ruled
    out on its own. An alternative another dominates ranks below it and is never named: not
    judged. Re-costing the plan around an alternative (a trial) is the expensive part, so only
    those a reason can name are judged: every cheaper one (the binding constraint is among
    them), and the others in order of the rank their cost delta allows, until neither the next
    best nor the best at another site can change (all of them for a routed pair or a language
    model across the boundary, whose reasons name every side and mode)."""
    sc = system.scenario
    tie = max(TIE_USD, TIE_SHARE * o.bill.total_usd)
    own = o.key()
    keyed = [(a.key(), a) for a in options]
    mine = [a for k, a in keyed if k != own]
    feasible = [a for a in mine if not a.infeasible]
    shown = {id(a) for a in undominated(feasible, kinds, known)} | {id(a) for a in mine if a.infeasible}
    seen = {own}
    removal = index.removal(name)  # what bounds each alternative's cost delta from below
    judged: list[tuple] = []  # (sort key, order, alternative)
    bounded: set[int] = set()  # the ruled-out alternatives judged with a lower bound of their delta
    waiting: list[tuple] = []  # feasible, not yet judged: (the least sort key its delta allows, order, option, move)
    for i, (k, a) in enumerate((k, a) for k, a in keyed if k != own):
        if k in seen or id(a) not in shown:
            continue
        seen.add(k)
        # Architects ask "why not there?": other sites and hardware sort before other precisions
        same = (a.site, a.hardware) == (o.site, o.hardware)
        if a.infeasible:  # ruled out on its own: no need to re-cost the plan around it
            rank = 2.0 + min(a.p99_alone_ms, 1e9) / 1e12
            # its exact delta where it may be cheaper (the binding constraint is read from
            # those); else a lower bound, made exact below where anything reads it
            delta = index.delta_lower_bound(name, a, removal)
            if delta < -tie:
                delta = index.delta(name, a).total_usd
            else:
                bounded.add(i)
            judged.append(((rank, same, delta), i, (rank, a, str(a.infeasible), delta, a.infeasible)))
            continue
        # at first only a lower bound of its cost delta (below): the exact one when it comes up
        waiting.append((_low(index.delta_lower_bound(name, a, removal), same), i, a, None))
    every = bool(o.parts) or o.llm_split is not None or any(a.llm_split is not None or a.parts for _, _, a, _ in waiting)
    best = min((k for k, _, _ in judged), default=None)
    best_away = min((k for k, _, t in judged if t[1].site != o.site), default=None)
    # In the order of the least sort key each one's delta allows (rank 0 sorts by max(delta, 0) /
    # 1e6 and rank 1 from 1 up: the first can only be larger). An alternative comes up first with
    # a lower bound of its delta and goes back with its exact one, so each is judged in the order
    # of its exact key, as if every delta were computed first; one that could not be named even
    # at its bound is dropped without re-costing the plan around it.
    heapq.heapify(waiting)
    while waiting:
        low, i, a, md = heapq.heappop(waiting)
        away, delta = a.site != o.site, low[2]
        if not (every or delta < -tie or best is None or low <= best or (away and (best_away is None or low <= best_away))):
            continue
        if md is None:
            md = index.moved_delta(name, a)
            heapq.heappush(waiting, (_low(md[1].total_usd, low[1]), i, a, md))
            continue
        t = _judge(sc, index, base, name, o, a, md)
        key = (t[0], low[1], t[3])
        judged.append((key, i, t))
        best = key if best is None or key < best else best
        if away:
            best_away = key if best_away is None or key < best_away else best_away
    if bounded:
        judged = _exact(index, name, judged, bounded)
    judged.sort(key=lambda t: (t[0], t[1]))  # as a stable sort of every alternative in the options' order
    if judged and judged[0][1] in bounded:  # the next best: its delta is shown
        judged[0] = _exact(index, name, judged[:1], bounded)[0]
    return [t for _, _, t in judged]


def _exact(index: Baseline, name: str, judged: list[tuple], bounded: set[int]) -> list[tuple]:
    """`judged` with the exact delta of each bounded alternative where the order reads it: one
    of a single entry, or ruled out alike (the same rank and site) as another, which sort by it."""
    ties: dict[tuple, int] = {}
    for key, _, _ in judged:
        ties[key[:2]] = ties.get(key[:2], 0) + 1
    out = []
    for key, i, t in judged:
        if i in bounded and (len(judged) == 1 or ties[key[:2]] > 1):
            bounded.discard(i)
            delta = index.delta(name, t[1]).total_usd
            key, t = (key[0], key[1], delta), (t[0], t[1], t[2], delta, t[4])
        out.append((key, i, t))
    return out


def _low(delta_usd: float, same: bool) -> tuple[float, bool, float]:
    """The least sort key an alternative with this cost delta can have once judged."""
    return (min(max(delta_usd, 0) / 1e6, 1.0), same, delta_usd)


def _judge(sc, index: Baseline, base, name: str, o: Option, a: Option, moved_delta: tuple) -> tuple:
    """One feasible alternative judged against the whole plan: (rank, option, why, delta, cause)."""
    trial = index.trial(name, a, moved_delta)
    delta = trial.delta_usd
    found = trial.violations
    cause = root_cause(found)
    why = join(found)
    if why and not trial.own:
        why = f"others: {why}"  # the alternative itself would do, but it breaks something for the rest
    if not why:
        why = _compare(sc.objective, trial, base.p99_ms[name], o, delta)
        rank = 0.0 + max(delta, 0) / 1e6
    else:
        rank = 1.0 + (trial.p99_ms if math.isfinite(trial.p99_ms) else 1e9) / 1e12
    return (rank, a, why, delta, cause)


def _accuracy_note(o: Option, short: list[Option]) -> str:
    """What the workload's accuracy floor rules out, with the figure closest to it."""
    closest = max(short, key=lambda a: a.infeasible.value if a.infeasible.value is not None else -1.0)
    kinds = sorted({f"{a.model} {a.precision}" if a.family else a.precision for a in short})
    shown = ", ".join(kinds[:4]) + (" ..." if len(kinds) > 4 else "")
    return f"accuracy floor {closest.infeasible.limit:.1%} rules out {shown} ({closest.infeasible.text})"


def _boundary(o: Option, alts: list, nb) -> str:
    """For a language model that may run across the edge-cloud boundary: what the split moves
    (the KV cache a request sends down, the tokens a speculative round yields), and why each
    boundary mode not chosen lost, so the answer to "why not split?" is in the reason."""
    out = ""
    if o.llm_split is not None:
        d = o.detail
        out += (f"; {o.llm_split}: {d.get('output_bytes', 0) / 1e6:,.1f} MB of KV cache down per request"
                if o.llm_split == "prefill_cloud_decode_edge" else
                f"; {o.llm_split}: {d.get('tokens_per_round', 1):.2f} tokens per round trip")
    seen = {o.llm_split}
    for t in alts:
        mode = t[1].llm_split
        if mode is None or mode in seen:
            continue
        seen.add(mode)
        if t is not nb:
            out += f"; {mode} ({t[1].label}) lost: {t[2]}"
    return out


def _routed_reason(system: System, o: Option, alts: list, base) -> str:
    """Why a routed pair beat either side alone: what the rule saves at the edge, the share the
    secondary serves (at the peak hour) and what it costs there, and how each side alone fared."""
    primary, secondary = o.parts
    kept = resource_bills(system, base.load, base.instances, base.mixes)
    pool_usd = secondary.bill.total_usd + sum(
        kept[r].total_usd * v / base.load[r] for r, v in secondary.loads.items()
        if r.kind == "pool" and r in kept and base.load.get(r, 0) > 0)
    where = f"the {secondary.hardware} pool at {secondary.site}"
    if o.routing == "overflow":
        d = o.detail
        boxes = f"{d['edge_servers']:.0f} boxes instead of {d['edge_servers_alone']:.0f}; " \
            if d.get("edge_servers_alone", 0) > d.get("edge_servers", 0) else ""
        head = (f"overflow: {boxes}{d.get('peak_share', o.secondary_share):.0%} of requests at the "
                f"{d.get('peak_hour', 0):02.0f}:00 peak ({o.secondary_share:.1%} of the day's) go to {where}")
    else:
        n = system.scenario.workloads[o.workload].routing.by_tokens.edge_max_prompt_tokens
        head = f"by_tokens: prompts over {n} tokens ({o.secondary_share:.1%} of requests) go to {where}"
    out = f"{head}, +${pool_usd:,.0f}/month"
    for side, label in ((primary, "edge"), (secondary, "cloud")):
        alone = next((t for t in alts if not t[1].parts and t[1].key() == side.key()), None)
        if alone is not None:
            out += f"; {label} alone ({alone[1].label}): {alone[2]}"
    return out


#: Below this a cost difference is a tie: a dollar a month, or 0.5% of the chosen option's own cost.
TIE_USD = 1.0
TIE_SHARE = 0.005


def _compare(objective: str, trial, p99_chosen_ms: float, o: Option, delta_usd: float) -> str:
    """Why a feasible alternative lost (or, for a placement given by hand, why it would win), on
    the workload's own p99 and the plan's bill; a cost difference below the stated threshold is a tie."""
    tie = max(TIE_USD, TIE_SHARE * o.bill.total_usd)
    if o.kind == "inference":  # the alternative's figure first, as the sentence speaks of it
        p99 = f"p99 {trial.p99_ms:,.1f} ms there, {p99_chosen_ms:,.1f} ms as chosen"
    else:
        p99 = f"a run takes {trial.p99_ms / 3.6e6:,.2f} h there, {p99_chosen_ms / 3.6e6:,.2f} h as chosen"
    faster = trial.p99_ms < p99_chosen_ms - 1e-6
    if objective == "latency":
        return f"better latency: {p99}" if faster else f"worse latency: {p99}"
    if objective == "energy":
        kwh = trial.delta.energy_j / J_PER_KWH
        return f"uses {kwh:+,.1f} kWh/month more energy" if kwh > 0 else f"saves {-kwh:,.1f} kWh/month"
    if objective == "carbon":
        kg = trial.delta.kgco2e
        return f"emits {kg:+,.3g} kgCO2e/month more" if kg > 0 else f"emits {-kg:,.3g} kgCO2e/month less"
    if delta_usd > tie:
        return f"costs ${delta_usd:+,.0f}/month more"
    if delta_usd < -tie:
        return f"would save ${-delta_usd:,.0f}/month ({p99})"
    lead = f"same cost (within ${tie:,.0f}/month)"
    return f"{lead}; it is faster ({p99})" if faster else f"{lead}; chosen is as fast or faster ({p99})"


def _binding(sc, o: Option, alts: list, base, name: str) -> str:
    """The constraint that kept the workload from something cheaper (or better by the objective):
    the root cause among the cheaper options' violations."""
    tie = max(TIE_USD, TIE_SHARE * o.bill.total_usd)
    cheaper = [(a, why, cause) for _, a, why, delta, cause in alts if delta < -tie]
    if not cheaper:
        return f"{sc.objective} (the best option that meets every constraint)"
    ruled = [t for t in cheaper if t[2] is not None]
    # An option below the accuracy floor is another product: what keeps the workload from a cheaper
    # option that meets the floor binds first (the reason names the floor beside it).
    ruled = [t for t in ruled if t[2].kind != "accuracy"] or ruled
    if ruled:
        # the root cause; among accuracy shortfalls the one closest to the floor says the most
        a, why, cause = min(ruled, key=lambda t: (ROOT_CAUSE_ORDER.index(t[2].kind),
                                                  -(t[2].value or 0.0) if t[2].kind == "accuracy" else 0.0))
        return f"{cause.label} (cheaper {a.label} is out: {why})"
    a, why, _ = cheaper[0]
    return f"{why} ({a.label})"


def diagnose(system: System, options: dict[str, list[Option]], message: str) -> list[str]:
    """Which constraints conflict when no placement is feasible, with the gap."""
    sc = system.scenario
    out = []
    for name, opts in options.items():
        live = [o for o in opts if not o.infeasible]
        w = sc.workloads[name]
        if not opts:
            out.append(f"{name}: no site with compute it may use")
            continue
        if not live:
            reasons = sorted({o.infeasible.kind for o in opts})
            out.append(f"{name}: every option is ruled out ({'; '.join(str(o.infeasible) for o in opts[:3])}{' ...' if len(opts) > 3 else ''})"
                       if len(reasons) > 1 else f"{name}: {opts[0].infeasible}")
            continue
        if getattr(w, "slo", None) and w.slo.p99_ms is not None:
            best = min(live, key=lambda o: min(min(v.values()) for v in o.p99_ms_by_level.values()) if o.p99_ms_by_level else o.p99_alone_ms)
            best_ms = min(min(v.values()) for v in best.p99_ms_by_level.values()) if best.p99_ms_by_level else best.p99_alone_ms
            if best_ms > w.slo.p99_ms:
                out.append(f"{name} needs p99 ≤ {w.slo.p99_ms:g} ms; the best reachable is {best_ms:,.0f} ms on "
                           f"{best.hardware} at {best.precision} ({best.site})")
    if not out:
        # A workload whose every option, alone on the infrastructure, overloads something.
        for name, opts in options.items():
            live = [o for o in opts if not o.infeasible]
            alone = [(o, assess(system, {name: o}).violations[name]) for o in live]
            if alone and all(v for _, v in alone):
                best = sorted(alone, key=lambda t: len(t[1]))[:2]
                out.append(f"{name}: every option overloads a resource even alone, e.g. "
                           + "; ".join(f"{o.label}: {', '.join(map(str, v))}" for o, v in best))
    if not out:
        # Each workload alone is fine: resources or the budget conflict. Find forced overloads.
        forced: dict[str, float] = {}
        for name, opts in options.items():
            live = [o for o in opts if not o.infeasible]
            common = set.intersection(*(set(o.loads) for o in live)) if live else set()
            for r in common:
                forced[r] = forced.get(r, 0.0) + min(o.loads[r] for o in live)
        for r, need in forced.items():
            rr = system[r]
            cap = rr.capacity * max(levels(rr))
            if need > cap:
                out.append(f"{rr.kind} {rr.hardware}@{rr.site}: the workloads that can only run there need {need:,.2f} "
                           f"of {cap:,.2f} available ({need / cap:.0%})")
        if sc.budget_usd_per_month is not None and not out:
            out.append(f"budget ${sc.budget_usd_per_month:,.0f}/month is below the cheapest placement that meets every other constraint")
    return out or [f"no feasible placement: {message}"]
