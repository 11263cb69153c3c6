"""Where a study's results live: a Parquet file per run, then the whole table and a summary.

    DIR/runs/<run_id>.parquet   one per finished run (ok or failed), each written atomically
    DIR/results.parquet         every run's rows, in study order
    DIR/summary.parquet, .csv   mean and 95% confidence interval across replications
    DIR/study.json              the manifest, written last: present only beside complete tables

A run file either exists whole or not at all (a temporary file renamed into place), so a study
killed at any moment loses only the runs in flight, and a restart skips every run on disk.
"""
from __future__ import annotations

import io
import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from planner.output import write_atomic
from planner.safe import to_csv
from planner.studies.execute import RUN_COLUMNS, param_column

#: Metrics summarised across replications.
SUMMARY_METRICS = ["p99_ms", "mean_ms", "slo_met_frac", "monthly_cost_usd"]


class RunStore:
    """Run results on disk under `root` (or only in memory when `root` is None)."""

    def __init__(self, root: str | Path | None):
        self.root = Path(root) if root is not None else None
        self._memory: dict[str, pd.DataFrame] = {}

    @property
    def runs_dir(self) -> Path | None:
        return self.root / "runs" if self.root is not None else None

    def path(self, run_id: str) -> Path:
        assert self.runs_dir is not None
        return self.runs_dir / f"{run_id}.parquet"

    def finished(self, run_ids: Iterable[str], retry_failed: bool = False) -> set[str]:
        """The ids among `run_ids` already on disk (readable; failed ones unless retried)."""
        done = {i for i in run_ids if i in self._memory}
        if self.runs_dir is None or not self.runs_dir.is_dir():
            return done
        on_disk = {p.stem for p in self.runs_dir.glob("*.parquet")}
        for rid in set(run_ids) & on_disk:
            if retry_failed and self._failed(rid):
                continue
            done.add(rid)
        return done

    def _failed(self, run_id: str) -> bool:
        try:
            status = pd.read_parquet(self.path(run_id), columns=["status"])["status"]
        except Exception:  # unreadable: treat as failed so a retry rewrites it
            return True
        return bool((status != "ok").any())

    def put(self, run_id: str, rows: pd.DataFrame) -> None:
        """Keep one run's rows: atomically on disk, or in memory without a root."""
        if self.runs_dir is None:
            self._memory[run_id] = rows
            return
        buf = io.BytesIO()
        _parquet_ready(rows).to_parquet(buf, index=False)
        write_atomic(self.path(run_id), buf.getvalue())

    def get(self, run_id: str) -> pd.DataFrame:
        if run_id in self._memory:
            return self._memory[run_id]
        return pd.read_parquet(self.path(run_id))

    def collect(self, run_ids: Sequence[str]) -> pd.DataFrame:
        """Every listed run's rows, in the order given (files of other studies in the same
        folder are left out)."""
        frames = [self.get(rid) for rid in run_ids]
        if not frames:
            return pd.DataFrame(columns=RUN_COLUMNS)
        return _parquet_ready(pd.concat(frames, ignore_index=True, sort=False))

    def write_tables(self, results: pd.DataFrame, summary: pd.DataFrame, meta: dict) -> list[Path]:
        """results.parquet, summary.parquet, summary.csv and study.json under the root."""
        if self.root is None:
            return []
        # study.json is the manifest: gone while the tables change, written last, so when it is
        # there the tables are the ones it describes (a study killed here leaves none).
        (self.root / "study.json").unlink(missing_ok=True)
        out = []
        for name, df in (("results.parquet", results), ("summary.parquet", summary)):
            buf = io.BytesIO()
            _parquet_ready(df).to_parquet(buf, index=False)
            write_atomic(self.root / name, buf.getvalue())
            out.append(self.root / name)
        write_atomic(self.root / "summary.csv", to_csv(summary))
        write_atomic(self.root / "study.json", json.dumps(meta, indent=2, default=str) + "\n")
        return out + [self.root / "summary.csv", self.root / "study.json"]


