"""Scenario + placement -> `SimSpec`: the scenario's units turned into the simulator's, service
times from the cost model, prices and power from the catalog.

Conventions shared with the planner (plan/options.py), so that a plan and its simulation speak
of the same system:
- input/output bytes default to the model's typical sizes (catalog);
- a training run computes ``epochs x samples / batch`` steps at the estimator's training step
  time, with samples = ``dataset_gb / the model's input size`` unless given; the trained model
  is shipped as fp16 weights (2 bytes per parameter);
- federated updates are fp32 weights (4 bytes per parameter) unless `model_bytes` is given, and
  each site trains on its first device group (or pool);
- egress is paid on bytes leaving a cloud site: the link's own price, else the scenario's, else
  the provider's internet egress (catalog);
- edge devices cost their price over the amortisation period plus electricity for their idle
  and active power (TDP while serving); cloud pools cost their hourly price per instance-second.
Assumed here (no source): aggregation of federated updates streams each update once through
the aggregator's memory; network energy per bit by medium comes from the catalog's prices
(themselves marked assumed).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from planner.sim.spec import (
    MONTH_S, ArrivalSpec, ComputeSpec, FederatedSpec, InferenceSpec, LinkSpec, SimSpec, SiteSpec, Stage, TokenServing,
    TrainingSpec,
)

FP16_BYTES, FP32_BYTES = 2, 4
PRECISION_BYTES = {"fp32": 4, "fp16": 2, "bf16": 2, "int8": 1, "int4": 0.5}

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
        if model.lower().endswith(".onnx"):
            p = Path(model)
            src = getattr(self.scenario, "source_file", "")
            if not p.is_absolute() and src:
                p = Path(src).parent / p
            return str(p)
        return model

    def get(self, model: str, hardware: str, precision: str, batch: int = 1, training: bool = False):
        key = (model, hardware, precision, int(batch), bool(training))
        e = self._cache.get(key)
        if e is None:
            e = self._cache[key] = self.estimator(self.model_ref(model), hardware, precision=precision,
                                                   batch=int(batch), training=bool(training))
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


def _catalog():
    from planner import catalog

    return catalog


def _model_info(model: str):
    if model.lower().endswith(".onnx"):
        return None
    try:
        return _catalog().model(model)
    except Exception:
        return None


def _arrival(a: Any) -> ArrivalSpec:
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
                                       "start_hour": a.start_hour})
    if p == "trace":
        return ArrivalSpec("trace", {"timestamps_s": a.timestamps_s, "loop": a.loop})
    raise ValueError(f"unknown arrival process '{p}'")


def _slo_s(slo: Any) -> float | None:
    """The per-request latency bound: the p99 objective (else p95, else the mean)."""
    for f in ("p99_ms", "p95_ms", "mean_ms"):
        v = getattr(slo, f, None)
        if v is not None:
            return v / 1000.0
    return None


def _egress_usd_per_gb(sc: Any, link: Any, src: str) -> float:
    """Leaving a cloud site costs the link's egress price, else the scenario's, else the provider's."""
    site = sc.sites[src]
    if site.kind != "cloud":
        return 0.0
    if link.egress_usd_per_gb is not None:
        return link.egress_usd_per_gb
    if sc.prices.egress_usd_per_gb is not None:
        return sc.prices.egress_usd_per_gb
    return _catalog().egress_usd_per_gb(site.provider)


def _energy_j_per_bit(network_id: str) -> float:
    cat = _catalog()
    try:
        medium = cat.network(network_id).medium
        return cat.price(f"energy_nj_per_bit_{medium}") * 1e-9
    except Exception:
        return 0.0


def compute_name(site: str, kind: str, index: int, hardware: str) -> str:
    return f"{site}/{kind}{index}:{hardware}"


