"""Trace files: arrival timestamps read from a CSV, checked row by row."""
from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

#: Largest trace CSV we read.
MAX_TRACE_BYTES = 200_000_000


def read_trace(path: Path, column: str = "timestamp_s") -> list[float]:
    """Arrival timestamps from a CSV (a header row naming `column`, or a bare first column).
    Raises ValueError with the row number when a value is not a sorted, non-negative number."""
    if not path.is_file():
        raise ValueError("file not found")
    if path.stat().st_size > MAX_TRACE_BYTES:
        raise ValueError("trace file is too large")
    try:
        return _read_trace(path, column)
    except csv.Error as e:
        raise ValueError(f"not a CSV file: {e}") from None
    except OSError as e:
        raise ValueError(f"cannot read file: {e.strerror or e}") from None


def _read_trace(path: Path, column: str) -> list[float]:
    out: list[float] = []
    # utf-8-sig: spreadsheets write a byte-order mark before the header.
    with path.open(newline="", encoding="utf-8-sig", errors="replace") as fh:
        rows = csv.reader(fh)
        header = next(rows, None)
        if header is None:
            raise ValueError("trace file is empty")
        col = 0
        header_clean = [h.strip() for h in header]
        if column in header_clean:
            col = header_clean.index(column)
        else:
            try:
                float(header_clean[0])
                rows_iter = [header]  # no header: the first row is data
            except (ValueError, IndexError):
                raise ValueError(f"no column '{column}' in header {header_clean}") from None
            out.extend(_trace_values(rows_iter, 0, 1, None))
        out.extend(_trace_values(rows, col, 2, out[-1] if out else None))
    if not out:
        raise ValueError("trace has no timestamps")
    if len(out) > 1 and out[-1] == out[0]:
        raise ValueError("all timestamps are equal: the trace spans no time")
    return out


def _trace_values(rows: Any, col: int, first_row: int, prev: float | None) -> list[float]:
    out = []
    for i, row in enumerate(rows, start=first_row):
        if not row or all(not c.strip() for c in row):
            continue
        try:
            t = float(row[col])
        except (ValueError, IndexError):
            raise ValueError(f"row {i}: '{','.join(row)[:40]}' is not a timestamp") from None
        if not math.isfinite(t) or t < 0:
            raise ValueError(f"row {i}: timestamp {t} must be a finite number >= 0")
        if prev is not None and t < prev:
            raise ValueError(f"row {i}: timestamps must not decrease ({t} after {prev})")
        out.append(t)
        prev = t
    return out
