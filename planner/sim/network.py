"""Links as processor-sharing channels, routes over the topology, and transfers along them.

A `Channel` is one direction of a link. Its concurrent transfers share the bandwidth equally,
which on a single link is the max-min fair allocation; the shares are recomputed only when a
transfer starts or ends. It keeps a *virtual time* `v` (bytes served so far to each transfer
present), so a start or end costs O(log n) and needs no pass over the other transfers; one
pending "next completion" timeout per channel, superseded by a version counter.

Propagation never holds a link: a transfer occupies each channel on its route only while its
bytes are being serialised (store and forward, hop by hop); the route's one-way propagation
delay, its jitter and any retransmission delay from loss follow once, after the last hop.
"""
from __future__ import annotations

import math
import random
from heapq import heappop, heappush

import networkx as nx
import simpy

from planner.sim.metrics import TimeBins
from planner.sim.spec import LinkSpec
from planner.units import J_PER_KWH


class Channel:
    """One direction of a link: bandwidth `Bps` bytes per second shared by its transfers."""

    __slots__ = ("env", "name", "src", "dst", "Bps", "flows", "v", "t_last", "version", "seq", "up",
                 "busy_since", "bins", "bytes", "transfers", "egress_usd_per_gb", "energy_j_per_bit", "gco2e_per_kwh", "_fire_cb",
                 "_acc", "_acc_bin", "_inv_w")

    def __init__(self, env: simpy.Environment, src: str, dst: str, Bps: float, bins: TimeBins,
                 egress_usd_per_gb: float = 0.0, energy_j_per_bit: float = 0.0, gco2e_per_kwh: float = 0.0):
        if Bps <= 0:
            raise ValueError(f"link {src}->{dst}: bandwidth must be > 0")
        self.env = env
        self.name = f"{src}->{dst}"
        self.src, self.dst = src, dst
        self.Bps = float(Bps)
        self.flows: list[tuple] = []  # heap of (finish virtual time, seq, item, continuation, bytes)
        self.v = 0.0
        self.t_last = 0.0
        self.version = 0
        self.seq = 0
        self.up = True
        self.busy_since = 0.0
        self.bins = bins
        self.bytes = 0.0
        self.transfers = 0
        self.egress_usd_per_gb = egress_usd_per_gb
        self.energy_j_per_bit = energy_j_per_bit
        self.gco2e_per_kwh = gco2e_per_kwh
        self._fire_cb = self._fire  # one bound method, not one per event
        # busy time of the current utilisation bin, kept here (hot) and flushed to `bins` when
        # the bin changes: a busy period usually touches only this object
        self._acc = 0.0
        self._acc_bin = 0
        self._inv_w = 1.0 / bins.width

    def start(self, item, nbytes: float, cont) -> None:
        """Begin sending `nbytes` for `item`; `cont(item)` is called when the last byte is out.
        On a channel that is down, `item.fail('link_down')` is called instead."""
        if not self.up:
            item.fail("link_down")
            return
        now = self.env.now
        flows = self.flows
        n = len(flows)
        if n:
            v = self.v = self.v + (now - self.t_last) * self.Bps / n
        else:
            v = 0.0
            self.busy_since = now
        self.t_last = now
        self.seq += 1
        heappush(flows, (v + nbytes, self.seq, item, cont, nbytes))
        # the head's completion moves with every start: re-arm the single timer
        self.version += 1
        dt = (flows[0][0] - v) * (n + 1) / self.Bps
        ev = self.env.timeout(dt if dt > 0.0 else 0.0, self.version)
        ev.callbacks.append(self._fire_cb)

    def _fire(self, ev) -> None:
        if ev._value != self.version:
            return  # superseded by a later start or end
        now = self.env.now
        flows = self.flows
        if len(flows) == 1:  # the common case: the only transfer is done
            _, _, item, cont, nbytes = flows.pop()
            self.bytes += nbytes
            self.transfers += 1
            self.v = 0.0
            self._close_busy(now)
            cont(item)
            return
        n = len(flows)
        v = self.v + (now - self.t_last) * self.Bps / n
        head = flows[0][0]
        if v < head:
            v = head  # the head finishes now by construction; absorb rounding
        self.t_last = now
        lim = v + 1e-9 + v * 1e-12
        done = []
        while flows and flows[0][0] <= lim:
            _, _, item, cont, nbytes = heappop(flows)
            self.bytes += nbytes
            done.append((item, cont))
        self.transfers += len(done)
        if flows:
            self.v = v
            self.version += 1
            dt = (flows[0][0] - v) * len(flows) / self.Bps
            tev = self.env.timeout(dt if dt > 0.0 else 0.0, self.version)
            tev.callbacks.append(self._fire_cb)
        else:
            self.v = 0.0  # idle: restart virtual time so it stays small
            self._close_busy(now)
        for item, cont in done:
            cont(item)

    def _close_busy(self, now: float) -> None:
        """Count the busy period that ends now in the utilisation of its time bin."""
        t0 = self.busy_since
        self.busy_since = now
        i = int(t0 * self._inv_w)
        if i == int(now * self._inv_w):
            if i == self._acc_bin:
                self._acc += now - t0
                return
            self.flush()
            self._acc_bin = i
            self._acc = now - t0
        elif now > t0:
            self.bins.add(t0, now)

    def flush(self) -> None:
        """Move the current bin's accumulated busy time into `bins`."""
        if self._acc:
            b = self.bins
            b.values[min(self._acc_bin, b.n - 1)] += self._acc
            self._acc = 0.0

    @property
    def busy_s(self) -> float:
        """Seconds with at least one transfer (the channel then runs at full rate)."""
        return sum(self.bins.values) + self._acc

    def fail(self) -> list:
        """Take the channel down: every transfer on it is dropped; returns their items."""
        self.up = False
        self.version += 1
        items = [f[2] for f in self.flows]
        if self.flows:
            self._close_busy(self.env.now)
        self.flows = []
        self.v = 0.0
        return items

    def recover(self) -> None:
        self.up = True

    def finish(self, now: float) -> None:
        """Close the busy interval at the end of the run."""
        if self.flows:
            self._close_busy(now)
        self.flush()

    def __len__(self) -> int:
        return len(self.flows)

    def __repr__(self) -> str:
        state = "up" if self.up else "DOWN"
        return f"Channel({self.name}, {len(self.flows)} transfers, {self.Bps * 8 / 1e6:g} Mbit/s, {state})"


