"""One data-parallel training step on catalog hardware, as the training runtime runs it.

Inference engines fold normalisation into the weights and fuse activations into the kernel
before them (`roofline.py`); a training step cannot (the statistics and the saved inputs are
needed for the gradients), so it is priced kernel by kernel:

- forward: every compute op (conv, GEMM, attention) as a kernel on the roofline; every
  normalisation, softmax, pooling and layout op as its own memory-bound kernel; activations and
  elementwise ops fused into the kernel before them (cuDNN/APEX fuse BN+ReLU+add, bias+GELU);
- backward: two compute kernels per compute op (the gradient of the input and of the weights,
  each the forward's FLOPs) and an unfused memory-bound kernel for every normalisation,
  activation, elementwise, softmax, pooling and layout op (`BACKWARD_TENSORS`);
- optimizer: one pass over the fp32 master weights and moments (`OPTIMIZER_BYTES_PER_PARAM`);
- mixed precision: fp16/bf16 steps compute at that rate with 2-byte activations and gradients,
  and keep fp32 master weights and moments (the AMP recipe);
- fine-tuning (`FineTune`): only the last layers trained (the backward pass stops at the first
  of them; gradients, optimizer state and the all-reduce cover their weights alone), or LoRA
  adapters beside every weighted layer (the input gradients run through the whole model, the
  weight gradients and the optimizer cover the adapters alone);
- data parallel over `gpus`: a ring all-reduce of the gradients over the interconnect, bucketed
  and overlapped with the backward pass as PyTorch DDP does, so only what outlasts the backward
  pass, and the last bucket, adds to the step (`allreduce_ms`).

Training's tensors (hundreds of MB at a training batch) do not stay in cache, so activations
stream at the sustained DRAM fraction (`roofline.WEIGHT_STREAM_EFF`), not at the cache-lifted
inference bandwidth. The compute efficiency and per-kernel cost are the device kind's from the
MLPerf ResNet-50 fit (`calibration.py`); one speed factor per model family and device group,
fitted to MLPerf Training time-to-train rows (`published.py`), scales the per-GPU step.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from planner.costs.graphs import FP32_BYTES, Graph
from planner.costs.roofline import CLASS_FACTOR, COMPUTE_KINDS, WEIGHT_STREAM_EFF, Params

#: op kinds run as their own kernel in the forward pass (normalisation keeps its statistics)
FORWARD_MEMORY_KINDS = ("norm", "softmax", "pool", "memory", "embedding", "reduce")
#: activation-sized tensors a forward kernel of that kind reads and writes, in units of its output
#: (assumed: a norm reads its input twice, for the statistics and to apply them, and writes once)
FORWARD_TENSORS = {"norm": 3.0, "softmax": 2.0, "pool": 2.0, "memory": 2.0, "embedding": 1.0, "reduce": 2.0}
#: ... and the backward kernel of each kind, unfused (assumed: a norm reads its saved input and the
#: incoming gradient twice, for the reductions and for the input gradient, and writes once; an
#: activation or elementwise op reads its saved input and the gradient and writes the gradient)
BACKWARD_TENSORS = {"norm": 5.0, "act": 3.0, "elementwise": 3.0, "softmax": 3.0, "pool": 2.0, "memory": 2.0,
                    "embedding": 2.0, "reduce": 2.0}
#: the optimizer's pass per parameter: fp32 master weight and two moments read and written, the
#: gradient read and the compute copy written (Adam/LAMB under AMP: 4 x 3 x 2 + 2 + 2 bytes)
OPTIMIZER_BYTES_PER_PARAM = 28.0
#: PyTorch DDP's default gradient bucket (`bucket_cap_mb=25`): the last one cannot overlap
DDP_BUCKET_BYTES = 25e6
#: precisions a step runs in, and the bytes of its activations and gradients
TRAINING_BYTES = {"fp32": 4.0, "fp16": 2.0, "bf16": 2.0}


@dataclass(frozen=True)
class FineTune:
    """What a fine-tuning step trains instead of every weight: the last `layers` weighted layers
    (convolutions, GEMMs), the rest frozen; or LoRA adapters of `lora_rank` beside every weighted
    layer, the base frozen (Hu et al. 2021, arXiv:2106.09685)."""

    layers: int | None = None
    lora_rank: int | None = None

    def __post_init__(self) -> None:
        if (self.layers is None) == (self.lora_rank is None):
            raise ValueError("a FineTune trains the last `layers` or LoRA adapters of `lora_rank`: give exactly one")

    @property
    def label(self) -> str:
        return f"last {self.layers} layers" if self.layers is not None else f"LoRA rank {self.lora_rank}"


@dataclass(frozen=True)
class Trained:
    """What a step trains, per compute op of a `TrainTable`: `weight_grad` (1 where its weight
    gradient is computed), `input_grad` (1 where the gradient flows through it), the parameters
    trained, and `adapter_flops` (per sample, LoRA's extra work: forward and both gradients)."""

    weight_grad: np.ndarray
    input_grad: np.ndarray
    params: float
    backward_share: float  # of the memory-bound backward kernels, the share that runs
    adapter_flops: float = 0.0

    @classmethod
    def of(cls, t: TrainTable, fine_tune: FineTune | None) -> Trained:
        n = len(t.flops)
        if fine_tune is None:
            ones = np.ones(n)
            return cls(ones, ones, float(t.params), 1.0)
        if fine_tune.layers is not None:
            # the last `layers` weighted ops (graph order: the head last); the gradient flows
            # back through them only, and the memory-bound backward kernels in proportion
            weighted = np.flatnonzero(t.weight_elems > 0)
            mask = np.zeros(n)
            mask[weighted[-fine_tune.layers:] if fine_tune.layers else []] = 1.0
            share = float((t.flops * mask).sum() / max(t.flops.sum(), 1e-12))
            return cls(mask, mask, float((t.weight_elems * mask).sum()), share)
        # LoRA: an adapter of rank r beside each weighted op adds r x (fan_in + fan_out)
        # parameters, taken as 2 r sqrt(weights) (a square layer; assumed for convolutions);
        # its FLOPs are the op's times its parameter share, three times (forward and both gradients)
        r = float(fine_tune.lora_rank)
        w = t.weight_elems
        adapters = np.where(w > 0, 2 * r * np.sqrt(np.maximum(w, 0.0)), 0.0)
        share = np.divide(adapters, w, out=np.zeros(n), where=w > 0)
        return cls(np.zeros(n), np.ones(n), float(adapters.sum()), 1.0, float(3 * (t.flops * share).sum()))


@dataclass(frozen=True)
class TrainTable:
    """A graph's ops at batch 1, per sample, as the arrays a training step is priced from."""

    flops: np.ndarray          # compute ops: forward FLOPs per sample
    io_elems: np.ndarray       # compute ops: activation elements read + written per sample
    weight_elems: np.ndarray   # compute ops: weights
    class_factor: np.ndarray   # compute ops: efficiency relative to dense GEMM/conv
    fwd_elems: float           # memory-bound forward kernels: elements moved per sample
    bwd_elems: float           # memory-bound backward kernels: elements moved per sample
    fwd_kernels: int
    bwd_kernels: int
    params: int

    @classmethod
    def of(cls, g: Graph) -> TrainTable:
        b = max(g.batch, 1)
        scores = _score_tensors(g)
        size = {t: op.output_bytes / FP32_BYTES / b for op in g.ops for t in op.outputs}
        comp, fwd, bwd, nf, nb = [], 0.0, 0.0, 0, 0
        for op in g.ops:
            out = op.output_bytes / FP32_BYTES / b
            # attention scores never reach memory in a fused attention kernel (FlashAttention,
            # PyTorch SDPA, NVIDIA's MLPerf BERT FMHA): the ops on them run inside it, and the
            # two matmuls around them neither write nor read them
            if op.kind in COMPUTE_KINDS:
                w = float(op.params)
                io = max(op.bytes_moved / FP32_BYTES - w, 0.0) / b
                io -= sum(size.get(t, 0.0) for t in (*op.inputs, *op.outputs) if t in scores)
                comp.append((op.flops / b, max(io, 0.0), w, CLASS_FACTOR.get(op.kind, 1.0)))
            elif op.outputs and all(t in scores for t in op.outputs):
                continue
            elif op.kind in FORWARD_TENSORS or op.kind in BACKWARD_TENSORS:
                if op.kind in FORWARD_TENSORS:
                    fwd += FORWARD_TENSORS[op.kind] * out
                    nf += 1
                bwd += BACKWARD_TENSORS[op.kind] * out
                nb += 1
        arr = np.array(comp or [(0.0, 0.0, 0.0, 1.0)], dtype=float)
        return cls(arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3], fwd, bwd, len(comp) + nf, 2 * len(comp) + nb, g.params)


