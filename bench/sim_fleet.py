"""The simulator at fleet size: the cost of a simulated request as the fleet grows.

A fleet of N shops (N = 50, 200, 1000 by default), each with its own box and its own broadband
link to one cloud region; each shop runs a detector whose video goes to the box or to a shared
cloud pool, as the plan decides per shop. The same simulated time per shop, so the number of
requests grows with N; the figure to watch is wall-clock microseconds per simulated request.

    python bench/sim_fleet.py [--members 50 200 1000] [--horizon 60]
"""
from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import yaml

import planner


def fleet(n: int, horizon_s: float, folder: Path) -> planner.Scenario:
    ups = [2, 5, 10, 20, 40]
    rows = ["name,uplink_mbps,downlink_mbps,rtt_ms,rate_scale"]
    rows += [f"shop-{i:05d},{ups[i % 5] * (1 + (i % 7) / 10):.2f},100,{20 + i % 30},{0.5 + (i % 4) / 4}" for i in range(n)]
    (folder / "shops.csv").write_text("\n".join(rows) + "\n")
    data = {
        "name": f"fleet-{n}", "seed": 1, "horizon_s": horizon_s,
        "sites": {"shop": {"kind": "edge", "region": "eu", "members": "shops.csv",
                           "devices": [{"hardware": "jetson-orin-nano-8gb", "count": 1, "max_batch": 2, "max_wait_ms": 10}]},
                  "cloud": {"kind": "cloud", "region": "eu",
                            "pools": [{"hardware": "t4", "max_instances": 10_000, "max_batch": 8}]}},
        "links": [{"between": ["shop", "cloud"], "network": "broadband"}],
        "workloads": {"video": {"kind": "inference", "model": "yolov8n", "source": "shop",
                                "arrival": {"process": "poisson", "rate_per_s": 4},
                                "input_bytes": 150_000, "output_bytes": 1000, "slo": {"p99_ms": 1500},
                                "precisions": ["int8"]}},
    }
    f = folder / f"fleet-{n}.yaml"
    f.write_text(yaml.safe_dump(data))
    return planner.load_scenario(f)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--members", type=int, nargs="+", default=[50, 200, 1000])
    ap.add_argument("--horizon", type=float, default=60.0)
    args = ap.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}")
    print(f"{'members':>8} {'links':>6} {'requests':>9} {'sim_s':>7} {'us/request':>11} {'at edge':>8} {'in cloud':>9}")
    base = None
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.members:
            sc = fleet(n, args.horizon, Path(tmp))
            p = planner.plan(sc)
            t0 = time.perf_counter()
            r = planner.simulate(sc, p, seed=0)
            wall = time.perf_counter() - t0
            per = wall / max(1, r.arrived) * 1e6
            base = base or per
            edge = sum(1 for n_, c in p.placement.items() if c.site != "cloud")
            print(f"{n:>8} {len(sc.links):>6} {r.arrived:>9} {wall:>7.1f} {per:>11.1f} {edge:>8} "
                  f"{len(p.placement) - edge:>9}   x{per / base:.2f} of the smallest")


if __name__ == "__main__":
    main()
