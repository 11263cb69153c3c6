"""What a simulation run reports: `SimResult` and the tables it gives.

Money: cost accounted over the simulated horizon (cloud instance-seconds, edge amortisation
and electricity, egress) is extrapolated to a 30-day month by multiplying by
``30 days / horizon_s``; periodic jobs (training, federated) are costed per run instead, as
their mean run cost times their runs per month (a short horizon says nothing of a weekly job).
Shared compute is attributed to the inference workloads it serves in proportion to their busy
time (requests of one model batched together share their batches' time by count); a job on an
edge device pays the electricity of its active time, on a pool its dedicated instance.

Pools bought other than on demand (`PoolPricing`) pay their reserved base for the whole horizon,
used or not, and their hourly (on-demand or spot) instances for the seconds they ran; `costs()`
says which pricing model each dollar went to, and `pricing()` sums them per pool with the spot
interruptions and the capacity they took.
"""
from __future__ import annotations

import math
from collections import defaultdict
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from planner.sim.metrics import LogSketch
from planner.model.accounting import Usage, bill
from planner.model.pricing import device_pricing
from planner.units import J_PER_KWH, SECONDS_PER_MONTH

if TYPE_CHECKING:
    from planner.sim.engine import Engine

SUMMARY_COLUMNS = [
    "workload", "kind", "site", "hardware", "arrived", "completed", "failed", "in_flight", "late", "retries",
    "throughput_per_s", "mean_ms", "p50_ms", "p95_ms", "p99_ms", "slo_ms", "slo_met_frac", "mean_batch",
    "monthly_cost_usd", "ttft_p50_ms", "ttft_p99_ms", "tpot_p50_ms", "tpot_p99_ms", "ttft_slo_ms", "tpot_slo_ms",
    "tokens_per_s", "kv_preemptions", "kgco2e_per_month", "availability", "fallback_requests", "fallback_share",
    "pricing", "interruptions", "secondary_share", "primary_p99_ms", "secondary_p99_ms",
]
#: the columns routed workloads fill (jobs: NaN; an unrouted workload's secondary share is 0)
_ROUTE_NAN = (math.nan,) * 3
#: the columns only language models fill
_TOKEN_NAN = (math.nan,) * 7 + (0,)


