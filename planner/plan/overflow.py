"""The edge's queue under an overflow rule, as the simulator runs it, solved as a Markov chain.

The system (`sim/compute.py`'s `Group` at batch 1, `sim/workload.py`'s `OverflowRouter`):
Poisson arrivals to `servers` identical servers that take one request at a time from one FIFO
queue; an arrival that finds every server busy and `queue_len` waiting goes to the secondary.
Service times have a mean of 1 here (time is counted in mean service times: the offered load
a = rate x mean service) and a coefficient of variation `service_cv`.

The chain: the service time is a phase-type distribution with the same mean and cv (Erlang-k;
a mix of Erlang-(k-1) and Erlang-k between two orders; two exponentials of balanced means
above cv 1), and a state is the number in the system and how many busy servers are in each
phase. The chain moves one level (number in the system) at a time, so it is solved level by
level (linear level reduction: one small dense solve per level, every term non-negative, so a
share of 1e-12 keeps its digits). A level holds C(k + c - 1, c) states for c busy servers in k
phases: a near-deterministic service on several servers needs more phases than that allows.
The chain is then solved at three Erlang orders within MAX_LEVEL_STATES and the logarithm of
each figure extrapolated, as a quadratic in the squared cv (1/k for Erlang-k), to the
service's own (2 servers, 9 waiting, cv 0.1: 0.02-2% above the Erlang-100 chain from 46% to
108% of the edge's capacity, the most at the least load). The simulator draws lognormal times:
the chain matches their mean and cv, not their shape.

Two figures per load (`Overflow`):
- `share`: of arrivals sent on, the time-average probability that the edge is full (PASTA);
- `episodes_per_s`: how often overflow starts anew, the rate of first overflows since the edge
  was last empty. The edge empties every few service times and starts afresh then, so on a
  pool's time scale (seconds) episodes come as a Poisson stream, each a burst of
  `requests_per_episode` within milliseconds: what `routing.kept_up_share` counts.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations

import numpy as np
from threadpoolctl import threadpool_limits

#: most states one level of the chain holds (the busy servers' phases; 2 servers: Erlang-12): a
#: load costs a dense solve of this size per level and per Erlang order, about 5 ms for a shop's edge
MAX_LEVEL_STATES = 80
#: loads of a day's profile are read off a geometric grid of this ratio (cubic interpolation
#: of the logarithms between its points, each solved once): within 0.1% of the chain at the point
LOAD_GRID_RATIO = 1.05
#: places to wait the chain holds (its cost grows with them): a longer queue reads as this one,
#: which changes the share only near the edge's capacity, by about 1 / MAX_ROOM of the requests
MAX_ROOM = 200


@dataclass(frozen=True)
class Overflow:
    """What an overflow rule sends on at arrivals of `rate_per_s`: the `share` of requests, and
    the `episodes_per_s` in which they come (bursts that start when the edge fills)."""

    rate_per_s: float
    share: float = 0.0
    episodes_per_s: float = 0.0

    @property
    def requests_per_episode(self) -> float:
        """Requests sent on per episode (1 or more; NaN where none are)."""
        return self.rate_per_s * self.share / self.episodes_per_s if self.episodes_per_s > 0 else math.nan

    def __repr__(self) -> str:
        return (f"Overflow({self.share:.3g} of {self.rate_per_s:g}/s, {self.episodes_per_s:.3g} episodes/s "
                f"of {self.requests_per_episode:.3g})")


def overflow(servers: int, rate_per_s: float, service_s: float, queue_len: int, service_cv: float = 1.0) -> Overflow:
    """The overflow of `servers` servers of mean service `service_s` (cv `service_cv`) with
    `queue_len` places to wait, at Poisson arrivals of `rate_per_s`: the chain at this load."""
    load = rate_per_s * service_s
    if load <= 0 or service_s <= 0:
        return Overflow(max(rate_per_s, 0.0))
    share, episodes = _figures(max(1, int(servers)), _room(queue_len), _cv2(service_cv), load)
    return Overflow(rate_per_s, share, episodes / service_s)


def overflow_share(servers: int, offered_load: float, queue_len: int, service_cv: float = 1.0) -> float:
    """Share of arrivals that find every one of `servers` servers busy and `queue_len` waiting,
    at offered load a = rate x mean service time. At `queue_len` 0 this is Erlang B, whatever the
    service distribution (insensitivity); with an exponential service it is M/M/c/(c+K)."""
    return overflow(servers, offered_load, 1.0, queue_len, service_cv).share


def overflow_by_rate(servers: int, rates_per_s: list[float], service_s: float, queue_len: int,
                     service_cv: float = 1.0) -> list[Overflow]:
    """`overflow` at each rate of a day's profile, read off the geometric grid of loads
    (LOAD_GRID_RATIO) that the chain is solved at once per edge (cached)."""
    c, k, cv2 = max(1, int(servers)), _room(queue_len), _cv2(service_cv)
    out = []
    for rate in rates_per_s:
        load = rate * service_s
        if load <= 0 or service_s <= 0:
            out.append(Overflow(max(rate, 0.0)))
            continue
        share, episodes = _on_grid(c, k, cv2, load)
        out.append(Overflow(rate, share, episodes / service_s))
    return out


# --------------------------------------------------------------------------- the grid of loads
def _on_grid(c: int, k: int, cv2: float, load: float) -> tuple[float, float]:
    """Both figures at `load`, by cubic interpolation of their logarithms in log load between
    the four nearest grid points (the chain's own figures where one is zero)."""
    x = math.log(load) / math.log(LOAD_GRID_RATIO)
    i = math.floor(x)
    if abs(x - round(x)) < 1e-9:
        return _grid_point(c, k, cv2, round(x))
    pts = [(j, _grid_point(c, k, cv2, j)) for j in range(i - 1, i + 3)]
    if any(v <= 0 for _, fig in pts for v in fig):
        return _figures(c, k, cv2, load)
    out = []
    for f in range(2):
        acc = 0.0
        for j, fig in pts:
            w = 1.0
            for m, _ in pts:
                if m != j:
                    w *= (x - m) / (j - m)
            acc += w * math.log(fig[f])
        out.append(math.exp(acc))
    return out[0], out[1]


@lru_cache(maxsize=1 << 14)
def _grid_point(c: int, k: int, cv2: float, j: int) -> tuple[float, float]:
    return _figures(c, k, cv2, LOAD_GRID_RATIO ** j)


# --------------------------------------------------------------------------- the chain
def _room(queue_len: int) -> int:
    return min(MAX_ROOM, max(0, int(queue_len)))


def _cv2(service_cv: float) -> float:
    return round(max(0.0, float(service_cv)) ** 2, 12)  # a cache key: the same cv reads the same


def _max_order(c: int) -> int:
    """The highest Erlang order whose level of `c` busy servers fits MAX_LEVEL_STATES."""
    k = 1
    while math.comb(k + c, c) <= MAX_LEVEL_STATES:
        k += 1
    return k


@lru_cache(maxsize=1 << 14)
def _figures(c: int, k: int, cv2: float, load: float) -> tuple[float, float]:
    """(share, episodes per mean service time) of the chain at offered `load`. The solves are
    small (at most MAX_LEVEL_STATES): on one BLAS thread, since threads that wait for busy
    cores made each 60 to 250 times slower on a loaded machine (0.3-1.3 s where 5 ms is due)."""
    with threadpool_limits(limits=1, user_api="blas"):
        return _chain_figures(c, k, cv2, load)


def _chain_figures(c: int, k: int, cv2: float, load: float) -> tuple[float, float]:
    top = _max_order(c)
    if cv2 * top >= 1.0 - 1e-9:  # the chain holds the fitted phases: exact for them
        return _solve(_blocks(c, _fit(cv2, top)), k, load)
    orders = sorted({top, max(1, top // 2), max(1, top // 4)})
    figs = [_solve(_blocks(c, _erlang(n)), k, load) for n in orders]
    if len(orders) == 1 or any(v <= 0 for fig in figs for v in fig):
        return figs[-1]  # a single order (many servers: exponential) or an underflow: as it reads
    xs = [1.0 / n for n in orders]
    return tuple(float(math.exp(np.polyval(np.polyfit(xs, [math.log(fig[f]) for fig in figs], len(xs) - 1), cv2)))
                 for f in range(2))


@dataclass(frozen=True)
class _Phases:
    """A phase-type time of mean 1: it starts in phase j with probability `start[j]`, moves from
    phase j to l at rate `moves[j, l]` and ends from phase j at rate `end[j]`."""

    key: tuple
    start: np.ndarray
    moves: np.ndarray
    end: np.ndarray

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other) -> bool:
        return isinstance(other, _Phases) and self.key == other.key


def _erlang(n: int) -> _Phases:
    return _fit(1.0 / n, n)


def _fit(cv2: float, max_order: int) -> _Phases:
    """Phases of mean 1 and squared cv `cv2`: Erlang-k at cv2 = 1/k, between two orders the mix
    of Erlang-(k-1) and Erlang-k of one phase rate (Tijms' fit), the exponential at 1, two
    exponentials of balanced means above; below 1 / `max_order`, the Erlang of that order."""
    if cv2 > 1.0 + 1e-12:
        p = 0.5 * (1.0 + math.sqrt((cv2 - 1.0) / (cv2 + 1.0)))
        return _Phases(("h2", cv2), np.array([p, 1 - p]), np.zeros((2, 2)), np.array([2 * p, 2 * (1 - p)]))
    k = min(max_order, max(1, math.ceil(1.0 / max(cv2, 1e-12) - 1e-9)))
    # the share of times that skip the first phase (k - 1 phases): 0 at cv2 = 1/k, 1 at 1/(k-1)
    skip = 0.0 if k == 1 or cv2 * k <= 1.0 else \
        (k * cv2 - math.sqrt(max(0.0, k * (1 + cv2) - k * k * cv2))) / (1 + cv2)
    rate = k - skip  # mean (k - skip) / rate = 1
    start = np.zeros(k)
    start[0] = 1.0 - skip
    if k > 1:
        start[1] = skip
    moves = np.zeros((k, k))
    for j in range(k - 1):
        moves[j, j + 1] = rate
    end = np.zeros(k)
    end[-1] = rate
    return _Phases(("erlang", k, round(skip, 12)), start, moves, end)


def _occupancies(p: int, n: int) -> list[tuple[int, ...]]:
    """Every way `n` busy servers fill `p` phases (counts per phase)."""
    out = []
    for bars in combinations(range(n + p - 1), p - 1):
        edges = (-1,) + bars + (n + p - 1,)
        out.append(tuple(edges[i + 1] - edges[i] - 1 for i in range(p)))
    return out


@dataclass(frozen=True)
class _Blocks:
    """The chain's pieces for `c` servers, by busy servers b = 0..c: within a level `local[b]`
    (phase moves) and `out[b]` (service rate out of each state), an arrival to an idle server
    `add[b]` (b -> b + 1), an end of service `drop[b]` (b -> b - 1, nobody waiting) and `swap`
    (all busy and someone waiting: the freed server starts the next request)."""

    c: int
    local: list
    out: list
    add: list
    drop: list
    swap: np.ndarray


@lru_cache(maxsize=64)
def _blocks(c: int, ph: _Phases) -> _Blocks:
    p = len(ph.start)
    levels = [_occupancies(p, b) for b in range(c + 1)]
    index = [{m: i for i, m in enumerate(lv)} for lv in levels]
    local, out, add, drop = [], [], [], []
    for b, lv in enumerate(levels):
        loc = np.zeros((len(lv), len(lv)))
        rate_out = np.zeros(len(lv))
        up = np.zeros((len(lv), len(levels[b + 1]))) if b < c else None
        down = np.zeros((len(lv), len(levels[b - 1]))) if b > 0 else None
        for i, m in enumerate(lv):
            for j, n in enumerate(m):
                if not n:
                    continue
                rate_out[i] += n * (ph.moves[j].sum() + ph.end[j])
                for l_ in np.nonzero(ph.moves[j])[0]:
                    loc[i, index[b][_shift(m, j, int(l_))]] += n * ph.moves[j, l_]
                if ph.end[j] > 0:
                    down[i, index[b - 1][_shift(m, j, None)]] += n * ph.end[j]
            if up is not None:
                for l_ in np.nonzero(ph.start)[0]:
                    up[i, index[b + 1][_shift(m, None, int(l_))]] += ph.start[l_]
        local.append(loc)
        out.append(rate_out)
        add.append(up)
        drop.append(down)
    full = levels[c]
    swap = np.zeros((len(full), len(full)))
    for i, m in enumerate(full):
        for j, n in enumerate(m):
            if n and ph.end[j] > 0:
                for l_ in np.nonzero(ph.start)[0]:
                    swap[i, index[c][_shift(_shift(m, j, None), None, int(l_))]] += n * ph.end[j] * ph.start[l_]
    return _Blocks(c, local, out, add, drop, swap)


def _shift(m: tuple[int, ...], src: int | None, dst: int | None) -> tuple[int, ...]:
    """Occupancy `m` with a server leaving phase `src` and one entering phase `dst` (None: none)."""
    v = list(m)
    if src is not None:
        v[src] -= 1
    if dst is not None:
        v[dst] += 1
    return tuple(v)


def _solve(bl: _Blocks, k: int, a: float) -> tuple[float, float]:
    """(share, episodes per mean service time) at offered load `a` with `k` places to wait.

    Stationary: from the top level L = c + k down, R_l = Up_(l-1) (-(Loc_l + R_(l+1) Dn_(l+1)))^-1
    and pi_l = pi_(l-1) R_l from pi_0 = 1. Episodes: h (the chance of an overflow before the
    edge is next empty) solves Loc h + Up h' + Dn h'' = 0 with a blocked arrival worth 1; from
    the top h_l = G_l h_(l-1) + g_l, so h_1 = g_1, and episodes = pi_0 x a x (start . h_1)."""
    c = bl.c
    top = c + k
    rs: list = [None] * (top + 1)
    r_next = g_mat = g_vec = None
    for lvl in range(top, 0, -1):
        b = min(lvl, c)
        local = bl.local[b] - np.diag(bl.out[b])
        with_arrival = local - a * np.eye(len(bl.out[b]))
        down = bl.drop[lvl] if lvl <= c else bl.swap
        up_from_below = a * (bl.add[lvl - 1] if lvl <= c else np.eye(len(bl.out[b])))
        m = -(local if lvl == top else with_arrival + r_next @ (bl.drop[lvl + 1] if lvl + 1 <= c else bl.swap))
        rs[lvl] = np.linalg.solve(m.T, up_from_below.T).T
        r_next = rs[lvl]
        if lvl == top:
            n = -with_arrival
            rhs = np.full(len(bl.out[b]), a)
        else:
            up = a * (bl.add[lvl] if lvl < c else np.eye(len(bl.out[b])))
            n = -(with_arrival + up @ g_mat)
            rhs = up @ g_vec
        if lvl > 1:
            sol = np.linalg.solve(n, np.column_stack([down, rhs]))
            g_mat, g_vec = sol[:, :-1], sol[:, -1]
        else:
            g_vec = np.linalg.solve(n, rhs)
    pi, total = np.ones(1), 1.0
    for lvl in range(1, top + 1):
        pi = pi @ rs[lvl]
        total += pi.sum()
    full = pi.sum()  # the top level's
    episodes = a * float(bl.add[0][0] @ g_vec) / total
    return float(full / total), float(episodes)
