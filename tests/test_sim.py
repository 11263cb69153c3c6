"""The simulator against queueing theory, Little's law and its own bookkeeping, and the
scenario-level entry point `planner.sim.simulate`.

Mean waits must come within 3% of the closed forms at utilisation 0.5 and 0.9. At 0.9 a run's
mean wait is noisy (relative standard error ~2.4% for M/M/1 after a million customers), so each
case averages several independent replications sized for a standard error near 1.2%; the
replications run in two processes. Seeds are fixed, so the outcome is deterministic.
"""
from __future__ import annotations

import math
import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import pytest

from planner.model.accounting import Tariff
from planner.sim import (
    ArrivalSpec, ComputeSpec, Engine, InferenceSpec, LinkSpec, SimSpec, SiteSpec, Stage, constant, linear, run,
)

MBPS = 1e6 / 8


# ---------------------------------------------------------------------------- closed forms
def erlang_c(c: int, a: float) -> float:
    """Probability of waiting in M/M/c with offered load a = lambda / mu."""
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    rho = a / c
    return b / (1 - rho + rho * b)


def theory_wq(rho: float, cv: float, c: int, service_s: float = 1.0) -> float:
    """Mean wait in queue: Pollaczek-Khinchine for M/G/1 (M/M/1 at cv 1, M/D/1 at cv 0);
    Erlang C for M/M/c."""
    if c == 1:
        return rho * (1 + cv * cv) / (2 * (1 - rho)) * service_s
    return erlang_c(c, rho * c) * service_s / (c * (1 - rho))


CASES = {  # name: (servers, service cv)
    "M/M/1": (1, 1.0),
    "M/D/1": (1, 0.0),
    "M/G/1": (1, 0.5),  # lognormal service, cv 0.5
    "M/M/4": (4, 1.0),
}
#: customers per replication and replications, by (case, utilisation): sized for ~1.2% standard error
RUNS = {
    ("M/M/1", 0.5): (300_000, 2), ("M/D/1", 0.5): (200_000, 1), ("M/G/1", 0.5): (200_000, 1), ("M/M/4", 0.5): (300_000, 4),
    ("M/M/1", 0.9): (1_000_000, 4), ("M/D/1", 0.9): (800_000, 1), ("M/G/1", 0.9): (1_100_000, 2), ("M/M/4", 0.9): (1_000_000, 4),
}


def queue_spec(rho: float, c: int, cv: float, customers: int, seed: int) -> SimSpec:
    lam = rho * c  # service time 1 s
    horizon = customers / lam
    return SimSpec(sites=[SiteSpec("s")], compute=[ComputeSpec("srv", "s", count=c, service_cv=cv)],
                   inference=[InferenceSpec("w", "s", ArrivalSpec.poisson(lam), [Stage("srv", constant(1.0))])],
                   horizon_s=horizon, seed=seed, warmup_s=0.01 * horizon)


def mean_wait(args: tuple) -> float:
    """One replication: the mean wait in queue (s) of customers arriving after the warm-up."""
    rho, c, cv, customers, seed = args
    r = run(queue_spec(rho, c, cv, customers, seed))
    return r.segments().queue_ms[0] / 1e3


def _replicate(rho: float) -> dict[str, float]:
    tasks, owners = [], []
    for name, (c, cv) in CASES.items():
        n, reps = RUNS[(name, rho)]
        for k in range(reps):
            tasks.append((rho, c, cv, n, 1000 * k + 17))
            owners.append(name)
    order = sorted(range(len(tasks)), key=lambda i: -tasks[i][3])  # longest first
    ctx = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=2, mp_context=ctx) as pool:
        waits = dict(zip(order, pool.map(mean_wait, [tasks[i] for i in order])))
    out: dict[str, list[float]] = {}
    for i, name in enumerate(owners):
        out.setdefault(name, []).append(waits[i])
    return {name: sum(v) / len(v) for name, v in out.items()}


@pytest.fixture(scope="module")
def waits_05():
    return _replicate(0.5)


@pytest.fixture(scope="module")
def waits_09():
    return _replicate(0.9)


@pytest.mark.parametrize("name", list(CASES))
def test_mean_wait_at_half_load(waits_05, name):
    c, cv = CASES[name]
    assert waits_05[name] == pytest.approx(theory_wq(0.5, cv, c), rel=0.03)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CASES))
def test_mean_wait_at_0_9_load(waits_09, name):
    c, cv = CASES[name]
    assert waits_09[name] == pytest.approx(theory_wq(0.9, cv, c), rel=0.03)


