"""Options of a language-model workload across the edge-cloud boundary, where it opts in:

- `prefill_cloud_decode_edge` (`split:`): the prompt goes up, a cloud pool prefills it, the KV
  cache of the prompt (`kv_cache_bytes`) comes down over the WAN, and the source's device decodes
  every output token. TTFT = upload + cloud prefill + KV transfer + first decode step; TPOT is
  the device's.
- `speculative` (`speculative: {draft, k}`): the draft model on the source's device proposes `k`
  tokens a round, the cloud pool's target model verifies them in one pass, one WAN round trip per
  round; a round yields `expected_tokens_per_round(a, k)` tokens on average.

Both load the device (the decoder or the draft), the workload's own pool instances and both link
directions, so the solver keeps capacity joint with every other option. Latencies come from the
same serving model as `llm.py` (`llm_serving.operating_point`), on each side at its utilisation:
the device's varies with what else the solver puts there (`BoundaryServing.latencies_ms`), the
pool's instances are the workload's own and run at their target.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

from planner import catalog
from planner.costs.llm import LlmCost, expected_tokens_per_round, kv_cache_bytes, llm_engine, llm_precisions
from planner.errors import PlannerError
from planner.model.system import Resource, System
from planner.model.workloads import acceptance_rate, engine_owner, planned_rate_per_s, shares_engines
from planner.plan.llm_serving import Point, Shape, capacity_per_s, operating_point
from planner.plan.options.common import Option, levels, privacy_violation, send, transfer_ms, weakest
from planner.plan.options.llm import kv_choices
from planner.plan.violations import Violation
from planner.units import BYTES_PER_TOKEN

PREFILL_CLOUD = "prefill_cloud_decode_edge"
SPECULATIVE = "speculative"


@dataclass(frozen=True)
class Side:
    """One side of a split request: a model's costs on a server, the request's shape there, and
    one server's capacity in requests per second."""

    cost: LlmCost
    shape: Shape
    capacity_per_s: float

    @classmethod
    def of(cls, cost: LlmCost, shape: Shape) -> Side:
        return cls(cost, shape, capacity_per_s(cost, shape))

    def join_stall_s(self, pt: Point) -> float:
        """The mean extra wait of a sequence that joins the batch while another request's prompt
        is being prefilled (compute-bound, much longer than a decode step): the chance one is in
        progress (rate x prefill time) times half its length. Speculative rounds rejoin each
        side's batch every round, so they pay it every round."""
        t_p = self.cost.prefill_s(max(1, int(self.shape.prompt)))
        return pt.rate_per_s * t_p * t_p / 2

    def at(self, u: float) -> Point:
        """The steady state of one server at utilisation `u` of its capacity."""
        return operating_point(self.cost, self.shape, u * self.capacity_per_s)


@dataclass(frozen=True)
class BoundaryServing:
    """The serving model of a boundary option: its latencies at the device's utilisation `u`.

    prefill_cloud_decode_edge: `cloud` prefills (output 1), `edge` decodes a prefilled prompt.
    speculative: `edge` is the draft (prompt, then k tokens a round), `cloud` the target (prompt
    + k, then a verification a round); `tokens_per_round` and `rounds_p99` shape the rounds."""

    mode: str
    edge: Side
    cloud: Side
    cloud_u: float              # the pool instances' utilisation (their autoscaler's target or less)
    up_ms: float                # the p99 prompt's upload
    kv_ms: float                # the p99 prompt's KV cache down to the device (prefill_cloud)
    round_net_ms: float         # a speculative round's drafts up and tokens down
    k: int = 0
    tokens_per_round: float = 1.0
    rounds_p99: int = 1
    verify_extra_ms: float = 0.0  # verifying k + 1 tokens rather than decoding one

    def latencies_ms(self, u: float) -> tuple[float, float, float]:
        """(end-to-end p99, TTFT p99, TPOT p99) in ms with the device at utilisation `u`."""
        e, c = self.edge.at(u), self.cloud.at(self.cloud_u)
        if not (e.stable and c.stable):
            return math.inf, math.inf, math.inf
        if self.mode == PREFILL_CLOUD:
            before_ms = self.up_ms + c.ttft_p99_s * 1e3 + self.kv_ms  # the KV cache is on the device
            return before_ms + e.e2e_p99_s * 1e3, before_ms + e.ttft_p99_s * 1e3, e.tpot_p99_s * 1e3
        round_ms = self.round_ms(e, c)
        ttft = e.ttft_p99_s * 1e3 + (self.k - 1) * e.tpot_p99_s * 1e3 + self.up_ms + c.ttft_p99_s * 1e3 \
            + self.round_net_ms / 2
        return ttft + (self.rounds_p99 - 1) * round_ms, ttft, round_ms / self.tokens_per_round

    def round_ms(self, e: Point, c: Point) -> float:
        """One speculative round after the first: the draft joins its batch (half an iteration
        in progress, and a prompt's prefill if one is running) and drafts k tokens, they go up,
        the target verifies them (likewise, then its own iteration), the accepted tokens come
        down. TPOT averages a request's rounds, so each step is counted once at its p99, not
        the round at a p99 of p99s."""
        return ((self.k + 0.5) * e.tpot_p99_s + 1.5 * c.tpot_p99_s + self.edge.join_stall_s(e) + self.cloud.join_stall_s(c)) \
            * 1e3 + self.verify_extra_ms + self.round_net_ms


