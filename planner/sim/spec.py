"""The simulator's own low-level model: sites, compute, links and workloads in SI units.

`adapter.py` turns a `Scenario` and a placement into a `SimSpec`; the queueing tests and the
benchmark build one directly. Everything here is plain data: times in seconds, sizes in bytes,
bandwidth in bytes per second, power in watts, money in USD. Service times are callables
``service_time_s(batch) -> seconds`` so the engine knows nothing of the cost model.
"""
from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from planner.model.accounting import Tariff
from planner.model.routing import SCALE_DOWN_DELAY_S, SCALE_INTERVAL_S

ServiceTime = Callable[[int], float]


def constant(seconds: float) -> ServiceTime:
    """A service time that does not depend on the batch size (a batch costs as much as one)."""
    return lambda batch: seconds


def linear(first_s: float, per_extra_s: float) -> ServiceTime:
    """A batch of b costs `first_s + (b - 1) * per_extra_s` (a GPU amortising its fixed cost)."""
    return lambda batch: first_s + (batch - 1) * per_extra_s


@dataclass
class ArrivalSpec:
    """An arrival process (see `arrivals.py`); `params` are the process's own fields, in SI units:

    poisson: rate_per_s · periodic: rate_per_s, jitter_s · bursty: rate_low_per_s,
    rate_high_per_s, mean_low_s, mean_high_s · diurnal: rate_per_s, profile (multipliers over
    24 h, linearly interpolated), start_hour · trace: timestamps_s (a sequence, or an iterable
    factory), loop.
    """

    process: str = "poisson"
    params: dict = field(default_factory=dict)

    @classmethod
    def poisson(cls, rate_per_s: float) -> ArrivalSpec:
        return cls("poisson", {"rate_per_s": rate_per_s})

    @classmethod
    def periodic(cls, rate_per_s: float, jitter_s: float = 0.0) -> ArrivalSpec:
        return cls("periodic", {"rate_per_s": rate_per_s, "jitter_s": jitter_s})


@dataclass
class SiteSpec:
    """A place in the topology; `kind` is edge, cloud or any other label (aggregation...)."""

    name: str
    kind: str = "edge"


@dataclass(frozen=True)
class PoolPricing:
    """How a cloud pool's instances are bought (planner.model.pricing decides; the simulator
    bills and interrupts by it): `reserved_instances` paid every second of the run at the
    reserved rate, used or not (and kept running, since they are paid for); every instance above
    them at the hourly model's price for the seconds it runs. Spot instances are interrupted at
    `interruptions_per_h` per instance-hour (exponential times between interruptions)."""

    hourly_model: str = "on_demand"
    hourly_usd_per_instance_hour: float = 0.0
    reserved_model: str = ""
    reserved_instances: int = 0
    reserved_usd_per_instance_hour: float = 0.0
    interruptions_per_h: float = 0.0

    def __post_init__(self) -> None:
        if self.reserved_instances < 0 or self.interruptions_per_h < 0:
            raise ValueError(f"PoolPricing: reserved_instances and interruptions_per_h must be >= 0, got {self}")

    def label(self, hourly_instance_s: float) -> str:
        """As the plan table names a mix: `reserved_1y×2+spot`, `reserved_1y` (nothing ran above
        the base), `on_demand`."""
        if not self.reserved_instances:
            return self.hourly_model
        if hourly_instance_s <= 0:
            return self.reserved_model
        return f"{self.reserved_model}×{self.reserved_instances}+{self.hourly_model}"

    def instances_usd(self, span_s: float, hourly_instance_s: float) -> dict[str, float]:
        """Dollars by pricing model over a run of `span_s` seconds: the reserved base for the
        whole run (used or not), the hourly instances for the seconds they ran."""
        out = {self.hourly_model: hourly_instance_s * self.hourly_usd_per_instance_hour / 3600.0}
        if self.reserved_instances:
            out[self.reserved_model] = self.reserved_instances * span_s * self.reserved_usd_per_instance_hour / 3600.0
        return out


