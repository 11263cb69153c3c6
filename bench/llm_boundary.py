"""Planned against simulated TTFT and TPOT for a language model across the edge-cloud boundary.

    python bench/llm_boundary.py [--rates 0.5,1,2] [--seed 0] [--horizon 300]

The campus workload of `scenarios/llm_boundary.yaml` (Llama-3-8B at int4, 1,500 prompt and 400
answer tokens, four AGX Orins, L4 pool over a 10 Gbit/s link) placed by hand four ways at each
rate: all on the Jetsons, all on the L4 pool, prefill on the L4 with decode on the Jetsons
(`prefill_cloud_decode_edge`), and a Llama-3.2-1B draft on the Jetsons with the 8B verifying on
the L4 (`speculative`, k = 4, the catalog's default acceptance rate). Each placement's analytical
verdict (`planner.evaluate`) against its simulation (`planner.simulate`): p99 TTFT and TPOT,
simulated / planned, and the monthly cost of each.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import planner  # noqa: E402
from planner.scenario import parse_scenario  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NAME = "campus-assistant"
PLACEMENTS = {
    "all-edge": {"site": "campus", "hardware": "jetson-agx-orin-64gb", "precision": "int4"},
    "all-cloud": {"site": "aws-us-east-1", "hardware": "l4", "precision": "int4"},
    "prefill_cloud_decode_edge": {"site": "aws-us-east-1", "hardware": "l4", "precision": "int4",
                                  "edge_hardware": "jetson-agx-orin-64gb", "llm_split": "prefill_cloud_decode_edge"},
    "speculative": {"site": "aws-us-east-1", "hardware": "l4", "precision": "int4",
                    "edge_hardware": "jetson-agx-orin-64gb", "llm_split": "speculative"},
}


def scenario(rate_per_s: float, horizon_s: float):
    """The example's campus workload alone at `rate_per_s`, opted into both boundary modes."""
    raw = yaml.safe_load((ROOT / "scenarios" / "llm_boundary.yaml").read_text())
    w = raw["workloads"][NAME]
    w["arrival"]["rate_per_s"] = rate_per_s
    w["speculative"] = {"draft": "llama-3.2-1b", "k": 4}
    raw["workloads"] = {NAME: w}
    raw["horizon_s"] = horizon_s
    return parse_scenario(yaml.safe_dump(raw), str(ROOT / "scenarios" / "llm_boundary.yaml"))


def rows(rates: list[float], seed: int, horizon_s: float) -> pd.DataFrame:
    out = []
    for rate in rates:
        sc = scenario(rate, horizon_s)
        for label, choice in PLACEMENTS.items():
            p = planner.evaluate(sc, {NAME: choice})
            t = p.table().set_index("workload").loc[NAME]
            s = planner.simulate(sc, p, seed=seed).summary().set_index("workload").loc[NAME]
            out.append({"rate_per_s": rate, "placement": label, "ok": bool(t["ok"]),
                        "plan_ttft_ms": t["predicted_ttft_ms"], "sim_ttft_ms": s["ttft_p99_ms"],
                        "ttft_ratio": s["ttft_p99_ms"] / t["predicted_ttft_ms"],
                        "plan_tpot_ms": t["predicted_tpot_ms"], "sim_tpot_ms": s["tpot_p99_ms"],
                        "tpot_ratio": s["tpot_p99_ms"] / t["predicted_tpot_ms"],
                        "plan_usd": t["monthly_cost_usd"], "sim_usd": s["monthly_cost_usd"], "completed": s["completed"]})
    return pd.DataFrame(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rates", default="0.5,1,2")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--horizon", type=float, default=300.0)
    a = ap.parse_args(argv)
    df = rows([float(r) for r in a.rates.split(",")], a.seed, a.horizon)
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.float_format", "{:,.2f}".format):
        print(df.to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
