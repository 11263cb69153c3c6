"""The scenario format (DESIGN.md) as pydantic models: loading, defaults and validation errors.

`load_scenario(path)` returns a validated `Scenario` or raises `ScenarioError` naming the file,
the field path (``sites.plant.devices[0].hardware``) and the reason, with a close match for a
misspelt id or field. Cross-references (sites, links, catalog ids, routes, trace files) are
checked here, so every later layer can trust what it is given.
"""
from __future__ import annotations

import csv
import math
from collections.abc import Hashable, Mapping
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import networkx as nx
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from planner import catalog
from planner.errors import CatalogError, ScenarioError, did_you_mean
from planner.tokens import TokenDist

#: Largest scenario file we read (the app takes uploads): far above any real scenario.
MAX_FILE_BYTES = 2_000_000
#: Largest trace CSV we read.
MAX_TRACE_BYTES = 200_000_000

PRECISIONS = ("fp32", "fp16", "bf16", "int8", "int4")
Precision = Literal["fp32", "fp16", "bf16", "int8", "int4"]
Privacy = Literal["any", "region", "site"]

Pos = Annotated[float, Field(gt=0)]
NonNeg = Annotated[float, Field(ge=0)]
PosInt = Annotated[int, Field(ge=1)]
NonNegInt = Annotated[int, Field(ge=0)]
Fraction = Annotated[float, Field(gt=0, le=1)]


class _Model(BaseModel):
    # strict: "6" is not a count; forbid: a misspelt field is an error, not silently ignored.
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)


# --------------------------------------------------------------------------- arrivals
class Poisson(_Model):
    """Exponential inter-arrival times at a constant rate."""

    process: Literal["poisson"]
    rate_per_s: Pos

    @property
    def mean_rate_per_s(self) -> float:
        return self.rate_per_s


class Periodic(_Model):
    """One request every 1/rate seconds (a camera's frame clock), with optional jitter."""

    process: Literal["periodic"]
    rate_per_s: Pos
    jitter_ms: NonNeg = 0.0

    @property
    def mean_rate_per_s(self) -> float:
        return self.rate_per_s


class Bursty(_Model):
    """Two-state Markov-modulated Poisson process: quiet and burst states with mean dwell times."""

    process: Literal["bursty"]
    rate_low_per_s: NonNeg
    rate_high_per_s: Pos
    mean_low_s: Pos
    mean_high_s: Pos

    @property
    def mean_rate_per_s(self) -> float:
        total = self.mean_low_s + self.mean_high_s
        return (self.rate_low_per_s * self.mean_low_s + self.rate_high_per_s * self.mean_high_s) / total

    @property
    def peak_rate_per_s(self) -> float:
        return self.rate_high_per_s


class Diurnal(_Model):
    """Poisson arrivals whose rate follows a daily profile: `profile` multiplies `rate_per_s`,
    its points spread evenly over 24 h (24 points = one per hour), linearly interpolated."""

    process: Literal["diurnal"]
    rate_per_s: Pos
    profile: Annotated[list[NonNeg], Field(min_length=2, max_length=1440)]
    start_hour: Annotated[float, Field(ge=0, lt=24)] = 0.0

    @model_validator(mode="after")
    def _some_traffic(self) -> Diurnal:
        if max(self.profile) <= 0:
            raise ValueError("profile must have at least one value above 0")
        return self

    @property
    def mean_rate_per_s(self) -> float:
        return self.rate_per_s * sum(self.profile) / len(self.profile)

    @property
    def peak_rate_per_s(self) -> float:
        return self.rate_per_s * max(self.profile)


class Trace(_Model):
    """Arrival timestamps (seconds) from a CSV file, relative to the scenario file; replayed
    from the start again when `loop` is true and the horizon outlasts the trace."""

    process: Literal["trace"]
    file: str
    column: str = "timestamp_s"
    loop: bool = True

    # Filled by load_scenario after the file has been read and checked.
    @cached_property
    def path(self) -> Path:
        return Path(self.file)

    @cached_property
    def timestamps_s(self) -> list[float]:
        return read_trace(self.path, self.column)

    @property
    def mean_rate_per_s(self) -> float:
        ts = self.timestamps_s
        span_s = ts[-1] - ts[0] if len(ts) > 1 else 0.0
        return (len(ts) - 1) / span_s if span_s > 0 else float(len(ts))


