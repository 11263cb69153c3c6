"""Continuous batching of a language model on a group's servers, token by token.

A server that takes an `LlmLane`'s requests runs *iterations* back to back, as vLLM's scheduler
does with chunked prefill: each iteration first gives every running sequence that has its first
token one decode token, then fills what is left of the token budget (`max_batched_tokens`) with
prompt chunks, oldest sequence first. A prompt's last chunk produces the first token (time to
first token); each later iteration one more, until the request's output length is reached and
the sequence leaves the batch, freeing its KV cache.

Admission is bounded by KV-cache memory: a waiting request joins when its prompt fits beside the
context already held (at most `max_seqs` sequences). When the running sequences grow past the
cache, the newest is preempted (vLLM's recompute): its cache is dropped and it goes back to the
head of the queue, to prefill its prompt and the tokens it had generated again. A request whose
prompt and output could never fit the cache, or exceed the model's context, is refused at once
(reasons `context_exceeds_kv_cache`, `context_exceeds_model`).

The server counts as busy in proportion to how full its batch is (running sequences over the
most its cache holds for the workload's mean request): a decode iteration costs about the same
for one sequence or fifty, so busy time alone would say nothing of spare capacity, and the
autoscaler would add instances for a single chat. Energy counts every iteration in full.
"""
from __future__ import annotations

import random

from planner.sim.compute import Group, Lane, Server
from planner.sim.spec import TokenServing

#: KV cache kept free when admitting (vLLM's watermark), so running sequences can grow a little
WATERMARK = 0.01


class Seq:
    """A request's progress in the engine."""

    __slots__ = ("prompt", "output", "prefilled", "generated", "t_admit", "t_first", "t_last", "recompute")

    def __init__(self, prompt: int, output: int):
        self.prompt = prompt          # tokens to prefill (prompt, plus generated ones after a preemption)
        self.output = output          # tokens to generate in all
        self.prefilled = 0
        self.generated = 0
        self.t_admit = -1.0
        self.t_first = -1.0
        self.t_last = -1.0
        self.recompute = 0

    @property
    def context(self) -> int:
        """Tokens whose K and V are cached now."""
        return self.prefilled + (self.generated if self.prefilled >= self.prompt and not self.recompute else 0)


def _seq(shape: TokenServing, req) -> Seq:
    """The request's work at this stage, by the stage's phase (`TokenServing.phase`)."""
    prompt, output = req.tokens
    phase = shape.phase
    if phase == "full":
        return Seq(prompt, output)
    if phase == "prefill":
        return Seq(prompt, 1)
    if phase == "decode":
        seq = Seq(prompt, output)
        seq.prefilled = prompt
        return seq
    ctx = prompt + req.gen  # speculative: the context both models hold after the rounds so far
    seq = Seq(ctx, shape.k) if phase == "draft" else Seq(ctx + shape.k, 1)
    seq.prefilled = ctx if req.gen else 0  # the first round prefills the prompt
    return seq


