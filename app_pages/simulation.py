"""The Simulation page: the plan run in the discrete-event simulator (with progress), its latency,
SLO attainment (TTFT/TPOT for language models), segments, utilisation, failures and costs, and
how far it agrees with the plan."""
from __future__ import annotations

import io
import zipfile
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

import planner
from app_pages.cache import sim_store, simulate_with_progress
from app_pages.charts import (MISSED_COLOUR, OK_COLOUR, SLO_MARKER, honest_log_axis, money_axis, share_axis,
                              token_attainment, token_figure)
from app_pages.widgets import NUMBER_FORMAT, placement_json, plan_page

TITLE = "Simulation"
#: Share of requests within the SLO at or above which a workload's bar is green.
SLO_TARGET_FRAC = 0.99
#: The quantiles the latency CDF is drawn through (the tail finer).
CDF_QUANTILES = [i / 200 for i in range(1, 200)] + [0.995, 0.999]
#: The simulator's tables offered in the results ZIP, by method name.
RESULT_TABLES = ("summary", "segments", "utilisation", "failures", "costs", "energy", "compute", "links", "jobs")


def render() -> None:
    got = plan_page(TITLE)
    if got is None:
        return
    key, sc, p = got
    if not p.placement:
        st.warning("The plan places nothing, so there is nothing to simulate. See the Plan page.")
        return
    st.caption(f"A discrete-event simulation (simpy) of the plan over {sc.horizon_s:g} s of simulated time: "
               "arrivals, shared links, batching, autoscaling and failures, with service times from the cost model. "
               "Monthly costs extrapolate the horizon to a month; periodic jobs are costed per run.")
    c1, c2 = st.columns([1, 3], vertical_alignment="bottom")
    seed = int(c1.number_input("seed", value=int(sc.seed), step=1, min_value=0, key=f"sim_seed:{sc.seed}"))
    cached = (key, seed) in sim_store()
    run = c2.button("Run simulation" if not cached else "Show simulation", type="primary", key="run_sim")
    done = st.session_state.setdefault("results", {})
    if not (run or cached and ("sim", key, seed) in done):
        st.info("Run the simulation to check the plan against queueing, batching, shared links and failures.")
        return
    r = simulate_with_progress(key, seed)
    done[("sim", key, seed)] = True
    _results(p, r)
    st.download_button("Download the results (ZIP of CSV tables)", _results_zip(p, r),
                       file_name=f"{sc.name}-seed{seed}-results.zip", mime="application/zip")


def _results(p: Any, r: Any) -> None:
    s = r.summary()
    agree = planner.report.agreement(p, r)
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("Arrived", f"{r.arrived:,}", border=True)
    m2.metric("Completed", f"{r.completed:,}", border=True)
    m3.metric("Failed", f"{r.failed:,}", border=True)
    m4.metric("Monthly cost, simulated", f"${r.monthly_cost_usd:,.0f}", border=True,
              help="The horizon's accounted cost extrapolated to a month; periodic jobs per run.")
    st.caption(f"Seed {r.seed}, {r.horizon_s:g} s simulated in {r.wall_s:.1f} s of wall time "
               f"({r.requests_per_wall_s:,.0f} requests per second); {r.in_flight:,} still in flight at the end. "
               f"The plan predicted ${p.monthly_cost_usd:,.0f} per month.")
    st.info(planner.report.agreement_sentence(agree), icon=":material/fact_check:")
    st.dataframe(_summary_shown(s), hide_index=True, column_config={
        "slo_met_frac": st.column_config.ProgressColumn("SLO met", min_value=0.0, max_value=1.0, format="percent"),
        "availability": st.column_config.NumberColumn("availability", format="%.4f",
                                                      help="Answered within the SLO, outages included"),
        "fallback_share": st.column_config.NumberColumn("by fallback", format="%.4f",
                                                        help="Answered at the source by the fallback while the "
                                                             "path was down"),
        "monthly_cost_usd": NUMBER_FORMAT["monthly_cost_usd"],
        **{c: st.column_config.NumberColumn(c, format="%.1f") for c in s.columns if c.endswith("_ms")}})
    tokens = token_figure(p.table(), s)
    names = ["Latency", *(["Language models"] if tokens is not None else []), "SLO attainment", "Segments",
             "Utilisation", "Failures", "Costs", "Planned vs simulated"]
    tabs = dict(zip(names, st.tabs(names)))
    with tabs["Latency"]:
        latency = planner.report.latency_figure(p, r)
        latency.update_traces(marker_color=SLO_MARKER["color"], selector={"name": "SLO p99"})  # see SLO_MARKER
        st.plotly_chart(honest_log_axis(latency, "y"), key="sim_latency")
        st.plotly_chart(_cdf_figure(r, s), key="sim_cdf")
    if tokens is not None:
        with tabs["Language models"]:
            st.plotly_chart(tokens, key="sim_tokens")
            st.dataframe(token_attainment(p.table(), s), hide_index=True, column_config={
                c: st.column_config.NumberColumn(c, format="%.1f") for c in ("ttft_p99_ms", "tpot_p99_ms")})
    with tabs["SLO attainment"]:
        st.plotly_chart(_slo_figure(s), key="sim_slo")
    with tabs["Segments"]:
        st.plotly_chart(_segments_figure(r.segments()), key="sim_segments")
    with tabs["Utilisation"]:
        u = r.utilisation()
        for kind, title in (("compute", "Compute utilisation over time"), ("link", "Link utilisation over time")):
            part = u[u["kind"] == "link"] if kind == "link" else u[u["kind"] != "link"]
            if not part.empty:
                st.plotly_chart(utilisation_figure(part, title), key=f"sim_util_{kind}")
    with tabs["Failures"]:
        _failures(r.failures())
    with tabs["Costs"]:
        costs = r.costs()
        by = costs.groupby("category", as_index=False)["monthly_usd"].sum()
        fig = go.Figure(go.Bar(x=by["category"], y=by["monthly_usd"], text=[f"${v:,.0f}" for v in by["monthly_usd"]]))
        fig.update_layout(title="Simulated monthly cost by category", yaxis_title="USD per month", height=340)
        st.plotly_chart(money_axis(fig), key="sim_costs")
        _pricing(r)
        st.dataframe(costs, hide_index=True)
    with tabs["Planned vs simulated"]:
        st.dataframe(agree, hide_index=True)


