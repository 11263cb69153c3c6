"""The report's sections as HTML: summary, placement, planned against simulated, cost, latency.

Each function takes the plan and (where there is one) the simulation and returns escaped HTML.
Tables keep only the columns that apply to a kind of workload, and drop a column no row fills,
so a vision scenario shows no language-model columns; a fleet's thousands of instances are
summed up per fleet workload.
"""
from __future__ import annotations

import math
import re
from typing import Any

import pandas as pd

from planner.report.svg import Mark, Row, fmt_ms, fmt_usd, hchart
from planner.safe import frame_html, html_text, money
from planner.sim.metrics import merge_sketches

#: Columns of the placement table per kind of workload (present ones only, empty ones dropped).
PLACEMENT_COLUMNS = {
    "inference": ["workload", "model", "site", "hardware", "precision", "split", "predicted_p99_ms", "slo_p99_ms",
                  "predicted_availability", "accuracy", "utilization", "monthly_cost_usd", "source", "binding"],
    "language model": ["workload", "model", "site", "hardware", "precision", "kv_precision", "llm_split",
                       "predicted_ttft_ms", "slo_ttft_ms",
                       "predicted_tpot_ms", "slo_tpot_ms", "predicted_p99_ms", "accuracy", "utilization", "monthly_cost_usd",
                       "source", "binding"],
    "training and federated": ["workload", "kind", "site", "hardware", "precision", "monthly_cost_usd", "source", "binding"],
}
COLORS = {"p99": "#1f77b4", "planned": "#000", "slo": "#c62828", "range": "#9ecae1", "box": "#4292c6", "p50": "#08306b"}


#: Column headers as people read them; others get spaces for underscores and their unit in brackets.
HEADERS = {"slo_met": "SLO met", "simulated_over_planned": "simulated / planned", "planned_usd_per_month": "planned $/month",
           "monthly_cost_usd": "$/month", "utilization": "utilisation", "predicted_availability": "availability"}


def header(col: str) -> str:
    """`predicted_p99_ms` -> `predicted p99 (ms)`; `slo_ttft_ms` -> `SLO TTFT (ms)`."""
    if col in HEADERS:
        return HEADERS[col]
    unit = ""
    for suffix, name in (("_ms", "ms"), ("_usd", "$"), ("_mbps", "Mbit/s")):
        if col.endswith(suffix):
            col, unit = col[: -len(suffix)], f" ({name})"
    words = [w.upper() if w in ("slo", "ttft", "tpot") else w for w in col.split("_")]
    return " ".join(words) + unit


def _number(v: float) -> str:
    return f"{v:,.3g}" if abs(v) < 100 else f"{v:,.0f}"


def short_binding(text: Any) -> Any:
    """`cost (the best option that meets every constraint)` -> `cost`: the whole is under Why."""
    return text.split(" (")[0] if isinstance(text, str) else text


def table_html(df: pd.DataFrame) -> str:
    """A table with empty columns dropped, numbers rounded for reading, readable headers, every
    cell escaped; bindings cut to their name (the whole reason is listed under Why)."""
    df = df.loc[:, [c for c in df.columns if not _empty(df[c])]].copy()
    if "binding" in df:
        df["binding"] = df["binding"].map(short_binding)
    for col in ("utilization", "predicted_availability", "accuracy"):
        if col in df:
            df[col] = df[col].map(lambda v: f"{v:.1%}" if isinstance(v, float) and math.isfinite(v) else v)
    return "<div class='table'>" + frame_html(df.rename(columns=header), _number) + "</div>"


def _empty(col: pd.Series) -> bool:
    return bool(col.map(lambda v: v is None or (isinstance(v, float) and math.isnan(v)) or v == "").all())


def kind_of(row: Any) -> str:
    """`inference`, `language model` or `training and federated`, for a plan.table() row."""
    if row["kind"] in ("training", "federated"):
        return "training and federated"
    return "language model" if pd.notna(row.get("slo_ttft_ms")) or pd.notna(row.get("predicted_ttft_ms")) else "inference"


def _base(sc: Any, name: str) -> str:
    w = sc.workloads.get(name)
    return (w.base_workload or name) if w is not None else name


