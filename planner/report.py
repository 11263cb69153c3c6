"""Tables and figures shared by the CLI and the app: the plan, the simulation, their agreement.

Figures are plotly objects; `write_report` writes a self-contained HTML report with them and the
tables as CSV/JSON, each file atomically (a temporary file renamed into place).
"""
from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import networkx as nx
import pandas as pd
import plotly.graph_objects as go

PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]


def agreement(plan: Any, sim: Any) -> pd.DataFrame:
    """Planned against simulated p99 per inference workload (and TTFT and TPOT for language
    models): the ratio, whether every SLO held, and `slo_ratio`, the smallest SLO / simulated
    p99 over the objectives (< 1 where one was missed)."""
    t = plan.table()
    s = sim.summary()
    df = t[["workload", "predicted_p99_ms", "slo_p99_ms", "predicted_ttft_ms", "slo_ttft_ms", "predicted_tpot_ms",
            "slo_tpot_ms"]].merge(
        s[["workload", "p99_ms", "ttft_p99_ms", "tpot_p99_ms", "slo_met_frac", "completed", "failed"]],
        on="workload", how="inner")
    df = df[df["predicted_p99_ms"].notna()].rename(columns={
        "p99_ms": "simulated_p99_ms", "ttft_p99_ms": "simulated_ttft_ms", "tpot_p99_ms": "simulated_tpot_ms"})
    df = df.astype({c: float for c in df.columns if c.startswith(("slo_", "predicted_", "simulated_"))})
    df["sim_over_predicted"] = df["simulated_p99_ms"] / df["predicted_p99_ms"]
    ratios = pd.concat([(df[f"slo_{m}_ms"] / df[f"simulated_{m}_ms"]).rename(m) for m in ("p99", "ttft", "tpot")], axis=1)
    df["slo_ratio"] = ratios.min(axis=1, skipna=True).fillna(math.inf)
    df["slo_met"] = df["slo_ratio"] >= 1.0
    return df.reset_index(drop=True)


