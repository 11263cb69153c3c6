"""Kept for old imports: the profiler lives in `planner.costs.measure.profiler`."""
from __future__ import annotations

from planner.costs.measure.profiler import main, profile, write_profile
from planner.costs.measure.quiet import QuietGate
from planner.costs.measure.runtime import nchwc_block
from planner.costs.measure.session import feeds, low_mean, session, threads, time_session

__all__ = ["main", "profile", "write_profile", "QuietGate", "nchwc_block", "feeds", "low_mean", "session", "threads",
           "time_session"]

if __name__ == "__main__":
    raise SystemExit(main())