class Link:
    """A full-duplex link: two channels that fail and recover together."""

    def __init__(self, env: simpy.Environment, spec: LinkSpec, bins_n: int, horizon_s: float):
        self.env = env
        self.spec = spec
        self.name = spec.name
        self.ab = Channel(env, spec.a, spec.b, spec.a_to_b_Bps, TimeBins(horizon_s, bins_n),
                          spec.egress_a_to_b_usd_per_gb, spec.energy_j_per_bit, spec.gco2e_per_kwh_a_to_b)
        self.ba = Channel(env, spec.b, spec.a, spec.b_to_a_Bps, TimeBins(horizon_s, bins_n),
                          spec.egress_b_to_a_usd_per_gb, spec.energy_j_per_bit, spec.gco2e_per_kwh_b_to_a)
        self.failures = 0
        self.down_s = 0.0
        self._down_since: float | None = None

    @property
    def up(self) -> bool:
        return self.ab.up

    def channel(self, src: str) -> Channel:
        return self.ab if src == self.spec.a else self.ba

    def start_failures(self, rng: random.Random) -> None:
        if self.spec.mtbf_s:
            self.env.process(self._failures(rng))

    def _failures(self, rng: random.Random):
        env, spec = self.env, self.spec
        while True:
            yield env.timeout(rng.expovariate(1.0 / spec.mtbf_s))
            self.failures += 1
            self._down_since = env.now
            for ch in (self.ab, self.ba):
                for item in ch.fail():
                    item.fail("link_down")
            yield env.timeout(rng.expovariate(1.0 / spec.mttr_s))
            self.down_s += env.now - self._down_since
            self._down_since = None
            self.ab.recover()
            self.ba.recover()

    def finish(self, now: float) -> None:
        """Close the run: channels' busy time, and down time of a link still down."""
        self.ab.finish(now)
        self.ba.finish(now)
        if self._down_since is not None:
            self.down_s += now - self._down_since
            self._down_since = now

    def __repr__(self) -> str:
        return f"Link({self.name}, {'up' if self.up else 'DOWN'}, {len(self.ab)}/{len(self.ba)} transfers)"


