"""Studies (issue 7): `--set` paths, sweeps and batches, local and Dask, resume, failures, CLI errors."""
from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import planner
from planner import cli
from planner.errors import PlannerError, ScenarioError
from planner.studies import expand_file, mean_ci95, parse_set, set_path
from planner.studies.paths import parse_assignment

ROOT = Path(__file__).resolve().parent.parent
FACTORY = ROOT / "scenarios" / "smart_factory.yaml"
FACTORY_WORKLOADS = ["inspection", "ppe-detection", "retrain"]
#: Short simulations keep every run to about a second.
SHORT = {"horizon_s": [30]}
#: Columns that must agree between two executions of the same runs (wall time may not).
NUMERIC = ["seed", "replication", "arrived", "completed", "failed", "mean_ms", "p50_ms", "p95_ms", "p99_ms",
           "slo_met_frac", "monthly_cost_usd", "plan_monthly_cost_usd"]


# --------------------------------------------------------------------------- dotted paths
RAW = {"horizon_s": 600, "links": [{"between": ["a", "b"], "uplink_mbps": 200}],
       "workloads": {"inspection": {"arrival": {"process": "poisson", "rate_per_s": 180}}}}


def test_set_path_walks_keys_and_list_indices_without_touching_the_original():
    out = set_path(RAW, "workloads.inspection.arrival.rate_per_s", 90)
    out = set_path(out, "links.0.uplink_mbps", 50)
    out = set_path(out, "links[0].between.1", "c")
    out = set_path(out, "budget_usd_per_month", 1000)  # an optional field not in the file
    assert out["workloads"]["inspection"]["arrival"]["rate_per_s"] == 90
    assert out["links"][0] == {"between": ["a", "c"], "uplink_mbps": 50}
    assert out["budget_usd_per_month"] == 1000
    assert RAW["links"][0]["uplink_mbps"] == 200 and "budget_usd_per_month" not in RAW


@pytest.mark.parametrize("path, words", [
    ("nosuch.path", ["nosuch.path", "no key 'nosuch'"]),
    ("workloads.inspecton.arrival.rate_per_s", ["inspecton", "did you mean 'inspection'?"]),
    ("workloads.inspection.arival.rate_per_s", ["arival", "did you mean 'arrival'?"]),
    ("links.3.uplink_mbps", ["links.3.uplink_mbps", "out of range"]),
    ("links.first.uplink_mbps", ["links.first.uplink_mbps", "index"]),
    ("horizon_s.value", ["horizon_s.value", "single value"]),
    ("links..uplink_mbps", ["links..uplink_mbps", "dotted path"]),
])
def test_set_path_errors_name_the_path(path, words):
    with pytest.raises(PlannerError) as e:
        set_path(RAW, path, 1)
    msg = str(e.value)
    assert "\n" not in msg
    for w in words:
        assert w in msg


def test_values_parse_as_yaml_scalars():
    assert parse_assignment("a.b=200,0.5,int8,true,null") == ("a.b", [200, 0.5, "int8", True, None])
    assert parse_assignment("w.precisions=[int8, fp16],[fp32]") == ("w.precisions", [["int8", "fp16"], ["fp32"]])
    assert parse_set(["x=1", "y.0=a,b"]) == {"x": [1], "y.0": ["a", "b"]}
    for bad in ("novalue", "x=", "x=1,,2"):
        with pytest.raises(PlannerError, match="--set"):
            parse_assignment(bad)
    with pytest.raises(PlannerError, match="twice"):
        parse_set(["x=1", "x=2"])


def test_mean_ci95_is_the_t_interval():
    mean, half, n = mean_ci95([1.0, 2.0, 3.0, 4.0, math.nan])
    assert (mean, n) == (2.5, 4)
    assert half == pytest.approx(3.182446305 * np.std([1, 2, 3, 4], ddof=1) / 2)
    assert math.isnan(mean_ci95([5.0])[1]) and mean_ci95([])[2] == 0


# --------------------------------------------------------------------------- study design
def _scenario_file(tmp_path: Path, name: str = "factory.yaml", **changes) -> Path:
    """smart_factory.yaml with top-level fields replaced (a short horizon by default)."""
    data = yaml.safe_load(FACTORY.read_text())
    data.update({"horizon_s": 30, **changes})
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_a_sweep_declared_in_the_file_is_expanded_and_overridden(tmp_path):
    f = _scenario_file(tmp_path, sweep={"set": {"links.0.uplink_mbps": [100, 200], "objective": "latency"},
                                        "replications": 2})
    study = expand_file(f)
    assert study.paths == ["links.0.uplink_mbps", "objective"]
    assert [(r.params["links.0.uplink_mbps"], r.seed) for r in study.runs] == [(100, 7), (100, 8), (200, 7), (200, 8)]
    assert all(r.data["objective"] == "latency" and "sweep" not in r.data for r in study.runs)
    assert len({r.run_id for r in study.runs}) == 4 and not any(r.error for r in study.runs)
    # --set overrides the file's values for a path and --replications its count.
    study = expand_file(f, {"links.0.uplink_mbps": [50]}, replications=1)
    assert [r.params["links.0.uplink_mbps"] for r in study.runs] == [50]
    # Run ids are stable: the same variant and seed always get the same id.
    assert expand_file(f, {"links.0.uplink_mbps": [50]}, 1).runs[0].run_id == study.runs[0].run_id


