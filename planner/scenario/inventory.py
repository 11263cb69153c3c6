"""Fleet inventories: a CSV with a row per member whose columns override the fleet's figures.

Columns (all optional, in any order; an empty cell keeps the fleet's own figure):
  name           the member's site name (else `<fleet>-001` ... by row)
  region         the member's region
  uplink_mbps    from the member towards the other end of each of its links
  downlink_mbps  towards the member
  rtt_ms         of each of the member's links
  rate_scale     multiplies the arrival rates of every workload sourced at the member
  <hardware id>  how many devices of that hardware the member has (0: none)

`read_inventory` raises `ScenarioError(inventory file, "row R, column C", reason)`; loading
reports it against the scenario's `sites.<fleet>.members`, the inventory's file, row and column
leading the reason.
"""
from __future__ import annotations

import csv
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from planner import catalog
from planner.errors import ScenarioError, did_you_mean
from planner.scenario.limits import MAX_FLEET_MEMBERS

#: Column -> (lowest value, whether the lowest value itself is allowed).
NUMERIC_COLUMNS: dict[str, tuple[float, bool]] = {
    "uplink_mbps": (0.0, False), "downlink_mbps": (0.0, False), "rtt_ms": (0.0, True), "rate_scale": (0.0, False),
}
TEXT_COLUMNS = ("name", "region")


@dataclass
class Inventory:
    """The rows of an inventory file, by column; None where a cell was left empty."""

    file: str
    names: list[str | None]
    rows: list[int] = field(default_factory=list)  # each member's row in the file (the header is row 1)
    numbers: dict[str, list[float | None]] = field(default_factory=dict)
    regions: list[str | None] | None = None
    device_counts: dict[str, list[int | None]] = field(default_factory=dict)  # hardware id -> counts

    def __len__(self) -> int:
        return len(self.names)

    def __repr__(self) -> str:
        cols = [*self.numbers, *self.device_counts, *(["region"] if self.regions else [])]
        return f"Inventory({self.file!r}, {len(self)} members, columns {cols})"


def read_inventory(path: Path, shown_as: str) -> Inventory:
    """Read and check an inventory CSV; `ScenarioError(shown_as, "row R, column C", reason)`."""
    try:
        with path.open(newline="", encoding="utf-8-sig", errors="strict") as fh:
            rows = list(csv.reader(fh))
    except csv.Error as e:
        raise ScenarioError(shown_as, "", f"not a CSV file: {e}") from None
    except UnicodeDecodeError:
        raise ScenarioError(shown_as, "", "cannot read file: not UTF-8 text") from None
    except OSError as e:
        raise ScenarioError(shown_as, "", f"cannot read file: {e.strerror or e}") from None
    if not rows:
        raise ScenarioError(shown_as, "row 1", "the inventory is empty (expected a header row)")
    header = [h.strip() for h in rows[0]]
    hardware = catalog.hardware_ids()
    known = [*TEXT_COLUMNS, *NUMERIC_COLUMNS]
    for c, col in enumerate(header):
        if col not in known and col not in hardware:
            raise ScenarioError(shown_as, f"row 1, column {c + 1}", f"unknown column '{col}' (one of "
                                f"{', '.join(known)}, or a hardware id)", did_you_mean(col, known + hardware))
        if header.index(col) != c:
            raise ScenarioError(shown_as, f"row 1, column '{col}'", "the column appears twice")
    body = [(r, row) for r, row in enumerate(rows[1:], start=2) if any(cell.strip() for cell in row)]
    if not body:
        raise ScenarioError(shown_as, "row 2", "the inventory has no members")
    if len(body) > MAX_FLEET_MEMBERS:
        raise ScenarioError(shown_as, f"row {body[MAX_FLEET_MEMBERS][0]}", f"more than {MAX_FLEET_MEMBERS:,} members")
    cells: dict[str, list[str]] = {col: [] for col in header}
    for r, row in body:
        if len(row) > len(header):
            raise ScenarioError(shown_as, f"row {r}", f"{len(row)} cells but {len(header)} columns in the header")
        for c, col in enumerate(header):
            cells[col].append(row[c].strip() if c < len(row) else "")
    rownums = [r for r, _ in body]
    inv = Inventory(shown_as, names=_names(cells.get("name"), rownums, shown_as), rows=rownums)
    if "region" in cells:
        inv.regions = [v or None for v in cells["region"]]
    for col, (low, inclusive) in NUMERIC_COLUMNS.items():
        if col in cells:
            inv.numbers[col] = [_number(v, low, inclusive, shown_as, r, col) for v, r in zip(cells[col], rownums)]
    for col in header:
        if col in hardware and col not in known:
            inv.device_counts[col] = [_count(v, shown_as, r, col) for v, r in zip(cells[col], rownums)]
    return inv


def _names(values: list[str] | None, rownums: list[int], shown_as: str) -> list[str | None]:
    if values is None:
        return [None] * len(rownums)
    seen: dict[str, int] = {}
    for v, r in zip(values, rownums):
        if not v:
            raise ScenarioError(shown_as, f"row {r}, column 'name'", "a member needs a name")
        if "@" in v or not v.isprintable():
            raise ScenarioError(shown_as, f"row {r}, column 'name'", f"'{v}' is not a plain site name (no '@')")
        if v in seen:
            raise ScenarioError(shown_as, f"row {r}, column 'name'", f"'{v}' is listed twice (also row {seen[v]})")
        seen[v] = r
    return list(values)


def _number(text: str, low: float, inclusive: bool, shown_as: str, row: int, col: str) -> float | None:
    return _cell(text, float, "a number", low, inclusive, shown_as, row, col)


def _count(text: str, shown_as: str, row: int, col: str) -> int | None:
    return _cell(text, int, "a whole number of devices", 0, True, shown_as, row, col)


def _cell(text: str, parse: Callable[[str], Any], expected: str, low: float, inclusive: bool,
          shown_as: str, row: int, col: str) -> Any:
    """The cell's value (None when empty), at least `low` (or above it, when not `inclusive`)."""
    if not text:
        return None
    where = f"row {row}, column '{col}'"
    try:
        value = parse(text)
    except ValueError:
        raise ScenarioError(shown_as, where, f"expected {expected}, got '{text[:40]}'") from None
    if not math.isfinite(value) or value < low or (value == low and not inclusive):
        raise ScenarioError(shown_as, where, f"must be {'>=' if inclusive else '>'} {low:g}, got {text[:40]}")
    return value
