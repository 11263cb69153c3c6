"""The Comparison page: the plan against all-edge and all-cloud (`planner.baselines`), or two
scenarios side by side (this one against an example, or against itself before its edits)."""
from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
import yaml

import planner
from app_pages.cache import baselines_of, plan_of, quick_look, scenario_of
from app_pages.charts import SLO_MARKER, honest_log_axis, money_axis
from app_pages.state import examples, key_of, load_example, state
from app_pages.widgets import NUMBER_FORMAT, money, plan_page

TITLE = "Comparison"
AS_LOADED = "this scenario as loaded (before edits)"


def render() -> None:
    got = plan_page(TITLE)
    if got is None:
        return
    key, _, p = got
    mode = st.radio("Compare", ["The plan against all-edge and all-cloud", "Two scenarios side by side"],
                    horizontal=True, key="compare_mode")
    if mode.startswith("The plan"):
        _against_baselines(key, p)
    else:
        _two_scenarios(key)


def _against_baselines(key: tuple, p: Any) -> None:
    st.caption("All-edge and all-cloud are placements by hand, judged by the same analytical model as the plan "
               "(`planner.baselines`, through `planner.evaluate`): each workload on the first device of its source "
               "site (all-edge) or the first pool of the first cloud site it may reach (all-cloud). Privacy is never "
               "broken: a workload that may not move stays as planned.")
    found = baselines_of(*key, not quick_look())
    for b in found.values():
        if b.error:
            st.warning(f"{b.name}: {b.error}")
    verdicts = {"plan": p, **{name: b.plan for name, b in found.items() if b.plan is not None}}
    for col, (label, q) in zip(st.columns(len(verdicts)), verdicts.items()):
        with col, st.container(border=True):
            st.markdown(f"### {label}")
            delta = None if label == "plan" or not q.placement else f"{q.monthly_cost_usd - p.monthly_cost_usd:+,.0f} vs plan"
            st.metric("Monthly cost", money(q), delta, delta_color="inverse")
            st.markdown("Feasible: **yes**" if q.feasible else "Feasible: **no**")
            t = q.table()
            for r in t[~t["ok"].astype(bool)].itertuples():
                st.markdown(f"- :red[**{r.workload}**: {r.violations or 'not placed'}]")
            for name, note in (found[label].notes if label in found else {}).items():
                st.caption(f"{name}: {note}")
    rows = planner.strategy_table(verdicts)
    c1, c2 = st.columns(2)
    c1.plotly_chart(cost_by_workload(rows), key="cmp_cost")
    c2.plotly_chart(p99_by_workload(rows), key="cmp_p99")
    st.dataframe(rows, hide_index=True, column_config=NUMBER_FORMAT)


def cost_by_workload(rows: pd.DataFrame) -> go.Figure:
    """Monthly cost per workload, a bar per strategy (`planner.strategy_table` rows)."""
    fig = go.Figure()
    for label, g in rows.groupby("strategy", sort=False):
        fig.add_trace(go.Bar(x=g["workload"], y=g["monthly_cost_usd"], name=str(label)))
    fig.update_layout(barmode="group", title="Monthly cost per workload", yaxis_title="USD per month", height=380)
    return money_axis(fig)


def p99_by_workload(rows: pd.DataFrame) -> go.Figure:
    """Predicted p99 per inference workload, a bar per strategy, with the SLO as a red tick."""
    inf = rows[pd.to_numeric(rows["predicted_p99_ms"], errors="coerce").notna()]
    fig = go.Figure()
    for label, g in inf.groupby("strategy", sort=False):
        fig.add_trace(go.Bar(x=g["workload"], y=g["predicted_p99_ms"], name=str(label)))
    slo = inf.drop_duplicates("workload")
    fig.add_trace(go.Scatter(x=slo["workload"], y=slo["slo_p99_ms"], mode="markers", name="SLO p99", marker=SLO_MARKER))
    fig.update_layout(barmode="group", title="Predicted p99 per workload", yaxis_title="ms", height=380)
    return honest_log_axis(fig, "y")


def _two_scenarios(key: tuple) -> None:
    s = state()
    options = [AS_LOADED, *examples()]
    other = st.selectbox("Against", options, key="compare_other")
    b = {**s, "raw": yaml.safe_load(s["loaded"])} if other == AS_LOADED else load_example(other)
    key_b = key_of(b)
    _, err_b = scenario_of(key_b)
    if err_b is not None:
        st.error(f"The other scenario is not valid: {err_b}")
        return
    if key_b == key:
        st.info("The scenario has not been edited since it was loaded: both sides are the same.")
    plans = {"A: this scenario": plan_of(*key), f"B: {other}": plan_of(*key_b)}
    for col, (label, q) in zip(st.columns(2), plans.items()):
        with col, st.container(border=True):
            st.markdown(f"### {label}")
            st.caption(q.scenario.name)
            a, b2 = st.columns(2)
            a.metric("Monthly cost", money(q))
            b2.metric("Feasible", "yes" if q.feasible else "no")
            for c in q.conflicts:
                st.error(c)
    # One table across the page, not one per half-width column: at half width the p99 and cost
    # columns were cut off behind a scroll bar.
    for label, q in plans.items():
        st.markdown(f"**{label}**")
        st.dataframe(planner.strategy_table({label: q}).drop(columns=["strategy", "violations"]), hide_index=True,
                     column_config=NUMBER_FORMAT)
    st.plotly_chart(cost_by_workload(planner.strategy_table(plans)), key="cmp2_cost")
