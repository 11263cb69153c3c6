"""The conventions of a routed pair that the planner and the simulator share: the queue length
at which an overflow rule sends a request to the secondary, and which side a `by_tokens` rule
picks. The planner predicts the shares from them; the simulator applies them request by request."""
from __future__ import annotations

import math

#: the routing rules a workload's `routing:` may give (scenario `Routing.rules`)
RULES = ("overflow", "by_tokens")


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
