"""Inference workloads at run time: requests and the path each one follows.

A workload's path is compiled once into a list of steps: transfers (`network.Transfer`) and
compute lanes (`compute.Lane`), ending with the workload's own `complete`. A request carries
the index of its current step; each component calls the next step when it is done with it, so
a request costs no simpy process, only the events of the components it passes through.

Arrivals come from lazy generators (`arrivals.py`), one simpy process per stream; all Poisson
streams share one process (`poisson_mux`).
"""
from __future__ import annotations

import math
import random
from bisect import bisect_right
from collections.abc import Callable

import simpy

from planner.sim import arrivals
from planner.model.routing import to_secondary_by_tokens
from planner.sim.metrics import LogSketch, TraceWriter, WorkloadStats
from planner.sim.spec import InferenceSpec


#: failure reasons that mean the path is down (not overloaded): a fallback answers these
OUTAGES = frozenset({"link_down", "device_down", "pool_down"})


class Request:
    """One inference request: where it is on its path and the time spent in each segment."""

    __slots__ = ("flow", "id", "t0", "k", "t_mark", "hop", "up_s", "queue_s", "compute_s", "down_s",
                 "batch", "attempt", "llm", "path", "prompt", "tokens", "gen", "t_first")

    def __init__(self, flow: InferenceFlow, rid: int, t0: float):
        self.flow = flow
        self.id = rid
        self.t0 = t0
        self.k = 0
        self.t_mark = t0
        self.hop = 0
        self.up_s = 0.0
        self.queue_s = 0.0
        self.compute_s = 0.0
        self.down_s = 0.0
        self.batch = 0
        self.attempt = 0
        self.llm = None  # a language model's progress (llmserve.Seq)
        self.tokens = None  # a language model's (prompt, output) tokens, drawn at its first stage
        self.gen = 0  # tokens delivered to the source by speculative rounds
        self.t_first = -1.0  # when the first speculative round's tokens reached the source
        self.path = flow.steps  # the steps it follows: its flow's, or a routed flow's secondary path
        self.prompt = 0  # prompt tokens drawn at arrival by a by_tokens route (0: drawn where served)

    def fail(self, reason: str) -> None:
        self.flow.fail(self, reason)

    def __repr__(self) -> str:
        return f"Request({self.flow.name}#{self.id}, step {self.k}, t0={self.t0:g})"


