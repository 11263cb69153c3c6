"""Language models: the iteration cost model, continuous batching in the simulator, the
planner's serving model, token counts in scenarios, and the LLM example's decisions."""
from __future__ import annotations

import random
import subprocess
from dataclasses import replace
import sys
from pathlib import Path

import pytest

import planner
from planner import catalog
from planner.costs import zoo
from planner.costs.graphs import graph
from planner.costs.llm import is_llm, llm_cost, llm_precisions
from planner.costs.roofline import WEIGHT_STREAM_EFF
from planner.errors import PlannerError, ScenarioError
from planner.plan.llm_serving import Shape, capacity_per_s, operating_point
from planner.scenario import load_scenario, parse_scenario
from planner.sim.engine import Engine
from planner.sim.spec import ArrivalSpec, ComputeSpec, InferenceSpec, SimSpec, SiteSpec, Stage, TokenServing
from planner.tokens import TokenDist

ROOT = Path(__file__).resolve().parents[1]
GPUS = [h for h in catalog.hardware_ids() if h != catalog.HOST and catalog.hardware(h).kind == "gpu"]
LLMS = list(zoo.LLM_ARCH)


# ---------------------------------------------------------------------------- catalog and cost model
def test_catalog_lists_the_issue_models_and_graphs_agree():
    for m in ("llama-2-7b", "llama-3-8b", "gpt-j-6b", "llama-2-70b", "llama-3.2-1b"):
        assert is_llm(m) and catalog.model(m).family == "llm"
        g = graph(m, 1, 8)
        assert g.params == pytest.approx(catalog.model(m).params_millions * 1e6, rel=5e-4), m


@pytest.mark.parametrize("model", LLMS)
def test_decode_per_token_tracks_weight_bytes_over_bandwidth(model):
    """Batch 1, short context: a decode step reads every weight once, so its time is weight bytes
    / (bandwidth x streaming efficiency) plus a small fixed cost per kernel."""
    for hw_id in GPUS:
        hw = catalog.hardware(hw_id)
        for p in llm_precisions(hw_id):
            c = llm_cost(model, hw_id, p)
            if not c.fits:
                continue
            ideal_s = c.weight_gb * 1e9 / (hw.mem_bw_gb_per_s * 1e9 * WEIGHT_STREAM_EFF)
            step = c.decode_step_s(1, 16)
            assert ideal_s <= step <= ideal_s * 1.6 + 0.004, (model, hw_id, p, step, ideal_s)


def test_decode_halves_with_weight_bytes_and_scales_with_bandwidth():
    a100, h100 = llm_cost("llama-2-7b", "a100-80gb", "fp16"), llm_cost("llama-2-7b", "h100-sxm", "fp16")
    a100_int4 = llm_cost("llama-2-7b", "a100-80gb", "int4")
    ratio_bw = catalog.hardware("h100-sxm").mem_bw_gb_per_s / catalog.hardware("a100-80gb").mem_bw_gb_per_s
    assert a100.decode_step_s(1, 16) / h100.decode_step_s(1, 16) == pytest.approx(ratio_bw, rel=0.25)
    # int4 weights are ~0.27 of fp16 bytes: decode is 2.5-4x faster
    assert 2.5 < a100.decode_step_s(1, 16) / a100_int4.decode_step_s(1, 16) < 4.0


def test_kv_cache_reads_grow_decode_time_with_context():
    c = llm_cost("llama-2-7b", "a100-80gb", "fp16")
    short, long = c.decode_step_s(32, 128), c.decode_step_s(32, 3000)
    extra_bytes = 32 * (3000 - 128) * c.kv_bytes_per_token
    assert long - short == pytest.approx(extra_bytes / c.bytes_per_s, rel=0.1)


@pytest.mark.parametrize("hw_id", ["a100-80gb", "l4", "jetson-agx-orin-64gb", "jetson-orin-nano-8gb"])
def test_ttft_grows_with_prompt_length_faster_than_linearly(hw_id):
    c = llm_cost("llama-3-8b", hw_id, "int4")
    times = [c.prefill_s(n) for n in (64, 256, 1024, 4096)]
    assert all(a < b for a, b in zip(times, times[1:]))
    # attention's square: 16x the prompt costs more than 16x the time once compute-bound
    assert times[3] / times[1] > 16