@dataclass
class ComputeSpec:
    """A group of identical servers at a site sharing one queue (M/G/c with dynamic batching).

    With `pool=True` the group is a cloud pool: `count` is ignored, instances scale between
    `min_instances` and `max_instances` on utilisation, each new one ready after `cold_start_s`
    and billed per second from its launch. A device fails alone (`mtbf_s`, `mttr_s` per server);
    a pool's `mtbf_s` and `mttr_s` are outages of the whole pool (its region or its instances
    unreachable), during which it refuses requests.
    """

    name: str
    site: str
    hardware: str = ""
    count: int = 1
    max_batch: int = 1
    max_wait_s: float = 0.0
    service_cv: float = 0.0  # 0 = deterministic; else lognormal service times with this CV
    queue_capacity: int | None = None  # waiting requests, whole group; None = unbounded
    mtbf_s: float | None = None  # per server (a pool: the whole pool); None = never fails
    mttr_s: float = 3600.0
    tariff: Tariff = Tariff()  # per server: price, power, electricity (planner.model.accounting)
    # cloud pool
    pool: bool = False
    min_instances: int = 0
    initial_instances: int = 0  # running (warm) at time 0: a plan starts at its steady state
    max_instances: int = 1
    cold_start_s: float = 0.0
    target_utilization: float = 0.7
    scale_interval_s: float = SCALE_INTERVAL_S  # how often the autoscaler looks (Kubernetes HPA default)
    scale_down_delay_s: float = SCALE_DOWN_DELAY_S  # no scale-down sooner than this after a scale-up
    pricing: PoolPricing | None = None  # None: every instance-second at the tariff's (on-demand) price

    @property
    def idle_w(self) -> float:
        return self.tariff.idle_w

    @property
    def active_w(self) -> float:
        return self.tariff.active_w


@dataclass
class LinkSpec:
    """A full-duplex link; `a_to_b_Bps` is the direction from `a` to `b` (the scenario's uplink)."""

    a: str
    b: str
    a_to_b_Bps: float
    b_to_a_Bps: float
    rtt_s: float = 0.0
    jitter_s: float = 0.0  # mean of an exponential extra delay per traversal
    loss_prob: float = 0.0  # packet loss probability, turned into retransmission delay
    egress_a_to_b_usd_per_gb: float = 0.0
    egress_b_to_a_usd_per_gb: float = 0.0
    energy_j_per_bit: float = 0.0
    # emissions of that energy per direction: the sending site's grid (planner.model.system)
    gco2e_per_kwh_a_to_b: float = 0.0
    gco2e_per_kwh_b_to_a: float = 0.0
    mtbf_s: float | None = None
    mttr_s: float = 3600.0
    name: str = ""

    def __post_init__(self) -> None:
        if not self.name:
            self.name = f"{self.a}<->{self.b}"


@dataclass
class TokenServing:
    """A language model served with continuous batching on each server of a stage's compute.

    `step_s(tokens, logits, attn_pairs, kv_read_tokens)` is the duration of one iteration (see
    `costs.llm.LlmCost.step_s`); `prompt_tokens(rng)` and `output_tokens(rng)` draw a request's
    token counts. A server holds at most `kv_capacity_tokens` of context over its running
    sequences, `max_seqs` sequences, and `max_batched_tokens` tokens per iteration."""

    step_s: Callable[[float, float, float, float], float]
    kv_capacity_tokens: int
    prompt_tokens: Callable[[random.Random], int]
    output_tokens: Callable[[random.Random], int]
    max_context: int = 1 << 30
    max_seqs: int = 256
    max_batched_tokens: int = 2048
    mean_prompt: float = 512.0  # for the autoscaler's demand estimate of queued requests
    mean_output: float = 128.0
    engine: str = ""  # workloads whose stages name the same engine on a group share one batch
    # what a request does at this stage: "full" (prefill, then every output token), "prefill"
    # (the prompt, leaving with its first logits), "decode" (the prompt's KV cache arrived:
    # every output token), "draft" (k tokens a speculative round, after prefilling the prompt in
    # the first), "verify" (a round's k drafts in one pass, the prompt with the first)
    phase: str = "full"
    k: int = 0  # drafted tokens per speculative round
    # the runtime's own time per request before its prompt is scheduled (tokenising, scheduling;
    # `costs.llm.LlmCost.request_s`): it delays the request, it takes no GPU time
    request_s: float = 0.0


@dataclass
class SpeculativeRounds:
    """A workload served in speculative rounds: after each round's verification is back at the
    source, each of the `k` drafts is accepted with `acceptance_rate` until the first rejection,
    and the target adds one token; the request loops to its first stage until it has its output."""

    k: int
    acceptance_rate: float


@dataclass
class Stage:
    """One compute step of an inference: run on `compute` with `service_time_s(batch)`; then
    `out_bytes` go to the next stage (or back to the source after the last). With `llm`, the
    stage is served token by token instead (`service_time_s` is then unused)."""

    compute: str
    service_time_s: ServiceTime
    out_bytes: float = 0.0
    llm: TokenServing | None = None
    # plus this per prompt token of the request until its first tokens reach the source (a KV
    # cache, or a speculative first round's prompt)
    out_bytes_per_prompt_token: float = 0.0


