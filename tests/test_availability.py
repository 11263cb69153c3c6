"""Availability as a constraint (issue 15): sourced cloud SLAs, `slo.availability`, a path's
availability from every resource on it, a fallback at the source, and the simulator's outages
and fallback agreeing with the plan. Every expected figure below is computed by hand."""
from __future__ import annotations


import pytest
import yaml

import planner
from planner import catalog
from planner.errors import ScenarioError
from planner.model.system import resolve
from planner.scenario import parse_scenario

#: the plant-cloud link fails every 99 h for 1 h: up 99/100 = 0.99 of the time
LINK = {"between": ["plant", "cloud"], "network": "fiber-wan", "uplink_mbps": 200, "downlink_mbps": 1000,
        "rtt_ms": 20, "mtbf_h": 99, "mttr_h": 1}


def scenario(floor: float | None = 0.995, fallback: dict | None = None, region: float = 0.999,
             link: dict | None = None, edge: dict | None = None, horizon_s: float = 600, p99_ms: float = 200,
             rate_per_s: float = 20) -> dict:
    """A plant whose on-site server (a 2-socket Xeon, ~$970/month amortised) competes with a T4
    pool (one instance, $384/month) in a region of availability `region` over `LINK`. The workload
    runs at fp16; a Hailo-8 at the plant (int8 only, ~$3/month amortised) can serve it only as
    an int8 fallback."""
    slo = {"p99_ms": p99_ms} | ({} if floor is None else {"availability": floor})
    w = {"kind": "inference", "model": "yolov8n", "source": "plant", "arrival": {"process": "poisson", "rate_per_s": rate_per_s},
         "input_bytes": 100000, "output_bytes": 1000, "slo": slo, "precisions": ["fp16"]}
    if fallback is not None:
        w["fallback"] = fallback
    return {
        "name": "availability", "horizon_s": horizon_s, "seed": 3, "objective": "cost",
        "sites": {
            "plant": {"kind": "edge", "devices": [
                {"hardware": "xeon-8592-2s", "count": 1},
                edge or {"hardware": "hailo-8", "count": 1, "mtbf_h": 199, "mttr_h": 1}]},
            "cloud": {"kind": "cloud", "provider": "aws", "availability": region,
                      "pools": [{"hardware": "t4", "min_instances": 0, "max_instances": 4, "cold_start_s": 60}]},
        },
        "links": [link or LINK],
        "workloads": {"line": w},
    }


def load(d: dict):
    return parse_scenario(yaml.safe_dump(d))


#: yolov8n at int8 on the plant's Hailo-8 (named: the server would otherwise be the first that runs int8)
FALLBACK = {"precision": "int8", "hardware": "hailo-8"}
CLOUD = {"line": {"site": "cloud", "hardware": "t4", "precision": "fp16"}}


# ------------------------------------------------------------------ catalog and resolution
def test_cloud_slas_are_sourced_with_a_basis():
    df = catalog.table("availability")
    assert set(df["provider"]) == {"aws", "gcp", "azure"} and set(df["scope"]) == {"region", "instance"}
    assert df["source"].str.startswith("https://").all()
    assert set(df["basis"]) <= {"sla", "measured", "assumed"} and (df["mttr_basis"] == "assumed").all()
    assert catalog.availability("aws", "region").availability == 0.9999
    assert catalog.availability("aws", "instance").availability == 0.995
    assert catalog.availability("gcp", "instance").availability == 0.999


def test_each_resource_gets_its_availability():
    d = scenario()
    d["sites"]["solo"] = {"kind": "cloud", "provider": "aws", "pools": [{"hardware": "t4", "max_instances": 1}]}
    d["links"].append({"between": ["plant", "solo"], "network": "fiber-wan"})
    system = resolve(load(d))
    hailo = system.compute_at("plant")[1]
    assert hailo.availability == pytest.approx(199 / 200)  # MTBF / (MTBF + MTTR), one device
    assert system.compute_at("plant")[0].availability == 1.0  # no mtbf_h: never fails
    assert system.compute_at("cloud")[0].availability == 1.0  # several instances: the region's figure covers them
    assert system.compute_at("solo")[0].availability == 0.995  # one instance: AWS's instance-level SLA
    assert system.site_availability["cloud"][0] == 0.999  # the site's own `availability:`
    assert system.site_availability["solo"][0] == 0.9999  # AWS's region-level SLA
    assert system.site_availability["plant"][0] == 1.0
    assert system[system.link_id(0, "plant")].availability == pytest.approx(0.99)


