"""What a model costs on a piece of hardware: latency, throughput, memory and energy, and how
each figure was obtained (`source`).

- On a profiled machine (`host`, or any `planner profile --as NAME`), inference is predicted
  from the machine's kernel profile: the model's graph is turned into the kernels
  onnxruntime will run (`fusion`), each kernel is priced from the profiled ones (`hostmodel`),
  and the per-run overhead is counted once. Training steps are priced from the numpy
  forward/backward kernel timings of the same profile. The model itself is never run.
- On catalog hardware, a roofline per kernel (`roofline`) with efficiencies and per-kernel
  costs fitted to MLPerf ResNet-50 results (`calibration`), times a factor per op family and
  device group fitted to published results (`published`), which also gives `source` (calibrated
  | transferred | assumed) and the 80% interval `latency_ms_low` .. `latency_ms_high`. A language
  model's forward pass is the serving model's prefill (`llm`), so both price it alike. A training
  step is priced as the training runtime runs it (`train_step`), with the same family factor,
  which MLPerf Training time-to-train rows calibrate too.
- `measure=True` runs the model in onnxruntime on this machine instead (`measured`).

`source` is the weakest of its parts (`sources.SOURCES`, strongest first): measured <
interpolated (inside the profiled grid) < calibrated < transferred (carried to a device by the
roofline its group's published results calibrate, or a `host` profile taken on another machine:
`machine.Machine.differences`) < extrapolated (outside the profiled grid) < assumed (no calibration point for the device kind, or an op
never profiled). A transferred estimate's `note` says why and suggests `planner profile`.

Nothing here imports the measuring tools (`costs.measure`) until `measure=True` asks for a run.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Mapping

import numpy as np

from planner import catalog
from planner.costs import roofline
from planner.costs.graphs import FP32_BYTES, Graph, graph
from planner.costs.machine import Machine, this_machine
from planner.costs.sources import SOURCES, weakest  # noqa: F401 - SOURCES re-exported
from planner.costs.train_step import FineTune
from planner.errors import CatalogError, PlannerError
from planner.units import BYTES_PER_ELEMENT

TRAINING_PRECISIONS = ("fp32", "fp16", "bf16")
#: runtime workspace, allocator slack (assumed)
MEMORY_OVERHEAD = 1.10


@dataclass(frozen=True)
class Estimate:
    """Latency of one batch, samples per second, memory, energy per batch, and their source."""

    model: str
    hardware: str
    precision: str
    batch: int
    latency_ms: float            # one batch, end to end
    throughput_per_s: float      # samples per second at this batch
    memory_gb: float             # weights + activations (+ gradients and optimizer state when training)
    energy_j: float              # per batch: power x time
    source: str                  # one of sources.SOURCES: measured ... assumed
    fits: bool                   # memory_gb <= the hardware's memory
    detail: Mapping[str, float] = field(default_factory=dict)
    note: str = ""               # what a reader should know about `source` (and what to do about it)
    #: an 80% interval of latency_ms: on catalog hardware the 10th-90th percentile of the held-out
    #: error over the published rows (`published.py`); 0 when not given (then set to latency_ms)
    latency_ms_low: float = 0.0
    latency_ms_high: float = 0.0
    #: language models (None otherwise): time to the first token of one `prompt_tokens` prompt on
    #: an idle instance; time per output token and output tokens per second of `batch` sequences
    ttft_ms: float | None = None
    tpot_ms: float | None = None
    tokens_per_s: float | None = None
    #: training (None otherwise): one step of `batch` per GPU with the gradient all-reduce, and
    #: samples per second over every GPU
    step_ms: float | None = None
    samples_per_s: float | None = None
    #: the model's task metric at this precision from data/accuracy.csv, higher is better (WER is
    #: given as word accuracy, 1 - WER), and its name; None where the catalog has no figure
    accuracy: float | None = None
    accuracy_metric: str | None = None

    def __post_init__(self) -> None:
        if not self.latency_ms_low:
            object.__setattr__(self, "latency_ms_low", self.latency_ms)
        if not self.latency_ms_high:
            object.__setattr__(self, "latency_ms_high", self.latency_ms)

    def __repr__(self) -> str:
        return (f"Estimate({self.model} on {self.hardware} {self.precision} b{self.batch}: {self.latency_ms:.3f} ms, "
                f"{self.throughput_per_s:,.1f}/s, {self.memory_gb:.3f} GB{'' if self.fits else ' (does not fit)'}, "
                f"{self.energy_j:.4g} J, {self.source})")


# -- entry points ------------------------------------------------------------------------------------

def estimate(model: str | os.PathLike, hardware: str, precision: str = "fp32", batch: int = 1, *,
             training: bool | FineTune = False, measure: bool = False, seq_len: int | None = None, gpus: int = 1,
             prompt_tokens: int | None = None, output_tokens: int | None = None,
             kv_precision: str | None = None, beams: int = 1) -> Estimate:
    """Estimate `model` (a zoo id or an .onnx path) on `hardware` at `precision` and `batch`.

    `training=True`: one training step (forward, backward, Adam update) and its memory;
    `training=FineTune(layers=N)` or `FineTune(lora_rank=r)`: a fine-tuning step that trains the
    last N weighted layers or LoRA adapters only (`train_step.FineTune`); with
    `gpus` > 1, data-parallel (`step_ms` adds the gradient all-reduce, `samples_per_s` is over all).
    `measure=True`: time the model on this machine with onnxruntime instead (hardware `host`).
    A language model also gets `ttft_ms` (one prompt of `prompt_tokens` on an idle instance),
    `tpot_ms` and `tokens_per_s` (`batch` sequences decoding together, at the mean context over
    `output_tokens`), on a `gpus`-way tensor-parallel instance, its KV cache at `kv_precision`
    (fp16, fp8 or int8; by default fp16, fp32 for fp32 weights); with beam search, each of the
    `batch` requests decodes `beams` sequences that share its prompt's cache. A batch beyond the
    engine's default 256 sequences is priced as asked, on an engine raised to hold it
    (`engine_seqs`), never refused or capped.
    """
    if not isinstance(gpus, (int, np.integer)) or gpus < 1:
        raise PlannerError(f"gpus must be an integer >= 1, not {gpus!r}")
    for name, v in (("prompt_tokens", prompt_tokens), ("output_tokens", output_tokens)):
        if v is not None and (not isinstance(v, (int, np.integer)) or v < 1):
            raise PlannerError(f"{name} must be an integer >= 1, not {v!r}")
    if gpus > 1 and catalog.hardware(hardware).tier != "cloud":
        raise PlannerError(f"several GPUs ({gpus}) are modelled for cloud instances, not {hardware}")
    if not isinstance(beams, (int, np.integer)) or beams < 1:
        raise PlannerError(f"beams must be an integer >= 1, not {beams!r}")
    if beams > 1 and (training or measure or not _is_llm(model)):
        raise PlannerError(f"beam search applies to serving a language model, not to {os.fspath(model)}")
    if kv_precision is not None:
        from planner.costs.llm import KV_BYTES

        if kv_precision not in KV_BYTES:
            raise PlannerError(f"unknown KV-cache precision '{kv_precision}' (one of {', '.join(KV_BYTES)})")
        if training or measure or not _is_llm(model):
            raise PlannerError(f"kv_precision applies to serving a language model, not to {os.fspath(model)}"
                               f"{' training' if training else ''}{' measured' if measure else ''}")
    e = _estimate_one(model, hardware, precision, batch, training, measure, prompt_tokens or seq_len, kv_precision)
    return _with_accuracy(_scaled(e, int(gpus), prompt_tokens or seq_len, output_tokens, training, measure, kv_precision,
                                  int(beams)))


def _with_accuracy(e: Estimate) -> Estimate:
    """`e` with the catalog's accuracy of its model at its precision (a zoo model only)."""
    a = catalog.accuracy(e.model, e.precision) if e.model in catalog.model_ids() else None
    return e if a is None else replace(e, accuracy=a.score, accuracy_metric=a.score_metric)


