"""Figures that vary across a fleet's members: `{dist: lognormal | uniform | normal, ...}`.

A numeric field of a fleet's links, or of the arrival of a workload sourced at a fleet, may be
a distribution instead of a number; each member draws its own value. Draws are deterministic:
the generator for a field is seeded by the scenario's seed and the field's path, so the same
file gives the same fleet, and adding a field does not shift the draws of another.
"""
from __future__ import annotations

import hashlib
import math
from typing import Literal

import numpy as np
from pydantic import model_validator

from planner.scenario.fields import NonNeg, Pos, _Model


class Distribution(_Model):
    """`lognormal` and `normal` take `mean` and `cv` (standard deviation / mean); `uniform` takes
    `low` and `high`. A `normal` draw at or below zero is drawn again (truncated at zero): the
    fields it serves are rates, bandwidths and delays."""

    dist: Literal["lognormal", "uniform", "normal"]
    mean: Pos | None = None
    cv: NonNeg | None = None
    low: NonNeg | None = None
    high: Pos | None = None

    @model_validator(mode="after")
    def _parameters(self) -> Distribution:
        if self.dist == "uniform":
            if self.low is None or self.high is None or self.mean is not None or self.cv is not None:
                raise ValueError("a uniform distribution takes low and high (and no mean or cv)")
            if self.low > self.high:
                raise ValueError(f"low ({self.low:g}) exceeds high ({self.high:g})")
        elif self.mean is None or self.cv is None or self.low is not None or self.high is not None:
            raise ValueError(f"a {self.dist} distribution takes mean and cv (and no low or high)")
        return self

    @property
    def typical(self) -> float:
        """The value that stands for the whole fleet where one value is checked: the mean."""
        if self.dist == "uniform":
            return (float(self.low or 0.0) + float(self.high or 0.0)) / 2
        return float(self.mean or 0.0)

    def draw(self, seed: int, where: str, n: int) -> np.ndarray:
        """`n` values, one per member in order, from a generator keyed by (`seed`, `where`)."""
        rng = np.random.default_rng([seed, _stable_hash(where)])
        if self.dist == "uniform":
            return rng.uniform(float(self.low or 0.0), float(self.high or 0.0), size=n)
        mean, cv = float(self.mean or 0.0), float(self.cv or 0.0)
        if self.dist == "lognormal":
            sigma2 = math.log1p(cv * cv)
            return rng.lognormal(math.log(mean) - sigma2 / 2, math.sqrt(sigma2), size=n)
        out = rng.normal(mean, cv * mean, size=n)
        for _ in range(100):  # truncated at zero: redraw what fell at or below it
            bad = out <= 0
            if not bad.any():
                break
            out[bad] = rng.normal(mean, cv * mean, size=int(bad.sum()))
        return np.where(out > 0, out, mean)


def is_distribution(value: object) -> bool:
    """Whether a raw YAML value is written as a distribution (a mapping with `dist`)."""
    return isinstance(value, dict) and "dist" in value


def _stable_hash(text: str) -> int:
    """A hash of `text` that is the same in every process (Python's `hash` is salted)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
