"""Compute: groups of identical servers sharing a queue, with dynamic batching and failures;
cloud pools that scale between bounds on utilisation, with a cold start, billed per second.

A `Group` holds one `Lane` per workload (or job) it serves: the lane is that workload's FIFO
queue and knows its service times. A free server takes the lane whose head has waited longest
and forms a batch from it: at once when `max_batch` requests are waiting, else when the head
has waited `max_wait_s` (a single timer per group). Service time of a batch of b is the lane's
``service_time_s(b)``, drawn from a lognormal distribution (exponential at CV 1) with coefficient of variation
`service_cv` around it (0 = deterministic, 1 = exponential).

A pool's instances are bought as its `PoolPricing` says: a reserved base kept running (paid for
whether used or not) and hourly instances above it; spot ones are interrupted, and the requests
in flight on an interrupted instance go back to the head of their queue, retried on another
instance or on the replacement launched at once (which pays a cold start).
"""
from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Callable

import simpy

from planner.sim.metrics import TimeBins
from planner.sim.spec import ComputeSpec, ServiceTime

INF = math.inf


class Server:
    """One device or cloud instance."""

    __slots__ = ("index", "up", "batch", "lane", "t0", "ev", "retiring", "t_launch", "ready", "down_since", "failures",
                 "plan", "reserved", "replaces")

    def __init__(self, index: int, t_launch: float = 0.0, ready: bool = True):
        self.index = index
        self.up = True
        self.batch: list | None = None
        self.lane: Lane | None = None
        self.t0 = 0.0
        self.ev = None
        self.retiring = False
        self.t_launch = t_launch
        self.ready = ready
        self.down_since = 0.0
        self.failures = 0
        self.plan = None  # a language-model server's current iteration (llmserve)
        self.reserved = False  # a pool's reserved instance (paid all run); else billed by the second
        self.replaces = False  # launched for an interrupted spot instance: its cold start is capacity lost

    def __repr__(self) -> str:
        state = "down" if not self.up else "starting" if not self.ready else "busy" if self.batch else "idle"
        return f"Server({self.index}, {state})"


class Lane:
    """A queue at a group for requests that share a service-time function (one model at one
    precision): requests of different workloads running the same model batch together, as an
    inference server batches across clients. Calling the lane enqueues a request (it is a step
    of each workload's path); `finish(batch, seconds)` is called when a batch is done."""

    __slots__ = ("group", "name", "q", "service_time_s", "cache", "cv", "finish", "busy_s", "served", "batches",
                 "active_w", "is_job", "users", "is_llm")

    def __init__(self, group: Group, name: str, service_time_s: ServiceTime, finish: Callable, cv: float,
                 active_w: float | None = None, is_job: bool = False):
        self.group = group
        self.name = name
        self.q: deque = deque()
        self.service_time_s = service_time_s
        self.cache: list[float] = [0.0]
        self.cv = cv
        self.finish = finish
        self.busy_s = 0.0
        self.served = 0
        self.batches = 0
        self.active_w = group.spec.active_w if active_w is None else active_w
        self.is_job = is_job
        self.is_llm = False  # served token by token (llmserve.LlmLane)
        self.users: list[str] = [name]  # the workloads (or the job) that use this lane

    def mean_s(self, b: int) -> float:
        c = self.cache
        while len(c) <= b:
            s = float(self.service_time_s(len(c)))
            if not s >= 0 or s == INF:
                raise ValueError(f"{self.name} on {self.group.name}: service time for batch {len(c)} is {s}")
            c.append(s)
        return c[b]

    @staticmethod
    def log_sigma2(cv: float) -> float:
        return math.log1p(cv * cv)

    def __call__(self, req) -> None:
        """Enqueue `req` at the group (inlined `Group.enqueue`: the hot path)."""
        g = self.group
        if g.qlen >= g.capacity or (g.n_up == 0 and not g.can_grow):
            g.enqueue(self, req)  # the slow path says why it fails
            return
        req.t_mark = g.env.now
        self.q.append(req)
        g.qlen += 1
        if g.idle:
            g._dispatch()
        elif g.can_grow and not g.servers:
            g._launch()

    def backlogged(self) -> bool:
        """Whether requests wait here for a free server (the autoscaler's saturation signal)."""
        return bool(self.q)

    def busy_by_flow(self, served: dict[str, int]) -> dict[str, float]:
        """This lane's busy seconds shared among its workloads by requests served (`served`:
        each workload's count of finished compute steps)."""
        n = sum(served.get(u, 0) for u in self.users)
        return {u: self.busy_s * served.get(u, 0) / n for u in self.users} if n else {}

    def take_back(self, batch: list, now: float, reason: str) -> None:
        """Requests whose server was lost mid-batch go back to the head of this lane's queue, in
        their order, to be retried on another server; each counts a retry with `reason`."""
        for r in reversed(batch):
            r.t_mark = now
            r.flow.retried(reason)
            self.q.appendleft(r)
        self.group.qlen += len(batch)

    def __repr__(self) -> str:
        return f"Lane({self.name} @ {self.group.name}, {len(self.q)} waiting)"


