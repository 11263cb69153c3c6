"""Hardware, networks, models and prices from `data/*.csv`, and this machine from its kernel profile.

Every catalog row carries `source` (where its figures come from) and `basis`: ``sourced`` when every
figure is copied from the source, otherwise ``;``-separated clauses ``FIELD[, FIELD] derived: how`` or
``FIELD assumed: why`` naming each value that is not a copy (`basis_fields` parses them).

Hardware ids are the catalog rows, plus ``host`` (this machine) and one per kernel profile
``<profile_dir>/<name>.csv``. A profile starts with ``# key: value`` comment lines (`read_profile_header`);
a profile named like a catalog row does not replace the row.
"""
from __future__ import annotations

import os
import platform
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pandas as pd

from planner.errors import CatalogError, PlannerError
from planner.paths import data_dir, profile_dir

PRECISIONS = ("fp32", "fp16", "bf16", "int8", "int4")
#: precisions a device runs where its row has a peak, priced when asked for by name
#: (`estimate(..., precision="fp8")`, `llm_cost`, a KV cache, a workload's `precisions: [fp8, ...]`)
#: but not among those the planner tries for a workload that names none
BY_NAME_PRECISIONS = ("fp8",)
#: CSV / profile column holding the dense peak of each precision (TFLOPS for floats, TOPS for ints).
PEAK_COLUMNS = {"fp32": "peak_fp32_tflops", "fp16": "peak_fp16_tflops", "bf16": "peak_bf16_tflops",
                "int8": "peak_int8_tops", "int4": "peak_int4_tops", "fp8": "peak_fp8_tflops"}
#: idle power as a fraction of TDP where no better figure exists (assumed; see data/hardware.csv).
IDLE_FRACTION = {"edge": 0.25, "cloud": 0.15}
HOST = "host"


@dataclass(frozen=True)
class Hardware:
    """One accelerator or CPU (per device; cloud prices per accelerator)."""

    id: str
    name: str
    kind: str  # gpu | cpu | tpu | npu
    tier: str  # edge | cloud
    peak_tflops: Mapping[str, float]  # precision -> dense TFLOPS/TOPS, only the precisions it runs
    mem_gb: float
    mem_bw_gb_per_s: float
    tdp_w: float
    idle_w: float
    price_usd: float | None  # purchase price (edge)
    usd_per_hour: float | None  # on-demand price per accelerator (cloud)
    source: str
    basis: str
    instance: str = ""  # the cloud instance the price comes from

    @property
    def precisions(self) -> tuple[str, ...]:
        """The precisions this hardware runs, in `PRECISIONS` order."""
        return tuple(p for p in PRECISIONS if p in self.peak_tflops)

    def __hash__(self) -> int:  # peak_tflops is a dict; equal objects share id and name
        return hash((self.id, self.name))

    def __repr__(self) -> str:
        def peak(p: str, unit: str) -> str:
            return f"{p} {self.peak_tflops[p]:g} {unit}" if p in self.peak_tflops else f"no {p}"
        return (f"Hardware({self.id}: {peak('fp16', 'TFLOPS')}, {peak('int8', 'TOPS')}, "
                f"{self.mem_gb:g} GB, {self.mem_bw_gb_per_s:g} GB/s)")


@dataclass(frozen=True)
class Network:
    """Default figures of one kind of link (a scenario's link may override any of them)."""

    id: str
    name: str
    downlink_mbps: float
    uplink_mbps: float
    rtt_ms: float
    jitter_ms: float
    loss_pct: float
    medium: str  # wired | wireless | satellite
    source: str
    basis: str


@dataclass(frozen=True)
class ModelInfo:
    """A zoo model at its typical input; `gflops` are real FLOPs (2 x MACs) per inference."""

    id: str
    name: str
    family: str  # cnn | detector | encoder | speech | llm
    params_millions: float
    gflops: float
    input_shape: str
    input_bytes: int
    output_bytes: int
    default_seq_len: int | None  # tokens per request for encoders and LLMs (prompt length)
    max_context: int | None  # language models: prompt + output tokens the model was trained for
    source: str
    basis: str
    variant_family: str | None = None  # the family a workload may name to let the planner pick the variant


