"""The catalogs match the facts they cite, say how every other value was obtained, and look up ids."""
from __future__ import annotations

import math
import os
import re
from pathlib import Path

import pandas as pd
import pytest

from planner import catalog
from planner.catalog import PRECISIONS, basis_fields
from planner.errors import CatalogError
from planner.paths import data_dir

# The shared facts beside the checkout when present (they are the source of truth), else the
# copy the repository keeps in data/facts/ (a test below checks the two agree).
SHARED_FACTS = Path(__file__).resolve().parents[2] / "shared" / "facts"
REPO_FACTS = Path(__file__).resolve().parents[1] / "data" / "facts"
FACTS = Path(os.environ.get("PLANNER_FACTS_DIR", SHARED_FACTS if SHARED_FACTS.is_dir() else REPO_FACTS))
needs_facts = pytest.mark.skipif(not FACTS.is_dir(), reason=f"facts folder {FACTS} not present")


@pytest.mark.skipif(not SHARED_FACTS.is_dir(), reason="no shared facts beside this checkout")
def test_repo_copy_of_facts_is_current():
    for f in SHARED_FACTS.glob("*.csv"):
        assert (REPO_FACTS / f.name).read_bytes() == f.read_bytes(), f"data/facts/{f.name} is stale: copy it again"

# DESIGN.md, "Catalog ids"
HARDWARE_IDS = ["jetson-orin-nano-8gb", "jetson-orin-nx-16gb", "jetson-agx-orin-64gb", "jetson-xavier-nx", "coral-edgetpu",
                "hailo-8", "raspberry-pi-5", "xeon-8592-2s", "t4", "l4", "a10g", "a100-40gb", "a100-80gb", "h100-sxm",
                "h100-pcie", "h200", "l40s", "mi300x", "tpu-v5e"]
NETWORK_IDS = ["lte", "5g", "5g-mmwave", "wifi-6", "ethernet-1g", "ethernet-10g", "fiber-wan", "broadband", "starlink",
               "geo-satellite"]
MODEL_IDS = ["mobilenet-v2", "resnet-18", "resnet-50", "efficientnet-b0", "yolov8n", "yolov5s", "bert-base", "distilbert",
             "whisper-tiny", "whisper-base", "llama-2-7b", "llama-3-8b", "gpt-j-6b", "llama-2-70b", "llama-3.2-1b",
             "yolov8s", "yolov8m"]

