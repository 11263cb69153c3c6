"""Limits on the work a scenario or a study may ask for, checked before any work starts.

The same check serves the CLI, the API and studies: a scenario past a limit is a `ScenarioError`
naming the field, the value and the limit, never a silent cut and never a run that hangs for
minutes or overflows. The limits are generous for real architecture questions (a month of
simulated time, millions of requests, ten thousand devices) and refuse what would not finish:

- work per simulation: total requests (sum over workloads of mean rate x horizon), job runs,
  failures and burst switches, each with the field that drives it;
- sizes: device counts, pool instances, batch sizes, queue capacities, tokens per request;
- every number: finite and at most `MAX_NUMBER` (so `rate_per_s: 1e308` or `count: 10**30`
  cannot overflow a float or loop in a queueing formula);
- studies: at most `MAX_STUDY_RUNS` runs unless `max_runs` says more.

    check_limits(scenario, file="f.yaml")                  # before plan, simulate or run
    check_limits(scenario, file="f.yaml", simulate=False)  # planning only: no horizon work
    check_study_size(n_runs, max_runs=None)                # before a study expands its runs
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel

from planner.errors import PlannerError, ScenarioError

#: Longest simulated horizon: a month covers daily and weekly cycles and a weekly retraining.
MAX_HORIZON_S = 31 * 86_400.0
#: Most requests one simulation may generate (about a minute of simulation on one core).
MAX_SIMULATED_REQUESTS = 5_000_000
#: Highest arrival rate of one workload.
MAX_RATE_PER_S = 1_000_000.0
#: Most runs of one training or federated job, failures, or burst switches in one simulation.
MAX_PERIODIC_EVENTS = 1_000_000
MAX_JOB_RUNS = 10_000
#: Devices in one group (`count`) and in the whole scenario.
MAX_DEVICES_PER_GROUP = 10_000
MAX_DEVICES = 100_000
#: Instances of one cloud pool (`min_instances`, `max_instances`).
MAX_INSTANCES = 10_000
MAX_BATCH = 4_096
MAX_QUEUE_CAPACITY = 10_000_000
#: Tokens in one prompt or answer (longer than any context window in the catalog).
MAX_TOKENS = 1_000_000
#: Federated rounds of one job.
MAX_ROUNDS = 100_000
#: Largest value of any numeric field (bytes, GB, dollars, milliseconds...): past it a figure is
#: a typo or an attack, and products of such figures overflow.
MAX_NUMBER = 1e12
#: Seeds may be any 63-bit number.
MAX_SEED = 2**63 - 1
#: Slowest link: below 1 kbit/s a single request takes hours and transfers pile up without end.
MIN_LINK_MBPS = 1e-3
#: Most runs of a study unless `max_runs` / `--max-runs` raises it.
MAX_STUDY_RUNS = 10_000

#: Fields with a tighter bound than MAX_NUMBER: name -> (limit, what to do instead).
FIELD_LIMITS: dict[str, tuple[float, str]] = {
    "count": (MAX_DEVICES_PER_GROUP, "split the devices into groups or sites"),
    "min_instances": (MAX_INSTANCES, ""),
    "max_instances": (MAX_INSTANCES, ""),
    "max_batch": (MAX_BATCH, ""),
    "queue_capacity": (MAX_QUEUE_CAPACITY, "leave it out for an unbounded queue"),
    "rate_per_s": (MAX_RATE_PER_S, ""),
    "rate_low_per_s": (MAX_RATE_PER_S, ""),
    "rate_high_per_s": (MAX_RATE_PER_S, ""),
    "horizon_s": (MAX_HORIZON_S, "a month of simulated time is the most"),
    "prompt_tokens": (MAX_TOKENS, ""),
    "output_tokens": (MAX_TOKENS, ""),
    "mean": (MAX_TOKENS, ""),
    "max": (MAX_TOKENS, ""),
    "min": (MAX_TOKENS, ""),
    "rounds": (MAX_ROUNDS, ""),
    "seed": (MAX_SEED, ""),
}
#: Fields with a lower bound above zero.
FIELD_MINIMA: dict[str, float] = {"uplink_mbps": MIN_LINK_MBPS, "downlink_mbps": MIN_LINK_MBPS}
#: Parts of the scenario not checked here: a declared sweep's values are checked per variant.
SKIP = {"sweep", "source_file", "description", "name"}


class LimitError(ScenarioError):
    """A scenario past a limit: `field` names it, the message gives the value and the limit."""


def _numbers(scenario: Any) -> Iterator[tuple[Any, str, Any]]:
    """(where, field name, value) of every number in a validated scenario; `where` is a chain of
    (parent, step) pairs that `_path` turns into the dotted path (built only for a number that
    fails: a walk of 10,000 workloads builds no strings)."""
    stack: list[tuple[Any, Any, str]] = [(scenario, None, "")]
    while stack:
        node, where, name = stack.pop()
        if isinstance(node, BaseModel):
            values = node.__dict__  # the fields' values (getattr is slower at fleet size); not cached properties
            items: Any = ((f, values.get(f), f) for f in type(node).model_fields if f not in SKIP)
        elif isinstance(node, dict):
            items = ((k, v, name) for k, v in node.items())
        elif isinstance(node, (list, tuple)):
            items = ((i, v, name) for i, v in enumerate(node))
        else:
            continue
        for step, value, field in items:
            if value is None or isinstance(value, (str, bool)):
                continue
            if isinstance(value, (int, float)):
                yield (where, step), field, value
            else:
                stack.append((value, (where, step), field))


def _path(where: Any) -> str:
    steps = []
    while where is not None:
        where, step = where
        steps.append(step)
    out = ""
    for step in reversed(steps):
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else str(step))
    return out


def _fmt(x: float) -> str:
    return f"{x:,}" if isinstance(x, int) and abs(x) < 10**15 else f"{x:.3g}"


def check_numbers(scenario: Any, file: str) -> None:
    """Every number finite and within its field's bound (`FIELD_LIMITS`, else `MAX_NUMBER`)."""
    for where, name, value in _numbers(scenario):
        limit, hint = FIELD_LIMITS.get(name, (MAX_NUMBER, ""))
        if isinstance(value, float) and not math.isfinite(value):
            raise LimitError(file, _path(where), f"{value} is not a finite number")
        if abs(value) > limit:
            raise LimitError(file, _path(where), f"{_fmt(value)} exceeds the limit of {_fmt(limit)}", hint)
        low = FIELD_MINIMA.get(name)
        if low is not None and 0 <= value < low:
            raise LimitError(file, _path(where), f"{_fmt(value)} is below the limit of {_fmt(low)}")


