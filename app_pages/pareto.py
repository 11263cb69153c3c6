"""The Pareto & sweeps page: monthly cost against rate-weighted p99 (`planner.pareto`), and one
numeric field swept over values given here, planned once per value (`planner.sweep_plans`)."""
from __future__ import annotations

import json
from typing import Any

import plotly.graph_objects as go
import streamlit as st

import planner
from app_pages.cache import on_demand, pareto_of, sweep_of
from app_pages.charts import MISSED_COLOUR, OK_COLOUR, money_axis
from app_pages.state import dotted, get_in, state
from app_pages.widgets import NUMBER_FORMAT, catalog_default, plan_page

TITLE = "Pareto & sweeps"
#: Most values one sweep plans (each is a MILP solve).
MAX_SWEEP_VALUES = 25
#: Default values offered: the current value times these.
DEFAULT_MULTIPLIERS = (0.25, 0.5, 1, 2, 4)


def render() -> None:
    got = plan_page("Pareto front and sweeps")
    if got is None:
        return
    key, sc, p = got
    _front(key, sc, p)
    _sweep(key, sc)


def _front(key: tuple, sc: Any, p: Any) -> None:
    st.subheader("Cost against latency")
    st.caption("The cheapest plan for each bound on rate-weighted p99, between the cheapest and the fastest plans "
               "(`planner.pareto`). Only non-dominated points are kept; hover for the placement.")
    front = on_demand("pareto", key, "Trace the Pareto front", lambda: pareto_of(*key))
    if front is None:
        return
    if front.empty:
        st.warning("No feasible plan, so no front.")
        return
    fig = go.Figure(go.Scatter(x=front["weighted_p99_ms"], y=front["monthly_cost_usd"], mode="lines+markers",
                               line_shape="hv", hovertext=front["placement"], hoverinfo="text+x+y",
                               marker={"size": 10}, name="Pareto front"))
    if p.placement:
        fig.add_hline(y=p.monthly_cost_usd, line_dash="dot", annotation_text=f"the plan ({sc.objective})")
    fig.update_layout(xaxis_title="rate-weighted p99 (ms)", yaxis_title="USD per month", height=420,
                      xaxis_rangemode="tozero")
    st.plotly_chart(money_axis(fig), key="pareto")
    st.dataframe(front, hide_index=True, column_config=NUMBER_FORMAT)


def sweepable(raw: dict) -> dict[str, tuple]:
    """Numeric fields one may sweep, by label: rates, SLOs, link figures, prices, counts."""
    out: dict[str, tuple] = {}
    for name, w in (raw.get("workloads") or {}).items():
        if not isinstance(w, dict):
            continue
        arrival = w.get("arrival") if isinstance(w.get("arrival"), dict) else {}
        for f in ("rate_per_s", "rate_high_per_s", "rate_low_per_s"):
            if isinstance(arrival.get(f), (int, float)):
                out[f"{name}: arrival {f}"] = ("workloads", name, "arrival", f)
        for f in ("p99_ms", "ttft_ms", "tpot_ms"):
            if isinstance((w.get("slo") or {}).get(f), (int, float)):
                out[f"{name}: SLO {f}"] = ("workloads", name, "slo", f)
        for f in ("dataset_gb", "deadline_h", "input_bytes"):
            if isinstance(w.get(f), (int, float)):
                out[f"{name}: {f}"] = ("workloads", name, f)
    for i, link in enumerate(raw.get("links") or []):
        if isinstance(link, dict):
            for f in ("uplink_mbps", "downlink_mbps", "rtt_ms"):
                out[f"link {'-'.join(map(str, link.get('between', [])))}: {f}"] = ("links", i, f)
    out["electricity_usd_per_kwh"] = ("prices", "electricity_usd_per_kwh")
    for site, spec in (raw.get("sites") or {}).items():
        for j, g in enumerate((spec or {}).get("devices") or []):
            out[f"{site}: {g.get('hardware')} count"] = ("sites", site, "devices", j, "count")
    return out


def _current_value(raw: dict, path: tuple) -> float | None:
    """The field's value, or the catalog's figure that applies when the scenario leaves it out."""
    cur = get_in(raw, path)
    if cur is None and path[0] == "links":
        net = get_in(raw, ("links", path[1], "network"))
        cur = catalog_default(lambda: getattr(planner.catalog.network(net), path[-1]))
    if cur is None and path == ("prices", "electricity_usd_per_kwh"):
        cur = catalog_default(lambda: planner.catalog.price("electricity_usd_per_kwh"))
    return cur


def _sweep(key: tuple, sc: Any) -> None:
    st.subheader("One-parameter sweep")
    raw = state()["raw"]
    fields = sweepable(raw)
    label = st.selectbox("Parameter", list(fields), key="sweep:field")
    path = fields[label]
    cur = _current_value(raw, path)
    default = ", ".join(f"{float(cur) * m:g}" for m in DEFAULT_MULTIPLIERS) if cur else "1, 2, 4"
    text = st.text_input("Values (comma-separated)", value=default, key=f"sweep:values:{label}")
    try:
        values = [float(x) for x in text.replace(";", ",").split(",") if x.strip()]
    except ValueError:
        st.error("Values must be numbers separated by commas.")
        return
    if not values or len(values) > MAX_SWEEP_VALUES:
        st.error(f"Give between 1 and {MAX_SWEEP_VALUES} values.")
        return
    values_typed: list[Any] = [int(v) for v in values] if path[-1] == "count" else values  # a count is whole
    sets = json.dumps({dotted(path): values_typed})
    df = on_demand("sweep", (key, sets), "Run the sweep", lambda: sweep_of(*key, sets),
                   help="Plans the scenario once per value (`planner.sweep_plans`); nothing is simulated.")
    if df is None:
        return
    df = df.rename(columns={dotted(path): "value"})
    fig = go.Figure(go.Scatter(x=df["value"], y=df["monthly_cost_usd"], mode="lines+markers",
                               marker={"size": 12, "color": [OK_COLOUR if f else MISSED_COLOUR for f in df["feasible"]]},
                               hovertext=df["status"]))
    fig.update_layout(title=f"Monthly cost against {label} (green: feasible, red: not)", xaxis_title=label,
                      yaxis_title="USD per month", height=380)
    st.plotly_chart(money_axis(fig), key="sweep_fig")
    st.dataframe(df, hide_index=True, column_config=NUMBER_FORMAT)
    st.download_button("Download the sweep (CSV)", df.to_csv(index=False), file_name=f"{sc.name}-sweep.csv",
                       mime="text/csv")
