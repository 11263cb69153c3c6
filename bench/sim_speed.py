"""Simulator speed: simulated requests per wall-second on a fog tree, at 1x and 10x, against a
bare simpy M/M/1 queue (the ceiling), and the peak memory of a 10-million-request run.

    python bench/sim_speed.py            # full run (several minutes)
    python bench/sim_speed.py --quick    # smaller runs, same shapes

The tree (issue 4): 1 cloud + 5 aggregation + 50 edge sites; each edge sends 10 Poisson
requests/s, half served on its own edge device, half in a cloud GPU pool (two hops up, two
down, over processor-sharing links). The 10x tree has 50 aggregation and 500 edge sites.
"""
from __future__ import annotations

import argparse
import platform
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import simpy  # noqa: E402

from planner.model.accounting import Tariff
from planner.sim import (  # noqa: E402
    ArrivalSpec, ComputeSpec, Engine, InferenceSpec, LinkSpec, SimSpec, SiteSpec, Stage, constant, linear,
)

MBPS = 1e6 / 8  # bytes per second in one Mbit/s


def tree_spec(n_agg: int = 5, edges_per_agg: int = 10, rate_per_edge: float = 10.0, horizon_s: float = 600.0,
              seed: int = 0) -> SimSpec:
    """1 cloud + n_agg aggregation sites + n_agg*edges_per_agg edge sites; each edge sends
    `rate_per_edge` Poisson requests/s, half to its own device, half to the cloud pool."""
    sites = [SiteSpec("cloud", "cloud")]
    compute = []
    links = []
    inference = []
    n_edges = n_agg * edges_per_agg
    cloud_rate = n_edges * rate_per_edge / 2
    # cloud pool: batched GPU, 4 ms + 1 ms per extra request in a batch
    compute.append(ComputeSpec("cloud-gpu", "cloud", hardware="l4", pool=True, min_instances=max(1, n_edges // 25),
                               max_instances=max(4, n_edges // 5), cold_start_s=30.0, max_batch=8, max_wait_s=0.002,
                               service_cv=0.1, tariff=Tariff(0.8048, "instances", 10.8, 72.0)))
    cloud_svc = linear(0.004, 0.001)
    for a in range(n_agg):
        agg = f"agg{a}"
        sites.append(SiteSpec(agg, "aggregation"))
        links.append(LinkSpec(agg, "cloud", 1000 * MBPS, 1000 * MBPS, rtt_s=0.020, jitter_s=0.001,
                              egress_b_to_a_usd_per_gb=0.09, energy_j_per_bit=5e-9))
        for e in range(edges_per_agg):
            edge = f"edge{a}-{e}"
            sites.append(SiteSpec(edge, "edge"))
            links.append(LinkSpec(edge, agg, 100 * MBPS, 100 * MBPS, rtt_s=0.004, energy_j_per_bit=5e-9))
            compute.append(ComputeSpec(f"{edge}-dev", edge, hardware="jetson-orin-nx-16gb", count=1,
                                       service_cv=0.2, queue_capacity=100,
                                       tariff=Tariff(899 / (36 * 730), "amortisation", 6.25, 25.0)))
            inference.append(InferenceSpec(f"{edge}-local", edge, ArrivalSpec.poisson(rate_per_edge / 2),
                                           [Stage(f"{edge}-dev", constant(0.020), out_bytes=2000)],
                                           input_bytes=100_000, slo_s=0.100))
            inference.append(InferenceSpec(f"{edge}-cloud", edge, ArrivalSpec.poisson(rate_per_edge / 2),
                                           [Stage("cloud-gpu", cloud_svc, out_bytes=2000)],
                                           input_bytes=100_000, slo_s=0.100))
    assert abs(sum(w.arrival.params["rate_per_s"] for w in inference) - 2 * cloud_rate) < 1e-6
    return SimSpec(sites=sites, compute=compute, links=links, inference=inference, horizon_s=horizon_s, seed=seed,
                   name=f"tree-{1 + n_agg + n_edges}")


def run_tree(n_agg: int, requests: float, seed: int = 0):
    rate = n_agg * 10 * 10.0
    spec = tree_spec(n_agg=n_agg, horizon_s=requests / rate, seed=seed)
    t0 = time.perf_counter()
    eng = Engine(spec)
    build_s = time.perf_counter() - t0
    r = eng.run()
    return r, build_s


def bare_mm1(customers: int, rho: float = 0.9, seed: int = 1) -> float:
    """A textbook simpy M/M/1: a process per customer and a Resource. Customers per wall-second."""
    env = simpy.Environment()
    server = simpy.Resource(env, 1)
    rng = random.Random(seed)

    def customer():
        with server.request() as req:
            yield req
            yield env.timeout(rng.expovariate(1.0))

    def source():
        for _ in range(customers):
            yield env.timeout(rng.expovariate(rho))
            env.process(customer())

    env.process(source())
    t0 = time.perf_counter()
    env.run()
    return customers / (time.perf_counter() - t0)


def peak_rss_mb() -> float:
    """This process's peak resident memory: VmHWM (Linux; its own, not inherited from the parent
    as ru_maxrss is across fork and exec), else ru_maxrss."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name"):
                return line.split(":", 1)[1].strip()
    except Exception:
        pass
    return platform.processor() or "unknown"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller runs (about a minute)")
    ap.add_argument("--repeat", type=int, default=None, help="runs per measurement (best is reported)")
    ap.add_argument("--big", type=float, default=None, help="requests in the peak-memory run (default 10 million)")
    ap.add_argument("--memory-child", type=float, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.memory_child:
        return memory_child(int(args.memory_child))
    quick = args.quick
    repeat = args.repeat or (1 if quick else 3)
    n_small = 100_000 if quick else 1_000_000
    n_big = args.big or (1_000_000 if quick else 10_000_000)
    n_mm1 = 200_000 if quick else 1_000_000

    print(f"machine: {cpu_model()}, Python {platform.python_version()}, simpy {simpy.__version__}")
    print(f"{'run':<34}{'requests':>12}{'wall s':>9}{'req/wall-s':>13}")

    ceil_all = [_print_mm1(n_mm1) for _ in range(repeat)]
    ceiling = max(ceil_all)
    # 1x and 10x alternate, so that both see the same background load; the best of each is kept
    t1_all, t10_all = [], []
    for _ in range(repeat):
        for n_agg, out in ((5, t1_all), (50, t10_all)):
            r, _ = run_tree(n_agg, n_small)
            print(f"  {'tree ' + str(1 + n_agg + 10 * n_agg) + ' sites':<32}{r.arrived:>12,}{r.wall_s:>9.2f}"
                  f"{r.requests_per_wall_s:>13,.0f}")
            out.append(r.requests_per_wall_s)
    tree1, tree10 = max(t1_all), max(t10_all)
    pair_ratios = sorted(a / b for a, b in zip(t1_all, t10_all))

    # the big run, in a fresh process so that its peak memory is its own
    out = subprocess.run([sys.executable, __file__, "--memory-child", str(int(n_big))], capture_output=True, text=True,
                         check=True).stdout
    big = dict(line.split("=", 1) for line in out.split() if "=" in line)
    print(f"  {'tree 551 sites (memory run)':<32}{int(big['arrived']):>12,}{float(big['wall_s']):>9.2f}"
          f"{float(big['rate']):>13,.0f}")

    print()
    print(f"bare simpy M/M/1 ceiling : {ceiling:>10,.0f} customers/wall-s (runs: {', '.join(f'{x:,.0f}' for x in ceil_all)})")
    print(f"tree, 56 sites           : {tree1:>10,.0f} requests/wall-s = {tree1 / ceiling:.2f} x ceiling "
          f"(runs: {', '.join(f'{x:,.0f}' for x in t1_all)})  target >= 40,000")
    print(f"tree, 551 sites (10x)    : {tree10:>10,.0f} requests/wall-s = {tree10 / ceiling:.2f} x ceiling "
          f"(runs: {', '.join(f'{x:,.0f}' for x in t10_all)})")
    print(f"slowdown per request 10x : {tree1 / tree10:.2f} x (best vs best; per pair: "
          f"{', '.join(f'{x:.2f}' for x in pair_ratios)})  target <= 1.3")
    print(f"{int(big['arrived']):,} requests (10x tree, {float(big['horizon_s']):,.0f} s simulated) in "
          f"{float(big['wall_s']):.0f} s: {float(big['rate']):,.0f} req/wall-s; peak RSS {float(big['rss_mb']):,.0f} MB "
          f"(VmHWM; ru_maxrss {float(big['ru_maxrss_mb']):,.0f} MB, which includes the parent's at fork; "
          f"interpreter and libraries alone {float(big['base_mb']):,.0f} MB)  target < 1,500 MB")
    print(f"  memory run check: completed {int(big['completed']):,}, failed {int(big['failed']):,}, "
          f"cloud p99 {float(big['cloud_p99']):.1f} ms, edge p99 {float(big['edge_p99']):.1f} ms")


def memory_child(n: int) -> None:
    """The 10x tree for n requests; prints key=value figures, peak RSS included."""
    base = peak_rss_mb()
    r, _ = run_tree(50, n)
    s = r.summary()
    print(f"arrived={r.arrived} completed={s.completed.sum()} failed={s.failed.sum()} wall_s={r.wall_s:.3f} "
          f"rate={r.requests_per_wall_s:.0f} horizon_s={r.horizon_s:.1f} rss_mb={peak_rss_mb():.1f} base_mb={base:.1f} "
          f"ru_maxrss_mb={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f} "
          f"cloud_p99={s[s.workload.str.endswith('-cloud')].p99_ms.median():.2f} "
          f"edge_p99={s[s.workload.str.endswith('-local')].p99_ms.median():.2f}")


def _print_mm1(n: int) -> float:
    rate = bare_mm1(n)
    print(f"  {'bare simpy M/M/1':<32}{n:>12,}{n / rate:>9.2f}{rate:>13,.0f}")
    return rate


if __name__ == "__main__":
    main()
