"""Language models across the edge-cloud boundary: prefill in the cloud with the KV cache sent to
the device that decodes, and speculative decoding with a draft on the device; their figures, the
planner's choice against all-edge and all-cloud, and agreement with the simulator."""
from __future__ import annotations

import random
from pathlib import Path

import pytest
import yaml

import planner
from planner import catalog
from planner.costs.llm import expected_tokens_per_round, kv_cache_bytes
from planner.errors import ScenarioError
from planner.scenario import load_scenario, parse_scenario
from planner.sim.adapter import build_spec
from planner.sim.engine import Engine
from planner.sim.workload import Rounds

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "scenarios" / "llm_boundary.yaml"


# ---------------------------------------------------------------------------- hand-checkable figures
def test_kv_cache_bytes_of_a_known_model_and_prompt():
    # Llama-3-8B: 32 layers, 8 KV heads of 128 dims; K and V at fp16 = 2 x 32 x 8 x 128 x 2 B = 131,072 B a token
    assert kv_cache_bytes("llama-3-8b", 1) == 131_072
    assert kv_cache_bytes("llama-3-8b", 1000) == 131_072_000
    # Llama-3.2-1B: 16 layers, 8 KV heads of 64 dims = 2 x 16 x 8 x 64 x 2 B = 32,768 B a token
    assert kv_cache_bytes("llama-3.2-1b", 2048) == 32_768 * 2048
    # Llama-2-7B has no grouped-query attention: 32 KV heads, 4x Llama-3-8B's cache; fp32 doubles it
    assert kv_cache_bytes("llama-2-7b", 1) == 4 * 131_072
    assert kv_cache_bytes("llama-3-8b", 1, "fp32") == 2 * 131_072


@pytest.mark.parametrize("a, k, expected", [(0.7, 4, (1 - 0.7 ** 5) / 0.3), (0.5, 1, 1.5), (0.8, 3, 2.952),
                                            (0.0, 4, 1.0)])
def test_expected_tokens_per_speculative_round(a, k, expected):
    assert expected_tokens_per_round(a, k) == pytest.approx(expected, rel=1e-9)
    assert expected_tokens_per_round(0.7, 4) == pytest.approx(2.77309, rel=1e-5)


def test_the_default_acceptance_rate_is_sourced_and_an_assumption():
    a, source = catalog.speculative_acceptance("llama-3-8b", "llama-3.2-1b")
    assert 0.5 <= a <= 0.9 and "2211.17192" in source
    basis = catalog._frame("speculative").iloc[0]["basis"]
    assert "assumed" in basis


class _Flow:
    """Just what `Rounds` touches of a workload: its environment's clock and its steps."""

    def __init__(self):
        self.env = type("Env", (), {"now": 0.0})()
        self.done: list = []
        self.steps = [self._again, None, self.done.append]

    def _again(self, req):
        self.env.now += 1.0
        req.k = 1
        self.steps[1](req)


def test_simulated_rounds_yield_the_expected_tokens_per_round():
    flow = _Flow()
    rounds = Rounds(flow, k=4, acceptance_rate=0.7, rng=random.Random(3))
    flow.steps[1] = rounds
    req = type("Req", (), {})()
    for _ in range(4000):
        req.k, req.gen, req.t_first, req.tokens, req.path = 1, 0, -1.0, (10, 40), flow.steps
        rounds(req)
        assert req.gen == 40 and req.t_first == 0.0  # exactly its output; its first tokens at the first round
        flow.env.now = 0.0
    assert len(flow.done) == 4000
    assert rounds.accepted / rounds.rounds == pytest.approx(expected_tokens_per_round(0.7, 4) - 1, rel=0.05)


# ---------------------------------------------------------------------------- scenario fields
def _yaml(extra: str, model: str = "llama-3-8b", devices: str = "[{hardware: jetson-agx-orin-64gb}]") -> str:
    return f"""
name: t
sites:
  a: {{kind: edge, devices: {devices}}}
  c: {{kind: cloud, pools: [{{hardware: l4, max_instances: 2}}]}}
links:
  - {{between: [a, c], network: fiber-wan, uplink_mbps: 100, downlink_mbps: 1000, rtt_ms: 20}}
workloads:
  w:
    kind: inference
    model: {model}
    source: a
    arrival: {{process: poisson, rate_per_s: 0.1}}
{extra}
"""


