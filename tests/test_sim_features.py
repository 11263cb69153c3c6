"""The simulator's parts: arrivals, the sketch, links, batching, pools, failures, jobs, the trace,
the adapter from a scenario. Queueing-theory checks are in test_sim.py."""
from __future__ import annotations

import math
import random
import statistics

import pytest

from planner.model.accounting import Tariff
from planner.sim import (
    ArrivalSpec, ComputeSpec, Engine, FederatedSpec, InferenceSpec, LinkSpec, SimSpec, SiteSpec, Stage, TrainingSpec,
    constant, linear, run,
)
from planner.sim import arrivals
from planner.sim.metrics import LogSketch, TimeBins

MBPS = 1e6 / 8


def one_site(rate: float, service: float, *, count: int = 1, horizon: float = 200.0, seed: int = 0, **compute) -> SimSpec:
    return SimSpec(sites=[SiteSpec("s")], compute=[ComputeSpec("g", "s", count=count, **compute)],
                   inference=[InferenceSpec("w", "s", ArrivalSpec.poisson(rate), [Stage("g", constant(service))])],
                   horizon_s=horizon, seed=seed)


# ---------------------------------------------------------------------------- arrivals
def _take_until(gen, t_end):
    out = []
    for t in gen:
        if t >= t_end:
            break
        out.append(t)
    return out


def test_poisson_rate_and_order():
    ts = _take_until(arrivals.poisson(random.Random(1), 50.0), 2000.0)
    assert len(ts) / 2000.0 == pytest.approx(50.0, rel=0.02)
    assert all(a <= b for a, b in zip(ts, ts[1:]))
    gaps = [b - a for a, b in zip(ts, ts[1:])]
    assert statistics.pstdev(gaps) / statistics.mean(gaps) == pytest.approx(1.0, abs=0.03)  # exponential: cv 1


def test_periodic_exact_rate_with_jitter_sorted():
    ts = _take_until(arrivals.periodic(random.Random(2), 100.0, jitter_s=0.02), 100.0)
    assert abs(len(ts) - 10_000) <= 3
    assert all(a <= b for a, b in zip(ts, ts[1:]))
    plain = _take_until(arrivals.periodic(random.Random(2), 100.0), 1.0)
    assert [round(b - a, 9) for a, b in zip(plain, plain[1:])] == [0.01] * (len(plain) - 1)


def test_bursty_mean_rate():
    p = dict(rate_low_per_s=1.0, rate_high_per_s=50.0, mean_low_s=20.0, mean_high_s=5.0)
    ts = _take_until(arrivals.bursty(random.Random(3), **p), 50_000.0)
    assert len(ts) / 50_000.0 == pytest.approx(arrivals.mean_rate_per_s("bursty", p), rel=0.05)


def test_diurnal_follows_profile():
    profile = [0.0] * 12 + [2.0] * 12  # night then day, per hour
    ts = _take_until(arrivals.diurnal(random.Random(4), 1.0, profile), 86400.0)
    night = sum(1 for t in ts if t < 11 * 3600)  # hours 0-11: rate 0 (interpolation ramps within hour 11)
    day = sum(1 for t in ts if 12 * 3600 <= t < 23 * 3600)
    assert night == 0
    assert day / (11 * 3600) == pytest.approx(2.0, rel=0.03)
    # starting at noon shifts the profile
    ts2 = _take_until(arrivals.diurnal(random.Random(4), 1.0, profile, start_hour=12.0), 3600.0)
    assert len(ts2) / 3600 == pytest.approx(2.0, rel=0.1)


def test_trace_replays_and_loops():
    ts = [0.5, 1.0, 2.0]
    once = list(arrivals.trace(ts, loop=False))
    assert once == ts
    looped = _take_until(arrivals.trace(ts, loop=True), 6.0)
    assert looped[:3] == ts and looped[3] == pytest.approx(2.75) and len(looped) == 8