def _score_tensors(g: Graph) -> set[str]:
    """The attention-score tensors: each softmax's output and the chain of elementwise ops
    (scale, mask) from the matmul that produced its input."""
    producer = {t: op for op in g.ops for t in op.outputs}
    out: set[str] = set()
    for op in g.ops:
        if op.kind != "softmax":
            continue
        out.update(op.outputs)
        src = producer.get(op.inputs[0]) if op.inputs else None
        while src is not None:
            out.update(src.outputs)
            if src.kind in COMPUTE_KINDS or src.kind not in ("elementwise", "act", "free"):
                break
            src = producer.get(src.inputs[0]) if src.inputs else None
    return out


@dataclass(frozen=True)
class TrainStep:
    """One step of one GPU's batch, by phase (ms); `speed` already divides each phase."""

    forward_ms: float
    backward_ms: float
    optimizer_ms: float
    overhead_ms: float         # per-kernel launch and fill, both passes
    compute_ms: float          # of forward + backward, the compute-bound part
    memory_ms: float           # ... and the memory-bound part

    @property
    def total_ms(self) -> float:
        return self.forward_ms + self.backward_ms + self.optimizer_ms + self.overhead_ms

    def __repr__(self) -> str:
        return (f"TrainStep(fwd {self.forward_ms:.2f} + bwd {self.backward_ms:.2f} + opt {self.optimizer_ms:.2f} "
                f"+ launch {self.overhead_ms:.2f} = {self.total_ms:.2f} ms)")


