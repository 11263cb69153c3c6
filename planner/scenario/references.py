"""Checks across the scenario: catalog ids, sites named by links and workloads, routes, files."""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import networkx as nx

from planner import catalog
from planner.errors import ScenarioError, did_you_mean
from planner.scenario.arrivals import Trace
from planner.scenario.document import Scenario
from planner.scenario.workloads import FALLBACK_PRECISIONS, Federated, Inference, Training


def check_references(sc: Scenario, file: str, base: Path, allow_paths: bool, attachments: Mapping[str, Path]) -> None:
    def fail(field: str, reason: str, hint: str = "") -> None:
        raise ScenarioError(file, field, reason, hint)

    def known(kind: str, key: str, ids: list[str], field: str) -> None:
        if key not in ids:
            fail(field, f"unknown {kind} '{key}'", did_you_mean(key, ids))

    hw_ids, net_ids = catalog.hardware_ids(), catalog.network_ids()
    for name, site in sc.sites.items():
        for i, d in enumerate(site.devices):
            known("hardware", d.hardware, hw_ids, f"sites.{name}.devices[{i}].hardware")
        for i, pool in enumerate(site.pools):
            known("hardware", pool.hardware, hw_ids, f"sites.{name}.pools[{i}].hardware")

    pairs: dict[frozenset, int] = {}
    for i, link in enumerate(sc.links):
        for end in link.between:
            if end not in sc.sites:
                fail(f"links[{i}].between", f"unknown site '{end}'", did_you_mean(end, sc.sites))
        pair = frozenset(link.between)
        if pair in pairs:
            fail(f"links[{i}].between", f"duplicate link between '{link.between[0]}' and '{link.between[1]}' (also links[{pairs[pair]}])")
        pairs[pair] = i
        known("network", link.network, net_ids, f"links[{i}].network")

    routes = _Routes(sc)
    traces: dict[tuple[Path, str], list[float]] = {}  # a trace shared by many workloads is read once
    for name, w in sc.workloads.items():
        at = f"workloads.{name}"
        if w.source not in sc.sites:
            fail(f"{at}.source", f"unknown site '{w.source}'", did_you_mean(w.source, sc.sites))
        if isinstance(w.model, str):
            _check_model(w.model, f"{at}.model", base, allow_paths, attachments, fail)
        elif w.model.family not in catalog.variant_families():
            fail(f"{at}.model.family", f"unknown model family '{w.model.family}'",
                 did_you_mean(w.model.family, catalog.variant_families()) or f"one of {', '.join(catalog.variant_families())}")
        if isinstance(w, Inference):
            _check_accuracy_floor(w, at, fail)
            _check_llm(w, at, fail)
            for field, value in (("split", w.split), ("speculative", w.speculative)):
                if value is not None and not sc.sites[w.source].devices:
                    fail(f"{at}.{field}", f"source '{w.source}' has no device to decode on (a boundary split "
                         "runs its decode or draft on the source's first device group)")
            if w.fallback is not None:
                _check_fallback(sc, w, at, base, allow_paths, attachments, fail)
        if isinstance(w, Inference) and isinstance(w.arrival, Trace):
            path = _resolve_file(w.arrival.file, f"{at}.arrival.file", base, allow_paths, attachments, fail)
            w.arrival.__dict__["path"] = path  # resolved against the scenario file (cached_property slot)
            key = (path, w.arrival.column)
            if key in traces:
                w.arrival.__dict__["timestamps_s"] = traces[key]
            try:
                traces[key] = w.arrival.timestamps_s  # read and check now, so the simulator can trust it
            except ValueError as e:
                fail(f"{at}.arrival.file", f"{path}: {e}")
        if isinstance(w, Training):
            for j, target in enumerate(w.deploy_to):
                if target not in sc.workloads:
                    fail(f"{at}.deploy_to[{j}]", f"unknown workload '{target}'", did_you_mean(target, sc.workloads))
                if not isinstance(sc.workloads[target], Inference):
                    fail(f"{at}.deploy_to[{j}]", f"'{target}' is not an inference workload")
        if isinstance(w, Federated):
            for j, s in enumerate(w.sites):
                if s not in sc.sites:
                    fail(f"{at}.sites[{j}]", f"unknown site '{s}'", did_you_mean(s, sc.sites))
            if len(set(w.sites)) != len(w.sites):
                fail(f"{at}.sites", "a site is listed twice")
            if w.aggregator is not None and w.aggregator not in sc.sites:
                fail(f"{at}.aggregator", f"unknown site '{w.aggregator}'", did_you_mean(w.aggregator, sc.sites))
        routes.check(name, w, fail)