def test_a_device_group_is_up_while_any_device_is():
    d = scenario(edge={"hardware": "hailo-8", "count": 3, "mtbf_h": 9, "mttr_h": 1})
    assert resolve(load(d)).compute_at("plant")[1].availability == pytest.approx(1 - 0.1 ** 3)


@pytest.mark.parametrize("value", [0, 1, 1.5, -0.2])
def test_slo_availability_is_a_fraction_strictly_between_0_and_1(value):
    d = scenario()
    d["workloads"]["line"]["slo"]["availability"] = value
    with pytest.raises(ScenarioError) as e:
        load(d)
    assert "workloads.line.slo.availability" in str(e.value)


def test_fallback_needs_a_device_at_the_source_that_runs_it():
    with pytest.raises(ScenarioError) as e:
        load(scenario(fallback={"precision": "int8", "hardware": "l4"}))
    assert "workloads.line.fallback.hardware" in str(e.value) and "plant" in str(e.value)
    d = scenario(fallback=FALLBACK)
    d["sites"]["plant"]["devices"] = []
    d["workloads"]["line"]["privacy"] = "any"
    with pytest.raises(ScenarioError) as e:
        load(d)
    assert "workloads.line.fallback" in str(e.value) and "no devices" in str(e.value)
    with pytest.raises(ScenarioError) as e:
        load(scenario(fallback={"precision": "int8", "model": "yolov9z"}))
    assert "workloads.line.fallback.model" in str(e.value)


def test_an_edge_site_takes_no_availability_figure():
    d = scenario()
    d["sites"]["plant"]["availability"] = 0.99
    with pytest.raises(ScenarioError) as e:
        load(d)
    assert "sites.plant" in str(e.value) and "mtbf_h" in str(e.value)


# ------------------------------------------------------------------ the planner
def test_cheaper_cloud_below_the_floor_is_not_chosen_and_is_when_the_floor_drops():
    """Cloud path: link 0.99 x region 0.999 x pool 1 = 0.98901. At a floor of 99.5% the on-site
    server (never fails: 1.0) wins although it costs more; at 98% the cheaper cloud wins."""
    high = planner.plan(load(scenario(floor=0.995)))
    t = high.table().set_index("workload")
    assert t.loc["line", "site"] == "plant" and t.loc["line", "hardware"] == "xeon-8592-2s"
    assert t.loc["line", "predicted_availability"] == pytest.approx(1.0)
    assert t.loc["line", "slo_availability"] == 0.995
    reason = t.loc["line", "reason"]
    assert t.loc["line", "binding"].startswith("availability")
    assert "cloud path availability 98.901% < 99.5%: the plant–cloud link (fiber-wan)" in reason

    low = planner.plan(load(scenario(floor=0.98)))
    t = low.table().set_index("workload")
    assert t.loc["line", "site"] == "cloud"
    assert t.loc["line", "predicted_availability"] == pytest.approx(0.99 * 0.999)
    assert low.monthly_cost_usd < high.monthly_cost_usd


def test_a_placement_below_the_floor_is_an_availability_violation():
    p = planner.evaluate(load(scenario(floor=0.995)), CLOUD)
    assert not p.feasible
    v = p.assessment.violations["line"]
    assert [x.kind for x in v] == ["availability"]
    assert v[0].value == pytest.approx(0.98901) and v[0].limit == 0.995
    assert v[0].resource is not None and v[0].resource.kind == "link"


