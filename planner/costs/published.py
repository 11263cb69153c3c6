"""Calibration of catalog estimates against published results, with honest error bars.

Two stages, both small enough that leave-one-device-out stays honest:

1. `calibration.py` fits the roofline's constants per device kind (compute and memory efficiency,
   per-kernel cost) to MLPerf ResNet-50 (`data/mlperf_calibration.csv`).
2. Here, one factor per (family, device group) corrects that roofline for what ResNet-50
   convolutions do not show: the factor minimising the sum of |log(predicted / published)| over
   the rows of that cell of `data/published_calibration.csv` (33 rows copied from
   `../shared/facts/published_results.csv`, each with its derivation) plus the ResNet-50 points.

Families (the op class that dominates the time; each factor is an efficiency multiplier of it):
- `vision`: convolutions (ResNet-50/34 MLPerf, Hailo-8, Coral rows, and MLPerf Training ResNet-50
  time-to-train on H100-PCIe, A100, A10G, H200 and L40S);
- `encoder`: GEMM + attention of transformer encoders (BERT-large MLPerf Inference, ViT on
  Hailo-8, and MLPerf Training BERT-large time-to-train on H100-PCIe, H200 and L40S);
- `llm`: the compute rate of LLM serving iterations (TensorRT-LLM static-batch and trtllm-bench
  throughput rows, the two TTFT rows); it scales the serving model's FLOP rate only, since decode
  is bound by the datasheet bandwidth, which no engine beats;
- `decode`: the streaming rate of single-stream decode (the Raspberry Pi 5 Ollama row: llama.cpp
  reaches about 60% of what the GPU-derived stream efficiency says);
- `request` (not a factor: milliseconds added to every request's time to the first token): what
  a serving runtime spends per request besides the GPU work (scheduling, tokenising, launching
  the engine, copying the first token back). Pinned by the short-prompt (128-token) TTFT rows of
  TensorRT-LLM on H100, L40S and A100, whose prefill is only a few ms of GPU work; fitted after
  the `llm` cell, on top of its compute rate.
Device groups: `gpu`, `dataflow` (edge NPUs/TPUs: Hailo-8, Coral), `cpu`; other kinds (a cloud
TPU) have no rows. A cell without rows keeps the uncorrected roofline (factor 1): the factors say
what one group's runtimes reach (TensorRT on a GPU, llama.cpp on a CPU), which another's need not.

Training rows share their family's factor with inference (no constant of their own): the
runtime's training step is priced structurally (`train_step.py`: unfolded normalisation, unfused
backward activations, mixed precision, DDP all-reduce), and what is left, how far the runtime's
kernels get from the roofline on that op class (and for BERT the padding the runs skip), is the
same thing the inference rows measure. A time-to-train row is `SAMPLES_TO_TRAIN` over the
predicted samples per second of all its GPUs.

Labels (`source`): `calibrated` when the device has rows in the fit (for a training step: training
rows); `transferred` when it has none but its group has (carried from other hardware of its kind); `assumed` otherwise. The 80% interval of an estimate is the 10th-90th
percentile of the leave-one-device-out ratio (published / predicted latency) over every row: each
device in turn is left out of both stages and its rows predicted by the rest.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Callable

import numpy as np
import pandas as pd

from planner import catalog
from planner.costs import calibration, roofline
from planner.paths import data_dir
from planner.units import BYTES_PER_ELEMENT

if TYPE_CHECKING:
    from planner.costs.llm import LlmCost

#: metrics whose published value is a time (smaller is faster); the rest are rates
TIME_METRICS = ("latency_ms", "ttft_ms", "time_to_train_min")
#: a training row's metric: minutes from start to the quality target
TRAIN_METRIC = "time_to_train_min"
#: samples a MLPerf Training run processes to reach its quality target, evaluation included
#: (derived: the facts' "median tracked_stats throughput" x time-to-train, medians over the rows
#: that record both: ResNet-50 45.1-46.8M, i.e. about 35.4 epochs of ImageNet's 1,281,167 images,
#: facts rows 49, 55, 62, 70, 73; BERT-large 2.34-2.50M sequences, rows 50, 63, 71). A benchmark's
#: property, not a device's: the run stops at a quality target, whatever the hardware.
SAMPLES_TO_TRAIN = {"resnet-50": 45.4e6, "bert-large": 2.48e6}
#: interval quantiles: an 80% interval (raised by the split-conformal finite-sample correction,
#: `_quantiles`: a quantile of n held-out ratios covers a new one less often than its level)
LOW_Q, HIGH_Q = 0.10, 0.90
#: interval of a device of a group without rows (`assumed`): the widest held-out miss, doubled
ASSUMED_WIDEN = 2.0
#: the held-out latency ratios `evaluate()` measures (bench/calibration.py, 59 rows): "*" the
#: 10th-90th percentile with the finite-sample correction (8.3rd-91.7th), "all" the extremes
#: (L4 ResNet-50 batch 1 at 0.63; Hailo-8 ViT at 16.8)
HELD_OUT_INTERVAL = {"*": (0.70, 1.96), "all": (0.63, 16.84)}
#: a factor is searched within exp(-3) .. exp(3) (0.05x to 20x; for `request`, 0.05 to 20 ms)
FACTOR_LOG_BOUNDS = (-3.0, 3.0)
#: the family whose cell is milliseconds added per request, not a speed factor
REQUEST = "request"


@dataclass(frozen=True)
class Row:
    """One published figure and how to price it."""

    label: str              # facts row or MLPerf system, for tables
    family: str             # vision | encoder | llm | decode
    model: str
    hardware: str
    precision: str
    metric: str             # latency_ms | samples_per_s | tokens_per_s | decode_tokens_per_s | ttft_ms
    batch: int              # 0: as many sequences as the KV cache holds
    gpus: int
    prompt_tokens: int
    output_tokens: int
    published: float
    kv_precision: str | None = None          # the run's KV cache (int8: fp8/int8), else the default
    point: calibration.Point | None = None   # a ResNet-50 MLPerf point, priced as stage 1 prices it

    @property
    def category(self) -> str:
        """The family a report groups the row in (NPU and edge-LLM rows apart)."""
        if self.training:
            return "training"
        if self.family == REQUEST:
            return "short ttft"
        if device_group(self.hardware) == "dataflow":
            return "npu"
        if self.metric == "decode_tokens_per_s":
            return "edge llm"
        return self.family

    @property
    def training(self) -> bool:
        return self.metric == TRAIN_METRIC

    def speed(self, value: float) -> float:
        """A value in this row's unit as a speed (higher is faster)."""
        return 1.0 / value if self.metric in TIME_METRICS else value


