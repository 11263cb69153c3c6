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

# Only names `planner` exports: the CLI is a front end over the public API.
PlannerError = planner.PlannerError
one_line = planner.errors.one_line
csv_frame, money = planner.safe.csv_frame, planner.safe.money
terminal_frame, terminal_text = planner.safe.terminal_frame, planner.safe.terminal_text

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


@app.callback()
def _options(
    wide: Annotated[bool, typer.Option("--wide", help="Show every column of tables, long text included.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress or notes on stderr; errors only.")] = False,
) -> None:
    """Where should each AI workload run, edge or cloud? Plan it, simulate it, prove it."""
    SETTINGS.update(wide=wide, quiet=quiet)


def _echo(text: object = "", err: bool = False) -> None:
    """typer.echo with control characters escaped (names come from scenario files); with --quiet,
    nothing goes to stderr but errors (see `main`)."""
    if err and SETTINGS["quiet"]:
        return
    typer.echo(terminal_text(text), err=err)


#: Columns of free text a terminal table folds away unless `--wide` is given (CSV and JSON keep all).
LONG_TEXT = ("source", "basis", "note", "notes", "reason", "violations", "placement")
#: Set by the `--wide` and `--quiet` options of the app (see `_options`).
SETTINGS = {"wide": False, "quiet": False}


def _cell(v: object) -> str:
    """A table cell as text: small shares keep their digits (0.0013 is not 0.0), and so do shares
    near 1 (an availability of 0.9999 is not 1), NaN is blank."""
    if v is None or (isinstance(v, float) and v != v):
        return ""
    if isinstance(v, float):
        if v == 0 or abs(v) >= 100:
            return f"{v:,.0f}" if abs(v) >= 100 else "0"
        if 0.99 <= v < 1:
            return f"{v:.6g}"
        return f"{v:.3g}"
    return str(v)


def _print_frame(df, fmt: str = "table") -> None:
    """Print a DataFrame as a table that fits the terminal (rich; long text columns dropped unless
    --wide, the rest folded), CSV or JSON records (text cells made safe)."""
    if fmt == "csv":
        sys.stdout.write(csv_frame(terminal_frame(df)).to_csv(index=False))
    elif fmt == "json":
        sys.stdout.write(df.to_json(orient="records", indent=2) + "\n")
    else:
        from rich.console import Console
        from rich.table import Table

        df = terminal_frame(df)
        dropped = [c for c in df.columns if c in LONG_TEXT and not SETTINGS["wide"]]
        table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
        shown = [c for c in df.columns if c not in dropped]
        for i, c in enumerate(shown):  # the first column names the row: never folded
            table.add_column(str(c), overflow="fold", no_wrap=i == 0)
        for row in df[shown].itertuples(index=False):
            table.add_row(*(_cell(v) for v in row))
        # a pipe gets the terminal's width if there is one, else 120 columns
        width = None if sys.stdout.isatty() else int(os.environ.get("COLUMNS", 120))
        Console(file=sys.stdout, width=width, highlight=False, markup=False, soft_wrap=False).print(table)
        if dropped:
            _echo(f"({', '.join(dropped)} not shown: --wide shows every column, --format csv writes them all)")


def _check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise typer.BadParameter(f"'{fmt}' is not one of {', '.join(FORMATS)}", param_hint="--format")
    return fmt


def _load(file: Path, simulate: bool = True) -> planner.Scenario:
    """Load and validate a scenario, and check it against the limits (planner.limits) before any
    work starts; `simulate=False` skips the limits on simulated work."""
    sc = planner.load_scenario(file)  # aliases are bounded before validation walks them
    planner.check_limits(sc, file=str(file), simulate=simulate)
    return sc


class _Working:
    """A spinner with the elapsed time on stderr while long work runs (only on a terminal)."""

    def __init__(self, what: str):
        self.what = what
        self._status = None

    def __enter__(self) -> _Working:
        if sys.stderr.isatty() and not SETTINGS["quiet"]:
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
    kind: Annotated[str, typer.Argument(help="hardware | networks | models | availability | accuracy")] = "hardware",
    fmt: Annotated[str, typer.Option("--format", help="table | csv | json")] = "table",
) -> None:
    """List the catalog's hardware, networks, models, cloud availability SLAs or accuracy figures, with the
    source of each row."""
    catalog = planner.catalog
    kinds = ("hardware", "networks", "models", "availability", "accuracy")
    if kind not in kinds:
        hint = planner.errors.did_you_mean(kind, kinds)
        raise PlannerError(f"unknown catalog '{kind}' (one of {', '.join(kinds)})" + (f"; {hint}" if hint else ""))
    table = catalog.table(kind)
    if fmt == "table" and not SETTINGS["wide"]:  # the columns a reader compares first; --wide shows all
        table = table[[c for c in table.columns if c in CATALOG_COLUMNS[kind]] + ["basis", "source"]]
    _print_frame(table, _check_format(fmt))