Arrival = Annotated[Union[Poisson, Periodic, Bursty, Diurnal, Trace], Field(discriminator="process")]


# --------------------------------------------------------------------------- sites and links
class DeviceGroup(_Model):
    """`count` identical edge devices serving requests from one queue each."""

    hardware: str
    count: PosInt = 1
    max_batch: PosInt = 1
    max_wait_ms: NonNeg = 0.0
    service_cv: NonNeg = 0.0  # coefficient of variation of service time; 0 = deterministic
    queue_capacity: PosInt | None = None  # requests waiting per device; None = unbounded
    mtbf_h: Pos | None = None  # mean time between failures; None = never fails
    mttr_h: Pos = 1.0


class Pool(_Model):
    """A cloud GPU pool that scales between bounds on utilisation, billed per instance-second."""

    hardware: str
    min_instances: NonNegInt = 0
    max_instances: PosInt = 8
    cold_start_s: NonNeg = 60.0
    target_utilization: Fraction = 0.7
    max_batch: PosInt = 8
    max_wait_ms: NonNeg = 5.0
    service_cv: NonNeg = 0.0
    queue_capacity: PosInt | None = None
    gpus: Annotated[int, Field(ge=1, le=16)] = 1  # accelerators per instance: a language model is tensor-parallel over them

    @model_validator(mode="after")
    def _bounds(self) -> Pool:
        if self.min_instances > self.max_instances:
            raise ValueError(
                f"min_instances ({self.min_instances}) exceeds max_instances ({self.max_instances})"
            )
        return self


class Site(_Model):
    """An edge site (devices near the data) or a cloud region (pools of GPU instances)."""

    kind: Literal["edge", "cloud"]
    region: str | None = None  # privacy `region` keeps data within the source's region
    provider: Literal["aws", "gcp", "azure"] = "aws"  # whose egress prices apply (cloud sites)
    devices: list[DeviceGroup] = []
    pools: list[Pool] = []

    @model_validator(mode="after")
    def _compute_fits_kind(self) -> Site:
        if self.kind == "edge" and self.pools:
            raise ValueError("an edge site has devices, not pools")
        if self.kind == "cloud" and not self.pools and not self.devices:
            raise ValueError("a cloud site needs at least one pool")
        return self


class Link(_Model):
    """A network link between two sites; catalog figures for `network` unless overridden.
    `uplink_mbps` is the direction from between[0] to between[1]."""

    between: Annotated[list[str], Field(min_length=2, max_length=2)]
    network: str
    uplink_mbps: Pos | None = None
    downlink_mbps: Pos | None = None
    rtt_ms: NonNeg | None = None
    jitter_ms: NonNeg | None = None
    loss_pct: Annotated[float, Field(ge=0, lt=100)] | None = None
    egress_usd_per_gb: NonNeg | None = None  # None: the cloud provider's internet egress price
    mtbf_h: Pos | None = None
    mttr_h: Pos = 1.0

    @model_validator(mode="after")
    def _two_ends(self) -> Link:
        if self.between[0] == self.between[1]:
            raise ValueError(f"a link joins two different sites, got '{self.between[0]}' twice")
        return self

    def _catalog(self) -> catalog.Network:
        return catalog.network(self.network)

    @property
    def up_mbps(self) -> float:
        return self.uplink_mbps if self.uplink_mbps is not None else self._catalog().uplink_mbps

    @property
    def down_mbps(self) -> float:
        return self.downlink_mbps if self.downlink_mbps is not None else self._catalog().downlink_mbps

    @property
    def rtt(self) -> float:
        """Round-trip time in ms."""
        return self.rtt_ms if self.rtt_ms is not None else self._catalog().rtt_ms

    @property
    def jitter(self) -> float:
        """Jitter in ms."""
        return self.jitter_ms if self.jitter_ms is not None else self._catalog().jitter_ms

    @property
    def loss(self) -> float:
        """Packet loss in percent."""
        return self.loss_pct if self.loss_pct is not None else self._catalog().loss_pct


