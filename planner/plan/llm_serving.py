"""The planner's analytical model of a language model served with continuous batching.

A server runs iterations back to back (`sim/llmserve.py` simulates them one by one). In steady
state at `rate` requests per second, with B sequences decoding:

- a decode iteration takes `t_d(B)`; each request's prompt adds its prefill chunks to a few
  iterations, which then take `t_p(B)` in all (compute-bound: the prompt's GEMMs and attention's
  square), and stall every decoding sequence meanwhile;
- every iteration gives each decoding sequence one token, so the mean time per output token is
  ``TPOT = 1 / (rate x n_chunks + (1 - rate x t_p) / t_d)`` (iterations per second);
- by Little's law ``B = rate x (O - 1) x TPOT`` (O: mean output tokens), solved by fixed-point
  iteration from B = 0 (the smallest, stable solution).

The server is bounded by compute (``rate x t_p < 1``), sequences (the engine's `max_seqs`) and
tokens per iteration, and KV-cache memory; `capacity_per_s` is the largest rate that meets all
of them. At a rate, the 99th percentiles are:

- TPOT: decode iterations with `B + 2.33 sqrt(B)` sequences, plus the p99 number of prompt
  stalls in a request's lifetime (Poisson) spread over its tokens;
- TTFT: the p99 wait for the prefills ahead (M/D/1 on `t_p`), a decode iteration in progress,
  the p99 prompt's own chunks, and the wait for KV-cache room (Erlang-C with one "server" per
  sequence the cache holds, each busy for a request's residence time);
- end to end: TTFT + (p99 output - 1) x TPOT.

A `Shape` with `prefilled` is a decoder whose prompts arrive with their KV cache made elsewhere
(`prefill_cloud_decode_edge`): no prefill iterations, and the first token is one decode step.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from planner.costs.llm import MAX_BATCHED_TOKENS, LlmCost
from planner.plan.queueing import wait_quantile_s
from planner.tokens import TokenDist

Z99 = 2.326
#: fixed-point iterations for the batch; slower convergence means the server is at its limit
FIXED_POINT_STEPS = 200


@dataclass(frozen=True)
class Shape:
    """A workload's tokens per request: means, squared-mean prompt and 99th percentiles."""

    prompt: float
    prompt_sq: float
    prompt_p99: int
    output: float
    output_p99: int
    output_cv: float
    # the prompt's KV cache arrives computed (prefill elsewhere, `prefill_cloud_decode_edge`): no
    # prefill here, and the first token is the first decode step
    prefilled: bool = False

    @classmethod
    def of(cls, prompt: TokenDist, output: TokenDist, prefilled: bool = False) -> Shape:
        cv = prompt.cv if prompt.dist == "lognormal" else 1.0 if prompt.dist == "exponential" else 0.0
        out_cv = output.cv if output.dist == "lognormal" else 1.0 if output.dist == "exponential" else 0.0
        return cls(prompt.mean, prompt.mean ** 2 * (1 + cv * cv), prompt.quantile(0.99), max(output.mean, 1.0),
                   output.quantile(0.99), out_cv, prefilled)


@dataclass(frozen=True)
class Point:
    """The steady state of one server at `rate_per_s` (times in seconds)."""

    rate_per_s: float
    stable: bool
    why: str              # what bounds the server when it is not stable
    batch: float          # mean sequences decoding per iteration
    step_s: float         # mean iteration time = mean time per output token
    ttft_p99_s: float
    tpot_p99_s: float
    e2e_p99_s: float      # arrival at the server to the last token
    kv_util: float        # KV cache held / capacity


def _prefill(cost: LlmCost, shape: Shape, prompt: float, b: float) -> tuple[float, int]:
    """Seconds of the iterations that carry a `prompt`'s chunks beside `b` decoding sequences
    (their decode share included), and how many there are (none where the cache arrives made)."""
    if shape.prefilled:
        return 0.0, 0
    ctx = b * (shape.prompt + shape.output / 2)
    budget = max(1.0, MAX_BATCHED_TOKENS - b)
    total, done, n = 0.0, 0.0, 0
    while done < prompt:
        c = min(budget, prompt - done)
        total += cost.step_s(b + c, b + 1, ctx + b + c * (done + (c + 1) / 2), ctx + done)
        done += c
        n += 1
    return total, n


def _decode(cost: LlmCost, shape: Shape, b: float) -> float:
    ctx = shape.prompt + shape.output / 2
    return cost.step_s(b, b, b * (ctx + 1), b * ctx) if b > 0 else cost.step_s(1, 1, ctx + 1, ctx)


