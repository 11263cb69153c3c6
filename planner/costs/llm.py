"""What a language model costs per serving iteration: prefill, decode and the KV cache.

A serving engine (vLLM, TensorRT-LLM, MLC) runs *iterations*: each one reads every weight once
and processes a set of tokens, some of them prompt tokens being prefilled (compute-bound: a
large GEMM per layer, and attention over the prefix, which grows with the square of the prompt)
and some of them one new token per running sequence being decoded (memory-bound: the weights and
the sequence's K and V cache are read for a single token). One roofline prices any mix:

    t = max(FLOPs / (peak x compute eff), bytes / (bandwidth x stream eff)) + kernels x cost per kernel

- FLOPs: 2 x layer weights per token, 2 x LM head per token that needs logits (the last prompt
  token and every decoded one), and 4 x layers x attention width per (query, key) pair.
- Bytes: weights once (at the weight precision, int4 with a group-128 fp16 scale and zero), the
  KV cache of every context token read, the new tokens' K and V written, and the activations.
- Weight precision sets the compute rate: fp32/fp16/bf16 run at their own peak, int8 at the int8
  rate (W8A8, SmoothQuant-style) where the hardware has one, int4 at the fp16 rate (W4A16: weights
  are dequantised into fp16 tensor cores, as AWQ, MLC and llama.cpp do).
- The KV cache is kept at fp16 (fp32 for fp32 models) unless `kv_precision` says otherwise; it fills the memory the weights and a
  workspace leave, which bounds how many tokens (prompt + output, over every sequence) fit.
  KV precision is assumed accuracy-neutral: vLLM's documentation says fp8 (E4M3) KV-cache
  quantisation "typically only minimally degrades inference accuracy"
  (https://docs.vllm.ai/en/v0.6.6/quantization/fp8_e4m3_kvcache.html), and no published figure
  isolates the KV cache's effect on the catalog models' metric (data/accuracy.csv holds the
  weights' precision only), so an accuracy floor is held against the weights alone.
- An engine holds at most `max_seqs` sequences at once (vLLM's max_num_seqs, 256 by default; a
  device group's or pool's `max_seqs:` raises it), and a logits buffer for each beside the cache.
- `gpus` > 1 shards the model by tensor parallelism: weights, KV heads, FLOPs and bytes split
  evenly, with two all-reduces of the activations per layer over the interconnect.

The compute efficiency and per-kernel cost are the ones calibrated on MLPerf for the device kind
(`calibration.py`); the streaming efficiency is the roofline's weight-stream assumption.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from planner import catalog
from planner.costs import roofline
from planner.costs.zoo import LLM_ARCH, LlmArch
from planner.errors import CatalogError, PlannerError

#: bytes per KV-cache element by its precision (`kv_precision`: fp16, fp8 or int8; by default
#: fp16, fp32 for fp32 models): TensorRT-LLM's and vLLM's fp8 or int8 KV cache halves it
KV_BYTES = {"fp32": 4.0, "fp16": 2.0, "bf16": 2.0, "fp8": 1.0, "int8": 1.0}
#: int4 weights carry an fp16 scale and zero per group of 128 (AWQ/GPTQ default): +4 B / 128
INT4_GROUP_OVERHEAD = 4 / 128
#: fraction of memory the engine may use (vLLM's gpu_memory_utilization default 0.9) ...
MEMORY_UTILIZATION = 0.9
#: ... and at least this much is left to the OS, CUDA context and runtime (assumed: a Jetson
#: image with a CUDA context holds about 1.5 GB)
RESERVED_GB = 1.5
#: kernels per layer with fused attention (norm, QKV, RoPE+attention, O, norm+residual, gate/up,
#: act x mul, down): the launch/fill cost each (assumed count)
KERNELS_PER_LAYER = 8
#: activation elements written and read per token per layer, in units of d_model and ff
#: (normalised input, Q/K/V, attention output, O; gate/up/product) (assumed)
ACT_D, ACT_FF = 6, 3
#: tokens an iteration may process (vLLM's max_num_batched_tokens for chunked prefill)
MAX_BATCHED_TOKENS = 2048
#: sequences an iteration may hold unless the device group or pool says `max_seqs:` (vLLM's
#: max_num_seqs default)
MAX_SEQS = 256
#: GPU-to-GPU bandwidth per direction for tensor parallelism, GB/s (assumed from the interconnect:
#: NVLink 3 on A100 SXM 300, NVLink 4 on H100/H200 SXM 450, MI300X Infinity Fabric 448; others
#: talk over PCIe 4.0 x16, about 25 GB/s sustained) and the fixed cost of one all-reduce
INTERCONNECT_GB_PER_S = {"a100-40gb": 300.0, "a100-80gb": 300.0, "h100-sxm": 450.0, "h200": 450.0, "mi300x": 448.0}
PCIE_GB_PER_S = 25.0
ALLREDUCE_US = 10.0


def is_llm(model: str) -> bool:
    """Whether `model` is a decoder-only language model the serving model knows."""
    return model in LLM_ARCH


def llm_engine(model: str, precision: str, kv_precision: str | None = None) -> str:
    """What a device runs for a language model: one engine (weights and a continuous batch) per
    model, precision and KV-cache precision (an engine allocates one cache, of one type), which
    every workload of that model and precisions shares."""
    kv = kv_cache_precision(precision, kv_precision)
    return f"{model}@{precision}" + ("" if kv == kv_cache_precision(precision) else f"+kv-{kv}")


def kv_cache_precision(precision: str, kv_precision: str | None = None) -> str:
    """The precision the KV cache is kept at: `kv_precision` where given, else fp16 (fp32 for fp32
    weights, as the activations that fill it)."""
    return kv_precision or ("fp32" if precision == "fp32" else "fp16")


def stores_kv(hardware: str, kv_precision: str | None) -> bool:
    """Whether the planner may choose a KV cache at `kv_precision` on `hardware`: fp8 where it
    computes in fp8 (as `serves` decides for fp8 weights: Hopper, Ada, MI300X), since the halved
    cache reads priced here need the hardware's own fp8 conversion (vLLM's documentation: no
    latency gain from an fp8 cache without fused dequantisation, which Hopper and MI300 convert
    natively, https://docs.vllm.ai/en/v0.11.2/features/quantization/quantized_kvcache/); int8 and
    16-bit anywhere the serving model runs. A workload's single fixed value is taken as given."""
    return kv_precision != "fp8" or "fp8" in catalog.hardware(hardware).peak_tflops


