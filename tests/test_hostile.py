"""Hostile input: every scenario below is generated from scenarios/smart_factory.yaml and run
through `planner validate`, `plan`, `run` (subprocesses, 60 s each) and the API.

What must hold, whatever the input: no exit 1 (an internal error is a bug), no traceback, an
exit code of 0, 2 or 3, a report with no live script from the input; and the escaping, limits,
atomic outputs and quantiles that make that true.
"""
from __future__ import annotations

import copy
import json
import math
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import planner
from planner.errors import PlannerError
from planner.limits import check_limits

ROOT = Path(__file__).resolve().parents[1]
BASE = yaml.safe_load((ROOT / "scenarios" / "smart_factory.yaml").read_text())
TIMEOUT_S = 60
SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(2)>"
#: Payloads that must never appear as live markup in a report.
LIVE = (SCRIPT, "<img src=x", "<script>alert")


def _bomb(levels: int = 8) -> str:
    """A flow list of nested aliases: a few hundred bytes that expand to 10^levels values."""
    parts = ["&l0 [" + ", ".join(["int8"] * 10) + "]"]
    parts += [f"&l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]" for i in range(1, levels)]
    return "[" + ", ".join(parts) + "]"


def _set(path: str, value: Any) -> Callable[[dict], None]:
    def apply(d: dict) -> None:
        node = d
        keys = path.split(".")
        for k in keys[:-1]:
            node = node[int(k)] if isinstance(node, list) else node[k]
        last = keys[-1]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return apply


def _rename_all(d: dict) -> None:
    """Script and control characters in every name: scenario, description, sites, workloads."""
    d["name"] = SCRIPT + "\x1b[2J\r=cmd|' /C calc'!A0"
    d["description"] = IMG + "\x07\x00"
    site = "plant" + IMG
    d["sites"][site] = d["sites"].pop("plant")
    d["links"][0]["between"][0] = site
    w = d["workloads"]
    w[SCRIPT] = w.pop("inspection")
    w["=HYPERLINK(\"http://x\")\x1b]0;pwn\x07"] = w.pop("ppe-detection")
    w["retrain"]["deploy_to"] = [SCRIPT]
    for wl in w.values():
        wl["source"] = site


HOSTILE: dict[str, Callable[[dict], None] | str] = {
    # huge numbers
    "rate_1e308": _set("workloads.inspection.arrival.rate_per_s", 1e308),
    "count_1e30": _set("sites.plant.devices.0.count", 10**30),
    "count_1e7": _set("sites.plant.devices.0.count", 10_000_000),
    "min_instances_1e7": lambda d: (_set("sites.aws-us-east-1.pools.0.min_instances", 10_000_000)(d),
                                    _set("sites.aws-us-east-1.pools.0.max_instances", 10_000_000)(d)),
    "horizon_1e9": _set("horizon_s", 1e9),
    "input_bytes_1e300": _set("workloads.inspection.input_bytes", 1e300),
    "dataset_1e300": _set("workloads.retrain.dataset_gb", 1e300),
    "epochs_1e300": _set("workloads.retrain.epochs", 1e300),
    "rtt_1e300": _set("links.0.rtt_ms", 1e300),
    "queue_1e18": _set("sites.plant.devices.0.queue_capacity", 10**18),
    "batch_1e9": _set("sites.plant.devices.0.max_batch", 10**9),
    "budget_1e300": _set("budget_usd_per_month", 1e300),
    "seed_1e30": _set("seed", 10**30),
    # tiny numbers
    "horizon_1e-9": _set("horizon_s", 1e-9),
    "rate_1e-300": _set("workloads.inspection.arrival.rate_per_s", 1e-300),
    "uplink_1e-300": _set("links.0.uplink_mbps", 1e-300),
    "every_h_1e-9": _set("workloads.retrain.every_h", 1e-9),
    "mtbf_1e-9": _set("sites.plant.devices.0.mtbf_h", 1e-9),
    "input_bytes_1e-300": _set("workloads.inspection.input_bytes", 1e-300),
    "service_cv_1e-300": _set("sites.plant.devices.0.service_cv", 1e-300),
    # names
    "names": _rename_all,
    # paths outside the scenario's folder
    "trace_passwd": _set("workloads.inspection.arrival", {"process": "trace", "file": "../../../../../../etc/passwd"}),
    "model_outside": _set("workloads.inspection.model", "../../../../../../etc/passwd.onnx"),
    # infeasible
    "infeasible_slo": lambda d: [w.update(slo={"p99_ms": 0.5}) for w in d["workloads"].values() if "slo" in w],
    "infeasible_budget": _set("budget_usd_per_month", 1),
    # alias bombs in list fields (raw YAML)
    "bomb_precisions": "workloads.inspection.precisions",
    "bomb_devices": "sites.plant.devices",
    "bomb_deploy_to": "workloads.retrain.deploy_to",
}
#: Cases run through `planner run` by default; the rest under -m slow.
RUN_FAST = ["names", "infeasible_slo", "horizon_1e-9", "rate_1e308", "bomb_precisions", "trace_passwd"]