# --------------------------------------------------------------------------- workloads
class Tokens(_Model):
    """Tokens per request drawn from a distribution (language models); a plain integer is fixed."""

    dist: Literal["fixed", "lognormal", "exponential", "uniform"] = "lognormal"
    mean: Pos
    cv: NonNeg = 0.5  # lognormal spread (standard deviation / mean)
    min: PosInt = 1
    max: PosInt | None = None

    @model_validator(mode="after")
    def _bounds(self) -> Tokens:
        if self.mean < self.min:
            raise ValueError(f"mean ({self.mean:g}) is below min ({self.min})")
        if self.max is not None and self.mean > self.max:
            raise ValueError(f"mean ({self.mean:g}) exceeds max ({self.max})")
        return self

    def to_dist(self) -> TokenDist:
        return TokenDist(self.dist, float(self.mean), self.cv, self.min, self.max)


class Slo(_Model):
    """Latency objectives, end to end (input upload, queue, compute, result download)."""

    p99_ms: Pos | None = None
    p95_ms: Pos | None = None
    mean_ms: Pos | None = None
    ttft_ms: Pos | None = None  # language models: time to first token
    tpot_ms: Pos | None = None  # language models: time per output token


class _WorkloadBase(_Model):
    model: str  # a zoo id, or a path to an .onnx file relative to the scenario file
    source: str  # the site where the input data is produced
    privacy: Privacy = "any"
    precisions: Annotated[list[Precision], Field(min_length=1)] | None = None


class Inference(_WorkloadBase):
    """Requests that arrive at `source`, are served somewhere and answered back."""

    kind: Literal["inference"]
    arrival: Arrival
    input_bytes: Pos | None = None  # None: the model's typical input (catalog)
    output_bytes: NonNeg | None = None
    slo: Slo = Slo()
    allow_split: bool = True  # may the model be split between the edge and the cloud
    prompt_tokens: PosInt | Tokens | None = None  # language models; None: the model's default prompt
    output_tokens: PosInt | Tokens | None = None  # None: DEFAULT_OUTPUT_TOKENS

    def prompt_dist(self) -> TokenDist:
        """Prompt tokens per request (language models)."""
        return _dist(self.prompt_tokens, _default_prompt(self.model))

    def output_dist(self) -> TokenDist:
        """Generated tokens per request (language models)."""
        return _dist(self.output_tokens, DEFAULT_OUTPUT_TOKENS)


#: generated tokens per request when a language-model workload does not say (assumed: a short
#: chat answer; the catalog's LLM output_bytes assume the same 128 tokens of ~4 B of text)
DEFAULT_OUTPUT_TOKENS = 128


def _dist(value: int | Tokens | None, default: int) -> TokenDist:
    if value is None:
        return TokenDist.fixed(default)
    return TokenDist.fixed(value) if isinstance(value, int) else value.to_dist()


def _default_prompt(model: str) -> int:
    try:
        return catalog.model(model).default_seq_len or 512
    except CatalogError:
        return 512


class Training(_WorkloadBase):
    """Centralised (re)training every `every_h` hours on data gathered at `source`."""

    kind: Literal["training"]
    dataset_gb: Pos
    epochs: Pos
    every_h: Pos
    deadline_h: Pos
    batch: PosInt = 32
    samples: PosInt | None = None  # None: dataset_gb / the model's input size
    deploy_to: list[str] = []  # inference workloads that receive the trained model


class Federated(_WorkloadBase):
    """Federated training: each round, local epochs at every site, upload, aggregate, download."""

    kind: Literal["federated"]
    sites: Annotated[list[str], Field(min_length=1)]
    rounds: PosInt
    local_epochs: Pos = 1
    samples_per_site: PosInt = 10_000
    batch: PosInt = 32
    model_bytes: Pos | None = None  # None: parameters x bytes per parameter at the precision
    aggregator: str | None = None  # site that averages the updates; None: the planner picks
    every_h: Pos = 24.0
    deadline_h: Pos = 24.0
    privacy: Privacy = "site"  # raw data never leaves a site in federated learning


Workload = Annotated[Union[Inference, Training, Federated], Field(discriminator="kind")]


# --------------------------------------------------------------------------- scenario
class Prices(_Model):
    """Prices that differ from the catalog's defaults."""

    electricity_usd_per_kwh: NonNeg | None = None
    amortisation_months: Pos | None = None
    egress_usd_per_gb: NonNeg | None = None


class Sweep(_Model):
    """A study declared in the scenario: `planner sweep FILE` runs every combination of `set`
    (dotted path -> values) with `replications` seeds each."""

    set: dict[str, Annotated[list[Any], Field(min_length=1)]] = {}
    replications: PosInt = 1