# ---------------------------------------------------------------------------- metrics
def test_sketch_relative_accuracy():
    rng = random.Random(5)
    xs = [rng.lognormvariate(-3, 1.0) for _ in range(50_000)]
    sk = LogSketch(0.01)
    for x in xs:
        sk.add(x)
    xs.sort()
    for q in (0.5, 0.9, 0.95, 0.99, 0.999):
        exact = xs[int(q * (len(xs) - 1))]
        assert sk.quantile(q) == pytest.approx(exact, rel=0.011)
    assert len(sk.buckets) < 1000


def test_time_bins_integrate_intervals():
    b = TimeBins(10.0, 5)
    b.add(1.0, 5.0)
    assert b.values == pytest.approx([1.0, 2.0, 1.0, 0.0, 0.0])
    assert sum(b.values) == pytest.approx(4.0)


# ---------------------------------------------------------------------------- network
def link_spec(times, nbytes, *, rtt_s=0.0, jitter_s=0.0, loss=0.0, Bps=10 * MBPS):
    """Requests at `times` (trace) sending `nbytes` from a to b, served instantly, answered with 0 bytes."""
    return SimSpec(
        sites=[SiteSpec("a"), SiteSpec("b")],
        compute=[ComputeSpec("g", "b", count=100)],
        links=[LinkSpec("a", "b", Bps, Bps, rtt_s=rtt_s, jitter_s=jitter_s, loss_prob=loss)],
        inference=[InferenceSpec("w", "a", ArrivalSpec("trace", {"timestamps_s": list(times), "loop": False}),
                                 [Stage("g", constant(0.0), out_bytes=0)], input_bytes=nbytes)],
        horizon_s=100.0)


def test_two_equal_transfers_take_twice_as_long():
    alone = run(link_spec([1.0], 1_000_000)).segments().uplink_ms[0]
    assert alone == pytest.approx(1e6 / (10 * MBPS) * 1e3, rel=1e-9)  # 800 ms
    both = run(link_spec([1.0, 1.0], 1_000_000)).segments().uplink_ms[0]
    assert both == pytest.approx(2 * alone, rel=1e-9)


def test_processor_sharing_is_max_min_fair():
    """1 MB and 3 MB start together: the small one ends at 2 MB/B, the large at 4 MB/B; a
    transfer joining later slows the one in progress only while both are present."""
    spec = SimSpec(
        sites=[SiteSpec("a"), SiteSpec("b")], compute=[ComputeSpec("g", "b", count=10)],
        links=[LinkSpec("a", "b", 1e6, 1e6)],
        inference=[InferenceSpec("small", "a", ArrivalSpec("trace", {"timestamps_s": [0.0], "loop": False}),
                                 [Stage("g", constant(0.0))], input_bytes=1e6),
                   InferenceSpec("large", "a", ArrivalSpec("trace", {"timestamps_s": [0.0], "loop": False}),
                                 [Stage("g", constant(0.0))], input_bytes=3e6)],
        horizon_s=10.0)
    seg = run(spec).segments().set_index("workload")
    assert seg.loc["small", "uplink_ms"] == pytest.approx(2000.0, rel=1e-9)
    assert seg.loc["large", "uplink_ms"] == pytest.approx(4000.0, rel=1e-9)


def test_propagation_does_not_hold_the_link():
    """A 500 ms RTT adds 250 ms one way but a second transfer right behind the first is not
    delayed by it: serialisation 100 ms each, back to back."""
    spec = link_spec([1.0, 1.1], 125_000, rtt_s=0.5)  # 125 kB at 10 Mbit/s = 100 ms
    r = run(spec)
    assert r.segments().uplink_ms[0] == pytest.approx(350.0, rel=1e-6)  # 100 ms serialisation + 250 ms propagation
    assert r.summary().mean_ms[0] == pytest.approx(600.0, rel=1e-6)  # and 250 ms back with the (empty) answer


