"""Figures the pages draw, and the rules that keep their axes honest.

Honest axes: a log axis is labelled with whole numbers at 1-2-5 steps that span every value drawn
(plotly's own log ticks abbreviate 50 to "5" beside a 54.7 ms bar); a share (utilisation, SLO
met) runs from 0, never below, to at least 100%; a cost axis starts at 0, so a line does not
make a 1% change look like a doubling.
"""
from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

#: Colours for "within the objective" and "missed it".
OK_COLOUR, MISSED_COLOUR = "#2ca02c", "#d62728"
#: A red horizontal tick marks an objective (an SLO) beside the bars measured against it.
#: (`color` as well as `line.color`: Streamlit's theme recolours an open symbol that sets only its line.)
SLO_MARKER = {"symbol": "line-ew-open", "size": 30, "color": "red", "line": {"width": 3, "color": "red"}}
#: Above this many decades a log axis is labelled at decades only (1-2-5 steps would crowd it).
MAX_DECADES_AT_1_2_5 = 3
#: Room beyond the first and last ticks of a log axis, in decades, so a marker drawn on the last
#: tick (an SLO of 100 ms) is not cut in half by the plot's edge.
LOG_AXIS_PAD_DECADES = 0.04


def _numbers(values: Iterable) -> list[float]:
    """The positive finite numbers among `values` (None, NaN and text dropped)."""
    out = []
    for v in values if values is not None else []:
        try:
            f = float(v)
        except (TypeError, ValueError):
            continue
        if math.isfinite(f) and f > 0:
            out.append(f)
    return out


def log_ticks(low: float, high: float) -> list[float]:
    """Tick values at 1-2-5 steps (decades only over wide ranges) from at or below `low` to at or
    above `high`, so the first and last ticks frame every value."""
    lo_exp, hi_exp = math.floor(math.log10(low)), math.ceil(math.log10(high))
    steps = (1, 2, 5) if hi_exp - lo_exp <= MAX_DECADES_AT_1_2_5 else (1,)
    ticks = [m * 10.0 ** e for e in range(lo_exp, hi_exp + 1) for m in steps]
    below = [t for t in ticks if t <= low * (1 + 1e-12)]
    above = [t for t in ticks if t >= high * (1 - 1e-12)]
    first, last = below[-1], above[0]
    return [t for t in ticks if first <= t <= last]


def tick_label(value: float) -> str:
    """A tick as a person reads it: 0.05, 2, 50, 1,000, 20,000, 1e+06 (no SI letters, no '5' for 50)."""
    if value >= 1e6:
        return f"{value:.0e}"
    return f"{value:,.0f}" if value >= 1 else f"{value:g}"


def honest_log_axis(fig: go.Figure, axis: str = "y") -> go.Figure:
    """Make `axis` ("x", "y", "y2", ...) of `fig` a log axis whose ticks are whole numbers framing
    every value drawn on it (bars, lines and markers alike). Returns `fig`."""
    values: list[float] = []
    for trace in fig.data:
        if (getattr(trace, f"{axis[0]}axis", None) or axis[0]) == axis:
            values += _numbers(getattr(trace, axis[0], None))
    layout_axis = f"{axis[0]}axis{axis[1:]}"
    if not values:
        fig.update_layout({layout_axis: {"type": "linear", "rangemode": "tozero"}})
        return fig
    ticks = log_ticks(min(values), max(values))
    if len(ticks) == 1:  # one value: frame it with its neighbours on the 1-2-5 scale
        ticks = log_ticks(ticks[0] / 2.01, ticks[0] * 2.01)
    fig.update_layout({layout_axis: {"type": "log", "tickmode": "array", "tickvals": ticks,
                                     "ticktext": [tick_label(t) for t in ticks], "minor": {"showgrid": False},
                                     "range": [math.log10(ticks[0]) - LOG_AXIS_PAD_DECADES,
                                               math.log10(ticks[-1]) + LOG_AXIS_PAD_DECADES]}})
    return fig


def share_axis(fig: go.Figure, values: Iterable, axis: str = "yaxis") -> go.Figure:
    """A share (utilisation, fraction met) from 0 to at least 100%: never negative, and above
    100% only when a value is."""
    top = max(_numbers(values) or [0.0])
    fig.update_layout({axis: {"range": [0.0, max(1.0, top) * 1.05], "tickformat": ".0%"}})
    return fig


def money_axis(fig: go.Figure, axis: str = "yaxis") -> go.Figure:
    """A dollars axis that starts at 0."""
    fig.update_layout({axis: {"rangemode": "tozero", "tickprefix": "$", "tickformat": ",.0f"}})
    return fig


# ------------------------------------------------------------------------------ language models
#: (column prefix in the plan table / summary, subplot title): the two language-model objectives.
TOKEN_METRICS = (("ttft", "Time to first token (TTFT)"), ("tpot", "Time per output token (TPOT)"))


def llm_workloads(plan_table: pd.DataFrame) -> pd.DataFrame:
    """The plan's rows for language-model workloads: those with a TTFT or TPOT objective or estimate."""
    cols = [c for c in ("slo_ttft_ms", "slo_tpot_ms", "predicted_ttft_ms", "predicted_tpot_ms") if c in plan_table]
    if not cols:
        return plan_table.iloc[0:0]
    has = plan_table[cols].apply(pd.to_numeric, errors="coerce").notna().any(axis=1)
    return plan_table[has]


