"""How long planning takes, from the file to every explanation, at fleet size.

For fleets of 200 / 2,000 / 10,000 members x 5 workloads (1,000 / 10,000 / 50,000 workload
instances) over 2 cloud regions (`load_speed.fleet_scenario`: every member's uplink, RTT and rates
drawn from distributions, so no two members are alike), and for 10,000 workloads written out
without fleets (100 sites x 100 workloads, `load_speed.flat_scenario`): the time to load, to plan,
and to build `Plan.table()` with every explanation, and the process's peak resident set (each
scenario in a fresh process, so the figure is its own, with its first estimates: the catalog's
model graphs and the calibration fit, but not the library's imports; tracemalloc would slow the planner
several-fold, so it is not used). Each fleet size runs twice: with
members' uplinks and rates on a few tiers (as an inventory of broadband contracts would have
them), so that members fall into classes planned once each (`-tiers`); and with every member
drawn from distributions, no two alike (`-distinct`, each member then planned apart: up to
2,000 members by default, 10,000 with `--distinct --members 10000`).

    python bench/plan_speed.py [--members 200 2000 10000] [--no-flat] [--tiers | --distinct] [--phases N]
"""
from __future__ import annotations

import argparse
import math
import multiprocessing
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

import yaml

import planner
import planner.plan  # the library's imports (pandas, scipy: about a second) are not planning: not timed
from load_speed import fleet_scenario, flat_scenario

TIERS_MBPS = [5, 10, 20, 50, 100]  # broadband upload tiers (assumed; a typical ISP's ladder)
RATE_TIERS = [1.0, 2.0, 3.0]


def tiered(members: int, folder: Path) -> dict:
    """The same fleet, each member on one of a few uplink and rate tiers (an inventory)."""
    d = fleet_scenario(members)
    rows = ["name,uplink_mbps,rtt_ms,rate_scale"]
    rows += [f"store-{i:05d},{TIERS_MBPS[i % 5]},{20 + 10 * (i % 2)},{RATE_TIERS[(i // 5) % 3] / 2}" for i in range(members)]
    (folder / "inventory.csv").write_text("\n".join(rows) + "\n")
    d["sites"]["store"].pop("count")
    d["sites"]["store"]["members"] = "inventory.csv"
    link = d["links"][0]
    link.pop("uplink_mbps"), link.pop("rtt_ms")
    for w in d["workloads"].values():
        w["arrival"]["rate_per_s"] = 2
    return d


def measure(name: str, data: dict, folder: Path) -> None:
    f = folder / f"{name}.yaml"
    f.write_text(yaml.safe_dump(data, sort_keys=False))
    t0 = time.perf_counter()
    sc = planner.load_scenario(f)
    t1 = time.perf_counter()
    p = planner.plan(sc)
    t2 = time.perf_counter()
    table = p.table()
    t3 = time.perf_counter()
    rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    classes = len(p.classes.members) if p.classes and p.classes.members else 0
    print(f"{name:>24} {len(sc.workloads):>9} {classes:>8} {t1 - t0:>7.2f} {t2 - t1:>7.2f} {t3 - t2:>7.2f} "
          f"{t3 - t0:>7.2f} {rss_gb:>7.2f}  {'feasible' if p.feasible else p.status} "
          f"${p.monthly_cost_usd:,.0f}/month, {int(table['ok'].sum())}/{len(table)} ok")


def phases(name: str, data: dict, folder: Path, repeat: int) -> None:
    """Process CPU time of each phase, the least of `repeat` runs in this process (steadier than a
    fresh process's wall time on a shared host): options, dominance, HiGHS, the whole solve, plan,
    and the table's explanations."""
    from planner.plan import solver

    plan_module = sys.modules["planner.plan"]
    spent: dict[str, float] = {}

    def timed(module, attr: str, label: str) -> None:
        inner = getattr(module, attr)

        def wrapper(*args, **kwargs):
            t = time.process_time()
            try:
                return inner(*args, **kwargs)
            finally:
                spent[label] = spent.get(label, 0.0) + time.process_time() - t
        setattr(module, attr, wrapper)

    timed(plan_module, "options_for", "options")
    timed(solver, "undominated", "dominance")
    timed(solver, "milp", "highs")
    timed(plan_module, "solve", "solve")
    timed(plan_module, "explain", "explain")
    f = folder / f"{name}.yaml"
    f.write_text(yaml.safe_dump(data, sort_keys=False))
    least: dict[str, float] = {}
    for _ in range(repeat):
        spent.clear()
        sc = planner.load_scenario(f)
        t0 = time.process_time()
        p = planner.plan(sc)
        t1 = time.process_time()
        p.table()
        spent |= {"plan": t1 - t0, "table": time.process_time() - t1}
        least = {k: min(least.get(k, math.inf), v) for k, v in spent.items()}
        del p, sc
    print(f"{name:>24} CPU s, least of {repeat}: " + " ".join(f"{k} {v:.2f}" for k, v in least.items()))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--members", type=int, nargs="+", default=[200, 2000, 10_000])
    ap.add_argument("--no-flat", action="store_true")
    ap.add_argument("--tiers", action="store_true", help="only members on a few uplink and rate tiers (classes)")
    ap.add_argument("--distinct", action="store_true", help="only members drawn from distributions (no two alike)")
    ap.add_argument("--phases", type=int, default=0, metavar="N",
                    help="instead: each phase's process CPU time, the least of N runs in one process")
    args = ap.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}")
    if not args.phases:
        print(f"{'scenario':>24} {'workloads':>9} {'classes':>8} {'load_s':>7} {'plan_s':>7} {'table_s':>7} {'total_s':>7} "
              f"{'rss_gb':>7}  verdict")
    both = not (args.tiers or args.distinct)
    jobs = [(f"fleet-{n}-tiers", n, True) for n in args.members if args.tiers or both]
    # every member apart at 10,000 takes a minute: only when asked for (--distinct)
    jobs += [(f"fleet-{n}-distinct", n, False) for n in args.members if args.distinct or (both and n <= 2000)]
    jobs += [] if args.no_flat else [("flat-100x100", 0, False)]
    with tempfile.TemporaryDirectory() as tmp:
        for name, n, tiers in jobs:  # a fresh process each: its peak memory is its own
            proc = multiprocessing.get_context("spawn").Process(target=_one, args=(name, n, tiers, tmp, args.phases))
            proc.start()
            proc.join()


def _one(name: str, members: int, tiers: bool, tmp: str, repeat: int = 0) -> None:
    folder = Path(tmp)
    data = flat_scenario() if not members else (tiered(members, folder) if tiers else fleet_scenario(members))
    if repeat:
        phases(name, data, folder, repeat)
    else:
        measure(name, data, folder)


if __name__ == "__main__":
    main()