class InferenceFlow:
    """Runs one inference workload: arrivals, the compiled path, completion and failure."""

    __slots__ = ("env", "spec", "name", "stats", "steps", "rng", "warmup_s", "trace", "trace_rng", "max_in_flight",
                 "next_id", "served", "pending_retries", "lanes", "transfers", "entry", "alt_steps", "router",
                 "primary_lanes", "fallback_steps")

    def __init__(self, env: simpy.Environment, spec: InferenceSpec, rng: Callable[[str], random.Random],
                 warmup_s: float, trace: TraceWriter | None, max_in_flight: int = 250_000):
        """`rng(kind)` gives this workload's random stream of a kind ('arrivals', 'trace'),
        made only when needed: a generator's state is 2.5 kB."""
        self.env = env
        self.spec = spec
        self.name = spec.name
        self.stats = WorkloadStats(spec.name, spec.slo_s)
        self.steps: list = []
        self.rng = rng
        self.warmup_s = warmup_s
        self.trace = trace
        self.trace_rng = rng("trace") if trace is not None else None
        self.max_in_flight = max_in_flight
        self.next_id = 0
        self.served = 0  # finished compute steps (shares a shared lane's busy time)
        self.pending_retries = 0
        self.lanes: list = []
        self.transfers: list = []
        self.entry: Callable = lambda req: req.path[0](req)  # where a request starts: its path, or a router
        self.alt_steps: list = []  # a routed workload's secondary path
        self.router: Router | None = None
        self.primary_lanes = 0  # the first lanes are the primary path's (where the workload "runs")
        self.fallback_steps: list = []  # a request its path cannot answer is answered here (the source's devices)

    # ------------------------------------------------------------------ path steps
    def uplink_done(self, req: Request, elapsed_s: float) -> None:
        req.up_s += elapsed_s
        req.k += 1
        req.path[req.k](req)

    def downlink_done(self, req: Request, elapsed_s: float) -> None:
        req.down_s += elapsed_s
        req.k += 1
        req.path[req.k](req)

    # ------------------------------------------------------------------ arrivals
    def start(self, horizon_s: float) -> None:
        a = self.spec.arrival
        self.env.process(self._arrivals(arrivals.make(a.process, a.params, self.rng("arrivals")), horizon_s))

    def _arrivals(self, times, horizon_s: float):
        env = self.env
        timeout = env.timeout
        arrive = self.arrive
        for t in times:
            if t >= horizon_s:
                return
            yield timeout(t - env.now)
            arrive()

    def arrive(self) -> None:
        """A new request arrives now and starts on its path (the hottest code of the simulator)."""
        now = self.env.now
        st = self.stats
        if st.in_system >= self.max_in_flight:
            self._overload(now)
            return
        rid = self.next_id
        self.next_id = rid + 1
        st.arrived += 1
        st.area += st.in_system * (now - st.t_last)
        st.t_last = now
        st.in_system += 1
        self.entry(Request(self, rid, now))


    # ------------------------------------------------------------------ outcomes
    def complete(self, req: Request) -> None:
        now = self.env.now
        st = self.stats
        st.completed += 1
        st.area += st.in_system * (now - st.t_last)
        st.t_last = now
        st.in_system -= 1
        lat = now - req.t0
        if req.t0 >= self.warmup_s:
            st.measured += 1
            st.lat_sum += lat
            sk = st.sketch
            sk.count += 1
            if lat > sk.min_value:
                i = math.ceil(math.log(lat) * sk.inv_log_gamma) + sk.offset
                c = sk.counts
                if i >= len(c):
                    i = len(c) - 1
                c[i] += 1
            else:
                sk.zeros += 1
            st.up_s += req.up_s
            st.queue_s += req.queue_s
            st.compute_s += req.compute_s
            st.down_s += req.down_s
            st.batch_sum += req.batch
            if self.router is not None:
                (self.router.secondary if req.path is self.alt_steps else self.router.primary).add(lat)
            slo = st.slo_s
            if req.llm is not None:
                self._tokens(req, lat)
            elif slo is not None:
                if lat <= slo:
                    st.slo_met += 1
                else:
                    st.late += 1
        if self.trace is not None and self.trace_rng.random() < self.trace.sample:
            self._trace(req, "completed", "", lat)

    def _tokens(self, req: Request, lat: float) -> None:
        """A language model's time to first token (as streamed to the source: the server's
        first token plus the trip back) and time per output token after it; the request meets
        its SLOs only if it meets every one it has."""
        st, seq, spec = self.stats, req.llm, self.spec
        if req.t_first >= 0:  # speculative rounds: tokens reach the source a round at a time
            ttft = req.t_first - req.t0
            tpot = (self.env.now - req.t_first) / (req.gen - 1) if req.gen > 1 else 0.0
            st.tokens_out += req.gen
        else:
            ttft = seq.t_first - req.t0 + req.down_s
            tpot = (seq.t_last - seq.t_first) / (seq.generated - 1) if seq.generated > 1 else 0.0
            st.tokens_out += seq.generated
        st.ttft.add(ttft)
        st.tpot.add(tpot)
        if st.slo_s is None and spec.ttft_slo_s is None and spec.tpot_slo_s is None:
            return
        if ((st.slo_s is None or lat <= st.slo_s) and (spec.ttft_slo_s is None or ttft <= spec.ttft_slo_s)
                and (spec.tpot_slo_s is None or tpot <= spec.tpot_slo_s)):
            st.slo_met += 1
        else:
            st.late += 1

    def _overload(self, now: float) -> None:
        """Refuse an arrival: this workload already has `max_in_flight` requests in the system
        (an unstable placement), and memory must stay bounded however long the run."""
        st = self.stats
        self.next_id += 1
        st.arrived += 1
        st.failed["overload"] = st.failed.get("overload", 0) + 1
        if now >= self.warmup_s:
            st.failed_measured += 1

    def complete_fallback(self, req: Request) -> None:
        """A request answered by the fallback at the source."""
        if req.t0 >= self.warmup_s:
            self.stats.fallback += 1
        self.complete(req)

    def retried(self, reason: str) -> None:
        """A request of this workload goes round again because its server was lost (`reason`)."""
        st = self.stats
        st.retries += 1
        st.retried[reason] = st.retried.get(reason, 0) + 1

    def fail(self, req: Request, reason: str) -> None:
        if self.fallback_steps and req.path is not self.fallback_steps and reason in OUTAGES:
            req.path, req.k = self.fallback_steps, 0  # its path is down: the source's devices answer it instead
            req.path[0](req)
            return
        if req.attempt < self.spec.retries:
            req.attempt += 1
            self.retried(reason)
            self.pending_retries += 1
            ev = self.env.timeout(self.spec.retry_backoff_s, req)
            ev.callbacks.append(self._retry)
            return
        now = self.env.now
        st = self.stats
        st.failed[reason] = st.failed.get(reason, 0) + 1
        if req.t0 >= self.warmup_s:
            st.failed_measured += 1
        st.area += st.in_system * (now - st.t_last)
        st.t_last = now
        st.in_system -= 1
        if self.trace is not None and self.trace_rng.random() < self.trace.sample:
            self._trace(req, "failed", reason, now - req.t0)

    def _retry(self, ev) -> None:
        self.pending_retries -= 1
        req = ev._value
        req.k = 0
        req.gen, req.t_first = 0, -1.0
        req.path = self.steps
        self.entry(req)

    def _trace(self, req: Request, status: str, reason: str, lat_s: float) -> None:
        if status == "completed" and self.stats.slo_s is not None and lat_s > self.stats.slo_s:
            reason = "slo_missed"
        self.trace.add((req.id, self.name, status, reason, req.t0, lat_s * 1e3, req.up_s * 1e3, req.queue_s * 1e3,
                        req.compute_s * 1e3, req.down_s * 1e3, req.batch, req.attempt + 1))

    def finish(self, now: float) -> None:
        st = self.stats
        st.area += st.in_system * (now - st.t_last)
        st.t_last = now

    def __repr__(self) -> str:
        return f"InferenceFlow({self.name!r}, {len(self.steps) - 1} steps, {self.stats.in_system} in system)"