def advance_batch(batch: list, dur_s: float) -> None:
    """The `finish` of inference lanes: each request of the batch goes on to its next step."""
    for r in batch:
        r.compute_s += dur_s
        r.k += 1
        flow = r.flow
        flow.served += 1
        r.path[r.k](r)


class Group:
    """`count` identical servers (or a pool's instances) sharing one queue.

    Requests that find the queue full fail with `queue_full`; when every server is down the
    waiting ones, and new arrivals, fail with `device_down`, and so do those in service on a
    server that fails.
    """

    __slots__ = ("env", "spec", "name", "site", "rng", "max_batch", "max_wait_s", "capacity", "lanes", "qlen", "idle",
                 "servers", "n_up", "busy_s", "busy_bins", "down_s", "failures", "_timer_at", "_timer_ver", "horizon_s",
                 "can_grow", "fail_rng", "_done_cb", "_acc", "_acc_bin", "_inv_w")

    def __init__(self, env: simpy.Environment, spec: ComputeSpec, rng: random.Random, horizon_s: float, bins_n: int,
                 fail_rng: random.Random | None = None):
        self.env = env
        self.spec = spec
        self.name = spec.name
        self.site = spec.site
        self.rng = rng  # service times
        self.fail_rng = fail_rng or rng  # failures and repairs
        self._done_cb = self._done
        self.max_batch = max(1, int(spec.max_batch))
        self.max_wait_s = float(spec.max_wait_s)
        self.capacity = spec.queue_capacity if spec.queue_capacity is not None else INF
        self.lanes: list[Lane] = []
        self.qlen = 0
        self.idle: list[Server] = []
        self.servers: list[Server] = []
        self.n_up = 0
        self.busy_s = 0.0
        self.busy_bins = TimeBins(horizon_s, bins_n)
        self._acc = 0.0  # busy time of the current bin, flushed to busy_bins when the bin changes
        self._acc_bin = 0
        self._inv_w = 1.0 / self.busy_bins.width
        self.down_s = 0.0
        self.failures = 0
        self._timer_at = INF
        self._timer_ver = 0
        self.horizon_s = horizon_s
        self.can_grow = bool(spec.pool and spec.max_instances > 0)  # a pool can launch on demand
        if not spec.pool:
            for i in range(max(0, int(spec.count))):
                s = Server(i)
                self.servers.append(s)
                self.idle.append(s)
            self.n_up = len(self.servers)

    # ------------------------------------------------------------------ lanes and queueing
    def lane(self, name: str, service_time_s: ServiceTime, finish: Callable = advance_batch, cv: float | None = None,
             active_w: float | None = None, is_job: bool = False) -> Lane:
        """The lane for `service_time_s` (shared by every workload that passes the same function
        object), or a new one; jobs always get their own."""
        cv = self.spec.service_cv if cv is None else cv
        if not is_job:
            for ln in self.lanes:
                if ln.service_time_s is service_time_s and ln.cv == cv and not ln.is_job and (
                        active_w is None or ln.active_w == active_w):
                    if name not in ln.users:
                        ln.users.append(name)
                    return ln
        lane = Lane(self, name, service_time_s, finish, cv, active_w, is_job)
        self.lanes.append(lane)
        return lane

    def enqueue(self, lane: Lane, req) -> None:
        if self.n_up == 0 and not self.can_grow:
            req.fail("device_down")
            return
        if self.qlen >= self.capacity:
            req.fail("queue_full")
            return
        req.t_mark = self.env.now
        lane.q.append(req)
        self.qlen += 1
        if self.idle:
            self._dispatch()

    def _dispatch(self) -> None:
        """Start batches on idle servers while there is work ready to go."""
        now = self.env.now
        idle = self.idle
        lanes = self.lanes
        mb = self.max_batch
        while idle and self.qlen:
            if len(lanes) == 1:
                lane = lanes[0]
            else:  # the lane whose head has waited longest
                lane = None
                oldest = INF
                for ln in lanes:
                    if ln.q and ln.q[0].t_mark < oldest:
                        lane, oldest = ln, ln.q[0].t_mark
            q = lane.q
            if lane.is_llm:  # a language model's server admits from the queue itself
                lane.start(idle.pop(), now)
                continue
            if mb > 1 and len(q) < mb and not lane.is_job:
                ready_at = q[0].t_mark + self.max_wait_s
                if ready_at > now + 1e-12:
                    ready_lane = self._ready_lane(now) if len(lanes) > 1 else None
                    if ready_lane is None:
                        self._arm_timer(ready_at, now)
                        return
                    lane, q = ready_lane, ready_lane.q
            if lane.is_job or mb == 1:
                batch = [q.popleft()]
            else:
                b = len(q) if len(q) < mb else mb
                batch = [q.popleft() for _ in range(b)]
            self._start(idle.pop(), lane, batch, now)

    def _ready_lane(self, now: float) -> Lane | None:
        """With several lanes: one whose batch may start now (full, or head waited long enough)."""
        mb, wait = self.max_batch, self.max_wait_s
        best, best_t = None, INF
        soonest = INF
        for ln in self.lanes:
            q = ln.q
            if not q:
                continue
            if ln.is_job or ln.is_llm or len(q) >= mb or q[0].t_mark + wait <= now + 1e-12:
                if q[0].t_mark < best_t:
                    best, best_t = ln, q[0].t_mark
            else:
                soonest = min(soonest, q[0].t_mark + wait)
        if best is None and soonest < INF:
            self._arm_timer(soonest, now)
        return best

    def _arm_timer(self, at: float, now: float) -> None:
        if at < self._timer_at:
            self._timer_at = at
            self._timer_ver += 1
            ev = self.env.timeout(at - now, self._timer_ver)
            ev.callbacks.append(self._on_timer)

    def _on_timer(self, ev) -> None:
        if ev._value != self._timer_ver:
            return
        self._timer_at = INF
        if self.idle and self.qlen:
            self._dispatch()

    def _start(self, server: Server, lane: Lane, batch: list, now: float) -> None:
        b = len(batch)
        self.qlen -= b
        if lane.is_job:
            mean = batch[0].duration
        else:
            mean = lane.cache[b] if b < len(lane.cache) else lane.mean_s(b)
        cv = lane.cv
        if cv == 0.0 or mean == 0.0:
            s = mean
        elif cv == 1.0:
            s = self.rng.expovariate(1.0 / mean)
        else:  # lognormal with this mean and coefficient of variation
            s2 = lane.log_sigma2(cv)
            s = math.exp(self.rng.gauss(math.log(mean) - s2 / 2, math.sqrt(s2)))
        for r in batch:
            r.queue_s += now - r.t_mark
            r.batch = b
        server.batch = batch
        server.lane = lane
        server.t0 = now
        ev = self.env.timeout(s, server)
        server.ev = ev
        ev.callbacks.append(self._done_cb)

    def _done(self, ev) -> None:
        server = ev._value
        if server.ev is not ev:
            return  # the server failed meanwhile
        now = self.env.now
        batch, lane, t0 = server.batch, server.lane, server.t0
        dur = now - t0
        server.batch = server.lane = server.ev = None
        self.busy_s += dur
        lane.busy_s += dur
        lane.served += len(batch)
        lane.batches += 1
        i = int(t0 * self._inv_w)
        if i == self._acc_bin and i == int(now * self._inv_w):
            self._acc += dur
        else:
            self._add_busy(t0, now)
        if server.retiring:
            self._terminate(server)
        else:
            self.idle.append(server)
        lane.finish(batch, dur)
        if self.qlen and self.idle:
            self._dispatch()

    def _add_busy(self, t0: float, t1: float) -> None:
        """Busy time [t0, t1] into the utilisation bins, through the current-bin accumulator."""
        i = int(t0 * self._inv_w)
        if i == int(t1 * self._inv_w):
            self._flush()
            self._acc_bin = i
            self._acc = t1 - t0
        else:
            self.busy_bins.add(t0, t1)

    def _flush(self) -> None:
        if self._acc:
            b = self.busy_bins
            b.values[min(self._acc_bin, b.n - 1)] += self._acc
            self._acc = 0.0

    # ------------------------------------------------------------------ failures
    def start_failures(self) -> None:
        if self.spec.mtbf_s and not self.spec.pool:
            for s in self.servers:
                self.env.process(self._failures(s))

    def _failures(self, server: Server):
        env, spec, rng = self.env, self.spec, self.fail_rng
        while True:
            yield env.timeout(rng.expovariate(1.0 / spec.mtbf_s))
            self._server_down(server)
            yield env.timeout(rng.expovariate(1.0 / spec.mttr_s))
            self._server_up(server)

    def _server_down(self, server: Server) -> None:
        now = self.env.now
        server.up = False
        server.failures += 1
        server.down_since = now
        self.failures += 1
        self.n_up -= 1
        if server in self.idle:
            self.idle.remove(server)
        batch = server.batch
        if batch is not None:
            dur = now - server.t0
            self.busy_s += dur
            server.lane.busy_s += dur
            self._add_busy(server.t0, now)
            server.batch = server.lane = server.ev = None
            for r in batch:
                r.fail("device_down")
        if self.n_up == 0 and not self.can_grow:
            self._fail_waiting("device_down")

    def _fail_waiting(self, reason: str) -> None:
        """Every request waiting in the group's queues fails with `reason` (no server left)."""
        waiting = [r for ln in self.lanes for r in ln.q]
        for ln in self.lanes:
            ln.q.clear()
        self.qlen = 0
        for r in waiting:
            r.fail(reason)

    def _server_up(self, server: Server) -> None:
        self.down_s += self.env.now - server.down_since
        server.up = True
        self.n_up += 1
        self.idle.append(server)
        if self.qlen:
            self._dispatch()

    def _terminate(self, server: Server) -> None:  # pools only
        raise NotImplementedError

    # ------------------------------------------------------------------ reporting
    def busy_now_s(self, now: float) -> float:
        """Busy server-seconds so far, batches in progress included."""
        return self.busy_s + sum(now - s.t0 for s in self.servers if s.batch is not None)

    def finish(self, now: float) -> None:
        """Close open intervals at the end of the run (busy batches, down servers)."""
        for s in self.servers:
            if s.batch is not None:
                self._add_busy(s.t0, now)
                dur = now - s.t0
                self.busy_s += dur
                s.lane.busy_s += dur
                s.t0 = now
            if not s.up:
                self.down_s += now - s.down_since
                s.down_since = now
        self._flush()

    def server_seconds(self, now: float) -> float:
        """Server-seconds owned (devices: count x time)."""
        return len(self.servers) * now

    def in_service(self) -> int:
        return sum(len(s.batch) for s in self.servers if s.batch is not None and not s.lane.is_job)

    def waiting(self) -> int:
        return sum(len(ln.q) for ln in self.lanes if not ln.is_job)

    def __repr__(self) -> str:
        busy = sum(1 for s in self.servers if s.batch is not None)
        return f"Group({self.name} @ {self.site}, {busy}/{len(self.servers)} busy, {self.qlen} waiting, {self.n_up} up)"


