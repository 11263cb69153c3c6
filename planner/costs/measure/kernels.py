"""Real kernels in numpy, forward and backward, for timing training steps on this machine.

Layouts follow PyTorch: images NCHW, conv weights (out, in/groups, kh, kw), linear weights
(in, out). Each `*_backward` takes the forward inputs and the output gradient `dy` and returns
the input gradients in the order of the forward arguments. Kernels run in the dtype they are
given (fp32, fp16); `gemm_int8` multiplies int8 with int32 accumulation.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

Array = np.ndarray


# -- GEMM -------------------------------------------------------------------------------------------

def gemm(a: Array, b: Array) -> Array:
    """a @ b (batched over leading dims)."""
    return np.matmul(a, b)


def gemm_backward(a: Array, b: Array, dy: Array) -> tuple[Array, Array]:
    da = np.matmul(dy, np.swapaxes(b, -1, -2))
    db = np.matmul(np.swapaxes(a, -1, -2), dy)
    if db.ndim > b.ndim:  # b was broadcast over a's batch dims
        db = db.reshape((-1,) + b.shape).sum(axis=0)
    return da, db


def gemm_int8(a: Array, b: Array) -> Array:
    """int8 x int8 -> int32, accumulating in int32 (as integer tensor units do)."""
    if a.dtype != np.int8 or b.dtype != np.int8:
        raise TypeError("gemm_int8 takes int8 operands")
    return np.matmul(a.astype(np.int32), b.astype(np.int32))


def quantize(x: Array) -> tuple[Array, float]:
    """Symmetric per-tensor int8 quantization: (q, scale) with x ~ q * scale."""
    scale = float(np.max(np.abs(x))) / 127.0 or 1.0
    return np.clip(np.rint(x / scale), -127, 127).astype(np.int8), scale


def linear(x: Array, w: Array, b: Array | None = None) -> Array:
    y = np.matmul(x, w)
    return y + b if b is not None else y


def linear_backward(x: Array, w: Array, dy: Array) -> tuple[Array, Array, Array]:
    dx = np.matmul(dy, w.T)
    x2, dy2 = x.reshape(-1, x.shape[-1]), dy.reshape(-1, dy.shape[-1])
    return dx, x2.T @ dy2, dy2.sum(axis=0)


# -- convolution ------------------------------------------------------------------------------------

def _pad(x: Array, pad: int) -> Array:
    return np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))) if pad else x


def _im2col(x: Array, kh: int, kw: int, stride: int, pad: int) -> Array:
    """(N, C, H, W) -> (N, Ho, Wo, C, kh, kw) view of the padded input."""
    win = sliding_window_view(_pad(x, pad), (kh, kw), axis=(2, 3))  # N C Ho' Wo' kh kw
    return win[:, :, ::stride, ::stride].transpose(0, 2, 3, 1, 4, 5)


def conv2d(x: Array, w: Array, b: Array | None = None, stride: int = 1, pad: int = 0, groups: int = 1) -> Array:
    """2-D convolution (cross-correlation, as in every framework) through im2col + GEMM."""
    n, c, _, _ = x.shape
    k, cg, kh, kw = w.shape
    if groups == c == k and cg == 1 and groups > 1:
        y = depthwise_conv2d(x, w, stride, pad)
    else:
        cols = _im2col(x, kh, kw, stride, pad)  # N Ho Wo C kh kw
        _, ho, wo = cols.shape[:3]
        kg = k // groups
        outs = []
        for g in range(groups):
            cg_cols = cols[:, :, :, g * cg:(g + 1) * cg].reshape(n * ho * wo, cg * kh * kw)
            outs.append(cg_cols @ w[g * kg:(g + 1) * kg].reshape(kg, -1).T)
        y = np.concatenate(outs, axis=1).reshape(n, ho, wo, k).transpose(0, 3, 1, 2)
    return y + b.reshape(1, -1, 1, 1) if b is not None else np.ascontiguousarray(y)


def conv2d_backward(x: Array, w: Array, dy: Array, stride: int = 1, pad: int = 0,
                    groups: int = 1) -> tuple[Array, Array, Array]:
    """(dx, dw, db) of conv2d."""
    n, c, h, wd = x.shape
    k, cg, kh, kw = w.shape
    if groups == c == k and cg == 1 and groups > 1:
        dx, dw = depthwise_conv2d_backward(x, w, dy, stride, pad)
        return dx, dw, dy.sum(axis=(0, 2, 3))
    _, _, ho, wo = dy.shape
    kg = k // groups
    cols = _im2col(x, kh, kw, stride, pad)
    dy_mat = dy.transpose(0, 2, 3, 1).reshape(n * ho * wo, k)
    dw = np.empty_like(w)
    dcols = np.empty((n * ho * wo, c, kh, kw), dtype=x.dtype)
    for g in range(groups):
        cg_cols = cols[:, :, :, g * cg:(g + 1) * cg].reshape(n * ho * wo, cg * kh * kw)
        dyg = dy_mat[:, g * kg:(g + 1) * kg]
        dw[g * kg:(g + 1) * kg] = (dyg.T @ cg_cols).reshape(kg, cg, kh, kw)
        dcols[:, g * cg:(g + 1) * cg] = (dyg @ w[g * kg:(g + 1) * kg].reshape(kg, -1)).reshape(-1, cg, kh, kw)
    dcols = dcols.reshape(n, ho, wo, c, kh, kw)
    dxp = np.zeros((n, c, h + 2 * pad, wd + 2 * pad), dtype=x.dtype)
    for i in range(kh):  # col2im: scatter each kernel tap back (kh*kw strided adds, no Python per pixel)
        for j in range(kw):
            dxp[:, :, i:i + stride * ho:stride, j:j + stride * wo:stride] += dcols[:, :, :, :, i, j].transpose(0, 3, 1, 2)
    dx = dxp[:, :, pad:pad + h, pad:pad + wd] if pad else dxp
    return dx, dw, dy.sum(axis=(0, 2, 3))


def depthwise_conv2d(x: Array, w: Array, stride: int = 1, pad: int = 0) -> Array:
    """Depthwise conv: w (C, 1, kh, kw); one filter per channel, as a sum over kernel taps."""
    n, c, h, wd = x.shape
    _, _, kh, kw = w.shape
    xp = _pad(x, pad)
    ho, wo = (h + 2 * pad - kh) // stride + 1, (wd + 2 * pad - kw) // stride + 1
    y = np.zeros((n, c, ho, wo), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            y += xp[:, :, i:i + stride * ho:stride, j:j + stride * wo:stride] * w[:, 0, i, j].reshape(1, c, 1, 1)
    return y


def depthwise_conv2d_backward(x: Array, w: Array, dy: Array, stride: int = 1, pad: int = 0) -> tuple[Array, Array]:
    n, c, h, wd = x.shape
    _, _, kh, kw = w.shape
    _, _, ho, wo = dy.shape
    xp = _pad(x, pad)
    dxp = np.zeros_like(xp)
    dw = np.empty_like(w)
    for i in range(kh):
        for j in range(kw):
            win = xp[:, :, i:i + stride * ho:stride, j:j + stride * wo:stride]
            dw[:, 0, i, j] = np.einsum("nchw,nchw->c", win, dy)
            dxp[:, :, i:i + stride * ho:stride, j:j + stride * wo:stride] += dy * w[:, 0, i, j].reshape(1, c, 1, 1)
    return (dxp[:, :, pad:pad + h, pad:pad + wd] if pad else dxp), dw


# -- pooling ----------------------------------------------------------------------------------------

def maxpool2d(x: Array, k: int, stride: int, pad: int = 0) -> Array:
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), constant_values=-np.inf) if pad else x
    return sliding_window_view(xp, (k, k), axis=(2, 3))[:, :, ::stride, ::stride].max(axis=(4, 5))


def maxpool2d_backward(x: Array, dy: Array, k: int, stride: int, pad: int = 0) -> Array:
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), constant_values=-np.inf) if pad else x
    win = sliding_window_view(xp, (k, k), axis=(2, 3))[:, :, ::stride, ::stride]
    ho, wo = win.shape[2:4]
    arg = win.reshape(n, c, ho, wo, k * k).argmax(axis=-1)
    dxp = np.zeros(xp.shape, dtype=x.dtype)
    for i in range(k):
        for j in range(k):
            hit = arg == i * k + j
            dxp[:, :, i:i + stride * ho:stride, j:j + stride * wo:stride] += np.where(hit, dy, 0)
    return dxp[:, :, pad:pad + h, pad:pad + w] if pad else dxp


def avgpool2d(x: Array, k: int, stride: int) -> Array:
    return sliding_window_view(x, (k, k), axis=(2, 3))[:, :, ::stride, ::stride].mean(axis=(4, 5))


def avgpool2d_backward(x: Array, dy: Array, k: int, stride: int) -> Array:
    dx = np.zeros_like(x)
    ho, wo = dy.shape[2:]
    for i in range(k):
        for j in range(k):
            dx[:, :, i:i + stride * ho:stride, j:j + stride * wo:stride] += dy / (k * k)
    return dx


def global_avgpool(x: Array) -> Array:
    return x.mean(axis=(2, 3), keepdims=True)


def global_avgpool_backward(x: Array, dy: Array) -> Array:
    return np.broadcast_to(dy / (x.shape[2] * x.shape[3]), x.shape).copy()


# -- normalisation and softmax -------------------------------------------------------------------------

def layer_norm(x: Array, g: Array, b: Array, eps: float = 1e-5) -> Array:
    mu = x.mean(axis=-1, keepdims=True)
    var = x.var(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * g + b


def layer_norm_backward(x: Array, g: Array, dy: Array, eps: float = 1e-5) -> tuple[Array, Array, Array]:
    mu = x.mean(axis=-1, keepdims=True)
    rstd = 1.0 / np.sqrt(x.var(axis=-1, keepdims=True) + eps)
    xhat = (x - mu) * rstd
    dxhat = dy * g
    d = x.shape[-1]
    dx = rstd / d * (d * dxhat - dxhat.sum(axis=-1, keepdims=True) - xhat * (dxhat * xhat).sum(axis=-1, keepdims=True))
    red = tuple(range(x.ndim - 1))
    return dx, (dy * xhat).sum(axis=red), dy.sum(axis=red)


def batch_norm(x: Array, g: Array, b: Array, eps: float = 1e-5) -> Array:
    """Training-mode batch norm over (N, H, W) per channel."""
    mu = x.mean(axis=(0, 2, 3), keepdims=True)
    var = x.var(axis=(0, 2, 3), keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * g.reshape(1, -1, 1, 1) + b.reshape(1, -1, 1, 1)


def batch_norm_backward(x: Array, g: Array, dy: Array, eps: float = 1e-5) -> tuple[Array, Array, Array]:
    xt = x.transpose(0, 2, 3, 1)
    dx, dg, db = layer_norm_backward_axis(xt, g, dy.transpose(0, 2, 3, 1), eps)
    return dx.transpose(0, 3, 1, 2), dg, db


def layer_norm_backward_axis(x: Array, g: Array, dy: Array, eps: float) -> tuple[Array, Array, Array]:
    """Batch norm backward on channels-last data: statistics over all but the last axis."""
    red = tuple(range(x.ndim - 1))
    m = int(np.prod([x.shape[i] for i in red]))
    mu = x.mean(axis=red)
    rstd = 1.0 / np.sqrt(x.var(axis=red) + eps)
    xhat = (x - mu) * rstd
    dxhat = dy * g
    dx = rstd / m * (m * dxhat - dxhat.sum(axis=red) - xhat * (dxhat * xhat).sum(axis=red))
    return dx, (dy * xhat).sum(axis=red), dy.sum(axis=red)


def softmax(x: Array, axis: int = -1) -> Array:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def softmax_backward(y: Array, dy: Array, axis: int = -1) -> Array:
    """Takes the softmax output y (what frameworks keep for backward)."""
    return y * (dy - (dy * y).sum(axis=axis, keepdims=True))


# -- activations and elementwise -------------------------------------------------------------------

def relu(x: Array) -> Array:
    return np.maximum(x, 0)


def relu_backward(x: Array, dy: Array) -> Array:
    return np.where(x > 0, dy, 0).astype(dy.dtype)


def sigmoid(x: Array) -> Array:
    return 1.0 / (1.0 + np.exp(-x))


def sigmoid_backward(x: Array, dy: Array) -> Array:
    s = sigmoid(x)
    return dy * s * (1 - s)


def tanh(x: Array) -> Array:
    return np.tanh(x)


def tanh_backward(x: Array, dy: Array) -> Array:
    return dy * (1 - np.tanh(x) ** 2)


def silu(x: Array) -> Array:
    return x * sigmoid(x)


def silu_backward(x: Array, dy: Array) -> Array:
    s = sigmoid(x)
    return dy * (s + x * s * (1 - s))


_C = np.sqrt(2.0 / np.pi)


def gelu(x: Array) -> Array:
    """tanh approximation (the erf form differs by < 1e-3)."""
    return 0.5 * x * (1.0 + np.tanh(_C * (x + 0.044715 * x ** 3)))


def gelu_backward(x: Array, dy: Array) -> Array:
    t = np.tanh(_C * (x + 0.044715 * x ** 3))
    return dy * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * _C * (1 + 3 * 0.044715 * x * x))


def add(a: Array, b: Array) -> Array:
    return a + b


def add_backward(a: Array, b: Array, dy: Array) -> tuple[Array, Array]:
    return _unbroadcast(dy, a.shape), _unbroadcast(dy, b.shape)


def mul(a: Array, b: Array) -> Array:
    return a * b


def mul_backward(a: Array, b: Array, dy: Array) -> tuple[Array, Array]:
    return _unbroadcast(dy * b, a.shape), _unbroadcast(dy * a, b.shape)


def _unbroadcast(g: Array, shape: tuple[int, ...]) -> Array:
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    for i, s in enumerate(shape):
        if s == 1 and g.shape[i] != 1:
            g = g.sum(axis=i, keepdims=True)
    return g


# -- embedding, attention, optimizer ------------------------------------------------------------------

def embedding(ids: Array, table: Array) -> Array:
    return table[ids]


def embedding_backward(ids: Array, table_shape: tuple[int, int], dy: Array) -> Array:
    dt = np.zeros(table_shape, dtype=dy.dtype)
    np.add.at(dt, ids.reshape(-1), dy.reshape(-1, table_shape[1]))
    return dt


def attention(q: Array, k: Array, v: Array, causal: bool = False) -> Array:
    """softmax(q k^T / sqrt(d)) v over (..., t, d)."""
    s = np.matmul(q, np.swapaxes(k, -1, -2)) / np.sqrt(q.shape[-1])
    if causal:
        s = s + np.triu(np.full(s.shape[-2:], -1e9, dtype=s.dtype), k=1)
    return np.matmul(softmax(s), v)


def attention_backward(q: Array, k: Array, v: Array, dy: Array, causal: bool = False) -> tuple[Array, Array, Array]:
    scale = 1.0 / np.sqrt(q.shape[-1])
    s = np.matmul(q, np.swapaxes(k, -1, -2)) * scale
    if causal:
        s = s + np.triu(np.full(s.shape[-2:], -1e9, dtype=s.dtype), k=1)
    p = softmax(s)
    dv = np.matmul(np.swapaxes(p, -1, -2), dy)
    ds = softmax_backward(p, np.matmul(dy, np.swapaxes(v, -1, -2))) * scale
    return np.matmul(ds, k), np.matmul(np.swapaxes(ds, -1, -2), q), dv


def adam_step(w: Array, g: Array, m: Array, v: Array, t: int, lr: float = 1e-3, b1: float = 0.9,
              b2: float = 0.999, eps: float = 1e-8) -> None:
    """One Adam update in place (w, m, v)."""
    m *= b1
    m += (1 - b1) * g
    v *= b2
    v += (1 - b2) * g * g
    w -= lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)


def lstm_cell(x: Array, h: Array, c: Array, w: Array, r: Array, b: Array) -> tuple[Array, Array]:
    """One LSTM step; w (in, 4H), r (H, 4H), gates ordered i, f, g, o."""
    z = x @ w + h @ r + b
    hid = h.shape[-1]
    i, f, g, o = sigmoid(z[:, :hid]), sigmoid(z[:, hid:2 * hid]), np.tanh(z[:, 2 * hid:3 * hid]), sigmoid(z[:, 3 * hid:])
    c2 = f * c + i * g
    return o * np.tanh(c2), c2
