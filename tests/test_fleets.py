"""Fleets in the scenario format: members named and padded, inventory overrides, distributions
drawn per member from the seed, links and workloads expanded per member, errors that name the
inventory file, row and column, and loading that stays linear in the fleet's size."""
from __future__ import annotations

import copy
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

import planner
from planner import ScenarioError
from planner.scenario import MAX_FLEET_MEMBERS

ROOT = Path(__file__).resolve().parent.parent


def _fleet(count: int | None = 12, **site: Any) -> dict[str, Any]:
    """A store fleet and a cloud region, a link per store, two workloads sourced at the stores."""
    store = {"kind": "edge", "region": "eu", "devices": [{"hardware": "jetson-orin-nano-8gb", "count": 1}], **site}
    if count is not None:
        store["count"] = count
    return {
        "name": "fleet", "seed": 7,
        "sites": {"store": store,
                  "cloud": {"kind": "cloud", "region": "eu", "pools": [{"hardware": "l4", "max_instances": 8}]}},
        "links": [{"between": ["store", "cloud"], "network": "broadband", "uplink_mbps": 20, "rtt_ms": 25}],
        "workloads": {
            "cam": {"kind": "inference", "model": "yolov8n", "source": "store",
                    "arrival": {"process": "poisson", "rate_per_s": 4}, "slo": {"p99_ms": 500}},
            "shelf": {"kind": "inference", "model": "efficientnet-b0", "source": "store",
                      "arrival": {"process": "bursty", "rate_low_per_s": 0.5, "rate_high_per_s": 2,
                                  "mean_low_s": 60, "mean_high_s": 10}},
        },
    }


def _load(data: dict[str, Any], tmp_path: Path | None = None, csv: str | None = None) -> planner.Scenario:
    if csv is not None:
        assert tmp_path is not None
        (tmp_path / "inv.csv").write_text(csv, encoding="utf-8")
    return planner.parse_scenario(data, file="f.yaml", base_dir=tmp_path)


# --------------------------------------------------------------------------- naming
@pytest.mark.parametrize(("count", "first", "last"), [
    (1, "store-1", "store-1"), (9, "store-1", "store-9"), (12, "store-01", "store-12"),
    (200, "store-001", "store-200"), (1000, "store-0001", "store-1000"),
])
def test_members_are_named_and_zero_padded_to_the_width_of_the_count(count: int, first: str, last: str) -> None:
    sc = _load(_fleet(count))
    members = sc.fleets["store"]
    assert len(members) == count and members[0] == first and members[-1] == last
    assert "store" not in sc.sites  # the fleet entry itself is not a site
    assert [n for n in sc.sites if sc.sites[n].fleet == "store"] == members
    assert sc.sites["cloud"].fleet is None


def test_a_scenario_without_fleets_has_none() -> None:
    sc = planner.load_scenario(ROOT / "scenarios" / "smart_factory.yaml")
    assert sc.fleets == {}
    assert all(s.fleet is None for s in sc.sites.values())
    assert all(w.fleet is None and w.member is None and w.base_workload is None for w in sc.workloads.values())


# --------------------------------------------------------------------------- expansion
def test_each_member_gets_the_fleet_figures_its_own_link_and_its_own_instances() -> None:
    sc = _load(_fleet(3))
    assert sc.sites["store-2"].region == "eu"
    assert sc.sites["store-2"].devices[0].hardware == "jetson-orin-nano-8gb"
    assert [link.between for link in sc.links] == [["store-1", "cloud"], ["store-2", "cloud"], ["store-3", "cloud"]]
    assert all(link.uplink_mbps == 20 and link.rtt_ms == 25 for link in sc.links)
    assert list(sc.workloads) == [f"{w}@store-{i}" for w in ("cam", "shelf") for i in (1, 2, 3)]
    w = sc.workloads["shelf@store-2"]
    assert (w.source, w.fleet, w.member, w.base_workload) == ("store-2", "store", "store-2", "shelf")
    assert w.arrival.rate_high_per_s == 2
    for name in sc.workloads:  # every downstream query works on the expanded scenario
        assert sc.allowed_sites(name)


def test_a_link_with_the_fleet_second_is_expanded_in_its_direction() -> None:
    data = _fleet(2)
    data["links"][0]["between"] = ["cloud", "store"]
    assert [link.between for link in _load(data).links] == [["cloud", "store-1"], ["cloud", "store-2"]]


