"""One verdict everywhere: `planner run`, a batch, a one-value sweep and the app's Plan page give
the same scenario the same placement and verdict (they all go through `planner.run`)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import planner

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted(p.name for p in (ROOT / "scenarios").glob("*.yaml"))

pytestmark = pytest.mark.slow


def _placement(p: planner.Plan) -> dict[str, tuple]:
    return {w: (c.site, c.precision) for w, c in p.placement.items()}


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_face_gives_the_same_placement_and_verdict(name: str, tmp_path: Path) -> None:
    path = ROOT / "scenarios" / name
    sc = planner.load_scenario(path)
    ran = planner.run(sc)
    expected = _placement(ran.plan)

    # batches and sweeps record the run's plan and verdict per workload
    for df in (planner.batch([path], workers=1),
               planner.sweep(path, set={"horizon_s": [sc.horizon_s]}, workers=1)):
        ok = df[df["status"] == "ok"]
        if not ran.plan.feasible:
            assert ok.empty  # an infeasible plan is a failed run, with its reason
            continue
        got = {r.workload: (r.planned_site, r.precision) for r in ok.itertuples()}
        assert got == {w: v for w, v in expected.items() if w in got} and set(got) >= {
            w for w in expected if sc.workloads[w].kind == "inference"}
        assert set(ok["run_ok"]) == {ran.ok} and set(ok["run_verdict"]) == {ran.verdict}

    # the app's Plan page shows the same placement and says the same verdict
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600).run()
    at.selectbox(key="example").set_value(name).run()
    at.sidebar.radio(key="page").set_value("Plan").run()
    assert not at.exception, [e.value for e in at.exception]
    shown = {}  # the placement table, and for fleets the per-member table
    for df in (d.value for d in at.dataframe):
        key = "instance" if "instance" in df.columns else "workload"
        if key in df.columns and {"site", "precision"} <= set(df.columns):
            shown.update({r[key]: (r["site"], r["precision"]) for _, r in df.iterrows()})
    assert {w: shown.get(w) for w in expected} == expected
    said = [m.value for m in (*at.success, *at.error)]
    assert any(ran.verdict in s for s in said), said