def _write(tmp: Path, name: str) -> Path:
    d = copy.deepcopy(BASE)
    how = HOSTILE[name]
    path = tmp / "scenarios" / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(how, str):  # an alias bomb at a dotted path, spliced into JSON text (JSON is YAML)
        _set(how, "__BOMB__")(d)
        path.write_text(json.dumps(d).replace('"__BOMB__"', _bomb()))
    else:
        how(d)
        path.write_text(yaml.safe_dump(d, allow_unicode=True))
    return path


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("hostile")
    return {name: _write(tmp, name) for name in HOSTILE}


def _cli(*args: str, timeout: float = TIMEOUT_S) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("PLANNER_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "planner.cli", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env=env)


def _assert_clean(r: subprocess.CompletedProcess, allowed: tuple[int, ...] = (0, 2, 3)) -> None:
    assert r.returncode in allowed, (r.returncode, r.stderr[-2000:])
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr[-2000:]
    for payload in ("\x1b", "\x07", "\r"):
        assert payload not in r.stdout + r.stderr, "a control character reached the terminal"


def _assert_report_safe(out: Path) -> None:
    html = (out / "report.html").read_text()
    for payload in LIVE:
        assert payload not in html
    for csv in out.glob("*.csv"):
        for cell in pd.read_csv(csv, dtype=str, keep_default_na=False).to_numpy().ravel():
            assert not cell.startswith(("=", "@")), (csv.name, cell)


# ------------------------------------------------------------------------- CLI and API
def test_validate_every_hostile_file(corpus):
    r = _cli("validate", *map(str, corpus.values()))  # one process: a line per file
    _assert_clean(r, (2,))
    for name, path in corpus.items():
        lines = [ln for ln in (r.stdout + r.stderr).splitlines() if str(path) in ln]
        assert len(lines) == 1, (name, lines)
        assert lines[0].startswith(("ok ", "error: ")), (name, lines)


@pytest.mark.parametrize("name", RUN_FAST + ["count_1e30", "uplink_1e-300", "model_outside", "infeasible_budget"])
def test_plan_hostile_file(corpus, name):
    _assert_clean(_cli("plan", str(corpus[name])))


@pytest.mark.slow
def test_plan_every_hostile_file(corpus):
    for name, path in corpus.items():
        _assert_clean(_cli("plan", str(path)))


@pytest.mark.parametrize("name", [*RUN_FAST, *(pytest.param(n, marks=pytest.mark.slow) for n in HOSTILE
                                                if n not in RUN_FAST)])
def test_run_hostile_file(corpus, tmp_path, name):
    out = tmp_path / "out"
    r = _cli("run", str(corpus[name]), "--out", str(out))
    _assert_clean(r)
    if r.returncode in (0, 3):
        _assert_report_safe(out)


@pytest.mark.parametrize("name", list(HOSTILE))
def test_api_raises_only_planner_errors(corpus, tmp_path, name):
    """load_scenario then run: a result (with every output written) or a PlannerError."""
    try:
        sc = planner.load_scenario(corpus[name])
        result = planner.run(sc, tmp_path / "out", max_rounds=1)
    except PlannerError as e:
        assert "\n" not in str(e)
        return
    assert (tmp_path / "out" / "report.html").is_file()
    _assert_report_safe(tmp_path / "out")
    assert isinstance(result.plan.feasible, bool)


def test_errors_never_echo_file_contents(corpus):
    r = _cli("validate", str(corpus["trace_passwd"]))
    assert r.returncode == 2
    assert "root:" not in r.stderr and "/bin/" not in r.stderr


def test_infeasible_run_writes_every_output_and_says_what_failed(corpus, tmp_path):
    out = tmp_path / "out"
    r = _cli("run", str(corpus["infeasible_slo"]), "--out", str(out))
    assert r.returncode == 3, r.stderr
    assert "$nan" not in r.stdout and "NOT feasible" in r.stdout
    assert {"plan.csv", "placement.json", "report.html"} <= {p.name for p in out.iterdir()}
    html = (out / "report.html").read_text()
    assert "What failed" in html and "Not simulated" in html
    assert json.loads((out / "placement.json").read_text())["monthly_cost_usd"] is None
    sc = planner.load_scenario(corpus["infeasible_slo"])
    result = planner.run(sc, tmp_path / "api")
    assert not result.plan.feasible and (tmp_path / "api" / "report.html").is_file()


def test_nothing_measured_is_not_met(corpus):
    r = _cli("run", str(corpus["horizon_1e-9"]))
    assert r.returncode == 3, r.stderr
    assert "met their p99 SLO" not in r.stdout and "Nothing measured" in r.stdout


def test_limits_name_the_field(corpus):
    for name, field in [("rate_1e308", "rate_per_s"), ("count_1e30", "count"), ("horizon_1e9", "horizon_s"),
                        ("every_h_1e-9", "every_h"), ("uplink_1e-300", "uplink_mbps"), ("count_1e7", "count")]:
        sc = planner.load_scenario(corpus[name])
        with pytest.raises(planner.ScenarioError) as e:
            check_limits(sc)
        assert field in e.value.field, (name, e.value)


def test_study_size_needs_max_runs(tmp_path):
    d = copy.deepcopy(BASE)
    d["sweep"] = {"set": {"seed": list(range(1000)), "workloads.inspection.arrival.rate_per_s": list(range(1, 1001))},
                  "replications": 1000}
    path = tmp_path / "huge.yaml"
    path.write_text(yaml.safe_dump(d))
    start = time.perf_counter()
    r = _cli("sweep", str(path), "--out", str(tmp_path / "out"))
    assert r.returncode == 2 and "--max-runs" in r.stderr, r.stderr
    assert time.perf_counter() - start < TIMEOUT_S
    with pytest.raises(PlannerError, match="max_runs"):
        planner.sweep(path, out_dir=tmp_path / "api")


def test_sweep_exits_3_when_every_run_fails(tmp_path):
    d = copy.deepcopy(BASE)
    d["horizon_s"] = 10
    d["budget_usd_per_month"] = 1
    path = tmp_path / "poor.yaml"
    path.write_text(yaml.safe_dump(d))
    r = _cli("sweep", str(path), "--set", "seed=1,2", "--workers", "1", "--out", str(tmp_path / "out"))
    _assert_clean(r, (3,))
    assert "2 failed" in r.stdout


# ------------------------------------------------------------------------- helpers
def test_csv_cells_that_are_formulas_are_escaped_but_numbers_are_not():
    from planner.safe import csv_frame

    df = pd.DataFrame({"name": ["=1+1", "+cmd", "-x", "@SUM(A1)", "plain", "-3.5"], "value": [-1, 2, 3, 4, 5, 6]})
    out = csv_frame(df)
    assert list(out["name"]) == ["'=1+1", "'+cmd", "'-x", "'@SUM(A1)", "plain", "-3.5"]
    assert list(out["value"]) == [-1, 2, 3, 4, 5, 6]


def test_staged_folder_replaces_an_earlier_run_only_when_complete(tmp_path):
    from planner.output import staged_dir, write_atomic

    out = tmp_path / "out"
    with staged_dir(out) as stage:
        write_atomic(stage / "report.html", "old")
    assert stat.S_IMODE((out / "report.html").stat().st_mode) == 0o666 & ~_umask()
    with pytest.raises(RuntimeError):
        with staged_dir(out) as stage:
            write_atomic(stage / "plan.csv", "new")
            raise RuntimeError("killed mid-way")
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "report.html"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no staging folder left
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    with pytest.raises(PlannerError, match="other files"):
        with staged_dir(tmp_path / "mine"):
            pass
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@pytest.mark.slow
def test_kill_9_during_run_leaves_the_earlier_report_alone(tmp_path):
    out = tmp_path / "out"
    assert _cli("run", "scenarios/smart_factory.yaml", "--out", str(out)).returncode == 0
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.Popen([sys.executable, "-m", "planner.cli", "run", "scenarios/vehicle_fleet.yaml", "--out", str(out)],
                         cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(4)
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before


def test_sketch_is_exact_when_small_and_within_one_percent_when_large():
    import random

    from planner.sim.metrics import EXACT_MAX, LogSketch

    rng = random.Random(3)
    xs = [rng.lognormvariate(-3, 1) for _ in range(EXACT_MAX)]
    sk = LogSketch()
    for x in xs:
        sk.add(x)
    assert sk.quantile(0.99) == pytest.approx(pd.Series(xs).quantile(0.99), rel=1e-12)
    for x in (rng.lognormvariate(-3, 1) for _ in range(40_000)):
        xs.append(x)
        sk.add(x)
    xs.sort()
    for q in (0.5, 0.95, 0.99):
        assert sk.quantile(q) == pytest.approx(xs[int(q * (len(xs) - 1))], rel=0.01)


def test_replications_give_different_p99s():
    sc = planner.load_scenario(ROOT / "scenarios" / "smart_factory.yaml")
    p = planner.plan(sc)
    p99 = {planner.simulate(sc, p, seed=s).summary().set_index("workload").loc["inspection", "p99_ms"] for s in (0, 1)}
    assert len(p99) == 2 and all(math.isfinite(v) for v in p99)


# ------------------------------------------------------------------------- property
@st.composite
def small_scenarios(draw) -> dict:
    d = copy.deepcopy(BASE)
    d["horizon_s"] = 10
    w = d["workloads"]
    w["inspection"]["arrival"]["rate_per_s"] = draw(st.floats(1, 2000))
    w["inspection"]["slo"]["p99_ms"] = draw(st.floats(1, 200))
    w["ppe-detection"]["arrival"]["rate_per_s"] = draw(st.floats(1, 500))
    w["ppe-detection"]["slo"]["p99_ms"] = draw(st.floats(1, 500))
    budget = draw(st.one_of(st.none(), st.floats(1, 5000)))
    if budget is not None:
        d["budget_usd_per_month"] = budget
    return d


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=small_scenarios())
def test_plan_exit_code_is_0_exactly_when_feasible(tmp_path, data):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    feasible = planner.plan(planner.load_scenario(path)).feasible
    r = _cli("plan", str(path))
    _assert_clean(r, (0, 3))
    assert (r.returncode == 0) == feasible, r.stdout[-2000:]