def test_weight_precision_down_to_int4_and_memory_left_for_kv():
    nano = llm_cost("llama-3-8b", "jetson-orin-nano-8gb", "int4")
    assert 4.0 <= nano.weight_gb <= 5.0  # "an 8B model at int4 needs about 4 to 5 GB"
    assert not llm_cost("llama-3-8b", "jetson-orin-nano-8gb", "fp16").fits
    agx = llm_cost("llama-3-8b", "jetson-agx-orin-64gb", "int4")
    assert agx.kv_capacity_tokens > 10 * nano.kv_capacity_tokens > 0
    # KV per token: 2 (K, V) x layers x KV heads x head dim x 2 bytes (GQA: 8 of 32 heads)
    assert nano.kv_bytes_per_token == 2 * 32 * 8 * 128 * 2
    assert "int4" in llm_precisions("jetson-orin-nano-8gb")  # W4A16 on a GPU without int4 math


def test_tensor_parallel_shards_a_model_no_gpu_holds():
    assert not llm_cost("llama-2-70b", "h100-sxm", "fp16").fits
    tp8 = llm_cost("llama-2-70b", "h100-sxm", "fp16", gpus=8)
    assert tp8.fits and tp8.decode_step_s(1, 512) < llm_cost("llama-2-70b", "h100-sxm", "int8").decode_step_s(1, 512)
    with pytest.raises(PlannerError, match="cloud"):
        llm_cost("llama-2-70b", "jetson-agx-orin-64gb", "int4", gpus=2)
    with pytest.raises(PlannerError, match="does not serve"):
        llm_cost("llama-2-7b", "hailo-8", "fp16")


def test_estimate_reports_decode_per_token_from_the_llm_model():
    e = planner.estimate("llama-2-7b", "a100-80gb", "fp16")
    c = llm_cost("llama-2-7b", "a100-80gb", "fp16")
    assert e.detail["decode_ms_per_token"] == pytest.approx(c.decode_step_s(1, 512) * 1e3, rel=1e-6)
    assert e.detail["kv_capacity_tokens"] == c.kv_capacity_tokens


# ---------------------------------------------------------------------------- token counts
def test_token_distributions_sample_their_mean_and_quantiles():
    rng = random.Random(1)
    for d in (TokenDist("lognormal", 600, 0.5, 1, None), TokenDist("exponential", 200, 0, 1, None),
              TokenDist("uniform", 100, 0, 20, None)):
        xs = sorted(d.sample(rng) for _ in range(20000))
        assert sum(xs) / len(xs) == pytest.approx(d.mean, rel=0.05)
        assert xs[int(0.99 * len(xs))] == pytest.approx(d.quantile(0.99), rel=0.08)
    capped = TokenDist("lognormal", 600, 1.0, 10, 900)
    assert all(10 <= capped.sample(rng) <= 900 for _ in range(2000))
    assert TokenDist.fixed(7).sample(rng) == 7 == TokenDist.fixed(7).quantile(0.99)


def _llm_yaml(workload: str) -> str:
    return f"""
name: t
sites:
  a: {{kind: edge, devices: [{{hardware: jetson-agx-orin-64gb}}]}}
workloads:
  w:
    kind: inference
    source: a
    arrival: {{process: poisson, rate_per_s: 0.1}}
{workload}
"""


@pytest.mark.parametrize("body, field, reason", [
    ("    model: resnet-50\n    prompt_tokens: 100", "workloads.w.prompt_tokens", "not a language model"),
    ("    model: resnet-50\n    slo: {ttft_ms: 100}", "workloads.w.slo.ttft_ms", "not a language model"),
    ("    model: llama-2-7b\n    prompt_tokens: 4000\n    output_tokens: 200", "workloads.w.prompt_tokens", "context of 4096"),
    ("    model: llama-2-7b\n    prompt_tokens: {mean: 500, max: 400}", "workloads.w.prompt_tokens", "exceeds max"),
    ("    model: llama-2-7b\n    output_tokens: {mean: 50, dist: gaussian}", "workloads.w.output_tokens.", "dist"),
])
def test_bad_token_fields_name_the_field(body, field, reason):
    with pytest.raises(ScenarioError) as e:
        parse_scenario(_llm_yaml(body), "t.yaml")
    msg = str(e.value)
    assert field in msg and reason in msg and "Traceback" not in msg


