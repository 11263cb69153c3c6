"""The scenario format (DESIGN.md) as pydantic models: loading, defaults and validation errors.

`load_scenario(path)` returns a validated `Scenario` or raises `ScenarioError` naming the file,
the field path (``sites.plant.devices[0].hardware``) and the reason, with a close match for a
misspelt id or field. Cross-references (sites, links, catalog ids, routes, trace files) are
checked here, so every later layer can trust what it is given.

The package, by concept:
  fields.py             the strict base model, constrained numbers, precisions and privacy levels
  arrivals.py           arrival processes (poisson, periodic, bursty, diurnal, trace)
  sites.py              sites, device groups, cloud pools and links
  workloads.py          inference, training and federated workloads, token counts, SLOs
  document.py           the whole `Scenario`, its prices and sweep
  schema.py             `json_schema()`: the models' schema with the fleet format
  loading.py            YAML reading (safe, duplicate keys, line and column), `load_scenario`
  fleets.py             fleets (`count:`, `members:`) expanded into member sites, links, instances
  inventory.py          fleet inventory CSVs
  distributions.py      per-member figures drawn from `{dist: ...}`
  limits.py             limits checked before work starts (alias expansion, fleet size)
  validation_errors.py  pydantic errors as one `ScenarioError` line with a close match
  references.py         catalog ids, site and workload references, routes, files
  traces.py             trace CSV files
"""
from __future__ import annotations

from planner.errors import CatalogError
from planner.scenario.arrivals import Arrival, Bursty, Diurnal, Periodic, Poisson, Trace
from planner.scenario.distributions import Distribution
from planner.scenario.document import Prices, Scenario, Sweep
from planner.scenario.fields import (
    NAMED_PRECISIONS, PRECISIONS, Fraction, NonNeg, NonNegInt, Pos, PosInt, Precision, Privacy,
)
from planner.scenario.fleets import FleetSpec
from planner.scenario.limits import MAX_ALIAS_VALUES, MAX_FLEET_MEMBERS
from planner.scenario.loading import MAX_FILE_BYTES, _parse_yaml, load_scenario, parse_scenario
from planner.scenario.references import referenced_files
from planner.scenario.schema import json_schema
from planner.scenario.sites import DeviceGroup, Link, Pool, Site
from planner.scenario.traces import MAX_TRACE_BYTES, read_trace
from planner.scenario.workloads import (
    DEFAULT_OUTPUT_TOKENS, Fallback, Federated, Inference, ModelFamily, Slo, Tokens, Training, Workload,
)

__all__ = [
    "Scenario", "Site", "DeviceGroup", "Pool", "Link", "Inference", "ModelFamily", "Training", "Federated", "Slo", "Fallback",
    "Poisson", "Periodic", "Bursty", "Diurnal", "Trace", "Prices", "load_scenario", "parse_scenario",
    "json_schema", "read_trace", "PRECISIONS", "NAMED_PRECISIONS", "CatalogError",
    # also importable, as before the split
    "Arrival", "Workload", "Tokens", "Sweep", "Precision", "Privacy", "Pos", "NonNeg", "PosInt",
    "NonNegInt", "Fraction", "DEFAULT_OUTPUT_TOKENS", "MAX_FILE_BYTES", "MAX_TRACE_BYTES",
    # fleets
    "Distribution", "FleetSpec", "MAX_ALIAS_VALUES", "MAX_FLEET_MEMBERS", "referenced_files",
]