@pytest.mark.parametrize("extra, model, devices, field, reason", [
    ("    split: prefill_decode", "llama-3-8b", None, "workloads.w.split", "prefill_cloud_decode_edge"),
    ("    split: []", "llama-3-8b", None, "workloads.w.split", ""),
    ("    speculative: {draft: llama-3.2-1bb}", "llama-3-8b", None, "workloads.w.speculative.draft", "llama-3.2-1b"),
    ("    speculative: {draft: llama-2-70b}", "llama-3-8b", None, "workloads.w.speculative.draft", "smaller model"),
    ("    speculative: {draft: llama-3.2-1b, k: 0}", "llama-3-8b", None, "workloads.w.speculative.k", ""),
    ("    speculative: {draft: llama-3.2-1b, acceptance_rate: 1.2}", "llama-3-8b", None,
     "workloads.w.speculative.acceptance_rate", ""),
    ("    split: prefill_cloud_decode_edge", "resnet-50", None, "workloads.w.split", "not a language model"),
    ("    split: prefill_cloud_decode_edge", "llama-3-8b", "[]", "workloads.w.split", "no device"),
    ("    split: prefill_cloud_decode_edge\n    allow_split: false", "llama-3-8b", None, "workloads.w.split",
     "allow_split"),
])
def test_bad_boundary_fields_name_the_field(extra, model, devices, field, reason):
    with pytest.raises(ScenarioError) as e:
        parse_scenario(_yaml(extra, model, devices or "[{hardware: jetson-agx-orin-64gb}]"), "t.yaml")
    msg = str(e.value)
    assert field in msg and reason in msg and "Traceback" not in msg


def test_boundary_fields_parse_and_only_opted_in_workloads_get_boundary_options():
    sc = parse_scenario(_yaml("    split: [prefill_cloud_decode_edge]\n    speculative: {draft: llama-3.2-1b, k: 3}"), "t.yaml")
    w = sc.workloads["w"]
    assert w.llm_splits() == ("prefill_cloud_decode_edge",) and w.speculative.k == 3
    from planner.plan.options import all_options

    _, opts = all_options(sc)
    assert {o.llm_split for o in opts["w"]} == {None, "prefill_cloud_decode_edge", "speculative"}
    _, plain = all_options(parse_scenario(_yaml(""), "t.yaml"))
    assert {o.llm_split for o in plain["w"]} == {None}


def test_a_placement_names_the_mode_and_a_bad_one_is_refused():
    sc = load_scenario(EXAMPLE)
    with pytest.raises(ScenarioError) as e:
        planner.evaluate(sc, {"campus-assistant": {"site": "aws-us-east-1", "hardware": "l4", "precision": "int4",
                                                   "llm_split": "prefill_edge"}})
    assert "campus-assistant.llm_split" in str(e.value) and "prefill_cloud_decode_edge" in str(e.value)
    with pytest.raises(ScenarioError) as e:  # the campus workload did not opt into speculative decoding
        planner.evaluate(sc, {"campus-assistant": {"site": "aws-us-east-1", "hardware": "l4", "precision": "int4",
                                                   "llm_split": "speculative"}})
    assert "speculative" in str(e.value)


# ---------------------------------------------------------------------------- the planner's choice
@pytest.fixture(scope="module")
def example_plan():
    return planner.plan(load_scenario(EXAMPLE))


def test_the_split_is_chosen_where_it_is_cheaper_at_the_same_slo(example_plan):
    sc = example_plan.scenario
    t = example_plan.table().set_index("workload")
    assert example_plan.feasible
    assert t.loc["campus-assistant", "llm_split"] == "prefill_cloud_decode_edge"
    split_usd = t.loc["campus-assistant", "monthly_cost_usd"]
    # the same workload all in the cloud meets its SLOs and costs more; all on the edge misses TTFT
    cloud = planner.evaluate(sc, {**example_plan.to_dict(), "campus-assistant": {
        "site": "aws-us-east-1", "hardware": "l4", "precision": "int4"}})
    edge = planner.evaluate(sc, {**example_plan.to_dict(), "campus-assistant": {
        "site": "campus", "hardware": "jetson-agx-orin-64gb", "precision": "int4"}})
    c, e = cloud.table().set_index("workload"), edge.table().set_index("workload")
    assert c.loc["campus-assistant", "ok"] and c.loc["campus-assistant", "monthly_cost_usd"] > split_usd
    assert not e.loc["campus-assistant", "ok"] and "TTFT" in e.loc["campus-assistant", "violations"]
    # the plan's own placement reads back to the same option
    again = planner.evaluate(sc, example_plan.to_dict()).table().set_index("workload")
    assert again.loc["campus-assistant", "llm_split"] == "prefill_cloud_decode_edge"
    reason = t.loc["campus-assistant", "reason"]
    assert "196.6 MB of KV cache" in reason and "TTFT" in reason  # 1,500 tokens x 131,072 B


def test_the_split_loses_where_its_kv_cache_is_too_big_for_the_link(example_plan):
    t = example_plan.table().set_index("workload")
    assert pd_isnull(t.loc["branch-assistant", "llm_split"]) and t.loc["branch-assistant", "site"] == "aws-us-east-1"
    reason = t.loc["branch-assistant", "reason"]
    assert "prefill_cloud_decode_edge" in reason and "bandwidth" in reason and "speculative" in reason