def test_token_fields_parse():
    sc = parse_scenario(_llm_yaml("    model: llama-3-8b\n    prompt_tokens: {mean: 900, cv: 0.3, max: 4000}\n"
                                  "    output_tokens: 64\n    slo: {ttft_ms: 500, tpot_ms: 60}"), "t.yaml")
    w = sc.workloads["w"]
    assert w.prompt_dist() == TokenDist("lognormal", 900.0, 0.3, 1, 4000) and w.output_dist() == TokenDist.fixed(64)


# ---------------------------------------------------------------------------- simulator
def _sim(cost, rate: float, prompt: TokenDist, output: TokenDist, horizon_s: float = 1800.0, seed: int = 0,
         kv_tokens: int | None = None):
    ts = TokenServing(cost.step_s, kv_tokens or cost.kv_capacity_tokens, prompt.sample, output.sample,
                      cost.max_context, mean_prompt=prompt.mean, mean_output=output.mean)
    spec = SimSpec([SiteSpec("a")], [ComputeSpec("gpu", "a", count=1)],
                   inference=[InferenceSpec("w", "a", ArrivalSpec.poisson(rate), [Stage("gpu", lambda b: 0.0, 0, ts)])],
                   horizon_s=horizon_s, seed=seed)
    eng = Engine(spec)
    return eng, eng.run()


def test_kv_memory_bounds_concurrency_in_simulation():
    """A cache for ~5 requests: the server never holds more context than fits, more requests
    arrive than it can hold at once, so they wait (and some are preempted), and one that could
    never fit is refused with its reason."""
    cost = llm_cost("llama-3-8b", "a100-80gb", "int4")
    prompt, output = TokenDist.fixed(1000), TokenDist.fixed(400)
    eng, res = _sim(cost, 2.0, prompt, output, horizon_s=300, kv_tokens=7000)
    lane = eng.groups["gpu"].lanes[0]
    assert lane.peak_kv_tokens <= 7000
    assert lane.peak_batch <= 7000 // 1000
    s = res.summary().iloc[0]
    assert s["completed"] > 50 and s["in_flight"] > 10  # the rest wait for cache room
    # an unbounded cache would hold far more at once
    eng2, _ = _sim(cost, 2.0, prompt, output, horizon_s=300)
    assert eng2.groups["gpu"].lanes[0].peak_batch > 2 * lane.peak_batch
    _, res3 = _sim(cost, 0.5, TokenDist.fixed(6500), TokenDist.fixed(1000), horizon_s=60, kv_tokens=7000)
    f = res3.failures()
    assert set(f["reason"]) == {"context_exceeds_kv_cache"} and f["count"].sum() == res3.summary().iloc[0]["arrived"]


def test_simulated_tokens_match_the_cost_model_at_low_load():
    cost = llm_cost("llama-2-7b", "l4", "fp16")
    _, res = _sim(cost, 0.02, TokenDist.fixed(512), TokenDist.fixed(128), horizon_s=3600)
    s = res.summary().iloc[0]
    assert s["ttft_p50_ms"] == pytest.approx(cost.prefill_s(512) * 1e3, rel=0.05)
    assert s["tpot_p50_ms"] == pytest.approx(cost.decode_step_s(1, 576) * 1e3, rel=0.05)
    assert s["tokens_per_s"] == pytest.approx(0.02 * 128, rel=0.25)


@pytest.mark.parametrize("load", [0.3, 0.6])
def test_planner_serving_model_agrees_with_simulation(load):
    """The analytical operating point against continuous batching simulated token by token."""
    cost = llm_cost("llama-3-8b", "jetson-agx-orin-64gb", "int8")
    prompt, output = TokenDist("lognormal", 800, 0.4, 1, 3000), TokenDist.fixed(200)
    shape = Shape.of(prompt, output)
    mu = capacity_per_s(cost, shape)
    pt = operating_point(cost, shape, load * mu)
    _, res = _sim(cost, load * mu, prompt, output, horizon_s=7200, seed=3)
    s = res.summary().iloc[0]
    assert s["tpot_p50_ms"] == pytest.approx(pt.step_s * 1e3, rel=0.3)
    assert s["tpot_p99_ms"] <= pt.tpot_p99_s * 1e3 * 1.5
    assert s["ttft_p99_ms"] <= pt.ttft_p99_s * 1e3 * 1.5
    assert s["p99_ms"] == pytest.approx(pt.e2e_p99_s * 1e3, rel=0.5)


