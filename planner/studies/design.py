"""What a study runs: scenario variants (a file, with `--set` values applied) times seeds.

A run is one (variant, seed). Its id is a stable hash of the variant's whole scenario mapping
and the seed, so the same study started again finds the runs it already finished, and a run
is never confused with one of a different scenario.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from planner.errors import PlannerError, ScenarioError
from planner.scenario import _parse_yaml, parse_scenario
from planner.studies.paths import get_path, set_path

#: The top-level key of a sweep declared in the scenario file (stripped before validation).
SWEEP_KEY = "sweep"


@dataclass(frozen=True)
class RunSpec:
    """One run: a scenario mapping to validate, plan and simulate with `seed`.

    `error` holds the reason when the variant could not be loaded or validated: such a run is
    recorded as failed without being sent anywhere.
    """

    run_id: str
    file: str
    base_dir: str
    data: Mapping[str, Any] | None
    params: Mapping[str, Any]
    replication: int
    seed: int
    error: str = ""


@dataclass
class Study:
    """The runs of a study, in order, and the swept paths (the parameter columns)."""

    runs: list[RunSpec]
    paths: list[str] = field(default_factory=list)

    @property
    def valid(self) -> list[RunSpec]:
        return [r for r in self.runs if not r.error]

    def __repr__(self) -> str:
        return f"Study({len(self.runs)} runs, {len(self.runs) - len(self.valid)} invalid, swept {self.paths})"


def run_id(data: Mapping[str, Any] | None, seed: int, file: str = "", error: str = "") -> str:
    """A stable 16-hex-digit id of (scenario mapping, seed); for an unreadable file, of its name."""
    key = {"scenario": data, "seed": seed} if data is not None else {"file": file, "error": error, "seed": seed}
    text = json.dumps(key, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def read_raw(path: str | Path) -> dict[str, Any]:
    """The scenario file as a plain mapping (duplicate keys and bad YAML are ScenarioErrors)."""
    p = Path(path)
    if not p.is_file():
        raise ScenarioError(str(path), "", "file not found" if not p.exists() else "not a file")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ScenarioError(str(path), "", f"cannot read file: {e}") from None
    data = _parse_yaml(text, str(path))
    if not isinstance(data, dict):
        raise ScenarioError(str(path), "", "expected a mapping of fields at the top level")
    return data


def declared_sweep(data: dict[str, Any], file: str) -> tuple[dict[str, list[Any]], int | None]:
    """Pop the `sweep:` block from a raw scenario mapping: ({path: [values]}, replications).

    Format: ``sweep: {set: {links.0.uplink_mbps: [50, 100, 200]}, replications: 3}``; a single
    value stands for a list of one (to set a list, give a list of lists).
    """
    block = data.pop(SWEEP_KEY, None)
    if block is None:
        return {}, None
    if not isinstance(block, dict):
        raise ScenarioError(file, SWEEP_KEY, "expected a mapping with 'set' and 'replications'")
    unknown = set(block) - {"set", "replications"}
    if unknown:
        raise ScenarioError(file, f"{SWEEP_KEY}.{sorted(unknown)[0]}", "unknown field (use 'set' and 'replications')")
    sets = block.get("set") or {}
    if not isinstance(sets, dict):
        raise ScenarioError(file, f"{SWEEP_KEY}.set", "expected a mapping of PATH: [values]")
    out: dict[str, list[Any]] = {}
    for path, values in sets.items():
        vals = values if isinstance(values, list) else [values]
        if not vals:
            raise ScenarioError(file, f"{SWEEP_KEY}.set.{path}", "no values to sweep")
        out[str(path)] = vals
    reps = block.get("replications")
    if reps is not None and (not isinstance(reps, int) or isinstance(reps, bool) or reps < 1):
        raise ScenarioError(file, f"{SWEEP_KEY}.replications", f"expected a whole number of at least 1, got {reps!r}")
    return out, reps


def grid(sets: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the swept values, the first path varying slowest."""
    paths = list(sets)
    return [dict(zip(paths, combo)) for combo in itertools.product(*(sets[p] for p in paths))]


#: Longest failure reason kept: one line, enough to name the cause.
MAX_REASON_CHARS = 500


