"""The catalog's models (and a few extra ones for benchmarks) as architectures in code.

Each builder follows the reference implementation (torchvision, Ultralytics, Hugging Face,
OpenAI Whisper, Meta Llama) closely enough that parameter counts match the published ones
and the ops are the ones a PyTorch export would contain.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import TensorProto

from planner.costs.nets import Net

# -- CNN building blocks ---------------------------------------------------------------------


def _mbv2(net: Net, x: str, cin: int, cout: int, stride: int, expand: int) -> str:
    y = x
    hidden = cin * expand
    if expand != 1:
        y = net.conv(y, hidden, 1, bias=False, bn=True, act="relu6")
    y = net.conv(y, hidden, 3, stride, groups=hidden, bias=False, bn=True, act="relu6")
    y = net.conv(y, cout, 1, bias=False, bn=True)
    return net.add(x, y) if stride == 1 and cin == cout else y


def mobilenet_v2(net: Net, batch: int, size: int = 224) -> None:
    x = net.input("input", (batch, 3, size, size))
    y = net.conv(x, 32, 3, 2, bias=False, bn=True, act="relu6")
    cin = 32
    for t, c, n, s in [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                       (6, 160, 3, 2), (6, 320, 1, 1)]:
        for i in range(n):
            y = _mbv2(net, y, cin, c, s if i == 0 else 1, t)
            cin = c
    y = net.conv(y, 1280, 1, bias=False, bn=True, act="relu6")
    net.output(net.gemm(net.flatten(net.gap(y)), 1000))


def _basic(net: Net, x: str, cin: int, cout: int, stride: int) -> str:
    y = net.conv(x, cout, 3, stride, bias=False, bn=True, act="relu")
    y = net.conv(y, cout, 3, 1, bias=False, bn=True)
    sc = net.conv(x, cout, 1, stride, pad=0, bias=False, bn=True) if stride != 1 or cin != cout else x
    return net.act(net.add(y, sc), "relu")


def _bottleneck(net: Net, x: str, cin: int, width: int, stride: int) -> str:
    cout = width * 4
    y = net.conv(x, width, 1, bias=False, bn=True, act="relu")
    y = net.conv(y, width, 3, stride, bias=False, bn=True, act="relu")  # v1.5: stride on the 3x3
    y = net.conv(y, cout, 1, bias=False, bn=True)
    sc = net.conv(x, cout, 1, stride, pad=0, bias=False, bn=True) if stride != 1 or cin != cout else x
    return net.act(net.add(y, sc), "relu")


def resnet(net: Net, batch: int, depth: int = 50, size: int = 224, classes: int = 1000) -> None:
    blocks = {18: [2, 2, 2, 2], 34: [3, 4, 6, 3], 50: [3, 4, 6, 3], 101: [3, 4, 23, 3]}[depth]
    x = net.input("input", (batch, 3, size, size))
    y = net.maxpool(net.conv(x, 64, 7, 2, bias=False, bn=True, act="relu"), 3, 2, 1)
    cin = 64
    for stage, n in enumerate(blocks):
        width = 64 * 2 ** stage
        for i in range(n):
            stride = 2 if stage > 0 and i == 0 else 1
            if depth >= 50:
                y, cin = _bottleneck(net, y, cin, width, stride), width * 4
            else:
                y, cin = _basic(net, y, cin, width, stride), width
    net.output(net.gemm(net.flatten(net.gap(y)), classes))


def _mbconv(net: Net, x: str, cin: int, cout: int, k: int, stride: int, expand: int) -> str:
    hidden = cin * expand
    y = net.conv(x, hidden, 1, bias=False, bn=True, act="silu") if expand != 1 else x
    y = net.conv(y, hidden, k, stride, groups=hidden, bias=False, bn=True, act="silu")
    s = net.conv(net.gap(y), max(1, cin // 4), 1, act="silu")  # squeeze and excitation
    y = net.mul(y, net.conv(s, hidden, 1, act="sigmoid"))
    y = net.conv(y, cout, 1, bias=False, bn=True)
    return net.add(y, x) if stride == 1 and cin == cout else y


def efficientnet_b0(net: Net, batch: int, size: int = 224) -> None:
    x = net.input("input", (batch, 3, size, size))
    y = net.conv(x, 32, 3, 2, bias=False, bn=True, act="silu")
    cin = 32
    for e, k, s, c, n in [(1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
                          (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1)]:
        for i in range(n):
            y, cin = _mbconv(net, y, cin, c, k, s if i == 0 else 1, e), c
    y = net.conv(y, 1280, 1, bias=False, bn=True, act="silu")
    net.output(net.gemm(net.flatten(net.gap(y)), 1000))


# -- YOLO ------------------------------------------------------------------------------------


def _cbs(net: Net, x: str, c: int, k: int = 1, s: int = 1, p: int | None = None) -> str:
    """Ultralytics Conv: Conv2d (no bias) + BatchNorm + SiLU."""
    return net.conv(x, c, k, s, pad=p, bias=False, bn=True, act="silu")


def _c2f(net: Net, x: str, c2: int, n: int, shortcut: bool) -> str:
    c = c2 // 2
    y = net.split(_cbs(net, x, 2 * c), [c, c])
    parts = list(y)
    for _ in range(n):
        h = _cbs(net, _cbs(net, parts[-1], c, 3), c, 3)
        parts.append(net.add(parts[-1], h) if shortcut else h)
    return _cbs(net, net.concat(parts), c2)


def _c3(net: Net, x: str, c2: int, n: int, shortcut: bool = True) -> str:
    c = c2 // 2
    a = _cbs(net, x, c)
    for _ in range(n):
        h = _cbs(net, _cbs(net, a, c, 1), c, 3)
        a = net.add(a, h) if shortcut else h
    return _cbs(net, net.concat([a, _cbs(net, x, c)]), c2)


def _sppf(net: Net, x: str, c2: int) -> str:
    c = net.shape[x][1] // 2
    y = [_cbs(net, x, c)]
    for _ in range(3):
        y.append(net.maxpool(y[-1], 5, 1, 2))
    return _cbs(net, net.concat(y), c2)


#: Ultralytics yolov8.yaml scales: (depth multiple, width multiple, max channels) of each variant
YOLOV8_SCALES = {"n": (0.33, 0.25, 1024), "s": (0.33, 0.50, 1024), "m": (0.67, 0.75, 768)}


def yolov8(net: Net, batch: int, scale: str = "n", size: int = 640, classes: int = 80) -> None:
    """A YOLOv8 detect model at one of YOLOV8_SCALES: the yaml's channels (64 ... 1024) and C2f
    repeats (3, 6, 6, 3; 3 in the head) scaled by the variant's width and depth multiples."""
    gd, gw, max_ch = YOLOV8_SCALES[scale]

    def ch(c: int) -> int:  # Ultralytics make_divisible(min(c, max_channels) * width, 8)
        return int(math.ceil(min(c, max_ch) * gw / 8) * 8)

    def rep(n: int) -> int:
        return max(round(n * gd), 1)

    x = net.input("images", (batch, 3, size, size))
    y = _cbs(net, _cbs(net, x, ch(64), 3, 2), ch(128), 3, 2)
    y = _c2f(net, y, ch(128), rep(3), True)
    p3 = _c2f(net, _cbs(net, y, ch(256), 3, 2), ch(256), rep(6), True)
    p4 = _c2f(net, _cbs(net, p3, ch(512), 3, 2), ch(512), rep(6), True)
    p5 = _sppf(net, _c2f(net, _cbs(net, p4, ch(1024), 3, 2), ch(1024), rep(3), True), ch(1024))
    h4 = _c2f(net, net.concat([net.upsample2x(p5), p4]), ch(512), rep(3), False)
    o3 = _c2f(net, net.concat([net.upsample2x(h4), p3]), ch(256), rep(3), False)
    o4 = _c2f(net, net.concat([_cbs(net, o3, ch(256), 3, 2), h4]), ch(512), rep(3), False)
    o5 = _c2f(net, net.concat([_cbs(net, o4, ch(512), 3, 2), p5]), ch(1024), rep(3), False)
    # Ultralytics Detect head widths: c2 = max(16, P3 / 4, 4 x reg_max), c3 = max(P3, min(classes, 100))
    reg = 16
    c2, c3 = max(16, ch(256) // 4, 4 * reg), max(ch(256), min(classes, 100))
    outs = []
    for o in (o3, o4, o5):
        box = net.conv(_cbs(net, _cbs(net, o, c2, 3), c2, 3), 4 * reg, 1)
        cls = net.conv(_cbs(net, _cbs(net, o, c3, 3), c3, 3), classes, 1)
        cat = net.concat([box, cls])
        outs.append(net.reshape(cat, (batch, 4 * reg + classes, net.shape[cat][2] * net.shape[cat][3])))
    y = net.concat(outs, axis=2)
    anchors = net.shape[y][2]
    box, cls = net.split(y, [4 * reg, classes], axis=1)
    # distribution focal loss decode: softmax over 16 bins, then a fixed 1x1 conv (16 params)
    d = net.softmax(net.transpose(net.reshape(box, (batch, 4, reg, anchors)), (0, 2, 1, 3)), axis=1)
    d = net.reshape(net.conv(d, 1, 1, pad=0, bias=False), (batch, 4, anchors))
    lt, rb = net.split(d, [2, 2], axis=1)
    grid = net.const(np.zeros((1, 2, anchors), np.float32))
    xy = net.add(net.node("Sub", [grid, lt], net.shape[lt]), rb)
    wh = net.node("Sub", [net.add(grid, rb), net.node("Sub", [grid, lt], net.shape[lt])], net.shape[lt])
    boxes = net.mul(net.concat([xy, wh]), net.const(np.ones((1, 1, anchors), np.float32)))
    net.output(net.concat([boxes, net.act(cls, "sigmoid")]))


def yolov8n(net: Net, batch: int) -> None:
    """YOLOv8n, the smallest of YOLOV8_SCALES."""
    yolov8(net, batch, "n")


def yolov5s(net: Net, batch: int, size: int = 640, classes: int = 80) -> None:
    x = net.input("images", (batch, 3, size, size))
    y = _cbs(net, x, 32, 6, 2, 2)
    y = _c3(net, _cbs(net, y, 64, 3, 2), 64, 1)
    p3 = _c3(net, _cbs(net, y, 128, 3, 2), 128, 2)
    p4 = _c3(net, _cbs(net, p3, 256, 3, 2), 256, 3)
    y = _sppf(net, _c3(net, _cbs(net, p4, 512, 3, 2), 512, 1), 512)
    h10 = _cbs(net, y, 256, 1)
    h13 = _c3(net, net.concat([net.upsample2x(h10), p4]), 256, 1, False)
    h14 = _cbs(net, h13, 128, 1)
    o3 = _c3(net, net.concat([net.upsample2x(h14), p3]), 128, 1, False)
    o4 = _c3(net, net.concat([_cbs(net, o3, 128, 3, 2), h14]), 256, 1, False)
    o5 = _c3(net, net.concat([_cbs(net, o4, 256, 3, 2), h10]), 512, 1, False)
    outs = []
    na, no = 3, classes + 5
    for o in (o3, o4, o5):
        p = net.conv(o, na * no, 1)
        _, _, h, w = net.shape[p]
        p = net.act(net.transpose(net.reshape(p, (batch, na, no, h, w)), (0, 1, 3, 4, 2)), "sigmoid")
        xy, wh, conf = net.split(p, [2, 2, no - 4], axis=4)
        xy = net.mul(net.add(net.mul(xy, net.const(np.float32(2))), net.const(np.zeros((1, na, h, w, 2), np.float32))),
                     net.const(np.float32(8)))
        wh = net.mul(net.node("Pow", [net.mul(wh, net.const(np.float32(2))), net.const(np.float32(2))],
                              net.shape[wh]), net.const(np.ones((1, na, 1, 1, 2), np.float32)))
        outs.append(net.reshape(net.concat([xy, wh, conf], axis=4), (batch, na * h * w, no)))
    net.output(net.concat(outs, axis=1))


# -- transformers ----------------------------------------------------------------------------


def _positions(net: Net, batch: int, seq: int) -> str:
    return net.const(np.tile(np.arange(seq, dtype=np.int64), (batch, 1)))


def _encoder_layer(net: Net, x: str, heads: int, ff: int, pre_ln: bool = False, k_bias: bool = True) -> str:
    d = net.shape[x][-1]
    if pre_ln:
        x = net.add(x, net.attention(net.layernorm(x), heads, qkv_bias=(True, k_bias, True)))
        return net.add(x, net.linear(net.linear(net.layernorm(x), ff, act="gelu"), d))
    x = net.layernorm(net.add(x, net.attention(x, heads)), eps=1e-12)
    return net.layernorm(net.add(x, net.linear(net.linear(x, ff, act="gelu"), d)), eps=1e-12)


def bert(net: Net, batch: int, seq_len: int = 128, layers: int = 12, d: int = 768, heads: int = 12,
         vocab: int = 30522, pooler: bool = True, token_types: bool = True) -> None:
    ids = net.input("input_ids", (batch, seq_len), TensorProto.INT64)
    x = net.add(net.embedding(ids, vocab, d), net.embedding(_positions(net, batch, seq_len), 512, d))
    if token_types:
        x = net.add(x, net.embedding(net.const(np.zeros((batch, seq_len), np.int64)), 2, d))
    x = net.layernorm(x, eps=1e-12)
    for _ in range(layers):
        x = _encoder_layer(net, x, heads, 4 * d)
    net.output(x)
    if pooler:
        first = net.reshape(net.node("Gather", [x, net.const(0)], (batch, d), axis=1), (batch, d))
        net.output(net.act(net.gemm(first, d), "tanh"))


def distilbert(net: Net, batch: int, seq_len: int = 128) -> None:
    bert(net, batch, seq_len, layers=6, pooler=False, token_types=False)


def whisper(net: Net, batch: int, seq_len: int = 32, d: int = 384, layers: int = 4, heads: int = 6,
            vocab: int = 51865, frames: int = 3000) -> None:
    """Encoder over a 30 s log-mel window plus one decoder pass over `seq_len` tokens."""
    mel = net.input("mel", (batch, 80, frames))
    a = net.conv1d(net.conv1d(mel, d, 3, act="gelu"), d, 3, stride=2, act="gelu")
    a = net.add(net.transpose(a, (0, 2, 1)), net.weight((frames // 2, d), fill=0.0, prefix="pos"))
    for _ in range(layers):
        a = _encoder_layer(net, a, heads, 4 * d, pre_ln=True, k_bias=False)
    audio = net.layernorm(a)
    ids = net.input("tokens", (batch, seq_len), TensorProto.INT64)
    table = net.weight((vocab, d), fan_in=d, prefix="emb")
    x = net.node("Gather", [table, ids], (batch, seq_len, d), axis=0)
    x = net.add(x, net.node("Gather", [net.weight((448, d), fill=0.0, prefix="pos"), _positions(net, batch, seq_len)],
                            (batch, seq_len, d), axis=0))
    for _ in range(layers):
        x = net.add(x, net.attention(net.layernorm(x), heads, causal=True, qkv_bias=(True, False, True)))
        x = net.add(x, net.attention(net.layernorm(x), heads, kv=audio, qkv_bias=(True, False, True)))
        x = net.add(x, net.linear(net.linear(net.layernorm(x), 4 * d, act="gelu"), d))
    x = net.layernorm(x)
    logits_w = net.transpose(table, (1, 0))  # tied with the token embedding
    net.output(net.matmul(x, logits_w))


def whisper_base(net: Net, batch: int, seq_len: int = 32) -> None:
    whisper(net, batch, seq_len, d=512, layers=6, heads=8)


@dataclass(frozen=True)
class LlmArch:
    """A decoder-only language model's shape: what prefill, decode and the KV cache cost."""

    layers: int
    d_model: int
    heads: int
    kv_heads: int  # < heads: grouped-query attention (one K and V head per group)
    ff: int
    vocab: int
    gated_ffn: bool = True  # SwiGLU (3 matrices) rather than GELU (2)
    tied_head: bool = False  # LM head shares the token embedding
    parallel_block: bool = False  # GPT-J: attention and MLP read the same normalised input
    biases: bool = False  # FFN and LM head biases (GPT-J)

    @property
    def head_dim(self) -> int:
        return self.d_model // self.heads

    @property
    def kv_width(self) -> int:
        """Elements of K (= of V) per token per layer."""
        return self.kv_heads * self.head_dim


#: Architectures (from each model's published config.json; see data/models.csv for sources and
#: each model's context length).
LLM_ARCH: dict[str, LlmArch] = {
    "llama-2-7b": LlmArch(32, 4096, 32, 32, 11008, 32000),
    "llama-3-8b": LlmArch(32, 4096, 32, 8, 14336, 128256),
    "llama-3.2-1b": LlmArch(16, 2048, 32, 8, 8192, 128256, tied_head=True),
    "llama-2-70b": LlmArch(80, 8192, 64, 8, 28672, 32000),
    "gpt-j-6b": LlmArch(28, 4096, 16, 16, 16384, 50400, gated_ffn=False, parallel_block=True, biases=True),
}


def decoder(net: Net, batch: int, seq_len: int, a: LlmArch) -> None:
    """A prefill pass of a decoder-only LLM over `seq_len` tokens (decode steps and the KV cache
    are priced from the same architecture in `llm.py`)."""
    ids = net.input("input_ids", (batch, seq_len), TensorProto.INT64)
    table = net.weight((a.vocab, a.d_model), fan_in=a.d_model, prefix="emb")
    x = net.node("Gather", [table, ids], (batch, seq_len, a.d_model), axis=0)
    norm = net.layernorm if a.parallel_block else net.rmsnorm
    for _ in range(a.layers):
        h = norm(x)
        attn = net.attention(h, a.heads, kv_heads=a.kv_heads, causal=True, qkv_bias=(False, False, False),
                             out_bias=False, rope=True)
        if not a.parallel_block:
            x = net.add(x, attn)
            h = norm(x)
        if a.gated_ffn:
            g = net.act(net.linear(h, a.ff, bias=a.biases), "silu")
            mlp = net.linear(net.mul(g, net.linear(h, a.ff, bias=a.biases)), a.d_model, bias=a.biases)
        else:
            mlp = net.linear(net.linear(h, a.ff, bias=a.biases, act="gelu"), a.d_model, bias=a.biases)
        x = net.add(net.add(x, attn), mlp) if a.parallel_block else net.add(x, mlp)
    x = norm(x)
    if a.tied_head:
        net.output(net.matmul(x, net.transpose(table, (1, 0))))
    else:
        net.output(net.linear(x, a.vocab, bias=a.biases))


# -- extra models for benchmarks ---------------------------------------------------------------


def mlp(net: Net, batch: int, sizes: tuple[int, ...] = (1024, 4096, 4096, 1024, 10)) -> None:
    x = net.input("x", (batch, sizes[0]))
    for i, n in enumerate(sizes[1:]):
        x = net.gemm(x, n, act="relu" if i < len(sizes) - 2 else None)
    net.output(x)


def lstm_lm(net: Net, batch: int, seq_len: int = 64, vocab: int = 10000, d: int = 512, layers: int = 2) -> None:
    """Batch-first token ids, as a PyTorch batch_first LSTM exports (a transpose to time-major inside)."""
    ids = net.input("tokens", (batch, seq_len), TensorProto.INT64)
    x = net.lstm(net.transpose(net.embedding(ids, vocab, d), (1, 0, 2)), d, layers)
    net.output(net.linear(net.transpose(x, (1, 0, 2)), vocab))


def vgg_small(net: Net, batch: int, size: int = 112) -> None:
    x = net.input("input", (batch, 3, size, size))
    for c, n in [(32, 1), (64, 1), (128, 2), (256, 2)]:
        for _ in range(n):
            x = net.conv(x, c, 3, act="relu")
        x = net.maxpool(x, 2, 2)
    net.output(net.gemm(net.gemm(net.flatten(x), 512, act="relu"), 100))


def vit(net: Net, batch: int, size: int = 224, patch: int = 16, d: int = 384, layers: int = 12,
        heads: int = 6) -> None:
    x = net.input("input", (batch, 3, size, size))
    p = net.conv(x, d, patch, patch, pad=0)
    n = (size // patch) ** 2
    t = net.transpose(net.reshape(p, (batch, d, n)), (0, 2, 1))
    t = net.add(t, net.weight((n, d), fill=0.0, prefix="pos"))
    for _ in range(layers):
        t = _encoder_layer(net, t, heads, 4 * d, pre_ln=True)
    net.output(net.gemm(net.reshape(net.gap(net.transpose(net.layernorm(t), (0, 2, 1))), (batch, d)), 1000))


Builder = Callable[..., None]

#: catalog model id -> (builder, takes seq_len)
ZOO: dict[str, tuple[Builder, bool]] = {
    "mobilenet-v2": (mobilenet_v2, False),
    "resnet-18": (lambda net, b: resnet(net, b, 18), False),
    "resnet-50": (lambda net, b: resnet(net, b, 50), False),
    "efficientnet-b0": (efficientnet_b0, False),
    "yolov8n": (yolov8n, False),
    "yolov8s": (lambda net, b: yolov8(net, b, "s"), False),
    "yolov8m": (lambda net, b: yolov8(net, b, "m"), False),
    "yolov5s": (yolov5s, False),
    "bert-base": (bert, True),
    "distilbert": (distilbert, True),
    "whisper-tiny": (whisper, True),
    "whisper-base": (whisper_base, True),
    **{m: (lambda net, b, seq, _a=a: decoder(net, b, seq, _a), True) for m, a in LLM_ARCH.items()},
}

#: extra architectures used by bench/fidelity.py (not in the catalog)
EXTRA: dict[str, tuple[Builder, bool]] = {
    "mlp": (mlp, False),
    "lstm-lm": (lstm_lm, True),
    "vgg-small": (vgg_small, False),
    "vit-small": (vit, False),
    # shapes of published calibration results (data/published_calibration.csv)
    "resnet-34": (lambda net, b: resnet(net, b, 34), False),
    "resnet-50-299": (lambda net, b: resnet(net, b, 50, size=299), False),
    "bert-large": (lambda net, b, seq: bert(net, b, seq, layers=24, d=1024, heads=16), True),
}

#: default sequence lengths where the catalog gives none
DEFAULT_SEQ_LEN = {"bert-base": 128, "bert-large": 384, "distilbert": 128, "whisper-tiny": 32, "whisper-base": 32,
                   "lstm-lm": 64, **{m: 512 for m in LLM_ARCH}}


def build(model_id: str, batch: int = 1, seq_len: int | None = None, *, weights: str = "symbolic",
          seed: int = 0) -> onnx.ModelProto:
    """The ONNX graph of a zoo (or extra) model; KeyError for an unknown id."""
    builder, takes_seq = {**ZOO, **EXTRA}[model_id]
    net = Net(model_id, weights=weights, seed=seed)
    if takes_seq:
        builder(net, batch, seq_len or DEFAULT_SEQ_LEN.get(model_id, 128))
    else:
        builder(net, batch)
    return net.build()
