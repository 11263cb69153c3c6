"""Small inline SVG charts for report.html: no script, no CDN, a few kB each.

plotly.js alone is 4.8 MB, five times what a report may weigh; the report's charts are simple
(ranges, bars, stacked bars on one value axis), so they are drawn here as SVG. One primitive,
`hchart`, draws rows of marks against a horizontal value axis: a latency distribution is a row of
ranges and dots, a cost breakdown a row of stacked bars, a fleet histogram a row per uplink bin.
Horizontal rows keep long workload names readable; a name too long for the label column is
shortened and shown whole in its tooltip (`<title>`). Every text is escaped (planner.safe).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

from planner.safe import html_text

#: The drawing's width in SVG units; the element scales down with the page (max-width 100%).
WIDTH_PX = 1000
#: Room for a row's label on the left, and for value labels past the last tick on the right.
LABEL_PX = 230
RIGHT_PX = 80
ROW_PX = 26
FONT = "font-family='sans-serif' font-size='12'"
#: Characters of a label that fit in LABEL_PX at 12 px.
LABEL_CHARS = 32


@dataclass(frozen=True)
class Mark:
    """One thing drawn on a row: `bar` from `lo` to `hi` (thick or thin), `dot` or `diamond` at
    `lo`, or a vertical `tick` at `lo`. `tip` is its tooltip, `label` text after a bar's end."""

    shape: str
    lo: float
    hi: float = math.nan
    color: str = "#1f77b4"
    thin: bool = False
    tip: str = ""
    label: str = ""


@dataclass
class Row:
    """A row of the chart: its label (text from the scenario, escaped when drawn) and marks."""

    label: str
    marks: list[Mark] = field(default_factory=list)


def _esc(text: str) -> str:
    return html_text(text)


def short(text: str, chars: int = LABEL_CHARS) -> str:
    """`text` cut to `chars` characters with an ellipsis (the whole is shown in a tooltip)."""
    return text if len(text) <= chars else text[: chars - 1] + "…"


def _snap_125(v: float, up: bool) -> float:
    """The nearest of 1, 2, 5 × 10^k at or above (`up`) or at or below `v` (> 0)."""
    k = math.floor(math.log10(v))
    steps = [m * 10.0 ** e for e in (k - 1, k, k + 1) for m in (1, 2, 5)]
    return min(s for s in steps if s >= v * (1 - 1e-9)) if up else max(s for s in steps if s <= v * (1 + 1e-9))


def log_ticks(lo: float, hi: float) -> list[float]:
    """Ticks of a log axis: 1-2-5 per decade, or decades only where that is more than 10 ticks.
    Each tick is labelled with its value, never plotly's bare "2 3 4 ... 100"."""
    ticks = [m * 10.0 ** e for e in range(math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 1)
             for m in (1, 2, 5)]
    ticks = [t for t in ticks if lo * (1 - 1e-9) <= t <= hi * (1 + 1e-9)]
    if len(ticks) > 10:
        ticks = [t for t in ticks if abs(math.log10(t) - round(math.log10(t))) < 1e-9]
    return ticks


def linear_ticks(hi: float) -> tuple[float, list[float]]:
    """A linear axis from 0: the rounded top and about 5 ticks of 1, 2 or 5 × 10^k."""
    if hi <= 0 or not math.isfinite(hi):
        return 1.0, [0.0, 1.0]
    step = _snap_125(hi / 5, up=True)
    top = math.ceil(hi / step - 1e-9) * step
    return top, [i * step for i in range(int(round(top / step)) + 1)]


def fmt_ms(v: float) -> str:
    """A duration in ms as people read it: `0.5 ms`, `20 ms`, `2 s`, `1.5 min`, `3 h`."""
    if v >= 3_600_000:
        return f"{v / 3_600_000:,.3g} h"
    if v >= 60_000:
        return f"{v / 60_000:,.3g} min"
    if v >= 1000:
        return f"{v / 1000:,.3g} s"
    return f"{v:,.3g} ms"


def fmt_usd(v: float) -> str:
    return f"${v:,.0f}" if abs(v) >= 10 or v == 0 else f"${v:,.2f}"


def fmt_count(v: float) -> str:
    return f"{v:,.0f}"


@dataclass(frozen=True)
class Axis:
    """The value axis: where `v` lands in px, its ticks, how they read."""

    lo: float
    hi: float
    log: bool
    ticks: tuple[float, ...]
    fmt: Callable[[float], str]
    x0: float = LABEL_PX
    x1: float = WIDTH_PX - RIGHT_PX

    @classmethod
    def fit(cls, values: list[float], log: bool, fmt: Callable[[float], str]) -> Axis:
        """An axis that holds every finite value (positive ones on a log axis)."""
        vals = [v for v in values if math.isfinite(v) and (v > 0 or not log)]
        if log:
            if not vals:
                vals = [1.0]
            lo, hi = _snap_125(min(vals), up=False), _snap_125(max(vals), up=True)
            if hi <= lo:
                hi = _snap_125(lo * 1.01, up=True)
            return cls(lo, hi, True, tuple(log_ticks(lo, hi)), fmt)
        top, ticks = linear_ticks(max(vals, default=0.0))
        return cls(0.0, top, False, tuple(ticks), fmt)

    def px(self, v: float) -> float:
        if self.log:
            v = min(max(v, self.lo), self.hi)
            f = (math.log10(v) - math.log10(self.lo)) / (math.log10(self.hi) - math.log10(self.lo))
        else:
            f = (min(max(v, self.lo), self.hi) - self.lo) / ((self.hi - self.lo) or 1.0)
        return self.x0 + f * (self.x1 - self.x0)


