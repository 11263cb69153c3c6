"""The Plan page: the planner's analytical verdict (feasibility, cost, where each workload runs and
why), the topology and cost figures, TTFT/TPOT against their objectives for language models, and
the routed share over the day, and the shared resources' utilisation."""
from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

import planner
from app_pages.cache import quick_look, run_of
from app_pages.charts import fleet_figure, money_axis, routed_share_figure, token_figure
from app_pages.widgets import NUMBER_FORMAT, placement_json, plan_page, plan_table, plan_verdict

TITLE = "Plan"


def render() -> None:
    st.toggle("Quick look: plan only, not confirmed in simulation", key="quick_look",
              help="Off (the default), the page shows what `planner run` settles on: the plan, simulated, with "
                   "any workload that missed its SLO in simulation planned tighter, as batches and sweeps do.")
    got = plan_page(TITLE)
    if got is None:
        return
    key, sc, p = got
    result = run_of(*key, not quick_look())
    if quick_look():
        st.info(f"Verdict: {result.verdict}. Turn the quick look off to confirm it in simulation.",
                icon=":material/bolt:")
    elif result.ok:
        st.success(f"Verdict: {result.verdict} ({len(result.rounds)} plan-simulate round(s)).",
                   icon=":material/check_circle:")
    else:
        st.error(f"Verdict: {result.verdict}.", icon=":material/error:")
    st.caption("Analytical: the planner's queueing model (Erlang C with a variability correction, processor-shared "
               "links) over the cost model's estimates and the catalog's prices. `source` says how each latency "
               "estimate was obtained (measured | interpolated | calibrated | transferred | extrapolated | assumed); the Simulation page checks "
               "the predicted p99 in a discrete-event run.")
    plan_verdict(p)
    t = plan_table(p)
    if sc.fleets:
        _fleets(sc, p)
        t = t[~t["workload"].isin(set(p.fleet_members()["instance"]))]  # members are summarised above
    if len(t):
        st.subheader("Placement")
        st.dataframe(t.drop(columns=["reason"], errors="ignore"), hide_index=True, column_config=NUMBER_FORMAT)
    if p.placement:
        c1, c2 = st.columns([3, 2])
        with c1:
            st.plotly_chart(planner.report.topology_figure(p), key="topology")
        with c2:
            st.plotly_chart(planner.report.cost_figure(p), key="cost")
        _pricing_and_emissions(p)
        routed = routed_share_figure(p.routed_shares())
        if routed is not None:
            st.subheader("Routing")
            st.caption("The planned share of each routed workload's requests that its secondary placement serves, "
                       "hour by hour (overflow: from the daily profile and the edge's queue limit; by_tokens: the "
                       "share of prompts over the threshold). The Simulation page reports the simulated share.")
            st.plotly_chart(routed, key="plan_routed")
        tokens = token_figure(p.table())
        if tokens is not None:
            st.subheader("Language models")
            st.caption("Predicted time to first token (queueing and prefill) and time per output token (decode) "
                       "against each workload's objectives (red).")
            st.plotly_chart(tokens, key="plan_tokens")
    st.subheader("Why")
    why = p.table()
    if sc.fleets:  # a fleet's members share their class's reasons: the summary above says them once
        why = why[why["fleet"].isna()]
    for r in why.itertuples():
        st.markdown(f"- **{r.workload}**: {r.reason or r.violations or '–'}")
    if p.placement:
        st.subheader("Shared resources")
        st.dataframe(p.resources(), hide_index=True, column_config={"utilization": NUMBER_FORMAT["utilization"]})
    d1, d2, _ = st.columns([1, 1, 3])
    d1.download_button("Download the plan (CSV)", p.table().to_csv(index=False), file_name=f"{sc.name}-plan.csv",
                       mime="text/csv")
    d2.download_button("Download the placement (JSON)", placement_json(p), file_name=f"{sc.name}-placement.json",
                       mime="application/json", help="Readable by `planner simulate FILE --placement`.")


def _fleets(sc, p) -> None:
    """Fleet decisions against member figures: how many members run where and what splits them,
    a chart per workload of the decision by uplink and rate, and the per-member table on demand."""
    st.subheader("Fleets")
    summary = p.fleet_summary()
    st.dataframe(summary[["fleet", "workload", "where", "hardware", "precision", "members", "share", "binding",
                          "split_by"]], hide_index=True, column_config={"share": st.column_config.NumberColumn(format="percent")})
    members = p.fleet_members()
    for i, workload in enumerate(members["workload"].unique()):
        st.plotly_chart(fleet_figure(members, workload), key=f"fleet:{i}")
        rows = summary[summary["workload"] == workload]
        splits = rows["split_by"].unique()
        if len(splits) == 1 and splits[0]:  # one member figure splits every decision
            apart = f"split by {splits[0]}"
        else:  # each decision with what sets its members apart
            apart = "; ".join(f"{r.where} ({r.members}): {r.split_by}" for r in rows.itertuples() if r.split_by)
        st.caption(f"{workload}: each point is a member; " + (apart or "no member figure sets the decisions apart"))
    with st.expander(f"Every member ({len(members):,} rows)"):
        st.dataframe(members.drop(columns=["binding"]), hide_index=True)


def _pricing_and_emissions(p) -> None:
    """How each workload's compute is bought (the pools' pricing mix, devices bought or owned), its
    monthly cost beside its emissions, and the cost by pricing choice."""
    t = p.table()
    t = t[t["site"].notna()]
    if t.empty:
        return
    st.subheader("Pricing and emissions")
    c1, c2 = st.columns([2, 3])
    c1.metric("Emissions", f"{t['kgco2e_per_month'].sum():,.1f} kgCO2e / month", border=True,
              help="Energy of devices, instances and the network at the grid intensity where it is drawn.")
    by = t.groupby("pricing", as_index=False)["monthly_cost_usd"].sum()
    fig = go.Figure(go.Bar(x=by["pricing"], y=by["monthly_cost_usd"], text=[f"${v:,.0f}" for v in by["monthly_cost_usd"]]))
    fig.update_layout(title="Planned monthly cost by pricing", yaxis_title="USD per month", height=300)
    c2.plotly_chart(money_axis(fig), key="plan_pricing")
    st.dataframe(t[["workload", "site", "hardware", "pricing", "monthly_cost_usd", "kgco2e_per_month"]], hide_index=True,
                 column_config={**NUMBER_FORMAT, "kgco2e_per_month": st.column_config.NumberColumn(format="%.1f")})