class SimResult:
    """The outcome of one simulation: per-workload summary, latency segments, utilisation over
    time, failures by reason, costs and energy. Tables are pandas DataFrames."""

    def __init__(self, *, name: str, seed: int, horizon_s: float, wall_s: float, summary: pd.DataFrame,
                 segments: pd.DataFrame, utilisation: pd.DataFrame, failures: pd.DataFrame, costs: pd.DataFrame,
                 energy: pd.DataFrame, compute: pd.DataFrame, links: pd.DataFrame, jobs: pd.DataFrame,
                 sketches: dict[str, LogSketch], counters: dict, trace_path: str | None):
        self.name = name
        self.seed = seed
        self.horizon_s = horizon_s
        self.wall_s = wall_s
        self._summary = summary
        self._segments = segments
        self._utilisation = utilisation
        self._failures = failures
        self._costs = costs
        self._energy = energy
        self._compute = compute
        self._links = links
        self._jobs = jobs
        self.sketches = sketches
        self.counters = counters
        self.trace_path = trace_path

    # ------------------------------------------------------------------ tables
    def summary(self) -> pd.DataFrame:
        """A row per workload: counts, latency mean and quantiles (ms), SLO attainment, monthly
        cost. Job rows (training, federated) count runs, and their latency is run duration."""
        return self._summary.copy()

    def segments(self) -> pd.DataFrame:
        """Mean time per completed request in each segment: uplink, queue, compute, downlink (ms)."""
        return self._segments.copy()

    def utilisation(self) -> pd.DataFrame:
        """Utilisation of every compute group and link direction over time, in fixed bins."""
        return self._utilisation.copy()

    def failures(self) -> pd.DataFrame:
        """Failed requests (and job runs) by reason; completed-but-late ones as kind 'late'."""
        return self._failures.copy()

    def costs(self) -> pd.DataFrame:
        """The cost breakdown: each item's cost over the horizon and per month."""
        return self._costs.copy()

    def energy(self) -> pd.DataFrame:
        """Energy per compute group (idle and active power) and per link direction (per bit)."""
        return self._energy.copy()

    def compute(self) -> pd.DataFrame:
        """Per compute group: servers, busy time, utilisation, failures; pools: instance-seconds."""
        return self._compute.copy()

    def links(self) -> pd.DataFrame:
        """Per link direction: bytes, transfers, utilisation, egress."""
        return self._links.copy()

    def jobs(self) -> pd.DataFrame:
        """Per training / federated job: runs, durations by phase, bytes moved, cost per run."""
        return self._jobs.copy()

    def pricing(self) -> pd.DataFrame:
        """A row per cloud pool and pricing model: instances bought (reserved) or instance-hours
        run (hourly), the monthly bill, and for spot the interruptions per instance-hour and the
        share of its instance time lost to replacements' cold starts."""
        c, k = self._compute, self._costs
        rows = []
        for r in c[c.kind == "pool"].itertuples():
            paid = k[(k.item == r.compute) & (k.category == "cloud instances")]
            for p in paid.itertuples():
                reserved = p.pricing.startswith("reserved")
                hourly_h = r.hourly_instance_s / 3600
                rows.append((r.compute, r.site, r.hardware, p.pricing, r.reserved_instances if reserved else math.nan,
                             # the reserved base is paid for the whole run; hourly instances for the time they ran
                             (r.reserved_instances * self.horizon_s if reserved else r.hourly_instance_s) / 3600,
                             p.monthly_usd, 0 if reserved else r.interruptions,
                             r.interruptions / hourly_h if not reserved and hourly_h > 0 else 0.0,
                             r.capacity_lost_s / r.hourly_instance_s if not reserved and r.hourly_instance_s > 0 else 0.0))
        return pd.DataFrame(rows, columns=["compute", "site", "hardware", "pricing", "reserved_instances",
                                           "instance_h", "monthly_usd", "interruptions", "interruptions_per_h",
                                           "capacity_lost_frac"])

    def monthly_cost_by_pricing(self) -> pd.Series:
        """Monthly dollars of cloud instances by pricing model (`on_demand`, `spot`, `reserved_1y`...)."""
        k = self._costs
        return k[k.category == "cloud instances"].groupby("pricing")["monthly_usd"].sum()

    # ------------------------------------------------------------------ totals
    @property
    def monthly_cost_usd(self) -> float:
        """Total monthly cost, all items (including compute no workload used)."""
        return float(self._costs["monthly_usd"].sum()) if len(self._costs) else 0.0

    @property
    def monthly_kgco2e(self) -> float:
        """Emissions a month of the workloads (energy where it is drawn, network included)."""
        return float(self._summary["kgco2e_per_month"].sum()) if len(self._summary) else 0.0

    @property
    def arrived(self) -> int:
        return int(self.counters["arrived"])

    @property
    def completed(self) -> int:
        return int(self.counters["completed"])

    @property
    def failed(self) -> int:
        return int(self.counters["failed"])

    @property
    def in_flight(self) -> int:
        return int(self.counters["in_flight"])

    @property
    def requests_per_wall_s(self) -> float:
        """Simulated requests (arrivals) per second of wall-clock time spent in the event loop."""
        return self.arrived / self.wall_s if self.wall_s > 0 else math.inf

    def quantile_ms(self, workload: str, q: float) -> float:
        return self.sketches[workload].quantile(q) * 1e3

    def littles_law(self) -> pd.DataFrame:
        """Per inference workload: time-average number in system L, arrival rate lambda and mean
        time in system W (completed requests); Little's law says L = lambda W."""
        return pd.DataFrame(self.counters["little"], columns=["workload", "L", "lambda_per_s", "W_s"])

    def __repr__(self) -> str:
        s = self._summary
        lines = [f"SimResult({self.name!r}, seed={self.seed}, horizon {self.horizon_s:g} s, "
                 f"{self.arrived} arrived / {self.completed} completed / {self.failed} failed / {self.in_flight} in flight, "
                 f"${self.monthly_cost_usd:,.0f}/month, {self.requests_per_wall_s:,.0f} req per wall-s)"]
        for _, r in s.iterrows():
            lines.append(f"  {r.workload}: {r.completed}/{r.arrived} done, p99 {r.p99_ms:.1f} ms, "
                         f"SLO met {r.slo_met_frac:.1%}, ${r.monthly_cost_usd:,.0f}/month")
        return "\n".join(lines)


