"""Calibrate the roofline of catalog hardware against published MLPerf ResNet-50 results.

For each device kind the roofline has three unknowns: the fraction of peak a convolution
reaches (`compute_eff`), the effective memory bandwidth over the datasheet's (`memory_eff`)
and a fixed cost per kernel (`kernel_us`, separately for edge and cloud GPUs). MLPerf Offline
throughput (large batches) pins the first, SingleStream latency (batch 1) the last. They are
fitted by least squares on log(predicted / published) over every point of
`data/mlperf_calibration.csv` (SingleStream and Offline; Server and MultiStream are left out:
they mix in a latency bound or a query size). Leave-one-device-out refits without a device's
points and predicts them: the error to expect on hardware of a calibrated kind that has no
published result of its own.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import numpy as np
import pandas as pd

from planner import catalog
from planner.costs.graphs import zoo_graph
from planner.costs.roofline import OpTable, Params, latency
from planner.paths import data_dir

#: MLPerf system name -> catalog hardware id
SYSTEMS = {"Orin_TRT": "jetson-agx-orin-64gb", "Orin_NX_TRT": "jetson-orin-nx-16gb", "L4x1_TRT": "l4",
           "DGX-H100_H100-SXM-80GBx1_TRT": "h100-sxm", "H100-PCIe-80GBx1_TRT": "h100-pcie",
           "DGX-A100_A100-SXM-80GBx1_TRT": "a100-80gb", "DGX-A100_A100-SXM-80GBx8_TRT": "a100-80gb",
           "1-node-2S-EMR-PyTorch": "xeon-8592-2s"}
#: Orin Offline runs on the GPU and both DLAs (facts notes). Derived: (GPU dense INT8 + DLA dense
#: INT8) / GPU dense INT8, DLA dense = sparse / 2: AGX (85 + 105/2) / 85; NX (30 + 40/2) / 30.
OFFLINE_ENGINE_FACTOR = {"jetson-agx-orin-64gb": (85 + 52.5) / 85, "jetson-orin-nx-16gb": (30 + 20) / 30}
OFFLINE_BATCH = 128
PRECISION = "int8"
#: not calibrated (no point constrains it): per-kernel cost on a CPU (a oneDNN primitive call)
CPU_KERNEL_US = 2.0
#: per layer on a dataflow chip (assumed 0: no launch; its fill and drain are in the published-rows
#: factor of its group, `published.py`)
DATAFLOW_KERNEL_US = 0.0
#: host-to-accelerator weight streaming, GB/s (assumed: USB 3.0's 5 Gb/s is 0.625 GB/s raw, about
#: 0.4 after 8b/10b coding and bulk-transfer overhead; pinned loosely by Coral's ResNet-50 row)
HOST_STREAM_GB_PER_S = 0.4


@dataclass(frozen=True)
class Point:
    device: str
    scenario: str      # SingleStream (ms per sample) | Offline (samples/s)
    published: float
    system: str

    @property
    def kind(self) -> str:
        return catalog.hardware(self.device).kind


@dataclass
class Calibration:
    """Fitted constants per (kind, tier), the fit on every point, and leave-one-device-out.
    Estimates read only the constants: the fit's table and the leave-one-device-out refits (seven
    more least-squares fits, most of a cold process's first estimate) are made when first read."""

    params: dict[tuple[str, str], Params]
    notes: list[str] = field(default_factory=list)

    @cached_property
    def fit(self) -> pd.DataFrame:
        """device, scenario, published, predicted, error: every point priced with `params`."""
        return _frame([(p, predict(p, params_for(self.params, p.device))) for p in points()])

    @cached_property
    def lodo(self) -> pd.DataFrame:
        """As `fit`, each device's points priced by constants fitted without them."""
        pts = points()
        rows = []
        for dev in dict.fromkeys(p.device for p in pts):
            par = _fit([p for p in pts if p.device != dev])
            rows.extend((p, predict(p, params_for(par, p.device))) for p in pts if p.device == dev)
        return _frame(rows)

    def for_hardware(self, kind: str, tier: str) -> tuple[Params, bool]:
        """(params, calibrated) for a device kind and tier; uncalibrated kinds borrow the GPU's."""
        key = (kind, "cloud" if tier == "cloud" else "edge")
        if key in self.params:
            return self.params[key], True
        for k, p in self.params.items():
            if k[0] == kind:
                return p, True
        gpu = self.params.get(("gpu", key[1]), next(iter(self.params.values())))
        if kind in ("npu", "tpu") and key[1] == "edge":  # a dataflow chip launches no kernels
            return Params(gpu.compute_eff, gpu.memory_eff, DATAFLOW_KERNEL_US), False
        return gpu, False

    def summary(self) -> dict[str, float]:
        f, l_ = self.fit["error"].abs(), self.lodo["error"].abs()
        return {"fit_median_abs_error": float(f.median()), "fit_max_abs_error": float(f.max()),
                "lodo_median_abs_error": float(l_.median()), "lodo_max_abs_error": float(l_.max()),
                "points": int(len(self.fit))}


def points() -> list[Point]:
    df = pd.read_csv(data_dir() / "mlperf_calibration.csv")
    out = []
    for r in df.itertuples():
        dev = SYSTEMS.get(r.system)
        if dev is None or r.benchmark != "resnet50" or r.scenario not in ("SingleStream", "Offline"):
            continue
        if dev == "xeon-8592-2s":  # the catalog device is the whole 2-socket server
            value = float(r.result)
        else:
            value = float(r.per_accelerator_result)
        out.append(Point(dev, r.scenario, value, r.system))
    return out


