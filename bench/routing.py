"""Routed pairs, planned against simulated: the share the secondary serves and the p99 (TTFT,
TPOT for language models) of each side, at several loads.

    python bench/routing.py                  # overflow at 4 loads x 2 rules, by_tokens at 2 rates, ~3 min
    python bench/routing.py --horizon-s 300  # longer runs, less sampling noise
    python bench/routing.py --sparse         # the shop's own edge at moderate loads: sparse overflow, ~4 min
    python bench/routing.py --day 1 2 3      # shop_overflow's plan against a day of simulation per seed, ~30 s each
    python bench/routing.py --whole-hour 16 19 --seeds 1 2 3 4  # those hours as one 3600 s run each, ~20 s a run

Overflow: the shop of `scenarios/shop_overflow.yaml` (two Jetson Orin Nano boxes, YOLOv5s fp16,
an L4 pool), its cameras at a constant Poisson rate of `rho` x the two boxes' capacity, the pair
fixed by hand. By tokens: `scenarios/clinic_by_tokens.yaml`'s llama-3-8b chat on an AGX Orin
(int4) with prompts over 2,000 tokens sent to an L4 pool (fp16), at two rates. Rows `edge alone`
and `cloud alone` are unrouted placements of the same workloads: the agreement unrouted options
have today, for comparison. A ratio is planned / simulated.

Sparse overflow (`--sparse`): the shop as its scenario gives it (two Nanos at service cv 0.1,
`queue_ms: 20`) at a constant Poisson rate of 55-80% of the two boxes' capacity, one long run
per load from a pool with no instance: the share sent on, the episodes it comes in (an episode:
the first overflow since an arrival last found the edge empty) and the share of the time the
pool keeps an instance up for them (its instance-seconds / the horizon), planned
(`plan.overflow`, `routing.kept_up_share`) against simulated.

A day (`--day`): `shop_overflow.yaml` as planned, and `planner.simulate_day` of the plan per
seed (each hour a run of the 600 s horizon centred in it): the month's bill, and the
instance-hours a day the pool ran in the hours the plan buys none (the sparse overflow's).
Whole hours (`--whole-hour`): those hours of the same plan as one run of 3600 s each from the
hour's start, the pool's up time against the plan's for the hour.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import planner  # noqa: E402
from planner.model.routing import kept_up_share, queue_limit  # noqa: E402
from planner.plan.overflow import overflow  # noqa: E402
from planner.scenario import parse_scenario  # noqa: E402
from planner.sim.adapter import build_spec  # noqa: E402
from planner.sim.engine import Engine  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
EDGE = {"site": "shop", "hardware": "jetson-orin-nano-8gb", "precision": "fp16"}
CLOUD = {"site": "aws-eu-west-1", "hardware": "l4", "precision": "fp16"}


def overflow_rows(horizon_s: float, seed: int) -> list[dict]:
    base = yaml.safe_load((ROOT / "scenarios" / "shop_overflow.yaml").read_text())
    service_s = planner.estimate("yolov5s", "jetson-orin-nano-8gb", precision="fp16", batch=1).latency_ms / 1000
    rows = []
    for rule in ({"queue_len": 4}, {"queue_ms": 20}):
        for rho in (0.8, 1.0, 1.1, 1.2):
            d = yaml.safe_load(yaml.safe_dump(base))
            d["horizon_s"] = horizon_s
            w = d["workloads"]["cameras"]
            w["arrival"] = {"process": "poisson", "rate_per_s": rho * 2 / service_s}
            w["routing"] = {"overflow": rule}
            d["sites"]["shop"]["devices"] = [{"hardware": "jetson-orin-nano-8gb", "count": 2, "max_batch": 1,
                                              "service_cv": 0.5}]
            sc = parse_scenario(d)
            placements = {f"overflow {rule}": {**EDGE, "secondary": CLOUD}}
            if rule.get("queue_len") == 4 and rho < 0.9:  # unrouted reference: the edge alone, below its capacity
                placements["edge alone"] = EDGE  # (all frames to the cloud would overload the shop's uplink)
            for label, placement in placements.items():
                q = planner.evaluate(sc, {"cameras": placement})
                r = planner.simulate(sc, q, seed=seed).summary().set_index("workload").loc["cameras"]
                share = q.options["cameras"].secondary_share
                p99 = q.assessment.p99_ms["cameras"]
                rows.append({"rule": label, "load": rho, "share_planned": share,
                             "share_simulated": r["secondary_share"],
                             "share_ratio": share / r["secondary_share"] if r["secondary_share"] else float("nan"),
                             "p99_planned_ms": p99, "p99_simulated_ms": r["p99_ms"], "p99_ratio": p99 / r["p99_ms"]})
    return rows


def sparse_rows(horizon_s: float, seed: int, loads=(0.55, 0.6, 0.65, 0.7, 0.8)) -> list[dict]:
    """The shop's own edge at moderate loads: share, episodes and the pool's up time."""
    base = yaml.safe_load((ROOT / "scenarios" / "shop_overflow.yaml").read_text())
    service_s = planner.estimate("yolov5s", "jetson-orin-nano-8gb", precision="fp16", batch=1).latency_ms / 1000
    nano = next(g for g in base["sites"]["shop"]["devices"] if g["hardware"] == "jetson-orin-nano-8gb")
    pool = base["sites"]["aws-eu-west-1"]["pools"][0]
    limit = queue_limit(base["workloads"]["cameras"]["routing"]["overflow"]["queue_ms"], None, nano["count"], service_s)
    rows = []
    for rho in loads:
        rate = rho * nano["count"] / service_s
        d = yaml.safe_load(yaml.safe_dump(base))
        d["horizon_s"] = horizon_s
        d["workloads"]["cameras"]["arrival"] = {"process": "poisson", "rate_per_s": rate}
        sc = parse_scenario(d)
        engine = Engine(build_spec(sc, {"cameras": {**EDGE, "secondary": CLOUD}}, seed=seed, warm_instances={}))
        seen = _count_episodes(engine.flows[0])
        r = engine.run()
        o = overflow(nano["count"], rate, service_s, limit, nano["service_cv"])
        up = kept_up_share(o.episodes_per_s, pool["cold_start_s"])
        sim_share = seen["sent"] / seen["arrived"]
        sim_episodes = seen["episodes"] / horizon_s
        rows.append({"rule": f"sparse queue_len {limit}", "load": rho, "rate_per_s": rate,
                     "share_planned": o.share, "share_simulated": sim_share,
                     "share_ratio": o.share / sim_share if sim_share else float("nan"),
                     "episodes_planned_per_s": o.episodes_per_s, "episodes_simulated_per_s": sim_episodes,
                     "per_episode_planned": o.requests_per_episode,
                     "per_episode_simulated": seen["sent"] / seen["episodes"] if seen["episodes"] else float("nan"),
                     "up_planned": up, "up_simulated": _up_share(r), "up_ratio": up / _up_share(r)})
    return rows


def day_rows(seeds: list[int]) -> list[dict]:
    """shop_overflow's plan against a day of simulation per seed."""
    sc = planner.load_scenario(ROOT / "scenarios" / "shop_overflow.yaml")
    p = planner.plan(sc)
    o = p.options["cameras"]
    (pool,) = p.pool_mixes
    sparse = {h for h in range(24) if not p.warm_instances_at(h).get(pool)}
    rows = []
    for seed in seeds:
        day = planner.simulate_day(sc, p, seed=seed)
        kept = sum(_up_share(r) for h, r in day.hours.items() if h in sparse)
        rows.append({"seed": seed, "plan_usd": p.monthly_cost_usd, "day_usd": day.monthly_cost_usd,
                     "day_over_plan": day.monthly_cost_usd / p.monthly_cost_usd - 1,
                     "kept_h_planned": o.detail["kept_up_h_per_day"], "kept_h_simulated": kept})
    return rows