def _estimate_one(model: str | os.PathLike, hardware: str, precision: str, batch: int, training: bool | FineTune,
                  measure: bool, seq_len: int | None, kv_precision: str | None = None) -> Estimate:
    """One device, one batch: the estimate every other figure is built on."""
    if not isinstance(batch, (int, np.integer)) or batch < 1:
        raise PlannerError(f"batch must be an integer >= 1, not {batch!r}")
    if seq_len is not None and seq_len < 1:
        raise PlannerError(f"seq_len must be >= 1, not {seq_len!r}")
    hw = catalog.hardware(hardware)
    if precision not in BYTES_PER_ELEMENT:
        raise PlannerError(f"unknown precision '{precision}' (one of {', '.join(BYTES_PER_ELEMENT)})")
    if precision not in hw.peak_tflops and not (not training and _serves(model, hardware, precision)):
        raise PlannerError(f"{hardware} does not run {precision} (it runs {', '.join(hw.precisions)})")
    if training and precision not in TRAINING_PRECISIONS:
        raise PlannerError(f"training at {precision} is not supported (use {', '.join(TRAINING_PRECISIONS)})")
    if training and measure:
        raise PlannerError("measure=True times inference; training steps are estimated only")
    if isinstance(training, FineTune) and profile_path(hw) is not None:
        raise PlannerError(f"{hardware}'s profile times whole training steps; fine-tuning is estimated on catalog hardware")
    key = _model_key(model)
    return _estimate(key, hardware, precision, int(batch), training, measure, seq_len, _mtime(key), kv_precision)