def _parquet_ready(df: pd.DataFrame) -> pd.DataFrame:
    """Give each object column one type (Parquet's rule): a parameter swept over `100` and
    `fast`, or a column that is a number in some runs and text in others, becomes text."""
    df = df.copy()
    for col in df.columns:
        if df[col].dtype != object:
            continue
        kinds = {type(v) for v in df[col] if v is not None and not (isinstance(v, float) and math.isnan(v))}
        if len(kinds) > 1 and not kinds <= {int, float, np.int64, np.float64}:
            df[col] = df[col].map(lambda v: v if v is None or (isinstance(v, float) and math.isnan(v)) else str(v))
        elif kinds and kinds <= {int, float, np.int64, np.float64}:
            df[col] = pd.to_numeric(df[col])
    return df


# --------------------------------------------------------------------------- summary
def t_quantile_975(dof: int) -> float:
    """The two-sided 95% Student-t quantile for `dof` degrees of freedom."""
    from scipy.stats import t

    return float(t.ppf(0.975, dof))


def mean_ci95(values: Iterable[float]) -> tuple[float, float, int]:
    """(mean, half-width of the 95% confidence interval, n) of the finite values; the
    half-width is t(0.975, n-1) * sd / sqrt(n), NaN with fewer than two values."""
    x = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=float)
    n = len(x)
    if n == 0:
        return math.nan, math.nan, 0
    if n == 1:
        return float(x[0]), math.nan, 1
    return float(x.mean()), t_quantile_975(n - 1) * float(x.std(ddof=1)) / math.sqrt(n), n


def param_columns(results: pd.DataFrame) -> list[str]:
    """The swept parameters' columns, read from the `params` JSON of each run."""
    swept: set[str] = set()
    for text in results["params"].dropna().unique() if "params" in results else ():
        swept.update(param_column(path) for path in json.loads(text))
    return [c for c in results.columns if c in swept]  # in the study's order, not JSON's


def summarize(results: pd.DataFrame, metrics: Sequence[str] = SUMMARY_METRICS) -> pd.DataFrame:
    """Per parameter set and workload, across replications: runs ok and failed, and for each
    metric its mean, the 95% CI half-width and the count (`p99_ms_mean` ± `p99_ms_ci95`)."""
    if results.empty:
        return pd.DataFrame()
    group = ["file", "scenario", "params"]
    keys = ["file", "params", *param_columns(results)]
    runs = results.drop_duplicates("run_id")
    counts = (runs.assign(runs_ok=runs["status"] == "ok", runs_failed=runs["status"] != "ok")
              .groupby(["file", "params"], sort=False)[["runs_ok", "runs_failed"]].sum().reset_index())
    names = runs[runs["scenario"] != ""].drop_duplicates(["file", "params"])[["file", "params", "scenario"]]
    ok = results[(results["status"] == "ok") & results["workload"].notna()]
    rows = []
    for key, g in ok.groupby(keys + ["workload"], dropna=False, sort=False):
        row = dict(zip(keys + ["workload"], key))
        for m in metrics:
            if m in g.columns:
                mean, half, n = mean_ci95(pd.to_numeric(g[m], errors="coerce"))
                row[f"{m}_mean"], row[f"{m}_ci95"], row[f"{m}_n"] = mean, half, n
        rows.append(row)
    # A parameter set whose every run failed still gets a row (workload empty), saying so.
    sets = runs.drop_duplicates(["file", "params"])[keys]
    rank = {k: i for i, k in enumerate(zip(sets["file"], sets["params"]))}
    base = pd.DataFrame(rows)
    seen = set(zip(base["file"], base["params"])) if rows else set()
    unseen = sets[[k not in seen for k in zip(sets["file"], sets["params"])]].assign(workload=None)
    base = pd.concat([base, unseen], ignore_index=True) if rows else unseen
    # Study order: parameter sets as they were listed, workloads as each scenario lists them.
    base = (base.assign(_rank=[rank[k] for k in zip(base["file"], base["params"])])
            .sort_values("_rank", kind="stable").drop(columns="_rank"))
    out = base.merge(names, on=["file", "params"], how="left").merge(counts, on=["file", "params"], how="left")
    front = [c for c in (*group, *keys[2:], "workload", "runs_ok", "runs_failed") if c in out.columns]
    return out[front + [c for c in out.columns if c not in front]]