def whole_hour_rows(hours: list[int], seeds: list[int]) -> list[dict]:
    """Hours of shop_overflow's plan as one run of a whole hour each: the pool's up time."""
    sc = planner.load_scenario(ROOT / "scenarios" / "shop_overflow.yaml")
    p = planner.plan(sc)
    planned = p.options["cameras"].detail["kept_up_h_by_hour"]
    rows = []
    for h in hours:
        ups = [_up_share(planner.simulate(sc, p, seed=seed, horizon_s=3600.0, start_hour=h,
                                          warm_instances=p.warm_instances_at(h))) for seed in seeds]
        rows.append({"hour": h, "up_planned": planned[h], "up_simulated": sum(ups) / len(ups),
                     "runs": " ".join(f"{u:.3f}" for u in ups)})
    return rows


def _up_share(r) -> float:
    """The share of a run's horizon the L4 pool ran hourly instances."""
    return r.compute().set_index("hardware").loc["l4", "hourly_instance_s"] / r.horizon_s


def _count_episodes(flow) -> dict:
    """Wrap `flow`'s router to count arrivals, overflows and episodes (first overflow since an
    arrival found the edge empty), reading the edge's state as the router does."""
    router = flow.router
    group = router.group
    seen = {"arrived": 0, "sent": 0, "episodes": 0, "empty": True}

    def entry(req):
        seen["arrived"] += 1
        if not group.qlen and group.in_service() == 0:
            seen["empty"] = True
        elif router.to_secondary(req):
            seen["sent"] += 1
            seen["episodes"] += seen["empty"]
            seen["empty"] = False
        router(req)

    flow.entry = entry
    return seen


