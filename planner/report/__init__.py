"""Tables and figures shared by the CLI and the app, and report.html.

- verdicts: planned against simulated (`agreement`, `agreement_sentence`, `simulated_verdicts`);
- figures: plotly figures for the app (`topology_figure`, `cost_figure`, `latency_figure`);
- svg, topology, sections, html: report.html, drawn as inline SVG (`write_report`).
"""
from __future__ import annotations

from planner.report.figures import cost_figure, figures, latency_figure, topology_figure
from planner.report.html import REPORT_FILES, report_html, write_report
from planner.report.sections import contradictions, failures_html
from planner.report.verdicts import MIN_REQUESTS_FOR_P99, agreement, agreement_sentence, simulated_verdicts

__all__ = ["agreement", "agreement_sentence", "simulated_verdicts", "MIN_REQUESTS_FOR_P99", "topology_figure",
           "cost_figure", "latency_figure", "figures", "write_report", "report_html", "REPORT_FILES", "failures_html",
           "contradictions"]
