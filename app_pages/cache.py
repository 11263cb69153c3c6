"""Calls into the public API, cached so that moving between pages does not recompute.

A scenario is identified by its key (`state.key_of`: text, file name, attachments); every cached
call takes the key's parts, so the same edited scenario is planned once whichever page asks.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st
import yaml

import planner

#: Finished simulations kept (by scenario key and seed), shared by the sessions of this server.
MAX_STORED_SIMULATIONS = 16
#: Slow results (fronts, sweeps) a session keeps for later visits to their page.
MAX_SESSION_RESULTS = 40


@st.cache_resource(max_entries=64, show_spinner=False)
def _parse(text: str, file: str, attachments: tuple) -> Any:
    return planner.parse_scenario(text, file=file, allow_paths=False, attachments={k: Path(v) for k, v in attachments})


def scenario_of(key: tuple) -> tuple[Any, planner.ScenarioError | None]:
    """The validated Scenario for a key, or the error that names the field."""
    try:
        return _parse(*key), None
    except planner.ScenarioError as e:
        return None, e


@st.cache_resource(max_entries=32, show_spinner="Planning, then simulating to confirm (as `planner run` does)…")
def run_of(text: str, file: str, attachments: tuple, simulate: bool = True) -> Any:
    """`planner.run` on the scenario: plan, simulate, tighten what missed. The same placement and
    verdict as the CLI, batches and sweeps; `simulate=False` is the quick look (plan only)."""
    return planner.run(_parse(text, file, attachments), simulate_plan=simulate)


def quick_look() -> bool:
    """Whether the user asked for the plan alone, not confirmed in simulation (the Plan page's toggle)."""
    return bool(st.session_state.get("quick_look", False))


def plan_of(text: str, file: str, attachments: tuple) -> Any:
    """The plan every page shows: the one `planner run` settles on (or, in a quick look, the first)."""
    return run_of(text, file, attachments, not quick_look()).plan


@st.cache_resource(max_entries=16, show_spinner="Tracing the Pareto front (a plan per latency bound)…")
def pareto_of(text: str, file: str, attachments: tuple) -> pd.DataFrame:
    return planner.pareto(_parse(text, file, attachments))


@st.cache_resource(max_entries=32, show_spinner="Judging all-edge and all-cloud…")
def baselines_of(text: str, file: str, attachments: tuple, simulate: bool = True) -> dict[str, Any]:
    # `simulate` is an argument, not read from the session inside: the cache keys on it
    return planner.baselines(_parse(text, file, attachments), run_of(text, file, attachments, simulate).plan)


@st.cache_resource(max_entries=16, show_spinner="Planning once per value…")
def sweep_of(text: str, file: str, attachments: tuple, sets_json: str) -> pd.DataFrame:
    """`planner.sweep_plans` on the scenario as edited, with only its own (uploaded) files."""
    sets: Mapping[str, Sequence[Any]] = json.loads(sets_json)
    return planner.sweep_plans(yaml.safe_load(text), sets, file=file, allow_paths=False,
                               attachments={k: Path(v) for k, v in attachments})


@st.cache_resource(max_entries=512, show_spinner=False)
def estimate_of(model: str, hardware: str, precision: str, batch: int, training: bool) -> Any:
    return planner.estimate(model, hardware, precision=precision, batch=batch, training=training)


@st.cache_resource(show_spinner=False)
def sim_store() -> dict:
    """Finished simulations by (scenario key, seed), shared by sessions; the newest kept."""
    return {}


def simulate_with_progress(key: tuple, seed: int) -> Any:
    """The simulation of the plan of `key` with `seed`: from the store, or run now with progress."""
    store = sim_store()
    if (key, seed) in store:
        return store[(key, seed)]
    sc, p = _parse(*key), plan_of(*key)
    bar = st.progress(0.0, text="Simulating… 0%")
    last = [-1.0]

    def progress(fraction: float) -> None:
        f = min(max(float(fraction), 0.0), 1.0)
        if f - last[0] >= 0.01 or f >= 1.0:  # a redraw per percent, not per event
            last[0] = f
            bar.progress(f, text=f"Simulating… {f:.0%} of {sc.horizon_s:g} s simulated")

    result = planner.simulate(sc, p, seed=seed, progress=progress)
    bar.empty()
    store[(key, seed)] = result
    while len(store) > MAX_STORED_SIMULATIONS:
        store.pop(next(iter(store)))
    return result


def on_demand(slot: str, key: Any, label: str, compute: Callable[[], Any], *, help: str | None = None) -> Any:
    """A button that computes something slow once per key; the result stays for later visits."""
    done = st.session_state.setdefault("results", {})
    clicked = st.button(label, key=f"btn:{slot}", type="primary", help=help)
    if clicked or (slot, key) in done:
        if (slot, key) not in done:
            done[(slot, key)] = compute()
            while len(done) > MAX_SESSION_RESULTS:  # a session keeps its latest results only
                done.pop(next(iter(done)))
        return done[(slot, key)]
    return None