#: output tokens per request where `output_tokens` is not given (assumed: a chat answer)
DEFAULT_OUTPUT_TOKENS = 128


def _scaled(e: Estimate, gpus: int, prompt_tokens: int | None, output_tokens: int | None, training: bool,
            measure: bool, kv_precision: str | None = None, beams: int = 1) -> Estimate:
    """`e` with the serving figures of a language model, or a training step's, over `gpus`."""
    if training:
        step_ms = e.latency_ms + _allreduce_ms(e, gpus)
        k = step_ms / e.latency_ms
        return replace(e, step_ms=step_ms, samples_per_s=e.batch * gpus / (step_ms / 1e3),
                       latency_ms_low=e.latency_ms_low * k, latency_ms_high=e.latency_ms_high * k)
    if not measure and _serves(e.model, e.hardware, e.precision):
        from planner.costs.llm import llm_cost

        c = llm_cost(e.model, e.hardware, e.precision, gpus, kv_precision, engine_seqs(e.batch * beams))
        prompt = prompt_tokens or _default_seq(e.model, None) or 1
        out = output_tokens or DEFAULT_OUTPUT_TOKENS
        # the mean context over the output; beam search decodes `beams` sequences per request
        tpot_s = c.decode_step_s(e.batch * beams, prompt + out / 2)
        ttft_ms = c.ttft_s(prompt) * 1e3
        # a serving engine holds weights, its workspace and the batch's KV cache (prefill runs in
        # chunks, so a whole batch's prompt activations are never held at once, as the
        # forward-pass figure counts them): the batch fits when its contexts fit in the cache
        kv = e.batch * c.kv_tokens(prompt, out, beams)
        memory_gb = c.weight_gb + c.workspace_gb + kv * c.kv_bytes_per_token / 1e9
        fits = c.fits and e.batch * beams <= c.max_seqs and kv <= c.kv_capacity_tokens
        if gpus == 1:
            return replace(e, ttft_ms=ttft_ms, tpot_ms=tpot_s * 1e3, tokens_per_s=e.batch / tpot_s,
                           memory_gb=memory_gb, fits=fits)
        ms = c.prefill_s(prompt, e.batch) * 1e3  # the tensor-parallel instance's forward pass
        k = ms / e.latency_ms
        return replace(e, latency_ms=ms, throughput_per_s=e.batch / (ms / 1e3), energy_j=e.energy_j * k * gpus,
                       memory_gb=memory_gb, fits=fits,
                       latency_ms_low=e.latency_ms_low * k, latency_ms_high=e.latency_ms_high * k,
                       ttft_ms=ttft_ms, tpot_ms=tpot_s * 1e3, tokens_per_s=e.batch / tpot_s)
    if gpus == 1:
        return e
    # independent replicas, one per GPU: the same latency, `gpus` times the samples
    return replace(e, throughput_per_s=e.throughput_per_s * gpus, energy_j=e.energy_j * gpus)


