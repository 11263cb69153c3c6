"""Time a whole ONNX model on this machine, set up exactly as the profiles are."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx

from planner.costs.measure.session import feeds, low_mean, session, time_session


@dataclass(frozen=True)
class Timing:
    """Wall-clock latency of one run, in ms: the uncontended estimate and the spread."""

    low_ms: float      # mean of the fastest tenth of runs
    median_ms: float   # the figure a profile predicts (kernels are priced by their median run)
    p90_ms: float
    runs: int

    def __repr__(self) -> str:
        return f"Timing({self.low_ms:.3f} ms, median {self.median_ms:.3f}, p90 {self.p90_ms:.3f}, n={self.runs})"


def measure(model: onnx.ModelProto | str, *, min_runs: int = 20, min_s: float = 1.0, max_runs: int = 500,
            rounds: int = 1) -> Timing:
    """Run the model in onnxruntime (all optimizations, one thread per core) and time it.
    `rounds` > 1 repeats the timing in separate bursts and pools them (less exposed to a burst
    of other work on a shared machine)."""
    src = model if isinstance(model, (str, bytes)) else model.SerializeToString()
    sess = session(src)
    inputs = feeds(sess)
    samples = np.concatenate([time_session(sess, inputs, min_runs=min_runs, min_s=min_s, max_runs=max_runs)
                              for _ in range(max(rounds, 1))])
    return Timing(low_mean(samples) * 1e3, float(np.median(samples)) * 1e3, float(np.percentile(samples, 90)) * 1e3,
                  len(samples))
