"""The connections of a running service: each one a session, opened, driven and closed.

The server hands every accepted WebSocket connection to :meth:`Sessions.handle`. It counts
the session, makes its :class:`~.driver.ClientSession` and reads the client's messages from
the first one on, while the stage sessions are made (a MediaPipe landmarker takes a while;
at most half the cores make them at once, so a storm of newcomers cannot crowd out the
sessions already streaming), then closes everything the session holds.

A session counts (under ``SIGNIFY_MAX_SESSIONS`` and its address's limit) only while its
connection is open. Clients that connected, sent a frame and reset the TCP connection, 150 a
second, held every slot: each waited, counted, for its turn to make a landmarker it would never
use, then for its frame and its close (issue #18). Now the slot is given back the moment the
connection is gone, a session still waiting for its turn makes nothing, and no frame starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Sequence

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from .._graph import Graph
from .driver import ClientSession, SessionServices
from .guard import GuardedConnection
from .observe import ServiceState
from .peers import Peer, Peers, client_key
from .record import SessionRecorder
from .session import SessionPolicy
from .settings import ServiceSettings

log = logging.getLogger("signify_graph.server")


class Sessions:
    """Every session of one graph, and what they share."""

    def __init__(
        self,
        graph: Graph,
        state: ServiceState,
        settings: ServiceSettings,
        services: SessionServices,
        *,
        opening: asyncio.Semaphore,
        peers: Peers | None = None,
        overrides: Sequence[str] = (),
    ) -> None:
        self.graph = graph
        self._state = state
        self._settings = settings
        self._services = services
        self._policy = SessionPolicy.from_settings(settings)
        self._opening = opening
        self.peers = Peers(0, 0, 0) if peers is None else peers
        self._overrides = list(overrides)
        #: Sessions whose stage sessions are being made on a worker (that cannot be stopped).
        self._making: set[str] = set()

    def _recorder(self, session_id: str) -> SessionRecorder | None:
        if self._settings.record_dir is None:
            return None
        header = {**self._state.identity(), "overrides": self._overrides}
        return SessionRecorder(self._settings.record_dir, session_id, header)

    async def _open(self, client: ClientSession, connection: ServerConnection) -> None:
        """Make the client's stage sessions and attach them; close with 1011 if a stage refuses.

        A graph of inline-safe stages opens in microseconds, right here on the event loop. On
        a loaded server a round trip through the worker threads takes a few turns of the loop
        (hundreds of milliseconds each at twice capacity): sessions opened one after another
        that way kept newcomers waiting seconds for their first answer.
        """
        graph = self.graph
        try:
            if graph.inline_safe:
                graph_session = graph.open_session(client.id)
            else:
                async with self._opening:
                    if connection.state is not State.OPEN:
                        return  # the client left while it waited: make nothing
                    loop = asyncio.get_running_loop()
                    self._making.add(client.id)
                    try:
                        graph_session = await loop.run_in_executor(
                            self._services.pool, graph.open_session, client.id
                        )
                    finally:
                        self._making.discard(client.id)
        except Exception:
            log.exception("the session could not be opened", extra={"session": client.id})
            await connection.close(1011, "the session could not be opened")
            return
        client.attach(graph_session)

    async def handle(self, connection: ServerConnection) -> None:
        """Serve one connection, from its first message to its close."""
        session_id = uuid.uuid4().hex[:12]
        loop = asyncio.get_running_loop()
        peer = self.peers.join(self.peer_of(connection), loop.time())
        self._count(1)
        log.info(
            "Client connected",
            extra={"session": session_id, "remote": str(connection.remote_address)},
        )

        client: ClientSession | None = None
        opening: asyncio.Task[None] | None = None
        watchdog: asyncio.Task[None] | None = None
        try:
            client = ClientSession(
                self.graph,
                session_id,
                connection,
                self._services,
                self._policy,
                recorder=self._recorder(session_id),
                peer=peer,
            )
            if isinstance(connection, GuardedConnection):
                connection.on_ping = client.on_ping
            # Messages are read while the stage sessions are made (see service.session).
            opening = asyncio.create_task(self._open(client, connection))
            if self._policy.idle_timeout > 0:
                watchdog = asyncio.create_task(client.watch_idle())
            with contextlib.suppress(ConnectionClosed):
                async for message in connection:
                    await client.on_message(message)
        finally:
            self._release(peer)
            if watchdog is not None:
                watchdog.cancel()
            if client is not None:
                client.stop()
            if opening is not None:
                # Still waiting for its turn: make nothing. A landmarker being made on a
                # worker cannot be stopped: wait for it, so that client.close() closes it
                # rather than the garbage collector.
                if session_id not in self._making:
                    opening.cancel()
                await asyncio.gather(opening, return_exceptions=True)
            if client is not None:
                await client.close()
            log.info(
                "Client disconnected", extra={"session": session_id, "code": connection.close_code}
            )

    def peer_of(self, connection: ServerConnection) -> str:
        """The address whose limits the connection counts under (see ``peers``)."""
        request = connection.request
        if not self._settings.forwarded_for or request is None:
            return client_key(connection.remote_address)
        return client_key(connection.remote_address, request.headers.get_all("X-Forwarded-For"))

    def _count(self, change: int) -> None:
        self._state.sessions += change
        self._state.metrics.count_sessions(change)

    def _release(self, peer: Peer) -> None:
        """The connection is gone: the session no longer counts, whatever it still closes."""
        self._count(-1)
        self.peers.leave(peer)
