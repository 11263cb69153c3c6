"""A day of simulation: one run of the scenario's horizon per hour of the day, each fed by that
hour's arrivals (every daily profile started at the hour) and started with the instances the
placement runs then (`warm_instances_at(hour)`, as a Plan gives).

Why: a plan may buy a pool's instances by the hour of the day (a reserved base, on-demand or
spot instances above it that follow the daily profile). One run of `horizon_s` sees one hour and
bills that hour's instances all month; the month a plan buys is the day's hours, each 1/24 of
it. A day's monthly figures are therefore the mean of its hours' (each hour's run extrapolated
to a month, as `simulate` does), and its latency verdict is the worst hour's. A run shorter than
an hour is centred in it.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from planner.model.workloads import HOURS_PER_DAY
from planner.sim.result import SimResult


@dataclass(frozen=True)
class DayResult:
    """The runs of a day, by hour of the day (UTC)."""

    hours: dict[int, SimResult]

    def _mean(self, values: Iterable[float]) -> float:
        return sum(values) / len(self.hours)

    @property
    def monthly_cost_usd(self) -> float:
        """The month whose hours follow the day: the mean of each hour's monthly cost."""
        return self._mean(r.monthly_cost_usd for r in self.hours.values())

    @property
    def monthly_kgco2e(self) -> float:
        return self._mean(r.monthly_kgco2e for r in self.hours.values())

    def monthly_cost_by_pricing(self) -> pd.Series:
        """Monthly dollars of cloud instances by pricing model, over the day."""
        by = pd.concat([r.monthly_cost_by_pricing() for r in self.hours.values()], axis=1).fillna(0.0)
        return by.sum(axis=1) / len(self.hours)

    def summary(self) -> pd.DataFrame:
        """Each hour's `SimResult.summary()`, with its `hour` first."""
        return pd.concat([r.summary().assign(hour=h) for h, r in self.hours.items()], ignore_index=True) \
            .pipe(lambda f: f[["hour"] + [c for c in f.columns if c != "hour"]])

    def worst_hours(self) -> pd.DataFrame:
        """Per workload, the row of the hour with the highest p99 (the hour a latency SLO is
        judged at; hours without a completed request are left out)."""
        s = self.summary()
        s = s[pd.to_numeric(s["completed"], errors="coerce").fillna(0) > 0]
        if s.empty:
            return s
        s = s.assign(_p99=pd.to_numeric(s["p99_ms"], errors="coerce").fillna(-1.0))
        return s.loc[s.groupby("workload")["_p99"].idxmax()].drop(columns="_p99").reset_index(drop=True)

    @property
    def arrived(self) -> int:
        return sum(r.arrived for r in self.hours.values())

    @property
    def completed(self) -> int:
        return sum(r.completed for r in self.hours.values())

    def __repr__(self) -> str:
        return f"DayResult({len(self.hours)} hours, ${self.monthly_cost_usd:,.0f}/month)"


def simulate_day(scenario: Any, placement: Any, seed: int | None = 0, *, hours: Iterable[int] = range(HOURS_PER_DAY),
                 progress: Callable[[float], None] | None = None, **options: Any) -> DayResult:
    """Simulate `scenario` under `placement` once per hour in `hours` (each for the scenario's
    horizon, centred in that hour, started with the placement's `warm_instances_at(hour)` when it has
    them). `hours` defaults to the whole day; a subset is weighted equally, so it estimates the
    day only where its hours stand for the others. Other options as for `simulate`."""
    from planner.sim import simulate

    hours = sorted(set(hours))
    if not hours or any(not 0 <= h < HOURS_PER_DAY for h in hours):
        raise ValueError(f"hours must be a non-empty set of hours of the day (0-23), got {hours}")
    at = getattr(placement, "warm_instances_at", None)
    out: dict[int, SimResult] = {}
    horizon_s = options.get("horizon_s") or scenario.horizon_s
    # each run centred in its hour: within one segment of an hourly profile the rate is linear,
    # so the middle of the hour has its mean rate (the start would have one end's)
    offset_h = max(0.0, 0.5 - horizon_s / 7200.0)
    for i, h in enumerate(hours):
        run_opts = {**options, "start_hour": h + offset_h}
        if at is not None and "warm_instances" not in options:
            run_opts["warm_instances"] = at(h)
        out[h] = simulate(scenario, placement, seed=seed, **run_opts)
        if progress:
            progress((i + 1) / len(hours))
    return DayResult(out)