class _Routes:
    """Which sites with compute each source can reach, from one search of the site graph.

    The connected components are found once; for each (component, privacy scope) the first
    site with compute that a source there may use but cannot reach is found once and kept, so
    checking every workload costs one lookup each, not a pass over all sites.
    """

    def __init__(self, sc: Scenario):
        self.sc = sc
        self.component: dict[str, int] = {}
        for i, comp in enumerate(nx.connected_components(sc.graph)):
            for n in comp:
                self.component[n] = i
        self.compute = [n for n, site in sc.sites.items() if site.devices or site.pools]
        self.compute_in_region: dict[str, list[str]] = {}
        for n in self.compute:
            region = sc.sites[n].region
            if region:
                self.compute_in_region.setdefault(region, []).append(n)
        self._unreached: dict[tuple[int, str | None], str | None] = {}

    def first_unreached(self, source: str, region: str | None) -> str | None:
        """The first site with compute (in file order) outside `source`'s component: any site
        when `region` is None, else the sites of that region."""
        comp = self.component[source]
        key = (comp, region)
        if key not in self._unreached:
            sites = self.compute if region is None else self.compute_in_region.get(region, [])
            self._unreached[key] = next((n for n in sites if self.component[n] != comp), None)
        return self._unreached[key]

    def check(self, name: str, w: Any, fail: Any) -> None:
        """A route from the workload's source to every site with compute it could use."""
        comp = self.component[w.source]
        ends = list(w.sites) + ([w.aggregator] if w.aggregator else []) if isinstance(w, Federated) else []
        for s in ends:
            if self.component[s] != comp:
                fail(f"workloads.{name}.sites", f"site '{s}' is unreachable from source '{w.source}' (no path of links)")
        src = self.sc.sites[w.source]
        src_computes = bool(src.devices or src.pools)
        if w.privacy == "any":
            has_candidates, unreached = bool(self.compute), self.first_unreached(w.source, None)
        elif w.privacy == "region" and src.region:
            in_region = self.compute_in_region.get(src.region, [])
            has_candidates, unreached = src_computes or bool(in_region), self.first_unreached(w.source, src.region)
        else:  # only the source itself, always reachable from itself
            has_candidates, unreached = src_computes, None
        if not has_candidates:
            fail(f"workloads.{name}.privacy", f"no site with compute is allowed under privacy '{w.privacy}' from source '{w.source}'")
        if unreached is not None:
            fail(f"workloads.{name}.source", f"site '{unreached}' is unreachable from source '{w.source}' (no path of links)",
                 "add a link, or narrow the workload's privacy")


def _check_accuracy_floor(w: Inference, at: str, fail: Any) -> None:
    """A floor needs accuracy figures for every model it judges, and some variant and precision
    the workload allows must reach it (else no placement could ever meet it)."""
    floor = w.accuracy_floor
    if floor is None:
        return
    field = f"{at}.min_accuracy" if w.min_accuracy is not None else f"{at}.model.min_accuracy"
    rated = [m for m in catalog.model_ids() if catalog.accuracy_metric(m)]
    for m in w.variants:
        if m.lower().endswith(".onnx") or catalog.accuracy_metric(m) is None:
            fail(field, f"'{m}' has no accuracy figures in data/accuracy.csv, so a floor cannot be held against it",
                 f"models with figures: {', '.join(rated)}")
    figures = [a for m in w.variants for p in (w.precisions or catalog.PRECISIONS)
               if (a := catalog.accuracy(m, p)) is not None]
    best = max(figures, key=lambda a: a.score, default=None)
    if best is None or best.score < floor:
        what = f"the best is {best.model} {best.describe()}" if best else "no allowed precision has a figure"
        fail(field, f"no {'variant' if w.family else 'precision'} reaches {floor:g} ({catalog.accuracy_metric(w.variants[0])}): {what}")


