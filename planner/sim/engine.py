"""Build the simulation model from a `SimSpec` and run it with plain simpy.

    from planner.sim.engine import Engine
    result = Engine(spec).run()          # -> SimResult

Randomness: each kind of randomness has its own `random.Random`, seeded from the run's seed
and the stream's name, so the same seed gives the same result: the Poisson arrivals (merged into
one superposed stream, `SimSpec.merge_poisson`, exact in distribution), the other arrival
processes one stream each, service times, network jitter and loss, failures of each device
group and link, each job. The hot-path kinds (service, network) share one generator across
components: thousands of per-component generators would cost cache misses on every draw.
"""
from __future__ import annotations

import gc
import random
import threading
import time
from contextlib import contextmanager
from collections.abc import Callable
from pathlib import Path

import simpy

from planner.sim.compute import Group, Pool, make_group
from planner.sim.llmserve import LlmLane
from planner.sim.jobs import FederatedJob, TrainingJob
from planner.sim.metrics import TraceWriter
from planner.sim.network import TokenTransfer, Topology, Transfer
from planner.sim.result import SimResult, collect
from planner.sim.spec import SimSpec
from planner.sim.workload import InferenceFlow, OverflowRouter, Request, Rounds, TokenRouter, poisson_mux


_gc_lock = threading.Lock()
_gc_runs = 0
_gc_saved: tuple[int, ...] = ()


@contextmanager
def _quiet_gc():
    """Requests are short-lived and acyclic: while simulations run, freeze what exists and let
    the young generation grow, so the cyclic collector does not rescan the model every few
    thousand requests. Process-wide settings, so concurrent runs (threads) share one change:
    the first run in makes it, the last one out restores it."""
    global _gc_runs, _gc_saved
    with _gc_lock:
        if _gc_runs == 0:
            _gc_saved = gc.get_threshold()
            gc.collect()
            gc.freeze()
            gc.set_threshold(100_000, 50, 50)
        _gc_runs += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_runs -= 1
            if _gc_runs == 0:
                gc.set_threshold(*_gc_saved)
                gc.unfreeze()


def stream_rng(seed: int, name: str) -> random.Random:
    """The random stream `name` of a run with `seed` (str seeding is stable across processes)."""
    return random.Random(f"{seed}/{name}")


