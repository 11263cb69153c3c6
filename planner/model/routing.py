"""The conventions of a routed pair that the planner and the simulator share: the queue length
at which an overflow rule sends a request to the secondary, which side a `by_tokens` rule picks,
and how long a pool's autoscaler keeps an instance it launched for a sparse request. The planner
predicts the shares and the instance time from them; the simulator applies them request by request."""
from __future__ import annotations

import math

#: the routing rules a workload's `routing:` may give (scenario `Routing.rules`)
RULES = ("overflow", "by_tokens")
#: how often a pool's autoscaler looks (the Kubernetes HPA default sync period) and how long after
#: its last scale-up it may scale down (the simulator's `ComputeSpec` defaults)
SCALE_INTERVAL_S = 15.0
SCALE_DOWN_DELAY_S = 60.0


def kept_up_share(episodes_per_s: float, cold_start_s: float) -> float:
    """Share of the time a pool that scales from zero keeps an instance up for requests that come
    sparsely in episodes at `episodes_per_s` (Poisson; a burst of requests within milliseconds, as
    an overflow rule sends them, counts once: `plan.overflow`; requests that come one by one are
    bursts of one). An episode that finds no instance launches one, which starts for
    `cold_start_s` (the requests meanwhile wait for it) and then serves until the autoscaler looks
    at a quiet window: it is retired once no episode came for `gap` = 1.5 looks (its first look
    after a whole quiet window). An up period lasts the cold start plus the wait for such a gap,
    (e^(rate x gap) - 1) / rate on average; a down period, until the next episode, 1 / rate."""
    if episodes_per_s <= 0:
        return 0.0
    x = episodes_per_s * 1.5 * SCALE_INTERVAL_S
    if x > 50:  # a quiet window practically never comes: up all the time
        return 1.0
    up_rate = episodes_per_s * cold_start_s + math.expm1(x)  # rate x (mean up period)
    return up_rate / (up_rate + 1.0)


def queue_limit(queue_ms: float | None, queue_len: int | None, servers: int, service_s: float) -> int:
    """Waiting requests at the primary at which an arrival goes to the secondary instead.

    `queue_len` is the limit as given. `queue_ms` is a bound on the newcomer's predicted wait:
    with `servers` servers each taking `service_s` per request (batch 1), n requests ahead wait
    n x service_s / servers, so the newcomer is sent on once that exceeds `queue_ms`."""
    if queue_len is not None:
        return int(queue_len)
    if queue_ms is None:
        raise ValueError("an overflow rule needs queue_ms or queue_len")
    if service_s <= 0:
        return 1 << 30  # a free server never queues: nothing overflows
    return int(math.floor(queue_ms / 1000 * max(1, servers) / service_s + 1e-9)) + 1


def to_secondary_by_tokens(prompt_tokens: int, edge_max_prompt_tokens: int) -> bool:
    """Whether a `by_tokens` rule sends a prompt of `prompt_tokens` to the secondary."""
    return prompt_tokens > edge_max_prompt_tokens