# ------------------------------------------------------------------------------------ loading
@cache
def _frame(name: str) -> pd.DataFrame:
    """data/<name>.csv, read once (empty cells are NaN)."""
    return pd.read_csv(data_dir() / f"{name}.csv", dtype={"id": str, "key": str})


def _records(name: str) -> list[dict]:
    """The rows of data/<name>.csv with empty cells as None."""
    df = _frame(name)
    return df.astype(object).where(df.notna(), None).to_dict("records")


def _num(value: object) -> float | None:
    return None if value is None or (isinstance(value, float) and pd.isna(value)) else float(value)


@cache
def _hardware_rows() -> dict[str, Hardware]:
    rows = {}
    for r in _records("hardware"):
        peaks = {p: float(r[c]) for p, c in PEAK_COLUMNS.items() if _num(r[c]) is not None}
        rows[r["id"]] = Hardware(
            id=r["id"], name=r["name"], kind=r["kind"], tier=r["tier"], peak_tflops=peaks,
            mem_gb=float(r["mem_gb"]), mem_bw_gb_per_s=float(r["mem_bw_gb_per_s"]), tdp_w=float(r["tdp_w"]),
            idle_w=float(r["idle_w"]), price_usd=_num(r["price_usd"]), usd_per_hour=_num(r["usd_per_hour"]),
            source=r["source"], basis=r["basis"], instance=r["instance"] or "")
    return rows


@cache
def _network_rows() -> dict[str, Network]:
    text = ("id", "name", "medium", "source", "basis")
    return {r["id"]: Network(**{k: r[k] if k in text else float(r[k]) for k in Network.__dataclass_fields__})
            for r in _records("networks")}


@cache
def _model_rows() -> dict[str, ModelInfo]:
    rows = {}
    for r in _records("models"):
        seq, ctx = _num(r["default_seq_len"]), _num(r["max_context"])
        rows[r["id"]] = ModelInfo(
            id=r["id"], name=r["name"], family=r["family"], params_millions=float(r["params_millions"]),
            gflops=float(r["gflops"]), input_shape=r["input_shape"], input_bytes=int(r["input_bytes"]),
            output_bytes=int(r["output_bytes"]), default_seq_len=None if seq is None else int(seq),
            max_context=None if ctx is None else int(ctx),
            source=r["source"], basis=r["basis"], variant_family=r["variant_family"] or None)
    return rows


@cache
def _prices() -> dict[str, float]:
    return {r["key"]: float(r["value"]) for r in _records("prices")}


@dataclass(frozen=True)
class Grid:
    """The yearly mean carbon intensity of the electricity a place draws: a cloud provider's
    region id (`provider` set) or a country / grid zone code (`provider` empty), from data/grid.csv."""

    zone: str
    provider: str
    gco2e_per_kwh: float
    year: int
    source: str
    basis: str


@cache
def _grid_rows() -> dict[str, Grid]:
    return {r["zone"]: Grid(r["zone"], r["provider"] or "", float(r["gco2e_per_kwh"]), int(r["year"]),
                            r["source"], r["basis"] or "") for r in _records("grid")}


#: How cloud instances may be bought, in the order the scenario format lists them.
PRICING_MODELS = ("on_demand", "spot", "reserved_1y", "reserved_3y")


@dataclass(frozen=True)
class PricingModel:
    """A way to buy a provider's instances (data/pricing.csv): its discount off the on-demand
    price and, for spot, how often an instance is taken back."""

    provider: str
    model: str  # one of PRICING_MODELS
    discount_frac: float
    interruptions_per_h: float
    source: str
    basis: str

    @property
    def committed(self) -> bool:
        """Reserved instances are paid for the whole month, used or not."""
        return self.model.startswith("reserved")


@cache
def _pricing_rows() -> dict[tuple[str, str], PricingModel]:
    return {(r["provider"], r["model"]): PricingModel(r["provider"], r["model"], float(r["discount_frac"]),
                                                      float(r["interruptions_per_h"]), r["source"], r["basis"])
            for r in _records("pricing")}


