"""Routed pairs (issue 17): a workload's `routing:` rules, the planner's pairs, the simulator's
routers, and their agreement."""
from __future__ import annotations

import random
from pathlib import Path

import pytest
import yaml

import planner
from planner.errors import ScenarioError
from planner.model.pricing import DAYS_PER_MONTH
from planner.model.routing import SCALE_INTERVAL_S, kept_up_share
from planner.plan.overflow import overflow_share
from planner.plan.queueing import blocking_prob
from planner.scenario import parse_scenario
from planner.sim.adapter import build_spec
from planner.sim.engine import Engine
from planner.tokens import TokenDist

ROOT = Path(__file__).resolve().parents[1]
SHOP = ROOT / "scenarios" / "shop_overflow.yaml"
#: YOLOv5s at fp16 on a Jetson Orin Nano (the cost model's figure the shop's loads are set by)
EDGE = {"site": "shop", "hardware": "jetson-orin-nano-8gb", "precision": "fp16"}
CLOUD = {"site": "aws-eu-west-1", "hardware": "l4", "precision": "fp16"}


def shop(**changes) -> dict:
    d = yaml.safe_load(SHOP.read_text())
    for path, value in changes.items():
        node = d
        keys = path.split(".")
        for k in keys[:-1]:
            node = node[k]
        node[keys[-1]] = value
    return d


def edge_service_s() -> float:
    return planner.estimate("yolov5s", "jetson-orin-nano-8gb", precision="fp16", batch=1).latency_ms / 1000


# --------------------------------------------------------------------------- the format
@pytest.mark.parametrize("routing, field, words", [
    ({"overflow": {"queue_ms": 5, "queue_len": 3}}, "routing.overflow", "exactly one of queue_ms or queue_len"),
    ({"overflow": {}}, "routing.overflow", "exactly one of queue_ms or queue_len"),
    ({}, "routing", "at least one rule"),
    ({"fallback": "sometimes"}, "routing.fallback", ""),
    ({"overflow": {"queue_len": -1}}, "routing.overflow.queue_len", ""),
    ({"by_tokens": {"edge_max_prompt_tokens": 512}}, "routing.by_tokens", "not a language model"),
])
def test_bad_routing_is_a_clear_error(routing, field, words):
    with pytest.raises(ScenarioError) as e:
        parse_scenario(shop(**{"workloads.cameras.routing": routing}), file="shop.yaml")
    msg = str(e.value)
    assert "shop.yaml" in msg and f"workloads.cameras.{field}" in msg and words in msg


def test_overflow_on_a_language_model_is_refused():
    d = yaml.safe_load((ROOT / "scenarios" / "clinic_llm.yaml").read_text())
    d["workloads"]["front-desk-chat"]["routing"] = {"overflow": {"queue_len": 2}}
    with pytest.raises(ScenarioError, match=r"continuous batching in workloads\.front-desk-chat\.routing\.overflow"):
        parse_scenario(d, file="clinic.yaml")


@pytest.mark.parametrize("threshold, words", [(9000, "no prompt is longer"), (5, "every prompt is longer")])
def test_a_token_threshold_that_splits_nothing_is_refused(threshold, words):
    d = yaml.safe_load((ROOT / "scenarios" / "clinic_by_tokens.yaml").read_text())
    d["workloads"]["chat"]["prompt_tokens"]["min"] = 16
    d["workloads"]["chat"]["routing"]["by_tokens"]["edge_max_prompt_tokens"] = threshold
    with pytest.raises(ScenarioError, match=words) as e:
        parse_scenario(d, file="clinic.yaml")
    assert e.value.field == "workloads.chat.routing.by_tokens.edge_max_prompt_tokens"


def test_a_secondary_needs_a_routing_rule():
    sc = parse_scenario(shop(**{"workloads.cameras.routing": None}))
    with pytest.raises(ScenarioError, match=r"no routing.*cameras\.secondary"):
        planner.evaluate(sc, {"cameras": {**EDGE, "secondary": CLOUD}})
    sc = parse_scenario(shop())
    with pytest.raises(ScenarioError, match=r"unknown site.*cameras\.secondary\.site"):
        planner.evaluate(sc, {"cameras": {**EDGE, "secondary": {**CLOUD, "site": "nowhere"}}})


# --------------------------------------------------------------------------- the queueing rule
def test_blocking_is_erlang_b_without_a_queue_and_saturates_in_overload():
    # Erlang B, 2 servers at 1 Erlang: (1/2) / (1 + 1 + 1/2) = 0.2
    assert blocking_prob(2, 1.0, 0) == pytest.approx(0.2)
    assert overflow_share(2, 1.0, 0, service_cv=0.0) == pytest.approx(0.2)  # insensitive to the service
    # a long queue in overload passes on what the servers cannot take: 1 - c / a
    assert blocking_prob(2, 3.0, 200) == pytest.approx(1 - 2 / 3, rel=1e-6)
    # a steadier server (cv 0) keeps its queue shorter: less overflow than an exponential one
    assert overflow_share(2, 2.0, 4, 0.0) < overflow_share(2, 2.0, 4, 1.0)


