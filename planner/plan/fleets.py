"""Fleet decisions at a glance: per fleet and workload, how many members run where and why, and
the member figure that splits them ("stores with uplink below 9.6 Mbit/s run on the box")."""
from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pandas as pd

from planner.model.workloads import io_bytes, planned_rate_per_s
from planner.units import mbps

from planner.scenario import Scenario

#: Member figures tried, in this order, to explain a split decision: (column, unit).
FIGURES = (("uplink_load", "of the uplink"), ("uplink_mbps", "Mbit/s"), ("downlink_mbps", "Mbit/s"), ("rtt_ms", "ms"),
           ("rate_per_s", "/s"))
#: Member figures read as categories ("region us", "0 devices"): an inventory sets them per member.
CATEGORIES = (("devices", "devices"), ("region", "region"))
#: A condition on one member figure is named for a decision only where it matches that
#: decision's members at least this well (F1: both most of them meet it, and few others do).
MIN_MATCH = 0.5
COLUMNS = ["fleet", "workload", "where", "hardware", "precision", "model", "members", "share", "binding", "split_by", "reason"]


def member_figures(sc: Scenario) -> pd.DataFrame:
    """A row per fleet workload instance: fleet, workload (as written), member, the member's
    uplink and downlink (of its first link, in the member's direction), RTT, region, the
    instance's mean arrival rate, and the share of the uplink its input would take at the rate
    it is planned for (`uplink_load`: above the planner's 70% link limit it cannot leave)."""
    first_link: dict[str, int] = {}
    for i, link in enumerate(sc.links):
        for s in link.between:
            if sc.sites[s].fleet is not None:
                first_link.setdefault(s, i)
    rows = []
    for name, w in sc.workloads.items():
        if w.member is None:
            continue
        m, i = w.member, first_link.get(w.member)
        up = down = rtt = math.nan
        if i is not None:
            link = sc.links[i]
            up, down = (link.up_mbps, link.down_mbps) if link.between[0] == m else (link.down_mbps, link.up_mbps)
            rtt = link.rtt
        load = math.nan
        if w.kind == "inference" and up > 0:
            load = mbps(planned_rate_per_s(w)[0], io_bytes(w)[0]) / up
        rows.append({"instance": name, "fleet": w.fleet, "workload": w.base_workload, "member": m,
                     "uplink_mbps": up, "downlink_mbps": down, "rtt_ms": rtt, "region": sc.sites[m].region,
                     "devices": sum(d.count for d in sc.sites[m].devices),
                     "rate_per_s": w.arrival.mean_rate_per_s, "uplink_load": load})
    return pd.DataFrame(rows)


def _split(fig: pd.DataFrame, labels: pd.Series) -> str:
    """The first numeric member figure along which the decisions fall into one block each, as a
    sentence ("uplink load below 58% of the uplink: cloud; from 58%: on the member"); "" if none."""
    return _one_figure(fig, labels) if labels.nunique() > 1 else ""


def _fmt(col: str, unit: str, v: float) -> str:
    return f"{v:.0%} {unit}" if col == "uplink_load" else f"{v:,.3g} {unit}"


def _one_figure(fig: pd.DataFrame, labels: pd.Series) -> str:
    """The first numeric member figure along which the decisions fall into one block each."""
    kinds = labels.nunique()
    for col, unit in FIGURES:
        x = fig[col]
        if x.isna().any() or x.nunique() < 2:
            continue
        order = x.sort_values(kind="stable").index
        seq = labels.loc[order].tolist()
        blocks = [seq[0]] + [b for a, b in zip(seq, seq[1:]) if a != b]
        if len(blocks) != kinds:
            continue
        xs = x.loc[order].tolist()
        cuts = [(xs[i] + xs[i + 1]) / 2 for i in range(len(seq) - 1) if seq[i] != seq[i + 1]]
        parts = [f"{col.replace('_', ' ')} below {_fmt(col, unit, cuts[0])}: {blocks[0]}"]
        parts += [f"from {_fmt(col, unit, c)}: {b}" for c, b in zip(cuts, blocks[1:])]
        return "; ".join(parts)
    return ""