def test_queue_equals_the_fcfs_recursion_on_the_same_draws():
    """Exactness, not statistics: replay the run's own random streams (Poisson arrivals, then
    exponential service times in order of service) through the Kiefer-Wolfowitz recursion of a
    FCFS multi-server queue; the engine's mean wait must match to rounding."""
    import heapq
    import random

    rho, c, n, seed = 0.7, 3, 50_000, 11
    spec = queue_spec(rho, c, 1.0, n, seed)
    seg = run(spec).segments().iloc[0]
    arrivals_rng, service_rng = random.Random(f"{seed}/arrivals/poisson"), random.Random(f"{seed}/service")
    t, free, total, count = 0.0, [0.0] * c, 0.0, 0
    while True:
        t += arrivals_rng.expovariate(rho * c)
        if t >= spec.horizon_s:
            break
        arrivals_rng.random()  # the merged Poisson stream also draws which workload arrived
        start = max(t, heapq.heappop(free))
        end = start + service_rng.expovariate(1.0)
        heapq.heappush(free, end)
        if t >= spec.warmup_s and end <= spec.horizon_s:
            total, count = total + start - t, count + 1
    assert seg.measured == count
    assert seg.queue_ms / 1e3 == pytest.approx(total / count, rel=1e-9)


def test_service_time_is_exact_when_deterministic():
    r = run(queue_spec(0.5, 1, 0.0, 20_000, 3))
    assert r.segments().compute_ms[0] == pytest.approx(1000.0, rel=1e-9)


# ---------------------------------------------------------------------------- a networked system
def system_spec(seed: int = 1, horizon: float = 600.0, failures: bool = False, retries: int = 0) -> SimSpec:
    """Two edge sites behind an aggregation site and a cloud pool; local and cloud workloads."""
    sites = [SiteSpec("cloud", "cloud"), SiteSpec("agg", "aggregation"), SiteSpec("e1"), SiteSpec("e2")]
    fail = dict(mtbf_s=120.0, mttr_s=10.0) if failures else {}
    compute = [
        ComputeSpec("pool", "cloud", pool=True, min_instances=1, max_instances=6, cold_start_s=20.0, max_batch=4,
                    max_wait_s=0.003, service_cv=0.2, tariff=Tariff(1.0, "instances")),
        ComputeSpec("d1", "e1", count=1, service_cv=0.5, queue_capacity=20, **fail),
        ComputeSpec("d2", "e2", count=2, service_cv=1.0, queue_capacity=50),
    ]
    links = [LinkSpec("e1", "agg", 50 * MBPS, 50 * MBPS, rtt_s=0.004, jitter_s=0.001, **fail),
             LinkSpec("e2", "agg", 20 * MBPS, 100 * MBPS, rtt_s=0.006, loss_prob=0.001),
             LinkSpec("agg", "cloud", 500 * MBPS, 500 * MBPS, rtt_s=0.02, egress_b_to_a_usd_per_gb=0.09)]
    inference = [
        InferenceSpec("cam1-local", "e1", ArrivalSpec.poisson(20.0), [Stage("d1", constant(0.03))], slo_s=0.1,
                      retries=retries),
        InferenceSpec("cam1-cloud", "e1", ArrivalSpec.periodic(15.0, 0.002), [Stage("pool", linear(0.008, 0.002), 4000)],
                      input_bytes=150_000, slo_s=0.1, retries=retries),
        InferenceSpec("cam2-local", "e2", ArrivalSpec("bursty", dict(rate_low_per_s=5.0, rate_high_per_s=40.0,
                                                                     mean_low_s=20.0, mean_high_s=5.0)),
                      [Stage("d2", constant(0.025))], slo_s=0.2, retries=retries),
        InferenceSpec("cam2-cloud", "e2", ArrivalSpec("diurnal", dict(rate_per_s=10.0, profile=[0.5, 1.5])),
                      [Stage("pool", linear(0.008, 0.002), 2000)], input_bytes=80_000, slo_s=0.15, retries=retries),
    ]
    return SimSpec(sites=sites, compute=compute, links=links, inference=inference, horizon_s=horizon, seed=seed)


def test_littles_law_holds():
    r = run(system_spec(horizon=3000.0))
    for row in r.littles_law().itertuples():
        assert row.L == pytest.approx(row.lambda_per_s * row.W_s, rel=0.02), row.workload


def test_arrivals_equal_completed_plus_failed_plus_in_flight():
    eng = Engine(system_spec(horizon=900.0, failures=True, retries=1))
    r = eng.run()
    s = r.summary()
    assert s.failed.sum() > 0  # the check means something: failures happened
    assert (s.arrived == s.completed + s.failed + s.in_flight).all()
    assert r.arrived == r.completed + r.failed + r.in_flight
    # in flight counted where the requests are (queues, servers, links, propagation, back-off)
    assert r.counters["in_flight_counted"] == r.in_flight


def test_failures_have_reasons():
    r = run(system_spec(horizon=900.0, failures=True))
    f = r.failures()
    assert {"device_down", "link_down"} <= set(f.reason)
    assert set(f.kind) <= {"failed", "late"}
    assert f[f.kind == "failed"]["count"].sum() == r.summary().failed.sum()


def test_same_seed_same_result_and_another_seed_differs():
    a, b, c = (run(system_spec(seed=s, horizon=300.0, failures=True)) for s in (5, 5, 6))
    assert a.summary().equals(b.summary())
    assert a.segments().equals(b.segments())
    assert a.failures().equals(b.failures())
    assert a.utilisation().equals(b.utilisation())
    assert not a.summary().equals(c.summary())


