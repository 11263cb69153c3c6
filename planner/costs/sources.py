"""How an estimate was obtained (`Estimate.source`), from the strongest to the weakest basis.

- measured: the model itself was timed on this machine (`measure=True`);
- interpolated: priced from this machine's kernel profile, inside the profiled shapes;
- calibrated: a roofline fitted to published results for this very device (`published.py`);
- transferred: carried from other hardware of its kind: by the calibrated roofline to a device
  with no published result of its own whose group (GPU, CPU, dataflow NPU) has some, or priced
  from a kernel profile taken on another machine (a `host` profile read on a different CPU);
- extrapolated: this machine's kernel profile read outside its profiled shapes;
- assumed: no published result for the device's group, or an op nobody profiled.

A figure built from several parts carries the weakest of their sources.
"""
from __future__ import annotations

SOURCES = ("measured", "interpolated", "calibrated", "transferred", "extrapolated", "assumed")
#: source -> rank (0 strongest); the one ordering every layer compares sources by
RANK = {s: i for i, s in enumerate(SOURCES)}


def weakest(*sources: str) -> str:
    """The weakest of `sources` (a label outside SOURCES sorts after assumed)."""
    if len(sources) == 2:  # the common case, called per planning option: no key function
        a, b = sources
        return a if RANK.get(a, len(SOURCES)) >= RANK.get(b, len(SOURCES)) else b
    return max(sources, key=lambda s: RANK.get(s, len(SOURCES)), default="assumed")


__all__ = ["SOURCES", "RANK", "weakest"]
