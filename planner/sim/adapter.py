"""Scenario + placement -> `SimSpec`: the scenario resolved by `planner.model` (resources with
their tariffs, workload conventions) turned into the simulator's SI units, service times from
the cost model.

The planner reads the same model, so a plan and its simulation speak of the same system: bytes
in and out, training samples, weights shipped and federated updates come from
`planner.model.workloads`; prices, power and egress from each resource's `Tariff`. The simulator
takes a placement and the instances each pool starts with (warm); it knows no planner.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from planner.errors import ScenarioError
from planner.model.ids import ResourceId
from planner.model.pricing import Mix, hourly_rate, mixes
from planner.model.carbon import mean_intensity
from planner.model.routing import queue_limit
from planner.model.system import Resource, resolve, site_hourly_gco2e_per_kwh
from planner.model.workloads import (
    acceptance_rate, aggregate_s, deploy_bytes, engine_owner, io_bytes, kv_precision_of, model_ref, training_samples,
    training_step, update_bytes,
)
from planner.sim.spec import (
    ArrivalSpec, ComputeSpec, FederatedSpec, InferenceSpec, LinkSpec, PoolPricing, RouteSpec, SimSpec, SiteSpec,
    SpeculativeRounds, Stage,
    TokenServing, TrainingSpec,
)
from planner.units import BYTES_PER_ELEMENT

Estimator = Callable[..., Any]  # estimate(model, hardware, precision=..., batch=..., training=...) -> Estimate


class _Estimates:
    """Cached cost-model calls, and one service-time function per (model, hardware, precision),
    so that workloads running the same model on the same group share a lane (and batch together)."""

    def __init__(self, scenario: Any, estimator: Estimator | None):
        self.estimate_part = None
        if estimator is None:
            from planner.costs import estimator as module

            estimator = module.estimate
            self.estimate_part = getattr(module, "estimate_part", None)
        self.estimator = estimator
        self.scenario = scenario
        self._cache: dict[tuple, Any] = {}
        self._svc: dict[tuple, Callable[[int], float]] = {}

    def model_ref(self, model: str) -> str:
        return model_ref(self.scenario, model)

    def get(self, model: str, hardware: str, precision: str, batch: int = 1, training: Any = False):
        key = (model, hardware, precision, int(batch), training)
        e = self._cache.get(key)
        if e is None:
            e = self._cache[key] = self.estimator(self.model_ref(model), hardware, precision=precision,
                                                   batch=int(batch), training=training)
        return e

    def part_ms(self, model: str, hardware: str, precision: str, batch: int, start: int, stop: int) -> float:
        """Latency of ops[start:stop] of a model (one side of a split): the estimator's own
        `estimate_part` where it has one, else the whole model's latency x the part's FLOPs share."""
        key = (model, hardware, precision, int(batch), start, stop)
        e = self._cache.get(key)
        if e is None:
            if self.estimate_part is not None:
                e = self.estimate_part(self.model_ref(model), hardware, precision, int(batch), start, stop).latency_ms
            else:
                from planner.costs.graphs import graph

                g = graph(self.model_ref(model))
                share = sum(op.flops for op in g.ops[start:stop]) / max(g.flops, 1.0)
                e = self.get(model, hardware, precision, batch).latency_ms * share
            self._cache[key] = e
        return e

    def service_time(self, model: str, hardware: str, precision: str,
                     part: tuple[int, int] | None = None) -> Callable[[int], float]:
        """service_time_s(batch) from the estimator's latency of one batch (of ops[start:stop]
        for one side of a split model)."""
        key = (model, hardware, precision, part)
        fn = self._svc.get(key)
        if fn is None:
            if part is None:
                def fn(batch: int, _m=model, _h=hardware, _p=precision) -> float:
                    return self.get(_m, _h, _p, batch).latency_ms / 1000.0
            else:
                def fn(batch: int, _m=model, _h=hardware, _p=precision, _a=part[0], _b=part[1]) -> float:
                    return self.part_ms(_m, _h, _p, batch, _a, _b) / 1000.0
            self._svc[key] = fn
        return fn


def _arrival(a: Any, start_hour: float | None = None) -> ArrivalSpec:
    p = a.process
    if p == "poisson":
        return ArrivalSpec("poisson", {"rate_per_s": a.rate_per_s})
    if p == "periodic":
        return ArrivalSpec("periodic", {"rate_per_s": a.rate_per_s, "jitter_s": a.jitter_ms / 1000.0})
    if p == "bursty":
        return ArrivalSpec("bursty", {"rate_low_per_s": a.rate_low_per_s, "rate_high_per_s": a.rate_high_per_s,
                                      "mean_low_s": a.mean_low_s, "mean_high_s": a.mean_high_s})
    if p == "diurnal":
        return ArrivalSpec("diurnal", {"rate_per_s": a.rate_per_s, "profile": list(a.profile),
                                       "start_hour": a.start_hour if start_hour is None else start_hour})
    if p == "trace":
        return ArrivalSpec("trace", {"timestamps_s": a.timestamps_s, "loop": a.loop})
    raise ScenarioError("<scenario>", "arrival.process", f"unknown arrival process '{p}'")


def _slo_s(slo: Any) -> float | None:
    """The per-request latency bound: the p99 objective (else p95, else the mean)."""
    for f in ("p99_ms", "p95_ms", "mean_ms"):
        v = getattr(slo, f, None)
        if v is not None:
            return v / 1000.0
    return None


def compute_name(site: str, kind: str, index: int, hardware: str) -> str:
    return f"{site}/{kind}{index}:{hardware}"


def _outages(system: Any, r: Resource) -> tuple[float | None, float]:
    """(mtbf_s, mttr_s) of a pool's outages, its own and its region's together: from its
    availability A and outage length (data/availability.csv), MTBF = MTTR x A / (1 - A)."""
    a, mttr_h = system.outage_figures(r.id)
    if a >= 1.0:
        return None, mttr_h * 3600
    return mttr_h * 3600 * a / (1 - a), mttr_h * 3600


def _compute_spec(name: str, r: Resource, d: Any, initial: int = 0, minimum: int | None = None,
                  system: Any = None) -> ComputeSpec:
    """A device group or pool of the resolved system as the simulator's compute."""
    if r.kind == "device":
        return ComputeSpec(name, r.site, hardware=r.hardware, count=r.servers, max_batch=r.max_batch,
                           max_wait_s=r.max_wait_ms / 1000, service_cv=r.service_cv,
                           queue_capacity=None if d.queue_capacity is None else d.queue_capacity * r.servers,
                           mtbf_s=None if d.mtbf_h is None else d.mtbf_h * 3600, mttr_s=d.mttr_h * 3600, tariff=r.tariff)
    mtbf_s, mttr_s = _outages(system, r) if system is not None else (None, 3600.0)
    return ComputeSpec(name, r.site, hardware=r.hardware, pool=True, mtbf_s=mtbf_s, mttr_s=mttr_s,
                       min_instances=r.min_instances if minimum is None else minimum, initial_instances=initial,
                       max_instances=r.servers, cold_start_s=r.cold_start_s, target_utilization=r.target_utilization,
                       max_batch=r.max_batch, max_wait_s=r.max_wait_ms / 1000, service_cv=r.service_cv,
                       queue_capacity=d.queue_capacity, tariff=r.tariff)