class _UtilTable:
    """The utilisation table built column-wise (a row per component per bin can be 10^5 rows)."""

    def __init__(self):
        self.names, self.kinds, self.parts = [], [], []

    def add(self, name: str, kind: str, bins, util, servers, mbps) -> None:
        n = bins.n
        nan = np.full(n, math.nan)
        edges = np.arange(n + 1, dtype=np.float64) * bins.width
        self.names.append((name, n))
        self.kinds.append((kind, n))
        self.parts.append((edges[:-1], edges[1:], np.asarray(util, dtype=np.float64),
                           nan if servers is None else np.asarray(servers, dtype=np.float64),
                           nan if mbps is None else np.asarray(mbps, dtype=np.float64)))

    def frame(self) -> pd.DataFrame:
        cols = ["t_start_s", "t_end_s", "utilisation", "servers", "mbps"]
        if not self.parts:
            return pd.DataFrame(columns=["component", "kind", *cols])
        data = {"component": pd.Categorical(np.repeat([n for n, _ in self.names], [k for _, k in self.names])),
                "kind": pd.Categorical(np.repeat([n for n, _ in self.kinds], [k for _, k in self.kinds]))}
        for i, c in enumerate(cols):
            data[c] = np.concatenate([p[i] for p in self.parts])
        return pd.DataFrame(data)


def _q(sk: LogSketch, q: float) -> float:
    return sk.quantile(q) * 1e3 if sk.count else math.nan


