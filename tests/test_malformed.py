"""Malformed scenarios: each file in tests/malformed/ is the valid base (valid_base.yaml) with one
defect. `planner validate FILE` must exit 2 with ONE line on stderr naming the file, the field and
the reason (never a traceback), and `planner.load_scenario` must raise `ScenarioError` whose
`.field` is that field.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import planner
from planner import ScenarioError

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(__file__).resolve().parent / "malformed"

# file stem -> (the exact field path in ScenarioError.field, a substring of the reason/message).
# An empty field means the error is about the whole file (YAML syntax, top level, file itself).
CASES: dict[str, tuple[str, str]] = {
    # YAML syntax: line and column in the message
    "yaml_bad_indent": ("", "YAML syntax error at line 12, column 5"),
    "yaml_unclosed_flow": ("", "YAML syntax error at line 15, column"),
    "yaml_tab_indent": ("", "YAML syntax error at line 6, column 1"),
    # duplicate YAML keys: two sites, two workloads, a field twice
    "yaml_duplicate_site": ("sites.plant", "duplicate key 'plant' (line 10, column 3)"),
    "yaml_duplicate_workload": ("workloads.inspection", "duplicate key 'inspection' (line 24"),
    "yaml_duplicate_field": ("horizon_s", "duplicate key 'horizon_s' (line 4"),
    # unknown fields, with did-you-mean
    "unknown_field_top": ("horizon", "unknown field 'horizon'; did you mean 'horizon_s'?"),
    "unknown_field_device": ("sites.plant.devices[0].cnt", "unknown field 'cnt'; did you mean 'count'?"),
    "unknown_field_link": ("links[0].uplink", "did you mean 'uplink_mbps'?"),
    "unknown_field_slo": ("workloads.inspection.slo.p99", "did you mean 'p99_ms'?"),
    # wrong types
    "wrong_type_count_text": ("sites.plant.devices[0].count", "expected a whole number, got text '2'"),
    "wrong_type_count_float": ("sites.plant.devices[0].count", "expected a whole number, got"),
    "wrong_type_sites_list": ("sites", "expected a mapping, got a list"),
    "wrong_type_rate_bool": ("workloads.inspection.arrival.rate_per_s", "expected a number, got true/false"),
    "wrong_type_horizon_text": ("horizon_s", "expected a number, got text '10 min'"),
    "wrong_type_precisions": ("workloads.inspection.precisions", "expected a list, got text"),
    # out of range
    "range_negative_rate": ("workloads.inspection.arrival.rate_per_s", "must be > 0"),
    "range_zero_bandwidth": ("links[0].uplink_mbps", "must be > 0"),
    "range_negative_p99": ("workloads.inspection.slo.p99_ms", "must be > 0"),
    "range_min_above_max": ("sites.cloud.pools[0]", "min_instances (8) exceeds max_instances (4)"),
    "range_loss_100": ("links[0].loss_pct", "must be < 100"),
    "range_zero_count": ("sites.plant.devices[0].count", "must be >= 1"),
    "range_nan_rate": ("workloads.inspection.arrival.rate_per_s", "must be a finite number"),
    "range_utilization": ("sites.cloud.pools[0].target_utilization", "must be <= 1"),
    "range_diurnal_zero": ("workloads.inspection.arrival", "profile must have at least one value above 0"),
    "range_start_hour": ("workloads.inspection.arrival.start_hour", "must be < 24"),
    # enumerations and discriminators
    "enum_site_kind": ("sites.plant.kind", "'fog' is not one of edge, cloud"),
    "enum_objective": ("objective", "'cheapest' is not one of cost, latency, energy"),
    "enum_precision": ("workloads.inspection.precisions[1]", "'int3' is not one of"),
    "enum_privacy": ("workloads.inspection.privacy", "'local' is not one of any, region, site"),
    "unknown_workload_kind": ("workloads.inspection", "unknown kind 'inferense'"),
    "unknown_arrival_process": ("workloads.inspection.arrival", "unknown process 'poison'"),
    "missing_arrival_process": ("workloads.inspection.arrival", "missing 'process'"),
    "missing_workloads": ("workloads", "missing required field"),
    "missing_required_field": ("workloads.inspection.source", "missing required field"),
    # structure
    "pool_on_edge_site": ("sites.plant", "an edge site has devices, not pools"),
    "cloud_without_pools": ("sites.cloud", "a cloud site needs at least one pool"),
    "link_to_itself": ("links[0]", "a link joins two different sites"),
    "link_three_ends": ("links[0].between", "at most 2 items"),
    # duplicates and dangling references
    "duplicate_link": ("links[1].between", "duplicate link between 'plant' and 'cloud' (also links[0])"),
    "duplicate_link_reversed": ("links[1].between", "duplicate link between 'cloud' and 'plant'"),
    "dangling_link_site": ("links[0].between", "unknown site 'clowd'; did you mean 'cloud'?"),
    "dangling_source": ("workloads.inspection.source", "unknown site 'plnat'; did you mean 'plant'?"),
    "dangling_deploy_to": ("workloads.retrain.deploy_to[0]", "unknown workload 'inspecton'; did you mean 'inspection'?"),
    "deploy_to_training": ("workloads.retrain.deploy_to[0]", "'retrain' is not an inference workload"),
    "dangling_federated_site": ("workloads.finetune.sites[1]", "unknown site 'store-9'"),
    "dangling_aggregator": ("workloads.finetune.aggregator", "unknown site 'cluod'; did you mean 'cloud'?"),
    "federated_site_twice": ("workloads.finetune.sites", "a site is listed twice"),
    # catalog ids, with close matches
    "unknown_hardware": ("sites.plant.devices[0].hardware",
                         "unknown hardware 'jetson-orin-nx'; did you mean 'jetson-orin-nx-16gb'?"),
    "unknown_pool_hardware": ("sites.cloud.pools[0].hardware", "unknown hardware 'l40'; did you mean 'l40s'?"),
    "unknown_network": ("links[0].network", "unknown network 'fibre-wan'; did you mean 'fiber-wan'?"),
    "unknown_model": ("workloads.inspection.model", "'yolov8' is a model family, not one model"),
    "missing_onnx_model": ("workloads.inspection.model", "file not found"),
    # routes and privacy
    "unreachable_cloud": ("workloads.inspection.source", "site 'cloud' is unreachable from source 'plant'"),
    "privacy_no_compute": ("workloads.inspection.privacy", "no site with compute is allowed under privacy 'site'"),
    "privacy_region_no_compute": ("workloads.inspection.privacy", "no site with compute is allowed under privacy 'region'"),
    # traces
    "trace_missing_file": ("workloads.inspection.arrival.file", "file not found"),
    "trace_text_row": ("workloads.inspection.arrival.file", "row 4, column 1: not a timestamp"),
    "trace_decreasing": ("workloads.inspection.arrival.file", "row 4: timestamps must not decrease (1.0 after 2.0)"),
    "trace_wrong_column": ("workloads.inspection.arrival.file", "no column 't_s'"),
    "trace_negative": ("workloads.inspection.arrival.file", "must be a finite number >= 0"),
    "trace_empty": ("workloads.inspection.arrival.file", "trace file is empty"),
    # the file as a whole
    "empty_file": ("", "expected a mapping of fields at the top level, got nothing"),
    "top_level_list": ("", "expected a mapping of fields at the top level, got a list"),
    "top_level_scalar": ("", "expected a mapping of fields at the top level, got text"),
    # routing rules (issue 17)
    "routing_two_limits": ("workloads.inspection.routing.overflow", "give exactly one of queue_ms or queue_len"),
    "routing_by_tokens_not_llm": ("workloads.inspection.routing.by_tokens", "'yolov8n' is not a language model"),
    "not_utf8": ("", "cannot read file"),
    "does_not_exist": ("", "file not found"),  # no such file in the corpus, on purpose
}


def _planner_cmd() -> list[str]:
    """The installed `planner` command (beside this interpreter), else the module."""
    exe = Path(sys.executable).parent / "planner"
    if exe.is_file():
        return [str(exe)]
    found = shutil.which("planner")
    return [found] if found else [sys.executable, "-m", "planner.cli"]


def _path(stem: str) -> Path:
    return CORPUS / f"{stem}.yaml"


def test_corpus_is_complete() -> None:
    on_disk = {p.stem for p in CORPUS.glob("*.yaml")} - {"valid_base"}
    assert on_disk == set(CASES) - {"does_not_exist"}, "every corpus file has a row in CASES and back"
    assert len(CASES) >= 30
    assert not _path("does_not_exist").exists()


def test_valid_base_is_valid() -> None:
    """Every malformed file differs from this one by one defect, so it must load cleanly."""
    sc = planner.load_scenario(_path("valid_base"))
    assert set(sc.workloads) == {"inspection", "retrain", "finetune"}


# One file per kind of defect, each also run as its own `planner validate FILE` process. Every
# other file runs through the same `main()` in this process (test_cli_main_reports_one_line) and
# through one `planner validate` process holding all files (test_cli_validate_whole_corpus): a
# fresh process per file would cost ~0.7 s each (pandas and networkx at import), ~50 s in all.
SUBPROCESS_SAMPLE = [
    "yaml_bad_indent", "yaml_duplicate_site", "unknown_field_device", "wrong_type_count_text",
    "range_min_above_max", "unknown_workload_kind", "duplicate_link", "dangling_deploy_to",
    "unknown_hardware", "unreachable_cloud", "trace_text_row", "top_level_list", "does_not_exist",
]


def _check_line(stem: str, line: str) -> None:
    field, reason = CASES[stem]
    assert line.startswith("error: "), line
    assert f"{stem}.yaml" in line, line
    assert reason.split("; did you mean")[0] in line, line
    if "; did you mean" in reason:
        assert "did you mean" + reason.split("; did you mean")[1] in line, line
    if field:
        assert f" in {field}" in line, line


def _check_result(stem: str, rc: int, out: str, err: str) -> None:
    assert rc == 2, (rc, err)
    assert out == ""
    assert "Traceback" not in err and "internal error" not in err, err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert err.endswith("\n")
    _check_line(stem, lines[0])


@pytest.mark.parametrize("stem", SUBPROCESS_SAMPLE)
def test_cli_subprocess_reports_one_line(stem: str) -> None:
    rel = _path(stem).relative_to(ROOT)
    r = subprocess.run([*_planner_cmd(), "validate", str(rel)], capture_output=True, text=True,
                       cwd=ROOT, timeout=120)
    _check_result(stem, r.returncode, r.stdout, r.stderr)


@pytest.mark.parametrize("stem", list(CASES))
def test_cli_main_reports_one_line(stem: str, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    """The CLI's own entry point, in this process: exit code, one line, no traceback."""
    from planner.cli import main

    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(sys, "argv", ["planner", "validate", str(_path(stem).relative_to(ROOT))])
    with pytest.raises(SystemExit) as info:
        main()
    captured = capsys.readouterr()
    _check_result(stem, info.value.code, captured.out, captured.err)


