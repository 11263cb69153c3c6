"""When a deferrable run emits least: a training job released at `start_hour` may start up to
`window_h` later (and must still meet its deadline); over a grid's hourly intensity profile, the
start hour whose run draws the cleanest mean intensity wins. The planner prices a run's emissions
by it; without an hourly profile every start emits alike (the yearly figure) and nothing moves.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

HOURS_PER_DAY = 24


def mean_intensity(hourly: Sequence[float], t0_h: float, duration_h: float) -> float:
    """The mean of a 24-hour intensity profile (hour 0 = 00:00-01:00 UTC, repeating daily) over
    [t0_h, t0_h + duration_h]; a run of no duration draws the intensity of the hour it falls in."""
    if len(hourly) != HOURS_PER_DAY:
        raise ValueError(f"an hourly profile has {HOURS_PER_DAY} figures, got {len(hourly)}")
    if duration_h <= 0:
        return float(hourly[int(math.floor(t0_h)) % HOURS_PER_DAY])
    total, t, end = 0.0, t0_h, t0_h + duration_h
    while t < end - 1e-12:  # piecewise constant: whole or part hours
        nxt = min(end, math.floor(t) + 1.0)
        total += hourly[int(math.floor(t)) % HOURS_PER_DAY] * (nxt - t)
        t = nxt
    return total / duration_h


@dataclass(frozen=True)
class Window:
    """The chosen start of a deferrable run: `delay_h` after its release, at `start_hour` of the
    day (UTC), drawing `gco2e_per_kwh` on average while it runs."""

    delay_h: int
    start_hour: float
    gco2e_per_kwh: float


def cleanest_start(hourly: Sequence[float], release_hour: float, window_h: float, run_h: float,
                   latest_delay_h: float) -> Window:
    """The whole-hour delay, from 0 to the window (and no later than `latest_delay_h`, what the
    deadline leaves), at which a run of `run_h` hours has the lowest mean intensity; the earliest
    such start on a tie, so a flat profile runs at release."""
    last = int(math.floor(max(0.0, min(window_h, latest_delay_h)) + 1e-9))
    best: Window | None = None
    for d in range(last + 1):
        g = mean_intensity(hourly, release_hour + d, run_h)
        if best is None or g < best.gco2e_per_kwh - 1e-9:
            best = Window(d, (release_hour + d) % HOURS_PER_DAY, g)
    return best