def collect(engine: Engine) -> SimResult:
    """Turn a finished engine into a `SimResult` (plain tables, no references to the model)."""
    spec = engine.spec
    H = float(engine.env.now) or float(spec.horizon_s)
    factor = SECONDS_PER_MONTH / H
    where: dict[str, tuple[str, str]] = {}
    for f in engine.flows:
        g = f.lanes[f.primary_lanes - 1].group  # a routed workload runs where its primary does
        where[f.name] = (g.site, g.spec.hardware)

    # ---------------------------------------------------------------- compute: cost, energy, use
    alloc: dict[str, float] = defaultdict(float)
    alloc_kg: dict[str, float] = defaultdict(float)  # emissions, shared as dollars are
    served = {f.name: f.served for f in engine.flows}
    cost_rows, energy_rows, compute_rows = [], [], []
    labels: dict[str, str] = {}  # compute -> how it is paid for (`reserved_1y×2+spot`, `bought`...)
    util = _UtilTable()
    for g in engine.groups.values():
        sp = g.spec
        inf_lanes = [ln for ln in g.lanes if not ln.is_job]
        inf_busy = sum(ln.busy_s for ln in inf_lanes)
        pool = sp.pool
        server_s = g.server_seconds(H)
        if not g.lanes and not pool:
            server_s = 0.0  # a device group no workload is placed on is not bought (as the planner bills it)
        b = bill(sp.tariff, Usage(server_s=server_s, busy_s=inf_busy, span_s=SECONDS_PER_MONTH))  # as it was, unscaled
        paid = {"on_demand": b.instances_usd} if pool else {device_pricing(sp.tariff): b.amortisation_usd}
        if pool and sp.pricing is not None:  # a reserved base paid all run, hourly instances by the second
            paid = sp.pricing.instances_usd(H, g.hourly_s)
            b = b._replace(instances_usd=sum(paid.values()))
        elec_usd, usd, kg = b.electricity_usd, b.total_usd, b.kgco2e
        idle_j = sp.idle_w * server_s
        energy_j = b.energy_j
        active_j = energy_j - idle_j
        busy_by: dict[str, float] = defaultdict(float)
        for ln in inf_lanes:
            for name, b in ln.busy_by_flow(served).items():
                busy_by[name] += b
        user_names = sorted({u for ln in inf_lanes for u in ln.users})
        if inf_busy > 0 and busy_by:
            tot_b = sum(busy_by.values())
            for name, b in busy_by.items():
                alloc[name] += usd * b / tot_b
                alloc_kg[name] += kg * b / tot_b
        elif user_names:
            for name in user_names:
                alloc[name] += usd / len(user_names)
                alloc_kg[name] += kg / len(user_names)
        users = ", ".join(sorted({u for ln in g.lanes for u in ln.users})) or "(unused)"
        for model, usd_h in paid.items():
            cost_rows.append((g.name, "cloud instances" if pool else "edge amortisation", users, usd_h, usd_h * factor,
                              model))
        if elec_usd:
            cost_rows.append((g.name, "electricity", users, elec_usd, elec_usd * factor, ""))
        if pool:
            labels[g.name] = sp.pricing.label(g.hourly_s) if sp.pricing is not None else "on_demand"
        else:
            labels[g.name] = device_pricing(sp.tariff)
        energy_rows.append((g.name, "pool" if pool else "device", idle_j, active_j, energy_j, energy_j / J_PER_KWH))
        busy_total = g.busy_s
        compute_rows.append((
            g.name, g.site, sp.hardware, "pool" if pool else "device",
            (sp.min_instances if pool else len(g.servers)), (sp.max_instances if pool else len(g.servers)),
            server_s, busy_total, busy_total / server_s if server_s > 0 else math.nan,
            g.failures, g.down_s, getattr(g, "launches", 0), getattr(g, "peak_instances", len(g.servers)),
            len(g.servers), g.qlen, getattr(g, "n_reserved", 0), getattr(g, "hourly_s", 0.0),
            getattr(g, "interruptions", 0), getattr(g, "lost_s", 0.0),
        ))
        bins = g.busy_bins
        busy = np.frombuffer(bins.values, dtype=np.float64)
        if pool:
            cap = np.frombuffer(g.instance_bins.values, dtype=np.float64)
            with np.errstate(divide="ignore", invalid="ignore"):
                u = np.where(cap > 0, busy / np.where(cap > 0, cap, 1.0), 0.0)
            util.add(g.name, "pool", bins, u, cap / bins.width, None)
        else:
            cap = len(g.servers) * bins.width
            u = busy / cap if cap > 0 else np.full(bins.n, math.nan)
            util.add(g.name, "device", bins, u, np.full(bins.n, float(len(g.servers))), None)

    # ---------------------------------------------------------------- links
    link_rows = []
    for link in engine.topo.links.values():
        for ch in (link.ab, link.ba):
            j = ch.bytes * 8 * ch.energy_j_per_bit
            energy_rows.append((ch.name, "link", 0.0, j, j, j / J_PER_KWH))
            link_rows.append((ch.name, link.name, ch.Bps * 8 / 1e6, ch.transfers, ch.bytes, ch.busy_s,
                              ch.busy_s / H, ch.bytes * ch.egress_usd_per_gb / 1e9, link.failures, link.down_s))
            b = ch.bins
            busy = np.frombuffer(b.values, dtype=np.float64)
            util.add(ch.name, "link", b, busy / b.width, None, busy * ch.Bps * 8 / 1e6 / b.width)

    # ---------------------------------------------------------------- inference workloads
    summary_rows, seg_rows, fail_rows, little = [], [], [], []
    sketches: dict[str, LogSketch] = {}
    tot = {"arrived": 0, "completed": 0, "failed": 0, "in_flight": 0}
    for f in engine.flows:
        st = f.stats
        sk = st.sketch
        sketches[f.name] = sk
        egress_usd = sum(t.delivered * t.nbytes * t.route.egress_usd_per_byte for t in f.transfers)
        net_j = sum(t.delivered * t.nbytes * t.route.energy_j_per_byte for t in f.transfers)
        net_kg = sum(t.delivered * t.nbytes * t.route.kgco2e_per_byte for t in f.transfers)
        if egress_usd:
            cost_rows.append((f"egress: {f.name}", "egress", f.name, egress_usd, egress_usd * factor, ""))
        monthly = (alloc.get(f.name, 0.0) + egress_usd) * factor
        failed = st.failed_total
        m = st.measured
        mean_ms = st.lat_sum / m * 1e3 if m else math.nan
        denom = m + st.failed_measured
        if st.slo_s is not None or f.spec.ttft_slo_s is not None or f.spec.tpot_slo_s is not None:
            slo_frac = st.slo_met / denom if denom else math.nan
        else:
            slo_frac = m / denom if denom else math.nan
        site, hw = where[f.name]
        summary_rows.append((
            f.name, "inference", site, hw, st.arrived, st.completed, failed, st.in_system, st.late, st.retries,
            st.completed / H, mean_ms, _q(sk, 0.5), _q(sk, 0.95), _q(sk, 0.99),
            st.slo_s * 1e3 if st.slo_s is not None else math.nan, slo_frac,
            st.batch_sum / m if m else math.nan, monthly, *_token_columns(f, H),
            (alloc_kg.get(f.name, 0.0) + net_kg) * factor,
            # availability: the share of requests answered within the SLO, outages included (its slo.availability)
            slo_frac, st.fallback, st.fallback / denom if denom else math.nan,
            "+".join(dict.fromkeys(labels[ln.group.name] for ln in f.lanes)),
            sum(getattr(g, "interruptions", 0) for g in dict.fromkeys(ln.group for ln in f.lanes)), *_route_columns(f),
        ))
        seg_rows.append((f.name, m, *(x / m * 1e3 if m else math.nan for x in (st.up_s, st.queue_s, st.compute_s, st.down_s)),
                         mean_ms, net_j))
        for reason, n in sorted(st.failed.items()):
            fail_rows.append((f.name, reason, "failed", n))
        for reason, n in sorted(st.retried.items()):
            fail_rows.append((f.name, reason, "retried", n))
        if st.late:
            fail_rows.append((f.name, "slo_missed", "late", st.late))
        little.append((f.name, st.area / H, st.arrived / H, st.lat_sum / m if m else math.nan))
        tot["arrived"] += st.arrived
        tot["completed"] += st.completed
        tot["failed"] += failed
        tot["in_flight"] += st.in_system

    # ---------------------------------------------------------------- jobs
    job_rows = []
    for job in engine.jobs:
        js = job.stats
        monthly = js.monthly_cost_usd()
        cost_rows.append((f"job: {js.name}", js.kind, js.name, js.compute_usd + js.egress_usd, monthly, ""))
        energy_rows.append((f"job: {js.name}", "job", 0.0, js.energy_j + js.net_energy_j, js.energy_j + js.net_energy_j,
                            (js.energy_j + js.net_energy_j) / J_PER_KWH))
        nfail = sum(js.failed.values())
        mean_ms = js.duration_sum_s / js.completed * 1e3 if js.completed else math.nan
        g = engine.groups[job.spec.compute if js.kind == "training" else (job.spec.aggregator_compute or next(iter(job.spec.local_compute.values())))]
        summary_rows.append((
            js.name, js.kind, g.site, g.spec.hardware, js.started, js.completed, nfail, js.started - js.completed - nfail,
            js.completed - js.deadline_met, 0, js.completed / H, mean_ms, math.nan, math.nan,
            js.duration_max_s * 1e3 if js.completed else math.nan, js.deadline_s * 1e3,
            js.deadline_met / (js.completed + nfail) if js.completed + nfail else math.nan, math.nan, monthly,
            *_TOKEN_NAN, js.monthly_kgco2e(), math.nan, 0, math.nan, "on_demand" if g.spec.pool else labels[g.name], 0,
            *_ROUTE_NAN,
        ))
        for reason, n in sorted(js.failed.items()):
            fail_rows.append((js.name, reason, "failed", n))
        if js.completed - js.deadline_met:
            fail_rows.append((js.name, "deadline_missed", "late", js.completed - js.deadline_met))
        job_rows.append((js.name, js.kind, js.started, js.completed, nfail, js.deadline_met, mean_ms / 1e3 if js.completed else math.nan,
                         js.predicted_run_s, dict(js.phase_s), js.bytes_moved, js.instance_s, js.run_cost_usd(),
                         js.every_s, monthly))

    counters = dict(tot, little=little, in_flight_counted=engine.in_flight())
    return SimResult(
        name=spec.name, seed=spec.seed, horizon_s=H, wall_s=engine.wall_s,
        summary=pd.DataFrame(summary_rows, columns=SUMMARY_COLUMNS),
        segments=pd.DataFrame(seg_rows, columns=["workload", "measured", "uplink_ms", "queue_ms", "compute_ms",
                                                 "downlink_ms", "total_ms", "network_energy_j"]),
        utilisation=util.frame(),
        failures=pd.DataFrame(fail_rows, columns=["workload", "reason", "kind", "count"]),
        costs=pd.DataFrame(cost_rows, columns=["item", "category", "workloads", "horizon_usd", "monthly_usd", "pricing"]),
        energy=pd.DataFrame(energy_rows, columns=["component", "kind", "idle_j", "active_j", "energy_j", "energy_kwh"]),
        compute=pd.DataFrame(compute_rows, columns=["compute", "site", "hardware", "kind", "min_servers", "max_servers",
                                                    "server_s", "busy_s", "utilisation", "failures", "down_s",
                                                    "launches", "peak_servers", "servers_at_end", "waiting_at_end",
                                                    "reserved_instances", "hourly_instance_s", "interruptions",
                                                    "capacity_lost_s"]),
        links=pd.DataFrame(link_rows, columns=["channel", "link", "mbps", "transfers", "bytes", "busy_s", "utilisation",
                                               "egress_usd", "failures", "down_s"]),
        jobs=pd.DataFrame(job_rows, columns=["job", "kind", "runs", "completed", "failed", "deadline_met", "mean_run_s",
                                             "predicted_run_s", "phase_s", "bytes_moved", "instance_s", "run_cost_usd",
                                             "every_s", "monthly_cost_usd"]),
        sketches=sketches, counters=counters,
        trace_path=str(engine.trace.path) if engine.trace is not None else None,
    )


def _route_columns(flow) -> tuple:
    """A routed workload's simulated share served by its secondary and each side's p99 (ms)."""
    r = flow.router
    if r is None:  # one placement serves every request: none goes to a secondary
        return (0.0,) + _ROUTE_NAN[1:]
    return r.share, _q(r.primary, 0.99), _q(r.secondary, 0.99)


def _token_columns(flow, horizon_s: float) -> tuple:
    """TTFT and TPOT quantiles (ms), their SLOs, output tokens per second and KV-cache
    preemptions of a language-model workload (NaN and 0 for others)."""
    st, spec = flow.stats, flow.spec
    lanes = [ln for ln in flow.lanes if ln.is_llm]
    if not lanes:
        return _TOKEN_NAN
    ms = lambda s: s * 1e3 if s is not None else math.nan  # noqa: E731
    return (_q(st.ttft, 0.5), _q(st.ttft, 0.99), _q(st.tpot, 0.5), _q(st.tpot, 0.99), ms(spec.ttft_slo_s),
            ms(spec.tpot_slo_s), st.tokens_out / horizon_s, sum(ln.preemptions for ln in lanes))