class Scenario(_Model):
    """A whole architecture question: sites, links and workloads, with the objective."""

    name: Annotated[str, Field(min_length=1)]
    description: str = ""
    horizon_s: Pos = 600.0
    seed: NonNegInt = 0
    objective: Literal["cost", "latency", "energy"] = "cost"
    budget_usd_per_month: Pos | None = None
    prices: Prices = Prices()
    sites: Annotated[dict[str, Site], Field(min_length=1)]
    links: list[Link] = []
    workloads: Annotated[dict[str, Workload], Field(min_length=1)]
    sweep: Sweep | None = None

    # Where the file came from: relative paths (traces, .onnx models) resolve against it.
    source_file: Annotated[str, Field(exclude=True)] = ""

    @cached_property
    def graph(self) -> nx.Graph:
        """The site topology; edge weight is the link's one-way latency in ms."""
        g = nx.Graph()
        g.add_nodes_from(self.sites)
        for i, link in enumerate(self.links):
            g.add_edge(*link.between, index=i, latency_ms=link.rtt / 2)
        return g

    def reachable_sites(self, source: str) -> set[str]:
        """Sites joined to `source` by some path of links (itself included)."""
        return nx.node_connected_component(self.graph, source)

    def allowed_sites(self, workload: str) -> list[str]:
        """Sites the workload's input may reach under its privacy level (and the links)."""
        w = self.workloads[workload]
        src = self.sites[w.source]
        reach = self.reachable_sites(w.source)
        if w.privacy == "site":
            out = [w.source]
        elif w.privacy == "region":
            out = [n for n, s in self.sites.items() if n == w.source or (src.region and s.region == src.region)]
        else:
            out = list(self.sites)
        return [n for n in out if n in reach]

    def electricity_usd_per_kwh(self) -> float:
        p = self.prices.electricity_usd_per_kwh
        return p if p is not None else catalog.price("electricity_usd_per_kwh")

    def amortisation_months(self) -> float:
        p = self.prices.amortisation_months
        return p if p is not None else catalog.price("amortisation_months")

    def __repr__(self) -> str:
        return (
            f"Scenario({self.name!r}, sites={len(self.sites)}, links={len(self.links)}, "
            f"workloads={len(self.workloads)}, objective={self.objective})"
        )


