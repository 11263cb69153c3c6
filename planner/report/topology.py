"""Where things run: sites, links with bandwidth and utilisation, the workloads at each site; and
a fleet as a distribution of its members' decisions rather than a hairball of member nodes.

Edge sites stand in a column on the left, cloud sites on the right, each a box listing its
hardware and the workloads placed there; a fleet is one box for all its members. Links are lines
whose width grows with bandwidth and whose colour turns from grey to red with utilisation; the
table under the drawing gives each link's figures.
"""
from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from planner.plan.fleets import member_figures
from planner.report.svg import FONT, WIDTH_PX, Mark, Row, figure, hchart, short
from planner.safe import html_text

#: Boxes: width, line height; more sites than this in a column are summed up in one last box.
BOX_W_PX = 340
LINE_PX = 16
MAX_BOXES = 12
#: A workload listed in a site's box shows at most this many lines (the rest as "… and N more").
MAX_LINES = 8
EDGE_COLOR, CLOUD_COLOR = "#e8f5e9", "#e3f2fd"


@dataclass
class Box:
    """A site (or a whole fleet) as drawn: name, kind, lines of text, and where it ends up."""

    name: str
    kind: str
    lines: list[str] = field(default_factory=list)
    x: float = 0.0
    y: float = 0.0

    @property
    def height_px(self) -> float:
        return 26 + LINE_PX * len(self.lines)


def _node(sc: Any, site: str) -> str:
    """The box a site is drawn in: its fleet's, for a member."""
    fleet = sc.sites[site].fleet
    return fleet if fleet is not None else site


def link_figures(sc: Any, sim: Any | None) -> pd.DataFrame:
    """A row per scenario link: ends, network, bandwidth each way, RTT, and the simulated mean
    utilisation each way (NaN when not simulated)."""
    util: dict[tuple[int, str], float] = {}
    if sim is not None:
        for row in sim.links().itertuples():
            try:
                i = int(str(row.link).split("]")[0].split("[")[1])
            except (IndexError, ValueError):
                continue
            util[(i, str(row.channel).split("->")[0])] = float(row.utilisation)
    rows = []
    for i, link in enumerate(sc.links):
        a, b = link.between
        rows.append({"link": i, "a": a, "b": b, "network": link.network, "a_to_b_mbps": link.up_mbps,
                     "b_to_a_mbps": link.down_mbps, "rtt_ms": link.rtt,
                     "a_to_b_util": util.get((i, a), math.nan), "b_to_a_util": util.get((i, b), math.nan)})
    return pd.DataFrame(rows, columns=["link", "a", "b", "network", "a_to_b_mbps", "b_to_a_mbps", "rtt_ms",
                                       "a_to_b_util", "b_to_a_util"])


def _where_lines(plan: Any) -> dict[str, list[str]]:
    """Per box (site or fleet), a line per workload placed there; a fleet's instances counted."""
    sc = plan.scenario
    counts: dict[str, Counter] = defaultdict(Counter)
    for name, c in plan.placement.items():
        w = sc.workloads[name]
        base = w.base_workload or name
        node = _node(sc, c.site)
        label = f"{base}: {c.hardware}, {c.precision}" + (f" (split {c.split})" if getattr(c, "split", None) else "") \
            + (f" ({c.llm_split}, with {c.edge_hardware} at {w.source})" if getattr(c, "llm_split", None) else "")
        counts[node][label] += 1
    lines: dict[str, list[str]] = {}
    for node, c in counts.items():
        out = [f"{label} ×{n}" if n > 1 else label for label, n in sorted(c.items())]
        if len(out) > MAX_LINES:
            out = out[: MAX_LINES - 1] + [f"… and {len(out) - MAX_LINES + 1} more"]
        lines[node] = out
    return lines


def _hardware_line(site: Any) -> str:
    have = [f"{d.count}× {d.hardware}" for d in site.devices] + [f"pool of {p.hardware} (≤{p.max_instances})" for p in site.pools]
    return ", ".join(have) or "no compute"