def test_with_egress_billed_the_campus_split_is_no_longer_chosen(tmp_path):
    raw = yaml.safe_load(EXAMPLE.read_text())
    del raw["links"][0]["egress_usd_per_gb"]  # the provider's egress on ~3 Gbit/s of KV cache
    path = tmp_path / "billed.yaml"
    path.write_text(yaml.safe_dump(raw))
    t = planner.plan(load_scenario(path)).table().set_index("workload")
    assert pd_isnull(t.loc["campus-assistant", "llm_split"]) and t.loc["campus-assistant", "site"] == "aws-us-east-1"


def pd_isnull(x) -> bool:
    return x is None or x != x


# ---------------------------------------------------------------------------- planned against simulated
def _ratios(sc, placement, seed: int = 0) -> dict[str, tuple[float, float]]:
    p = planner.evaluate(sc, placement)
    t = p.table().set_index("workload")
    s = planner.simulate(sc, p, seed=seed).summary().set_index("workload")
    return {n: (s.loc[n, "ttft_p99_ms"] / t.loc[n, "predicted_ttft_ms"], s.loc[n, "tpot_p99_ms"] / t.loc[n, "predicted_tpot_ms"])
            for n in placement}


def test_planned_and_simulated_ttft_tpot_agree_for_prefill_in_the_cloud(example_plan):
    (ttft, tpot), = _ratios(example_plan.scenario, {"campus-assistant": example_plan.to_dict()["campus-assistant"]}).values()
    assert 0.6 <= ttft <= 1.2 and 0.8 <= tpot <= 1.25


def test_planned_and_simulated_ttft_tpot_agree_for_speculative_decoding(tmp_path):
    raw = yaml.safe_load(EXAMPLE.read_text())
    raw["horizon_s"] = 900
    raw["workloads"] = {"branch-assistant": raw["workloads"]["branch-assistant"]}
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(raw))
    sc = load_scenario(path)
    placement = {"branch-assistant": {"site": "aws-us-east-1", "hardware": "l4", "precision": "int4",
                                      "edge_hardware": "jetson-agx-orin-64gb", "llm_split": "speculative"}}
    (ttft, tpot), = _ratios(sc, placement).values()
    assert 0.6 <= ttft <= 1.2 and 0.7 <= tpot <= 1.25
    # the simulated acceptance matches the planned tokens per round
    eng = Engine(build_spec(sc, planner.evaluate(sc, placement), seed=1))
    eng.run()
    rounds = next(s for s in eng.flows[0].steps if isinstance(s, Rounds))
    assert rounds.rounds > 100
    assert 1 + rounds.accepted / rounds.rounds == pytest.approx(expected_tokens_per_round(0.7, 4), rel=0.1)


# ---------------------------------------------------------------------------- loads the solver keeps joint
def test_a_split_option_loads_the_device_the_pool_and_both_link_directions():
    sc = parse_scenario(_yaml("    prompt_tokens: 2000\n    output_tokens: 100\n    precisions: [int4]\n"
                              "    split: prefill_cloud_decode_edge\n    speculative: {draft: llama-3.2-1b, k: 4}"), "t.yaml")
    from planner.plan.options import all_options

    _, opts = all_options(sc)
    split = next(o for o in opts["w"] if o.llm_split == "prefill_cloud_decode_edge")
    kinds = {r.kind for r in split.loads}
    assert kinds == {"device", "pool", "link"} and len([r for r in split.loads if r.kind == "link"]) == 2
    down = next(r for r in split.loads if r.kind == "link" and r.site == "c")
    # 0.1 requests/s x 2,000 tokens x 131,072 B = 209.7 Mbit/s of KV cache down the link
    assert split.loads[down] == pytest.approx(0.1 * 2000 * 131_072 * 8 / 1e6)
    assert split.output_bytes == 2000 * 131_072 and split.engine == "llama-3-8b@int4"
    spec = next(o for o in opts["w"] if o.llm_split == "speculative")
    assert spec.engine == "llama-3.2-1b@int4"  # the device runs the draft's engine
    assert spec.ttft_ms_by_level and spec.tpot_ms_by_level and all(v > 0 for v in spec.tpot_ms_by_level.values())


def test_a_draft_cannot_share_a_device_with_another_model():
    raw = yaml.safe_load(_yaml("    precisions: [int4]\n    speculative: {draft: llama-3.2-1b, k: 4}"))
    raw["workloads"]["other"] = {**raw["workloads"]["w"], "speculative": None}
    del raw["workloads"]["other"]["speculative"]
    sc = parse_scenario(yaml.safe_dump(raw), "t.yaml")
    p = planner.evaluate(sc, {
        "w": {"site": "c", "hardware": "l4", "precision": "int4", "edge_hardware": "jetson-agx-orin-64gb",
              "llm_split": "speculative"},
        "other": {"site": "a", "hardware": "jetson-agx-orin-64gb", "precision": "int4"}})
    t = p.table().set_index("workload")
    assert not p.feasible and "llama-3-8b@int4" in t.loc["w", "violations"]  # one engine a device
