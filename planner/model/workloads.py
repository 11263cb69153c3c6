"""What each workload moves and computes, by one convention for the planner and the simulator:
input and output bytes (the catalog's typical sizes unless given), training samples, the bytes
of weights shipped after training and of federated updates, federated aggregation time, and
where an `.onnx` model path points.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from planner import catalog
from planner.scenario import Scenario
from planner.units import BYTES_PER_TOKEN, DEFAULT_SAMPLE_BYTES, DEPLOY_BYTES_PER_PARAM, UPDATE_BYTES_PER_PARAM

if TYPE_CHECKING:
    from planner.costs.train_step import FineTune


def is_onnx(model: str) -> bool:
    return model.lower().endswith(".onnx")


def model_ref(sc: Scenario, model: str) -> str:
    """A zoo id as it is; an `.onnx` path resolved against the scenario file's folder."""
    if not is_onnx(model):
        return model
    p = Path(model)
    if not p.is_absolute() and sc.source_file:
        p = Path(sc.source_file).parent / p
    return str(p)


def model_info(model: str) -> catalog.ModelInfo | None:
    """The catalog row of a zoo model; None for an `.onnx` file."""
    return None if is_onnx(model) else catalog.model(model)


def io_bytes(w, prompt_mean_tokens: float | None = None, output_mean_tokens: float | None = None) -> tuple[float, float]:
    """(input, output) bytes of one request: the workload's own, else the catalog's typical
    sizes, else for a language model its mean prompt and answer as text."""
    info = model_info(w.model_id)
    if prompt_mean_tokens is not None:
        in_default, out_default = prompt_mean_tokens * BYTES_PER_TOKEN, (output_mean_tokens or 0.0) * BYTES_PER_TOKEN
    else:
        in_default = info.input_bytes if info and info.input_bytes else 0.0
        out_default = info.output_bytes if info and info.output_bytes else 0.0
    return (float(w.input_bytes) if w.input_bytes is not None else float(in_default),
            float(w.output_bytes) if w.output_bytes is not None else float(out_default))


def training_samples(w) -> float:
    """Samples per epoch: the workload's own count, else the dataset over one sample's input."""
    if getattr(w, "samples", None):
        return float(w.samples)
    info = model_info(w.model_id)
    per_sample = info.input_bytes if info and info.input_bytes else DEFAULT_SAMPLE_BYTES
    return w.dataset_gb * 1e9 / per_sample


def params(model: str) -> float:
    info = model_info(model)
    return info.params_millions * 1e6 if info else 0.0


def training_step(w) -> bool | FineTune:
    """What one step of a training or federated workload trains: `True` (every weight) or its
    `fine_tune:` (`estimate(..., training=...)` prices either)."""
    ft = getattr(w, "fine_tune", None)
    if ft is None:
        return True
    from planner.costs.train_step import FineTune  # only where a workload fine-tunes: the cost model is heavy to import

    return FineTune(layers=ft.layers, lora_rank=ft.lora_rank)


def trained_params(w) -> float:
    """Parameters a training or federated workload changes: the model's, or its fine-tuning's
    share (the last layers' weights, or the LoRA adapters)."""
    step = training_step(w)
    if step is True or is_onnx(w.model):
        return params(w.model)
    from planner.costs.graphs import graph
    from planner.costs.train_step import TrainTable, Trained

    return Trained.of(TrainTable.of(graph(w.model, 1)), step).params


def deploy_bytes(w) -> float:
    """Bytes of trained weights pushed to where the model serves (fp16 weights; a fine-tuning
    ships only what it changed)."""
    return trained_params(w) * DEPLOY_BYTES_PER_PARAM


def update_bytes(w) -> float:
    """Bytes of one federated update (fp32 weights of what is trained, unless the workload says)."""
    return float(w.model_bytes) if w.model_bytes else trained_params(w) * UPDATE_BYTES_PER_PARAM


