"""The `planner` command. It calls the public API only and holds no modelling logic.

Exit codes: 0 success, 2 bad input (one line naming the file, the field and the reason),
1 an internal error (set PLANNER_DEBUG=1 for the traceback).
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

import planner
from planner.errors import PlannerError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Where should each AI workload run, edge or cloud? Plan it, simulate it, prove it.",
)

FORMATS = ("table", "csv", "json")


def _print_frame(df, fmt: str = "table") -> None:
    """Print a DataFrame as an aligned table, CSV or JSON records."""
    if fmt == "csv":
        sys.stdout.write(df.to_csv(index=False))
    elif fmt == "json":
        sys.stdout.write(df.to_json(orient="records", indent=2) + "\n")
    else:
        import pandas as pd

        with pd.option_context("display.max_rows", None, "display.max_columns", None, "display.width", 200,
                               "display.max_colwidth", 60):
            typer.echo(df.to_string(index=False))


def _check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise typer.BadParameter(f"'{fmt}' is not one of {', '.join(FORMATS)}", param_hint="--format")
    return fmt


@app.command()
def validate(files: Annotated[list[Path], typer.Argument(help="Scenario YAML files.")]) -> None:
    """Check scenario files: format, catalog ids, references and routes."""
    failed = 0
    for f in files:
        try:
            sc = planner.load_scenario(f)
        except PlannerError as e:
            typer.echo(f"error: {e}", err=True)
            failed += 1
            continue
        typer.echo(f"ok {f}: {len(sc.sites)} sites, {len(sc.links)} links, {len(sc.workloads)} workloads")
    if failed:
        raise typer.Exit(2)


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
    typer.echo(f"{e.model} on {e.hardware} at {e.precision}, batch {e.batch} ({what})")
    typer.echo(f"  latency      {e.latency_ms:12.3f} ms")
    typer.echo(f"  throughput   {e.throughput_per_s:12.1f} samples/s")
    typer.echo(f"  memory       {e.memory_gb:12.3f} GB{'' if e.fits else '  (does not fit)'}")
    typer.echo(f"  energy       {e.energy_j:12.4f} J per batch")
    typer.echo(f"  source       {e.source}")
    if e.note:  # e.g. a host profile taken on another machine: suggests `planner profile`
        typer.echo(f"  note         {e.note}")


@app.command()
def profile(
    as_name: Annotated[str, typer.Option("--as", help="Name to save this machine's profile under.")] = "host",
    quick: Annotated[bool, typer.Option("--quick", help="A reduced grid (under a minute).")] = False,
) -> None:
    """Time kernels on this machine and write data/profiles/NAME.csv (then usable as hardware NAME)."""
    if not as_name or not all(c.isalnum() or c in "-_." for c in as_name):
        raise PlannerError(f"--as '{as_name}': use letters, digits, '-', '_' or '.'")
    path = planner.profile(as_name, quick=quick)
    typer.echo(f"wrote {path}; use hardware '{as_name}' in scenarios and `planner estimate`")


PLAN_COLUMNS = ["workload", "site", "hardware", "precision", "predicted_p99_ms", "slo_p99_ms", "monthly_cost_usd",
                "utilization", "ok", "source"]


def _print_plan(p, fmt: str) -> None:
    t = p.table()
    if fmt == "json":
        out = {"scenario": p.scenario.name, "status": p.status, "feasible": p.feasible,
               "monthly_cost_usd": p.monthly_cost_usd, "conflicts": p.conflicts,
               "workloads": json.loads(t.to_json(orient="records"))}
        typer.echo(json.dumps(out, indent=2))
        return
    if fmt == "csv":
        _print_frame(t, "csv")
        return
    verdict = "feasible" if p.feasible else "NOT feasible"
    typer.echo(f"{p.scenario.name}: {verdict}, ${p.monthly_cost_usd:,.0f}/month ({p.status}, objective {p.scenario.objective})")
    for c in p.conflicts:
        typer.echo(f"  conflict: {c}")
    if p.options:
        _print_frame(t[PLAN_COLUMNS].round(2), "table")
        typer.echo("")
        for _, row in t.iterrows():
            typer.echo(f"{row['workload']}: {row['reason']}")
            if row["violations"]:
                typer.echo(f"  violates: {row['violations']}")


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
    sc = planner.load_scenario(file)
    _print_plan(planner.plan(sc, objective=objective), fmt)


@app.command()
def evaluate(
    file: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    placement: Annotated[Path, typer.Option(help="Placement YAML: workload -> {site, hardware, precision}.")],
    fmt: Annotated[str, typer.Option("--format", help="table | csv | json")] = "table",
) -> None:
    """The analytical verdict on a placement given by hand."""
    from planner.placement import load_placement

    _check_format(fmt)
    sc = planner.load_scenario(file)
    _print_plan(planner.evaluate(sc, load_placement(sc, placement)), fmt)


@app.command()
def pareto(
    file: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    points: Annotated[int, typer.Option(min=2, max=50, help="Latency bounds to try.")] = 8,
    fmt: Annotated[str, typer.Option("--format", help="table | csv | json")] = "table",
) -> None:
    """The front of monthly cost against rate-weighted p99 latency."""
    _check_format(fmt)
    _print_frame(planner.pareto(planner.load_scenario(file), points=points), fmt)


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

    sc = planner.load_scenario(file)
    _check_format(fmt)
    if placement is not None:
        chosen = load_placement(sc, placement)
    else:
        chosen = planner.plan(sc)
    kwargs = {"trace_path": trace, "trace_sample": trace_sample} if trace else {}
    result = planner.simulate(sc, chosen, seed=sc.seed if seed is None else seed, **kwargs)
    _print_frame(result.summary(), fmt)


@app.command()
def run(
    file: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    out: Annotated[Optional[Path], typer.Option(help="Folder for the plan, the simulated summary and report.html.")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Random seed (default: the scenario's).")] = None,
    rounds: Annotated[int, typer.Option(min=1, max=10, help="Plan-simulate rounds at most.")] = 3,
) -> None:
    """Plan, simulate, tighten what missed its SLO, and report."""
    sc = planner.load_scenario(file)
    result = planner.run(sc, out, seed=seed, max_rounds=rounds,
                         progress=lambda i, n, msg: typer.echo(msg, err=True))
    _print_plan(result.plan, "table")
    if result.sim is not None:
        typer.echo("\nSimulated:")
        _print_frame(result.sim.summary().round(2), "table")
        typer.echo("\n" + result.sentence)
    if out is not None:
        typer.echo(f"wrote {', '.join(p.name for p in result.written)} to {out}")


def _print_study(df, out: Path) -> None:
    """One line of counts, the summary table, and each distinct failure reason."""
    from planner.studies import summarize

    runs = df.drop_duplicates("run_id")
    failed = runs[runs["status"] != "ok"]
    info = df.attrs.get("study", {})
    typer.echo(f"{len(runs)} run{'s' if len(runs) != 1 else ''}: {len(runs) - len(failed)} ok, {len(failed)} failed "
               f"({info.get('skipped', 0)} already done, {info.get('ran', 0)} run on {info.get('backend', '?')})")
    summary = summarize(df)
    cols = [c for c in summary.columns if c not in ("file", "params") and not c.endswith("_n")]
    if len(summary) and "workload" in summary:
        _print_frame(summary[cols].round(3), "table")
    for reason, n in failed["reason"].value_counts().items():
        typer.echo(f"failed ({n} run{'s' if n > 1 else ''}): {reason}")
    typer.echo(f"wrote results.parquet, summary.parquet, summary.csv to {out}")


@app.command("batch")
def batch_cmd(
    files: Annotated[list[Path], typer.Argument(help="Scenario YAML files (each with its `sweep:` block, if any).")],
    out: Annotated[Path, typer.Option(help="Folder for runs/, results.parquet and the summary; a rerun resumes.")],
    replications: Annotated[Optional[int], typer.Option(min=1, help="Seeds per scenario: its seed, seed+1, ...")] = None,
    scheduler: Annotated[Optional[str], typer.Option(help="Dask scheduler address (default: local processes).")] = None,
    workers: Annotated[Optional[int], typer.Option(min=1, help="Local processes (default: one per core).")] = None,
    retry_failed: Annotated[bool, typer.Option("--retry-failed", help="Run again the runs recorded as failed.")] = False,
    progress: Annotated[bool, typer.Option(help="Progress bar on stderr (when it is a terminal).")] = True,
) -> None:
    """Run many scenario files, each planned then simulated; results in Parquet."""
    df = planner.batch(files, out, replications=replications, scheduler=scheduler, workers=workers,
                       progress=progress and sys.stderr.isatty(), retry_failed=retry_failed)
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
) -> None:
    """Run a scenario over every combination of --set values, each plan simulated per seed."""
    from planner.studies import parse_set

    df = planner.sweep(file, set=parse_set(set_ or []), replications=replications, out_dir=out, scheduler=scheduler,
                       workers=workers, progress=progress and sys.stderr.isatty(), retry_failed=retry_failed)
    _print_study(df, out)


def main() -> None:
    """Entry point: run the app, turning user errors into one line and exit code 2."""
    try:
        rc = app(standalone_mode=False)  # returns a typer.Exit's code instead of raising it
    except PlannerError as e:
        typer.echo(f"error: {e}", err=True)
        sys.exit(2)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except typer.Abort:
        typer.echo("aborted", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as e:  # click's usage errors and our own bugs
        # typer may bundle its own click: find ClickException through BadParameter's bases.
        click_exc = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")
        if isinstance(e, click_exc):
            e.show()
            sys.exit(e.exit_code)
        if os.environ.get("PLANNER_DEBUG"):
            raise
        typer.echo(f"internal error: {type(e).__name__}: {e} (set PLANNER_DEBUG=1 for the traceback)", err=True)
        sys.exit(1)
    sys.exit(rc if isinstance(rc, int) else 0)


if __name__ == "__main__":
    main()