def _where(sc: Any, name: str, site: Any) -> Any:
    """A site as the summary names it: a fleet instance on its own member is `on the member`."""
    w = sc.workloads.get(name)
    return "on the member" if w is not None and w.member is not None and site == w.member else site


def per_workload(plan: Any, sim: Any | None, agree: pd.DataFrame | None) -> pd.DataFrame:
    """The summary table: per workload as written (a fleet's instances together), where it
    runs, its SLO attainment in simulation and the verdict."""
    sc = plan.scenario
    t = plan.table()
    t = t.assign(base=[_base(sc, w) for w in t["workload"]], site=[_where(sc, w, site) for w, site in zip(t["workload"], t["site"])])
    s = sim.summary().set_index("workload") if sim is not None else None
    verdicts = agree.set_index("workload")["verdict"] if agree is not None and len(agree) else pd.Series(dtype=object)
    rows = []
    for base, g in t.groupby("base", sort=False):
        where = pd.Series([f"{site} · {hw} · {prec}" if isinstance(hw, str) else "not placed"
                           for site, hw, prec in zip(g["site"], g["hardware"], g["precision"])]).value_counts()
        row = {"workload": base, "kind": g["kind"].iloc[0],
               "runs on": "; ".join(f"{w} ×{n}" if len(g) > 1 else w for w, n in where.items()),
               "planned_usd_per_month": float(pd.to_numeric(g["monthly_cost_usd"], errors="coerce").sum())}
        if s is not None:
            here = s.reindex(g["workload"])
            done = pd.to_numeric(here["completed"], errors="coerce").fillna(0)
            met = pd.to_numeric(here["slo_met_frac"], errors="coerce")
            row["completed"] = int(done.sum())
            row["failed"] = int(pd.to_numeric(here["failed"], errors="coerce").fillna(0).sum())
            row["slo_met"] = f"{(met * done).sum() / done.sum():.1%}" if done.sum() and met.notna().any() else ""
            row["simulated_p99_ms"] = pd.to_numeric(here["p99_ms"], errors="coerce").max()
            v = verdicts.reindex(g["workload"]).dropna()
            row["verdict"] = ("; ".join(f"{k} ×{n}" if len(g) > 1 else k for k, n in v.value_counts().items())
                              if len(v) else _job_verdict(sim, list(g["workload"])))
        row["binding"] = g["binding"].mode().iloc[0] if g["binding"].notna().any() else ""
        rows.append(row)
    return pd.DataFrame(rows)


def _job_verdict(sim: Any, names: list[str]) -> str:
    """A training or federated job's runs in simulation: how many finished, how many in time."""
    jobs = sim.jobs()
    if "job" not in jobs:
        return ""
    j = jobs[jobs["job"].isin(names)]
    if j.empty:
        return ""
    done, runs = int(j["completed"].sum()), int(j["runs"].sum())
    if done == 0:
        planned = pd.to_numeric(j["predicted_run_s"], errors="coerce").max()
        return (f"no run finished within the {fmt_ms(sim.horizon_s * 1e3)} simulated"
                + (f" (a run is planned to take {fmt_ms(planned * 1e3)})" if math.isfinite(planned) else ""))
    return f"{int(j['deadline_met'].sum())} of {done} finished runs met the deadline ({runs} started)"


def summary_html(plan: Any, sim: Any | None, agree: pd.DataFrame | None, ok: bool, verdict: str) -> str:
    """The first section: the verdict, the monthly cost, SLO attainment per workload, what binds."""
    sc = plan.scenario
    cost = f"planned {html_text(money(plan.monthly_cost_usd))}"
    if sim is not None:
        cost += f", simulated {html_text(money(sim.monthly_cost_usd))}"
    if not plan.feasible:  # a partial plan's cost is not the cost of the whole
        cost = f"no figure for the whole (not feasible); what could be placed: {cost}"
    head = (f"<p class='verdict {'ok' if ok else 'bad'}'>{'✔' if ok else '✘'} {html_text(verdict[:1].upper() + verdict[1:])}"
            f"</p><p>Monthly cost: <b>{cost}</b> (objective: {html_text(sc.objective)}). "
            f"{len(sc.workloads)} workload instance(s) on {len(sc.sites)} site(s), {len(sc.links)} link(s)"
            + (f"; simulated {sim.horizon_s:,.0f} s with seed {sim.seed}" if sim is not None else "; not simulated") + ".</p>")
    return "<section id='summary'><h2>Summary</h2>" + head + table_html(per_workload(plan, sim, agree)) + "</section>"