def test_federated_sites_naming_a_fleet_list_its_members() -> None:
    data = _fleet(4)
    data["workloads"]["fl"] = {"kind": "federated", "model": "mobilenet-v2", "source": "store",
                               "sites": ["store", "cloud"], "rounds": 3, "aggregator": "cloud"}
    sc = _load(data)
    fl = sc.workloads["fl"]
    assert fl.sites == ["store-1", "store-2", "store-3", "store-4", "cloud"]
    assert fl.source == "store-1" and fl.fleet is None  # one job across the fleet, not one per member
    assert "fl@store-1" not in sc.workloads


def test_deploy_to_a_fleet_workload_names_its_instances() -> None:
    data = _fleet(3)
    train = {"kind": "training", "model": "yolov8n", "dataset_gb": 1, "epochs": 1, "every_h": 168, "deadline_h": 24,
             "deploy_to": ["cam"]}
    data["workloads"]["central"] = {**train, "source": "cloud"}
    data["workloads"]["local"] = {**train, "source": "store"}
    sc = _load(data)
    assert sc.workloads["central"].deploy_to == ["cam@store-1", "cam@store-2", "cam@store-3"]
    # a member's own retraining deploys to the same member's instance
    assert sc.workloads["local@store-2"].deploy_to == ["cam@store-2"]


# --------------------------------------------------------------------------- inventory
INVENTORY = """name,region,uplink_mbps,downlink_mbps,rtt_ms,rate_scale,jetson-orin-nano-8gb,hailo-8
shop-a,eu,5,50,30,0.5,1,
shop-b,,80,,12,2,0,2
shop-c,us,,,,,,
"""


def test_inventory_names_members_and_overrides_their_figures(tmp_path: Path) -> None:
    data = _fleet(None, members="inv.csv")
    data["sites"]["cloud-us"] = {"kind": "cloud", "region": "us", "pools": [{"hardware": "t4"}]}
    data["links"].append({"between": ["cloud", "cloud-us"], "network": "fiber-wan"})
    sc = _load(data, tmp_path, INVENTORY)
    assert sc.fleets == {"store": ["shop-a", "shop-b", "shop-c"]}
    a, b, c = (sc.sites[n] for n in ("shop-a", "shop-b", "shop-c"))
    assert (a.region, b.region, c.region) == ("eu", "eu", "us")  # empty cell: the fleet's own figure
    assert [(g.hardware, g.count) for g in a.devices] == [("jetson-orin-nano-8gb", 1)]
    assert [(g.hardware, g.count) for g in b.devices] == [("hailo-8", 2)]  # 0 removes a group, a column adds one
    assert [(g.hardware, g.count) for g in c.devices] == [("jetson-orin-nano-8gb", 1)]
    links = {link.between[0]: link for link in sc.links}
    assert (links["shop-a"].uplink_mbps, links["shop-a"].downlink_mbps, links["shop-a"].rtt_ms) == (5, 50, 30)
    assert (links["shop-b"].uplink_mbps, links["shop-b"].downlink_mbps, links["shop-b"].rtt_ms) == (80, None, 12)
    assert (links["shop-c"].uplink_mbps, links["shop-c"].rtt_ms) == (20, 25)
    cam = {m: sc.workloads[f"cam@{m}"].arrival.rate_per_s for m in sc.fleets["store"]}
    assert cam == {"shop-a": 2.0, "shop-b": 8.0, "shop-c": 4.0}  # rate_scale multiplies every rate
    shelf = sc.workloads["shelf@shop-b"].arrival
    assert (shelf.rate_low_per_s, shelf.rate_high_per_s, shelf.mean_low_s) == (1.0, 4.0, 60)


def test_inventory_uplink_is_the_members_direction(tmp_path: Path) -> None:
    """A member's uplink runs from the member: the link's downlink when the fleet is second."""
    data = _fleet(None, members="inv.csv")
    data["links"][0] = {"between": ["cloud", "store"], "network": "broadband"}
    sc = _load(data, tmp_path, "name,uplink_mbps,downlink_mbps\nx,5,50\n")
    assert (sc.links[0].uplink_mbps, sc.links[0].downlink_mbps) == (50, 5)


