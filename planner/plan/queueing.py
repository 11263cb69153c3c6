"""Closed-form queueing approximations the planner uses to predict p99 latency under load."""
from __future__ import annotations

import math
from functools import lru_cache


def erlang_c(servers: int, offered_load: float) -> float:
    """Probability that an arrival waits in an M/M/c queue (Erlang C), load a = lambda/mu."""
    c, a = servers, offered_load
    if a <= 0:
        return 0.0
    if a >= c:
        return 1.0
    # Erlang B by its stable recursion, then C from B.
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    rho = a / c
    return b / (1 - rho + rho * b)


def wait_quantile_s(servers: int, utilization: float, service_s: float, q: float = 0.99, service_cv: float = 0.0) -> float:
    """The q-quantile of queueing delay at `servers` servers of mean service `service_s`.

    M/M/c gives P(W > t) = C * exp(-(c*mu - lambda) t); the wait scales by (1 + cv^2) / 2
    (Kingman's correction) for service less variable than exponential, e.g. M/D/c at cv = 0.
    Returns inf at or above saturation.
    """
    # One server waits with probability C = utilisation: one lightly loaded (a fleet member's
    # pool instance, mostly) has no q-quantile wait. With 1% to spare, so that the recursion's
    # last bits cannot disagree; every member's own rate misses the cache below.
    if servers <= 1 and 0 <= utilization < (1 - q) * 0.99:
        return 0.0
    return _wait_quantile_s(servers, utilization, service_s, q, service_cv)


@lru_cache(maxsize=1 << 16)  # many workloads share a device group's servers, service time and level
def _wait_quantile_s(servers: int, utilization: float, service_s: float, q: float, service_cv: float) -> float:
    if utilization >= 1:
        return math.inf
    if utilization <= 0 or service_s <= 0:
        return 0.0
    c = max(1, servers)
    p_wait = erlang_c(c, utilization * c)
    if p_wait <= 1 - q:
        return 0.0
    rate_gap_per_s = c * (1 - utilization) / service_s
    return math.log(p_wait / (1 - q)) / rate_gap_per_s * (1 + service_cv**2) / 2


def mean_wait_s(servers: int, utilization: float, service_s: float, service_cv: float = 0.0) -> float:
    """Mean queueing delay (Erlang C with Kingman's variability correction)."""
    if utilization >= 1:
        return math.inf
    c = max(1, servers)
    p_wait = erlang_c(c, utilization * c)
    return p_wait * service_s / (c * (1 - utilization)) * (1 + service_cv**2) / 2


def ps_transfer_s(size_bytes: float, bandwidth_mbps: float, utilization: float) -> float:
    """Mean time of one transfer on a processor-sharing link at `utilization` (M/G/1-PS: S / (1 - rho))."""
    if size_bytes <= 0:
        return 0.0
    if utilization >= 1:
        return math.inf
    return size_bytes * 8 / (bandwidth_mbps * 1e6) / (1 - utilization)


def blocking_prob(servers: int, offered_load: float, waiting_room: int) -> float:
    """Probability that an arrival finds M/M/c/(c+K) full: `servers` busy and `waiting_room`
    waiting, at offered load a = lambda/mu (any a, overload included). K = 0 is Erlang B,
    exact for any service distribution (insensitivity)."""
    c, a, k = max(1, servers), offered_load, max(0, waiting_room)
    if a <= 0:
        return 0.0
    # log-weights of states 0..c+k, normalised in log space so that overload does not overflow
    logs = [0.0]
    for n in range(1, c + k + 1):
        logs.append(logs[-1] + math.log(a) - math.log(min(n, c)))
    top = max(logs)
    z = sum(math.exp(x - top) for x in logs)
    return math.exp(logs[-1] - top) / z
