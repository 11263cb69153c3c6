"""Token counts of language-model requests: fixed, or drawn from a distribution.

The planner plans with a count's mean and upper quantiles; the simulator draws one per request.
A lognormal with a coefficient of variation is the usual fit to chat prompt and answer lengths
(ShareGPT, LMSYS-Chat); `uniform` and `exponential` are there for studies.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace
from statistics import NormalDist

DISTS = ("fixed", "lognormal", "exponential", "uniform")


@dataclass(frozen=True)
class TokenDist:
    """Tokens per request: `mean`, spread `cv` (lognormal), bounds `low`..`high` (inclusive)."""

    dist: str = "fixed"
    mean: float = 1.0
    cv: float = 0.0
    low: int = 1
    high: int | None = None

    @classmethod
    def fixed(cls, n: int) -> TokenDist:
        return cls("fixed", float(n), 0.0, int(n), int(n))

    def quantile(self, q: float) -> int:
        """The `q` quantile of the count (before the bounds clip it, then clipped)."""
        if self.dist == "fixed" or self.cv == 0 and self.dist == "lognormal":
            x = self.mean
        elif self.dist == "lognormal":
            s2 = math.log1p(self.cv ** 2)
            x = math.exp(math.log(self.mean) - s2 / 2 + math.sqrt(s2) * NormalDist().inv_cdf(q))
        elif self.dist == "exponential":
            x = -self.mean * math.log1p(-q)
        else:  # uniform between low and 2 x mean - low
            x = self.low + q * 2 * (self.mean - self.low)
        return self._clip(x)

    def sample(self, rng: random.Random) -> int:
        if self.dist == "fixed":
            return self._clip(self.mean)
        if self.dist == "lognormal":
            if self.cv == 0:
                return self._clip(self.mean)
            s2 = math.log1p(self.cv ** 2)
            return self._clip(math.exp(rng.gauss(math.log(self.mean) - s2 / 2, math.sqrt(s2))))
        if self.dist == "exponential":
            return self._clip(rng.expovariate(1.0 / self.mean))
        return self._clip(rng.uniform(self.low, 2 * self.mean - self.low))

    def share_above(self, n: int) -> float:
        """The exact probability that a drawn count exceeds `n` (as `sample` draws and clips it):
        the share of requests a `by_tokens` rule with threshold `n` sends to the secondary."""
        if n < self.low:
            return 1.0
        if self.high is not None and n >= self.high:
            return 0.0
        if self.dist == "fixed" or self.cv == 0 and self.dist == "lognormal":
            return 1.0 if self._clip(self.mean) > n else 0.0
        x = n + 0.5  # a draw rounds to a count above n exactly when it is at least n + 0.5
        if self.dist == "lognormal":
            s2 = math.log1p(self.cv ** 2)
            return 1.0 - NormalDist(math.log(self.mean) - s2 / 2, math.sqrt(s2)).cdf(math.log(x))
        if self.dist == "exponential":
            return math.exp(-x / self.mean)
        lo, hi = self.low, 2 * self.mean - self.low
        return min(1.0, max(0.0, (hi - x) / (hi - lo))) if hi > lo else (1.0 if lo > n else 0.0)

    def below(self, n: int) -> TokenDist:
        """The counts of at most `n` (a `by_tokens` rule's primary side), bounded above by `n`;
        the mean is the conditional mean, approximated by that of the clipped draw."""
        return replace(self, mean=min(self.mean, self._conditional_mean(n, below=True)), high=n)

    def above(self, n: int) -> TokenDist:
        """The counts above `n` (a `by_tokens` rule's secondary side), bounded below by `n + 1`."""
        return replace(self, mean=max(self.mean, self._conditional_mean(n, below=False)), low=n + 1)

    def _conditional_mean(self, n: int, below: bool) -> float:
        """The mean count on one side of `n`, by quadrature over the quantiles (deterministic)."""
        k = 2000
        xs = [self.quantile((i + 0.5) / k) for i in range(k)]
        side = [x for x in xs if (x <= n) == below]
        return sum(side) / len(side) if side else float(n if below else n + 1)

    @property
    def upper(self) -> int:
        """The largest count a request can have (the 99.99th percentile when unbounded)."""
        return self.high if self.high is not None else self.quantile(0.9999)

    def _clip(self, x: float) -> int:
        n = max(self.low, int(round(x)))
        return n if self.high is None else min(n, self.high)

    def __repr__(self) -> str:
        if self.dist == "fixed":
            return f"TokenDist({self.mean:g})"
        return f"TokenDist({self.dist}, mean {self.mean:g}, cv {self.cv:g}, {self.low}..{self.high or '∞'})"
