"""The one model of the system that the planner, the simulator, reports and the app all read.

- `ids`: typed resource ids (`ResourceId`);
- `accounting`: `Tariff`, `Usage`, `MonthlyBill` and the one rule `bill` that prices use;
- `system`: the scenario resolved against the catalog (`resolve(scenario) -> System`): resources
  with their figures and tariffs, routes, candidate sites;
- `workloads`: each workload's conventions (bytes in and out, samples, weights shipped).
Units live in `planner.units`.
"""
from planner.model.accounting import MonthlyBill, Tariff, Usage, bill
from planner.model.ids import ResourceId

__all__ = ["MonthlyBill", "ResourceId", "Tariff", "Usage", "bill"]