@lru_cache(maxsize=2)
def _table() -> OpTable:
    return OpTable.of(zoo_graph("resnet-50", 1))


def predict(p: Point, params: Params) -> float:
    """The roofline's figure for a point: ms per sample (SingleStream) or samples/s (Offline)."""
    hw = catalog.hardware(p.device)
    peak, bw = hw.peak_tflops[PRECISION], hw.mem_bw_gb_per_s
    if p.scenario == "SingleStream":
        return latency(_table(), 1, peak, bw, PRECISION, params).total_ms
    ms = latency(_table(), OFFLINE_BATCH, peak, bw, PRECISION, params).total_ms
    return OFFLINE_BATCH / (ms / 1e3) * OFFLINE_ENGINE_FACTOR.get(p.device, 1.0)


def _tier(device: str) -> str:
    return "cloud" if catalog.hardware(device).tier == "cloud" else "edge"


def _fit(pts: list[Point]) -> dict[tuple[str, str], Params]:
    """Least squares on log(predicted / published): one memory efficiency shared by all kinds
    (cache effects are alike), a compute efficiency per kind with points, and a per-kernel cost
    per GPU tier (edge modules clock lower than data-centre parts)."""
    from scipy.optimize import least_squares

    kinds = sorted({p.kind for p in pts})
    tiers = sorted({_tier(p.device) for p in pts if p.kind == "gpu"})
    names = ["memory"] + [f"compute:{k}" for k in kinds] + [f"kernel:{t}" for t in tiers]

    def unpack(x: np.ndarray) -> dict[tuple[str, str], Params]:
        v = dict(zip(names, np.exp(x)))
        out = {}
        for k in kinds:
            for t in ("edge", "cloud"):
                if k == "gpu":
                    us = v.get(f"kernel:{t}", v.get(f"kernel:{tiers[0]}", 8.0) if tiers else 8.0)
                else:
                    us = CPU_KERNEL_US
                out[(k, t)] = Params(float(v[f"compute:{k}"]), float(v["memory"]), float(us))
        return out

    def residuals(x: np.ndarray) -> np.ndarray:
        par = unpack(x)
        # a throughput too high is a latency too low: both enter as log(predicted speed / published)
        return np.array([(1 if p.scenario == "Offline" else -1)
                         * math.log(predict(p, par[(p.kind, _tier(p.device))]) / p.published) for p in pts])

    init = {"memory": 1.0, "kernel:edge": 8.0, "kernel:cloud": 8.0}
    lo_b = {"memory": 0.25}
    hi_b = {"memory": 4.0}
    x0 = np.log([init.get(n, 0.5) for n in names])
    lo = np.log([lo_b.get(n, 0.02 if n.startswith("compute") else 0.5) for n in names])
    hi = np.log([hi_b.get(n, 1.0 if n.startswith("compute") else 60.0) for n in names])
    x = least_squares(residuals, x0, bounds=(lo, hi)).x
    return unpack(x)


def _frame(rows: list[tuple[Point, float]]) -> pd.DataFrame:
    recs = []
    for p, pred in rows:
        err = pred / p.published - 1
        recs.append({"device": p.device, "system": p.system, "scenario": p.scenario,
                     "unit": "ms" if p.scenario == "SingleStream" else "samples/s",
                     "published": p.published, "predicted": pred, "error": err})
    return pd.DataFrame(recs)


def params_for(par: dict[tuple[str, str], Params], device: str) -> Params:
    """The fitted constants a device is priced with. A kind without points borrows the GPU's
    efficiencies; a dataflow chip (an edge NPU or TPU: layers laid out over the chip, no kernel
    launches from a host) has no per-kernel cost, where a GPU's would be a third of ResNet-50."""
    hw = catalog.hardware(device)
    key = (hw.kind, "cloud" if hw.tier == "cloud" else "edge")
    if key in par:
        return par[key]
    gpu = par[("gpu", key[1])]
    kernel_us = CPU_KERNEL_US if hw.kind == "cpu" else DATAFLOW_KERNEL_US if is_dataflow(hw) else gpu.kernel_us
    return Params(gpu.compute_eff, gpu.memory_eff, kernel_us)


def is_dataflow(hw: catalog.Hardware) -> bool:
    """An edge NPU or TPU (Hailo-8, Coral): a dataflow pipeline, not a host-launched GPU."""
    return hw.kind in ("npu", "tpu") and hw.tier != "cloud"


def spill_ms(hw: catalog.Hardware, weight_bytes: float) -> float:
    """Time per inference to stream the weights a dataflow chip's on-chip memory cannot hold from
    the host (Coral: 8 MB SRAM; ResNet-50's 25 MB at int8 mostly streams over USB each run)."""
    if not is_dataflow(hw):
        return 0.0
    return max(weight_bytes - hw.mem_gb * 1e9, 0.0) / (HOST_STREAM_GB_PER_S * 1e9) * 1e3


@lru_cache(maxsize=1)
def calibrate() -> Calibration:
    """Fit on all points (its table and leave-one-device-out are made when read)."""
    notes = [f"Offline of {d} includes its DLAs: GPU roofline x {f:.3f} (derived from datasheet TOPS)"
             for d, f in OFFLINE_ENGINE_FACTOR.items()]
    return Calibration(_fit(points()), notes)