def _boxes(plan: Any) -> tuple[list[Box], list[Box]]:
    sc = plan.scenario
    placed = _where_lines(plan)
    left: list[Box] = []
    right: list[Box] = []
    for fleet, members in sc.fleets.items():
        first = sc.sites[members[0]]
        box = Box(fleet, "fleet", [f"fleet of {len(members):,} members, each: {short(_hardware_line(first), 40)}"])
        box.lines += placed.get(fleet, ["nothing placed"])
        left.append(box)
    for name, site in sc.sites.items():
        if site.fleet is not None:
            continue
        box = Box(name, site.kind, [short(_hardware_line(site), 44)] + placed.get(name, ["nothing placed"]))
        (left if site.kind == "edge" else right).append(box)
    for col in (left, right):
        if len(col) > MAX_BOXES:
            rest = col[MAX_BOXES - 1:]
            del col[MAX_BOXES - 1:]
            col.append(Box(f"… {len(rest)} more sites", "more", [short(", ".join(b.name for b in rest), 44)]))
    return left, right


def _util_color(u: float) -> str:
    """Grey when unknown, green to orange to red as a link fills."""
    if not math.isfinite(u):
        return "#999"
    return "#2e7d32" if u < 0.3 else "#f9a825" if u < 0.7 else "#c62828"


def topology_svg(plan: Any, sim: Any | None = None) -> str:
    """The topology as inline SVG: edge sites and fleets on the left, cloud on the right, links
    labelled with bandwidth and utilisation, each box listing the workloads that run there."""
    sc = plan.scenario
    left, right = _boxes(plan)
    if not right:  # one kind only: two columns of it read better than one long one
        left, right = left[::2], left[1::2]
    gap = 18
    for col, x in ((left, 10), (right, WIDTH_PX - BOX_W_PX - 10)):
        y = 52.0
        for b in col:
            b.x, b.y = x, y
            y += b.height_px + gap
    height = max([b.y + b.height_px for b in left + right] + [120]) + 20
    at = {b.name: b for b in left + right}
    links = link_figures(sc, sim)
    # A fleet's links are drawn once per (fleet, other end), labelled with the members' range.
    groups: dict[tuple[str, str], list] = defaultdict(list)
    for row in links.itertuples():
        groups[(_node(sc, row.a), _node(sc, row.b))].append(row)
    parts = [f"<text x='0' y='16' {FONT} font-weight='bold' font-size='14'>Topology: where each workload runs "
             "(green boxes: edge sites and fleets; blue: cloud)</text>",
             f"<text x='0' y='34' {FONT} fill='#555'>Links: thicker for more bandwidth; green under 30% used in "
             "simulation, amber under 70%, red above, grey when not simulated</text>"]
    for (a, b), rows in groups.items():
        if a not in at or b not in at or a == b:
            continue
        ba, bb = at[a], at[b]
        (x0, y0), (x1, y1) = _anchor(ba, bb), _anchor(bb, ba)
        util = max([max(r.a_to_b_util, r.b_to_a_util) for r in rows if math.isfinite(r.a_to_b_util)] or [math.nan])
        mbps = [r.a_to_b_mbps for r in rows]
        width = 1.5 + 1.5 * math.log10(max(min(mbps), 1.0))
        text = _link_label(rows, util)
        # Boxes in one column: a curve that bulges towards the middle of the drawing, inside it.
        inward = 60 if x0 < WIDTH_PX / 2 else -60
        curve = "" if ba.x != bb.x else f"Q{x0 + inward:.1f},{(y0 + y1) / 2:.1f} "
        parts.append(f"<path d='M{x0:.1f},{y0:.1f} {curve or 'L'}{x1:.1f},{y1:.1f}' fill='none' "
                     f"stroke='{_util_color(util)}' stroke-width='{width:.1f}'><title>{html_text(text)}</title></path>")
        if len(groups) <= 8:  # more labels than that crowd: the links table says it all
            # Nearer the left box than the right: lines fanning into one box are still apart there.
            f = 0.4 if x0 < x1 else 0.6
            mx, my, anchor = x0 + f * (x1 - x0), y0 + f * (y1 - y0) - 20, "middle"
            if curve:  # beside the bulge, on the inner side
                mx, my, anchor = x0 + inward * 0.6, (y0 + y1) / 2 - 14, "start" if inward > 0 else "end"
            for k, line in enumerate(_link_lines(rows, util)):
                parts.append(f"<text x='{mx:.1f}' y='{my + 14 * k:.1f}' {FONT} text-anchor='{anchor}' paint-order='stroke' "
                             f"stroke='#fff' stroke-width='4'>{html_text(short(line, 40))}</text>")
    for b in left + right:
        fill = CLOUD_COLOR if b.kind == "cloud" else "#f5f5f5" if b.kind == "more" else EDGE_COLOR
        parts.append(f"<rect x='{b.x}' y='{b.y:.1f}' width='{BOX_W_PX}' height='{b.height_px:.1f}' rx='6' fill='{fill}' "
                     f"stroke='#555'><title>{html_text(b.name)}</title></rect>")
        parts.append(f"<text x='{b.x + 8}' y='{b.y + 17:.1f}' {FONT} font-weight='bold'>{html_text(short(b.name, 34))}"
                     f" <tspan font-weight='normal' fill='#555'>({html_text(b.kind)})</tspan></text>")
        for i, line in enumerate(b.lines):
            parts.append(f"<text x='{b.x + 8}' y='{b.y + 34 + LINE_PX * i:.1f}' {FONT}><title>{html_text(line)}</title>"
                         f"{html_text(short(line, 48))}</text>")
    return figure(parts, height, "Topology")


