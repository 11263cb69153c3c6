"""The app's frame: page settings, the sidebar (page picker, the scenario's name, its download),
and the chosen page."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from app_pages import PAGES
from app_pages.cache import scenario_of
from app_pages.state import dump, edited, key_of, scenario_name, state


def sidebar() -> str:
    """Draw the sidebar; return the page picked."""
    with st.sidebar:
        st.title("Hybrid placement planner")
        st.caption("Where should each AI workload run: edge devices or cloud GPUs?")
        page = st.radio("Page", list(PAGES), key="page", label_visibility="collapsed")
        st.divider()
        s = state()
        _, err = scenario_of(key_of(s))
        st.markdown(f"**{scenario_name(s)}**  \n{s['label']}")
        if err is not None:
            st.error("Not valid: see the Scenario page.", icon=":material/error:")
        changed = edited(s)
        st.download_button("Download the scenario (YAML)", dump(s["raw"]) if changed else s["original"],
                           file_name=f"{Path(s['file']).stem}{'-edited' if changed else ''}.yaml",
                           mime="application/x-yaml", help="As edited here" if changed else "As loaded, comments kept")
        st.caption("Numbers come from the public API: plans and verdicts are analytical, the Simulation page checks "
                   "them in a discrete-event run, and every cost estimate names its source.")
    return page


def main() -> None:
    st.set_page_config(page_title="Hybrid placement planner", page_icon=":material/hub:", layout="wide")
    PAGES[sidebar()]()
