"""The cost model: kernels, graphs, the runtime emulation, estimates and profiles."""
from __future__ import annotations

import math
import time

import numpy as np
import onnx
import pytest

import planner
from planner import catalog
from planner.costs import estimator, fusion, graphs, zoo
from planner.costs.machine import UNKNOWN, Machine, this_machine
from planner.costs.measure import kernels
from planner.costs.nets import Net
from planner.errors import CatalogError, PlannerError

RNG = np.random.default_rng(0)


# -- kernels --------------------------------------------------------------------------------------------

def naive_conv(x, w, b, stride, pad, groups=1):
    n, c, h, wd = x.shape
    k, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    ho, wo = (h + 2 * pad - kh) // stride + 1, (wd + 2 * pad - kw) // stride + 1
    y = np.zeros((n, k, ho, wo))
    kg = k // groups
    for i in range(n):
        for o in range(k):
            g = o // kg
            for r in range(ho):
                for s in range(wo):
                    patch = xp[i, g * cg:(g + 1) * cg, r * stride:r * stride + kh, s * stride:s * stride + kw]
                    y[i, o, r, s] = (patch * w[o]).sum() + (b[o] if b is not None else 0)
    return y


@pytest.mark.parametrize("stride,pad,groups", [(1, 1, 1), (2, 1, 1), (1, 0, 2), (2, 2, 4)])
def test_conv2d_matches_naive_loops(stride, pad, groups):
    x = RNG.standard_normal((2, 4, 7, 6))
    w = RNG.standard_normal((8, 4 // groups, 3, 3))
    b = RNG.standard_normal(8)
    np.testing.assert_allclose(kernels.conv2d(x, w, b, stride, pad, groups), naive_conv(x, w, b, stride, pad, groups),
                               rtol=1e-10, atol=1e-10)


def test_depthwise_conv_matches_naive_loops():
    x = RNG.standard_normal((2, 5, 8, 8))
    w = RNG.standard_normal((5, 1, 3, 3))
    np.testing.assert_allclose(kernels.depthwise_conv2d(x, w, 2, 1), naive_conv(x, w, None, 2, 1, groups=5),
                               rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(kernels.conv2d(x, w, None, 2, 1, groups=5), naive_conv(x, w, None, 2, 1, 5),
                               rtol=1e-10, atol=1e-10)


def numeric_grad(f, x, eps=1e-6):
    g = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + eps
        up = f()
        x[i] = old - eps
        down = f()
        x[i] = old
        g[i] = (up - down) / (2 * eps)
    return g


def test_conv2d_backward_matches_numerical_gradient():
    x = RNG.standard_normal((2, 3, 5, 5))
    w = RNG.standard_normal((4, 3, 3, 3))
    dy = RNG.standard_normal((2, 4, 3, 3))
    dx, dw, db = kernels.conv2d_backward(x, w, dy, stride=2, pad=1)
    loss = lambda: float((kernels.conv2d(x, w, None, 2, 1) * dy).sum())  # noqa: E731
    np.testing.assert_allclose(dx, numeric_grad(loss, x), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(dw, numeric_grad(loss, w), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(db, dy.sum(axis=(0, 2, 3)))


def test_depthwise_backward_matches_numerical_gradient():
    x = RNG.standard_normal((1, 3, 6, 6))
    w = RNG.standard_normal((3, 1, 3, 3))
    dy = RNG.standard_normal((1, 3, 6, 6))
    dx, dw = kernels.depthwise_conv2d_backward(x, w, dy, 1, 1)
    loss = lambda: float((kernels.depthwise_conv2d(x, w, 1, 1) * dy).sum())  # noqa: E731
    np.testing.assert_allclose(dx, numeric_grad(loss, x), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(dw, numeric_grad(loss, w), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["gemm", "layer_norm", "softmax", "attention", "gelu", "silu", "maxpool", "avgpool",
                                  "batch_norm", "linear"])
def test_backward_matches_numerical_gradient(name):
    if name == "gemm":
        a, b = RNG.standard_normal((3, 4)), RNG.standard_normal((4, 5))
        dy = RNG.standard_normal((3, 5))
        da, db = kernels.gemm_backward(a, b, dy)
        loss = lambda: float((kernels.gemm(a, b) * dy).sum())  # noqa: E731
        np.testing.assert_allclose(da, numeric_grad(loss, a), rtol=1e-6)
        np.testing.assert_allclose(db, numeric_grad(loss, b), rtol=1e-6)
    elif name == "linear":
        x, w = RNG.standard_normal((2, 3, 4)), RNG.standard_normal((4, 5))
        dy = RNG.standard_normal((2, 3, 5))
        dx, dw, _ = kernels.linear_backward(x, w, dy)
        loss = lambda: float((kernels.linear(x, w) * dy).sum())  # noqa: E731
        np.testing.assert_allclose(dx, numeric_grad(loss, x), rtol=1e-6)
        np.testing.assert_allclose(dw, numeric_grad(loss, w), rtol=1e-6)
    elif name == "layer_norm":
        x, g = RNG.standard_normal((3, 6)), RNG.standard_normal(6)
        dy = RNG.standard_normal((3, 6))
        dx, dg, _ = kernels.layer_norm_backward(x, g, dy)
        loss = lambda: float((kernels.layer_norm(x, g, np.zeros(6)) * dy).sum())  # noqa: E731
        np.testing.assert_allclose(dx, numeric_grad(loss, x), rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(dg, numeric_grad(loss, g), rtol=1e-5, atol=1e-7)
    elif name == "batch_norm":
        x, g = RNG.standard_normal((2, 3, 2, 2)), RNG.standard_normal(3)
        dy = RNG.standard_normal((2, 3, 2, 2))
        dx, dg, _ = kernels.batch_norm_backward(x, g, dy)
        loss = lambda: float((kernels.batch_norm(x, g, np.zeros(3)) * dy).sum())  # noqa: E731
        np.testing.assert_allclose(dx, numeric_grad(loss, x), rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(dg, numeric_grad(loss, g), rtol=1e-5, atol=1e-7)
    elif name == "softmax":
        x, dy = RNG.standard_normal((2, 5)), RNG.standard_normal((2, 5))
        dx = kernels.softmax_backward(kernels.softmax(x), dy)
        np.testing.assert_allclose(dx, numeric_grad(lambda: float((kernels.softmax(x) * dy).sum()), x), rtol=1e-5,
                                   atol=1e-8)
    elif name == "attention":
        q, k, v = (RNG.standard_normal((2, 4, 3)) for _ in range(3))
        dy = RNG.standard_normal((2, 4, 3))
        dq, dk, dv = kernels.attention_backward(q, k, v, dy, causal=True)
        loss = lambda: float((kernels.attention(q, k, v, causal=True) * dy).sum())  # noqa: E731
        for got, t in ((dq, q), (dk, k), (dv, v)):
            np.testing.assert_allclose(got, numeric_grad(loss, t), rtol=1e-5, atol=1e-7)
    elif name in ("gelu", "silu"):
        x, dy = RNG.standard_normal((4, 3)), RNG.standard_normal((4, 3))
        fwd, bwd = getattr(kernels, name), getattr(kernels, f"{name}_backward")
        np.testing.assert_allclose(bwd(x, dy), numeric_grad(lambda: float((fwd(x) * dy).sum()), x), rtol=1e-5,
                                   atol=1e-8)
    elif name == "maxpool":
        x = RNG.standard_normal((1, 2, 6, 6))
        dy = RNG.standard_normal((1, 2, 3, 3))
        dx = kernels.maxpool2d_backward(x, dy, 3, 2, 1)
        loss = lambda: float((kernels.maxpool2d(x, 3, 2, 1) * dy).sum())  # noqa: E731
        np.testing.assert_allclose(dx, numeric_grad(loss, x), rtol=1e-5, atol=1e-7)
    elif name == "avgpool":
        x = RNG.standard_normal((1, 2, 6, 6))
        dy = RNG.standard_normal((1, 2, 3, 3))
        dx = kernels.avgpool2d_backward(x, dy, 2, 2)
        loss = lambda: float((kernels.avgpool2d(x, 2, 2) * dy).sum())  # noqa: E731
        np.testing.assert_allclose(dx, numeric_grad(loss, x), rtol=1e-5, atol=1e-7)


def test_int8_gemm_accumulates_in_int32_exactly():
    a = RNG.integers(-128, 128, (33, 70)).astype(np.int8)
    b = RNG.integers(-128, 128, (70, 17)).astype(np.int8)
    got = kernels.gemm_int8(a, b)
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, a.astype(np.int64) @ b.astype(np.int64))
    with pytest.raises(TypeError):
        kernels.gemm_int8(a.astype(np.float32), b)


def test_fp16_kernels_run_in_fp16_and_track_fp32():
    x = RNG.standard_normal((1, 4, 8, 8)).astype(np.float16)
    w = (RNG.standard_normal((6, 4, 3, 3)) * 0.2).astype(np.float16)
    y16 = kernels.conv2d(x, w, None, 1, 1)
    assert y16.dtype == np.float16
    np.testing.assert_allclose(y16, kernels.conv2d(x.astype(np.float32), w.astype(np.float32), None, 1, 1),
                               rtol=2e-2, atol=2e-2)


def test_embedding_backward_accumulates_repeated_ids_and_adam_moves_against_gradient():
    ids = np.array([[1, 3, 1]])
    dy = np.ones((1, 3, 4))
    dt = kernels.embedding_backward(ids, (5, 4), dy)
    assert dt[1].tolist() == [2, 2, 2, 2] and dt[3].tolist() == [1, 1, 1, 1] and dt[0].sum() == 0
    w, g = np.ones(3), np.array([1.0, -1.0, 0.0])
    m, v = np.zeros(3), np.zeros(3)
    kernels.adam_step(w, g, m, v, 1, lr=0.1)
    assert w[0] < 1 < w[1] and w[2] == 1


# -- graphs -----------------------------------------------------------------------------------------------

WHISPER_TINY_PARAMS = 37_760_640  # Hugging Face openai/whisper-tiny; the README rounds it to "39M"


@pytest.mark.parametrize("model_id", list(zoo.ZOO))
def test_zoo_parameter_counts_match_the_catalog(model_id):
    g = graphs.zoo_graph(model_id)
    published = catalog.model(model_id).params_millions * 1e6
    if model_id == "whisper-tiny":
        # the architecture has 37.76M parameters (3.2% under the rounded 39M of the facts table)
        assert g.params == WHISPER_TINY_PARAMS
        assert abs(g.params / published - 1) < 0.04
    else:
        assert abs(g.params / published - 1) <= 0.02, (g.params, published)


@pytest.mark.parametrize("model_id,gflops", [("resnet-50", 8.18), ("mobilenet-v2", 0.6), ("resnet-18", 3.62),
                                             ("efficientnet-b0", 0.78), ("yolov8n", 8.7), ("yolov5s", 16.5)])
def test_zoo_flops_match_published_operation_counts(model_id, gflops):
    assert graphs.zoo_graph(model_id).flops / 1e9 == pytest.approx(gflops, rel=0.06)


def test_onnx_import_counts_flops_params_and_split_points(tmp_path):
    net = Net("small")
    x = net.input("x", (1, 3, 16, 16))
    y = net.conv(x, 8, 3, stride=1, act="relu")            # 3*8*9 + 8 params; 2*8*16*16*27 FLOPs
    y = net.maxpool(y, 2, 2)                                # 8 x 8 x 8
    y = net.gemm(net.flatten(y), 10)                        # 512*10 + 10 params; 2*512*10 FLOPs
    net.output(y)
    path = tmp_path / "small.onnx"
    onnx.save(net.build(), path)
    g = graphs.onnx_graph(path)
    assert g.params == 3 * 8 * 9 + 8 + 512 * 10 + 10
    conv = next(op for op in g.ops if op.kind == "conv")
    gemm = next(op for op in g.ops if op.kind == "gemm")
    assert conv.flops == 2 * 8 * 16 * 16 * 27
    assert gemm.flops == 2 * 512 * 10
    assert conv.output_bytes == 8 * 16 * 16 * 4
    cuts = dict(g.split_points())
    assert cuts[len(g.ops) - 1] == 10 * 4                   # the last cut is the output
    pool_idx = next(i for i, op in enumerate(g.ops) if op.kind == "pool")
    assert cuts[pool_idx] == 8 * 8 * 8 * 4
    g8 = graphs.onnx_graph(path, batch=8)
    assert g8.flops == pytest.approx(8 * g.flops) and g8.params == g.params


def test_unreadable_onnx_is_a_one_line_planner_error(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00not a model at all")
    with pytest.raises(PlannerError) as err:
        planner.estimate(bad, "l4")
    assert "bad.onnx" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(PlannerError):
        planner.estimate(tmp_path / "missing.onnx", "l4")


def test_fusion_emulation_folds_bn_activation_residual_and_reorders():
    net = Net("block")
    x = net.input("x", (1, 32, 28, 28))
    x0 = net.conv(x, 32, 1, bias=False, bn=True, act="relu")
    y = net.conv(x0, 32, 3, bias=False, bn=True, act="relu")
    y = net.conv(y, 32, 3, bias=False, bn=True)
    y = net.act(net.add(y, x0), "relu")
    net.output(net.gap(y))
    ks = fusion.host_kernels(graphs.from_proto(net.build(), "block"), 16)
    ops = [k.op for k in ks]
    assert ops == ["ReorderInput", "Conv", "Conv", "Conv", "GlobalAveragePool", "ReorderOutput"]
    assert ks[2].attrs["act"] == "Relu" and ks[3].attrs.get("sum") == 1 and ks[3].attrs["act"] == "Relu"
    # a residual from a graph input is not in NCHWc: the Add and ReLU run apart, after a reorder
    net = Net("raw")
    x = net.input("x", (1, 32, 28, 28))
    y = net.act(net.add(net.conv(x, 32, 3), x), "relu")
    net.output(net.gap(y))
    ops = [k.op for k in fusion.host_kernels(graphs.from_proto(net.build(), "raw"), 16)]
    assert ops == ["ReorderInput", "Conv", "ReorderOutput", "Add", "Relu", "GlobalAveragePool"]


def test_fusion_emulation_matches_onnxruntime_kernel_list():
    """The emulated kernels are the ones onnxruntime runs (compared through its own profiler)."""
    from planner.costs.measure import runtime

    for model_id in ("mobilenet-v2", "distilbert"):
        model = zoo.build(model_id, 1, 16 if model_id == "distilbert" else None, weights="random")
        g = graphs.from_proto(model, model_id)
        block = runtime.nchwc_block()
        mine = sorted((k.op, runtime._padded_numel(k, block)) for k in fusion.host_kernels(g, block))
        events = runtime._node_times(model, 1, 0.0)
        ort = sorted((r["op"], int(np.prod(r["out"])) if r["out"] else 1) for r in events.values())
        assert mine == ort


# -- estimates -----------------------------------------------------------------------------------------

def test_throughput_rises_and_latency_never_falls_with_batch():
    for hw, prec in (("l4", "int8"), ("jetson-orin-nx-16gb", "fp16"), ("xeon-8592-2s", "int8"), ("t4", "fp16")):
        es = [planner.estimate("resnet-50", hw, prec, b) for b in (1, 2, 4, 8, 16, 32, 64)]
        lat = [e.latency_ms for e in es]
        thr = [e.throughput_per_s for e in es]
        assert all(b >= a for a, b in zip(lat, lat[1:])), (hw, lat)
        assert all(b > a for a, b in zip(thr, thr[1:])), (hw, thr)


def test_int8_is_faster_than_fp32_on_gpus_and_training_needs_more_memory():
    for hw in ("t4", "l4", "a100-80gb", "h100-sxm", "jetson-orin-nano-8gb", "jetson-agx-orin-64gb"):
        for model in ("resnet-50", "bert-base"):
            assert planner.estimate(model, hw, "int8", 8).latency_ms < planner.estimate(model, hw, "fp32", 8).latency_ms
    for model in ("resnet-18", "bert-base", "yolov8n"):
        inf = planner.estimate(model, "a100-40gb", "fp16", 16)
        train = planner.estimate(model, "a100-40gb", "fp16", 16, training=True)
        assert train.memory_gb > inf.memory_gb and train.latency_ms > inf.latency_ms
        assert train.detail["optimizer_gb"] > 0 and train.detail["gradients_gb"] > 0


def test_a_7b_llm_at_fp16_does_not_fit_an_orin_nano():
    e = planner.estimate("llama-2-7b", "jetson-orin-nano-8gb", "fp16")
    assert not e.fits and e.memory_gb > 13
    assert planner.estimate("llama-2-7b", "a100-80gb", "fp16").fits
    assert e.detail["decode_ms_per_token"] > 0


def test_sources_say_how_each_figure_was_obtained():
    # devices with published rows in the fit are `calibrated`; a GPU without any (T4, MI300X) is
    # `transferred` from its group; a cloud TPU (no row of its group) stays `assumed`
    for hw in ("l4", "xeon-8592-2s", "coral-edgetpu", "hailo-8"):
        assert planner.estimate("resnet-50", hw, "int8").source == "calibrated"
    assert planner.estimate("resnet-50", "t4", "int8").source == "transferred"
    assert planner.estimate("resnet-50", "mi300x", "fp16").source == "transferred"
    assert planner.estimate("mobilenet-v2", "tpu-v5e", "int8").source == "assumed"
    for e in (planner.estimate("mobilenet-v2", "t4", "int8"), planner.estimate("bert-base", "hailo-8", "int8")):
        assert e.source in estimator.SOURCES


def test_errors_for_unknown_ids_and_unsupported_precisions():
    with pytest.raises(CatalogError):
        planner.estimate("resnet-5O", "l4")
    with pytest.raises(CatalogError):
        planner.estimate("resnet-50", "l5")
    with pytest.raises(PlannerError) as err:
        planner.estimate("resnet-50", "coral-edgetpu", "fp16")
    assert "coral-edgetpu" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(PlannerError):
        planner.estimate("resnet-50", "l4", "int8", training=True)
    with pytest.raises(PlannerError):
        planner.estimate("resnet-50", "l4", batch=0)


def _cpu_s(fn, repeats: int = 3) -> float:
    """CPU seconds `fn` costs this process, the least of `repeats` calls: CPU time rather than
    wall-clock, so other work loading a shared machine does not count against it."""
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


def test_estimates_are_deterministic_and_fast_after_the_first_call():
    a = planner.estimate("yolov5s", "t4", "fp16", 4)  # the first call builds the graph's table
    unseen = iter(range(1000, 1000 + 32 * 3))

    def new_batches() -> None:
        for _ in range(32):
            planner.estimate("yolov5s", "t4", "fp16", next(unseen))

    assert _cpu_s(new_batches) / 32 < 0.005  # a new batch is a few vector operations
    assert _cpu_s(lambda: [planner.estimate("yolov5s", "t4", "fp16", 4) for _ in range(200)]) / 200 < 1e-3
    assert a == planner.estimate("yolov5s", "t4", "fp16", 4)


def test_energy_is_power_times_time_and_within_the_device_envelope():
    hw = catalog.hardware("l4")
    e = planner.estimate("resnet-50", "l4", "int8", 32)
    assert hw.idle_w * e.latency_ms / 1e3 <= e.energy_j <= hw.tdp_w * e.latency_ms / 1e3 + 1e-12
    assert e.energy_j == pytest.approx(e.detail["power_w"] * e.latency_ms / 1e3)


def test_calibration_fits_the_mlperf_points():
    from planner.costs.calibration import calibrate

    cal = calibrate()
    s = cal.summary()
    assert s["points"] >= 10
    assert s["fit_median_abs_error"] < 0.25 and s["lodo_median_abs_error"] < 0.40
    e = planner.estimate("resnet-50", "l4", "int8", 1)
    assert e.latency_ms == pytest.approx(0.349, rel=0.5)  # MLPerf SingleStream: 0.349 ms


# -- profiles and the host ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def quick_profile(tmp_path_factory):
    from planner.costs.measure.profiler import profile

    return profile("test-box", quick=True, out_dir=tmp_path_factory.mktemp("profiles"))


@pytest.fixture
def profiles_in(monkeypatch):
    """Read profiles from a folder for one test (catalog and estimate caches cleared both ways)."""
    def use(folder) -> None:
        monkeypatch.setenv("PLANNER_PROFILE_DIR", str(folder))
        catalog.clear_caches()
        estimator.clear_caches()
    yield use
    monkeypatch.undo()
    catalog.clear_caches()
    estimator.clear_caches()


def test_quick_profile_writes_a_header_and_the_name_becomes_hardware(quick_profile, profiles_in):
    head = catalog.read_profile_header(quick_profile)
    for key in ("hardware", "processor", "cpu_id", "isa", "cores", "mem_gb", "mem_bw_gb_per_s", "peak_fp32_tflops",
                "date", "onnxruntime", "numpy", "python", "precisions", "tier"):
        assert head.get(key), key
    assert head["tier"] == "edge" and float(head["peak_fp32_tflops"]) > 0 and float(head["mem_bw_gb_per_s"]) > 0
    assert Machine.from_header(head) == this_machine()  # the machine it was taken on
    import pandas as pd

    df = pd.read_csv(quick_profile, comment="#")
    assert {"conv_kxk", "gemm", "conv_dw", "Softmax"} <= set(df["cls"]) and (df["us"] > 0).all()
    assert {"onnxruntime", "numpy"} <= set(df["runtime"])
    profiles_in(quick_profile.parent)
    assert "test-box" in catalog.hardware_ids()
    e = planner.estimate("mobilenet-v2", "test-box", "fp32", 2)
    assert e.source in ("interpolated", "extrapolated") and e.latency_ms > 0 and e.fits
    t = planner.estimate("resnet-18", "test-box", "fp32", 2, training=True)
    assert t.latency_ms > planner.estimate("resnet-18", "test-box", "fp32", 2).latency_ms
    with pytest.raises(PlannerError):
        planner.estimate("mobilenet-v2", "test-box", "int8")


def _profiled_gemm(profile, folder) -> tuple[object, int]:
    """(an ONNX file holding one GEMM of a shape `profile` timed, its batch: the GEMM's rows)."""
    import pandas as pd

    df = pd.read_csv(profile, comment="#")
    row = df[(df["cls"] == "gemm") & (df["op"] == "Gemm") & df["act"].isna()].iloc[0]
    net = Net("one-gemm")
    net.output(net.gemm(net.input("x", (int(row["m"]), int(row["kk"]))), int(row["nn"])))
    path = folder / "one-gemm.onnx"
    onnx.save(net.build(), path)
    return path, int(row["m"])


def test_quick_profile_interpolates_what_it_measured(quick_profile, profiles_in, tmp_path):
    """A GEMM of a shape the quick profile timed is `interpolated`, and no zoo model is priced
    from kernels nobody profiled (`assumed`)."""
    path, batch = _profiled_gemm(quick_profile, tmp_path)
    profiles_in(quick_profile.parent)
    assert planner.estimate(path, "test-box", batch=batch).source == "interpolated"
    for model_id in ("mobilenet-v2", "resnet-18", "bert-base", "yolov8n", "lstm-lm"):
        assert planner.estimate(model_id, "test-box").source != "assumed", model_id


def test_host_estimate_never_runs_the_model(quick_profile, profiles_in, monkeypatch, tmp_path):
    import onnxruntime

    net = Net("mlp")
    y = net.input("x", (4, 256))
    net.output(net.gemm(net.gemm(y, 512, act="relu"), 10))
    path = tmp_path / "mlp.onnx"
    onnx.save(net.build(), path)
    profiles_in(quick_profile.parent)

    def refuse(*a, **k):
        raise AssertionError("the estimator ran a session")
    monkeypatch.setattr(onnxruntime, "InferenceSession", refuse)
    e = planner.estimate(path, "test-box", batch=4)
    assert e.latency_ms > 0 and e.model == "mlp"


def test_predictors_do_not_import_the_measuring_tools(tmp_path):
    """Importing and calling the predictors loads neither `costs.measure` nor onnxruntime."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(planner.__file__).resolve().parent.parent
    code = ("import sys, planner\n"
            "from planner.costs import calibration, estimator, features, fusion, graphs, hostmodel, llm, nets, "
            "roofline, training, zoo\n"
            "planner.estimate('resnet-18', 'host'); planner.estimate('resnet-50', 'l4', 'int8')\n"
            "planner.estimate('llama-2-7b', 'a100-80gb', 'fp16'); planner.estimate('resnet-18', 'host', training=True)\n"
            "print(sorted(m for m in sys.modules if m.startswith(('planner.costs.measure', 'planner.costs.profiler', "
            "'onnxruntime'))))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root,
                       env={**__import__("os").environ, "PYTHONPATH": str(root)})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def _other_machine() -> Machine:
    here = this_machine()
    return Machine("Some Other CPU", "AuthenticAMD 25/1/1", "avx avx2 fma", str(int(here.cores) * 4), here.numpy,
                   here.onnxruntime)


def test_a_profile_is_of_this_machine_only_when_every_identity_field_matches():
    here = this_machine()
    assert here.differences(here) == []
    newer = Machine(here.processor, here.cpu_id, here.isa, here.cores, "99.0", "99.0")
    assert newer.differences(here) == []  # library versions are recorded, not compared
    other = _other_machine()
    assert [d.partition(":")[0] for d in other.differences(here)] == ["processor", "cpu_id", "isa", "cores"]
    # a profile older than the machine record (name and cores only) is not claimed to be of this one
    old = Machine.from_header({"processor": here.processor, "cores": here.cores})
    assert old.cpu_id == old.isa == UNKNOWN
    assert [d.partition(":")[0] for d in old.differences(here)] == ["cpu_id", "isa"]


def test_host_estimates_from_another_machines_profile_say_transferred(quick_profile, profiles_in, monkeypatch,
                                                                      tmp_path):
    import shutil

    from typer.testing import CliRunner

    from planner.cli import app

    shutil.copy(quick_profile, tmp_path / "host.csv")
    shutil.copy(quick_profile, tmp_path / "test-box.csv")
    gemm, batch = _profiled_gemm(quick_profile, tmp_path)
    profiles_in(tmp_path)
    here = planner.estimate(gemm, "host", batch=batch)
    assert here.source == "interpolated" and not here.note
    monkeypatch.setattr(estimator, "this_machine", _other_machine)
    estimator.clear_caches()
    moved = planner.estimate(gemm, "host", batch=batch)
    assert moved.source == "transferred" and "planner profile" in moved.note
    assert moved.latency_ms == here.latency_ms  # the label changes, not the figure
    # weaker labels stay (an extrapolated kernel is no better for being transferred); the note stays too
    resnet = planner.estimate("resnet-18", "host")
    assert resnet.source in ("transferred", "extrapolated") and resnet.note == moved.note
    assert planner.estimate("resnet-18", "host", training=True).note == moved.note
    assert estimator.estimate_part("resnet-18", "host", "fp32", 1, 0, 10).note == moved.note
    # a named profile describes the machine it was taken on, wherever it is read
    assert planner.estimate(gemm, "test-box", batch=batch).source == "interpolated"
    out = CliRunner().invoke(app, ["estimate", str(gemm), "host", "--batch", str(batch)])
    assert out.exit_code == 0 and "transferred" in out.output and "planner profile" in out.output


def test_committed_host_profile_says_which_machine_it_was_taken_on():
    """Every identity field is in the header, as recorded or as `unknown` (then never this machine)."""
    path = estimator.profile_path(catalog.hardware("host"))
    if path is None:
        pytest.skip("no host profile")
    head = catalog.read_profile_header(path)
    for key in ("processor", "cpu_id", "isa", "cores", "numpy", "onnxruntime"):
        assert head.get(key), key
    e = planner.estimate("resnet-18", "host")
    on_this_machine = not Machine.from_header(head).differences(this_machine())
    assert (e.source == "transferred") == (not on_this_machine)


#: `planner.estimate(<bench/fidelity.py's model file>, "host", batch)` (ms) from the committed
#: profile, as the code of 2026-11-22 (56e18cb) gave them when `python bench/fidelity.py` measured
#: the host model at 5.2% median error on this machine (bench/README.md). The model is pinned to
#: them: the machine's speed drifts too much to re-measure that in a test, so a change that
#: moves these must run the bench again on quiet cores and pin its figures here.
HOST_MS_AS_MEASURED = {("resnet-18", 1): 11.9365, ("mobilenet-v2", 8): 21.6938, ("distilbert", 1): 44.3396,
                       ("lstm-lm", 1): 9.5078, ("mlp", 8): 5.2435, ("yolov8n", 1): 35.4432}


def test_host_estimates_stay_those_measured_to_five_percent(tmp_path):
    path = estimator.profile_path(catalog.hardware("host"))
    if path is None or catalog.read_profile_header(path).get("date") != "2026-11-22":
        pytest.skip("not the committed 2026-11-22 host profile")
    for (model, batch), ms in HOST_MS_AS_MEASURED.items():
        f = tmp_path / f"{model}_b{batch}.onnx"  # built as the bench builds it
        onnx.save(zoo.build(model, batch, weights="random", seed=1), str(f))
        assert planner.estimate(f, "host", batch=batch).latency_ms == pytest.approx(ms, abs=1e-4), (model, batch)


def test_measure_times_the_model_on_this_machine(tmp_path):
    net = Net("tiny")
    x = net.input("x", (1, 64))
    net.output(net.gemm(x, 64, act="relu"))
    path = tmp_path / "tiny.onnx"
    onnx.save(net.build(), path)
    e = planner.estimate(path, "host", measure=True)
    assert e.source == "measured" and 0 < e.latency_ms < 50
    with pytest.raises(PlannerError):
        planner.estimate(path, "l4", measure=True)


def side_by_side_ms(paths, rounds: int = 7) -> list[list[float]]:
    """Median latency (ms) of each model in each round, the models timed one after another in
    every round: a burst of other work slows the models of a round alike, so their ratio holds
    where their absolute times do not."""
    from planner.costs.measure.quiet import QuietGate
    from planner.costs.measure.session import feeds, session, time_session

    sessions = [session(str(p)) for p in paths]
    inputs = [feeds(s) for s in sessions]
    QuietGate(max_wait_s=10.0).wait()  # idle cores if they come soon; the ratios do not depend on it
    out = []
    for _ in range(rounds):
        out.append([float(np.median(time_session(s, x, min_runs=5, min_s=0.1, max_runs=50))) * 1e3
                    for s, x in zip(sessions, inputs)])
    return out


@pytest.mark.slow
def test_host_prediction_tracks_measurement(tmp_path):
    """The host profile's predictions against runs on this machine, robust to other work on it:
    each model is timed side by side with a reference model (`side_by_side_ms`), and its ratio
    predicted / measured is compared with the reference's, so a slowdown both share cancels."""
    if catalog.hardware("host").source.startswith("live"):
        pytest.skip("no host profile")
    models = {"reference": ("resnet-50", 1), "model": ("resnet-18", 1), "mobile": ("mobilenet-v2", 1)}
    paths, predicted = {}, {}
    for key, (model_id, batch) in models.items():
        paths[key] = tmp_path / f"{model_id}.onnx"
        onnx.save(zoo.build(model_id, batch, weights="random"), paths[key])
        e = planner.estimate(paths[key], "host", batch=batch)
        assert math.isfinite(e.energy_j) and e.source in ("interpolated", "extrapolated", "transferred")
        predicted[key] = e.latency_ms
    rounds = side_by_side_ms(list(paths.values()))
    for j, key in enumerate(list(paths)[1:], start=1):
        measured_ratio = float(np.median([r[j] / r[0] for r in rounds]))
        predicted_ratio = predicted[key] / predicted["reference"]
        assert predicted_ratio == pytest.approx(measured_ratio, rel=0.35), (key, predicted_ratio, measured_ratio, rounds)
