"""What a model costs on a piece of hardware: latency, throughput, memory and energy, and how
each figure was obtained (`source`).

- On a profiled machine (`host`, or any `planner profile --as NAME`), the model's kernels are
  predicted from the profile (`hostmodel`), and the session overhead is counted once.
- On catalog hardware, a roofline per op (FLOPs over peak × efficiency, bytes over bandwidth ×
  efficiency, whichever is longer) plus a launch overhead per compute kernel. The efficiencies
  and launch overheads are calibrated against MLPerf ResNet-50 (`data/mlperf_calibration.csv`):
  Offline throughput fixes the compute efficiency, SingleStream latency the launch overhead.
  Elementwise ops, norms and activations are fused into the kernel before them (as TensorRT
  and onnxruntime do), so they move no extra bytes and launch nothing.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Mapping

from planner import catalog
from planner.costs.graphs import Graph, graph
from planner.errors import PlannerError
from planner.paths import profile_dir

BYTES_PER_ELEMENT = {"fp32": 4.0, "fp16": 2.0, "bf16": 2.0, "int8": 1.0, "int4": 0.5}
TRAINING_PRECISIONS = ("fp32", "fp16", "bf16")
COMPUTE_KINDS = {"gemm", "conv", "dwconv", "attention", "rnn"}
#: ops that fuse into the kernel before them on an optimising runtime: no launch, no extra traffic
FUSED_KINDS = {"act", "norm", "elementwise", "free"}

# Calibration (see module docstring and bench/README.md "Calibration"): fraction of peak a
# compute kernel reaches at large batch, per op class, per device kind; depthwise convolutions
# have little reuse and reach far less.
COMPUTE_EFFICIENCY = {"gpu": 0.60, "cpu": 0.40, "tpu": 0.35, "npu": 0.35}
CLASS_FACTOR = {"gemm": 1.0, "conv": 1.0, "attention": 0.7, "rnn": 0.3, "dwconv": 0.12}
#: effective bandwidth over the datasheet's: > 1 because on-chip caches keep part of the
#: activation traffic of fused kernels (fitted with the compute efficiency on the MLPerf points:
#: median absolute error 13% over 4 SingleStream latencies and 4 Offline throughputs)
MEMORY_EFFICIENCY = 1.5
#: per compute kernel launch, in microseconds (SingleStream latency less the roofline time)
LAUNCH_US = {("gpu", "cloud"): 6.0, ("gpu", "edge"): 8.0, ("cpu", "cloud"): 2.0, ("cpu", "edge"): 4.0,
             ("tpu", "cloud"): 8.0, ("tpu", "edge"): 15.0, ("npu", "edge"): 15.0, ("npu", "cloud"): 8.0}
#: devices with a published point in the calibration set: their figures are carried from a
#: calibrated roofline ("extrapolated"); others share the class calibration untested ("assumed")
CALIBRATED = {"jetson-agx-orin-64gb", "jetson-orin-nx-16gb", "l4", "a100-40gb", "a100-80gb", "h100-sxm",
              "h100-pcie", "h200", "xeon-8592-2s", "t4", "a10g", "l40s", "jetson-orin-nano-8gb", "jetson-xavier-nx"}


@dataclass(frozen=True)
class Estimate:
    """Latency of one batch, samples per second, memory, energy per batch, and their source."""

    model: str
    hardware: str
    precision: str
    batch: int
    latency_ms: float
    throughput_per_s: float
    memory_gb: float
    energy_j: float
    source: str  # measured | interpolated | extrapolated | assumed
    fits: bool
    detail: Mapping[str, float] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (f"Estimate({self.model} on {self.hardware} {self.precision} b{self.batch}: {self.latency_ms:.3f} ms, "
                f"{self.throughput_per_s:,.0f}/s, {self.memory_gb:.2f} GB, {self.source})")


def estimate(model: str | os.PathLike, hardware: str, precision: str = "fp32", batch: int = 1, *,
             training: bool = False, measure: bool = False, seq_len: int | None = None) -> Estimate:
    """Estimate `model` (a zoo id or an .onnx path) on `hardware` at `precision` and `batch`.

    `training=True`: one training step (forward, backward, Adam update) and its memory.
    `measure=True`: time the model on this machine with onnxruntime instead (hardware `host`).
    """
    if batch < 1:
        raise PlannerError(f"batch must be >= 1, not {batch}")
    hw = catalog.hardware(hardware)
    if precision not in BYTES_PER_ELEMENT:
        raise PlannerError(f"unknown precision '{precision}' (one of {', '.join(BYTES_PER_ELEMENT)})")
    if precision not in hw.peak_tflops:
        raise PlannerError(f"{hardware} does not run {precision} (it runs {', '.join(hw.precisions)})")
    if training and precision not in TRAINING_PRECISIONS:
        raise PlannerError(f"training at {precision} is not supported (use {', '.join(TRAINING_PRECISIONS)})")
    return _estimate(str(model), hardware, precision, batch, training, measure, seq_len)


@lru_cache(maxsize=65536)
def _estimate(model: str, hardware: str, precision: str, batch: int, training: bool, measure: bool,
              seq_len: int | None) -> Estimate:
    hw = catalog.hardware(hardware)
    g = graph(model, batch, seq_len)
    memory_gb = _memory_gb(g, precision, training)
    if measure:
        latency_ms, source, detail = _measured_ms(model, hardware, batch, seq_len)
    elif _profile(hardware) is not None and not training:
        latency_ms, source, detail = _profiled_ms(g, hardware)
    else:
        latency_ms, source, detail = _roofline_ms(g, hw, precision, training)
    if _profile(hardware) is None and hardware not in CALIBRATED and source == "extrapolated":
        source = "assumed"
    energy_j = hw.tdp_w * latency_ms / 1000  # busy at its rated power for the batch's duration
    return Estimate(Path(model).stem if model.lower().endswith(".onnx") else model, hardware, precision, batch,
                    latency_ms, batch / (latency_ms / 1000), memory_gb, energy_j, source, memory_gb <= hw.mem_gb,
                    {**detail, "weights_gb": g.params * BYTES_PER_ELEMENT[precision] / 1e9})


def _roofline_ms(g: Graph, hw: catalog.Hardware, precision: str, training: bool) -> tuple[float, str, dict]:
    """Per-op roofline on catalog hardware, calibrated per device kind."""
    peak_flops = hw.peak_tflops[precision] * 1e12
    eff = COMPUTE_EFFICIENCY.get(hw.kind, 0.35)
    bw = hw.mem_bw_gb_per_s * 1e9 * MEMORY_EFFICIENCY
    scale = BYTES_PER_ELEMENT[precision] / 4.0  # graphs count fp32 tensors
    launch_s = LAUNCH_US.get((hw.kind, "cloud" if hw.tier == "cloud" else "edge"), 10.0) / 1e6
    compute_s = memory_s = overhead_s = 0.0
    for op in g.ops:
        if op.kind in FUSED_KINDS:
            continue
        flops = op.flops * (3.0 if training else 1.0)  # backward costs about twice the forward
        bytes_ = op.bytes_moved * scale * (2.0 if training else 1.0)
        t_c = flops / (peak_flops * eff * CLASS_FACTOR.get(op.kind, 1.0)) if op.kind in COMPUTE_KINDS else 0.0
        t_m = bytes_ / bw
        compute_s += t_c if t_c >= t_m else 0.0
        memory_s += t_m if t_m > t_c else 0.0
        overhead_s += launch_s * (3 if training else 1)
    if training:  # Adam reads and writes weights, gradients and two moments in fp32
        memory_s += g.params * 4 * 4 * 2 / bw
    total_s = compute_s + memory_s + overhead_s
    return total_s * 1000, "extrapolated", {"compute_ms": compute_s * 1000, "memory_ms": memory_s * 1000,
                                            "overhead_ms": overhead_s * 1000}


def _memory_gb(g: Graph, precision: str, training: bool) -> float:
    """Weights + activations; for training also gradients and Adam moments (fp32) and every
    op's output kept for the backward pass."""
    bpe = BYTES_PER_ELEMENT[precision]
    if not training:
        return (g.params * bpe + g.peak_activation_bytes() * bpe / 4) * 1.1 / 1e9
    kept = sum(op.output_bytes for op in g.ops if op.kind != "free") * bpe / 4
    return (g.params * (bpe + 4 + 8) + kept) * 1.1 / 1e9