def test_inventory_without_names_numbers_its_rows_and_count_must_agree(tmp_path: Path) -> None:
    sc = _load(_fleet(None, members="inv.csv"), tmp_path, "uplink_mbps\n" + "10\n" * 11)
    assert sc.fleets["store"][0] == "store-01" and sc.fleets["store"][-1] == "store-11"
    with pytest.raises(ScenarioError, match="count is 12 but the inventory") as info:
        _load(_fleet(12, members="inv.csv"), tmp_path, "uplink_mbps\n" + "10\n" * 11)
    assert info.value.field == "sites.store.count"


@pytest.mark.parametrize(("csv", "row_col", "reason"), [
    ("name,uplink_mbps\na,10\nb,fast\n", "row 3, column 'uplink_mbps'", "expected a number, got 'fast'"),
    ("name,rtt_ms\na,-1\n", "row 2, column 'rtt_ms'", "must be >= 0"),
    ("name,rate_scale\na,0\n", "row 2, column 'rate_scale'", "must be > 0"),
    ("name,uplink_mbps\na,nan\n", "row 2, column 'uplink_mbps'", "must be > 0"),
    ("name,uplink\na,10\n", "row 1, column 2", "unknown column 'uplink'"),
    ("name,jetson-orin-nano\na,1\n", "row 1, column 2", "unknown column 'jetson-orin-nano'"),
    ("name,hailo-8\na,1.5\n", "row 2, column 'hailo-8'", "expected a whole number of devices"),
    ("name,hailo-8\na,-2\n", "row 2, column 'hailo-8'", "must be >= 0"),
    ("name\na\n\nb\na\n", "row 5, column 'name'", "'a' is listed twice (also row 2)"),
    ("name,region\n,eu\n", "row 2, column 'name'", "a member needs a name"),
    ("name\ncam@x\n", "row 2, column 'name'", "not a plain site name"),
    ("name\ncloud\n", "row 2, column 'name'", "'cloud' is already a site name"),
    ("name,uplink_mbps\na,1,2\n", "row 2", "3 cells but 2 columns"),
    ("name,name\na,b\n", "row 1, column 'name'", "appears twice"),
    ("", "row 1", "empty"),
    ("name\n", "row 2", "no members"),
])
def test_inventory_errors_name_the_file_row_and_column(tmp_path: Path, csv: str, row_col: str, reason: str) -> None:
    with pytest.raises(ScenarioError) as info:
        _load(_fleet(None, members="inv.csv"), tmp_path, csv)
    e = info.value  # reported against the scenario's field, the inventory's file, row and column first
    assert (e.file, e.field) == ("f.yaml", "sites.store.members")
    assert e.reason.startswith(f"{tmp_path / 'inv.csv'} {row_col}: "), e.reason
    assert reason in e.reason
    assert "\n" not in str(e) and str(e).startswith("f.yaml: ")


def test_unknown_column_suggests_the_close_name(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError) as info:
        _load(_fleet(None, members="inv.csv"), tmp_path, "name,uplink\na,10\n")
    assert info.value.hint == "did you mean 'uplink_mbps'?"


def test_missing_inventory_names_the_field(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="file not found") as info:
        _load(_fleet(None, members="nowhere.csv"), tmp_path)
    assert info.value.field == "sites.store.members"


def test_uploads_may_only_name_attached_inventories(tmp_path: Path) -> None:
    (tmp_path / "inv.csv").write_text("name\na\nb\n", encoding="utf-8")
    data = _fleet(None, members="inv.csv")
    with pytest.raises(ScenarioError, match="was not uploaded"):
        planner.parse_scenario(data, file="up.yaml", allow_paths=False)
    sc = planner.parse_scenario(data, file="up.yaml", allow_paths=False, attachments={"inv.csv": tmp_path / "inv.csv"})
    assert sc.fleets["store"] == ["a", "b"]


# --------------------------------------------------------------------------- distributions
def _drawn(seed: int = 7, members: int = 400) -> planner.Scenario:
    data = _fleet(members)
    data["seed"] = seed
    data["links"][0]["uplink_mbps"] = {"dist": "lognormal", "mean": 20, "cv": 0.8}
    data["links"][0]["rtt_ms"] = {"dist": "uniform", "low": 10, "high": 40}
    data["workloads"]["cam"]["arrival"]["rate_per_s"] = {"dist": "normal", "mean": 4, "cv": 0.5}
    return _load(data)