def failures_html(plan: Any, sim: Any | None, agree: pd.DataFrame | None) -> str:
    """What failed, and why: the plan's conflicts and violations, a missing simulation, SLOs
    missed or not measured, failed requests by reason. Empty when nothing did."""
    items = [f"Conflict: {html_text(c)}" for c in plan.conflicts]
    table = plan.table()
    for row in table.itertuples():
        if row.ok is True or not isinstance(row.violations, str) or not row.violations:
            continue
        if row.violations == "; ".join(plan.conflicts) or row.violations in plan.conflicts:  # listed above
            if row.workload not in plan.placement and not any(str(row.workload) in c for c in plan.conflicts):
                items.append(f"<b>{html_text(row.workload)}</b>: not placed, as the plan as a whole has no feasible placement.")
            continue
        items.append(f"<b>{html_text(row.workload)}</b>: {html_text(row.violations)}")
    if sim is None:
        items.append("Not simulated: " + ("no workload could be placed." if not plan.placement else "no simulation was run."))
    elif agree is not None and len(agree):
        for row in agree.itertuples():
            if row.verdict == "missed":
                items.append(f"<b>{html_text(row.workload)}</b> missed its SLO in simulation "
                             f"(simulated p99 {row.simulated_p99_ms:,.1f} ms, SLO {row.slo_p99_ms:,.1f} ms).")
            elif row.verdict == "unmeasured":
                items.append(f"<b>{html_text(row.workload)}</b>: no request completed in the simulated horizon; "
                             "nothing is claimed about its SLO.")
    if sim is not None:
        unplaced = [w for w in plan.scenario.workloads if w not in plan.placement]
        if unplaced:  # the simulation ran what was placed; say what it could not run
            listed = ", ".join(html_text(w) for w in unplaced[:8]) + (f" and {len(unplaced) - 8:,} more" if len(unplaced) > 8 else "")
            items.append(f"Not simulated, as not placed: {listed}.")
        f = sim.failures()
        if len(f):
            for (reason, kind), g in f.groupby(["reason", "kind"], sort=False):
                who = ", ".join(sorted({_base(plan.scenario, w) for w in g["workload"]})[:6])
                items.append(f"{int(g['count'].sum()):,} request(s) {html_text(kind)}: {html_text(reason)} ({html_text(who)})")
    if len(items) > 30:  # a fleet can list thousands: the first, and how many more
        items = items[:29] + [f"… and {len(items) - 29:,} more (see plan.csv, agreement.csv)"]
    if not items:
        return ""
    return "<section id='failures' class='bad'><h2>What failed, and why</h2><ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul></section>"


#: Words of a description that say where something runs.
CLOUD_WORDS = ("cloud",)
EDGE_WORDS = ("on site", "on-site", "onsite", "on premises", "on-premises", "on prem", "edge", "on-board", "onboard",
              "on board", "on-device", "on device", "on-phone", "locally", "local")
JOB_WORDS = ("retrain", "training", "fine-tun", "finetun")


def _stems(text: str) -> set[str]:
    """Words of 4+ letters, cut to 6 letters, so `retraining` meets `retrain`."""
    return {w[:6] for w in re.findall(r"[a-z]{4,}", text.lower())}


def contradictions(plan: Any) -> list[str]:
    """Where the plan contradicts the scenario's own description: a clause that says a workload
    runs in the cloud (or on site, at the edge) while the plan puts it elsewhere. A simple, honest
    check of words: a clause naming both cloud and edge is not judged."""
    sc = plan.scenario
    text = sc.description or ""
    out = []
    for clause in re.split(r"[;.,]|\bbut\b|\bwhile\b", text):
        low = clause.lower()
        cloud = any(w in low for w in CLOUD_WORDS)
        edge = any(re.search(rf"\b{re.escape(w)}\b", low) for w in EDGE_WORDS)
        if cloud == edge:
            continue
        said = "cloud" if cloud else "edge"
        words = _stems(low)
        seen = set()
        for name, c in plan.placement.items():
            w = sc.workloads[name]
            base = w.base_workload or name
            named = bool(_stems(base.replace("-", " ")) & words)
            job = w.kind in ("training", "federated") and any(j in low for j in JOB_WORDS)
            if not (named or job) or base in seen:
                continue
            kind = sc.sites[c.site].kind
            if kind != said:
                seen.add(base)
                out.append(f"The description says “{clause.strip()}”, but the plan runs {base} on {c.hardware} at "
                           f"{c.site} ({kind}).")
    return out


