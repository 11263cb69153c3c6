"""The `planner` command. It calls the public API only and holds no modelling logic.

Exit codes: 0 success with a feasible plan; 2 bad input (one line naming the file, the field and
the reason); 3 the work ran but the plan is not feasible, or the simulation missed an SLO or
measured nothing (every output is still written); 130 interrupted (Ctrl-C); 1 an internal error,
which is a bug (set PLANNER_DEBUG=1 for the traceback).

Everything printed passes through planner.safe: names from a scenario cannot reach the terminal
as control characters, nor a spreadsheet as formulas.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

import planner
from planner.errors import PlannerError, one_line
from planner.safe import csv_frame, money, terminal_frame, terminal_text

#: Exit codes (see the module docstring).
EXIT_OK, EXIT_BAD_INPUT, EXIT_NOT_MET, EXIT_INTERRUPTED = 0, 2, 3, 130

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Where should each AI workload run, edge or cloud? Plan it, simulate it, prove it.",
)

FORMATS = ("table", "csv", "json")


def _echo(text: object = "", err: bool = False) -> None:
    """typer.echo with control characters escaped (names come from scenario files)."""
    typer.echo(terminal_text(text), err=err)


def _print_frame(df, fmt: str = "table") -> None:
    """Print a DataFrame as an aligned table, CSV or JSON records (text cells made safe)."""
    if fmt == "csv":
        sys.stdout.write(csv_frame(terminal_frame(df)).to_csv(index=False))
    elif fmt == "json":
        sys.stdout.write(df.to_json(orient="records", indent=2) + "\n")
    else:
        import pandas as pd

        with pd.option_context("display.max_rows", None, "display.max_columns", None, "display.width", 200,
                               "display.max_colwidth", 60):
            typer.echo(terminal_frame(df).to_string(index=False))


def _check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise typer.BadParameter(f"'{fmt}' is not one of {', '.join(FORMATS)}", param_hint="--format")
    return fmt


def _load(file: Path, simulate: bool = True) -> planner.Scenario:
    """Load and validate a scenario, and check it against the limits (planner.limits) before any
    work starts; `simulate=False` skips the limits on simulated work."""
    from planner.limits import LimitError, check_limits
    from planner.studies.design import read_raw

    try:
        read_raw(file)  # counts YAML nodes before validation walks an alias bomb
    except LimitError:
        raise
    except PlannerError:
        pass  # load_scenario reports it in its own words
    sc = planner.load_scenario(file)
    check_limits(sc, file=str(file), simulate=simulate)
    return sc


class _Working:
    """A spinner with the elapsed time on stderr while long work runs (only on a terminal)."""

    def __init__(self, what: str):
        self.what = what
        self._status = None

    def __enter__(self) -> _Working:
        if sys.stderr.isatty():
            from rich.console import Console

            self._status = Console(file=sys.stderr).status(terminal_text(self.what))
            self._status.__enter__()
        return self

    def update(self, what: str) -> None:
        if self._status is not None:
            self._status.update(terminal_text(what))
        else:
            _echo(what, err=True)

    def __exit__(self, *exc: object) -> None:
        if self._status is not None:
            self._status.__exit__(*exc)


@app.command()
def validate(files: Annotated[list[Path], typer.Argument(help="Scenario YAML files.")]) -> None:
    """Check scenario files: format, catalog ids, references and routes."""
    failed = 0
    for f in files:
        try:
            sc = _load(f)
        except PlannerError as e:
            _echo(f"error: {one_line(str(e))}", err=True)
            failed += 1
            continue
        _echo(f"ok {f}: {len(sc.sites)} sites, {len(sc.links)} links, {len(sc.workloads)} workloads")
    if failed:
        raise typer.Exit(EXIT_BAD_INPUT)


@app.command()
def schema() -> None:
    """Print the JSON Schema of the scenario format (for editors)."""
    typer.echo(json.dumps(planner.json_schema(), indent=2))


@app.command("catalog")
def catalog_cmd(
    kind: Annotated[str, typer.Argument(help="hardware | networks | models")] = "hardware",
    fmt: Annotated[str, typer.Option("--format", help="table | csv | json")] = "table",
) -> None:
    """List the catalog's hardware, networks or models, with the source of each row."""
    from planner import catalog

    kinds = ("hardware", "networks", "models")
    if kind not in kinds:
        from planner.errors import did_you_mean

        hint = did_you_mean(kind, kinds)
        raise PlannerError(f"unknown catalog '{kind}' (one of {', '.join(kinds)})" + (f"; {hint}" if hint else ""))
    _print_frame(catalog.table(kind), _check_format(fmt))


