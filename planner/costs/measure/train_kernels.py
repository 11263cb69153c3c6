"""Training kernels (forward and backward of each class) timed in numpy, and in PyTorch when it
is installed: the rows a profile prices training steps with (`costs/training.py`)."""
from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from planner.costs.features import COLUMNS
from planner.costs.measure import kernels


def _best_us(fn: Callable[[], object], min_runs: int = 3, min_s: float = 0.05) -> tuple[float, float, float, int]:
    fn()
    ts = []
    start = time.perf_counter()
    while len(ts) < min_runs or (time.perf_counter() - start < min_s and len(ts) < 50):
        t = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t) * 1e6)
    a = np.array(ts)
    return float(np.median(a)), float(np.percentile(a, 10)), float(np.percentile(a, 90)), len(a)


def training_rows(quick: bool = False) -> list[dict]:
    """Forward and backward of each kernel class in numpy (fp32): flops or elements vs time."""
    rng = np.random.default_rng(0)
    rows: list[dict] = []

    def add(op: str, flops: float, elems: float, fn: Callable[[], object]) -> None:
        med, p10, p90, runs = _best_us(fn)
        row = dict.fromkeys(COLUMNS, 0)
        row.update(cls=op, op=op, flops=flops, elems_out=elems)
        row.update(us=med, us_median=med, us_p10=p10, us_p90=p90, runs=runs, runtime="numpy", precision="fp32")
        rows.append(row)

    f32 = np.float32
    gemm_sizes = [(64, 256, 256), (256, 512, 512), (512, 1024, 1024), (1024, 1024, 4096)] + \
        ([] if quick else [(32, 64, 64), (128, 768, 768), (2048, 1024, 1024), (256, 4096, 1024)])
    for m, n, k in gemm_sizes:
        a, b = rng.standard_normal((m, k), dtype=f32), rng.standard_normal((k, n), dtype=f32)
        dy = rng.standard_normal((m, n), dtype=f32)
        add("gemm_fwd", 2.0 * m * n * k, m * n, lambda: kernels.gemm(a, b))
        add("gemm_bwd", 4.0 * m * n * k, m * n, lambda: kernels.gemm_backward(a, b, dy))
    conv_sizes = [(1, 32, 32, 28, 3), (4, 64, 64, 28, 3), (1, 128, 128, 14, 3)] + \
        ([] if quick else [(8, 64, 128, 14, 3), (2, 16, 32, 56, 3), (4, 256, 256, 7, 1)])
    for n, cin, cout, hw, k in conv_sizes:
        x = rng.standard_normal((n, cin, hw, hw), dtype=f32)
        w = rng.standard_normal((cout, cin, k, k), dtype=f32)
        dy = rng.standard_normal((n, cout, hw, hw), dtype=f32)
        flops = 2.0 * n * cout * hw * hw * cin * k * k
        add("conv_fwd", flops, n * cout * hw * hw, lambda: kernels.conv2d(x, w, None, 1, k // 2))
        add("conv_bwd", 2 * flops, n * cout * hw * hw, lambda: kernels.conv2d_backward(x, w, dy, 1, k // 2))
    for n, c, hw in [(1, 64, 56), (4, 128, 28)] + ([] if quick else [(8, 256, 14), (1, 32, 112)]):
        x = rng.standard_normal((n, c, hw, hw), dtype=f32)
        w = rng.standard_normal((c, 1, 3, 3), dtype=f32)
        dy = rng.standard_normal((n, c, hw, hw), dtype=f32)
        flops = 2.0 * n * c * hw * hw * 9
        add("dwconv_fwd", flops, n * c * hw * hw, lambda: kernels.depthwise_conv2d(x, w, 1, 1))
        add("dwconv_bwd", 2 * flops, n * c * hw * hw, lambda: kernels.depthwise_conv2d_backward(x, w, dy, 1, 1))
    for b, t, d in [(4, 64, 64), (12, 128, 64)] + ([] if quick else [(12, 256, 64), (32, 128, 64)]):
        q = rng.standard_normal((b, t, d), dtype=f32)
        dy = rng.standard_normal((b, t, d), dtype=f32)
        flops = 4.0 * b * t * t * d
        add("attention_fwd", flops, b * t * d, lambda: kernels.attention(q, q, q))
        add("attention_bwd", 2 * flops, b * t * d, lambda: kernels.attention_backward(q, q, q, dy))
    for e in [2**14, 2**18, 2**21] + ([] if quick else [2**23]):
        x = rng.standard_normal((e // 256, 256), dtype=f32)
        g = np.ones(256, f32)
        dy = rng.standard_normal(x.shape, dtype=f32)
        add("norm_fwd", 8.0 * e, e, lambda: kernels.layer_norm(x, g, g))
        add("norm_bwd", 16.0 * e, e, lambda: kernels.layer_norm_backward(x, g, dy))
        add("softmax_fwd", 5.0 * e, e, lambda: kernels.softmax(x))
        add("softmax_bwd", 5.0 * e, e, lambda: kernels.softmax_backward(x, dy))
        add("act_fwd", 4.0 * e, e, lambda: kernels.gelu(x))
        add("act_bwd", 8.0 * e, e, lambda: kernels.gelu_backward(x, dy))
        add("elementwise_fwd", float(e), e, lambda: kernels.add(x, dy))
        add("elementwise_bwd", float(e), e, lambda: kernels.mul_backward(x, dy, dy))
        w, m, v = x.copy(), np.zeros_like(x), np.zeros_like(x)
        add("adam", 10.0 * e, e, lambda: kernels.adam_step(w, dy, m, v, 1))
    rows.extend(_torch_rows(quick))
    return rows


def _torch_rows(quick: bool) -> list[dict]:
    """GEMM and conv forward/backward in PyTorch (CPU, or CUDA when present), if installed."""
    try:
        import torch
    except ImportError:
        return []
    rows = []
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    for m, n, k in [(256, 512, 512), (1024, 1024, 1024)] + ([] if quick else [(2048, 2048, 2048)]):
        a = torch.randn(m, k, device=dev, requires_grad=True)
        b = torch.randn(k, n, device=dev, requires_grad=True)

        def step() -> None:
            (a @ b).sum().backward()
            if dev == "cuda":
                torch.cuda.synchronize()
        med, p10, p90, runs = _best_us(step)
        row = dict.fromkeys(COLUMNS, 0)
        row.update(cls="gemm_fwdbwd", op="gemm_fwdbwd", flops=6.0 * m * n * k, elems_out=m * n, us=med,
                   us_median=med, us_p10=p10, us_p90=p90, runs=runs, runtime=f"torch-{dev}", precision="fp32")
        rows.append(row)
    return rows