class LlmLane(Lane):
    """The lane of a language-model workload: requests queue here and are served by servers
    running iterations (see the module docstring)."""

    __slots__ = ("llm", "rng", "full_batch", "preemptions", "shapes", "peak_batch", "peak_kv_tokens", "blocked")

    def __init__(self, group: Group, name: str, llm: TokenServing, rng: random.Random, active_w: float | None = None):
        super().__init__(group, name, lambda b: 0.0, None, 0.0, active_w, False)
        self.is_llm = True
        self.llm = llm
        self.rng = rng
        mean_ctx = max(1.0, llm.mean_prompt + llm.mean_output)
        # a prefill-only server is busy while it computes, whatever its batch (compute-bound)
        self.full_batch = 1 if llm.phase == "prefill" else max(1, min(llm.max_seqs, int(llm.kv_capacity_tokens // mean_ctx)))
        self.preemptions = 0
        self.shapes: dict[str, TokenServing] = {}  # each workload's token counts
        self.peak_batch = 0  # most sequences one server held at once
        self.peak_kv_tokens = 0  # most context tokens one server's cache held
        self.blocked = False  # the last admission left requests waiting for room (sequences or KV cache)

    def add_user(self, workload: str, llm: TokenServing) -> None:
        """Serve `workload` in this lane's batch too (same model, precision and device)."""
        self.shapes[workload] = llm
        if workload not in self.users:
            self.users.append(workload)

    def backlogged(self) -> bool:
        """Waiting requests are backlog only when a running server had no room for them: any
        other waiting request joins the batch at the next iteration boundary, milliseconds away."""
        return bool(self.q) and self.blocked

    def mean_s(self, b: int) -> float:
        """Seconds to serve `b` mean-shaped requests together (the autoscaler's backlog estimate)."""
        llm = self.llm
        p, o = llm.mean_prompt, llm.mean_output
        prefill = llm.step_s(b * p, b, b * p * (p + 1) / 2, 0.0)
        return prefill + o * llm.step_s(b, b, b * (p + o / 2), b * (p + o / 2))

    # ------------------------------------------------------------------ arrivals
    def __call__(self, req) -> None:
        llm = self.llm
        shape = self.shapes.get(req.flow.name, llm)
        if req.tokens is None:  # drawn once: a request split across stages keeps its counts, and a
            # prompt drawn at arrival (a by_tokens route chose the side by it) is kept
            req.tokens = (req.prompt or shape.prompt_tokens(self.rng), shape.output_tokens(self.rng))
        seq = req.llm = _seq(shape, req)
        need = seq.prompt + seq.output
        if need > llm.max_context:
            req.fail("context_exceeds_model")
            return
        if need > llm.kv_capacity_tokens:
            req.fail("context_exceeds_kv_cache")
            return
        if shape.request_s > 0 and shape.phase in ("full", "prefill"):  # the runtime takes the request in first
            ev = self.group.env.timeout(shape.request_s, req)
            ev.callbacks.append(self._taken_in)
            return
        Lane.__call__(self, req)  # queue it like any request

    def _taken_in(self, ev) -> None:
        Lane.__call__(self, ev._value)

    # ------------------------------------------------------------------ a server's iterations
    def start(self, server: Server, now: float) -> None:
        """Take `server` (idle) and run iterations on it until nothing is left to serve."""
        server.batch = []
        server.lane = self
        self._admit(server.batch, now)
        self._iterate(server, now)

    def _admit(self, running: list, now: float) -> None:
        """Waiting requests join while their prompts fit the KV cache beside the running ones."""
        q, llm = self.q, self.llm
        if not q:
            return
        used = 0
        for r in running:
            used += r.llm.context + r.llm.prompt - r.llm.prefilled  # reserve what prompts will fill
        room = llm.kv_capacity_tokens * (1 - WATERMARK)
        g = self.group
        while q and len(running) < llm.max_seqs:
            seq = q[0].llm
            if used + seq.prompt + 1 > room and running:
                break
            r = q.popleft()
            g.qlen -= 1
            r.queue_s += now - r.t_mark
            if seq.t_admit < 0:
                seq.t_admit = now
            used += seq.prompt + 1
            running.append(r)
        self.blocked = bool(q)

    def take_back(self, batch: list, now: float, reason: str) -> None:
        """Sequences of a lost server start again elsewhere: their caches went with it, so each
        prefills its prompt and the tokens it had generated again (as a preemption does)."""
        for r in batch:
            _drop_cache(r.llm)
        Lane.take_back(self, batch, now, reason)

    def _preempt(self, running: list, now: float) -> None:
        """Drop the newest sequences' caches until the next iteration's context fits."""
        cap = self.llm.kv_capacity_tokens
        need = sum(r.llm.context + 1 for r in running)
        g = self.group
        while need > cap and len(running) > 1:
            r = running.pop()
            need -= r.llm.context + 1
            _drop_cache(r.llm)
            self.preemptions += 1
            r.t_mark = now
            self.q.appendleft(r)
            g.qlen += 1

    def _iterate(self, server: Server, now: float) -> None:
        """Plan the next iteration on `server` and schedule its end (or release the server)."""
        running = server.batch
        if not running:
            self._release(server)
            return
        self._preempt(running, now)
        llm = self.llm
        budget = llm.max_batched_tokens
        tokens = logits = pairs = kv_read = 0.0
        plan = []  # (request, prefill chunk or 0 for a decode token)
        for r in running:  # decode tokens first
            s = r.llm
            if s.prefilled >= s.prompt:
                ctx = s.context
                tokens += 1
                logits += 1
                pairs += ctx + 1
                kv_read += ctx
                plan.append((r, 0))
        budget -= tokens
        for r in running:  # then prompt chunks, oldest first
            if budget <= 0:
                break
            s = r.llm
            left = s.prompt - s.prefilled
            if left > 0:
                c = left if left < budget else int(budget)
                tokens += c
                pairs += c * (s.prefilled + (c + 1) / 2)
                kv_read += s.prefilled
                if c == left:
                    logits += 1
                budget -= c
                plan.append((r, c))
        dur = llm.step_s(tokens, logits, pairs, kv_read)
        if len(running) > self.peak_batch:
            self.peak_batch = len(running)
        held = sum(r.llm.context for r in running) + tokens
        if held > self.peak_kv_tokens:
            self.peak_kv_tokens = int(held)
        server.t0 = now
        server.lane = self
        server.plan = plan
        ev = self.group.env.timeout(dur, server)
        server.ev = ev
        ev.callbacks.append(self._done)

    def _done(self, ev) -> None:
        server = ev._value
        if server.ev is not ev:
            return  # the server failed meanwhile (its requests failed with it)
        g = self.group
        now = g.env.now
        t0 = server.t0
        dur = now - t0
        running = server.batch
        self.busy_s += dur  # energy: every iteration in full
        weighted = dur * min(1.0, len(running) / self.full_batch)
        g.busy_s += weighted
        g._add_busy(t0, t0 + weighted)
        finished = []
        for r, chunk in server.plan:
            s = r.llm
            if chunk:
                s.prefilled += chunk
                if s.prefilled < s.prompt:
                    continue
                if s.recompute:  # re-prefilled: the cache is back, generation goes on
                    s.recompute = 0
                    s.prompt = s.prompt - s.generated
                    s.prefilled = s.prompt
                    continue
                s.generated = 1
                s.t_first = now
            else:
                s.generated += 1
                if s.generated == 1:  # a prompt prefilled elsewhere: its first token is a decode step
                    s.t_first = now
            s.t_last = now
            if s.generated >= s.output:
                finished.append(r)
        server.plan = None
        if finished:
            done = set(map(id, finished))
            server.batch = running = [r for r in running if id(r) not in done]
            for r in finished:
                r.compute_s += now - r.llm.t_admit
                r.batch = len(running) + len(finished)
                r.k += 1
                flow = r.flow
                flow.served += 1
                self.served += 1
                r.path[r.k](r)
        if server.retiring and not running:
            server.batch = server.lane = server.ev = None
            g._terminate(server)
            return
        if not server.retiring:
            self._admit(running, now)
        self._iterate(server, now)

    def _release(self, server: Server) -> None:
        server.batch = server.lane = server.ev = None
        g = self.group
        if server.retiring:
            g._terminate(server)
        else:
            g.idle.append(server)
            if g.qlen:
                g._dispatch()


def _drop_cache(seq: Seq) -> None:
    """`seq` loses its KV cache (vLLM's recompute): its prompt and the tokens generated so far
    are prefilled again before generation goes on."""
    seq.prompt = seq.prompt + seq.generated if not seq.recompute else seq.prompt
    seq.prefilled = 0
    seq.recompute = 1