@app.command()
def estimate(
    model: Annotated[str, typer.Argument(help="A zoo model id or a path to an .onnx file.")],
    hardware: Annotated[str, typer.Argument(help="A catalog hardware id, 'host', or a profiled name.")],
    precision: Annotated[str, typer.Option(help="fp32 | fp16 | bf16 | int8 | int4")] = "fp32",
    batch: Annotated[int, typer.Option(min=1, help="Batch size.")] = 1,
    training: Annotated[bool, typer.Option("--training", help="One training step instead of inference.")] = False,
    measure: Annotated[bool, typer.Option("--measure", help="Time the model on this machine (host only).")] = False,
    fmt: Annotated[str, typer.Option("--format", help="table | json")] = "table",
) -> None:
    """Latency, throughput, memory and energy of a model on a piece of hardware, and their source."""
    e = planner.estimate(model, hardware, precision=precision, batch=batch, training=training, measure=measure)
    if fmt == "json":
        from dataclasses import asdict

        typer.echo(json.dumps(asdict(e), indent=2, default=str))
        return
    _check_format(fmt)
    what = "training step" if training else "inference"
    _echo(f"{e.model} on {e.hardware} at {e.precision}, batch {e.batch} ({what})")
    _echo(f"  latency      {e.latency_ms:12.3f} ms")
    _echo(f"  throughput   {e.throughput_per_s:12.1f} samples/s")
    _echo(f"  memory       {e.memory_gb:12.3f} GB{'' if e.fits else '  (does not fit)'}")
    _echo(f"  energy       {e.energy_j:12.4f} J per batch")
    _echo(f"  source       {e.source}")
    if e.note:  # e.g. a host profile taken on another machine: suggests `planner profile`
        _echo(f"  note         {e.note}")


@app.command()
def profile(
    as_name: Annotated[str, typer.Option("--as", help="Name to save this machine's profile under.")] = "host",
    quick: Annotated[bool, typer.Option("--quick", help="A reduced grid (under a minute).")] = False,
) -> None:
    """Time kernels on this machine and write data/profiles/NAME.csv (then usable as hardware NAME)."""
    if not as_name or not all(c.isalnum() or c in "-_." for c in as_name):
        raise PlannerError(f"--as '{as_name}': use letters, digits, '-', '_' or '.'")
    path = planner.profile(as_name, quick=quick)
    _echo(f"wrote {path}; use hardware '{as_name}' in scenarios and `planner estimate`")


PLAN_COLUMNS = ["workload", "site", "hardware", "precision", "predicted_p99_ms", "slo_p99_ms", "monthly_cost_usd",
                "utilization", "ok", "source"]


def _print_plan(p, fmt: str) -> None:
    t = p.table()
    if fmt == "json":
        cost = p.monthly_cost_usd
        out = {"scenario": p.scenario.name, "status": p.status, "feasible": p.feasible,
               "monthly_cost_usd": cost if cost == cost else None, "conflicts": p.conflicts,
               "workloads": json.loads(t.to_json(orient="records"))}
        typer.echo(json.dumps(out, indent=2))
        return
    if fmt == "csv":
        _print_frame(t, "csv")
        return
    verdict = "feasible" if p.feasible else "NOT feasible"
    placed = f"{len(p.placement)}/{len(p.scenario.workloads)} workloads placed"
    _echo(f"{p.scenario.name}: {verdict}, {money(p.monthly_cost_usd)}, {placed} ({p.status}, objective {p.scenario.objective})")
    for c in p.conflicts:
        _echo(f"  conflict: {c}")
    if p.options:
        _print_frame(t[PLAN_COLUMNS].round(2), "table")
        _echo("")
        for _, row in t.iterrows():
            _echo(f"{row['workload']}: {row['reason']}")
            if row["violations"]:
                _echo(f"  violates: {row['violations']}")


@app.command("plan")
def plan_cmd(
    file: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    fmt: Annotated[str, typer.Option("--format", help="table | csv | json")] = "table",
    objective: Annotated[Optional[str], typer.Option(help="cost | latency | energy (default: the scenario's).")] = None,
) -> None:
    """Choose where every workload runs, and say why."""
    _check_format(fmt)
    if objective is not None and objective not in ("cost", "latency", "energy"):
        raise PlannerError(f"--objective '{objective}' is not one of cost, latency, energy")
    sc = _load(file, simulate=False)
    with _Working("planning"):
        p = planner.plan(sc, objective=objective)
    _print_plan(p, fmt)
    _exit_feasible(p)