def arch(model: str) -> LlmArch:
    try:
        return LLM_ARCH[model]
    except KeyError:
        raise CatalogError("language model", model, list(LLM_ARCH)) from None


def kv_cache_bytes(model: str, tokens: float, precision: str = "fp16", kv_precision: str | None = None) -> float:
    """Bytes of the K and V cache of `tokens` tokens (2 x layers x KV heads x head dim x bytes
    per element, per token): what a prefill done elsewhere must send to the decoder. The cache is
    at `kv_precision` where given, else fp16 unless the weights are fp32 (as `roofline_cost` keeps it)."""
    a = arch(model)
    return tokens * 2 * a.layers * a.kv_width * KV_BYTES[kv_cache_precision(precision, kv_precision)]


def expected_tokens_per_round(acceptance_rate: float, k: int) -> float:
    """Tokens a speculative round yields on average when each of `k` drafted tokens is accepted
    with probability `acceptance_rate` until the first rejection, and the target adds one token
    of its own (the correction, or a bonus after k accepted): (1 - a^(k+1)) / (1 - a)
    (Leviathan et al. 2023, eq. 1)."""
    a = acceptance_rate
    if not 0.0 <= a < 1.0:
        raise PlannerError(f"acceptance_rate must be in [0, 1), not {a!r}")
    return (1.0 - a ** (k + 1)) / (1.0 - a)


def weight_bytes_per_param(precision: str) -> float:
    """Bytes per weight at `precision` (int4 with its group scales)."""
    return roofline.BYTES_PER_ELEMENT[precision] + (INT4_GROUP_OVERHEAD if precision == "int4" else 0.0)