def _mean_rate(arrival: Any) -> float:
    try:
        return float(arrival.mean_rate_per_s)
    except (ValueError, OSError, ZeroDivisionError, OverflowError):
        return 0.0  # a trace that cannot be read was reported when the scenario was loaded


def check_sizes(scenario: Any, file: str) -> None:
    """Devices in the whole scenario (each is a server in the simulation and a queue in the plan)."""
    total = 0
    for name, site in scenario.sites.items():
        total += sum(d.count for d in site.devices)
        if total > MAX_DEVICES:
            raise LimitError(file, f"sites.{name}.devices", f"the scenario's devices number {total:,} or more, "
                                f"over the limit of {MAX_DEVICES:,}")


def check_work(scenario: Any, file: str) -> None:
    """The events one simulation of `scenario` would generate: requests, job runs, failures."""
    horizon_s = float(scenario.horizon_s)
    total = 0.0
    for name, w in scenario.workloads.items():
        arrival = getattr(w, "arrival", None)
        if arrival is not None:
            rate = _mean_rate(arrival)
            field = f"workloads.{name}.arrival"
            if rate > MAX_RATE_PER_S:  # a trace (or a burst) faster than any rate field allows
                raise LimitError(file, field, f"mean arrival rate {_fmt(rate)}/s exceeds the limit of "
                                    f"{_fmt(MAX_RATE_PER_S)}/s")
            total += rate * horizon_s
            for dwell in ("mean_low_s", "mean_high_s"):
                mean_s = getattr(arrival, dwell, None)
                if mean_s and horizon_s / mean_s > MAX_PERIODIC_EVENTS:
                    raise LimitError(file, f"{field}.{dwell}", f"{_fmt(mean_s)} s switches state "
                                        f"{_fmt(horizon_s / mean_s)} times in horizon_s={_fmt(horizon_s)}, over the "
                                        f"limit of {MAX_PERIODIC_EVENTS:,}")
        every_h = getattr(w, "every_h", None)
        if every_h and horizon_s / (every_h * 3600) > MAX_JOB_RUNS:
            raise LimitError(file, f"workloads.{name}.every_h", f"{_fmt(every_h)} h means "
                                f"{_fmt(horizon_s / (every_h * 3600))} runs in horizon_s={_fmt(horizon_s)}, over the "
                                f"limit of {MAX_JOB_RUNS:,}")
    if total > MAX_SIMULATED_REQUESTS:
        rates = {n: _mean_rate(w.arrival) for n, w in scenario.workloads.items() if getattr(w, "arrival", None)}
        top = max(rates, key=rates.get)
        raise LimitError(file, f"workloads.{top}.arrival",
                            f"{_fmt(total)} simulated requests (mean rates x horizon_s={_fmt(horizon_s)}) exceed the "
                            f"limit of {MAX_SIMULATED_REQUESTS:,}", "shorten horizon_s or lower the rates")
    failures = 0.0
    for name, site in scenario.sites.items():
        for i, d in enumerate(site.devices):
            if d.mtbf_h:
                failures += d.count * horizon_s / (d.mtbf_h * 3600)
                if failures > MAX_PERIODIC_EVENTS:
                    raise LimitError(file, f"sites.{name}.devices[{i}].mtbf_h", f"{_fmt(d.mtbf_h)} h gives "
                                        f"{_fmt(failures)} or more failures in horizon_s={_fmt(horizon_s)}, over the "
                                        f"limit of {MAX_PERIODIC_EVENTS:,}")
    from planner.model.system import pool_up_share, site_up_share  # the simulator's outages of a pool

    for name, site in scenario.sites.items():
        for i, p in enumerate(site.pools):
            (a_pool, mttr_pool_h), (a_site, mttr_site_h) = pool_up_share(site, p), site_up_share(site)
            a = a_pool * a_site
            outages = horizon_s * (1 - a) / (max(mttr_pool_h, mttr_site_h) * 3600 * a) if a < 1 else 0.0
            if outages > MAX_PERIODIC_EVENTS:
                field = f"sites.{name}.pools[{i}].availability" if p.availability is not None else f"sites.{name}.availability"
                raise LimitError(file, field, f"availability {_fmt(a)} gives {_fmt(outages)} outages in "
                                    f"horizon_s={_fmt(horizon_s)}, over the limit of {MAX_PERIODIC_EVENTS:,}")
    for i, link in enumerate(scenario.links):
        if link.mtbf_h and horizon_s / (link.mtbf_h * 3600) > MAX_PERIODIC_EVENTS:
            raise LimitError(file, f"links[{i}].mtbf_h", f"{_fmt(link.mtbf_h)} h gives "
                                f"{_fmt(horizon_s / (link.mtbf_h * 3600))} failures in horizon_s={_fmt(horizon_s)}, "
                                f"over the limit of {MAX_PERIODIC_EVENTS:,}")