def contradictions_html(plan: Any) -> str:
    found = contradictions(plan)
    if not found:
        return ""
    return ("<section id='contradictions' class='warn'><h2>The plan and the scenario's description disagree</h2><ul>"
            + "".join(f"<li>{html_text(s)}</li>" for s in found) + "</ul></section>")


def placement_html(plan: Any) -> str:
    """The placement, a table per kind of workload with only its columns; a fleet's instances
    summed up per fleet workload (the plan.csv file has every instance)."""
    t = plan.table()
    if not plan.scenario.names_kv_precision:  # every cache at its default: nothing to say
        t = t.drop(columns=["kv_precision"], errors="ignore")
    parts = ["<section id='placement'><h2>Placement</h2>"]
    single = t[t["fleet"].isna()] if "fleet" in t else t
    if len(single):
        kinds = single.apply(kind_of, axis=1)
        for kind, cols in PLACEMENT_COLUMNS.items():
            rows = single[kinds == kind]
            if len(rows):
                parts.append(f"<h3>{html_text(kind.capitalize())}</h3>" + table_html(rows[[c for c in cols if c in rows]]))
    fs = plan.fleet_summary() if plan.scenario.fleets else pd.DataFrame()
    if len(fs):
        parts.append("<h3>Fleets: how many members run each workload where</h3>"
                     + table_html(fs.drop(columns=["reason"]).assign(share=fs["share"].map("{:.0%}".format))))
    why = [(r.workload, r.reason) for r in single.itertuples()]
    why += [(f"{r.fleet} / {r.workload}", r.reason) for r in fs.itertuples()] if len(fs) else []
    parts.append("<h3>Why</h3><ul>" + "".join(f"<li><b>{html_text(w)}</b>: {html_text(r)}</li>" for w, r in why) + "</ul>")
    return "".join(parts) + "</section>"


def agreement_table(plan: Any, agree: pd.DataFrame) -> pd.DataFrame:
    """Planned against simulated per workload; a fleet's instances together (median ratio, worst
    p99, how many missed). Language-model columns only where a language model is."""
    sc = plan.scenario
    df = agree.assign(workload=[_base(sc, w) for w in agree["workload"]])
    rows = []
    for base, g in df.groupby("workload", sort=False):
        row = {"workload": base, "instances": len(g)}
        for m in ("p99", "ttft", "tpot"):
            row[f"planned_{m}_ms"] = g[f"predicted_{m}_ms"].max()
            row[f"simulated_{m}_ms"] = g[f"simulated_{m}_ms"].max()
            row[f"slo_{m}_ms"] = g[f"slo_{m}_ms"].min()
        row["simulated_over_planned"] = g["sim_over_predicted"].median()
        row["slo_met"] = (f"{(g['slo_met_frac'] * g['completed']).sum() / g['completed'].sum():.1%}"
                          if g["completed"].sum() else "")
        row["completed"] = int(g["completed"].sum())
        row["verdict"] = "; ".join(f"{k} ×{n}" if len(g) > 1 else k for k, n in g["verdict"].value_counts().items())
        rows.append(row)
    out = pd.DataFrame(rows)
    return out.drop(columns=["instances"]) if (out["instances"] == 1).all() else out