# --------------------------------------------------------------------------- loading
class _UniqueKeyLoader(yaml.SafeLoader):
    """Safe loader that refuses duplicate keys (PyYAML silently keeps the last one)."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[Any, Any] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if not isinstance(key, Hashable):
            raise yaml.constructor.ConstructorError(None, None, "a key must be a plain name, not a list or mapping", key_node.start_mark)
        if key in seen:
            mark = key_node.start_mark
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key '{key}' (line {mark.line + 1}, column {mark.column + 1})", key_node.start_mark
            )
        seen[key] = True
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_scenario(path: str | Path) -> Scenario:
    """Read, parse and validate a scenario YAML file; `ScenarioError` on any bad input."""
    p = Path(path)
    try:
        if not p.exists():
            raise ScenarioError(str(path), "", "file not found")
        if not p.is_file():
            raise ScenarioError(str(path), "", "not a file")
        if p.stat().st_size > MAX_FILE_BYTES:
            raise ScenarioError(str(path), "", f"file is larger than {MAX_FILE_BYTES // 1_000_000} MB")
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise ScenarioError(str(path), "", f"cannot read file: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise ScenarioError(str(path), "", "cannot read file: not UTF-8 text") from None
    return parse_scenario(text, file=str(path), base_dir=p.parent)


def parse_scenario(
    text: str | Mapping[str, Any], file: str = "<scenario>", base_dir: str | Path | None = None,
    *, allow_paths: bool = True, attachments: Mapping[str, Path] | None = None,
) -> Scenario:
    """Validate scenario YAML text (or an already parsed mapping).

    `base_dir` resolves relative trace and .onnx paths. With `allow_paths=False` (uploads in the
    app) a scenario may only name files given in `attachments` (name -> local path), never a
    path on the server.
    """
    if not isinstance(text, (str, Mapping)):
        raise ScenarioError(file, "", f"expected a mapping of fields at the top level, got {_kind(text)}")
    data = _parse_yaml(text, file) if isinstance(text, str) else dict(text)
    if not isinstance(data, dict):
        raise ScenarioError(file, "", f"expected a mapping of fields at the top level, got {_kind(data)}")
    if "source_file" in data:
        raise ScenarioError(file, "source_file", "unknown field 'source_file'")
    try:
        sc = Scenario.model_validate({**data, "source_file": file})
    except ValidationError as e:
        raise _to_scenario_error(e, file) from None
    base = Path(base_dir) if base_dir is not None else Path(".")
    _check_references(sc, file, base, allow_paths, attachments or {})
    return sc


def _parse_yaml(text: str, file: str) -> Any:
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = (e.problem or e.context or "invalid YAML").strip()
        if "duplicate key" in problem:
            raise ScenarioError(file, _duplicate_path(text, e.problem_mark), problem) from None
        raise ScenarioError(file, "", f"YAML syntax error{where}: {problem}") from None
    except yaml.reader.ReaderError as e:
        line = text.count("\n", 0, e.position) + 1
        col = e.position - (text.rfind("\n", 0, e.position) + 1) + 1
        raise ScenarioError(file, "", f"YAML syntax error at line {line}, column {col}: unacceptable character #x{e.character:04x}") from None
    except yaml.YAMLError as e:
        raise ScenarioError(file, "", f"YAML error: {' '.join(str(e).split())}") from None
    except RecursionError:
        raise ScenarioError(file, "", "YAML is nested too deeply") from None


def _duplicate_path(text: str, mark: Any) -> str:
    """The dotted path of the duplicated key at `mark` (composing does not check duplicates)."""
    def walk(node: Any, path: str) -> str | None:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                here = f"{path}.{k.value}" if path else str(k.value)
                if mark is not None and k.start_mark.line == mark.line and k.start_mark.column == mark.column:
                    return here
                found = walk(v, here)
                if found:
                    return found
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                found = walk(v, f"{path}[{i}]")
                if found:
                    return found
        return None

    try:
        return walk(yaml.compose(text, Loader=yaml.SafeLoader), "") or ""
    except (yaml.YAMLError, RecursionError):
        return ""


def _kind(value: Any) -> str:
    names = {dict: "a mapping", list: "a list", str: "text", bool: "true/false", int: "a number",
             float: "a number", type(None): "nothing"}
    return names.get(type(value), type(value).__name__)


# --------------------------------------------------------------------------- pydantic errors
def _to_scenario_error(e: ValidationError, file: str) -> ScenarioError:
    """The first validation error as one clear line, with its path and a close match."""
    errors = sorted(e.errors(), key=_error_rank)
    # a mapping given where a number or a mapping may go (token counts): the mapping's own errors
    errors = [x for x in errors if not (x["type"] == "int_type" and isinstance(x.get("input"), dict))] or errors
    err = errors[0]
    path, model = _display_path(err["loc"])
    reason, hint = _reason(err, model)
    more = len({tuple(x["loc"]) for x in errors}) - 1
    if more > 0:
        hint = f"{hint} ({more} more error{'s' if more > 1 else ''})" if hint else f"{more} more error{'s' if more > 1 else ''}"
    return ScenarioError(file, path, reason, hint.strip())


def _error_rank(err: dict) -> tuple:
    # Prefer unknown fields and tags (the likeliest typo) over the cascade they cause.
    order = {"extra_forbidden": 0, "union_tag_invalid": 0, "union_tag_not_found": 1, "missing": 2}
    return (order.get(err["type"], 3), len(err["loc"]))


def _display_path(loc: tuple) -> tuple[str, Any]:
    """Turn a pydantic loc into `sites.plant.devices[0]`, dropping union tags; also return the
    model class the last element belongs to (to suggest field names)."""
    parts: list[str] = []
    tp: Any = Scenario
    owner: Any = Scenario
    for item in loc:
        tp, is_tag = _step(tp, item)
        if is_tag:
            owner = tp
            continue
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            owner = tp
    return "".join(parts), owner


def _step(tp: Any, item: Any) -> tuple[Any, bool]:
    """The type reached from `tp` by loc element `item`, and whether `item` was a union tag."""
    import typing

    tp = _strip(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        field = tp.model_fields.get(str(item))
        return (_strip(field.annotation) if field else None), False
    origin = typing.get_origin(tp)
    if origin in (dict, Mapping):
        return _strip(typing.get_args(tp)[1]), False
    if origin is list:
        return _strip(typing.get_args(tp)[0]), False
    if origin is Union:
        for member in typing.get_args(tp):
            member = _strip(member)
            if isinstance(member, type) and issubclass(member, BaseModel):
                for tag in ("kind", "process"):
                    f = member.model_fields.get(tag)
                    if f is not None and item in typing.get_args(f.annotation):
                        return member, True
        return None, False
    return None, False


def _strip(tp: Any) -> Any:
    """Remove Annotated and Optional wrappers."""
    import typing

    while True:
        origin = typing.get_origin(tp)
        if origin is Annotated:
            tp = typing.get_args(tp)[0]
        elif origin is Union and type(None) in typing.get_args(tp):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            tp = args[0] if len(args) == 1 else Union[tuple(args)]
            if len(args) != 1:
                return tp
        else:
            return tp


def _reason(err: dict, model: Any) -> tuple[str, str]:
    t, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
    field = str(err["loc"][-1]) if err["loc"] else ""
    if t == "extra_forbidden":
        known = list(model.model_fields) if isinstance(model, type) and issubclass(model, BaseModel) else []
        known = [k for k in known if k != "source_file"]
        return f"unknown field '{field}'", did_you_mean(field, known)
    if t == "missing":
        return "missing required field", ""
    if t in ("union_tag_invalid", "union_tag_not_found"):
        tag = ctx.get("discriminator", "").strip("'")
        expected = [x.strip().strip("'") for x in str(ctx.get("expected_tags", "")).split(",") if x.strip()]
        if t == "union_tag_not_found":
            expected = expected or list(_TAGS.get(tag, ()))
            return f"missing '{tag}' (one of {', '.join(expected)})", ""
        got = ctx.get("tag")
        return f"unknown {tag} '{got}' (one of {', '.join(expected)})", did_you_mean(str(got), expected)
    if t == "literal_error":
        expected = [x.strip().strip("'") for x in str(ctx.get("expected", "")).replace(" or ", ",").split(",") if x.strip()]
        return f"'{value}' is not one of {', '.join(expected)}", did_you_mean(str(value), expected)
    if t in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        op = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}[t]
        bound = next(iter(ctx.values()))
        return f"must be {op} {bound}, got {value}", ""
    if t in ("too_short", "too_long"):
        return err["msg"].replace("List", "list").replace("Dictionary", "mapping"), ""
    if t.startswith(("int_", "float_", "string_", "bool_", "dict_", "list_", "model_")) or t.endswith("_type"):
        want = {
            "int": "a whole number", "float": "a number", "string": "text", "bool": "true or false",
            "dict": "a mapping", "list": "a list", "model": "a mapping",
        }.get(t.split("_")[0], t)
        if t in ("finite_number", "float_finite_number"):
            return "must be a finite number", ""
        if t == "int_from_float":
            return f"expected a whole number, got {value}", ""
        return f"expected {want}, got {_kind(value)} {_short(value)}".rstrip(), ""
    if t == "finite_number":
        return "must be a finite number", ""
    if t == "value_error":
        return str(ctx.get("error", err["msg"])), ""
    return err["msg"], ""


_TAGS = {"kind": ("inference", "training", "federated"), "process": ("poisson", "periodic", "bursty", "diurnal", "trace")}


def _short(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return ""
    s = repr(value)
    return s if len(s) <= 40 else s[:37] + "..."


# --------------------------------------------------------------------------- references
def _check_references(sc: Scenario, file: str, base: Path, allow_paths: bool, attachments: Mapping[str, Path]) -> None:
    def fail(field: str, reason: str, hint: str = "") -> None:
        raise ScenarioError(file, field, reason, hint)

    def known(kind: str, key: str, ids: list[str], field: str) -> None:
        if key not in ids:
            fail(field, f"unknown {kind} '{key}'", did_you_mean(key, ids))

    hw_ids, net_ids = catalog.hardware_ids(), catalog.network_ids()
    for name, site in sc.sites.items():
        for i, d in enumerate(site.devices):
            known("hardware", d.hardware, hw_ids, f"sites.{name}.devices[{i}].hardware")
        for i, pool in enumerate(site.pools):
            known("hardware", pool.hardware, hw_ids, f"sites.{name}.pools[{i}].hardware")

    pairs: dict[frozenset, int] = {}
    for i, link in enumerate(sc.links):
        for end in link.between:
            if end not in sc.sites:
                fail(f"links[{i}].between", f"unknown site '{end}'", did_you_mean(end, sc.sites))
        pair = frozenset(link.between)
        if pair in pairs:
            fail(f"links[{i}].between", f"duplicate link between '{link.between[0]}' and '{link.between[1]}' (also links[{pairs[pair]}])")
        pairs[pair] = i
        known("network", link.network, net_ids, f"links[{i}].network")

    for name, w in sc.workloads.items():
        at = f"workloads.{name}"
        if w.source not in sc.sites:
            fail(f"{at}.source", f"unknown site '{w.source}'", did_you_mean(w.source, sc.sites))
        _check_model(w.model, f"{at}.model", base, allow_paths, attachments, fail)
        if isinstance(w, Inference):
            _check_llm(w, at, fail)
        if isinstance(w, Inference) and isinstance(w.arrival, Trace):
            path = _resolve_file(w.arrival.file, f"{at}.arrival.file", base, allow_paths, attachments, fail)
            w.arrival.__dict__["path"] = path  # resolved against the scenario file (cached_property slot)
            try:
                w.arrival.timestamps_s  # read and check now, so the simulator can trust it
            except ValueError as e:
                fail(f"{at}.arrival.file", f"{path}: {e}")
        if isinstance(w, Training):
            for j, target in enumerate(w.deploy_to):
                if target not in sc.workloads:
                    fail(f"{at}.deploy_to[{j}]", f"unknown workload '{target}'", did_you_mean(target, sc.workloads))
                if not isinstance(sc.workloads[target], Inference):
                    fail(f"{at}.deploy_to[{j}]", f"'{target}' is not an inference workload")
        if isinstance(w, Federated):
            for j, s in enumerate(w.sites):
                if s not in sc.sites:
                    fail(f"{at}.sites[{j}]", f"unknown site '{s}'", did_you_mean(s, sc.sites))
            if len(set(w.sites)) != len(w.sites):
                fail(f"{at}.sites", "a site is listed twice")
            if w.aggregator is not None and w.aggregator not in sc.sites:
                fail(f"{at}.aggregator", f"unknown site '{w.aggregator}'", did_you_mean(w.aggregator, sc.sites))
        _check_routes(sc, name, fail)


def _check_routes(sc: Scenario, name: str, fail: Any) -> None:
    """A route from the workload's source to every site with compute it could use."""
    w = sc.workloads[name]
    reach = sc.reachable_sites(w.source)
    src_region = sc.sites[w.source].region
    ends = list(w.sites) + ([w.aggregator] if w.aggregator else []) if isinstance(w, Federated) else []
    for s in ends:
        if s not in reach:
            fail(f"workloads.{name}.sites", f"site '{s}' is unreachable from source '{w.source}' (no path of links)")
    candidates = [
        n for n, site in sc.sites.items()
        if (site.devices or site.pools)
        and (w.privacy == "any" or n == w.source or (w.privacy == "region" and src_region and site.region == src_region))
    ]
    if not candidates:
        fail(f"workloads.{name}.privacy", f"no site with compute is allowed under privacy '{w.privacy}' from source '{w.source}'")
    for n in candidates:
        if n not in reach:
            fail(f"workloads.{name}.source", f"site '{n}' is unreachable from source '{w.source}' (no path of links)",
                 "add a link, or narrow the workload's privacy")