def pool_pricing(r: Resource, mix: Mix | None) -> PoolPricing | None:
    """How the simulation buys a pool's instances: as the plan's `mix` (a reserved base, hourly
    instances above it); a pool the plan does not buy by a mix, or any pool of a placement given
    by hand, commits to nothing and runs at the cheapest hourly price it lists (on demand where
    it lists only commitments). None for a pool only on demand (every instance-second at the
    tariff's price, as before). Spot is billed at the price paid: the capacity its interruptions
    take is measured, not grossed up as the planner's rate is."""
    if not mixes(r):
        return None
    hourly = (mix.hourly if mix else None) or hourly_rate(r)
    n_reserved = mix.n_reserved if mix else 0
    reserved = mix.reserved if n_reserved else None
    return PoolPricing(
        hourly_model=hourly.model if hourly else "on_demand",
        hourly_usd_per_instance_hour=hourly.paid_usd_per_instance_hour if hourly else r.tariff.usd_per_server_hour,
        reserved_model=reserved.model if reserved else "",
        reserved_instances=n_reserved,
        reserved_usd_per_instance_hour=reserved.usd_per_instance_hour if reserved else 0.0,
        interruptions_per_h=hourly.interruptions_per_h if hourly else 0.0)


def build_spec(scenario: Any, placement: Any, seed: int | None = None, *, warmup_s: float = 0.0, retries: int = 0,
               retry_backoff_s: float = 1.0, bins: int = 120, horizon_s: float | None = None,
               estimator: Estimator | None = None, warm_instances: Mapping[ResourceId, int] | None = None,
               pool_mixes: Mapping[ResourceId, Mix] | None = None, start_hour: float | None = None) -> SimSpec:
    """The `SimSpec` of `scenario` under `placement` (workload -> {site, hardware, precision[,
    split, edge_hardware]}, or anything with such a `.placement`). Workloads the placement leaves
    out are not simulated. `warm_instances` (pool -> instances; by default the placement's own
    `.warm_instances`, as a Plan gives) start running at time 0, so the simulation measures the
    planned system rather than its first cold start; a placement given by hand starts at each
    pool's minimum. `pool_mixes` (pool -> `pricing.Mix`; by default the placement's own
    `.pool_mixes`) say how pools that list more than on demand are bought (`pool_pricing`).
    `start_hour` (UTC) starts every daily profile's arrivals at that hour instead of the
    scenario's own (`sim.day` runs each hour of the day). `estimator` replaces the cost model (tests)."""
    from planner.placement import parse_placement

    sc = scenario
    system = resolve(sc)
    choices = parse_placement(sc, placement)
    est = _Estimates(sc, estimator)
    warm = dict(getattr(placement, "warm_instances", None) or {}) if warm_instances is None else dict(warm_instances)
    bought = dict(getattr(placement, "pool_mixes", None) or {}) if pool_mixes is None else dict(pool_mixes)
    starts = dict(getattr(placement, "job_start_hours", None) or {})

    sites = [SiteSpec(name, s.kind) for name, s in sc.sites.items()]
    # ------------------------------------------------------------------ compute
    compute: list[ComputeSpec] = []
    by_hw: dict[tuple[str, str], str] = {}  # (site, hardware) -> the first group with it
    engines: dict[str, Resource] = {}  # compute -> the resource whose devices or instances run its engines
    llm_pools: dict[tuple[str, str, str], str] = {}  # (site, hardware, workload) -> its own instances
    first_group: dict[str, str] = {}
    for name, site in sc.sites.items():
        for r in system.compute_at(name):
            kind = "dev" if r.kind == "device" else "pool"
            d = (site.devices if r.kind == "device" else site.pools)[r.id.index]
            cname = compute_name(name, kind, r.id.index, r.hardware)
            if r.kind == "pool":
                # A language model's own instances (ResourceId.dedicated) exist for the workloads
                # placed on this pool, a fleet's instances sharing theirs (`engine_owner`); they
                # count toward its minimum, as the planner counts them.
                own = _llm_owners(sc, choices, name, r.hardware)
                held = {o: int(warm.get(r.id.dedicated(o), 0)) for o in own}
                base = _compute_spec(cname, r, d, int(warm.get(r.id, 0)), max(0, r.min_instances - sum(held.values())),
                                     system)
                base = replace(base, pricing=pool_pricing(r, bought.get(r.id)))
                compute.append(base)
                for owner, served in own.items():
                    lname = f"{cname}/{owner}"
                    compute.append(replace(base, name=lname, initial_instances=held[owner], min_instances=held[owner],
                                           pricing=pool_pricing(r, bought.get(r.id.dedicated(owner)))))
                    for w in served:
                        llm_pools[(name, r.hardware, w)] = lname
                    engines[lname] = r
            else:
                compute.append(_compute_spec(cname, r, d))
            engines[cname] = r
            by_hw.setdefault((name, r.hardware), cname)
            first_group.setdefault(name, cname)

    # ------------------------------------------------------------------ links
    links = []
    for i, link in enumerate(sc.links):
        a, b = link.between
        up, down = system[ResourceId.link(a, i, "up")], system[ResourceId.link(b, i, "down")]
        links.append(LinkSpec(
            a, b, up.capacity * 1e6 / 8, down.capacity * 1e6 / 8, rtt_s=link.rtt / 1000, jitter_s=link.jitter / 1000,
            loss_prob=link.loss_prob, egress_a_to_b_usd_per_gb=up.tariff.egress_usd_per_gb,
            egress_b_to_a_usd_per_gb=down.tariff.egress_usd_per_gb, energy_j_per_bit=up.tariff.energy_j_per_byte / 8,
            gco2e_per_kwh_a_to_b=up.tariff.gco2e_per_kwh, gco2e_per_kwh_b_to_a=down.tariff.gco2e_per_kwh,
            mtbf_s=None if link.mtbf_h is None else link.mtbf_h * 3600, mttr_s=link.mttr_h * 3600,
            name=f"links[{i}]:{a}<->{b}"))

    # ------------------------------------------------------------------ inference
    inference: list[InferenceSpec] = []
    serving_sites: dict[str, list[str]] = {}
    for name, w in sc.workloads.items():
        if w.kind != "inference" or name not in choices:
            continue
        ch = choices[name]
        in_bytes, out_bytes = io_bytes(w)
        target = by_hw[(ch.site, ch.hardware)]
        route = None
        if ch.secondary is not None:
            route = _route(sc, name, ch, est, by_hw, llm_pools, engines, compute)
        model = served_model(w, ch)
        rounds = None
        if is_llm(model) and ch.llm_split is not None:
            target = llm_pools.get((ch.site, ch.hardware, name), target)
            stages, in_bytes, rounds = _boundary_stages(sc, name, ch, by_hw, target, engines)
            serving_sites[name] = [w.source, ch.site]
        elif is_llm(model):
            target = llm_pools.get((ch.site, ch.hardware, name), target)
            prompt = w.prompt_dist()
            if route is not None and route.rule == "by_tokens":  # this side serves the short prompts
                prompt = prompt.below(route.max_prompt_tokens)
            llm, in_bytes, out_bytes = _token_serving(w, ch, engines[target], prompt)
            stages = [Stage(target, lambda b: 0.0, out_bytes, llm)]
            serving_sites[name] = [ch.site]
        elif ch.split is None:
            stages = [Stage(target, est.service_time(model, ch.hardware, ch.precision), out_bytes)]
            serving_sites[name] = [ch.site]
        else:
            stages = _split_stages(sc, name, ch, est, by_hw, target, out_bytes)
            serving_sites[name] = [sc.workloads[name].source, ch.site]
        ttft, tpot = getattr(w.slo, "ttft_ms", None), getattr(w.slo, "tpot_ms", None)
        fb_choice = system.fallback_choice(name)
        fallback = None
        if fb_choice is not None:  # served at the source when its path is down
            fb_device, fb_precision = fb_choice
            fallback = Stage(compute_name(w.source, "dev", fb_device.id.index, fb_device.hardware),
                             est.service_time(w.fallback.model or w.model_id, fb_device.hardware, fb_precision),
                             out_bytes)
        inference.append(InferenceSpec(
            name, w.source, _arrival(w.arrival, start_hour), stages, input_bytes=in_bytes, slo_s=_slo_s(w.slo),
            ttft_slo_s=None if ttft is None else ttft / 1000, tpot_slo_s=None if tpot is None else tpot / 1000,
            retries=retries, retry_backoff_s=retry_backoff_s, fallback=fallback, route=route, rounds=rounds))
        if ch.secondary is not None:
            serving_sites[name].append(ch.secondary.site)

    # ------------------------------------------------------------------ training
    training: list[TrainingSpec] = []
    federated: list[FederatedSpec] = []
    hardware_of = {c.name: c.hardware for c in compute}
    for name, w in sc.workloads.items():
        if name not in choices or w.kind == "inference":
            continue
        ch = choices[name]
        if w.kind == "training":
            step = est.get(w.model, ch.hardware, ch.precision, w.batch, training=training_step(w))
            duration = w.epochs * training_samples(w) / w.batch * step.latency_ms / 1000
            deploy = sorted({s for t in w.deploy_to for s in serving_sites.get(t, [])})
            target = by_hw[(ch.site, ch.hardware)]
            hourly = site_hourly_gco2e_per_kwh(sc.sites[ch.site])
            training.append(TrainingSpec(
                name, w.source, target, dataset_bytes=w.dataset_gb * 1e9, duration_s=duration,
                model_bytes=deploy_bytes(w), deploy_sites=deploy, every_s=w.every_h * 3600,
                deadline_s=w.deadline_h * 3600, step_s=step.latency_ms / 1000,
                gco2e_per_kwh=None if name not in starts or hourly is None else mean_intensity(
                    hourly, starts[name], (duration + _cold_start_s(compute, target)) / 3600)))
        else:  # federated
            aggregator = w.aggregator or ch.site
            agg_compute = by_hw.get((aggregator, ch.hardware)) or first_group.get(aggregator)
            model_bytes = update_bytes(w)
            local_compute, local_s, local_step = {}, {}, {}
            for s in w.sites:
                g = first_group.get(s)
                if g is None:
                    raise ScenarioError("<placement>", name, f"federated site '{s}' has no device to train on")
                step = est.get(w.model, hardware_of[g], ch.precision, w.batch, training=training_step(w))
                local_compute[s] = g
                local_s[s] = w.local_epochs * w.samples_per_site / w.batch * step.latency_ms / 1000
                local_step[s] = step.latency_ms / 1000
            agg_s = aggregate_s(len(w.sites), model_bytes, hardware_of.get(agg_compute) if agg_compute else None)
            federated.append(FederatedSpec(
                name, list(w.sites), local_compute, local_s, aggregator, agg_compute, agg_s, model_bytes,
                rounds=w.rounds, every_s=w.every_h * 3600, deadline_s=w.deadline_h * 3600, local_step_s=local_step))

    return SimSpec(
        sites=sites, compute=compute, links=links, inference=inference, training=training, federated=federated,
        horizon_s=float(horizon_s if horizon_s is not None else sc.horizon_s),
        seed=int(seed if seed is not None else sc.seed), warmup_s=warmup_s, bins=bins, name=sc.name)


