"""The WebSocket connection, with every write bounded in time and in bytes, and pings counted.

websockets answers pings inside its protocol and writes the pongs with no backpressure, and its
``drain`` waits without a bound for a client to read (issue #18): a client that floods pings
and reads nothing grew the server by 226 MB, and one that stops reading held its slot forever,
since keepalive, the idle close and the drain on SIGTERM all wait in that ``drain``. This
subclass, passed as ``serve(create_connection=…)``, the hook websockets provides for it:

* stops *reading* a client while its outgoing buffer is over ``write_limit`` (the
  transport's high-water mark): what it does not read, it cannot add to;
* aborts the transport once that buffer has stayed over the mark for ``write_timeout``
  seconds, which ends every wait on it (sends, keepalive pings, closes, the drain);
* tells the session about every ping (:attr:`on_ping`), which counts it in its rate limit
  and closes a flooder like any other (:meth:`.SessionCore.ping`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.frames import Frame, Opcode
from websockets.protocol import Event


class GuardedConnection(ServerConnection):
    """A :class:`ServerConnection` whose client must keep reading. Make it with :func:`guarded`."""

    #: Seconds the outgoing buffer may stay over its high-water mark before the TCP
    #: connection is aborted.
    write_timeout: float = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._stalled: asyncio.TimerHandle | None = None
        #: Called on the event loop for every ping the client sends.
        self.on_ping: Callable[[], None] | None = None

    def process_event(self, event: Event) -> None:
        super().process_event(event)
        if isinstance(event, Frame) and event.opcode is Opcode.PING and self.on_ping:
            self.on_ping()

    # asyncio flow control: the transport calls these around its high-water mark.
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        # Reading resumes once neither the receive queue nor the outgoing buffer is full.
        self.recv_messages.resume = self._resume_reading

    def _resume_reading(self) -> None:
        if not self.paused:
            self.transport.resume_reading()

    def pause_writing(self) -> None:
        super().pause_writing()
        self.transport.pause_reading()
        self._stalled = self.loop.call_later(self.write_timeout, self._abort_stalled)

    def resume_writing(self) -> None:
        super().resume_writing()
        self._cancel_stalled()
        if not self.recv_messages.paused:  # the receive queue may want reading paused too
            self.transport.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_stalled()
        super().connection_lost(exc)

    def _cancel_stalled(self) -> None:
        if self._stalled is not None:
            self._stalled.cancel()
            self._stalled = None

    def _abort_stalled(self) -> None:
        self._stalled = None
        self.logger.info("dropping a client that read nothing for %g s", self.write_timeout)
        self.set_connection_exc(
            TimeoutError(f"the client read nothing for {self.write_timeout:g} s")
        )
        self.transport.abort()


def guarded(write_timeout: float) -> type[GuardedConnection]:
    """The connection class to pass to ``serve(create_connection=…)``."""
    return type("GuardedConnection", (GuardedConnection,), {"write_timeout": write_timeout})