def pricing(provider: str, model: str) -> PricingModel:
    """The discount and interruption rate of buying `provider`'s instances as `model`."""
    try:
        return _pricing_rows()[(provider, model)]
    except KeyError:
        raise CatalogError("pricing model", f"{provider}/{model}", [f"{p}/{m}" for p, m in _pricing_rows()]) from None


AVAILABILITY_SCOPES = ("region", "instance")


@dataclass(frozen=True)
class Availability:
    """A provider's published availability (data/availability.csv): `region` for instances
    spread over several zones of a region, `instance` for one instance alone. `basis` says how
    the figure is known (sla | measured | assumed); `mttr_h`, an outage's mean length, is what
    the simulator needs to turn the figure into outages (assumed: providers publish none)."""

    provider: str
    scope: str
    availability: float
    basis: str
    mttr_h: float
    source: str


@cache
def _availability_rows() -> dict[tuple[str, str], Availability]:
    return {(r["provider"], r["scope"]): Availability(r["provider"], r["scope"], float(r["availability"]), r["basis"],
                                                      float(r["mttr_h"]), r["source"])
            for r in _records("availability")}


def availability(provider: str, scope: str) -> Availability:
    """`provider`'s published availability of a region (`scope="region"`) or of one instance."""
    try:
        return _availability_rows()[(provider, scope)]
    except KeyError:
        raise CatalogError("availability", f"{provider}/{scope}", [f"{p}/{s}" for p, s in _availability_rows()]) from None


#: the zone whose intensity applies where a site names none: the world's mean grid
WORLD_GRID = "world"


def grid_zones(provider: str | None = None) -> list[str]:
    """Zone codes of data/grid.csv: a provider's region ids, or with `provider=""` the countries
    and grid zones an edge site may name; every zone when None."""
    return [z for z, g in _grid_rows().items() if provider is None or g.provider == provider]


def grid(zone: str) -> Grid:
    """The grid of a cloud region id (``us-east-1``, ``europe-north1``, ``westeurope``) or of a
    country or grid zone (``DE``, ``US-WECC``, ``world``)."""
    try:
        return _grid_rows()[zone]
    except KeyError:
        raise CatalogError("grid zone", zone, list(_grid_rows())) from None


@cache
def _region_price_rows() -> dict[tuple[str, str], float]:
    return {(r["hardware"], r["provider_region"]): float(r["usd_per_hour"]) for r in _records("region_prices")}


def region_usd_per_hour(hardware: str, provider_region: str | None) -> float | None:
    """The on-demand price of one `hardware` instance in a provider's region
    (data/region_prices.csv), or None where the catalog has no price for that region (the
    hardware's own `usd_per_hour`, a us-east-1 price, then stands)."""
    return _region_price_rows().get((hardware, provider_region)) if provider_region else None


def pue(provider: str | None) -> float:
    """Power usage effectiveness of a cloud provider's data centres (facility energy per unit of
    IT energy); an edge site (None) counts none (`pue_edge`, 1.0)."""
    return price(f"pue_{provider}" if provider else "pue_edge")


def clear_caches() -> None:
    """Forget loaded catalogs and profiles (after changing PLANNER_DATA_DIR / PLANNER_PROFILE_DIR)."""
    for f in (_frame, _hardware_rows, _network_rows, _model_rows, _prices, _grid_rows, _pricing_rows, _region_price_rows,
              _availability_rows, _accuracy_rows, _profile_hardware, _live_host):
        f.cache_clear()


# ------------------------------------------------------------------------------------ profiles
def read_profile_header(path: str | Path) -> dict[str, str]:
    """The ``# key: value`` lines that open a profile CSV (stops at the first other line)."""
    header: dict[str, str] = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            if not line.startswith("#"):
                break
            key, sep, value = line[1:].partition(":")
            if sep and key.strip():
                header[key.strip()] = value.strip()
    return header


def _profile_paths() -> dict[str, Path]:
    d = profile_dir()
    return {p.stem: p for p in sorted(d.glob("*.csv"))} if d.is_dir() else {}


