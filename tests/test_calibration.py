"""The calibration of catalog estimates against published results (planner/costs/published.py).

Thresholds are the figures bench/calibration.py measured (README "Cost-model fidelity") with a
margin, so that a change which makes held-out estimates worse fails here. No test times anything.
"""
from __future__ import annotations

import dataclasses
import math

import pandas as pd
import pytest

import planner
from planner import catalog
from planner.costs import published
from planner.costs.llm import llm_cost
from planner.errors import PlannerError
from planner.paths import data_dir


@pytest.fixture(scope="module")
def ev() -> published.Evaluation:
    return published.evaluate()


def test_every_published_row_has_a_source_and_a_derivation():
    df = pd.read_csv(data_dir() / "published_calibration.csv")
    facts_csv = data_dir() / "facts" / "published_results.csv"
    facts = pd.read_csv(facts_csv) if facts_csv.is_file() else None
    assert len(df) >= 20 and df.source.str.len().min() > 10 and df.derivation.str.len().min() > 5
    for r in df.itertuples():
        catalog.hardware(r.hardware)  # a catalog id
        if pd.isna(r.facts_row):  # not in the facts: its pinned source says where it was read
            assert "@" in r.source and "not in ../shared/facts" in r.derivation
        elif facts is not None:  # the figure is the facts' own (total or per accelerator)
            row = facts.iloc[int(r.facts_row)]
            assert r.published in (pytest.approx(float(row.result)), pytest.approx(float(row.per_accelerator_result)))


def test_held_out_error_stays_below_the_measured_figures(ev):
    s = ev.summary()
    # measured: median 1.19, 90th percentile 1.66 over 59 rows (1.53 median before this calibration)
    assert s.loc["all", "lodo_median"] < 1.30
    assert s.loc["all", "lodo_p90"] < 2.0
    assert s.loc["all", "fit_median"] < 1.20
    # the fit corrects what ResNet-50 alone does not show: BERT was 2.8x too slow
    assert s.loc["encoder", "roofline_median"] > 2.0 and s.loc["encoder", "fit_median"] < 1.15
    # MLPerf Training time-to-train, held out: median 1.16, p90 1.60 (the ResNet-50 rows were
    # 1.9-3.2x too fast and BERT-large 1-2.3x too slow before training was priced as run)
    assert s.loc["training", "lodo_median"] < 1.25 and s.loc["training", "lodo_p90"] < 2.0
    # short prompts pay the runtime's time per request: 1.33x too fast without it, 1.12 held out
    assert s.loc["short ttft", "roofline_median"] > 1.25 and s.loc["short ttft", "lodo_median"] < 1.2
    # the 80% interval (conformal quantiles) holds 75-90% of the held-out rows (measured 76%)
    assert 0.75 <= s.loc["all", "inside_80"] <= 0.90


def test_the_pinned_interval_is_the_measured_one(ev):
    for key, (lo, hi) in published.fitted().interval.items():
        assert ev.factors.interval[key] == (pytest.approx(lo, abs=0.01), pytest.approx(hi, abs=0.01))
    assert published.fitted().cells == pytest.approx(ev.factors.cells)


def test_labels_say_which_devices_have_published_rows(ev):
    devices = set(ev.table[ev.table.category != "training"].hardware)
    trained = set(ev.table[ev.table.category == "training"].hardware)
    for hw in catalog.hardware_ids():
        if hw == catalog.HOST:
            continue
        assert (ev.factors.source(hw) == "calibrated") == (hw in devices)
        assert (ev.factors.source(hw, training=True) == "calibrated") == (hw in trained)
    assert ev.factors.source("mi300x") == "transferred"  # a GPU with no row: its group's fit
    assert ev.factors.source("tpu-v5e") == "assumed"      # no row of its group at all
    e = planner.estimate("resnet-50", "h100-sxm", "int8")
    assert e.source == "calibrated" and "h100-sxm" in devices


@pytest.mark.parametrize("model,hw,precision", [
    ("resnet-50", "l4", "int8"), ("bert-base", "a100-80gb", "fp16"), ("mobilenet-v2", "hailo-8", "int8"),
    ("resnet-50", "mi300x", "fp16"), ("yolov8n", "tpu-v5e", "bf16"), ("llama-3-8b", "h100-sxm", "fp16"),
    ("llama-2-7b", "jetson-orin-nano-8gb", "int4")])
