"""Solve time of the planner for 100, 1,000 and 10,000 workloads over 100 sites.

A synthetic city: 99 edge sites (each a few Jetsons or a Raspberry Pi), one cloud region with
L4 and T4 pools, every edge site linked to the cloud. Workloads are CNN/detector inference with
random rates, SLOs and privacy levels, spread over the edge sites.

    python bench/plan_speed.py [--sizes 100 1000 10000]
"""
from __future__ import annotations

import argparse
import platform
import random
import time

import planner
from planner.plan.options import all_options
from planner.plan.solver import solve

EDGE_HW = ["jetson-orin-nano-8gb", "jetson-orin-nx-16gb", "raspberry-pi-5"]
MODELS = ["mobilenet-v2", "resnet-18", "resnet-50", "yolov8n", "efficientnet-b0"]


def city(n_workloads: int, n_sites: int = 100, seed: int = 0) -> planner.Scenario:
    rng = random.Random(seed)
    sites = {f"edge{i:03d}": {"kind": "edge", "region": "eu", "devices": [
        {"hardware": rng.choice(EDGE_HW), "count": rng.randint(2, 8) * max(1, n_workloads // 1000),
         "max_batch": 4, "max_wait_ms": 5}]}
        for i in range(n_sites - 1)}
    sites["cloud"] = {"kind": "cloud", "region": "eu", "pools": [
        {"hardware": "l4", "max_instances": 10_000, "max_batch": 8},
        {"hardware": "t4", "max_instances": 10_000, "max_batch": 8}]}
    links = [{"between": [s, "cloud"], "network": rng.choice(["fiber-wan", "broadband", "5g"])} for s in sites if s != "cloud"]
    workloads = {}
    for j in range(n_workloads):
        workloads[f"w{j:05d}"] = {
            "kind": "inference", "model": rng.choice(MODELS), "source": f"edge{rng.randrange(n_sites - 1):03d}",
            "arrival": {"process": "poisson", "rate_per_s": rng.choice([0.5, 1, 2, 5])},
            "input_bytes": rng.choice([20_000, 100_000]), "output_bytes": 2000,
            "slo": {"p99_ms": rng.choice([100, 300, 1000])},
            "privacy": rng.choice(["any", "any", "region", "site"]),
            "precisions": rng.choice([["int8"], ["int8", "fp16"]]),
        }
    return planner.parse_scenario({"name": f"city-{n_workloads}", "sites": sites, "links": links,
                                   "workloads": workloads}, file="bench")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10_000])
    args = ap.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}")
    print(f"{'workloads':>10} {'options':>8} {'build_s':>8} {'solve_s':>8} {'total_s':>8}  status   monthly_cost_usd")
    for n in args.sizes:
        sc = city(n)
        t0 = time.perf_counter()
        res, opts = all_options(sc)
        t1 = time.perf_counter()
        sol = solve(res, opts, objective="cost")
        t2 = time.perf_counter()
        n_opts = sum(len(v) for v in opts.values())
        print(f"{n:>10} {n_opts:>8} {t1 - t0:>8.2f} {t2 - t1:>8.2f} {t2 - t0:>8.2f}  {sol.status:8} {sol.objective:,.0f}")


if __name__ == "__main__":
    main()
