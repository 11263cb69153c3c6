"""The Cost explorer page: `planner.estimate` for a model × hardware × precision × batch, the model
across every hardware with prices, and the catalogs with their sources."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

import planner
from app_pages.cache import estimate_of
from app_pages.charts import honest_log_axis
from app_pages.widgets import PRECISIONS, SOURCES

TITLE = "Cost explorer"
CATALOGS = ["hardware", "networks", "models", "accuracy", "prices"]


def _estimate_row(model: str, hw: str, prec: str, batch: int, training: bool) -> dict:
    try:
        e = estimate_of(model, hw, prec, batch, training)
    except (planner.PlannerError, ValueError, KeyError) as ex:
        return {"hardware": hw, "precision": prec, "note": str(ex)}
    return {"hardware": hw, "precision": prec, "latency_ms": e.latency_ms, "throughput_per_s": e.throughput_per_s,
            "memory_gb": e.memory_gb, "fits": getattr(e, "fits", None), "energy_j": e.energy_j, "source": e.source,
            "accuracy": getattr(e, "accuracy", None), "accuracy_metric": getattr(e, "accuracy_metric", None), "note": ""}


def render() -> None:
    st.header(TITLE)
    st.caption("What a model costs on a piece of hardware (`planner.estimate`): predicted from kernel profiles "
               "carried to catalog hardware by its peak FLOPS and memory bandwidth, calibrated against published "
               "results. Every figure says how it was obtained: "
               + "; ".join(f"**{k}**: {v}" for k, v in SOURCES.items()) + ".")
    catalog = planner.catalog
    models, hws = catalog.model_ids(), catalog.hardware_ids()
    c1, c2, c3, c4, c5 = st.columns([2, 2, 1, 1, 1])
    model = c1.selectbox("Model", models, index=models.index("resnet-50") if "resnet-50" in models else 0,
                         key="ce_model")
    hw = c2.selectbox("Hardware", hws, index=hws.index("l4") if "l4" in hws else 0, key="ce_hw")
    runs = list(catalog.hardware(hw).precisions) or list(PRECISIONS)
    prec = c3.selectbox("Precision", runs, index=runs.index("fp16") if "fp16" in runs else 0, key="ce_prec")
    batch = int(c4.number_input("Batch", min_value=1, max_value=4096, value=1, step=1, key="ce_batch"))
    training = c5.toggle("Training step", key="ce_training")
    _one_estimate(model, hw, prec, batch, training)
    st.subheader(f"{model} on every hardware")
    precs = st.multiselect("Precisions", list(PRECISIONS), default=[prec], key="ce_precs")
    df = pd.DataFrame([_estimate_row(model, h, pr, batch, training) for h in hws for pr in precs
                       if pr in (catalog.hardware(h).precisions or PRECISIONS)])
    if not df.empty:
        hw_table = catalog.table("hardware").set_index("id")
        for col in ("usd_per_hour", "price_usd", "tier"):
            df[col] = df["hardware"].map(hw_table[col])
        df["hardware_source"] = df["hardware"].map(hw_table["source"])
        fig = latency_by_hardware(df, f"{model}, batch {batch}: latency by hardware, coloured by source")
        if fig is not None:
            st.plotly_chart(fig, key="ce_fig")
        st.dataframe(df, hide_index=True, column_config={
            "usd_per_hour": st.column_config.NumberColumn("USD / h (cloud)", format="$%.2f"),
            "price_usd": st.column_config.NumberColumn("price (edge)", format="$%,.0f")})
    st.subheader("The catalog")
    st.caption("Every row carries its `source`; `basis` names each value that is derived or assumed rather than "
               "copied.")
    for tab, kind in zip(st.tabs(CATALOGS), CATALOGS):
        with tab:
            st.dataframe(catalog.table(kind), hide_index=True)


def _one_estimate(model: str, hw: str, prec: str, batch: int, training: bool) -> None:
    row = _estimate_row(model, hw, prec, batch, training)
    with st.container(border=True):
        if row.get("note"):
            st.error(f"No estimate: {row['note']}")
            return
        m = st.columns(4)
        m[0].metric("Latency", f"{row['latency_ms']:.3g} ms", border=True, help="One batch.")
        m[1].metric("Throughput", f"{row['throughput_per_s']:,.4g} /s", border=True, help="Samples per second.")
        fits = row["fits"]
        m[2].metric("Memory", f"{row['memory_gb']:.3g} GB", None if fits is None else ("fits" if fits else "does not fit"),
                    delta_color="normal" if fits else "inverse", border=True,
                    help=f"Against the {planner.catalog.hardware(hw).mem_gb:g} GB of {hw}.")
        m[3].metric("Energy", f"{row['energy_j']:.3g} J", border=True, help="One batch.")
        st.markdown(f"Source: **:blue-badge[{row['source']}]** {SOURCES.get(row['source'], '')}.")
        if row.get("accuracy") is not None:  # the catalog's task metric at this precision (data/accuracy.csv)
            st.caption(f"Accuracy at {prec}: {row['accuracy']:.1%} {row['accuracy_metric']} (the catalog's figure; "
                       "speech as word accuracy, 1 - WER).")
        detail = getattr(estimate_of(model, hw, prec, batch, training), "detail", None) or {}
        if detail:
            st.caption("How the latency is made up: " + ", ".join(
                f"{k.removesuffix('_ms').removesuffix('_gb').replace('_', ' ')} "
                f"{v:.3g} {'ms' if k.endswith('_ms') else 'GB' if k.endswith('_gb') else ''}".rstrip()
                for k, v in detail.items() if isinstance(v, (int, float))) + ".")


def latency_by_hardware(df: pd.DataFrame, title: str) -> go.Figure | None:
    """Latency per hardware and precision, a colour per estimate source, on a log axis labelled in
    whole milliseconds that frames every bar. None when no hardware has an estimate."""
    ok = df[df["latency_ms"].notna()] if "latency_ms" in df else df.iloc[0:0]
    if ok.empty:
        return None
    fig = go.Figure()
    for src, g in ok.groupby("source", sort=False):
        fig.add_trace(go.Bar(x=g["hardware"] + " " + g["precision"], y=g["latency_ms"], name=f"source: {src}",
                             hovertemplate="%{x}: %{y:,.3g} ms<extra></extra>"))
    fig.update_layout(title=title, yaxis_title="latency per batch (ms)", height=400)
    return honest_log_axis(fig, "y")