def test_routes_by_latency_over_several_hops():
    spec = SimSpec(
        sites=[SiteSpec("e"), SiteSpec("agg"), SiteSpec("c"), SiteSpec("slow")],
        compute=[ComputeSpec("g", "c", count=4)],
        links=[LinkSpec("e", "agg", 100 * MBPS, 100 * MBPS, rtt_s=0.004), LinkSpec("agg", "c", 1000 * MBPS, 1000 * MBPS, rtt_s=0.020),
               LinkSpec("e", "slow", 1000 * MBPS, 1000 * MBPS, rtt_s=0.1), LinkSpec("slow", "c", 1000 * MBPS, 1000 * MBPS, rtt_s=0.1)],
        inference=[InferenceSpec("w", "e", ArrivalSpec("trace", {"timestamps_s": [1.0], "loop": False}),
                                 [Stage("g", constant(0.001), out_bytes=1000)], input_bytes=100_000)],
        horizon_s=10.0)
    eng = Engine(spec)
    assert eng.topo.route("e", "c").sites == ["e", "agg", "c"]
    seg = eng.run().segments()
    up = 100_000 / (100 * MBPS) + 100_000 / (1000 * MBPS) + 0.012  # store and forward, then propagation
    assert seg.uplink_ms[0] == pytest.approx(up * 1e3, rel=1e-6)


def test_jitter_and_loss_add_delay():
    base = link_spec([float(i) for i in range(1, 90)], 200_000, rtt_s=0.05)
    noisy = link_spec([float(i) for i in range(1, 90)], 200_000, rtt_s=0.05, jitter_s=0.01, loss=0.01)
    a = run(base).segments().uplink_ms[0]
    b = run(noisy).segments().uplink_ms[0]
    assert b > a + 10.0  # mean jitter 10 ms plus retransmission round trips


# ---------------------------------------------------------------------------- compute
def test_batching_raises_throughput():
    """150 req/s on a GPU that takes 10 ms for one request and 1 ms more per extra one: batch 1
    saturates at 100/s, batches of up to 8 keep up."""
    def spec(max_batch):
        return SimSpec(sites=[SiteSpec("s")],
                       compute=[ComputeSpec("gpu", "s", max_batch=max_batch, max_wait_s=0.005, queue_capacity=1000)],
                       inference=[InferenceSpec("w", "s", ArrivalSpec.poisson(150.0), [Stage("gpu", linear(0.010, 0.001))])],
                       horizon_s=120.0, seed=3)
    one, eight = run(spec(1)).summary().iloc[0], run(spec(8)).summary().iloc[0]
    assert one.throughput_per_s == pytest.approx(100.0, rel=0.03)
    assert eight.throughput_per_s == pytest.approx(150.0, rel=0.05)
    assert eight.throughput_per_s > 1.4 * one.throughput_per_s
    assert eight.mean_batch > 1.2 and one.mean_batch == 1.0
    assert eight.p99_ms < 100 < one.p99_ms


def test_batch_waits_at_most_max_wait():
    spec = SimSpec(sites=[SiteSpec("s")], compute=[ComputeSpec("gpu", "s", max_batch=64, max_wait_s=0.050)],
                   inference=[InferenceSpec("w", "s", ArrivalSpec.periodic(10.0), [Stage("gpu", constant(0.001))])],
                   horizon_s=50.0)
    r = run(spec)
    s = r.summary().iloc[0]
    assert s.mean_batch == 1.0  # one request per 100 ms: a batch never fills, each leaves after 50 ms
    assert r.segments().queue_ms[0] == pytest.approx(50.0, rel=1e-6)


