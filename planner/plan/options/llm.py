"""Options of a language-model inference workload: served with continuous batching on each
device group or pool it may reach, at each weight precision (int4 included, W4A16) and each
KV-cache precision the workload lists (`kv_choices`). The load is the share of a server's
capacity; p99 end to end, TTFT and TPOT come from `llm_serving`."""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

from planner import catalog
from planner.costs.llm import LlmCost, llm_engine, llm_precisions, serves, stores_kv
from planner.errors import PlannerError
from planner.model.system import Resource, System
from planner.model.workloads import engine_owner, io_bytes, planned_rate_per_s, shares_engines
from planner.plan.llm_serving import Shape, capacity_per_s, operating_point
from planner.plan.options.common import Option, levels, llm_span, privacy_violation, send, transfer_ms
from planner.plan.violations import Violation
from planner.units import BYTES_PER_TOKEN


@dataclass(frozen=True)
class LlmServing:
    """A language-model option's serving model: one server's capacity and the network delays."""

    cost: LlmCost
    shape: Shape
    capacity_per_s: float      # requests per second one server (device or instance) sustains
    up_ms: float               # the p99 prompt's upload
    first_down_ms: float       # the first token's trip back
    down_ms: float             # the whole answer's trip back

    def latencies_ms(self, u: float) -> tuple[float, float, float]:
        """(end-to-end p99, TTFT p99, TPOT p99) in ms with each server at utilisation `u` of its capacity."""
        pt = operating_point(self.cost, self.shape, u * self.capacity_per_s)
        if not pt.stable:
            return math.inf, math.inf, math.inf
        return (self.up_ms + pt.e2e_p99_s * 1e3 + self.down_ms, self.up_ms + pt.ttft_p99_s * 1e3 + self.first_down_ms,
                pt.tpot_p99_s * 1e3)


def slowed(cost: LlmCost, k: float) -> LlmCost:
    """`cost` with every iteration `k` times as long (compute, memory, fixed and communication)."""
    if k <= 1:
        return cost
    return replace(cost, flops_per_s=cost.flops_per_s / k, bytes_per_s=cost.bytes_per_s / k, fixed_s=cost.fixed_s * k,
                   comm_s_per_token=cost.comm_s_per_token * k, comm_fixed_s=cost.comm_fixed_s * k)


def llm_options(system: System, name: str) -> list[Option]:
    """Every way to serve a language-model workload. A pool's instances serve it alone (its
    `ResourceId.dedicated` instances); a device group's level is shared by whatever runs there."""
    sc = system.scenario
    w = sc.workloads[name]
    shape = Shape.of(w.prompt_dist(), w.output_dist())
    rate, mean_share = planned_rate_per_s(w)
    options = []
    for site, allowed in system.candidate_sites(name):
        for group in system.compute_at(site):
            allowed_prec = w.precisions or list(llm_precisions(group.hardware))
            for model, prec in ((m, p) for m in w.variants for p in allowed_prec if serves(group.hardware, p)):
                for kv in kv_choices(w, group.hardware):
                    r = system[group.id.dedicated(engine_owner(sc, name, llm_engine(model, prec, kv)))] \
                        if group.kind == "pool" else group
                    options.append(llm_option(system, name, site, allowed, r, prec, shape, rate, mean_share,
                                              w.arrival.mean_rate_per_s, model, kv))
    return options


def kv_choices(w, *hardware: str) -> tuple[str | None, ...]:
    """The KV-cache precisions the planner may serve workload `w` with on every one of
    `hardware`: each it lists that the hardware stores (`stores_kv`: fp8 where it has fp8); a
    single value is the workload's fixed choice, taken as given wherever it runs."""
    kvs = w.kv_precisions()
    return kvs if len(kvs) == 1 else tuple(k for k in kvs if all(stores_kv(h, k) for h in hardware))