def _allreduce_ms(e: Estimate, gpus: int) -> float:
    """The part of a ring all-reduce of the gradients over the instance's interconnect that the
    backward pass does not hide (`train_step.allreduce_ms`: DDP overlaps its buckets with it)."""
    if gpus == 1:
        return 0.0
    from planner.costs.llm import ALLREDUCE_US, INTERCONNECT_GB_PER_S, PCIE_GB_PER_S
    from planner.costs.train_step import allreduce_ms

    # the gradients of what the step trains (every weight, or a fine-tuning's share)
    params = e.detail.get("trained_params", e.detail.get("weights_gb", 0.0) * 1e9 / BYTES_PER_ELEMENT[e.precision])
    link = INTERCONNECT_GB_PER_S.get(e.hardware, PCIE_GB_PER_S)
    exposed, _ = allreduce_ms(int(params), e.precision, gpus, link, ALLREDUCE_US, e.detail.get("backward_ms", 0.0))
    return exposed


def _is_llm(model: str | os.PathLike) -> bool:
    from planner.costs.llm import is_llm

    return is_llm(os.fspath(model))


def _serves(model: str | os.PathLike, hardware: str, precision: str) -> bool:
    """Whether the serving model runs a language model at `precision` here (int4 weights on any
    device with a 16-bit rate: what `llm_cost` and the planner allow, e.g. on Jetsons)."""
    from planner.costs.llm import serves

    return _is_llm(model) and serves(hardware, precision)


def _model_key(model: str | os.PathLike) -> str:
    s = os.fspath(model)
    if s.lower().endswith(".onnx") or os.sep in s:
        p = Path(s)
        if not p.is_file():
            raise PlannerError(f"{s}: no such ONNX file")
        return str(p.resolve())
    from planner.costs import zoo

    if s not in zoo.ZOO and s not in zoo.EXTRA:
        known = catalog.model_ids() if _catalog_has_models() else list(zoo.ZOO)
        raise CatalogError("model", s, known)
    return s


def _catalog_has_models() -> bool:
    try:
        return bool(catalog.model_ids())
    except Exception:  # noqa: BLE001 - a catalog still being written must not break estimates
        return False


def _mtime(key: str) -> int:
    return Path(key).stat().st_mtime_ns if key.lower().endswith(".onnx") else 0


def _default_seq(model: str, seq_len: int | None) -> int | None:
    if seq_len is not None or model.lower().endswith(".onnx"):
        return seq_len
    try:
        return catalog.model(model).default_seq_len
    except (CatalogError, Exception):  # noqa: BLE001 - zoo-only ids (bench models) have no row
        return None


def _name(model: str) -> str:
    return Path(model).stem if model.lower().endswith(".onnx") else model


