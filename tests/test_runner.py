"""`run`: plan, simulate, tighten, report; split placements; the CLI's run command."""
from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

import planner
from planner.scenario import parse_scenario


def test_run_writes_every_output_and_states_agreement(tmp_path):
    sc = planner.load_scenario("scenarios/smart_factory.yaml")
    result = planner.run(sc, tmp_path / "out")
    names = {p.name for p in result.written}
    assert {"plan.csv", "placement.json", "summary.csv", "agreement.csv", "report.html"} <= names
    html = (tmp_path / "out" / "report.html").read_text()
    # figures are inline SVG (no plotly.js: the report stays a few tens of kB, viewable offline)
    assert "Planned against simulated" in html and "<svg" in html and "<script" not in html
    assert "Simulated p99 was" in result.sentence
    agree = pd.read_csv(tmp_path / "out" / "agreement.csv")
    assert set(agree["workload"]) == {"inspection", "ppe-detection"}
    # Planned workloads meet their SLOs in simulation.
    assert agree["slo_met"].all()
    placement = json.loads((tmp_path / "out" / "placement.json").read_text())
    assert set(placement["placement"]) == set(sc.workloads)
    # Nothing half-written is left behind.
    assert not list((tmp_path / "out").glob(".*.tmp"))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["hospital_imaging", "retail_stores", "remote_site", "federated_stores"])
def test_planned_workloads_meet_their_slos_in_simulation(name):
    sc = planner.load_scenario(f"scenarios/{name}.yaml")
    result = planner.run(sc, max_rounds=3)
    assert result.plan.feasible
    missed = result.agreement[~result.agreement["slo_met"]]
    assert missed.empty, missed


def _split_scenario() -> planner.Scenario:
    """Raw 1.2 MB frames at 30/s from a Raspberry Pi on a 200 Mbps uplink: the Pi cannot run the
    whole detector and the uplink cannot carry the frames; the detector's early layers shrink them."""
    return parse_scenario({
        "name": "split",
        "sites": {"cam": {"kind": "edge", "devices": [{"hardware": "raspberry-pi-5", "count": 1}]},
                  "cloud": {"kind": "cloud", "pools": [{"hardware": "l4", "min_instances": 1, "max_instances": 8}]}},
        "links": [{"between": ["cam", "cloud"], "network": "fiber-wan", "uplink_mbps": 200}],
        "workloads": {"det": {"kind": "inference", "model": "yolov8n", "source": "cam", "input_bytes": 1228800,
                              "arrival": {"process": "poisson", "rate_per_s": 30}, "slo": {"p99_ms": 1000},
                              "precisions": ["int8"]}},
    }, file="split.yaml")


def test_split_is_chosen_where_neither_side_can_do_it_alone():
    p = planner.plan(_split_scenario())
    assert p.feasible, p.conflicts
    c = p.placement["det"]
    assert c.split is not None and c.site == "cloud" and c.edge_hardware == "raspberry-pi-5"
    row = p.table().iloc[0]
    assert "capacity" in row["binding"] or "bandwidth" in row["binding"]
    # The cut crosses the link, not the raw frame: the uplink stays within its limit.
    assert (p.resources().query("kind == 'link'")["utilization"] <= 0.7 + 1e-9).all()


def test_no_split_disables_splits():
    sc = _split_scenario()
    data = sc.model_dump(exclude={"source_file"})
    data["workloads"]["det"]["allow_split"] = False
    p = planner.plan(parse_scenario(data, file="nosplit.yaml"))
    assert not p.feasible
    assert any("det" in c for c in p.conflicts)


def test_cli_run_writes_report(tmp_path):
    r = subprocess.run([sys.executable, "-m", "planner.cli", "run", "scenarios/hospital_imaging.yaml", "--out",
                        str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "Simulated p99 was" in r.stdout
    assert (tmp_path / "report.html").is_file()


def test_cli_run_missing_file_is_one_line():
    r = subprocess.run([sys.executable, "-m", "planner.cli", "run", "nope.yaml"], capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr.strip() == "error: nope.yaml: file not found"
