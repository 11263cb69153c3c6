"""Build neural networks as ONNX graphs in code (no downloads).

`Net` tracks shapes as it adds nodes, so it can give every weight its shape. With
``weights="random"`` the model is runnable in onnxruntime (latency does not depend on weight
values); with ``weights="symbolic"`` weights are declared graph inputs with no data, which is
how the zoo describes a 7B-parameter model without allocating 27 GB.
"""
from __future__ import annotations

import json
import math
from collections.abc import Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
IR_VERSION = 8  # onnxruntime >= 1.15 reads IR 8 and opset 17
#: metadata key listing graph inputs that are weights (symbolic mode)
WEIGHTS_KEY = "planner.weight_inputs"
#: metadata key listing graph inputs that are non-trainable constants (symbolic mode)
BUFFERS_KEY = "planner.buffer_inputs"

Shape = tuple[int, ...]


def _conv_out(size: int, k: int, stride: int, pad: int, dilation: int = 1) -> int:
    return (size + 2 * pad - dilation * (k - 1) - 1) // stride + 1


def broadcast(a: Shape, b: Shape) -> Shape:
    """numpy broadcast of two shapes."""
    return tuple(np.broadcast_shapes(a, b))


class Net:
    """An ONNX graph under construction; every method returns the name of its output tensor."""

    def __init__(self, name: str, *, weights: str = "random", seed: int = 0, dtype=np.float32):
        if weights not in ("random", "symbolic"):
            raise ValueError(f"weights must be random or symbolic, not {weights!r}")
        self.name, self.symbolic, self.dtype = name, weights == "symbolic", np.dtype(dtype)
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.inputs: list[onnx.ValueInfoProto] = []
        self.weight_inputs: list[str] = []
        self.buffer_inputs: list[str] = []
        self._rope_tables: dict[Shape, tuple[str, str]] = {}
        self.outputs: list[str] = []
        self.shape: dict[str, Shape] = {}
        self._n = 0

    def __repr__(self) -> str:
        return f"Net({self.name!r}, nodes={len(self.nodes)}, tensors={len(self.shape)})"

    # -- naming and tensors -------------------------------------------------------------
    def _name(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}_{self._n}"

    def input(self, name: str, shape: Sequence[int], dtype: int = TensorProto.FLOAT) -> str:
        self.inputs.append(helper.make_tensor_value_info(name, dtype, list(shape)))
        self.shape[name] = tuple(shape)
        return name

    def weight(self, shape: Sequence[int], *, fan_in: int | None = None, fill: float | None = None,
               prefix: str = "w") -> str:
        """A trainable tensor: random (scaled by fan-in) or symbolic."""
        name = self._name(prefix)
        shape = tuple(int(s) for s in shape)
        self.shape[name] = shape
        if self.symbolic:
            self.inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape)))
            self.weight_inputs.append(name)
        else:
            if fill is not None:
                arr = np.full(shape, fill, dtype=self.dtype)
            else:
                scale = 1.0 / math.sqrt(fan_in or (shape[-1] if shape else 1))
                arr = (self.rng.standard_normal(shape) * scale).astype(self.dtype)
            self.inits.append(numpy_helper.from_array(arr, name))
        return name

    def const(self, value, dtype=None) -> str:
        """A small constant (shapes, scalars): always an initializer."""
        arr = np.asarray(value, dtype=dtype or (np.int64 if np.asarray(value).dtype.kind in "iu" else self.dtype))
        name = self._name("c")
        self.inits.append(numpy_helper.from_array(arr, name))
        self.shape[name] = arr.shape
        return name

    def node(self, op: str, inputs: Sequence[str], out_shape: Shape, *, n_out: int = 1, shapes=None,
             domain: str = "", **attrs) -> str:
        outs = [self._name(op.lower()) for _ in range(n_out)]
        self.nodes.append(helper.make_node(op, list(inputs), outs, name=outs[0], domain=domain or None, **attrs))
        for i, o in enumerate(outs):
            self.shape[o] = tuple(shapes[i]) if shapes else tuple(out_shape)
        return outs[0] if n_out == 1 else outs  # type: ignore[return-value]

    def output(self, *names: str) -> None:
        self.outputs.extend(names)

    def build(self) -> onnx.ModelProto:
        outs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(self.shape[n])) for n in self.outputs]
        graph = helper.make_graph(self.nodes, self.name, self.inputs, outs, self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                  producer_name="planner.costs.nets")
        model.ir_version = IR_VERSION
        if self.weight_inputs or self.buffer_inputs:
            helper.set_model_props(model, {WEIGHTS_KEY: json.dumps(self.weight_inputs),
                                           BUFFERS_KEY: json.dumps(self.buffer_inputs)})
        return model

    # -- layers -------------------------------------------------------------------------
    def conv(self, x: str, out_ch: int, k: int | tuple[int, int] = 3, stride: int = 1, pad: int | None = None,
             groups: int = 1, bias: bool = True, bn: bool = False, act: str | None = None) -> str:
        n, c, h, w = self.shape[x]
        kh, kw = (k, k) if isinstance(k, int) else k
        pad = (kh // 2) if pad is None else pad
        padw = (kw // 2) if kh != kw and pad == kh // 2 else pad
        wt = self.weight((out_ch, c // groups, kh, kw), fan_in=c // groups * kh * kw)
        ins = [x, wt] + ([self.weight((out_ch,), fill=0.0, prefix="b")] if bias and not bn else [])
        ho, wo = _conv_out(h, kh, stride, pad), _conv_out(w, kw, stride, padw)
        y = self.node("Conv", ins, (n, out_ch, ho, wo), kernel_shape=[kh, kw], strides=[stride, stride],
                      pads=[pad, padw, pad, padw], group=groups)
        if bn:
            y = self.batchnorm(y)
        return self.act(y, act) if act else y

    def conv1d(self, x: str, out_ch: int, k: int = 3, stride: int = 1, act: str | None = None) -> str:
        n, c, length = self.shape[x]
        wt = self.weight((out_ch, c, k), fan_in=c * k)
        b = self.weight((out_ch,), fill=0.0, prefix="b")
        y = self.node("Conv", [x, wt, b], (n, out_ch, _conv_out(length, k, stride, k // 2)), kernel_shape=[k],
                      strides=[stride], pads=[k // 2, k // 2])
        return self.act(y, act) if act else y

    def batchnorm(self, x: str) -> str:
        c = self.shape[x][1]
        scale = self.weight((c,), fill=1.0, prefix="bn_s")
        b = self.weight((c,), fill=0.0, prefix="bn_b")
        # running statistics are buffers, not parameters: constants even in symbolic mode
        mean, var = self.const(np.zeros(c, self.dtype)), self.const(np.ones(c, self.dtype))
        return self.node("BatchNormalization", [x, scale, b, mean, var], self.shape[x], epsilon=1e-5)

    def act(self, x: str, kind: str) -> str:
        s = self.shape[x]
        if kind == "relu":
            return self.node("Relu", [x], s)
        if kind == "relu6":
            return self.node("Clip", [x, self.const(np.float32(0)), self.const(np.float32(6))], s)
        if kind == "sigmoid":
            return self.node("Sigmoid", [x], s)
        if kind == "tanh":
            return self.node("Tanh", [x], s)
        if kind == "silu":  # x * sigmoid(x), as PyTorch exports it
            return self.node("Mul", [x, self.node("Sigmoid", [x], s)], s)
        if kind == "hardswish":
            return self.node("HardSwish", [x], s)
        if kind == "gelu":  # 0.5 * x * (1 + erf(x / sqrt 2)), as PyTorch exports it
            e = self.node("Erf", [self.node("Div", [x, self.const(np.float32(math.sqrt(2)))], s)], s)
            return self.node("Mul", [self.node("Mul", [x, self.node("Add", [e, self.const(np.float32(1))], s)], s),
                                     self.const(np.float32(0.5))], s)
        raise ValueError(f"unknown activation {kind!r}")

    def add(self, a: str, b: str) -> str:
        return self.node("Add", [a, b], broadcast(self.shape[a], self.shape[b]))

    def mul(self, a: str, b: str) -> str:
        return self.node("Mul", [a, b], broadcast(self.shape[a], self.shape[b]))

    def maxpool(self, x: str, k: int, stride: int, pad: int = 0) -> str:
        n, c, h, w = self.shape[x]
        return self.node("MaxPool", [x], (n, c, _conv_out(h, k, stride, pad), _conv_out(w, k, stride, pad)),
                         kernel_shape=[k, k], strides=[stride, stride], pads=[pad] * 4)

    def avgpool(self, x: str, k: int, stride: int, pad: int = 0) -> str:
        n, c, h, w = self.shape[x]
        return self.node("AveragePool", [x], (n, c, _conv_out(h, k, stride, pad), _conv_out(w, k, stride, pad)),
                         kernel_shape=[k, k], strides=[stride, stride], pads=[pad] * 4)

    def gap(self, x: str) -> str:
        n, c = self.shape[x][:2]
        return self.node("GlobalAveragePool", [x], (n, c) + (1,) * (len(self.shape[x]) - 2))

    def flatten(self, x: str) -> str:
        s = self.shape[x]
        return self.node("Flatten", [x], (s[0], int(np.prod(s[1:]))), axis=1)

    def reshape(self, x: str, shape: Sequence[int]) -> str:
        return self.node("Reshape", [x, self.const(list(shape))], tuple(shape))

    def transpose(self, x: str, perm: Sequence[int]) -> str:
        s = self.shape[x]
        return self.node("Transpose", [x], tuple(s[p] for p in perm), perm=list(perm))

    def concat(self, xs: Sequence[str], axis: int = 1) -> str:
        s = list(self.shape[xs[0]])
        s[axis] = sum(self.shape[x][axis] for x in xs)
        return self.node("Concat", list(xs), tuple(s), axis=axis)

    def split(self, x: str, sizes: Sequence[int], axis: int = 1) -> list[str]:
        shapes = []
        for size in sizes:
            s = list(self.shape[x])
            s[axis] = size
            shapes.append(tuple(s))
        return self.node("Split", [x, self.const(list(sizes))], shapes[0], n_out=len(sizes), shapes=shapes,
                         axis=axis)

    def upsample2x(self, x: str) -> str:
        n, c, h, w = self.shape[x]
        scales = self.const(np.array([1, 1, 2, 2], np.float32))
        return self.node("Resize", [x, "", scales], (n, c, 2 * h, 2 * w), mode="nearest",
                         coordinate_transformation_mode="asymmetric", nearest_mode="floor")  # as torch exports

    def gemm(self, x: str, out_features: int, act: str | None = None) -> str:
        """A fully connected layer on a 2-D input (Gemm with transB, as PyTorch exports nn.Linear)."""
        m, k = self.shape[x]
        wt = self.weight((out_features, k), fan_in=k)
        b = self.weight((out_features,), fill=0.0, prefix="b")
        y = self.node("Gemm", [x, wt, b], (m, out_features), transB=1)
        return self.act(y, act) if act else y

    def linear(self, x: str, out_features: int, bias: bool = True, act: str | None = None) -> str:
        """A fully connected layer on an N-D input: MatMul (+ Add bias)."""
        s = self.shape[x]
        wt = self.weight((s[-1], out_features), fan_in=s[-1])
        y = self.node("MatMul", [x, wt], s[:-1] + (out_features,))
        if bias:
            y = self.add(y, self.weight((out_features,), fill=0.0, prefix="b"))
        return self.act(y, act) if act else y

    def matmul(self, a: str, b: str) -> str:
        sa, sb = self.shape[a], self.shape[b]
        batch = broadcast(sa[:-2], sb[:-2])
        return self.node("MatMul", [a, b], batch + (sa[-2], sb[-1]))

    def softmax(self, x: str, axis: int = -1) -> str:
        return self.node("Softmax", [x], self.shape[x], axis=axis)

    def layernorm(self, x: str, eps: float = 1e-5) -> str:
        d = self.shape[x][-1]
        g, b = self.weight((d,), fill=1.0, prefix="ln_g"), self.weight((d,), fill=0.0, prefix="ln_b")
        return self.node("LayerNormalization", [x, g, b], self.shape[x], axis=-1, epsilon=eps)

    def rmsnorm(self, x: str, eps: float = 1e-5) -> str:
        """x / sqrt(mean(x^2) + eps) * g, decomposed as PyTorch exports Llama's RMSNorm."""
        s, d = self.shape[x], self.shape[x][-1]
        red = s[:-1] + (1,)
        sq = self.node("Pow", [x, self.const(np.float32(2))], s)
        ms = self.node("ReduceMean", [sq], red, axes=[-1], keepdims=1)
        r = self.node("Sqrt", [self.node("Add", [ms, self.const(np.float32(eps))], red)], red)
        y = self.node("Div", [x, r], s)
        return self.mul(y, self.weight((d,), fill=1.0, prefix="rms_g"))

    def embedding(self, ids: str, vocab: int, dim: int) -> str:
        table = self.weight((vocab, dim), fan_in=dim, prefix="emb")
        return self.node("Gather", [table, ids], self.shape[ids] + (dim,), axis=0)

    def lstm(self, x: str, hidden: int, layers: int = 1) -> str:
        """Stacked unidirectional LSTM over (seq, batch, features); returns (seq, batch, hidden)."""
        seq, n, _ = self.shape[x]
        for _ in range(layers):
            feat = self.shape[x][-1]
            w = self.weight((1, 4 * hidden, feat), fan_in=feat)
            r = self.weight((1, 4 * hidden, hidden), fan_in=hidden)
            b = self.weight((1, 8 * hidden), fill=0.0, prefix="b")
            y = self.node("LSTM", [x, w, r, b], (seq, 1, n, hidden), hidden_size=hidden)
            x = self.node("Squeeze", [y, self.const([1])], (seq, n, hidden))
        return x

    def gru(self, x: str, hidden: int) -> str:
        seq, n, feat = self.shape[x]
        w = self.weight((1, 3 * hidden, feat), fan_in=feat)
        r = self.weight((1, 3 * hidden, hidden), fan_in=hidden)
        b = self.weight((1, 6 * hidden), fill=0.0, prefix="b")
        y = self.node("GRU", [x, w, r, b], (seq, 1, n, hidden), hidden_size=hidden, linear_before_reset=1)
        return self.node("Squeeze", [y, self.const([1])], (seq, n, hidden))

    def attention(self, x: str, heads: int, kv: str | None = None, kv_heads: int | None = None,
                  causal: bool = False, qkv_bias: tuple[bool, bool, bool] = (True, True, True),
                  out_bias: bool = True, rope: bool = False) -> str:
        """Multi-head (or grouped-query) attention, unfused, as PyTorch exports it."""
        n, t, d = self.shape[x]
        src = kv or x
        s_len = self.shape[src][1]
        kv_heads = kv_heads or heads
        hd = d // heads
        q = self.linear(x, d, bias=qkv_bias[0])
        k = self.linear(src, kv_heads * hd, bias=qkv_bias[1])
        v = self.linear(src, kv_heads * hd, bias=qkv_bias[2])
        q = self.transpose(self.reshape(q, (n, t, heads, hd)), (0, 2, 1, 3))
        v = self.transpose(self.reshape(v, (n, s_len, kv_heads, hd)), (0, 2, 1, 3))
        if rope:
            k = self.transpose(self.reshape(k, (n, s_len, kv_heads, hd)), (0, 2, 1, 3))
            q, k = self._rope(q), self._rope(k)
            k = self.transpose(k, (0, 1, 3, 2))
        else:
            k = self.transpose(self.reshape(k, (n, s_len, kv_heads, hd)), (0, 2, 3, 1))
        if kv_heads != heads:  # grouped-query attention: repeat K and V per group
            rep = heads // kv_heads
            k = self.reshape(self.node("Expand", [self.reshape(k, (n, kv_heads, 1, hd, s_len)),
                                                  self.const([n, kv_heads, rep, hd, s_len])],
                                       (n, kv_heads, rep, hd, s_len)), (n, heads, hd, s_len))
            v = self.reshape(self.node("Expand", [self.reshape(v, (n, kv_heads, 1, s_len, hd)),
                                                  self.const([n, kv_heads, rep, s_len, hd])],
                                       (n, kv_heads, rep, s_len, hd)), (n, heads, s_len, hd))
        scores = self.node("Mul", [self.matmul(q, k), self.const(np.float32(1 / math.sqrt(hd)))],
                           (n, heads, t, s_len))
        if causal:
            scores = self.add(scores, self.buffer((t, s_len),
                                                  lambda: np.triu(np.full((t, s_len), -1e4, np.float32), k=1)))
        ctx = self.matmul(self.softmax(scores), v)
        ctx = self.reshape(self.transpose(ctx, (0, 2, 1, 3)), (n, t, d))
        return self.linear(ctx, d, bias=out_bias)

    def buffer(self, shape: Shape, make) -> str:
        """A non-trainable constant (mask, rotary table): data from `make()` when runnable, a declared
        input when symbolic (so a long context allocates nothing)."""
        if not self.symbolic or int(np.prod(shape)) <= 4096:
            return self.const(np.asarray(make(), dtype=self.dtype))
        name = self._name("buf")
        self.inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape)))
        self.buffer_inputs.append(name)
        self.shape[name] = tuple(shape)
        return name

    def _rope(self, x: str) -> str:
        """Rotary position embedding on (n, heads, t, hd): x * cos + rotate_half(x) * sin."""
        s = self.shape[x]
        key = s[-2:]
        if key not in self._rope_tables:  # one table per shape, shared by all layers
            def angle() -> np.ndarray:
                return np.arange(s[-2])[:, None] / 10000 ** (np.arange(s[-1]) % (s[-1] // 2) * 2 / s[-1])[None, :]
            self._rope_tables[key] = (self.buffer(key, lambda: np.cos(angle())),
                                      self.buffer(key, lambda: np.sin(angle())))
        cos, sin = self._rope_tables[key]
        half = s[-1] // 2
        a, b = self.split(x, [half, half], axis=len(s) - 1)
        rot = self.concat([self.node("Neg", [b], self.shape[b]), a], axis=len(s) - 1)
        return self.add(self.mul(x, cos), self.mul(rot, sin))


def save(model: onnx.ModelProto, path) -> None:
    onnx.save(model, str(path))
