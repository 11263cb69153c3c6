"""Limits on what a scenario may make the loader do: alias bombs fail fast, in every list field,
through the API and the CLI alike; a large file given to the CLI or the API is not refused."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

import planner
from planner import ScenarioError
from planner.scenario.limits import MAX_ALIAS_VALUES

ROOT = Path(__file__).resolve().parent.parent
BASE = (ROOT / "tests" / "malformed" / "valid_base.yaml").read_text(encoding="utf-8")


def _bomb(item: str) -> str:
    """A flow list of ~1 KB that aliases expand to 10**9 copies of `item`."""
    levels = [f"&b0 [{', '.join([item] * 10)}]"]
    levels += [f"&b{i} [{', '.join([f'*b{i - 1}'] * 10)}]" for i in range(1, 10)]
    return f"[{', '.join(levels)}]"


# (text in the valid base to replace, what replaces it with {bomb}, the field the error names)
LIST_FIELDS = [
    ("    slo: {p99_ms: 100}\n", "    slo: {p99_ms: 100}\n    precisions: {bomb}\n", "workloads.inspection.precisions", "int8"),
    ("      - {hardware: jetson-orin-nx-16gb, count: 2}\n", "      {bomb}\n", "sites.plant.devices", "{hardware: hailo-8}"),
    ("    deploy_to: [inspection]", "    deploy_to: {bomb}", "workloads.retrain.deploy_to", "inspection"),
    ("    sites: [plant, cloud]", "    sites: {bomb}", "workloads.finetune.sites", "plant"),
    ("links:\n  - {between: [plant, cloud], network: fiber-wan, uplink_mbps: 100}", "links: {bomb}", "links", "{}"),
    ("{process: poisson, rate_per_s: 10}", "{process: diurnal, rate_per_s: 10, profile: {bomb}}",
     "workloads.inspection.arrival.profile", "1"),
]


@pytest.mark.parametrize(("old", "new", "field", "item"), LIST_FIELDS, ids=[f[2] for f in LIST_FIELDS])
def test_alias_bomb_fails_fast_naming_file_and_field(old: str, new: str, field: str, item: str) -> None:
    assert old in BASE
    text = BASE.replace(old, new.replace("{bomb}", _bomb(item)), 1)
    assert len(text) - len(BASE) < 1500
    t0 = time.perf_counter()
    with pytest.raises(ScenarioError) as info:
        planner.parse_scenario(text, file="bomb.yaml")
    assert time.perf_counter() - t0 < 5.0
    assert info.value.file == "bomb.yaml"
    assert info.value.field == field
    assert "aliases expand" in str(info.value) and "\n" not in str(info.value)


def test_alias_bomb_in_a_mapping_given_to_the_api() -> None:
    """Shared objects in a mapping given to parse_scenario are counted like YAML aliases."""
    data = yaml.safe_load(BASE)
    level: list = ["int8"] * 10
    for _ in range(9):
        level = [level] * 10
    data["workloads"]["inspection"]["precisions"] = level
    with pytest.raises(ScenarioError, match="aliases expand") as info:
        planner.parse_scenario(data, file="api")
    assert info.value.field == "workloads.inspection.precisions"


def test_modest_alias_use_is_accepted() -> None:
    """A defaults block merged into many workloads is what aliases are for."""
    wl = "\n".join(f"  w{i}: {{<<: *w, source: plant}}" for i in range(300))
    text = BASE.replace("workloads:\n", "defaults: &w {kind: inference, model: yolov8n, "
                        "arrival: {process: poisson, rate_per_s: 1}, slo: {p99_ms: 500}}\nworkloads:\n" + wl + "\n", 1)
    data = yaml.safe_load(text)
    data.pop("defaults")
    sc = planner.parse_scenario(data, file="x.yaml")
    assert len(sc.workloads) == 303
    assert MAX_ALIAS_VALUES >= 100_000


def test_alias_bomb_through_the_cli(tmp_path: Path) -> None:
    f = tmp_path / "bomb.yaml"
    f.write_text(BASE.replace("    slo: {p99_ms: 100}\n", f"    slo: {{p99_ms: 100}}\n    precisions: {_bomb('int8')}\n", 1))
    r = subprocess.run([sys.executable, "-m", "planner.cli", "validate", str(f)], capture_output=True, text=True,
                       timeout=120, cwd=ROOT)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "bomb.yaml" in lines[0] and "workloads.inspection.precisions" in lines[0]


def test_no_size_limit_for_files_given_to_the_api(tmp_path: Path) -> None:
    """A scenario of more than 2 MB (the app's upload limit) loads from a path."""
    extra = "".join(f"  w{i:05d}: {{kind: inference, model: yolov8n, source: plant, "
                    f"arrival: {{process: poisson, rate_per_s: 1}}, slo: {{p99_ms: 500}}, "
                    f"input_bytes: 20000, output_bytes: 2000}}\n" for i in range(16_000))
    f = tmp_path / "big.yaml"
    f.write_text(BASE.replace("workloads:\n", "workloads:\n" + extra, 1))
    assert f.stat().st_size > planner.scenario.MAX_FILE_BYTES
    sc = planner.load_scenario(f)
    assert len(sc.workloads) == 16_003