def aggregate_s(n_sites: int, update_bytes_: float, hardware: str | None) -> float:
    """Time to average `n_sites` updates on `hardware`: each update streams once through its
    memory, and the average is written once (assumed: memory-bound, no source)."""
    if not hardware:
        return 0.0
    return (n_sites + 1) * update_bytes_ / (catalog.hardware(hardware).mem_bw_gb_per_s * 1e9)


def planned_rate_per_s(w) -> tuple[float, float]:
    """(rate capacity and SLOs are planned for, mean rate / that rate). Capacity and SLOs are
    planned for the daily peak (it lasts long enough to fill any queue); money and energy follow
    the mean rate, as pools scale down and devices idle off-peak."""
    mean = w.arrival.mean_rate_per_s
    rate = getattr(w.arrival, "peak_rate_per_s", mean) if w.arrival.process == "diurnal" else mean
    return rate, (mean / rate if rate > 0 else 1.0)


#: hours in the daily profile a pool's pricing mix is planned over
HOURS_PER_DAY = 24


def profile_at(profile: list[float], hour: float) -> float:
    """A diurnal profile's multiplier at `hour` of the day, as the simulator draws it: the points
    spread evenly over the day, linear between them, cyclic."""
    n = len(profile)
    x = (hour % HOURS_PER_DAY) * n / HOURS_PER_DAY
    i = int(x) % n
    return profile[i] + (profile[(i + 1) % n] - profile[i]) * (x - int(x))


def hourly_shape(w) -> tuple[float, ...]:
    """Each hour of the day, the highest arrival rate within it over the planned (peak) rate:
    a diurnal profile interpolated as the simulator draws it (points spread evenly over the
    day, linear between them, cyclic); 1 every hour for any other process."""
    a = getattr(w, "arrival", None)
    if a is None or a.process != "diurnal":
        return (1.0,) * HOURS_PER_DAY
    prof, n, top = list(a.profile), len(a.profile), max(a.profile)

    def at(hour: float) -> float:
        return profile_at(prof, hour)

    # the hour's peak: its two ends, and every profile point inside it (linear between them)
    return tuple(max([at(h), at(h + 1)] + [prof[i] for i in range(n) if h < i * HOURS_PER_DAY / n < h + 1]) / top
                 for h in range(HOURS_PER_DAY))


def acceptance_rate(w, target: str | None = None) -> tuple[float, str]:
    """A speculative workload's chance that the target (`target`: a variant of its family; default
    its own model) accepts a drafted token, and where it comes from: the scenario's
    `speculative.acceptance_rate`, else the catalog's default for the draft/target pair
    (data/speculative.csv, an assumption that depends on the pair and the text)."""
    spec = w.speculative
    if spec.acceptance_rate is not None:
        return spec.acceptance_rate, "scenario"
    return catalog.speculative_acceptance(target or w.model_id, spec.draft)


def kv_precision_of(w, choice=None) -> str | None:
    """The KV-cache precision a placement serves a language-model workload with: the one the
    placement names (the planner's choice among the workload's `kv_precision:` list), else the
    workload's own (the first of its list); None: the default cache (`costs.llm.kv_cache_precision`)."""
    named = getattr(choice, "kv_precision", None)
    if named is not None:
        return named
    kvs = getattr(w, "kv_precisions", None)
    return kvs()[0] if kvs is not None else None


def shares_engines(w) -> bool:
    """Whether a language-model workload's cloud instances are shared (`engine_owner`): a fleet's."""
    return w.member is not None


def engine_owner(sc: Scenario, name: str, engine: str) -> str:
    """Whose instances of a cloud pool serve a language-model workload running `engine`
    (`ResourceId.dedicated`: an instance holds one model's weights and runs one continuous
    batch). A workload's own; for a fleet's instance, its fleet workload's with that engine: the
    members are one service's clients, whose requests share the engines (a pool of 300 stores'
    assistants, not 300 pools), as the members of a device group's engine share it."""
    w = sc.workloads[name]
    return f"{w.base_workload}[{engine}]" if shares_engines(w) else name
