"""Widgets shared by the pages: the field editors bound to the scenario, error banners, the
plan's verdict and table formats.

Editors write through `on_change` callbacks. A callback may run after a fast second edit has
already re-run the script without its widget (or after the scenario was switched and its widget
keys forgotten); then the widget's value is no longer in `st.session_state`, and the edit it
carried is dropped rather than raising `KeyError` (the widget, drawn again, shows the scenario).
"""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

import planner
from app_pages.cache import plan_of, scenario_of
from app_pages.state import field_name, get_in, key_of, set_in, state

PRIVACY = ["any", "region", "site"]
PRECISIONS: tuple[str, ...] = planner.catalog.PRECISIONS
#: How a pool's instances may be bought (a pool's `pricing:`).
PRICING_MODELS: list[str] = list(planner.catalog.PRICING_MODELS)
SOURCES = {
    "measured": "the model itself was run and timed on this machine",
    "interpolated": "predicted from a kernel profile of the machine, within the profiled range",
    "calibrated": "a roofline fitted to published results for this very device",
    "transferred": "carried from other hardware of its kind by a roofline calibrated on published results "
                   "(or from a kernel profile taken on another machine: run `planner profile` here)",
    "extrapolated": "predicted from this machine's kernel profile, past its profiled range",
    "assumed": "this hardware has no calibration point: it shares its class's calibration, untested",
}
#: The plan table's columns as the Plan page shows them (those that are empty for every workload are dropped).
PLAN_COLUMNS = ["workload", "kind", "model", "site", "hardware", "precision", "kv_precision", "accuracy", "accuracy_metric", "min_accuracy",
                "split", "llm_split", "predicted_p99_ms", "slo_p99_ms",
                "predicted_ttft_ms", "slo_ttft_ms", "predicted_tpot_ms", "slo_tpot_ms", "predicted_availability",
                "slo_availability", "source", "monthly_cost_usd",
                "utilization", "ok", "violations", "binding", "next_best", "next_best_delta_usd", "reason"]
NUMBER_FORMAT = {
    "predicted_p99_ms": st.column_config.NumberColumn("predicted p99 (ms)", format="%.1f"),
    "slo_p99_ms": st.column_config.NumberColumn("SLO p99 (ms)", format="%g"),
    "predicted_ttft_ms": st.column_config.NumberColumn("predicted TTFT (ms)", format="%.1f"),
    "slo_ttft_ms": st.column_config.NumberColumn("SLO TTFT (ms)", format="%g"),
    "predicted_tpot_ms": st.column_config.NumberColumn("predicted TPOT (ms)", format="%.1f"),
    "slo_tpot_ms": st.column_config.NumberColumn("SLO TPOT (ms)", format="%g"),
    # availability needs its nines: 99.95% and 99.9% differ by half the downtime
    "predicted_availability": st.column_config.NumberColumn("predicted availability", format="%.4f",
                                                            help="The share of requests its path (and fallback) can "
                                                                 "answer: every link, device group or pool and region "
                                                                 "on it up"),
    "slo_availability": st.column_config.NumberColumn("SLO availability", format="%g"),
    "monthly_cost_usd": st.column_config.NumberColumn("USD / month", format="$%,.0f"),
    "next_best_delta_usd": st.column_config.NumberColumn("next best +USD / month", format="$%,.0f"),
    "utilization": st.column_config.ProgressColumn("utilisation", min_value=0.0, max_value=1.0, format="%.2f"),
    # the catalog's task metric at the chosen precision (speech: word accuracy, 1 - WER)
    "accuracy": st.column_config.NumberColumn("accuracy", format="%.3f"),
    "accuracy_metric": st.column_config.TextColumn("metric"),
    "min_accuracy": st.column_config.NumberColumn("floor", format="%g"),
}


# ------------------------------------------------------------------------------ scenario editors
def _edited(path: tuple, wkey: str) -> None:
    if wkey in st.session_state:  # gone after a fast second edit: see the module's docstring
        set_in(state()["raw"], path, st.session_state[wkey])


def _edited_list(path: tuple, wkey: str) -> None:
    if wkey in st.session_state:
        set_in(state()["raw"], path, list(st.session_state[wkey]) or None)


def show_error(err: planner.ScenarioError) -> None:
    st.error(f"**{err.field}**: {err.reason}" + (f"; {err.hint}" if err.hint else ""), icon=":material/warning:")