def _tpot(cost: LlmCost, shape: Shape, rate: float, b: float) -> tuple[float, float, int, float]:
    """(mean TPOT, prefill seconds per request, prefill iterations per request, decode iteration)."""
    t_p, n = _prefill(cost, shape, shape.prompt, b)
    t_d = _decode(cost, shape, b)
    free = 1 - rate * t_p
    if free <= 0:
        return math.inf, t_p, n, t_d
    return 1 / (rate * n + free / t_d), t_p, n, t_d


def operating_point(cost: LlmCost, shape: Shape, rate_per_s: float) -> Point:
    """The server's steady state at `rate_per_s`, with its p99 latencies."""
    inf = math.inf
    fail = lambda why: Point(rate_per_s, False, why, inf, inf, inf, inf, inf, inf)  # noqa: E731
    if not cost.fits:
        return fail(f"{cost.model} does not fit: {cost.weight_gb:.1f} GB of weights in {cost.usable_gb:.1f} GB usable")
    context = shape.prompt_p99 + shape.output_p99
    if context > cost.max_context:
        return fail(f"a {context:,}-token request exceeds {cost.model}'s context of {cost.max_context:,} tokens")
    if context > cost.kv_capacity_tokens:
        return fail(f"a {context:,}-token request exceeds the {cost.kv_capacity_tokens:,}-token KV cache")
    k = rate_per_s * max(shape.output - 1, 0.0)
    b, tpot = 0.0, inf
    for _ in range(FIXED_POINT_STEPS):
        tpot, t_p, n, t_d = _tpot(cost, shape, rate_per_s, b)
        nb = k * tpot
        if not nb <= cost.max_seqs:
            return fail("compute: prefill and decode exceed the device's throughput" if nb > cost.max_seqs * 4 or
                        not math.isfinite(nb) else f"{nb:.0f} sequences in the batch exceed {cost.max_seqs}")
        if abs(nb - b) <= 1e-4 * (1 + b):
            b = nb
            break
        b = nb
    else:
        return fail("compute: prefill and decode exceed the device's throughput")
    if b + rate_per_s * tpot * shape.prompt > MAX_BATCHED_TOKENS:
        return fail(f"{b + rate_per_s * tpot * shape.prompt:.0f} tokens per iteration exceed {MAX_BATCHED_TOKENS}")
    b99 = b + Z99 * math.sqrt(b)
    tpot99, t_p99, n99, t_d99 = _tpot(cost, shape, rate_per_s, b99)
    # prompt stalls in one request's decoding lifetime: Poisson, at its 99th percentile
    life_s = max(shape.output - 1, 1.0) * tpot
    stalls = rate_per_s * life_s
    stalls99 = stalls + Z99 * math.sqrt(stalls)
    tokens = max(shape.output - 1, 1.0)
    tpot_p99 = (max(tokens - stalls99 * n99, 0.0) * t_d99 + stalls99 * t_p99) / tokens
    tpot_p99 = max(tpot_p99, tpot99)
    # time to first token
    own_s = t_d99 if shape.prefilled else _prefill(cost, shape, shape.prompt_p99, b99)[0]
    rho_p = rate_per_s * t_p
    ahead_s = wait_quantile_s(1, min(rho_p, 0.999), t_p, 0.99, 0.0) if rho_p > 0 else 0.0
    ttft_mean = t_d / 2 + rho_p * t_p / 2 / max(1 - rho_p, 1e-9) + (t_d if shape.prefilled else t_p)
    resident = ttft_mean + max(shape.output - 1, 0.0) * tpot
    held = rate_per_s * resident  # sequences holding cache
    slots = max(1, min(cost.max_seqs, int(cost.kv_capacity_tokens // (shape.prompt + shape.output))))
    u = held / slots
    if u >= 1:
        return fail(f"KV cache: {held:.1f} sequences of {shape.prompt + shape.output:,.0f} tokens held, room for {slots}")
    admit_s = wait_quantile_s(slots, u, resident, 0.99, shape.output_cv)
    ttft = ahead_s + t_d99 + own_s + admit_s + (0.0 if shape.prefilled else cost.request_s)  # the runtime's own time
    return Point(rate_per_s, True, "", b, tpot, ttft, tpot_p99, ttft + max(shape.output_p99 - 1, 0) * tpot_p99,
                 held * (shape.prompt + shape.output / 2) / cost.kv_capacity_tokens)


@lru_cache(maxsize=4096)  # ~50 operating points a search, the same for every fleet member served alike
def capacity_per_s(cost: LlmCost, shape: Shape) -> float:
    """The most requests per second one server sustains (0 where the model or a request does not fit)."""
    if not operating_point(cost, shape, 1e-9).stable:
        return 0.0
    lo, hi = 0.0, 1.0
    while operating_point(cost, shape, hi).stable and hi < 1e6:
        lo, hi = hi, hi * 4
    for _ in range(40):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if operating_point(cost, shape, mid).stable else (lo, mid)
    return lo
