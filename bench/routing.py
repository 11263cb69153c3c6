"""Routed pairs, planned against simulated: the share the secondary serves and the p99 (TTFT,
TPOT for language models) of each side, at several loads.

    python bench/routing.py                  # overflow at 4 loads x 2 rules, by_tokens at 2 rates, ~3 min
    python bench/routing.py --horizon-s 300  # longer runs, less sampling noise

Overflow: the shop of `scenarios/shop_overflow.yaml` (two Jetson Orin Nano boxes, YOLOv5s fp16,
an L4 pool), its cameras at a constant Poisson rate of `rho` x the two boxes' capacity, the pair
fixed by hand. By tokens: `scenarios/clinic_by_tokens.yaml`'s llama-3-8b chat on an AGX Orin
(int4) with prompts over 2,000 tokens sent to an L4 pool (fp16), at two rates. Rows `edge alone`
and `cloud alone` are unrouted placements of the same workloads: the agreement unrouted options
have today, for comparison. A ratio is planned / simulated.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import planner  # noqa: E402
from planner.scenario import parse_scenario  # noqa: E402

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
    args = ap.parse_args()
    df = pd.DataFrame(overflow_rows(args.horizon_s, args.seed) + token_rows(max(args.horizon_s, 300.0), args.seed))
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.float_format", "{:.3f}".format):
        print(df.to_string(index=False))


if __name__ == "__main__":
    main()