def test_token_share_is_exact():
    d = TokenDist("lognormal", 1500.0, 1.0, 1, 7000)
    rng = random.Random(5)
    draws = [d.sample(rng) for _ in range(200_000)]
    share = d.share_above(2000)
    got = sum(x > 2000 for x in draws) / len(draws)
    assert got == pytest.approx(share, abs=4 * (share * (1 - share) / len(draws)) ** 0.5)
    assert d.share_above(7000) == 0.0 and d.share_above(0) == 1.0
    assert d.below(2000).high == 2000 and d.below(2000).mean < 1500 < d.above(2000).mean


# --------------------------------------------------------------------------- planned against simulated
@pytest.mark.parametrize("rho", [1.0, 1.1, 1.2])
def test_planned_overflow_share_agrees_with_simulation(rho):
    """The planned share of overflowed requests within 10% (relative) of the simulated one, at
    three loads of the edge (offered load / its capacity); the p99 ratio is reported by
    bench/routing.py."""
    rate = rho * 2 / edge_service_s()  # two boxes
    sc = parse_scenario(shop(**{"horizon_s": 150, "workloads.cameras.arrival": {"process": "poisson", "rate_per_s": rate},
                                "workloads.cameras.routing": {"overflow": {"queue_len": 4}},
                                "sites.shop.devices": [{"hardware": "jetson-orin-nano-8gb", "count": 2, "max_batch": 1,
                                                        "service_cv": 0.5}]}))
    q = planner.evaluate(sc, {"cameras": {**EDGE, "secondary": CLOUD}})
    planned = q.options["cameras"].secondary_share
    r = planner.simulate(sc, q, seed=1).summary().set_index("workload").loc["cameras"]
    assert r["secondary_share"] == pytest.approx(planned, rel=0.10)
    assert q.table().iloc[0]["secondary_share"] == pytest.approx(planned)
    assert r["primary_p99_ms"] > 0 and r["secondary_p99_ms"] > 0


def test_an_instance_kept_up_for_sparse_requests_follows_their_rate():
    """A scale-from-zero pool's up time for sparse requests: a request alone keeps it up its cold
    start and a quiet window; a stream that never leaves such a window keeps it up throughout."""
    cold = 90.0
    assert kept_up_share(0.0, cold) == 0.0
    x = 1e-5 * (cold + 1.5 * SCALE_INTERVAL_S)  # requests per up period: one, alone
    assert kept_up_share(1e-5, cold) == pytest.approx(x / (1 + x), rel=1e-4)
    shares = [kept_up_share(r, cold) for r in (1e-4, 1e-3, 1e-2, 0.1, 1.0, 10.0)]
    assert shares == sorted(shares) and shares[-1] == 1.0


def test_sparse_overflow_is_billed_as_the_autoscaler_runs_it():
    """Hours of sparse overflow buy no scheduled instance: the pair pays the instance-hours the
    autoscaler keeps one up for them, at the pool's hourly price."""
    sc = planner.load_scenario(SHOP)
    p = planner.plan(sc)
    o = p.options["cameras"]
    kept_h = o.detail["kept_up_h_per_day"]
    assert 0.5 < kept_h < 3
    (pool, mix), = p.pool_mixes.items()
    scheduled = [h for h in range(24) if p.warm_instances_at(h)[pool] > 0]
    assert scheduled == [17, 18]  # the rush itself is bought by the hour
    assert mix.hourly_instance_h_per_day == 2.0
    # the pair's own bill carries the kept hours on top of its sides' (active energy, egress)
    sides = o.parts[0].bill.instances_usd + o.parts[1].bill.instances_usd
    price = mix.hourly.usd_per_instance_hour
    assert o.bill.instances_usd - sides == pytest.approx(kept_h * price * DAYS_PER_MONTH, rel=1e-9)


