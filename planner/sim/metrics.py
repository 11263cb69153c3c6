"""Streaming metrics with bounded memory: a log-bucket quantile sketch (exact for small runs), per-workload counters
and segment sums, time-binned utilisation, and a sampled per-request trace written to Parquet.

Nothing here keeps a per-request record (except the trace's bounded buffer), so a run of any
length holds the same memory.
"""
from __future__ import annotations

import math
from array import array
from collections.abc import Iterable
from pathlib import Path


#: Values a sketch keeps exactly before it answers from its buckets alone: quantiles of runs up
#: to this size are exact (10,000 doubles, 80 kB), so replications differ where they really do.
EXACT_MAX = 10_000


class LogSketch:
    """A DDSketch-like quantile sketch, exact below `exact_max` values, within 1% above.

    The first `exact_max` values are kept as they are, and quantiles over them are exact (linear
    interpolation between order statistics, as numpy's default). Past that the sketch answers
    from its buckets: bucket i counts values in (gamma^(i-1), gamma^i] with
    gamma = (1+alpha)/(1-alpha), and a quantile is interpolated within its bucket by rank (in log
    space), so it lies in the bucket and within gamma - 1 (about 2 alpha: 1% at the default
    alpha of 0.5%) of the true value, and it moves with the data rather than sticking to a bucket
    centre (a p99 identical to the digit across seeds made every confidence interval 0).

    Buckets are a fixed array over [`min_value`, `max_value`] (1 us to 10^6 s by default: about
    2,800 counters, 22 kB): values at or below `min_value` count as zero, values above
    `max_value` in the top bucket. Fixed size, and one contiguous array, so adding a value
    touches one cache line however many sketches a run keeps.
    """

    __slots__ = ("alpha", "gamma", "inv_log_gamma", "min_value", "max_value", "offset", "counts", "zeros", "count",
                 "exact", "exact_max")

    def __init__(self, alpha: float = 0.005, min_value: float = 1e-6, max_value: float = 1e6,
                 exact_max: int = EXACT_MAX):
        self.alpha = alpha
        self.gamma = (1 + alpha) / (1 - alpha)
        self.inv_log_gamma = 1.0 / math.log(self.gamma)
        self.min_value = min_value
        self.max_value = max_value
        lo = math.ceil(math.log(min_value) * self.inv_log_gamma)
        hi = math.ceil(math.log(max_value) * self.inv_log_gamma)
        self.offset = -lo  # counts[i + offset] is bucket i
        self.counts = array("q", bytes(8 * (hi - lo + 1)))
        self.zeros = 0
        self.count = 0
        self.exact_max = exact_max
        self.exact: array | None = array("d")  # None once more than exact_max values came

    def index(self, x: float) -> int:
        """The position in `counts` of a value > min_value."""
        i = math.ceil(math.log(x) * self.inv_log_gamma) + self.offset
        n = len(self.counts)
        return i if i < n else n - 1

    def add(self, x: float) -> None:
        self.count += 1
        if x > self.min_value:
            self.counts[self.index(x)] += 1
        else:
            self.zeros += 1
        ex = self.exact
        if ex is not None:
            if len(ex) < self.exact_max:
                ex.append(x)
            else:
                self.exact = None

    @property
    def buckets(self) -> dict[int, int]:
        """The non-empty buckets, bucket index -> count."""
        off = self.offset
        return {k - off: c for k, c in enumerate(self.counts) if c}

    def merge(self, other: LogSketch) -> None:
        """Add another sketch's counts (same accuracy and range) to this one."""
        if abs(other.gamma - self.gamma) > 1e-12 or len(other.counts) != len(self.counts) or other.offset != self.offset:
            raise ValueError("cannot merge sketches of different accuracy or range")
        c = self.counts
        for k, v in enumerate(other.counts):
            if v:
                c[k] += v
        self.zeros += other.zeros
        self.count += other.count
        if self.exact is not None and other.exact is not None and len(self.exact) + len(other.exact) <= self.exact_max:
            self.exact.extend(other.exact)
        else:
            self.exact = None

    def _value(self, k: int) -> float:
        return 2.0 * self.gamma ** (k - self.offset) / (self.gamma + 1.0)

    def quantile(self, q: float) -> float:
        """The q-quantile (0 <= q <= 1); NaN when empty. Exact while the values are kept."""
        if self.count == 0:
            return math.nan
        rank = q * (self.count - 1)
        if self.exact is not None and len(self.exact) == self.count:
            xs = sorted(self.exact)
            lo = int(rank)
            hi = min(lo + 1, len(xs) - 1)
            return xs[lo] + (xs[hi] - xs[lo]) * (rank - lo)
        seen = self.zeros
        if rank < seen:
            return 0.0
        last = 0
        top = len(self.counts) - 1
        for k, c in enumerate(self.counts):
            if c:
                if seen + c > rank:
                    if k == top:  # values past max_value: no upper edge to interpolate to
                        return self._value(k)
                    # where the rank falls among the bucket's c values, spread evenly in log space
                    f = min(1.0, max(0.0, (rank - seen + 0.5) / c))
                    upper = self.gamma ** (k - self.offset)
                    return upper / self.gamma ** (1.0 - f)
                seen += c
                last = k
        return self._value(last)

    def fraction_at_most(self, x: float) -> float:
        """Estimated share of values <= x (exact while the values are kept, else bucket resolution)."""
        if self.count == 0:
            return math.nan
        if self.exact is not None and len(self.exact) == self.count:
            return sum(1 for v in self.exact if v <= x) / self.count
        if x <= self.min_value:
            return self.zeros / self.count
        lim = self.index(x)
        return (self.zeros + sum(self.counts[: lim + 1])) / self.count

    def __len__(self) -> int:
        return self.count

    def __repr__(self) -> str:
        mode = "exact" if self.exact is not None else f"alpha={self.alpha}"
        return f"LogSketch(n={self.count}, buckets={sum(1 for c in self.counts if c)}, {mode})"