def device_group(hardware: str) -> str:
    hw = catalog.hardware(hardware)
    if calibration.is_dataflow(hw):
        return "dataflow"
    return hw.kind if hw.kind in ("gpu", "cpu") else f"{hw.kind}-{hw.tier}"


def rows() -> list[Row]:
    """The published rows and the MLPerf ResNet-50 points."""
    out = [Row(f"{p.system} {p.scenario}", "vision", "resnet-50", p.device, calibration.PRECISION,
               "latency_ms" if p.scenario == "SingleStream" else "samples_per_s",
               1 if p.scenario == "SingleStream" else calibration.OFFLINE_BATCH, 1, 0, 0, p.published, None, p)
           for p in calibration.points()]
    df = pd.read_csv(data_dir() / "published_calibration.csv")
    for r in df.itertuples():
        label = f"facts row {int(r.facts_row)}" if _int(r.facts_row) or r.facts_row == 0 else \
            f"{r.benchmark} {_int(r.prompt_tokens)}-token TTFT"
        out.append(Row(label, r.family, r.model, r.hardware, r.precision, r.metric,
                       int(r.batch), int(r.gpus), _int(r.prompt_tokens), _int(r.output_tokens), float(r.published),
                       r.kv_precision if isinstance(r.kv_precision, str) else None))
    return out


def _int(v: object) -> int:
    """A token count from the CSV (empty: 0)."""
    return 0 if v is None or (isinstance(v, float) and math.isnan(v)) or v == "" else int(float(v))  # type: ignore[arg-type]


# -- pricing a row -----------------------------------------------------------------------------------------

Pricer = Callable[[float], float]


def neutral(family: str) -> float:
    """A cell's value when it corrects nothing: factor 1, or no overhead for `request`."""
    return 0.0 if family == REQUEST else 1.0


