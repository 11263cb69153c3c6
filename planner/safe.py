"""Escaping for everything that reports: HTML, the terminal and CSV files.

Names, descriptions and reasons come from scenario files, which may be hostile. One module, used
by the CLI, the report and studies, so every output path escapes the same way:

- HTML: `html_text` (text and attributes) and `frame_html` (tables, cells and headers escaped);
- terminal: `terminal_text` drops nothing but shows control characters as escapes (`\\x1b`), so a
  name cannot move the cursor, clear the screen or forge another line;
- CSV: `csv_frame` prefixes text cells that a spreadsheet would run as a formula with `'`.
"""
from __future__ import annotations

import html
import re
from typing import Any

import pandas as pd

from planner.errors import one_line

#: First characters that make a spreadsheet read a cell as a formula (OWASP "CSV injection"),
#: tab and carriage return included because some spreadsheets strip them first.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def html_text(value: Any) -> str:
    """`value` as text safe inside an HTML element or a quoted attribute."""
    return html.escape("" if value is None else str(value), quote=True)


def frame_html(df: pd.DataFrame, float_format: Any = None) -> str:
    """A DataFrame as an HTML table with every cell and header escaped."""
    return df.to_html(index=False, escape=True, float_format=float_format, na_rep="")


def terminal_text(text: Any) -> str:
    """Text for the terminal: line breaks kept, every other control character escaped."""
    return "\n".join(one_line(line) for line in str(text).split("\n"))


def _text_columns(df: pd.DataFrame) -> list:
    """Columns that may hold text: object and string dtypes (pandas 3 infers `str` for text)."""
    return [c for c in df.columns if df[c].dtype == object or pd.api.types.is_string_dtype(df[c])]


def terminal_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of `df` whose text cells and headers are one line each, control characters escaped."""
    out = df.rename(columns=lambda c: one_line(str(c)) if isinstance(c, str) else c)
    for col in _text_columns(out):
        out[col] = out[col].map(lambda v: one_line(v) if isinstance(v, str) else v)
    return out


def csv_cell(value: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula, prefixed with `'`; others unchanged.

    Numbers are left alone, also when written as text (`-3.5` in a column of parameters): a
    spreadsheet reads them as numbers, not formulas.
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not _NUMBER.match(value.strip()):
        return "'" + value
    return value


def csv_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of `df` safe to open in a spreadsheet: text cells and headers through `csv_cell`."""
    out = df.rename(columns=lambda c: csv_cell(c))
    for col in _text_columns(out):
        out[col] = out[col].map(csv_cell)
    return out


def to_csv(df: pd.DataFrame) -> str:
    """`df` as CSV text for users (formula cells escaped, no index)."""
    return csv_frame(df).to_csv(index=False)


def money(usd_per_month: float) -> str:
    """`$1,234/month`, or a phrase where there is no figure (nothing placed)."""
    try:
        value = float(usd_per_month)
    except (TypeError, ValueError):
        return "no cost figure"
    if value != value or value in (float("inf"), float("-inf")):
        return "no cost figure (nothing placed)"
    return f"${value:,.0f}/month"


__all__ = ["html_text", "frame_html", "terminal_text", "terminal_frame", "csv_cell", "csv_frame", "to_csv", "money",
           "FORMULA_STARTS"]