def _pricing(r: Any) -> None:
    """Cloud instances by pricing model (the reserved base paid all month, hourly instances by the
    second), spot interruptions and the capacity they took, and the emissions beside the cost."""
    c1, c2 = st.columns(2)
    c1.metric("Emissions, simulated", f"{r.monthly_kgco2e:,.1f} kgCO2e / month", border=True)
    pools = r.pricing()
    c2.metric("Spot interruptions", f"{int(pools['interruptions'].sum()):,}", border=True,
              help="Instances the provider took back; their requests were retried on another instance.")
    by = r.monthly_cost_by_pricing()
    if by.empty:
        return
    fig = go.Figure(go.Bar(x=list(by.index), y=list(by.values), text=[f"${v:,.0f}" for v in by.values]))
    fig.update_layout(title="Simulated monthly cost of cloud instances by pricing model", yaxis_title="USD per month",
                      height=300)
    st.plotly_chart(money_axis(fig), key="sim_pricing")
    st.dataframe(pools, hide_index=True, column_config={
        "capacity_lost_frac": st.column_config.NumberColumn("capacity lost", format="percent")})


def _summary_shown(s: pd.DataFrame) -> pd.DataFrame:
    """The summary less the columns that are empty for every workload (TTFT on a vision scenario)."""
    return s.drop(columns=[c for c in s.columns if c != "workload" and s[c].isna().all()])


def _cdf_figure(r: Any, s: pd.DataFrame) -> go.Figure:
    fig = go.Figure()
    for w in s[(s["kind"] == "inference") & (s["completed"] > 0)]["workload"]:
        fig.add_trace(go.Scatter(x=[r.quantile_ms(w, q) for q in CDF_QUANTILES], y=CDF_QUANTILES, mode="lines", name=w))
    fig.update_layout(title="Latency distribution per workload (CDF, from the run's quantile sketches)",
                      xaxis_title="end-to-end latency (ms)", yaxis_title="fraction of requests", height=380)
    share_axis(fig, [1.0])
    return honest_log_axis(fig, "x")


def _slo_figure(s: pd.DataFrame) -> go.Figure:
    met = s["slo_met_frac"]
    fig = go.Figure(go.Bar(x=s["workload"], y=met, text=[f"{v:.1%}" for v in met],
                           marker_color=[OK_COLOUR if v >= SLO_TARGET_FRAC else MISSED_COLOUR for v in met.fillna(0)]))
    fig.update_layout(title="Share of requests (job runs: of deadlines) within the SLO", height=360)
    return share_axis(fig, met)


def _segments_figure(seg: pd.DataFrame) -> go.Figure:
    fig = go.Figure()
    for col, label in (("uplink_ms", "uplink"), ("queue_ms", "queue"), ("compute_ms", "compute"),
                       ("downlink_ms", "downlink")):
        fig.add_trace(go.Bar(y=seg["workload"], x=seg[col], name=label, orientation="h"))
    fig.update_layout(barmode="stack", title="Mean time per completed request, by segment", xaxis_title="ms",
                      xaxis_rangemode="tozero", height=120 + 60 * len(seg))
    return fig


def utilisation_figure(part: pd.DataFrame, title: str) -> go.Figure:
    """Utilisation of each component over simulated time, on an axis from 0 to at least 100%
    (an idle link's flat zero line would otherwise be centred on an axis from -100% to 100%)."""
    fig = go.Figure()
    for comp, g in part.groupby("component", sort=False):
        fig.add_trace(go.Scatter(x=g["t_start_s"], y=g["utilisation"], mode="lines", name=str(comp), line_shape="hv"))
    fig.update_layout(title=title, xaxis_title="simulated time (s)", yaxis_title="utilisation", height=340)
    return share_axis(fig, part["utilisation"])


def _failures(f: pd.DataFrame) -> None:
    if f.empty:
        st.success("No request failed or finished late.")
        return
    fig = go.Figure()
    for reason, g in f.groupby("reason", sort=False):
        fig.add_trace(go.Bar(x=g["workload"], y=g["count"], name=str(reason)))
    fig.update_layout(barmode="stack", title="Failed and late requests by reason", yaxis_title="requests",
                      height=360)
    st.plotly_chart(fig, key="sim_failures")
    st.dataframe(f, hide_index=True)


def _results_zip(p: Any, r: Any) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("plan.csv", p.table().to_csv(index=False))
        z.writestr("placement.json", placement_json(p))
        for name in RESULT_TABLES:
            z.writestr(f"{name}.csv", getattr(r, name)().to_csv(index=False))
        z.writestr("agreement.csv", planner.report.agreement(p, r).to_csv(index=False))
    return buf.getvalue()
