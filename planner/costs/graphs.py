"""Model graphs: ops with FLOPs, bytes moved, parameters and output sizes.

`zoo_graph` builds a catalog model from its architecture (planner.costs.zoo, no weights);
`onnx_graph` imports any ONNX file through onnx's shape inference. Both go through the same
conversion, so a zoo model and its ONNX export are costed alike. Sizes are in fp32 bytes; the
estimator rescales them per precision.
"""
from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import onnx
from onnx import helper

from planner.costs import nets, zoo
from planner.errors import CatalogError, PlannerError
from planner.units import BYTES_PER_ELEMENT

FP32_BYTES = int(BYTES_PER_ELEMENT["fp32"])

UNARY = {"Relu", "Clip", "Sigmoid", "Tanh", "LeakyRelu", "Elu", "Selu", "HardSigmoid", "HardSwish", "Gelu",
         "FastGelu", "BiasGelu", "QuickGelu", "Erf", "Exp", "Log", "Sqrt", "Softplus", "Softsign", "Neg", "Abs",
         "PRelu", "Mish", "Reciprocal", "Floor", "Ceil", "Round", "Sign", "Sin", "Cos", "Not", "Celu",
         "ThresholdedRelu", "IsNaN", "IsInf", "Swish"}
BINARY = {"Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean", "Where", "Equal", "Less", "Greater",
          "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor", "Mod", "BitShift", "QuantizeLinear",
          "DequantizeLinear", "DynamicQuantizeLinear", "Cast", "CastLike"}
NORM = {"BatchNormalization", "LayerNormalization", "InstanceNormalization", "GroupNormalization",
        "SkipLayerNormalization", "SimplifiedLayerNormalization", "SkipSimplifiedLayerNormalization",
        "LpNormalization", "MeanVarianceNormalization", "LRN", "RMSNormalization"}
POOL = {"MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "LpPool", "GlobalLpPool", "MaxRoiPool"}
REDUCE = {"ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
          "ReduceLogSumExp", "ReduceSumSquare", "ArgMax", "ArgMin", "TopK", "CumSum"}
MEMORY = {"Transpose", "Concat", "Split", "Slice", "Pad", "Resize", "Upsample", "Expand", "Tile", "DepthToSpace",
          "SpaceToDepth", "GatherElements", "GatherND", "ScatterND", "ScatterElements", "Gather", "Trilu",
          "ReverseSequence", "Compress", "OneHot", "NonZero"}
FREE = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout", "Shape", "Size", "Constant",
        "ConstantOfShape", "Range", "EyeLike"}
GEMM = {"Gemm", "MatMul", "MatMulInteger", "QLinearMatMul", "FusedMatMul", "FusedGemm", "DynamicQuantizeMatMul",
        "MatMulIntegerToFloat", "Einsum"}
CONV = {"Conv", "ConvTranspose", "QLinearConv", "ConvInteger", "FusedConv", "NhwcConv"}
RNN = {"LSTM", "GRU", "RNN"}
ATTENTION = {"Attention", "MultiHeadAttention", "GroupQueryAttention"}
# elementwise cost per output element (nominal FLOPs); transcendental ones count more
FLOPS_PER_ELEMENT = {"Sigmoid": 4, "Tanh": 4, "Erf": 4, "Exp": 4, "Log": 4, "Gelu": 8, "HardSwish": 3,
                     "Softplus": 4, "Mish": 8, "Pow": 4, "Sqrt": 2, "Div": 1, "Swish": 5}


@dataclass(frozen=True)
class Op:
    """One node of a model graph. Sizes in fp32 bytes; `dims` holds the shape facts the cost model uses."""

    name: str
    kind: str           # gemm conv dwconv attention norm softmax pool act elementwise embedding rnn reduce memory free
    op_type: str        # the ONNX op type
    flops: float        # 2 per multiply-accumulate
    bytes_moved: float  # activations read + weights read + output written
    params: int         # weight elements this op reads (a tied weight counts in each op that reads it)
    output_bytes: float
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    dims: Mapping[str, int] = field(default_factory=dict)
    attrs: Mapping[str, object] = field(default_factory=dict)

    @property
    def weight_bytes(self) -> float:
        return self.params * FP32_BYTES

    def __repr__(self) -> str:
        return f"Op({self.name}, {self.kind}/{self.op_type}, {self.flops / 1e6:.2f} MFLOP, {self.bytes_moved / 1e6:.2f} MB)"


