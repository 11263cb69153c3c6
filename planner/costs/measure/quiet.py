"""How busy other processes keep the cores, and a gate that waits for them to go quiet.

Timings on a shared machine only ever err high: other work steals cycles. The profiler waits for
idle cores before each timing and records the load it saw, and tests that compare a prediction
with a measurement wait here too.
"""
from __future__ import annotations

import os
import time


def _busy_s() -> float | None:
    """CPU seconds all processes have spent busy since boot (Linux /proc/stat), else None."""
    try:
        with open("/proc/stat") as fh:
            v = [int(x) for x in fh.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / os.sysconf("SC_CLK_TCK")


def _mine_s() -> float:
    """CPU seconds this process has spent (user + system)."""
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


Counters = tuple[float | None, float, float]


def load_counters() -> Counters:
    """What `load_since` needs to tell how busy other processes kept the cores from now on."""
    return _busy_s(), _mine_s(), time.perf_counter()


def load_since(before: Counters) -> float:
    """Cores other processes kept busy since `before` (0 where /proc/stat is missing)."""
    b0, m0, t0 = before
    b1 = _busy_s()
    if b0 is None or b1 is None:
        return 0.0
    return max((b1 - b0 - (_mine_s() - m0)) / max(time.perf_counter() - t0, 1e-6), 0.0)


def others_load(window_s: float = 0.25) -> float | None:
    """Cores kept busy by other processes over a short window in which this one sleeps (None
    where /proc/stat is missing)."""
    before = load_counters()
    if before[0] is None:
        return None
    time.sleep(window_s)
    return load_since(before)


class QuietGate:
    """Waits for a quiet machine before a timing: while other processes keep more than
    `max_cores` cores busy (read from /proc/stat while this process sleeps), wait, up to
    `max_wait_s`. On a shared machine this keeps timings comparable with a dedicated one; the
    time waited and the load at each timing are reported."""

    def __init__(self, max_cores: float = 0.3, max_wait_s: float = 20.0, budget_s: float = float("inf")):
        self.max_cores, self.max_wait_s, self.budget_s = max_cores, max_wait_s, budget_s
        self.waited_s = 0.0
        self.loud = 0  # timings taken without a quiet moment

    def wait(self) -> float:
        """Block until quiet (or the wait runs out); returns the other processes' load last seen."""
        start = time.perf_counter()
        while True:
            load = others_load()
            if load is None or load <= self.max_cores:
                break
            if time.perf_counter() - start > min(self.max_wait_s, self.budget_s - self.waited_s):
                self.loud += 1
                break
        self.waited_s += time.perf_counter() - start
        return load or 0.0
