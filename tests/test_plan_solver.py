"""The MILP against brute force on random small instances, and privacy as a hard constraint."""
from __future__ import annotations

import itertools
import math
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import planner
from planner.plan.assess import assess
from planner.plan.assess import pool_instances
from planner.plan.options import LEVELS, LINK_RHO, all_options
from planner.plan.solver import solve
from planner.scenario import parse_scenario

ROOT = Path(__file__).resolve().parent.parent

EDGE_HW = ["jetson-orin-nano-8gb", "jetson-orin-nx-16gb", "raspberry-pi-5", "hailo-8"]
CLOUD_HW = ["t4", "l4", "a10g"]
MODELS = ["mobilenet-v2", "resnet-18", "resnet-50", "yolov8n", "efficientnet-b0"]


@st.composite
def small_scenarios(draw):
    """2-3 edge sites and a cloud region, 2-3 inference workloads with random rates, SLOs and privacy."""
    n_edge = draw(st.integers(1, 2))
    sites = {}
    links = []
    for i in range(n_edge):
        sites[f"e{i}"] = {"kind": "edge", "region": draw(st.sampled_from(["eu", "us"])), "devices": [
            {"hardware": draw(st.sampled_from(EDGE_HW)), "count": draw(st.integers(1, 3)),
             "max_batch": draw(st.sampled_from([1, 4]))}]}
        links.append({"between": [f"e{i}", "cloud"], "network": draw(st.sampled_from(["fiber-wan", "broadband", "5g"])),
                      "uplink_mbps": draw(st.sampled_from([5, 20, 100]))})
    sites["cloud"] = {"kind": "cloud", "region": "us", "pools": [
        {"hardware": draw(st.sampled_from(CLOUD_HW)), "max_instances": draw(st.integers(1, 4)), "max_batch": 4,
         "min_instances": draw(st.integers(0, 1))}]}
    workloads = {}
    for j in range(draw(st.integers(2, 3))):
        workloads[f"w{j}"] = {
            "kind": "inference", "model": draw(st.sampled_from(MODELS)), "source": f"e{draw(st.integers(0, n_edge - 1))}",
            "arrival": {"process": "poisson", "rate_per_s": draw(st.sampled_from([1, 10, 50, 200]))},
            "slo": {"p99_ms": draw(st.sampled_from([20, 100, 1000]))},
            "privacy": draw(st.sampled_from(["any", "region", "site"])),
            "precisions": draw(st.sampled_from([["int8"], ["fp16"], ["int8", "fp16"], ["fp32", "int8"]])),
        }
    objective = draw(st.sampled_from(["cost", "energy"]))
    budget = draw(st.sampled_from([None, 200.0, 5000.0]))
    data = {"name": "rand", "objective": objective, "sites": sites, "links": links, "workloads": workloads}
    if budget:
        data["budget_usd_per_month"] = budget
    return parse_scenario(data, file="random.yaml")


def _resource_costs(res, load):
    """A used device group costs all its devices kept a month; pools bill ceil(instance-load)
    instances, and their minimum whether used or not: the cost model the MILP must reproduce
    exactly."""
    usd = joules = 0.0
    for r, v in load.items():
        rr = res[r]
        if rr.kind == "device" and v > 0:
            b = rr.month_bill(servers=rr.servers)
            usd, joules = usd + b.total_usd, joules + b.energy_j
    for r, n in pool_instances(res, load).items():
        b = res[r].month_bill(servers=n)
        usd, joules = usd + b.total_usd, joules + b.energy_j
    return usd, joules


def brute_force(sc):
    """Every combination of options; the MILP's rules checked directly; the best objective."""
    res, opts = all_options(sc)
    names = list(opts)
    best = (math.inf, None)
    for combo in itertools.product(*(opts[n] for n in names)):
        if any(o.infeasible for o in combo):
            continue
        load: dict[str, float] = {}
        for o in combo:
            for r, v in o.loads.items():
                load[r] = load.get(r, 0.0) + v
        ok = True
        for r, v in load.items():
            rr = res[r]
            users = [o for o in combo if r in o.loads]
            if rr.kind == "device":
                top = min(o.max_level(r) for o in users)
                level = max([u for u in LEVELS if u <= top + 1e-12], default=0.0)
                ok &= v <= rr.capacity * level + 1e-7
            elif rr.kind == "pool":
                ok &= all(o.max_level(r) > 0 for o in users) and v <= rr.capacity + 1e-7
            else:
                ok &= v <= LINK_RHO * rr.capacity + 1e-7
        if not ok:
            continue
        usd, joules = _resource_costs(res, load)
        cost = sum(o.variable_usd_per_month for o in combo) + usd
        if sc.budget_usd_per_month is not None and cost > sc.budget_usd_per_month + 1e-6:
            continue
        value = (sum(o.energy_j_per_month for o in combo) + joules) / 3.6e6 if sc.objective == "energy" else cost
        if value < best[0] - 1e-9:
            best = (value, dict(zip(names, combo)))
    return best


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_scenarios())
def test_solver_matches_brute_force(sc):
    res, opts = all_options(sc)
    sol = solve(res, opts, objective=sc.objective, budget_usd_per_month=sc.budget_usd_per_month)
    value, combo = brute_force(sc)
    if combo is None:
        assert sol.unplaced, "solver placed everything where brute force says no placement is feasible"
        return
    assert not sol.unplaced, f"solver left out {sol.unplaced} ({sol.message}) but brute force found {value}"
    load: dict[str, float] = {}
    for o in sol.chosen.values():
        for r, v in o.loads.items():
            load[r] = load.get(r, 0.0) + v
    usd, joules = _resource_costs(res, load)
    if sc.objective == "energy":
        got = (sum(o.energy_j_per_month for o in sol.chosen.values()) + joules) / 3.6e6
    else:
        got = sum(o.variable_usd_per_month for o in sol.chosen.values()) + usd
    assert math.isclose(got, value, rel_tol=1e-4, abs_tol=1e-3), (got, value)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_scenarios())