#: The catalog columns a terminal table shows without --wide.
CATALOG_COLUMNS = {
    "hardware": ("id", "kind", "tier", "peak_fp16_tflops", "peak_int8_tops", "mem_gb", "mem_bw_gb_per_s", "tdp_w",
                 "price_usd", "usd_per_hour"),
    "networks": ("id", "downlink_mbps", "uplink_mbps", "rtt_ms", "jitter_ms", "loss_pct", "medium"),
    "models": ("id", "family", "variant_family", "params_millions", "gflops", "input_bytes", "output_bytes", "max_context"),
    "availability": ("provider", "scope", "availability", "mttr_h", "mttr_basis"),
    "accuracy": ("model", "precision", "metric", "value"),
}


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
    _echo(f"  latency      {e.latency_ms:12.3f} ms   (80% interval {e.latency_ms_low:.3f} to {e.latency_ms_high:.3f} ms)")
    _echo(f"  throughput   {e.throughput_per_s:12.1f} samples/s")
    _echo(f"  memory       {e.memory_gb:12.3f} GB{'' if e.fits else '  (does not fit)'}")
    _echo(f"  energy       {e.energy_j:12.4f} J per batch")
    _echo(f"  source       {e.source}")
    if e.accuracy is not None:  # the catalog's task metric at this precision (WER as word accuracy)
        _echo(f"  accuracy     {e.accuracy:12.4f} {e.accuracy_metric}")
    for label, value, unit in (("TTFT", e.ttft_ms, "ms"), ("TPOT", e.tpot_ms, "ms"), ("tokens/s", e.tokens_per_s, ""),
                               ("step", e.step_ms, "ms"), ("samples/s", e.samples_per_s, "")):
        if value is not None:  # language models and training steps
            _echo(f"  {label:<12} {value:12.3f} {unit}".rstrip())
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


PLAN_COLUMNS = ["workload", "site", "hardware", "precision", "predicted_p99_ms", "p99_ms_low", "p99_ms_high", "slo_p99_ms",
                "monthly_cost_usd",
                "utilization", "ok", "source"]
FLEET_COLUMNS = ["fleet", "workload", "where", "hardware", "precision", "model", "members", "split_by"]


def _print_plan(p, fmt: str, members: bool = False) -> None:
    t = p.table()
    if fmt == "json":
        cost = p.monthly_cost_usd
        out = {"scenario": p.scenario.name, "status": p.status, "feasible": p.feasible,
               "monthly_cost_usd": cost if cost == cost else None, "conflicts": p.conflicts,
               "workloads": json.loads(t.to_json(orient="records"))}
        if p.scenario.fleets:
            out["fleets"] = json.loads(p.fleet_summary().to_json(orient="records"))
        typer.echo(json.dumps(out, indent=2))
        return
    if fmt == "csv":
        _print_frame(t, "csv")
        return
    verdict = "feasible" if p.feasible else "NOT feasible"
    placed = f"{len(p.placement)}/{len(p.scenario.workloads)} workloads placed"
    _echo(f"{p.scenario.name}: {verdict}, {money(p.monthly_cost_usd)}, {placed} ({p.status}, objective {p.scenario.objective})")
    shown_conflicts = p.conflicts if members or len(p.conflicts) <= 20 else p.conflicts[:20]
    for c in shown_conflicts:
        _echo(f"  conflict: {c}")
    if len(shown_conflicts) < len(p.conflicts):
        _echo(f"  ... and {len(p.conflicts) - len(shown_conflicts)} more (--members lists them all)")
    if not p.options:
        return
    if p.scenario.fleets:  # fleets first, as a summary: how many members run where, and what splits them
        _echo("")
        _echo("Fleets:")
        fs = p.fleet_summary()
        _print_frame(fs[FLEET_COLUMNS], "table")
        if not members:
            t = t[t["fleet"].isna()]  # the other workloads; --members adds one row per member
            _echo("(one row per fleet member with --members)")
    if len(t):
        _echo("")
        cols = PLAN_COLUMNS
        if t["slo_availability"].notna().any():  # an availability objective: its figure beside the p99
            cols = [*cols[:6], "predicted_availability", "slo_availability", *cols[6:]]
        if t["llm_split"].notna().any():  # a language model across the boundary: its mode beside the precision
            cols = [*cols[:4], "llm_split", *cols[4:]]
        if p.scenario.names_kv_precision:
            cols = [*cols[:4], "kv_precision", *cols[4:]]  # a KV cache named or chosen: beside the precision
        if any(w.accuracy_floor is not None or w.family for w in p.scenario.workloads.values()):
            cols = [*cols[:1], "model", *cols[1:4], "accuracy", "min_accuracy", *cols[4:]]  # what the floors chose
        _print_frame(t[cols], "table")
        _echo("")
        for _, row in t.iterrows():
            _echo(f"{row['workload']}: {row['reason']}")
            if row["violations"]:
                _echo(f"  violates: {row['violations']}")


