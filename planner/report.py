"""Tables and figures shared by the CLI and the app: the plan, the simulation, their agreement.

Figures are plotly objects; `write_report` writes a self-contained HTML report with them and the
tables as CSV/JSON, the folder whole or not at all (see planner.output). Every name from the
scenario is escaped (planner.safe): the report shows hostile text, it never runs it.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
import plotly.graph_objects as go

from planner.output import staged_dir, write_atomic
from planner.safe import frame_html, html_text, money, to_csv

PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]


#: Completed requests a p99 needs to mean anything: with fewer, the 99th percentile is (nearly)
#: the largest value seen, and a verdict on it is a guess.
MIN_REQUESTS_FOR_P99 = 100


def agreement(plan: Any, sim: Any) -> pd.DataFrame:
    """Planned against simulated p99 per inference workload (and TTFT and TPOT for language
    models): the ratio, whether every SLO held, and `slo_ratio`, the smallest SLO / simulated
    p99 over the objectives (< 1 where one was missed).

    `verdict` is `met`, `missed` or `unmeasured` (no request completed: nothing to judge, and
    never counted as met); `few_requests` flags a verdict on fewer than `MIN_REQUESTS_FOR_P99`.
    """
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
    measured = pd.to_numeric(df["completed"], errors="coerce").fillna(0) > 0
    df["verdict"] = np.where(~measured, "unmeasured", np.where(df["slo_ratio"] >= 1.0, "met", "missed"))
    df["slo_met"] = df["verdict"] == "met"
    df["few_requests"] = pd.to_numeric(df["completed"], errors="coerce").fillna(0) < MIN_REQUESTS_FOR_P99
    return df.reset_index(drop=True)


def agreement_sentence(df: pd.DataFrame) -> str:
    """One line that states how well the analytical plan matched the simulation, and what it
    could not judge (workloads with no or too few completed requests)."""
    if df.empty:
        return "No inference workload to compare."
    verdict = df["verdict"] if "verdict" in df else np.where(df["slo_met"], "met", "missed")
    verdict = pd.Series(verdict, index=df.index)
    judged = df[verdict != "unmeasured"]
    if judged.empty:
        return (f"Nothing measured: no request of the {len(df)} workload(s) completed within the horizon, "
                "so no SLO is claimed met.")
    r = (judged["sim_over_predicted"] if "sim_over_predicted" in judged else pd.Series(dtype=float)).replace(
        [math.inf, -math.inf], math.nan).dropna()
    met = int((verdict == "met").sum())
    text = f"{met}/{len(df)} workloads met their p99 SLO in simulation."
    if not r.empty:
        text = (f"Simulated p99 was {r.median():.2f}× the planned p99 at the median (range {r.min():.2f}× to "
                f"{r.max():.2f}×); " + text)
    unmeasured = list(df.loc[verdict == "unmeasured", "workload"])
    if unmeasured:
        text += f" Not measured (no request completed): {', '.join(map(str, unmeasured))}."
    if "few_requests" in df:
        few = df[(verdict != "unmeasured") & df["few_requests"]]
        if len(few):
            listed = ", ".join(f"{w} ({int(c)})" for w, c in zip(few["workload"], few["completed"]))
            text += (f" Too few requests for a p99 (under {MIN_REQUESTS_FOR_P99} completed): {listed}; "
                     "lengthen horizon_s.")
    return text


def simulated_verdicts(summary: pd.DataFrame) -> pd.DataFrame:
    """Per inference workload of a simulated summary: `verdict` (`met`, `missed`, `unmeasured`
    when no request completed) and `few_requests`. For a placement with no plan to compare."""
    inf = summary[summary["kind"] == "inference"] if "kind" in summary else summary
    completed = pd.to_numeric(inf["completed"], errors="coerce").fillna(0)
    missed = pd.Series(False, index=inf.index)
    for got, slo in (("p99_ms", "slo_ms"), ("ttft_p99_ms", "ttft_slo_ms"), ("tpot_p99_ms", "tpot_slo_ms")):
        if got in inf and slo in inf:
            missed |= pd.to_numeric(inf[got], errors="coerce") > pd.to_numeric(inf[slo], errors="coerce")
    verdict = np.where(completed <= 0, "unmeasured", np.where(missed, "missed", "met"))
    return pd.DataFrame({"workload": inf["workload"].to_numpy(), "verdict": verdict,
                         "completed": completed.to_numpy(), "few_requests": (completed < MIN_REQUESTS_FOR_P99).to_numpy()})


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
    fig.update_layout(barmode="group", title="Latency per workload", yaxis_title="ms", yaxis_type="log", height=400)
    return fig


def figures(plan: Any, sim: Any | None = None) -> dict[str, go.Figure]:
    """Every report figure, by name."""
    figs = {"topology": topology_figure(plan), "cost": cost_figure(plan), "latency": latency_figure(plan, sim)}
    return figs


def _finite(x: Any) -> Any:
    """JSON has no NaN: a missing figure is null."""
    return x if isinstance(x, (int, float)) and math.isfinite(x) else None


def failures_html(plan: Any, sim: Any | None, agree: pd.DataFrame | None) -> str:
    """What failed, for the top of the report: the plan's conflicts and violations, a missing
    simulation, SLOs missed or not measured. Empty when nothing did."""
    items = [f"Conflict: {html_text(c)}" for c in plan.conflicts]
    table = plan.table()
    for row in table.itertuples():
        if row.ok is True or not isinstance(row.violations, str) or not row.violations:
            continue
        if row.violations == "; ".join(plan.conflicts) or row.violations in plan.conflicts:  # listed above
            if row.workload not in plan.placement and not any(str(row.workload) in c for c in plan.conflicts):
                items.append(f"<b>{html_text(row.workload)}</b>: not placed, as the plan as a whole has no feasible placement.")
            continue
        items.append(f"<b>{html_text(row.workload)}</b>: {html_text(row.violations)}")
    if sim is None:
        items.append("Not simulated: " + ("no workload could be placed." if not plan.placement else "no simulation was run."))
    elif agree is not None and len(agree):
        for row in agree.itertuples():
            if row.verdict == "missed":
                items.append(f"<b>{html_text(row.workload)}</b> missed its SLO in simulation "
                             f"(simulated p99 {row.simulated_p99_ms:,.1f} ms, SLO {row.slo_p99_ms:,.1f} ms).")
            elif row.verdict == "unmeasured":
                items.append(f"<b>{html_text(row.workload)}</b>: no request completed in the simulated horizon; "
                             "nothing is claimed about its SLO.")
    if not items:
        return ""
    return "<div style='color:#b00'><h2>What failed</h2><ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul></div>"


#: Every file `write_report` may write (besides `<extra>.csv`): an earlier run's folder holding
#: only these may be replaced whole.
REPORT_FILES = ("plan.csv", "placement.json", "summary.csv", "agreement.csv", "rounds.csv", "report.html")


def write_report(out_dir: str | Path, plan: Any, sim: Any | None = None, extra: dict[str, pd.DataFrame] | None = None) -> list[Path]:
    """Write plan.csv, placement.json, summary.csv, agreement.csv and report.html into `out_dir`,
    whatever the verdict (an infeasible plan's report says what failed).

    The folder is written whole or not at all: into a temporary sibling, then renamed into place
    (replacing an earlier run's folder only once the new one is complete). Text from the scenario
    is escaped: HTML in the report, formulas in the CSV files.
    """
    out = Path(out_dir)
    names: list[str] = []
    fmt = lambda v: f"{v:,.2f}"  # noqa: E731
    with staged_dir(out, known=[*REPORT_FILES, *(f"{n}.csv" for n in (extra or {}))]) as stage:

        def put(name: str, data: str) -> None:
            write_atomic(stage / name, data)
            names.append(name)

        table = plan.table()
        put("plan.csv", to_csv(table))
        put("placement.json", json.dumps({"scenario": plan.scenario.name, "feasible": plan.feasible,
                                          "monthly_cost_usd": _finite(plan.monthly_cost_usd), "conflicts": plan.conflicts,
                                          "placement": plan.to_dict()}, indent=2))
        sc = plan.scenario
        agree = agreement(plan, sim) if sim is not None else None
        sections = [f"<h1>{html_text(sc.name)}</h1>", f"<p>{html_text(sc.description)}</p>" if sc.description else "",
                    f"<p><b>{'Feasible' if plan.feasible else 'Not feasible'}</b>, {html_text(money(plan.monthly_cost_usd))} "
                    f"(objective: {html_text(sc.objective)}).</p>", failures_html(plan, sim, agree)]
        sections.append("<h2>Plan</h2>" + frame_html(table.drop(columns=["reason"]), fmt))
        sections.append("<h2>Why</h2><ul>" + "".join(f"<li><b>{html_text(r.workload)}</b>: {html_text(r.reason)}</li>"
                                                      for r in table.itertuples()) + "</ul>")
        if sim is not None and agree is not None:
            summary = sim.summary()
            put("summary.csv", to_csv(summary))
            put("agreement.csv", to_csv(agree))
            sections.append("<h2>Simulation</h2>" + frame_html(summary, fmt))
            sections.append(f"<h2>Planned against simulated</h2><p>{html_text(agreement_sentence(agree))}</p>"
                            + frame_html(agree, fmt))
        for name, df in (extra or {}).items():
            put(f"{name}.csv", to_csv(df))
        for i, fig in enumerate(figures(plan, sim).values()):
            # The first figure carries plotly.js inline, so the report works offline.
            sections.append(fig.to_html(full_html=False, include_plotlyjs=i == 0))
        html = ("<!doctype html><html><head><meta charset='utf-8'><title>" + html_text(sc.name) + "</title>"
                "<style>body{font-family:sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse;font-size:12px}"
                "td,th{border:1px solid #ccc;padding:3px 6px}</style></head><body>" + "".join(sections) + "</body></html>")
        put("report.html", html)
    return [out / n for n in names]
