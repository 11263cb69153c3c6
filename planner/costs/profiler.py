"""Time kernels on this machine and write `data/profiles/<name>.csv`.

Inference kernels are timed where they will run: probe graphs of single (and fused) ops in
onnxruntime, with the same thread count and optimization level as a model gets, read from
onnxruntime's own per-node profile so a kernel is timed in its real layout (NCHWc, reorders)
without the per-run overhead. That overhead, the per-node dispatch cost and the profiler's
own cost are measured apart and stored in the header, so a model counts them once. Training
kernels (forward and backward) are timed in numpy, and in PyTorch when it is installed.

Each CSV row is one timed kernel: its features (`features.COLUMNS`), `us` (mean of its fastest
tenth of runs), `us_median` (what the estimator prices with), `us_p10`/`us_p90` (spread), `runs`,
`runtime` and `precision`. Timings wait for idle cores (`QuietGate`), and every probe graph is
timed in two passes a few minutes apart (the mean of the quiet ones is kept).
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import random
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto

from planner.costs import fusion, graphs, kernels
from planner.costs.features import COLUMNS, features
from planner.costs.nets import Net
from planner.errors import PlannerError
from planner.paths import profile_dir

TIME_COLUMNS = ("us", "us_median", "us_p10", "us_p90", "runs", "runtime", "precision")
Probe = Callable[[Net, int], None]


# -- machine facts -----------------------------------------------------------------------------------

def threads() -> int:
    """Threads a session uses: the physical cores (onnxruntime's own default)."""
    try:
        import psutil

        return max(1, psutil.cpu_count(logical=False) or os.cpu_count() or 1)
    except ImportError:
        return max(1, os.cpu_count() or 1)


def processor_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def mem_gb() -> float:
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


# -- onnxruntime sessions ------------------------------------------------------------------------------

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


GEMM_OPS = ("Gemm", "FusedGemm", "MatMul", "FusedMatMul")


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
    before = _load_counters()
    times = _node_times(model, min_runs, min_s)
    load = _load_since(before)
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


def _busy_s() -> float | None:
    """CPU seconds all processes have spent busy since boot (Linux /proc/stat), else None."""
    try:
        with open("/proc/stat") as fh:
            v = [int(x) for x in fh.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / os.sysconf("SC_CLK_TCK")


def _mine_s() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _load_counters() -> tuple[float | None, float, float]:
    return _busy_s(), _mine_s(), time.perf_counter()


def _load_since(before: tuple[float | None, float, float]) -> float:
    """Cores other processes kept busy since `before` (0 where /proc/stat is missing)."""
    b0, m0, t0 = before
    b1 = _busy_s()
    if b0 is None or b1 is None:
        return 0.0
    return max((b1 - b0 - (_mine_s() - m0)) / max(time.perf_counter() - t0, 1e-6), 0.0)


def others_load(window_s: float = 0.25) -> float | None:
    """Cores kept busy by other processes over a short window in which this one sleeps."""
    import resource

    def mine() -> float:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime
    b0, m0, t0 = _busy_s(), mine(), time.perf_counter()
    if b0 is None:
        return None
    time.sleep(window_s)
    b1, m1 = _busy_s(), mine()
    return max(((b1 or 0.0) - b0 - (m1 - m0)) / (time.perf_counter() - t0), 0.0)


class QuietGate:
    """Waits for a quiet machine before a timing: while other processes keep more than
    `max_cores` cores busy (read from /proc/stat while this process sleeps), wait, up to
    `max_wait_s`. On a shared machine this keeps timings comparable with a dedicated one; the
    time waited and the load at each timing are reported."""

    def __init__(self, max_cores: float = 0.3, max_wait_s: float = 20.0, budget_s: float = float("inf")):
        self.max_cores, self.max_wait_s, self.budget_s = max_cores, max_wait_s, budget_s
        self.waited_s = 0.0
        self.loud = 0  # timings taken without a quiet moment

    def wait(self) -> float:
        """Block until quiet (or the wait runs out); returns the other processes' load last seen."""
        start = time.perf_counter()
        while True:
            load = others_load()
            if load is None or load <= self.max_cores:
                break
            if time.perf_counter() - start > min(self.max_wait_s, self.budget_s - self.waited_s):
                self.loud += 1
                break
        self.waited_s += time.perf_counter() - start
        return load or 0.0


# -- probe graphs --------------------------------------------------------------------------------------
# Each probe is a list of branches (independent inputs); a probe graph holds several branches so
# one session times many kernels. Designs are seeded: the same grid on every machine.

def _hot(net: Net, x: str) -> str:
    """A producer in front of the kernel under test: its input is then a fresh activation in the
    runtime's arena, as inside a model, not a graph input."""
    return net.node("Relu", [x], net.shape[x])


def _sink(net: Net, y: str) -> None:
    """Reduce the kernel's output to one number: a graph output is a fresh allocation every run
    (page faults a model's intermediate tensors never pay)."""
    net.output(net.node("ReduceMax", [y], (1,) * len(net.shape[y]), keepdims=1))


def _sink_ordered(net: Net, y: str) -> None:
    """`_sink` through a 1x1 convolution: the runtime pushes a transpose through reductions,
    elementwise ops and matrix products (or fuses it into them) and would never run it."""
    shape = net.shape[y]
    w = net.const(np.ones((1, shape[1]) + (1,) * (len(shape) - 2), np.float32))
    _sink(net, net.node("Conv", [y, w], (shape[0], 1) + shape[2:], kernel_shape=[1] * (len(shape) - 2)))


def _gap_out(net: Net, y: str) -> None:
    net.output(net.gap(y) if len(net.shape[y]) == 4 else y)


def conv_branch(cin: int, cout: int, k: int, stride: int, hw: int, n: int, groups: int = 1, act: str | None = None,
                with_sum: bool = False) -> Probe:
    def build(net: Net, i: int) -> None:
        x = net.input(f"x{i}", (n, cin, hw, hw))
        y = net.conv(x, cout, k, stride, groups=groups, act=act)
        if with_sum:  # a residual from another NCHWc conv: the Add is fused into the conv under test
            r = net.input(f"r{i}", (n, 16) + net.shape[y][2:])
            y = net.add(y, net.conv(r, cout, 1))
        _gap_out(net, y)
    return build


def conv1d_branch(cin: int, cout: int, k: int, stride: int, length: int, n: int) -> Probe:
    def build(net: Net, i: int) -> None:
        x = net.input(f"x{i}", (n, cin, length))
        net.output(net.conv1d(x, cout, k, stride))
    return build


def gemm_branch(m: int, n: int, k: int, kind: str = "gemm", act: str | None = None) -> Probe:
    def build(net: Net, i: int) -> None:
        if kind == "gemm":
            x = _hot(net, net.input(f"x{i}", (m, k)))
            _sink(net, net.gemm(x, n, act=act))
        elif kind == "matmul3d":  # a bias-free N-D linear layer (Llama-style)
            x = _hot(net, net.input(f"x{i}", (1, m, k)))
            _sink(net, net.linear(x, n, bias=False))
        else:
            raise ValueError(kind)
    return build


def bmm_branch(b: int, m: int, n: int, k: int, scaled: bool) -> Probe:
    def build(net: Net, i: int) -> None:
        x = _hot(net, net.input(f"a{i}", (b, m, k)))
        w = _hot(net, net.input(f"b{i}", (b, k, n)))
        y = net.matmul(x, w)
        if scaled:
            y = net.node("Mul", [y, net.const(np.float32(0.125))], net.shape[y])
        _sink(net, y)
    return build


def unary_branch(op: str, elems: int, repeat: int = 2) -> Probe:
    def build(net: Net, i: int) -> None:
        y = _hot(net, net.input(f"x{i}", (1, elems)))
        for _ in range(repeat):
            if op in ("relu", "relu6", "sigmoid", "tanh", "silu", "gelu", "hardswish"):
                y = net.act(y, op)
            elif op == "LeakyRelu":
                y = net.node(op, [y], net.shape[y], alpha=0.1)
            elif op == "Sqrt":
                y = net.node(op, [net.node("Abs", [y], net.shape[y])], net.shape[y])
            else:
                y = net.node(op, [y], net.shape[y])
        _sink(net, y)
    return build


def binary_branch(op: str, rows: int, cols: int, kind: str) -> Probe:
    """kind: same (two activations), row (a per-column constant, like a bias), chan (N,C,1,1 scale)."""
    def build(net: Net, i: int) -> None:
        if kind == "chan":
            x = _hot(net, net.input(f"x{i}", (1, rows, cols, 1)))
            s = net.input(f"s{i}", (1, rows, 1, 1))
            _sink(net, net.node(op, [x, s], net.shape[x]))
            return
        x = _hot(net, net.input(f"x{i}", (rows, cols)))
        other = _hot(net, net.input(f"y{i}", (rows, cols))) if kind == "same" else net.const(
            np.ones(cols, np.float32) * 1.5)
        y = x
        for _ in range(2):
            y = net.node(op, [y, other], (rows, cols))
        _sink(net, y)
    return build


def norm_branch(kind: str, rows: int, cols: int) -> Probe:
    def build(net: Net, i: int) -> None:
        x = _hot(net, net.input(f"x{i}", (1, rows, cols)))
        if kind == "ln":
            y = net.layernorm(x)
        elif kind == "skip":
            y = net.layernorm(net.add(x, _hot(net, net.input(f"r{i}", (1, rows, cols)))))
        elif kind == "rms":
            y = net.rmsnorm(x)
        elif kind == "softmax":
            y = net.softmax(x)
        elif kind == "reduce":
            y = net.node("ReduceMean", [x], (1, rows, 1), axes=[-1], keepdims=1)
        else:
            raise ValueError(kind)
        _sink(net, y)
    return build


def pool_branch(kind: str, c: int, hw: int, k: int, stride: int, n: int) -> Probe:
    def build(net: Net, i: int) -> None:
        x = net.input(f"x{i}", (n, 16, hw, hw))
        y = net.conv(x, c, 1)  # NCHWc input when c is a multiple of the block
        if kind == "max":
            y = net.maxpool(y, k, stride, k // 2)
        elif kind == "avg":
            y = net.avgpool(y, k, stride, k // 2)
        elif kind == "gap":
            y = net.gap(y)
        elif kind == "up":
            y = net.upsample2x(y)
        net.output(net.node("ReduceMax", [y], (n, 1, 1, 1), axes=[1, 2, 3], keepdims=1))
    return build


def memory_branch(kind: str, a: int, b: int, c: int) -> Probe:
    def build(net: Net, i: int) -> None:
        def inp(name: str, shape) -> str:
            return _hot(net, net.input(f"{name}{i}", shape))
        if kind == "t0213":
            _sink_ordered(net, net.transpose(inp("x", (1, a, b, c)), (0, 2, 1, 3)))
        elif kind == "t0231":
            _sink_ordered(net, net.transpose(inp("x", (1, a, b, c)), (0, 2, 3, 1)))
        elif kind == "t021":
            _sink_ordered(net, net.transpose(inp("x", (a, b, c)), (0, 2, 1)))
        elif kind == "t102":
            _sink_ordered(net, net.transpose(inp("x", (a, b, c)), (1, 0, 2)))
        elif kind == "concat":
            _sink(net, net.concat([inp("x", (1, a, b, c)), inp("y", (1, a, b, c))], axis=1))
        elif kind == "concat_last":
            _sink(net, net.concat([inp("x", (a, b, c)), inp("y", (a, b, c))], axis=2))
        elif kind == "split":
            for t in net.split(inp("x", (1, 2 * a, b, c)), [a, a]):
                _sink(net, t)
        elif kind == "resize":
            s = net.const(np.array([1, 1, 2, 2], np.float32))
            _sink(net, net.node("Resize", [inp("x", (1, a, b, c)), "", s], (1, a, 2 * b, 2 * c), mode="nearest"))
        elif kind == "gather":
            ids = net.input(f"x{i}", (a, b), TensorProto.INT64)
            _sink(net, net.embedding(ids, 1000, c))
        elif kind == "expand":
            _sink(net, net.node("Expand", [inp("x", (a, 1, b, c)), net.const([a, 4, b, c])], (a, 4, b, c)))
        elif kind == "reshape":
            y = inp("x", (a, b * c))
            for _ in range(2):
                y = net.reshape(net.reshape(y, (a * b, c)), (a, b * c))
            _sink(net, net.node("Relu", [y], net.shape[y]))
        elif kind == "slice":
            x = inp("x", (a, b, c))
            _sink(net, net.node("Slice", [x, net.const([0]), net.const([c // 2]), net.const([2])], (a, b, c // 2)))
        else:
            raise ValueError(kind)
    return build


def rnn_branch(kind: str, seq: int, batch: int, feat: int, hidden: int) -> Probe:
    def build(net: Net, i: int) -> None:
        x = _hot(net, net.input(f"x{i}", (seq, batch, feat)))
        _sink(net, net.lstm(x, hidden) if kind == "lstm" else net.gru(x, hidden))
    return build


def _choice(rng: random.Random, xs):
    return xs[rng.randrange(len(xs))]


def design(quick: bool = False, seed: int = 0) -> dict[str, list[Probe]]:
    """The probe grid, by family. Shapes span edge CNNs to transformer encoders."""
    rng = random.Random(seed)
    scale = 0.04 if quick else 1.0
    fam: dict[str, list[Probe]] = defaultdict(list)
    chans = [16, 24, 32, 40, 48, 64, 96, 128, 160, 192, 256, 320, 384, 512, 768, 1024]

    def count(n: int) -> int:
        return max(3, int(n * scale))

    def conv_ok(n, cin, cout, k, s, hw, g=1):
        flops = 2 * n * cout * (hw // s) ** 2 * cin // g * k * k
        return 1e5 <= flops <= 3e9 and n * max(cin, cout) * hw * hw <= 2.5e7

    while len(fam["conv_kxk"]) < count(140):
        n, k, s = _choice(rng, [1, 1, 2, 4, 8]), _choice(rng, [3, 3, 3, 5, 7]), _choice(rng, [1, 1, 2])
        cin, cout, hw = _choice(rng, chans), _choice(rng, chans), _choice(rng, [7, 10, 14, 20, 28, 40, 56, 80, 112])
        if conv_ok(n, cin, cout, k, s, hw):
            act = _choice(rng, [None, "relu", "relu6"])
            fam["conv_kxk"].append(conv_branch(cin, cout, k, s, hw, n, act=act,
                                               with_sum=act is None and rng.random() < 0.3))
    while len(fam["conv_1x1"]) < count(150):
        n, s = _choice(rng, [1, 1, 2, 4, 8]), _choice(rng, [1, 1, 1, 2])
        cin, cout = _choice(rng, chans + [1152, 1280, 2048]), _choice(rng, chans + [1152, 1280, 2048])
        hw = _choice(rng, [1, 1, 7, 10, 14, 20, 28, 40, 56, 80, 112])
        if conv_ok(n, cin, cout, 1, s, hw) or hw == 1:
            act = _choice(rng, [None, "relu", "relu6", "sigmoid"])
            fam["conv_1x1"].append(conv_branch(cin, cout, 1, s if hw > 1 else 1, hw, n, act=act,
                                               with_sum=act is None and hw > 1 and rng.random() < 0.3))
    while len(fam["conv_dw"]) < count(90):
        n, k, s = _choice(rng, [1, 1, 2, 4, 8]), _choice(rng, [3, 3, 5, 7]), _choice(rng, [1, 1, 2])
        c, hw = _choice(rng, chans + [576, 672, 960, 1152]), _choice(rng, [7, 10, 14, 20, 28, 40, 56, 80, 112])
        if n * c * hw * hw <= 2.5e7 and n * c * hw * hw >= 2e3:
            fam["conv_dw"].append(conv_branch(c, c, k, s, hw, n, groups=c, act=_choice(rng, [None, "relu6", "relu"])))
    while len(fam["conv_direct"]) < count(45):
        n, k, s = _choice(rng, [1, 1, 2, 4, 8]), _choice(rng, [3, 3, 5, 6, 7]), _choice(rng, [1, 2, 2])
        cin, cout = _choice(rng, [1, 3, 3, 4, 8, 12]), _choice(rng, [16, 24, 32, 48, 64, 96])
        hw = _choice(rng, [32, 64, 112, 160, 224, 320, 416, 640])
        if conv_ok(n, cin, cout, k, s, hw):
            fam["conv_direct"].append(conv_branch(cin, cout, k, s, hw, n, act=_choice(rng, [None, "relu", "relu6"])))
    while len(fam["conv_plain"]) < count(40):
        n = _choice(rng, [1, 1, 2, 4, 8])
        if rng.random() < 0.6:
            cin, cout = _choice(rng, [1, 16, 40, 80, 128, 256, 384, 512]), _choice(rng, [64, 128, 256, 384, 512])
            length, s = _choice(rng, [100, 300, 1000, 3000]), _choice(rng, [1, 2])
            if 1e5 <= 2 * n * cin * cout * 3 * length / s <= 3e9:
                fam["conv_plain"].append(conv1d_branch(cin, cout, 3, s, length, n))
        else:  # grouped convs that the NCHWc layout does not take
            g = _choice(rng, [8, 16, 32])
            cin = g * _choice(rng, [2, 3, 4, 6, 8])
            hw = _choice(rng, [7, 14, 28, 56])
            if conv_ok(n, cin, cin, 3, 1, hw, g):
                fam["conv_plain"].append(conv_branch(cin, cin, 3, 1, hw, n, groups=g))
    dims = [16, 32, 64, 96, 128, 256, 384, 512, 768, 1024, 1536, 2048, 3072, 4096]
    ms = [1, 2, 4, 8, 16, 32, 64, 128, 197, 256, 512, 1024, 1500, 2048, 4096]
    while len(fam["gemm"]) < count(220):
        m, n, k = _choice(rng, ms), _choice(rng, dims + [1000, 10000]), _choice(rng, dims)
        if 2 * m * n * k <= 4e9 and n * k <= 4e7 and 2 * m * n * k >= 2e4:
            kind = "gemm" if rng.random() < 0.75 else "matmul3d"
            act = _choice(rng, [None, None, "relu"]) if kind == "gemm" else None
            fam["gemm"].append(gemm_branch(m, n, k, kind, act))
    while len(fam["gemm_batched"]) < count(90):
        b = _choice(rng, [2, 4, 6, 8, 12, 16, 32, 48, 96])
        m = _choice(rng, [16, 32, 64, 128, 197, 256, 384, 512, 1024, 1500])
        n, k = _choice(rng, [16, 32, 64, 128, 256, 512, 1024, 1500]), _choice(rng, [16, 32, 64, 128, 256, 512, 1500])
        if 2 * b * m * n * k <= 3e9 and b * max(m * k, k * n, m * n) <= 2e7:
            fam["gemm_batched"].append(bmm_branch(b, m, n, k, rng.random() < 0.5))
    sizes = [int(x) for x in np.logspace(2, 7.3, 12)]
    for op in ("relu", "relu6", "sigmoid", "tanh", "silu", "gelu", "hardswish", "LeakyRelu", "Erf", "Exp", "Neg",
               "Sqrt", "Softplus"):
        fam["unary"].extend(unary_branch(op, e) for e in sizes[:: (6 if quick else 1)])
    for op in ("Add", "Mul", "Sub", "Div"):
        for e in sizes[:: (6 if quick else 1)]:
            cols = _choice(rng, [64, 384, 768, 1024])
            rows = max(1, e // cols)
            fam["binary"].append(binary_branch(op, rows, cols, "same"))
            fam["binary"].append(binary_branch(op, rows, cols, "row"))
            if op == "Mul":
                fam["binary"].append(binary_branch(op, max(1, min(1024, rows)), max(1, e // max(1, min(1024, rows))),
                                                   "chan"))
    for kind in ("ln", "skip", "rms", "softmax", "reduce"):
        for _ in range(count(14)):
            cols = _choice(rng, [16, 64, 128, 197, 384, 512, 768, 1024, 1500, 2048, 4096])
            rows = _choice(rng, [1, 8, 32, 128, 384, 1024, 4096, 16384])
            if rows * cols <= 2e7:
                fam["norm"].append(norm_branch(kind, rows, cols))
    for kind in ("max", "avg", "gap", "up"):
        for _ in range(count(14)):
            c, hw = _choice(rng, [16, 24, 32, 64, 128, 256, 512]), _choice(rng, [7, 14, 20, 28, 40, 56, 80, 112])
            n = _choice(rng, [1, 2, 4, 8])
            if n * c * hw * hw <= 2e7:
                fam["pool"].append(pool_branch(kind, c, hw, _choice(rng, [2, 3, 5]), _choice(rng, [1, 2]), n))
    for kind in ("t0213", "t0231", "t021", "t102", "concat", "concat_last", "split", "resize", "gather", "expand",
                 "reshape", "slice"):
        for _ in range(count(10)):
            a, b, c = _choice(rng, [1, 4, 8, 12, 16, 32]), _choice(rng, [16, 64, 128, 256, 512]), \
                _choice(rng, [16, 32, 64, 128, 384, 768])
            fam["memory"].append(memory_branch(kind, a, b, c))
    for _ in range(count(30)):
        kind = "lstm" if rng.random() < 0.75 else "gru"
        seq, batch = _choice(rng, [1, 8, 16, 32, 64, 128, 256]), _choice(rng, [1, 2, 4, 8, 16, 32])
        feat, hidden = _choice(rng, [32, 64, 128, 256, 512, 1024]), _choice(rng, [32, 64, 128, 256, 512, 1024])
        if 2 * seq * batch * 4 * hidden * (feat + hidden) <= 3e9:
            fam["rnn"].append(rnn_branch(kind, seq, batch, feat, hidden))
    return fam


def _probe_models(fam: dict[str, list[Probe]], per_graph: int) -> Iterable[tuple[str, onnx.ModelProto]]:
    for name, probes in fam.items():
        for start in range(0, len(probes), per_graph):
            net = Net(f"probe_{name}_{start}", seed=start)
            for i, build in enumerate(probes[start:start + per_graph]):
                build(net, i)
            yield name, net.build()


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


# -- training kernels (numpy; PyTorch when installed) ---------------------------------------------------

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


# -- the profile file ----------------------------------------------------------------------------------

def header(name: str, extra: dict) -> dict[str, object]:
    import onnxruntime as ort

    return {"hardware": name, "processor": processor_name(), "cores": os.cpu_count() or 1, "threads": threads(),
            "mem_gb": mem_gb(), "date": _dt.date.today().isoformat(), "onnxruntime": ort.__version__,
            "numpy": np.__version__, "python": platform.python_version(), "platform": platform.platform(),
            "tier": "edge", "kind": "cpu", **extra}


def write_profile(path: Path, head: dict, rows: list[dict]) -> Path:
    """Header lines `# key: value`, then the CSV; written to a temporary file and renamed."""
    import pandas as pd

    path.parent.mkdir(parents=True, exist_ok=True)
    df = pd.DataFrame(rows, columns=list(COLUMNS) + list(TIME_COLUMNS))
    for col in ("us", "us_median", "us_p10", "us_p90", "flops"):
        df[col] = df[col].astype(float).round(3)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "w") as fh:
        for k, v in head.items():
            fh.write(f"# {k}: {v}\n")
        df.to_csv(fh, index=False)
    os.replace(tmp, path)
    return path


def _row_key(row: dict) -> tuple:
    return tuple(row[c] for c in COLUMNS)


def _combine(attempts: list[tuple[list[dict], bool]]) -> list[dict]:
    """One probe graph's rows from its timed attempts, matched by their features (a session may
    run independent branches in another order): the mean of the quiet attempts, else the
    fastest of all."""
    groups: dict[tuple, list[list[dict]]] = {}
    for rows, quiet in attempts:
        per_key: dict[tuple, list[dict]] = defaultdict(list)
        for r in rows:
            per_key[_row_key(r)].append(r)
        for key, rs in per_key.items():
            groups.setdefault(key, []).append((rs, quiet))  # type: ignore[arg-type]
    out = []
    for key, tries in groups.items():
        quiet = [rs for rs, q in tries if q]  # type: ignore[misc]
        pool = quiet or [rs for rs, _ in tries]  # type: ignore[misc]
        n = min(len(rs) for rs in pool)
        for j in range(n):
            same = [rs[j] for rs in pool]
            row = dict(same[0])
            if quiet:
                for col in ("us", "us_median", "us_p10", "us_p90"):
                    row[col] = float(np.mean([r[col] for r in same]))
            else:
                row = dict(min(same, key=lambda r: r["us"]))
            row["runs"] = int(sum(r["runs"] for r in same))
            out.append(row)
    return out


def profile(name: str = "host", *, quick: bool = False, out_dir: Path | None = None,
            log: Callable[[str], None] | None = None) -> Path:
    """Time kernels on this machine; write `<out_dir or profile_dir()>/<name>.csv` and return its path.
    `quick` runs a reduced grid (under a minute); the full grid takes several minutes."""
    if not name or any(c in name for c in "/\\ ") or name.startswith("."):
        raise PlannerError(f"profile name '{name}' must be a plain identifier such as my-box")
    try:
        import onnxruntime  # noqa: F401
    except ImportError as exc:
        raise PlannerError(f"profiling needs onnxruntime: {exc}") from None
    say = log or (lambda msg: None)
    t0 = time.perf_counter()
    block = nchwc_block()
    runs = [measure_overheads(block, quick) for _ in range(1 if quick else 3)]
    over = {k: float(np.median([r[k] for r in runs])) for k in runs[0]}
    say(f"overheads: {over}")
    fam = design(quick)
    min_runs, min_s = (4, 0.02) if quick else (10, 0.2)
    probes = list(_probe_models(fam, per_graph=16 if quick else 10))
    gate = QuietGate(max_wait_s=1.0 if quick else 30.0, budget_s=5.0 if quick else 300.0)
    # two passes at different times: a kernel's figures are the mean of its quiet passes (the
    # machine's speed drifts by several percent over minutes), or its faster pass if none was quiet
    passes: list[list[tuple[list[dict], bool]]] = [[] for _ in probes]
    loud = 0
    for attempt in range(1 if quick else 2):
        for i, (family, model) in enumerate(probes):
            for _ in range(1 if quick else 3):  # timed while others were busy: try again later
                gate.wait()
                got, load = run_probe(model, block, min_runs=min_runs, min_s=min_s)
                passes[i].append((got, load <= gate.max_cores))
                if load <= gate.max_cores:
                    break
            else:
                loud += 1
            if i % 10 == 0:
                say(f"pass {attempt + 1}, {family}: graph {i + 1}/{len(probes)} "
                    f"({time.perf_counter() - t0:.0f} s, waited {gate.waited_s:.0f} s)")
    rows: list[dict] = [r for p in passes for r in _combine(p)]
    rows.extend(training_rows(quick))
    bw = measure_mem_bw_gb_per_s(64 if quick else 256)
    rates = [r["flops"] / r["us"] / 1e3 for r in rows
             if r["runtime"] == "onnxruntime" and r["cls"] in ("gemm", "conv_kxk", "conv_1x1") and r["us"] > 50]
    ort_best = float(np.percentile(rates, 98)) if rates else 0.0  # a high quantile, not one lucky timing
    peak = max(measure_peak_gflops(1024 if quick else 2048), ort_best)
    head = header(name, {"mem_bw_gb_per_s": bw, "peak_fp32_tflops": round(peak / 1e3, 4),
                         "precisions": "fp32", "nchwc_block": block, **over,
                         "tdp_w": round(10.0 * (os.cpu_count() or 1), 1), "idle_w": round(2.0 * (os.cpu_count() or 1), 1),
                         "power_basis": "assumed: 10 W per core busy, 2 W per core idle (no power meter read)",
                         "quick": quick, "profile_s": round(time.perf_counter() - t0, 1),
                         "waited_for_quiet_s": round(gate.waited_s, 1), "graphs_timed_under_load": loud,
                         "rows": len(rows)})
    out = Path(out_dir) if out_dir is not None else profile_dir()
    return write_profile(out / f"{name}.csv", head, rows)


def main(argv: list[str] | None = None) -> int:
    """python -m planner.costs.profiler [NAME] [--quick]"""
    args = list(sys.argv[1:] if argv is None else argv)
    quick = "--quick" in args
    names = [a for a in args if not a.startswith("--")]
    path = profile(names[0] if names else "host", quick=quick, log=lambda m: print(m, flush=True))
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