def boundary_options(system: System, name: str) -> list[Option]:
    """The boundary options a language-model workload opted into (none otherwise): for each
    cloud pool its privacy lets the prompt reach, with the source's first device group."""
    sc = system.scenario
    w = sc.workloads[name]
    modes = list(w.llm_splits()) + ([SPECULATIVE] if w.speculative is not None else [])
    src = system.compute_at(w.source)
    if not modes or not src or src[0].kind != "device":
        return []
    edge = src[0]
    options = []
    for site, allowed in system.candidate_sites(name):
        if sc.sites[site].kind != "cloud":
            continue
        for group in system.compute_at(site):
            if group.kind != "pool":
                continue
            runs = set(llm_precisions(group.hardware)) & set(llm_precisions(edge.hardware))
            for model, prec in ((m, p) for m in w.variants for p in (w.precisions or catalog.PRECISIONS) if p in runs):
                for kv in kv_choices(w, group.hardware, edge.hardware):  # one cache type on both sides
                    pool = system[group.id.dedicated(engine_owner(sc, name, llm_engine(model, prec, kv)))]
                    for mode in modes:
                        options.append(_option(system, name, mode, edge, pool, site, prec, allowed, model, kv))
    return options


def _option(system: System, name: str, mode: str, edge: Resource, pool: Resource, site: str, prec: str,
            allowed: bool, model: str, kv: str | None = None) -> Option:
    """One boundary option running `model` (the workload's, or a variant of its family) in the
    cloud, the KV cache on both sides (and the one sent down) at `kv` (None: the default)."""
    sc = system.scenario
    w = sc.workloads[name]
    rate, mean_share = planned_rate_per_s(w)
    shape = Shape.of(w.prompt_dist(), w.output_dist())
    up, down = system.route(w.source, site), system.route(site, w.source)
    spec = w.speculative
    edge_model = spec.draft if mode == SPECULATIVE else model
    o = Option(name, site, pool.hardware, prec, "inference", edge_hardware=edge.hardware, slo_ms=w.slo.p99_ms,
               mem_limit_gb=catalog.hardware(edge.hardware).mem_gb, ttft_slo_ms=w.slo.ttft_ms,
               tpot_slo_ms=w.slo.tpot_ms, engine=llm_engine(edge_model, prec, kv), llm_split=mode,
               model=model, family=w.family, kv_precision=kv)
    o.judge_accuracy(w.accuracy_floor)  # the answer is the target's: speculative decoding keeps its output
    if not allowed:
        o.rule_out(privacy_violation(system, name, site))
    try:
        edge_cost = edge.llm_cost(edge_model, prec, kv)
        cloud_cost = pool.llm_cost(model, prec, kv)
    except PlannerError as err:
        o.rule_out(Violation("estimate", f"no estimate: {err}"))
        return o
    o.source = weakest(edge_cost.source, cloud_cost.source)
    o.memory_gb = edge_cost.weight_gb + edge_cost.workspace_gb
    if mode == PREFILL_CLOUD:
        sv, up_bytes, down_bytes = _prefill_cloud(system, w, shape, edge_cost, cloud_cost, pool, up, down, kv)
    else:
        sv, up_bytes, down_bytes = _speculative(system, w, shape, edge_cost, cloud_cost, pool, up, down)
    o.serving = sv
    o.input_bytes, o.output_bytes = up_bytes, down_bytes
    if sv.edge.capacity_per_s <= 0 or sv.cloud.capacity_per_s <= 0:
        side = sv.edge if sv.edge.capacity_per_s <= 0 else sv.cloud
        where = edge.id if side is sv.edge else pool.id
        o.rule_out(Violation("unstable", f"{side.cost.model} on {side.cost.hardware}: {side.at(0.0).why or 'no capacity'}",
                             where))
        o.p99_ms_by_level[edge.id] = {u: math.inf for u in levels(edge)}
        o.ttft_ms_by_level = o.tpot_ms_by_level = {u: math.inf for u in levels(edge)}
        o.p99_alone_ms = o.compute_ms = math.inf
        return o
    edge_share = rate / sv.edge.capacity_per_s  # the device group's servers' worth
    by = {u: sv.latencies_ms(u) for u in levels(edge)}
    o.p99_ms_by_level[edge.id] = {u: v[0] for u, v in by.items()}
    o.ttft_ms_by_level = {u: v[1] for u, v in by.items()}
    o.tpot_ms_by_level = {u: v[2] for u, v in by.items()}
    o.p99_alone_ms = sv.latencies_ms(min(edge_share / edge.servers, 0.999))[0]
    o.compute_ms = o.p99_alone_ms
    o.network_ms = sv.up_ms + sv.kv_ms + sv.round_net_ms
    o.stages = [(edge.id, 0.0), (pool.id, 0.0)]  # the device first: its utilisation sets the latencies
    o.loads[edge.id] = edge_share
    o.loads[pool.id] = rate / sv.cloud.capacity_per_s / levels(pool)[0]
    o.bill += edge.month_bill(0.0, mean_share * min(edge_share, edge.servers))
    send(system, o, up, rate, up_bytes, w.arrival.mean_rate_per_s)
    send(system, o, down, rate, down_bytes, w.arrival.mean_rate_per_s)
    o.detail = {"edge_capacity_per_s": sv.edge.capacity_per_s, "cloud_capacity_per_s": sv.cloud.capacity_per_s,
                "input_bytes": up_bytes, "output_bytes": down_bytes, "kv_ms": sv.kv_ms,
                "tokens_per_round": sv.tokens_per_round, "egress_usd_per_month": o.bill.egress_usd}
    return o