def test_pool_scales_up_under_load_and_bills_instance_seconds():
    spec = SimSpec(
        sites=[SiteSpec("c", "cloud")],
        compute=[ComputeSpec("pool", "c", pool=True, min_instances=1, max_instances=20, cold_start_s=10.0,
                             target_utilization=0.7, scale_interval_s=10.0,
                             tariff=Tariff(1.0, "instances"))],
        inference=[InferenceSpec("w", "c", ArrivalSpec.poisson(200.0), [Stage("pool", constant(0.02))])],
        horizon_s=300.0, seed=1)
    r = run(spec)
    c = r.compute().iloc[0]
    assert c.peak_servers >= 5  # ~4 busy instances of work at 70% target
    assert c.server_s > 1 * 300.0 * 2  # well above the minimum's instance-seconds
    assert c.server_s <= 20 * 300.0
    assert r.costs().set_index("item").loc["pool", "horizon_usd"] == pytest.approx(c.server_s / 3600)
    util = r.utilisation()
    pool_util = util[util.component == "pool"]
    assert pool_util.servers.iloc[-1] > 1.5  # instances over time are reported
    assert r.summary().iloc[0].completed > 0.95 * 200 * 300


def test_pool_scales_from_zero_with_cold_start():
    spec = SimSpec(
        sites=[SiteSpec("c", "cloud")],
        compute=[ComputeSpec("pool", "c", pool=True, min_instances=0, max_instances=4, cold_start_s=30.0)],
        inference=[InferenceSpec("w", "c", ArrivalSpec("trace", {"timestamps_s": [5.0], "loop": False}),
                                 [Stage("pool", constant(0.1))])],
        horizon_s=100.0)
    r = run(spec)
    assert r.summary().mean_ms[0] == pytest.approx(30_100.0, rel=1e-6)  # waits the cold start
    assert r.compute().launches[0] == 1


def test_queue_full_fails_with_reason():
    r = run(one_site(200.0, 0.01, queue_capacity=5, horizon=50.0))
    f = r.failures()
    assert set(f.reason) == {"queue_full"}
    assert r.summary().failed[0] == f["count"].sum() > 0


def test_device_failures_fail_requests_with_device_down():
    spec = one_site(20.0, 0.01, horizon=2000.0, mtbf_s=100.0, mttr_s=10.0, seed=2)
    r = run(spec)
    f = r.failures().set_index("reason")
    assert f.loc["device_down", "count"] > 50  # ~9% of the time down at 20 req/s
    c = r.compute().iloc[0]
    assert c.failures > 5 and 0 < c.down_s < 2000


def test_link_failures_fail_transfers_with_link_down_and_retries_help():
    def spec(retries):
        return SimSpec(
            sites=[SiteSpec("a"), SiteSpec("b")], compute=[ComputeSpec("g", "b", count=10)],
            links=[LinkSpec("a", "b", 10 * MBPS, 10 * MBPS, rtt_s=0.01, mtbf_s=50.0, mttr_s=5.0)],
            inference=[InferenceSpec("w", "a", ArrivalSpec.poisson(5.0), [Stage("g", constant(0.01))],
                                     input_bytes=50_000, retries=retries, retry_backoff_s=10.0)],
            horizon_s=2000.0, seed=4)
    r0, r3 = run(spec(0)), run(spec(3))
    f0 = r0.failures().set_index("reason")
    assert f0.loc["link_down", "count"] > 5
    assert r3.summary().retries[0] > 5
    assert r3.summary().failed[0] < r0.summary().failed[0] / 3


def test_late_requests_counted_apart_from_failures():
    spec = one_site(90.0, 0.01, horizon=300.0, seed=5, service_cv=1.0)
    spec.inference[0].slo_s = 0.05
    r = run(spec)
    s = r.summary().iloc[0]
    f = r.failures()
    late = f[f.kind == "late"]
    assert list(late.reason) == ["slo_missed"] and late["count"].iloc[0] == s.late > 0
    assert s.failed == 0
    assert s.slo_met_frac == pytest.approx(1 - s.late / s.completed, abs=1e-3)


