"""Dotted paths into a raw scenario mapping: `--set PATH=V1,V2` parsing and setting.

A path names a value in the YAML as loaded (`yaml.safe_load`), before validation:
``workloads.inspection.arrival.rate_per_s`` walks mapping keys, ``links.0.uplink_mbps`` (or
``links[0].uplink_mbps``) a list index. Setting happens on the raw mapping because the scenario
model is frozen; the result is validated afterwards, so every value is checked by the model.
"""
from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import yaml

from planner.errors import PlannerError, did_you_mean

_BRACKET = re.compile(r"\[(-?\d+)\]")


def split_path(path: str) -> list[str]:
    """`links[0].uplink_mbps` -> ['links', '0', 'uplink_mbps']; an empty segment is an error."""
    text = _BRACKET.sub(r".\1", str(path).strip())
    parts = text.split(".")
    if not text or any(p == "" for p in parts):
        raise PlannerError(f"--set '{path}': not a dotted path (e.g. links.0.uplink_mbps)")
    return parts


def _where(parts: Sequence[str]) -> str:
    return ".".join(parts) if parts else "the top level"


def set_path(data: Mapping[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of `data` with the value at dotted `path` replaced by `value`.

    Every step but the last must exist; the last may be a mapping key not yet in the file (an
    optional field left at its default, such as `budget_usd_per_month`): validation then says
    whether the model knows it. A missing key or index raises `PlannerError` naming the path,
    with a close match among the keys that do exist.
    """
    parts = split_path(path)
    out = copy.deepcopy(dict(data))
    node: Any = out
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        here = parts[:i]
        if isinstance(node, dict):
            if part not in node:
                if last:
                    node[part] = value
                    return out
                hint = did_you_mean(part, [str(k) for k in node])
                where = f"in {_where(here)}" if here else "at the top level"
                raise PlannerError(f"--set '{path}': no key '{part}' {where}" + (f"; {hint}" if hint else ""))
            if last:
                node[part] = value
                return out
            node = node[part]
        elif isinstance(node, list):
            try:
                index = int(part)
            except ValueError:
                raise PlannerError(f"--set '{path}': {_where(here)} is a list, so '{part}' must be an index "
                                   f"(0 to {len(node) - 1})") from None
            if not 0 <= index < len(node):
                raise PlannerError(f"--set '{path}': index {index} is out of range in {_where(here)} "
                                   f"({len(node)} item{'s' if len(node) != 1 else ''})")
            if last:
                node[index] = value
                return out
            node = node[index]
        else:
            raise PlannerError(f"--set '{path}': {_where(here)} is a single value ({node!r}), it has no '{part}'")
    return out  # unreachable: the loop returns at the last part


def get_path(data: Mapping[str, Any], path: str, default: Any = None) -> Any:
    """The value at dotted `path`, or `default` where some step is missing."""
    node: Any = data
    for part in split_path(path):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.lstrip("-").isdigit() and 0 <= int(part) < len(node):
            node = node[int(part)]
        else:
            return default
    return node


def parse_value(text: str) -> Any:
    """A value as YAML reads it: `200` -> int, `0.5` -> float, `int8` -> str, `null` -> None."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else "invalid YAML"
        raise PlannerError(f"--set value '{text}' is not valid YAML: {first}") from None


def _split_values(text: str) -> list[str]:
    """Split on commas outside brackets and quotes, so `[int8, fp16]` stays one value."""
    out, depth, quote, cur = [], 0, "", []
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    out.append("".join(cur))
    return [v.strip() for v in out]


def parse_assignment(item: str) -> tuple[str, list[Any]]:
    """`PATH=V1,V2` -> (PATH, [V1, V2]) with each value read as a YAML scalar."""
    if "=" not in item:
        raise PlannerError(f"--set '{item}': expected PATH=VALUE[,VALUE...] (e.g. links.0.uplink_mbps=100,200)")
    path, _, text = item.partition("=")
    path = path.strip()
    split_path(path)  # a malformed path is reported before its values
    values = _split_values(text)
    if any(v == "" for v in values):
        raise PlannerError(f"--set '{item}': empty value for {path}")
    return path, [parse_value(v) for v in values]


def parse_set(items: Iterable[str]) -> dict[str, list[Any]]:
    """Several `PATH=V1,V2` items -> {PATH: [values]}; a path given twice is an error."""
    out: dict[str, list[Any]] = {}
    for item in items:
        path, values = parse_assignment(item)
        if path in out:
            raise PlannerError(f"--set '{path}' is given twice; list its values once: {path}=V1,V2")
        out[path] = values
    return out