def served_model(w: Any, ch: Any) -> str:
    """The model a placement serves: the variant it fixes, else the workload's own model."""
    return getattr(ch, "model", None) or w.model_id


def _cold_start_s(compute: list[ComputeSpec], name: str) -> float:
    """A job's own instance on a pool starts cold (the planner counts it in the run); a device does not."""
    c = next(c for c in compute if c.name == name)
    return c.cold_start_s if c.pool else 0.0


def is_llm(model: str) -> bool:
    from planner.costs.llm import is_llm as known

    return known(model)


def _llm_owners(sc: Any, choices: dict, site: str, hardware: str) -> dict[str, list[str]]:
    """The language-model workloads placed on a pool (`hardware` at `site`, either side of a
    routed pair), by whose instances serve them (`engine_owner`, as the planner keys them)."""
    from planner.costs.llm import llm_engine

    out: dict[str, list[str]] = {}
    for w, ch in choices.items():
        wl = sc.workloads[w]
        if wl.kind != "inference" or not is_llm(served_model(wl, ch)):
            continue
        side = next((c for c in _sides(ch) if (c.site, c.hardware) == (site, hardware)), None)
        if side is not None:
            engine = llm_engine(served_model(wl, side), side.precision, kv_precision_of(wl, side))
            out.setdefault(engine_owner(sc, w, engine), []).append(w)
    return out


