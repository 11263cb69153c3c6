"""Predict onnxruntime kernel times on a profiled machine from its profile CSV.

Kernels are priced by their median run (`us_median`), as whole models are measured: a sum of
per-kernel fastest runs would be biased low.

Compute kernels (convolutions, GEMMs, RNNs) are predicted by their efficiency (time per FLOP),
interpolated between the nearest profiled shapes in log-shape space; memory-bound kernels by a
time-vs-elements curve per op, interpolated in log-log space. A prediction inside the profiled
range is `interpolated`, outside it `extrapolated`, and an op never profiled is priced as its
nearest relative and `assumed` (a class with a single profiled shape counts as profiled: a
quick profile interpolates what it measured). A model costs the session overhead once, plus its kernels.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from planner.costs.features import COLUMNS, COMPUTE_CLASSES, features
from planner.costs.fusion import Kernel
from planner.costs.sources import RANK
from planner.errors import PlannerError
from planner.units import BYTES_PER_ELEMENT

FP32 = BYTES_PER_ELEMENT["fp32"]
#: activation bytes a tensor may take and still be served from cache (assumed: the cores' L2
#: plus a share of L3; only kernels with larger tensors are floored by DRAM bandwidth)
CACHE_BYTES = 8e6
#: kernels that work row by row
ROWWISE = ("Softmax", "LayerNormalization", "SkipLayerNormalization", "SimplifiedLayerNormalization", "ReduceMean")
#: activations that cost real work when fused into a conv or GEMM (ReLU and clips are free)
TRANSCENDENTAL = {"Sigmoid", "Tanh", "HardSwish", "HardSigmoid", "LeakyRelu"}

#: log-shape coordinates that place a compute kernel among the profiled ones
COORDS = {
    "conv_kxk": ("mrows", "cin", "cout", "kelems", "stride"),
    "conv_1x1": ("mrows", "cin", "cout", "stride"),
    "conv_dw": ("mrows", "cin", "kelems", "stride"),
    "conv_direct": ("mrows", "cin", "cout", "kelems", "stride"),
    "conv_plain": ("mrows", "cpg", "cout", "kelems"),
    "gemm": ("m", "nn", "kk"),
    "gemm_batched": ("b", "m", "nn", "kk"),
    "rnn": ("seq", "b", "hidden", "input"),
}
#: ops never profiled, priced as a relative
ALIASES = {"Clip": "Clip", "HardSigmoid": "HardSwish", "Abs": "Neg", "Floor": "Neg", "Ceil": "Neg", "Round": "Neg",
           "Sign": "Neg", "Not": "Neg", "Reciprocal": "Div_bcast", "Log": "Exp", "Sin": "Exp", "Cos": "Exp",
           "Elu": "Exp", "Selu": "Exp", "Celu": "Exp", "Mish": "Softplus", "Softsign": "Sigmoid", "PRelu": "LeakyRelu",
           "Pow": "Div", "Pow_bcast": "Div_bcast", "Max": "Add", "Min": "Add", "Max_bcast": "Add_bcast",
           "Min_bcast": "Add_bcast", "Sum": "Add", "Where": "Add", "Where_bcast": "Add_bcast", "Equal": "Add",
           "Equal_bcast": "Add_bcast", "Squeeze": "Reshape", "Unsqueeze": "Reshape", "Flatten": "Reshape",
           "Cast": "Neg", "Pad": "Slice", "Tile": "Expand", "GatherElements": "Gather", "GatherND": "Gather",
           "GlobalMaxPool": "GlobalAveragePool", "ReduceSum": "ReduceMean", "ReduceMax": "ReduceMean",
           "ReduceMin": "ReduceMean", "ReduceL2": "ReduceMean", "ReduceSumSquare": "ReduceMean", "ArgMax": "ReduceMean",
           "LogSoftmax": "Softmax", "FastGelu": "Gelu", "BiasGelu": "Gelu", "Upsample": "Upsample", "Resize": "Resize",
           "DepthToSpace": "Transpose", "SpaceToDepth": "Transpose", "InstanceNormalization": "LayerNormalization",
           "GroupNormalization": "LayerNormalization", "BatchNormalization": "Mul_bcast",
           "SkipSimplifiedLayerNormalization": "SkipLayerNormalization", "Sub_bcast": "Add_bcast",
           "Mul": "Mul", "Sub": "Add", "Div": "Mul", "Split": "Split", "Trilu": "Slice", "CumSum": "ReduceMean",
           "TopK": "ReduceMean", "ScatterND": "Gather", "Einsum": "MatMul", "Erf": "Erf"}


def read_profile(path: str | Path) -> tuple[dict[str, str], pd.DataFrame]:
    """(header, rows) of a profile CSV; PlannerError when unreadable."""
    p = Path(path)
    head: dict[str, str] = {}
    try:
        with p.open() as fh:
            for line in fh:
                if not line.startswith("#"):
                    break
                key, _, value = line[1:].partition(":")
                head[key.strip()] = value.strip()
        df = pd.read_csv(p, comment="#")
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise PlannerError(f"{p}: not a readable profile ({exc})") from None
    missing = [c for c in ("cls", "us", "flops", "elems_in", "elems_out") if c not in df.columns]
    if missing:
        raise PlannerError(f"{p}: profile lacks columns {', '.join(missing)}")
    return head, df


def _coord_frame(df: pd.DataFrame) -> pd.DataFrame:
    d = df.copy()
    d["mrows"] = d["n"].clip(lower=1) * d["hw_out"].clip(lower=1)
    d["cpg"] = (d["cin"] / d["groups"].clip(lower=1)).clip(lower=1)
    return d


def _coords(f: dict) -> dict:
    g = dict(f)
    g["mrows"] = max(f.get("n", 1), 1) * max(f.get("hw_out", 1), 1)
    g["cpg"] = max(f.get("cin", 1) / max(f.get("groups", 1), 1), 1)
    return g


@dataclass
class _Compute:
    """Efficiency (log us per FLOP) over log-shape coordinates, interpolated between neighbours."""

    cols: tuple[str, ...]
    x: np.ndarray        # (n, d) log coordinates
    y: np.ndarray        # log(us / flops)
    lo: np.ndarray
    hi: np.ndarray
    scale: np.ndarray
    k: int = 5

    @classmethod
    def fit(cls, rows: pd.DataFrame, cols: tuple[str, ...], overhead_us: float,
            extra_us: np.ndarray | None = None) -> _Compute | None:
        """`extra_us`: the part of each row's time that is not the core kernel (a fused residual
        add or a transcendental activation), priced apart."""
        rows = rows.assign(core_us=rows["us"] - overhead_us - (0.0 if extra_us is None else extra_us))
        rows = rows[(rows["flops"] > 0) & (rows["core_us"] > 0)]
        if rows.empty:  # a single timed shape still beats borrowing another class's efficiency
            return None
        # the same shape timed twice: keep the faster (other processes only ever add time)
        rows = rows.groupby(list(cols), as_index=False).agg(core_us=("core_us", "min"), flops=("flops", "first"))
        x = np.log(rows[list(cols)].clip(lower=1).to_numpy(float))
        us = np.maximum(rows["core_us"].to_numpy(float), 0.2)
        y = np.log(us / rows["flops"].to_numpy(float))
        scale = x.std(axis=0)
        scale[scale < 1e-9] = 1.0
        return cls(cols, x, y, x.min(axis=0), x.max(axis=0), scale)

    def predict(self, f: dict) -> tuple[float, bool]:
        """(us, inside the profiled box)."""
        q = np.log(np.array([max(float(f.get(c, 1) or 1), 1.0) for c in self.cols]))
        d = np.sqrt((((self.x - q) / self.scale) ** 2).sum(axis=1))
        idx = np.argsort(d)[: self.k]
        w = 1.0 / (d[idx] + 0.05) ** 2
        ys = self.y[idx]
        if len(idx) >= 4:  # drop the neighbour furthest from the others' consensus (a noisy timing)
            med = float(np.median(ys))
            keep = np.argsort(np.abs(ys - med))[:-1]
            ys, w = ys[keep], w[keep]
        y = float((w * ys).sum() / w.sum())
        inside = bool(np.all(q >= self.lo - 1e-9) and np.all(q <= self.hi + 1e-9))
        return math.exp(y) * max(float(f["flops"]), 1.0), inside


@dataclass
class _RowModel:
    """Row-wise kernels (softmax, norms, reductions): a cost per call, per row and per element,
    fitted by non-negative least squares on relative error. Elements alone miss that many short
    rows cost far more than a few long ones."""

    coef: np.ndarray
    lo: float
    hi: float

    @classmethod
    def fit(cls, rows: np.ndarray, elems: np.ndarray, us: np.ndarray) -> _RowModel | None:
        from scipy.optimize import nnls

        ok = (us > 0) & (elems > 0)
        if ok.sum() < 3:  # three coefficients
            return None
        a = np.stack([np.ones(ok.sum()), rows[ok], elems[ok]], axis=1) / us[ok, None]
        coef, _ = nnls(a, np.ones(ok.sum()))
        return cls(coef, float(elems[ok].min()), float(elems[ok].max()))

    def predict(self, rows: float, elems: float) -> tuple[float, bool]:
        return float(self.coef @ [1.0, rows, elems]), self.lo <= elems <= self.hi


@dataclass
class _Curve:
    """Time against a size, piecewise linear in log-log space, made non-decreasing."""

    x: np.ndarray
    y: np.ndarray

    @classmethod
    def fit(cls, size: np.ndarray, us: np.ndarray) -> _Curve | None:
        ok = (size > 0) & (us > 0)
        size, us = size[ok], us[ok]
        if len(size) < 2:
            return None
        order = np.argsort(size)
        lx, ly = np.log(size[order]), np.log(us[order])
        # bins of nearby sizes -> their fastest (timings on a shared machine only err high, and
        # a probe kernel next to a graph input or output pays for it), then a running max (time
        # never falls with size)
        edges = np.unique(np.round(lx * 4) / 4)
        bx, by = [], []
        for e in edges:
            sel = np.abs(np.round(lx * 4) / 4 - e) < 1e-9
            bx.append(float(np.median(lx[sel])))
            by.append(float(ly[sel].min()))
        by = np.maximum.accumulate(np.array(by))
        return cls(np.array(bx), by)

    def predict(self, size: float) -> tuple[float, bool]:
        s = math.log(max(size, 1.0))
        if s > self.x[-1]:  # beyond the grid: time grows in proportion to size
            return math.exp(self.y[-1] + (s - self.x[-1])), False
        if s < self.x[0]:
            return math.exp(self.y[0]), False
        return math.exp(float(np.interp(s, self.x, self.y))), True


def _size(f: dict) -> float:
    """The size variable of a memory-bound kernel."""
    cls = f["cls"]
    if cls in ("MaxPool", "AveragePool"):
        return f["elems_in"] + f["elems_out"] * max(f.get("window", 1), 1)
    if cls in ("GlobalAveragePool", "GlobalMaxPool", "ReduceMean", "Softmax", "LayerNormalization",
               "SkipLayerNormalization", "SimplifiedLayerNormalization"):
        return max(f["elems_in"], 1)
    return max(f["elems_in"] + f["elems_out"], 1)


class HostModel:
    """Kernel-time predictor for one profiled machine (onnxruntime rows of its profile)."""

    def __init__(self, head: dict[str, str], df: pd.DataFrame, column: str = "us_median"):
        self.head = head
        if column in df and column != "us":  # price kernels by their median run
            df = df.assign(us=df[column].where(df[column] > 0, df["us"]))
        self.block = int(float(head.get("nchwc_block", 16)))
        self.session_us = float(head.get("session_overhead_us", 5.0))
        self.prof_us = float(head.get("profiler_overhead_us", 3.0))
        self.out_us_per_mb = float(head.get("output_us_per_mb", 0.0))
        self.bw_gb_per_s = float(head.get("mem_bw_gb_per_s", 20.0) or 20.0)
        ort = df[df.get("runtime", "onnxruntime") == "onnxruntime"] if "runtime" in df else df
        ort = ort.copy()
        num = ort.select_dtypes("number").columns
        ort[num] = ort[num].fillna(0)
        ort = _coord_frame(ort)
        self.curves: dict[str, _Curve] = {}
        for cls, rows in ort[~ort["cls"].isin(COMPUTE_CLASSES)].groupby("cls"):
            f = rows.to_dict("records")
            size = np.array([_size(r) for r in f], float)
            us = np.maximum(rows["us"].to_numpy(float) - self.prof_us, 0.2)
            c = _Curve.fit(size, us)
            if c is not None:
                self.curves[str(cls)] = c
        self.rowwise: dict[str, _RowModel] = {}
        for cls in ROWWISE:
            rows = ort[(ort["cls"] == cls) & (ort.get("lastaxis", 1) != 0)] if "lastaxis" in ort else ort[ort["cls"] == cls]
            if len(rows):
                m = _RowModel.fit(rows["rows"].to_numpy(float), rows["elems_in"].to_numpy(float),
                                  np.maximum(rows["us"].to_numpy(float) - self.prof_us, 0.2))
                if m is not None:
                    self.rowwise[cls] = m
        self.compute: dict[str, _Compute] = {}
        for cls, cols in COORDS.items():
            rows = ort[ort["cls"] == cls]
            extra = np.array([self._extra_us(r) for r in rows.to_dict("records")], float)
            m = _Compute.fit(rows, cols, self.prof_us, extra if len(extra) else None)
            if m is not None:
                self.compute[cls] = m
        self.train = df[df["runtime"] != "onnxruntime"] if "runtime" in df else df.iloc[0:0]

    def _dram_us(self, f: dict) -> float:
        """A floor for kernels whose tensors outgrow the caches. A probe reuses the same few
        buffers run after run, so they stay cached; a model streams dozens of large activations
        through DRAM, and writing a new one costs a read for ownership as well. Traffic beyond
        `CACHE_BYTES` per tensor, at the profile's measured copy bandwidth."""
        out_b, in_b = FP32 * f.get("elems_out", 0), FP32 * f.get("elems_in", 0)
        traffic = max(in_b - CACHE_BYTES, 0.0) + 2 * max(out_b - CACHE_BYTES, 0.0)
        return traffic / (self.bw_gb_per_s * 1e3)

    def _extra_us(self, f: dict) -> float:
        """Time a compute kernel spends on a fused residual add (one more tensor read) or a
        transcendental activation, priced by the matching elementwise curves."""
        extra = 0.0
        out = float(f.get("elems_out", 0) or 0)
        if f.get("sum") and "Add" in self.curves:
            extra += self.curves["Add"].predict(out)[0]  # an Add curve's size counts 3 tensors: one pass
        act = str(f.get("act") or "")
        if act in TRANSCENDENTAL and act in self.curves:
            extra += self.curves[act].predict(2 * out)[0]
        return extra

    def kernel_us(self, k: Kernel) -> tuple[float, str, dict]:
        """(predicted us, source label, features) of one kernel."""
        f = features(k, self.block)
        cls = f["cls"]
        if cls in COMPUTE_CLASSES:
            m = self.compute.get(cls) or self.compute.get("conv_kxk" if cls.startswith("conv") else "gemm")
            if m is None:
                raise PlannerError("profile has no compute kernels")
            us, inside = m.predict(_coords(f))
            us = max(us, self._dram_us(f))
            us += self._extra_us(f)
            label = "interpolated" if inside and cls in self.compute else "extrapolated"
            if cls not in self.compute:
                label = "assumed"
            return us, label, f
        if cls in self.rowwise:
            us, inside = self.rowwise[cls].predict(max(f["rows"], 1), max(f["elems_in"], 1))
            if not f.get("lastaxis", 1) and "Transpose" in self.curves:
                # a softmax over an inner axis runs as transpose, softmax, transpose back
                us += 2 * self.curves["Transpose"].predict(2 * f["elems_in"])[0]
            return us, "interpolated" if inside else "extrapolated", f
        curve, label = self.curves.get(cls), None
        if curve is None:
            alias = ALIASES.get(cls) or ALIASES.get(cls.replace("_bcast", ""))
            curve = self.curves.get(alias or "")
            if curve is None and cls.endswith("_bcast"):
                curve = self.curves.get(cls.replace("_bcast", ""))
            if curve is None:  # an op nobody profiled: price it as a pass over its tensors
                curve = self.curves.get("Add") or next(iter(self.curves.values()))
                label = "assumed"
            else:
                label = "extrapolated"
        us, inside = curve.predict(_size(f))
        return us, label or ("interpolated" if inside else "extrapolated"), f

    def model_us(self, kernels: list[Kernel], output_bytes: float) -> tuple[float, str, dict[str, float]]:
        """(us for one run, weakest label among kernels carrying >= 1% of the time, us by class)."""
        parts = [self.kernel_us(k) for k in kernels]
        total = sum(p[0] for p in parts)
        by_cls: dict[str, float] = {}
        for us, _, f in parts:
            key = "compute" if f["cls"] in COMPUTE_CLASSES else "memory"
            by_cls[key] = by_cls.get(key, 0.0) + us
        label = "interpolated"
        for us, lab, _ in parts:
            if us >= 0.01 * total and RANK[lab] > RANK[label]:
                label = lab
        overhead = self.session_us + output_bytes / 2**20 * self.out_us_per_mb
        by_cls["overhead"] = overhead
        return total + overhead, label, by_cls


@lru_cache(maxsize=16)
def _load(path: str, mtime_ns: int) -> HostModel:
    head, df = read_profile(path)
    return HostModel(head, df)


def host_model(path: str | Path) -> HostModel:
    p = Path(path)
    if not p.is_file():
        raise PlannerError(f"{p}: no such profile")
    return _load(str(p.resolve()), p.stat().st_mtime_ns)


__all__ = ["HostModel", "host_model", "read_profile", "RANK", "COLUMNS"]
