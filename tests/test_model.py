"""The one model of the system: the planner and the simulator price a plan by the same rule,
read the same resolved scenario, and import nothing of each other."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

import planner
from planner.model.accounting import MonthlyBill, Tariff, Usage, bill
from planner.model.ids import ResourceId
from planner.model.system import resolve
from planner.units import HOURS_PER_MONTH, J_PER_KWH, SECONDS_PER_MONTH

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted(p.stem for p in (ROOT / "scenarios").glob("*.yaml"))


def _imports(package: str) -> set[str]:
    """Every module imported anywhere under planner/<package>/."""
    out = set()
    for f in (ROOT / "planner" / package).rglob("*.py"):
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                out.add(node.module)
            elif isinstance(node, ast.Import):
                out.update(a.name for a in node.names)
    return out


def test_planner_and_simulator_import_nothing_of_each_other():
    assert not {m for m in _imports("plan") if m.startswith("planner.sim")}
    assert not {m for m in _imports("sim") if m.startswith("planner.plan")}
    assert not {m for m in _imports("model") if m.startswith(("planner.plan", "planner.sim"))}


def test_bill_is_linear_and_scales_observed_use_to_a_month():
    t = Tariff(usd_per_server_hour=2.0, billed_as="instances", idle_w=50, active_w=250, egress_usd_per_gb=0.09)
    hour = bill(t, Usage(server_s=3600, busy_s=1800, bytes_sent=1e9, span_s=3600))
    # one instance held an hour, half of it busy, 1 GB out, observed over an hour -> a month of that
    assert hour.instances_usd == pytest.approx(2.0 * HOURS_PER_MONTH)
    assert hour.egress_usd == pytest.approx(0.09 * HOURS_PER_MONTH)
    assert hour.energy_j == pytest.approx((50 * 3600 + 200 * 1800) * HOURS_PER_MONTH)
    assert hour.amortisation_usd == hour.electricity_usd == 0.0  # cloud: power is in the price
    edge = Tariff(usd_per_server_hour=0.1, idle_w=10, active_w=30, electricity_usd_per_kwh=0.2)
    b = bill(edge, Usage(server_s=SECONDS_PER_MONTH, busy_s=SECONDS_PER_MONTH / 2))
    assert b.amortisation_usd == pytest.approx(0.1 * HOURS_PER_MONTH)
    assert b.electricity_usd == pytest.approx((10 * SECONDS_PER_MONTH + 20 * SECONDS_PER_MONTH / 2) / J_PER_KWH * 0.2)
    assert (hour + b).total_usd == pytest.approx(hour.total_usd + b.total_usd)
    assert (b * 3).energy_j == pytest.approx(3 * b.energy_j)
    assert sum([b, b], MonthlyBill()).total_usd == pytest.approx(2 * b.total_usd)


def test_resolved_system_has_typed_ids_routes_and_candidates():
    sc = planner.load_scenario(ROOT / "scenarios" / "smart_factory.yaml")
    system = resolve(sc)
    assert resolve(sc) is system  # resolved once
    dev = ResourceId.device("plant", 0)
    assert system[dev].hardware == "jetson-orin-nx-16gb" and str(dev) == "dev:plant:0"
    r = system.route("plant", "aws-us-east-1")
    assert r.sites == ("plant", "aws-us-east-1") and all(h.kind == "link" for h in r.hops)
    assert system[r.hops[0]].capacity == 200  # the scenario's uplink_mbps
    back = system.route("aws-us-east-1", "plant")
    assert system[back.hops[0]].tariff.egress_usd_per_gb > 0 and system[r.hops[0]].tariff.egress_usd_per_gb == 0
    assert dict(system.candidate_sites("inspection")) == {"plant": True, "aws-us-east-1": True}  # privacy: any
    assert dict(system.candidate_sites("ppe-detection")) == {"plant": True, "aws-us-east-1": False}  # privacy: site


@pytest.mark.slow
@pytest.mark.parametrize("name", EXAMPLES)
def test_plan_and_simulation_bill_the_same_month(name):
    """The planner's monthly cost of its plan and the simulator's monthly cost of the same plan
    agree within 3%, jobs and federated rounds included: for the plan `planner.run` settles on
    (the one every face reports), and for the first plan wherever simulation confirmed it."""
    sc = planner.load_scenario(ROOT / "scenarios" / f"{name}.yaml")
    result = planner.run(sc)
    assert result.sim is not None
    by_hour = {str(r): m.label for r, m in result.plan.assessment.mixes.items() if m.hourly_instance_h_per_day}
    if by_hour:
        # One run of the horizon sees one hour and bills its instances all month: the month the plan
        # buys is the day's hours, so the whole day is simulated, each hour from the plan's instances then.
        day = planner.simulate_day(sc, result.plan, seed=sc.seed)
        by = {h: round(r.monthly_cost_usd) for h, r in day.hours.items()}
        # shop_overflow: plan $100.0, day $102.2 at its seed (seeds 1-9: $94.4-113.4; an instance kept
        # up for sparse overflow cycles over minutes, two to four times in a 10-minute run: bench/README.md)
        assert day.monthly_cost_usd == pytest.approx(result.plan.monthly_cost_usd, rel=0.03), f"by hour: {by}"
        return
    assert result.sim.monthly_cost_usd == pytest.approx(result.plan.monthly_cost_usd, rel=0.03)
    if len(result.rounds) == 1:  # the first plan is the final one
        return
    # llm_assistant: chat's first plan (one L4 at int4) misses its SLO in simulation, whose
    # autoscaler then adds instances the plan does not bill; `run` plans it tighter, and agrees.
    first = planner.plan(sc)
    sim = planner.simulate(sc, first, seed=sc.seed)
    assert sim.monthly_cost_usd > first.monthly_cost_usd  # the miss costs instances, never saves


@pytest.mark.parametrize("name", ["smart_factory", "vehicle_fleet", "llm_mixed_pricing"])
def test_a_month_from_unit_bills_is_the_bill_of_that_use(name):
    """Options are priced from `unit_bills` (bill is linear): the same figures as `bill` itself."""
    from planner.model.accounting import month_of

    system = resolve(planner.load_scenario(ROOT / "scenarios" / f"{name}.yaml"))
    for r in system.resources.values():
        for servers, busy, bytes_per_s in ((1.0, 0.0, 0.0), (0.0, 0.37, 0.0), (0.0, 0.0, 2.5e5), (3.0, 1.2, 1e6)):
            want = bill(r.tariff, Usage(server_s=servers * SECONDS_PER_MONTH, busy_s=busy * SECONDS_PER_MONTH,
                                        bytes_sent=bytes_per_s * SECONDS_PER_MONTH))
            got = month_of(r.tariff, servers, busy, bytes_per_s)
            assert got == pytest.approx(want, rel=1e-12, abs=1e-9), (r.id, servers, busy, bytes_per_s)
            if not bytes_per_s:
                assert r.month_bill(servers, busy) == pytest.approx(want, rel=1e-12, abs=1e-9)


def test_planning_pauses_the_garbage_collector_and_restores_it():
    import gc

    sc = planner.load_scenario(ROOT / "scenarios" / "smart_factory.yaml")
    planner.plan(sc)  # the first call imports the planner's modules (with the collector on, as any import)
    seen = []
    gc.callbacks.append(lambda phase, info: seen.append(phase))
    try:
        assert gc.isenabled()
        planner.plan(sc).table()
        assert not seen  # no collection ran while planning and explaining
        assert gc.isenabled()
        gc.disable()
        try:
            planner.plan(sc)
            assert not gc.isenabled()  # left as the caller set it
        finally:
            gc.enable()
    finally:
        gc.callbacks.pop()
    assert gc.isenabled()