def _sides(ch: Any) -> list:
    """The placements a choice runs on: itself, and a routed pair's secondary."""
    return [ch] if ch.secondary is None else [ch, ch.secondary]


def _route(sc: Any, name: str, ch: Any, est: _Estimates, by_hw: dict, llm_pools: dict, engines: dict[str, Resource],
           compute: list[ComputeSpec]) -> RouteSpec:
    """A routed pair's rule and secondary path (as the planner's `options/routed.py` plans it):
    overflow's queue length from the primary's batch-1 service time, by_tokens' threshold."""
    w = sc.workloads[name]
    sec = ch.secondary
    target = by_hw[(sec.site, sec.hardware)]
    _, out_bytes = io_bytes(w)
    if ch.routing == "by_tokens":
        n = w.routing.by_tokens.edge_max_prompt_tokens
        target = llm_pools.get((sec.site, sec.hardware, name), target)
        prompt = w.prompt_dist()
        llm, in_bytes, out_bytes = _token_serving(w, sec, engines[target], prompt.above(n))
        return RouteSpec("by_tokens", [Stage(target, lambda b: 0.0, out_bytes, llm)], max_prompt_tokens=n,
                         prompt_tokens=prompt.sample, input_bytes=in_bytes)
    rule = w.routing.overflow
    edge = next(c for c in compute if c.name == by_hw[(ch.site, ch.hardware)])
    model = served_model(w, ch)  # a routed pair runs one model on both sides
    first_s = est.get(model, ch.hardware, ch.precision, 1).latency_ms / 1000
    limit = queue_limit(rule.queue_ms, rule.queue_len, edge.count, first_s)
    return RouteSpec("overflow", [Stage(target, est.service_time(model, sec.hardware, sec.precision), out_bytes)],
                     queue_len=limit)