def test_a_bad_declared_sweep_names_its_field(tmp_path):
    with pytest.raises(ScenarioError, match="sweep.replications"):
        expand_file(_scenario_file(tmp_path, sweep={"set": {"horizon_s": [10]}, "replications": 0}))
    with pytest.raises(PlannerError, match="no key 'linkz'"):
        expand_file(_scenario_file(tmp_path, sweep={"set": {"linkz.0.uplink_mbps": [10]}}))


def test_one_invalid_variant_is_a_failed_run_and_all_invalid_is_an_error():
    study = expand_file(FACTORY, {"horizon_s": [30, -1]})
    assert [bool(r.error) for r in study.runs] == [False, True]
    assert "horizon_s" in study.runs[1].error
    with pytest.raises(ScenarioError, match="horizon_s"):
        expand_file(FACTORY, {"horizon_s": [-1]})


# --------------------------------------------------------------------------- running
def test_local_sweep_gives_a_row_per_run_and_workload(tmp_path):
    out = tmp_path / "study"
    df = planner.sweep(FACTORY, set={**SHORT, "links.0.uplink_mbps": [100, 200]}, replications=2, out_dir=out)
    assert len(df) == 4 * len(FACTORY_WORKLOADS)
    assert (df["status"] == "ok").all(), df.loc[df["status"] != "ok", "reason"].unique()
    assert df["run_id"].nunique() == 4
    assert sorted(df.drop_duplicates("run_id")[["links.0.uplink_mbps", "seed"]].itertuples(index=False, name=None)) == [
        (100, 7), (100, 8), (200, 7), (200, 8)]
    assert (df["horizon_s"] == 30).all()
    assert set(df["workload"]) == set(FACTORY_WORKLOADS)
    for col in ("p99_ms", "mean_ms", "slo_met_frac", "monthly_cost_usd", "plan_monthly_cost_usd", "plan_feasible"):
        assert col in df.columns
    # Written: a file per run, all rows, and the summary with a 95% CI over the 2 replications.
    assert len(list((out / "runs").glob("*.parquet"))) == 4
    pd.testing.assert_frame_equal(pd.read_parquet(out / "results.parquet"), df, check_dtype=False)
    summary = pd.read_parquet(out / "summary.parquet")
    assert len(summary) == 2 * len(FACTORY_WORKLOADS) and (summary["runs_ok"] == 2).all()
    assert {"p99_ms_mean", "p99_ms_ci95", "slo_met_frac_ci95", "monthly_cost_usd_mean"} <= set(summary.columns)
    assert len(pd.read_csv(out / "summary.csv")) == len(summary)


def test_failing_runs_are_recorded_and_do_not_stop_the_study(tmp_path):
    # horizon -1 breaks validation for its variant; a 0.01 ms p99 leaves no feasible placement.
    df = planner.sweep(FACTORY, set={"horizon_s": [30, -1], "workloads.inspection.slo.p99_ms": [80, 0.01]},
                       out_dir=tmp_path / "s", workers=2)
    runs = df.drop_duplicates("run_id").set_index("params")
    assert len(runs) == 4
    ok = runs[runs["status"] == "ok"]
    assert len(ok) == 1 and ok["horizon_s"].iloc[0] == 30 and ok["workloads.inspection.slo.p99_ms"].iloc[0] == 80
    failed = runs[runs["status"] == "failed"]
    assert all("\n" not in r and r for r in failed["reason"])
    assert (failed[failed["horizon_s"] == -1]["reason"].str.contains("horizon_s")).all()
    infeasible = failed[(failed["horizon_s"] == 30)]
    assert len(infeasible) == 1
    summary = pd.read_csv(tmp_path / "s" / "summary.csv")
    assert summary["runs_failed"].sum() >= 3


