"""Writes retail_stores.csv: 200 stores whose uplinks spread as measured broadband uploads do.

Each store's measured upload is a quantile of a lognormal distribution (evenly spaced
quantiles, shuffled, so 200 stores cover the spread without sampling noise): median
17.18 Mbit/s, the US fixed-broadband median upload (Ookla, Q2 2021, catalog `broadband`), and
a log-standard deviation of 0.9 (assumed; see README.md). The CSV gives each store's link the
share of its line the stores can give to video (40%, assumed), the download in the catalog's
ratio of median download to median upload, a round-trip time to the cloud region, its camera
count relative to the typical six (`rate_scale`) and its one edge box.

    python scenarios/inventories/retail_stores.py
"""
from __future__ import annotations

import csv
import random
from pathlib import Path
from statistics import NormalDist

STORES = 200
MEDIAN_UPLOAD_MBPS = 17.18  # Ookla Q2 2021 US fixed broadband median upload (data/networks.csv)
MEDIAN_DOWNLOAD_MBPS = 115.22
LOG_SD = 0.9  # assumed: 10% of lines below 5.4 Mbit/s up (ADSL-like), 10% above 55 (fibre-like)
VIDEO_SHARE = 0.4  # assumed: payments, VoIP and the back office keep the rest of the line


def main() -> None:
    rng = random.Random(3)
    z = [NormalDist().inv_cdf((i + 0.5) / STORES) for i in range(STORES)]
    rng.shuffle(z)
    rows = []
    for i, zi in enumerate(z, start=1):
        upload = MEDIAN_UPLOAD_MBPS * 2.718281828459045 ** (LOG_SD * zi)
        download = upload * MEDIAN_DOWNLOAD_MBPS / MEDIAN_UPLOAD_MBPS
        rtt_ms = rng.uniform(18, 45)  # assumed: a store's broadband to a cloud region in its half of the US
        cameras = rng.choice([4, 5, 6, 6, 6, 7, 8])  # assumed: ceiling cameras by store size, six typical
        rows.append({"name": f"store-{i:03d}", "uplink_mbps": round(VIDEO_SHARE * upload, 2),
                     "downlink_mbps": round(VIDEO_SHARE * download, 1), "rtt_ms": round(rtt_ms, 1),
                     "rate_scale": round(cameras / 6, 3), "jetson-orin-nano-8gb": 1})
    out = Path(__file__).with_suffix(".csv")
    with out.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


if __name__ == "__main__":
    main()