def pricer(row: Row, par: dict[tuple[str, str], roofline.Params],
           cells: dict[tuple[str, str], float] | None = None) -> Pricer:
    """The row's figure (in its unit) as a function of its family's factor, with the stage-1 kind
    constants `par`. vision/encoder: the roofline's speed times the factor (what `estimate()`
    applies); llm: the serving model's compute rate times it; decode: its streaming rate;
    request: ms per request on top of the `llm` cell of `cells` (factor 1 where not given)."""
    params = calibration.params_for(par, row.hardware)
    if row.training:
        return _train_pricer(row, params)
    if row.family in ("llm", "decode", REQUEST):
        from planner.costs.llm import roofline_cost, with_factors

        c = roofline_cost(row.model, row.hardware, row.precision, row.gpus, params, row.kv_precision)
        if row.family == REQUEST:
            k = (cells or {}).get(("llm", device_group(row.hardware)), 1.0)
            return lambda ms: _llm_value(row, with_factors(c, k, 1.0, c.source, ms / 1e3))
        if row.family == "llm":
            return lambda f: _llm_value(row, with_factors(c, f, 1.0, c.source))
        return lambda f: _llm_value(row, with_factors(c, 1.0, f, c.source))
    if row.point is not None:
        v = calibration.predict(row.point, params)
    else:
        from planner.costs.estimator import _table

        hw = catalog.hardware(row.hardware)
        t = _table(row.model, row.prompt_tokens or None, 0)
        ms = roofline.latency(t, row.batch, hw.peak_tflops[row.precision], hw.mem_bw_gb_per_s, row.precision,
                              params).total_ms + calibration.spill_ms(hw, t.params * BYTES_PER_ELEMENT[row.precision])
        v = ms if row.metric == "latency_ms" else row.batch / (ms / 1e3)
    return lambda f: v / f if row.metric in TIME_METRICS else v * f


def _train_pricer(row: Row, params: roofline.Params) -> Pricer:
    """Minutes to train: the benchmark's samples over the samples per second of `row.gpus`
    data-parallel GPUs, the factor dividing each GPU's step (not the all-reduce: a link's rate)."""
    from planner.costs import train_step
    from planner.costs.graphs import graph

    t = train_step.TrainTable.of(graph(row.model, 1, row.prompt_tokens or None))
    samples = SAMPLES_TO_TRAIN[row.model]

    def minutes(f: float) -> float:
        s, exposed_ms = train_step.on_hardware(t, row.hardware, row.precision, row.batch, row.gpus, params, f)
        samples_per_s = row.batch * row.gpus / ((s.total_ms + exposed_ms) / 1e3)
        return samples / samples_per_s / 60.0
    return minutes


def _llm_value(row: Row, c: LlmCost) -> float:
    p, o = row.prompt_tokens, max(row.output_tokens, 1)
    if row.metric == "ttft_ms":
        return c.ttft_s(p) * 1e3
    if row.metric == "decode_tokens_per_s":
        return 1.0 / c.decode_step_s(1, p)
    return static_batch_tokens_per_s(c, row.batch, p, o)