def test_privacy_never_violated(sc):
    p = planner.plan(sc)
    for name, choice in p.placement.items():
        assert choice.site in sc.allowed_sites(name), f"{name} at {choice.site} breaks privacy {sc.workloads[name].privacy}"
        w = sc.workloads[name]
        if w.privacy == "site":
            assert choice.site == w.source


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_scenarios())
def test_plan_meets_its_own_constraints(sc):
    """Whatever the solver returns, the assessment at the actual load finds no violation."""
    p = planner.plan(sc)
    if not p.placement:
        assert p.conflicts, "an infeasible plan must say which constraints conflict"
        return
    res, _ = all_options(sc)
    a = assess(res, p.options)
    assert a.feasible, (a.violations, a.plan_violations)
    # what could not be placed is listed, each with its reason; the rest is a feasible plan
    left_out = set(sc.workloads) - set(p.placement)
    assert p.feasible == (not left_out)
    assert all(any(c.startswith(f"{w}:") or c.startswith(f"{w} ") for c in p.conflicts) for w in left_out)


def test_dominance_kept_per_kind_is_the_dominance_of_each_workload():
    """Workloads alike but for name and SLO share their kind's options as copies; the solver
    judges dominance once per kind, and that is what judging each workload's own list gives."""
    from planner.plan.options import all_options
    from planner.plan.solver import _undominated, undominated

    sc = parse_scenario({
        "name": "kinds", "sites": {
            "shop": {"kind": "edge", "region": "eu", "devices": [{"hardware": "jetson-orin-nano-8gb", "count": 2}]},
            "cloud": {"kind": "cloud", "region": "eu", "pools": [{"hardware": "l4"}, {"hardware": "t4"}]}},
        "links": [{"between": ["shop", "cloud"], "network": "broadband"}],
        "workloads": {f"cam{i}": {"kind": "inference", "model": "resnet-50", "source": "shop",
                                  "arrival": {"process": "poisson", "rate_per_s": 2}, "precisions": ["int8", "fp16"],
                                  "slo": {"p99_ms": [80, 200, 1000][i % 3]}} for i in range(6)}})
    _, opts = all_options(sc)
    copies, kinds = 0, {}
    for name, os_ in opts.items():
        feasible = [o for o in os_ if not o.infeasible]
        copies += all(o.proto is not None for o in feasible)
        for _ in range(2):  # the second call reads the kind's record
            assert [id(o) for o in undominated(feasible, kinds)] == [id(o) for o in _undominated(feasible)], name
    assert copies >= 5  # one kind: the first workload's options built, the others copies


@pytest.mark.parametrize("example", ["retail_stores.yaml", "hospital_imaging.yaml", "smart_factory.yaml",
                                     "fleets/vehicle_telematics.yaml"])
def test_explanations_reuse_the_solvers_dominance(example):
    """Explanations judge dominance among a workload's feasible alternatives (the chosen one
    left out); they start from what the solver found (`Solution.dominance`) and must reach the
    same sets as judging every option afresh: checked option by option against a fresh pass."""
    from planner.plan.solver import _undominated, undominated

    path = ROOT / "scenarios" / example
    text = path.read_text()  # the vans' fleet cut to 40 a coast; the others as they are
    p = planner.plan(parse_scenario(text.replace("count: 1200", "count: 40")) if "count: 1200" in text
                     else planner.load_scenario(path))
    assert p._dominance and any(v for v in p._dominance.values())  # some options were found dominated
    for name, o in p.options.items():
        if name not in p._all_options:
            continue
        feasible = [a for a in p._all_options[name] if not a.infeasible and a.key() != o.key()]
        assert [id(a) for a in undominated(feasible, None, p._dominance)] == [id(a) for a in _undominated(feasible)], name
    from planner.plan.explain import explain

    fresh = explain(p.system, p._all_options, p.options, only=p._all_options)  # dominance judged afresh
    assert fresh and all(p.explanations[name] == e for name, e in fresh.items())