def agreement_sentence(df: pd.DataFrame) -> str:
    """One line that states how well the analytical plan matched the simulation."""
    if df.empty:
        return "No inference workload to compare."
    r = df["sim_over_predicted"].replace([math.inf, -math.inf], math.nan).dropna()
    met = int(df["slo_met"].sum())
    if r.empty:
        return f"{met}/{len(df)} workloads met their p99 SLO in simulation."
    return (f"Simulated p99 was {r.median():.2f}× the planned p99 at the median (range {r.min():.2f}× to "
            f"{r.max():.2f}×); {met}/{len(df)} workloads met their p99 SLO in simulation.")


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
                                 hoverinfo="text", text=f"{link.network}: {link.up_mbps:g}/{link.down_mbps:g} Mbps, {link.rtt:g} ms",
                                 showlegend=False))
    placed: dict[str, list[str]] = {}
    for name, c in plan.placement.items():
        placed.setdefault(c.site, []).append(f"{name} ({c.hardware}, {c.precision})")
    xs, ys, texts, colors, sizes = [], [], [], [], []
    for n, site in sc.sites.items():
        xs.append(pos[n][0])
        ys.append(pos[n][1])
        here = placed.get(n, [])
        texts.append(f"<b>{n}</b> ({site.kind})<br>" + "<br>".join(here or ["nothing placed"]))
        colors.append("#2ca02c" if site.kind == "edge" else "#1f77b4")
        sizes.append(18 + 6 * len(here))
    labels = [f"<b>{n}</b><br>" + "<br>".join(w.split(" (")[0] for w in placed.get(n, [])) for n in sc.sites]
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="markers+text", text=labels, textposition="bottom center",
                             hovertext=texts, hoverinfo="text", showlegend=False,
                             marker={"size": sizes, "color": colors, "line": {"width": 1, "color": "#333"}}))
    fig.update_layout(title="Topology (green: edge, blue: cloud); workloads at the site where they run",
                      xaxis={"visible": False}, yaxis={"visible": False}, height=420, margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return fig


def cost_figure(plan: Any) -> go.Figure:
    """Monthly cost per workload, by where it runs."""
    t = plan.table().dropna(subset=["monthly_cost_usd"])
    fig = go.Figure(go.Bar(x=t["workload"], y=t["monthly_cost_usd"], text=[f"${v:,.0f}" for v in t["monthly_cost_usd"]],
                           hovertext=t["hardware"] + "@" + t["site"], marker_color=[PALETTE[i % 10] for i in range(len(t))]))
    fig.update_layout(title=f"Monthly cost: ${plan.monthly_cost_usd:,.0f} in all", yaxis_title="USD per month", height=380)
    return fig


def latency_figure(plan: Any, sim: Any | None = None) -> go.Figure:
    """Planned p99 against simulated p50/p95/p99 per workload, with the SLO."""
    t = plan.table()
    t = t[t["predicted_p99_ms"].notna()]
    fig = go.Figure()
    fig.add_trace(go.Bar(name="planned p99", x=t["workload"], y=t["predicted_p99_ms"]))
    if sim is not None:
        s = sim.summary().set_index("workload").reindex(t["workload"])
        for q in ("p50_ms", "p95_ms", "p99_ms"):
            fig.add_trace(go.Bar(name=f"simulated {q[:-3]}", x=t["workload"], y=s[q]))
    fig.add_trace(go.Scatter(name="SLO p99", x=t["workload"], y=t["slo_p99_ms"], mode="markers",
                             marker={"symbol": "line-ew-open", "size": 30, "line": {"width": 3, "color": "red"}}))
    fig.update_layout(barmode="group", title="Latency per workload", yaxis_title="ms", yaxis_type="log", height=400)
    return fig


def figures(plan: Any, sim: Any | None = None) -> dict[str, go.Figure]:
    """Every report figure, by name."""
    figs = {"topology": topology_figure(plan), "cost": cost_figure(plan), "latency": latency_figure(plan, sim)}
    return figs


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write a file so that readers see the old one or the whole new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode() if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_report(out_dir: str | Path, plan: Any, sim: Any | None = None, extra: dict[str, pd.DataFrame] | None = None) -> list[Path]:
    """Write plan.csv, placement.json, summary.csv, agreement.csv and report.html into `out_dir`."""
    out = Path(out_dir)
    written = []

    def put(name: str, data: str) -> None:
        write_atomic(out / name, data)
        written.append(out / name)

    table = plan.table()
    put("plan.csv", table.to_csv(index=False))
    put("placement.json", json.dumps({"scenario": plan.scenario.name, "feasible": plan.feasible,
                                      "monthly_cost_usd": plan.monthly_cost_usd, "conflicts": plan.conflicts,
                                      "placement": plan.to_dict()}, indent=2))
    sections = [f"<h1>{plan.scenario.name}</h1>", f"<p>{plan.scenario.description}</p>" if plan.scenario.description else "",
                f"<p><b>{'Feasible' if plan.feasible else 'Not feasible'}</b>, ${plan.monthly_cost_usd:,.0f} per month "
                f"(objective: {plan.scenario.objective}).</p>"]
    sections += [f"<p style='color:#b00'>Conflict: {c}</p>" for c in plan.conflicts]
    sections.append("<h2>Plan</h2>" + table.drop(columns=["reason"]).to_html(index=False, float_format=lambda v: f"{v:,.2f}"))
    sections.append("<h2>Why</h2><ul>" + "".join(f"<li><b>{r.workload}</b>: {r.reason}</li>" for r in table.itertuples()) + "</ul>")
    if sim is not None:
        summary = sim.summary()
        put("summary.csv", summary.to_csv(index=False))
        agree = agreement(plan, sim)
        put("agreement.csv", agree.to_csv(index=False))
        sections.append("<h2>Simulation</h2>" + summary.to_html(index=False, float_format=lambda v: f"{v:,.2f}"))
        sections.append(f"<h2>Planned against simulated</h2><p>{agreement_sentence(agree)}</p>"
                        + agree.to_html(index=False, float_format=lambda v: f"{v:,.2f}"))
    for name, df in (extra or {}).items():
        put(f"{name}.csv", df.to_csv(index=False))
    for i, fig in enumerate(figures(plan, sim).values()):
        # The first figure carries plotly.js inline, so the report works offline.
        sections.append(fig.to_html(full_html=False, include_plotlyjs=i == 0))
    html = ("<!doctype html><html><head><meta charset='utf-8'><title>" + plan.scenario.name + "</title>"
            "<style>body{font-family:sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse;font-size:12px}"
            "td,th{border:1px solid #ccc;padding:3px 6px}</style></head><body>" + "".join(sections) + "</body></html>")
    put("report.html", html)
    return written