def _anchor(frm: Box, to: Box) -> tuple[float, float]:
    """Where a line leaves box `frm` towards `to`: the facing side's middle."""
    y = frm.y + frm.height_px / 2
    if frm.x < to.x:
        return frm.x + BOX_W_PX, y
    if frm.x > to.x:
        return frm.x, y
    return (frm.x + BOX_W_PX if frm.x < WIDTH_PX / 2 else frm.x), y  # same column: the inner side


def _mbps(v: float) -> str:
    """Bandwidth to 3 figures, without an exponent: `0.728`, `13.9`, `1,000`."""
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"


def _span(values: list[float], fmt: Any) -> str:
    """`lo–hi` of `values` (one value when all agree); `fmt` a format spec or a function."""
    f = fmt if callable(fmt) else (lambda v: format(v, fmt))
    lo, hi = min(values), max(values)
    return f(lo) if lo == hi else f"{f(lo)}–{f(hi)}"


def _link_lines(rows: list, util: float) -> list[str]:
    """`fiber-wan, 18 ms` / `200 up, 1,000 down Mbit/s` / `3% used` (ranges over a fleet's links)."""
    nets = "/".join(sorted({r.network for r in rows}))
    many = f"{len(rows):,} links, " if len(rows) > 1 else ""
    lines = [f"{many}{nets}, {_span([r.rtt_ms for r in rows], ',.3g')} ms",
             f"{_span([r.a_to_b_mbps for r in rows], _mbps)} up, {_span([r.b_to_a_mbps for r in rows], _mbps)} down Mbit/s"]
    if math.isfinite(util):
        lines.append(f"busier direction {util:.1%} used")
    return lines


def _link_label(rows: list, util: float) -> str:
    return "; ".join(_link_lines(rows, util))


def links_table(plan: Any, sim: Any | None) -> pd.DataFrame:
    """The links as a table for the report (a fleet's links summed up per other end)."""
    sc = plan.scenario
    links = link_figures(sc, sim)
    if links.empty:
        return pd.DataFrame({"between": ["no links: every site stands alone"]})
    rows = []
    for (a, b), g in links.groupby([links["a"].map(lambda s: _node(sc, s)), links["b"].map(lambda s: _node(sc, s))], sort=False):
        rows.append({"between": f"{a} ↔ {b}", "links": len(g), "network": ", ".join(sorted(set(g["network"]))),
                     "uplink_mbps": _span(list(g["a_to_b_mbps"]), ",.4g"), "downlink_mbps": _span(list(g["b_to_a_mbps"]), ",.4g"),
                     "rtt_ms": _span(list(g["rtt_ms"]), ",.3g"),
                     "uplink_used": _pct(g["a_to_b_util"]), "downlink_used": _pct(g["b_to_a_util"])})
    out = pd.DataFrame(rows)
    return out.drop(columns=["links"]) if len(out) and (out["links"] == 1).all() else out


