"""A day of simulation: each hour run from its own arrivals and the instances the plan runs then,
its monthly figures the mean of its hours'."""
from __future__ import annotations

from pathlib import Path

import pytest

import planner
from planner.sim.day import DayResult

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def chat():
    sc = planner.load_scenario(ROOT / "scenarios" / "llm_mixed_pricing.yaml")
    return sc, planner.plan(sc)


def test_each_hour_starts_with_the_instances_the_plan_buys_then(chat):
    sc, p = chat
    (pool, mix), = p.pool_mixes.items()
    night, noon = p.warm_instances_at(3)[pool], p.warm_instances_at(12)[pool]
    assert night == mix.n_reserved == 1  # the reserved base carries the night
    assert noon == 4 > night  # the day's peak: the base and three on-demand instances above it
    # what the plan bills above the base, hour by hour, is what those instances add up to
    above_h = sum(p.warm_instances_at(h)[pool] - mix.n_reserved for h in range(24))
    assert above_h == pytest.approx(mix.hourly_instance_h_per_day)


def test_a_day_is_the_mean_of_its_hours_and_judged_at_its_worst(chat):
    sc, p = chat
    day = planner.simulate_day(sc, p, seed=sc.seed, hours=[3, 12])
    assert isinstance(day, DayResult) and sorted(day.hours) == [3, 12]
    night, noon = day.hours[3], day.hours[12]
    assert noon.arrived > 3 * night.arrived  # the profile: 1.0 at noon, 0.15 at night
    assert noon.monthly_cost_usd > night.monthly_cost_usd
    assert day.monthly_cost_usd == pytest.approx((night.monthly_cost_usd + noon.monthly_cost_usd) / 2)
    assert day.monthly_cost_by_pricing().sum() == pytest.approx(
        (night.monthly_cost_by_pricing().sum() + noon.monthly_cost_by_pricing().sum()) / 2)
    s = day.summary()
    assert list(s.columns)[0] == "hour" and sorted(s["hour"]) == [3, 12]
    worst = day.worst_hours()
    assert list(worst["workload"]) == ["chat"]
    assert worst["p99_ms"].iloc[0] == pytest.approx(s["p99_ms"].max())
    assert day.arrived == night.arrived + noon.arrived


def test_hours_outside_the_day_are_refused(chat):
    sc, p = chat
    for hours in ([], [24], [-1]):
        with pytest.raises(ValueError, match="hours of the day"):
            planner.simulate_day(sc, p, hours=hours)


def test_a_placement_given_by_hand_runs_each_hour_from_the_pools_minimum():
    sc = planner.load_scenario(ROOT / "scenarios" / "shop_overflow.yaml")
    placement = {"cameras": {"site": "shop", "hardware": "jetson-orin-nx-16gb", "precision": "fp16"}}
    day = planner.simulate_day(sc, placement, seed=1, hours=[4, 18], horizon_s=60)
    assert day.hours[4].arrived == 0 < day.hours[18].arrived  # the shop is shut at 04:00


@pytest.mark.slow
def test_the_cli_simulates_a_day_and_judges_each_workload_at_its_worst_hour():
    import json

    from typer.testing import CliRunner

    from planner.cli import app

    res = CliRunner().invoke(app, ["simulate", str(ROOT / "scenarios" / "llm_mixed_pricing.yaml"), "--day",
                                   "--format", "json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert sorted({r["hour"] for r in rows}) == list(range(24))
    assert "each workload at its worst hour; the day's monthly cost $" in res.stderr
    bad = CliRunner().invoke(app, ["simulate", str(ROOT / "scenarios" / "llm_mixed_pricing.yaml"), "--day",
                                   "--trace", "t.parquet"])
    assert bad.exit_code == 2 and "--trace" in bad.output
