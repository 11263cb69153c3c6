"""The Scenario page: pick an example or upload one, edit it with widgets or as YAML, and see at
once whether it validates and what the plan makes of it."""
from __future__ import annotations

import tempfile

import streamlit as st
import yaml

import planner
from app_pages.cache import plan_of, scenario_of
from app_pages.state import (ATTACHMENT_TYPES, DEFAULT_EXAMPLE, MAX_ATTACHMENT_BYTES, MAX_FILE_BYTES,
                             dump, edited, examples, field_name, key_of, load_example, load_upload,
                             replace_state, scenario_name, state)
from app_pages.widgets import PRECISIONS, PRICING_MODELS, PRIVACY, Editor, catalog_default

TITLE = "Scenario"
#: Longest question shown in the example picker before it is cut with an ellipsis.
QUESTION_CHARS = 90


def render() -> None:
    st.header(TITLE)
    s = state()
    with st.container(border=True):
        src = st.radio("Start from", ["An example", "An upload"], horizontal=True, key="source")
        if src == "An example":
            _example_picker(s)
        else:
            _upload_form()
    s = state()
    key = key_of(s)
    sc, err = scenario_of(key)
    st.subheader(f"{scenario_name(s)}  ·  {s['label']}")
    if err is not None:
        st.error(f"Not valid: {err}", icon=":material/error:")
    else:
        st.success(f"Valid: {len(sc.sites)} sites, {len(sc.links)} links, {len(sc.workloads)} workloads.",
                   icon=":material/check_circle:")
        p = plan_of(*key)
        shown = list(p.placement.items())[:8]  # a fleet places thousands: the Plan page summarises them
        where = "; ".join(f"**{n}** → {c.hardware}@{c.site} {c.precision}" for n, c in shown)
        if len(p.placement) > len(shown):
            where += f"; … and {len(p.placement) - len(shown)} more"
        verdict = "feasible" if p.feasible else "**not feasible**"
        st.markdown(f"Plan: {verdict}, ${p.monthly_cost_usd:,.0f} per month. {where or 'Nothing placed.'} "
                    "(details on the Plan page)" if p.placement else f"Plan: {verdict}: {'; '.join(p.conflicts)}")
    _edit_widgets(s["raw"], err)
    _yaml_editor(s)


def _example_picker(s: dict) -> None:
    ex = examples()
    names = list(ex)
    current = s["file"] if s["label"].startswith("example") and s["file"] in names else DEFAULT_EXAMPLE
    pick = st.selectbox("Example", names, index=names.index(current), key="example", on_change=_picked,
                        format_func=lambda n: f"{n}: {ex[n][:QUESTION_CHARS]}…" if len(ex[n]) > QUESTION_CHARS
                        else f"{n}: {ex[n]}")
    if pick != s["file"] or not s["label"].startswith("example"):
        if st.button(f"Load {pick}" + (" (your edits are lost: download them first)" if edited(s) else ""),
                     type="primary"):
            replace_state(load_example(pick))
            st.rerun()
    with st.expander("The question this example asks"):
        st.write(ex.get(pick, ""))


def _picked() -> None:
    """Load the example picked, unless that would lose edits (then a button asks)."""
    pick = st.session_state.get("example")
    if pick is not None and not edited(state()):
        replace_state(load_example(pick))


def _upload_form() -> None:
    st.caption(f"A scenario YAML (at most {MAX_FILE_BYTES // 1_000_000} MB) and the files it names: a trace CSV, an "
               f".onnx model (at most {MAX_ATTACHMENT_BYTES // 1_000_000} MB each). It is read as data, and may "
               "name only files uploaded with it, by file name.")
    up = st.file_uploader("Scenario YAML", type=["yaml", "yml"], key="upload_yaml")
    att = st.file_uploader("Files it names", type=list(ATTACHMENT_TYPES), accept_multiple_files=True,
                           key="upload_files")
    if up is not None and st.button("Load the upload", type="primary"):
        folder = st.session_state.setdefault("upload_dir", tempfile.mkdtemp(prefix="planner-upload-"))
        try:
            # Refuse by the size the browser reports before reading a byte of it.
            if up.size > MAX_FILE_BYTES:
                raise planner.ScenarioError(up.name, "", f"file is larger than {MAX_FILE_BYTES // 1_000_000} MB")
            too_big = [f.name for f in att or [] if f.size > MAX_ATTACHMENT_BYTES]
            if too_big:
                raise planner.ScenarioError(too_big[0], "", f"file is larger than {MAX_ATTACHMENT_BYTES // 1_000_000} MB")
            new = load_upload(up.name, up.getvalue(), {f.name: f.getvalue() for f in att or []}, folder)
        except planner.ScenarioError as e:
            st.error(f"Cannot load it: {e}", icon=":material/error:")
            return
        replace_state(new)
        st.rerun()