def _pct(u: pd.Series) -> str:
    """Mean utilisation over the horizon; for several links, the mean and the highest."""
    u = u.dropna()
    if u.empty:
        return "not simulated"
    return f"{u.iloc[0]:.1%}" if len(u) == 1 else f"mean {u.mean():.1%}, max {u.max():.1%}"


#: Bins of a fleet histogram at most; members' uplinks are binned on 1-2-5 edges.
MAX_BINS = 12
DECISION_COLORS = ["#2e7d32", "#1565c0", "#ef6c00", "#6a1b9a", "#c62828", "#00838f", "#9e9d24", "#5d4037"]


def fleet_figures(plan: Any, max_figures: int = 6) -> list[str]:
    """Per fleet workload, a histogram of members by uplink, each bar split by where the
    member's instance runs: how the fleet divides, and along which figure."""
    sc = plan.scenario
    if not sc.fleets:
        return []
    figs = member_figures(sc)
    if figs.empty:
        return []
    t = plan.table().set_index("workload")
    figs = figs.assign(where=[
        ("on the member, " + str(t.at[i, "hardware"])) if t.at[i, "site"] == m
        else (f"at {t.at[i, 'site']}, {t.at[i, 'hardware']}" if isinstance(t.at[i, "site"], str) else "not placed")
        for i, m in zip(figs["instance"], figs["member"])])
    out = []
    for (fleet, base), g in list(figs.groupby(["fleet", "workload"], sort=False))[:max_figures]:
        decisions = list(g["where"].value_counts().index)
        color = {d: DECISION_COLORS[i % len(DECISION_COLORS)] for i, d in enumerate(decisions)}
        up = g["uplink_mbps"].astype(float)
        edges = _bin_edges(up)
        rows = []
        for lo, hi in zip(edges, edges[1:]):
            inside = g[(up >= lo) & ((up < hi) if hi != edges[-1] else (up <= hi))]
            marks, x = [], 0.0
            for d in decisions:
                n = int((inside["where"] == d).sum())
                if n:
                    marks.append(Mark("bar", x, x + n, color[d], tip=f"{n} members {d}"))
                    x += n
            if marks:
                marks[-1] = Mark("bar", marks[-1].lo, marks[-1].hi, marks[-1].color, tip=marks[-1].tip, label=f"{int(x)}")
            rows.append(Row(f"{lo:,.4g}–{hi:,.4g} Mbit/s", marks))
        out.append(hchart(rows, title=f"{fleet} / {base}: members by uplink, and where each runs {base}",
                          axis_title="members", legend=[("bar", color[d], d) for d in decisions]))
    return out


def _bin_edges(x: pd.Series) -> list[float]:
    """Histogram edges over `x`: equal widths on a round step, at most MAX_BINS bins."""
    x = x.dropna()
    if x.empty:
        return [0.0, 1.0]
    lo, hi = float(x.min()), float(x.max())
    if hi <= lo:
        return [lo, lo + 1.0] if lo == 0 else [lo * 0.9, lo * 1.1]
    step = 10.0 ** math.floor(math.log10((hi - lo) / MAX_BINS))
    for m in (1, 2, 5, 10):
        if (hi - lo) / (step * m) <= MAX_BINS:
            step *= m
            break
    start = math.floor(lo / step) * step
    n = max(1, math.ceil((hi - start) / step - 1e-9))
    return [start + i * step for i in range(n + 1)] if start + n * step >= hi else [start + i * step for i in range(n + 2)]