def _smallest_eligible(w: Inference) -> str:
    """The smallest model the workload may run: its own, or its family's smallest variant that
    reaches the accuracy floor at a precision it allows (variants come cheapest first)."""
    floor = w.accuracy_floor
    for m in w.variants:
        if floor is None or any(a is not None and a.score >= floor
                                for a in (catalog.accuracy(m, p) for p in (w.precisions or catalog.PRECISIONS))):
            return m
    return w.model_id


def _check_llm(w: Inference, at: str, fail: Any) -> None:
    """Token counts and token SLOs belong to language models, and must fit the model's context."""
    info = None if w.model_id.lower().endswith(".onnx") else catalog.model(w.model_id)
    if info is None or info.family != "llm":
        by_tokens = w.routing.by_tokens if w.routing is not None else None
        for field, value in (("prompt_tokens", w.prompt_tokens), ("output_tokens", w.output_tokens),
                             ("routing.by_tokens", by_tokens),
                             ("slo.ttft_ms", w.slo.ttft_ms), ("slo.tpot_ms", w.slo.tpot_ms),
                             ("split", w.split), ("speculative", w.speculative), ("kv_precision", w.kv_precision)):
            if value is not None:
                llms = [m for m in catalog.model_ids() if catalog.model(m).family == "llm"]
                fail(f"{at}.{field}", f"'{w.model_id}' is not a language model (token counts, token SLOs and "
                     f"by_tokens routing apply to {', '.join(llms)})")
        return
    _check_boundary(w, at, fail)
    prompt, output, ctx = w.prompt_dist(), w.output_dist(), info.max_context
    if w.routing is not None and w.routing.overflow is not None:
        fail(f"{at}.routing.overflow", "overflow routing is planned for models served one request at a time; "
             f"'{w.model_id}' is a language model served with continuous batching", "use by_tokens")
    by_tokens = w.routing.by_tokens if w.routing is not None else None
    if by_tokens is not None and by_tokens.edge_max_prompt_tokens >= prompt.upper:
        fail(f"{at}.routing.by_tokens.edge_max_prompt_tokens",
             f"{by_tokens.edge_max_prompt_tokens} tokens: no prompt is longer (the longest is {prompt.upper}), "
             "so nothing would go to the secondary", "lower it below the prompts' largest count")
    if by_tokens is not None and by_tokens.edge_max_prompt_tokens < prompt.low:
        fail(f"{at}.routing.by_tokens.edge_max_prompt_tokens",
             f"{by_tokens.edge_max_prompt_tokens} tokens: every prompt is longer (the shortest is {prompt.low}), "
             "so nothing would stay at the edge", "raise it to at least the prompts' smallest count")
    if ctx is None:
        return
    if prompt.low + output.low > ctx:
        fail(f"{at}.prompt_tokens", f"{prompt.low} prompt + {output.low} output tokens exceed {w.model_id}'s "
             f"context of {ctx} tokens")
    if prompt.dist == "fixed" and output.dist == "fixed" and prompt.mean + output.mean > ctx:
        fail(f"{at}.prompt_tokens", f"{prompt.mean:g} prompt + {output.mean:g} output tokens exceed {w.model_id}'s "
             f"context of {ctx} tokens")


def _check_boundary(w: Inference, at: str, fail: Any) -> None:
    """A split across the boundary decodes on the source's device; a speculative draft is a
    smaller language model the serving model knows."""
    from planner.costs.llm import is_llm

    if w.split is not None and not w.allow_split:
        fail(f"{at}.split", "allow_split: false forbids splitting the workload; drop one of them")
    spec = w.speculative
    if spec is None:
        return
    llms = [m for m in catalog.model_ids() if is_llm(m)]
    if not is_llm(spec.draft):
        fail(f"{at}.speculative.draft", f"unknown language model '{spec.draft}'", did_you_mean(spec.draft, llms))
    target = _smallest_eligible(w)  # the draft must be smaller than any model the planner may verify with
    if spec.draft == target or catalog.model(spec.draft).params_millions >= catalog.model(target).params_millions:
        fail(f"{at}.speculative.draft", f"the draft '{spec.draft}' must be a smaller model than '{target}'")


