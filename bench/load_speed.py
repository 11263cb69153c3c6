"""Time to load and validate large scenarios with `planner.load_scenario`.

Fleets of 200 / 2,000 / 10,000 members x 5 workloads (1,000 / 10,000 / 50,000 workload
instances) over 2 cloud regions, each member with its own link whose uplink and RTT are drawn
from distributions; and a 10,000-workload scenario written out without fleets (100 sites x 100
workloads, a 2.6 MB file). Each file is written to a temporary folder and loaded from there.

    python bench/load_speed.py [--members 200 2000 10000] [--no-flat] [--repeat 3]
"""
from __future__ import annotations

import argparse
import platform
import random
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import yaml

import planner

MODELS = ["mobilenet-v2", "resnet-18", "yolov8n", "efficientnet-b0", "resnet-50"]


def fleet_scenario(members: int, workloads_per_member: int = 5) -> dict[str, Any]:
    """A fleet of `members` stores, half in each of two regions' clouds' reach."""
    sites: dict[str, Any] = {
        "store": {"kind": "edge", "count": members, "region": "eu",
                  "devices": [{"hardware": "jetson-orin-nano-8gb", "count": 1, "max_batch": 2}]},
        "cloud-eu": {"kind": "cloud", "region": "eu", "pools": [{"hardware": "l4", "max_instances": 10_000},
                                                                 {"hardware": "t4", "max_instances": 10_000}]},
        "cloud-us": {"kind": "cloud", "region": "us", "pools": [{"hardware": "l4", "max_instances": 10_000}]},
    }
    links = [
        {"between": ["store", "cloud-eu"], "network": "broadband",
         "uplink_mbps": {"dist": "lognormal", "mean": 20, "cv": 0.9}, "rtt_ms": {"dist": "uniform", "low": 8, "high": 40}},
        {"between": ["cloud-eu", "cloud-us"], "network": "fiber-wan", "rtt_ms": 80},
    ]
    workloads = {
        f"w{j}": {"kind": "inference", "model": MODELS[j % len(MODELS)], "source": "store",
                  "arrival": {"process": "poisson", "rate_per_s": {"dist": "lognormal", "mean": 2, "cv": 0.5}},
                  "input_bytes": 100_000, "output_bytes": 2000, "slo": {"p99_ms": 500},
                  "privacy": ["any", "region", "site"][j % 3], "precisions": ["int8", "fp16"]}
        for j in range(workloads_per_member)
    }
    return {"name": f"fleet-{members}", "seed": 1, "sites": sites, "links": links, "workloads": workloads}


def flat_scenario(n_sites: int = 100, workloads_per_site: int = 100, seed: int = 0) -> dict[str, Any]:
    """`n_sites` edge sites (one of them a cloud region), each with its own workloads, written out."""
    rng = random.Random(seed)
    edges = [f"edge{i:03d}" for i in range(n_sites - 1)]
    sites: dict[str, Any] = {s: {"kind": "edge", "region": "eu", "devices": [
        {"hardware": rng.choice(["jetson-orin-nano-8gb", "jetson-orin-nx-16gb"]), "count": 4}]} for s in edges}
    sites["cloud"] = {"kind": "cloud", "region": "eu", "pools": [{"hardware": "l4", "max_instances": 10_000}]}
    links = [{"between": [s, "cloud"], "network": rng.choice(["fiber-wan", "broadband", "5g"])} for s in edges]
    workloads = {
        f"w{j:05d}": {"kind": "inference", "model": rng.choice(MODELS), "source": edges[j % len(edges)],
                      "arrival": {"process": "poisson", "rate_per_s": rng.choice([0.5, 1, 2])},
                      "input_bytes": 100_000, "output_bytes": 2000, "slo": {"p99_ms": rng.choice([100, 300, 1000])},
                      "privacy": rng.choice(["any", "region", "site"]), "precisions": ["int8", "fp16"]}
        for j in range(n_sites * workloads_per_site)
    }
    return {"name": "flat", "sites": sites, "links": links, "workloads": workloads}


def time_load(path: Path, repeat: int) -> tuple[float, float, planner.Scenario]:
    """Best of `repeat` load times (s), and the peak Python memory (MB) of one more load."""
    best, sc = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        sc = planner.load_scenario(path)
        best = min(best, time.perf_counter() - t0)
    tracemalloc.start()
    planner.load_scenario(path)
    peak_mb = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    assert sc is not None
    return best, peak_mb, sc


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--members", type=int, nargs="+", default=[200, 2000, 10_000])
    ap.add_argument("--no-flat", action="store_true", help="skip the 100 x 100 scenario without fleets")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}")
    print(f"{'scenario':<28} {'file_kb':>8} {'sites':>7} {'links':>7} {'workloads':>9} {'load_s':>7} {'peak_mb':>8}")
    cases = [(f"fleet {m} x 5", fleet_scenario(m)) for m in args.members]
    if not args.no_flat:
        cases.append(("flat 100 sites x 100", flat_scenario()))
    with tempfile.TemporaryDirectory() as tmp:
        for label, data in cases:
            path = Path(tmp) / "scenario.yaml"
            path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
            secs, peak_mb, sc = time_load(path, args.repeat)
            print(f"{label:<28} {path.stat().st_size / 1e3:>8.0f} {len(sc.sites):>7} {len(sc.links):>7} "
                  f"{len(sc.workloads):>9} {secs:>7.2f} {peak_mb:>8.0f}")


if __name__ == "__main__":
    main()
