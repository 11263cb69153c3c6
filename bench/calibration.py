"""Catalog estimates against published results: in-sample and leave-one-device-out.

    python bench/calibration.py              # per category and overall
    python bench/calibration.py --rows       # and every row
    python bench/calibration.py --csv FILE   # the per-row table

The rows are `data/published_calibration.csv` (33 figures from ../shared/facts/published_results.csv
that map onto catalog models and hardware, 9 of them MLPerf Training time-to-train) and the 12 MLPerf ResNet-50 points of
`data/mlperf_calibration.csv`. Error is the factor max(predicted / published, published /
predicted). "left out" refits both calibration stages (`calibration.py`, `published.py`) without
the row's device and predicts it: the error to expect on hardware with no published result.
"roofline" is stage 1 alone (ResNet-50-fitted constants, no published-rows factor). "inside 80%"
is the share of left-out rows whose published latency falls in an 80% interval built from the
other devices' left-out errors of the row's category (as `Estimate.latency_ms_low` ..
`latency_ms_high` are, from every device's).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from planner.costs.published import evaluate  # noqa: E402


def report(rows: bool = False, csv: str | None = None) -> pd.DataFrame:
    ev = evaluate()
    t = ev.table
    print(f"Catalog estimates against {len(t)} published figures on {t.hardware.nunique()} devices")
    print("  factors (family, device group): " + ", ".join(
        f"{fam}/{grp} {f:.3f}" for (fam, grp), f in sorted(ev.factors.cells.items())))
    lo, hi = ev.factors.interval["*"]
    print(f"  80% interval of an estimate (latency x): {lo:.2f} - {hi:.2f}")
    if rows:
        print(f"\n  {'row':38s} {'category':9s} {'hardware':22s} {'metric':20s} {'published':>11s} "
              f"{'fit':>11s} {'left out':>11s} {'x':>6s}")
        for r in t.itertuples():
            print(f"  {r.label[:38]:38s} {r.category:9s} {r.hardware:22s} {r.metric:20s} {r.published:11.4g} "
                  f"{r.fit:11.4g} {r.lodo:11.4g} {r.lodo_factor:6.2f}")
    s = ev.summary()
    print(f"\n  {'category':10s} {'rows':>4s}  {'roofline median':>15s}  {'in-sample median':>16s} {'max':>6s}  "
          f"{'left-out median':>15s} {'p90':>6s} {'max':>6s}  {'inside 80%':>10s}")
    for name, r in s.iterrows():
        print(f"  {name:10s} {int(r.rows):4d}  {r.roofline_median:15.2f}  {r.fit_median:16.2f} {r.fit_max:6.2f}  {r.lodo_median:15.2f} "
              f"{r.lodo_p90:6.2f} {r.lodo_max:6.2f}  {r.inside_80 * 100:9.0f}%")
    if csv:
        t.to_csv(csv, index=False)
    return s


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", action="store_true", help="print every row")
    ap.add_argument("--csv", help="write the per-row table here")
    args = ap.parse_args(argv)
    report(args.rows, args.csv)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