def _check_fallback(sc: Scenario, w: Inference, at: str, base: Path, allow_paths: bool,
                    attachments: Mapping[str, Path], fail: Any) -> None:
    """A fallback runs at the source's own devices: the source must have a device group that
    runs the fallback's precision (of its hardware, where named), and the model must be known."""
    fb = w.fallback
    if fb.model is not None:
        _check_model(fb.model, f"{at}.fallback.model", base, allow_paths, attachments, fail)
    devices = sc.sites[w.source].devices if w.source in sc.sites else []
    if not devices:
        fail(f"{at}.fallback", f"source site '{w.source}' has no devices to fall back to")
    if fb.hardware is not None:
        here = [d.hardware for d in devices]
        if fb.hardware not in here:
            fail(f"{at}.fallback.hardware", f"'{fb.hardware}' is not a device group of source site '{w.source}' "
                 f"(it has {', '.join(dict.fromkeys(here))})")
        devices = [d for d in devices if d.hardware == fb.hardware]
    wanted = [fb.precision] if fb.precision else (w.precisions or list(FALLBACK_PRECISIONS))
    if not any(p in catalog.hardware(d.hardware).precisions for d in devices for p in wanted):
        fail(f"{at}.fallback.precision", f"no device at '{w.source}' runs {' or '.join(wanted)} "
             f"({', '.join(dict.fromkeys(d.hardware for d in devices))})")


def _check_model(model: str, field: str, base: Path, allow_paths: bool, attachments: Mapping[str, Path], fail: Any) -> None:
    if model.lower().endswith(".onnx"):
        _resolve_file(model, field, base, allow_paths, attachments, fail)
        return
    ids = catalog.model_ids()
    if model in catalog.variant_families():  # a family named where one model is expected
        variants = catalog.family_variants(model)
        fail(field, f"'{model}' is a model family, not one model",
             f"write model: {{family: {model}, min_accuracy: ...}} to let the planner choose, or one of {', '.join(variants)}")
    if model not in ids:
        fail(field, f"unknown model '{model}' (a catalog id or a path to an .onnx file)", did_you_mean(model, ids))


def _resolve_file(name: str, field: str, base: Path, allow_paths: bool, attachments: Mapping[str, Path], fail: Any) -> Path:
    if not allow_paths:
        if name not in attachments:
            fail(field, f"file '{name}' was not uploaded with the scenario (uploads may only name files that came with them)")
        return Path(attachments[name])
    p = Path(name)
    p = p if p.is_absolute() else base / p
    try:
        found = p.is_file()
    except OSError as e:
        fail(field, f"cannot read file: {e.strerror or e}")
    if not found:
        fail(field, f"file not found: {p}")
    return p


def referenced_files(raw: Any) -> list[str]:
    """The files a raw scenario mapping names, as written: workloads' trace CSVs and `.onnx`
    models, and fleets' inventories (`sites.*.members`). What an upload must bring along."""
    out: list[str] = []
    if not isinstance(raw, dict):
        return out
    sites = raw.get("sites")
    for site in sites.values() if isinstance(sites, dict) else []:
        if isinstance(site, dict) and isinstance(site.get("members"), str):
            out.append(site["members"])
    workloads = raw.get("workloads")
    for w in workloads.values() if isinstance(workloads, dict) else []:
        if not isinstance(w, dict):
            continue
        arrival = w.get("arrival")
        if isinstance(arrival, dict) and isinstance(arrival.get("file"), str):
            out.append(arrival["file"])
        if isinstance(w.get("model"), str) and w["model"].lower().endswith(".onnx"):
            out.append(w["model"])
    return out
