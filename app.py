"""The hybrid placement planner in the browser: ``streamlit run app.py``.

Pages: the scenario (pick an example or upload one, edit it with widgets), the plan, the
simulation, comparison, the Pareto front and sweeps, and the cost explorer. Every number comes
from the public API (`planner.plan`, `evaluate`, `simulate`, `pareto`, `estimate`, the catalog);
this file holds no modelling logic, only choosing what to ask, caching, and showing the answer
with where it came from.

An uploaded scenario is data, never code: it is safe-loaded, size-limited, and may name only
files uploaded with it (a trace CSV, an `.onnx` model), never a path on the server.
"""
from __future__ import annotations

import copy
import io
import json
import re
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
import yaml

import planner
from planner import catalog, report
from planner.errors import PlannerError, ScenarioError
from planner.scenario import MAX_FILE_BYTES, PRECISIONS, referenced_files

ROOT = Path(__file__).resolve().parent
SCENARIOS = ROOT / "scenarios"
DEFAULT_EXAMPLE = "smart_factory.yaml"

#: Largest file uploaded beside a scenario (a trace CSV or an .onnx model).
MAX_ATTACHMENT_BYTES = 100_000_000
ATTACHMENT_TYPES = ("csv", "onnx")
#: Most YAML nodes an uploaded scenario may expand to (anchors and aliases included).
MAX_YAML_NODES = 200_000

PAGES = ["Scenario", "Plan", "Simulation", "Comparison", "Pareto & sweeps", "Cost explorer"]
PRIVACY = ["any", "region", "site"]
SOURCES = {
    "measured": "the model itself was run and timed on this machine",
    "interpolated": "predicted from a kernel profile of the machine, within the profiled range",
    "extrapolated": "carried to this hardware by a roofline calibrated on published MLPerf results "
                    "(or past a profile's range)",
    "assumed": "this hardware has no calibration point: it shares its class's calibration, untested",
}
PLAN_COLUMNS = ["workload", "kind", "site", "hardware", "precision", "split", "predicted_p99_ms", "slo_p99_ms",
                "source", "monthly_cost_usd", "utilization", "ok", "violations", "binding", "next_best",
                "next_best_delta_usd", "reason"]
NUMBER_FORMAT = {
    "predicted_p99_ms": st.column_config.NumberColumn("predicted p99 (ms)", format="%.1f"),
    "slo_p99_ms": st.column_config.NumberColumn("SLO p99 (ms)", format="%g"),
    "monthly_cost_usd": st.column_config.NumberColumn("USD / month", format="$%,.0f"),
    "next_best_delta_usd": st.column_config.NumberColumn("next best +USD / month", format="$%,.0f"),
    "utilization": st.column_config.ProgressColumn("utilisation", min_value=0.0, max_value=1.0, format="%.2f"),
}


# =============================================================================== scenario state
# The edited scenario lives in st.session_state["scn"] as plain data:
#   raw          the scenario as a dict (what the widgets edit)
#   file         the name errors report (the example's or the upload's file name)
#   attachments  name the scenario uses -> local path, the only files it may name
#   original     the text it was loaded from (downloaded as is while unedited: it keeps comments)
#   loaded       the scenario as loaded, dumped (to tell whether it has been edited)
#   label        where it came from, for people
def _field(path: Iterable[Any]) -> str:
    """A path as `ScenarioError` names fields: ``links[0].rtt_ms``, ``workloads.x.slo.p99_ms``."""
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _get(d: Any, path: tuple) -> Any:
    for p in path:
        try:
            d = d[p]
        except (KeyError, IndexError, TypeError):
            return None
    return d


def _set(d: dict, path: tuple, value: Any) -> None:
    """Set `path` in the nested dict `d`, creating mappings on the way; None removes the field."""
    for p in path[:-1]:
        if isinstance(d, dict) and not isinstance(d.get(p), (dict, list)):
            d[p] = {}
        d = d[p]
    if value is None:
        if isinstance(d, dict):
            d.pop(path[-1], None)
    else:
        d[path[-1]] = value


def _dump(raw: dict) -> str:
    return yaml.safe_dump(raw, sort_keys=False, allow_unicode=True, width=110)


def _file_refs(raw: Any) -> list[str]:
    """The files a scenario names: trace CSVs, .onnx models and fleet inventories."""
    return referenced_files(raw)


def _count_nodes(obj: Any, budget: int) -> int:
    """Nodes in a parsed YAML document, stopping past `budget` (aliases can make a small file huge)."""
    stack, n = [obj], 0
    while stack:
        x = stack.pop()
        n += 1
        if n > budget:
            break
        if isinstance(x, dict):
            stack.extend(x.keys())
            stack.extend(x.values())
        elif isinstance(x, list):
            stack.extend(x)
    return n


def examples() -> dict[str, str]:
    """Example file name -> its question (the opening comment block)."""
    out = {}
    for p in sorted(SCENARIOS.glob("*.yaml")):
        lines = []
        for line in p.read_text(encoding="utf-8").splitlines():
            if not line.startswith("#"):
                break
            lines.append(line.lstrip("#").strip())
        text = " ".join(lines)
        out[p.name] = re.sub(r"^Question:\s*", "", text.split("Expected decision:")[0]).strip()
    return out


def load_example(name: str) -> dict:
    """The state for an example scenario: its files are the ones beside it under scenarios/."""
    path = SCENARIOS / name
    if path.parent != SCENARIOS or not path.is_file():
        raise PlannerError(f"no example '{name}'")
    text = path.read_text(encoding="utf-8")
    raw = yaml.safe_load(text)
    attachments = {}
    for ref in _file_refs(raw):
        f = (SCENARIOS / ref).resolve()
        if f.is_relative_to(SCENARIOS.resolve()) and f.is_file():
            attachments[ref] = str(f)
    return {"raw": raw, "file": name, "attachments": attachments, "original": text, "loaded": _dump(raw),
            "label": f"example {name}"}


def _error_of(text: str, name: str, attachments: dict[str, Path]) -> ScenarioError | None:
    try:
        planner.parse_scenario(text, file=name, allow_paths=False, attachments=attachments)
    except ScenarioError as e:
        return e
    return None