def test_by_tokens_sends_exactly_the_long_prompts():
    d = yaml.safe_load((ROOT / "scenarios" / "clinic_by_tokens.yaml").read_text())
    sc = parse_scenario(d)
    placement = {"chat": {"site": "clinic", "hardware": "jetson-agx-orin-64gb", "precision": "int4",
                          "secondary": {"site": "aws-us-east-1", "hardware": "l4", "precision": "fp16"}}}
    q = planner.evaluate(sc, placement)
    planned = q.options["chat"].secondary_share
    assert planned == pytest.approx(sc.workloads["chat"].prompt_dist().share_above(2000))
    engine = Engine(build_spec(sc, placement, seed=2))
    flow = engine.flows[0]
    seen: dict[str, list[int]] = {"edge": [], "cloud": []}
    for side, path in (("edge", flow.steps), ("cloud", flow.alt_steps)):
        first = path[0]
        path[0] = lambda req, _f=first, _s=side: (seen[_s].append(req.prompt), _f(req))[1]
    r = engine.run().summary().set_index("workload").loc["chat"]
    assert seen["edge"] and seen["cloud"]
    assert max(seen["edge"]) <= 2000 < min(seen["cloud"])  # exactly the prompts over the threshold
    n = len(seen["edge"]) + len(seen["cloud"])
    assert r["secondary_share"] == pytest.approx(len(seen["cloud"]) / n)
    assert r["secondary_share"] == pytest.approx(planned, abs=4 * (planned * (1 - planned) / n) ** 0.5)


# --------------------------------------------------------------------------- the planner's choice
def test_overflow_wins_only_where_cheaper_than_either_side_alone():
    sc = planner.load_scenario(SHOP)
    p = planner.plan(sc)
    row = p.table().set_index("workload").loc["cameras"]
    assert row["routing"] == "overflow" and row["secondary_hardware"] == "l4" and 0 < row["secondary_share"] < 0.1
    assert "boxes instead of" in row["reason"] and "18:00 peak" in row["reason"]
    # each side alone, at the same SLO: infeasible or dearer
    for alone in ({"cameras": EDGE}, {"cameras": CLOUD},
                  {"cameras": {**EDGE, "hardware": "jetson-orin-nx-16gb"}}):
        q = planner.evaluate(sc, alone)
        assert not q.feasible or q.monthly_cost_usd > p.monthly_cost_usd
    # the same shop without the rule plans a dearer single placement
    plain = planner.plan(parse_scenario(shop(**{"workloads.cameras.routing": None})))
    assert plain.feasible and plain.monthly_cost_usd > p.monthly_cost_usd
    # with a third Nano box the edge carries the peak alone and the pair is not chosen
    roomy = planner.plan(parse_scenario(shop(**{"sites.shop.devices": [
        {"hardware": "jetson-orin-nano-8gb", "count": 3, "max_batch": 1, "service_cv": 0.1}]})))
    assert roomy.feasible and roomy.table().iloc[0]["routing"] is None


def test_by_tokens_loses_where_the_long_prompts_keep_a_cloud_instance_anyway():
    sc = planner.load_scenario(ROOT / "scenarios" / "clinic_by_tokens.yaml")
    p = planner.plan(sc)
    row = p.table().iloc[0]
    assert p.feasible and row["routing"] is None and row["hardware"] == "l4"
    pair = planner.evaluate(sc, {"chat": {"site": "clinic", "hardware": "jetson-agx-orin-64gb", "precision": "int8",
                                          "secondary": {"site": "aws-us-east-1", "hardware": "l4", "precision": "int8"}}})
    assert pair.table().iloc[0]["routing"] == "by_tokens"
    assert pair.monthly_cost_usd > p.monthly_cost_usd
    assert "by_tokens" in row["reason"]  # the explanation names the pair it beat


def test_a_routed_plan_round_trips_through_a_placement():
    sc = planner.load_scenario(SHOP)
    p = planner.plan(sc)
    d = p.to_dict()["cameras"]
    assert d["routing"] == "overflow" and d["secondary"] == CLOUD
    q = planner.evaluate(sc, p.to_dict())
    assert q.monthly_cost_usd == pytest.approx(p.monthly_cost_usd)
    o = p.options["cameras"]
    assert len(o.share_by_hour) == 24 and max(o.share_by_hour) == pytest.approx(o.detail["peak_share"])


@pytest.mark.slow  # the app under streamlit.testing: about 50 s
def test_the_app_draws_the_routed_share_over_the_day():
    import json

    import plotly.graph_objects as go
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    at.selectbox(key="example").set_value("shop_overflow.yaml").run()
    for b in [b for b in at.button if b.label.startswith("Load")][:1]:
        b.click().run()
    at.number_input(key="edit:horizon_s").set_value(60.0).run()
    at.sidebar.radio(key="page").set_value("Plan").run()
    at.toggle(key="quick_look").set_value(True).run()
    assert not at.exception, [e.value for e in at.exception]
    chart = next(c for c in at.get("plotly_chart") if c.proto.id.endswith("-plan_routed"))
    fig = go.Figure(json.loads(chart.proto.spec))
    shares = planner.plan(planner.load_scenario(SHOP)).routed_shares()
    assert list(fig.data[0].x) == list(range(24))
    assert list(fig.data[0].y) == pytest.approx(shares["secondary_share"].tolist())
    assert max(fig.data[0].y) > 0.05 and fig.data[0].y[3] == 0.0  # the evening peak, not the night
