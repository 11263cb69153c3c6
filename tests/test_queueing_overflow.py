"""The edge's queue under an overflow rule (`plan/overflow.py`) and the instance time its
episodes keep a pool up (`model/routing.py: kept_up_share`): against cases computed by hand
and against what the simulator measures."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import yaml

import planner
from planner.model.routing import kept_up_share, queue_limit
from planner.plan.overflow import _blocks, _erlang, _solve, overflow, overflow_by_rate, overflow_share
from planner.plan.queueing import blocking_prob
from planner.scenario import parse_scenario

ROOT = Path(__file__).resolve().parents[1]
#: the shop's edge (scenarios/shop_overflow.yaml): two Jetson Orin Nano boxes at YOLOv5s fp16,
#: service cv 0.1, `queue_ms: 20` (9 places to wait), and its pool's cold start
NANOS, CV, COLD_START_S = 2, 0.1, 90.0


def nano_service_s() -> float:
    return planner.estimate("yolov5s", "jetson-orin-nano-8gb", precision="fp16", batch=1).latency_ms / 1000


def mg1k_blocking(rho: float, room: int, arrivals) -> float:
    """M/G/1/(1 + room) by its chain at departures: one leaves i - 1 + A behind (A arrivals in a
    service, `arrivals(j)` = P(A = j)), capped at the room; the time-average chance of a full
    system is then 1 - 1 / (pi_0 + rho) (Gross & Harris, the M/G/1/K queue)."""
    n = room + 1
    p = np.zeros((n, n))
    for i in range(n):
        base = max(i - 1, 0)  # from empty, the next one served is the arrival that ends the idle time
        for j in range(base, n - 1):
            p[i, j] = arrivals(j - base)
        p[i, n - 1] = 1 - p[i, :n - 1].sum()
    eq = p.T - np.eye(n)
    eq[-1] = 1.0
    pi = np.linalg.solve(eq, np.eye(n)[-1])
    return 1 - 1 / (pi[0] + rho)


# --------------------------------------------------------------------------- the share, by hand
@pytest.mark.parametrize("cv", [0.0, 0.1, 0.5, 1.0, 2.0])
@pytest.mark.parametrize("servers, load", [(1, 0.5), (2, 1.0), (4, 3.0), (8, 10.0)])
def test_no_room_to_wait_is_erlang_b_whatever_the_service(servers, load, cv):
    assert overflow_share(servers, load, 0, cv) == pytest.approx(blocking_prob(servers, load, 0), rel=1e-9)


@pytest.mark.parametrize("servers, load, room", [(1, 0.8, 5), (2, 1.2, 9), (3, 2.5, 4), (2, 3.0, 20), (4, 1.0, 30)])
def test_exponential_service_is_m_m_c_k(servers, load, room):
    assert overflow_share(servers, load, room, 1.0) == pytest.approx(blocking_prob(servers, load, room), rel=1e-9)


@pytest.mark.parametrize("rho", [0.3, 0.5, 0.9, 1.5])
@pytest.mark.parametrize("room", [1, 4, 9])
def test_one_deterministic_server_is_m_d_1_k(rho, room):
    """Deterministic service lies beyond any Erlang order the chain holds: it is extrapolated
    from three orders, and lands within 0.02% of M/D/1/K."""
    exact = mg1k_blocking(rho, room, lambda j: math.exp(-rho) * rho ** j / math.factorial(j))
    assert overflow_share(1, rho, room, 0.0) == pytest.approx(exact, rel=2e-4)


@pytest.mark.parametrize("rho", [0.3, 0.9, 1.5])
def test_one_erlang_server_is_exact(rho):
    """cv 0.5 is Erlang-4, a chain it holds: exact (M/E4/1/K, negative-binomial arrivals per service)."""
    exact = mg1k_blocking(rho, 6, lambda j: math.comb(j + 3, j) * (4 / (4 + rho)) ** 4 * (rho / (4 + rho)) ** j)
    assert overflow_share(1, rho, 6, 0.5) == pytest.approx(exact, rel=1e-8)


def test_a_steadier_service_overflows_less():
    shares = [overflow_share(2, 1.4, 9, cv) for cv in (0.0, 0.1, 0.5, 1.0, 2.0)]
    assert shares == sorted(shares) and shares[0] < shares[-1] / 3


def test_extrapolated_orders_agree_with_a_chain_that_holds_the_service():
    """2 servers at cv^2 = 1/30: the chain holds Erlang-12, so it extrapolates from orders 3, 6
    and 12; Erlang-30 itself, solved directly (465 states a level), agrees within 1%."""
    for load in (0.9, 1.3, 1.8, 2.2):
        direct = _solve(_blocks(2, _erlang(30)), 6, load)
        got = overflow(2, load, 1.0, 6, math.sqrt(1 / 30))
        assert got.share == pytest.approx(direct[0], rel=1e-2)
        assert got.episodes_per_s == pytest.approx(direct[1], rel=1e-2)


def test_a_day_of_rates_reads_the_chain_off_its_grid():
    service_s = nano_service_s()
    rates = list(np.linspace(150.0, 520.0, 41))
    for grid, direct in zip(overflow_by_rate(NANOS, rates, service_s, 9, CV), (overflow(NANOS, r, service_s, 9, CV) for r in rates)):
        assert grid.share == pytest.approx(direct.share, rel=1e-3)
        assert grid.episodes_per_s == pytest.approx(direct.episodes_per_s, rel=1e-3)
    assert overflow_by_rate(NANOS, [0.0], service_s, 9, CV)[0].share == 0.0


# --------------------------------------------------------------------------- episodes, by hand
@pytest.mark.parametrize("load", [0.2, 1.0, 3.0])
def test_episodes_of_one_server_without_room(load):
    """One server, no room: each busy period is one service, and it starts an episode when
    anyone arrives during it: a / (1 + a) services per service time, times 1 - E[e^(-a S)]."""
    busy = load / (1 + load)
    assert overflow(1, load, 1.0, 0, 0.0).episodes_per_s == pytest.approx(busy * -math.expm1(-load), rel=2e-4)
    assert overflow(1, load, 1.0, 0, 1.0).episodes_per_s == pytest.approx(busy * load / (1 + load), rel=1e-9)


@pytest.mark.parametrize("load, room", [(0.5, 3), (0.9, 9), (1.6, 4)])
def test_episodes_of_m_m_1_k_by_gamblers_ruin(load, room):
    """M/M/1/N (N = 1 + room): the chance h_n of an overflow before the queue empties is
    C (1 - a^-n) (the ruin problem's harmonic function; at N, (1 + a) h_N = a + h_(N-1) sets C);
    episodes = pi_0 x a x h_1."""
    n = room + 1
    c = load / (load - load ** -n)
    h1 = c * (1 - 1 / load)
    pi0 = (1 - load) / (1 - load ** (n + 1))
    got = overflow(1, load, 1.0, room, 1.0)
    assert got.episodes_per_s == pytest.approx(pi0 * load * h1, rel=1e-9)
    assert got.requests_per_episode >= 1.0


# --------------------------------------------------------------------------- against the simulator
#: the shop's edge at a constant Poisson rate, 3600 s from seed 1 (`python bench/routing.py --sparse`):
#: load -> (share sent on, episodes a second, share of the time the pool kept an instance up)
SIMULATED = {0.6: (4.687e-5, 0.009167, 0.5169), 0.65: (1.585e-4, 0.0275, 0.7651), 0.7: (4.952e-4, 0.07611, 0.9002)}


@pytest.mark.parametrize("load", sorted(SIMULATED))
def test_share_and_episodes_agree_with_the_simulated_shop(load):
    """Within three standard errors of the simulated counts (episodes: Poisson; the share: its
    episodes' count, since requests come in bursts)."""
    share, episodes, _ = SIMULATED[load]
    service_s = nano_service_s()
    got = overflow(NANOS, load * NANOS / service_s, service_s, 9, CV)
    rel = 3 / math.sqrt(episodes * 3600)
    assert got.share == pytest.approx(share, rel=rel)
    assert got.episodes_per_s == pytest.approx(episodes, rel=rel)


@pytest.mark.parametrize("load", sorted(SIMULATED))
def test_an_instance_is_kept_up_by_episodes_not_requests(load):
    """The pool's up time from the planned episodes is within 0.04 of the simulated one; counted
    as single requests at the simulated overflow rate it reads 0.03-0.12 high (more quiet windows
    are broken than bursts would break)."""
    share, episodes, up = SIMULATED[load]
    service_s = nano_service_s()
    rate = load * NANOS / service_s
    got = overflow(NANOS, rate, service_s, 9, CV)
    assert kept_up_share(got.episodes_per_s, COLD_START_S) == pytest.approx(up, abs=0.04)
    assert kept_up_share(rate * share, COLD_START_S) > kept_up_share(episodes, COLD_START_S) + 0.02


def test_the_shop_at_80_percent_agrees_with_a_live_simulation():
    """A short run at 80% of the Nanos' capacity (about 140 episodes): share and episodes within
    three standard errors of its counts."""
    service_s = nano_service_s()
    d = yaml.safe_load((ROOT / "scenarios" / "shop_overflow.yaml").read_text())
    rate = 0.8 * NANOS / service_s
    d["horizon_s"] = 300
    d["workloads"]["cameras"]["arrival"] = {"process": "poisson", "rate_per_s": rate}
    sc = parse_scenario(d)
    edge = {"site": "shop", "hardware": "jetson-orin-nano-8gb", "precision": "fp16"}
    q = planner.evaluate(sc, {"cameras": {**edge, "secondary": {"site": "aws-eu-west-1", "hardware": "l4",
                                                                  "precision": "fp16"}}})
    r = planner.simulate(sc, q, seed=3).summary().set_index("workload").loc["cameras"]
    limit = queue_limit(20, None, NANOS, service_s)
    got = overflow(NANOS, rate, service_s, limit, CV)
    assert r["secondary_share"] == pytest.approx(got.share, rel=3 / math.sqrt(got.episodes_per_s * 300))


def test_a_lightly_loaded_single_server_skips_erlang_c_with_the_same_answer() -> None:
    """`wait_quantile_s` answers a single server below the quantile's tail without Erlang C (a
    fleet member's pool instance, each at its own utilisation, missed the cache every time): the
    answer must be the recursion's, up to the boundary."""
    from planner.plan.queueing import _wait_quantile_s, wait_quantile_s

    for q in (0.99, 0.95, 0.999):
        edge = 1 - q
        for u in [0.0, 1e-9, edge * 0.5, edge * 0.98, edge * 0.99, edge * 0.999, edge, edge * 1.001, 0.5]:
            for servers in (0, 1, 2):
                assert wait_quantile_s(servers, u, 0.02, q, 0.3) == _wait_quantile_s(servers, u, 0.02, q, 0.3)
    assert wait_quantile_s(1, 0.5, 0.02) > 0.0  # above the tail the wait is Erlang C's
