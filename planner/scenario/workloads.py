"""Workloads: inference requests, centralised training and federated training."""
from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field, PrivateAttr, field_validator, model_validator

from planner import catalog
from planner.errors import CatalogError
from planner.scenario.arrivals import Arrival
from planner.scenario.fields import NonNeg, NonNegInt, Pos, PosInt, Precision, Privacy, _Model
from planner.tokens import TokenDist


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
    # The fraction of requests answered within the latency SLO over a long run, outages included.
    availability: Annotated[float | None, Field(json_schema_extra={"exclusiveMinimum": 0, "exclusiveMaximum": 1})] = None

    @field_validator("availability")
    @classmethod
    def _a_fraction(cls, v: float | None) -> float | None:
        if v is not None and not 0 < v < 1:
            raise ValueError(f"an availability is a fraction strictly between 0 and 1 (0.999 = three nines), "
                             f"got {v:g}" + (": 1 would allow no outage at all" if v == 1 else ""))
        return v


#: a fallback's precisions, in order, where neither it nor its workload names one (the edge's
#: fastest first: int8 where the device has it)
FALLBACK_PRECISIONS = ("int8", "fp16", "bf16", "fp32")


class Fallback(_Model):
    """Where requests go when their placement cannot be reached (a link, device or pool down):
    the source site's devices, running `model` (default: the workload's own) at `precision`
    (default: the first of the workload's `precisions`, else of int8, fp16, bf16, fp32, that a
    device there runs), on the source's device group of `hardware` (default: its first that runs
    the precision). `routing: {fallback: true}` is this with every default."""

    model: str | None = None
    precision: Precision | None = None
    hardware: str | None = None


def _check_floor(value: float | None) -> float | None:
    """An accuracy floor is a fraction of the catalog metric (0.76 = 76% top-1), never a percentage."""
    if value is None:
        return None
    if value > 1 and value <= 100:
        raise ValueError(f"{value:g} looks like a percentage: write the fraction {value / 100:g}")
    if not 0 < value <= 1:
        raise ValueError(f"must be a fraction in (0, 1] (0.76 for 76%), got {value:g}")
    return value


class ModelFamily(_Model):
    """`model: {family: yolov8, min_accuracy: 0.37}`: the planner picks the variant (and
    precision) per placement, the cheapest that meets the floor (data/models.csv `variant_family`)."""

    family: str
    min_accuracy: float | None = None  # same metric as data/accuracy.csv; WER models: word accuracy 1 - WER

    @field_validator("min_accuracy")
    @classmethod
    def _floor(cls, value: float | None) -> float | None:
        return _check_floor(value)


class Overflow(_Model):
    """Serve at the primary (the edge) while its queue is short; a request that arrives to a
    queue at the limit goes to the secondary (a cloud pool). Give exactly one limit: `queue_len`
    waiting requests, or `queue_ms` of predicted wait (converted to a queue length with the
    primary's batch-1 service time, `planner.model.routing.queue_limit`)."""

    queue_ms: NonNeg | None = None
    queue_len: NonNegInt | None = None

    @model_validator(mode="after")
    def _one_limit(self) -> Overflow:
        if (self.queue_ms is None) == (self.queue_len is None):
            raise ValueError("give exactly one of queue_ms or queue_len")
        return self


class ByTokens(_Model):
    """A language model answers prompts of at most `edge_max_prompt_tokens` at the primary (the
    edge) and sends longer ones to the secondary (the cloud)."""

    edge_max_prompt_tokens: PosInt


class Routing(_Model):
    """The rules by which the planner may split one workload's requests between a primary and a
    secondary placement (a routed pair). Each rule given is one more kind of option."""

    overflow: Overflow | None = None
    by_tokens: ByTokens | None = None
    # serve at the placement, and at the source's own devices while it cannot be reached (the
    # workload's `fallback:` with its defaults, when it gives none)
    fallback: bool = False

    @model_validator(mode="after")
    def _some_rule(self) -> Routing:
        if self.overflow is None and self.by_tokens is None and not self.fallback:
            raise ValueError("give at least one rule: overflow, by_tokens or fallback: true")
        return self

    def rules(self) -> list[str]:
        """The rules given, in a fixed order."""
        return [r for r in ("overflow", "by_tokens") if getattr(self, r) is not None]


class _WorkloadBase(_Model):
    model: str  # a zoo id, or a path to an .onnx file relative to the scenario file
    source: str  # the site where the input data is produced
    privacy: Privacy = "any"
    precisions: Annotated[list[Precision], Field(min_length=1)] | None = None

    # Set by loading when the workload is one member's instance of a fleet workload.
    _fleet: str | None = PrivateAttr(default=None)
    _member: str | None = PrivateAttr(default=None)
    _base_workload: str | None = PrivateAttr(default=None)

    @property
    def model_id(self) -> str:
        """The model as one zoo id (or .onnx path): the fixed model, or a family's cheapest variant,
        which stands for the family where one figure serves them all (input size, kind)."""
        return self.model if isinstance(self.model, str) else catalog.family_variants(self.model.family)[0]

    @property
    def variants(self) -> list[str]:
        """The models the planner may run: the fixed model, or every variant of the family."""
        return [self.model] if isinstance(self.model, str) else catalog.family_variants(self.model.family)

    @property
    def family(self) -> str | None:
        """The model family named instead of one model, or None."""
        return None if isinstance(self.model, str) else self.model.family

    @property
    def accuracy_floor(self) -> float | None:
        """The least accuracy a placement must keep (`min_accuracy`, on the workload or its family)."""
        own = getattr(self, "min_accuracy", None)
        return own if own is not None or isinstance(self.model, str) else self.model.min_accuracy

    @property
    def fleet(self) -> str | None:
        """The fleet whose member sources this instance (`shelf@store-007` -> `store`), or None."""
        return self.__pydantic_private__["_fleet"]  # not `self._fleet`: pydantic's __getattr__ is slow at fleet size

    @property
    def member(self) -> str | None:
        """The member site this instance belongs to (`store-007`), or None."""
        return self.__pydantic_private__["_member"]

    @property
    def base_workload(self) -> str | None:
        """The workload as written, of which this is one member's instance (`shelf`), or None."""
        return self.__pydantic_private__["_base_workload"]