class TimeBins:
    """Time-integrated quantity (busy seconds, instance seconds) in `n` fixed-width bins over
    [0, horizon]: bounded memory however long or busy the run."""

    __slots__ = ("width", "n", "values")

    def __init__(self, horizon_s: float, n: int):
        self.n = max(1, int(n))
        self.width = max(horizon_s, 1e-9) / self.n
        self.values = array("d", bytes(8 * self.n))

    def add(self, t0: float, t1: float, weight: float = 1.0) -> None:
        """Add `weight` x the overlap of [t0, t1] with each bin."""
        w = self.width
        i = int(t0 / w)
        j = int(t1 / w)
        n = self.n
        if i == j:
            if i < n:
                self.values[i] += (t1 - t0) * weight
            return
        vals = self.values
        if i < n:
            vals[i] += ((i + 1) * w - t0) * weight
        for k in range(i + 1, min(j, n)):
            vals[k] += w * weight
        if j < n:
            vals[j] += (t1 - j * w) * weight

    def edges(self) -> list[float]:
        return [k * self.width for k in range(self.n + 1)]

    def __repr__(self) -> str:
        return f"TimeBins(n={self.n}, width_s={self.width:g})"


class WorkloadStats:
    """Counters, segment sums, a latency sketch and the number-in-system integral of one
    inference workload. Latency figures count requests that arrived after the warm-up."""

    __slots__ = (
        "name", "slo_s", "arrived", "completed", "failed", "failed_measured", "late", "slo_met", "retries", "lat_sum",
        "sketch", "up_s", "queue_s", "compute_s", "down_s", "measured", "in_system", "area", "t_last",
        "batch_sum", "egress_bytes", "egress_usd", "bytes_sent", "net_energy_j", "ttft", "tpot", "tokens_out",
        "fallback", "retried",
    )

    def __init__(self, name: str, slo_s: float | None, alpha: float = 0.005):
        self.name = name
        self.slo_s = slo_s
        self.arrived = 0
        self.completed = 0
        self.failed: dict[str, int] = {}
        self.failed_measured = 0  # failures of requests that arrived after the warm-up
        self.late = 0
        self.slo_met = 0
        self.retries = 0
        self.retried: dict[str, int] = {}  # retries by reason (a spot instance interrupted...)
        self.lat_sum = 0.0
        self.sketch = LogSketch(alpha)
        self.up_s = self.queue_s = self.compute_s = self.down_s = 0.0
        self.measured = 0  # completed after the warm-up: the denominator of the sums above
        self.in_system = 0
        self.area = 0.0  # integral of in_system over time (Little's law)
        self.t_last = 0.0
        self.batch_sum = 0
        self.egress_bytes = 0.0
        self.egress_usd = 0.0
        self.bytes_sent = 0.0
        self.net_energy_j = 0.0
        self.ttft = LogSketch(alpha)  # language models: time to first token, s
        self.tpot = LogSketch(alpha)  # time per output token after the first, s
        self.tokens_out = 0
        self.fallback = 0  # answered by the fallback at the source (after the warm-up)

    @property
    def failed_total(self) -> int:
        return sum(self.failed.values())

    def __repr__(self) -> str:
        return (f"WorkloadStats({self.name!r}, arrived={self.arrived}, completed={self.completed}, "
                f"failed={self.failed_total}, in_system={self.in_system})")


