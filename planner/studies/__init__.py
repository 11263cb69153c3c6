"""Scripted studies: sweeps of one scenario and batches of scenario files, run on local
processes or a Dask cluster, resumable, with results in Parquet.

    df = planner.sweep("scenarios/smart_factory.yaml", set={"links.0.uplink_mbps": [100, 200]},
                       replications=3, out_dir="out/uplink")     # a row per run and workload
    planner.studies.summarize(df)                                # mean and 95% CI per parameter set

Layout:
    paths.py    dotted paths into the raw scenario (`--set PATH=V1,V2`)
    design.py   variants x seeds -> runs with stable ids; a sweep declared in the file
    execute.py  one run (plan, simulate, rows); local process pool and Dask backends
    store.py    a Parquet file per run written atomically; results and the summary
"""
from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from planner.errors import PlannerError
from planner.studies.design import RunSpec, Study, dedupe, expand_batch, expand_file
from planner.studies.execute import Runner, execute_run, plan_and_simulate, run_dask, run_local
from planner.studies.paths import get_path, parse_assignment, parse_set, parse_value, set_path
from planner.studies.plans import sweep_plans
from planner.studies.store import RunStore, mean_ci95, summarize

__all__ = ["sweep", "sweep_plans", "batch", "run_study", "summarize", "parse_set", "parse_assignment", "set_path", "get_path", "parse_value",
           "expand_file", "expand_batch", "execute_run", "plan_and_simulate", "mean_ci95", "RunSpec", "Study"]


def sweep(scenario_path: str | Path, set: Mapping[str, Sequence[Any] | Any] | None = None,  # noqa: A002 - the CLI's name
          replications: int | None = None, out_dir: str | Path | None = None, scheduler: Any = None,
          workers: int | None = None, progress: bool = False, *, retry_failed: bool = False,
          runner: Runner | None = None, max_runs: int | None = None, simulate: bool = True) -> pd.DataFrame:
    """Run a scenario over every combination of the `set` values, `replications` seeds each.

    `set` maps a dotted path (``workloads.inspection.arrival.rate_per_s``, ``links.0.uplink_mbps``)
    to its values (a single value stands for a list of one); it adds to, and overrides, a
    `sweep:` block declared in the file. Replication r uses the scenario's seed + r.
    Returns a row per run and workload (parameters, seed, status, reason, simulated summary).
    With `out_dir`, each run is saved as it finishes and a rerun resumes; `scheduler` (an
    address or a `distributed.Client`) runs on Dask instead of `workers` local processes.
    A study of more than `max_runs` runs (default planner.limits.MAX_STUDY_RUNS) is refused
    before it starts, as is a variant past the scenario limits (recorded as a failed run).

    With ``simulate=False`` it only plans each parameter set, once, here (`sweep_plans`: a row per
    set with its cost, feasibility and placement); replications, `out_dir` and the backends are
    then not used.
    """
    if not simulate:
        return sweep_plans(scenario_path, set)
    sets = {path: (list(v) if isinstance(v, (list, tuple)) else [v]) for path, v in (set or {}).items()}
    study = expand_file(scenario_path, sets, replications, max_runs)
    return run_study(study, out_dir, scheduler=scheduler, workers=workers, progress=progress,
                     retry_failed=retry_failed, runner=runner)


def batch(files: Sequence[str | Path], out_dir: str | Path | None = None, *, replications: int | None = None,
          scheduler: Any = None, workers: int | None = None, progress: bool = False, retry_failed: bool = False,
          runner: Runner | None = None, max_runs: int | None = None) -> pd.DataFrame:
    """Run each scenario file (with its declared sweep, if any) `replications` times.

    A file that cannot be read or validated is recorded as a failed run and the others go on.
    Otherwise as `sweep`.
    """
    study = expand_batch([Path(f) for f in files], replications, max_runs)
    return run_study(study, out_dir, scheduler=scheduler, workers=workers, progress=progress,
                     retry_failed=retry_failed, runner=runner)


def run_study(study: Study, out_dir: str | Path | None = None, *, scheduler: Any = None, workers: int | None = None,
              progress: bool = False, retry_failed: bool = False, runner: Runner | None = None) -> pd.DataFrame:
    """Run what `study` lists and is not already in `out_dir`; write the results and summary."""
    if workers is not None and workers < 1:
        raise PlannerError(f"--workers {workers}: expected at least 1")
    store = RunStore(out_dir)
    runs = dedupe(study.runs)
    order = [r.run_id for r in runs]
    done = store.finished(order, retry_failed=retry_failed)
    skipped = len(done)
    # Runs known to be invalid need no worker: record them here.
    for spec in runs:
        if spec.error and spec.run_id not in done:
            store.put(spec.run_id, execute_run(spec))
            done.add(spec.run_id)
    todo = [r for r in runs if r.run_id not in done]
    start_s = time.perf_counter()
    results = run_dask(todo, runner, scheduler) if scheduler is not None and todo else run_local(todo, runner, workers)
    with _Progress(len(runs), len(runs) - len(todo), enabled=progress) as bar:
        for spec, rows in results:
            store.put(spec.run_id, rows)
            bar.advance(ok=bool((rows["status"] == "ok").all()))
    table = store.collect(order)
    summary = summarize(table)
    meta = {"runs": len(order), "skipped": skipped, "ran": len(order) - skipped,
            "wall_s": round(time.perf_counter() - start_s, 3), "swept": study.paths,
            "files": sorted({r.file for r in runs}), "backend": _backend_name(scheduler, workers, todo),
            "run_ids": order}
    store.write_tables(table, summary, meta)
    table.attrs["study"] = {k: v for k, v in meta.items() if k != "run_ids"}
    return table


def _backend_name(scheduler: Any, workers: int | None, todo: Sequence[RunSpec]) -> str:
    if scheduler is not None:
        return f"dask {getattr(scheduler, 'scheduler_address', None) or scheduler}"
    return f"local processes ({max(1, min(workers or os.cpu_count() or 1, max(1, len(todo))))})"


class _Progress:
    """A rich progress bar with the time left, on stderr; a no-op when disabled."""

    def __init__(self, total: int, completed: int, enabled: bool):
        self.total, self.completed, self.enabled = total, completed, enabled
        self.failed = 0
        self._bar: Any = None

    def __enter__(self) -> _Progress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

            self._bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("elapsed"), TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn(),
                                 console=Console(file=sys.stderr), transient=False)
            self._bar.start()
            self._task = self._bar.add_task(self._label(), total=self.total, completed=self.completed)
        return self

    def _label(self) -> str:
        return f"runs ({self.failed} failed)" if self.failed else "runs"

    def advance(self, ok: bool) -> None:
        self.failed += 0 if ok else 1
        if self._bar is not None:
            self._bar.update(self._task, advance=1, description=self._label())

    def __exit__(self, *exc: Any) -> None:
        if self._bar is not None:
            self._bar.stop()