def _power(h: Mapping[str, str], tier: str, cores: int) -> tuple[float, float, list[str]]:
    """tdp_w and idle_w from a profile header, or assumed ones with the clauses that say so."""
    notes = []
    if h.get("tdp_w"):
        tdp = float(h["tdp_w"])
    else:
        tdp = 5.0 * cores
        notes.append("tdp_w assumed: 5 W per core")
    if h.get("idle_w"):
        idle = float(h["idle_w"])
    else:
        idle = IDLE_FRACTION.get(tier, 0.25) * tdp
        notes.append(f"idle_w assumed: {IDLE_FRACTION.get(tier, 0.25):.0%} of TDP")
    return tdp, idle, notes


@cache
def _profile_hardware(path: str, mtime_ns: int) -> Hardware:
    """Hardware from a profile header (cached per file version)."""
    h = read_profile_header(path)
    missing = [k for k in ("mem_gb", "mem_bw_gb_per_s", "peak_fp32_tflops") if not h.get(k)]
    if missing:
        raise PlannerError(f"{path}: profile header lacks {', '.join(missing)}; run planner profile again")
    name = Path(path).stem
    tier, cores = h.get("tier", "edge"), int(float(h.get("cores", os.cpu_count() or 1)))
    peaks = {p: float(h[c]) for p, c in PEAK_COLUMNS.items() if h.get(c)}
    tdp, idle, notes = _power(h, tier, cores)
    label = h.get("processor") or h.get("hardware") or name
    return Hardware(
        id=name, name=h.get("name", f"{label} ({cores} cores, profiled {h.get('date', '?')})"),
        kind=h.get("kind", "cpu"), tier=tier, peak_tflops=peaks, mem_gb=float(h["mem_gb"]),
        mem_bw_gb_per_s=float(h["mem_bw_gb_per_s"]), tdp_w=tdp, idle_w=idle,
        price_usd=_num(h.get("price_usd")), usd_per_hour=_num(h.get("usd_per_hour")),
        source=f"profile {path}", basis="; ".join(["measured (profile)", *notes]))


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def _mem_total_gb() -> float:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024 / 1e9
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9
    except (ValueError, OSError, AttributeError):
        return 8.0


@cache
def _live_host() -> Hardware:
    """This machine before it is profiled: figures read live or assumed."""
    cores = os.cpu_count() or 1
    fp32_tflops = cores * 2.5e9 * 32 / 1e12  # assumed: 2.5 GHz, AVX2 2 FMA x 8 lanes x 2 FLOP per cycle
    tdp, idle, notes = _power({}, "edge", cores)
    return Hardware(
        id=HOST, name=f"this machine ({_cpu_name()}, {cores} cores)",
        kind="cpu", tier="edge", peak_tflops={"fp32": fp32_tflops}, mem_gb=_mem_total_gb(), mem_bw_gb_per_s=20.0,
        tdp_w=tdp, idle_w=idle, price_usd=None, usd_per_hour=None, source="live (os.cpu_count, /proc/meminfo)",
        basis="; ".join(["assumed: no profile yet; run planner profile",
                         "peak_fp32_tflops assumed: cores x 2.5 GHz x 32 FLOP/cycle (AVX2 FMA)",
                         "mem_bw_gb_per_s assumed: 20 GB/s", *notes]))


# ------------------------------------------------------------------------------------ public lookups
def hardware_ids() -> list[str]:
    """Catalog hardware, then ``host``, then every other profiled name."""
    ids = list(_hardware_rows())
    return ids + [i for i in dict.fromkeys([HOST, *_profile_paths()]) if i not in ids]


def hardware(id: str) -> Hardware:
    """A catalog row, ``host`` (profiled, else read live), or a profiled name; CatalogError if unknown."""
    rows = _hardware_rows()
    if id in rows:
        return rows[id]
    path = _profile_paths().get(id)
    if path is not None:
        return _profile_hardware(str(path), path.stat().st_mtime_ns)
    if id == HOST:
        return _live_host()
    raise CatalogError("hardware", id, hardware_ids())


def network_ids() -> list[str]:
    return list(_network_rows())


def network(id: str) -> Network:
    try:
        return _network_rows()[id]
    except KeyError:
        raise CatalogError("network", id, network_ids()) from None


def model_ids() -> list[str]:
    return list(_model_rows())


