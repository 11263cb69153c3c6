"""Planned against simulated: per workload, whether its SLOs held, and the sentence that says so.

Shared by `planner run` (which tightens what missed), the CLI, the app and the report.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

#: Completed requests a p99 needs to mean anything: with fewer, the 99th percentile is (nearly)
#: the largest value seen, and a verdict on it is a guess.
MIN_REQUESTS_FOR_P99 = 100


def agreement(plan: Any, sim: Any) -> pd.DataFrame:
    """Planned against simulated p99 per inference workload (and TTFT and TPOT for language
    models): the ratio, whether every SLO held, and `slo_ratio`, the smallest SLO / simulated
    p99 over the objectives (< 1 where one was missed). `predicted_availability` and
    `simulated_availability` (answered within the SLO, outages included) stand beside them as
    figures, not verdicts: a horizon of minutes rarely holds an outage.

    `verdict` is `met`, `missed` or `unmeasured` (no request completed: nothing to judge, and
    never counted as met); `few_requests` flags a verdict on fewer than `MIN_REQUESTS_FOR_P99`.
    """
    t = plan.table()
    s = sim.summary()
    df = t[["workload", "predicted_p99_ms", "slo_p99_ms", "predicted_ttft_ms", "slo_ttft_ms", "predicted_tpot_ms",
            "slo_tpot_ms", "predicted_availability"]].merge(
        s[["workload", "p99_ms", "ttft_p99_ms", "tpot_p99_ms", "slo_met_frac", "completed", "failed", "availability"]],
        on="workload", how="inner")
    df = df[df["predicted_p99_ms"].notna()].rename(columns={
        "p99_ms": "simulated_p99_ms", "ttft_p99_ms": "simulated_ttft_ms", "tpot_p99_ms": "simulated_tpot_ms",
        "availability": "simulated_availability"})
    df = df.astype({c: float for c in df.columns if c.startswith(("slo_", "predicted_", "simulated_"))})
    df["sim_over_predicted"] = df["simulated_p99_ms"] / df["predicted_p99_ms"]
    ratios = pd.concat([(df[f"slo_{m}_ms"] / df[f"simulated_{m}_ms"]).rename(m) for m in ("p99", "ttft", "tpot")], axis=1)
    df["slo_ratio"] = ratios.min(axis=1, skipna=True).fillna(math.inf)
    measured = pd.to_numeric(df["completed"], errors="coerce").fillna(0) > 0
    df["verdict"] = np.where(~measured, "unmeasured", np.where(df["slo_ratio"] >= 1.0, "met", "missed"))
    df["slo_met"] = df["verdict"] == "met"
    df["few_requests"] = pd.to_numeric(df["completed"], errors="coerce").fillna(0) < MIN_REQUESTS_FOR_P99
    return df.reset_index(drop=True)


def agreement_sentence(df: pd.DataFrame) -> str:
    """One line that states how well the analytical plan matched the simulation, and what it
    could not judge (workloads with no or too few completed requests)."""
    if df.empty:
        return "No inference workload to compare."
    verdict = df["verdict"] if "verdict" in df else np.where(df["slo_met"], "met", "missed")
    verdict = pd.Series(verdict, index=df.index)
    judged = df[verdict != "unmeasured"]
    if judged.empty:
        return (f"Nothing measured: no request of the {len(df)} workload(s) completed within the horizon, "
                "so no SLO is claimed met.")
    r = (judged["sim_over_predicted"] if "sim_over_predicted" in judged else pd.Series(dtype=float)).replace(
        [math.inf, -math.inf], math.nan).dropna()
    met = int((verdict == "met").sum())
    text = f"{met}/{len(df)} workloads met their p99 SLO in simulation."
    if not r.empty:
        text = (f"Simulated p99 was {r.median():.2f}× the planned p99 at the median (range {r.min():.2f}× to "
                f"{r.max():.2f}×); " + text)
    unmeasured = list(df.loc[verdict == "unmeasured", "workload"])
    if unmeasured:
        text += f" Not measured (no request completed): {_listed(map(str, unmeasured))}."
    if "few_requests" in df:
        few = df[(verdict != "unmeasured") & df["few_requests"]]
        if len(few):
            listed = _listed(f"{w} ({int(c)})" for w, c in zip(few["workload"], few["completed"]))
            text += (f" Too few requests for a p99 (under {MIN_REQUESTS_FOR_P99} completed): {listed}; "
                     "lengthen horizon_s.")
    return text


#: Names a sentence lists at most (a fleet has thousands of instances); the rest are counted.
MAX_LISTED = 8


def _listed(names: Any) -> str:
    """`a, b, c` or `a, b, ... and 192 more`."""
    names = list(names)
    more = len(names) - MAX_LISTED
    return ", ".join(names[:MAX_LISTED]) + (f" and {more:,} more" if more > 0 else "")


def simulated_verdicts(summary: pd.DataFrame) -> pd.DataFrame:
    """Per inference workload of a simulated summary: `verdict` (`met`, `missed`, `unmeasured`
    when no request completed) and `few_requests`. For a placement with no plan to compare."""
    inf = summary[summary["kind"] == "inference"] if "kind" in summary else summary
    completed = pd.to_numeric(inf["completed"], errors="coerce").fillna(0)
    missed = pd.Series(False, index=inf.index)
    for got, slo in (("p99_ms", "slo_ms"), ("ttft_p99_ms", "ttft_slo_ms"), ("tpot_p99_ms", "tpot_slo_ms")):
        if got in inf and slo in inf:
            missed |= pd.to_numeric(inf[got], errors="coerce") > pd.to_numeric(inf[slo], errors="coerce")
    verdict = np.where(completed <= 0, "unmeasured", np.where(missed, "missed", "met"))
    return pd.DataFrame({"workload": inf["workload"].to_numpy(), "verdict": verdict,
                         "completed": completed.to_numpy(), "few_requests": (completed < MIN_REQUESTS_FOR_P99).to_numpy()})
