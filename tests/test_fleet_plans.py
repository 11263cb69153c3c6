"""Fleets are decided per member: a case whose right answer is computable by hand, the class
multiplicity against planning every member apart, and the fleet summary's split."""
from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

import planner
from planner.plan.options import LINK_RHO
from planner.units import mbps

RATE_PER_S, FRAME_BYTES = 2.0, 250_000
UPLINKS = [1, 2, 3, 4, 5, 8, 10, 15, 25, 50]  # Mbit/s; four members of each
NEEDED_MBPS = mbps(RATE_PER_S, FRAME_BYTES) / LINK_RHO  # 5.7 Mbit/s: below it the video cannot leave


def _scenario(tmp_path: Path, boxless: tuple[int, ...] = ()) -> planner.Scenario:
    """Forty shops, four on each uplink of UPLINKS; the shops numbered in `boxless` have no box."""
    rows = ["name,uplink_mbps,downlink_mbps,rtt_ms,jetson-agx-orin-64gb"]
    rows += [f"shop-{i:02d},{UPLINKS[i % len(UPLINKS)]},100,30,{0 if i in boxless else 1}" for i in range(40)]
    (tmp_path / "shops.csv").write_text("\n".join(rows) + "\n")
    data = {
        "name": "shops", "seed": 1, "objective": "cost",
        "sites": {
            # a box bought for the job costs ~$60/month; a T4 shared by twenty shops costs ~$20 each
            "shop": {"kind": "edge", "region": "eu", "members": "shops.csv",
                     "devices": [{"hardware": "jetson-agx-orin-64gb", "count": 1}]},
            "cloud": {"kind": "cloud", "region": "eu", "pools": [{"hardware": "t4", "max_instances": 8}]},
        },
        "links": [{"between": ["shop", "cloud"], "network": "broadband"}],
        "workloads": {"video": {"kind": "inference", "model": "yolov8n", "source": "shop",
                                "arrival": {"process": "poisson", "rate_per_s": RATE_PER_S},
                                "input_bytes": FRAME_BYTES, "output_bytes": 1000, "slo": {"p99_ms": 2000},
                                "precisions": ["int8"]}},
    }
    f = tmp_path / "shops.yaml"
    f.write_text(yaml.safe_dump(data))
    return planner.load_scenario(f)


def test_members_whose_uplink_cannot_carry_their_video_run_on_the_box(tmp_path: Path) -> None:
    sc = _scenario(tmp_path)
    p = planner.plan(sc)
    assert p.feasible, p.conflicts
    t = p.table().set_index("workload")
    for i in range(40):
        member, up = f"shop-{i:02d}", UPLINKS[i % len(UPLINKS)]
        row = t.loc[f"video@{member}"]
        assert row["fleet"] == "shop" and row["member"] == member
        expected = member if up < NEEDED_MBPS else "cloud"
        assert row["site"] == expected, (member, up, row["site"], row["reason"])
    # the boxes are bought only where they are needed: twenty of them, and one T4 for the rest
    assert p.resources().query("kind == 'device' and utilization > 0").shape[0] == 20
    summary = p.fleet_summary().set_index("where")
    assert summary.loc["on the member", "members"] == 20 and summary.loc["cloud", "members"] == 20
    assert summary.loc["cloud", "split_by"].startswith("uplink load below")


def test_identical_members_are_decided_once_with_their_number(tmp_path: Path) -> None:
    """Ten classes of four: the class plan costs what it would cost to plan each member apart."""
    from planner.model.system import resolve
    from planner.plan.classes import classes

    sc = _scenario(tmp_path)
    cls = classes(resolve(sc))
    assert len(cls.members) == len(UPLINKS) and all(len(m) == 4 for m in cls.members.values())
    p = planner.plan(sc)
    apart = planner.evaluate(sc, p.to_dict())  # every member's option built and assessed on its own
    assert apart.feasible
    assert apart.monthly_cost_usd == pytest.approx(p.monthly_cost_usd, rel=1e-9)
    assert list(apart.table()["predicted_p99_ms"]) == pytest.approx(list(p.table()["predicted_p99_ms"]))