# ---------------------------------------------------------------------------- jobs
def _job_topology():
    return dict(
        sites=[SiteSpec("edge"), SiteSpec("cloud", "cloud")],
        compute=[ComputeSpec("jet", "edge", count=2, tariff=Tariff(idle_w=6.0, active_w=25.0, electricity_usd_per_kwh=0.15)),
                 ComputeSpec("gpu", "cloud", pool=True, max_instances=4, cold_start_s=60.0, tariff=Tariff(1.0, "instances"))],
        links=[LinkSpec("edge", "cloud", 100 * MBPS, 1000 * MBPS, rtt_s=0.02, egress_b_to_a_usd_per_gb=0.09)],
    )


def test_training_moves_data_trains_and_deploys():
    spec = SimSpec(**_job_topology(), training=[TrainingSpec(
        "retrain", "edge", "gpu", dataset_bytes=1e9, duration_s=600.0, model_bytes=50e6, deploy_sites=["edge"],
        every_s=3600.0, deadline_s=1800.0)], horizon_s=3000.0)
    r = run(spec)
    j = r.jobs().iloc[0]
    assert j.completed == 1 and j.deadline_met == 1
    ph = j.phase_s
    assert ph["dataset"] == pytest.approx(1e9 / (100 * MBPS) + 0.01, rel=1e-6)  # 80 s + propagation
    assert ph["train"] == pytest.approx(660.0)  # cold start + training
    assert ph["deploy"] == pytest.approx(50e6 / (1000 * MBPS) + 0.01, rel=1e-6)
    assert j.bytes_moved == pytest.approx(1.05e9)
    assert j.run_cost_usd == pytest.approx(660 / 3600 + 0.05 * 0.09, rel=1e-6)
    s = r.summary().set_index("workload").loc["retrain"]
    assert s.kind == "training" and s.monthly_cost_usd == pytest.approx(j.run_cost_usd * 730, rel=1e-6)  # a 730 h month


def test_training_shares_the_link_with_inference():
    def topo():
        t = _job_topology()
        t["compute"].append(ComputeSpec("serve", "cloud", count=2))
        return t
    infer = [InferenceSpec("cam", "edge", ArrivalSpec.poisson(5.0), [Stage("serve", constant(0.005))], input_bytes=200_000)]
    quiet = run(SimSpec(**topo(), inference=infer, horizon_s=60.0, seed=1))
    busy = run(SimSpec(**topo(), inference=infer, horizon_s=60.0, seed=1, training=[TrainingSpec(
        "retrain", "edge", "gpu", dataset_bytes=5e9, duration_s=60.0, model_bytes=1e6, every_s=1e6)]))
    assert busy.segments().uplink_ms[0] > 1.5 * quiet.segments().uplink_ms[0]


def test_federated_rounds():
    topo = _job_topology()
    topo["sites"].append(SiteSpec("edge2"))
    topo["compute"].append(ComputeSpec("jet2", "edge2", count=1))
    topo["links"].append(LinkSpec("edge2", "cloud", 50 * MBPS, 100 * MBPS, rtt_s=0.03))
    spec = SimSpec(**topo, federated=[FederatedSpec(
        "fl", ["edge", "edge2"], {"edge": "jet", "edge2": "jet2"}, {"edge": 100.0, "edge2": 150.0}, "cloud", None, 1.0,
        model_bytes=25e6, rounds=3, every_s=86400.0, deadline_s=3600.0)], horizon_s=2000.0)
    r = run(spec)
    j = r.jobs().iloc[0]
    assert j.completed == 1
    up2 = 25e6 / (50 * MBPS) + 0.015
    down2 = 25e6 / (100 * MBPS) + 0.015
    assert j.mean_run_s == pytest.approx(3 * (150 + up2 + 1.0 + down2), rel=1e-6)
    assert j.bytes_moved == pytest.approx(3 * 4 * 25e6)


def test_training_on_failing_device_fails_with_reason():
    topo = _job_topology()
    topo["compute"][0] = ComputeSpec("jet", "edge", count=1, mtbf_s=200.0, mttr_s=50.0)
    spec = SimSpec(**topo, training=[TrainingSpec("retrain", "edge", "jet", dataset_bytes=0, duration_s=1000.0,
                                                  model_bytes=0, every_s=1500.0)], horizon_s=15000.0, seed=1)
    r = run(spec)
    assert r.jobs().iloc[0].failed >= 1
    assert "device_down" in set(r.failures().reason)