def one_line(e: BaseException) -> str:
    """An exception as one short line: its type (unless ours) and message, whitespace folded."""
    text = " ".join(str(e).split())
    if not isinstance(e, PlannerError):
        text = f"{type(e).__name__}: {text}" if text else type(e).__name__
    return text[:MAX_REASON_CHARS]


def _base_seed(data: Mapping[str, Any]) -> int:
    seed = data.get("seed", 0)
    # An invalid seed is caught by validation; 0 keeps the id computable until then.
    return seed if isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0 else 0


def _check_numbers(params: Mapping[str, Any], file: str) -> None:
    # NaN and inf from `--set x=.nan` would make the run id unstable; the model rejects them anyway.
    for path, v in params.items():
        if isinstance(v, float) and not math.isfinite(v):
            raise PlannerError(f"{file}: --set '{path}': {v} is not a finite number")


def expand_file(file: str | Path, sets: Mapping[str, Sequence[Any]] | None = None,
                replications: int | None = None) -> Study:
    """The runs of one scenario file: its declared sweep overridden by `sets`, times replications.

    A bad path raises `PlannerError` (it is wrong for every variant). A value the model rejects
    makes that variant's runs invalid (recorded as failed); when no variant is valid the first
    error is raised instead, since there is nothing to run.
    """
    name = str(file)
    data = read_raw(file)
    declared, declared_reps = declared_sweep(data, name)
    merged = {**declared, **{k: list(v) for k, v in (sets or {}).items()}}
    for path, values in merged.items():
        if not values:
            raise PlannerError(f"{name}: --set '{path}': no values")
    reps = replications if replications is not None else (declared_reps or 1)
    if reps < 1:
        raise PlannerError(f"--replications {reps}: expected at least 1")
    base_dir = str(Path(file).resolve().parent)
    runs: list[RunSpec] = []
    first_error: PlannerError | None = None
    for params in grid(merged):
        _check_numbers(params, name)
        variant = data
        for path, value in params.items():
            try:
                variant = set_path(variant, path, value)
            except PlannerError as e:  # name the file too: the path is wrong in this file
                raise PlannerError(f"{name}: {e}") from None
        error = ""
        try:
            parse_scenario(variant, file=name, base_dir=base_dir)
        except PlannerError as e:
            first_error = first_error or e
            error = one_line(e)
        seed0 = _base_seed(variant)
        for r in range(reps):
            seed = seed0 + r
            runs.append(RunSpec(run_id(variant, seed), name, base_dir, variant, params, r, seed, error))
    if runs and all(r.error for r in runs) and first_error is not None:
        raise first_error
    return Study(runs, list(merged))


def expand_batch(files: Sequence[str | Path], replications: int | None = None) -> Study:
    """The runs of many scenario files (each with its declared sweep, if any).

    A file that cannot be read or validated becomes one failed run per seed rather than
    stopping the batch; when no file is usable, the first error is raised.
    """
    if not files:
        raise PlannerError("no scenario files given")
    runs: list[RunSpec] = []
    paths: list[str] = []
    first_error: PlannerError | None = None
    for f in files:
        try:
            study = expand_file(f, None, replications)
        except ScenarioError as e:  # unreadable or wholly invalid file: record, go on
            first_error = first_error or e
            reps = replications or 1
            runs.extend(RunSpec(run_id(None, r, str(f), str(e)), str(f), str(Path(f).resolve().parent), None, {}, r, r,
                                one_line(e)) for r in range(reps))
            continue
        runs.extend(study.runs)
        paths.extend(p for p in study.paths if p not in paths)
    if all(r.error for r in runs) and first_error is not None:
        raise first_error
    return Study(runs, paths)


def dedupe(runs: Sequence[RunSpec]) -> list[RunSpec]:
    """Drop repeated run ids (the same file twice in a batch), keeping the first."""
    seen: set[str] = set()
    out = []
    for r in runs:
        if r.run_id not in seen:
            seen.add(r.run_id)
            out.append(r)
    return out


__all__ = ["RunSpec", "Study", "run_id", "one_line", "read_raw", "declared_sweep", "grid", "expand_file", "expand_batch",
           "dedupe", "get_path", "SWEEP_KEY"]