def step(t: TrainTable, batch: int, peak_tflops: float, bw_gb_per_s: float, precision: str, p: Params,
         speed: float = 1.0, fine_tune: FineTune | None = None) -> TrainStep:
    """One GPU's forward, backward and optimizer step at `batch`, at `precision` (fp32 or a
    16-bit mixed-precision step), divided by the fitted `speed` factor; `fine_tune` trains
    part of the model (`Trained`)."""
    act_b = TRAINING_BYTES[precision]
    stream = bw_gb_per_s * 1e9 * WEIGHT_STREAM_EFF
    rate = peak_tflops * 1e12 * p.compute_eff * t.class_factor
    tr = Trained.of(t, fine_tune)

    def compute_ops(flops_x: np.ndarray | float, io_x: np.ndarray | float, weights: np.ndarray | float) -> tuple[float, float]:
        t_c = t.flops * batch * flops_x / rate
        t_m = (t.io_elems * batch * io_x + t.weight_elems * weights) * act_b / stream
        return float(t_c[t_c >= t_m].sum()), float(t_m[t_m > t_c].sum())

    fc, fm = compute_ops(1.0, 1.0, 1.0)
    # the input gradient and the weight gradient, each the forward's work, where they run
    grads = tr.input_grad + tr.weight_grad
    bc, bm = compute_ops(grads, grads, np.minimum(grads, 1.0))
    bc += tr.adapter_flops * batch / (peak_tflops * 1e12 * p.compute_eff)
    f_mem = t.fwd_elems * batch * act_b / stream
    b_mem = t.bwd_elems * batch * act_b / stream * tr.backward_share
    opt = tr.params * OPTIMIZER_BYTES_PER_PARAM / stream
    launch = (t.fwd_kernels + t.bwd_kernels * tr.backward_share) * p.kernel_us * 1e-6
    s = 1e3 / speed
    return TrainStep((fc + fm + f_mem) * s, (bc + bm + b_mem) * s, opt * s, launch * s, (fc + bc) * s,
                     (fm + bm + f_mem + b_mem + opt) * s)


def allreduce_ms(params: int, precision: str, gpus: int, link_gb_per_s: float, fixed_us: float,
                 backward_ms: float) -> tuple[float, float]:
    """(exposed ms, total ms) of a ring all-reduce of the gradients over `gpus`: each GPU sends
    and receives 2 (n - 1) / n of them. DDP launches it bucket by bucket while the backward pass
    runs, so the step waits for the part that outlasts the backward pass, and at least the last
    bucket (Li et al., "PyTorch Distributed", VLDB 2020)."""
    if gpus <= 1:
        return 0.0, 0.0
    grad_bytes = params * TRAINING_BYTES[precision]
    per_byte_ms = 2 * (gpus - 1) / gpus / (link_gb_per_s * 1e9) * 1e3
    total = grad_bytes * per_byte_ms + fixed_us / 1e3
    last = min(grad_bytes, DDP_BUCKET_BYTES) * per_byte_ms + fixed_us / 1e3
    return max(total - backward_ms, last), total





def on_hardware(t: TrainTable, hardware: str, precision: str, batch: int, gpus: int, p: Params,
                speed: float = 1.0, fine_tune: FineTune | None = None) -> tuple[TrainStep, float]:
    """(one GPU's step, the exposed all-reduce ms) of a `gpus`-way data-parallel step on catalog
    `hardware`, each GPU taking `batch` samples; the all-reduce runs over the hardware's
    interconnect (`llm.INTERCONNECT_GB_PER_S`, PCIe where it has none)."""
    from planner import catalog
    from planner.costs.llm import ALLREDUCE_US, INTERCONNECT_GB_PER_S, PCIE_GB_PER_S

    hw = catalog.hardware(hardware)
    s = step(t, batch, hw.peak_tflops[precision], hw.mem_bw_gb_per_s, precision, p, speed, fine_tune)
    link = INTERCONNECT_GB_PER_S.get(hardware, PCIE_GB_PER_S)
    trained = int(Trained.of(t, fine_tune).params)  # only trained weights have gradients to reduce
    exposed, _ = allreduce_ms(trained, precision, gpus, link, ALLREDUCE_US, s.backward_ms)
    return s, exposed
__all__ = ["TrainTable", "TrainStep", "FineTune", "Trained", "step", "allreduce_ms", "on_hardware", "TRAINING_BYTES"]
