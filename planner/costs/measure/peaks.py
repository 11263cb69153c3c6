"""This machine's memory, memory bandwidth and peak fp32 GEMM throughput, measured."""
from __future__ import annotations

import os
import time

import numpy as np


def mem_gb() -> float:
    """Installed memory in GiB."""
    try:
        import psutil

        return round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)


def measure_mem_bw_gb_per_s(mb: int = 256, reps: int = 5) -> float:
    """Best of `reps` copies of a large array: (read + write) bytes / time."""
    src = np.ones(mb * 2**20 // 8)
    dst = np.empty_like(src)
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - t)
    return round(2 * src.nbytes / best / 1e9, 2)


def measure_peak_gflops(n: int = 2048, reps: int = 5) -> float:
    """Best fp32 GEMM throughput of numpy's BLAS (the profile also keeps onnxruntime's best)."""
    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    b = a.T.copy()
    np.matmul(a, b)
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        np.matmul(a, b)
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best / 1e9
