"""Sweep speed: study runs (plan + simulate) per minute on local processes and on a two-worker
Dask LocalCluster, for the same small sweep.

    python bench/sweep_speed.py                  # smart_factory, horizon 60 s, 8 runs
    python bench/sweep_speed.py --runs 16 --horizon-s 120 --repeat 3   # best of 3 on a busy machine

Each backend runs the sweep from nothing in a fresh folder (no run is skipped); the time counts
everything a user waits for once the workers exist: sending runs, planning, simulating, writing
a Parquet file per run and the summary. The cluster's start-up is timed apart.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import planner  # noqa: E402

SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "smart_factory.yaml"


def sweep_args(runs: int, horizon_s: float) -> tuple[dict, int]:
    """Two uplink values times runs/2 replications (a typical what-if with confidence intervals)."""
    return {"horizon_s": [horizon_s], "links.0.uplink_mbps": [100, 200]}, max(1, runs // 2)


def timed_sweep(label: str, sets: dict, replications: int, repeat: int, **backend) -> float:
    """Run the sweep `repeat` times, each into a fresh folder; print and return the best runs
    per minute (the least disturbed by other work on the machine)."""
    walls_s = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as out:
            start_s = time.perf_counter()
            df = planner.sweep(SCENARIO, set=sets, replications=replications, out_dir=out, **backend)
            walls_s.append(time.perf_counter() - start_s)
    runs = df["run_id"].nunique()
    failed = df.drop_duplicates("run_id")["status"].ne("ok").sum()
    per_min = runs / min(walls_s) * 60
    note = f" ({failed} failed: {df.loc[df['status'] != 'ok', 'reason'].iloc[0]})" if failed else ""
    spread = f" (of {', '.join(f'{w:.2f}' for w in walls_s)} s)" if repeat > 1 else ""
    print(f"{label:<30} {runs:3d} runs in {min(walls_s):6.2f} s = {per_min:6.1f} runs/min{spread}{note}")
    return per_min


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=8, help="runs in the sweep (2 uplinks x runs/2 seeds)")
    ap.add_argument("--horizon-s", type=float, default=60.0, help="simulated seconds per run")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="local processes")
    ap.add_argument("--repeat", type=int, default=1, help="time each backend this many times; report the best")
    args = ap.parse_args()

    load = " ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, "
          f"Python {platform.python_version()}, load average {load}")
    sets, reps = sweep_args(args.runs, args.horizon_s)
    print(f"sweep: {SCENARIO.name}, horizon {args.horizon_s:g} s, uplink 100/200 Mbit/s x {reps} seeds")

    timed_sweep("local, 1 process", sets, reps, args.repeat, workers=1)
    timed_sweep(f"local, {args.workers} processes", sets, reps, args.repeat, workers=args.workers)

    from distributed import LocalCluster

    start_s = time.perf_counter()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        print(f"(dask LocalCluster of 2 workers started in {time.perf_counter() - start_s:.1f} s, not counted)")
        timed_sweep("dask LocalCluster, 2 workers", sets, reps, args.repeat, scheduler=cluster.scheduler_address)


if __name__ == "__main__":
    main()
