"""Fleet decisions at a glance: per fleet and workload, how many members run where and why, and
the member figure that splits them ("stores with uplink below 9.6 Mbit/s run on the box")."""
from __future__ import annotations

import math
from collections import Counter

import pandas as pd

from planner.model.workloads import io_bytes, planned_rate_per_s
from planner.units import mbps

from planner.scenario import Scenario

#: Member figures tried, in this order, to explain a split decision: (column, unit).
FIGURES = (("uplink_load", "of the uplink"), ("uplink_mbps", "Mbit/s"), ("downlink_mbps", "Mbit/s"), ("rtt_ms", "ms"),
           ("rate_per_s", "/s"))
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
                     "rate_per_s": w.arrival.mean_rate_per_s, "uplink_load": load})
    return pd.DataFrame(rows)


def _split(fig: pd.DataFrame, labels: pd.Series) -> str:
    """The first member figure along which the decisions fall into one block each, as a sentence."""
    kinds = labels.nunique()
    if kinds < 2:
        return ""
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
        fmt = (lambda v: f"{v:.0%} {unit}") if col == "uplink_load" else (lambda v: f"{v:,.3g} {unit}")
        parts = [f"{col.replace('_', ' ')} below {fmt(cuts[0])}: {blocks[0]}"]
        parts += [f"from {fmt(c)}: {b}" for c, b in zip(cuts, blocks[1:])]
        return "; ".join(parts)
    return ""


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
            rows.append({"fleet": fleet, "workload": base, "where": w, "hardware": hw, "precision": prec, "model": model,
                         "members": len(h), "share": len(h) / len(g), "binding": binding, "split_by": split,
                         "reason": f"{len(h)} of {len(g)} members run {base} {w} ({hw}, {prec}); binding: {binding}"
                                   + (f"; split by {split}" if split else "")})
    return pd.DataFrame(rows, columns=COLUMNS).sort_values(["fleet", "workload", "members"], ascending=[True, True, False],
                                                           ignore_index=True)
