"""A placement: for each workload, where it runs (site, hardware, precision, optional split) and,
where the workload names a model family, which variant (`model`), and where a language-model
workload lists KV-cache precisions, which one (`kv_precision`).

Taken wherever a placement is given (`simulate`, `evaluate`, `--placement FILE`): a `Plan`
(anything with a `.placement` mapping) or a plain mapping from workload name to
``{site, hardware, precision}`` (plus ``split`` where the model is split, ``model`` to fix the
variant of a family; left out, `evaluate` takes the cheapest variant that meets the floor;
``kv_precision`` to fix a language model's KV cache; left out, the workload's own, the first of
its list).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from planner.errors import ScenarioError, did_you_mean
from planner.scenario import NAMED_PRECISIONS, PRECISIONS, Scenario


@dataclass(frozen=True)
class Choice:
    """Where one workload runs. `split` = index of the last op run at `edge_site` on
    `edge_hardware`; the rest runs at `site`. None = the whole model runs at `site`."""

    site: str
    hardware: str
    precision: str
    split: int | None = None
    edge_hardware: str | None = None
    # a routed pair: the rule (`overflow` | `by_tokens`) and the secondary placement; the fields
    # above are then the primary's
    routing: str | None = None
    secondary: Choice | None = None
    # a language model across the boundary: prefill_cloud_decode_edge | speculative, the cloud
    # side at `site` on `hardware`, the device side on the source's `edge_hardware`
    llm_split: str | None = None
    model: str | None = None  # the variant of the workload's family; None: the workload's own model
    # a language model's KV-cache precision; None: the workload's own (`model.workloads.kv_precision_of`)
    kv_precision: str | None = None

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"site": self.site, "hardware": self.hardware, "precision": self.precision}
        if self.split is not None:
            d.update(split=self.split, edge_hardware=self.edge_hardware)
        if self.llm_split is not None:
            d.update(llm_split=self.llm_split, edge_hardware=self.edge_hardware)
        if self.secondary is not None:
            sec = self.secondary.as_dict()
            for one in ONE_PER_PAIR:  # a routed pair runs one model and cache: the primary's entry names them
                sec.pop(one, None)
            d.update(routing=self.routing, secondary=sec)
        if self.model is not None:
            d["model"] = self.model
        if self.kv_precision is not None:
            d["kv_precision"] = self.kv_precision
        return d


#: the fields of one workload's entry
FIELDS = ("site", "hardware", "precision", "split", "edge_hardware", "llm_split", "routing", "secondary", "model",
          "kv_precision")
#: the fields a routed pair's primary entry names for both sides
ONE_PER_PAIR = ("model", "kv_precision")
#: the boundary modes a placement may name (`llm_split`)
LLM_SPLIT_MODES = ("prefill_cloud_decode_edge", "speculative")


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
        out[name] = _choice(scenario, file, at, spec)
        if "secondary" in spec or "routing" in spec:
            out[name] = _routed(scenario, file, at, spec, out[name])
        both = {"model": _variant(scenario, file, at, spec.get("model")),
                "kv_precision": _kv_precision(scenario, file, at, spec.get("kv_precision"))}
        both = {k: v for k, v in both.items() if v is not None}
        if both:  # the variant and the KV cache are those of both sides of a routed pair
            sec = out[name].secondary
            out[name] = replace(out[name], **both, secondary=None if sec is None else replace(sec, **both))
    return out


def _routed(scenario: Scenario, file: str, at: str, spec: Mapping, primary: Choice) -> Choice:
    """A routed pair fixed by hand: `secondary: {site, hardware, precision}` and, where the
    workload gives more than one rule, `routing:` naming the one to apply."""
    w = scenario.workloads[at]
    rules = w.routing.rules() if getattr(w, "routing", None) is not None else []
    if not rules:
        raise ScenarioError(file, f"{at}.secondary", f"workload '{at}' has no routing: rules to route by",
                            "add routing: to the workload in the scenario")
    sec = spec.get("secondary")
    if not isinstance(sec, Mapping):
        raise ScenarioError(file, f"{at}.secondary", "missing required field" if sec is None else
                            "expected a mapping with site, hardware and precision")
    extra = set(sec) - {"site", "hardware", "precision"}
    if extra:
        bad = sorted(map(str, extra))[0]
        raise ScenarioError(file, f"{at}.secondary.{bad}", f"unknown field '{bad}'",
                            did_you_mean(bad, ["site", "hardware", "precision"]))
    rule = spec.get("routing", rules[0] if len(rules) == 1 else None)
    if rule not in rules:
        raise ScenarioError(file, f"{at}.routing", f"'{rule}' is not a rule the workload gives" if rule is not None
                            else f"the workload gives {' and '.join(rules)}: say which", f"one of: {', '.join(rules)}")
    if primary.split is not None:
        raise ScenarioError(file, f"{at}.split", "a routed pair's primary runs the whole model (no split)")
    return Choice(primary.site, primary.hardware, primary.precision, routing=rule,
                  secondary=_choice(scenario, file, f"{at}.secondary", sec))


def _variant(scenario: Scenario, file: str, name: str, model: Any) -> str | None:
    """The variant a placement fixes: one the workload may run (None for its own single model)."""
    if model is None:
        return None
    variants = scenario.workloads[name].variants
    if model not in variants:
        raise ScenarioError(file, f"{name}.model", f"'{model}' is not a model workload '{name}' may run",
                            did_you_mean(str(model), variants) or f"it may run: {', '.join(variants)}")
    return None if len(variants) == 1 else model  # the workload's own model: nothing to record


def _kv_precision(scenario: Scenario, file: str, name: str, kv: Any) -> str | None:
    """The KV-cache precision a placement fixes: one of those the language-model workload allows
    (its `kv_precision:`, one value or a list)."""
    if kv is None:
        return None
    w = scenario.workloads[name]
    allowed = [k for k in getattr(w, "kv_precisions", lambda: (None,))() if k is not None]
    if kv not in allowed:
        what = f"'{kv}' is not a KV-cache precision workload '{name}' may use"
        hint = (did_you_mean(str(kv), allowed) or f"it may use: {', '.join(allowed)}") if allowed else \
            "the workload gives no kv_precision: list one (or a list) on the language-model workload in the scenario"
        raise ScenarioError(file, f"{name}.kv_precision", what, hint)
    return kv


def _choice(scenario: Scenario, file: str, at: str, spec: Mapping) -> Choice:
    """One placement's site, hardware, precision (and split), checked against the scenario."""
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
    if precision not in PRECISIONS + NAMED_PRECISIONS:
        known = PRECISIONS + NAMED_PRECISIONS
        raise ScenarioError(file, f"{at}.precision", f"'{precision}' is not one of {', '.join(known)}",
                            did_you_mean(str(precision), known))
    split = spec.get("split")
    if split is not None and (not isinstance(split, int) or isinstance(split, bool) or split < 0):
        raise ScenarioError(file, f"{at}.split", "expected a layer index >= 0")
    mode = spec.get("llm_split")
    if mode is not None and mode not in LLM_SPLIT_MODES:
        raise ScenarioError(file, f"{at}.llm_split", f"'{mode}' is not one of {', '.join(LLM_SPLIT_MODES)}",
                            did_you_mean(str(mode), LLM_SPLIT_MODES))
    if mode is not None and split is not None:
        raise ScenarioError(file, f"{at}.llm_split", "a language model is split by mode, not at a layer: "
                            "give llm_split or split, not both")
    return Choice(site, spec["hardware"], precision, split, spec.get("edge_hardware"), llm_split=mode)


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