def test_capacity_is_where_the_server_stops_keeping_up():
    cost = llm_cost("llama-3-8b", "l4", "int8")
    shape = Shape.of(TokenDist.fixed(512), TokenDist.fixed(128))
    mu = capacity_per_s(cost, shape)
    assert operating_point(cost, shape, 0.95 * mu).stable and not operating_point(cost, shape, 1.1 * mu).stable
    lo, hi = operating_point(cost, shape, 0.2 * mu), operating_point(cost, shape, 0.8 * mu)
    assert lo.batch < hi.batch and lo.ttft_p99_s < hi.ttft_p99_s and lo.step_s <= hi.step_s
    # a request longer than the model's context, or than the cache, can never be served
    nano = llm_cost("llama-3-8b", "jetson-orin-nano-8gb", "int4")
    assert capacity_per_s(nano, Shape.of(TokenDist.fixed(8000), TokenDist.fixed(300))) == 0
    assert "context" in operating_point(nano, Shape.of(TokenDist.fixed(8000), TokenDist.fixed(300)), 0.01).why
    small = replace(llm_cost("llama-2-7b", "jetson-orin-nano-8gb", "int4"), kv_capacity_tokens=3000)
    big = Shape.of(TokenDist.fixed(3500), TokenDist.fixed(500))
    assert capacity_per_s(small, big) == 0
    assert "KV cache" in operating_point(small, big, 0.01).why


# ---------------------------------------------------------------------------- planner and run
def test_clinic_example_decisions_and_agreement(tmp_path):
    sc = load_scenario(ROOT / "scenarios" / "clinic_llm.yaml")
    p = planner.plan(sc)
    assert p.feasible
    t = p.table().set_index("workload")
    assert t.loc["discharge-notes", "site"] == "clinic"  # privacy keeps notes on site
    assert "privacy" in t.loc["discharge-notes", "reason"]
    assert t.loc["policy-qa", "site"] == "aws-us-east-1"  # long prompts: the cloud prefills them fast
    assert "SLO: T" in t.loc["policy-qa", "reason"]  # the edge misses a token objective
    assert t.loc["kiosk-suggest", "hardware"] == "jetson-orin-nano-8gb"
    for col in ("predicted_ttft_ms", "predicted_tpot_ms"):
        assert (t[col] > 0).all()
    assert (t["predicted_ttft_ms"] <= t["slo_ttft_ms"]).all() and (t["predicted_tpot_ms"] <= t["slo_tpot_ms"]).all()
    r = planner.run(sc, tmp_path, max_rounds=1)
    a = r.agreement.set_index("workload")
    assert a["slo_met"].all()
    assert ((a["sim_over_predicted"] > 0.5) & (a["sim_over_predicted"] < 2.0)).all()
    assert (tmp_path / "report.html").is_file()


def test_two_models_never_share_a_device():
    sc = load_scenario(ROOT / "scenarios" / "clinic_llm.yaml")
    p = planner.plan(sc)
    engines = {}
    for name, o in p.options.items():
        for r in o.loads:
            if r.kind == "device":
                engines.setdefault(r, set()).add(o.engine)
    assert all(len(e) == 1 for e in engines.values())
    hand = {n: {"site": "clinic", "hardware": "jetson-agx-orin-64gb", "precision": "int4"}
            for n in ("discharge-notes", "kiosk-suggest")}
    ev = planner.evaluate(sc, hand)
    assert any("serves one language model" in v for v in ev.table()["violations"])


def test_bench_llm_prints_every_catalog_llm_with_sources():
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "llm.py")], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    for m in LLMS:
        assert m in out
    assert "jetson-orin-nano-8gb" in out and "h100-sxm" in out and "transferred" in out
    assert "max_tok_s" in out and "b1_ttft_ms" in out


