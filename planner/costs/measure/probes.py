"""Probe graphs: single (and fused) ops on a seeded grid of shapes, several per graph, so one
onnxruntime session times many kernels. The same grid on every machine."""
from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Iterable

import numpy as np
import onnx
from onnx import TensorProto

from planner.costs.nets import Net

Probe = Callable[[Net, int], None]


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
        # at least five shapes a family, so that even a quick profile has neighbours to
        # interpolate between after a noisy timing or an unmatched kernel is dropped
        return max(5, int(n * scale))

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
    while len(fam["rnn"]) < count(30):
        kind = "lstm" if rng.random() < 0.75 else "gru"
        seq, batch = _choice(rng, [1, 8, 16, 32, 64, 128, 256]), _choice(rng, [1, 2, 4, 8, 16, 32])
        feat, hidden = _choice(rng, [32, 64, 128, 256, 512, 1024]), _choice(rng, [32, 64, 128, 256, 512, 1024])
        if 2 * seq * batch * 4 * hidden * (feat + hidden) <= 3e9:
            fam["rnn"].append(rnn_branch(kind, seq, batch, feat, hidden))
    return fam


def probe_models(fam: dict[str, list[Probe]], per_graph: int) -> Iterable[tuple[str, onnx.ModelProto]]:
    for name, probes in fam.items():
        for start in range(0, len(probes), per_graph):
            net = Net(f"probe_{name}_{start}", seed=start)
            for i, build in enumerate(probes[start:start + per_graph]):
                build(net, i)
            yield name, net.build()