def test_what_sets_a_decisions_members_apart_where_no_one_figure_splits_them(tmp_path: Path) -> None:
    """Four shops on slow uplinks have no box: they cannot run anywhere, so uplink alone no longer
    splits the decisions. Each decision then names the member figure that sets its members apart."""
    boxless = (0, 11, 22, 33)  # on 1, 2, 3 and 4 Mbit/s: below what their video needs
    p = planner.plan(_scenario(tmp_path, boxless))
    where = p.table().set_index("workload")["site"]
    for i in range(40):
        up = UPLINKS[i % len(UPLINKS)]
        expected = "cloud" if up >= NEEDED_MBPS else (None if i in boxless else f"shop-{i:02d}")
        got = where[f"video@shop-{i:02d}"]
        assert (got if isinstance(got, str) else None) == expected, (i, up, got)
    summary = p.fleet_summary().set_index("where")
    assert summary.loc["not placed", "split_by"] == "0 devices: 4 of 4"
    # the video takes 80% of a 5 Mbit/s uplink, 50% of an 8 Mbit/s one: the cut falls between
    assert summary.loc["cloud", "split_by"] == "uplink load below 65% of the uplink: 20 of 20"
    assert summary.loc["on the member", "split_by"] == "uplink load from 65% of the uplink: 16 of 16 (+4 that run elsewhere)"


def test_a_fleets_language_model_instances_share_the_clouds_engines(tmp_path: Path) -> None:
    """Thirty stores' assistants, each a few requests a minute, with no box that runs the model:
    one service's clients. They share the pool's engines, so the plan runs the instances their
    summed rate needs (one), not one a store: the pool's ten would not hold thirty."""
    data = {
        "name": "assistants", "seed": 1, "objective": "cost",
        "sites": {"store": {"kind": "edge", "region": "eu", "count": 30,
                            "devices": [{"hardware": "raspberry-pi-5", "count": 1}]},
                  "cloud": {"kind": "cloud", "region": "eu", "pools": [{"hardware": "l4", "max_instances": 10}]}},
        "links": [{"between": ["store", "cloud"], "network": "broadband"}],
        "workloads": {"assistant": {"kind": "inference", "model": "llama-3-8b", "source": "store",
                                    "arrival": {"process": "poisson", "rate_per_s": 0.02},
                                    "prompt_tokens": 500, "output_tokens": 100,
                                    "slo": {"ttft_ms": 3000, "tpot_ms": 150, "p99_ms": 30000}, "precisions": ["int8"]}},
    }
    f = tmp_path / "assistants.yaml"
    f.write_text(yaml.safe_dump(data))
    p = planner.plan(planner.load_scenario(f))
    assert p.feasible and len(p.placement) == 30, p.conflicts
    assert {(c.site, c.hardware) for c in p.placement.values()} == {("cloud", "l4")}
    engines = {r: n for r, n in p.assessment.instances.items() if r.workload}
    (engine, instances), = engines.items()  # one engine for the fleet's workload, not one a member
    assert engine.workload == "assistant[llama-3-8b@int8]"
    capacity_per_s = p.options["assistant@store-01"].detail["capacity_per_s"]
    target = p.system[engine].target_utilization
    assert instances == math.ceil(30 * 0.02 / capacity_per_s / target - 1e-9) == 1
    # the simulator runs them on one pool of engines too, and every member's requests are served
    sim = planner.simulate(planner.load_scenario(f), p, seed=1, horizon_s=600)
    pools = sim.compute().query("kind == 'pool'")["compute"].tolist()
    assert pools == ["cloud/pool0:l4", "cloud/pool0:l4/assistant[llama-3-8b@int8]"]  # the pool, its one engine set
    done = sim.summary().set_index("workload")["completed"]
    assert len(done) == 30 and (done > 0).all()