@lru_cache(maxsize=65536)
def _estimate(model: str, hardware: str, precision: str, batch: int, training: bool | FineTune, measure: bool,
              seq_len: int | None, mtime_ns: int, kv_precision: str | None = None) -> Estimate:
    hw = catalog.hardware(hardware)
    seq = _default_seq(model, seq_len)
    g1 = graph(model, 1, seq)
    mem = memory(g1, batch, precision, training)
    profile = profile_path(hw)
    detail: dict[str, float] = {}
    note = ""
    if measure:
        latency_ms, source, detail = _measured(model, hardware, batch, seq)
    elif profile is not None and not training:
        latency_ms, source, detail = _profiled(model, batch, seq, profile)
    elif profile is not None:
        latency_ms, source, detail = _profiled_training(graph(model, batch, seq), profile, precision)
    elif not training and _serves(model, hardware, precision):
        latency_ms, source, detail = _catalog_llm(model, hw, precision, batch, seq or 1, kv_precision)
    else:
        latency_ms, source, detail = _catalog(g1, hw, precision, batch, training, _table(model, seq, mtime_ns))
    if profile is not None and not measure and hardware == catalog.HOST:
        note = _transfer_note(profile)
        if note:
            source = weakest(source, "transferred")
    if g1.guessed_dims:
        source = weakest(source, "assumed")
        detail["guessed_dims"] = 1.0
    busy = detail.get("busy_fraction", 1.0)
    power_w = hw.idle_w + (hw.tdp_w - hw.idle_w) * busy
    if not training and not measure:
        detail.update(_llm_detail(model, hardware, precision, batch, seq or 1, kv_precision))
    detail.update({k: v for k, v in mem.items()})
    detail["power_w"] = power_w
    low, high = _interval(source, detail, latency_ms)
    return Estimate(_name(model), hardware, precision, batch, latency_ms, batch / (latency_ms / 1e3),
                    mem["memory_gb"], power_w * latency_ms / 1e3, source, mem["memory_gb"] <= hw.mem_gb,
                    detail, note, latency_ms * low, latency_ms * high)


#: interval of a figure priced from this machine's kernel profile (assumed: bench/fidelity.py's
#: host cases fall within 25% of the measured latency, README "Cost-model fidelity")
PROFILED_INTERVAL = (0.8, 1.25)


def _interval(source: str, detail: Mapping[str, float], latency_ms: float) -> tuple[float, float]:
    """(low, high) multipliers of latency_ms: an 80% interval for how the figure was obtained."""
    if "interval_low" in detail:  # catalog hardware: the held-out error of published rows
        return detail["interval_low"], detail["interval_high"]
    if source == "measured":  # the runs themselves: fastest to 90th percentile
        return (min(detail.get("fastest_ms", latency_ms) / latency_ms, 1.0),
                max(detail.get("p90_ms", latency_ms) / latency_ms, 1.0))
    return PROFILED_INTERVAL


# -- memory ----------------------------------------------------------------------------------------------

def memory(g1: Graph, batch: int, precision: str, training: bool | FineTune) -> dict[str, float]:
    """GB of weights, activations and (training) gradients and Adam state, at `batch`.
    Inference keeps the peak of live activations; training keeps every op's output for backward
    (fine-tuning: gradients and Adam state of what it trains; the last layers keep only the
    activations their backward pass reads, in proportion to their share of the FLOPs)."""
    bpe = BYTES_PER_ELEMENT[precision]
    weights = g1.params * bpe
    scale = bpe / FP32_BYTES * batch / max(g1.batch, 1)
    out = {"weights_gb": weights / 1e9}
    if not training:
        act = g1.peak_activation_bytes() * scale
        out["activations_gb"] = act / 1e9
        out["memory_gb"] = (weights + act) * MEMORY_OVERHEAD / 1e9
        return out
    act = sum(op.output_bytes for op in g1.ops if op.kind != "free") * scale
    trained = float(g1.params)
    if isinstance(training, FineTune):
        from planner.costs.train_step import TrainTable, Trained

        tr = Trained.of(TrainTable.of(g1), training)
        if training.layers is not None:  # the frozen part runs as inference: its peak of live activations
            act = max(act * tr.backward_share, g1.peak_activation_bytes() * scale)
        trained = tr.params
        weights += tr.params * bpe if training.lora_rank is not None else 0.0  # the adapters themselves
        out["trained_params"] = trained
    grads = trained * bpe
    opt = trained * (8 + (4 if bpe < 4 else 0))  # two fp32 moments (+ an fp32 master copy)
    out.update(activations_gb=act / 1e9, gradients_gb=grads / 1e9, optimizer_gb=opt / 1e9)
    out["memory_gb"] = (weights + act + grads + opt) * MEMORY_OVERHEAD / 1e9
    return out