def test_batch_runs_each_file_and_records_a_broken_one(tmp_path):
    a = _scenario_file(tmp_path, "a.yaml")
    b = _scenario_file(tmp_path, "b.yaml", objective="latency")
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: x\nsites: {a: {kind: edge}}\nworkloads: [\n")
    df = planner.batch([a, b, broken], tmp_path / "out", workers=2)
    runs = df.drop_duplicates("run_id").set_index("file")
    assert runs.loc[str(a), "status"] == "ok" and runs.loc[str(b), "status"] == "ok"
    assert runs.loc[str(broken), "status"] == "failed" and "YAML" in runs.loc[str(broken), "reason"]
    assert (tmp_path / "out" / "results.parquet").exists()


def _numeric(df: pd.DataFrame) -> pd.DataFrame:
    cols = ["run_id", "workload"] + [c for c in NUMERIC if c in df.columns]
    return df[cols].sort_values(["run_id", "workload"]).reset_index(drop=True)


@pytest.mark.slow
def test_a_two_worker_dask_cluster_gives_the_local_results(tmp_path):
    from distributed import LocalCluster

    sets = {**SHORT, "links.0.uplink_mbps": [100, 200]}
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        remote = planner.sweep(FACTORY, set=sets, replications=2, out_dir=tmp_path / "dask",
                               scheduler=cluster.scheduler_address)
    local = planner.sweep(FACTORY, set=sets, replications=2, out_dir=tmp_path / "local", workers=2)
    assert remote.attrs["study"]["backend"].startswith("dask")
    assert (remote["status"] == "ok").all() and len(remote) == 4 * len(FACTORY_WORKLOADS)
    pd.testing.assert_frame_equal(_numeric(remote), _numeric(local))


#: The killed study: 3 uplinks x 3 seeds, one worker, so runs finish one by one.
KILLED_RUNS = 9


def _sweep_cli(out: Path) -> list[str]:
    return [sys.executable, "-m", "planner.cli", "sweep", str(FACTORY), "--set", "horizon_s=60",
            "--set", "links.0.uplink_mbps=100,150,200", "--replications", "3", "--workers", "1",
            "--no-progress", "--out", str(out)]


def test_a_killed_study_resumes_with_every_run_exactly_once(tmp_path):
    out = tmp_path / "study"
    runs_dir = out / "runs"
    proc = subprocess.Popen(_sweep_cli(out), cwd=ROOT, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and proc.poll() is None and not list(runs_dir.glob("*.parquet")):
        time.sleep(0.02)
    assert proc.poll() is None, f"the study ended before it could be killed: {proc.stderr.read().decode()[-500:]}"
    os.killpg(proc.pid, signal.SIGKILL)  # the study and its worker processes, mid-run
    proc.wait()
    finished = {p.name: p.stat().st_mtime_ns for p in runs_dir.glob("*.parquet")}
    assert 1 <= len(finished) < KILLED_RUNS
    assert not (out / "results.parquet").exists()

    done = subprocess.run(_sweep_cli(out), cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    study = json.loads((out / "study.json").read_text())
    assert study["skipped"] == len(finished) and study["ran"] == KILLED_RUNS - len(finished)
    for name, mtime_ns in finished.items():  # finished runs were not recomputed
        assert (runs_dir / name).stat().st_mtime_ns == mtime_ns
    df = pd.read_parquet(out / "results.parquet")
    assert df["run_id"].nunique() == KILLED_RUNS and len(list(runs_dir.glob("*.parquet"))) == KILLED_RUNS
    assert (df.groupby("run_id").size() == len(FACTORY_WORKLOADS)).all()
    assert not df.duplicated(["run_id", "workload"]).any()


# --------------------------------------------------------------------------- command line
def _cli(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["planner", *args])
    with pytest.raises(SystemExit) as e:
        cli.main()
    captured = capsys.readouterr()
    return e.value.code, captured.out, captured.err


def test_cli_bad_set_path_exits_2_naming_it(monkeypatch, capsys, tmp_path):
    code, _, err = _cli(monkeypatch, capsys, "sweep", str(FACTORY), "--set", "nosuch.path=1", "--out", str(tmp_path))
    assert code == 2
    assert err.count("\n") == 1 and "nosuch.path" in err and str(FACTORY) in err


def test_cli_bad_set_value_exits_2_naming_the_field(monkeypatch, capsys, tmp_path):
    code, _, err = _cli(monkeypatch, capsys, "sweep", str(FACTORY), "--set", "workloads.inspection.arrival.rate_per_s=-5",
                        "--out", str(tmp_path))
    assert code == 2
    assert err.count("\n") == 1 and "workloads.inspection.arrival.rate_per_s" in err
    assert not (tmp_path / "runs").exists()


def test_cli_sweep_prints_counts_and_writes_the_study(monkeypatch, capsys, tmp_path):
    code, out, _ = _cli(monkeypatch, capsys, "sweep", str(FACTORY), "--set", "horizon_s=30", "--workers", "1",
                        "--out", str(tmp_path))
    assert code == 0
    assert out.startswith("1 run: 1 ok, 0 failed")
    assert (tmp_path / "summary.csv").exists() and (tmp_path / "results.parquet").exists()