# catalog id -> `name` of the facts row it is built from
EDGE_ROWS = {
    "jetson-orin-nano-8gb": "NVIDIA Jetson Orin Nano 8GB (original 7W/15W modes)",
    "jetson-orin-nx-16gb": "NVIDIA Jetson Orin NX 16GB",
    "jetson-agx-orin-64gb": "NVIDIA Jetson AGX Orin 64GB",
    "jetson-xavier-nx": "NVIDIA Jetson Xavier NX 8GB",
    "coral-edgetpu": "Google Coral USB Accelerator (1x Edge TPU)",
    "hailo-8": "Hailo-8 M.2 AI accelerator",
    "raspberry-pi-5": "Raspberry Pi 5 (BCM2712, 4x Cortex-A76 @2.4 GHz)",
    "xeon-8592-2s": 'Intel Xeon Platinum 8592+ (5th gen Xeon "Emerald Rapids", 64 cores) - 2-socket server',
}
CLOUD_ROWS = {
    "t4": "NVIDIA T4", "l4": "NVIDIA L4", "a10g": "NVIDIA A10G (AWS variant of A10)",
    "a100-40gb": "NVIDIA A100 40GB SXM4", "a100-80gb": "NVIDIA A100 80GB SXM4", "h100-sxm": "NVIDIA H100 SXM5 80GB",
    "h100-pcie": "NVIDIA H100 PCIe 80GB", "h200": "NVIDIA H200 SXM 141GB", "l40s": "NVIDIA L40S 48GB",
    "mi300x": "AMD Instinct MI300X 192GB", "tpu-v5e": "Google Cloud TPU v5e (per chip)",
}
NETWORK_ROWS = {
    "lte": "LTE / 4G smartphone (US, all networks, Q1 2019)",
    "5g": "5G (sub-6 dominated) global median, Q3 2021",
    "5g-mmwave": "5G mmWave (Verizon, US, Mar-Jun 2021)",
    "wifi-6": "Wi-Fi 6 (802.11ax)",
    "ethernet-1g": "1 GbE LAN (1000BASE-T)",
    "ethernet-10g": "10 GbE LAN (10GBASE-T / SFP+)",
    "fiber-wan": "WAN / internet to nearest cloud region (countries with an in-country region)",
    "broadband": "Fixed broadband, US all providers (Q2 2021)",
    "starlink": "Starlink LEO satellite (US, Q2 2021)",
    "geo-satellite": "GEO satellite - HughesNet (US, Q2 2021)",
}
MODEL_ROWS = {
    "mobilenet-v2": "MobileNetV2 (torchvision IMAGENET1K_V1)",
    "resnet-18": "ResNet-18 (torchvision IMAGENET1K_V1)",
    "resnet-50": "ResNet-50 v1.5 (torchvision IMAGENET1K_V1; same arch as MLPerf resnet50)",
    "efficientnet-b0": "EfficientNet-B0 (torchvision IMAGENET1K_V1)",
    "yolov8n": "YOLOv8n (Ultralytics, COCO)", "yolov5s": "YOLOv5s v6.2 (Ultralytics, COCO)",
    "bert-base": "BERT-base uncased", "distilbert": "DistilBERT base uncased",
    "whisper-tiny": "Whisper tiny", "whisper-base": "Whisper base",
    "llama-2-7b": "Llama-2-7B", "llama-3-8b": "Llama-3-8B",
    # None: the facts file has no row for the model (see test_models_without_a_facts_row_derive_or_quote_each_value)
    "gpt-j-6b": None, "llama-2-70b": None, "llama-3.2-1b": None, "yolov8s": None, "yolov8m": None,
}
# catalog column -> facts column
EDGE_FIELDS = {"kind": "kind", "peak_fp32_tflops": "peak_fp32_tflops", "peak_fp16_tflops": "peak_fp16_tflops",
               "peak_int8_tops": "peak_int8_tops", "mem_gb": "mem_gb", "mem_bw_gb_per_s": "mem_bw_gbps",
               "tdp_w": "tdp_w", "price_usd": "price_usd"}
CLOUD_FIELDS = {"peak_fp32_tflops": "peak_fp32_tflops", "peak_fp16_tflops": "peak_fp16_tflops",
                "peak_bf16_tflops": "peak_bf16_tflops", "peak_int8_tops": "peak_int8_tops", "mem_gb": "mem_gb",
                "mem_bw_gb_per_s": "mem_bw_gbps", "tdp_w": "tdp_w", "instance": "example_instance"}
NETWORK_FIELDS = {"downlink_mbps": "downlink_mbps", "uplink_mbps": "uplink_mbps", "rtt_ms": "rtt_ms"}
MODEL_FIELDS = {"params_millions": "params_millions", "gflops": "gflops_per_inference",
                "input_shape": "typical_input_size", "input_bytes": "typical_input_bytes"}


def _facts(name: str) -> dict[str, dict]:
    df = pd.read_csv(FACTS / name, dtype=str, keep_default_na=False)
    key = "name" if "name" in df.columns else df.columns[0]
    return {r[key]: r for r in df.to_dict("records")}


def _data(name: str) -> pd.DataFrame:
    return pd.read_csv(data_dir() / f"{name}.csv", dtype=str, keep_default_na=False).set_index("id", drop=False)


def _leading_number(text: str) -> float | None:
    """The first number in a facts cell ('2.5 (typical)' -> 2.5, '1,979' -> 1979); None when empty."""
    m = re.search(r"\d[\d,]*(?:\.\d+)?", text)
    return float(m.group().replace(",", "")) if m else None


