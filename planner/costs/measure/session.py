"""onnxruntime sessions set up as every timing in this project is, and the timing loop.

The profiler times probe graphs with these settings and `measure()` times whole models with
them, so a predicted and a measured latency are of the same configuration.
"""
from __future__ import annotations

import os
import time
from collections.abc import Iterable

import numpy as np
import onnx


def threads() -> int:
    """Threads a session uses: the physical cores (onnxruntime's own default)."""
    try:
        import psutil

        return max(1, psutil.cpu_count(logical=False) or os.cpu_count() or 1)
    except ImportError:
        return max(1, os.cpu_count() or 1)


def session(model: onnx.ModelProto | bytes | str, *, profile_prefix: str | None = None, n_threads: int | None = None):
    """An onnxruntime CPU session set up as every timing in this project is: all graph
    optimizations, `threads()` intra-op threads, sequential execution."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads = n_threads or threads()
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.log_severity_level = 3
    if profile_prefix:
        so.enable_profiling = True
        so.profile_file_prefix = profile_prefix
    src = model.SerializeToString() if isinstance(model, onnx.ModelProto) else model
    return ort.InferenceSession(src, so, providers=["CPUExecutionProvider"])


def feeds(sess, seed: int = 0) -> dict[str, np.ndarray]:
    """Random inputs for every graph input (token ids in [0, 100))."""
    rng = np.random.default_rng(seed)
    out = {}
    for i in sess.get_inputs():
        shape = [d if isinstance(d, int) and d > 0 else 1 for d in i.shape]
        if "int64" in i.type:
            out[i.name] = rng.integers(0, 100, shape).astype(np.int64)
        elif "int32" in i.type:
            out[i.name] = rng.integers(0, 100, shape).astype(np.int32)
        else:
            out[i.name] = rng.standard_normal(shape).astype(np.float32)
    return out


def time_session(sess, inputs: dict, *, min_runs: int = 10, min_s: float = 0.3, max_runs: int = 200,
                 warmup: int = 3) -> np.ndarray:
    """Wall-clock seconds of repeated runs after warm-up."""
    for _ in range(warmup):
        sess.run(None, inputs)
    out = []
    start = time.perf_counter()
    while len(out) < max_runs and (len(out) < min_runs or time.perf_counter() - start < min_s):
        t = time.perf_counter()
        sess.run(None, inputs)
        out.append(time.perf_counter() - t)
    return np.array(out)


def low_mean(x: Iterable[float]) -> float:
    """Mean of the fastest tenth of the samples (at least two): the uncontended time. Other
    processes on a shared machine only ever add time, so the fastest runs are the stable ones;
    a mean of a few is finer than one integer-microsecond minimum."""
    a = np.sort(np.asarray(list(x), dtype=float))
    if len(a) == 0:
        return float("nan")
    n = min(len(a), max(2, len(a) // 10))
    return float(a[:n].mean())