def latency_rows(plan: Any, sim: Any) -> list[Row]:
    """A row per inference workload (a fleet's instances merged): the simulated distribution
    (p1-p99.9 line, p25-p75 box, median and p99 dots), the planned p99 and the SLO."""
    sc = plan.scenario
    t = plan.table().set_index("workload")
    groups: dict[str, list[str]] = {}
    for name in sim.sketches:
        if name in t.index and t.at[name, "kind"] == "inference":
            groups.setdefault(_base(sc, name), []).append(name)
    rows = []
    for base, names in groups.items():
        sk = merge_sketches([sim.sketches[n] for n in names]) if len(names) > 1 else sim.sketches[names[0]]
        if not sk.count:
            rows.append(Row(f"{base} (nothing completed)"))
            continue
        q = {p: sk.quantile(p) * 1e3 for p in (0.01, 0.25, 0.5, 0.75, 0.99, 0.999)}
        planned = pd.to_numeric(t.loc[names, "predicted_p99_ms"], errors="coerce").max()
        slo = pd.to_numeric(t.loc[names, "slo_p99_ms"], errors="coerce").min()
        marks = [Mark("bar", q[0.01], q[0.999], COLORS["range"], thin=True, tip=f"p1 {fmt_ms(q[0.01])} to p99.9 {fmt_ms(q[0.999])}"),
                 Mark("bar", q[0.25], q[0.75], COLORS["box"], tip=f"p25 {fmt_ms(q[0.25])} to p75 {fmt_ms(q[0.75])}"),
                 Mark("dot", q[0.5], color=COLORS["p50"], tip=f"median {fmt_ms(q[0.5])}"),
                 Mark("dot", q[0.99], color=COLORS["p99"], tip=f"simulated p99 {fmt_ms(q[0.99])}"),
                 Mark("diamond", planned, color=COLORS["planned"], tip=f"planned p99 {fmt_ms(planned)}")]
        if math.isfinite(slo):
            marks.append(Mark("tick", slo, color=COLORS["slo"], tip=f"SLO p99 {fmt_ms(slo)}"))
        rows.append(Row(base + (f" ({len(names)} instances)" if len(names) > 1 else ""), marks))
    return rows


def token_rows(plan: Any, sim: Any) -> list[Row]:
    """For language models: simulated TTFT and TPOT (median to p99) against planned and SLO."""
    sc = plan.scenario
    s = sim.summary()
    t = plan.table().set_index("workload")
    rows = []
    for r in s.itertuples():
        if not (pd.notna(r.ttft_p99_ms) or pd.notna(getattr(r, "ttft_slo_ms", math.nan))) or r.workload not in t.index:
            continue
        for m in ("ttft", "tpot"):
            p50, p99 = getattr(r, f"{m}_p50_ms"), getattr(r, f"{m}_p99_ms")
            slo, planned = getattr(r, f"{m}_slo_ms"), t.at[r.workload, f"predicted_{m}_ms"]
            marks = [Mark("bar", p50, p99, COLORS["box"], tip=f"simulated {m.upper()} median {fmt_ms(p50)} to p99 {fmt_ms(p99)}"),
                     Mark("dot", p99, color=COLORS["p99"], tip=f"simulated p99 {fmt_ms(p99)}")]
            if pd.notna(planned):
                marks.append(Mark("diamond", float(planned), color=COLORS["planned"], tip=f"planned {fmt_ms(float(planned))}"))
            if pd.notna(slo):
                marks.append(Mark("tick", float(slo), color=COLORS["slo"], tip=f"SLO {fmt_ms(float(slo))}"))
            rows.append(Row(f"{_base(sc, r.workload)} {m.upper()}", [mk for mk in marks if pd.notna(mk.lo)]))
    return rows


LATENCY_LEGEND = [("bar", COLORS["range"], "p1–p99.9"), ("bar", COLORS["box"], "p25–p75"), ("dot", COLORS["p50"], "median"),
                  ("dot", COLORS["p99"], "simulated p99"), ("diamond", COLORS["planned"], "planned p99"),
                  ("tick", COLORS["slo"], "SLO p99")]
TOKEN_LEGEND = [("bar", COLORS["box"], "simulated median–p99"), ("dot", COLORS["p99"], "simulated p99"),
                ("diamond", COLORS["planned"], "planned"), ("tick", COLORS["slo"], "objective")]