def catalog_default(fn: Callable[[], float]) -> float | None:
    """A catalog figure shown as a field's default, or None when the catalog has none."""
    try:
        return fn()
    except (planner.PlannerError, KeyError, TypeError):
        return None


class Editor:
    """Widgets bound to fields of the edited scenario. Each shows the validation error about its
    own field beneath it; `rest(prefix)` shows one about a field under `prefix` that has no widget."""

    def __init__(self, raw: dict, err: planner.ScenarioError | None):
        self.raw, self.err, self.fields = raw, err, set()

    def __repr__(self) -> str:
        return f"Editor({len(self.fields)} fields, error={self.err.field if self.err else None!r})"

    def here(self, path: tuple) -> None:
        field = field_name(path)
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
        cur = get_in(self.raw, path)
        shown = cur if cur is not None else default
        wkey = f"edit:{field_name(path)}"
        if shown is not None and (isinstance(shown, bool) or not isinstance(shown, (int, float))):
            st.text_input(label, value=str(shown), disabled=True, key=f"bad:{field_name(path)}:{shown}",
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
        cur = get_in(self.raw, path) or default
        opts = options if cur in options else [*options, str(cur)]
        wkey = f"edit:{field_name(path)}"
        st.selectbox(label, opts, index=opts.index(str(cur)), key=wkey, on_change=_edited, args=(path, wkey),
                     help=help)
        self.here(path)

    def choose_many(self, label: str, path: tuple, options: list[str], *, help: str | None = None,
                    placeholder: str = "all the hardware runs") -> None:
        cur = get_in(self.raw, path)
        cur = [c for c in cur if isinstance(c, str)] if isinstance(cur, list) else []
        wkey = f"edit:{field_name(path)}"
        st.multiselect(label, list(dict.fromkeys([*options, *cur])), default=cur, key=wkey, on_change=_edited_list,
                       args=(path, wkey), help=help, placeholder=placeholder)
        self.here(path)


# ------------------------------------------------------------------------------ the plan, shown
def need_scenario() -> tuple[tuple, Any] | None:
    """The current scenario's key and Scenario, or None after saying why there is none."""
    key = key_of(state())
    sc, err = scenario_of(key)
    if err is not None:
        st.error(f"The scenario is not valid, so there is nothing to plan: {err}. Fix it on the Scenario page.",
                 icon=":material/error:")
        return None
    return key, sc


def plan_page(header: str) -> tuple[tuple, Any, Any] | None:
    """Open a page about the plan: its header, then the current scenario's key, Scenario and Plan,
    or None after saying why there is none."""
    st.header(header)
    got = need_scenario()
    return None if got is None else (*got, plan_of(*got[0]))


def plan_table(p: Any) -> pd.DataFrame:
    """The plan's table with the Plan page's columns, less those empty for every workload
    (language-model columns in a vision scenario, `split` where nothing is split)."""
    t = p.table()
    t = t[[c for c in PLAN_COLUMNS if c in t.columns]]
    empty = [c for c in t.columns if c not in ("workload", "ok") and t[c].isna().all()]
    if not p.scenario.names_kv_precision:
        empty.append("kv_precision")  # every cache at its default: nothing to say
    return t.drop(columns=empty)


def placement_json(p: Any) -> str:
    """The placement as `planner simulate --placement FILE` reads it, with the verdict beside it."""
    return json.dumps({"scenario": p.scenario.name, "feasible": p.feasible, "monthly_cost_usd": p.monthly_cost_usd,
                       "conflicts": p.conflicts, "placement": p.to_dict()}, indent=2)


def money(p: Any) -> str:
    """A plan's monthly cost as shown in metrics ('–' when nothing is placed)."""
    return f"${p.monthly_cost_usd:,.0f}" if p.placement else "–"


def plan_verdict(p: Any) -> None:
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Feasible", "yes" if p.feasible else "no", border=True)
    c2.metric("Monthly cost", money(p), border=True)
    c3.metric("Workloads placed", f"{len(p.placement)} of {len(p.scenario.workloads)}", border=True)
    c4.metric(f"Solver ({p.solve_s:.2f} s)", p.status, border=True)
    for c in p.conflicts:
        st.error(f"Conflict: {c}", icon=":material/error:")
    t = p.table()
    for r in t[~t["ok"].astype(bool) & t["violations"].astype(bool)].itertuples():
        if p.placement:
            st.warning(f"**{r.workload}** breaks a constraint: {r.violations}", icon=":material/warning:")
