"""Pydantic validation errors turned into one clear `ScenarioError` line: path, reason, close match."""
from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from typing import Annotated, Any, Union

from pydantic import BaseModel, ValidationError

from planner.errors import ScenarioError, did_you_mean
from planner.scenario.document import Scenario


def _kind(value: Any) -> str:
    names = {dict: "a mapping", list: "a list", str: "text", bool: "true/false", int: "a number",
             float: "a number", type(None): "nothing"}
    return names.get(type(value), type(value).__name__)


def _to_scenario_error(e: ValidationError, file: str, root: Any = Scenario, prefix: str = "") -> ScenarioError:
    """The first validation error as one clear line, with its path and a close match; `root` is
    the model validated, found at `prefix` in the scenario (the whole scenario by default)."""
    errors = sorted(e.errors(), key=_error_rank)
    # a mapping given where a number or a mapping may go (token counts): the mapping's own errors
    errors = [x for x in errors if not (x["type"] == "int_type" and isinstance(x.get("input"), dict))] or errors
    err = errors[0]
    path, model = _display_path(err["loc"], root)
    path = f"{prefix}.{path}" if prefix and path else prefix or path
    reason, hint = _reason(err, model)
    more = len({tuple(x["loc"]) for x in errors}) - 1
    if more > 0:
        hint = f"{hint} ({more} more error{'s' if more > 1 else ''})" if hint else f"{more} more error{'s' if more > 1 else ''}"
    return ScenarioError(file, path, reason, hint.strip())


def _error_rank(err: dict) -> tuple:
    # Prefer unknown fields and tags (the likeliest typo) over the cascade they cause.
    order = {"extra_forbidden": 0, "union_tag_invalid": 0, "union_tag_not_found": 1, "missing": 2}
    # A mapping or list refused by a union's scalar branch (`grid: DE` or `{gco2e_per_kwh: ...}`,
    # `kv_precision: [fp16, fp4]`) says least: the branch that reads it names the part that is wrong.
    if (err["type"].endswith("_type") or err["type"] == "literal_error") and isinstance(err.get("input"), (dict, list)):
        return (4, len(err["loc"]))
    return (order.get(err["type"], 3), len(err["loc"]))


def _display_path(loc: tuple, root: Any = Scenario) -> tuple[str, Any]:
    """Turn a pydantic loc into `sites.plant.devices[0]`, dropping union tags; also return the
    model class the last element belongs to (to suggest field names)."""
    parts: list[str] = []
    tp: Any = root
    owner: Any = root
    for item in loc:
        tp, is_tag = _step(tp, item)
        if is_tag:
            owner = tp
            continue
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            owner = tp
    return "".join(parts), owner


def _step(tp: Any, item: Any) -> tuple[Any, bool]:
    """The type reached from `tp` by loc element `item`, and whether `item` was a union tag."""

    tp = _strip(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        field = tp.model_fields.get(str(item))
        return (_strip(field.annotation) if field else None), False
    origin = typing.get_origin(tp)
    if origin in (dict, Mapping):
        return _strip(typing.get_args(tp)[1]), False
    if origin is list:
        return _strip(typing.get_args(tp)[0]), False
    if origin in (Union, types.UnionType):
        for member in typing.get_args(tp):
            member = _strip(member)
            if isinstance(member, type) and issubclass(member, BaseModel):
                if item == member.__name__:  # an untagged union names the branch by its class
                    return member, True
                for tag in ("kind", "process"):
                    f = member.model_fields.get(tag)
                    if f is not None and item in typing.get_args(f.annotation):
                        return member, True
            elif isinstance(item, str) and item.startswith(f"{getattr(typing.get_origin(member), '__name__', '')}[".lower()):
                return member, True  # a scalar or list branch, named by pydantic as `literal[...]` or `list[...]`
        return None, False
    return None, False


def _strip(tp: Any) -> Any:
    """Remove Annotated and Optional wrappers."""

    while True:
        origin = typing.get_origin(tp)
        if origin is Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (Union, types.UnionType) and type(None) in typing.get_args(tp):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            tp = args[0] if len(args) == 1 else Union[tuple(args)]
            if len(args) != 1:
                return tp
        else:
            return tp


def _reason(err: dict, model: Any) -> tuple[str, str]:
    t, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
    field = str(err["loc"][-1]) if err["loc"] else ""
    if t == "extra_forbidden":
        known = list(model.model_fields) if isinstance(model, type) and issubclass(model, BaseModel) else []
        known = [k for k in known if k != "source_file"]
        return f"unknown field '{field}'", did_you_mean(field, known)
    if t == "missing":
        return "missing required field", ""
    if t in ("union_tag_invalid", "union_tag_not_found"):
        tag = ctx.get("discriminator", "").strip("'")
        expected = [x.strip().strip("'") for x in str(ctx.get("expected_tags", "")).split(",") if x.strip()]
        if t == "union_tag_not_found":
            expected = expected or list(_TAGS.get(tag, ()))
            return f"missing '{tag}' (one of {', '.join(expected)})", ""
        got = ctx.get("tag")
        return f"unknown {tag} '{got}' (one of {', '.join(expected)})", did_you_mean(str(got), expected)
    if t == "literal_error":
        expected = [x.strip().strip("'") for x in str(ctx.get("expected", "")).replace(" or ", ",").split(",") if x.strip()]
        return f"'{value}' is not one of {', '.join(expected)}", did_you_mean(str(value), expected)
    if t in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        op = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}[t]
        bound = next(iter(ctx.values()))
        return f"must be {op} {bound}, got {value}", ""
    if t in ("too_short", "too_long"):
        return err["msg"].replace("List", "list").replace("Dictionary", "mapping"), ""
    if t.startswith(("int_", "float_", "string_", "bool_", "dict_", "list_", "model_")) or t.endswith("_type"):
        want = {
            "int": "a whole number", "float": "a number", "string": "text", "bool": "true or false",
            "dict": "a mapping", "list": "a list", "model": "a mapping",
        }.get(t.split("_")[0], t)
        if t in ("finite_number", "float_finite_number"):
            return "must be a finite number", ""
        if t == "int_from_float":
            return f"expected a whole number, got {value}", ""
        return f"expected {want}, got {_kind(value)} {_short(value)}".rstrip(), ""
    if t == "finite_number":
        return "must be a finite number", ""
    if t == "value_error":
        return str(ctx.get("error", err["msg"])), ""
    return err["msg"], ""


_TAGS = {"kind": ("inference", "training", "federated"), "process": ("poisson", "periodic", "bursty", "diurnal", "trace")}


def _short(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return ""
    s = repr(value)
    return s if len(s) <= 40 else s[:37] + "..."
