"""Limits per client address: the sessions one address may hold, the messages a second all of
them may send together, and the frames a second they share a fair start for.

Why: every per-session limit can be multiplied by opening more sessions. Fifty connections
from one laptop, each just under its own flood cut-off, took 50 of 51 shares of the CPU and cut
a 15 fps client beside them to one reply in ten seconds (issue #18). Keyed by address, the same
fifty get one address's worth: a few sessions, one bucket of messages, one fair share of the
cores when the server is busy (extra frames still run on an idle server, see :mod:`.fairshare`).

IPv6 addresses are grouped by /64: a host gets a whole /64 and may send from any address in it.
Behind a NAT (a classroom of phones) or a proxy every client has the same address: raise the
limits there, or turn them off with 0.

Sans I/O like :mod:`.session`: no clock of its own, no asyncio; the event loop owns it.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from .limits import RateLimiter


def client_key(remote_address: object, forwarded_for: list[str] | None = None) -> str:
    """The key of a connection's limits: its address or, given the ``X-Forwarded-For``
    headers (trusted only behind a proxy that sets them), the last address there: the one
    the proxy itself saw."""
    last = forwarded_for[-1].rsplit(",", 1)[-1].strip() if forwarded_for else ""
    return peer_key(last or remote_address)


def peer_key(remote_address: object) -> str:
    """The address a connection's limits are kept under (its /64 for IPv6)."""
    host = remote_address[0] if isinstance(remote_address, tuple) else remote_address
    try:
        address = ipaddress.ip_address(str(host))
    except ValueError:
        return str(host)  # a Unix socket, or a test's fake connection
    if address.version == 6:
        mapped = address.ipv4_mapped
        if mapped is not None:
            return str(mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


@dataclass(slots=True)
class Peer:
    """One address's sessions and shared buckets (``None``: that limit is off)."""

    key: str
    sessions: int = 0
    #: Messages a second of all the address's sessions together.
    rate: RateLimiter | None = field(default=None, repr=False)
    #: Frames a second of all its sessions that start at once on a busy server.
    fair: RateLimiter | None = field(default=None, repr=False)
    #: Refusals a second of all its sessions before the next one closes its session.
    flood: RateLimiter | None = field(default=None, repr=False)


class Peers:
    """The addresses with sessions open. Any limit 0: off. Messages an address's sessions send
    past its ``rate`` are refused; refused faster than ``flood_factor`` × ``rate`` a second,
    the session whose message it was is closed, as for a session's own flood cut-off: fifty
    sessions each under that cut-off are not, together, under the address's."""

    def __init__(
        self, max_sessions: int, rate: float, fair_rate: float, flood_factor: float = 0
    ) -> None:
        self.max_sessions = max_sessions
        self.rate = rate
        self.fair_rate = fair_rate
        self.flood_rate = flood_factor * rate
        self._peers: dict[str, Peer] = {}

    def __len__(self) -> int:
        return len(self._peers)

    def full(self, key: str) -> bool:
        """Whether the address already holds its ``max_sessions``."""
        peer = self._peers.get(key)
        return self.max_sessions > 0 and peer is not None and peer.sessions >= self.max_sessions

    def join(self, key: str, now: float) -> Peer:
        """A session of ``key`` opened; its buckets start full for a new address."""
        peer = self._peers.get(key)
        if peer is None:
            rate = RateLimiter.per_second(self.rate, now) if self.rate > 0 else None
            fair = RateLimiter.per_second(self.fair_rate, now) if self.fair_rate > 0 else None
            flood = RateLimiter.per_second(self.flood_rate, now) if self.flood_rate > 0 else None
            peer = self._peers[key] = Peer(key, 0, rate, fair, flood)
        peer.sessions += 1
        return peer

    def leave(self, peer: Peer) -> None:
        """A session of ``peer`` is gone; the address is forgotten with its last session (its
        buckets with it: reconnecting refills them, but costs a handshake and a slot)."""
        peer.sessions -= 1
        if peer.sessions <= 0:
            self._peers.pop(peer.key, None)