def llm_option(system: System, name: str, site: str, allowed: bool, r: Resource, prec: str, shape: Shape,
               rate: float, mean_share: float, mean_rate_per_s: float, model: str | None = None,
               kv: str | None = None) -> Option:
    """One way to serve a language-model workload: `r` (a device group, or a pool's instances
    dedicated to the workload) at `prec`, for requests of `shape` arriving at `rate` at the
    peak (`mean_share` of it on average, `mean_rate_per_s` billed), running `model` (a variant
    of the workload's family; default its own model) with its KV cache at `kv` (None: the
    default). Routed pairs call it with one side's rate and token shape. The accuracy floor is
    held against the weights' precision only: KV precision is assumed accuracy-neutral
    (`costs/llm.py`: no sourced figure isolates it)."""
    sc = system.scenario
    w = sc.workloads[name]
    model = model or w.model_id
    in_bytes, out_bytes = io_bytes(w, shape.prompt, shape.output)
    up, down = system.route(w.source, site), system.route(site, w.source)
    hw = catalog.hardware(r.hardware)
    o = Option(name, site, r.hardware, prec, "inference", slo_ms=w.slo.p99_ms, mem_limit_gb=hw.mem_gb * r.gpus,
               ttft_slo_ms=w.slo.ttft_ms, tpot_slo_ms=w.slo.tpot_ms, engine=llm_engine(model, prec, kv),
               input_bytes=in_bytes, output_bytes=out_bytes, model=model, family=w.family, kv_precision=kv)
    o.judge_accuracy(w.accuracy_floor)
    if not allowed:
        o.rule_out(privacy_violation(system, name, site))
    try:
        cost = r.llm_cost(model, prec, kv)
    except PlannerError as err:
        o.rule_out(Violation("estimate", f"no estimate: {err}"))
        return o
    low, high = o.latency_span = llm_span(sc, model, r.hardware, prec)
    if sc.robust and high > 1:  # iterations as slow as the interval's high end
        cost, o.latency_span = slowed(cost, high), (low / high, 1.0)
    mu = capacity_per_s(cost, shape)
    o.source, o.memory_gb = cost.source, cost.weight_gb + cost.workspace_gb
    if mu <= 0:
        o.rule_out(Violation("unstable", operating_point(cost, shape, 1e-9).why, r.id))
    o.network_ms = transfer_ms(system, up, in_bytes) + transfer_ms(system, down, out_bytes)
    sv = LlmServing(cost, shape, mu, transfer_ms(system, up, shape.prompt_p99 * BYTES_PER_TOKEN),
                    transfer_ms(system, down, BYTES_PER_TOKEN), transfer_ms(system, down, out_bytes))
    o.serving = sv
    lv = levels(r)
    servers = r.servers if r.kind == "device" else None
    share = rate / mu if mu > 0 else math.inf  # servers' worth of capacity
    if servers:
        own_u = min(share / servers, 0.999)
    elif shares_engines(w):  # instances a fleet's members share: planned to run at the target
        own_u = lv[0]
    else:  # the workload's own instances, as many as keep each below the target
        own_u = share / max(1, math.ceil(share / lv[0] - 1e-9), r.min_instances) if mu > 0 else 1.0
    at = {u: (u if servers else own_u) for u in lv}
    by = {u: sv.latencies_ms(v) for u, v in at.items()} if mu > 0 else {u: (math.inf,) * 3 for u in lv}
    o.p99_ms_by_level[r.id] = {u: v[0] for u, v in by.items()}
    o.ttft_ms_by_level = {u: v[1] for u, v in by.items()}
    o.tpot_ms_by_level = {u: v[2] for u, v in by.items()}
    o.p99_alone_ms = (sv.latencies_ms(own_u) if mu > 0 else (math.inf,) * 3)[0]
    pt = operating_point(cost, shape, own_u * mu) if mu > 0 else None
    o.compute_ms = (pt.e2e_p99_s * 1e3) if pt is not None and pt.stable else math.inf
    o.stages = [(r.id, 0.0)]
    if r.kind == "device":
        o.loads[r.id] = share if mu > 0 else 0.0
        o.bill += r.month_bill(0.0, mean_share * min(o.loads[r.id], r.servers))
    else:
        o.loads[r.id] = share / lv[0] if mu > 0 else 0.0
    send(system, o, up, rate, in_bytes, mean_rate_per_s)
    send(system, o, down, rate, out_bytes, mean_rate_per_s)
    o.detail = {"capacity_per_s": mu, "weights_gb": cost.weight_gb, "kv_capacity_tokens": cost.kv_capacity_tokens,
                "max_batch": cost.max_batch(shape.prompt + shape.output), "gpus": r.gpus,
                "decode_ms": cost.decode_step_s(1, shape.prompt + shape.output / 2) * 1e3,
                "prefill_ms": cost.prefill_s(int(shape.prompt)) * 1e3,
                "input_bytes": in_bytes, "output_bytes": out_bytes, "egress_usd_per_month": o.bill.egress_usd}
    return o
