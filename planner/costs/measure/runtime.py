"""Kernels as onnxruntime runs them: per-node timings from its own profiler, matched to the
kernels the estimator's emulation (`fusion.host_kernels`) predicts, and the per-call overheads."""
from __future__ import annotations

import json
import os
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np
import onnx

from planner.costs import fusion, graphs
from planner.costs.features import features
from planner.costs.measure.quiet import load_counters, load_since
from planner.costs.measure.session import feeds, low_mean, session, time_session
from planner.costs.nets import Net


def _node_times(model: onnx.ModelProto, min_runs: int, min_s: float) -> dict[str, dict]:
    """Per-node kernel durations (us) from onnxruntime's profiler: name -> {op, out, in0, durs}."""
    with tempfile.TemporaryDirectory() as tmp:
        sess = session(model, profile_prefix=os.path.join(tmp, "p"))
        time_session(sess, feeds(sess), min_runs=min_runs, min_s=min_s)
        path = sess.end_profiling()
        events = json.loads(Path(path).read_text())
    nodes: dict[str, dict] = {}
    warm = 3
    for e in events:
        if e.get("cat") != "Node" or not e["name"].endswith("_kernel_time"):
            continue
        args = e.get("args", {})
        shapes = args.get("input_type_shape") or []
        rec = nodes.setdefault(e["name"], {"op": args.get("op_name", ""), "durs": [],
                                           "out": _shape(args.get("output_type_shape")),
                                           "in0": _shape(shapes), "in1": _shape(shapes[1:])})
        rec["durs"].append(float(e["dur"]))
    for rec in nodes.values():
        rec["durs"] = rec["durs"][warm:] or rec["durs"]
    return nodes


def _shape(items) -> tuple[int, ...]:
    if not items:
        return ()
    first = items[0]
    return tuple(next(iter(first.values()))) if isinstance(first, dict) else ()


