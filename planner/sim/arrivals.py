"""Arrival processes as lazy generators of absolute arrival times (seconds, non-decreasing).

Each generator draws from its own `random.Random`, so streams are independent and a run is
reproducible from its seed. Nothing is generated ahead of need beyond a small bounded lookahead
(periodic with jitter), so a stream costs constant memory however long the run.

    >>> import random
    >>> g = poisson(random.Random(1), rate_per_s=10.0)
    >>> next(g) > 0
    True
"""
from __future__ import annotations

import heapq
import math
import random
from collections.abc import Callable, Iterable, Iterator, Sequence

DAY_S = 86400.0


def poisson(rng: random.Random, rate_per_s: float) -> Iterator[float]:
    """Exponential inter-arrival times at a constant rate."""
    if rate_per_s <= 0:
        return
    expo, t = rng.expovariate, 0.0
    while True:
        t += expo(rate_per_s)
        yield t


def periodic(rng: random.Random, rate_per_s: float, jitter_s: float = 0.0) -> Iterator[float]:
    """One arrival every 1/rate seconds from a random phase; with `jitter_s`, each arrival moves
    by a normal offset of that standard deviation (re-ordered through a small lookahead heap, so
    the rate stays exact and times never decrease)."""
    if rate_per_s <= 0:
        return
    period = 1.0 / rate_per_s
    phase = rng.random() * period
    if jitter_s <= 0:
        k = 0
        while True:
            yield phase + k * period
            k += 1
    # Offsets are clipped at 6 sigma, so once the next base time is 12 sigma past the heap's
    # smallest entry, nothing later can precede it.
    reach = 12.0 * jitter_s
    gauss, heap, k = rng.gauss, [], 0
    while True:
        base = phase + k * period
        while heap and heap[0] <= base - reach:
            yield max(0.0, heapq.heappop(heap))
        e = gauss(0.0, jitter_s)
        e = max(-6 * jitter_s, min(6 * jitter_s, e))
        heapq.heappush(heap, base + e)
        k += 1


def bursty(rng: random.Random, rate_low_per_s: float, rate_high_per_s: float,
           mean_low_s: float, mean_high_s: float) -> Iterator[float]:
    """Two-state Markov-modulated Poisson process: Poisson at the low or the high rate, the
    state held for an exponential time of the given mean; starts in its stationary state."""
    high = rng.random() < mean_high_s / (mean_low_s + mean_high_s)
    expo, t = rng.expovariate, 0.0
    while True:
        rate, dwell = (rate_high_per_s, mean_high_s) if high else (rate_low_per_s, mean_low_s)
        end = t + expo(1.0 / dwell)
        if rate > 0:
            while True:
                t += expo(rate)
                if t >= end:
                    break
                yield t
        t = end  # memoryless: restarting the exponential clock at the switch is exact
        high = not high


def diurnal(rng: random.Random, rate_per_s: float, profile: Sequence[float],
            start_hour: float = 0.0) -> Iterator[float]:
    """Poisson arrivals whose rate is `rate_per_s` times a daily profile: the profile's points
    are spread evenly over 24 h and linearly interpolated (cyclically). Exact, by thinning
    within each profile segment against that segment's peak rate."""
    n = len(profile)
    seg_s = DAY_S / n
    rates = [rate_per_s * p for p in profile] + [rate_per_s * profile[0]]
    if max(rates) <= 0:
        return
    offset = (start_hour * 3600.0) % DAY_S
    k = int(offset // seg_s)
    seg_start = k * seg_s - offset  # simulated time at which segment k began
    t = 0.0
    expo, uni = rng.expovariate, rng.random
    while True:
        i = k % n
        r0, r1 = rates[i], rates[i + 1]
        peak = max(r0, r1)
        seg_end = seg_start + seg_s
        if peak > 0:
            slope = (r1 - r0) / seg_s
            while True:
                t += expo(peak)
                if t >= seg_end:
                    break
                if uni() * peak <= r0 + slope * (t - seg_start):
                    yield t
        t = seg_end
        seg_start = seg_end
        k += 1


def trace(timestamps_s: Sequence[float] | Callable[[], Iterable[float]], loop: bool = True) -> Iterator[float]:
    """Replay recorded timestamps (seconds from the start); with `loop`, again and again, each
    pass shifted by the trace's span plus its mean gap. `timestamps_s` may be a sequence or a
    zero-argument callable returning a fresh iterable (to stream a large file)."""
    source = timestamps_s if callable(timestamps_s) else (lambda: timestamps_s)
    shift = 0.0
    while True:
        first = last = None
        count = 0
        for t in source():
            if first is None:
                first = t
            last = t
            count += 1
            yield t + shift
        if not loop or count < 2 or last is None or last <= first:
            return
        span = last - first
        shift += span + span / (count - 1)  # the next pass starts one mean gap after this one's end


GENERATORS: dict[str, Callable[..., Iterator[float]]] = {
    "poisson": poisson,
    "periodic": periodic,
    "bursty": bursty,
    "diurnal": diurnal,
}


def make(process: str, params: dict, rng: random.Random) -> Iterator[float]:
    """The generator for one stream of `process` with its `params` (see `ArrivalSpec`)."""
    if process == "trace":
        return trace(params["timestamps_s"], params.get("loop", True))
    try:
        gen = GENERATORS[process]
    except KeyError:
        raise ValueError(f"unknown arrival process '{process}' (one of {', '.join([*GENERATORS, 'trace'])})") from None
    return gen(rng, **params)


def mean_rate_per_s(process: str, params: dict) -> float:
    """Long-run mean arrival rate of a process (for checks and reports)."""
    if process in ("poisson", "periodic"):
        return params["rate_per_s"]
    if process == "bursty":
        lo, hi = params["mean_low_s"], params["mean_high_s"]
        return (params["rate_low_per_s"] * lo + params["rate_high_per_s"] * hi) / (lo + hi)
    if process == "diurnal":
        p = params["profile"]
        return params["rate_per_s"] * sum(p) / len(p)
    if process == "trace":
        ts = params["timestamps_s"]
        ts = list(ts() if callable(ts) else ts)
        span = ts[-1] - ts[0] if len(ts) > 1 else 0.0
        return (len(ts) - 1) / span if span > 0 else math.nan
    raise ValueError(f"unknown arrival process '{process}'")