def llm_precisions(hardware: str) -> tuple[str, ...]:
    """Weight precisions a language model can be served at on `hardware`: those it computes in,
    plus int4 weights (W4A16) wherever it has a 16-bit or fp32 rate to dequantise into."""
    hw = catalog.hardware(hardware)
    runs = set(hw.precisions)
    if runs & {"fp16", "bf16", "fp32"}:
        runs.add("int4")
    return tuple(p for p in catalog.PRECISIONS if p in runs)


def serves(hardware: str, precision: str) -> bool:
    """Whether `hardware` serves a language model at weight `precision`: the planner's options
    (`llm_precisions`) or a precision asked for by name that it computes in (fp8 on Hopper, Ada
    and MI300X: W8A8 at the fp8 rate, as TensorRT-LLM's and vLLM's fp8 checkpoints run)."""
    return precision in llm_precisions(hardware) or (
        precision in catalog.BY_NAME_PRECISIONS and precision in catalog.hardware(hardware).peak_tflops)


@dataclass(frozen=True)
class LlmCost:
    """Iteration costs of one model on one device (or a `gpus`-way tensor-parallel instance) at
    one weight precision; every figure is for the whole instance."""

    model: str
    hardware: str
    precision: str
    gpus: int
    weight_gb: float                 # the whole model's weights
    kv_bytes_per_token: float        # K and V of one token over every layer
    usable_gb: float                 # memory the engine may fill (all GPUs)
    workspace_gb: float              # activations of a full iteration
    kv_capacity_tokens: int          # context tokens (over every running sequence) that fit
    max_context: int                 # the model's own limit, prompt + output
    flops_per_s: float               # effective compute rate (peak x efficiency x gpus)
    bytes_per_s: float               # effective streaming bandwidth (x gpus)
    layer_flops_per_token: float     # 2 x layer weights
    head_flops_per_logit: float      # 2 x LM head
    attn_flops_per_pair: float       # 4 x layers x attention width
    act_bytes_per_token: float
    fixed_s: float                   # per iteration: kernel launches and fill/drain
    comm_s_per_token: float          # tensor-parallel all-reduce bytes per token
    comm_fixed_s: float              # tensor-parallel all-reduce latency per iteration
    source: str                      # calibrated | transferred | assumed (sources.py)
    #: the runtime's own time per request besides the GPU work (scheduling, tokenising, the first
    #: token's copy back), fitted on short-prompt TTFT rows (`published.py`, family `request`)
    request_s: float = 0.0
    #: sequences the engine holds at once (vLLM's max_num_seqs, TensorRT-LLM's max_batch_size)
    max_seqs: int = MAX_SEQS

    @property
    def fits(self) -> bool:
        """Whether the weights, the workspace and one full-length sequence's KV cache fit."""
        return self.kv_capacity_tokens >= 1

    def step_s(self, tokens: float, logits: float, attn_pairs: float, kv_read_tokens: float) -> float:
        """One iteration processing `tokens` (prompt tokens and one per decoding sequence), of
        which `logits` need the LM head, with `attn_pairs` (query, key) pairs in attention and
        `kv_read_tokens` cached tokens read."""
        if tokens <= 0:
            return 0.0
        compute_s, memory_s, other_s = self.parts(tokens, logits, attn_pairs, kv_read_tokens)
        return max(compute_s, memory_s) + other_s

    def parts(self, tokens: float, logits: float, attn_pairs: float, kv_read_tokens: float) -> tuple[float, float, float]:
        """(compute, memory, fixed and communication) seconds of an iteration: each is linear in
        the arguments, which lets the planner solve its operating point in closed form."""
        flops = self.layer_flops_per_token * tokens + self.head_flops_per_logit * logits \
            + self.attn_flops_per_pair * attn_pairs
        moved = self.weight_gb * 1e9 + self.kv_bytes_per_token * (kv_read_tokens + tokens) \
            + self.act_bytes_per_token * tokens
        return (flops / self.flops_per_s, moved / self.bytes_per_s,
                self.fixed_s + self.comm_fixed_s + self.comm_s_per_token * tokens)

    def prefill_s(self, prompt_tokens: int, batch: int = 1) -> float:
        """Prefill of `batch` prompts of `prompt_tokens` each in one iteration (no chunking):
        the time to the first token of an otherwise idle server."""
        n = prompt_tokens * batch
        return self.step_s(n, batch, batch * prompt_tokens * (prompt_tokens + 1) / 2, 0.0)

    def ttft_s(self, prompt_tokens: int) -> float:
        """Time to the first token of one prompt on an idle server: its prefill and the runtime's
        per-request overhead (which a short prompt's few ms of GPU work do not hide)."""
        return self.prefill_s(prompt_tokens) + self.request_s

    def decode_step_s(self, batch: int, context_tokens: float) -> float:
        """One decode iteration: `batch` sequences each add a token to `context_tokens` of context."""
        return self.step_s(batch, batch, batch * (context_tokens + 1), batch * context_tokens)

    def kv_tokens(self, prompt_tokens: float, output_tokens: float, beams: int = 1) -> float:
        """KV-cache tokens one request holds at its end: its prompt once, shared by its `beams`
        (vLLM and TensorRT-LLM share a prompt's cache blocks between beams, copy on write), and
        each beam's own output."""
        return prompt_tokens + beams * output_tokens

    def max_batch(self, context_tokens: float) -> int:
        """Sequences of `context_tokens` (prompt + output) whose KV cache fits at once (<= max_seqs)."""
        if context_tokens > self.max_context:
            return 0
        return int(min(self.max_seqs, self.kv_capacity_tokens // max(context_tokens, 1)))

    def __repr__(self) -> str:
        return (f"LlmCost({self.model} on {self.gpus}x {self.hardware} {self.precision}: weights {self.weight_gb:.1f} GB, "
                f"KV {self.kv_bytes_per_token / 1e3:.0f} kB/token, room for {self.kv_capacity_tokens:,} tokens)")


def llm_cost(model: str, hardware: str, precision: str = "fp16", gpus: int = 1, kv_precision: str | None = None,
             max_seqs: int | None = None) -> LlmCost:
    """The iteration cost model of `model` on `hardware` at weight `precision` over `gpus` GPUs,
    its KV cache at `kv_precision` and its engine holding `max_seqs` sequences (None: MAX_SEQS)."""
    if not isinstance(gpus, int) or gpus < 1:
        raise PlannerError(f"gpus must be an integer >= 1, not {gpus!r}")
    if kv_precision is not None and kv_precision not in KV_BYTES:
        raise PlannerError(f"unknown KV-cache precision '{kv_precision}' (one of {', '.join(KV_BYTES)})")
    max_seqs = MAX_SEQS if max_seqs is None else max_seqs
    if not isinstance(max_seqs, int) or max_seqs < 1:
        raise PlannerError(f"max_seqs must be an integer >= 1, not {max_seqs!r}")
    return _llm_cost(model, hardware, precision, gpus, kv_precision, max_seqs)


@lru_cache(maxsize=4096)
def _llm_cost(model: str, hardware: str, precision: str, gpus: int, kv_precision: str | None = None,
              max_seqs: int = MAX_SEQS) -> LlmCost:
    """The roofline (`roofline_cost`) corrected by the factors fitted to published serving results
    (`published.py`)."""
    from dataclasses import replace

    from planner.costs.calibration import calibrate
    from planner.costs.published import fitted

    hw = catalog.hardware(hardware)
    params, _ = calibrate().for_hardware(hw.kind, hw.tier)
    raw = roofline_cost(model, hardware, precision, gpus, params, kv_precision, max_seqs)
    if (hw.source or "").startswith("live"):  # an unprofiled host: nothing known
        return replace(raw, source="assumed")
    fit = fitted()
    return with_factors(raw, fit.speed_factor("llm", hardware), fit.speed_factor("decode", hardware),
                        fit.source(hardware), fit.request_ms(hardware) / 1e3)


def with_factors(raw: LlmCost, compute: float, memory: float, source: str, request_s: float = 0.0) -> LlmCost:
    """`raw` with its compute rate times `compute` (the `llm` factor: serving engines' GEMMs and
    attention against what ResNet-50's convolutions reach), its streaming rate times `memory`
    (the `decode` factor: 1 on GPUs, whose decode the datasheet bandwidth already bounds) and
    `request_s` per request (the `request` cell)."""
    from dataclasses import replace

    return replace(raw, flops_per_s=raw.flops_per_s * compute, bytes_per_s=raw.bytes_per_s * memory, source=source,
                   request_s=request_s)


def roofline_cost(model: str, hardware: str, precision: str, gpus: int, params: roofline.Params,
                  kv_precision: str | None = None, max_seqs: int = MAX_SEQS) -> LlmCost:
    """The uncorrected roofline of one serving instance with the device kind's `params` (what the
    published-results fit corrects, and refits without a device for leave-one-device-out)."""
    a = arch(model)
    hw = catalog.hardware(hardware)
    if not serves(hardware, precision):
        raise PlannerError(f"{hardware} does not serve {precision} weights (it serves {', '.join(llm_precisions(hardware))})")
    if gpus > 1 and hw.tier != "cloud":
        raise PlannerError(f"tensor parallelism ({gpus} GPUs) is modelled for cloud instances, not {hardware}")
    compute_p = {"int4": "fp16" if "fp16" in hw.peak_tflops else "bf16" if "bf16" in hw.peak_tflops else "fp32"}.get(
        precision, precision)
    info = catalog.model(model)
    d, layers = a.d_model, a.layers
    layer_w = _layer_weights(a)
    head_w = a.vocab * d  # the LM head is read every iteration, tied or not
    weight_gb = info.params_millions * 1e6 * weight_bytes_per_param(precision) / 1e9
    kv_per_token = kv_cache_bytes(model, 1, precision, kv_precision)
    act_bpe = 4.0 if precision == "fp32" else 2.0
    act_per_token = layers * (ACT_D * d + ACT_FF * a.ff) * act_bpe
    # one iteration's activations, and fp32 logits for every sequence the engine may hold
    workspace_gb = MAX_BATCHED_TOKENS * act_per_token / layers / 1e9 + max_seqs * a.vocab * 4 / 1e9
    usable_gb = gpus * min(MEMORY_UTILIZATION * hw.mem_gb, hw.mem_gb - RESERVED_GB)
    free = (usable_gb - weight_gb - workspace_gb) * 1e9
    kv_tokens = int(free // kv_per_token) if free > 0 else 0
    link = INTERCONNECT_GB_PER_S.get(hardware, PCIE_GB_PER_S) * 1e9
    comm_per_token = 0.0 if gpus == 1 else 2 * layers * (2 * (gpus - 1) / gpus) * d * act_bpe / link
    return LlmCost(
        model=model, hardware=hardware, precision=precision, gpus=gpus, weight_gb=weight_gb,
        kv_bytes_per_token=kv_per_token, usable_gb=usable_gb, workspace_gb=workspace_gb, kv_capacity_tokens=kv_tokens,
        max_context=info.max_context or 1 << 30, flops_per_s=gpus * hw.peak_tflops[compute_p] * 1e12 * params.compute_eff,
        bytes_per_s=gpus * hw.mem_bw_gb_per_s * 1e9 * roofline.WEIGHT_STREAM_EFF, layer_flops_per_token=2.0 * layer_w,
        head_flops_per_logit=2.0 * head_w, attn_flops_per_pair=4.0 * layers * a.heads * a.head_dim,
        act_bytes_per_token=act_per_token, fixed_s=(layers * KERNELS_PER_LAYER + 4) * params.kernel_us * 1e-6,
        comm_s_per_token=comm_per_token, comm_fixed_s=0.0 if gpus == 1 else 2 * layers * ALLREDUCE_US * 1e-6,
        source="transferred", max_seqs=max_seqs)


def _layer_weights(a: LlmArch) -> float:
    """Matmul weights of every layer (attention and FFN), which each token multiplies."""
    attn = 2 * a.d_model * a.d_model + 2 * a.d_model * a.kv_width
    ffn = (3 if a.gated_ffn else 2) * a.d_model * a.ff
    return a.layers * (attn + ffn)