def _check_llm(w: Inference, at: str, fail: Any) -> None:
    """Token counts and token SLOs belong to language models, and must fit the model's context."""
    info = None if w.model.lower().endswith(".onnx") else catalog.model(w.model)
    if info is None or info.family != "llm":
        llms = [m for m in catalog.model_ids() if catalog.model(m).family == "llm"]
        for field, value in (("prompt_tokens", w.prompt_tokens), ("output_tokens", w.output_tokens),
                             ("slo.ttft_ms", w.slo.ttft_ms), ("slo.tpot_ms", w.slo.tpot_ms)):
            if value is not None:
                fail(f"{at}.{field}", f"'{w.model}' is not a language model (token counts and SLOs apply to "
                     f"{', '.join(llms)})")
        return
    prompt, output, ctx = w.prompt_dist(), w.output_dist(), info.max_context
    if ctx is None:
        return
    if prompt.low + output.low > ctx:
        fail(f"{at}.prompt_tokens", f"{prompt.low} prompt + {output.low} output tokens exceed {w.model}'s "
             f"context of {ctx} tokens")
    if prompt.dist == "fixed" and output.dist == "fixed" and prompt.mean + output.mean > ctx:
        fail(f"{at}.prompt_tokens", f"{prompt.mean:g} prompt + {output.mean:g} output tokens exceed {w.model}'s "
             f"context of {ctx} tokens")


