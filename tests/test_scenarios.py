"""The example scenarios: each validates (API and CLI), satisfies the JSON Schema, opens with a
comment block stating its question, and together they use every arrival process and workload kind."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import planner
from planner.scenario import Inference, Trace

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
EXAMPLES = sorted(SCENARIOS.glob("*.yaml"))
REQUIRED = [
    "smart_factory", "vehicle_fleet", "retail_stores", "hospital_imaging", "voice_assistant",
    "llm_assistant", "federated_stores", "remote_site",
]


def _planner_cmd() -> list[str]:
    """The installed `planner` command (beside this interpreter), else the module."""
    exe = Path(sys.executable).parent / "planner"
    if exe.is_file():
        return [str(exe)]
    found = shutil.which("planner")
    return [found] if found else [sys.executable, "-m", "planner.cli"]


def _cli(*args: str) -> subprocess.CompletedProcess:
    """Run the `planner` command the way a user would."""
    return subprocess.run([*_planner_cmd(), *args], capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_at_least_eight_examples() -> None:
    assert len(EXAMPLES) >= 8, [p.name for p in EXAMPLES]
    assert {p.stem for p in EXAMPLES} >= set(REQUIRED)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_loads(path: Path) -> None:
    sc = planner.load_scenario(path)
    assert isinstance(sc, planner.Scenario)
    assert sc.source_file == str(path)
    assert 60 <= sc.horizon_s <= 600, "keep example horizons modest so simulations stay quick"
    for name in sc.workloads:
        assert sc.allowed_sites(name), f"{name}: no site allowed"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_has_leading_comment_block(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    head = []
    for line in lines:
        if not line.startswith("#"):
            break
        head.append(line.lower())
    assert len(head) >= 5, f"{path.name}: starts with a comment block of a few lines"
    text = " ".join(head)
    assert "question" in text, f"{path.name}: the comment states its question"
    assert "expected decision" in text, f"{path.name}: the comment states the expected decision"
    assert "figures" in text, f"{path.name}: the comment says where its figures come from"


def test_cli_validates_all_examples() -> None:
    r = _cli("validate", *[str(p.relative_to(ROOT)) for p in EXAMPLES])
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    out = r.stdout.splitlines()
    assert len(out) == len(EXAMPLES)
    assert all(line.startswith("ok ") for line in out)


def test_cli_validate_reports_each_bad_file_and_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\n", encoding="utf-8")
    r = _cli("validate", str(EXAMPLES[0]), str(bad))
    assert r.returncode == 2
    assert r.stdout.startswith("ok ")
    assert "bad.yaml" in r.stderr and "Traceback" not in r.stderr


@pytest.fixture(scope="module")
def cli_schema() -> dict:
    r = _cli("schema")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_schema_is_a_valid_json_schema(cli_schema: dict) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.Draft202012Validator.check_schema(cli_schema)
    assert cli_schema == json.loads(json.dumps(planner.json_schema()))
    assert "source_file" not in cli_schema.get("properties", {})


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_satisfies_schema(path: Path, cli_schema: dict) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    errors = list(jsonschema.Draft202012Validator(cli_schema).iter_errors(data))
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors[:5]]


def test_schema_rejects_what_the_loader_rejects(cli_schema: dict) -> None:
    """Spot checks that the schema is not vacuous: an unknown field and a negative rate fail it."""
    jsonschema = pytest.importorskip("jsonschema")
    data = yaml.safe_load((SCENARIOS / "smart_factory.yaml").read_text(encoding="utf-8"))
    v = jsonschema.Draft202012Validator(cli_schema)
    typo = {**data, "horizon": 10}
    assert list(v.iter_errors(typo))
    neg = json.loads(json.dumps(data))
    neg["workloads"]["inspection"]["arrival"]["rate_per_s"] = -1
    assert list(v.iter_errors(neg))


def _loaded() -> list[planner.Scenario]:
    return [planner.load_scenario(p) for p in EXAMPLES]


def test_every_arrival_process_and_workload_kind_appears() -> None:
    processes, kinds = set(), set()
    for sc in _loaded():
        for w in sc.workloads.values():
            kinds.add(w.kind)
            if isinstance(w, Inference):
                processes.add(w.arrival.process)
    assert processes >= {"poisson", "periodic", "bursty", "diurnal", "trace"}, processes
    assert kinds >= {"inference", "training", "federated"}, kinds


def test_every_privacy_level_and_objective_appears() -> None:
    privacy = {w.privacy for sc in _loaded() for w in sc.workloads.values()}
    assert privacy == {"any", "region", "site"}
    assert {sc.objective for sc in _loaded()} >= {"cost", "latency"}


def test_trace_examples_read_their_file() -> None:
    traces = [
        w.arrival for sc in _loaded() for w in sc.workloads.values()
        if isinstance(w, Inference) and isinstance(w.arrival, Trace)
    ]
    assert traces
    for tr in traces:
        ts = tr.timestamps_s
        assert len(ts) >= 1000
        assert ts == sorted(ts) and ts[0] >= 0
        assert tr.path.is_file() and tr.path.parent.name == "traces"
        assert 0 < tr.mean_rate_per_s < 100


def test_names_are_unique_and_file_stems_match() -> None:
    names = [sc.name for sc in _loaded()]
    assert len(set(names)) == len(names)
    for path, sc in zip(EXAMPLES, _loaded()):
        assert sc.name == path.stem.replace("_", "-")


def test_deploy_to_and_federated_references_resolve() -> None:
    seen_deploy = seen_fed = False
    for sc in _loaded():
        for w in sc.workloads.values():
            if w.kind == "training" and w.deploy_to:
                seen_deploy = True
                assert all(sc.workloads[t].kind == "inference" for t in w.deploy_to)
            if w.kind == "federated":
                seen_fed = True
                assert set(w.sites) <= set(sc.sites)
                assert w.aggregator in sc.sites and sc.sites[w.aggregator].kind == "cloud"
    assert seen_deploy and seen_fed


def test_hospital_cloud_is_forbidden_for_ct_triage() -> None:
    sc = planner.load_scenario(SCENARIOS / "hospital_imaging.yaml")
    assert sc.allowed_sites("ct-triage") == ["hospital"]
    assert set(sc.allowed_sites("report-coding")) == {"hospital", "azure-germany-west"}


def test_loading_is_deterministic() -> None:
    a = [sc.model_dump() for sc in _loaded()]
    b = [sc.model_dump() for sc in _loaded()]
    assert a == b
