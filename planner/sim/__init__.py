"""The discrete-event simulator: a scenario under a placement, in plain simpy.

    r = simulate(scenario, placement, seed=0)     # -> SimResult
    r.summary()                                   # a row per workload

Layout, one concept per module:
    spec.py      the simulator's low-level model (SI units), built by adapter.py or by hand
    arrivals.py  lazy generators of arrival times (poisson, periodic, bursty, diurnal, trace)
    network.py   processor-sharing links, routes, transfers
    compute.py   device groups (queue, batching, failures) and autoscaled cloud pools
    workload.py  requests and the path each follows
    jobs.py      training and federated jobs
    metrics.py   quantile sketch, counters, time bins, Parquet trace
    engine.py    builds the model from a SimSpec and runs it
    adapter.py   Scenario + placement -> SimSpec (cost model and catalog)
    result.py    SimResult and its tables
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from planner.sim.engine import Engine, run
from planner.sim.result import SimResult
from planner.sim.spec import (
    ArrivalSpec, ComputeSpec, FederatedSpec, InferenceSpec, LinkSpec, SimSpec, SiteSpec, Stage, TrainingSpec,
    constant, linear,
)


def simulate(scenario: Any, placement: Any, seed: int | None = 0, *, trace_path: str | Path | None = None,
             trace_sample: float = 0.0, progress: Callable[[float], None] | None = None, **options: Any) -> SimResult:
    """Simulate `scenario` under `placement` (a Plan, or a mapping workload -> {site, hardware,
    precision[, split, edge_hardware]}) for the scenario's horizon.

    `seed` None uses the scenario's seed. `trace_path` with `trace_sample` > 0 writes that
    share of requests to a Parquet trace. `progress(fraction)` is called as the run advances.
    Other options go to `adapter.build_spec` (e.g. `warmup_s`, `retries`, `bins`, and
    `warm_instances`: pool -> instances running at time 0, by default a Plan's own).
    Monthly costs extrapolate the horizon's use to a 730 h month by `planner.model.accounting.bill`
    (jobs: per run, times runs a month).
    """
    from planner.sim.adapter import build_spec

    spec = build_spec(scenario, placement, seed=seed, **options)
    return Engine(spec, trace_path=trace_path, trace_sample=trace_sample, progress=progress).run()


__all__ = [
    "simulate", "SimResult", "Engine", "run", "SimSpec", "SiteSpec", "ComputeSpec", "LinkSpec", "InferenceSpec",
    "TrainingSpec", "FederatedSpec", "ArrivalSpec", "Stage", "constant", "linear",
]