def test_summary_columns_and_costs():
    r = run(system_spec(horizon=300.0))
    s = r.summary()
    for col in ("workload", "completed", "failed", "mean_ms", "p50_ms", "p95_ms", "p99_ms", "slo_met_frac",
                "monthly_cost_usd"):
        assert col in s.columns
    assert list(s.workload) == ["cam1-local", "cam1-cloud", "cam2-local", "cam2-cloud"]
    assert (s.p50_ms <= s.p95_ms).all() and (s.p95_ms <= s.p99_ms).all()
    assert ((0 <= s.slo_met_frac) & (s.slo_met_frac <= 1)).all()
    # the pool's instance-seconds are billed and shared by the two cloud workloads; egress is paid
    costs = r.costs()
    pool = costs[costs.item == "pool"].iloc[0]
    assert pool.monthly_usd == pytest.approx(r.compute().set_index("compute").loc["pool", "server_s"] / 3600 * 730 * 3600 / 300)  # a 730 h month
    assert costs.category.str.contains("egress").any()
    assert s.monthly_cost_usd.sum() == pytest.approx(r.monthly_cost_usd, rel=1e-9)
    seg = r.segments().set_index("workload")
    assert seg.loc["cam1-local", "uplink_ms"] == 0 and seg.loc["cam1-cloud", "uplink_ms"] > 0
    parts = seg[["uplink_ms", "queue_ms", "compute_ms", "downlink_ms"]].sum(axis=1)
    assert (parts - seg.total_ms).abs().max() < 1e-6
    util = r.utilisation()
    assert set(util.kind) == {"device", "pool", "link"}
    assert util.utilisation.dropna().between(0, 1 + 1e-9).all()


# ---------------------------------------------------------------------------- from a scenario
class _Est:
    def __init__(self, latency_ms: float):
        self.latency_ms, self.throughput_per_s, self.memory_gb, self.energy_j, self.source = latency_ms, 0.0, 1.0, 1.0, "assumed"


def fake_estimate(model, hardware, precision="fp32", batch=1, training=False):
    """A stand-in cost model: a fixed latency per hardware, sublinear in batch."""
    base = {"jetson-orin-nx-16gb": 12.0, "l4": 3.0, "a10g": 3.5}.get(hardware, 10.0)
    return _Est(base * (1 + 0.3 * (batch - 1)) * (3.0 if training else 1.0))


@pytest.fixture(scope="module")
def factory():
    import planner

    return planner.load_scenario("scenarios/smart_factory.yaml")


EDGE = {"inspection": {"site": "plant", "hardware": "jetson-orin-nx-16gb", "precision": "int8"},
        "ppe-detection": {"site": "plant", "hardware": "jetson-orin-nx-16gb", "precision": "int8"},
        "retrain": {"site": "aws-us-east-1", "hardware": "l4", "precision": "fp16"}}


def test_simulate_a_scenario(factory):
    from planner.sim import simulate

    r = simulate(factory, EDGE, seed=1, estimator=fake_estimate)
    s = r.summary().set_index("workload")
    assert list(s.index) == ["inspection", "ppe-detection", "retrain"]
    assert s.loc["inspection", "completed"] == pytest.approx(180 * 300, rel=0.01)
    assert s.loc["inspection", "slo_met_frac"] > 0.99
    assert s.loc["retrain", "kind"] == "training"
    assert (s.monthly_cost_usd > 0).all()
    # six Jetsons at $899 over 36 months, whoever uses them
    amort = r.costs().query("category == 'edge amortisation'").monthly_usd.sum()
    assert amort == pytest.approx(6 * 899 / 36, rel=1e-6)


def test_simulate_in_the_cloud_shows_the_uplink_bottleneck(factory):
    from planner.sim import simulate

    cloud = dict(EDGE, inspection={"site": "aws-us-east-1", "hardware": "l4", "precision": "int8"})
    r = simulate(factory, cloud, seed=1, estimator=fake_estimate)
    s = r.summary().set_index("workload")
    assert s.loc["inspection", "slo_met_frac"] < 0.5  # 288 Mbit/s of frames into a 200 Mbit/s uplink
    links = r.links().set_index("channel")
    assert links.loc["plant->aws-us-east-1", "utilisation"] > 0.95
    assert r.costs().category.eq("egress").any()


def test_simulate_same_seed_same_summary(factory):
    from planner.sim import simulate

    a = simulate(factory, EDGE, seed=3, estimator=fake_estimate).summary()
    b = simulate(factory, EDGE, seed=3, estimator=fake_estimate).summary()
    assert a.equals(b)


def test_simulate_with_the_real_cost_model(factory):
    pytest.importorskip("planner.costs.estimator")
    import planner

    r = planner.simulate(factory, EDGE, seed=0)
    s = r.summary()
    assert len(s) == 3 and s.completed.iloc[0] > 0
    assert not math.isnan(s.p99_ms.iloc[0])
