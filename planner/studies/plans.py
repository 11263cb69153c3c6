"""A quick sweep: plan a scenario once per parameter set, without simulating.

    df = planner.sweep_plans("scenarios/smart_factory.yaml",
                             {"workloads.inspection.arrival.rate_per_s": [90, 180, 1800]})
    # a row per value: the value, feasible, monthly_cost_usd, status, note, and where each workload runs

It answers "how does the plan move with this figure?" in seconds, where `planner.sweep`
simulates every variant (`planner.sweep(..., simulate=False)` comes here). The app's one-parameter
sweep uses it on the scenario as edited, with the files uploaded beside it.
"""
from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from planner.errors import PlannerError
from planner.scenario import parse_scenario
from planner.studies.design import declared_sweep, grid, read_raw
from planner.studies.paths import set_path

#: Columns after the swept paths' own; a column per workload (where it runs) follows them.
PLAN_SWEEP_COLUMNS = ["feasible", "monthly_cost_usd", "status", "note"]


def sweep_plans(scenario: str | Path | Mapping[str, Any], set: Mapping[str, Sequence[Any] | Any] | None = None,  # noqa: A002 - as planner.sweep
                *, file: str | None = None, base_dir: str | Path | None = None, allow_paths: bool = True,
                attachments: Mapping[str, str | Path] | None = None) -> pd.DataFrame:
    """Plan `scenario` once per combination of the `set` values (dotted path -> values).

    `scenario` is a file (its declared `sweep:` block joins `set`, as in `planner.sweep`) or a raw
    mapping, taken as is; `file`, `base_dir`, `allow_paths` and `attachments` are then as in
    `planner.parse_scenario` (an upload names only its attachments). Returns a row per combination:
    a column per swept path with its value, `feasible`, `monthly_cost_usd` (NaN where nothing is
    placed), `status` (the solver's, or ``invalid`` when the value fails validation), `note` (the
    conflicts, or the field and reason of the validation error) and a column per workload,
    ``hardware@site precision`` (``–`` where it is not placed).
    A wrong path raises `PlannerError`: it is wrong for every value.
    """
    if isinstance(scenario, (str, Path)):
        name = str(scenario)
        data = read_raw(scenario)
        declared, _ = declared_sweep(data, name)
        base_dir = Path(scenario).resolve().parent if base_dir is None else base_dir
    else:
        name = file or "<scenario>"
        data, declared = copy.deepcopy(dict(scenario)), {}
    sets = {**declared, **{p: list(v) if isinstance(v, (list, tuple)) else [v] for p, v in (set or {}).items()}}
    files = {k: Path(v) for k, v in (attachments or {}).items()} if attachments is not None else None
    rows = []
    for params in grid(sets):
        variant = data
        for path, value in params.items():
            variant = set_path(variant, path, value)
        rows.append({**params, **_plan_row(variant, name, base_dir, allow_paths, files)})
    return pd.DataFrame(rows)


def _plan_row(data: dict[str, Any], file: str, base_dir: str | Path | None, allow_paths: bool,
              attachments: Mapping[str, Path] | None) -> dict[str, Any]:
    """The verdict on one variant: validated and planned, or the validation error that stops it."""
    from planner.plan import plan

    try:
        sc = parse_scenario(data, file=file, base_dir=base_dir, allow_paths=allow_paths, attachments=attachments)
    except PlannerError as e:
        field = getattr(e, "field", "")
        reason = getattr(e, "reason", str(e))
        return {"feasible": False, "monthly_cost_usd": math.nan, "status": "invalid",
                "note": f"{field}: {reason}" if field else reason}
    p = plan(sc)
    row: dict[str, Any] = {"feasible": bool(p.feasible),
                           "monthly_cost_usd": float(p.monthly_cost_usd) if p.placement else math.nan,
                           "status": p.status, "note": "; ".join(p.conflicts)}
    for name in sc.workloads:
        c = p.placement.get(name)
        row[name] = f"{c.hardware}@{c.site} {c.precision}" if c is not None else "–"
    return row


__all__ = ["sweep_plans", "PLAN_SWEEP_COLUMNS"]