def test_the_weakest_resource_is_named():
    """With a 99.9% link, the region (99.5% here) is what holds the cloud path down."""
    link = dict(LINK, mtbf_h=999, mttr_h=1)
    p = planner.evaluate(load(scenario(floor=0.999, region=0.995, link=link)), CLOUD)
    assert "the cloud region" in str(p.assessment.violations["line"][0])


def test_a_fallback_lifts_the_cloud_above_the_floor():
    """A = A_path + (1 - A_path) x A_fallback = 0.98901 + 0.01099 x 0.995 = 0.99994505, and the
    fallback's device capacity is charged (the Hailo-8 keeps room for the whole rate)."""
    without = planner.evaluate(load(scenario(floor=0.999)), CLOUD)
    assert not without.feasible
    sc = load(scenario(floor=0.999, fallback=FALLBACK))
    p = planner.evaluate(sc, CLOUD)
    assert p.feasible, p.table()["violations"].tolist()
    t = p.table().set_index("workload")
    path = 0.99 * 0.999
    assert t.loc["line", "predicted_availability"] == pytest.approx(path + (1 - path) * 0.995)
    hailo = resolve(sc).compute_at("plant")[1].id
    e = planner.estimate("yolov8n", "hailo-8", precision="int8", batch=1)
    assert p.assessment.load[hailo] == pytest.approx(20 * e.latency_ms / 1000, rel=1e-6)
    # the Hailo-8 is bought for it: the plan with a fallback costs more than the cloud alone
    assert p.monthly_cost_usd > without.monthly_cost_usd


def test_the_planner_chooses_cloud_with_a_fallback():
    """With a fallback on the cheap Hailo-8 the cloud meets 99.9% and is
    cheaper than the server; without one the server is the only option above the floor."""
    assert planner.plan(load(scenario(floor=0.999))).table().loc[0, "site"] == "plant"
    t = planner.plan(load(scenario(floor=0.999, fallback=FALLBACK))).table().set_index("workload")
    assert t.loc["line", "site"] == "cloud"
    assert t.loc["line", "predicted_availability"] > 0.999
    assert "with its fallback at the source (path alone 98.901%)" in t.loc["line", "reason"]


def test_a_fallback_that_misses_the_latency_slo_does_not_count():
    """yolov8n's fallback on the Hailo-8 takes ~0.9 ms: against a 0.5 ms SLO it counts for nothing."""
    p = planner.evaluate(load(scenario(floor=0.999, p99_ms=0.5, fallback=FALLBACK)), CLOUD)
    v = [x for x in p.assessment.violations["line"] if x.kind == "availability"]
    assert v and "the fallback takes" in v[0].text


def test_without_a_floor_availability_is_reported_not_held():
    t = planner.plan(load(scenario(floor=None))).table().set_index("workload")
    assert t.loc["line", "site"] == "cloud" and t.loc["line", "ok"]
    assert t.loc["line", "predicted_availability"] == pytest.approx(0.98901)


def test_plant_inspection_example_stays_on_site_because_of_availability():
    p = planner.plan(planner.load_scenario("scenarios/plant_inspection.yaml"))
    t = p.table().set_index("workload")
    assert p.feasible
    assert t.loc["line", "site"] == "plant"
    assert t.loc["line", "binding"].startswith("availability")
    assert "the plant–aws-eu-central-1 link" in t.loc["line", "reason"]
    cloud = planner.evaluate(p.scenario, {"line": {"site": "aws-eu-central-1", "hardware": "t4", "precision": "int8"}})
    assert cloud.monthly_cost_usd < p.monthly_cost_usd  # the cloud is cheaper, and not available enough