def test_the_runtimes_time_per_request_adds_to_ttft_in_plan_and_simulation():
    """The fitted per-request time (scheduling, tokenising) delays a request's first token by the
    same amount in the serving model and in the simulator, and costs no GPU time."""
    cost = llm_cost("llama-3-8b", "h100-sxm", "fp16")
    assert cost.request_s > 0
    bare = replace(cost, request_s=0.0)
    shape = Shape.of(TokenDist.fixed(128), TokenDist.fixed(16))
    planned = operating_point(cost, shape, 0.01).ttft_p99_s - operating_point(bare, shape, 0.01).ttft_p99_s
    assert planned == pytest.approx(cost.request_s)
    prompt, output = TokenDist.fixed(128), TokenDist.fixed(16)

    def ttft_p50_ms(c):
        ts = TokenServing(c.step_s, c.kv_capacity_tokens, prompt.sample, output.sample, c.max_context,
                          mean_prompt=128, mean_output=16, request_s=c.request_s)
        spec = SimSpec([SiteSpec("a")], [ComputeSpec("gpu", "a", count=1)],
                       inference=[InferenceSpec("w", "a", ArrivalSpec.poisson(0.05), [Stage("gpu", lambda b: 0.0, 0, ts)])],
                       horizon_s=2000, seed=1)
        return Engine(spec).run().summary().iloc[0]["ttft_p50_ms"]

    assert ttft_p50_ms(cost) - ttft_p50_ms(bare) == pytest.approx(cost.request_s * 1e3, rel=0.05)


def test_fp8_is_planned_where_named_and_the_hardware_has_it():
    """`precisions: [fp8, ...]` offers fp8 on the GPUs with an fp8 rate (H100, L4), not on the A100
    or the Jetsons; a workload that names no precisions is not offered fp8 (the same dense rate
    as int8: an unasked fp8 would only tie); a placement at fp8 simulates."""
    import yaml

    from planner.plan.options import all_options

    d = yaml.safe_load((Path(__file__).resolve().parents[1] / "scenarios" / "llm_assistant.yaml").read_text())
    d["workloads"]["code-complete"]["precisions"] = ["fp8", "int8"]
    sc = parse_scenario(yaml.safe_dump(d))
    _, opts = all_options(sc)
    fp8 = {(o.hardware, o.precision) for o in opts["code-complete"] if o.precision == "fp8"}
    assert fp8 == {("h100-sxm", "fp8"), ("l4", "fp8")}
    assert not any(o.precision == "fp8" for o in opts["chat"])  # chat names its precisions without fp8
    placed = planner.evaluate(sc, {"code-complete": {"site": "aws-eu-west-1", "hardware": "h100-sxm", "precision": "fp8"},
                                   "chat": {"site": "aws-eu-west-1", "hardware": "a100-80gb", "precision": "int8"}})
    assert placed.table().set_index("workload").loc["code-complete", "precision"] == "fp8"
    sim = planner.simulate(sc, placed, seed=1).summary().set_index("workload")
    assert sim.loc["code-complete", "completed"] > 1000


def test_the_kv_cache_precision_is_a_workload_choice():
    """`kv_precision: fp8` halves the cache per token: twice the context fits beside the weights,
    the planner's capacity rises, and the simulator serves with the same cache."""
    import yaml

    from planner.plan.options import all_options

    d = yaml.safe_load((Path(__file__).resolve().parents[1] / "scenarios" / "llm_assistant.yaml").read_text())
    base = parse_scenario(yaml.safe_dump(d))
    d["workloads"]["chat"]["kv_precision"] = "fp8"
    fp8 = parse_scenario(yaml.safe_dump(d))
    assert llm_cost("llama-3-8b", "l4", "int8", 1, "fp8").kv_bytes_per_token == pytest.approx(
        llm_cost("llama-3-8b", "l4", "int8").kv_bytes_per_token / 2)

    def capacity(sc):
        _, opts = all_options(sc)
        return next(o.detail["kv_capacity_tokens"] for o in opts["chat"] if (o.hardware, o.precision) == ("l4", "int8"))

    assert capacity(fp8) == pytest.approx(2 * capacity(base), rel=0.01)
    placed = planner.evaluate(fp8, {"chat": {"site": "aws-eu-west-1", "hardware": "l4", "precision": "int8"},
                                    "code-complete": {"site": "aws-eu-west-1", "hardware": "h100-sxm", "precision": "int8"}})
    sim = planner.simulate(fp8, placed, seed=1)
    assert sim.summary().set_index("workload").loc["chat", "completed"] > 100
    d["workloads"]["chat"]["model"] = "resnet-50"
    for k in ("prompt_tokens", "output_tokens"):
        d["workloads"]["chat"].pop(k)
    d["workloads"]["chat"]["slo"] = {"p99_ms": 100}
    with pytest.raises(ScenarioError) as e:
        parse_scenario(yaml.safe_dump(d), file="kv.yaml")
    assert "workloads.chat.kv_precision" in str(e.value)