def latency_html(plan: Any, sim: Any | None) -> str:
    """Latency distributions per workload, and TTFT/TPOT for language models, against objectives."""
    if sim is None:
        return ""
    parts = ["<section id='latency'><h2>Latency</h2>"]
    rows = latency_rows(plan, sim)
    if rows:
        parts.append(hchart(rows, title="Simulated latency per request (log scale), against the planned p99 and the SLO",
                            axis_title="end-to-end latency", log=True, fmt=fmt_ms, legend=LATENCY_LEGEND))
    tokens = token_rows(plan, sim)
    if tokens:
        parts.append(hchart(tokens, title="Language models: time to first token (TTFT) and per output token (TPOT)",
                            axis_title="latency", log=True, fmt=fmt_ms, legend=TOKEN_LEGEND))
    if len(parts) == 1:
        parts.append("<p>No inference workload to show.</p>")
    return "".join(parts) + "</section>"


#: MonthlyBill components, as the report names them.
BILL_PARTS = (("instances_usd", "cloud instances"), ("amortisation_usd", "edge hardware, amortised"),
              ("electricity_usd", "electricity"), ("egress_usd", "network egress"))
#: A colour per kind of cost, by a word of its name, so both cost charts colour alike.
COMPONENT_COLORS = (("instance", "#1565c0"), ("amortis", "#2e7d32"), ("electric", "#f9a825"), ("egress", "#6a1b9a"),
                    ("training", "#ef6c00"), ("federated", "#00838f"))


def component_color(name: str) -> str:
    low = name.lower()
    return next((c for word, c in COMPONENT_COLORS if word in low), "#8d6e63")


def cost_html(plan: Any, sim: Any | None) -> str:
    """Cost by component: the plan's monthly bill, and the simulated cost per item by category."""
    bill = plan.bill
    rows = [Row(label, [Mark("bar", 0.0, float(getattr(bill, attr, 0.0) or 0.0), component_color(attr),
                              label=fmt_usd(float(getattr(bill, attr, 0.0) or 0.0)))])
            for attr, label in BILL_PARTS]
    energy_kwh = float(getattr(bill, "energy_j", 0.0) or 0.0) / 3.6e6
    parts = ["<section id='cost'><h2>Cost by component</h2>",
             hchart(rows, title=f"Planned monthly bill: {money(plan.monthly_cost_usd)}, {energy_kwh:,.1f} kWh",
                    axis_title="USD per month", fmt=fmt_usd)]
    if sim is not None:
        c = sim.costs()
        c = c[pd.to_numeric(c["monthly_usd"], errors="coerce").fillna(0) > 0]
        if len(c):
            cats = list(dict.fromkeys(c["category"]))
            color = {k: component_color(k) for k in cats}
            # A fleet has an item per member: sum items per site or fleet, keep the 15 dearest.
            key = c["item"].map(lambda s: _item_group(plan.scenario, str(s)))
            by = c.assign(group=key).groupby(["group", "category"], sort=False)["monthly_usd"].sum().reset_index()
            order = by.groupby("group")["monthly_usd"].sum().sort_values(ascending=False).index[:15]
            crow = []
            for g in order:
                x, marks = 0.0, []
                for r in by[by["group"] == g].itertuples():
                    marks.append(Mark("bar", x, x + r.monthly_usd, color[r.category], tip=f"{r.category}: {fmt_usd(r.monthly_usd)}"))
                    x += r.monthly_usd
                marks[-1] = Mark("bar", marks[-1].lo, marks[-1].hi, marks[-1].color, tip=marks[-1].tip, label=fmt_usd(x))
                crow.append(Row(g, marks))
            parts.append(hchart(crow, title=f"Simulated monthly cost per item: {money(sim.monthly_cost_usd)}",
                                axis_title="USD per month", fmt=fmt_usd, legend=[("bar", color[k], k) for k in cats]))
    return "".join(parts) + "</section>"


def _item_group(sc: Any, item: str) -> str:
    """A cost item's site, or its fleet for a member's item (`store-007/dev0:...` -> `stores`)."""
    site = item.split("/")[0]
    if site in sc.sites and sc.sites[site].fleet is not None:
        return f"{sc.sites[site].fleet} (fleet)"
    head, at, member = item.rpartition("@")  # `egress: footfall@store-073`: one row for the fleet's instances
    if at and member in sc.sites and sc.sites[member].fleet is not None:
        return f"{head} (fleet {sc.sites[member].fleet})"
    return item
