"""What the solver minimises, by name: each objective scores a column of the MILP from its
monthly bill and its rate-weighted p99, and breaks ties by the other figures. Adding an
objective is one entry here (and its name in the scenario format)."""
from __future__ import annotations

from collections.abc import Callable

from planner.model.accounting import MonthlyBill

#: objective -> score(bill, weighted p99 ms): lower is better
OBJECTIVES: dict[str, Callable[[MonthlyBill, float], float]] = {
    "cost": lambda b, p99_ms: b.total_usd + 1e-6 * p99_ms,  # ties: the faster option
    "latency": lambda b, p99_ms: p99_ms + 1e-6 * b.total_usd,
    "energy": lambda b, p99_ms: b.energy_kwh + 1e-6 * b.total_usd,
}
