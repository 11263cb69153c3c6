"""Options of an ordinary (non-language-model) inference workload: the whole model on a device
group or pool it may reach, or split (first layers on the source's edge device, the rest in a
cloud pool) where a layer's output is smaller than the input it would otherwise upload."""
from __future__ import annotations

import math
from functools import lru_cache

from planner import catalog
from planner.costs.estimator import Estimate, estimate_part
from planner.costs.graphs import graph
from planner.errors import PlannerError
from planner.model.accounting import weighted
from planner.model.system import System
from planner.model.workloads import io_bytes, is_onnx, planned_rate_per_s
from planner.plan.options.common import (
    Option, byte_bill, cost_estimate, levels, planned, precisions, privacy_violation, route_loads, span, transfer_ms, weakest,
)
from planner.plan.queueing import wait_quantile_s
from planner.plan.violations import Violation
from planner.units import BYTES_PER_ELEMENT

#: split points tried per model: the cuts whose activations are smallest
MAX_SPLITS = 3


def batch_size(rate_per_s: float, servers: int, max_batch: int, max_wait_ms: float) -> int:
    """The batch that fills within max_wait at this rate per server, at most max_batch."""
    return max(1, min(max_batch, int(rate_per_s / max(1, servers) * max_wait_ms / 1000) + 1))


@lru_cache(maxsize=4096)
def _device_waits(servers: int, service_cv: float, lv: tuple[float, ...], service_s: float) -> tuple[tuple[float, float], ...]:
    """A device group's p99 queueing wait (ms) at each level for one service time: its servers
    are fixed, so every workload and fleet member running that template on such a group waits the same."""
    return tuple((u, 1000 * wait_quantile_s(servers, u, service_s, 0.99, service_cv)) for u in lv)


def inference_options(system: System, name: str) -> list[Option]:
    """Every way to serve an inference workload, with loads, cost and p99 per level."""
    sc = system.scenario
    w = sc.workloads[name]
    in_bytes, out_bytes = io_bytes(w)
    rate, mean_share = planned_rate_per_s(w)
    billed = w.arrival.mean_rate_per_s
    options = []
    for site, allowed in system.candidate_sites(name):
        up, down = system.route(w.source, site), system.route(site, w.source)
        barred = None if allowed else privacy_violation(system, name, site)
        network_ms = transfer_ms(system, up, in_bytes) + transfer_ms(system, down, out_bytes)
        bytes_up, bytes_down = byte_bill(system, up), byte_bill(system, down)
        links = route_loads(up, down, rate, in_bytes, out_bytes)  # the same for every option at the site
        for r in system.compute_at(site):
            servers = r.servers if r.kind == "device" else None
            batch = batch_size(rate, servers or 1, r.max_batch, r.max_wait_ms)
            lv = levels(r)
            # a batching server holds a lone request up to max_wait for company
            hold_ms = r.max_wait_ms if r.max_batch > 1 else 0.0
            for t, eb in _wholes(system, w, r.hardware, batch):
                o = t.stamped(name, w.slo.p99_ms)
                o.site, o.input_bytes, o.output_bytes = site, in_bytes, out_bytes
                if barred is not None:
                    o.rule_out(barred)
                if eb is None:  # no estimate: the template is ruled out, saying why
                    options.append(o)
                    continue
                service_s = eb.latency_ms / 1000
                busy_per_s = rate * service_s / batch  # device-seconds per second
                if not eb.fits:
                    o.rule_out(Violation("memory", f"needs {eb.memory_gb:.1f} GB, {r.hardware} has {o.mem_limit_gb:g} GB",
                                         r.id, eb.memory_gb, o.mem_limit_gb))
                o.network_ms = network_ms
                o.compute_ms = compute_ms = eb.latency_ms + hold_ms
                if servers:  # a device group's waits per level are its own, whatever the member's rate
                    o.p99_ms_by_level[r.id] = {u: network_ms + compute_ms + wait_ms
                                               for u, wait_ms in _device_waits(servers, r.service_cv, lv, service_s)}
                else:
                    o.p99_ms_by_level[r.id] = {
                        u: network_ms + compute_ms + 1000 * wait_quantile_s(
                            max(1, math.ceil(busy_per_s / u)), u, service_s, 0.99, r.service_cv)
                        for u in lv}
                o.stages = [(r.id, service_s)]
                n_alone = servers or max(1, math.ceil(busy_per_s / lv[0]))
                o.p99_alone_ms = network_ms + compute_ms + 1000 * wait_quantile_s(
                    n_alone, min(busy_per_s / n_alone, 0.999), service_s, 0.99, r.service_cv)
                # a device group is loaded in device-seconds per second; a pool in instances at its target
                o.loads[r.id] = busy_per_s if r.kind == "device" else busy_per_s / lv[0]
                o.loads.update(links)
                # active power, and the bytes each way
                o.bill = weighted(r.unit_bills[1], mean_share * busy_per_s, bytes_up, billed * in_bytes,
                                  bytes_down, billed * out_bytes)
                o.detail = {"batch": batch, "service_ms": eb.latency_ms, "busy_per_s": busy_per_s,
                            "input_bytes": in_bytes, "output_bytes": out_bytes,
                            "egress_usd_per_month": o.bill.egress_usd}
                options.append(o)
    return options