# ------------------------------------------------------------------ the simulator
def test_the_simulator_serves_by_fallback_during_outages():
    """Outages every ~100 s for ~10 s on the link: without a fallback those requests fail
    (link_down); with one the Hailo-8 answers them, and the summary says how many."""
    link = dict(LINK, mtbf_h=100 / 3600, mttr_h=10 / 3600)
    hailo = {"hardware": "hailo-8", "count": 1}
    plain = planner.simulate(load(scenario(floor=None, link=link, edge=hailo, horizon_s=2000)), CLOUD, seed=1)
    s = plain.summary().set_index("workload")
    assert s.loc["line", "failed"] > 0 and s.loc["line", "fallback_requests"] == 0
    assert "link_down" in set(plain.failures()["reason"])

    sc = load(scenario(floor=None, link=link, edge=hailo, horizon_s=2000, fallback=FALLBACK))
    r = planner.simulate(sc, CLOUD, seed=1)
    s = r.summary().set_index("workload")
    assert s.loc["line", "fallback_requests"] > 0
    assert s.loc["line", "fallback_share"] == pytest.approx(s.loc["line", "fallback_requests"] / s.loc["line", "arrived"], rel=0.01)
    assert s.loc["line", "availability"] > plain.summary().set_index("workload").loc["line", "availability"]
    assert "link_down" not in set(r.failures()["reason"])  # every outage request was answered at the plant
    # the share answered by fallback is about the share of time the link is down (10/110)
    assert s.loc["line", "fallback_share"] == pytest.approx(10 / 110, abs=0.05)


def test_a_pool_outage_is_simulated_from_its_availability():
    """A region at 99% with AWS's assumed 1 h outages fails for 1 h every 99 h: over 30 days of
    simulated time the pool is down about 1% of it, and its requests fail as `pool_down`."""
    d = scenario(floor=None, region=0.99, link={"between": ["plant", "cloud"], "network": "fiber-wan"},
                 horizon_s=30 * 86400, rate_per_s=0.05)
    r = planner.simulate(load(d), CLOUD, seed=2)
    pool = r.compute().set_index("kind").loc["pool"]
    assert pool["failures"] > 0
    assert pool["down_s"] / (30 * 86400) == pytest.approx(0.01, abs=0.008)
    assert "pool_down" in set(r.failures()["reason"])


@pytest.mark.slow
def test_simulated_availability_agrees_with_the_plan():
    """Outages short and frequent enough that 220,000 s hold ~2,200 of them: the link fails every
    99 s for 1 s (0.99), the Hailo-8 every 9 s for 1 s (0.9). Planned: 0.99 without a fallback,
    0.99 + 0.01 x 0.9 = 0.999 with one; simulated within 0.1 percentage points of each. The SLO
    is loose, so every answered request is within it and only outages cost availability."""
    link = dict(LINK, mtbf_h=99 / 3600, mttr_h=1 / 3600)
    hailo = {"hardware": "hailo-8", "count": 1, "mtbf_h": 9 / 3600, "mttr_h": 1 / 3600}
    for fallback, planned in ((None, 0.99), (FALLBACK, 0.999)):
        sc = load(scenario(floor=None, region=1.0, link=link, edge=hailo, horizon_s=220_000, p99_ms=2000,
                           rate_per_s=4, fallback=fallback))
        p = planner.evaluate(sc, CLOUD)
        assert p.table().loc[0, "predicted_availability"] == pytest.approx(planned)
        got = planner.simulate(sc, p, seed=5).summary().set_index("workload").loc["line", "availability"]
        assert abs(got - planned) < 0.001, (fallback, got, planned)


def test_routing_fallback_is_the_workloads_fallback_with_its_defaults():
    """`routing: {fallback: true}` serves in the cloud and, while the path is down, at the source's
    first device group that runs one of the workload's precisions (fp16: the Xeon server)."""
    d = scenario(floor=0.999)
    d["workloads"]["line"]["routing"] = {"fallback": True}
    sc = load(d)
    w = sc.workloads["line"]
    assert w.fallback is not None and w.fallback.precision is None and w.fallback.model is None
    device, precision = resolve(sc).fallback_choice("line")
    assert (device.hardware, precision) == ("xeon-8592-2s", "fp16")
    p = planner.evaluate(sc, CLOUD)
    path = 0.99 * 0.999
    assert p.table().set_index("workload").loc["line", "predicted_availability"] == pytest.approx(path + (1 - path) * 1.0)
    # naming the fallback's precision and hardware still works beside it
    d["workloads"]["line"]["fallback"] = FALLBACK
    assert resolve(load(d)).fallback_choice("line")[0].hardware == "hailo-8"