def _profile(hardware: str) -> Path | None:
    p = profile_dir() / f"{hardware}.csv"
    return p if p.is_file() else None


def _profiled_ms(g: Graph, hardware: str) -> tuple[float, str, dict]:
    """Predict onnxruntime latency on a profiled machine from its kernel profile."""
    from planner.costs.fusion import host_kernels
    from planner.costs.hostmodel import host_model

    model = host_model(_profile(hardware))
    us, source, by_class = model.model_us(host_kernels(g), g.output_bytes)
    return us / 1000, source, {f"{k}_ms": v / 1000 for k, v in by_class.items()}


def _measured_ms(model: str, hardware: str, batch: int, seq_len: int | None) -> tuple[float, str, dict]:
    """Time the model itself in onnxruntime on this machine."""
    if hardware != "host" and _profile(hardware) is None:
        raise PlannerError(f"measure=True times this machine: use hardware 'host', not '{hardware}'")
    from planner.costs import zoo
    from planner.costs.measure import measure

    if model.lower().endswith(".onnx"):
        proto = model
    else:
        proto = zoo.build(model, batch, seq_len, weights="random")
    t = measure(proto)
    return t.low_ms, "measured", {"median_ms": t.median_ms, "p90_ms": t.p90_ms}


def estimate_part(model: str | os.PathLike, hardware: str, precision: str, batch: int, start: int, stop: int) -> Estimate:
    """The cost of ops[start:stop] of a model alone: one side of a split between two devices.

    Catalog hardware uses the roofline over those ops; a profiled machine scales its whole-model
    prediction by the part's share of FLOPs (its kernels are fused across the cut otherwise).
    """
    whole = estimate(model, hardware, precision, batch)
    g = graph(str(model), batch)
    part = replace(g, ops=g.ops[start:stop])
    hw = catalog.hardware(hardware)
    if _profile(hardware) is not None:
        share = sum(op.flops for op in part.ops) / max(g.flops, 1.0)
        latency_ms, source = whole.latency_ms * share, "extrapolated"
    else:
        latency_ms, source, _ = _roofline_ms(part, hw, precision, False)
        source = whole.source
    weights = sum(op.params for op in part.ops) * BYTES_PER_ELEMENT[precision]
    memory_gb = (weights + g.peak_activation_bytes() * BYTES_PER_ELEMENT[precision] / 4) * 1.1 / 1e9
    return Estimate(whole.model, hardware, precision, batch, latency_ms, batch / (latency_ms / 1000), memory_gb,
                    hw.tdp_w * latency_ms / 1000, source, memory_gb <= hw.mem_gb, {"start": start, "stop": stop})