def build_spec(scenario: Any, placement: Any, seed: int | None = None, *, warmup_s: float = 0.0, retries: int = 0,
               retry_backoff_s: float = 1.0, bins: int = 120, horizon_s: float | None = None,
               estimator: Estimator | None = None) -> SimSpec:
    """The `SimSpec` of `scenario` under `placement` (a Plan, or workload -> {site, hardware,
    precision[, split, edge_hardware]}). Workloads the placement leaves out are not simulated.
    `estimator` replaces the cost model (tests); by default `planner.costs.estimator.estimate`."""
    from planner.placement import parse_placement

    sc = scenario
    choices = parse_placement(sc, placement)
    cat = _catalog()
    est = _Estimates(sc, estimator)
    usd_kwh = sc.electricity_usd_per_kwh()
    months = sc.amortisation_months()

    sites = [SiteSpec(name, s.kind) for name, s in sc.sites.items()]
    # A Plan knows how many instances each pool runs at steady state: start there, warm, so the
    # simulation measures the planned system rather than its first cold start. A placement
    # given by hand starts at min_instances and scales up through cold starts.
    planned = getattr(getattr(placement, "assessment", None), "instances", {}) or {}

    # ------------------------------------------------------------------ compute
    compute: list[ComputeSpec] = []
    by_hw: dict[tuple[str, str], str] = {}  # (site, hardware) -> the first group with it
    gpus: dict[str, int] = {}  # pools with several accelerators per instance
    llm_names = [n for n, w in sc.workloads.items() if w.kind == "inference" and is_llm(w.model) and n in choices]
    llm_pools: dict[tuple[str, str, str], str] = {}  # (site, hardware, workload) -> its own pool
    first_group: dict[str, str] = {}
    for name, site in sc.sites.items():
        for i, d in enumerate(site.devices):
            hw = cat.hardware(d.hardware)
            cname = compute_name(name, "dev", i, d.hardware)
            if hw.tier == "cloud" and hw.usd_per_hour:  # reserved cloud GPUs listed as devices
                usd_per_s, kwh = hw.usd_per_hour / 3600.0, 0.0
            else:
                usd_per_s, kwh = (hw.price_usd or 0.0) / (months * MONTH_S), usd_kwh
            compute.append(ComputeSpec(
                cname, name, hardware=d.hardware, count=d.count, max_batch=d.max_batch, max_wait_s=d.max_wait_ms / 1000,
                service_cv=d.service_cv, queue_capacity=None if d.queue_capacity is None else d.queue_capacity * d.count,
                mtbf_s=None if d.mtbf_h is None else d.mtbf_h * 3600, mttr_s=d.mttr_h * 3600,
                idle_w=hw.idle_w, active_w=hw.tdp_w, usd_per_s=usd_per_s, electricity_usd_per_kwh=kwh))
            by_hw.setdefault((name, d.hardware), cname)
            first_group.setdefault(name, cname)
        for i, p in enumerate(site.pools):
            hw = cat.hardware(p.hardware)
            cname = compute_name(name, "pool", i, p.hardware)
            compute.append(ComputeSpec(
                cname, name, hardware=p.hardware, pool=True, min_instances=p.min_instances,
                initial_instances=int(planned.get(f"pool:{name}:{i}", 0)), max_instances=p.max_instances, cold_start_s=p.cold_start_s, target_utilization=p.target_utilization,
                max_batch=p.max_batch, max_wait_s=p.max_wait_ms / 1000, service_cv=p.service_cv,
                queue_capacity=p.queue_capacity, idle_w=hw.idle_w * p.gpus, active_w=hw.tdp_w * p.gpus,
                usd_per_s=p.gpus * (hw.usd_per_hour or 0.0) / 3600.0))
            gpus[cname] = p.gpus
            base = compute[-1]
            for w_name in llm_names:  # a language model's own instances (as the planner's llm_pool_key)
                lname = f"{cname}/{w_name}"
                compute.append(replace(base, name=lname,
                                       initial_instances=int(planned.get(f"pool:{name}:{i}/{w_name}", 0))))
                llm_pools[(name, p.hardware, w_name)] = lname
                gpus[lname] = p.gpus
            by_hw.setdefault((name, p.hardware), cname)
            first_group.setdefault(name, cname)

    # ------------------------------------------------------------------ links
    links = []
    for i, link in enumerate(sc.links):
        a, b = link.between
        links.append(LinkSpec(
            a, b, link.up_mbps * 1e6 / 8, link.down_mbps * 1e6 / 8, rtt_s=link.rtt / 1000, jitter_s=link.jitter / 1000,
            loss=link.loss / 100, egress_a_to_b_usd_per_gb=_egress_usd_per_gb(sc, link, a),
            egress_b_to_a_usd_per_gb=_egress_usd_per_gb(sc, link, b), energy_j_per_bit=_energy_j_per_bit(link.network),
            mtbf_s=None if link.mtbf_h is None else link.mtbf_h * 3600, mttr_s=link.mttr_h * 3600,
            name=f"links[{i}]:{a}<->{b}"))

    # ------------------------------------------------------------------ inference
    inference: list[InferenceSpec] = []
    serving_sites: dict[str, list[str]] = {}
    for name, w in sc.workloads.items():
        if w.kind != "inference" or name not in choices:
            continue
        ch = choices[name]
        info = _model_info(w.model)
        in_bytes = w.input_bytes if w.input_bytes is not None else (info.input_bytes if info else 0)
        out_bytes = w.output_bytes if w.output_bytes is not None else (info.output_bytes if info else 0)
        target = by_hw[(ch.site, ch.hardware)]
        if is_llm(w.model):
            target = llm_pools.get((ch.site, ch.hardware, name), target)
            llm, in_bytes, out_bytes = _token_serving(w, ch, gpus.get(target, 1))
            stages = [Stage(target, lambda b: 0.0, out_bytes, llm)]
            serving_sites[name] = [ch.site]
        elif ch.split is None:
            stages = [Stage(target, est.service_time(w.model, ch.hardware, ch.precision), out_bytes)]
            serving_sites[name] = [ch.site]
        else:
            stages = _split_stages(sc, w, ch, est, by_hw, target, out_bytes)
            serving_sites[name] = [sc.workloads[name].source, ch.site]
        ttft, tpot = getattr(w.slo, "ttft_ms", None), getattr(w.slo, "tpot_ms", None)
        inference.append(InferenceSpec(
            name, w.source, _arrival(w.arrival), stages, input_bytes=in_bytes, slo_s=_slo_s(w.slo),
            ttft_slo_s=None if ttft is None else ttft / 1000, tpot_slo_s=None if tpot is None else tpot / 1000,
            retries=retries, retry_backoff_s=retry_backoff_s))

    # ------------------------------------------------------------------ training
    training: list[TrainingSpec] = []
    federated: list[FederatedSpec] = []
    for name, w in sc.workloads.items():
        if name not in choices or w.kind == "inference":
            continue
        ch = choices[name]
        info = _model_info(w.model)
        params = info.params_millions * 1e6 if info else 0.0
        if w.kind == "training":
            samples = float(w.samples) if w.samples else w.dataset_gb * 1e9 / (info.input_bytes if info and info.input_bytes else 150_528)
            step = est.get(w.model, ch.hardware, ch.precision, w.batch, training=True)
            duration = w.epochs * samples / w.batch * step.latency_ms / 1000
            deploy = sorted({s for t in w.deploy_to for s in serving_sites.get(t, [])})
            training.append(TrainingSpec(
                name, w.source, by_hw[(ch.site, ch.hardware)], dataset_bytes=w.dataset_gb * 1e9, duration_s=duration,
                model_bytes=params * FP16_BYTES, deploy_sites=deploy, every_s=w.every_h * 3600,
                deadline_s=w.deadline_h * 3600, step_s=step.latency_ms / 1000))
        else:  # federated
            aggregator = w.aggregator or ch.site
            agg_compute = by_hw.get((aggregator, ch.hardware)) or first_group.get(aggregator)
            model_bytes = w.model_bytes or params * FP32_BYTES
            local_compute, local_s, local_step = {}, {}, {}
            for s in w.sites:
                g = first_group.get(s)
                if g is None:
                    raise ValueError(f"federated workload '{name}': site '{s}' has no device to train on")
                hw_id = next(c.hardware for c in compute if c.name == g)
                step = est.get(w.model, hw_id, ch.precision, w.batch, training=True)
                local_compute[s] = g
                local_s[s] = w.local_epochs * w.samples_per_site / w.batch * step.latency_ms / 1000
                local_step[s] = step.latency_ms / 1000
            agg_hw = cat.hardware(next(c.hardware for c in compute if c.name == agg_compute)) if agg_compute else None
            aggregate_s = ((len(w.sites) + 1) * model_bytes / (agg_hw.mem_bw_gb_per_s * 1e9)) if agg_hw else 0.0
            federated.append(FederatedSpec(
                name, list(w.sites), local_compute, local_s, aggregator, agg_compute, aggregate_s, model_bytes,
                rounds=w.rounds, every_s=w.every_h * 3600, deadline_s=w.deadline_h * 3600, local_step_s=local_step))

    return SimSpec(
        sites=sites, compute=compute, links=links, inference=inference, training=training, federated=federated,
        horizon_s=float(horizon_s if horizon_s is not None else sc.horizon_s),
        seed=int(seed if seed is not None else sc.seed), warmup_s=warmup_s, bins=bins, name=sc.name)