# ---------------------------------------------------------------------------- KV precision and engine size
#: a long-context workload on a memory-bound L4: the KV cache, not compute, bounds its sequences
KV_CHOICE = """
name: kv-choice
horizon_s: 60
seed: 3
objective: cost
sites:
  office: {kind: edge, region: eu-west}
  cloud:
    kind: cloud
    region: eu-west
    provider: aws
    pools:
      - {hardware: l4, max_instances: 64, cold_start_s: 180}
      - {hardware: a100-80gb, max_instances: 8}
links:
  - {between: [office, cloud], network: fiber-wan, uplink_mbps: 1000, downlink_mbps: 1000, rtt_ms: 15}
workloads:
  docs:
    kind: inference
    model: llama-2-7b
    source: office
    arrival: {process: poisson, rate_per_s: 2}
    prompt_tokens: 3000
    output_tokens: 300
    slo: {ttft_ms: 3000, tpot_ms: 100}
    precisions: [int8]
    kv_precision: [fp16, fp8]
"""


def test_the_planner_chooses_the_kv_cache_precision_from_a_list():
    """`kv_precision: [fp16, fp8]`: an option per KV precision the hardware stores (fp8 on the L4,
    not the A100); on the memory-bound L4 the fp8 cache holds twice the sequences, so half the
    instances serve the load and the planner picks it. The choice is carried on the placement
    (round trip through as_dict / parse_placement), the table and the label, and the simulator
    serves with the fp8 cache; a placement that names none runs the workload's first."""
    import yaml

    from planner.placement import parse_placement
    from planner.plan.options import all_options
    from planner.sim.adapter import build_spec

    sc = parse_scenario(KV_CHOICE, "kv.yaml")
    _, opts = all_options(sc)
    by = {(o.hardware, o.kv_precision): o for o in opts["docs"]}
    assert set(by) == {("l4", "fp16"), ("l4", "fp8"), ("a100-80gb", "fp16")}  # the A100 has no fp8
    fp16, fp8 = by[("l4", "fp16")], by[("l4", "fp8")]
    assert fp8.detail["max_batch"] == 2 * fp16.detail["max_batch"]
    assert fp8.detail["capacity_per_s"] > 1.5 * fp16.detail["capacity_per_s"]
    assert fp8.label == "l4@cloud int8 KV fp8" and fp16.label == "l4@cloud int8"  # fp16 is the default cache

    p = planner.plan(sc)
    row = p.table().set_index("workload").loc["docs"]
    assert (row["hardware"], row["kv_precision"]) == ("l4", "fp8") and row["ok"]
    at_fp16 = planner.evaluate(sc, {"docs": {"site": "cloud", "hardware": "l4", "precision": "int8", "kv_precision": "fp16"}})
    assert at_fp16.feasible and at_fp16.monthly_cost_usd > 1.8 * p.monthly_cost_usd  # twice the instances
    assert "KV fp8" in row["reason"]
    ch = p.placement["docs"]
    assert ch.kv_precision == "fp8" and p.to_dict()["docs"]["kv_precision"] == "fp8"
    assert parse_placement(sc, p.to_dict()) == p.placement
    assert parse_placement(sc, yaml.safe_load(yaml.safe_dump(p.to_dict()))) == p.placement

    def kv_capacity(placement) -> int:
        return build_spec(sc, placement).inference[0].stages[0].llm.kv_capacity_tokens

    assert kv_capacity(p) == llm_cost("llama-2-7b", "l4", "int8", 1, "fp8").kv_capacity_tokens
    hand = {"docs": {"site": "cloud", "hardware": "l4", "precision": "int8"}}  # names no cache: fp16, the first
    assert kv_capacity(hand) == llm_cost("llama-2-7b", "l4", "int8").kv_capacity_tokens == fp16.detail["kv_capacity_tokens"]
    assert planner.evaluate(sc, hand).table().set_index("workload").loc["docs", "kv_precision"] == "fp16"
    sim = planner.simulate(sc, p, seed=1).summary().set_index("workload")
    assert sim.loc["docs", "completed"] > 50 and sim.loc["docs", "kv_preemptions"] == 0


