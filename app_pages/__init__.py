"""The pages of the Streamlit app (`streamlit run app.py`), one module each, and what they share.

    state.py       the edited scenario in the session; examples and uploads (data, never code)
    cache.py       cached calls into the public API (plan, pareto, baselines, sweep, estimate, simulate)
    widgets.py     field editors bound to the scenario, error banners, the plan's verdict and formats
    charts.py      figures and the rules that keep their axes honest; TTFT/TPOT charts
    scenario.py    Scenario: pick, upload, edit          plan.py        Plan: the verdict and why
    simulation.py  Simulation: the plan in the DES       comparison.py  Comparison: baselines, two scenarios
    pareto.py      Pareto & sweeps                       costs.py       Cost explorer

Pages call only names that `planner` exports (`planner.plan`, `planner.baselines`,
`planner.sweep_plans`, `planner.report`, `planner.catalog`...): the app holds no modelling logic.
The package is not named `app` (that is app.py) nor `pages` (Streamlit's multipage folder).
"""
from __future__ import annotations

from collections.abc import Callable

from app_pages import comparison, costs, pareto, plan, scenario, simulation

#: Page title (as the sidebar lists it) -> the function that draws it.
PAGES: dict[str, Callable[[], None]] = {m.TITLE: m.render for m in (scenario, plan, simulation, comparison, pareto, costs)}