def _edit_widgets(raw: dict, err: planner.ScenarioError | None) -> None:
    st.caption("Edit the scenario here; every change re-plans. Leave a number empty for its default (for links, "
               "the catalog's figure for the network).")
    ed = Editor(raw, err)
    tab_w, tab_l, tab_s, tab_g = st.tabs(["Workloads", "Links", "Sites", "Objective, prices, horizon"])
    with tab_w:
        for name, w in (raw.get("workloads") or {}).items():
            if isinstance(w, dict):
                _workload_widgets(ed, name, w)
    with tab_l:
        _link_widgets(ed, raw)
    with tab_s:
        _site_widgets(ed, raw)
    with tab_g:
        c1, c2, c3 = st.columns(3)
        with c1:
            ed.choose("objective", ("objective",), ["cost", "latency", "energy", "carbon"], default="cost")
            ed.num("budget (USD / month)", ("budget_usd_per_month",), step=1000.0, help="Empty: no budget.")
            ed.num("carbon price (USD / tCO2e)", ("carbon_usd_per_t",), step=10.0, default=0.0,
                   help="Added to cost under the cost objective: emissions priced at this rate.")
        with c2:
            ed.num("electricity (USD / kWh)", ("prices", "electricity_usd_per_kwh"), step=0.01,
                   default=catalog_default(lambda: planner.catalog.price("electricity_usd_per_kwh")))
            ed.num("edge amortisation (months)", ("prices", "amortisation_months"),
                   default=catalog_default(lambda: planner.catalog.price("amortisation_months")))
        with c3:
            ed.num("simulated horizon (s)", ("horizon_s",), step=30.0)
            ed.num("seed", ("seed",), integer=True, default=0)
        ed.rest("prices")


def _link_widgets(ed: Editor, raw: dict) -> None:
    for i, link in enumerate(raw.get("links") or []):
        if not isinstance(link, dict):
            continue
        net = link.get("network", "?")
        ends = [str(e) for e in link.get("between") or []] + ["?", "?"]
        st.markdown(f"**{ends[0]} ↔ {ends[1]}** · `{net}`")
        c1, c2, c3 = st.columns(3)
        with c1:
            ed.num(f"uplink (Mbit/s, {ends[0]} → {ends[1]})", ("links", i, "uplink_mbps"),
                   default=catalog_default(lambda: planner.catalog.network(net).uplink_mbps))
        with c2:
            ed.num("downlink (Mbit/s)", ("links", i, "downlink_mbps"),
                   default=catalog_default(lambda: planner.catalog.network(net).downlink_mbps))
        with c3:
            ed.num("RTT (ms)", ("links", i, "rtt_ms"), default=catalog_default(lambda: planner.catalog.network(net).rtt_ms))
        ed.rest(f"links[{i}]")
    if not raw.get("links"):
        st.info("No links: every workload runs where its data is.")
    ed.rest("links")


def _site_widgets(ed: Editor, raw: dict) -> None:
    for site, spec in (raw.get("sites") or {}).items():
        if not isinstance(spec, dict):
            continue
        region = f" · region {spec['region']}" if spec.get("region") else ""
        st.markdown(f"**{site}** · {spec.get('kind', '?')}{region}")
        groups = [(what, j, g) for what in ("devices", "pools")
                  for j, g in enumerate(spec.get(what) or []) if isinstance(g, dict)]
        for col, (what, j, g) in zip(st.columns(max(len(groups), 1)), groups):
            with col:
                if what == "devices":
                    ed.num(f"{g.get('hardware')}: devices", ("sites", site, what, j, "count"), integer=True, default=1)
                else:
                    ed.num(f"{g.get('hardware')}: max instances", ("sites", site, what, j, "max_instances"),
                           integer=True, default=8)
                    ed.choose_many(f"{g.get('hardware')}: pricing", ("sites", site, what, j, "pricing"), PRICING_MODELS,
                                   placeholder="on_demand", help="How the instances may be bought; the planner "
                                   "chooses among these (a reserved base, on demand or spot above it).")
        ed.rest(f"sites.{site}")