def _pad_numel(shape, block: int, padded: bool) -> int:
    shape = list(shape)
    if padded and len(shape) == 4 and block:
        shape[1] = -(-shape[1] // block) * block
    return int(np.prod(shape)) if shape else 1


def _padded_numel(k: fusion.Kernel, block: int) -> int:
    """Elements of a kernel's output as onnxruntime reports them (NCHWc channels padded)."""
    return _pad_numel(k.out, block, k.nchwc and k.op != "ReorderOutput")

def kernel_signature(k: fusion.Kernel, block: int) -> tuple[str, int, int, int]:
    """(op, output elements, first input elements, kernel taps) as onnxruntime's profiler reports
    a kernel; a conv's taps tell apart convolutions whose tensors are the same size (a GEMM's
    prepacked weights are not reported, but its M x N and M x K sizes rarely coincide)."""
    in_padded = k.nchwc and k.op != "ReorderInput" and not k.attrs.get("nchw_in")
    if k.op == "Gather":  # its first input is the table, a constant the kernel does not list
        return k.op, _padded_numel(k, block), 0, 0
    extra = 0
    if k.op == "Conv":
        extra = int(k.attrs.get("kelems", 1))
    return k.op, _padded_numel(k, block), _pad_numel(k.ins[0] if k.ins else (), block, in_padded), extra


def event_signature(rec: dict) -> tuple[str, int, int, int]:
    """The same four numbers read from a profiler event."""
    op = rec["op"]
    out = int(np.prod(rec["out"])) if rec["out"] else 1
    if op == "Gather":
        return op, out, 0, 0
    in0 = int(np.prod(rec["in0"])) if rec["in0"] else 1
    extra = 0
    w = rec.get("in1") or ()
    if op == "Conv" and len(w) >= 3:
        extra = int(np.prod(w[2:]))
    return op, out, in0, extra


def run_probe(model: onnx.ModelProto, block: int, *, min_runs: int = 10, min_s: float = 0.25) -> tuple[list[dict], float]:
    """Time every kernel of a probe graph: (rows of features + timings, cores other processes
    kept busy meanwhile)."""
    g = graphs.from_proto(model, model.graph.name)
    kern = fusion.host_kernels(g, block)
    exact: dict[tuple, list[fusion.Kernel]] = defaultdict(list)
    for k in kern:
        exact[kernel_signature(k, block)].append(k)
    rows = []
    before = load_counters()
    times = _node_times(model, min_runs, min_s)
    load = load_since(before)
    for rec in times.values():
        cands = exact.get(event_signature(rec))
        if not cands:  # no unambiguous kernel for this node: leave it out rather than guess
            continue
        k = cands.pop(0)
        d = np.array(rec["durs"])
        rows.append({**features(k, block), "us": low_mean(d), "us_median": float(np.median(d)),
                     "us_p10": float(np.percentile(d, 10)), "us_p90": float(np.percentile(d, 90)),
                     "runs": len(d), "runtime": "onnxruntime", "precision": "fp32"})
    return rows, load
# -- per-call overheads --------------------------------------------------------------------------------

def measure_overheads(block: int, quick: bool = False) -> dict[str, float]:
    """Session-run overhead, per-node dispatch cost, the profiler's own per-node cost (all us),
    and the cost per MB of handing a graph output back to Python."""
    def chain(r: int, elems: int = 4096) -> onnx.ModelProto:
        net = Net("chain")
        y = net.input("x", (1, elems))
        for _ in range(r):
            y = net.node("Relu", [y], (1, elems))
        net.output(y)
        return net.build()

    reps = [1, 2, 4, 8, 16, 32]
    walls = []
    for r in reps:
        s = session(chain(r))
        walls.append(low_mean(time_session(s, feeds(s), min_runs=60 if quick else 300, min_s=0.02 if quick else 0.3,
                                           max_runs=3000)) * 1e6)
    slope, icpt = np.polyfit(reps, walls, 1)
    prof = _node_times(chain(16), 60 if quick else 300, 0.02 if quick else 0.3)
    prof_us = low_mean([d for rec in prof.values() for d in rec["durs"]])
    # handing a large graph output back to Python costs an allocation and a copy per run
    outs = []
    for mb in (4, 16) if quick else (4, 16, 64):
        elems = mb * 2**20 // 4
        net = Net("out")
        x = net.input("x", (1, elems))
        net.output(net.node("Relu", [x], (1, elems)))
        s = session(net.build())
        wall = low_mean(time_session(s, feeds(s), min_runs=10 if quick else 30, min_s=0.02 if quick else 0.5)) * 1e6
        kern = _node_times(net.build(), 10 if quick else 30, 0.02 if quick else 0.5)
        k_us = low_mean([d for rec in kern.values() for d in rec["durs"]])
        outs.append((mb, wall - k_us - icpt))
    per_mb = max(0.0, float(np.polyfit([o[0] for o in outs], [o[1] for o in outs], 1)[0]))
    return {"session_overhead_us": round(float(max(icpt, 0.0)), 2), "node_overhead_us": round(float(max(slope, 0.0)), 3),
            "profiler_overhead_us": round(float(max(prof_us - slope, 0.0)), 3), "output_us_per_mb": round(per_mb, 2)}


def nchwc_block() -> int:
    """The NCHWc channel block onnxruntime uses on this CPU (16 with AVX-512, 8 with AVX2, 0 none):
    a conv with 8 input channels reads NCHW directly when the block is larger, else it is reordered."""
    import onnxruntime as ort

    net = Net("blk")
    x = net.input("x", (1, 8, 8, 8))
    net.output(net.conv(x, 16, 3))
    with tempfile.TemporaryDirectory() as tmp:
        so = ort.SessionOptions()
        so.optimized_model_filepath = os.path.join(tmp, "o.onnx")
        so.log_severity_level = 3
        ort.InferenceSession(net.build().SerializeToString(), so, providers=["CPUExecutionProvider"])
        nodes = onnx.load(so.optimized_model_filepath).graph.node
    if not any("nchwc" in n.domain for n in nodes):
        return 0
    return 8 if any(n.op_type == "ReorderInput" for n in nodes) else 16
