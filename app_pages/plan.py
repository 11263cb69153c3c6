"""The Plan page: the planner's analytical verdict (feasibility, cost, where each workload runs and
why), the topology and cost figures, TTFT/TPOT against their objectives for language models, and
the shared resources' utilisation."""
from __future__ import annotations

import streamlit as st

import planner
from app_pages.charts import token_figure
from app_pages.widgets import NUMBER_FORMAT, placement_json, plan_page, plan_table, plan_verdict

TITLE = "Plan"


def render() -> None:
    got = plan_page(TITLE)
    if got is None:
        return
    _, sc, p = got
    st.caption("Analytical: the planner's queueing model (Erlang C with a variability correction, processor-shared "
               "links) over the cost model's estimates and the catalog's prices. `source` says how each latency "
               "estimate was obtained (measured | interpolated | extrapolated | assumed); the Simulation page checks "
               "the predicted p99 in a discrete-event run.")
    plan_verdict(p)
    t = plan_table(p)
    st.subheader("Placement")
    st.dataframe(t.drop(columns=["reason"], errors="ignore"), hide_index=True, column_config=NUMBER_FORMAT)
    if p.placement:
        c1, c2 = st.columns([3, 2])
        with c1:
            st.plotly_chart(planner.report.topology_figure(p), key="topology")
        with c2:
            st.plotly_chart(planner.report.cost_figure(p), key="cost")
        tokens = token_figure(p.table())
        if tokens is not None:
            st.subheader("Language models")
            st.caption("Predicted time to first token (queueing and prefill) and time per output token (decode) "
                       "against each workload's objectives (red).")
            st.plotly_chart(tokens, key="plan_tokens")
    st.subheader("Why")
    for r in p.table().itertuples():
        st.markdown(f"- **{r.workload}**: {r.reason or r.violations or '–'}")
    if p.placement:
        st.subheader("Shared resources")
        st.dataframe(p.resources(), hide_index=True, column_config={"utilization": NUMBER_FORMAT["utilization"]})
    d1, d2, _ = st.columns([1, 1, 3])
    d1.download_button("Download the plan (CSV)", p.table().to_csv(index=False), file_name=f"{sc.name}-plan.csv",
                       mime="text/csv")
    d2.download_button("Download the placement (JSON)", placement_json(p), file_name=f"{sc.name}-placement.json",
                       mime="application/json", help="Readable by `planner simulate FILE --placement`.")
