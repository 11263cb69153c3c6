"""Running one study run, and running many on local processes or a Dask cluster.

`execute_run` is the one function every backend calls, in a worker process or on a Dask
worker, so the same (scenario, seed) gives the same rows wherever it runs. It never raises
for a failing run: the failure becomes a row with status `failed` and its reason.
"""
from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import pandas as pd

from planner.errors import PlannerError
from planner.studies.design import MAX_REASON_CHARS, RunSpec, one_line

#: What one run does: (validated scenario, seed) -> a row per workload. Must be a module-level
#: function, so worker processes and Dask workers can import it by name.
Runner = Callable[[Any, int], pd.DataFrame]

#: Columns every run's rows start with, in this order; the parameter columns follow them.
RUN_COLUMNS = ["run_id", "file", "scenario", "params", "replication", "seed", "status", "reason", "wall_s"]


class RunFailed(PlannerError):
    """A run that cannot go on, with the reason recorded in its row (e.g. no feasible placement)."""


def plan_and_simulate(scenario: Any, seed: int) -> pd.DataFrame:
    """The default run: `planner.run` with `seed` (plan, simulate, tighten what missed: the same
    verdict as `planner run` and the app), returning the final simulated summary (a row per
    workload) with the plan's figures and the verdict beside it."""
    import planner

    result = planner.run(scenario, seed=seed)
    p = result.plan
    if not p.feasible or result.sim is None:  # a plan that leaves workloads out is no answer
        conflicts = "; ".join(p.conflicts[:3]) or "; ".join(p.table()["violations"].dropna()[:3]) or p.status
        raise RunFailed(f"no feasible placement ({conflicts})")
    rows = result.sim.summary()
    table = p.table()
    planned = table[[c for c in ("workload", "site", "precision", "predicted_p99_ms") if c in table.columns]]
    rows = rows.merge(planned.rename(columns={"site": "planned_site"}), on="workload", how="left")
    if len(result.agreement):
        rows = rows.merge(result.agreement[["workload", "verdict"]], on="workload", how="left")
    rows["plan_feasible"] = bool(p.feasible)
    rows["plan_monthly_cost_usd"] = float(p.monthly_cost_usd)
    rows["run_ok"] = result.ok
    rows["run_verdict"] = result.verdict
    rows["rounds"] = len(result.rounds)
    return rows


def params_key(params: dict[str, Any]) -> str:
    """The parameters as canonical JSON: one string per parameter set, for grouping."""
    return json.dumps(params, sort_keys=True, default=str, separators=(", ", ": "))


def param_column(path: str) -> str:
    """The column that holds a swept path's value: the path itself, unless it would shadow
    one of the run's own columns (sweeping `seed`), then `param:PATH`."""
    return f"param:{path}" if path in RUN_COLUMNS or path in ("workload",) else path


def label_rows(spec: RunSpec, rows: pd.DataFrame | None, status: str, reason: str, wall_s: float,
               scenario: str) -> pd.DataFrame:
    """The run's rows with its id, parameters, seed and status in front (one row if none)."""
    df = rows.reset_index(drop=True) if rows is not None and len(rows) else pd.DataFrame({"workload": [None]})
    front = {"run_id": spec.run_id, "file": spec.file, "scenario": scenario, "params": params_key(dict(spec.params)),
             "replication": spec.replication, "seed": spec.seed, "status": status, "reason": reason,
             "wall_s": wall_s}
    for path, value in spec.params.items():
        # Lists and mappings (a swept list of precisions) go in as JSON text: Parquet wants one type.
        front[param_column(path)] = json.dumps(value) if isinstance(value, (list, dict)) else value
    head = pd.DataFrame({k: [v] * len(df) for k, v in front.items()})
    return pd.concat([head, df.drop(columns=[c for c in front if c in df.columns])], axis=1)


def execute_run(spec: RunSpec, runner: Runner | None = None) -> pd.DataFrame:
    """Validate, plan and simulate one run; a row per workload. Never raises for a failing run."""
    from planner.scenario import parse_scenario

    start_s = time.perf_counter()
    name = _scenario_name(spec)
    if spec.error or spec.data is None:
        return label_rows(spec, None, "failed", spec.error or "no scenario", 0.0, name)
    try:
        sc = parse_scenario(spec.data, file=spec.file, base_dir=spec.base_dir)
        rows = (runner or plan_and_simulate)(sc, spec.seed)
    except Exception as e:  # a failing run is data, not a reason to stop the study
        return label_rows(spec, None, "failed", one_line(e), time.perf_counter() - start_s, name)
    return label_rows(spec, rows, "ok", "", time.perf_counter() - start_s, sc.name)


def failed_frame(spec: RunSpec, reason: str) -> pd.DataFrame:
    """The row of a run whose worker died or was lost (the run itself never reported)."""
    return label_rows(spec, None, "failed", reason[:MAX_REASON_CHARS], math.nan, _scenario_name(spec))


def _scenario_name(spec: RunSpec) -> str:
    """The scenario's `name` as written in the file (also for a variant that fails validation)."""
    return str(spec.data.get("name", "")) if isinstance(spec.data, dict) else ""


# --------------------------------------------------------------------------- backends
# Each backend starts its runs when called (so a bad scheduler address fails before any
# progress bar, and local workers fork before the bar's thread exists) and returns an
# iterator of (spec, rows) in the order the runs finish.
Results = Iterator[tuple[RunSpec, pd.DataFrame]]


