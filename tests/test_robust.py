"""Planning against the pessimistic end of the cost model's 80% interval (`robust: true`)."""
from __future__ import annotations

from pathlib import Path

import pytest

import planner

ROOT = Path(__file__).resolve().parents[1]


def _plans(name: str) -> tuple[planner.Plan, planner.Plan]:
    sc = planner.load_scenario(ROOT / "scenarios" / f"{name}.yaml")
    return planner.plan(sc), planner.plan(sc.model_copy(update={"robust": True}))


def test_the_robust_p99_is_the_nominal_plans_high_end() -> None:
    nominal, robust = _plans("smart_factory")
    t, r = nominal.table().set_index("workload"), robust.table().set_index("workload")
    for name in ("inspection", "ppe-detection"):
        assert (r.loc[name, "site"], r.loc[name, "hardware"]) == (t.loc[name, "site"], t.loc[name, "hardware"])
        assert t.loc[name, "p99_ms_low"] < t.loc[name, "predicted_p99_ms"] < t.loc[name, "p99_ms_high"]
        # the same placement planned with every service time at its high end predicts the high end
        assert r.loc[name, "predicted_p99_ms"] == pytest.approx(t.loc[name, "p99_ms_high"], rel=1e-6)
        assert r.loc[name, "p99_ms_high"] == pytest.approx(r.loc[name, "predicted_p99_ms"], rel=1e-6)
        assert r.loc[name, "p99_ms_low"] == pytest.approx(t.loc[name, "p99_ms_low"], rel=1e-6)


def test_robust_plans_buy_the_margin_the_interval_asks_for() -> None:
    nominal, robust = _plans("llm_assistant")
    assert robust.feasible and nominal.feasible
    assert robust.monthly_cost_usd >= nominal.monthly_cost_usd
    t = robust.table()
    assert (t["predicted_p99_ms"] <= t["slo_p99_ms"]).all()
    # the language models' iterations were planned at their high end: the low end lies well below
    assert (t["p99_ms_low"] < 0.8 * t["predicted_p99_ms"]).all()
    n = nominal.table()
    assert (n["p99_ms_low"] < n["predicted_p99_ms"]).all() and (n["predicted_p99_ms"] < n["p99_ms_high"]).all()


def test_cli_plans_robust_on_request(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from planner.cli import app

    res = CliRunner().invoke(app, ["plan", str(ROOT / "scenarios" / "llm_assistant.yaml"), "--robust", "--format", "json"])
    assert res.exit_code == 0, res.output
    import json

    rows = json.loads(res.output)["workloads"]
    assert all(r["p99_ms_high"] == pytest.approx(r["predicted_p99_ms"], rel=1e-6) for r in rows)