def _check_model(model: str, field: str, base: Path, allow_paths: bool, attachments: Mapping[str, Path], fail: Any) -> None:
    if model.lower().endswith(".onnx"):
        _resolve_file(model, field, base, allow_paths, attachments, fail)
        return
    ids = catalog.model_ids()
    if model not in ids:
        fail(field, f"unknown model '{model}' (a catalog id or a path to an .onnx file)", did_you_mean(model, ids))


def _resolve_file(name: str, field: str, base: Path, allow_paths: bool, attachments: Mapping[str, Path], fail: Any) -> Path:
    if not allow_paths:
        if name not in attachments:
            fail(field, f"file '{name}' was not uploaded with the scenario (uploads may only name files that came with them)")
        return Path(attachments[name])
    p = Path(name)
    p = p if p.is_absolute() else base / p
    try:
        found = p.is_file()
    except OSError as e:
        fail(field, f"cannot read file: {e.strerror or e}")
    if not found:
        fail(field, f"file not found: {p}")
    return p


def read_trace(path: Path, column: str = "timestamp_s") -> list[float]:
    """Arrival timestamps from a CSV (a header row naming `column`, or a bare first column).
    Raises ValueError with the row number when a value is not a sorted, non-negative number."""
    if not path.is_file():
        raise ValueError("file not found")
    if path.stat().st_size > MAX_TRACE_BYTES:
        raise ValueError("trace file is too large")
    try:
        return _read_trace(path, column)
    except csv.Error as e:
        raise ValueError(f"not a CSV file: {e}") from None
    except OSError as e:
        raise ValueError(f"cannot read file: {e.strerror or e}") from None


