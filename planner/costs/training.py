"""A training step on a profiled machine, from its numpy forward/backward kernel timings.

Each op of the graph is priced by the profiled kernel of its class (GEMM, conv, depthwise
conv, norm, softmax, activation, elementwise), forward and backward, interpolated on its size
(FLOPs for compute kernels, elements for the rest) in log-log space; the Adam update is priced
per parameter. numpy runs one kernel at a time with no fusion, as this sum assumes.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from planner.costs.graphs import Graph
from planner.costs.hostmodel import _Curve, read_profile
from planner.errors import PlannerError

#: graph op kind -> (profiled class stem, sized by FLOPs?)
KIND = {"gemm": ("gemm", True), "conv": ("conv", True), "dwconv": ("dwconv", True), "attention": ("attention", True),
        "rnn": ("gemm", True), "norm": ("norm", False), "softmax": ("softmax", False), "act": ("act", False),
        "elementwise": ("elementwise", False), "pool": ("elementwise", False), "reduce": ("elementwise", False),
        "memory": ("elementwise", False), "embedding": ("elementwise", False)}


@lru_cache(maxsize=8)
def _curves(path: str, mtime_ns: int) -> dict[str, _Curve]:
    _, df = read_profile(path)
    rows = df[df["runtime"] == "numpy"] if "runtime" in df else df.iloc[0:0]
    out = {}
    for cls, r in rows.groupby("cls"):
        by_flops = str(cls).split("_")[0] in ("gemm", "conv", "dwconv", "attention")
        size = r["flops"].to_numpy(float) if by_flops else r["elems_out"].to_numpy(float)
        c = _Curve.fit(size, r["us"].to_numpy(float))
        if c is not None:
            out[str(cls)] = c
    if "gemm_fwd" not in out:
        raise PlannerError(f"{path}: profile has no numpy training kernels; run planner profile again")
    return out


def step_ms(g: Graph, profile: Path) -> tuple[float, dict[str, float]]:
    """(ms of forward + backward + Adam, ms by phase) for the graph at its batch."""
    curves = _curves(str(profile), profile.stat().st_mtime_ns)
    fwd = bwd = 0.0
    for op in g.ops:
        if op.kind == "free" or op.kind not in KIND:
            continue
        stem, by_flops = KIND[op.kind]
        size = op.flops if by_flops else op.output_bytes / 4
        if size <= 0:
            continue
        f = curves.get(f"{stem}_fwd") or curves["elementwise_fwd"]
        b = curves.get(f"{stem}_bwd") or curves["elementwise_bwd"]
        fwd += f.predict(size)[0]
        bwd += b.predict(2 * size if by_flops else size)[0]
    adam = curves["adam"].predict(float(g.params))[0] if "adam" in curves else 0.0
    total_us = fwd + bwd + adam
    return total_us / 1e3, {"forward_ms": fwd / 1e3, "backward_ms": bwd / 1e3, "optimizer_ms": adam / 1e3,
                            "compute_ms": (fwd + bwd) / 1e3}


__all__ = ["step_ms"]