class Route:
    """A precomputed path: its channels in order and the sums that describe it."""

    __slots__ = ("src", "dst", "channels", "prop_s", "jitter_s", "rtt_s", "loss_prob", "egress_usd_per_byte",
                 "energy_j_per_byte", "kgco2e_per_byte", "sites")

    def __init__(self, src: str, dst: str, sites: list[str], links: list[Link]):
        self.src, self.dst, self.sites = src, dst, sites
        self.channels = [link.channel(a) for a, link in zip(sites, links)]
        self.rtt_s = sum(link.spec.rtt_s for link in links)
        self.prop_s = self.rtt_s / 2
        self.jitter_s = sum(link.spec.jitter_s for link in links)
        keep = 1.0
        for link in links:
            keep *= 1.0 - link.spec.loss_prob
        self.loss_prob = 1.0 - keep
        self.egress_usd_per_byte = sum(ch.egress_usd_per_gb for ch in self.channels) / 1e9
        self.energy_j_per_byte = sum(ch.energy_j_per_bit for ch in self.channels) * 8
        self.kgco2e_per_byte = sum(ch.energy_j_per_bit * 8 * ch.gco2e_per_kwh for ch in self.channels) / J_PER_KWH / 1000

    def __repr__(self) -> str:
        return f"Route({' -> '.join(self.sites)}, {self.prop_s * 1e3:g} ms one way)"


class Topology:
    """The sites and links as a networkx graph; routes by least latency, each computed once."""

    def __init__(self, env: simpy.Environment, sites: list[str], links: list[LinkSpec], bins_n: int, horizon_s: float):
        self.graph = nx.Graph()
        self.graph.add_nodes_from(sites)
        self.links: dict[frozenset, Link] = {}
        for spec in links:
            for end in (spec.a, spec.b):
                if end not in self.graph:
                    raise ValueError(f"link {spec.name}: unknown site '{end}'")
            link = Link(env, spec, bins_n, horizon_s)
            self.links[frozenset((spec.a, spec.b))] = link
            self.graph.add_edge(spec.a, spec.b, latency_s=spec.rtt_s / 2, link=link)
        self._routes: dict[tuple[str, str], Route] = {}

    def route(self, src: str, dst: str) -> Route:
        """The least-latency path from `src` to `dst` (fewest hops among equals), computed once."""
        key = (src, dst)
        r = self._routes.get(key)
        if r is None:
            try:
                sites = nx.shortest_path(self.graph, src, dst, weight=_latency_weight)
            except nx.NetworkXNoPath:
                raise ValueError(f"no route from '{src}' to '{dst}'") from None
            links = [self.links[frozenset((a, b))] for a, b in zip(sites, sites[1:])]
            r = self._routes[key] = Route(src, dst, sites, links)
        return r

    def channels(self):
        for link in self.links.values():
            yield link.ab
            yield link.ba

    def __repr__(self) -> str:
        return f"Topology({self.graph.number_of_nodes()} sites, {len(self.links)} links, {len(self._routes)} routes)"


def _latency_weight(u, v, d) -> float:
    return d["latency_s"] + 1e-12  # a hair per hop: among equal latencies, fewer hops win


