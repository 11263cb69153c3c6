"""Arrival processes of inference workloads: how requests arrive at their source."""
from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal, Union

from pydantic import Field, model_validator

from planner.scenario.fields import NonNeg, Pos, _Model
from planner.scenario.traces import read_trace


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