def model(id: str) -> ModelInfo:
    try:
        return _model_rows()[id]
    except KeyError:
        raise CatalogError("model", id, model_ids()) from None


def variant_families() -> dict[str, list[str]]:
    """Family -> its variants, cheapest first (by GFLOPs per inference), from models.csv `variant_family`."""
    out: dict[str, list[ModelInfo]] = {}
    for m in _model_rows().values():
        if m.variant_family:
            out.setdefault(m.variant_family, []).append(m)
    return {f: [m.id for m in sorted(ms, key=lambda m: m.gflops)] for f, ms in out.items()}


def family_variants(family: str) -> list[str]:
    """The variants of a model family, cheapest first; CatalogError if unknown."""
    try:
        return variant_families()[family]
    except KeyError:
        raise CatalogError("model family", family, list(variant_families())) from None


# ------------------------------------------------------------------------------------ accuracy
#: Task metrics of data/accuracy.csv, and how each is named to a user. WER is stored as
#: published (lower is better) and exposed as word accuracy, 1 - WER, so that every accuracy a
#: floor (`min_accuracy`) is held against is higher-is-better.
METRICS = {"top1": "top-1", "map50_95": "mAP50-95", "wer": "WER", "mmlu": "MMLU"}
ACCURACY_BASES = ("published", "estimated", "assumed")


@dataclass(frozen=True)
class Accuracy:
    """A model's task metric at one precision (data/accuracy.csv), as a fraction (0.761 = 76.1%)."""

    model: str
    precision: str
    metric: str  # one of METRICS, as stored
    value: float  # as published: WER is an error rate
    basis: str  # published | estimated | assumed
    source: str

    @property
    def score(self) -> float:
        """Higher is better: the value, or for WER the word accuracy 1 - WER."""
        return 1.0 - self.value if self.metric == "wer" else self.value

    @property
    def score_metric(self) -> str:
        """The name of `score`: the metric, or ``word_accuracy`` for WER."""
        return "word_accuracy" if self.metric == "wer" else self.metric

    def describe(self) -> str:
        """``int8 top-1 75.9%``, ``int8 word accuracy 92.2% (WER 7.8%)``."""
        if self.metric == "wer":
            return f"{self.precision} word accuracy {self.score:.1%} (WER {self.value:.1%})"
        return f"{self.precision} {METRICS[self.metric]} {self.value:.1%}"


def _accuracy_error(row: int, field: str, reason: str) -> PlannerError:
    return PlannerError(f"{data_dir() / 'accuracy.csv'}: row {row}, {field}: {reason}")


@cache
def _accuracy_rows() -> dict[tuple[str, str], Accuracy]:
    rows: dict[tuple[str, str], Accuracy] = {}
    for i, r in enumerate(_records("accuracy"), start=2):  # row 1 is the header
        if r["model"] not in _model_rows():
            raise _accuracy_error(i, "model", f"'{r['model']}' is not in models.csv")
        if r["precision"] not in PRECISIONS + BY_NAME_PRECISIONS:
            raise _accuracy_error(i, "precision", f"'{r['precision']}' is not one of "
                                                  f"{', '.join(PRECISIONS + BY_NAME_PRECISIONS)}")
        if r["metric"] not in METRICS:
            raise _accuracy_error(i, "metric", f"'{r['metric']}' is not one of {', '.join(METRICS)}")
        value = _num(r["value"])
        if value is None or not 0 < value <= 1:
            raise _accuracy_error(i, "value", f"{r['value']!r} is not a fraction in (0, 1] (0.761 for 76.1%)")
        if r["basis"] not in ACCURACY_BASES:
            raise _accuracy_error(i, "basis", f"'{r['basis']}' is not one of {', '.join(ACCURACY_BASES)}")
        if not r["source"]:
            raise _accuracy_error(i, "source", "empty: every figure needs its source")
        key = (r["model"], r["precision"])
        if key in rows:
            raise _accuracy_error(i, "precision", f"a second row for {key[0]} at {key[1]}")
        rows[key] = Accuracy(r["model"], r["precision"], r["metric"], value, r["basis"], r["source"])
    for model in {m for m, _ in rows}:
        metrics = {a.metric for (m, _), a in rows.items() if m == model}
        if len(metrics) > 1:
            raise PlannerError(f"{data_dir() / 'accuracy.csv'}: {model} has rows in several metrics ({', '.join(sorted(metrics))})")
    return rows