class Transfer:
    """A step that sends a fixed number of bytes along a route for each item passed to it.

    Items are requests (or job transfers) with the attributes the step touches: `t_mark`,
    `hop`, `fail(reason)`; `done(item, elapsed_s)` is called on arrival at the far end.
    """

    __slots__ = ("env", "route", "channels", "nhops", "c0", "nbytes", "rng", "extra", "done", "in_prop",
                 "rounds", "round_loss", "_arrive", "_hop", "delivered")

    def __init__(self, env: simpy.Environment, route: Route, nbytes: float, rng: random.Random, done,
                 mss_bytes: int = 1460, window_bytes: int = 65536):
        self.env = env
        self.route = route
        self.channels = route.channels
        self.nhops = len(route.channels)
        self.c0 = route.channels[0] if route.channels else None
        self.nbytes = float(nbytes)
        self.rng = rng
        self.done = done
        self.in_prop = 0  # items propagating after their last hop (for the in-flight count)
        self.delivered = 0
        # loss: each window-sized round trip that loses a packet costs one more round trip
        packets = max(1, math.ceil(self.nbytes / mss_bytes))
        self.rounds = max(1, math.ceil(self.nbytes / window_bytes))
        per_round = packets / self.rounds
        self.round_loss = 1.0 - (1.0 - route.loss_prob) ** per_round if route.loss_prob > 0 else 0.0
        self.extra = route.jitter_s > 0 or self.round_loss > 0
        self._arrive = self._arrived  # bound once, not per request
        self._hop = self._hop_done

    def __call__(self, item) -> None:
        item.t_mark = self.env.now
        item.hop = 0
        if self.c0 is None:
            self.done(item, 0.0)
            return
        self.c0.start(item, self.nbytes, self._hop)

    def _hop_done(self, item) -> None:
        h = item.hop + 1
        if h < self.nhops:
            item.hop = h
            self.channels[h].start(item, self.nbytes, self._hop)
            return
        d = self.route.prop_s
        if self.extra:
            d += self.extra_delay_s()
        self.in_prop += 1
        ev = self.env.timeout(d, item)
        ev.callbacks.append(self._arrive)

    def extra_delay_s(self) -> float:
        """Jitter (exponential, mean = the route's jitter) plus one RTT per lossy round trip."""
        r = self.route
        d = self.rng.expovariate(1.0 / r.jitter_s) if r.jitter_s > 0 else 0.0
        q = self.round_loss
        if q > 0:
            n = self.rounds
            if n <= 64:
                rnd = self.rng.random
                lost = sum(1 for _ in range(n) if rnd() < q)
            else:  # normal approximation of Binomial(n, q)
                lost = max(0, round(self.rng.gauss(n * q, math.sqrt(n * q * (1 - q)))))
            d += lost * r.rtt_s
        return d

    def _arrived(self, ev) -> None:
        self.in_prop -= 1
        self.delivered += 1
        item = ev._value
        self.done(item, self.env.now - item.t_mark)

    def __repr__(self) -> str:
        return f"Transfer({self.nbytes:g} B over {self.route!r}, {self.in_prop} propagating)"


class TokenTransfer(Transfer):
    """A transfer whose size grows with the request's prompt: `nbytes` plus `per_token` bytes per
    prompt token until the request's first tokens reach its source (`item.gen`), so a prompt or
    its KV cache crosses once while a speculative round's drafts cross every round. Loss is
    charged on the fixed part's window rounds only."""

    __slots__ = ("base", "per_token")

    def __init__(self, *args, per_token: float = 0.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.base = self.nbytes
        self.per_token = float(per_token)

    @classmethod
    def per_prompt_token(cls, per_token: float):
        """A constructor with Transfer's signature for transfers of `per_token` bytes a prompt token."""
        return lambda *args, **kwargs: cls(*args, per_token=per_token, **kwargs)

    def _size(self, item) -> float:
        return self.base + (0.0 if item.gen else self.per_token * item.tokens[0])

    def __call__(self, item) -> None:
        self.nbytes = self._size(item)  # read at once by the channel
        Transfer.__call__(self, item)

    def _hop_done(self, item) -> None:
        self.nbytes = self._size(item)
        Transfer._hop_done(self, item)
