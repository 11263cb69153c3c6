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
from planner.model.system import System
from planner.model.workloads import io_bytes, is_onnx, planned_rate_per_s
from planner.plan.options.common import (
    Option, cost_estimate, levels, planned, precisions, privacy_violation, send, span, transfer_ms, weakest,
)
from planner.plan.queueing import wait_quantile_s
from planner.plan.violations import Violation
from planner.units import BYTES_PER_ELEMENT

#: split points tried per model: the cuts whose activations are smallest
MAX_SPLITS = 3


def batch_size(rate_per_s: float, servers: int, max_batch: int, max_wait_ms: float) -> int:
    """The batch that fills within max_wait at this rate per server, at most max_batch."""
    return max(1, min(max_batch, int(rate_per_s / max(1, servers) * max_wait_ms / 1000) + 1))


def inference_options(system: System, name: str) -> list[Option]:
    """Every way to serve an inference workload, with loads, cost and p99 per level."""
    sc = system.scenario
    w = sc.workloads[name]
    in_bytes, out_bytes = io_bytes(w)
    rate, mean_share = planned_rate_per_s(w)
    options = []
    for site, allowed in system.candidate_sites(name):
        up, down = system.route(w.source, site), system.route(site, w.source)
        for r in system.compute_at(site):
            hw = catalog.hardware(r.hardware)
            for model, prec in ((m, p) for m in w.variants for p in precisions(w, r.hardware)):
                o = Option(name, site, r.hardware, prec, "inference", slo_ms=w.slo.p99_ms, mem_limit_gb=hw.mem_gb,
                           input_bytes=in_bytes, output_bytes=out_bytes, model=model, family=w.family)
                o.judge_accuracy(w.accuracy_floor)
                if not allowed:
                    o.rule_out(privacy_violation(system, name, site))
                try:
                    e1 = cost_estimate(sc, model, r.hardware, prec, 1)
                except PlannerError as err:
                    o.rule_out(Violation("estimate", f"no estimate: {err}"))
                    options.append(o)
                    continue
                per_server = r.servers if r.kind == "device" else 1
                batch = batch_size(rate, per_server, r.max_batch, r.max_wait_ms)
                eb = e1 if batch == 1 else cost_estimate(sc, model, r.hardware, prec, batch)
                service_s = eb.latency_ms / 1000
                busy_per_s = rate * service_s / batch  # device-seconds per second
                o.memory_gb, o.source = eb.memory_gb, weakest(e1.source, eb.source)
                o.latency_span = span(eb)
                if not eb.fits:
                    o.rule_out(Violation("memory", f"needs {eb.memory_gb:.1f} GB, {r.hardware} has {hw.mem_gb:g} GB",
                                         r.id, eb.memory_gb, hw.mem_gb))
                o.network_ms = transfer_ms(system, up, in_bytes) + transfer_ms(system, down, out_bytes)
                # A batching server holds a lone request up to max_wait for company.
                o.compute_ms = eb.latency_ms + (r.max_wait_ms if r.max_batch > 1 else 0.0)
                lv = levels(r)
                servers = r.servers if r.kind == "device" else None
                o.p99_ms_by_level[r.id] = {
                    u: o.network_ms + o.compute_ms + 1000 * wait_quantile_s(
                        servers or max(1, math.ceil(busy_per_s / u)), u, service_s, 0.99, r.service_cv)
                    for u in lv}
                o.stages = [(r.id, service_s)]
                n_alone = servers or max(1, math.ceil(busy_per_s / lv[0]))
                o.p99_alone_ms = o.network_ms + o.compute_ms + 1000 * wait_quantile_s(
                    n_alone, min(busy_per_s / n_alone, 0.999), service_s, 0.99, r.service_cv)
                # a device group is loaded in device-seconds per second; a pool in instances at its target
                o.loads[r.id] = busy_per_s if r.kind == "device" else busy_per_s / lv[0]
                o.bill += r.month_bill(servers=0.0, busy_per_s=mean_share * busy_per_s)  # active power
                send(system, o, up, rate, in_bytes, w.arrival.mean_rate_per_s)
                send(system, o, down, rate, out_bytes, w.arrival.mean_rate_per_s)
                o.detail = {"batch": batch, "service_ms": eb.latency_ms, "busy_per_s": busy_per_s,
                            "input_bytes": in_bytes, "output_bytes": out_bytes,
                            "egress_usd_per_month": o.bill.egress_usd}
                options.append(o)
    return options


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
    n_ops = len(graph(model, 1).ops)
    edge = system.compute_at(w.source)[0]
    at_edge = set(precisions(w, edge.hardware))
    edge_levels = levels(edge)  # hoisted: every split point of every pool reads them
    options = []
    for site, allowed in system.candidate_sites(name):
        if sc.sites[site].kind != "cloud" or not allowed:  # a split the workload's privacy forbids is never built
            continue
        up, down = system.route(w.source, site), system.route(site, w.source)
        for pool in system.compute_at(site):
            if pool.kind != "pool":
                continue
            level = levels(pool)[0]
            batch = batch_size(rate, 1, pool.max_batch, pool.max_wait_ms)
            for prec in [p for p in precisions(w, pool.hardware) if p in at_edge]:
                for k, cut in _cuts(model, prec, in_bytes):
                    try:
                        raw_edge = _part(model, edge.hardware, prec, 1, 0, k + 1)
                        raw_cloud = _part(model, pool.hardware, prec, batch, k + 1, n_ops)
                    except PlannerError:
                        continue
                    e_edge, e_cloud = planned(sc, raw_edge), planned(sc, raw_cloud)
                    o = Option(name, site, pool.hardware, prec, "inference", split=k, edge_hardware=edge.hardware,
                               slo_ms=w.slo.p99_ms, source=weakest(e_edge.source, e_cloud.source),
                               input_bytes=cut, output_bytes=out_bytes, model=model, family=w.family)
                    o.judge_accuracy(w.accuracy_floor)
                    if not (e_edge.fits and e_cloud.fits):
                        o.rule_out(Violation("memory", "the model's parts do not fit in memory"))
                    edge_s, cloud_s = e_edge.latency_ms / 1000, e_cloud.latency_ms / 1000
                    o.network_ms = transfer_ms(system, up, cut) + transfer_ms(system, down, out_bytes)
                    o.compute_ms = e_edge.latency_ms + e_cloud.latency_ms + (pool.max_wait_ms if pool.max_batch > 1 else 0.0)
                    busy_edge = rate * edge_s
                    instances = rate * cloud_s / batch / level
                    n_cloud = max(1, math.ceil(instances))
                    cloud_wait_ms = 1000 * wait_quantile_s(n_cloud, instances * level / n_cloud, cloud_s, 0.99, pool.service_cv)
                    o.p99_ms_by_level[edge.id] = {
                        u: o.network_ms + o.compute_ms + cloud_wait_ms + 1000 * wait_quantile_s(
                            edge.servers, u, edge_s, 0.99, edge.service_cv) for u in edge_levels}
                    o.p99_alone_ms = o.network_ms + o.compute_ms + cloud_wait_ms
                    o.stages = [(edge.id, edge_s), (pool.id, cloud_s)]
                    o.loads = {edge.id: busy_edge, pool.id: instances}
                    o.bill += edge.month_bill(0.0, mean_share * busy_edge) + pool.month_bill(0.0, mean_share * rate * cloud_s / batch)
                    send(system, o, up, rate, cut, w.arrival.mean_rate_per_s)
                    send(system, o, down, rate, out_bytes, w.arrival.mean_rate_per_s)
                    o.memory_gb = max(e_edge.memory_gb, e_cloud.memory_gb)
                    o.latency_span = span(e_edge, e_cloud)
                    o.detail = {"batch": batch, "service_ms": e_cloud.latency_ms, "edge_ms": e_edge.latency_ms,
                                "input_bytes": cut, "output_bytes": out_bytes, "egress_usd_per_month": o.bill.egress_usd}
                    options.append(o)
    return options