def _exit_feasible(p) -> None:
    """Exit 3 when the plan is not feasible (its outputs are already written)."""
    if not p.feasible:
        raise typer.Exit(EXIT_NOT_MET)


@app.command()
def evaluate(
    file: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    placement: Annotated[Path, typer.Option(help="Placement YAML: workload -> {site, hardware, precision}.")],
    fmt: Annotated[str, typer.Option("--format", help="table | csv | json")] = "table",
) -> None:
    """The analytical verdict on a placement given by hand."""
    from planner.placement import load_placement

    _check_format(fmt)
    sc = _load(file, simulate=False)
    p = planner.evaluate(sc, load_placement(sc, placement))
    _print_plan(p, fmt)
    _exit_feasible(p)


@app.command()
def pareto(
    file: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    points: Annotated[int, typer.Option(min=2, max=50, help="Latency bounds to try.")] = 8,
    fmt: Annotated[str, typer.Option("--format", help="table | csv | json")] = "table",
) -> None:
    """The front of monthly cost against rate-weighted p99 latency."""
    _check_format(fmt)
    sc = _load(file, simulate=False)
    with _Working("tracing the front"):
        front = planner.pareto(sc, points=points)
    _print_frame(front, fmt)


@app.command()
def simulate(
    file: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    placement: Annotated[Optional[Path], typer.Option(help="Placement YAML: workload -> {site, hardware, precision}.")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Random seed (default: the scenario's).")] = None,
    trace: Annotated[Optional[Path], typer.Option(help="Write a sampled per-request trace (Parquet).")] = None,
    trace_sample: Annotated[float, typer.Option(min=0.0, max=1.0, help="Share of requests traced.")] = 0.01,
    fmt: Annotated[str, typer.Option("--format", help="table | csv | json")] = "table",
) -> None:
    """Simulate a scenario under a placement (given by hand, or planned when omitted)."""
    from planner.placement import load_placement

    from planner.report import agreement_sentence, simulated_verdicts

    _check_format(fmt)
    sc = _load(file)
    if placement is not None:
        chosen = load_placement(sc, placement)
    else:
        with _Working("planning"):
            chosen = planner.plan(sc)
        if not chosen.placement:  # nothing to simulate: say why, as `plan` would
            _print_plan(chosen, "table")
            raise typer.Exit(EXIT_NOT_MET)
    kwargs = {"trace_path": trace, "trace_sample": trace_sample} if trace else {}
    with _Working(f"simulating {sc.horizon_s:g} s"):
        result = planner.simulate(sc, chosen, seed=sc.seed if seed is None else seed, **kwargs)
    summary = result.summary()
    _print_frame(summary, fmt)
    verdicts = simulated_verdicts(summary)
    if fmt == "table":
        _echo("\n" + agreement_sentence(verdicts))
    else:
        _echo(agreement_sentence(verdicts), err=True)
    if (verdicts["verdict"] != "met").any() or (placement is None and not chosen.feasible):
        raise typer.Exit(EXIT_NOT_MET)


@app.command()
def run(
    file: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    out: Annotated[Optional[Path], typer.Option(help="Folder for the plan, the simulated summary and report.html.")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Random seed (default: the scenario's).")] = None,
    rounds: Annotated[int, typer.Option(min=1, max=10, help="Plan-simulate rounds at most.")] = 3,
) -> None:
    """Plan, simulate, tighten what missed its SLO, and report."""
    sc = _load(file)
    with _Working("planning and simulating") as working:
        result = planner.run(sc, out, seed=seed, max_rounds=rounds, progress=lambda i, n, msg: working.update(msg))
    _print_plan(result.plan, "table")
    if result.sim is not None:
        _echo("\nSimulated:")
        _print_frame(result.sim.summary().round(2), "table")
        _echo("\n" + result.sentence)
    else:
        _echo("\nNot simulated: no workload could be placed.")
    if out is not None:
        _echo(f"wrote {', '.join(p.name for p in result.written)} to {out}")
    agree = result.agreement
    if not result.plan.feasible or result.sim is None or (len(agree) and (agree["verdict"] != "met").any()):
        raise typer.Exit(EXIT_NOT_MET)


def _print_study(df, out: Path) -> None:
    """One line of counts, the summary table, and each distinct failure reason; exit 3 when
    every run failed (nothing was measured)."""
    from planner.studies import summarize

    runs = df.drop_duplicates("run_id")
    failed = runs[runs["status"] != "ok"]
    info = df.attrs.get("study", {})
    _echo(f"{len(runs)} run{'s' if len(runs) != 1 else ''}: {len(runs) - len(failed)} ok, {len(failed)} failed "
               f"({info.get('skipped', 0)} already done, {info.get('ran', 0)} run on {info.get('backend', '?')})")
    summary = summarize(df)
    cols = [c for c in summary.columns if c not in ("file", "params") and not c.endswith("_n")]
    if len(summary) and "workload" in summary:
        _print_frame(summary[cols].round(3), "table")
    for reason, n in failed["reason"].value_counts().items():
        _echo(f"failed ({n} run{'s' if n > 1 else ''}): {reason}")
    _echo(f"wrote results.parquet, summary.parquet, summary.csv to {out}")
    if len(runs) and len(failed) == len(runs):
        raise typer.Exit(EXIT_NOT_MET)


@app.command("batch")
def batch_cmd(
    files: Annotated[list[Path], typer.Argument(help="Scenario YAML files (each with its `sweep:` block, if any).")],
    out: Annotated[Path, typer.Option(help="Folder for runs/, results.parquet and the summary; a rerun resumes.")],
    replications: Annotated[Optional[int], typer.Option(min=1, help="Seeds per scenario: its seed, seed+1, ...")] = None,
    scheduler: Annotated[Optional[str], typer.Option(help="Dask scheduler address (default: local processes).")] = None,
    workers: Annotated[Optional[int], typer.Option(min=1, help="Local processes (default: one per core).")] = None,
    retry_failed: Annotated[bool, typer.Option("--retry-failed", help="Run again the runs recorded as failed.")] = False,
    progress: Annotated[bool, typer.Option(help="Progress bar on stderr (when it is a terminal).")] = True,
    max_runs: Annotated[Optional[int], typer.Option("--max-runs", min=1, help="Allow a study of more than 10,000 runs.")] = None,
) -> None:
    """Run many scenario files, each planned then simulated; results in Parquet."""
    df = planner.batch(files, out, replications=replications, scheduler=scheduler, workers=workers,
                       progress=progress and sys.stderr.isatty(), retry_failed=retry_failed, max_runs=max_runs)
    _print_study(df, out)


@app.command("sweep")
def sweep_cmd(
    file: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    out: Annotated[Path, typer.Option(help="Folder for runs/, results.parquet and the summary; a rerun resumes.")],
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="PATH=V1,V2: a dotted path and its values (repeatable).")] = None,
    replications: Annotated[Optional[int], typer.Option(min=1, help="Seeds per variant: its seed, seed+1, ...")] = None,
    scheduler: Annotated[Optional[str], typer.Option(help="Dask scheduler address (default: local processes).")] = None,
    workers: Annotated[Optional[int], typer.Option(min=1, help="Local processes (default: one per core).")] = None,
    retry_failed: Annotated[bool, typer.Option("--retry-failed", help="Run again the runs recorded as failed.")] = False,
    progress: Annotated[bool, typer.Option(help="Progress bar on stderr (when it is a terminal).")] = True,
    max_runs: Annotated[Optional[int], typer.Option("--max-runs", min=1, help="Allow a study of more than 10,000 runs.")] = None,
) -> None:
    """Run a scenario over every combination of --set values, each plan simulated per seed."""
    from planner.studies import parse_set

    df = planner.sweep(file, set=parse_set(set_ or []), replications=replications, out_dir=out, scheduler=scheduler,
                       workers=workers, progress=progress and sys.stderr.isatty(), retry_failed=retry_failed,
                       max_runs=max_runs)
    _print_study(df, out)


def main() -> None:
    """Entry point: run the app; user errors become one line and exit code 2, Ctrl-C exit 130."""
    try:
        rc = app(standalone_mode=False)  # returns a typer.Exit's code instead of raising it
    except PlannerError as e:
        _echo(f"error: {one_line(str(e))}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    except typer.Exit as e:
        rc = e.exit_code
    except (typer.Abort, KeyboardInterrupt):
        rc = EXIT_INTERRUPTED
    except Exception as e:  # click's usage errors and our own bugs
        # typer may bundle its own click: find ClickException through BadParameter's bases.
        click_exc = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")
        if isinstance(e, click_exc):
            e.show()
            sys.exit(e.exit_code)
        if os.environ.get("PLANNER_DEBUG"):
            raise
        _echo(f"internal error: {type(e).__name__}: {one_line(str(e))} (set PLANNER_DEBUG=1 for the traceback)", err=True)
        sys.exit(1)
    if rc == EXIT_INTERRUPTED:  # typer turns Ctrl-C into a silent Exit(130): say so, in one line
        _echo("interrupted", err=True)
    sys.exit(rc if isinstance(rc, int) else 0)


if __name__ == "__main__":
    main()