#: a language model's KV-cache precisions (`kv_precision:`)
KvPrecision = Literal["fp16", "fp8", "int8"]

#: ways a language-model request may be split across the edge-cloud boundary (`split:`)
LLM_SPLITS = ("prefill_cloud_decode_edge",)
LlmSplit = Literal["prefill_cloud_decode_edge"]


class Speculative(_Model):
    """Speculative decoding across the boundary: `draft` (a small language model) runs on the
    source's device and proposes `k` tokens a round; the workload's model verifies them in the
    cloud, one WAN round trip per round. `acceptance_rate` (the chance the target accepts a
    drafted token) depends on the draft/target pair and the text; None takes the catalog's
    default (data/speculative.csv)."""

    draft: str
    k: Annotated[int, Field(ge=1, le=16)] = 4
    acceptance_rate: Annotated[float, Field(gt=0, lt=1)] | None = None


class Inference(_WorkloadBase):
    """Requests that arrive at `source`, are served somewhere and answered back."""

    kind: Literal["inference"]
    model: str | ModelFamily  # a zoo id, an .onnx path, or {family:, min_accuracy:}
    min_accuracy: float | None = None  # rules out the precisions (and variants) below it
    arrival: Arrival
    input_bytes: Pos | None = None  # None: the model's typical input (catalog)
    output_bytes: NonNeg | None = None
    slo: Slo = Slo()
    allow_split: bool = True  # may the model be split between the edge and the cloud
    fallback: Fallback | None = None
    prompt_tokens: PosInt | Tokens | None = None  # language models; None: the model's default prompt
    output_tokens: PosInt | Tokens | None = None  # None: DEFAULT_OUTPUT_TOKENS
    # language models across the boundary: the split modes the planner may choose (a mode or a
    # list of them) and speculative decoding with a draft on the device
    split: LlmSplit | Annotated[list[LlmSplit], Field(min_length=1)] | None = None
    speculative: Speculative | None = None

    def llm_splits(self) -> tuple[str, ...]:
        """The boundary split modes this workload allows (none unless it opts in)."""
        if self.split is None:
            return ()
        return (self.split,) if isinstance(self.split, str) else tuple(dict.fromkeys(self.split))
    routing: Routing | None = None  # None: one placement serves every request
    # a language model's KV-cache precision (fp8 and int8 halve the cache: more sequences fit,
    # less is read per token, a boundary split sends half); None: fp16 (fp32 for fp32 weights).
    # A list lets the planner choose per placement among them (fp8 only on hardware with fp8,
    # `costs.llm.stores_kv`); assumed accuracy-neutral (`costs/llm.py`: no sourced figure).
    kv_precision: KvPrecision | Annotated[list[KvPrecision], Field(min_length=1)] | None = None

    def kv_precisions(self) -> tuple[str | None, ...]:
        """The KV-cache precisions the planner may serve with: the one given (None: the default),
        or each of a list, in its order (the first is what a placement that names none runs)."""
        if self.kv_precision is None or isinstance(self.kv_precision, str):
            return (self.kv_precision,)
        return tuple(dict.fromkeys(self.kv_precision))

    @model_validator(mode="after")
    def _routing_fallback(self) -> Inference:
        if self.routing is not None and self.routing.fallback and self.fallback is None:
            self.__dict__["fallback"] = Fallback()  # routing's fallback is the workload's, with its defaults (frozen model)
        return self

    @field_validator("min_accuracy")
    @classmethod
    def _floor(cls, value: float | None) -> float | None:
        return _check_floor(value)

    @model_validator(mode="after")
    def _one_floor(self) -> Inference:
        if self.min_accuracy is not None and isinstance(self.model, ModelFamily) and self.model.min_accuracy is not None:
            raise ValueError("min_accuracy is set twice: on the workload and in model: {family: ...}; keep one")
        return self

    def prompt_dist(self) -> TokenDist:
        """Prompt tokens per request (language models)."""
        return _dist(self.prompt_tokens, _default_prompt(self.model_id))

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


class FineTuning(_Model):
    """Train part of a model instead of every weight: the last `layers` weighted layers (the rest
    frozen), or LoRA adapters of `lora_rank` beside every weighted layer (the base frozen): the
    transfer learning an edge device can afford. Give exactly one."""

    layers: PosInt | None = None
    lora_rank: PosInt | None = None

    @model_validator(mode="after")
    def _one(self) -> FineTuning:
        if (self.layers is None) == (self.lora_rank is None):
            raise ValueError("give exactly one of layers or lora_rank")
        return self


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
    # A deferrable run: released at `start_hour` (UTC) each time, it may start up to `window_h`
    # later (still meeting its deadline), in the hour whose grid is cleanest (model/carbon.py).
    window_h: NonNeg | None = None
    start_hour: Annotated[float, Field(ge=0, lt=24)] = 0.0
    fine_tune: FineTuning | None = None  # None: every weight is trained


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
    fine_tune: FineTuning | None = None  # None: every weight is trained (and sent each round)


Workload = Annotated[Union[Inference, Training, Federated], Field(discriminator="kind")]
