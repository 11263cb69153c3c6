"""Time kernels on this machine and write `data/profiles/<name>.csv`.

Inference kernels are timed where they will run: probe graphs of single (and fused) ops in
onnxruntime, with the same thread count and optimization level as a model gets, read from
onnxruntime's own per-node profile so a kernel is timed in its real layout (NCHWc, reorders)
without the per-run overhead. That overhead, the per-node dispatch cost and the profiler's
own cost are measured apart and stored in the header, so a model counts them once. Training
kernels (forward and backward) are timed in numpy, and in PyTorch when it is installed.

Each CSV row is one timed kernel: its features (`features.COLUMNS`), `us` (mean of its fastest
tenth of runs), `us_median` (what the estimator prices with), `us_p10`/`us_p90` (spread), `runs`,
`runtime` and `precision`. Timings wait for idle cores (`QuietGate`), and every probe graph is
timed in two passes a few minutes apart (the mean of the quiet ones is kept).
"""
from __future__ import annotations

import datetime as _dt
import os
import platform
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np

from planner.costs.features import COLUMNS
from planner.costs.machine import this_machine
from planner.costs.measure.peaks import measure_mem_bw_gb_per_s, measure_peak_gflops, mem_gb
from planner.costs.measure.probes import design, probe_models
from planner.costs.measure.quiet import QuietGate
from planner.costs.measure.runtime import measure_overheads, nchwc_block, run_probe
from planner.costs.measure.session import threads
from planner.costs.measure.train_kernels import training_rows
from planner.errors import PlannerError
from planner.paths import profile_dir

TIME_COLUMNS = ("us", "us_median", "us_p10", "us_p90", "runs", "runtime", "precision")


# -- the profile file ----------------------------------------------------------------------------------

def header(name: str, extra: dict) -> dict[str, object]:
    """A profile's header: the machine it was taken on (`costs.machine`: CPU, instruction sets,
    cores, library versions; the estimator compares it with the machine that reads the profile),
    when, and `extra` (the measured peaks and overheads)."""
    return {"hardware": name, **this_machine().header(), "threads": threads(), "mem_gb": mem_gb(),
            "date": _dt.date.today().isoformat(), "python": platform.python_version(),
            "platform": platform.platform(), "tier": "edge", "kind": "cpu", **extra}


def write_profile(path: Path, head: dict, rows: list[dict]) -> Path:
    """Header lines `# key: value`, then the CSV; written to a temporary file and renamed."""
    import pandas as pd

    path.parent.mkdir(parents=True, exist_ok=True)
    df = pd.DataFrame(rows, columns=list(COLUMNS) + list(TIME_COLUMNS))
    for col in ("us", "us_median", "us_p10", "us_p90", "flops"):
        df[col] = df[col].astype(float).round(3)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "w") as fh:
        for k, v in head.items():
            fh.write(f"# {k}: {v}\n")
        df.to_csv(fh, index=False)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private; a profile is shared like any data file
    os.replace(tmp, path)
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _row_key(row: dict) -> tuple:
    return tuple(row[c] for c in COLUMNS)


def _combine(attempts: list[tuple[list[dict], bool]]) -> list[dict]:
    """One probe graph's rows from its timed attempts, matched by their features (a session may
    run independent branches in another order): the mean of the quiet attempts, else the
    fastest of all."""
    groups: dict[tuple, list[list[dict]]] = {}
    for rows, quiet in attempts:
        per_key: dict[tuple, list[dict]] = defaultdict(list)
        for r in rows:
            per_key[_row_key(r)].append(r)
        for key, rs in per_key.items():
            groups.setdefault(key, []).append((rs, quiet))  # type: ignore[arg-type]
    out = []
    for key, tries in groups.items():
        quiet = [rs for rs, q in tries if q]  # type: ignore[misc]
        pool = quiet or [rs for rs, _ in tries]  # type: ignore[misc]
        n = min(len(rs) for rs in pool)
        for j in range(n):
            same = [rs[j] for rs in pool]
            row = dict(same[0])
            if quiet:
                for col in ("us", "us_median", "us_p10", "us_p90"):
                    row[col] = float(np.mean([r[col] for r in same]))
            else:
                row = dict(min(same, key=lambda r: r["us"]))
            row["runs"] = int(sum(r["runs"] for r in same))
            out.append(row)
    return out