def _characterise(fig: pd.DataFrame, mine: pd.Series) -> str:
    """Where no one figure splits a workload's decisions, what sets the members of one decision
    (`mine`, a mask) apart: the condition on one member figure (a category, or a threshold on a
    number) that matches them best (F1), with how many of them meet it and how many others do
    ("region us: 5 of 5 (+3 that run elsewhere)"); "" where none matches them at MIN_MATCH."""
    n_mine, n = int(mine.sum()), len(mine)
    if n_mine == 0 or n_mine == n:
        return ""
    best = (MIN_MATCH, "")

    def offer(tp: int, size: int, condition: str) -> None:
        nonlocal best
        score = 2 * tp / (size + n_mine)
        if score > best[0] + 1e-12:
            best = (score, f"{condition}: {tp} of {n_mine}" + (f" (+{size - tp} that run elsewhere)" if size > tp else ""))

    for col, name in CATEGORIES:
        x = fig[col]
        if x.isna().any() or x.nunique() < 2:
            continue
        for value, m in mine.groupby(x, sort=True):
            offer(int(m.sum()), len(m), f"{value:g} {name}" if name == "devices" else f"{name} {value}")
    for col, unit in FIGURES:
        x = fig[col]
        if x.isna().any() or x.nunique() < 2:
            continue
        order = np.argsort(x.to_numpy(), kind="stable")
        xs, ms = x.to_numpy()[order], mine.to_numpy()[order]
        size = np.arange(1, n)  # members below each cut
        cut = size[xs[size - 1] < xs[size]]  # between two different values only
        tp_below = np.cumsum(ms)[cut - 1]
        label = col.replace("_", " ")
        for k, f1, tp, sz, side in ((cut, 2 * tp_below / (cut + n_mine), tp_below, cut, "below"),
                                    (cut, 2 * (n_mine - tp_below) / (n - cut + n_mine), n_mine - tp_below, n - cut, "from")):
            if len(f1):
                i = int(np.argmax(f1))
                at = (xs[k[i] - 1] + xs[k[i]]) / 2
                offer(int(tp[i]), int(sz[i]), f"{label} {side} {_fmt(col, unit, at)}")
    return best[1]


def fleet_members(plan) -> pd.DataFrame:
    """A row per fleet workload instance: its member's figures (`member_figures`) beside where
    the plan runs it (`where`: "on the member" or the site, `hardware`, `precision`, `model`, `binding`)."""
    sc = plan.scenario
    fig = member_figures(sc)
    if fig.empty:
        return fig
    t = plan.table().set_index("workload").loc[fig["instance"]]
    fig["site"], fig["hardware"] = t["site"].to_numpy(), t["hardware"].to_numpy()
    fig["precision"], fig["binding"] = t["precision"].to_numpy(), t["binding"].to_numpy()
    fig["model"] = t["model"].to_numpy()  # a family's variant may differ between members
    fig["where"] = ["on the member" if s == m else (s if isinstance(s, str) else "not placed")
                    for s, m in zip(fig["site"], fig["member"])]
    return fig


def fleet_summary(plan) -> pd.DataFrame:
    """Per fleet and workload: a row per (where, hardware, precision, model) with how many members run
    there, the binding constraint most of them share, and the member figure that splits them."""
    members = fleet_members(plan) if plan.scenario.fleets else pd.DataFrame()
    if members.empty:
        return pd.DataFrame(columns=COLUMNS)
    rows = []
    for (fleet, base), g in members.groupby(["fleet", "workload"], sort=False):
        labels = g["where"] + " " + g["hardware"].fillna("").astype(str)
        split = _split(g, labels)
        for (w, hw, prec, model), h in g.groupby(["where", "hardware", "precision", "model"], dropna=False, sort=False):
            binding = Counter(h["binding"]).most_common(1)[0][0] if len(h) else ""
            # no one figure splits them all: what sets these members apart
            apart = split or _characterise(g, pd.Series(g.index.isin(h.index), index=g.index))
            rows.append({"fleet": fleet, "workload": base, "where": w, "hardware": hw, "precision": prec, "model": model,
                         "members": len(h), "share": len(h) / len(g), "binding": binding, "split_by": apart,
                         "reason": f"{len(h)} of {len(g)} members run {base} {w} ({hw}, {prec}); binding: {binding}"
                                   + (f"; split by {apart}" if apart else "")})
    return pd.DataFrame(rows, columns=COLUMNS).sort_values(["fleet", "workload", "members"], ascending=[True, True, False],
                                                           ignore_index=True)
