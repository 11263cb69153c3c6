"""How a pool's instances are bought: on demand, spot, or reserved for one or three years.

A pool lists the models the architect would buy (`pricing:`, default on demand only). Where it
lists more than on demand, its month is planned by the hour of the day: `need` whole instances
each hour (the peak of its workloads' daily profiles); a reserved base is paid every hour, used
or not; on-demand or spot instances are paid for the hours they run above it. `best_mix` is the
rule; the solver's columns mirror it, and `assess` applies it to a placement, so a plan and its
explanation price a pool alike. A pool that lists only on demand keeps the convention the
simulator measures: its planned instances billed all month.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from planner import catalog
from planner.model.workloads import HOURS_PER_DAY
from planner.units import HOURS_PER_MONTH, SECONDS_PER_HOUR

DAYS_PER_MONTH = HOURS_PER_MONTH / HOURS_PER_DAY


@dataclass(frozen=True)
class Rate:
    """One pricing model's price of an instance-hour, effective: spot's is grossed up by the
    capacity its interruptions take (an interrupted instance serves nothing until its
    replacement has cold-started)."""

    model: str
    usd_per_instance_hour: float
    discount_frac: float = 0.0
    capacity_lost_frac: float = 0.0
    interruptions_per_h: float = 0.0  # per instance-hour (spot); 0 for the others

    @property
    def paid_usd_per_instance_hour(self) -> float:
        """What the provider charges an instance-hour (the effective rate less the gross-up for
        capacity lost): the simulator bills this and measures the lost capacity itself."""
        return self.usd_per_instance_hour * (1 - self.capacity_lost_frac)


def interruptions_per_h(res, model: str) -> float:
    """Interruptions per instance-hour of a pool's instances bought as `model`: the pool's own
    `interruptions_per_h` for spot where it gives one, else the provider's (data/pricing.csv)."""
    if model != "spot":
        return 0.0
    pm = catalog.pricing(res.provider, model)
    return pm.interruptions_per_h if res.interruptions_per_h is None else res.interruptions_per_h


def rates(res) -> list[Rate]:
    """The rates of every model a pool lists."""
    on_demand = res.tariff.usd_per_server_hour
    out = []
    for m in res.pricing:
        pm = catalog.pricing(res.provider, m)
        per_h = interruptions_per_h(res, m)
        # An instance is interrupted at `per_h` through its whole life and spends its first
        # cold_start_s starting, so the share of instance time that serves nothing (the simulator
        # measures it) is E[min(life, cold start)] / E[life] = 1 - exp(-per_h * cold start).
        lost = min(0.5, -math.expm1(-per_h * res.cold_start_s / SECONDS_PER_HOUR)) if m == "spot" else 0.0
        out.append(Rate(m, on_demand * (1 - pm.discount_frac) / (1 - lost), pm.discount_frac, lost, per_h))
    return out


def reserved_rate(res) -> Rate | None:
    """The cheapest commitment the pool lists (paid all month), if any."""
    committed = [r for r in rates(res) if r.model.startswith("reserved")]
    return min(committed, key=lambda r: r.usd_per_instance_hour, default=None)


def hourly_rate(res) -> Rate | None:
    """The cheapest model paid by the hour it runs (on demand or spot), if any is listed."""
    hourly = [r for r in rates(res) if not r.model.startswith("reserved")]
    return min(hourly, key=lambda r: r.usd_per_instance_hour, default=None)


def device_pricing(tariff) -> str:
    """How a device group is paid for: `owned` (already in the field: nothing to buy, no idle
    draw billed) or `bought` (amortised)."""
    return "owned" if tariff.usd_per_server_hour == 0 and tariff.idle_w == 0 else "bought"


def mixes(res) -> bool:
    """Whether the pool's pricing is planned by the hour (it lists more than on demand)."""
    return res.kind == "pool" and tuple(res.pricing) != ("on_demand",)


@dataclass(frozen=True)
class Mix:
    """A pool's instances as bought: `n_reserved` at the reserved rate every hour, and
    `hourly_instance_h_per_day` instance-hours a day at the hourly rate above them."""

    reserved: Rate | None
    n_reserved: int
    hourly: Rate | None
    hourly_instance_h_per_day: float
    busy_h_per_day: float  # hours a day the pool needs any instance
    on_demand_usd_per_instance_hour: float

    @property
    def usd_per_month(self) -> float:
        r = self.n_reserved * self.reserved.usd_per_instance_hour * HOURS_PER_MONTH if self.reserved else 0.0
        h = self.hourly_instance_h_per_day * self.hourly.usd_per_instance_hour * DAYS_PER_MONTH if self.hourly else 0.0
        return r + h

    @property
    def label(self) -> str:
        """e.g. `reserved_1y` (all reserved), `reserved_1y×2+on_demand`, `on_demand`."""
        parts = []
        if self.n_reserved:
            parts.append(self.reserved.model + (f"×{self.n_reserved}" if self.hourly_instance_h_per_day else ""))
        if self.hourly_instance_h_per_day or not parts:
            parts.append(self.hourly.model if self.hourly else self.reserved.model)
        return "+".join(parts)

    @property
    def note(self) -> str:
        """Why: the hours the pool is busy and the discount the choice earns, e.g.
        `reserved_1y: busy 24 h a day, 38% below on-demand`."""
        busy = f"busy {self.busy_h_per_day:.0f} h a day"
        if self.n_reserved and self.reserved:
            head = f"{self.label}: {busy}, {self.reserved.discount_frac:.0%} below on-demand"
            if self.hourly_instance_h_per_day and self.hourly:
                head += f" for the base, {self.hourly.model} for {self.hourly_instance_h_per_day:.0f} instance-h a day above it"
            return head
        h = self.hourly
        if not self.reserved:
            why = "no commitment listed"
        elif self.busy_h_per_day < HOURS_PER_DAY:
            why = f"a commitment would be paid idle {HOURS_PER_DAY - self.busy_h_per_day:.0f} h a day"
        else:
            why = f"cheaper than {self.reserved.model}"
        extra = f", {h.discount_frac:.0%} below on-demand, {h.capacity_lost_frac:.2g} of its capacity lost to " \
                f"interruptions" if h and h.model == "spot" else ""
        return f"{self.label}: {busy}, {why}{extra}"


def best_mix(res, need_by_hour: Sequence[float]) -> Mix:
    """The cheapest way to buy a pool's `need_by_hour` (instance-loads, one a hour of the day):
    every reserved base from none to the peak, with hourly instances above it (whole instances
    each hour). A pool that lists no hourly model reserves its peak."""
    need = [max(0, math.ceil(x - 1e-9)) for x in need_by_hour]
    peak = max(need, default=0)
    res_rate, hr_rate = reserved_rate(res), hourly_rate(res)
    busy = float(sum(1 for x in need if x > 0))
    best: Mix | None = None
    for n_res in (range(peak + 1) if hr_rate and res_rate else [0] if hr_rate else [peak]):
        above = float(sum(max(0, x - n_res) for x in need))
        m = Mix(res_rate, n_res, hr_rate, above, busy, res.tariff.usd_per_server_hour)
        if best is None or m.usd_per_month < best.usd_per_month - 1e-9:
            best = m
    return best