def token_figure(plan_table: pd.DataFrame, summary: pd.DataFrame | None = None) -> go.Figure | None:
    """TTFT and TPOT per language-model workload against their objectives: planned (and, given a
    simulation's `summary`, simulated p50 and p99) as bars, the SLO as a red tick. None when the
    scenario has no language model."""
    llm = llm_workloads(plan_table)
    if llm.empty:
        return None
    names = llm["workload"].tolist()
    sim = summary.set_index("workload").reindex(names) if summary is not None else None
    fig = make_subplots(rows=1, cols=2, subplot_titles=[title for _, title in TOKEN_METRICS], horizontal_spacing=0.12)
    palette = {"planned": "#1f77b4", "simulated p50": "#9ecae1", "simulated p99": "#ff7f0e"}
    for col, (metric, _) in enumerate(TOKEN_METRICS, start=1):
        series = {"planned": llm.get(f"predicted_{metric}_ms")}
        if sim is not None:
            series |= {"simulated p50": sim.get(f"{metric}_p50_ms"), "simulated p99": sim.get(f"{metric}_p99_ms")}
        for label, values in series.items():
            if values is None:
                continue
            y = pd.to_numeric(pd.Series(list(values)), errors="coerce")
            fig.add_trace(go.Bar(name=label, x=names, y=y, marker_color=palette[label], legendgroup=label,
                                 showlegend=col == 1, hovertemplate="%{x}: %{y:,.1f} ms<extra>" + label + "</extra>"),
                          row=1, col=col)
        slo = pd.to_numeric(pd.Series(list(llm.get(f"slo_{metric}_ms", [np.nan] * len(names)))), errors="coerce")
        fig.add_trace(go.Scatter(name="SLO", x=names, y=slo, mode="markers", marker=SLO_MARKER, legendgroup="SLO",
                                 showlegend=col == 1, hovertemplate="%{x}: SLO %{y:,.0f} ms<extra></extra>"),
                      row=1, col=col)
    fig.update_layout(barmode="group", height=400, title="Language models: TTFT and TPOT against their objectives")
    fig.update_yaxes(title_text="ms", row=1, col=1)
    fig.update_yaxes(title_text="ms per token", row=1, col=2)
    honest_log_axis(fig, "y")
    honest_log_axis(fig, "y2")
    return fig


def token_attainment(plan_table: pd.DataFrame, summary: pd.DataFrame) -> pd.DataFrame:
    """Per language-model workload: simulated p99 TTFT and TPOT, their objectives, and whether each held."""
    llm = llm_workloads(plan_table)
    s = summary.set_index("workload").reindex(llm["workload"])
    out = pd.DataFrame({"workload": llm["workload"].to_numpy()})
    for metric, _ in TOKEN_METRICS:
        got = pd.to_numeric(s.get(f"{metric}_p99_ms"), errors="coerce").to_numpy()
        slo = pd.to_numeric(llm.get(f"slo_{metric}_ms"), errors="coerce").to_numpy()
        out[f"{metric}_p99_ms"] = got
        out[f"slo_{metric}_ms"] = slo
        out[f"{metric}_met"] = [bool(g <= o) if np.isfinite(g) and np.isfinite(o) else None for g, o in zip(got, slo)]
    return out


#: Most points a fleet chart draws per workload: a sample of a larger fleet keeps the page light.
MAX_FLEET_POINTS = 2_000


def routed_share_figure(shares: pd.DataFrame) -> go.Figure | None:
    """The planned share of each routed workload's requests its secondary serves, hour by hour
    over the day (`Plan.routed_shares()`); None when nothing is routed."""
    if shares.empty:
        return None
    fig = go.Figure()
    for (name, rule, secondary), part in shares.groupby(["workload", "routing", "secondary"], sort=False):
        fig.add_trace(go.Scatter(name=f"{name} ({rule} to {secondary})", x=part["hour"].tolist(), y=part["secondary_share"].tolist(),
                                 mode="lines+markers", line_shape="hv",
                                 hovertemplate="%{x}:00: %{y:.1%} to the secondary<extra></extra>"))
    fig.update_layout(height=340, title="Routed share over the day: requests served by the secondary placement",
                      xaxis_title="hour of the day", yaxis_title="share of the hour's requests")
    fig.update_xaxes(range=[-0.5, 23.5], dtick=2)
    fig.update_yaxes(tickformat=".0%", rangemode="tozero")
    return fig


def fleet_figure(members: pd.DataFrame, workload: str) -> go.Figure:
    """One fleet workload's decision per member against the member figures that drive it: the
    uplink (log axis, whole-number ticks) and the request rate, coloured by where it runs."""
    g = members[members["workload"] == workload]
    if len(g) > MAX_FLEET_POINTS:  # the same seed each time: the chart does not jump between reruns
        g = g.sample(MAX_FLEET_POINTS, random_state=0)
    fig = go.Figure()
    for where, h in g.groupby("where", sort=True):
        fig.add_trace(go.Scatter(
            x=h["uplink_mbps"], y=h["rate_per_s"], mode="markers", name=f"{where} ({len(h)})",
            text=h["member"], hovertemplate="%{text}: uplink %{x:.3g} Mbit/s, %{y:.3g} requests/s<extra></extra>",
            marker={"size": 7, "opacity": 0.75}))
    fig.update_layout(height=360, margin={"l": 10, "r": 10, "t": 30, "b": 10}, legend_title_text="runs",
                      xaxis_title="member uplink (Mbit/s)", yaxis_title="requests per second")
    fig.update_xaxes(type="log")
    return honest_log_axis(fig, "x")
