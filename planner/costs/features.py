"""The numbers that describe one runtime kernel, the same at profile time and at predict time.

A kernel's class picks the fitted cost curve; its features place it on that curve.
"""
from __future__ import annotations

import math

from planner.costs.fusion import Kernel

#: feature columns written to the profile CSV, in order
COLUMNS = ("cls", "op", "nchwc", "n", "cin", "cout", "kelems", "stride", "groups", "hw_in", "hw_out", "sum", "act",
           "b", "m", "nn", "kk", "rows", "cols", "window", "seq", "hidden", "input", "gates", "elems_in",
           "elems_out", "weights", "flops", "lastaxis")
COMPUTE_CLASSES = ("conv_kxk", "conv_1x1", "conv_dw", "conv_direct", "conv_plain", "gemm", "gemm_batched", "rnn")
GEMM_OPS = {"Gemm", "FusedGemm", "MatMul", "FusedMatMul"}


def _numel(shape) -> int:
    return int(math.prod(shape)) if shape else 1


def _pad(c: int, block: int) -> int:
    return -(-c // block) * block if block else c


def kernel_class(k: Kernel) -> str:
    a = k.attrs
    if k.op == "Conv" or k.op == "ConvTranspose":
        if not k.nchwc:
            return "conv_plain"
        if a.get("groups", 1) > 1 and a.get("groups") == a.get("cin"):
            return "conv_dw"
        if a.get("nchw_in"):
            return "conv_direct"
        return "conv_1x1" if a.get("kelems", 1) == 1 else "conv_kxk"
    if k.op in GEMM_OPS:
        return "gemm" if a.get("b", 1) == 1 else "gemm_batched"
    if k.op in ("LSTM", "GRU", "RNN"):
        return "rnn"
    if k.op in ("Add", "Sub", "Mul", "Div", "Pow", "Sum", "Max", "Min", "Where", "Equal"):
        shapes = [tuple(s) for s in k.ins]
        return k.op + ("_bcast" if len(set(shapes)) > 1 or len(shapes) < 2 else "")
    return k.op


def features(k: Kernel, block: int = 16) -> dict:
    """Feature dict of a kernel (keys = COLUMNS); channel counts padded to the NCHWc block."""
    a = k.attrs
    f = dict.fromkeys(COLUMNS, 0)
    f.update(cls=kernel_class(k), op=k.op, nchwc=int(k.nchwc), act=str(a.get("act", "") or ""))
    f["elems_in"] = sum(_numel(s) for s in k.ins) if k.ins else 0
    f["elems_out"] = _numel(k.out)
    cls = f["cls"]
    if cls.startswith("conv"):
        blk = block if k.nchwc else 0
        g = int(a.get("groups", 1))
        cin, cout = int(a.get("cin", 1)), int(a.get("cout", 1))
        dw = g > 1 and g == cin
        cin_p = _pad(cin, blk) if not a.get("nchw_in") else cin
        cout_p = _pad(cout, blk)
        kel = int(a.get("kelems", 1))
        n, hw_out = int(a.get("n", 1)), int(a.get("hw_out", 1))
        per_group = 1 if dw else max(cin_p // g, 1)
        f.update(n=n, cin=cin_p, cout=cout_p, kelems=kel, stride=int(a.get("stride", 1)), groups=g,
                 hw_in=int(a.get("hw_in", 1)), hw_out=hw_out, sum=int(a.get("sum", 0)))
        f["weights"] = cout * (1 if dw else cin // g) * kel
        f["flops"] = 2.0 * n * cout_p * hw_out * per_group * kel
    elif cls.startswith("gemm"):
        f.update(b=int(a.get("b", 1)), m=int(a.get("m", 1)), nn=int(a.get("n", 1)), kk=int(a.get("k", 1)))
        f["weights"] = f["nn"] * f["kk"] if a.get("wconst") else 0
        f["flops"] = 2.0 * f["b"] * f["m"] * f["nn"] * f["kk"]
    elif cls == "rnn":
        f.update(seq=int(a.get("seq", 1)), b=int(a.get("batch", 1)), hidden=int(a.get("hidden", 1)),
                 input=int(a.get("input", 1)), gates=int(a.get("gates", 4)))
        dirs = int(a.get("dirs", 1))
        f["weights"] = dirs * f["gates"] * f["hidden"] * (f["input"] + f["hidden"])
        f["flops"] = 2.0 * f["seq"] * f["b"] * f["weights"]
    else:
        cols = int(a.get("cols", k.out[-1] if k.out else 1) or 1)
        f["cols"] = cols
        f["rows"] = max(f["elems_out"] // max(cols, 1), 1)
        ks = a.get("kernel_shape")
        f["window"] = int(math.prod(ks)) if ks else (int(a.get("window", 1)) or 1)
        f["stride"] = int(max(a.get("strides", (1,)) or (1,)))
        f["flops"] = float(f["elems_out"])
        axis = int(a.get("axis", -1)) if k.op in ("Softmax", "LogSoftmax") else -1
        f["lastaxis"] = int(axis in (-1, len(k.out) - 1))
    return f


def signature(op: str, out, in0) -> tuple:
    """How a profiled runtime node is matched to an emulated kernel: op and element counts
    (onnxruntime reports padded channels and 2-D Gemm outputs, so shapes alone do not match)."""
    return op, _numel(out), _numel(in0)