def _wholes(system: System, w, hardware: str, batch: int) -> tuple[tuple[Option, Estimate | None], ...]:
    """`_whole` of each model the workload may run and each precision it allows on `hardware`, in
    that order; kept per system for every workload that asks the same (every member of a fleet)."""
    cache = system.memo.setdefault("whole_lists", {})
    key = (w.model_id, w.family, tuple(w.precisions or ()), hardware, batch, w.accuracy_floor)
    found = cache.get(key)
    if found is None:
        found = cache[key] = tuple(_whole(system, w, m, hardware, p, batch) for m in w.variants for p in precisions(w, hardware))
    return found


def _whole(system: System, w, model: str, hardware: str, precision: str, batch: int) -> tuple[Option, Estimate | None]:
    """The template of the options running `model` whole on `hardware` (what every workload of
    that model, accuracy floor and family shares: its accuracy, memory and estimate source),
    with its estimate at `batch`; for a model with no estimate there, None, and the template
    ruled out saying so (after its accuracy and an option's privacy, as `rule_out` ranks them).
    Kept per system."""
    cache = system.memo.setdefault("whole_templates", {})
    key = (model, hardware, precision, batch, w.family, w.accuracy_floor)
    found = cache.get(key)
    if found is not None:
        return found
    sc = system.scenario
    hw = catalog.hardware(hardware)
    t = Option("", "", hardware, precision, "inference", mem_limit_gb=hw.mem_gb, model=model, family=w.family)
    t.judge_accuracy(w.accuracy_floor)
    try:
        e1 = cost_estimate(sc, model, hardware, precision, 1)
    except PlannerError as err:
        t.rule_out(Violation("estimate", f"no estimate: {err}"))
        found = cache[key] = (t, None)
        return found
    eb = e1 if batch == 1 else cost_estimate(sc, model, hardware, precision, batch)
    t.memory_gb, t.source, t.latency_span = eb.memory_gb, weakest(e1.source, eb.source), span(eb)
    found = cache[key] = (t, eb)
    return found


@lru_cache(maxsize=65536)
def _part(model: str, hardware: str, precision: str, batch: int, start: int, stop: int) -> Estimate:
    return estimate_part(model, hardware, precision, batch, start, stop)


@lru_cache(maxsize=4096)
def _cuts(model: str, precision: str, input_bytes: float) -> list[tuple[int, float]]:
    """The MAX_SPLITS cuts whose activations (at `precision`) are smallest and below the input."""
    bpe = BYTES_PER_ELEMENT[precision]
    cuts = [(i, b * bpe / 4) for i, b in graph(model, 1).split_points()[:-1] if b * bpe / 4 < input_bytes]
    return sorted(cuts, key=lambda t: (t[1], t[0]))[:MAX_SPLITS]


def cut_bytes(model: str, precision: str, split: int) -> float:
    """Bytes of the activations live at the cut after op `split`, at `precision`."""
    return graph(model, 1).live_bytes()[split] * BYTES_PER_ELEMENT.get(precision, 4.0) / 4


def split_options(system: System, name: str) -> list[Option]:
    """The model's first layers on the source's first device group, the rest on a cloud pool."""
    sc = system.scenario
    w = sc.workloads[name]
    src = system.compute_at(w.source)
    if not w.allow_split or not src or src[0].kind != "device" or is_onnx(w.model_id):
        return []
    return [o for model in w.variants for o in _split_options(system, name, model)]


