"""Sites (edge sites with devices, cloud regions with pools) and the links between them."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, PrivateAttr, field_validator, model_validator

from planner import catalog
from planner.scenario.fields import Fraction, MaxSeqs, NonNeg, NonNegInt, Pos, PosInt, _Model


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
    # Devices already in the field (users' phones, vehicles, installed cameras): their purchase is
    # not the architect's to pay, so they bill no amortisation, only the energy the work draws.
    owned: bool = False
    max_seqs: MaxSeqs | None = None  # a language model's engine: sequences at once (None: 256)


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
    max_seqs: MaxSeqs | None = None  # a language model's engine: sequences at once (None: 256)
    # How the architect would buy the instances; the planner chooses among them and may mix a
    # reserved base (paid whether used or not) with on-demand or spot instances above it.
    pricing: Annotated[list[Literal["on_demand", "spot", "reserved_1y", "reserved_3y"]], Field(min_length=1)] = ["on_demand"]
    usd_per_hour: Pos | None = None  # on-demand price of one instance; None: the catalog's x gpus
    interruptions_per_h: NonNeg | None = None  # spot: per instance-hour; None: the provider's (data/pricing.csv)
    # The pool's own availability; None: the provider's single-instance SLA when the pool runs
    # one instance at most (data/availability.csv), else nothing beyond its region's.
    availability: Fraction | None = None

    @model_validator(mode="after")
    def _bounds(self) -> Pool:
        if len(set(self.pricing)) < len(self.pricing):
            raise ValueError(f"pricing lists a model twice: {self.pricing}")
        if self.min_instances > self.max_instances:
            raise ValueError(
                f"min_instances ({self.min_instances}) exceeds max_instances ({self.max_instances})"
            )
        return self


class GridIntensity(_Model):
    """A grid given by its figure rather than a catalog zone; `hourly_gco2e_per_kwh` (24
    figures, hour 0 = 00:00 UTC, from the architect's source) lets a training job with a
    `window_h` run in the cleanest hours."""

    gco2e_per_kwh: NonNeg
    hourly_gco2e_per_kwh: list[NonNeg] | None = None

    @field_validator("hourly_gco2e_per_kwh")
    @classmethod
    def _a_day(cls, v: list[float] | None) -> list[float] | None:
        if v is not None and len(v) != 24:
            raise ValueError(f"gives one figure per hour of the day: 24, got {len(v)}")
        return v


class Site(_Model):
    """An edge site (devices near the data) or a cloud region (pools of GPU instances)."""

    kind: Literal["edge", "cloud"]
    region: str | None = None  # privacy `region` keeps data within the source's region
    provider: Literal["aws", "gcp", "azure"] = "aws"  # whose egress prices and PUE apply (cloud sites)
    # The provider's own region id (us-east-1, europe-north1, westeurope): selects its grid's
    # carbon intensity from data/grid.csv, and its provider when `provider` is left out.
    provider_region: str | None = None
    # Where the site draws its electricity: a country or grid-zone code of data/grid.csv, or
    # {gco2e_per_kwh: ...}. None: the provider region's grid, else the world's mean.
    grid: GridIntensity | str | None = None  # a mapping is read as a figure first, so its errors name its fields
    devices: list[DeviceGroup] = []
    pools: list[Pool] = []
    # A cloud region's availability; None: its provider's region-level SLA (data/availability.csv).
    availability: Fraction | None = None

    @model_validator(mode="before")
    @classmethod
    def _provider_from_region(cls, data: object) -> object:
        """A cloud site that names its provider region but not its provider takes the region's."""
        if isinstance(data, dict) and data.get("provider_region") and "provider" not in data:
            try:
                owner = catalog.grid(str(data["provider_region"])).provider
            except catalog.CatalogError:
                return data  # the field validator names the unknown region
            if owner:
                data = {**data, "provider": owner}
        return data

    @field_validator("provider_region")
    @classmethod
    def _known_region(cls, v: str | None) -> str | None:
        known = [z for z in catalog.grid_zones() if catalog.grid(z).provider]
        if v is not None and v not in known:
            raise ValueError(f"unknown provider region '{v}': one of {', '.join(known)}")
        return v

    @field_validator("grid")
    @classmethod
    def _known_zone(cls, v: str | GridIntensity | None) -> str | GridIntensity | None:
        if isinstance(v, str) and v not in catalog.grid_zones():
            raise ValueError(f"unknown grid zone '{v}': one of {', '.join(catalog.grid_zones(provider=''))} "
                             f"or a provider region, or {{gco2e_per_kwh: ...}}")
        return v

    # Set by loading when the site is a member of a fleet (not a field of the format).
    _fleet: str | None = PrivateAttr(default=None)

    @property
    def fleet(self) -> str | None:
        """The fleet this site is a member of (its site entry in the file), or None."""
        return self._fleet

    @model_validator(mode="after")
    def _compute_fits_kind(self) -> Site:
        if self.kind == "edge" and self.pools:
            raise ValueError("an edge site has devices, not pools")
        if self.kind == "cloud" and not self.pools and not self.devices:
            raise ValueError("a cloud site needs at least one pool")
        if self.kind == "edge" and self.availability is not None:
            raise ValueError("an edge site's availability comes from its devices' and links' mtbf_h/mttr_h, "
                             "not `availability:`")
        if self.kind == "edge" and self.provider_region:
            raise ValueError("an edge site gives its electricity as `grid:`, not `provider_region:`")
        if self.provider_region and catalog.grid(self.provider_region).provider != self.provider:
            raise ValueError(f"provider region '{self.provider_region}' is "
                             f"{catalog.grid(self.provider_region).provider}'s, not {self.provider}'s")
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
    def loss_prob(self) -> float:
        """Packet loss as a probability (the format and the catalog give it in percent)."""
        return (self.loss_pct if self.loss_pct is not None else self._catalog().loss_pct) / 100