@dataclass(frozen=True)
class Graph:
    """A model as a list of ops in execution (topological) order."""

    model: str
    ops: tuple[Op, ...]
    params: int               # distinct trainable elements
    input_bytes: float        # data inputs (fp32 images/features; int64 token ids)
    output_bytes: float       # graph outputs
    consts: frozenset[str] = frozenset()   # tensors known before run time (weights, folded constants)
    tensor_bytes: Mapping[str, float] = field(default_factory=dict, repr=False)
    graph_outputs: tuple[str, ...] = ()
    batch: int = 1
    tensor_shapes: Mapping[str, tuple[int, ...]] = field(default_factory=dict, repr=False)
    guessed_dims: bool = False  # a symbolic non-batch dim was set to 1 for want of a seq_len

    @property
    def flops(self) -> float:
        return sum(o.flops for o in self.ops)

    def __repr__(self) -> str:
        return (f"Graph({self.model}, ops={len(self.ops)}, params={self.params / 1e6:.2f}M, "
                f"GFLOP={self.flops / 1e9:.2f}, batch={self.batch})")

    def live_bytes(self) -> list[float]:
        """Bytes of activations alive after each op (produced, still needed later or a graph output)."""
        last_use: dict[str, int] = {}
        for i, op in enumerate(self.ops):
            for t in op.inputs:
                last_use[t] = i
        for t in self.graph_outputs:
            last_use[t] = len(self.ops)
        live: dict[str, float] = {}
        out = []
        for i, op in enumerate(self.ops):
            for t in op.outputs:
                if t in last_use and t not in self.consts:
                    live[t] = self.tensor_bytes.get(t, 0.0)
            for t in [t for t in live if last_use.get(t, -1) <= i]:
                del live[t]
            out.append(sum(live.values()))
        return out

    def split_points(self) -> list[tuple[int, float]]:
        """(op index, fp32 bytes that cross the cut if the model is split after that op), for every
        op that does work; the last op's entry is the model's output."""
        live = self.live_bytes()
        return [(i, live[i]) for i, op in enumerate(self.ops) if op.kind != "free" and live[i] > 0]

    def peak_activation_bytes(self) -> float:
        """Largest sum of live activations at any point, plus the op being computed's own output."""
        live = self.live_bytes()
        return max([lv + op.output_bytes for lv, op in zip(live, self.ops)] or [0.0])


# -- conversion -----------------------------------------------------------------------------------


def _dims(vi: onnx.ValueInfoProto) -> tuple[int, ...] | None:
    t = vi.type.tensor_type
    if not t.HasField("shape"):
        return None
    dims = []
    for d in t.shape.dim:
        if not d.HasField("dim_value") or d.dim_value <= 0:
            return None
        dims.append(int(d.dim_value))
    return tuple(dims)


def _elem_bytes(vi: onnx.ValueInfoProto) -> int:
    try:
        return int(helper.tensor_dtype_to_np_dtype(vi.type.tensor_type.elem_type).itemsize)
    except Exception:  # unknown element type: treat as fp32
        return FP32_BYTES


def _attr(node: onnx.NodeProto, name: str, default=None):
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def _onnx_attrs(node: onnx.NodeProto) -> dict:
    """Scalar and list attributes of a node (tensors and graphs left out)."""
    out = {}
    for a in node.attribute:
        if a.type in (onnx.AttributeProto.INT, onnx.AttributeProto.FLOAT, onnx.AttributeProto.STRING,
                      onnx.AttributeProto.INTS, onnx.AttributeProto.FLOATS):
            v = helper.get_attribute_value(a)
            out[a.name] = v.decode() if isinstance(v, bytes) else (tuple(v) if isinstance(v, list) else v)
    return out


