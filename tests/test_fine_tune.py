"""Fine-tuning as a training choice: `fine_tune:` trains the last layers or LoRA adapters only,
so a retraining job the edge cannot afford in full fits there, and federated rounds ship less."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import planner
from planner.model.workloads import trained_params, update_bytes
from planner.scenario import parse_scenario

ROOT = Path(__file__).resolve().parents[1]


def _factory(fine_tune: dict | None) -> planner.Scenario:
    d = yaml.safe_load((ROOT / "scenarios" / "smart_factory.yaml").read_text())
    if fine_tune is not None:
        d["workloads"]["retrain"]["fine_tune"] = fine_tune
    return parse_scenario(yaml.safe_dump(d), file="factory.yaml")


def test_fine_tuning_the_head_is_a_cheaper_step_on_the_same_device():
    full, head = _factory(None), _factory({"layers": 2})
    pf, ph = planner.plan(full), planner.plan(head)
    tf, th = pf.table().set_index("workload"), ph.table().set_index("workload")
    assert th.loc["retrain", "ok"]
    # the same job trains 2 layers of yolov8n: far fewer device-hours a month
    assert th.loc["retrain", "monthly_cost_usd"] <= tf.loc["retrain", "monthly_cost_usd"]
    step_full = planner.estimate("yolov8n", "jetson-orin-nx-16gb", "fp16", 64, training=True)
    step_head = planner.estimate("yolov8n", "jetson-orin-nx-16gb", "fp16", 64, training=planner.FineTune(layers=2))
    assert step_head.latency_ms < 0.6 * step_full.latency_ms
    assert trained_params(head.workloads["retrain"]) < 0.1 * trained_params(full.workloads["retrain"])
    # the simulator runs the same fine-tuning step: plan and simulation bill the same month
    r = planner.run(head)
    assert r.sim.monthly_cost_usd == pytest.approx(r.plan.monthly_cost_usd, rel=0.03)


def test_a_federated_round_ships_only_what_is_trained():
    d = yaml.safe_load((ROOT / "scenarios" / "federated_stores.yaml").read_text())
    name = next(n for n, w in d["workloads"].items() if w["kind"] == "federated")
    full = parse_scenario(yaml.safe_dump(d))
    d["workloads"][name]["fine_tune"] = {"lora_rank": 4}
    lora = parse_scenario(yaml.safe_dump(d))
    assert update_bytes(lora.workloads[name]) < 0.2 * update_bytes(full.workloads[name])
    assert planner.plan(lora).feasible


@pytest.mark.parametrize("fine_tune, words", [({"layers": 2, "lora_rank": 4}, "exactly one"), ({}, "exactly one"),
                                               ({"layers": 0}, "")])
def test_a_bad_fine_tune_is_a_clear_error(fine_tune, words):
    with pytest.raises(planner.ScenarioError) as e:
        _factory(fine_tune)
    assert "factory.yaml" in str(e.value) and "workloads.retrain.fine_tune" in str(e.value) and words in str(e.value)