class Engine:
    """The simulation of one `SimSpec`: topology, compute groups, workloads and jobs."""

    def __init__(self, spec: SimSpec, *, trace_path: str | Path | None = None, trace_sample: float = 0.0,
                 trace_max_rows: int = 1_000_000, progress: Callable[[float], None] | None = None):
        self.spec = spec
        self.env = env = simpy.Environment()
        self.progress = progress
        seed = spec.seed
        horizon, nb = float(spec.horizon_s), int(spec.bins)
        if horizon <= 0:
            raise ValueError("horizon_s must be > 0")
        site_names = [s.name for s in spec.sites]
        if len(set(site_names)) != len(site_names):
            raise ValueError("duplicate site names")
        self.sites = {s.name: s for s in spec.sites}
        self.topo = Topology(env, site_names, spec.links, nb, horizon)
        self.groups: dict[str, Group] = {}
        service_rng = stream_rng(seed, "service")
        self._net_rng = stream_rng(seed, "network")
        for c in spec.compute:
            if c.site not in self.sites:
                raise ValueError(f"compute {c.name}: unknown site '{c.site}'")
            if c.name in self.groups:
                raise ValueError(f"duplicate compute name '{c.name}'")
            interrupted = c.pool and c.pricing is not None and c.pricing.interruptions_per_h > 0
            fail_rng = stream_rng(seed, f"fail/{c.name}") if c.mtbf_s or interrupted else None
            self.groups[c.name] = make_group(env, c, service_rng, horizon, nb, fail_rng)
        self.trace = TraceWriter(trace_path, trace_sample, trace_max_rows) if trace_path and trace_sample > 0 else None
        self.flows: list[InferenceFlow] = []
        for w in spec.inference:
            if w.source not in self.sites:
                raise ValueError(f"workload {w.name}: unknown source site '{w.source}'")
            flow = InferenceFlow(env, w, lambda kind, _n=w.name: stream_rng(seed, f"{kind}/{_n}"), spec.warmup_s,
                                 self.trace, spec.max_in_flight)
            self._compile(flow)
            self.flows.append(flow)
        self.jobs: list = []
        for t in spec.training:
            self.jobs.append(TrainingJob(env, t, self.topo, self.groups, stream_rng(seed, f"job/{t.name}"),
                                         spec.mss_bytes, spec.window_bytes))
        for f in spec.federated:
            self.jobs.append(FederatedJob(env, f, self.topo, self.groups, stream_rng(seed, f"job/{f.name}"),
                                          spec.mss_bytes, spec.window_bytes))
        self.wall_s = 0.0
        self._ran = False

    def _compile(self, flow: InferenceFlow) -> None:
        """The request path of one workload: [uplink] compute [transfer compute ...] [downlink]
        complete; a routed workload also gets its secondary path and the router that picks."""
        w = flow.spec
        flow.steps = self._path(flow, w.stages)
        flow.primary_lanes = len(flow.lanes)
        if w.fallback is not None:  # a request its path cannot answer is answered at the source
            group = self.groups.get(w.fallback.compute)
            if group is None or group.site != w.source:
                raise ValueError(f"workload {w.name}: fallback compute '{w.fallback.compute}' is not at its source")
            flow.fallback_steps = [group.lane(w.name, w.fallback.service_time_s), flow.complete_fallback]
        route = w.route
        if route is None:
            flow.entry = flow.steps[0]
            return
        flow.alt_steps = self._path(flow, route.stages, route.input_bytes)
        if route.rule == "overflow":
            flow.router = OverflowRouter(flow, self.spec.warmup_s, self.groups[w.stages[0].compute], route.queue_len)
        elif route.rule == "by_tokens" and route.prompt_tokens is not None:
            flow.router = TokenRouter(flow, self.spec.warmup_s, route.max_prompt_tokens, route.prompt_tokens,
                                      stream_rng(self.spec.seed, f"route/{w.name}"))
        else:
            raise ValueError(f"workload {w.name}: unknown routing rule '{route.rule}'")
        flow.entry = flow.router

    def _path(self, flow: InferenceFlow, stages, input_bytes: float | None = None) -> list:
        """The steps through `stages` from the source and back to it (`input_bytes` uploaded,
        by default the workload's)."""
        w, env, spec = flow.spec, self.env, self.spec
        if not stages:
            raise ValueError(f"workload {w.name}: no compute stage")
        rng = self._net_rng
        loc, nbytes, per_token = w.source, float(w.input_bytes if input_bytes is None else input_bytes), 0.0
        steps: list = []
        for st in stages:
            group = self.groups.get(st.compute)
            if group is None:
                raise ValueError(f"workload {w.name}: unknown compute '{st.compute}'")
            if group.site != loc:
                t = (Transfer if not per_token else TokenTransfer.per_prompt_token(per_token))(
                    env, self.topo.route(loc, group.site), nbytes, rng, flow.uplink_done, spec.mss_bytes, spec.window_bytes)
                steps.append(t)
                flow.transfers.append(t)
            if st.llm is not None:
                lane = next((ln for ln in group.lanes if ln.is_llm and st.llm.engine and ln.llm.engine == st.llm.engine),
                            None)
                if lane is None:
                    lane = LlmLane(group, w.name, st.llm, stream_rng(spec.seed, f"tokens/{w.name}"))
                    group.lanes.append(lane)
                lane.add_user(w.name, st.llm)
            else:
                lane = group.lane(w.name, st.service_time_s)
            steps.append(lane)
            flow.lanes.append(lane)
            loc, nbytes, per_token = group.site, float(st.out_bytes), float(st.out_bytes_per_prompt_token)
        if loc != w.source:
            t = Transfer(env, self.topo.route(loc, w.source), nbytes, rng, flow.downlink_done,
                         spec.mss_bytes, spec.window_bytes)
            steps.append(t)
            flow.transfers.append(t)
        if w.rounds is not None and stages is w.stages:  # speculative rounds loop on the primary path
            steps.append(Rounds(flow, w.rounds.k, w.rounds.acceptance_rate, stream_rng(spec.seed, f"accept/{w.name}")))
        steps.append(flow.complete)
        return steps

    # ------------------------------------------------------------------ running
    def run(self) -> SimResult:
        """Run to the horizon and collect the result (once per engine)."""
        if self._ran:
            raise RuntimeError("an Engine runs once; build a new one")
        self._ran = True
        env, spec = self.env, self.spec
        horizon = float(spec.horizon_s)
        for name, g in self.groups.items():
            g.start_failures()
            if isinstance(g, Pool):
                g.start_autoscaler()
        for link in self.topo.links.values():
            link.start_failures(stream_rng(spec.seed, f"fail/{link.name}"))
        merged = [f for f in self.flows if spec.merge_poisson and f.spec.arrival.process == "poisson"]
        if merged:
            env.process(poisson_mux(env, merged, stream_rng(spec.seed, "arrivals/poisson"), horizon))
        for f in self.flows:
            if f not in merged:
                f.start(horizon)
        for j in self.jobs:
            j.start()
        t0 = time.perf_counter()
        with _quiet_gc():
            try:
                if self.progress is None:
                    env.run(until=horizon)
                else:
                    steps = 100
                    for k in range(1, steps + 1):
                        env.run(until=horizon * k / steps)
                        self.progress(k / steps)
            finally:
                self.wall_s = time.perf_counter() - t0
        now = env.now
        for g in self.groups.values():
            g.finish(now)
        for link in self.topo.links.values():
            link.finish(now)
        for f in self.flows:
            f.finish(now)
        if self.trace is not None:
            self.trace.close()
        return collect(self)

    # ------------------------------------------------------------------ checks
    def in_flight(self) -> int:
        """Requests in the system now, counted where they are (queues, servers, links,
        propagation, retry back-off), independently of the workloads' counters."""
        n = sum(f.pending_retries for f in self.flows)
        for g in self.groups.values():
            n += g.waiting() + g.in_service()
        for ch in self.topo.channels():
            n += sum(1 for fl in ch.flows if isinstance(fl[2], Request))
        for f in self.flows:
            n += sum(t.in_prop for t in f.transfers)
        return n

    def __repr__(self) -> str:
        return (f"Engine({self.spec.name!r}, {len(self.groups)} compute groups, {self.topo!r}, "
                f"{len(self.flows)} inference workloads, {len(self.jobs)} jobs, t={self.env.now:g}/{self.spec.horizon_s:g} s)")


def run(spec: SimSpec, **kwargs) -> SimResult:
    """Build an `Engine` for `spec` and run it."""
    return Engine(spec, **kwargs).run()
