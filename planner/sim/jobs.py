"""Training and federated jobs: long, periodic, few; each run is a plain simpy process.

A training run moves its dataset from its source to the training site over the network
(sharing the links with everything else), holds one server of its compute group for its
estimated time (on a cloud pool: a dedicated instance, cold start included, billed to the job),
then pushes the new model to every site that serves the workloads it deploys to.

A federated run is `rounds` rounds of: local training at every participating site, upload of
the model update to the aggregator, aggregation, download of the new model to every site.

A run fails with the reason of whatever failed under it (link_down, device_down); the next run
starts on schedule. Costs are kept per run, so a job's monthly cost is its mean run cost times
its runs per month, not an extrapolation of a short horizon.
"""
from __future__ import annotations

import random

import simpy

from planner.sim.compute import Group, Pool
from planner.sim.network import Topology, Transfer
from planner.model.accounting import MonthlyBill, Usage, bill
from planner.sim.spec import FederatedSpec, TrainingSpec
from planner.units import SECONDS_PER_MONTH


#: A job's work on a shared device is queued in at most this many steps.
MAX_STEPS = 20_000


class JobFailed(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class JobItem:
    """What a job puts through transfers and compute lanes: resolves `event` when done."""

    __slots__ = ("event", "t_mark", "hop", "queue_s", "batch", "duration")

    def __init__(self, env: simpy.Environment, duration_s: float = 0.0):
        self.event = env.event()
        self.t_mark = env.now
        self.hop = 0
        self.queue_s = 0.0
        self.batch = 0
        self.duration = duration_s

    def fail(self, reason: str) -> None:
        if not self.event.triggered:
            self.event.defused = True  # whoever waits still sees the failure; nobody waiting is fine
            self.event.fail(JobFailed(reason))

    def done(self, value=None) -> None:
        if not self.event.triggered:
            self.event.succeed(value)


class JobStats:
    """Runs of one job: counts, durations, phases, bytes, costs and failures by reason."""

    def __init__(self, name: str, kind: str, deadline_s: float, every_s: float):
        self.name = name
        self.kind = kind
        self.deadline_s = deadline_s
        self.every_s = every_s
        self.started = 0
        self.completed = 0
        self.failed: dict[str, int] = {}
        self.deadline_met = 0
        self.duration_sum_s = 0.0
        self.duration_max_s = 0.0
        self.phase_s: dict[str, float] = {}
        self.bytes_moved = 0.0
        self.egress_usd = 0.0
        self.compute_usd = 0.0
        self.instance_s = 0.0
        self.energy_j = 0.0
        self.net_energy_j = 0.0
        self.completed_cost_usd = 0.0  # cost of completed runs only, for the per-run mean
        self.completed_kgco2e = 0.0  # and their emissions
        self.predicted_run_usd = 0.0
        self.predicted_run_kgco2e = 0.0
        self.predicted_run_s = 0.0

    def run_cost_usd(self) -> float:
        """Mean cost of a completed run; the predicted cost when none completed in the horizon."""
        return self.completed_cost_usd / self.completed if self.completed else self.predicted_run_usd

    def monthly_cost_usd(self) -> float:
        return self.run_cost_usd() * SECONDS_PER_MONTH / self.every_s

    def monthly_kgco2e(self) -> float:
        """Emissions a month: a completed run's mean (the predicted run's when none completed)."""
        run = self.completed_kgco2e / self.completed if self.completed else self.predicted_run_kgco2e
        return run * SECONDS_PER_MONTH / self.every_s

    def __repr__(self) -> str:
        return f"JobStats({self.name!r}, {self.kind}, started={self.started}, completed={self.completed}, failed={sum(self.failed.values())})"


class _JobBase:
    def __init__(self, env: simpy.Environment, topo: Topology, groups: dict[str, Group], rng: random.Random,
                 mss_bytes: int, window_bytes: int):
        self.env = env
        self.topo = topo
        self.groups = groups
        self.rng = rng
        self.mss, self.window = mss_bytes, window_bytes
        self._lanes: dict[str, object] = {}
        self._run_cost = 0.0
        self._run_kgco2e = 0.0

    # a transfer, resolved as an event
    def send(self, src: str, dst: str, nbytes: float):
        item = JobItem(self.env)
        if src == dst or nbytes <= 0:
            item.done(0.0)
            return item.event
        route = self.topo.route(src, dst)

        def arrived(it, elapsed_s):
            self.stats.bytes_moved += nbytes
            usd = nbytes * route.egress_usd_per_byte
            self.stats.egress_usd += usd
            self.stats.net_energy_j += nbytes * route.energy_j_per_byte
            self._run_kgco2e += nbytes * route.kgco2e_per_byte
            self._run_cost += usd
            it.done(elapsed_s)

        Transfer(self.env, route, nbytes, self.rng, arrived, self.mss, self.window)(item)
        return item.event

    def occupy(self, compute: str, duration_s: float, step_s: float | None = None):
        """Hold one server of `compute` for `duration_s` of work (a dedicated instance on a pool).

        On a device the work goes through the device's queue in steps of `step_s` (a training
        iteration): requests that arrive meanwhile are served between steps, as on a GPU shared by
        a training loop and an inference server, instead of waiting for the whole job. At most
        MAX_STEPS steps (longer ones beyond that)."""
        group = self.groups[compute]
        if isinstance(group, Pool):
            return self.env.process(self._dedicated(group, duration_s))
        lane = self._lanes.get(compute)
        if lane is None:
            lane = self._lanes[compute] = group.lane(self.stats.name, lambda b: 0.0, self._lane_done, cv=0.0, is_job=True)
        n = 1 if not step_s or step_s <= 0 else max(1, min(MAX_STEPS, round(duration_s / step_s)))
        return self.env.process(self._steps(group, lane, duration_s / n, n))

    def _steps(self, group: Group, lane, step_s: float, n: int):
        for _ in range(n):
            item = JobItem(self.env, step_s)
            lane(item)
            yield item.event  # a failure of the device raises JobFailed here
            self._account_device(group, step_s)

    def _lane_done(self, batch: list, dur_s: float) -> None:
        for item in batch:
            item.done(dur_s)

    def _account(self, b: MonthlyBill) -> None:
        self.stats.energy_j += b.energy_j
        self.stats.compute_usd += b.total_usd
        self._run_cost += b.total_usd
        self._run_kgco2e += b.kgco2e

    def _at_its_hours(self, b: MonthlyBill) -> MonthlyBill:
        """A compute bill's emissions at the intensity of the hours the run was planned in, where
        the job has one (a training job with a `window_h`)."""
        g = getattr(self.spec, "gco2e_per_kwh", None)
        return b if g is None else b._replace(kgco2e=b.energy_kwh * g / 1000)

    def _account_device(self, group: Group, duration_s: float) -> None:
        # the device's idle power is the group's to pay; the job adds its active surplus
        self._account(self._at_its_hours(_raw_bill(group, duration_s)))

    def _dedicated(self, pool: Pool, duration_s: float):
        t0 = self.env.now
        yield self.env.timeout(pool.spec.cold_start_s + duration_s)
        held = self.env.now - t0
        self.stats.instance_s += held
        self._account(self._at_its_hours(_raw_bill(pool, duration_s, held)))

    def predict_compute(self, compute: str, duration_s: float) -> MonthlyBill:
        """What `duration_s` of work on `compute` costs and emits, as it was."""
        g = self.groups[compute]
        held = g.spec.cold_start_s + duration_s if isinstance(g, Pool) else 0.0
        return self._at_its_hours(_raw_bill(g, duration_s, held))

    def predict_send(self, src: str, dst: str, nbytes: float) -> MonthlyBill:
        """What moving `nbytes` from `src` to `dst` costs (egress) and emits (network energy)."""
        if src == dst:
            return MonthlyBill()
        route = self.topo.route(src, dst)
        return MonthlyBill(egress_usd=nbytes * route.egress_usd_per_byte, energy_j=nbytes * route.energy_j_per_byte,
                           kgco2e=nbytes * route.kgco2e_per_byte)

    def _predict_run(self, b: MonthlyBill) -> None:
        self.stats.predicted_run_usd, self.stats.predicted_run_kgco2e = b.total_usd, b.kgco2e

    def _phase(self, name: str, t0: float) -> None:
        self.stats.phase_s[name] = self.stats.phase_s.get(name, 0.0) + self.env.now - t0

    def _schedule(self, first_at_s: float, every_s: float):
        env = self.env
        if first_at_s > 0:
            yield env.timeout(first_at_s)
        k = 0
        while True:
            t0 = env.now
            self.stats.started += 1
            self._run_cost = self._run_kgco2e = 0.0
            try:
                yield from self._run()
            except JobFailed as e:
                self.stats.failed[e.reason] = self.stats.failed.get(e.reason, 0) + 1
            else:
                dur = env.now - t0
                st = self.stats
                st.completed += 1
                st.duration_sum_s += dur
                st.duration_max_s = max(st.duration_max_s, dur)
                st.deadline_met += dur <= st.deadline_s
                st.completed_cost_usd += self._run_cost
                st.completed_kgco2e += self._run_kgco2e
            k += 1
            nxt = first_at_s + k * every_s
            while nxt < env.now:  # a run that overran its period skips the slots it covered
                k += 1
                nxt = first_at_s + k * every_s
            yield env.timeout(nxt - env.now)

    def _run(self):
        raise NotImplementedError


class TrainingJob(_JobBase):
    """A periodic centralised training job (see the module docstring)."""

    def __init__(self, env, spec: TrainingSpec, topo, groups, rng, mss_bytes, window_bytes):
        super().__init__(env, topo, groups, rng, mss_bytes, window_bytes)
        self.spec = spec
        self.site = groups[spec.compute].site
        self.stats = JobStats(spec.name, "training", spec.deadline_s, spec.every_s)
        self._predict_run(self.predict_send(spec.source, self.site, spec.dataset_bytes)
                          + self.predict_compute(spec.compute, spec.duration_s)
                          + sum((self.predict_send(self.site, s, spec.model_bytes) for s in set(spec.deploy_sites)), MonthlyBill()))
        self.stats.predicted_run_s = spec.duration_s

    def start(self) -> None:
        self.env.process(self._schedule(self.spec.first_at_s, self.spec.every_s))

    def _run(self):
        env, spec = self.env, self.spec
        t = env.now
        yield self.send(spec.source, self.site, spec.dataset_bytes)
        self._phase("dataset", t)
        t = env.now
        yield self.occupy(spec.compute, spec.duration_s, spec.step_s)
        self._phase("train", t)
        t = env.now
        sends = [self.send(self.site, s, spec.model_bytes) for s in sorted(set(spec.deploy_sites))]
        if sends:
            yield env.all_of(sends)
        self._phase("deploy", t)


class FederatedJob(_JobBase):
    """Periodic federated training (see the module docstring)."""

    def __init__(self, env, spec: FederatedSpec, topo, groups, rng, mss_bytes, window_bytes):
        super().__init__(env, topo, groups, rng, mss_bytes, window_bytes)
        self.spec = spec
        self.stats = JobStats(spec.name, "federated", spec.deadline_s, spec.every_s)
        per_round = sum((self.predict_compute(spec.local_compute[s], spec.local_duration_s[s]) for s in spec.sites), MonthlyBill())
        per_round += sum((self.predict_send(s, spec.aggregator, spec.model_bytes)
                          + self.predict_send(spec.aggregator, s, spec.model_bytes) for s in spec.sites), MonthlyBill())
        if spec.aggregator_compute:
            per_round += self.predict_compute(spec.aggregator_compute, spec.aggregate_s)
        self._predict_run(per_round * spec.rounds)
        self.stats.predicted_run_s = spec.rounds * (max(spec.local_duration_s.values(), default=0.0) + spec.aggregate_s)

    def start(self) -> None:
        self.env.process(self._schedule(self.spec.first_at_s, self.spec.every_s))

    def _local(self, site: str):
        """Local training then upload at one site; returns the failure reason or None."""
        spec = self.spec
        try:
            yield self.occupy(spec.local_compute[site], spec.local_duration_s[site], spec.local_step_s.get(site))
            yield self.send(site, spec.aggregator, spec.model_bytes)
        except JobFailed as e:
            return e.reason
        return None

    def _run(self):
        env, spec = self.env, self.spec
        for _ in range(spec.rounds):
            t = env.now
            outcome = yield env.all_of([env.process(self._local(s)) for s in spec.sites])
            reasons = [r for r in outcome.values() if r]
            if reasons:
                raise JobFailed(reasons[0])
            self._phase("local+upload", t)
            t = env.now
            if spec.aggregator_compute:
                yield self.occupy(spec.aggregator_compute, spec.aggregate_s)
            elif spec.aggregate_s > 0:
                yield env.timeout(spec.aggregate_s)
            self._phase("aggregate", t)
            t = env.now
            yield env.all_of([self.send(spec.aggregator, s, spec.model_bytes) for s in spec.sites])
            self._phase("download", t)


def _raw_bill(group: Group, busy_s: float, held_s: float = 0.0) -> MonthlyBill:
    """What `busy_s` of work (on an instance held `held_s`, for a dedicated one) costs, as it
    was: the one accounting rule over a span of a month, so nothing is scaled."""
    return bill(group.spec.tariff, Usage(server_s=held_s, busy_s=busy_s, span_s=SECONDS_PER_MONTH))
