"""Limits checked before any work starts, the same for the CLI, the API and the app.

YAML aliases let a 1 KB file stand for billions of values (an "alias bomb"): PyYAML builds them
as shared references, cheaply, but validation copies every one. So the values that aliases add
are counted, with a budget, before anything validates them.
"""
from __future__ import annotations

from typing import Any

from planner.errors import ScenarioError

#: Most values (keys, items, scalars) that YAML aliases, or shared objects in a mapping given to
#: the API, may add to a scenario beyond those written out. A real scenario repeats a defaults
#: block a few thousand times at most; a fleet (`count:`) needs none.
MAX_ALIAS_VALUES = 200_000

#: Most members one fleet may expand to (`count:` or rows of `members:`).
MAX_FLEET_MEMBERS = 100_000


def check_alias_expansion(data: Any, file: str, budget: int = MAX_ALIAS_VALUES) -> None:
    """Raise `ScenarioError` when shared containers (aliases) expand `data` by more than `budget`
    values, naming the field where the expansion happens. Work is bounded by the written size
    plus `budget`, whatever the expansion."""
    seen: set[int] = set()
    added = 0
    # (container, key in parent, parent entry, inside a repeated container)
    stack: list[tuple[Any, Any, Any, bool]] = [(data, None, None, False)]
    while stack:
        entry = stack.pop()
        obj, _, _, repeated = entry
        repeated = repeated or id(obj) in seen
        seen.add(id(obj))
        if isinstance(obj, dict):
            children: Any = obj.items()
            size = 2 * len(obj)
        else:
            children = enumerate(obj)
            size = len(obj)
        if repeated:
            added += size
            if added > budget:
                raise ScenarioError(file, _field_of(entry), f"aliases expand the document by more than {budget:,} values",
                                    "write the values out (for many similar sites, use a fleet: count:)")
        for key, child in reversed(list(children)):
            if isinstance(child, (dict, list)):
                stack.append((child, key, entry, repeated))


def _field_of(entry: tuple[Any, Any, Any, bool]) -> str:
    """The dotted path of the field that holds `entry`, without trailing list indices
    (``workloads.w.precisions``, not ``workloads.w.precisions[3][0][7]``)."""
    keys = []
    while entry is not None and entry[2] is not None:
        keys.append(entry[1])
        entry = entry[2]
    keys.reverse()
    while keys and isinstance(keys[-1], int):
        keys.pop()
    out = ""
    for k in keys:
        out += f"[{k}]" if isinstance(k, int) else (f".{k}" if out else str(k))
    return out