def check_limits(scenario: Any, *, file: str | None = None, simulate: bool = True) -> None:
    """Raise `ScenarioError` naming the field when `scenario` asks for more than the limits allow.

    `simulate=False` checks what planning needs (numbers, sizes); the default also checks the
    work one simulation over `horizon_s` would do. `file` defaults to the scenario's own.
    """
    # A scenario found within the limits stays so (it is not edited after loading): `run` plans
    # and simulates it several times, the CLI checks it before `plan` does, and walking a
    # 50,000-workload scenario each time costs. (`file` only names it in an error.)
    done = getattr(scenario, "__dict__", {}).setdefault("_limits_checked", set())
    where = file if file is not None else (getattr(scenario, "source_file", "") or "<scenario>")
    if "numbers" not in done:
        check_numbers(scenario, where)
        check_sizes(scenario, where)
        done.add("numbers")
    if simulate and "work" not in done:
        check_work(scenario, where)
        done.add("work")


def check_study_size(n_runs: int, max_runs: int | None = None, what: str = "--max-runs") -> None:
    """Refuse a study of more than `max_runs` runs (default `MAX_STUDY_RUNS`) before it starts."""
    limit = MAX_STUDY_RUNS if max_runs is None else max_runs
    if n_runs > limit:
        raise StudyTooLarge(f"the study has {_fmt(n_runs)} runs, over the limit of {_fmt(limit)}; "
                            f"pass {what} {n_runs} (max_runs={n_runs} in Python) to run it")


class StudyTooLarge(PlannerError):
    """A study of more runs than `max_runs` allows."""


__all__ = ["check_limits", "LimitError", "check_numbers", "check_sizes", "check_work", "check_study_size", "StudyTooLarge",
           "MAX_HORIZON_S", "MAX_SIMULATED_REQUESTS", "MAX_RATE_PER_S", "MAX_DEVICES_PER_GROUP", "MAX_DEVICES",
           "MAX_INSTANCES", "MAX_STUDY_RUNS", "MAX_NUMBER"]