@dataclass
class RouteSpec:
    """A routed workload's rule and its secondary path. `overflow`: an arrival that finds
    `queue_len` or more waiting at the primary's first compute goes to `stages` instead;
    `by_tokens`: a request's prompt is drawn at arrival (`prompt_tokens(rng)`) and one longer
    than `max_prompt_tokens` goes to `stages`."""

    rule: str
    stages: Sequence[Stage]
    queue_len: int = 0
    max_prompt_tokens: int = 0
    prompt_tokens: Callable[[random.Random], int] | None = None
    input_bytes: float | None = None  # a request's upload on this path (None: the workload's)


@dataclass
class InferenceSpec:
    """Requests arriving at `source`, sent through `stages` (usually one; two for a split model)
    and answered back to the source. `slo_s` is the end-to-end latency each request should meet."""

    name: str
    source: str
    arrival: ArrivalSpec
    stages: Sequence[Stage]
    input_bytes: float = 0.0
    slo_s: float | None = None
    ttft_slo_s: float | None = None  # language models: time to first token ...
    tpot_slo_s: float | None = None  # ... and time per output token after it
    retries: int = 0  # re-sent from the source after a failure, at most this often
    retry_backoff_s: float = 1.0
    rounds: SpeculativeRounds | None = None  # speculative decoding across the boundary
    # Served instead, at the source's own compute, when the path is down (a link, device or
    # pool outage): the workload's fallback (scenario `fallback:`); None = the request fails.
    fallback: Stage | None = None
    route: RouteSpec | None = None  # a routed pair: `stages` are the primary's


@dataclass
class TrainingSpec:
    """A periodic training job: move `dataset_bytes` from `source` to `compute`'s site, hold one
    server (a dedicated instance on a pool) for `duration_s` of work, then push `model_bytes` to
    every site in `deploy_sites`. A run should finish within `deadline_s` of its start. On a
    device the work is queued in steps of `step_s` (one iteration; None = one piece), so that
    requests sharing the device are served between steps."""

    name: str
    source: str
    compute: str
    dataset_bytes: float
    duration_s: float
    model_bytes: float
    deploy_sites: Sequence[str] = ()
    every_s: float = 7 * 86400.0
    deadline_s: float = 86400.0
    first_at_s: float = 0.0
    step_s: float | None = None
    # The grid intensity its compute draws (gCO2e per kWh, PUE included) when the run starts in
    # chosen hours (a `window_h`); None: the compute's own tariff (the yearly figure).
    gco2e_per_kwh: float | None = None


@dataclass
class FederatedSpec:
    """Federated rounds: local training at each of `sites` (on `local_compute[site]` for
    `local_duration_s[site]`), upload of `model_bytes` to `aggregator`, aggregation for
    `aggregate_s` on `aggregator_compute`, download to every site. `rounds` rounds make a run;
    a run starts every `every_s` and should finish within `deadline_s`."""

    name: str
    sites: Sequence[str]
    local_compute: dict[str, str]
    local_duration_s: dict[str, float]
    aggregator: str
    aggregator_compute: str | None
    aggregate_s: float
    model_bytes: float
    rounds: int = 1
    every_s: float = 86400.0
    deadline_s: float = 86400.0
    first_at_s: float = 0.0
    local_step_s: dict[str, float] = field(default_factory=dict)  # iteration time per site (see TrainingSpec)


@dataclass
class SimSpec:
    """Everything the engine needs to run: the topology, compute, workloads and run settings."""

    sites: list[SiteSpec]
    compute: list[ComputeSpec]
    links: list[LinkSpec] = field(default_factory=list)
    inference: list[InferenceSpec] = field(default_factory=list)
    training: list[TrainingSpec] = field(default_factory=list)
    federated: list[FederatedSpec] = field(default_factory=list)
    horizon_s: float = 600.0
    seed: int = 0
    warmup_s: float = 0.0  # requests arriving before this are served but not counted
    bins: int = 120  # utilisation time bins over the horizon (bounded memory)
    mss_bytes: int = 1460  # packet payload, for loss -> retransmissions
    window_bytes: int = 65536  # bytes in flight per round trip, for loss -> retransmissions
    merge_poisson: bool = True  # drive all Poisson streams as one superposed stream (exact, faster)
    # a workload with this many requests in the system refuses new ones (reason "overload"): an
    # unstable placement cannot grow memory without bound (about 0.3 kB per request in flight)
    max_in_flight: int = 250_000
    name: str = "sim"
    # cost attribution the adapter knows and the engine reports back
    notes: dict = field(default_factory=dict)