def load_upload(name: str, data: bytes, files: dict[str, bytes], folder: str | Path) -> dict:
    """The state for an uploaded scenario, or `ScenarioError` when it cannot be read at all.

    The YAML is safe-loaded (no tags that build objects), limited in size and expansion; the
    scenario may name only the uploaded `files` (by file name), which are written into `folder`.
    A scenario that reads but does not validate is returned all the same, to be fixed in place.
    """
    name = Path(name).name or "upload.yaml"
    if len(data) > MAX_FILE_BYTES:
        raise ScenarioError(name, "", f"file is larger than {MAX_FILE_BYTES // 1_000_000} MB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ScenarioError(name, "", "not UTF-8 text") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError:
        raw = None
    if not isinstance(raw, dict):  # let the planner say what is wrong: syntax with line and column
        planner.parse_scenario(text, file=name, allow_paths=False)
        raise ScenarioError(name, "", "expected a mapping of fields at the top level")
    if _count_nodes(raw, MAX_YAML_NODES) > MAX_YAML_NODES:
        raise ScenarioError(name, "", f"the document expands to more than {MAX_YAML_NODES:,} values (aliases?)")
    # The text must mean what its safe-loaded dict means (no duplicate keys and the like): the app
    # edits the dict, so a document whose errors the dict would hide is refused with the planner's reason.
    stand_ins = {r: Path("-") for r in _file_refs(raw)}
    text_err, dict_err = (_error_of(t, name, stand_ins) for t in (text, _dump(raw)))
    if text_err is not None and str(text_err) != str(dict_err):
        raise text_err
    saved: dict[str, Path] = {}
    folder = Path(folder)
    for fname, content in files.items():
        base = Path(fname).name
        if not re.fullmatch(r"[\w][\w.-]*", base) or base.rsplit(".", 1)[-1].lower() not in ATTACHMENT_TYPES:
            raise ScenarioError(base, "", f"attachments are {' or '.join(ATTACHMENT_TYPES)} files with plain names")
        if len(content) > MAX_ATTACHMENT_BYTES:
            raise ScenarioError(base, "", f"file is larger than {MAX_ATTACHMENT_BYTES // 1_000_000} MB")
        target = folder / base
        target.write_bytes(content)
        saved[base] = target
    # A scenario names its files as it likes (`traces/x.csv`); an upload matches them by file name.
    attachments = {ref: str(saved[Path(ref).name]) for ref in _file_refs(raw) if Path(ref).name in saved}
    return {"raw": raw, "file": name, "attachments": attachments, "original": text, "loaded": _dump(raw),
            "label": f"upload {name}"}


def state() -> dict:
    if "scn" not in st.session_state:
        st.session_state["scn"] = load_example(DEFAULT_EXAMPLE)
    return st.session_state["scn"]


def replace_state(new: dict) -> None:
    """Switch scenario: forget widget values and results that belonged to the old one."""
    st.session_state["scn"] = new
    for k in [k for k in st.session_state if str(k).startswith(("edit:", "sweep:", "sim_seed"))]:
        del st.session_state[k]


def key_of(s: dict) -> tuple:
    """What identifies a scenario for the caches: its text, file name and attached files."""
    return _dump(s["raw"]), s["file"], tuple(sorted(s["attachments"].items()))


# =============================================================================== cached API calls
@st.cache_resource(max_entries=64, show_spinner=False)
def _parse(text: str, file: str, attachments: tuple) -> Any:
    return planner.parse_scenario(text, file=file, allow_paths=False, attachments={k: Path(v) for k, v in attachments})


def scenario_of(key: tuple) -> tuple[Any, ScenarioError | None]:
    """The validated Scenario for a key, or the error that names the field."""
    try:
        return _parse(*key), None
    except ScenarioError as e:
        return None, e


@st.cache_resource(max_entries=64, show_spinner="Planning…")
def plan_of(text: str, file: str, attachments: tuple) -> Any:
    return planner.plan(_parse(text, file, attachments))


@st.cache_resource(max_entries=16, show_spinner="Tracing the Pareto front (a plan per latency bound)…")
def pareto_of(text: str, file: str, attachments: tuple) -> pd.DataFrame:
    return planner.pareto(_parse(text, file, attachments))


@st.cache_resource(max_entries=64, show_spinner=False)
def evaluate_of(text: str, file: str, attachments: tuple, placement: str) -> Any:
    return planner.evaluate(_parse(text, file, attachments), json.loads(placement))


@st.cache_resource(max_entries=512, show_spinner=False)
def estimate_of(model: str, hardware: str, precision: str, batch: int, training: bool) -> Any:
    return planner.estimate(model, hardware, precision=precision, batch=batch, training=training)


@st.cache_resource(show_spinner=False)
def _sim_store() -> dict:
    """Finished simulations by (scenario key, seed), shared by sessions; the newest 16 kept."""
    return {}


def simulate_with_progress(key: tuple, seed: int) -> Any:
    """The simulation of the plan of `key` with `seed`: from the store, or run now with progress."""
    store = _sim_store()
    if (key, seed) in store:
        return store[(key, seed)]
    sc, p = _parse(*key), plan_of(*key)
    bar = st.progress(0.0, text="Simulating… 0%")
    last = [-1.0]

    def progress(fraction: float) -> None:
        f = min(max(float(fraction), 0.0), 1.0)
        if f - last[0] >= 0.01 or f >= 1.0:
            last[0] = f
            bar.progress(f, text=f"Simulating… {f:.0%} of {sc.horizon_s:g} s simulated")

    result = planner.simulate(sc, p, seed=seed, progress=progress)
    bar.empty()
    store[(key, seed)] = result
    while len(store) > 16:
        store.pop(next(iter(store)))
    return result


def on_demand(slot: str, key: Any, label: str, compute: Callable[[], Any], *, help: str | None = None) -> Any:
    """A button that computes something slow once per key; the result stays for later visits."""
    done = st.session_state.setdefault("results", {})
    clicked = st.button(label, key=f"btn:{slot}", type="primary", help=help)
    if clicked or (slot, key) in done:
        if (slot, key) not in done:
            done[(slot, key)] = compute()
            while len(done) > 40:  # a session keeps its latest results only
                done.pop(next(iter(done)))
        return done[(slot, key)]
    return None


# =============================================================================== widgets
def _edited(path: tuple, wkey: str) -> None:
    _set(state()["raw"], path, st.session_state[wkey])


def _edited_list(path: tuple, wkey: str) -> None:
    _set(state()["raw"], path, list(st.session_state[wkey]) or None)


def show_error(err: ScenarioError) -> None:
    st.error(f"**{err.field}**: {err.reason}" + (f"; {err.hint}" if err.hint else ""), icon=":material/warning:")


class Editor:
    """Widgets bound to fields of the edited scenario. Each shows the validation error about its
    own field beneath it; `rest(prefix)` shows one about a field under `prefix` that has no widget."""

    def __init__(self, raw: dict, err: ScenarioError | None):
        self.raw, self.err, self.fields = raw, err, set()

    def here(self, path: tuple) -> None:
        field = _field(path)
        self.fields.add(field)
        if self.err is not None and self.err.field == field:
            show_error(self.err)

    def rest(self, prefix: str) -> None:
        f = self.err.field if self.err is not None else ""
        if f and f not in self.fields and (f == prefix or f.startswith((prefix + ".", prefix + "["))):
            show_error(self.err)

    def num(self, label: str, path: tuple, *, default: float | None = None, integer: bool = False,
            step: float | None = None, help: str | None = None) -> None:
        """A number input; left empty, the field is removed (its default applies)."""
        cur = _get(self.raw, path)
        shown = cur if cur is not None else default
        wkey = f"edit:{_field(path)}"
        if shown is not None and (isinstance(shown, bool) or not isinstance(shown, (int, float))):
            st.text_input(label, value=str(shown), disabled=True, key=f"bad:{_field(path)}:{shown}",
                          help="Not a number: edit it in the YAML below.")
        elif integer:
            st.number_input(label, value=None if shown is None else int(shown), step=int(step or 1), key=wkey,
                            on_change=_edited, args=(path, wkey), help=help, placeholder="default")
        else:
            st.number_input(label, value=None if shown is None else float(shown), step=float(step or 1.0),
                            format="%g", key=wkey, on_change=_edited, args=(path, wkey), help=help,
                            placeholder="default")
        self.here(path)

    def choose(self, label: str, path: tuple, options: list[str], *, default: str, help: str | None = None) -> None:
        cur = _get(self.raw, path) or default
        opts = options if cur in options else [*options, str(cur)]
        wkey = f"edit:{_field(path)}"
        st.selectbox(label, opts, index=opts.index(str(cur)), key=wkey, on_change=_edited, args=(path, wkey),
                     help=help)
        self.here(path)

    def choose_many(self, label: str, path: tuple, options: list[str], *, help: str | None = None) -> None:
        cur = _get(self.raw, path)
        cur = [c for c in cur if isinstance(c, str)] if isinstance(cur, list) else []
        wkey = f"edit:{_field(path)}"
        st.multiselect(label, list(dict.fromkeys([*options, *cur])), default=cur, key=wkey, on_change=_edited_list,
                       args=(path, wkey), help=help, placeholder="all the hardware runs")
        self.here(path)


def _catalog_default(fn: Callable[[], float]) -> float | None:
    try:
        return fn()
    except (PlannerError, KeyError, TypeError):
        return None


# =============================================================================== pages
def page_scenario() -> None:
    st.header("Scenario")
    s = state()
    with st.container(border=True):
        src = st.radio("Start from", ["An example", "An upload"], horizontal=True, key="source")
        if src == "An example":
            ex = examples()
            names = list(ex)
            current = s["file"] if s["label"].startswith("example") and s["file"] in names else DEFAULT_EXAMPLE
            pick = st.selectbox("Example", names, index=names.index(current), key="example", on_change=_picked,
                                format_func=lambda n: f"{n}: {ex[n][:90]}…" if len(ex[n]) > 90 else f"{n}: {ex[n]}")
            if pick != s["file"] or not s["label"].startswith("example"):
                edited = _dump(s["raw"]) != s["loaded"]
                if st.button(f"Load {pick}" + (" (your edits are lost: download them first)" if edited else ""),
                             type="primary"):
                    replace_state(load_example(pick))
                    st.rerun()
            with st.expander("The question this example asks"):
                st.write(ex.get(pick, ""))
        else:
            _upload_form()
    s = state()
    key = key_of(s)
    sc, err = scenario_of(key)
    st.subheader(f"{s['raw'].get('name', '(unnamed)') if isinstance(s['raw'], dict) else '?'}  ·  {s['label']}")
    if err is not None:
        st.error(f"Not valid: {err}", icon=":material/error:")
    else:
        st.success(f"Valid: {len(sc.sites)} sites, {len(sc.links)} links, {len(sc.workloads)} workloads.",
                   icon=":material/check_circle:")
        p = plan_of(*key)
        where = "; ".join(f"**{n}** → {c.hardware}@{c.site} {c.precision}" for n, c in p.placement.items())
        verdict = "feasible" if p.feasible else "**not feasible**"
        st.markdown(f"Plan: {verdict}, ${p.monthly_cost_usd:,.0f} per month. {where or 'Nothing placed.'} "
                    "(details on the Plan page)" if p.placement else f"Plan: {verdict}: {'; '.join(p.conflicts)}")
    _edit_widgets(s["raw"], err)
    _yaml_editor(s)


def _picked() -> None:
    """Load the example picked, unless that would lose edits (then a button asks)."""
    s = state()
    if _dump(s["raw"]) == s["loaded"]:
        replace_state(load_example(st.session_state["example"]))


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
            if up.size > MAX_FILE_BYTES:
                raise ScenarioError(up.name, "", f"file is larger than {MAX_FILE_BYTES // 1_000_000} MB")
            too_big = [f.name for f in att or [] if f.size > MAX_ATTACHMENT_BYTES]
            if too_big:
                raise ScenarioError(too_big[0], "", f"file is larger than {MAX_ATTACHMENT_BYTES // 1_000_000} MB")
            new = load_upload(up.name, up.getvalue(), {f.name: f.getvalue() for f in att or []}, folder)
        except ScenarioError as e:
            st.error(f"Cannot load it: {e}", icon=":material/error:")
            return
        replace_state(new)
        st.rerun()


def _edit_widgets(raw: dict, err: ScenarioError | None) -> None:
    st.caption("Edit the scenario here; every change re-plans. Leave a number empty for its default (for links, "
               "the catalog's figure for the network).")
    ed = Editor(raw, err)
    tab_w, tab_l, tab_s, tab_g = st.tabs(["Workloads", "Links", "Sites", "Objective, prices, horizon"])
    with tab_w:
        for name, w in (raw.get("workloads") or {}).items():
            if isinstance(w, dict):
                _workload_widgets(ed, name, w)
    with tab_l:
        for i, link in enumerate(raw.get("links") or []):
            if not isinstance(link, dict):
                continue
            net = link.get("network", "?")
            ends = [str(e) for e in link.get("between") or []] + ["?", "?"]
            st.markdown(f"**{ends[0]} ↔ {ends[1]}** · `{net}`")
            c1, c2, c3 = st.columns(3)
            with c1:
                ed.num(f"uplink (Mbit/s, {ends[0]} → {ends[1]})", ("links", i, "uplink_mbps"),
                       default=_catalog_default(lambda: catalog.network(net).uplink_mbps))
            with c2:
                ed.num("downlink (Mbit/s)", ("links", i, "downlink_mbps"),
                       default=_catalog_default(lambda: catalog.network(net).downlink_mbps))
            with c3:
                ed.num("RTT (ms)", ("links", i, "rtt_ms"),
                       default=_catalog_default(lambda: catalog.network(net).rtt_ms))
            ed.rest(f"links[{i}]")
        if not raw.get("links"):
            st.info("No links: every workload runs where its data is.")
        ed.rest("links")
    with tab_s:
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
                        ed.num(f"{g.get('hardware')}: devices", ("sites", site, what, j, "count"), integer=True,
                               default=1)
                    else:
                        ed.num(f"{g.get('hardware')}: max instances", ("sites", site, what, j, "max_instances"),
                               integer=True, default=8)
            ed.rest(f"sites.{site}")
    with tab_g:
        c1, c2, c3 = st.columns(3)
        with c1:
            ed.choose("objective", ("objective",), ["cost", "latency", "energy"], default="cost")
            ed.num("budget (USD / month)", ("budget_usd_per_month",), step=1000.0, help="Empty: no budget.")
        with c2:
            ed.num("electricity (USD / kWh)", ("prices", "electricity_usd_per_kwh"), step=0.01,
                   default=_catalog_default(lambda: catalog.price("electricity_usd_per_kwh")))
            ed.num("edge amortisation (months)", ("prices", "amortisation_months"),
                   default=_catalog_default(lambda: catalog.price("amortisation_months")))
        with c3:
            ed.num("simulated horizon (s)", ("horizon_s",), step=30.0)
            ed.num("seed", ("seed",), integer=True, default=0)
        ed.rest("prices")


def _workload_widgets(ed: Editor, name: str, w: dict) -> None:
    kind = w.get("kind", "?")
    base = ("workloads", name)
    with st.expander(f"**{name}** · {kind} · {w.get('model', '?')} from {w.get('source', '?')}", expanded=True):
        c1, c2, c3, c4 = st.columns(4)
        arrival = w.get("arrival") if isinstance(w.get("arrival"), dict) else {}
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
            if kind == "inference":
                ed.num("SLO p99 (ms)", (*base, "slo", "p99_ms"), step=10.0)
            else:
                ed.num("deadline (h)", (*base, "deadline_h"))
                ed.num("every (h)", (*base, "every_h"))
        with c3:
            ed.choose("privacy", (*base, "privacy"), PRIVACY, default="site" if kind == "federated" else "any",
                      help="How far the raw input may travel: any site, sites in its region, or its own site only.")
        with c4:
            ed.choose_many("precisions allowed", (*base, "precisions"), list(PRECISIONS))
        ed.rest(_field(base))


def _yaml_editor(s: dict) -> None:
    with st.expander("The scenario as YAML (edit any field)"):
        current = _dump(s["raw"])
        text = st.text_area("YAML", value=current, height=360, key=f"yaml:{hash(current)}",
                            label_visibility="collapsed")
        if st.button("Apply the YAML"):
            try:
                raw = yaml.safe_load(text)
            except yaml.YAMLError:
                raw = None
            if not isinstance(raw, dict) or _count_nodes(raw, MAX_YAML_NODES) > MAX_YAML_NODES:
                try:
                    planner.parse_scenario(text, file=s["file"], allow_paths=False)
                    st.error("Cannot apply it: expected a mapping of fields at the top level.")
                except ScenarioError as e:
                    st.error(f"Cannot apply it: {e}")
                return
            replace_state({**s, "raw": raw})
            st.rerun()


def need_scenario() -> tuple[tuple, Any] | None:
    """The current scenario's key and Scenario, or None after saying why there is none."""
    key = key_of(state())
    sc, err = scenario_of(key)
    if err is not None:
        st.error(f"The scenario is not valid, so there is nothing to plan: {err}. Fix it on the Scenario page.",
                 icon=":material/error:")
        return None
    return key, sc


def _plan_table(p: Any) -> pd.DataFrame:
    t = p.table()
    return t[[c for c in PLAN_COLUMNS if c in t.columns]]


def _placement_json(p: Any) -> str:
    return json.dumps({"scenario": p.scenario.name, "feasible": p.feasible, "monthly_cost_usd": p.monthly_cost_usd,
                       "conflicts": p.conflicts, "placement": p.to_dict()}, indent=2)


def plan_verdict(p: Any) -> None:
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Feasible", "yes" if p.feasible else "no", border=True)
    c2.metric("Monthly cost", f"${p.monthly_cost_usd:,.0f}" if p.placement else "–", border=True)
    c3.metric("Workloads placed", f"{len(p.placement)} of {len(p.scenario.workloads)}", border=True)
    c4.metric(f"Solver ({p.solve_s:.2f} s)", p.status, border=True)
    for c in p.conflicts:
        st.error(f"Conflict: {c}", icon=":material/error:")
    t = p.table()
    for r in t[~t["ok"].astype(bool) & t["violations"].astype(bool)].itertuples():
        if p.placement:
            st.warning(f"**{r.workload}** breaks a constraint: {r.violations}", icon=":material/warning:")


def page_plan() -> None:
    st.header("Plan")
    got = need_scenario()
    if got is None:
        return
    key, sc = got
    p = plan_of(*key)
    st.caption("Analytical: the planner's queueing model (Erlang C with a variability correction, processor-shared "
               "links) over the cost model's estimates and the catalog's prices. `source` says how each latency "
               "estimate was obtained (measured | interpolated | extrapolated | assumed); the Simulation page checks "
               "the predicted p99 in a discrete-event run.")
    plan_verdict(p)
    t = _plan_table(p)
    st.subheader("Placement")
    shown = t.drop(columns=["reason"] + (["split"] if t["split"].isna().all() else []))
    st.dataframe(shown, hide_index=True, column_config=NUMBER_FORMAT)
    if p.placement:
        c1, c2 = st.columns([3, 2])
        with c1:
            st.plotly_chart(report.topology_figure(p), key="topology")
        with c2:
            st.plotly_chart(report.cost_figure(p), key="cost")
    st.subheader("Why")
    for r in t.itertuples():
        st.markdown(f"- **{r.workload}**: {r.reason or r.violations or '–'}")
    if p.placement:
        st.subheader("Shared resources")
        st.dataframe(p.resources(), hide_index=True,
                     column_config={"utilization": NUMBER_FORMAT["utilization"]})
    d1, d2, _ = st.columns([1, 1, 3])
    d1.download_button("Download the plan (CSV)", p.table().to_csv(index=False), file_name=f"{sc.name}-plan.csv",
                       mime="text/csv")
    d2.download_button("Download the placement (JSON)", _placement_json(p), file_name=f"{sc.name}-placement.json",
                       mime="application/json", help="Readable by `planner simulate FILE --placement`.")


def _results_zip(p: Any, r: Any) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("plan.csv", p.table().to_csv(index=False))
        z.writestr("placement.json", _placement_json(p))
        for name in ("summary", "segments", "utilisation", "failures", "costs", "energy", "compute", "links", "jobs"):
            z.writestr(f"{name}.csv", getattr(r, name)().to_csv(index=False))
        z.writestr("agreement.csv", report.agreement(p, r).to_csv(index=False))
    return buf.getvalue()


def page_simulation() -> None:
    st.header("Simulation")
    got = need_scenario()
    if got is None:
        return
    key, sc = got
    p = plan_of(*key)
    if not p.placement:
        st.warning("The plan places nothing, so there is nothing to simulate. See the Plan page.")
        return
    st.caption(f"A discrete-event simulation (simpy) of the plan over {sc.horizon_s:g} s of simulated time: "
               "arrivals, shared links, batching, autoscaling and failures, with service times from the cost model. "
               "Monthly costs extrapolate the horizon to 30 days; periodic jobs are costed per run.")
    c1, c2 = st.columns([1, 3], vertical_alignment="bottom")
    seed = c1.number_input("seed", value=int(sc.seed), step=1, min_value=0, key=f"sim_seed:{sc.seed}")
    cached = (key, int(seed)) in _sim_store()
    run = c2.button("Run simulation" if not cached else "Show simulation", type="primary", key="run_sim")
    done = st.session_state.setdefault("results", {})
    if not (run or cached and ("sim", key, int(seed)) in done):
        st.info("Run the simulation to check the plan against queueing, batching, shared links and failures.")
        return
    r = simulate_with_progress(key, int(seed))
    done[("sim", key, int(seed))] = True
    s = r.summary()
    agree = report.agreement(p, r)
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("Arrived", f"{r.arrived:,}", border=True)
    m2.metric("Completed", f"{r.completed:,}", border=True)
    m3.metric("Failed", f"{r.failed:,}", border=True)
    m4.metric("Monthly cost, simulated", f"${r.monthly_cost_usd:,.0f}", border=True,
              help="The horizon's accounted cost extrapolated to 30 days; periodic jobs per run.")
    st.caption(f"Seed {r.seed}, {r.horizon_s:g} s simulated in {r.wall_s:.1f} s of wall time "
               f"({r.requests_per_wall_s:,.0f} requests per second); {r.in_flight:,} still in flight at the end. "
               f"The plan predicted ${p.monthly_cost_usd:,.0f} per month.")
    st.info(report.agreement_sentence(agree), icon=":material/fact_check:")
    st.dataframe(s, hide_index=True, column_config={
        "slo_met_frac": st.column_config.ProgressColumn("SLO met", min_value=0.0, max_value=1.0, format="percent"),
        "monthly_cost_usd": NUMBER_FORMAT["monthly_cost_usd"],
        **{c: st.column_config.NumberColumn(c, format="%.1f") for c in ("mean_ms", "p50_ms", "p95_ms", "p99_ms")}})
    tabs = st.tabs(["Latency", "SLO attainment", "Segments", "Utilisation", "Failures", "Costs",
                    "Planned vs simulated"])
    inference = s[(s["kind"] == "inference") & (s["completed"] > 0)]
    with tabs[0]:
        st.plotly_chart(report.latency_figure(p, r), key="sim_latency")
        fig = go.Figure()
        qs = [i / 200 for i in range(1, 200)] + [0.995, 0.999]
        for w in inference["workload"]:
            fig.add_trace(go.Scatter(x=[r.quantile_ms(w, q) for q in qs], y=qs, mode="lines", name=w))
        fig.update_layout(title="Latency distribution per workload (CDF, from the run's quantile sketches)",
                          xaxis_title="end-to-end latency (ms)", xaxis_type="log", yaxis_title="fraction of requests",
                          height=380)
        st.plotly_chart(fig, key="sim_cdf")
    with tabs[1]:
        met = s["slo_met_frac"]
        fig = go.Figure(go.Bar(x=s["workload"], y=met, text=[f"{v:.1%}" for v in met],
                               marker_color=["#2ca02c" if v >= 0.99 else "#d62728" for v in met.fillna(0)]))
        fig.update_layout(title="Share of requests (job runs: of deadlines) within the SLO", yaxis_range=[0, 1.05],
                          yaxis_tickformat=".0%", height=360)
        st.plotly_chart(fig, key="sim_slo")
    with tabs[2]:
        seg = r.segments()
        fig = go.Figure()
        for col, label in (("uplink_ms", "uplink"), ("queue_ms", "queue"), ("compute_ms", "compute"),
                           ("downlink_ms", "downlink")):
            fig.add_trace(go.Bar(y=seg["workload"], x=seg[col], name=label, orientation="h"))
        fig.update_layout(barmode="stack", title="Mean time per completed request, by segment", xaxis_title="ms",
                          height=120 + 60 * len(seg))
        st.plotly_chart(fig, key="sim_segments")
    with tabs[3]:
        u = r.utilisation()
        for kind, title in (("compute", "Compute utilisation over time"), ("link", "Link utilisation over time")):
            part = u[u["kind"] == "link"] if kind == "link" else u[u["kind"] != "link"]
            if part.empty:
                continue
            fig = go.Figure()
            for comp, g in part.groupby("component", sort=False):
                fig.add_trace(go.Scatter(x=g["t_start_s"], y=g["utilisation"], mode="lines", name=str(comp),
                                         line_shape="hv"))
            fig.update_layout(title=title, xaxis_title="simulated time (s)", yaxis_title="utilisation",
                              yaxis_tickformat=".0%", height=340)
            st.plotly_chart(fig, key=f"sim_util_{kind}")
    with tabs[4]:
        f = r.failures()
        if f.empty:
            st.success("No request failed or finished late.")
        else:
            fig = go.Figure()
            for reason, g in f.groupby("reason", sort=False):
                fig.add_trace(go.Bar(x=g["workload"], y=g["count"], name=str(reason)))
            fig.update_layout(barmode="stack", title="Failed and late requests by reason", height=360)
            st.plotly_chart(fig, key="sim_failures")
            st.dataframe(f, hide_index=True)
    with tabs[5]:
        costs = r.costs()
        by = costs.groupby("category", as_index=False)["monthly_usd"].sum()
        fig = go.Figure(go.Bar(x=by["category"], y=by["monthly_usd"], text=[f"${v:,.0f}" for v in by["monthly_usd"]]))
        fig.update_layout(title="Simulated monthly cost by category", yaxis_title="USD per month", height=340)
        st.plotly_chart(fig, key="sim_costs")
        st.dataframe(costs, hide_index=True)
    with tabs[6]:
        st.dataframe(agree, hide_index=True)
    st.download_button("Download the results (ZIP of CSV tables)", _results_zip(p, r),
                       file_name=f"{sc.name}-seed{int(seed)}-results.zip", mime="application/zip")


# ------------------------------------------------------------------------------- comparison
def baseline(sc: Any, p: Any, where: str) -> tuple[dict, dict[str, str]]:
    """A hand placement that runs every workload at the edge (`where`="edge": at its source when that
    is an edge site, else the first edge site it may reach) or in the cloud (the first cloud site it
    may reach), on that site's first device or pool. Precision: the plan's where that hardware runs
    it, else the first the workload allows that it runs. Workloads privacy keeps away, and federated
    ones, stay as planned. Returns the placement and a note per workload."""
    placement, notes = {}, {}
    for name, w in sc.workloads.items():
        planned = p.placement.get(name)
        allowed = [s for s in sc.allowed_sites(name) if sc.sites[s].kind == where]
        if where == "edge" and w.source in allowed:
            allowed.remove(w.source)
            allowed.insert(0, w.source)
        sites = [s for s in allowed if sc.sites[s].devices or sc.sites[s].pools]
        if w.kind == "federated" or not sites:
            if planned is not None:
                placement[name] = planned.as_dict()
            notes[name] = ("federated: as planned" if w.kind == "federated"
                           else f"privacy '{w.privacy}' and the links allow no {where} site: as planned")
            continue
        site = sc.sites[sites[0]]
        hw = (site.devices or site.pools)[0].hardware
        runs = catalog.hardware(hw).precisions
        wanted = ([planned.precision] if planned else []) + list(w.precisions or []) + list(PRECISIONS)
        allowed_prec = list(w.precisions or PRECISIONS)
        prec = next((x for x in wanted if x in runs and x in allowed_prec), runs[0] if runs else "fp32")
        placement[name] = {"site": sites[0], "hardware": hw, "precision": prec}
        notes[name] = f"{hw} at {sites[0]}, {prec}"
    return placement, notes


def _strategy_rows(label: str, q: Any) -> pd.DataFrame:
    t = q.table()[["workload", "site", "hardware", "precision", "predicted_p99_ms", "slo_p99_ms", "monthly_cost_usd",
                   "ok", "violations"]].copy()
    t.insert(0, "strategy", label)
    return t


def page_comparison() -> None:
    st.header("Comparison")
    got = need_scenario()
    if got is None:
        return
    key, sc = got
    mode = st.radio("Compare", ["The plan against all-edge and all-cloud", "Two scenarios side by side"],
                    horizontal=True, key="compare_mode")
    if mode.startswith("The plan"):
        _compare_baselines(key, sc)
    else:
        _compare_scenarios(key)


def _compare_baselines(key: tuple, sc: Any) -> None:
    p = plan_of(*key)
    st.caption("All-edge and all-cloud are placements by hand, judged by the same analytical model as the plan "
               "(`planner.evaluate`): each workload on the first device of its source site (all-edge) or the first "
               "pool of the first cloud site it may reach (all-cloud). Privacy is never broken: a workload that may "
               "not move stays as planned.")
    verdicts = {"plan": p}
    notes: dict[str, dict[str, str]] = {}
    for where in ("edge", "cloud"):
        placement, notes[where] = baseline(sc, p, where)
        try:
            verdicts[f"all-{where}"] = evaluate_of(*key, json.dumps(placement, sort_keys=True))
        except ScenarioError as e:
            st.warning(f"all-{where}: {e}")
    cols = st.columns(len(verdicts))
    for col, (label, q) in zip(cols, verdicts.items()):
        with col, st.container(border=True):
            st.markdown(f"### {label}")
            delta = (None if label == "plan" or not q.placement
                     else f"{q.monthly_cost_usd - p.monthly_cost_usd:+,.0f} vs plan")
            st.metric("Monthly cost", f"${q.monthly_cost_usd:,.0f}" if q.placement else "–", delta,
                      delta_color="inverse")
            st.markdown("Feasible: **yes**" if q.feasible else "Feasible: **no**")
            t = q.table()
            for r in t[~t["ok"].astype(bool)].itertuples():
                st.markdown(f"- :red[**{r.workload}**: {r.violations or 'not placed'}]")
            for name, note in notes.get(label.removeprefix("all-"), {}).items():
                st.caption(f"{name}: {note}")
    rows = pd.concat([_strategy_rows(k, q) for k, q in verdicts.items()], ignore_index=True)
    c1, c2 = st.columns(2)
    fig = go.Figure()
    for label, g in rows.groupby("strategy", sort=False):
        fig.add_trace(go.Bar(x=g["workload"], y=g["monthly_cost_usd"], name=label))
    fig.update_layout(barmode="group", title="Monthly cost per workload", yaxis_title="USD per month", height=380)
    c1.plotly_chart(fig, key="cmp_cost")
    inf = rows[rows["predicted_p99_ms"].notna()]
    fig = go.Figure()
    for label, g in inf.groupby("strategy", sort=False):
        fig.add_trace(go.Bar(x=g["workload"], y=g["predicted_p99_ms"], name=label))
    slo = inf.drop_duplicates("workload")
    fig.add_trace(go.Scatter(x=slo["workload"], y=slo["slo_p99_ms"], mode="markers", name="SLO p99",
                             marker={"symbol": "line-ew-open", "size": 30, "line": {"width": 3, "color": "red"}}))
    fig.update_layout(barmode="group", title="Predicted p99 per workload", yaxis_title="ms", yaxis_type="log",
                      height=380)
    c2.plotly_chart(fig, key="cmp_p99")
    st.dataframe(rows, hide_index=True, column_config=NUMBER_FORMAT)


def _compare_scenarios(key: tuple) -> None:
    s = state()
    options = ["this scenario as loaded (before edits)"] + list(examples())
    other = st.selectbox("Against", options, key="compare_other")
    if other == options[0]:
        b = {**s, "raw": yaml.safe_load(s["loaded"])}
    else:
        b = load_example(other)
    key_b = key_of(b)
    sc_b, err_b = scenario_of(key_b)
    if err_b is not None:
        st.error(f"The other scenario is not valid: {err_b}")
        return
    if key_b == key:
        st.info("The scenario has not been edited since it was loaded: both sides are the same.")
    plans = {"A: this scenario": plan_of(*key), f"B: {other}": plan_of(*key_b)}
    cols = st.columns(2)
    for col, (label, q) in zip(cols, plans.items()):
        with col, st.container(border=True):
            st.markdown(f"### {label}")
            st.caption(q.scenario.name)
            a, b2 = st.columns(2)
            a.metric("Monthly cost", f"${q.monthly_cost_usd:,.0f}" if q.placement else "–")
            b2.metric("Feasible", "yes" if q.feasible else "no")
            st.dataframe(_plan_table(q)[["workload", "site", "hardware", "precision", "predicted_p99_ms",
                                         "monthly_cost_usd", "ok"]], hide_index=True, column_config=NUMBER_FORMAT)
            for c in q.conflicts:
                st.error(c)
    fig = go.Figure()
    for label, q in plans.items():
        t = q.table()
        fig.add_trace(go.Bar(x=t["workload"], y=t["monthly_cost_usd"], name=label))
    fig.update_layout(barmode="group", title="Monthly cost per workload", yaxis_title="USD per month", height=380)
    st.plotly_chart(fig, key="cmp2_cost")


# ------------------------------------------------------------------------------- pareto and sweeps
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
        if isinstance((w.get("slo") or {}).get("p99_ms"), (int, float)):
            out[f"{name}: SLO p99_ms"] = ("workloads", name, "slo", "p99_ms")
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


def sweep_rows(key: tuple, raw: dict, path: tuple, values: list[float]) -> pd.DataFrame:
    """Plan the scenario once per value of one field: cost, feasibility and where each workload runs."""
    rows = []
    integer = path[-1] == "count"
    for v in values:
        d = copy.deepcopy(raw)
        _set(d, path, int(v) if integer else float(v))
        k = (_dump(d), key[1], key[2])
        sc, err = scenario_of(k)
        row: dict[str, Any] = {"value": v}
        if err is not None:
            row.update(feasible=False, monthly_cost_usd=float("nan"), status="invalid",
                       note=f"{err.field}: {err.reason}")
        else:
            q = plan_of(*k)
            row.update(feasible=q.feasible, monthly_cost_usd=q.monthly_cost_usd if q.placement else float("nan"),
                       status=q.status, note="; ".join(q.conflicts))
            for name in sc.workloads:
                c = q.placement.get(name)
                row[name] = f"{c.hardware}@{c.site} {c.precision}" if c else "–"
        rows.append(row)
    return pd.DataFrame(rows)


def page_pareto() -> None:
    st.header("Pareto front and sweeps")
    got = need_scenario()
    if got is None:
        return
    key, sc = got
    p = plan_of(*key)
    st.subheader("Cost against latency")
    st.caption("The cheapest plan for each bound on rate-weighted p99, between the cheapest and the fastest plans "
               "(`planner.pareto`). Only non-dominated points are kept; hover for the placement.")
    front = on_demand("pareto", key, "Trace the Pareto front", lambda: pareto_of(*key))
    if front is not None:
        if front.empty:
            st.warning("No feasible plan, so no front.")
        else:
            fig = go.Figure(go.Scatter(x=front["weighted_p99_ms"], y=front["monthly_cost_usd"], mode="lines+markers",
                                       line_shape="hv", hovertext=front["placement"], hoverinfo="text+x+y",
                                       marker={"size": 10}, name="Pareto front"))
            if p.placement:
                fig.add_hline(y=p.monthly_cost_usd, line_dash="dot", annotation_text=f"the plan ({sc.objective})")
            fig.update_layout(xaxis_title="rate-weighted p99 (ms)", yaxis_title="USD per month", height=420)
            st.plotly_chart(fig, key="pareto")
            st.dataframe(front, hide_index=True, column_config=NUMBER_FORMAT)
    st.subheader("One-parameter sweep")
    fields = sweepable(state()["raw"])
    label = st.selectbox("Parameter", list(fields), key="sweep:field")
    path = fields[label]
    cur = _get(state()["raw"], path)
    if cur is None and path[0] == "links":
        net = _get(state()["raw"], ("links", path[1], "network"))
        cur = _catalog_default(lambda: getattr(catalog.network(net), path[-1]))
    if cur is None and path == ("prices", "electricity_usd_per_kwh"):
        cur = _catalog_default(lambda: catalog.price("electricity_usd_per_kwh"))
    default = ", ".join(f"{float(cur) * m:g}" for m in (0.25, 0.5, 1, 2, 4)) if cur else "1, 2, 4"
    text = st.text_input("Values (comma-separated)", value=default, key=f"sweep:values:{label}")
    try:
        values = [float(x) for x in text.replace(";", ",").split(",") if x.strip()]
    except ValueError:
        st.error("Values must be numbers separated by commas.")
        return
    if not values or len(values) > 25:
        st.error("Give between 1 and 25 values.")
        return
    df = on_demand("sweep", (key, path, tuple(values)), "Run the sweep",
                   lambda: sweep_rows(key, state()["raw"], path, values), help="Plans the scenario once per value.")
    if df is not None:
        fig = go.Figure(go.Scatter(x=df["value"], y=df["monthly_cost_usd"], mode="lines+markers",
                                   marker={"size": 12,
                                           "color": ["#2ca02c" if f else "#d62728" for f in df["feasible"]]},
                                   hovertext=df["status"]))
        fig.update_layout(title=f"Monthly cost against {label} (green: feasible, red: not)", xaxis_title=label,
                          yaxis_title="USD per month", height=380)
        st.plotly_chart(fig, key="sweep_fig")
        st.dataframe(df, hide_index=True, column_config=NUMBER_FORMAT)
        st.download_button("Download the sweep (CSV)", df.to_csv(index=False), file_name=f"{sc.name}-sweep.csv",
                           mime="text/csv")


# ------------------------------------------------------------------------------- cost explorer
def _estimate_row(model: str, hw: str, prec: str, batch: int, training: bool) -> dict:
    try:
        e = estimate_of(model, hw, prec, batch, training)
    except (PlannerError, ValueError, KeyError) as ex:
        return {"hardware": hw, "precision": prec, "note": str(ex)}
    return {"hardware": hw, "precision": prec, "latency_ms": e.latency_ms, "throughput_per_s": e.throughput_per_s,
            "memory_gb": e.memory_gb, "fits": getattr(e, "fits", None), "energy_j": e.energy_j, "source": e.source,
            "note": ""}


def page_costs() -> None:
    st.header("Cost explorer")
    st.caption("What a model costs on a piece of hardware (`planner.estimate`): predicted from kernel profiles "
               "carried to catalog hardware by its peak FLOPS and memory bandwidth, calibrated against published "
               "results. Every figure says how it was obtained: "
               + "; ".join(f"**{k}**: {v}" for k, v in SOURCES.items()) + ".")
    models, hws = catalog.model_ids(), catalog.hardware_ids()
    c1, c2, c3, c4, c5 = st.columns([2, 2, 1, 1, 1])
    model = c1.selectbox("Model", models, index=models.index("resnet-50") if "resnet-50" in models else 0,
                         key="ce_model")
    hw = c2.selectbox("Hardware", hws, index=hws.index("l4") if "l4" in hws else 0, key="ce_hw")
    runs = list(catalog.hardware(hw).precisions) or list(PRECISIONS)
    prec = c3.selectbox("Precision", runs, index=runs.index("fp16") if "fp16" in runs else 0, key="ce_prec")
    batch = int(c4.number_input("Batch", min_value=1, max_value=4096, value=1, step=1, key="ce_batch"))
    training = c5.toggle("Training step", key="ce_training")
    row = _estimate_row(model, hw, prec, batch, training)
    with st.container(border=True):
        if row.get("note"):
            st.error(f"No estimate: {row['note']}")
        else:
            m = st.columns(4)
            m[0].metric("Latency", f"{row['latency_ms']:.3g} ms", border=True, help="One batch.")
            m[1].metric("Throughput", f"{row['throughput_per_s']:,.4g} /s", border=True, help="Samples per second.")
            m[2].metric("Memory", f"{row['memory_gb']:.3g} GB", None if row["fits"] is None else
                        ("fits" if row["fits"] else "does not fit"), delta_color="normal" if row["fits"] else "inverse",
                        border=True, help=f"Against the {catalog.hardware(hw).mem_gb:g} GB of {hw}.")
            m[3].metric("Energy", f"{row['energy_j']:.3g} J", border=True, help="One batch.")
            st.markdown(f"Source: **:blue-badge[{row['source']}]** {SOURCES.get(row['source'], '')}.")
            detail = getattr(estimate_of(model, hw, prec, batch, training), "detail", None) or {}
            if detail:
                st.caption("How the latency is made up: " + ", ".join(
                    f"{k.removesuffix('_ms').removesuffix('_gb').replace('_', ' ')} "
                    f"{v:.3g} {'ms' if k.endswith('_ms') else 'GB' if k.endswith('_gb') else ''}".rstrip()
                    for k, v in detail.items() if isinstance(v, (int, float))) + ".")
    st.subheader(f"{model} on every hardware")
    precs = st.multiselect("Precisions", list(PRECISIONS), default=[prec], key="ce_precs")
    rows = [_estimate_row(model, h, pr, batch, training) for h in hws for pr in precs
            if pr in (catalog.hardware(h).precisions or PRECISIONS)]
    df = pd.DataFrame(rows)
    if not df.empty:
        hw_table = catalog.table("hardware").set_index("id")
        df["usd_per_hour"] = df["hardware"].map(hw_table["usd_per_hour"])
        df["price_usd"] = df["hardware"].map(hw_table["price_usd"])
        df["tier"] = df["hardware"].map(hw_table["tier"])
        df["hardware_source"] = df["hardware"].map(hw_table["source"])
        ok = df[df.get("latency_ms", pd.Series(dtype=float)).notna()] if "latency_ms" in df else df.iloc[0:0]
        if not ok.empty:
            fig = go.Figure()
            for src, g in ok.groupby("source", sort=False):
                fig.add_trace(go.Bar(x=g["hardware"] + " " + g["precision"], y=g["latency_ms"], name=f"source: {src}"))
            fig.update_layout(title=f"{model}, batch {batch}: latency by hardware, coloured by source",
                              yaxis_title="ms", yaxis_type="log", height=400)
            st.plotly_chart(fig, key="ce_fig")
        st.dataframe(df, hide_index=True, column_config={
            "usd_per_hour": st.column_config.NumberColumn("USD / h (cloud)", format="$%.2f"),
            "price_usd": st.column_config.NumberColumn("price (edge)", format="$%,.0f")})
    st.subheader("The catalog")
    st.caption("Every row carries its `source`; `basis` names each value that is derived or assumed rather than "
               "copied.")
    tabs = st.tabs(["hardware", "networks", "models", "prices"])
    for tab, kind in zip(tabs, ["hardware", "networks", "models", "prices"]):
        with tab:
            st.dataframe(catalog.table(kind), hide_index=True)


# =============================================================================== main
def sidebar() -> str:
    with st.sidebar:
        st.title("Hybrid placement planner")
        st.caption("Where should each AI workload run: edge devices or cloud GPUs?")
        page = st.radio("Page", PAGES, key="page", label_visibility="collapsed")
        st.divider()
        s = state()
        sc, err = scenario_of(key_of(s))
        name = s["raw"].get("name", "(unnamed)") if isinstance(s["raw"], dict) else "?"
        st.markdown(f"**{name}**  \n{s['label']}")
        if err is not None:
            st.error("Not valid: see the Scenario page.", icon=":material/error:")
        edited = _dump(s["raw"]) != s["loaded"]
        text = _dump(s["raw"]) if edited else s["original"]
        st.download_button("Download the scenario (YAML)", text,
                           file_name=f"{Path(s['file']).stem}{'-edited' if edited else ''}.yaml",
                           mime="application/x-yaml", help="As edited here" if edited else "As loaded, comments kept")
        st.caption("Numbers come from the public API: plans and verdicts are analytical, the Simulation page checks "
                   "them in a discrete-event run, and every cost estimate names its source.")
    return page


def main() -> None:
    st.set_page_config(page_title="Hybrid placement planner", page_icon=":material/hub:", layout="wide")
    page = sidebar()
    {
        "Scenario": page_scenario, "Plan": page_plan, "Simulation": page_simulation, "Comparison": page_comparison,
        "Pareto & sweeps": page_pareto, "Cost explorer": page_costs,
    }[page]()


if __name__ == "__main__":
    main()