def test_the_interval_brackets_the_estimate(model, hw, precision):
    e = planner.estimate(model, hw, precision)
    assert 0 < e.latency_ms_low <= e.latency_ms <= e.latency_ms_high
    assert e.latency_ms_high / e.latency_ms_low > 1.2  # never a false certainty
    if e.source == "assumed":  # wider than a calibrated one
        c = planner.estimate("resnet-50", "l4", "int8")
        assert e.latency_ms_high / e.latency_ms_low > c.latency_ms_high / c.latency_ms_low


def test_dataflow_npus_pay_no_gpu_launch_cost():
    e = planner.estimate("resnet-50", "hailo-8", "int8")
    assert e.detail["overhead_ms"] == 0.0
    # Coral streams the weights its 8 MB SRAM cannot hold over USB: ResNet-50 is host-bound
    c = planner.estimate("resnet-50", "coral-edgetpu", "int8")
    assert c.detail["spill_ms"] > 0.5 * c.latency_ms


def test_estimate_and_the_serving_model_price_one_prefill_alike():
    for hw, p in (("a100-80gb", "fp16"), ("jetson-agx-orin-64gb", "int4"), ("jetson-orin-nano-8gb", "int4")):
        e = planner.estimate("llama-3-8b", hw, p, seq_len=512)
        assert e.latency_ms == pytest.approx(llm_cost("llama-3-8b", hw, p).prefill_s(512) * 1e3, rel=1e-9)


def test_an_8bit_kv_cache_holds_twice_the_tokens():
    fp16 = llm_cost("llama-2-70b", "h200", "int8")
    kv8 = llm_cost("llama-2-70b", "h200", "int8", kv_precision="int8")
    assert kv8.kv_bytes_per_token == fp16.kv_bytes_per_token / 2
    assert kv8.kv_capacity_tokens >= 2 * fp16.kv_capacity_tokens - 1


def test_decode_stays_bound_by_the_datasheet_bandwidth_on_gpus(ev):
    # the `llm` factor scales compute only: no engine streams faster than the memory
    assert ev.factors.speed_factor("decode", "h100-sxm") == 1.0
    c = llm_cost("llama-2-7b", "h100-sxm", "fp16")
    assert c.bytes_per_s <= catalog.hardware("h100-sxm").mem_bw_gb_per_s * 1e9
    assert math.isfinite(ev.factors.speed_factor("llm", "h100-sxm"))


def test_language_models_report_ttft_tpot_and_tokens_per_s():
    e = planner.estimate("llama-2-70b", "h100-sxm", "int8", batch=32, gpus=4, prompt_tokens=2048, output_tokens=128)
    c = llm_cost("llama-2-70b", "h100-sxm", "int8", 4)
    assert e.ttft_ms == pytest.approx(c.ttft_s(2048) * 1e3)  # the prefill and the time per request
    assert e.tpot_ms == pytest.approx(c.decode_step_s(32, 2048 + 64) * 1e3)
    assert e.tokens_per_s == pytest.approx(32 / (e.tpot_ms / 1e3))
    assert e.fits  # 70 GB of 8-bit weights over four 80 GB GPUs
    one = planner.estimate("llama-2-70b", "h100-sxm", "int8", batch=32, prompt_tokens=2048)
    assert one.latency_ms > 2 * e.latency_ms and not one.fits
    assert planner.estimate("resnet-50", "l4", "int8").ttft_ms is None


def test_data_parallel_training_adds_the_all_reduce_and_scales_samples():
    one = planner.estimate("resnet-50", "h100-sxm", "bf16", batch=256, training=True)
    eight = planner.estimate("resnet-50", "h100-sxm", "bf16", batch=256, training=True, gpus=8)
    assert one.step_ms == pytest.approx(one.latency_ms) and eight.step_ms > one.step_ms
    assert 6 * one.samples_per_s < eight.samples_per_s < 8 * one.samples_per_s
    assert one.source == "transferred"  # no training row of its own: its group's (H100-PCIe, H200)
    assert planner.estimate("resnet-50", "h200", "bf16", batch=256, training=True).source == "calibrated"
    assert planner.estimate("resnet-50", "l4", "fp16", batch=64, training=True).source == "transferred"
    with pytest.raises(planner.PlannerError if hasattr(planner, "PlannerError") else Exception):
        planner.estimate("resnet-50", "jetson-orin-nx-16gb", "fp16", training=True, gpus=2)


