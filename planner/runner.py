"""`run`: plan, simulate, tighten what missed its SLO in simulation, plan again; then report.

The planner knows no simulator and the simulator knows no solver; this module composes them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from planner.limits import check_limits
from planner.plan import Plan, plan
from planner.report import agreement, agreement_sentence, write_report
from planner.scenario import Scenario
from planner.sim import SimResult, simulate

#: How far to tighten a workload's planned p99 when simulation shows it missed, at most.
MIN_MARGIN = 0.2


@dataclass
class RunResult:
    """The final plan, its simulation, how they agree, and the rounds it took."""

    plan: Plan
    sim: SimResult | None
    agreement: pd.DataFrame
    rounds: list[dict[str, Any]] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)

    @property
    def sentence(self) -> str:
        return agreement_sentence(self.agreement) if self.sim is not None else "planned only, not simulated"

    @property
    def ok(self) -> bool:
        """The one verdict every face gives (CLI exit code, app, batches, sweeps): the plan is
        feasible and, when simulated, every workload met its SLOs in simulation."""
        if not self.plan.feasible:
            return False
        if self.sim is None or not len(self.agreement):  # planned only, or nothing to judge
            return True
        return bool((self.agreement["verdict"] == "met").all())

    @property
    def verdict(self) -> str:
        """The verdict in words: feasible or not, and what simulation found."""
        if not self.plan.feasible:
            return "not feasible"
        if self.sim is None:
            return "feasible (planned only, not simulated)"
        if not len(self.agreement):
            return "feasible (nothing to simulate)"
        missed = self.agreement[self.agreement["verdict"] != "met"]
        if missed.empty:
            return "feasible; every workload met its SLOs in simulation"
        return f"feasible on paper; {len(missed)} workload(s) not confirmed in simulation: " + \
            ", ".join(f"{w} ({v})" for w, v in zip(missed["workload"][:5], missed["verdict"][:5]))

    def __repr__(self) -> str:
        return f"RunResult({self.plan!r}, rounds={len(self.rounds)}; {self.verdict})"


def run(scenario: Scenario, out_dir: str | Path | None = None, *, seed: int | None = None, max_rounds: int = 3,
        progress: Any = None, simulate_plan: bool = True) -> RunResult:
    """Plan, then simulate; where a workload misses its p99 SLO in simulation, plan it to a
    tighter p99 (by how far simulation exceeded the prediction) and try again, `max_rounds` at
    most. Writes the plan, the simulated summary and a report with figures into `out_dir` when
    given. This is the one verdict the CLI, the app, batches and sweeps give (`RunResult.ok`);
    `simulate_plan=False` plans only, for a quick look, and says so."""
    check_limits(scenario, simulate=simulate_plan)  # before any work: a limit is an error naming the field
    seed = scenario.seed if seed is None else seed
    margin: dict[str, float] = {}
    rounds: list[dict[str, Any]] = []
    p = plan(scenario)
    sim = None
    agree = pd.DataFrame()
    for i in range(max_rounds if simulate_plan else 0):
        if not p.placement:
            break
        sim = simulate(scenario, p, seed=seed)
        agree = agreement(p, sim)
        missed = agree[agree["verdict"] == "missed"]  # unmeasured: nothing to tighten against
        rounds.append({"round": i + 1, "monthly_cost_usd": p.monthly_cost_usd, "missed": list(missed["workload"])})
        if progress:
            progress(i + 1, max_rounds, f"round {i + 1}: {len(missed)} workload(s) missed their SLO in simulation")
        if missed.empty or i == max_rounds - 1:
            break
        for row in missed.itertuples():
            # Plan it to the p99 that, as optimistic as the analysis proved here, lands within the
            # SLO: the SLO over how far simulation exceeded the prediction (and never looser than
            # the last round's margin tightened by the miss).
            ratio = row.slo_ratio if 0 < row.slo_ratio < 1 else 0.5
            tighter = margin.get(row.workload, 1.0) * min(ratio, 0.9)
            over = getattr(row, "sim_over_predicted", math.nan)
            if over > 1 and math.isfinite(over):
                tighter = min(tighter, 0.95 / over)
            margin[row.workload] = max(MIN_MARGIN, tighter)
        tighter = plan(scenario, slo_margin=margin)
        if not tighter.placement or (p.feasible and not tighter.feasible):
            # tightening leaves something without a place: keep the last plan and say so
            rounds[-1]["note"] = "tightening further leaves no feasible placement"
            break
        p = tighter
    result = RunResult(p, sim, agree, rounds)
    if out_dir is not None:
        extra = {"rounds": pd.DataFrame(rounds)} if rounds else {}
        # The report opens with the verdict every face gives, not one of its own.
        result.written = write_report(out_dir, p, sim, extra, ok=result.ok, verdict=result.verdict)
    return result