def test_a_single_kv_precision_keeps_its_meaning_and_bad_values_name_the_field():
    """One value is fixed wherever the workload runs (fp8 on the A100 too, as before the list);
    a workload that names none runs the default cache and its placement records none; bad values
    in the scenario or a placement are ScenarioErrors naming the field."""
    import yaml

    from planner.placement import parse_placement
    from planner.plan.options import all_options

    d = yaml.safe_load(KV_CHOICE)
    d["workloads"]["docs"]["kv_precision"] = "fp8"
    _, opts = all_options(parse_scenario(yaml.safe_dump(d)))
    assert {(o.hardware, o.kv_precision) for o in opts["docs"]} == {("l4", "fp8"), ("a100-80gb", "fp8")}
    d["workloads"]["docs"].pop("kv_precision")
    sc = parse_scenario(yaml.safe_dump(d))
    p = planner.plan(sc)
    assert "kv_precision" not in p.to_dict()["docs"] and p.placement["docs"].kv_precision is None
    assert p.table().set_index("workload").loc["docs", "kv_precision"] == "fp16"
    with pytest.raises(ScenarioError, match="docs.kv_precision.*gives no kv_precision"):
        parse_placement(sc, {"docs": {"site": "cloud", "hardware": "l4", "precision": "int8", "kv_precision": "fp8"}})
    for bad, where in ((["fp16", "fp4"], "workloads.docs.kv_precision[1]"), ([], "workloads.docs.kv_precision"),
                       ("int4", "workloads.docs.kv_precision")):
        d["workloads"]["docs"]["kv_precision"] = bad
        with pytest.raises(ScenarioError) as e:
            parse_scenario(yaml.safe_dump(d), file="kv.yaml")
        assert f"in {where};" in str(e.value) or str(e.value).endswith(f"in {where}")
    listed = parse_scenario(KV_CHOICE)
    with pytest.raises(ScenarioError, match=r"'int8' is not a KV-cache precision .* in docs.kv_precision; it may use: fp16, fp8"):
        parse_placement(listed, {"docs": {"site": "cloud", "hardware": "l4", "precision": "int8", "kv_precision": "int8"}})
    with pytest.raises(ScenarioError, match="with its KV cache at fp8"):  # no fp8 cache on the A100
        planner.evaluate(listed, {"docs": {"site": "cloud", "hardware": "a100-80gb", "precision": "int8",
                                           "kv_precision": "fp8"}})


#: a small model with long outputs on an H200, its one instance near full: the cache has room
#: for ~1,000 sequences, so the engine's 256 bounds it
WIDE_BATCH = """
name: wide-batch
horizon_s: 40
seed: 2
objective: cost
sites:
  office: {kind: edge}
  cloud:
    kind: cloud
    provider: aws
    pools: [{hardware: h200, min_instances: 1, max_instances: 1, target_utilization: 0.95, max_seqs: 512}]
links:
  - {between: [office, cloud], network: fiber-wan, uplink_mbps: 1000, downlink_mbps: 1000, rtt_ms: 15}
workloads:
  summarise:
    kind: inference
    model: llama-3.2-1b
    source: office
    precisions: [fp16]
    arrival: {process: poisson, rate_per_s: 38}
    prompt_tokens: 2000
    output_tokens: 1000
    slo: {ttft_ms: 5000, tpot_ms: 200}
"""