def _prod(shape) -> int:
    return int(math.prod(shape)) if shape is not None else 0


def _node_cost(node: onnx.NodeProto, shapes: Mapping[str, tuple[int, ...] | None], weights: set[str],
               consts: set[str]) -> tuple[str, float, dict, dict]:
    """(kind, flops, dims, attrs) of one node."""
    t, ins, outs = node.op_type, list(node.input), list(node.output)
    s_in = [shapes.get(i) for i in ins]
    s_out = shapes.get(outs[0]) if outs else None
    out_elems = _prod(s_out)
    dims: dict = {}
    attrs: dict = _onnx_attrs(node)
    if t in CONV and s_in and s_in[0] is not None and len(s_in) > 1 and s_in[1] is not None and s_out is not None:
        x, w = s_in[0], s_in[1]
        groups = int(_attr(node, "group", 1))
        spatial_k = w[2:]
        k_elems = _prod(spatial_k)
        if t == "ConvTranspose":
            flops = 2.0 * _prod(x) * w[1] * k_elems
            cin, cout = x[1], w[1] * groups
        else:
            cin, cout = x[1], w[0]
            flops = 2.0 * out_elems * (cin // groups) * k_elems
        strides = _attr(node, "strides", [1] * len(spatial_k))
        dims = {"n": x[0], "cin": cin, "cout": cout, "groups": groups, "k": int(max(spatial_k) if spatial_k else 1),
                "kelems": k_elems, "stride": int(max(strides) if strides else 1),
                "hw_in": _prod(x[2:]), "hw_out": _prod(s_out[2:]), "spatial": len(x) - 2}
        kind = "dwconv" if groups > 1 and groups == cin and cin > 1 else "conv"
        return kind, flops, dims, attrs
    if t in GEMM and len(s_in) >= 2 and s_in[0] is not None and s_in[1] is not None:
        a, b = s_in[0], s_in[1]
        if t in ("Gemm", "FusedGemm"):
            m = a[1] if _attr(node, "transA", 0) else a[0]
            k = a[0] if _attr(node, "transA", 0) else a[1]
            n = b[0] if _attr(node, "transB", 0) else b[1]
            batch = 1
        elif t == "Einsum":
            m, k, n, batch = max(out_elems, 1), 1, 1, 1
        else:
            a2 = a if len(a) >= 2 else (1,) + tuple(a)
            b2 = b if len(b) >= 2 else tuple(b) + (1,)
            m, k, n = a2[-2], a2[-1], b2[-1]
            batch = _prod(np.broadcast_shapes(a2[:-2], b2[:-2])) if len(a2) > 2 or len(b2) > 2 else 1
            if ins[1] in weights and len(a2) > 2:  # x @ W on N-D x is one GEMM with M = all leading dims
                m, batch = m * batch, 1
        dims = {"b": int(batch), "m": int(m), "n": int(n), "k": int(k), "wconst": int(ins[1] in consts)}
        return "gemm", 2.0 * batch * m * n * k, dims, attrs
    if t in ATTENTION and s_in and s_in[0] is not None:
        b_, s_, hid = s_in[0][0], s_in[0][1], s_in[0][-1]
        heads = int(_attr(node, "num_heads", 1))
        dims = {"b": b_, "t": s_, "s": s_, "heads": heads, "hd": hid // max(heads, 1)}
        flops = 4.0 * b_ * s_ * s_ * hid + (2.0 * b_ * s_ * hid * 3 * hid if t == "Attention" else 0.0)
        return "attention", flops, dims, attrs
    if t in RNN and s_in and s_in[0] is not None and len(s_in) > 2 and s_in[2] is not None:
        seq, batch, feat = s_in[0]
        dirs, gates_h, hidden = s_in[2][0], s_in[2][1], s_in[2][2]
        dims = {"seq": seq, "batch": batch, "input": feat, "hidden": hidden, "dirs": dirs, "gates": gates_h // hidden}
        flops = 2.0 * seq * batch * dirs * gates_h * (feat + hidden) + 10.0 * seq * batch * dirs * gates_h
        return "rnn", flops, dims, attrs
    in_elems = _prod(s_in[0]) if s_in and s_in[0] is not None else out_elems
    dims = {"elems": max(out_elems, 1), "in_elems": max(in_elems, 1)}
    if t in NORM:
        dims["cols"] = (s_in[0][-1] if t != "BatchNormalization" and s_in[0] else 1) if s_in and s_in[0] else 1
        return "norm", (2.0 if t == "BatchNormalization" else 8.0) * out_elems, dims, attrs
    if t in ("Softmax", "LogSoftmax"):
        axis = int(_attr(node, "axis", -1))
        cols = s_in[0][axis] if s_in and s_in[0] else 1
        dims.update(cols=int(cols), rows=max(out_elems // max(cols, 1), 1))
        return "softmax", 5.0 * out_elems, dims, attrs
    if t in POOL:
        k = _attr(node, "kernel_shape")
        window = _prod(k) if k else max(in_elems // max(out_elems, 1), 1)
        dims["window"] = int(window)
        return "pool", float(out_elems * window), dims, attrs
    if t in REDUCE:
        return "reduce", float(in_elems), dims, attrs
    if t == "Gather" and ins and ins[0] in weights:
        return "embedding", 0.0, dims, attrs
    if t in UNARY:
        return "act", float(FLOPS_PER_ELEMENT.get(t, 1) * out_elems), dims, attrs
    if t in BINARY:
        return "elementwise", float(FLOPS_PER_ELEMENT.get(t, 1) * out_elems), dims, attrs
    if t in MEMORY:
        return "memory", 0.0, dims, attrs
    if t in FREE:
        return "free", 0.0, dims, attrs
    attrs["unknown_op"] = True  # costed as an elementwise pass over its tensors
    return "elementwise", float(out_elems), dims, attrs


def _set_batch(model: onnx.ModelProto, data_inputs: list[str], batch: int) -> bool:
    """Set the leading dim of each data input to `batch`; True if anything changed."""
    changed = False
    for vi in model.graph.input:
        if vi.name in data_inputs and vi.type.tensor_type.HasField("shape") and vi.type.tensor_type.shape.dim:
            d0 = vi.type.tensor_type.shape.dim[0]
            if not d0.HasField("dim_value") or d0.dim_value != batch:
                d0.Clear()
                d0.dim_value = batch
                changed = True
    return changed


def _fill_symbolic(model: onnx.ModelProto, data_inputs: list[str], seq_len: int | None) -> bool:
    """Give every symbolic dim a value: after a data input's leading (batch) dim, `seq_len` where
    given, else 1. True when a value had to be guessed (no seq_len)."""
    guessed = False
    for vi in model.graph.input:
        if vi.name not in data_inputs:
            continue
        for i, d in enumerate(vi.type.tensor_type.shape.dim):
            if not d.HasField("dim_value") or d.dim_value <= 0:
                d.Clear()
                if i == 0:
                    d.dim_value = 1
                else:
                    d.dim_value = seq_len or 1
                    guessed = guessed or seq_len is None
    return guessed


def from_proto(model: onnx.ModelProto, name: str, batch: int | None = None, seq_len: int | None = None) -> Graph:
    """Convert an ONNX model to a Graph. `batch` sets the leading dim of data inputs (None keeps
    them); other symbolic dims take `seq_len` (else 1, and the graph says it guessed)."""
    props = {p.key: p.value for p in model.metadata_props}
    weight_inputs = set(json.loads(props.get(nets.WEIGHTS_KEY, "[]")))
    buffer_inputs = set(json.loads(props.get(nets.BUFFERS_KEY, "[]")))
    inits = {i.name: i for i in model.graph.initializer}
    data_inputs = [i.name for i in model.graph.input if i.name not in inits and i.name not in weight_inputs
                   and i.name not in buffer_inputs]
    work = onnx.ModelProto()
    work.CopyFrom(model)
    if batch is not None:
        _set_batch(work, data_inputs, batch)
    guessed = _fill_symbolic(work, data_inputs, seq_len)
    try:
        inferred = onnx.shape_inference.infer_shapes(work, strict_mode=False, data_prop=True)
    except Exception as exc:  # noqa: BLE001 - onnx raises several types
        raise PlannerError(f"{name}: onnx shape inference failed: {str(exc).splitlines()[0]}") from None
    g = inferred.graph
    shapes: dict[str, tuple[int, ...] | None] = {}
    nbytes: dict[str, float] = {}
    for vi in list(g.input) + list(g.value_info) + list(g.output):
        shapes[vi.name] = _dims(vi)
        if shapes[vi.name] is not None:
            nbytes[vi.name] = float(_prod(shapes[vi.name]) * _elem_bytes(vi))
    for name_, init in inits.items():
        shapes[name_] = tuple(init.dims)
        nbytes[name_] = float(_prod(init.dims) * FP32_BYTES)
    weights = set(inits) | weight_inputs
    # BatchNorm running statistics are buffers, not parameters
    stats = {n.input[i] for n in g.node if n.op_type == "BatchNormalization" for i in (3, 4) if len(n.input) > i}
    if nets.WEIGHTS_KEY in props:  # built in code: the builder says which tensors are trainable
        trainable = set(weight_inputs)
    else:  # a file: every float initializer is a weight
        floats = (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.BFLOAT16, onnx.TensorProto.DOUBLE)
        trainable = {w for w in inits if w not in stats and inits[w].data_type in floats}
    # constants: weights, buffers and everything computed only from them (folded before the run)
    consts = set(weights) | buffer_inputs | {""}
    ops: list[Op] = []
    used_params: set[str] = set()
    for node in g.node:
        if node.op_type == "Constant" or (node.input and all(i in consts for i in node.input)) or (
                not node.input and node.op_type in FREE):
            consts.update(node.output)
            used_params.update(i for i in node.input if i in trainable)
            if node.op_type != "Constant":
                ops.append(Op(node.name or node.output[0], "free", node.op_type, 0.0, 0.0, 0, 0.0,
                              tuple(node.input), tuple(node.output), {}, {"folded": True}))
            continue
        if node.op_type in ("Shape", "Size"):
            consts.update(node.output)  # static shapes: folded by the runtime
        kind, flops, dims, attrs = _node_cost(node, shapes, weights, consts)
        p = sum(_prod(shapes.get(i)) for i in node.input if i in trainable)
        used_params.update(i for i in node.input if i in trainable)
        out_b = sum(nbytes.get(o, 0.0) for o in node.output)
        in_b = sum(nbytes.get(i, 0.0) for i in node.input if i and i not in weights and i not in buffer_inputs)
        w_b = sum(nbytes.get(i, 0.0) for i in node.input if i in weights or i in buffer_inputs)
        if kind == "embedding":
            moved = 2 * out_b + in_b
        elif kind == "free":
            moved = 0.0
        else:
            moved = in_b + w_b + out_b
        if kind != "free" and any(shapes.get(o) is None for o in node.output):
            attrs["unknown_shape"] = True
        ops.append(Op(node.name or node.output[0], kind, node.op_type, float(flops), float(moved), int(p),
                      float(out_b), tuple(node.input), tuple(node.output), dims, attrs))
    params = sum(_prod(shapes.get(w)) for w in trainable if w in used_params or w in weight_inputs)
    in_bytes = sum(nbytes.get(i, 0.0) for i in data_inputs)
    outs = tuple(o.name for o in g.output)
    lead = [shapes.get(i) for i in data_inputs if shapes.get(i)]
    return Graph(name, tuple(ops), int(params), float(in_bytes), float(sum(nbytes.get(o, 0.0) for o in outs)),
                 frozenset(consts), nbytes, outs, int(batch if batch is not None else (lead[0][0] if lead else 1)),
                 {k: v for k, v in shapes.items() if v is not None}, guessed)


# -- entry points -----------------------------------------------------------------------------


def model_ids() -> list[str]:
    return list(zoo.ZOO)


@lru_cache(maxsize=256)
def zoo_graph(model_id: str, batch: int = 1, seq_len: int | None = None) -> Graph:
    """The graph of a catalog model at `batch` (and `seq_len` for sequence models)."""
    if model_id not in zoo.ZOO and model_id not in zoo.EXTRA:
        raise CatalogError("model", model_id, list(zoo.ZOO))
    if batch < 1:
        raise PlannerError(f"batch must be >= 1, not {batch}")
    return from_proto(zoo.build(model_id, batch, seq_len, weights="symbolic"), model_id)


def _load(path: str | os.PathLike) -> onnx.ModelProto:
    p = Path(path)
    try:
        return onnx.load(str(p), load_external_data=False)
    except Exception as exc:  # noqa: BLE001 - protobuf and IO errors alike mean "unreadable"
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise PlannerError(f"{p}: not a readable ONNX file ({reason})") from None


@lru_cache(maxsize=64)
def _onnx_graph_cached(path: str, mtime_ns: int, batch: int, seq_len: int | None) -> Graph:
    model = _load(path)
    name = Path(path).stem
    base = from_proto(model, name, None, seq_len)
    if base.batch == batch:
        return base
    try:
        g = from_proto(model, name, batch, seq_len)
    except PlannerError:
        g = None
    # FLOPs are linear in batch: if they are not, the file hard-codes its batch somewhere
    # (a reshape target), so cost it at its own batch and scale instead
    expected = base.flops * batch / max(base.batch, 1)
    if g is None or abs(g.flops - expected) > 0.01 * expected or any(
            op.attrs.get("unknown_shape") for op in g.ops if op.kind in ("conv", "gemm", "dwconv")):
        return scale_batch(base, batch)
    return g


def onnx_graph(path: str | os.PathLike, batch: int = 1, seq_len: int | None = None) -> Graph:
    """Import an ONNX file: ops through onnx shape inference, at `batch` (the leading input dim);
    other symbolic input dims take `seq_len`."""
    p = Path(path)
    if not p.is_file():
        raise PlannerError(f"{p}: no such ONNX file")
    return _onnx_graph_cached(str(p.resolve()), p.stat().st_mtime_ns, int(batch), seq_len)


def scale_batch(g: Graph, batch: int) -> Graph:
    """A graph at another batch by scaling per-sample quantities (for files that hard-code their batch)."""
    f = batch / max(g.batch, 1)
    ops = []
    for op in g.ops:
        dims = dict(op.dims)
        for key in ("n", "batch"):
            if key in dims and op.kind != "gemm":
                dims[key] = max(1, round(dims[key] * f))
        if op.kind == "gemm":  # the batch rides on M for x @ W, on the batch count otherwise
            key = "m" if dims.get("wconst") else "b"
            dims[key] = max(1, round(dims.get(key, 1) * f))
        if "elems" in dims:
            dims["elems"] = max(1, round(dims["elems"] * f))
            dims["in_elems"] = max(1, round(dims.get("in_elems", 1) * f))
        w = op.weight_bytes
        ops.append(Op(op.name, op.kind, op.op_type, op.flops * f, (op.bytes_moved - w) * f + w, op.params,
                      op.output_bytes * f, op.inputs, op.outputs, dims, {**op.attrs, "batch_scaled": True}))
    shapes = {k: ((max(1, round(v[0] * f)),) + tuple(v[1:]) if v and k not in g.consts else v)
              for k, v in g.tensor_shapes.items()}
    return Graph(g.model, tuple(ops), g.params, g.input_bytes * f, g.output_bytes * f, g.consts,
                 {k: (v * f if k not in g.consts else v) for k, v in g.tensor_bytes.items()}, g.graph_outputs, batch,
                 shapes, g.guessed_dims)


def graph(model: str | os.PathLike, batch: int = 1, seq_len: int | None = None) -> Graph:
    """A zoo id or a path to an .onnx file."""
    s = str(model)
    # a zoo id before a look at the disk: planning asks once per workload, and a stat is not free
    if not (s.endswith(".onnx") or os.sep in s) and (s in zoo.ZOO or s in zoo.EXTRA or not Path(s).is_file()):
        return zoo_graph(s, batch, seq_len)
    return onnx_graph(model, batch, seq_len)
