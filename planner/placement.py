"""A placement: for each workload, where it runs (site, hardware, precision, optional split) and,
where the workload names a model family, which variant (`model`).

Taken wherever a placement is given (`simulate`, `evaluate`, `--placement FILE`): a `Plan`
(anything with a `.placement` mapping) or a plain mapping from workload name to
``{site, hardware, precision}`` (plus ``split`` where the model is split, ``model`` to fix the
variant of a family; left out, `evaluate` takes the cheapest variant that meets the floor).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from planner.errors import ScenarioError, did_you_mean
from planner.scenario import PRECISIONS, Scenario


@dataclass(frozen=True)
class Choice:
    """Where one workload runs. `split` = index of the last op run at `edge_site` on
    `edge_hardware`; the rest runs at `site`. None = the whole model runs at `site`."""

    site: str
    hardware: str
    precision: str
    split: int | None = None
    edge_hardware: str | None = None
    model: str | None = None  # the variant of the workload's family; None: the workload's own model

    def as_dict(self) -> dict[str, Any]:
        d = {"site": self.site, "hardware": self.hardware, "precision": self.precision}
        if self.split is not None:
            d.update(split=self.split, edge_hardware=self.edge_hardware)
        if self.model is not None:
            d["model"] = self.model
        return d


#: the fields of one workload's entry
FIELDS = ("site", "hardware", "precision", "split", "edge_hardware", "model")


def parse_placement(scenario: Scenario, placement: Any, file: str = "<placement>") -> dict[str, Choice]:
    """Check a placement against the scenario and return workload -> Choice.

    Every workload named must exist, its site must exist and host the hardware, and the
    precision must be known. Workloads left out are simply not placed (not simulated).
    """
    raw = getattr(placement, "placement", placement)
    if not isinstance(raw, Mapping):
        raise ScenarioError(file, "", "a placement is a mapping from workload name to {site, hardware, precision}")
    out: dict[str, Choice] = {}
    for name, spec in raw.items():
        if isinstance(spec, Choice):
            spec = spec.as_dict()
        at = str(name)
        if name not in scenario.workloads:
            raise ScenarioError(file, at, f"unknown workload '{name}'", did_you_mean(str(name), scenario.workloads))
        if not isinstance(spec, Mapping):
            raise ScenarioError(file, at, "expected a mapping with site, hardware and precision")
        extra = set(spec) - set(FIELDS)
        if extra:
            bad = sorted(map(str, extra))[0]
            raise ScenarioError(file, f"{at}.{bad}", f"unknown field '{bad}'", did_you_mean(bad, FIELDS))
        for key in ("site", "hardware"):
            if not isinstance(spec.get(key), str):
                raise ScenarioError(file, f"{at}.{key}", "missing required field" if key not in spec else "expected text")
        site = spec["site"]
        if site not in scenario.sites:
            raise ScenarioError(file, f"{at}.site", f"unknown site '{site}'", did_you_mean(site, scenario.sites))
        s = scenario.sites[site]
        hosted = [d.hardware for d in s.devices] + [p.hardware for p in s.pools]
        if spec["hardware"] not in hosted:
            raise ScenarioError(file, f"{at}.hardware", f"site '{site}' has no '{spec['hardware']}'",
                                did_you_mean(spec["hardware"], hosted) or f"it has: {', '.join(hosted) or 'nothing'}")
        precision = spec.get("precision", "fp32")
        if precision not in PRECISIONS:
            raise ScenarioError(file, f"{at}.precision", f"'{precision}' is not one of {', '.join(PRECISIONS)}",
                                did_you_mean(str(precision), PRECISIONS))
        split = spec.get("split")
        if split is not None and (not isinstance(split, int) or isinstance(split, bool) or split < 0):
            raise ScenarioError(file, f"{at}.split", "expected a layer index >= 0")
        model = spec.get("model")
        if model is not None:
            variants = scenario.workloads[name].variants
            if model not in variants:
                raise ScenarioError(file, f"{at}.model", f"'{model}' is not a model workload '{name}' may run",
                                    did_you_mean(str(model), variants) or f"it may run: {', '.join(variants)}")
            if len(variants) == 1:
                model = None  # the workload's own model: nothing to record
        out[name] = Choice(site, spec["hardware"], precision, split, spec.get("edge_hardware"), model)
    return out


def load_placement(scenario: Scenario, path: str | Path) -> dict[str, Choice]:
    """Read a placement YAML/JSON file (workload -> {site, hardware, precision})."""
    p = Path(path)
    if not p.is_file():
        raise ScenarioError(str(path), "", "file not found")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise ScenarioError(str(path), "", f"YAML syntax error: {e}".splitlines()[0]) from None
    if isinstance(data, Mapping) and "placement" in data and isinstance(data["placement"], Mapping):
        data = data["placement"]
    return parse_placement(scenario, data, file=str(path))