def test_fp8_runs_where_the_hardware_has_it_and_is_asked_for_by_name():
    for hw in ("h100-sxm", "h100-pcie", "h200", "l4", "l40s", "mi300x"):
        assert "fp8" in catalog.hardware(hw).peak_tflops
        # the planner enumerates the scenario format's precisions only
        assert "fp8" not in catalog.hardware(hw).precisions
    # Hopper runs fp8 at its int8 rate: the same figure
    assert planner.estimate("resnet-50", "h100-sxm", "fp8", 64).latency_ms == pytest.approx(
        planner.estimate("resnet-50", "h100-sxm", "int8", 64).latency_ms)
    with pytest.raises(PlannerError, match="a100-80gb does not run fp8"):
        planner.estimate("resnet-50", "a100-80gb", "fp8")
    fp8 = llm_cost("llama-3-8b", "l40s", "fp8")
    fp16 = llm_cost("llama-3-8b", "l40s", "fp16")
    peak = catalog.hardware("l40s").peak_tflops
    assert fp8.weight_gb == pytest.approx(fp16.weight_gb / 2)
    assert fp8.flops_per_s / fp16.flops_per_s == pytest.approx(peak["fp8"] / peak["fp16"])  # 733 vs 362 dense
    with pytest.raises(PlannerError):
        llm_cost("llama-3-8b", "a100-80gb", "fp8")


def test_the_kv_cache_precision_is_a_choice():
    kw = dict(batch=64, gpus=2, prompt_tokens=2048, output_tokens=128)
    fp16 = planner.estimate("llama-2-70b", "h100-sxm", "fp8", kv_precision="fp16", **kw)
    fp8 = planner.estimate("llama-2-70b", "h100-sxm", "fp8", kv_precision="fp8", **kw)
    assert fp8.detail["kv_bytes_per_token"] == pytest.approx(fp16.detail["kv_bytes_per_token"] / 2)
    assert fp8.tpot_ms < fp16.tpot_ms  # decode reads half the cache
    assert planner.estimate("llama-2-70b", "h100-sxm", "fp8", **kw).tpot_ms == pytest.approx(fp16.tpot_ms)  # default
    with pytest.raises(PlannerError, match="kv_precision"):
        planner.estimate("resnet-50", "l4", "int8", kv_precision="fp8")
    with pytest.raises(PlannerError, match="KV-cache precision"):
        planner.estimate("llama-3-8b", "l4", "fp16", kv_precision="int4")


def test_a_request_pays_the_runtime_overhead_once_in_its_ttft():
    c = llm_cost("llama-2-7b", "h100-sxm", "fp8")
    assert 1.0 < c.request_s * 1e3 < 10.0  # fitted on 128-token TTFT rows: about 3 ms
    assert c.ttft_s(128) == pytest.approx(c.prefill_s(128) + c.request_s)
    e = planner.estimate("llama-2-7b", "h100-sxm", "fp8", prompt_tokens=128, output_tokens=1)
    assert e.ttft_ms == pytest.approx(c.ttft_s(128) * 1e3)
    # a static batch's throughput does not pay it per request: the runtime overlaps it
    assert published.static_batch_tokens_per_s(c, 64, 128, 128) == pytest.approx(
        published.static_batch_tokens_per_s(dataclasses.replace(c, request_s=0.0), 64, 128, 128))


def test_beam_search_shares_its_prompts_cache():
    c = llm_cost("gpt-j-6b", "h100-sxm", "fp8", kv_precision="fp8")
    assert c.kv_tokens(2048, 128, beams=4) == 2048 + 4 * 128  # not 4 copies of the prompt
    # sharing holds 3.4x the requests of copying the prompt per beam; each beam still reads the
    # whole prompt, so the throughput of the larger batch gains less
    copied_fit = int(c.kv_capacity_tokens // (4 * (2048 + 128)))
    assert c.kv_capacity_tokens // c.kv_tokens(2048, 128, 4) > 3 * copied_fit
    shared = published.static_batch_tokens_per_s(c, 0, 2048, 128, beams=4)
    assert shared > published.static_batch_tokens_per_s(c, copied_fit, 2048, 128, beams=4)
    # four beams decode four sequences a request: slower than greedy decoding of the same batch
    assert published.static_batch_tokens_per_s(c, 64, 2048, 128, beams=4) < \
        published.static_batch_tokens_per_s(c, 64, 2048, 128)
    kw = dict(batch=16, prompt_tokens=1024, output_tokens=64, kv_precision="fp8")
    greedy = planner.estimate("gpt-j-6b", "h100-sxm", "fp8", **kw)
    beam = planner.estimate("gpt-j-6b", "h100-sxm", "fp8", beams=4, **kw)
    assert beam.tpot_ms == pytest.approx(c.decode_step_s(64, 1024 + 32) * 1e3, rel=0.01)
    assert beam.tpot_ms > greedy.tpot_ms and beam.ttft_ms == pytest.approx(greedy.ttft_ms)
    with pytest.raises(PlannerError, match="beam search"):
        planner.estimate("resnet-50", "l4", "int8", beams=2)