def _transit_scenario(direct: bool):
    """A store in region us whose only link reaches an eu cloud, joined to a us cloud by a
    backbone; with `direct`, a link of its own to the us cloud too."""
    links = [{"between": ["store", "cloud-eu"], "network": "fiber-wan"},
             {"between": ["cloud-eu", "cloud-us"], "network": "fiber-wan", "rtt_ms": 80}]
    if direct:
        links.append({"between": ["store", "cloud-us"], "network": "fiber-wan", "rtt_ms": 20})
    return parse_scenario(yaml.safe_dump({
        "name": "transit", "objective": "cost",
        "sites": {"store": {"kind": "edge", "region": "us"},
                  "cloud-eu": {"kind": "cloud", "region": "eu", "pools": [{"hardware": "t4"}]},
                  "cloud-us": {"kind": "cloud", "region": "us", "pools": [{"hardware": "t4"}]}},
        "links": links,
        "workloads": {"cam": {"kind": "inference", "model": "resnet-18", "source": "store", "privacy": "region",
                              "arrival": {"process": "poisson", "rate_per_s": 5}, "slo": {"p99_ms": 1000}}},
    }))


def test_region_privacy_holds_along_the_route():
    """Privacy `region` says how far the raw input may travel: a route through another region's
    site leaves the region even when it ends in the source's own."""
    p = planner.plan(_transit_scenario(direct=False))
    assert not p.placement and p.conflicts
    reasons = {o.site: o.infeasible.text for o in p._all_options["cam"]}
    assert "crosses 'cloud-eu' (region eu)" in reasons["cloud-us"], reasons
    assert "crosses" not in reasons["cloud-eu"]  # that one is simply in another region
    placement, notes = planner.baseline_placement(_transit_scenario(direct=False), "cloud")
    assert "cam" not in placement and "privacy" in notes["cam"], notes
    p = planner.plan(_transit_scenario(direct=True))  # its own link: the input stays in us
    assert p.placement["cam"].site == "cloud-us"


def _distinct_fleet(tmp_path: Path, members: int) -> planner.Scenario:
    """A fleet whose members' uplinks, RTTs and rates are drawn apart: each is decided on its own."""
    data = {
        "name": "drawn", "seed": 3, "objective": "cost",
        "sites": {
            "store": {"kind": "edge", "region": "eu", "count": members,
                      "devices": [{"hardware": "jetson-orin-nano-8gb", "count": 1, "max_batch": 2}]},
            "cloud": {"kind": "cloud", "region": "eu", "pools": [{"hardware": "l4", "max_instances": 50},
                                                                 {"hardware": "t4", "max_instances": 50}]},
        },
        "links": [{"between": ["store", "cloud"], "network": "broadband",
                   "uplink_mbps": {"dist": "lognormal", "mean": 20, "cv": 0.9},
                   "rtt_ms": {"dist": "uniform", "low": 8, "high": 40}}],
        "workloads": {f"w{j}": {"kind": "inference", "model": m, "source": "store",
                                "arrival": {"process": "poisson", "rate_per_s": {"dist": "lognormal", "mean": 2, "cv": 0.5}},
                                "input_bytes": 100_000, "output_bytes": 2000, "slo": {"p99_ms": 500},
                                "precisions": ["int8", "fp16"]}
                      for j, m in enumerate(["mobilenet-v2", "resnet-18", "yolov8n"])},
    }
    f = tmp_path / "drawn.yaml"
    f.write_text(yaml.safe_dump(data))
    return planner.load_scenario(f)


def test_a_relaxation_with_whole_numbers_is_the_milps_optimum(tmp_path: Path, monkeypatch) -> None:
    """At fleet size the solver solves the LP relaxation first and keeps it where it comes out in
    whole numbers (then it is the MILP's optimum too); a fractional one is left to the MILP and an
    infeasible one means the MILP is too. Forced onto every size, each plan costs what the MILP's
    does, on examples where the relaxation is whole and where it is not, and a fleet of distinct
    members gets the same decision per member."""
    import planner.plan.solver as solver_module

    examples = ["smart_factory", "shop_overflow", "retail_stores", "llm_boundary", "hospital_imaging"]
    scenarios = [planner.load_scenario(ROOT / "scenarios" / f"{name}.yaml") for name in examples]
    scenarios.append(_distinct_fleet(tmp_path, 40))
    by_milp = [planner.plan(sc) for sc in scenarios]
    relaxed: list[bool] = []
    real_milp = solver_module.milp

    def counted(c, **kwargs):
        if not kwargs["integrality"].any():
            relaxed.append(True)
        return real_milp(c, **kwargs)

    monkeypatch.setattr(solver_module, "RELAXATION_FIRST_COLUMNS", 0)
    monkeypatch.setattr(solver_module, "milp", counted)
    for sc, want in zip(scenarios, by_milp):
        got = planner.plan(sc)
        assert got.status == want.status
        assert got.monthly_cost_usd == pytest.approx(want.monthly_cost_usd, rel=1e-6)
    assert len(relaxed) >= len(scenarios)  # every plan tried its relaxation first
    fleet, fleet_milp = got, by_milp[-1]
    assert fleet.placement == fleet_milp.placement