def test_cli_validate_whole_corpus() -> None:
    """One process, every malformed file: exit 2 and exactly one line per file, in order."""
    stems = list(CASES)
    r = subprocess.run([*_planner_cmd(), "validate", *[str(_path(s).relative_to(ROOT)) for s in stems]],
                       capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert r.returncode == 2
    assert r.stdout == ""
    assert "Traceback" not in r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == len(stems), r.stderr
    for stem, line in zip(stems, lines):
        _check_line(stem, line)


@pytest.mark.parametrize("stem", list(CASES))
def test_load_scenario_raises(stem: str) -> None:
    field, reason = CASES[stem]
    with pytest.raises(ScenarioError) as info:
        planner.load_scenario(_path(stem))
    e = info.value
    assert e.field == field, (e.field, str(e))
    assert e.file.endswith(f"{stem}.yaml")
    message = str(e)
    assert "\n" not in message
    assert message.startswith(e.file)
    base = reason.split("; did you mean")[0]
    assert base in message
    if "; did you mean" in reason:
        assert e.hint == "did you mean" + reason.split("; did you mean")[1]
    assert isinstance(e, planner.PlannerError)


def test_did_you_mean_is_in_the_hint_not_the_reason() -> None:
    with pytest.raises(ScenarioError) as info:
        planner.load_scenario(_path("unknown_hardware"))
    e = info.value
    assert e.reason == "unknown hardware 'jetson-orin-nx'"
    assert e.hint == "did you mean 'jetson-orin-nx-16gb'?"
    assert str(e) == (f"{e.file}: unknown hardware 'jetson-orin-nx' in sites.plant.devices[0].hardware; "
                      "did you mean 'jetson-orin-nx-16gb'?")


def test_cli_validate_several_bad_files_one_line_each() -> None:
    stems = ["unknown_hardware", "range_negative_rate", "yaml_bad_indent"]
    r = subprocess.run([*_planner_cmd(), "validate", *[str(_path(s)) for s in stems]],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 2
    lines = r.stderr.splitlines()
    assert len(lines) == len(stems)
    for stem, line in zip(stems, lines):
        assert f"{stem}.yaml" in line


# --------------------------------------------------------------------------- known bugs
# Each of these documents a defect found while writing this corpus (reported to the lead);
# strict xfail, so the test turns red as a reminder to drop the marker once it is fixed.

def _parse(text: str, base_dir: Path = CORPUS) -> planner.Scenario:
    return planner.parse_scenario(text, file="x.yaml", base_dir=base_dir)


BASE = (CORPUS / "valid_base.yaml").read_text(encoding="utf-8")


def test_unhashable_yaml_key() -> None:
    with pytest.raises(ScenarioError):
        _parse(BASE.replace("  plant:\n", "  ? [p, q]\n  : {kind: edge}\n  plant:\n", 1))


def test_deeply_nested_yaml() -> None:
    with pytest.raises(ScenarioError):
        _parse("name: " + "[" * 3000 + "]" * 3000 + "\n")


def test_message_is_one_line_when_a_name_holds_a_newline() -> None:
    with pytest.raises(ScenarioError) as info:
        _parse(BASE.replace("source: plant", 'source: "pl\\nant"', 1))
    assert "\n" not in str(info.value)


def test_control_character_is_one_line() -> None:
    with pytest.raises(ScenarioError) as info:
        _parse(BASE.replace("name: minimal", "name: mini\x07mal"))
    assert "\n" not in str(info.value)


def test_missing_kind_lists_the_choices() -> None:
    with pytest.raises(ScenarioError) as info:
        _parse(BASE.replace("    kind: inference\n", "", 1))
    assert "one of inference, training, federated" in str(info.value)


def test_trace_with_huge_field(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_bytes(b"timestamp_s\n0.1\n" + b"1" * 200_000 + b"\n")
    with pytest.raises(ScenarioError):
        _parse(BASE.replace("{process: poisson, rate_per_s: 10}", "{process: trace, file: t.csv}"), tmp_path)


def test_trace_file_name_too_long() -> None:
    with pytest.raises(ScenarioError):
        _parse(BASE.replace("{process: poisson, rate_per_s: 10}", "{process: trace, file: %s.csv}" % ("a" * 300)))


def test_scenario_file_name_too_long() -> None:
    with pytest.raises(ScenarioError):
        planner.load_scenario(CORPUS / ("a" * 300 + ".yaml"))


def test_trace_with_bom(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_bytes("\ufefftimestamp_s\n0.1\n0.2\n".encode())
    _parse(BASE.replace("{process: poisson, rate_per_s: 10}", "{process: trace, file: t.csv}"), tmp_path)


def test_parse_scenario_rejects_a_list() -> None:
    with pytest.raises(ScenarioError):
        planner.parse_scenario(["name", "x"], file="x.yaml")  # type: ignore[arg-type]


def test_duplicate_key_names_its_path() -> None:
    with pytest.raises(ScenarioError) as info:
        planner.load_scenario(_path("yaml_duplicate_site"))
    assert info.value.field == "sites.plant"


@pytest.mark.parametrize("args", [["validate"], ["validate", "--bogus"]], ids=["no-files", "bad-option"])
def test_cli_usage_error_exits_2(args: list[str]) -> None:
    r = subprocess.run([*_planner_cmd(), *args], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 2, r.stderr
    assert "internal error" not in r.stderr and "Traceback" not in r.stderr
