"""`write_report`: the run's files and report.html, for someone who was not at the keyboard.

report.html reads top to bottom: the verdict and what failed, the placement, planned against
simulated, where things run, cost by component, latency. It is one self-contained file of a few
hundred kB at most: the figures are inline SVG (planner.report.svg), no script and no CDN, so it
opens offline and prints. The folder is written whole or not at all (planner.output); every name
from the scenario is escaped (planner.safe): the report shows hostile text, it never runs it.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from planner.output import staged_dir, write_atomic
from planner.report import sections
from planner.report.topology import fleet_figures, links_table, topology_svg
from planner.report.verdicts import agreement, agreement_sentence
from planner.safe import html_text, to_csv

#: Every file `write_report` may write (besides `<extra>.csv`): an earlier run's folder holding
#: only these may be replaced whole.
REPORT_FILES = ("plan.csv", "placement.json", "summary.csv", "agreement.csv", "rounds.csv", "report.html")

#: The page is at most 1,200 px wide and every figure and table fits in it (tables wrap their
#: cells rather than overflow); the browser test holds every element to 1,400 px.
STYLE = """
body{font-family:sans-serif;margin:1.5em auto;max-width:1200px;padding:0 1em;color:#222;line-height:1.4}
h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
nav a{margin-right:1em}
.table{max-width:100%}
table{border-collapse:collapse;font-size:12px;max-width:100%;table-layout:auto}
td,th{border:1px solid #ccc;padding:3px 6px;vertical-align:top}
td{overflow-wrap:anywhere;min-width:4.5em}
th{background:#f3f3f3;overflow-wrap:normal}
figure.chart{margin:1em 0;max-width:100%}
figure.chart svg{max-width:100%;height:auto}
.verdict{font-size:1.3em;font-weight:bold;padding:.4em .6em;border-radius:4px}
.verdict.ok{background:#e8f5e9;color:#1b5e20}.verdict.bad{background:#ffebee;color:#b71c1c}
section.bad{color:#8b0000}section.warn{background:#fff8e1;padding:.2em 1em;border-left:4px solid #f9a825}
"""
NAV = (("summary", "Summary"), ("placement", "Placement"), ("agreement", "Planned vs simulated"),
       ("topology", "Topology"), ("cost", "Cost"), ("latency", "Latency"))


def _finite(x: Any) -> Any:
    """JSON has no NaN: a missing figure is null."""
    return x if isinstance(x, (int, float)) and math.isfinite(x) else None


def agreement_html(plan: Any, sim: Any | None, agree: pd.DataFrame | None) -> str:
    if sim is None or agree is None:
        return "<section id='agreement'><h2>Planned against simulated</h2><p>Not simulated.</p></section>"
    body = sections.table_html(sections.agreement_table(plan, agree)) if len(agree) else ""
    return (f"<section id='agreement'><h2>Planned against simulated</h2><p>{html_text(agreement_sentence(agree))}</p>"
            + body + "</section>")


def topology_html(plan: Any, sim: Any | None) -> str:
    fleets = fleet_figures(plan)
    return ("<section id='topology'><h2>Topology</h2>" + topology_svg(plan, sim)
            + "<h3>Links</h3>" + sections.table_html(links_table(plan, sim))
            + ("<h3>Fleets: members by uplink, and where each runs</h3>" + "".join(fleets) if fleets else "")
            + "</section>")


def report_html(plan: Any, sim: Any | None, agree: pd.DataFrame | None, ok: bool, verdict: str) -> str:
    """report.html as text."""
    sc = plan.scenario
    body = [f"<h1>{html_text(sc.name)}</h1>",
            f"<p><i>{html_text(sc.description)}</i></p>" if sc.description else "",
            "<nav>" + "".join(f"<a href='#{k}'>{v}</a>" for k, v in NAV) + "</nav>",
            sections.summary_html(plan, sim, agree, ok, verdict),
            sections.failures_html(plan, sim, agree),
            sections.contradictions_html(plan),
            sections.placement_html(plan),
            agreement_html(plan, sim, agree),
            topology_html(plan, sim),
            sections.cost_html(plan, sim),
            sections.latency_html(plan, sim)]
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'><title>" + html_text(sc.name)
            + "</title><style>" + STYLE + "</style></head><body>" + "".join(body) + "</body></html>")


def _default_verdict(plan: Any, sim: Any | None, agree: pd.DataFrame | None) -> tuple[bool, str]:
    """The verdict when the caller did not pass `planner.run`'s (RunResult.ok, RunResult.verdict)."""
    if not plan.feasible:
        return False, "not feasible"
    if sim is None or agree is None or not len(agree):
        return True, "feasible" + ("" if sim is not None else " (planned only, not simulated)")
    missed = agree[agree["verdict"] != "met"]
    return missed.empty, ("feasible; every workload met its SLOs in simulation" if missed.empty
                          else f"feasible on paper; {len(missed)} workload(s) not confirmed in simulation")


def write_report(out_dir: str | Path, plan: Any, sim: Any | None = None, extra: dict[str, pd.DataFrame] | None = None,
                 *, ok: bool | None = None, verdict: str | None = None) -> list[Path]:
    """Write plan.csv, placement.json, summary.csv, agreement.csv and report.html into `out_dir`,
    whatever the verdict (an infeasible plan's report says what failed). `ok` and `verdict` are
    `planner.run`'s (RunResult.ok, RunResult.verdict), so the report says what every face says.

    The folder is written whole or not at all: into a temporary sibling, then renamed into place
    (replacing an earlier run's folder only once the new one is complete). Text from the scenario
    is escaped: HTML in the report, formulas in the CSV files.
    """
    out = Path(out_dir)
    names: list[str] = []
    agree = agreement(plan, sim) if sim is not None else None
    if ok is None or verdict is None:
        ok, verdict = _default_verdict(plan, sim, agree)
    with staged_dir(out, known=[*REPORT_FILES, *(f"{n}.csv" for n in (extra or {}))]) as stage:

        def put(name: str, data: str) -> None:
            write_atomic(stage / name, data)
            names.append(name)

        put("plan.csv", to_csv(plan.table()))
        put("placement.json", json.dumps({"scenario": plan.scenario.name, "feasible": plan.feasible, "ok": ok,
                                          # an infeasible plan has no monthly cost; what it placed has one
                                          "verdict": verdict,
                                          "monthly_cost_usd": _finite(plan.monthly_cost_usd) if plan.feasible else None,
                                          "placed_monthly_cost_usd": _finite(plan.monthly_cost_usd),
                                          "conflicts": plan.conflicts, "placement": plan.to_dict()}, indent=2))
        if sim is not None and agree is not None:
            put("summary.csv", to_csv(sim.summary()))
            put("agreement.csv", to_csv(agree))
        for name, df in (extra or {}).items():
            put(f"{name}.csv", to_csv(df))
        put("report.html", report_html(plan, sim, agree, ok, verdict))
    return [out / n for n in names]
