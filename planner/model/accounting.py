"""One accounting rule for dollars, energy and emissions: a resource's use becomes a `MonthlyBill`.

The planner (predicted use), the simulator (measured use), reports and the app all call `bill`,
so a plan and its simulation are priced by the same rule. A new cost or emission component is
one field of `MonthlyBill` and one line of `bill`.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, NamedTuple

from planner.units import BYTES_PER_GB, J_PER_KWH, SECONDS_PER_MONTH

BilledAs = Literal["amortisation", "instances"]


@dataclass(frozen=True)
class Tariff:
    """What a resource costs: per server kept (an edge device's purchase spread over its
    amortisation period, or a cloud instance's price), its power, the electricity it pays for
    (none where the instance price includes power), and per byte sent (egress, network energy)."""

    usd_per_server_hour: float = 0.0
    billed_as: BilledAs = "amortisation"
    idle_w: float = 0.0
    active_w: float = 0.0
    electricity_usd_per_kwh: float = 0.0
    egress_usd_per_gb: float = 0.0
    energy_j_per_byte: float = 0.0
    # Emissions per kWh the resource itself draws: its grid's intensity times its facility's PUE
    # (cooling and power delivery drawn beside the IT load), so PUE is counted once, here.
    gco2e_per_kwh: float = 0.0


class Usage(NamedTuple):
    """What a resource did over `span_s` seconds: servers kept (server-seconds), servers busy
    computing (server-seconds), bytes sent. (A named tuple: one is made per priced use.)"""

    server_s: float = 0.0
    busy_s: float = 0.0
    bytes_sent: float = 0.0
    span_s: float = SECONDS_PER_MONTH


class MonthlyBill(NamedTuple):
    """Dollars by component, energy and emissions, per month. Adds with `+`, scales with `*`. (A
    named tuple: bills are made and added for every option and alternative, so they must be cheap.)"""

    instances_usd: float = 0.0
    amortisation_usd: float = 0.0
    electricity_usd: float = 0.0
    egress_usd: float = 0.0
    energy_j: float = 0.0
    kgco2e: float = 0.0  # emissions of that energy where it is drawn (location-based)

    @property
    def total_usd(self) -> float:
        return self.instances_usd + self.amortisation_usd + self.electricity_usd + self.egress_usd

    @property
    def energy_kwh(self) -> float:
        return self.energy_j / J_PER_KWH

    def __add__(self, other: MonthlyBill) -> MonthlyBill:  # type: ignore[override]
        # written out: bills are added for every option and alternative
        return _new(self[0] + other[0], self[1] + other[1], self[2] + other[2], self[3] + other[3], self[4] + other[4],
                    self[5] + other[5])

    def __radd__(self, other: object) -> MonthlyBill:  # sum() starts from 0
        return self if other == 0 else NotImplemented  # type: ignore[return-value]

    def __mul__(self, k: float) -> MonthlyBill:  # type: ignore[override]
        return _new(self[0] * k, self[1] * k, self[2] * k, self[3] * k, self[4] * k, self[5] * k)

    __rmul__ = __mul__

    def plus(self, other: MonthlyBill, k: float) -> MonthlyBill:
        """`self + other * k` in one step (the planner adds a scaled bill per option and route)."""
        return _new(self[0] + other[0] * k, self[1] + other[1] * k, self[2] + other[2] * k, self[3] + other[3] * k,
                    self[4] + other[4] * k, self[5] + other[5] * k)

    def as_dict(self) -> dict[str, float]:
        return self._asdict() | {"total_usd": self.total_usd}

    def __repr__(self) -> str:
        parts = ", ".join(f"{f.removesuffix('_usd')} ${v:,.2f}" for f, v in zip(self._fields, self)
                          if f.endswith("_usd") and v)
        return (f"MonthlyBill(${self.total_usd:,.2f}/month: {parts or 'nothing'}; {self.energy_kwh:,.1f} kWh, "
                f"{self.kgco2e:,.1f} kgCO2e)")


def weighted(a: MonthlyBill, x: float, b: MonthlyBill, y: float, c: MonthlyBill, z: float,
             d: MonthlyBill | None = None, v: float = 0.0) -> MonthlyBill:
    """`a*x + b*y + c*z + d*v` in one step: an option's own bill is such a sum (compute busy, a
    pool's busy, the bytes each way), built for every option of every fleet member."""
    d = ZERO if d is None else d
    return _new(a[0] * x + b[0] * y + c[0] * z + d[0] * v, a[1] * x + b[1] * y + c[1] * z + d[1] * v,
                a[2] * x + b[2] * y + c[2] * z + d[2] * v, a[3] * x + b[3] * y + c[3] * z + d[3] * v,
                a[4] * x + b[4] * y + c[4] * z + d[4] * v, a[5] * x + b[5] * y + c[5] * z + d[5] * v)


def _new(*values: float) -> MonthlyBill:
    return tuple.__new__(MonthlyBill, values)


ZERO = MonthlyBill()


def bill(tariff: Tariff, usage: Usage) -> MonthlyBill:
    """The monthly bill of `usage` under `tariff`: use observed over `usage.span_s` is scaled to
    a month (730 h). Idle power is drawn for every server-second kept, the active surplus for
    every busy server-second; electricity is paid on both where the tariff says so. Emissions
    are that energy (network energy included) at the tariff's intensity."""
    per_month = SECONDS_PER_MONTH / usage.span_s if usage.span_s > 0 else 0.0
    server_usd = usage.server_s * tariff.usd_per_server_hour / 3600.0
    energy_j = usage.server_s * tariff.idle_w + usage.busy_s * max(0.0, tariff.active_w - tariff.idle_w)
    electricity_usd = energy_j / J_PER_KWH * tariff.electricity_usd_per_kwh
    egress_usd = usage.bytes_sent / BYTES_PER_GB * tariff.egress_usd_per_gb
    energy_j += usage.bytes_sent * tariff.energy_j_per_byte
    return MonthlyBill(
        instances_usd=server_usd * per_month if tariff.billed_as == "instances" else 0.0,
        amortisation_usd=server_usd * per_month if tariff.billed_as == "amortisation" else 0.0,
        electricity_usd=electricity_usd * per_month,
        egress_usd=egress_usd * per_month,
        energy_j=energy_j * per_month,
        kgco2e=energy_j / J_PER_KWH * tariff.gco2e_per_kwh / 1000.0 * per_month,
    )


@lru_cache(maxsize=None)
def unit_bills(tariff: Tariff) -> tuple[MonthlyBill, MonthlyBill, MonthlyBill]:
    """`bill` of one server kept, one server busy and one byte a second, all month. `bill` is
    linear in each use, so any month's use is their weighted sum (`month_of`): the planner prices
    hundreds of thousands of options by it without re-running the rule."""
    return (bill(tariff, Usage(server_s=SECONDS_PER_MONTH)), bill(tariff, Usage(busy_s=SECONDS_PER_MONTH)),
            bill(tariff, Usage(bytes_sent=SECONDS_PER_MONTH)))


def month_of(tariff: Tariff, servers: float = 0.0, busy_per_s: float = 0.0, bytes_per_s: float = 0.0) -> MonthlyBill:
    """`bill` of a month of `servers` kept, `busy_per_s` server-seconds of work a second and
    `bytes_per_s` sent (the same figures, from `unit_bills`)."""
    return combine(unit_bills(tariff), servers, busy_per_s, bytes_per_s)


def combine(units: tuple[MonthlyBill, MonthlyBill, MonthlyBill], servers: float = 0.0, busy_per_s: float = 0.0,
            bytes_per_s: float = 0.0) -> MonthlyBill:
    """`month_of` from a tariff's `unit_bills` already looked up (a resource keeps its own)."""
    s, b, y = units
    return _new(s[0] * servers + b[0] * busy_per_s + y[0] * bytes_per_s,  # written out: one per option
                s[1] * servers + b[1] * busy_per_s + y[1] * bytes_per_s,
                s[2] * servers + b[2] * busy_per_s + y[2] * bytes_per_s,
                s[3] * servers + b[3] * busy_per_s + y[3] * bytes_per_s,
                s[4] * servers + b[4] * busy_per_s + y[4] * bytes_per_s,
                s[5] * servers + b[5] * busy_per_s + y[5] * bytes_per_s)