class Pool(Group):
    """A cloud pool: instances launched and retired by an autoscaler between `min_instances` and
    `max_instances`, each ready `cold_start_s` after launch and billed from launch to retirement.

    Every `scale_interval_s` the autoscaler measures the busy instances over the last interval
    plus the waiting backlog, and aims for ``ceil(demand / target_utilization)`` instances;
    it scales down only `scale_down_delay_s` after its last scale-up, retiring starting
    instances first, then idle ones, then busy ones once their batch is done. A request that
    arrives when no instance is running or starting launches one at once (scale from zero).
    """

    __slots__ = ("instance_s", "instance_bins", "starting", "launches", "peak_instances", "_last_up", "_next_index",
                 "out", "_out_since", "n_reserved", "reserved_live", "floor", "hourly_s", "interruptions", "lost_s",
                 "_interrupt_per_s")

    def __init__(self, env: simpy.Environment, spec: ComputeSpec, rng: random.Random, horizon_s: float, bins_n: int,
                 fail_rng: random.Random | None = None):
        super().__init__(env, spec, rng, horizon_s, bins_n, fail_rng)
        self.instance_s = 0.0
        self.instance_bins = TimeBins(horizon_s, bins_n)
        self.starting: list[Server] = []
        self.launches = 0
        self.peak_instances = 0
        self._last_up = -INF
        self._next_index = 0
        self.out = False  # in an outage: refuses every request (pool_down)
        self._out_since = 0.0
        pricing = spec.pricing
        self.n_reserved = min(int(spec.max_instances), pricing.reserved_instances) if pricing else 0
        self.reserved_live = 0
        # reserved instances are paid whether used or not: they run from the start and are never
        # retired (`_retire` takes hourly instances only)
        self.floor = max(int(spec.min_instances), self.n_reserved)
        self.hourly_s = 0.0  # instance-seconds above the reserved base (billed at the hourly price)
        self.interruptions = 0
        self.lost_s = 0.0  # replacements' cold starts: capacity the interruptions took
        self._interrupt_per_s = pricing.interruptions_per_h / 3600.0 if pricing else 0.0
        for _ in range(max(0, self.floor, min(int(spec.initial_instances), int(spec.max_instances)))):
            self._launch(cold=False)

    def live(self) -> int:
        return len(self.servers)

    def enqueue(self, lane: Lane, req) -> None:
        if self.out:
            req.fail("pool_down")
            return
        Group.enqueue(self, lane, req)
        if not self.servers and self.qlen:
            self._launch()

    # ------------------------------------------------------------------ outages
    def start_failures(self) -> None:
        if self.spec.mtbf_s:
            self.env.process(self._outages())

    def _outages(self):
        """The whole pool out (its region, or its one instance) for `mttr_s` on average every
        `mtbf_s`: waiting requests fail, and new ones are refused until it is back. Batches
        already running finish (their results are out before the outage is noticed)."""
        env, spec, rng = self.env, self.spec, self.fail_rng
        while True:
            yield env.timeout(rng.expovariate(1.0 / spec.mtbf_s))
            self.out = True
            self.failures += 1
            self._out_since = env.now
            self.capacity = 0  # every arrival takes the slow path (enqueue), which refuses it
            self._fail_waiting("pool_down")
            yield env.timeout(rng.expovariate(1.0 / spec.mttr_s))
            self.out = False
            self.down_s += env.now - self._out_since
            self.capacity = spec.queue_capacity if spec.queue_capacity is not None else INF

    def _launch(self, cold: bool = True) -> None:
        now = self.env.now
        s = Server(self._next_index, t_launch=now, ready=not cold or self.spec.cold_start_s <= 0)
        self._next_index += 1
        self.launches += 1
        self.servers.append(s)
        if self.reserved_live < self.n_reserved:
            s.reserved = True
            self.reserved_live += 1
        elif self._interrupt_per_s > 0:  # a spot instance: its interruption comes after an exponential time
            ev = self.env.timeout(self.fail_rng.expovariate(self._interrupt_per_s), s)
            ev.callbacks.append(self._interrupt)
        self.peak_instances = max(self.peak_instances, len(self.servers))
        if s.ready:
            self.n_up += 1
            self.idle.append(s)
            if self.qlen:
                self._dispatch()
        else:
            self.starting.append(s)
            ev = self.env.timeout(self.spec.cold_start_s, s)
            ev.callbacks.append(self._ready)

    def _ready(self, ev) -> None:
        s = ev._value
        if s not in self.starting:
            return  # cancelled while starting
        self.starting.remove(s)
        s.ready = True
        if s.replaces:
            self.lost_s += self.env.now - s.t_launch
        self.n_up += 1
        self.idle.append(s)
        if self.qlen:
            self._dispatch()

    def _terminate(self, server: Server) -> None:
        now = self.env.now
        self._bill_to(server, now)
        self.servers.remove(server)
        if server.ready:
            self.n_up -= 1
        if server.reserved:
            self.reserved_live -= 1

    def _bill_to(self, server: Server, now: float) -> None:
        """Instance time of `server` since its launch (or the last call) up to `now`."""
        self.instance_s += now - server.t_launch
        self.instance_bins.add(server.t_launch, now)
        if not server.reserved:
            self.hourly_s += now - server.t_launch
        if server.replaces and not server.ready:
            self.lost_s += now - server.t_launch
        server.t_launch = now

    def _interrupt(self, ev) -> None:
        """A spot instance taken back by the provider: its batch goes back to the queue as
        retries (reason `spot_interrupted`) and a replacement is launched at once, cold."""
        s = ev._value
        if s not in self.servers:
            return  # retired before its interruption came
        now = self.env.now
        self.interruptions += 1
        batch, lane = s.batch, s.lane
        if batch is not None and not lane.is_llm:  # the busy time up to now was spent (energy), if wasted
            dur = now - s.t0
            self.busy_s += dur
            lane.busy_s += dur
            self._add_busy(s.t0, now)
        s.batch = s.lane = s.ev = s.plan = None  # a pending batch end finds ev changed and is ignored
        if s in self.idle:
            self.idle.remove(s)
        if s in self.starting:
            self.starting.remove(s)
        replace = not s.retiring
        self._terminate(s)
        if batch:
            lane.take_back(batch, now, "spot_interrupted")
        if replace:
            self._launch()
            self.servers[-1].replaces = True
        if self.idle and self.qlen:
            self._dispatch()

    def _retire(self, n: int) -> None:
        # Only hourly instances: a reserved one retired saves nothing (it is paid all the same),
        # and the autoscaler's floor keeps the reserved base, so the hourly ones always suffice.
        for s in [x for x in self.starting if not x.reserved]:
            if n <= 0:
                return
            self.starting.remove(s)
            self._terminate(s)
            n -= 1
        idle = [x for x in self.idle if not x.reserved]  # oldest first
        for s in idle[:max(0, n)]:
            self.idle.remove(s)
            self._terminate(s)
            n -= 1
        for s in self.servers:
            if n <= 0:
                return
            if s.batch is not None and not s.retiring and not s.reserved:
                s.retiring = True
                n -= 1

    def start_autoscaler(self) -> None:
        self.env.process(self._autoscaler())

    def _autoscaler(self):
        env, spec = self.env, self.spec
        interval = spec.scale_interval_s
        last_busy = 0.0
        while True:
            yield env.timeout(interval)
            now = env.now
            busy = self.busy_now_s(now)
            window_busy = busy - last_busy
            last_busy = busy
            # instances kept busy over the last interval, plus those needed to clear the backlog
            # within one interval (each lane's waiting requests at the batch size they would form;
            # a language model's waiting requests that join the running batch at its next
            # iteration are no backlog: counting each as a solo request's seconds launched an
            # instance for one queued prompt at a third of an instance's load)
            demand = window_busy / interval
            if self.qlen:
                mb = self.max_batch
                for ln in self.lanes:
                    n = len(ln.q)
                    if n and ln.backlogged():
                        if ln.is_job:
                            demand += sum(item.duration for item in ln.q) / interval
                        else:
                            b = min(mb, n)
                            demand += n * ln.mean_s(b) / b / interval
            want = math.ceil(demand / spec.target_utilization - 1e-9)
            if self.qlen and not self.idle and not self.starting and any(ln.backlogged() for ln in self.lanes):
                # saturated: one more at least
                want = max(want, len(self.servers) - sum(s.retiring for s in self.servers) + 1)
            want = max(spec.min_instances, min(spec.max_instances, want))
            have = len(self.servers) - sum(s.retiring for s in self.servers)
            if want > have:
                for s in self.servers:  # un-retire before launching anew
                    if want <= have:
                        break
                    if s.retiring:
                        s.retiring = False
                        have += 1
                for _ in range(want - have):
                    self._launch()
                self._last_up = now
            elif want < have and now - self._last_up >= spec.scale_down_delay_s:
                self._retire(have - want)

    def finish(self, now: float) -> None:
        super().finish(now)
        if self.out:
            self.down_s += now - self._out_since
            self._out_since = now
        for s in self.servers:  # bill what is still running
            self._bill_to(s, now)

    def server_seconds(self, now: float) -> float:
        return self.instance_s

    def __repr__(self) -> str:
        busy = sum(1 for s in self.servers if s.batch is not None)
        return (f"Pool({self.name} @ {self.site}, {busy}/{len(self.servers)} busy, {len(self.starting)} starting, "
                f"{self.qlen} waiting, bounds {self.spec.min_instances}..{self.spec.max_instances})")


def make_group(env: simpy.Environment, spec: ComputeSpec, rng: random.Random, horizon_s: float, bins_n: int,
               fail_rng: random.Random | None = None) -> Group:
    return (Pool if spec.pool else Group)(env, spec, rng, horizon_s, bins_n, fail_rng)
