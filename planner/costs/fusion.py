"""Which kernels onnxruntime's CPU provider actually runs for a graph.

Summing per-op times misses whole-model latency badly (an early experiment here: -21% to
+54%), because the runtime fuses ops (Conv+BN+ReLU, MatMul+Add, x*sigmoid(x), the GELU and
LayerNorm patterns) and converts convolutions to the blocked NCHWc layout, adding reorders
where a tensor leaves that layout. This module replays those rules (graph optimization level
ALL, as in onnxruntime 1.17-1.2x: `nchwc_transformer.cc`, `conv_activation_fusion.cc`, ...)
on a `Graph`, so a model is priced as the list of kernels the runtime will run.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from planner.costs.graphs import Graph, Op

CONV_ACTS = {"Relu", "Clip", "Sigmoid", "Tanh", "LeakyRelu", "HardSigmoid", "HardSwish"}
GEMM_ACTS = {"Relu", "Sigmoid", "Tanh", "LeakyRelu", "HardSigmoid"}
NCHWC_FUSABLE_ACTS = {"Relu", "Sigmoid", "Tanh"}  # activations the NCHWc pass folds into a conv
ELEMENTWISE_KINDS = {"act", "elementwise", "reduce"}
DROPPED = {"Identity", "Dropout", "Shape", "Size", "Constant"}
RESHAPES = {"Reshape", "Flatten", "Squeeze", "Unsqueeze"}


@dataclass
class Kernel:
    """One runtime kernel: its op name, whether it runs in NCHWc layout, shapes and attributes."""

    op: str
    ins: list[tuple[int, ...]]
    out: tuple[int, ...]
    nchwc: bool = False
    attrs: dict = field(default_factory=dict)
    ops: list[str] = field(default_factory=list)   # graph ops covered
    out_name: str = ""
    in_names: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        extra = "".join(f" {k}={v}" for k, v in self.attrs.items() if k in ("act", "sum", "k", "stride", "groups"))
        return f"Kernel({self.op}{'*' if self.nchwc else ''} {self.ins}->{self.out}{extra})"


def _numel(shape) -> int:
    n = 1
    for d in shape or ():
        n *= int(d)
    return n


class _Emulator:
    def __init__(self, g: Graph, block: int):
        self.g, self.block = g, block
        self.shape = g.tensor_shapes
        self.consts = g.consts
        self.alias: dict[str, str] = {}
        ops = []
        for op in g.ops:
            if op.attrs.get("folded") or op.op_type in DROPPED:
                if op.op_type in ("Identity", "Dropout") and op.inputs:
                    self.alias[op.outputs[0]] = op.inputs[0]
                continue
            if op.outputs and all(o in self.consts for o in op.outputs):
                continue
            ops.append(op)
        self.ops = ops
        self.outputs = {self.r(t) for t in g.graph_outputs}
        self.consumers: dict[str, list[int]] = defaultdict(list)
        for i, op in enumerate(ops):
            for t in {self.r(t) for t in op.inputs if t and self.r(t) not in self.consts}:
                self.consumers[t].append(i)
        self.absorbed: set[int] = set()

    def r(self, t: str) -> str:
        while t in self.alias:
            t = self.alias[t]
        return t

    def acts(self, op: Op) -> list[str]:
        """Non-constant inputs of an op."""
        return [self.r(t) for t in op.inputs if t and self.r(t) not in self.consts]

    def sole_consumer(self, t: str) -> tuple[int, Op] | None:
        cons = self.consumers.get(t, [])
        if len(cons) != 1 or t in self.outputs:
            return None
        return cons[0], self.ops[cons[0]]

    def kernel(self, op_name: str, op: Op, out: str, **attrs) -> Kernel:
        ins = [self.shape.get(t, ()) for t in self.acts(op)]
        return Kernel(op_name, ins, self.shape.get(out, ()), False, attrs, [op.name], out, self.acts(op))

    # -- pass 1: pattern fusions (levels 1-2) ----------------------------------------------------
    def fuse(self) -> list[Kernel]:
        out: list[Kernel] = []
        for i, op in enumerate(self.ops):
            if i in self.absorbed:
                continue
            t = op.op_type
            if t in ("Conv", "ConvTranspose") and len(op.inputs) > 1 and self.r(op.inputs[1]) in self.consts:
                out.append(self._conv(i, op))
            elif t in ("MatMul", "Gemm"):
                out.extend(self._matmul(i, op))
            elif t == "Add" and len(self.acts(op)) >= 1 and len(op.inputs) == 2:
                out.append(self._skip_ln(i, op))
            elif t in RESHAPES and self._reshape_vanishes(op):
                continue
            elif t == "HardSwish":  # no CPU kernel: run as its function body
                k = self.kernel("HardSigmoid", op, op.outputs[0], **self._attrs(op))
                out.extend([k, self.kernel("Mul", op, op.outputs[0], **self._attrs(op))])
            elif op.kind in ELEMENTWISE_KINDS:
                out.extend(self._cluster(i, op))
            else:
                out.append(self.kernel(t, op, self.r(op.outputs[0]) if op.outputs else "", **self._attrs(op)))
        return out

    def _reshape_vanishes(self, op: Op) -> bool:
        """A chain of reshapes runs as its last one."""
        src, out = self.r(op.inputs[0]), op.outputs[0]
        nxt = self.sole_consumer(out)
        if nxt and nxt[1].op_type in RESHAPES:
            self.alias[out] = src
            return True
        return False

    @staticmethod
    def _attrs(op: Op) -> dict:
        keep = {k: op.attrs[k] for k in ("perm", "axis", "mode", "coordinate_transformation_mode", "nearest_mode",
                                         "kernel_shape", "strides", "unknown_op") if k in op.attrs}
        keep.update({k: v for k, v in op.dims.items()})
        return keep

    def _conv(self, i: int, op: Op) -> Kernel:
        cur = op.outputs[0]
        act = None
        covered = [op.name]
        d = op.dims
        while True:
            nxt = self.sole_consumer(cur)
            if nxt is None:
                break
            j, c = nxt
            other = [x for x in c.inputs if x and self.r(x) != cur]
            if c.op_type == "BatchNormalization" and act is None and all(self.r(x) in self.consts for x in other):
                pass
            elif c.op_type in ("Add", "Mul", "Sub", "Div") and act is None and len(other) == 1 and \
                    self.r(other[0]) in self.consts and _numel(self.shape.get(self.r(other[0]))) in (1, d.get("cout")):
                pass
            elif c.op_type in CONV_ACTS and act is None:
                act = c.op_type
            else:
                break
            self.absorbed.add(j)
            covered.append(c.name)
            cur = c.outputs[0]
            if act:
                break
        k = self.kernel("Conv", op, cur, **self._attrs(op))
        k.ops = covered
        k.attrs["act"] = act or ""
        k.attrs["conv2d"] = int(d.get("spatial", 2) == 2 and op.op_type == "Conv")
        return k

    def _matmul(self, i: int, op: Op) -> list[Kernel]:
        cur = op.outputs[0]
        d = dict(op.dims)
        const_b = len(op.inputs) > 1 and self.r(op.inputs[1]) in self.consts
        name = op.op_type
        covered = [op.name]
        pre, post = [], []
        a_rank = len(self.shape.get(self.r(op.inputs[0]), ()))
        nxt = self.sole_consumer(cur)
        if op.op_type == "MatMul" and const_b and nxt and nxt[1].op_type == "Add":
            bias = [x for x in nxt[1].inputs if self.r(x) != cur]
            if len(bias) == 1 and self.r(bias[0]) in self.consts and _numel(self.shape.get(self.r(bias[0]))) == d["n"]:
                self.absorbed.add(nxt[0])
                covered.append(nxt[1].name)
                cur = nxt[1].outputs[0]
                name = "Gemm"
                if a_rank > 2:  # onnxruntime flattens N-D input to 2-D around the Gemm
                    pre = [Kernel("Reshape", [self.shape.get(self.r(op.inputs[0]), ())], (d["m"], d["k"]))]
                    post = [Kernel("Reshape", [(d["m"], d["n"])], self.shape.get(cur, ()))]
                nxt = self.sole_consumer(cur)
        if name == "Gemm" and not post and nxt and nxt[1].op_type in GEMM_ACTS:
            self.absorbed.add(nxt[0])
            covered.append(nxt[1].name)
            cur = nxt[1].outputs[0]
            name = "FusedGemm"
            d["act"] = nxt[1].op_type
        elif name == "MatMul" and nxt and nxt[1].op_type in ("Mul", "Div"):
            other = [x for x in nxt[1].inputs if self.r(x) != cur]
            if len(other) == 1 and self.r(other[0]) in self.consts and _numel(self.shape.get(self.r(other[0]))) == 1:
                self.absorbed.add(nxt[0])
                covered.append(nxt[1].name)
                cur = nxt[1].outputs[0]
                name = "FusedMatMul"
        k = self.kernel(name, op, cur, **d)
        k.ops = covered
        return pre + [k] + post

    def _skip_ln(self, i: int, op: Op) -> Kernel:
        a, b = (self.r(t) for t in op.inputs[:2])
        nxt = self.sole_consumer(op.outputs[0])
        if nxt and nxt[1].op_type == "LayerNormalization" and self.shape.get(a) == self.shape.get(b) and \
                self.shape.get(a) == self.shape.get(op.outputs[0]):
            self.absorbed.add(nxt[0])
            k = self.kernel("SkipLayerNormalization", op, nxt[1].outputs[0], **nxt[1].dims)
            k.ops.append(nxt[1].name)
            return k
        return self.kernel("Add", op, op.outputs[0], **op.dims)

    #: known elementwise patterns onnxruntime fuses, with their largest size in ops
    PATTERN_SIZE = {"Gelu": 5, "FastGelu": 8, "QuickGelu": 3, "LayerNormalization": 9,
                    "SimplifiedLayerNormalization": 7}

    @staticmethod
    def _pattern(types: list[str]) -> str | None:
        t = sorted(types)
        if t in (["Add", "Div", "Erf", "Mul", "Mul"], ["Add", "Erf", "Mul", "Mul", "Mul"]):
            return "Gelu"
        kinds = set(t)
        if "Tanh" in t and kinds <= {"Mul", "Pow", "Add", "Tanh"} and t.count("Add") == 2 and len(t) >= 7:
            return "FastGelu"
        if t in (["Mul", "Sigmoid"], ["Mul", "Mul", "Sigmoid"]):
            return "QuickGelu"
        norm_ops = {"ReduceMean", "Sub", "Pow", "Mul", "Add", "Sqrt", "Div", "Reciprocal"}
        if kinds <= norm_ops and t.count("ReduceMean") == 2 and "Sub" in t and kinds & {"Sqrt", "Reciprocal"}:
            return "LayerNormalization"
        if kinds <= norm_ops - {"Sub"} and t.count("ReduceMean") == 1 and kinds & {"Sqrt", "Reciprocal"} and \
                kinds & {"Pow", "Mul"}:
            return "SimplifiedLayerNormalization"
        return None

    def _cluster(self, i: int, op: Op) -> list[Kernel]:
        """Known elementwise patterns with one activation input: GELU, x*sigmoid(x), LayerNorm, RMSNorm.
        The ops after `op` that read only `x` and the cluster's own outputs join one at a time; the
        largest cluster that is a complete known pattern handing one tensor on wins."""
        single = self.kernel(op.op_type, op, op.outputs[0], **self._attrs(op))
        srcs = set(self.acts(op))
        if len(srcs) != 1:
            return [single]
        x = srcs.pop()
        members, outs = [i], set(op.outputs)
        best: tuple[list[int], str, str] | None = None
        for j in range(i + 1, min(i + 14, len(self.ops))):
            c = self.ops[j]
            if j in self.absorbed or c.kind not in ELEMENTWISE_KINDS:
                continue
            a = set(self.acts(c))
            if not (a and a <= outs | {x} and a & outs):
                continue
            members.append(j)
            outs.update(c.outputs)
            if len(members) > 9:
                break
            pattern = self._pattern([self.ops[m].op_type for m in members])
            if pattern is None or len(members) > self.PATTERN_SIZE[pattern]:
                continue
            member_set = set(members)
            exposed = [t for m in members for t in self.ops[m].outputs
                       if t in self.outputs or any(c2 not in member_set for c2 in self.consumers.get(t, []))]
            if len(exposed) == 1:
                best = (list(members), pattern, exposed[0])
        if best is None:
            return [single]
        members, pattern, out = best
        self.absorbed.update(members[1:])
        shp = self.shape.get(out, ())
        attrs = {"elems": _numel(shp), "cols": shp[-1] if shp else 1}
        return [Kernel(pattern, [self.shape.get(x, ())], shp, False, attrs, [self.ops[m].name for m in members],
                       out, [x])]

    # -- pass 2: the NCHWc layout transform (level 3) ------------------------------------------
    def nchwc(self, kernels: list[Kernel]) -> list[Kernel]:
        B = self.block
        uses: dict[str, int] = defaultdict(int)
        for k in kernels:
            for t in set(k.in_names):
                uses[t] += 1
        for t in self.outputs:
            uses[t] += 1

        class Arg:
            def __init__(self, kern: Kernel, n_uses: int, channels: int):
                self.kernel, self.start, self.left, self.channels = kern, n_uses, n_uses, channels

        args: dict[str, Arg] = {}
        reordered_in: set[str] = set()
        reordered_out: set[str] = set()
        result: list[Kernel] = []

        def reorder_out(t: str) -> None:
            if t not in reordered_out:
                reordered_out.add(t)
                result.append(Kernel("ReorderOutput", [self.shape.get(t, ())], self.shape.get(t, ()), True,
                                     {"elems": _numel(self.shape.get(t))}))

        for k in kernels:
            ins = k.in_names
            a0 = ins[0] if ins else ""
            done = False
            if k.op == "Conv" and k.attrs.get("conv2d") and self._conv_ok(k):
                k.nchwc = True
                direct = k.attrs.get("groups", 1) == 1 and k.attrs.get("cin", 0) < B
                k.attrs["nchw_in"] = int(direct)
                if direct and a0 in args:  # reads the NCHW tensor: it must be reordered back
                    reorder_out(a0)
                if not direct:
                    if a0 in args:
                        args[a0].left -= 1
                    elif a0 not in reordered_in:
                        reordered_in.add(a0)
                        result.append(Kernel("ReorderInput", [k.ins[0]], k.ins[0], True, {"elems": _numel(k.ins[0])}))
                args[k.out_name] = Arg(k, uses[k.out_name], k.attrs.get("cout", 0))
                done = True
            elif k.op in ("MaxPool", "AveragePool") and len(k.out) == 4 and k.out[1] % B == 0:
                k.nchwc = True
                if a0 in args:
                    args[a0].left -= 1
                elif a0 not in reordered_in:
                    reordered_in.add(a0)
                    result.append(Kernel("ReorderInput", [k.ins[0]], k.ins[0], True, {"elems": _numel(k.ins[0])}))
                args[k.out_name] = Arg(k, uses[k.out_name], k.out[1])
                done = True
            elif ins and all(t in args for t in ins):
                done = self._nchwc_consumer(k, args, uses, Arg)
                if done == "fused":
                    continue
            for t in set(ins):  # this kernel reads NCHW: a reorder back is needed once
                if t in args and not (done and k.nchwc):
                    reorder_out(t)
            result.append(k)
        for t in self.outputs:
            if t in args:
                reorder_out(t)
        return result

    def _conv_ok(self, k: Kernel) -> bool:
        a, B = k.attrs, self.block
        g, cin, cout = a.get("groups", 1), a.get("cin", 0), a.get("cout", 0)
        if len(k.ins[0] if k.ins else ()) != 4:
            return False
        if g == 1:
            return True
        if cin == g and cout == g:  # depthwise
            return True
        return (cin // g) % B == 0 and (cout // g) % B == 0

    def _nchwc_consumer(self, k: Kernel, args: dict, uses: dict, Arg) -> bool | str:
        """A kernel whose inputs are all NCHWc: convert, fuse into its producer, or leave (False)."""
        B = self.block
        ins = k.in_names
        same = all(self.shape.get(t) == self.shape.get(ins[0]) for t in ins)
        chans = [args[t].channels for t in ins]
        if k.op in ("Add", "Sum", "Mul") and len(ins) == 2 and same and chans[0] == chans[1]:
            if k.op != "Mul":
                for n in (0, 1):
                    a = args[ins[n]]
                    kc = a.kernel
                    if kc.op == "Conv" and kc.nchwc and not kc.attrs.get("sum") and a.start == 1 and not kc.attrs.get("act"):
                        kc.attrs["sum"] = 1
                        kc.ops.extend(k.ops)
                        for t in ins:
                            args[t].left -= 1
                        args[k.out_name] = Arg(kc, uses[k.out_name], a.channels)
                        return "fused"
            k.nchwc = True
        elif k.op == "Concat" and k.attrs.get("axis") == 1 and all(c % B == 0 for c in chans):
            k.nchwc = True
            args[k.out_name] = Arg(k, uses[k.out_name], sum(chans))
            for t in ins:
                args[t].left -= 1
            return True
        elif len(ins) == 1 and (k.op in CONV_ACTS or k.op in ("QuickGelu", "Gelu", "FastGelu", "LeakyRelu", "Clip")):
            a = args[ins[0]]
            kc = a.kernel
            if k.op in NCHWC_FUSABLE_ACTS and kc.op == "Conv" and kc.nchwc and a.start == 1 and not kc.attrs.get("act"):
                kc.attrs["act"] = k.op
                kc.ops.extend(k.ops)
                a.left -= 1
                args[k.out_name] = Arg(kc, uses[k.out_name], a.channels)
                return "fused"
            k.nchwc = True
        elif k.op == "BatchNormalization":
            k.op, k.nchwc = "Conv", True
            c = k.ins[0][1]
            k.attrs.update(groups=c, cin=c, cout=c, k=1, kelems=1, stride=1, act="", nchw_in=0, bn=1)
        elif k.op == "Transpose" and tuple(k.attrs.get("perm", ())) == (0, 2, 3, 1):
            k.op, k.nchwc = "ReorderOutput", True
            args[ins[0]].left -= 1
            return True
        elif k.op in ("Resize", "Upsample") and k.attrs.get("mode", "nearest") == "nearest" and \
                k.attrs.get("coordinate_transformation_mode") == "asymmetric" and k.attrs.get("nearest_mode") == "floor":
            k.op, k.nchwc = "Upsample", True
        elif k.op in ("GlobalAveragePool", "GlobalMaxPool") and chans[0] % B == 0:
            k.nchwc = True
        else:
            return False
        for t in ins:
            args[t].left -= 1
        args[k.out_name] = Arg(k, uses[k.out_name], chans[0])
        return True


def host_kernels(g: Graph, block: int = 16) -> list[Kernel]:
    """The kernels onnxruntime (CPU, optimization level ALL) runs for `g`, in order.
    `block` is the NCHWc channel block of this CPU (16 with AVX-512, 8 with AVX2, 0 = no NCHWc)."""
    em = _Emulator(g, block)
    kernels = em.fuse()
    return em.nchwc(kernels) if block else kernels
