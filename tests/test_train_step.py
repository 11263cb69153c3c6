"""A training step as the runtime runs it (planner/costs/train_step.py)."""
from __future__ import annotations

import pytest

import planner
from planner import catalog
from planner.costs import calibration, train_step
from planner.costs.graphs import graph


def _params(hw: str):
    return calibration.params_for(calibration.calibrate().params, hw)


def test_the_backward_pass_runs_norms_and_activations_unfused():
    g = graph("resnet-50", 1, None)
    t = train_step.TrainTable.of(g)
    convs = sum(op.kind in ("conv", "gemm") for op in g.ops)
    norms = sum(op.kind == "norm" for op in g.ops)
    acts = sum(op.kind in ("act", "elementwise") for op in g.ops)
    # forward: a kernel per conv and per unfolded BatchNorm (ReLU and add fused into it) ...
    assert t.fwd_kernels == convs + norms + sum(op.kind == "pool" for op in g.ops)
    # ... backward: two per conv (input and weight gradients) and one per norm, ReLU and add
    assert t.bwd_kernels >= 2 * convs + norms + acts
    assert t.bwd_elems > t.fwd_elems > 0


def test_attention_scores_stay_inside_a_fused_attention_kernel():
    # the memory-bound traffic of an encoder grows with the sequence, not with its square
    short = train_step.TrainTable.of(graph("bert-large", 1, 256))
    long = train_step.TrainTable.of(graph("bert-large", 1, 512))
    assert long.fwd_elems / short.fwd_elems == pytest.approx(2.0, rel=0.05)
    assert long.bwd_elems / short.bwd_elems == pytest.approx(2.0, rel=0.05)


def test_mixed_precision_runs_at_the_16_bit_rate_with_fp32_optimizer_state():
    t = train_step.TrainTable.of(graph("resnet-50", 1, None))
    hw = catalog.hardware("a100-80gb")
    p = _params("a100-80gb")
    amp = train_step.step(t, 256, hw.peak_tflops["fp16"], hw.mem_bw_gb_per_s, "fp16", p)
    fp32 = train_step.step(t, 256, hw.peak_tflops["fp32"], hw.mem_bw_gb_per_s, "fp32", p)
    assert amp.total_ms < fp32.total_ms / 2
    assert amp.optimizer_ms == pytest.approx(fp32.optimizer_ms)  # master weights and moments stay fp32
    half = train_step.step(t, 256, hw.peak_tflops["fp16"], hw.mem_bw_gb_per_s, "fp16", p, speed=2.0)
    assert half.total_ms == pytest.approx(amp.total_ms / 2)


def test_the_all_reduce_hides_under_the_backward_pass_but_its_last_bucket():
    params = 100_000_000  # 200 MB of fp16 gradients
    exposed, total = train_step.allreduce_ms(params, "fp16", 8, 25.0, 10.0, backward_ms=1000.0)
    last = train_step.DDP_BUCKET_BYTES * 2 * 7 / 8 / 25e9 * 1e3 + 0.01
    assert total == pytest.approx(200e6 * 2 * 7 / 8 / 25e9 * 1e3 + 0.01)
    assert exposed == pytest.approx(last)  # a long backward pass hides all but the last bucket
    exposed, total = train_step.allreduce_ms(params, "fp16", 8, 25.0, 10.0, backward_ms=5.0)
    assert exposed == pytest.approx(total - 5.0)  # a short one hides only its own length
    assert train_step.allreduce_ms(params, "fp16", 1, 25.0, 10.0, 5.0) == (0.0, 0.0)


def test_estimate_reports_the_phases_and_data_parallel_samples():
    e = planner.estimate("bert-large", "h100-pcie", "fp16", batch=96, training=True, gpus=8, prompt_tokens=512)
    d = e.detail
    assert d["forward_ms"] + d["backward_ms"] + d["optimizer_ms"] + d["overhead_ms"] == pytest.approx(e.latency_ms)
    assert d["backward_ms"] > 2 * d["forward_ms"] * 0.9
    assert e.step_ms > e.latency_ms  # the last gradient bucket crosses PCIe after the backward pass
    assert e.samples_per_s == pytest.approx(8 * 96 / (e.step_ms / 1e3))
    assert e.latency_ms_low < e.step_ms < e.latency_ms_high
    assert e.source == "calibrated"  # MLPerf Training BERT-large on 8 H100-PCIe is in the fit


def test_fine_tuning_trains_part_of_the_model():
    """The last layers only: the forward pass whole, the backward pass and the optimizer over
    those layers alone; LoRA: the gradient flows through every layer, the weights trained are
    the adapters' (2 r sqrt(weights) per weighted layer)."""
    g = graph("resnet-50", 1, None)
    t = train_step.TrainTable.of(g)
    hw = catalog.hardware("a100-80gb")
    p = _params("a100-80gb")

    def run(ft):
        return train_step.step(t, 64, hw.peak_tflops["fp16"], hw.mem_bw_gb_per_s, "fp16", p, 1.0, ft)

    full, head, lora = run(None), run(train_step.FineTune(layers=1)), run(train_step.FineTune(lora_rank=8))
    assert head.forward_ms == full.forward_ms == lora.forward_ms
    # the classifier alone: 2048 x 1000 weights and 1000 biases, and almost no backward pass
    assert train_step.Trained.of(t, train_step.FineTune(layers=1)).params == 2048 * 1000 + 1000
    assert head.backward_ms < 0.01 * full.backward_ms and head.total_ms < 0.35 * full.total_ms
    # LoRA: input gradients everywhere (about half the full backward's compute), tiny optimizer
    assert 0.5 * full.backward_ms < lora.backward_ms < full.backward_ms
    assert lora.optimizer_ms < 0.05 * full.optimizer_ms
    w = t.weight_elems[t.weight_elems > 0]
    assert train_step.Trained.of(t, train_step.FineTune(lora_rank=8)).params == pytest.approx((16 * w ** 0.5).sum())
    with pytest.raises(ValueError):
        train_step.FineTune(layers=2, lora_rank=8)


def test_estimate_prices_a_fine_tuning_step_and_its_memory():
    full = planner.estimate("resnet-50", "a100-80gb", "fp16", 64, training=True, gpus=4)
    head = planner.estimate("resnet-50", "a100-80gb", "fp16", 64, training=planner.FineTune(layers=2), gpus=4)
    lora = planner.estimate("resnet-50", "a100-80gb", "fp16", 64, training=planner.FineTune(lora_rank=8), gpus=4)
    assert head.step_ms < 0.4 * full.step_ms and lora.step_ms < full.step_ms
    # gradients and Adam state of what is trained only; the frozen part keeps inference's activations
    assert head.memory_gb < 0.2 * full.memory_gb and lora.memory_gb < full.memory_gb
    assert head.detail["trained_params"] == 2048 * 1000 + 1000 + 512 * 2048  # the fc layer and the last 1x1 conv
    with pytest.raises(planner.PlannerError):
        planner.estimate("resnet-50", "host", "fp32", 8, training=planner.FineTune(layers=2))
