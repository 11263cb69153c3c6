"""Plotly figures for the app (the report draws its own, lighter SVG: planner.report.svg).

Every label from the scenario is escaped (plotly reads labels as HTML).
"""
from __future__ import annotations

from typing import Any

import networkx as nx
import plotly.graph_objects as go

from planner.report.svg import log_ticks
from planner.safe import html_text, money

PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]


def _names(values: Any) -> list[str]:
    """Names from a scenario, escaped for plotly (which reads labels as HTML)."""
    return [html_text(v) for v in values]


def topology_figure(plan: Any) -> go.Figure:
    """Sites and links; each site lists the workloads placed there, coloured by workload."""
    sc = plan.scenario
    g = sc.graph
    pos = nx.kamada_kawai_layout(g) if len(g) > 2 else nx.spring_layout(g, seed=0)
    fig = go.Figure()
    for u, v in g.edges:
        link = sc.links[g.edges[u, v]["index"]]
        (x0, y0), (x1, y1) = pos[u], pos[v]
        fig.add_trace(go.Scatter(x=[x0, x1], y=[y0, y1], mode="lines", line={"color": "#bbb", "width": 2},
                                 hoverinfo="text", text=html_text(f"{link.network}: {link.up_mbps:g}/{link.down_mbps:g} Mbps, {link.rtt:g} ms"),
                                 showlegend=False))
    placed: dict[str, list[str]] = {}
    for name, c in plan.placement.items():
        placed.setdefault(c.site, []).append(name)
    xs, ys, texts, colors, sizes, labels = [], [], [], [], [], []
    for n, site in sc.sites.items():
        xs.append(pos[n][0])
        ys.append(pos[n][1])
        here = placed.get(n, [])
        lines = [html_text(f"{w} ({plan.placement[w].hardware}, {plan.placement[w].precision})") for w in here]
        texts.append(f"<b>{html_text(n)}</b> ({html_text(site.kind)})<br>" + "<br>".join(lines or ["nothing placed"]))
        labels.append(f"<b>{html_text(n)}</b><br>" + "<br>".join(_names(here)))
        colors.append("#2ca02c" if site.kind == "edge" else "#1f77b4")
        sizes.append(18 + 6 * len(here))
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="markers+text", text=labels, textposition="bottom center",
                             hovertext=texts, hoverinfo="text", showlegend=False,
                             marker={"size": sizes, "color": colors, "line": {"width": 1, "color": "#333"}}))
    fig.update_layout(title="Topology (green: edge, blue: cloud); workloads at the site where they run",
                      xaxis={"visible": False}, yaxis={"visible": False}, height=420, margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return fig


def cost_figure(plan: Any) -> go.Figure:
    """Monthly cost per placed workload, by where it runs."""
    t = plan.table().dropna(subset=["monthly_cost_usd"])
    # An unplaced workload has no site or hardware (NaN): say so rather than add text to NaN.
    where = [html_text(f"{h}@{s}") for h, s in zip(t["hardware"].fillna("?"), t["site"].fillna("?"))]
    fig = go.Figure(go.Bar(x=_names(t["workload"]), y=t["monthly_cost_usd"].astype(float),
                           text=[f"${v:,.0f}" for v in t["monthly_cost_usd"]],
                           hovertext=where, marker_color=[PALETTE[i % 10] for i in range(len(t))]))
    fig.update_layout(title=f"Monthly cost: {money(plan.monthly_cost_usd)} in all", yaxis_title="USD per month", height=380)
    return fig


def latency_figure(plan: Any, sim: Any | None = None) -> go.Figure:
    """Planned p99 against simulated p50/p95/p99 per workload, with the SLO."""
    t = plan.table()
    t = t[t["predicted_p99_ms"].notna()]
    x = _names(t["workload"])
    fig = go.Figure()
    fig.add_trace(go.Bar(name="planned p99", x=x, y=t["predicted_p99_ms"].astype(float)))
    if sim is not None:
        s = sim.summary().set_index("workload").reindex(t["workload"])
        for q in ("p50_ms", "p95_ms", "p99_ms"):
            fig.add_trace(go.Bar(name=f"simulated {q[:-3]}", x=x, y=s[q].astype(float)))
    fig.add_trace(go.Scatter(name="SLO p99", x=x, y=t["slo_p99_ms"].astype(float), mode="markers",
                             marker={"symbol": "line-ew-open", "size": 30, "line": {"width": 3, "color": "red"}}))
    fig.update_layout(barmode="group", title="Latency per workload", yaxis_title="ms", height=400)
    values = [v for tr in fig.data for v in (tr.y if tr.y is not None else ()) if v == v and v is not None and v > 0]
    if values:
        # Labelled 1-2-5 ticks, not plotly's bare "2 3 4 ... 100" minor labels on a log axis.
        ticks = log_ticks(min(values) * 0.8, max(values) * 1.25)
        if len(ticks) >= 2:
            fig.update_yaxes(type="log", tickvals=ticks, ticktext=[f"{t:,g}" for t in ticks])
    return fig


def figures(plan: Any, sim: Any | None = None) -> dict[str, go.Figure]:
    """Every report figure, by name."""
    figs = {"topology": topology_figure(plan), "cost": cost_figure(plan), "latency": latency_figure(plan, sim)}
    return figs