def run_local(specs: Sequence[RunSpec], runner: Runner | None, workers: int | None) -> Results:
    """Start the runs on a pool of local processes (default: one per core).

    Processes, not threads: a simulation is pure Python and holds the GIL. A worker that dies
    (killed, out of memory) breaks the pool; the runs it took down are tried again one at a
    time in a fresh pool, and recorded as failed if they break that too.
    """
    if not specs:
        return iter(())
    n_workers = max(1, min(workers or os.cpu_count() or 1, len(specs)))
    pool = _pool(n_workers)
    pending = {pool.submit(execute_run, s, runner): s for s in specs}
    return _local_results(pool, pending, runner)


def _local_results(pool: ProcessPoolExecutor, pending: dict[Future, RunSpec], runner: Runner | None) -> Results:
    broken: list[RunSpec] = []
    yield from _drain(pool, pending, broken)
    for spec in broken:
        solo = _pool(1)
        again: list[RunSpec] = []
        yield from _drain(solo, {solo.submit(execute_run, spec, runner): spec}, again)
        for s in again:
            yield s, failed_frame(s, "the worker process died while running it")


def _drain(pool: ProcessPoolExecutor, pending: dict[Future, RunSpec], broken: list[RunSpec]) -> Results:
    """Yield the pool's results as they come; runs lost to a broken pool go to `broken`."""
    try:
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                spec = pending.pop(fut)
                try:
                    rows = fut.result()
                except BrokenProcessPool:
                    broken.append(spec)
                    continue
                except Exception as e:  # e.g. a result that cannot be pickled back
                    rows = failed_frame(spec, one_line(e))
                yield spec, rows
    except BaseException:
        # Stopped early (Ctrl-C, a write error): runs in flight are ended now rather than
        # waited for (a simulation may take minutes), queued ones are dropped.
        _end_workers(pool)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _pool(n_workers: int) -> ProcessPoolExecutor:
    """A process pool whose workers end when this process does (see `_worker_init`)."""
    return ProcessPoolExecutor(max_workers=n_workers, mp_context=_mp_context(), initializer=_worker_init,
                               initargs=(os.getpid(),))


#: How often a worker checks that the process that started it is still there.
PARENT_CHECK_S = 0.5


def _worker_init(parent_pid: int) -> None:
    """In each worker: ignore Ctrl-C (the parent handles it and ends the workers, so the terminal
    shows one line, not a traceback per worker) and exit when the parent is gone.

    A parent killed with `kill -9` cannot end its workers, and a worker busy in a simulation
    never reads the closed queue; so a daemon thread compares the parent pid (a worker is
    re-parented when its parent dies) and exits the worker. No prctl: this works on any POSIX.
    """
    import signal
    import threading

    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:
        while True:
            if os.getppid() != parent_pid:
                os._exit(1)
            time.sleep(PARENT_CHECK_S)

    threading.Thread(target=watch, name="planner-parent-watch", daemon=True).start()


def _end_workers(pool: ProcessPoolExecutor) -> None:
    """Terminate the pool's worker processes (ProcessPoolExecutor has no public way)."""
    for proc in list((getattr(pool, "_processes", None) or {}).values()):
        try:
            proc.terminate()
        except (OSError, ValueError):  # already gone
            pass


def _mp_context() -> Any:
    """'fork' while this process has a single thread, so workers start warm; else 'spawn'.

    Fork copies the parent's imports and caches (catalogs, cost estimates), which saves each
    worker a second or more; it is unsafe once the parent runs other threads (a progress bar,
    a Dask client), whose locks the child could inherit held, so then workers start clean.
    """
    import multiprocessing as mp
    import threading

    if "fork" in mp.get_all_start_methods() and threading.active_count() == 1:
        return mp.get_context("fork")
    return mp.get_context("spawn")


def run_dask(specs: Sequence[RunSpec], runner: Runner | None, scheduler: Any) -> Results:
    """Start the runs on a Dask cluster (`scheduler`: an address such as tcp://host:8786, or a
    `distributed.Client`). Workers must be able to import `planner` (and `runner`)."""
    try:
        from distributed import Client
    except ImportError:
        raise PlannerError("--scheduler needs dask.distributed: pip install 'hybrid-placement-planner[cluster]'") from None
    own = not isinstance(scheduler, Client)
    if own:
        try:
            client = Client(scheduler, timeout="10s", set_as_default=False)
        except (OSError, TimeoutError, ValueError) as e:
            raise PlannerError(f"--scheduler {scheduler}: cannot reach the Dask scheduler ({one_line(e)})") from None
    else:
        client = scheduler
    # The run id names the task (seen in the dashboard); pure=False so nothing is merged or cached.
    futures = {client.submit(execute_run, s, runner, key=f"planner-run-{s.run_id}", pure=False): s for s in specs}
    return _dask_results(client, futures, own)


def _dask_results(client: Any, futures: dict[Any, RunSpec], own: bool) -> Results:
    from distributed import as_completed

    try:
        for fut in as_completed(list(futures), loop=client.loop):
            spec = futures[fut]
            try:
                rows = fut.result()
            except Exception as e:  # KilledWorker, a lost connection: the run is lost, not the study
                rows = failed_frame(spec, f"the Dask worker failed: {one_line(e)}")
            fut.release()
            yield spec, rows
    finally:
        for fut in futures:  # stopped early: cancel what has not run
            if not fut.done():
                fut.cancel()
        if own:
            client.close()