def _token_serving(w: Any, ch: Any, r: Resource, prompt: Any = None, model: str | None = None,
                   phase: str = "full", k: int = 0) -> tuple[TokenServing, float, float]:
    """Continuous batching of a language model on `r`'s devices or instances (the planner's
    `llm_options` serve the same, priced by `Resource.llm_cost`: its GPUs and `max_seqs`), with
    the bytes of its prompt and answer as text; `prompt` is the prompt-token distribution this
    placement serves (a by_tokens side's), by default the workload's; `model` and `phase` set
    one side of a request split across the boundary (`k`: drafts a round)."""
    from planner.costs.llm import MAX_BATCHED_TOKENS, llm_engine

    model = model or served_model(w, ch)
    kv = kv_precision_of(w, ch)
    cost = r.llm_cost(model, ch.precision, kv)
    prompt, output = prompt or w.prompt_dist(), w.output_dist()
    in_bytes, out_bytes = io_bytes(w, prompt.mean, output.mean)
    # a split side is its own engine: a prefill-only or verifying lane batches with no full one
    engine = llm_engine(model, ch.precision, kv) + ("" if phase in ("full", "decode", "draft") else f"/{phase}")
    # the autoscaler's demand estimate of a queued request: one pass for a prefill or a
    # verification (of k + 1 tokens), k tokens for a draft
    mean_prompt = k + 1.0 if phase == "verify" else prompt.mean
    mean_output = 1.0 if phase in ("prefill", "verify") else k if phase == "draft" else output.mean
    return TokenServing(cost.step_s, cost.kv_capacity_tokens, prompt.sample, output.sample, cost.max_context,
                        cost.max_seqs, MAX_BATCHED_TOKENS, mean_prompt, mean_output,
                        engine=engine, phase=phase, k=k, request_s=cost.request_s), in_bytes, out_bytes