def token_rows(horizon_s: float, seed: int) -> list[dict]:
    d = yaml.safe_load((ROOT / "scenarios" / "clinic_by_tokens.yaml").read_text())
    d["horizon_s"] = horizon_s
    rows = []
    for rate in (0.2, 0.5):
        d["workloads"]["chat"]["arrival"] = {"process": "poisson", "rate_per_s": rate}
        sc = parse_scenario(d)
        edge = {"site": "clinic", "hardware": "jetson-agx-orin-64gb", "precision": "int4"}
        cloud = {"site": "aws-us-east-1", "hardware": "l4", "precision": "fp16"}
        placements = {"by_tokens 2000": {**edge, "secondary": cloud}}
        placements |= {"edge alone": edge, "cloud alone": cloud} if rate < 0.3 else {}  # unrouted references
        for label, placement in placements.items():
            q = planner.evaluate(sc, {"chat": placement})
            r = planner.simulate(sc, q, seed=seed).summary().set_index("workload").loc["chat"]
            a = q.assessment
            share = q.options["chat"].secondary_share
            rows.append({"rule": label, "load": rate, "share_planned": share,
                         "share_simulated": r["secondary_share"],
                         "share_ratio": share / r["secondary_share"] if r["secondary_share"] else float("nan"),
                         "p99_planned_ms": a.p99_ms["chat"], "p99_simulated_ms": r["p99_ms"],
                         "p99_ratio": a.p99_ms["chat"] / r["p99_ms"], "ttft_ratio": a.ttft_ms["chat"] / r["ttft_p99_ms"],
                         "tpot_ratio": a.tpot_ms["chat"] / r["tpot_p99_ms"]})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--horizon-s", type=float, default=150.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--sparse", action="store_true", help="only the shop's own edge at moderate loads (3600 s runs "
                                                          "unless --horizon-s says otherwise)")
    ap.add_argument("--day", type=int, nargs="+", metavar="SEED", help="shop_overflow's plan against a day of "
                                                                         "simulation at each seed")
    ap.add_argument("--whole-hour", type=int, nargs="+", metavar="HOUR", help="those hours of shop_overflow's plan "
                                                                              "as whole-hour runs (--seeds)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4])
    args = ap.parse_args()
    rows = None
    if args.sparse:
        rows = sparse_rows(args.horizon_s if "--horizon-s" in sys.argv else 3600.0, args.seed)
    elif args.day:
        rows = day_rows(args.day)
    elif args.whole_hour:
        rows = whole_hour_rows(args.whole_hour, args.seeds)
    if rows is not None:
        with pd.option_context("display.width", 250, "display.max_columns", 20, "display.float_format", "{:.4g}".format):
            print(pd.DataFrame(rows).to_string(index=False))
        return
    df = pd.DataFrame(overflow_rows(args.horizon_s, args.seed) + token_rows(max(args.horizon_s, 300.0), args.seed))
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.float_format", "{:.3f}".format):
        print(df.to_string(index=False))


if __name__ == "__main__":
    main()
