"""report.html for someone who was not at the keyboard (issue 19): the verdict first, only the
columns that apply, readable axes, the description held against the plan, a few tens of kB.

The browser checks (chromium renders it, nothing wider than the page) are in test_report_browser.py.
"""
from __future__ import annotations

import re

import pytest
import yaml

import planner
from planner.report import contradictions
from planner.report.sections import header, table_html
from planner.report.svg import Axis, Mark, Row, fmt_ms, hchart, log_ticks
from planner.scenario import parse_scenario

#: The report must weigh under this (the issue: "a few hundred kB"; the old one was 4.8 MB).
MAX_REPORT_BYTES = 1_000_000


@pytest.fixture(scope="module")
def factory(tmp_path_factory: pytest.TempPathFactory):
    """smart_factory.yaml run once, its report read: (RunResult, report.html text)."""
    out = tmp_path_factory.mktemp("report") / "factory"
    result = planner.run(planner.load_scenario("scenarios/smart_factory.yaml"), out)
    return result, (out / "report.html").read_text()


def _section(html: str, name: str) -> str:
    m = re.search(rf"<section id='{name}'.*?</section>", html, re.S)
    assert m, f"no section {name}"
    return m.group(0)


def test_report_opens_with_the_run_verdict_and_cost(factory) -> None:
    result, html = factory
    summary = _section(html, "summary")
    assert html.index("id='summary'") < html.index("id='placement'") < html.index("id='agreement'")
    assert result.verdict[:1].upper() + result.verdict[1:] in summary
    assert ("verdict ok" in summary) == result.ok
    assert "planned $" in summary and "simulated $" in summary
    for w in ("inspection", "ppe-detection", "retrain"):
        assert w in summary
    assert "SLO met" in summary and "100.0%" in summary


def test_report_is_small_and_has_no_script(factory) -> None:
    _, html = factory
    assert len(html.encode()) < 100_000  # a few tens of kB: inline SVG, no plotly.js
    assert "<script" not in html.lower() and "cdn" not in html.lower()
    for section in ("summary", "placement", "agreement", "topology", "cost", "latency"):
        assert f"id='{section}'" in html


def test_a_vision_scenario_shows_no_language_model_columns(factory) -> None:
    _, html = factory
    placement = _section(html, "placement")
    assert "TTFT" not in placement and "TPOT" not in placement
    assert "Language model" not in placement
    assert ">Inference<" in placement and ">Training and federated<" in placement
    # no column that no row fills
    assert "<td></td>" not in _section(html, "agreement")


def test_language_models_get_their_columns_and_a_ttft_tpot_chart(tmp_path) -> None:
    planner.run(planner.load_scenario("scenarios/clinic_llm.yaml"), tmp_path)
    html = (tmp_path / "report.html").read_text()
    placement = _section(html, "placement")
    assert ">Language model<" in placement and "predicted TTFT (ms)" in placement and "SLO TPOT (ms)" in placement
    assert "time to first token (TTFT)" in _section(html, "latency")
    assert len(html.encode()) < MAX_REPORT_BYTES


def test_the_description_is_held_against_the_plan(factory) -> None:
    result, html = factory
    found = contradictions(result.plan)
    # "weekly retraining in the cloud", and the plan keeps retrain on the plant's Jetson
    assert any("retraining in the cloud" in s and "retrain" in s and "(edge)" in s for s in found), found
    assert "description disagree" in html


def test_no_contradiction_where_the_plan_follows_the_description() -> None:
    text = open("scenarios/smart_factory.yaml").read().replace(
        "weekly retraining in the cloud", "weekly retraining on site")
    sc = parse_scenario(yaml.safe_load(text), file="factory.yaml")
    assert contradictions(planner.plan(sc)) == []


def test_topology_shows_links_with_bandwidth_and_utilisation(factory) -> None:
    _, html = factory
    topo = _section(html, "topology")
    assert "<svg" in topo and "fiber-wan" in topo and "200 up, 1,000 down Mbit/s" in topo
    assert "uplink used" in topo and "%" in topo
    assert "inspection: jetson-orin-nx-16gb, int8" in topo  # where each workload runs


def test_cost_by_component(factory) -> None:
    result, html = factory
    cost = _section(html, "cost")
    for part in ("cloud instances", "edge hardware, amortised", "electricity", "network egress"):
        assert part in cost
    assert f"${result.plan.bill.amortisation_usd:,.0f}" in cost


def test_log_axes_are_labelled_with_values() -> None:
    assert log_ticks(1, 1000) == [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]
    assert log_ticks(1, 1e6) == [1, 10, 100, 1e3, 1e4, 1e5, 1e6]  # decades only past 10 ticks
    axis = Axis.fit([6.5, 8.9, 80], log=True, fmt=fmt_ms)
    assert axis.lo <= 6.5 and axis.hi >= 80 and len(axis.ticks) >= 2
    svg = hchart([Row("w", [Mark("dot", 6.5), Mark("tick", 80)])], title="t", axis_title="latency", log=True, fmt=fmt_ms)
    labels = re.findall(r"text-anchor='middle'>([^<]+)</text>", svg)
    assert "5 ms" in labels and "100 ms" in labels
    assert all(re.search(r"\d", label) for label in labels if label != "latency")  # no bare "2 3 4"
    assert [fmt_ms(v) for v in (0.5, 20, 2000, 90_000, 7_200_000)] == ["0.5 ms", "20 ms", "2 s", "1.5 min", "2 h"]


def test_tables_drop_empty_columns_and_read_as_words() -> None:
    import pandas as pd

    html = table_html(pd.DataFrame({"workload": ["a"], "predicted_ttft_ms": [float("nan")], "slo_p99_ms": [80.0],
                                    "binding": ["cost (the best option)"]}))
    assert "TTFT" not in html and "SLO p99 (ms)" in html and ">cost<" in html
    assert header("monthly_cost_usd") == "$/month" and header("uplink_mbps") == "uplink (Mbit/s)"


def test_a_fleet_is_a_distribution_not_a_hairball(tmp_path) -> None:
    text = open("scenarios/fleets/vehicle_telematics.yaml").read().replace("count: 1200", "count: 30")
    sc = parse_scenario(yaml.safe_load(text), file="telematics.yaml")
    result = planner.run(sc, tmp_path)
    html = (tmp_path / "report.html").read_text()
    topo = _section(html, "topology")
    assert "fleet of 30 members" in topo
    assert "members by uplink" in topo
    assert topo.count("<rect") < 200  # a box per fleet, bars per uplink bin: not a node per member
    assert "Fleets: how many members run each workload where" in _section(html, "placement")
    assert len(html.encode()) < MAX_REPORT_BYTES
    instances = [w for w in sc.workloads.values() if w.fleet is not None]
    assert result.plan.fleet_summary()["members"].sum() == len(instances)


def test_one_site_and_no_links(tmp_path) -> None:
    d = yaml.safe_load(open("scenarios/smart_factory.yaml"))
    d["sites"] = {k: v for k, v in d["sites"].items() if v["kind"] == "edge"}
    d["links"] = []
    d["workloads"] = {k: w for k, w in d["workloads"].items() if w["kind"] == "inference"}
    d["horizon_s"] = 30
    planner.run(parse_scenario(d, file="alone.yaml"), tmp_path)
    topo = _section((tmp_path / "report.html").read_text(), "topology")
    assert "no links" in topo and "plant" in topo