def _boundary_stages(sc: Any, name: str, ch: Any, by_hw: dict, target: str,
                     engines: dict[str, Resource]) -> tuple[list[Stage], float, SpeculativeRounds | None]:
    """A language model across the boundary (as the planner's `llm_boundary` options): prefill on
    the pool and the prompt's KV cache down to the source's device, which decodes; or a draft on
    the device and the target verifying each round on the pool. Returns the stages, the bytes
    the request first sends, and the speculative rounds."""
    from planner.costs.llm import kv_cache_bytes
    from planner.units import BYTES_PER_TOKEN

    w = sc.workloads[name]
    edge_hw = ch.edge_hardware or (sc.sites[w.source].devices[0].hardware if sc.sites[w.source].devices else None)
    if edge_hw is None or (w.source, edge_hw) not in by_hw:
        raise ScenarioError("<placement>", f"{name}.llm_split", f"needs a device at the source site '{w.source}'")
    edge = by_hw[(w.source, edge_hw)]
    if ch.llm_split == "prefill_cloud_decode_edge":
        prefill, in_bytes, _ = _token_serving(w, ch, engines[target], phase="prefill")
        decode, _, _ = _token_serving(w, ch, engines[edge], phase="decode")
        kv_per_token = kv_cache_bytes(served_model(w, ch), 1, ch.precision, kv_precision_of(w, ch))
        return [Stage(target, lambda b: 0.0, 0.0, prefill, out_bytes_per_prompt_token=kv_per_token),
                Stage(edge, lambda b: 0.0, 0.0, decode)], in_bytes, None
    if w.speculative is None:
        raise ScenarioError("<placement>", f"{name}.llm_split", "speculative needs the workload's `speculative:` draft")
    k = w.speculative.k
    draft, _, _ = _token_serving(w, ch, engines[edge], model=w.speculative.draft, phase="draft", k=k)
    verify, _, _ = _token_serving(w, ch, engines[target], phase="verify", k=k)
    # each round's drafts go up, with the prompt's text in the first round
    return ([Stage(edge, lambda b: 0.0, k * BYTES_PER_TOKEN, draft, out_bytes_per_prompt_token=BYTES_PER_TOKEN),
             Stage(target, lambda b: 0.0, (k + 1) * BYTES_PER_TOKEN, verify)],
            0.0, SpeculativeRounds(k, acceptance_rate(w, served_model(w, ch))[0]))