def static_batch_tokens_per_s(c: LlmCost, batch: int, prompt_tokens: int, output_tokens: int,
                              beams: int = 1) -> float:
    """Output tokens per second of a static batch: one prefill of every prompt, then a decode
    iteration per further token. `batch` 0 (or more than fits): as many requests as the KV cache
    holds (the serving engine queues the rest and runs them in turn at the same rate). With beam
    search each request decodes `beams` sequences that share its prompt's cache
    (`LlmCost.kv_tokens`) but each attend over all of it (assumed: the attention kernel walks
    each beam's block table); a request's output is one beam's tokens."""
    fit = max(int(c.kv_capacity_tokens // c.kv_tokens(prompt_tokens, output_tokens, beams)), 1)
    b = fit if batch <= 0 else min(batch, fit)
    s = b * beams  # sequences decoding
    ctx = prompt_tokens + np.arange(1, output_tokens, dtype=float)  # context before each decode step
    compute_s, memory_s, other_s = c.parts(s, s, s * (ctx + 1), s * ctx)  # linear: one vector op each
    decode_s = float(np.sum(np.maximum(compute_s, memory_s) + other_s)) if output_tokens > 1 else 0.0
    return b * output_tokens / (c.prefill_s(prompt_tokens, b) + decode_s)


# -- the fit -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Factors:
    """Speed factors per (family, group), the devices with rows, and the interval ratios."""

    cells: dict[tuple[str, str], float]          # (family, group) -> factor
    devices: frozenset[str]                      # hardware with inference rows
    groups: frozenset[str]                       # groups with inference rows
    interval: dict[str, tuple[float, float]]     # "*": 10th-90th percentile; "all": min-max latency ratio
    train_devices: frozenset[str] = frozenset()  # hardware with training (time-to-train) rows

    def speed_factor(self, family: str, hardware: str) -> float:
        """The factor of `family` on `hardware`'s group (1 where the group has no row of it)."""
        return self.cells.get((family, device_group(hardware)), 1.0)

    def request_ms(self, hardware: str) -> float:
        """A serving runtime's time per request on `hardware`'s group besides the GPU work (0
        where the group has no short-prompt TTFT row)."""
        return self.cells.get((REQUEST, device_group(hardware)), 0.0)

    def source(self, hardware: str, training: bool = False) -> str:
        """calibrated (the device has rows of this kind: inference, or training), transferred
        (its group has), assumed (no row of its group)."""
        devices = self.train_devices if training else self.devices
        if hardware in devices:
            return "calibrated"
        groups = {device_group(d) for d in devices} if training else self.groups
        return "transferred" if device_group(hardware) in groups else "assumed"

    def bounds(self, hardware: str, training: bool = False) -> tuple[float, float]:
        """(low, high) multipliers of a latency: its 80% interval, the 10th-90th percentile of the
        held-out ratios of every row pooled (per family, the few devices of each give intervals that
        cover half the left-out rows; pooled, most of them)."""
        if self.source(hardware, training) == "assumed":
            return self.assumed_bounds()
        return self.interval["*"]

    def assumed_bounds(self) -> tuple[float, float]:
        """The interval of a figure no published row pins: the widest held-out misses, widened."""
        lo, hi = self.interval["all"]
        return min(lo, 1.0) / ASSUMED_WIDEN, max(hi, 1.0) * ASSUMED_WIDEN


def fit_cells(rs: list[Row], pricers: list[Pricer]) -> dict[tuple[str, str], float]:
    """Per (family, group), the factor minimising the sum of |log(predicted / published)| (for a
    factor that scales the figure, the median ratio; robust to one odd row)."""
    from scipy.optimize import minimize_scalar

    cells: dict[tuple[str, str], list[int]] = {}
    for i, r in enumerate(rs):
        cells.setdefault((r.family, device_group(r.hardware)), []).append(i)
    out = {}
    for key, idx in cells.items():
        def loss(log_f: float) -> float:
            return sum(abs(math.log(pricers[i](math.exp(log_f)) / rs[i].published)) for i in idx)
        out[key] = float(math.exp(minimize_scalar(loss, bounds=FACTOR_LOG_BOUNDS, method="bounded").x))
    return out


def fit(rs: list[Row], par: dict[tuple[str, str], roofline.Params]) -> dict[tuple[str, str], float]:
    """Every cell over the rows `rs` with the stage-1 constants `par`: the factors first, then the
    per-request overhead on top of the fitted `llm` compute rate."""
    first = [r for r in rs if r.family != REQUEST]
    cells = fit_cells(first, [pricer(r, par) for r in first])
    req = [r for r in rs if r.family == REQUEST]
    cells.update(fit_cells(req, [pricer(r, par, cells) for r in req]))
    return cells


def _cell(cells: dict[tuple[str, str], float], r: Row) -> float:
    return cells.get((r.family, device_group(r.hardware)), neutral(r.family))


@dataclass
class Evaluation:
    """Every row predicted in-sample and with its device left out."""

    table: pd.DataFrame      # a row per figure: published, roofline, fit, lodo, their factor errors, inside
    factors: Factors

    def summary(self, by: str | None = "category") -> pd.DataFrame:
        """Median, 90th percentile and max factor error (max(p/q, q/p)): the stage-1 roofline alone,
        in-sample and held out; and the share of held-out rows inside an 80% interval built
        without their device."""
        def agg(g: pd.DataFrame) -> pd.Series:
            return pd.Series({"rows": len(g), "roofline_median": g.roofline_factor.median(),
                              "fit_median": g.fit_factor.median(), "fit_max": g.fit_factor.max(),
                              "lodo_median": g.lodo_factor.median(), "lodo_p90": g.lodo_factor.quantile(0.9),
                              "lodo_max": g.lodo_factor.max(), "inside_80": g.inside.mean()})
        t = self.table
        parts = [] if by is None else [agg(g).rename(k) for k, g in t.groupby(by)]
        return pd.DataFrame(parts + [agg(t).rename("all")])


def _factor_error(pred: float, pub: float) -> float:
    return max(pred / pub, pub / pred)


@lru_cache(maxsize=1)
def evaluate() -> Evaluation:
    """Fit both stages on every row, then leave each device out of both in turn."""
    rs = rows()
    base = calibration.calibrate().params
    cells = fit(rs, base)
    raw = [pricer(r, base)(neutral(r.family)) for r in rs]
    fitted_v = [pricer(r, base, cells)(_cell(cells, r)) for r in rs]
    lodo = [0.0] * len(rs)
    pts = calibration.points()
    for dev in dict.fromkeys(r.hardware for r in rs):
        rest_pts = [p for p in pts if p.device != dev]
        par = calibration._fit(rest_pts) if len(rest_pts) < len(pts) else base
        c = fit([r for r in rs if r.hardware != dev], par)
        for i, r in enumerate(rs):
            if r.hardware == dev:
                lodo[i] = pricer(r, par, c)(_cell(c, r))
    recs = []
    for r, pr, f_, l_ in zip(rs, raw, fitted_v, lodo):
        # published latency / predicted latency: the multiplier an interval puts on a prediction
        ratio = r.speed(l_) / r.speed(r.published)
        recs.append({"label": r.label, "category": r.category, "family": r.family, "hardware": r.hardware,
                     "model": r.model, "metric": r.metric, "published": r.published, "roofline": pr, "fit": f_,
                     "lodo": l_, "roofline_factor": _factor_error(pr, r.published), "fit_factor": _factor_error(f_, r.published),
                     "lodo_factor": _factor_error(l_, r.published), "latency_ratio": ratio})
    t = pd.DataFrame(recs)
    interval = {"*": _quantiles(t.latency_ratio), "all": (float(t.latency_ratio.min()), float(t.latency_ratio.max()))}
    t["inside"] = [_inside(t, i, ) for i in range(len(t))]
    return Evaluation(t, _factors(rs, cells, interval))


def _factors(rs: list[Row], cells: dict[tuple[str, str], float], interval: dict[str, tuple[float, float]]) -> Factors:
    devices = frozenset(r.hardware for r in rs if not r.training)
    train = frozenset(r.hardware for r in rs if r.training)
    return Factors(cells, devices, frozenset(device_group(d) for d in devices), interval, train)


def _inside(t: pd.DataFrame, i: int) -> bool:
    """Whether row i's held-out ratio lies in an interval built without its device's rows (the
    coverage a device with no published result gets)."""
    r = t.iloc[i]
    others = t[t.hardware != r.hardware]
    lo, hi = _quantiles(others.latency_ratio)
    return bool(lo <= r.latency_ratio <= hi)


def _quantiles(s: pd.Series) -> tuple[float, float]:
    """The 80% interval of a new ratio from `s`: split conformal prediction's quantiles, each tail's
    level moved out by (n + 1) / n, so that a left-out row lands inside about as often as the
    level says (plain 10th-90th percentiles held 73% of the left-out rows; these, 76%)."""
    n = len(s)
    hi_q = min(1.0, HIGH_Q * (n + 1) / n) if n else HIGH_Q
    lo_q = max(0.0, 1.0 - (1.0 - LOW_Q) * (n + 1) / n) if n else LOW_Q
    lo, hi = float(s.quantile(lo_q, interpolation="lower")), float(s.quantile(hi_q, interpolation="higher"))
    return min(lo, 1.0), max(hi, 1.0)  # the estimate itself always lies inside its interval


@lru_cache(maxsize=1)
def fitted() -> Factors:
    """The factors fitted on every row (what estimates are corrected by), with the interval that
    `evaluate()` measured (pinned in HELD_OUT_INTERVAL, so that an estimate does not pay for the
    leave-one-device-out refits; tests/test_calibration.py checks the two agree)."""
    rs = rows()
    return _factors(rs, fit(rs, calibration.calibrate().params), dict(HELD_OUT_INTERVAL))


__all__ = ["Row", "Factors", "Evaluation", "rows", "evaluate", "fitted", "device_group", "pricer",
           "static_batch_tokens_per_s", "SAMPLES_TO_TRAIN", "fit", "neutral", "REQUEST"]