def _workload_widgets(ed: Editor, name: str, w: dict) -> None:
    kind = w.get("kind", "?")
    base = ("workloads", name)
    model = w.get("model", "?")
    family = model.get("family") if isinstance(model, dict) else None
    shown = f"family {family}" if family else model
    with st.expander(f"**{name}** · {kind} · {shown} from {w.get('source', '?')}", expanded=True):
        c1, c2, c3, c4 = st.columns(4)
        arrival = w.get("arrival") if isinstance(w.get("arrival"), dict) else {}
        slo = w.get("slo") if isinstance(w.get("slo"), dict) else {}
        with c1:
            if kind == "inference" and arrival.get("process") == "bursty":
                ed.num("burst rate (requests/s)", (*base, "arrival", "rate_high_per_s"))
                ed.num("quiet rate (requests/s)", (*base, "arrival", "rate_low_per_s"))
            elif kind == "inference" and arrival.get("process") == "trace":
                st.text_input("arrivals", value=f"trace {arrival.get('file')}", disabled=True,
                              key=f"trace:{name}:{arrival.get('file')}")
                ed.here((*base, "arrival", "file"))
            elif kind == "inference":
                ed.num(f"rate (requests/s, {arrival.get('process')})", (*base, "arrival", "rate_per_s"))
            elif kind == "training":
                ed.num("dataset (GB)", (*base, "dataset_gb"))
                ed.num("epochs", (*base, "epochs"))
            else:
                ed.num("rounds", (*base, "rounds"), integer=True)
        with c2:
            if kind == "inference" and ("ttft_ms" in slo or "tpot_ms" in slo):  # a language model's objectives
                ed.num("SLO TTFT (ms)", (*base, "slo", "ttft_ms"), step=50.0, help="Time to the first token.")
                ed.num("SLO TPOT (ms per token)", (*base, "slo", "tpot_ms"), step=5.0,
                       help="Time per output token after the first.")
                if "p99_ms" in slo:
                    ed.num("SLO p99 (ms, whole answer)", (*base, "slo", "p99_ms"), step=100.0)
            elif kind == "inference":
                ed.num("SLO p99 (ms)", (*base, "slo", "p99_ms"), step=10.0)
            if kind == "inference":
                ed.num("SLO availability (0-1)", (*base, "slo", "availability"), step=0.0005,
                       help="The share of requests to answer within the latency SLO over a long run, outages "
                            "included (0.999 = three nines). Empty: availability is reported, not required.")
            else:
                ed.num("deadline (h)", (*base, "deadline_h"))
                ed.num("every (h)", (*base, "every_h"))
        with c3:
            ed.choose("privacy", (*base, "privacy"), PRIVACY, default="site" if kind == "federated" else "any",
                      help="How far the raw input may travel: any site, sites in its region, or its own site only.")
            if kind == "inference":
                # a family's floor lives in `model: {family:, min_accuracy:}`, a fixed model's on the workload
                floor = (*base, "model", "min_accuracy") if family else (*base, "min_accuracy")
                ed.num("accuracy floor (fraction)", floor, step=0.01,
                       help="The least task accuracy a placement must keep, in the catalog's metric as a fraction "
                            "(0.76 = 76% top-1; mAP50-95 for detectors; word accuracy 1 - WER for speech; MMLU for "
                            "language models). Precisions (and, for a family, variants) below it are ruled out. "
                            "Empty: no floor.")
        with c4:
            ed.choose_many("precisions allowed", (*base, "precisions"), list(PRECISIONS))
        ed.rest(field_name(base))


def _yaml_editor(s: dict) -> None:
    with st.expander("The scenario as YAML (edit any field)"):
        current = dump(s["raw"])
        text = st.text_area("YAML", value=current, height=360, key=f"yaml:{hash(current)}",
                            label_visibility="collapsed")
        if st.button("Apply the YAML"):
            try:
                raw = yaml.safe_load(text)
            except yaml.YAMLError:
                raw = None
            try:
                if isinstance(raw, dict):
                    planner.check_alias_expansion(raw, s["file"])  # the planner's own bound
                else:
                    planner.parse_scenario(text, file=s["file"], allow_paths=False)
                    st.error("Cannot apply it: expected a mapping of fields at the top level.")
                    return
            except planner.ScenarioError as e:
                st.error(f"Cannot apply it: {e}")
                return
            replace_state({**s, "raw": raw})
            st.rerun()