@app.command("plan")
def plan_cmd(
    file: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    fmt: Annotated[str, typer.Option("--format", help="table | csv | json")] = "table",
    objective: Annotated[Optional[str], typer.Option(help="cost | latency | energy | carbon (default: the scenario's).")] = None,
    members: Annotated[bool, typer.Option("--members", help="A row per fleet member (fleets are summarised).")] = False,
    robust: Annotated[bool, typer.Option("--robust", help="Plan with the high end of each estimate's 80% interval "
                                                          "(as `robust: true` in the scenario).")] = False,
) -> None:
    """Choose where every workload runs, and say why."""
    _check_format(fmt)
    if objective is not None and objective not in ("cost", "latency", "energy", "carbon"):
        raise PlannerError(f"--objective '{objective}' is not one of cost, latency, energy, carbon")
    sc = _load(file, simulate=False)
    if robust:
        sc = sc.model_copy(update={"robust": True})
    with _Working("planning"):
        p = planner.plan(sc, objective=objective)
    _print_plan(p, fmt, members)
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
    _check_format(fmt)
    sc = _load(file, simulate=False)
    p = planner.evaluate(sc, planner.load_placement(sc, placement))
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
    day: Annotated[bool, typer.Option("--day", help="Run each hour of the day (24 runs of the horizon, each from "
                                                     "that hour's arrivals and instances); judge the worst hour.")] = False,
) -> None:
    """Simulate a scenario under a placement (given by hand, or planned when omitted)."""
    agreement_sentence, simulated_verdicts = planner.report.agreement_sentence, planner.report.simulated_verdicts

    _check_format(fmt)
    sc = _load(file)
    if placement is not None:
        chosen = planner.load_placement(sc, placement)
    else:
        with _Working("planning"):
            chosen = planner.plan(sc)
        if not chosen.placement:  # nothing to simulate: say why, as `plan` would
            _print_plan(chosen, "table")
            raise typer.Exit(EXIT_NOT_MET)
    kwargs = {"trace_path": trace, "trace_sample": trace_sample} if trace else {}
    seed = sc.seed if seed is None else seed
    if day:
        if trace:
            raise typer.BadParameter("--trace writes one run's requests: leave it out with --day", param_hint="--trace")
        with _Working(f"simulating 24 hours of {sc.horizon_s:g} s") as working:
            result = planner.simulate_day(sc, chosen, seed=seed, progress=lambda f: working.update(f"{f:.0%} of the day"))
        summary, judged = result.summary(), result.worst_hours()
    else:
        with _Working(f"simulating {sc.horizon_s:g} s"):
            result = planner.simulate(sc, chosen, seed=seed, **kwargs)
        summary = judged = result.summary()
    _print_frame(summary, fmt)
    verdicts = simulated_verdicts(judged)
    said = agreement_sentence(verdicts) + (f" (each workload at its worst hour; the day's monthly cost "
                                           f"${result.monthly_cost_usd:,.2f})" if day else "")
    if fmt == "table":
        _echo("\n" + said)
    else:
        _echo(said, err=True)
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
        _print_frame(result.sim.summary(), "table")
        _echo("\n" + result.sentence)
    else:
        _echo("\nNot simulated: no workload could be placed.")
    if out is not None:
        _echo(f"wrote {', '.join(p.name for p in result.written)} to {out}")
    _echo(f"verdict: {result.verdict}")
    if not result.ok or result.sim is None:
        raise typer.Exit(EXIT_NOT_MET)


def _print_study(df, out: Path) -> None:
    """One line of counts, the summary table, and each distinct failure reason; exit 3 when
    every run failed (nothing was measured)."""
    summarize = planner.studies.summarize

    runs = df.drop_duplicates("run_id")
    failed = runs[runs["status"] != "ok"]
    info = df.attrs.get("study", {})
    _echo(f"{len(runs)} run{'s' if len(runs) != 1 else ''}: {len(runs) - len(failed)} ok, {len(failed)} failed "
               f"({info.get('skipped', 0)} already done, {info.get('ran', 0)} run on {info.get('backend', '?')})")
    summary = summarize(df)
    cols = [c for c in summary.columns if c not in ("file", "params") and not c.endswith("_n")]
    if len(summary) and "workload" in summary:
        _print_frame(summary[cols], "table")
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
    parse_set = planner.studies.parse_set

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