# -- catalog hardware --------------------------------------------------------------------------------------

@lru_cache(maxsize=256)
def _table(model: str, seq_len: int | None, mtime_ns: int) -> roofline.OpTable:
    return roofline.OpTable.of(graph(model, 1, seq_len))


def _catalog(g1: Graph, hw: catalog.Hardware, precision: str, batch: int, training: bool | FineTune,
             table: roofline.OpTable | None = None) -> tuple[float, str, dict]:
    from planner.costs.calibration import calibrate

    from planner.costs.calibration import spill_ms
    from planner.costs.published import fitted

    params, _ = calibrate().for_hardware(hw.kind, hw.tier)
    if training:
        return _catalog_training(g1, hw, precision, batch, params, training if isinstance(training, FineTune) else None)
    t = table or roofline.OpTable.of(g1)
    b = roofline.latency(t, batch, hw.peak_tflops[precision], hw.mem_bw_gb_per_s, precision, params)
    spill = spill_ms(hw, t.params * BYTES_PER_ELEMENT[precision])
    # the published-rows factor of the op class that dominates the model
    fit = fitted()
    speed = fit.speed_factor(_family(g1), hw.id)
    total = (b.total_ms + spill) / speed
    busy = (b.compute_ms + b.memory_ms) / max(b.total_ms, 1e-12)
    source = "assumed" if (hw.source or "").startswith("live") else fit.source(hw.id)  # an unprofiled host
    low, high = fit.assumed_bounds() if source == "assumed" else fit.bounds(hw.id)
    return total, source, {
        "compute_ms": b.compute_ms / speed, "memory_ms": b.memory_ms / speed, "overhead_ms": b.overhead_ms / speed,
        "spill_ms": spill / speed, "kernels": float(t.n_kernels),
        "busy_fraction": max(busy, 0.3), "compute_eff": params.compute_eff, "memory_eff": params.memory_eff,
        "kernel_us": params.kernel_us, "speed_factor": speed, "interval_low": low, "interval_high": high}


def _catalog_training(g1: Graph, hw: catalog.Hardware, precision: str, batch: int,
                      params: roofline.Params, fine_tune: FineTune | None = None) -> tuple[float, str, dict]:
    """One GPU's training step as the runtime runs it (`train_step.py`), times the factor of the
    model's family, which MLPerf Training time-to-train rows share with inference (`published.py`);
    `_scaled` adds the all-reduce of several GPUs."""
    from planner.costs import train_step
    from planner.costs.published import fitted

    fit = fitted()
    speed = fit.speed_factor(_family(g1), hw.id)
    s = train_step.step(train_step.TrainTable.of(g1), batch, hw.peak_tflops[precision], hw.mem_bw_gb_per_s,
                        precision, params, speed, fine_tune)
    source = "assumed" if (hw.source or "").startswith("live") else fit.source(hw.id, training=True)
    low, high = fit.assumed_bounds() if source == "assumed" else fit.bounds(hw.id, training=True)
    busy = (s.compute_ms + s.memory_ms) / max(s.total_ms, 1e-12)
    return s.total_ms, source, {
        "compute_ms": s.compute_ms, "memory_ms": s.memory_ms, "overhead_ms": s.overhead_ms,
        "forward_ms": s.forward_ms, "backward_ms": s.backward_ms, "optimizer_ms": s.optimizer_ms,
        "busy_fraction": max(busy, 0.3), "compute_eff": params.compute_eff, "kernel_us": params.kernel_us,
        "speed_factor": speed, "interval_low": low, "interval_high": high}