def _mark_svg(m: Mark, axis: Axis, y: float) -> str:
    tip = f"<title>{_esc(m.tip)}</title>" if m.tip else ""
    if not math.isfinite(m.lo) or (axis.log and m.lo <= 0):
        return ""
    x = axis.px(m.lo)
    if m.shape == "bar":
        hi = m.hi if math.isfinite(m.hi) else m.lo
        x1 = axis.px(hi)
        h = 4 if m.thin else 14
        out = (f"<rect x='{min(x, x1):.1f}' y='{y - h / 2:.1f}' width='{max(abs(x1 - x), 1):.1f}' height='{h}' "
               f"fill='{m.color}'>{tip}</rect>")
        if m.label:
            out += f"<text x='{max(x, x1) + 4:.1f}' y='{y + 4:.1f}' {FONT}>{_esc(m.label)}</text>"
        return out
    if m.shape == "dot":
        return f"<circle cx='{x:.1f}' cy='{y:.1f}' r='5' fill='{m.color}' stroke='#fff'>{tip}</circle>"
    if m.shape == "diamond":
        return (f"<path d='M{x:.1f},{y - 7:.1f} l6,7 l-6,7 l-6,-7 z' fill='none' stroke='{m.color}' "
                f"stroke-width='2'>{tip}</path>")
    if m.shape == "tick":
        return f"<line x1='{x:.1f}' x2='{x:.1f}' y1='{y - 11:.1f}' y2='{y + 11:.1f}' stroke='{m.color}' stroke-width='3'>{tip}</line>"
    raise ValueError(f"unknown mark shape {m.shape!r}")


def hchart(rows: list[Row], *, title: str, axis_title: str, log: bool = False,
           fmt: Callable[[float], str] = fmt_count, legend: list[tuple[str, str, str]] = ()) -> str:
    """Rows of marks against one horizontal value axis, as an inline `<svg>` in a `<figure>`.
    `legend` is (shape, colour, text) per entry; a log axis is labelled at 1-2-5 values."""
    values = [v for r in rows for m in r.marks for v in (m.lo, m.hi)]
    axis = Axis.fit(values, log, fmt)
    top = 30 + (22 if legend else 0)
    height = top + ROW_PX * max(len(rows), 1) + 48
    parts = [f"<text x='0' y='16' {FONT} font-weight='bold' font-size='14'>{_esc(title)}</text>"]
    if legend:
        x = LABEL_PX
        for shape, color, text in legend:
            parts.append(_sample(shape, color, x, 40))
            parts.append(f"<text x='{x + 12}' y='44' {FONT}>{_esc(text)}</text>")
            x += 34 + 7 * len(text)  # 7 px a character at 12 px, and room before the next sample
    bottom = top + ROW_PX * max(len(rows), 1)
    for t in axis.ticks:
        x = axis.px(t)
        parts.append(f"<line x1='{x:.1f}' x2='{x:.1f}' y1='{top}' y2='{bottom}' stroke='#e5e5e5'/>")
        parts.append(f"<text x='{x:.1f}' y='{bottom + 16}' {FONT} text-anchor='middle'>{_esc(axis.fmt(t))}</text>")
    parts.append(f"<text x='{(axis.x0 + axis.x1) / 2:.0f}' y='{bottom + 36}' {FONT} text-anchor='middle' "
                 f"fill='#555'>{_esc(axis_title)}</text>")
    for i, r in enumerate(rows):
        y = top + ROW_PX * i + ROW_PX / 2
        parts.append(f"<text x='{LABEL_PX - 8}' y='{y + 4:.1f}' {FONT} text-anchor='end'><title>{_esc(r.label)}</title>"
                     f"{_esc(short(r.label))}</text>")
        parts.extend(_mark_svg(m, axis, y) for m in r.marks)
    return figure(parts, height, title)


def _sample(shape: str, color: str, x: float, y: float) -> str:
    """A legend's sample of a mark, 12 px wide at `x`."""
    if shape == "bar":
        return f"<rect x='{x:.1f}' y='{y - 5:.1f}' width='12' height='10' fill='{color}'/>"
    return _mark_svg(Mark(shape, 1.0, color=color), _Fixed(x + 6), y)


@dataclass(frozen=True)
class _Fixed:
    """An axis that puts every value at one x (for legend samples)."""

    x: float
    log: bool = False

    def px(self, v: float) -> float:
        return self.x


def figure(parts: list[str], height: float, title: str, width: float = WIDTH_PX) -> str:
    """SVG elements in an `<svg>` that scales with the page, inside a `<figure>`."""
    return (f"<figure class='chart'><svg role='img' aria-label='{_esc(title)}' viewBox='0 0 {width:.0f} {height:.0f}' "
            f"width='{width:.0f}' height='{height:.0f}' xmlns='http://www.w3.org/2000/svg'>" + "".join(parts)
            + "</svg></figure>")
