"""A training job with a `window_h` runs in the cleanest hours of its grid's hourly profile
(issue 16): answers computable by hand."""
from __future__ import annotations

import pytest

import planner
from planner.errors import ScenarioError
from planner.model.carbon import cleanest_start, mean_intensity
from planner.scenario import parse_scenario

#: a grid at 500 gCO2e/kWh except 02:00-06:00 UTC at 100 (the architect's figures)
NIGHT_CLEAN = [500.0] * 2 + [100.0] * 4 + [500.0] * 18


def test_mean_intensity_and_cleanest_start_by_hand():
    assert mean_intensity(NIGHT_CLEAN, 1.5, 1.0) == pytest.approx((500 * 0.5 + 100 * 0.5) / 1.0)
    assert mean_intensity(NIGHT_CLEAN, 23.0, 4.0) == pytest.approx((500 * 3 + 100) / 4)  # wraps past midnight
    # released at 22:00 with 8 h of window: a 2.5 h run is cheapest from 02:00 (4 h later), all at 100
    w = cleanest_start(NIGHT_CLEAN, 22.0, 8.0, 2.5, latest_delay_h=24.0)
    assert (w.delay_h, w.start_hour, w.gco2e_per_kwh) == (4, 2.0, pytest.approx(100.0))
    # the deadline leaves only 2 h of delay: from 00:00 the run sees 2 h at 500, then 0.5 h at 100
    w = cleanest_start(NIGHT_CLEAN, 22.0, 8.0, 2.5, latest_delay_h=2.0)
    assert (w.delay_h, w.gco2e_per_kwh) == (2, pytest.approx((500 * 2 + 100 * 0.5) / 2.5))
    # a flat profile runs at release
    assert cleanest_start([300.0] * 24, 22.0, 8.0, 2.5, 24.0).delay_h == 0


def _lab(**job) -> dict:
    return {
        "name": "window", "horizon_s": 600, "seed": 1,
        "sites": {"lab": {"kind": "edge", "grid": {"gco2e_per_kwh": 300, "hourly_gco2e_per_kwh": NIGHT_CLEAN},
                          "devices": [{"hardware": "jetson-agx-orin-64gb"}]}},
        "workloads": {"retrain": {"kind": "training", "model": "resnet-18", "source": "lab", "dataset_gb": 1,
                                  "epochs": 1, "every_h": 24, "deadline_h": 12, "start_hour": 22, **job}},
    }


def test_a_job_with_a_window_runs_in_the_cleanest_hours():
    windowed = planner.plan(parse_scenario(_lab(window_h=8)))
    plain = planner.plan(parse_scenario(_lab()))
    o_win, o_plain = windowed.options["retrain"], plain.options["retrain"]
    assert o_win.detail["job_h"] < 4  # the clean hours hold the whole run
    # the run's energy is the same; it is drawn at 100 g/kWh (02:00-06:00) rather than at the
    # yearly 300 (an edge site: no PUE)
    run_kwh = o_win.bill.energy_kwh
    assert run_kwh == pytest.approx(o_plain.bill.energy_kwh) and run_kwh > 0
    assert o_plain.bill.kgco2e == pytest.approx(run_kwh * 0.300)
    assert o_win.bill.kgco2e == pytest.approx(run_kwh * 0.100)
    # the device's idle draw, all day long, stays at the yearly figure: the plans differ by the run alone
    b_win, b_plain = windowed.assessment.bills["retrain"], plain.assessment.bills["retrain"]
    assert b_plain.kgco2e - b_win.kgco2e == pytest.approx(run_kwh * 0.200)
    assert "starts at 02:00 UTC" in windowed.table().set_index("workload").loc["retrain", "reason"]


def test_an_hourly_profile_has_24_figures():
    data = _lab(window_h=8)
    data["sites"]["lab"]["grid"]["hourly_gco2e_per_kwh"] = [100.0] * 23
    with pytest.raises(ScenarioError, match=r"24, got 23 in sites\.lab\.grid\.hourly_gco2e_per_kwh"):
        parse_scenario(data)


def test_the_simulation_counts_a_windowed_run_at_its_planned_hours():
    sc = parse_scenario(_lab(window_h=8))
    p = planner.plan(sc)
    assert p.job_start_hours == {"retrain": pytest.approx(2.0)}
    run = planner.simulate(sc, p, seed=0).summary().set_index("workload").loc["retrain"]
    # the run's emissions a month, as planned: its energy at 100 g/kWh (the device's idle draw is the group's)
    assert run.kgco2e_per_month == pytest.approx(p.options["retrain"].bill.kgco2e, rel=0.05)