def _family(g1: Graph) -> str:
    """The published-rows family (`published.py`) of a model: `vision` where convolutions hold
    most FLOPs, `encoder` (GEMM and attention) otherwise."""
    conv = sum(op.flops for op in g1.ops if op.kind in ("conv", "dwconv"))
    return "vision" if conv >= 0.5 * max(g1.flops, 1.0) else "encoder"


def engine_seqs(sequences: int) -> int:
    """The sequences an engine must hold to run `sequences` at once when a caller asks for them
    explicitly: the default (`llm.MAX_SEQS`, vLLM's 256), raised to the batch beyond it (as
    vLLM's `max_num_seqs` and TensorRT-LLM's `max_batch_size` are for throughput runs), so its
    logits buffer is sized for the batch and no batch is refused or capped."""
    from planner.costs.llm import MAX_SEQS

    return max(MAX_SEQS, int(sequences))


def _catalog_llm(model: str, hw: catalog.Hardware, precision: str, batch: int, seq: int,
                 kv_precision: str | None = None) -> tuple[float, str, dict]:
    """A language model's forward pass over `seq` tokens of `batch` prompts: the serving model's
    prefill (`llm.py`), so that `estimate()` and the planner price the same prefill alike."""
    from planner.costs.llm import llm_cost
    from planner.costs.published import fitted

    c = llm_cost(model, hw.id, precision, kv_precision=kv_precision, max_seqs=engine_seqs(batch))
    low, high = fitted().bounds(hw.id)
    compute_s, memory_s, fixed_s = c.parts(seq * batch, batch, batch * seq * (seq + 1) / 2, 0.0)
    ms = c.prefill_s(seq, batch) * 1e3
    return ms, c.source, {"compute_ms": compute_s * 1e3, "memory_ms": memory_s * 1e3, "overhead_ms": fixed_s * 1e3,
                          "busy_fraction": 1.0, "interval_low": low, "interval_high": high}


def _llm_detail(model: str, hardware: str, precision: str, batch: int, context: int,
                kv_precision: str | None = None) -> dict[str, float]:
    """A language model's serving figures (`llm.py`): decode time per token of `batch` sequences
    at `context` tokens, and the KV cache the memory left after the weights holds."""
    from planner.costs.llm import is_llm, llm_cost

    if not is_llm(model):
        return {}
    try:
        c = llm_cost(model, hardware, precision, kv_precision=kv_precision, max_seqs=engine_seqs(batch))
    except PlannerError:
        return {}
    return {"decode_ms_per_token": c.decode_step_s(batch, context) * 1e3, "kv_capacity_tokens": float(c.kv_capacity_tokens),
            "kv_bytes_per_token": c.kv_bytes_per_token}


# -- profiled machines --------------------------------------------------------------------------------------

def profile_path(hw: catalog.Hardware) -> Path | None:
    """The profile a hardware entry was read from (host or `planner profile --as NAME`), else None."""
    src = hw.source or ""
    if src.startswith("profile "):
        p = Path(src[len("profile "):])
        return p if p.is_file() else None
    return None


@lru_cache(maxsize=512)
def _profiled(model: str, batch: int, seq_len: int | None, profile: Path) -> tuple[float, str, dict]:
    """Predict onnxruntime latency from the machine's kernel profile."""
    from planner.costs.fusion import host_kernels
    from planner.costs.hostmodel import host_model

    hm = host_model(profile)
    g = graph(model, batch, seq_len)
    kernels = host_kernels(g, hm.block)
    us, source, by = hm.model_us(kernels, g.output_bytes)
    detail = {"compute_ms": by.get("compute", 0.0) / 1e3, "memory_ms": by.get("memory", 0.0) / 1e3,
              "overhead_ms": by.get("overhead", 0.0) / 1e3, "kernels": float(len(kernels)), "busy_fraction": 1.0}
    if g.ops and any(op.attrs.get("batch_scaled") for op in g.ops[:1]):
        source = weakest(source, "extrapolated")
    if g.guessed_dims:  # a dynamic sequence or image size had to be guessed
        source = weakest(source, "assumed")
    return us / 1e3, source, detail


