"""The tools that measure on this machine, apart from the predictors that only read what they wrote.

- `profiler`: time kernels and write `data/profiles/<name>.csv` (`planner profile`);
- `probes`: the probe graphs the profiler times, one seeded grid on every machine;
- `runtime`: kernels as onnxruntime runs them (its per-node timings, the per-call overheads);
- `train_kernels` and `kernels`: forward and backward kernels in numpy, timed for training steps;
- `session`, `quiet`, `peaks`: the timing loop, waiting for idle cores, peak FLOPs and bandwidth;
- `model`: `measure()`, a whole model timed as the profiles are (`estimate(..., measure=True)`).

The predictors (`estimator`, `hostmodel`, `roofline`, `calibration`, `llm`, `training`, ...) never
import this package at import time: an estimate runs no kernel unless asked to measure.
"""
from __future__ import annotations

from planner.costs.measure.model import Timing, measure

__all__ = ["Timing", "measure"]
