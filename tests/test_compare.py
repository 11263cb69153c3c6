"""The plan against all-edge and all-cloud (`planner.baselines`), and the plan-only sweep
(`planner.sweep_plans`, `planner.sweep(..., simulate=False)`) that the app's pages call."""
from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

import planner
from planner.errors import PlannerError

ROOT = Path(__file__).resolve().parent.parent
FACTORY = ROOT / "scenarios" / "smart_factory.yaml"
RATE = "workloads.inspection.arrival.rate_per_s"


@pytest.fixture(scope="module")
def factory():
    sc = planner.load_scenario(FACTORY)
    return sc, planner.plan(sc)


def test_all_edge_places_every_workload_at_an_edge_site(factory) -> None:
    sc, p = factory
    b = planner.baselines(sc, p)["all-edge"]
    assert set(b.placement) == set(sc.workloads)
    for name, where in b.placement.items():
        assert sc.sites[where["site"]].kind == "edge", name
        assert where == {"site": "plant", "hardware": "jetson-orin-nx-16gb",
                         "precision": p.placement[name].precision}  # the source site, the plan's precision
    # The plan is all-edge already: the same verdict, to the cent.
    assert b.plan.feasible and b.plan.status == "evaluated"
    assert b.plan.monthly_cost_usd == pytest.approx(p.monthly_cost_usd, abs=0.01)


def test_all_cloud_keeps_private_data_home_and_misses_the_camera_slo(factory) -> None:
    sc, p = factory
    b = planner.baselines(sc)["all-cloud"]  # plans by itself when given no plan
    assert b.placement["inspection"] == {"site": "aws-us-east-1", "hardware": "l4", "precision": "int8"}
    assert b.placement["retrain"]["site"] == "aws-us-east-1"
    # ppe-detection's video may not leave the plant (privacy: site): it stays as planned, and says why.
    assert b.placement["ppe-detection"] == p.placement["ppe-detection"].as_dict()
    assert "privacy 'site'" in b.notes["ppe-detection"]
    assert not b.plan.feasible
    t = b.plan.table().set_index("workload")
    assert t.loc["inspection", "predicted_p99_ms"] > 10 * t.loc["inspection", "slo_p99_ms"]  # 200 kB frames over a 200 Mbit/s uplink
    assert "SLO" in t.loc["inspection", "violations"] and "bandwidth" in t.loc["inspection", "violations"]
    assert b.plan.monthly_cost_usd > 4 * p.monthly_cost_usd


def test_strategy_table_has_a_row_per_strategy_and_workload(factory) -> None:
    sc, p = factory
    b = planner.baselines(sc, p)
    t = planner.strategy_table({"plan": p, **{k: v.plan for k, v in b.items()}})
    assert list(t["strategy"].unique()) == ["plan", "all-edge", "all-cloud"]
    assert len(t) == 3 * len(sc.workloads)
    assert list(t.columns) == ["strategy", "workload", "site", "hardware", "precision", "predicted_p99_ms",
                               "slo_p99_ms", "monthly_cost_usd", "ok", "violations"]
    cost = t.groupby("strategy", sort=False)["monthly_cost_usd"].sum()
    assert cost["plan"] == pytest.approx(p.monthly_cost_usd, rel=1e-9)
    assert cost["all-cloud"] == pytest.approx(b["all-cloud"].plan.monthly_cost_usd, rel=1e-9)


def test_sweep_plans_a_row_per_value_with_cost_and_feasibility() -> None:
    df = planner.sweep_plans(FACTORY, {RATE: [90, 180, 1800, 0]})
    assert list(df[RATE]) == [90, 180, 1800, 0]
    assert list(df.columns[:5]) == [RATE, "feasible", "monthly_cost_usd", "status", "note"]
    assert {"inspection", "ppe-detection", "retrain"} <= set(df.columns)
    ok = df.iloc[:3]
    assert ok["feasible"].all() and (ok["status"] == "optimal").all()
    # More cameras' frames cost more to serve, and the plan keeps them on the line's Jetsons.
    assert ok["monthly_cost_usd"].is_monotonic_increasing and ok["monthly_cost_usd"].iloc[2] > ok["monthly_cost_usd"].iloc[0]
    assert (ok["inspection"] == "jetson-orin-nx-16gb@plant int8").all()
    # The value at 180/s is the plan of the file itself.
    assert ok["monthly_cost_usd"].iloc[1] == pytest.approx(planner.plan(planner.load_scenario(FACTORY)).monthly_cost_usd)
    bad = df.iloc[3]
    assert not bad["feasible"] and bad["status"] == "invalid" and math.isnan(bad["monthly_cost_usd"])
    assert bad["note"].startswith(f"{RATE}: must be > 0")


def test_sweep_without_simulation_is_the_plan_sweep() -> None:
    sets = {"links.0.uplink_mbps": [50, 500]}
    quick = planner.sweep(FACTORY, set=sets, simulate=False)
    assert quick.equals(planner.sweep_plans(FACTORY, sets))
    assert list(quick["links.0.uplink_mbps"]) == [50, 500] and quick["feasible"].all()


def test_sweep_plans_takes_an_edited_mapping_and_an_upload_s_files() -> None:
    remote = ROOT / "scenarios" / "remote_site.yaml"
    raw = yaml.safe_load(remote.read_text())
    trace = ROOT / "scenarios" / "traces" / "remote_site.csv"
    first = next(n for n, w in raw["workloads"].items() if (w.get("arrival") or {}).get("process") == "trace")
    path = f"workloads.{first}.slo.p99_ms"
    # An upload may name only its attachments: without them every value is invalid, naming the field.
    missing = planner.sweep_plans(raw, {path: [500]}, file="remote_site.yaml", allow_paths=False)
    assert missing["status"].tolist() == ["invalid"] and f"workloads.{first}.arrival.file" in missing["note"][0]
    attached = planner.sweep_plans(raw, {path: [500, 5000]}, file="remote_site.yaml", allow_paths=False,
                                   attachments={raw["workloads"][first]["arrival"]["file"]: trace})
    assert (attached["status"] != "invalid").all() and list(attached[path]) == [500, 5000]
    assert raw == yaml.safe_load(remote.read_text())  # the mapping given is not touched


def test_sweep_plans_wrong_path_names_it() -> None:
    with pytest.raises(PlannerError, match="inspecton"):
        planner.sweep_plans(FACTORY, {"workloads.inspecton.arrival.rate_per_s": [1]})