def _check_sourced(catalog_file: str, rows: dict[str, str], facts_file: str, fields: dict[str, str]) -> int:
    """Every field the basis leaves sourced equals the facts cell; returns how many values were compared."""
    data, facts, compared = _data(catalog_file), _facts(facts_file), 0
    for cid, fact_name in rows.items():
        row, fact = data.loc[cid], facts[fact_name]
        assert fact["source"] in row["source"], f"{cid}: source does not cite its facts row"
        marked = basis_fields(row["basis"])
        for ours, theirs in fields.items():
            if ours in marked:
                continue
            mine, given = row[ours].strip(), fact[theirs].strip()
            if not mine or not given:
                assert mine == given == "", f"{cid}.{ours}: '{mine}' vs facts '{given}' but basis calls it sourced"
            elif _leading_number(mine) is not None and re.fullmatch(r"[\d.]+", mine):
                assert math.isclose(float(mine), _leading_number(given), rel_tol=1e-9), f"{cid}.{ours}: {mine} vs {given}"
            else:
                assert mine == given, f"{cid}.{ours}: '{mine}' vs facts '{given}'"
            compared += 1
    return compared


# ---------------------------------------------------------------- facts agreement
@needs_facts
def test_hardware_rows_match_edge_facts():
    assert _check_sourced("hardware", EDGE_ROWS, "edge_devices.csv", EDGE_FIELDS) >= 31


@needs_facts
def test_hardware_rows_match_cloud_facts():
    assert _check_sourced("hardware", CLOUD_ROWS, "cloud_gpus.csv", CLOUD_FIELDS) >= 81


@needs_facts
def test_network_rows_match_facts():
    assert _check_sourced("networks", NETWORK_ROWS, "networks.csv", NETWORK_FIELDS) >= 19


@needs_facts
def test_model_rows_match_facts():
    rows = {cid: name for cid, name in MODEL_ROWS.items() if name is not None}
    assert _check_sourced("models", rows, "models.csv", MODEL_FIELDS) >= 26


@needs_facts
def test_models_without_a_facts_row_derive_or_quote_each_value():
    """A model the facts file lacks has nothing there to be checked against: each field the facts would check
    is marked derived or assumed in its basis, except a parameter count quoted exactly in its own source."""
    facts, data = _facts("models.csv"), _data("models")
    missing = [cid for cid, name in MODEL_ROWS.items() if name is None]
    assert missing == ["gpt-j-6b", "llama-2-70b", "llama-3.2-1b", "yolov8s", "yolov8m"]
    for cid in missing:
        row = data.loc[cid]
        assert not any(row["name"].lower() in name.lower() for name in facts), f"{cid}: facts has a row, cite it"
        marked = basis_fields(row["basis"])
        for field in MODEL_FIELDS:
            if field in marked:
                continue
            assert field == "params_millions", f"{cid}.{field}: called sourced, but no facts row holds it"
            count = round(float(row[field]) * 1e6)
            assert str(count) in row["source"], f"{cid}: sourced parameter count {count} is not quoted in its source"


@needs_facts
def test_fiber_wan_cites_both_rows():
    src = catalog.network("fiber-wan").source
    assert _facts("networks.csv")["Metro / long-haul fiber propagation"]["source"] in src


@needs_facts
def test_cloud_price_is_instance_price_per_accelerator():
    facts = _facts("cloud_gpus.csv")
    checked = 0
    for cid, name in CLOUD_ROWS.items():
        f, hw = facts[name], catalog.hardware(cid)
        if f["on_demand_usd_per_hour"]:
            assert basis_fields(hw.basis)["usd_per_hour"] == "derived"
            expected = float(f["on_demand_usd_per_hour"]) / int(f["instance_gpus"])
            assert hw.usd_per_hour == pytest.approx(expected, rel=1e-6), cid
            checked += 1
        else:
            assert basis_fields(hw.basis)["usd_per_hour"] == "assumed", cid
        assert hw.usd_per_hour > 0
    assert checked == 8
    assert catalog.hardware("h100-sxm").usd_per_hour == pytest.approx(55.04 / 8)


@needs_facts
def test_cnn_flops_are_twice_torchvision_macs():
    facts = _facts("models.csv")
    for cid in ("mobilenet-v2", "resnet-18", "resnet-50", "efficientnet-b0"):
        macs = float(facts[MODEL_ROWS[cid]]["gflops_per_inference"])
        assert catalog.model(cid).gflops == pytest.approx(2 * macs), cid
        assert basis_fields(catalog.model(cid).basis)["gflops"] == "derived"