def _figures(sc: planner.Scenario) -> tuple[list, list, list]:
    return ([link.uplink_mbps for link in sc.links], [link.rtt_ms for link in sc.links],
            [w.arrival.rate_per_s for n, w in sc.workloads.items() if w.base_workload == "cam"])


def test_distributions_are_drawn_per_member_deterministically_from_the_seed() -> None:
    up, rtt, rate = _figures(_drawn())
    assert (up, rtt, rate) == _figures(_drawn())  # same file, same fleet
    assert len(set(up)) == 400 and len(set(rtt)) == 400 and len(set(rate)) == 400
    assert _figures(_drawn(seed=8))[0] != up  # another seed, another fleet
    assert statistics.mean(up) == pytest.approx(20, rel=0.15)
    assert statistics.stdev(up) / statistics.mean(up) == pytest.approx(0.8, rel=0.3)
    assert all(10 <= x <= 40 for x in rtt)
    assert min(rate) > 0 and statistics.mean(rate) == pytest.approx(4, rel=0.15)  # normal, truncated at 0
    # a member keeps its draws when the fleet grows
    assert _figures(_drawn(members=500))[0][:400] == up


def test_a_distribution_outside_a_fleet_is_refused() -> None:
    data = _fleet(2)
    data["sites"]["plant"] = {"kind": "edge", "devices": [{"hardware": "hailo-8"}]}
    data["links"].append({"between": ["plant", "cloud"], "network": "fiber-wan",
                          "uplink_mbps": {"dist": "uniform", "low": 1, "high": 2}})
    with pytest.raises(ScenarioError, match="drawn per fleet member") as info:
        _load(data)
    assert info.value.field == "links[1].uplink_mbps"


@pytest.mark.parametrize(("dist", "field", "reason"), [
    ({"dist": "uniform", "low": 1}, "links[0].uplink_mbps", "takes low and high"),
    ({"dist": "lognormal", "mean": 20}, "links[0].uplink_mbps", "takes mean and cv"),
    ({"dist": "uniform", "low": 5, "high": 2}, "links[0].uplink_mbps", "low (5) exceeds high (2)"),
    ({"dist": "gamma", "mean": 1, "cv": 1}, "links[0].uplink_mbps.dist", "'gamma' is not one of"),
    ({"dist": "normal", "mean": -1, "cv": 1}, "links[0].uplink_mbps.mean", "must be > 0"),
    ({"dist": "normal", "mean": 1, "cv": 1, "sd": 2}, "links[0].uplink_mbps.sd", "unknown field 'sd'"),
])
def test_distribution_errors_name_the_field(dist: dict, field: str, reason: str) -> None:
    data = _fleet(2)
    data["links"][0]["uplink_mbps"] = dist
    with pytest.raises(ScenarioError) as info:
        _load(data)
    assert info.value.field == field and reason in info.value.reason


# --------------------------------------------------------------------------- errors as written
@pytest.mark.parametrize(("edit", "field", "reason"), [
    (lambda d: d["sites"]["store"].update(count="6"), "sites.store.count", "expected a whole number"),
    (lambda d: d["sites"]["store"].update(count=0), "sites.store.count", "must be >= 1"),
    (lambda d: d["sites"]["store"].update(count=10**30), "sites.store.count", f"must be <= {MAX_FLEET_MEMBERS}"),
    (lambda d: d["sites"]["store"]["devices"][0].update(hardware="jetson"), "sites.store.devices[0].hardware",
     "unknown hardware 'jetson'"),
    (lambda d: d["sites"]["store"]["devices"][0].update(cnt=1), "sites.store.devices[0].cnt", "unknown field 'cnt'"),
    (lambda d: d["links"][0].update(network="fibre"), "links[0].network", "unknown network 'fibre'"),
    (lambda d: d["links"][0].update(loss_pct={"dist": "uniform", "low": 99, "high": 120}), "links[0].loss_pct",
     "must be < 100"),
    (lambda d: d["workloads"]["cam"].update(model="yolo"), "workloads.cam.model", "unknown model 'yolo'"),
    (lambda d: d["workloads"]["cam"]["arrival"].update(rate_per_s=-1), "workloads.cam.arrival.rate_per_s",
     "must be > 0"),
    (lambda d: d["links"][0].update(between=["store", "store2"]), "links[0].between", "unknown site 'store2'"),
    (lambda d: d["sites"].update(store2=copy.deepcopy(d["sites"]["store"])) or d["links"][0].update(between=["store", "store2"]),
     "links[0].between", "a link joins at most one fleet"),
])
def test_errors_name_the_fields_as_written(edit: Any, field: str, reason: str) -> None:
    data = _fleet(5)
    edit(data)
    with pytest.raises(ScenarioError) as info:
        _load(data)
    assert info.value.field == field, str(info.value)
    assert reason in info.value.reason, str(info.value)