def _cloud_u(rate: float, side: Side, pool: Resource, shared: bool = False) -> float:
    """Utilisation of each of the workload's own instances: as many as keep each below the
    autoscaler's target, at least the pool's minimum; the target where a fleet's members share
    them (`engine_owner`)."""
    if side.capacity_per_s <= 0:
        return 1.0
    if shared:
        return levels(pool)[0]
    share = rate / side.capacity_per_s
    return share / max(1, math.ceil(share / levels(pool)[0] - 1e-9), pool.min_instances)


def _prefill_cloud(system: System, w, shape: Shape, edge_cost: LlmCost, cloud_cost: LlmCost, pool: Resource,
                   up, down, kv: str | None) -> tuple[BoundaryServing, float, float]:
    """Prefill on the pool (a request leaves it with its first logits), decode on the device;
    the bytes up are the prompt's text, down the prompt's KV cache (at `kv`)."""
    rate, _ = planned_rate_per_s(w)
    cloud = Side.of(cloud_cost, replace(shape, output=1.0, output_p99=1, output_cv=0.0))
    edge = Side.of(edge_cost, replace(shape, prefilled=True))
    kv_p99 = kv_cache_bytes(cloud_cost.model, shape.prompt_p99, cloud_cost.precision, kv)
    sv = BoundaryServing(PREFILL_CLOUD, edge, cloud, _cloud_u(rate, cloud, pool, shares_engines(w)),
                         transfer_ms(system, up, shape.prompt_p99 * BYTES_PER_TOKEN), transfer_ms(system, down, kv_p99), 0.0)
    return sv, shape.prompt * BYTES_PER_TOKEN, kv_cache_bytes(cloud_cost.model, shape.prompt, cloud_cost.precision, kv)


def _speculative(system: System, w, shape: Shape, edge_cost: LlmCost, cloud_cost: LlmCost, pool: Resource,
                 up, down) -> tuple[BoundaryServing, float, float]:
    """The draft prefills the prompt on the device and drafts k tokens a round; the target
    prefills the prompt with the first drafts, then verifies a round's drafts in one pass."""
    rate, _ = planned_rate_per_s(w)
    k = w.speculative.k
    a, _ = acceptance_rate(w, cloud_cost.model)
    per_round = expected_tokens_per_round(a, k)
    rounds = max(1.0, shape.output / per_round)
    rounds_p99 = max(1, math.ceil(shape.output_p99 / per_round))
    edge = Side.of(edge_cost, replace(shape, output=rounds * k, output_p99=rounds_p99 * k))
    cloud = Side.of(cloud_cost, replace(shape, prompt=shape.prompt + k, prompt_sq=shape.prompt_sq + 2 * k * shape.prompt
                                        + k * k, prompt_p99=shape.prompt_p99 + k, output=rounds, output_p99=rounds_p99))
    ctx = shape.prompt + shape.output / 2
    verify_extra_ms = (cloud_cost.step_s(k + 1, k + 1, (k + 1) * (ctx + 1), ctx) - cloud_cost.decode_step_s(1, ctx)) * 1e3
    round_net_ms = transfer_ms(system, up, k * BYTES_PER_TOKEN) + transfer_ms(system, down, (k + 1) * BYTES_PER_TOKEN)
    sv = BoundaryServing(SPECULATIVE, edge, cloud, _cloud_u(rate, cloud, pool, shares_engines(w)),
                         transfer_ms(system, up, (shape.prompt_p99 + k) * BYTES_PER_TOKEN), 0.0, round_net_ms, k,
                         per_round, rounds_p99, max(verify_extra_ms, 0.0))
    return sv, (shape.prompt + rounds * k) * BYTES_PER_TOKEN, (shape.output + rounds) * BYTES_PER_TOKEN