@needs_facts
def test_prices_match_facts():
    facts = pd.read_csv(FACTS / "cloud_transfer_prices.csv", dtype=str, keep_default_na=False)
    usd = {(r["provider"], r["direction"]): float(r["usd_per_gb"]) for r in facts.to_dict("records")}
    assert catalog.egress_usd_per_gb("aws") == usd[("AWS", "internet egress (data transfer out)")]
    assert catalog.egress_usd_per_gb("gcp") == usd[("GCP", "internet egress, Premium Tier")]
    assert catalog.egress_usd_per_gb("gcp-standard") == usd[("GCP", "internet egress, Standard Tier")]
    assert catalog.egress_usd_per_gb("azure") == usd[("Azure", "internet egress")]
    assert catalog.price("inter_region_aws_usd_per_gb") == usd[("AWS", "inter-region")]
    assert catalog.price("ingress_usd_per_gb") == 0.0


@needs_facts
def test_mlperf_calibration_is_the_facts_file():
    assert (data_dir() / "mlperf_calibration.csv").read_bytes() == (FACTS / "mlperf_calibration.csv").read_bytes()


# ---------------------------------------------------------------- completeness and provenance
def test_every_design_id_is_present():
    assert catalog.hardware_ids()[: len(HARDWARE_IDS)] == HARDWARE_IDS
    assert "host" in catalog.hardware_ids()
    assert catalog.network_ids() == NETWORK_IDS
    assert catalog.model_ids() == MODEL_IDS


@pytest.mark.parametrize("kind", ["hardware", "networks", "models", "prices"])
def test_every_row_has_source_and_a_well_formed_basis(kind):
    df = pd.read_csv(data_dir() / f"{kind}.csv", dtype=str, keep_default_na=False)
    for row in df.to_dict("records"):
        who = row.get("id") or row["key"]
        assert row["source"].strip(), f"{kind}/{who}: empty source"
        assert row["basis"].strip(), f"{kind}/{who}: empty basis"
        if row["basis"] == "sourced":
            continue
        for clause in row["basis"].split(";"):
            assert re.match(r"\s*[a-z0-9_]+(\s*,\s*[a-z0-9_]+)*\s+(derived|assumed):", clause), f"{kind}/{who}: '{clause}'"
        assert set(basis_fields(row["basis"])) <= set(df.columns), f"{kind}/{who}: basis names an unknown column"


def test_every_filled_gap_is_marked():
    hw = catalog.hardware("jetson-orin-nano-8gb")
    marks = basis_fields(hw.basis)
    assert marks["peak_fp32_tflops"] == "derived" and marks["tdp_w"] == "derived" and marks["idle_w"] == "assumed"
    assert hw.tdp_w == 15  # upper end of 7-15 W
    assert hw.peak_tflops["fp32"] == pytest.approx(1024 * 0.625 * 2 / 1000)
    assert basis_fields(catalog.hardware("tpu-v5e").basis)["usd_per_hour"] == "assumed"
    assert basis_fields(catalog.hardware("a10g").basis)["peak_fp16_tflops"] == "assumed"
    assert catalog.hardware("raspberry-pi-5").mem_bw_gb_per_s == pytest.approx(4267 * 4 / 1000, abs=0.01)
    assert catalog.hardware("xeon-8592-2s").mem_bw_gb_per_s == pytest.approx(2 * 8 * 5600 * 8 / 1000)
    lte = catalog.network("lte")
    assert lte.rtt_ms == pytest.approx((44.1 + 66.4) / 2) and basis_fields(lte.basis)["rtt_ms"] == "derived"
    for nid in NETWORK_IDS:  # no source gives jitter or loss
        marks = basis_fields(catalog.network(nid).basis)
        assert marks["jitter_ms"] == marks["loss_pct"] == "assumed", nid
    for key in ("electricity_usd_per_kwh", "amortisation_months"):
        assert "assumed" in catalog.table("prices").set_index("key").loc[key, "basis"]
    assert catalog.price("electricity_usd_per_kwh") == 0.15 and catalog.price("amortisation_months") == 36


def test_every_cloud_row_has_an_hourly_price_and_every_edge_row_a_purchase_price():
    for hid in HARDWARE_IDS:
        hw = catalog.hardware(hid)
        if hw.tier == "cloud":
            assert hw.usd_per_hour and hw.usd_per_hour > 0, hid
        else:
            assert hw.tier == "edge" and hw.price_usd and hw.price_usd > 0, hid
        assert hw.kind in ("gpu", "cpu", "tpu", "npu"), hid
        assert 0 < hw.idle_w < hw.tdp_w and hw.mem_gb > 0 and hw.mem_bw_gb_per_s > 0, hid


