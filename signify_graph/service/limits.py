"""The buckets a session's messages and frames are taken from: its own, and its address's.

A token bucket per limit (:class:`RateLimiter`); a :class:`Budget` asks the session's bucket
first and then the one its address shares with its other sessions (:mod:`.peers`), so that a
message the session itself refuses costs the address nothing. Sans I/O: ``now`` comes in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .peers import Peer


class RateLimiter:
    """Token bucket: ``rate`` messages per second with bursts of ``burst``, full at ``now``."""

    def __init__(self, rate: float, burst: int, now: float = 0.0) -> None:
        self.rate, self.burst = rate, float(burst)
        self.tokens, self.stamp = float(burst), now

    @classmethod
    def per_second(cls, rate: float, now: float = 0.0) -> RateLimiter:
        """``rate`` a second, with a second's worth of burst."""
        return cls(rate, max(1, round(rate)), now)

    def allow(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class Budget:
    """One session's rate limit, flood cut-off and fair rate, and its address's shares of
    them (``peer``). ``flood_factor`` or ``fair_rate`` 0: that one is off."""

    def __init__(
        self,
        rate: float,
        burst: int,
        flood_factor: float,
        fair_rate: float,
        now: float,
        peer: Peer | None = None,
    ) -> None:
        self._rate = RateLimiter(rate, burst, now)
        flood = flood_factor * rate
        self._flood = RateLimiter.per_second(flood, now) if flood > 0 else None
        self._fair = RateLimiter.per_second(fair_rate, now) if fair_rate > 0 else None
        self._peer = peer
        #: Refused past the flood cut-off: the session is being closed.
        self.flooding = False

    def allow(self, now: float) -> bool:
        """A message (or ping) may pass: a token from the session, then from its address."""
        if not self._rate.allow(now):
            return False
        shared = None if self._peer is None else self._peer.rate
        return shared is None or shared.allow(now)

    def flooded(self, now: float) -> str | None:
        """A refusal: ``None``, or which cut-off it passed (``session``: the session's own;
        ``address``: all the refusals of its address's sessions together). Then
        :attr:`flooding`."""
        passed = None
        if self._flood is not None and not self._flood.allow(now):
            passed = "session"
        shared = None if self._peer is None else self._peer.flood
        if shared is not None and not shared.allow(now) and passed is None:
            passed = "address"
        if passed is not None:
            self.flooding = True
        return passed

    def fair(self, now: float) -> bool:
        """A frame within the session's fair rate, and its address's: fifty sessions of one
        address get one fair share of a busy server, not fifty."""
        if self._fair is None:
            return True
        shared = None if self._peer is None else self._peer.fair
        return self._fair.allow(now) and (shared is None or shared.allow(now))
