"""What the solver minimises, by name: each objective scores a column of the MILP from its
monthly bill, its rate-weighted p99 and the scenario's carbon price, and breaks ties by the other
figures. Adding an objective is one entry here (and its name in the scenario format)."""
from __future__ import annotations

from collections.abc import Callable

from planner.model.accounting import MonthlyBill

#: objective -> score(bill, weighted p99 ms, carbon price USD per tonne CO2e): lower is better.
#: The carbon price is a shadow price the cost objective adds; the bill itself stays what is paid.
OBJECTIVES: dict[str, Callable[[MonthlyBill, float, float], float]] = {
    "cost": lambda b, p99_ms, usd_per_t: b.total_usd + usd_per_t * b.kgco2e / 1000 + 1e-6 * p99_ms,  # ties: the faster
    "latency": lambda b, p99_ms, usd_per_t: p99_ms + 1e-6 * b.total_usd,
    "energy": lambda b, p99_ms, usd_per_t: b.energy_kwh + 1e-6 * b.total_usd,
    "carbon": lambda b, p99_ms, usd_per_t: b.kgco2e + 1e-6 * b.total_usd,
}