# ---------------------------------------------------------------- hardware semantics
def test_peaks_are_dense_not_sparse():
    assert catalog.hardware("l4").peak_tflops["int8"] == 242.5
    assert catalog.hardware("jetson-agx-orin-64gb").peak_tflops["int8"] == 85
    assert catalog.hardware("h100-sxm").peak_tflops["fp16"] == 989
    assert catalog.hardware("a100-40gb").peak_tflops["int8"] == 624


@pytest.mark.parametrize("hid", HARDWARE_IDS + ["host"])
def test_precisions_are_nonempty_and_ordered(hid):
    hw = catalog.hardware(hid)
    assert hw.precisions, hid
    assert list(hw.precisions) == [p for p in PRECISIONS if p in hw.precisions]
    # fp8 runs where a row has its peak, asked for by name; the planner enumerates the others
    assert set(hw.precisions) == set(hw.peak_tflops) - set(catalog.BY_NAME_PRECISIONS)
    assert all(v > 0 for v in hw.peak_tflops.values())


def test_precision_sets_follow_the_hardware():
    assert catalog.hardware("coral-edgetpu").precisions == ("int8",)
    assert catalog.hardware("hailo-8").precisions == ("int8",)
    assert "bf16" not in catalog.hardware("t4").precisions and "int4" in catalog.hardware("t4").precisions
    assert catalog.hardware("tpu-v5e").precisions == ("bf16", "int8")


def test_hardware_is_hashable_and_shows_its_state():
    l4 = catalog.hardware("l4")
    assert {l4: 1}[catalog.hardware("l4")] == 1
    text = repr(l4)
    assert "l4" in text and "121" in text and "242.5" in text and "24 GB" in text and "300 GB/s" in text


def test_models_and_networks_are_typed():
    bert = catalog.model("bert-base")
    assert bert.default_seq_len == 128 and isinstance(bert.input_bytes, int) and bert.gflops > 20
    assert catalog.model("resnet-50").default_seq_len is None
    assert catalog.model("llama-2-7b").params_millions == pytest.approx(6738.415616)
    assert catalog.network("geo-satellite").rtt_ms == 724 and catalog.network("geo-satellite").medium == "satellite"


# layers, d_model, heads, kv_heads, ffn, vocab, gated (SwiGLU) FFN: from each model's config (see data/models.csv)
LLM_ARCH = {"llama-2-7b": (32, 4096, 32, 32, 11008, 32000, True), "llama-3-8b": (32, 4096, 32, 8, 14336, 128256, True),
            "gpt-j-6b": (28, 4096, 16, 16, 16384, 50400, False), "llama-2-70b": (80, 8192, 64, 8, 28672, 32000, True),
            "llama-3.2-1b": (16, 2048, 32, 8, 8192, 128256, True)}


def test_added_llms_params_and_prefill_flops():
    assert catalog.model("llama-2-70b").params_millions == pytest.approx(68976.648192)
    assert catalog.model("llama-3.2-1b").params_millions == pytest.approx(1235.8144)
    assert catalog.model("gpt-j-6b").params_millions == pytest.approx(6053.381344)  # EleutherAI's model card
    assert {m.id for m in map(catalog.model, catalog.model_ids()) if m.family == "llm"} == set(LLM_ARCH)
    for mid, (layers, d, heads, kv_heads, ffn, vocab, gated) in LLM_ARCH.items():
        m, seq, head_dim = catalog.model(mid), 512, d // heads
        assert (m.default_seq_len, m.input_bytes, m.output_bytes) == (seq, seq * 8, 512), mid
        # 2 x tokens x (layer matmul weights + LM head) + 4 x layers x tokens^2 x d (scores and weighted sum)
        layer = 2 * d * d + 2 * d * kv_heads * head_dim + (3 if gated else 2) * d * ffn
        flops = 2 * seq * (layers * layer + d * vocab) + 4 * layers * seq**2 * d
        assert m.gflops == pytest.approx(flops / 1e9, abs=0.05), mid


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize("lookup, key, hint", [
    (catalog.hardware, "jetson-orin-nx", "jetson-orin-nx-16gb"),
    (catalog.hardware, "l40", "l40s"),
    (catalog.network, "wifi6", "wifi-6"),
    (catalog.model, "resnet50", "resnet-50"),
    (catalog.price, "electricity_usd_per_kw", "electricity_usd_per_kwh"),
])
def test_unknown_id_raises_with_a_hint(lookup, key, hint):
    with pytest.raises(CatalogError) as err:
        lookup(key)
    assert err.value.key == key and f"did you mean '{hint}'?" in str(err.value)
    assert isinstance(err.value, KeyError)