class Rounds:
    """The step after a speculative round's tokens are back at the source: each of the `k`
    drafts is accepted with `acceptance_rate` until the first rejection (seeded per workload),
    the target's own token is added, and the request goes round again from step `restart`
    until it has its output tokens."""

    __slots__ = ("flow", "k", "a", "rng", "restart", "rounds", "accepted")

    def __init__(self, flow: InferenceFlow, k: int, acceptance_rate: float, rng: random.Random, restart: int = 0):
        self.flow = flow
        self.k = k
        self.a = acceptance_rate
        self.rng = rng
        self.restart = restart
        self.rounds = 0
        self.accepted = 0

    def __call__(self, req: Request) -> None:
        n, uni = 0, self.rng.random
        while n < self.k and uni() < self.a:
            n += 1
        self.rounds += 1
        self.accepted += n
        if req.gen == 0:
            req.t_first = self.flow.env.now
        want = req.tokens[1]
        req.gen = min(want, req.gen + n + 1)
        req.k = req.k + 1 if req.gen >= want else self.restart
        req.path[req.k](req)


class Router:
    """Step 0 of a routed workload: sends each new request down the primary path or the
    secondary one (`InferenceFlow.alt_steps`) by its rule, counts the share sent on (requests
    that arrived after the warm-up, first attempts), and keeps each side's latency sketch."""

    __slots__ = ("flow", "warmup_s", "arrived", "sent", "primary", "secondary")

    def __init__(self, flow: InferenceFlow, warmup_s: float):
        self.flow = flow
        self.warmup_s = warmup_s
        self.arrived = 0
        self.sent = 0
        self.primary = LogSketch()
        self.secondary = LogSketch()

    def to_secondary(self, req: Request) -> bool:  # the rule: OverflowRouter, TokenRouter
        raise NotImplementedError

    def __call__(self, req: Request) -> None:
        flow = self.flow
        alt = self.to_secondary(req)
        if req.attempt == 0 and req.t0 >= self.warmup_s:
            self.arrived += 1
            self.sent += alt
        req.path = flow.alt_steps if alt else flow.steps
        req.path[0](req)

    @property
    def share(self) -> float:
        """Simulated share of requests the secondary served (NaN before any arrived)."""
        return self.sent / self.arrived if self.arrived else math.nan


class OverflowRouter(Router):
    """Overflow: an arrival that finds no free server and `queue_len` or more waiting at the
    primary's compute group goes to the secondary (`planner.model.routing.queue_limit` made
    the length)."""

    __slots__ = ("group", "queue_len")

    def __init__(self, flow: InferenceFlow, warmup_s: float, group, queue_len: int):
        super().__init__(flow, warmup_s)
        self.group = group
        self.queue_len = queue_len

    def to_secondary(self, req: Request) -> bool:
        g = self.group  # a free server takes the request whatever the limit (queue_len 0: Erlang's loss rule)
        return g.qlen >= self.queue_len and not g.idle


class TokenRouter(Router):
    """By tokens: the request's prompt is drawn now; one longer than `max_prompt_tokens` goes
    to the secondary (`planner.model.routing.to_secondary_by_tokens`)."""

    __slots__ = ("max_prompt_tokens", "draw", "rng")

    def __init__(self, flow: InferenceFlow, warmup_s: float, max_prompt_tokens: int,
                 draw: Callable[[random.Random], int], rng: random.Random):
        super().__init__(flow, warmup_s)
        self.max_prompt_tokens = max_prompt_tokens
        self.draw = draw
        self.rng = rng

    def to_secondary(self, req: Request) -> bool:
        if not req.prompt:
            req.prompt = self.draw(self.rng)
        return to_secondary_by_tokens(req.prompt, self.max_prompt_tokens)


def poisson_mux(env: simpy.Environment, flows: list[InferenceFlow], rng: random.Random, horizon_s: float):
    """One process for many Poisson streams: their superposition is a Poisson stream at the sum
    of the rates, and each arrival belongs to stream i with probability rate_i / sum (exact).
    One pending event instead of one per stream keeps the event heap, and so the cost of an
    event, small however many sources a scenario has."""
    rates = [f.spec.arrival.params["rate_per_s"] for f in flows]
    total = sum(rates)
    if total <= 0:
        return
    arrive = [f.arrive for f in flows]
    k = len(flows)
    equal = max(rates) - min(rates) <= 1e-12 * max(rates)
    cum, acc = [], 0.0
    for r in rates:
        acc += r
        cum.append(acc / total)
    cum[-1] = 1.0
    expo, uni, timeout = rng.expovariate, rng.random, env.timeout
    t = env.now
    while True:
        t += expo(total)
        if t >= horizon_s:
            return
        yield timeout(t - env.now)
        if equal:
            arrive[int(uni() * k)]()
        else:
            arrive[bisect_right(cum, uni())]()