def test_an_error_found_in_one_member_names_the_member() -> None:
    data = _fleet(3)
    data["links"][0]["loss_pct"] = {"dist": "lognormal", "mean": 50, "cv": 3}  # a mean that is valid, draws past 100
    with pytest.raises(ScenarioError) as info:
        _load(data)
    assert info.value.field == "links[0].loss_pct" and "fleet member 'store-" in info.value.hint


def test_instance_names_may_not_clash_with_workloads() -> None:
    data = _fleet(2)
    data["workloads"]["cam@store-1"] = copy.deepcopy(data["workloads"]["cam"]) | {"source": "cloud"}
    with pytest.raises(ScenarioError, match="'cam@store-1' is already a workload name"):
        _load(data)


# --------------------------------------------------------------------------- schema, examples, size
def test_schema_describes_fleets() -> None:
    schema = planner.json_schema()
    site = schema["$defs"]["Site"]["properties"]
    assert {"count", "members"} <= set(site)
    assert "Distribution" in schema["$defs"]
    assert {"$ref": "#/$defs/Distribution"} in schema["$defs"]["Link"]["properties"]["uplink_mbps"]["anyOf"]
    assert {"$ref": "#/$defs/Distribution"} in schema["$defs"]["Poisson"]["properties"]["rate_per_s"]["anyOf"]


FLEET_EXAMPLES = [ROOT / "scenarios" / "retail_stores.yaml", *sorted((ROOT / "scenarios" / "fleets").glob("*.yaml"))]


@pytest.mark.parametrize("path", FLEET_EXAMPLES, ids=lambda p: p.stem)
def test_fleet_examples_load_and_satisfy_the_schema(path: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    sc = planner.load_scenario(path)
    assert sc.fleets and all(len(m) >= 200 for m in sc.fleets.values())
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    errors = list(jsonschema.Draft202012Validator(planner.json_schema()).iter_errors(data))
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors[:5]]
    head = " ".join(line.lower() for line in path.read_text(encoding="utf-8").splitlines()[:40] if line.startswith("#"))
    assert "question" in head and "expected decision" in head and "figures" in head


def test_a_large_fleet_example_has_thousands_of_members() -> None:
    sizes = [sum(len(m) for m in planner.load_scenario(p).fleets.values()) for p in FLEET_EXAMPLES[1:]]
    assert sizes and max(sizes) >= 2000


def test_retail_stores_uplinks_spread_across_the_fleet() -> None:
    sc = planner.load_scenario(ROOT / "scenarios" / "retail_stores.yaml")
    assert len(sc.fleets["stores"]) == 200
    up = sorted(link.uplink_mbps for link in sc.links)
    assert len(sc.links) == 200 and up[20] < 3 < 20 < up[180]  # a tenth below 3 Mbit/s, a tenth above 20


def test_loading_a_10000_workload_fleet_is_linear() -> None:
    """2,000 members x 5 workloads load in seconds: no check loops over every site per workload.
    (bench/load_speed.py prints the figures; the bound here is loose for a loaded machine.)"""
    data = _fleet(2000)
    for j in range(3):
        data["workloads"][f"extra{j}"] = copy.deepcopy(data["workloads"]["cam"]) | {"privacy": ["any", "region", "site"][j]}
    t0 = time.perf_counter()
    sc = _load(data)
    elapsed = time.perf_counter() - t0
    assert len(sc.workloads) == 10_000 and len(sc.links) == 2000
    assert elapsed < 20, f"{elapsed:.1f} s"


def test_cli_reports_an_inventory_error_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "inv.csv").write_text("name,uplink_mbps\na,10\nb,-3\n", encoding="utf-8")
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(_fleet(None, members="inv.csv")), encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "planner.cli", "validate", str(tmp_path / "s.yaml")],
                       capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "inv.csv" in lines[0] and "row 3, column 'uplink_mbps'" in lines[0], r.stderr