def test_unknown_provider_and_table_kind():
    with pytest.raises(CatalogError):
        catalog.egress_usd_per_gb("oracle")
    with pytest.raises(CatalogError, match="did you mean 'models'"):
        catalog.table("model")


@pytest.mark.parametrize("kind", ["hardware", "networks", "models"])
def test_table_has_basis_and_source(kind):
    df = catalog.table(kind)
    assert {"id", "basis", "source"} <= set(df.columns) and len(df) >= 10
    assert df["source"].map(bool).all()


# ---------------------------------------------------------------- host and profiles
@pytest.fixture
def profiles(tmp_path, monkeypatch):
    monkeypatch.setenv("PLANNER_PROFILE_DIR", str(tmp_path))
    catalog.clear_caches()
    yield tmp_path
    catalog.clear_caches()


def test_host_without_profile_is_read_live(profiles):
    host = catalog.hardware("host")
    cores = os.cpu_count()
    assert host.basis.startswith("assumed: no profile yet; run planner profile")
    assert host.kind == "cpu" and host.precisions == ("fp32",)
    assert host.peak_tflops["fp32"] == pytest.approx(cores * 2.5e9 * 32 / 1e12)
    assert host.mem_bw_gb_per_s == 20 and host.mem_gb > 0.1
    assert catalog.hardware_ids()[-1] == "host"
    assert catalog.table("hardware")["id"].iloc[-1] == "host"


PROFILE = """# hardware: host
# processor: Test CPU 9000
# cores: 8
# mem_gb: 32
# mem_bw_gb_per_s: 41.5
# peak_fp32_tflops: 1.2
# peak_int8_tops: 4.8
# date: 2026-01-30
op,shape,precision,ms
gemm,1024x1024x1024,fp32,2.5
"""


def test_host_from_its_profile(profiles):
    (profiles / "host.csv").write_text(PROFILE)
    assert catalog.read_profile_header(profiles / "host.csv")["processor"] == "Test CPU 9000"
    assert "op,shape" not in str(catalog.read_profile_header(profiles / "host.csv"))
    host = catalog.hardware("host")
    assert host.basis.startswith("measured (profile)") and host.source == f"profile {profiles / 'host.csv'}"
    assert host.precisions == ("fp32", "int8") and host.peak_tflops == {"fp32": 1.2, "int8": 4.8}
    assert (host.mem_gb, host.mem_bw_gb_per_s, host.tier, host.kind) == (32, 41.5, "edge", "cpu")
    assert host.tdp_w > host.idle_w > 0 and "tdp_w" in basis_fields(host.basis)


def test_named_profile_is_hardware(profiles):
    text = PROFILE.replace("# date", "# tier: cloud\n# kind: gpu\n# tdp_w: 300\n# peak_fp16_tflops: 60\n# date")
    (profiles / "lab-gpu.csv").write_text(text)
    assert "lab-gpu" in catalog.hardware_ids() and "host" in catalog.hardware_ids()
    lab = catalog.hardware("lab-gpu")
    assert (lab.id, lab.tier, lab.kind, lab.tdp_w) == ("lab-gpu", "cloud", "gpu", 300)
    assert lab.precisions == ("fp32", "fp16", "int8") and "tdp_w" not in basis_fields(lab.basis)
    assert catalog.hardware("host").basis.startswith("assumed")  # host still has no profile
    assert "lab-gpu" in set(catalog.table("hardware")["id"])


def test_rewritten_profile_is_reread(profiles):
    path = profiles / "host.csv"
    path.write_text(PROFILE)
    assert catalog.hardware("host").mem_bw_gb_per_s == 41.5
    path.write_text(PROFILE.replace("41.5", "50"))
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    assert catalog.hardware("host").mem_bw_gb_per_s == 50