def is_llm(model: str) -> bool:
    from planner.costs.llm import is_llm as known

    return known(model)


def _token_serving(w: Any, ch: Any, gpus: int) -> tuple[TokenServing, float, float]:
    """Continuous batching of a language model (the planner's `llm_options` serve the same),
    with the bytes of its prompt and answer as text."""
    from planner.costs.llm import MAX_BATCHED_TOKENS, MAX_SEQS, llm_cost, llm_engine
    from planner.plan.options import BYTES_PER_TOKEN

    cost = llm_cost(w.model, ch.hardware, ch.precision, gpus)
    prompt, output = w.prompt_dist(), w.output_dist()
    in_bytes = w.input_bytes if w.input_bytes is not None else prompt.mean * BYTES_PER_TOKEN
    out_bytes = w.output_bytes if w.output_bytes is not None else output.mean * BYTES_PER_TOKEN
    return TokenServing(cost.step_s, cost.kv_capacity_tokens, prompt.sample, output.sample, cost.max_context,
                        MAX_SEQS, MAX_BATCHED_TOKENS, prompt.mean, output.mean,
                        engine=llm_engine(w.model, ch.precision)), in_bytes, out_bytes


def _split_stages(sc: Any, w: Any, ch: Any, est: _Estimates, by_hw: dict, target: str, out_bytes: float) -> list[Stage]:
    """A split model (as the planner's split options): ops[0:split+1] on `edge_hardware` at the
    source, the rest at the choice's site; the activations live at the cut (at the precision's
    width) cross the network between the two."""
    from planner.costs.graphs import graph

    edge_hw = ch.edge_hardware or (sc.sites[w.source].devices[0].hardware if sc.sites[w.source].devices else None)
    if edge_hw is None or (w.source, edge_hw) not in by_hw:
        raise ValueError(f"a split needs edge hardware at the source site '{w.source}'")
    g = graph(est.model_ref(w.model), 1)
    n_ops = len(g.ops)
    k = ch.split
    if not 0 <= k < n_ops - 1:
        raise ValueError(f"split {k} outside the model's {n_ops} ops")
    cut_bytes = g.live_bytes()[k] * PRECISION_BYTES.get(ch.precision, 4) / 4
    return [
        Stage(by_hw[(w.source, edge_hw)], est.service_time(w.model, edge_hw, ch.precision, (0, k + 1)), cut_bytes),
        Stage(target, est.service_time(w.model, ch.hardware, ch.precision, (k + 1, n_ops)), out_bytes),
    ]


def monthly_factor(horizon_s: float) -> float:
    return MONTH_S / horizon_s if horizon_s > 0 else math.nan
