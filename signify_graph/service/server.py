"""The service: a graph bound to a WebSocket port, health/readiness on that port and on
``HEALTH_PORT``, metrics, limits, and a clean drain on SIGTERM.

Start-up order is the promise "a server that listens is a server that works": validate the
pipeline, load every model, run a warm-up frame, *then* listen. ``/health`` on
``HEALTH_PORT`` answers from the first moment (``/ready`` is 503 until then).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from aiohttp import web
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response

from .._cores import cpu_cores
from .._errors import StartupError
from .._graph import Graph, build_graph
from .._host import PluginHost
from .._kinds import Kind
from .._override_notes import one_node_overrides
from .._pipeline import plan_pipeline
from .connections import Sessions
from .driver import SessionServices
from .fairshare import FairShare
from .guard import guarded
from .http import HttpResponse, Router, answer, start_health_app, to_websockets
from .memory import malloc_trim, trim_every
from .observe import ServiceState, watch_loop_lag
from .peers import Peers
from .settings import ServiceSettings

log = logging.getLogger("signify_graph.server")
WEB_ROOT = Path(__file__).resolve().parent.parent / "web"
#: A black 640×480 JPEG, as a camera in a dark room sends: the warm-up frame.
WARM_UP_FRAME = Path(__file__).with_name("warm-up.jpg")


def _warm_up(graph: Graph) -> None:
    """Run one frame through every stage, so the first client pays no first-call costs."""
    if graph.input_kind is Kind.ENCODED_IMAGE:
        item: Any = WARM_UP_FRAME.read_bytes()
    else:
        item = None
    with graph.open_session("warm-up") as session:
        for _ in range(2):
            result = session.process(item)
            if result.error is not None:
                raise StartupError(f"warm-up frame failed in {result.failed_node}: {result.error}")


async def leave_rotation(state: ServiceState, delay: float, hurry: asyncio.Event) -> None:
    """``SIGNIFY_DRAIN_DELAY``: not ready, sessions still served, until a load balancer has
    stopped sending clients here, no session is left to keep, or ``hurry`` is set."""
    if delay <= 0 or state.sessions == 0:
        return
    log.info("not ready; closing sessions in %.0f s (SIGNIFY_DRAIN_DELAY)", delay)
    loop = asyncio.get_running_loop()
    end = loop.time() + delay
    while state.sessions > 0 and not hurry.is_set() and loop.time() < end:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(hurry.wait(), 0.1)


class Service:
    """One running service. ``await start()``, then ``await drain()`` (or ``run()`` for both)."""

    def __init__(
        self,
        settings: ServiceSettings,
        host: PluginHost,
        overrides: Sequence[str] = (),
        *,
        worker: int | None = None,
    ) -> None:
        self.settings = settings
        self.host = host
        self.overrides = list(overrides)
        #: One of ``serve --workers``: it shares its port with the others (SO_REUSEPORT).
        self.state = ServiceState(worker)
        self.pool = ThreadPoolExecutor(settings.worker_count, thread_name_prefix="stage")
        # Closing a session's landmarkers is mostly waiting, now and then for 5 s: MediaPipe's
        # usage-statistics uploader holds closes that long (BENCHMARKS.md, "A storm of
        # connections"). On the stage pool that held back every session's frames.
        self.closer = ThreadPoolExecutor(settings.worker_count, thread_name_prefix="close")
        cores = cpu_cores()
        self.share = FairShare(cores) if settings.fair_rate > 0 else None
        # Opening a session makes its MediaPipe landmarker (~45 ms of a core). A storm of new
        # connections (a room of phones, every client reconnecting after a deploy) would fill
        # the pool with those and hold back every open session's frames; at most half the
        # cores open sessions at once.
        self._opening = asyncio.Semaphore(max(1, cores // 2))
        self.graph: Graph | None = None
        self._services = SessionServices(self.pool, self.state.metrics, self.share, self.closer)
        self.sessions: Sessions | None = None
        self.peers = Peers(
            settings.max_sessions_per_peer,
            settings.peer_rate_limit,
            settings.fair_rate,
            settings.flood_factor,
        )
        #: What the WebSocket port answers over plain HTTP (metrics too when HEALTH_PORT is
        #: the same port: Railway may set PORT=8080).
        self.router = Router(
            self.state, metrics=self._shared_health_port, static=WEB_ROOT, public=True
        )
        self._ws: Server | None = None
        self._health: web.AppRunner | None = None
        self._lag_task: asyncio.Task[None] | None = None
        self._trim_task: asyncio.Task[None] | None = None
        self.ws_port = 0
        self.health_port = 0
        #: Set by a second SIGTERM: close the sessions now, whatever the drain delay.
        self.hurry = asyncio.Event()

    @property
    def _shared_health_port(self) -> bool:
        """HEALTH_PORT equals the WebSocket port (Railway may set PORT=8080): serve it all there."""
        return self.settings.health_port == self.settings.port != 0

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        s = self.settings
        # Validate the file first (a missing pipeline or model file fails here, before the
        # health app starts); the models then load with /ready answering 503.
        plan = plan_pipeline(s.pipeline, self.host.registry, overrides=self.overrides)
        for note in one_node_overrides(plan, self.overrides):
            log.warning(note)
        if s.health_port >= 0 and not self._shared_health_port:
            router = Router(self.state, metrics=True, static=None)
            self._health, self.health_port = await start_health_app(router, s.host, s.health_port)
        loop = asyncio.get_running_loop()
        self.graph = await loop.run_in_executor(self.pool, build_graph, plan, self.host)
        await loop.run_in_executor(self.pool, _warm_up, self.graph)
        if self._health is not None:  # said once the models load: a failed start never says it
            log.info(
                "Health check endpoint available at http://%s:%d/health (also /ready, /metrics)",
                s.host,
                self.health_port,
            )
        self.state.graph = self.graph
        self.sessions = Sessions(
            self.graph,
            self.state,
            s,
            self._services,
            opening=self._opening,
            peers=self.peers,
            overrides=self.overrides,
        )
        if s.keypoint_buffer_size is not None:
            log.info(
                "KEYPOINT_BUFFER_SIZE=%d accepted; the classifier's window comes from the "
                "model now, so it has no effect",
                s.keypoint_buffer_size,
            )
        try:
            self._ws = await serve(
                self.sessions.handle,
                s.host,
                s.port,
                process_request=self._process_request,
                max_size=s.max_message_bytes,
                compression="deflate" if s.compression else None,
                ping_interval=s.ping_interval,
                ping_timeout=s.ping_timeout,
                close_timeout=s.close_timeout,
                # Bounded both ways: incoming, 4 messages queued (newest frame wins anyway);
                # outgoing, the write limit, enforced by GuardedConnection (see guard).
                max_queue=4,
                write_limit=s.write_limit,
                create_connection=guarded(s.write_timeout),
                server_header="signify-graph",
                reuse_port=self.state.worker is not None or None,
            )
        except OSError as exc:
            raise StartupError(f"cannot listen on {s.host}:{s.port}: {exc.strerror}") from exc
        self.ws_port = self._ws.sockets[0].getsockname()[1] if self._ws.sockets else s.port
        self._lag_task = asyncio.create_task(watch_loop_lag(self.state.metrics))
        trim = malloc_trim() if s.memory_trim_interval > 0 else None
        if trim is not None:
            self._trim_task = asyncio.create_task(trim_every(s.memory_trim_interval, trim))
        self.state.metrics.max_sessions.set(s.max_sessions)
        self.state.phase = "ready"
        if self.state.worker is None:
            log.info("Server listening on ws://%s:%d", s.host, self.ws_port)
        else:  # the supervisor says "Server listening" once every worker does
            log.info("Worker %d listening on ws://%s:%d", self.state.worker, s.host, self.ws_port)
        log.info("Health check endpoint available at http://%s:%d/health", s.host, self.ws_port)

    @property
    def connections(self) -> list[ServerConnection]:
        """The open WebSocket connections."""
        return [] if self._ws is None else list(self._ws.connections)

    async def drain(self) -> None:
        """Stop accepting, report not-ready, close sessions with 1001, release everything.

        Connections still open after the drain timeout (a client that reads nothing cannot
        even receive its 1001) are aborted, and their sessions get a moment to close their
        stages before the threads those closes run on are shut down."""
        self.state.phase = "draining"
        if self._ws is not None:
            await leave_rotation(self.state, self.settings.drain_delay, self.hurry)
        if self._ws is not None:
            self._ws.close(close_connections=True)
            try:
                await asyncio.wait_for(self._ws.wait_closed(), self.settings.drain_timeout)
            except TimeoutError:
                left = list(self._ws.all_connections)
                log.warning("%d connection(s) open after the drain timeout: aborted", len(left))
                for connection in left:
                    connection.transport.abort()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._ws.wait_closed(), 5)
        for task in (self._lag_task, self._trim_task):
            if task is not None:
                task.cancel()
        if self._health is not None:
            await self._health.cleanup()
        if self.graph is not None:
            self.graph.close()
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.closer.shutdown(wait=False)

    async def run(self, ready: Callable[[], None] | None = None) -> None:
        """Serve until SIGTERM or SIGINT, then drain; ``ready`` is called once listening."""
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        def signalled() -> None:  # a second signal cuts SIGNIFY_DRAIN_DELAY short
            (self.hurry if stop.is_set() else stop).set()

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, signalled)
        await self.start()
        if ready is not None:
            ready()
        await stop.wait()
        log.info("draining: %d session(s) open", self.state.sessions)
        await self.drain()
        log.info("stopped")

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        """Plain HTTP is routed; a handshake goes on unless the server refuses it
        (:func:`.http.answer`: the Origin allowlist is checked there too, in our error shape),
        or the client's address already holds its share of sessions."""
        response = answer(self.router, self.state, self.settings, request)
        sessions = self.sessions
        if response is None and sessions and self.peers.full(sessions.peer_of(connection)):
            self.state.metrics.connections_refused.labels("peer_limit").inc()
            limit = self.settings.max_sessions_per_peer
            message = f"at most {limit} sessions from one address"
            response = HttpResponse.error(429, "too_many_connections", message)
        return None if response is None else to_websockets(response)