# ---------------------------------------------------------------------------- trace and bounds
def test_trace_parquet_written_with_sampled_rows(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    path = tmp_path / "trace.parquet"
    r = Engine(one_site(100.0, 0.005, horizon=100.0), trace_path=path, trace_sample=0.1).run()
    t = pq.read_table(path).to_pandas()
    n = r.summary().completed[0]
    assert 0.08 * n < len(t) < 0.12 * n
    assert {"request_id", "workload", "status", "latency_ms", "queue_ms", "compute_ms"} <= set(t.columns)
    assert (t.status == "completed").all() and (t.latency_ms > 0).all()
    assert r.trace_path == str(path)


def test_trace_is_bounded(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    path = tmp_path / "t.parquet"
    Engine(one_site(100.0, 0.005, horizon=100.0), trace_path=path, trace_sample=1.0, trace_max_rows=500).run()
    assert pq.read_metadata(path).num_rows == 500


def test_memory_stays_bounded_as_the_horizon_grows():
    """Utilisation bins and sketch buckets do not grow with the run's length."""
    short = run(one_site(50.0, 0.01, horizon=100.0, service_cv=0.5))
    long = run(one_site(50.0, 0.01, horizon=4000.0, service_cv=0.5))
    assert len(long.utilisation()) == len(short.utilisation())
    assert len(long.sketches["w"].buckets) < 2 * len(short.sketches["w"].buckets) + 50


def test_progress_callback():
    seen = []
    Engine(one_site(10.0, 0.01, horizon=10.0), progress=seen.append).run()
    assert seen[-1] == 1.0 and len(seen) == 100


def test_result_repr_and_tables():
    r = run(one_site(10.0, 0.01, horizon=50.0))
    text = repr(r)
    assert "SimResult" in text and "w:" in text
    for table in (r.summary(), r.segments(), r.utilisation(), r.failures(), r.costs(), r.energy(), r.compute(), r.links()):
        assert table is not None
    assert not math.isnan(r.summary().p99_ms[0])


def test_unstable_placement_stays_bounded_with_overload_failures():
    """Twice the capacity and an unbounded queue: the in-flight bound refuses arrivals with reason
    'overload' instead of letting the queue (and memory) grow with the horizon."""
    spec = one_site(200.0, 0.01, horizon=100.0)
    spec.max_in_flight = 1000
    r = run(spec)
    s = r.summary().iloc[0]
    assert s.in_flight <= 1000
    f = r.failures().set_index("reason")
    assert f.loc["overload", "count"] == s.failed > 5000
    assert s.arrived == s.completed + s.failed + s.in_flight


def test_training_on_a_shared_device_interleaves_by_step():
    """A 100 s training job on the device that also serves inference: queued as 50 ms steps,
    requests wait at most about a step; as one piece, they wait for the whole job."""
    def spec(step_s):
        return SimSpec(
            sites=[SiteSpec("edge")], compute=[ComputeSpec("jet", "edge", count=1)],
            inference=[InferenceSpec("cam", "edge", ArrivalSpec.poisson(2.0), [Stage("jet", constant(0.01))])],
            training=[TrainingSpec("tune", "edge", "jet", dataset_bytes=0, duration_s=100.0, model_bytes=0,
                                   every_s=1e6, step_s=step_s)],
            horizon_s=200.0, seed=2)
    stepped, whole = run(spec(0.05)), run(spec(None))
    assert stepped.summary().set_index("workload").loc["cam", "p99_ms"] < 80
    assert whole.summary().set_index("workload").loc["cam", "p99_ms"] > 10_000
    j = stepped.jobs().iloc[0]
    assert j.completed == 1 and 100.0 < j.phase_s["train"] < 103.0  # stretched by the requests served between steps