def _split_options(system: System, name: str, model: str) -> list[Option]:
    """`split_options` of one model (a fixed model, or one variant of the workload's family)."""
    sc = system.scenario
    w = sc.workloads[name]
    in_bytes, out_bytes = io_bytes(w)
    rate, mean_share = planned_rate_per_s(w)
    billed = w.arrival.mean_rate_per_s
    edge = system.compute_at(w.source)[0]
    at_edge = set(precisions(w, edge.hardware))
    edge_busy = edge.unit_bills[1]
    options = []
    for site, allowed in system.candidate_sites(name):
        if sc.sites[site].kind != "cloud" or not allowed:  # a split the workload's privacy forbids is never built
            continue
        up, down = system.route(w.source, site), system.route(site, w.source)
        down_ms = transfer_ms(system, down, out_bytes)
        bytes_up, bytes_down = byte_bill(system, up), byte_bill(system, down)
        at_cut: dict[float, tuple[float, dict]] = {}  # per cut's bytes: network time and link loads, for every pool
        for pool in system.compute_at(site):
            if pool.kind != "pool":
                continue
            level = levels(pool)[0]
            batch = batch_size(rate, 1, pool.max_batch, pool.max_wait_ms)
            hold_ms = pool.max_wait_ms if pool.max_batch > 1 else 0.0
            for prec in [p for p in precisions(w, pool.hardware) if p in at_edge]:
                for cut, t, edge_s, cloud_s, edge_waits_ms in _splits(system, w, model, edge, pool, prec, batch, in_bytes):
                    o = t.stamped(name, w.slo.p99_ms)
                    o.site, o.input_bytes, o.output_bytes = site, cut, out_bytes
                    sent = at_cut.get(cut)
                    if sent is None:
                        sent = at_cut[cut] = (transfer_ms(system, up, cut) + down_ms,
                                              route_loads(up, down, rate, cut, out_bytes))
                    o.network_ms = network_ms = sent[0]
                    o.compute_ms = compute_ms = t.detail["edge_ms"] + t.detail["service_ms"] + hold_ms
                    busy_edge = rate * edge_s
                    instances = rate * cloud_s / batch / level
                    n_cloud = max(1, math.ceil(instances))
                    cloud_wait_ms = 1000 * wait_quantile_s(n_cloud, instances * level / n_cloud, cloud_s, 0.99, pool.service_cv)
                    o.p99_ms_by_level[edge.id] = {u: network_ms + compute_ms + cloud_wait_ms + wait_ms
                                                  for u, wait_ms in edge_waits_ms}
                    o.p99_alone_ms = network_ms + compute_ms + cloud_wait_ms
                    o.stages = [(edge.id, edge_s), (pool.id, cloud_s)]
                    o.loads = {edge.id: busy_edge, pool.id: instances}
                    o.loads.update(sent[1])
                    o.bill = weighted(edge_busy, mean_share * busy_edge, pool.unit_bills[1], mean_share * rate * cloud_s / batch,
                                      bytes_up, billed * cut, bytes_down, billed * out_bytes)
                    o.detail = {"batch": batch, "service_ms": t.detail["service_ms"], "edge_ms": t.detail["edge_ms"],
                                "input_bytes": cut, "output_bytes": out_bytes, "egress_usd_per_month": o.bill.egress_usd}
                    options.append(o)
    return options


def _figures(e: Estimate) -> tuple:
    """A part's estimate as far as its options could tell two apart (its energy too, though their
    bills price busy time: parts that differ there are no twins)."""
    return e.latency_ms, e.latency_ms_low, e.latency_ms_high, e.memory_gb, e.fits, e.energy_j, e.source


def _splits(system: System, w, model: str, edge, pool, precision: str, batch: int, in_bytes: float) -> tuple:
    """For each cut of `_cuts` both of whose parts have an estimate: its bytes, the template of
    its options (what every member of a fleet shares: accuracy, memory, estimate source, the
    parts' times in its detail), the parts' service times (s), and the edge's wait (ms) at each
    level. Kept per system: every member of a fleet asks for the same."""
    cache = system.memo.setdefault("split_templates", {})
    key = (model, edge.hardware, edge.servers, edge.service_cv, pool.hardware, precision, batch, in_bytes, w.family,
           w.accuracy_floor)
    found = cache.get(key)
    if found is not None:
        return found
    sc = system.scenario
    n_ops = len(graph(model, 1).ops)
    out = []
    seen = set()
    for k, cut in _cuts(model, precision, in_bytes):
        try:
            e_edge = planned(sc, _part(model, edge.hardware, precision, 1, 0, k + 1))
            e_cloud = planned(sc, _part(model, pool.hardware, precision, batch, k + 1, n_ops))
        except PlannerError:
            continue
        # a cut beside a reshape sends the same bytes and splits the same time: the same option
        # for every member under another split index, so only the earlier cut is offered
        same = (cut, _figures(e_edge), _figures(e_cloud))
        if same in seen:
            continue
        seen.add(same)
        t = Option("", "", pool.hardware, precision, "inference", split=k, edge_hardware=edge.hardware,
                   source=weakest(e_edge.source, e_cloud.source), model=model, family=w.family)
        t.judge_accuracy(w.accuracy_floor)
        if not (e_edge.fits and e_cloud.fits):
            t.rule_out(Violation("memory", "the model's parts do not fit in memory"))
        t.memory_gb = max(e_edge.memory_gb, e_cloud.memory_gb)
        t.latency_span = span(e_edge, e_cloud)
        t.detail = {"edge_ms": e_edge.latency_ms, "service_ms": e_cloud.latency_ms}
        edge_s, cloud_s = e_edge.latency_ms / 1000, e_cloud.latency_ms / 1000
        out.append((cut, t, edge_s, cloud_s, _device_waits(edge.servers, edge.service_cv, levels(edge), edge_s)))
    found = cache[key] = tuple(out)
    return found