def profile(name: str = "host", *, quick: bool = False, out_dir: Path | None = None,
            log: Callable[[str], None] | None = None) -> Path:
    """Time kernels on this machine; write `<out_dir or profile_dir()>/<name>.csv` and return its path.
    `quick` runs a reduced grid (under a minute); the full grid takes several minutes."""
    if not name or any(c in name for c in "/\\ ") or name.startswith("."):
        raise PlannerError(f"profile name '{name}' must be a plain identifier such as my-box")
    try:
        import onnxruntime  # noqa: F401
    except ImportError as exc:
        raise PlannerError(f"profiling needs onnxruntime: {exc}") from None
    say = log or (lambda msg: None)
    t0 = time.perf_counter()
    block = nchwc_block()
    runs = [measure_overheads(block, quick) for _ in range(1 if quick else 3)]
    over = {k: float(np.median([r[k] for r in runs])) for k in runs[0]}
    say(f"overheads: {over}")
    fam = design(quick)
    min_runs, min_s = (4, 0.02) if quick else (10, 0.2)
    probes = list(probe_models(fam, per_graph=16 if quick else 10))
    gate = QuietGate(max_wait_s=1.0 if quick else 30.0, budget_s=5.0 if quick else 300.0)
    # two passes at different times: a kernel's figures are the mean of its quiet passes (the
    # machine's speed drifts by several percent over minutes), or its faster pass if none was quiet
    passes: list[list[tuple[list[dict], bool]]] = [[] for _ in probes]
    loud = 0
    for attempt in range(1 if quick else 2):
        for i, (family, model) in enumerate(probes):
            for _ in range(1 if quick else 3):  # timed while others were busy: try again later
                gate.wait()
                got, load = run_probe(model, block, min_runs=min_runs, min_s=min_s)
                passes[i].append((got, load <= gate.max_cores))
                if load <= gate.max_cores:
                    break
            else:
                loud += 1
            if i % 10 == 0:
                say(f"pass {attempt + 1}, {family}: graph {i + 1}/{len(probes)} "
                    f"({time.perf_counter() - t0:.0f} s, waited {gate.waited_s:.0f} s)")
    rows: list[dict] = [r for p in passes for r in _combine(p)]
    rows.extend(training_rows(quick))
    bw = measure_mem_bw_gb_per_s(64 if quick else 256)
    rates = [r["flops"] / r["us"] / 1e3 for r in rows
             if r["runtime"] == "onnxruntime" and r["cls"] in ("gemm", "conv_kxk", "conv_1x1") and r["us"] > 50]
    ort_best = float(np.percentile(rates, 98)) if rates else 0.0  # a high quantile, not one lucky timing
    peak = max(measure_peak_gflops(1024 if quick else 2048), ort_best)
    head = header(name, {"mem_bw_gb_per_s": bw, "peak_fp32_tflops": round(peak / 1e3, 4),
                         "precisions": "fp32", "nchwc_block": block, **over,
                         "tdp_w": round(10.0 * (os.cpu_count() or 1), 1), "idle_w": round(2.0 * (os.cpu_count() or 1), 1),
                         "power_basis": "assumed: 10 W per core busy, 2 W per core idle (no power meter read)",
                         "quick": quick, "profile_s": round(time.perf_counter() - t0, 1),
                         "waited_for_quiet_s": round(gate.waited_s, 1), "graphs_timed_under_load": loud,
                         "rows": len(rows)})
    out = Path(out_dir) if out_dir is not None else profile_dir()
    return write_profile(out / f"{name}.csv", head, rows)


def main(argv: list[str] | None = None) -> int:
    """python -m planner.costs.measure.profiler [NAME] [--quick]"""
    args = list(sys.argv[1:] if argv is None else argv)
    quick = "--quick" in args
    names = [a for a in args if not a.startswith("--")]
    path = profile(names[0] if names else "host", quick=quick, log=lambda m: print(m, flush=True))
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