def _read_trace(path: Path, column: str) -> list[float]:
    out: list[float] = []
    # utf-8-sig: spreadsheets write a byte-order mark before the header.
    with path.open(newline="", encoding="utf-8-sig", errors="replace") as fh:
        rows = csv.reader(fh)
        header = next(rows, None)
        if header is None:
            raise ValueError("trace file is empty")
        col = 0
        header_clean = [h.strip() for h in header]
        if column in header_clean:
            col = header_clean.index(column)
        else:
            try:
                float(header_clean[0])
                rows_iter = [header]  # no header: the first row is data
            except (ValueError, IndexError):
                raise ValueError(f"no column '{column}' in header {header_clean}") from None
            out.extend(_trace_values(rows_iter, 0, 1, None))
        out.extend(_trace_values(rows, col, 2, out[-1] if out else None))
    if not out:
        raise ValueError("trace has no timestamps")
    if len(out) > 1 and out[-1] == out[0]:
        raise ValueError("all timestamps are equal: the trace spans no time")
    return out


def _trace_values(rows: Any, col: int, first_row: int, prev: float | None) -> list[float]:
    out = []
    for i, row in enumerate(rows, start=first_row):
        if not row or all(not c.strip() for c in row):
            continue
        try:
            t = float(row[col])
        except (ValueError, IndexError):
            raise ValueError(f"row {i}: '{','.join(row)[:40]}' is not a timestamp") from None
        if not math.isfinite(t) or t < 0:
            raise ValueError(f"row {i}: timestamp {t} must be a finite number >= 0")
        if prev is not None and t < prev:
            raise ValueError(f"row {i}: timestamps must not decrease ({t} after {prev})")
        out.append(t)
        prev = t
    return out


def json_schema() -> dict[str, Any]:
    """JSON Schema of the scenario format, for editors."""
    schema = Scenario.model_json_schema(mode="validation")
    schema.get("properties", {}).pop("source_file", None)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Hybrid placement planner scenario"
    return schema


__all__ = [
    "Scenario", "Site", "DeviceGroup", "Pool", "Link", "Inference", "Training", "Federated", "Slo",
    "Poisson", "Periodic", "Bursty", "Diurnal", "Trace", "Prices", "load_scenario", "parse_scenario",
    "json_schema", "read_trace", "PRECISIONS", "CatalogError",
]