def accuracy(model: str, precision: str) -> Accuracy | None:
    """The task metric of a zoo model at a precision; None where the catalog has no figure."""
    return _accuracy_rows().get((model, precision))


def accuracy_metric(model: str) -> str | None:
    """The metric a model's accuracy figures are in (as `Accuracy.score_metric`), or None."""
    return next((a.score_metric for (m, _), a in _accuracy_rows().items() if m == model), None)


def speculative_acceptance(target: str, draft: str) -> tuple[float, str]:
    """The default chance a `target` model accepts a token its `draft` proposed, with its source
    (data/speculative.csv: the pair's own row, else the `*,*` default, an assumption)."""
    rows = {(r["target"], r["draft"]): r for r in _records("speculative")}
    r = rows.get((target, draft)) or rows[("*", "*")]
    return float(r["acceptance_rate"]), str(r["source"])


def price(key: str) -> float:
    """A value of data/prices.csv, e.g. ``electricity_usd_per_kwh``, ``amortisation_months``."""
    try:
        return _prices()[key]
    except KeyError:
        raise CatalogError("price", key, _prices()) from None


def egress_usd_per_gb(provider: str = "aws", path: str = "internet") -> float:
    """Egress of ``aws``, ``gcp`` (premium), ``gcp-standard`` or ``azure`` by path: to the internet
    (first paid tier), or ``inter_region`` to another region of the same provider where the
    catalog has that price (AWS); elsewhere the internet price stands, the upper bound."""
    if path == "inter_region" and f"inter_region_{provider.lower()}_usd_per_gb" in _prices():
        return _prices()[f"inter_region_{provider.lower()}_usd_per_gb"]
    if path not in ("internet", "inter_region"):
        raise CatalogError("egress path", path, ["internet", "inter_region"])
    key = f"egress_{provider.lower()}_usd_per_gb"
    if key not in _prices():
        known = [k[len("egress_"):-len("_usd_per_gb")] for k in _prices() if k.startswith("egress_")]
        raise CatalogError("cloud provider", provider, known)
    return _prices()[key]


def basis_fields(basis: str) -> dict[str, str]:
    """Field -> ``derived`` or ``assumed`` for each clause of a `basis` text; fields absent are sourced."""
    out: dict[str, str] = {}
    for clause in basis.split(";"):
        m = re.match(r"\s*([a-z0-9_]+(?:\s*,\s*[a-z0-9_]+)*)\s+(derived|assumed):", clause)
        if m:
            out.update({f.strip(): m.group(2) for f in m.group(1).split(",")})
    return out


def _hardware_record(hw: Hardware) -> dict[str, object]:
    peaks = {c: hw.peak_tflops.get(p) for p, c in PEAK_COLUMNS.items()}
    return {"id": hw.id, "name": hw.name, "kind": hw.kind, "tier": hw.tier, **peaks, "mem_gb": hw.mem_gb,
            "mem_bw_gb_per_s": hw.mem_bw_gb_per_s, "tdp_w": hw.tdp_w, "idle_w": hw.idle_w,
            "price_usd": hw.price_usd, "usd_per_hour": hw.usd_per_hour, "instance": hw.instance,
            "basis": hw.basis, "source": hw.source}


def table(kind: str) -> pd.DataFrame:
    """The catalog `kind` (hardware | networks | models | prices | grid | pricing | accuracy) as printed by ``planner catalog``.

    Hardware includes ``host`` and profiled names; every table keeps its basis and source columns.
    """
    if kind == "hardware":
        return pd.DataFrame([_hardware_record(hardware(i)) for i in hardware_ids()])
    if kind == "models":
        return _frame(kind).astype({"default_seq_len": "Int64"})
    if kind in ("networks", "prices", "grid", "pricing", "availability", "accuracy"):
        return _frame(kind).copy()
    raise CatalogError("catalog", kind, ["hardware", "networks", "models", "prices", "grid", "pricing", "availability",
                                         "accuracy"])