def _split_stages(sc: Any, name: str, ch: Any, est: _Estimates, by_hw: dict, target: str, out_bytes: float) -> list[Stage]:
    """A split model (as the planner's split options): ops[0:split+1] on `edge_hardware` at the
    source, the rest at the choice's site; the activations live at the cut (at the precision's
    width) cross the network between the two."""
    from planner.costs.graphs import graph

    w = sc.workloads[name]
    edge_hw = ch.edge_hardware or (sc.sites[w.source].devices[0].hardware if sc.sites[w.source].devices else None)
    if edge_hw is None or (w.source, edge_hw) not in by_hw:
        raise ScenarioError("<placement>", f"{name}.split", f"a split needs edge hardware at the source site '{w.source}'")
    model = served_model(w, ch)
    g = graph(est.model_ref(model), 1)
    n_ops = len(g.ops)
    k = ch.split
    if not 0 <= k < n_ops - 1:
        raise ScenarioError("<placement>", f"{name}.split", f"split {k} outside the model's {n_ops} ops")
    cut_bytes = g.live_bytes()[k] * BYTES_PER_ELEMENT.get(ch.precision, 4.0) / 4
    return [
        Stage(by_hw[(w.source, edge_hw)], est.service_time(model, edge_hw, ch.precision, (0, k + 1)), cut_bytes),
        Stage(target, est.service_time(model, ch.hardware, ch.precision, (k + 1, n_ops)), out_bytes),
    ]