def test_jobs_over_a_fleet_take_one_member_as_a_possible_host(tmp_path: Path) -> None:
    """Forty shops train together, and a retraining job in the cloud deploys to all of them: the
    updates may be averaged, and the job run, in the cloud or at one shop, the best connected
    (widest link, in its narrower direction: 50 Mbit/s up for shops 09, 19, 29 and 39, the first
    taken), not at each of forty: the options grow with the fleets, not with the members (each
    sums over every member: one per member made planning quadratic, 1,000 cameras' retraining
    took 95 s to plan)."""
    from planner.model.system import resolve
    from planner.plan.options import options_for

    _scenario(tmp_path)  # writes the shops and their inventory
    data = yaml.safe_load((tmp_path / "shops.yaml").read_text())
    data["workloads"]["learn"] = {"kind": "federated", "model": "mobilenet-v2", "source": "cloud", "sites": ["shop"],
                                  "rounds": 2, "samples_per_site": 500}
    data["workloads"]["retrain"] = {"kind": "training", "model": "yolov8n", "source": "cloud", "dataset_gb": 2,
                                    "epochs": 1, "every_h": 24, "deadline_h": 12, "deploy_to": ["video"]}
    (tmp_path / "shops.yaml").write_text(yaml.safe_dump(data))
    sc = planner.load_scenario(tmp_path / "shops.yaml")
    system = resolve(sc)
    for job in ("learn", "retrain"):
        assert {o.site for o in options_for(system, job)} == {"cloud", "shop-09"}, job
    p = planner.plan(sc)
    assert p.feasible and {p.placement[j].site for j in ("learn", "retrain")} <= {"cloud", "shop-09"}


def test_members_behind_an_edge_hub_search_a_few_of_their_neighbours(tmp_path: Path) -> None:
    """Cameras wired to an on-premises server: each camera's search for the sites it may use
    looks at the server and the best connected other camera, not at every camera behind the
    server (that made planning quadratic: 2,000 cameras took 101 s); routes stay the shortest.
    A camera with the other cameras' devices is no host for their requests (only the transfer
    differs); one with other devices is."""
    import networkx as nx

    from planner.model.system import resolve

    rows = ["name,uplink_mbps,downlink_mbps"] + [f"cam-{i:02d},{100 + i},{1000}" for i in range(60)]
    (tmp_path / "cams.csv").write_text("\n".join(rows) + "\n")
    data = {"name": "plant", "sites": {
        "cam": {"kind": "edge", "region": "eu", "members": "cams.csv", "devices": [{"hardware": "hailo-8", "count": 1}]},
        "server": {"kind": "edge", "region": "eu", "devices": [{"hardware": "jetson-agx-orin-64gb", "count": 2}]},
        "cloud": {"kind": "cloud", "region": "eu", "pools": [{"hardware": "t4"}]}},
        "links": [{"between": ["cam", "server"], "network": "ethernet-1g"},
                  {"between": ["server", "cloud"], "network": "fiber-wan"}],
        "workloads": {"inspect": {"kind": "inference", "model": "mobilenet-v2", "source": "cam",
                                  "arrival": {"process": "poisson", "rate_per_s": 2}, "slo": {"p99_ms": 200}}}}
    (tmp_path / "plant.yaml").write_text(yaml.safe_dump(data))
    sc = planner.load_scenario(tmp_path / "plant.yaml")
    system = resolve(sc)
    # the widest link in its narrower direction: cam-59's 159 Mbit/s up (cam-58 for cam-59 itself),
    # searched, but with a camera's own hailo-8 not a candidate
    assert {s for s, _ in system.candidate_sites("inspect@cam-07")} == {"cam-07", "server", "cloud"}
    assert {s for s, _ in system.candidate_sites("inspect@cam-59")} == {"cam-59", "server", "cloud"}
    assert set(system._near("cam-07")) == {"cam-07", "server", "cloud", "cam-59", "cam-58"}  # not all sixty
    for a, b in (("cam-07", "server"), ("cam-07", "cam-59"), ("cam-07", "cloud"), ("server", "cam-31")):
        want = nx.shortest_path_length(sc.graph, a, b, weight="latency_ms")
        got = sum(sc.graph.edges[u, v]["latency_ms"] for u, v in zip(system.route(a, b).sites, system.route(a, b).sites[1:]))
        assert got == pytest.approx(want), (a, b)
    p = planner.plan(sc)
    assert p.feasible and len(p.placement) == 60
    # cam-59 with an Orin of its own: a host the other cameras may send to
    rows[-1] = "cam-59,159,1000,1"
    rows[0] += ",jetson-orin-nano-8gb"
    rows[1:-1] = [r + ",0" for r in rows[1:-1]]
    (tmp_path / "cams.csv").write_text("\n".join(rows) + "\n")
    system = resolve(planner.load_scenario(tmp_path / "plant.yaml"))
    assert {s for s, _ in system.candidate_sites("inspect@cam-07")} == {"cam-07", "cam-59", "server", "cloud"}