def test_a_pool_may_hold_more_than_256_sequences():
    """`max_seqs: 512` on the pool: the planner's capacity per instance rises (one instance meets
    the load only so), the simulator's lane holds more than 256 sequences at once (never more
    than 512), and `estimate` prices a batch of 512 asked for explicitly on an engine that
    holds it; out-of-range values name the field."""
    import yaml

    from planner.plan.options import all_options
    from planner.sim.adapter import build_spec

    wide = parse_scenario(WIDE_BATCH)
    d = yaml.safe_load(WIDE_BATCH)
    d["sites"]["cloud"]["pools"][0].pop("max_seqs")
    default = parse_scenario(yaml.safe_dump(d))
    (o512,), (o256,) = (all_options(sc)[1]["summarise"] for sc in (wide, default))
    assert (o512.detail["max_batch"], o256.detail["max_batch"]) == (512, 256)
    assert o512.detail["capacity_per_s"] > 1.15 * o256.detail["capacity_per_s"]
    assert o256.detail["capacity_per_s"] * 0.95 < 38 < o512.detail["capacity_per_s"] * 0.95
    placed = planner.plan(wide)
    assert placed.feasible and not planner.plan(default).feasible

    spec = build_spec(wide, placed)  # the plan's instance warm from the start
    assert spec.inference[0].stages[0].llm.max_seqs == 512
    eng = Engine(spec)
    eng.run()
    (lane,) = [lane for g in eng.groups.values() for lane in g.lanes if lane.is_llm]
    assert 256 < lane.peak_batch <= 512

    e256, e512 = (planner.estimate("llama-3.2-1b", "h200", "fp16", batch=b, prompt_tokens=2000, output_tokens=1000)
                  for b in (256, 512))
    c512 = llm_cost("llama-3.2-1b", "h200", "fp16", max_seqs=512)
    assert e512.tokens_per_s == pytest.approx(512 / c512.decode_step_s(512, 2500), rel=1e-9)
    assert e512.tokens_per_s > 1.05 * e256.tokens_per_s  # decode reads every sequence's cache: less than 2x
    assert c512.workspace_gb > llm_cost("llama-3.2-1b", "h200", "fp16").workspace_gb  # a logits buffer per sequence
    for bad in (0, 5000):
        d["sites"]["cloud"]["pools"][0]["max_seqs"] = bad
        with pytest.raises(ScenarioError, match=r"sites.cloud.pools\[0\].max_seqs"):
            parse_scenario(yaml.safe_dump(d), file="wide.yaml")


def test_an_estimated_batch_fits_when_its_kv_cache_does():
    """`estimate()` of a served language model counts what the engine holds: weights, workspace and
    the batch's KV cache (prefill runs in chunks, not as one batch-wide forward pass)."""
    big = planner.estimate("llama-3-8b", "h100-sxm", precision="fp16", batch=256, prompt_tokens=1000, output_tokens=200)
    cost = llm_cost("llama-3-8b", "h100-sxm", "fp16", 1, None, 256)
    kv_gb = 256 * 1200 * cost.kv_bytes_per_token / 1e9
    assert big.fits and big.memory_gb == pytest.approx(cost.weight_gb + cost.workspace_gb + kv_gb)
    # 512 contexts of 1,200 tokens need more cache than an 80 GB H100 has beside the weights
    assert not planner.estimate("llama-3-8b", "h100-sxm", precision="fp16", batch=512, prompt_tokens=1000,
                                output_tokens=200).fits


def test_tables_show_the_kv_cache_only_where_a_workload_names_it():
    """The report's and the app's placement tables add `kv_precision` beside the precision when a
    workload sets one (a choice here); a scenario that names none keeps its tables as they were."""
    import sys

    import yaml

    from planner.report.sections import placement_html

    sys.path.insert(0, str(ROOT))  # app_pages/ is not an installed package
    from app_pages.widgets import plan_table

    text = (ROOT / "scenarios" / "clinic_llm.yaml").read_text()
    plain = planner.plan(planner.parse_scenario(text))
    assert not plain.scenario.names_kv_precision
    assert "kv" not in placement_html(plain) and "kv_precision" not in plan_table(plain)
    d = yaml.safe_load(text)
    d["workloads"]["discharge-notes"]["kv_precision"] = ["fp16", "int8"]
    chosen = planner.plan(planner.parse_scenario(yaml.safe_dump(d)))
    assert chosen.scenario.names_kv_precision
    assert "kv precision" in placement_html(chosen).lower().replace("_", " ")
    assert list(plan_table(chosen).columns).index("kv_precision") == list(plan_table(chosen).columns).index("precision") + 1