class TraceWriter:
    """A sampled per-request trace, written to Parquet in row groups as it fills; at most
    `max_rows` rows in all, so a long run stays bounded on disk and in memory."""

    COLUMNS = ("request_id", "workload", "status", "reason", "arrival_s", "latency_ms",
               "uplink_ms", "queue_ms", "compute_ms", "downlink_ms", "batch", "attempts")

    def __init__(self, path: str | Path, sample: float, max_rows: int = 1_000_000, flush_rows: int = 50_000):
        self.path = Path(path)
        self.sample = float(sample)
        self.max_rows = max_rows
        self.flush_rows = flush_rows
        self.rows_written = 0
        self._buf: list[tuple] = []
        self._writer = None

    @property
    def full(self) -> bool:
        return self.rows_written + len(self._buf) >= self.max_rows

    def add(self, row: tuple) -> None:
        if self.full:
            return
        self._buf.append(row)
        if len(self._buf) >= self.flush_rows:
            self.flush()

    def flush(self) -> None:
        if not self._buf:
            return
        import pyarrow as pa
        import pyarrow.parquet as pq

        cols = list(zip(*self._buf))
        table = pa.table({
            "request_id": pa.array(cols[0], pa.int64()),
            "workload": pa.array(cols[1], pa.string()).dictionary_encode(),
            "status": pa.array(cols[2], pa.string()).dictionary_encode(),
            "reason": pa.array(cols[3], pa.string()).dictionary_encode(),
            **{name: pa.array(col, pa.float64()) for name, col in zip(self.COLUMNS[4:10], cols[4:10])},
            "batch": pa.array(cols[10], pa.int32()),
            "attempts": pa.array(cols[11], pa.int32()),
        })
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = pq.ParquetWriter(self.path, table.schema)
        self._writer.write_table(table)
        self.rows_written += len(self._buf)
        self._buf.clear()

    def close(self) -> None:
        if self._writer is None and not self._buf:
            # an empty trace still gets a file with the schema, so readers need no special case
            self._buf.append((0, "", "", "", 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0, 0))
            self.flush()
            import pyarrow.parquet as pq

            self._writer.close()
            table = pq.read_table(self.path).slice(0, 0)
            pq.write_table(table, self.path)
            self.rows_written = 0
            return
        self.flush()
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def __repr__(self) -> str:
        return f"TraceWriter({str(self.path)!r}, sample={self.sample}, rows={self.rows_written + len(self._buf)}/{self.max_rows})"


def merge_sketches(sketches: Iterable[LogSketch], alpha: float = 0.005) -> LogSketch:
    out = LogSketch(alpha)
    for s in sketches:
        out.merge(s)
    return out
