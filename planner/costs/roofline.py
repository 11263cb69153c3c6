"""Latency of a graph on catalog hardware: a roofline per kernel, with calibrated efficiencies.

Each kernel takes max(FLOPs / (peak x compute efficiency), bytes / (bandwidth x memory
efficiency)) plus a fixed cost per kernel (launch and fill/drain of the device). Elementwise
ops and activations are fused into the kernel before them (as TensorRT and onnxruntime do):
they launch nothing and move no extra bytes. The efficiencies and per-kernel costs per device
kind are fitted to MLPerf ResNet-50 results (`calibration.py`).

A graph is costed at batch 1 once; other batches scale its activation bytes and FLOPs (both
linear in batch for every op here) while weights are read once per batch. That keeps an
estimate for a new batch size to a few vector operations.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from planner.costs.graphs import FP32_BYTES, Graph
from planner.units import BYTES_PER_ELEMENT

COMPUTE_KINDS = ("gemm", "conv", "dwconv", "attention", "rnn")
#: fused into the kernel before them: no launch, no extra traffic
FUSED_KINDS = ("act", "elementwise", "free")
#: folded into the convolution's weights before the run
FOLDED_OPS = ("BatchNormalization",)
#: compute efficiency of an op class relative to dense GEMM/conv (assumed, not calibrated:
#: ResNet-50 has only convolutions; depthwise convs and RNN steps reuse little data)
#: sustained fraction of datasheet DRAM bandwidth for streaming reads (assumed: STREAM-like
#: benchmarks reach 80-90% on GPUs and server CPUs)
WEIGHT_STREAM_EFF = 0.85
CLASS_FACTOR = {"gemm": 1.0, "conv": 1.0, "attention": 0.7, "rnn": 0.3, "dwconv": 0.15}


@dataclass(frozen=True)
class Params:
    """Calibrated constants of one device kind."""

    compute_eff: float     # fraction of dense peak a large GEMM/conv reaches
    memory_eff: float      # effective / datasheet bandwidth (> 1 where caches hold the traffic)
    kernel_us: float       # fixed cost per kernel (launch, fill and drain)

    def __repr__(self) -> str:
        return f"Params(compute {self.compute_eff:.2f}, memory {self.memory_eff:.2f}, {self.kernel_us:.1f} us/kernel)"


@dataclass(frozen=True)
class OpTable:
    """A graph's kernels at batch 1 as arrays."""

    flops: np.ndarray        # per sample
    act_elems: np.ndarray    # activation elements read + written per sample
    weight_elems: np.ndarray
    class_factor: np.ndarray
    is_kernel: np.ndarray    # launches a kernel
    params: int
    n_kernels: int

    @classmethod
    def of(cls, g: Graph) -> OpTable:
        b = max(g.batch, 1)
        rows = []
        for op in g.ops:
            if op.kind in FUSED_KINDS or op.op_type in FOLDED_OPS:
                continue
            w = float(op.params)
            act = max(op.bytes_moved / FP32_BYTES - w, 0.0) / b
            rows.append((op.flops / b if op.kind in COMPUTE_KINDS else 0.0, act, w, CLASS_FACTOR.get(op.kind, 1.0)))
        arr = np.array(rows or [(0.0, 0.0, 0.0, 1.0)], dtype=float)
        return cls(arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3], np.ones(len(arr), bool), g.params, len(rows))


@dataclass(frozen=True)
class Breakdown:
    compute_ms: float
    memory_ms: float
    overhead_ms: float

    @property
    def total_ms(self) -> float:
        return self.compute_ms + self.memory_ms + self.overhead_ms


def latency(t: OpTable, batch: int, peak_tflops: float, bw_gb_per_s: float, precision: str, p: Params) -> Breakdown:
    """One inference batch on the device (a training step is `train_step.py`'s: it unfolds and
    unfuses what inference folds)."""
    bpe = BYTES_PER_ELEMENT[precision]
    flops = t.flops * batch
    t_c = flops / (peak_tflops * 1e12 * p.compute_eff * t.class_factor)
    # weights stream from DRAM (at a sustained fraction of the datasheet bandwidth); activations
    # at the calibrated effective bandwidth, which caches lift above the datasheet's
    t_m = (t.act_elems * batch * bpe / (bw_gb_per_s * 1e9 * p.memory_eff)
           + t.weight_elems * bpe / (bw_gb_per_s * 1e9 * WEIGHT_STREAM_EFF))
    compute_s = float(t_c[t_c >= t_m].sum())
    memory_s = float(t_m[t_m > t_c].sum())
    overhead_s = t.n_kernels * p.kernel_us * 1e-6
    return Breakdown(compute_s * 1e3, memory_s * 1e3, overhead_s * 1e3)