def _transfer_note(profile: Path) -> str:
    """Why the `host` profile is not known to be of this machine, with what to do ('' when it is).
    The rule is `Machine.differences`: every identity field recorded and equal."""
    differs = Machine.from_header(catalog.read_profile_header(profile)).differences(this_machine())
    if not differs:
        return ""
    fields = ", ".join(d.partition(":")[0] for d in differs)
    return (f"the host profile {profile.name} is not known to be of this machine ({fields} differ or were not "
            f"recorded); run `planner profile` to profile this one")


def _profiled_training(g: Graph, profile: Path, precision: str) -> tuple[float, str, dict]:
    """A training step from the profile's numpy forward/backward kernel timings."""
    from planner.costs.training import step_ms

    if precision != "fp32":
        raise PlannerError(f"{profile.stem} trains at fp32 only (numpy kernels)")
    ms, detail = step_ms(g, profile)
    return ms, "extrapolated", {**detail, "busy_fraction": 1.0}


def _measured(model: str, hardware: str, batch: int, seq_len: int | None) -> tuple[float, str, dict]:
    """Time the model itself in onnxruntime on this machine."""
    if hardware != catalog.HOST:
        raise PlannerError(f"measure=True times this machine: use hardware 'host', not '{hardware}'")
    from planner.costs import zoo
    from planner.costs.measure import measure

    if model.lower().endswith(".onnx"):
        src: object = model
    else:
        g = graph(model, batch, seq_len)
        if g.params * 4 > 4e9:
            raise PlannerError(f"{model} has {g.params / 1e9:.1f}B parameters: too large to run here")
        src = zoo.build(model, batch, seq_len, weights="random")
    t = measure(src)  # type: ignore[arg-type]
    return t.median_ms, "measured", {"fastest_ms": t.low_ms, "p90_ms": t.p90_ms, "runs": float(t.runs),
                                     "busy_fraction": 1.0}


# -- one side of a split model -------------------------------------------------------------------------------

def estimate_part(model: str | os.PathLike, hardware: str, precision: str, batch: int, start: int,
                  stop: int) -> Estimate:
    """The cost of ops[start:stop] of a model alone: one side of a split between two devices.

    Catalog hardware prices those ops with the calibrated roofline; a profiled machine scales its
    whole-model prediction by the part's share of FLOPs (its kernels fuse across the cut otherwise).
    """
    whole = estimate(model, hardware, precision, batch)
    key = _model_key(model)
    g = graph(key, 1, _default_seq(key, None))
    part = replace(g, ops=g.ops[start:stop])
    hw = catalog.hardware(hardware)
    if profile_path(hw) is not None:
        share = sum(op.flops for op in part.ops) / max(g.flops, 1.0)
        latency_ms, source = whole.latency_ms * share, weakest(whole.source, "extrapolated")
    else:
        latency_ms, source, _ = _catalog(part, hw, precision, batch, False)
        source = weakest(source, whole.source)
    bpe = BYTES_PER_ELEMENT[precision]
    weights = sum(op.params for op in part.ops) * bpe
    act = max([op.output_bytes for op in part.ops] or [0.0]) * bpe / FP32_BYTES * batch
    memory_gb = (weights + act) * MEMORY_OVERHEAD / 1e9
    latency_ms = max(latency_ms, 1e-6)
    return Estimate(whole.model, hardware, precision, batch, latency_ms, batch / (latency_ms / 1e3), memory_gb,
                    whole.detail.get("power_w", hw.tdp_w) * latency_ms / 1e3, source, memory_gb <= hw.mem_gb,
                    {"start": float(start), "stop": float(stop)}, whole.note)


def clear_caches() -> None:
    """Forget cached estimates (after a new profile or catalog)."""
    for f in (_estimate, _table, _profiled):
        f.cache_clear()
