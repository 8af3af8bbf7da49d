"""Fair sharing of the CPU cores between sessions.

Each session's frames up to the *fair rate* start at once. Frames beyond it ("extra" frames,
e.g. a client streaming 30 fps when 15 is the fair rate, or one pushing its rate limit) start
only while a core stays free for everyone else; otherwise the newest of them waits for one
(older ones are superseded, as usual). On an idle server a fast client is served at its full
rate; on a busy one it cannot slow the others down beyond what a fair-rate client would.

This lives on the event loop: no locks, because every call comes from there.
"""

from __future__ import annotations

from collections.abc import Callable


class FairShare:
    """Admits extra frames while fewer than ``cores - 1`` frames run: on two cores, only
    while no frame runs at all (and likewise on one core)."""

    def __init__(self, cores: int) -> None:
        self.cores = max(1, cores)
        self.running = 0
        self._waiting: dict[object, Callable[[], None]] = {}

    @property
    def has_room_for_extra(self) -> bool:
        return self.running < max(1, self.cores - 1)

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def started(self) -> None:
        self.running += 1

    def finished(self) -> None:
        """A frame finished: wake waiting sessions, oldest first, while a core stays free."""
        self.running -= 1
        while self._waiting and self.has_room_for_extra:
            key = next(iter(self._waiting))
            self._waiting.pop(key)()

    def wait(self, key: object, resume: Callable[[], None]) -> None:
        """Call ``resume`` once an extra frame may start (``key`` identifies the session)."""
        self._waiting[key] = resume

    def cancel(self, key: object) -> None:
        self._waiting.pop(key, None)
