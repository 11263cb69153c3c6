"""Options of federated training: each participating site trains on its own first device group;
the option is where the updates are aggregated and at which precision the sites train."""
from __future__ import annotations

from planner import catalog
from planner.errors import PlannerError
from planner.model.accounting import Usage, bill
from planner.model.system import System
from planner.model.workloads import aggregate_s, update_bytes
from planner.model.workloads import training_step
from planner.plan.options.common import Option, cost_estimate, precisions, send, transfer_ms, weakest
from planner.plan.violations import Violation

_PRECISION_ORDER = ["fp32", "fp16", "bf16", "int8", "int4"]


def federated_options(system: System, name: str) -> list[Option]:
    sc = system.scenario
    w = sc.workloads[name]
    model_bytes = update_bytes(w)
    every_s, deadline_s = w.every_h * 3600, w.deadline_h * 3600
    rounds_per_s = w.rounds / every_s
    # every site with compute, but of a fleet's members only the best connected: each option
    # sums over every site, so one per member made planning quadratic in the members
    aggregators = [w.aggregator] if w.aggregator else system.one_per_fleet([n for n in sc.sites if system.compute_at(n)])
    local = {s: (system.compute_at(s) or [None])[0] for s in w.sites}
    options = []
    for agg in aggregators:
        if not all(system.connected(agg, s) for s in w.sites):
            continue
        agg_r = (system.compute_at(agg) or [None])[0]
        common = None
        for s in w.sites:
            p = set(precisions(w, local[s].hardware)) if local[s] else set()
            common = p if common is None else common & p
        for prec in sorted(common or {"fp32"}, key=_PRECISION_ORDER.index):
            o = Option(name, agg, agg_r.hardware if agg_r else "-", prec, "federated", model=w.model)
            local_s, sources = 0.0, []
            for s in w.sites:
                r = local[s]
                if r is None:
                    o.rule_out(Violation("estimate", f"site '{s}' has no device to train on"))
                    break
                try:
                    e = cost_estimate(sc, w.model, r.hardware, prec, w.batch, training=training_step(w))
                except PlannerError as err:
                    o.rule_out(Violation("estimate", f"no estimate on {r.hardware}: {err}"))
                    break
                sources.append(e.source)
                if not e.fits:
                    o.rule_out(Violation("memory", f"needs {e.memory_gb:.1f} GB to train, {r.hardware} at {s} has "
                                                   f"{catalog.hardware(r.hardware).mem_gb:g} GB", r.id))
                t_s = w.local_epochs * w.samples_per_site / w.batch * e.latency_ms / 1000
                local_s = max(local_s, t_s)
                duty = w.rounds * t_s / every_s
                o.loads[r.id] = o.loads.get(r.id, 0.0) + duty
                o.bill += r.month_bill(0.0, duty)
                upr, downr = system.route(s, agg), system.route(agg, s)
                send(system, o, upr, rounds_per_s, model_bytes)
                send(system, o, downr, rounds_per_s, model_bytes)
                o.network_ms = max(o.network_ms, transfer_ms(system, upr, model_bytes, rho=0.0)
                                   + transfer_ms(system, downr, model_bytes, rho=0.0))
            if o.infeasible:
                options.append(o)
                continue
            agg_s = aggregate_s(len(w.sites), model_bytes, agg_r.hardware if agg_r else None)
            round_s = local_s + o.network_ms / 1000 + agg_s
            o.compute_ms = local_s * 1000
            o.source = weakest(*sources) if sources else "assumed"
            if w.rounds * round_s > deadline_s:
                o.rule_out(Violation("deadline", f"{w.rounds} rounds take {w.rounds * round_s / 3600:.1f} h, "
                                                 f"deadline {w.deadline_h:g} h", None, w.rounds * round_s / 3600, w.deadline_h))
            if agg_r is not None and agg_r.kind == "pool":  # an instance launched per round to average
                o.bill += bill(agg_r.tariff, Usage(server_s=agg_r.cold_start_s + agg_s, busy_s=agg_s, span_s=every_s / w.rounds))
            elif agg_r is not None:
                o.bill += agg_r.month_bill(0.0, agg_s * rounds_per_s)
            o.p99_alone_ms = w.rounds * round_s * 1000
            o.detail = {"round_s": round_s, "local_s": local_s, "model_bytes": model_bytes, "aggregate_s": agg_s}
            options.append(o)
    return options
