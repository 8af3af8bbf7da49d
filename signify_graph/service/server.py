"""The service: a graph bound to a WebSocket port, health/readiness on that port and on
``HEALTH_PORT``, metrics, limits, and a clean drain on SIGTERM.

Start-up order is the promise "a server that listens is a server that works": validate the
pipeline, load every model, run a warm-up frame, *then* listen. ``/health`` on
``HEALTH_PORT`` answers from the first moment (``/ready`` is 503 until then).
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import json
import logging
import signal
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiohttp import web
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.protocol import State
from websockets.typing import Origin

from .._cores import cpu_cores
from .._errors import StartupError
from .._graph import Graph, build_graph
from .._host import PluginHost
from .._kinds import Kind
from .._pipeline import plan_pipeline
from .driver import ClientSession, SessionServices
from .fairshare import FairShare
from .memory import malloc_trim, trim_every
from .observe import ServiceState
from .record import SessionRecorder
from .session import SessionPolicy
from .settings import ServiceSettings

log = logging.getLogger("signify_graph.server")
WEB_ROOT = Path(__file__).resolve().parent.parent / "web"
#: A black 640×480 JPEG, as a camera in a dark room sends: the warm-up frame.
WARM_UP_FRAME = Path(__file__).with_name("warm-up.jpg")
_CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript", ".css": "text/css"}


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


def _response(status: int, body: bytes, content_type: str) -> Response:
    headers = Headers(
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
        ]
    )
    return Response(status, http.HTTPStatus(status).phrase, headers, body)


def _json(status: int, payload: dict[str, Any]) -> Response:
    return _response(status, json.dumps(payload).encode(), "application/json")


class Service:
    """One running service. ``await start()``, then ``await drain()`` (or ``run()`` for both)."""

    def __init__(
        self, settings: ServiceSettings, host: PluginHost, overrides: Sequence[str] = ()
    ) -> None:
        self.settings = settings
        self.host = host
        self.overrides = list(overrides)
        self.state = ServiceState()
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
        self.policy = SessionPolicy.from_settings(settings)
        self._services = SessionServices(self.pool, self.state.metrics, self.share, self.closer)
        self._ws: Server | None = None
        self._health: web.AppRunner | None = None
        self._lag_task: asyncio.Task[None] | None = None
        self._trim_task: asyncio.Task[None] | None = None
        self.ws_port = 0
        self.health_port = 0

    @property
    def _shared_health_port(self) -> bool:
        """HEALTH_PORT equals the WebSocket port (Railway may set PORT=8080): serve it all there."""
        return self.settings.health_port == self.settings.port != 0

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        s = self.settings
        if s.health_port >= 0 and not self._shared_health_port:
            await self._start_health_app()
        loop = asyncio.get_running_loop()
        plan = plan_pipeline(s.pipeline, self.host.registry, overrides=self.overrides)
        self.graph = await loop.run_in_executor(self.pool, build_graph, plan, self.host)
        await loop.run_in_executor(self.pool, _warm_up, self.graph)
        self.state.graph = self.graph
        if s.keypoint_buffer_size is not None:
            log.info(
                "KEYPOINT_BUFFER_SIZE=%d accepted; the classifier's window comes from the "
                "model now, so it has no effect",
                s.keypoint_buffer_size,
            )
        try:
            self._ws = await serve(
                self._handle,
                s.host,
                s.port,
                process_request=self._process_request,
                max_size=s.max_message_bytes,
                compression="deflate" if s.compression else None,
                ping_interval=s.ping_interval,
                ping_timeout=s.ping_timeout,
                close_timeout=s.close_timeout,
                origins=[*map(Origin, s.allowed_origins), None] if s.allowed_origins else None,
                server_header="signify-graph",
            )
        except OSError as exc:
            raise StartupError(f"cannot listen on {s.host}:{s.port}: {exc.strerror}") from exc
        self.ws_port = self._ws.sockets[0].getsockname()[1] if self._ws.sockets else s.port
        self._lag_task = asyncio.create_task(self._watch_loop_lag())
        trim = malloc_trim() if s.memory_trim_interval > 0 else None
        if trim is not None:
            self._trim_task = asyncio.create_task(trim_every(s.memory_trim_interval, trim))
        self.state.phase = "ready"
        log.info("Server listening on ws://%s:%d", s.host, self.ws_port)
        log.info("Health check endpoint available at http://%s:%d/health", s.host, self.ws_port)

    async def drain(self) -> None:
        """Stop accepting, report not-ready, close sessions with 1001, release everything."""
        self.state.phase = "draining"
        if self._ws is not None:
            self._ws.close(close_connections=True)
            try:
                await asyncio.wait_for(self._ws.wait_closed(), self.settings.drain_timeout)
            except TimeoutError:
                log.warning("sessions still open after the drain timeout; exiting anyway")
        for task in (self._lag_task, self._trim_task):
            if task is not None:
                task.cancel()
        if self._health is not None:
            await self._health.cleanup()
        if self.graph is not None:
            self.graph.close()
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.closer.shutdown(wait=False)

    async def run(self) -> None:
        """Serve until SIGTERM or SIGINT, then drain."""
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await self.start()
        await stop.wait()
        log.info("draining: %d session(s) open", self.state.sessions)
        await self.drain()
        log.info("stopped")

    # -- HTTP on the WebSocket port --------------------------------------------------------
    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path = urlsplit(request.path).path
        upgrade = "websocket" in request.headers.get("Upgrade", "").lower()
        if not upgrade:
            return self._http(path)
        metrics = self.state.metrics
        if not self.state.ready:
            metrics.connections_refused.labels("not_ready").inc()
            return _json(
                503, {"error": {"code": "not_ready", "message": "the server is not ready"}}
            )
        if self.state.sessions >= self.settings.max_sessions:
            metrics.connections_refused.labels("full").inc()
            return _json(
                503,
                {
                    "error": {
                        "code": "server_full",
                        "message": f"at most {self.settings.max_sessions} sessions",
                    }
                },
            )
        if self.settings.token and not self._authorized(request):
            metrics.connections_refused.labels("unauthorized").inc()
            return _json(
                401, {"error": {"code": "unauthorized", "message": "bad or missing token"}}
            )
        return None

    def _authorized(self, request: Request) -> bool:
        header = request.headers.get("Authorization", "")
        if header == f"Bearer {self.settings.token}":
            return True
        query = parse_qs(urlsplit(request.path).query)
        return query.get("token", [""])[0] == self.settings.token

    def _http(self, path: str) -> Response:
        if path == "/health":
            return _json(200, self.state.health())
        if path == "/ready":
            status, body = self.state.readiness()
            return _json(status, body)
        if path == "/metrics" and self._shared_health_port:
            return _response(200, self.state.metrics.exposition(), "text/plain; version=0.0.4")
        name = "index.html" if path == "/" else path.lstrip("/")
        file = (WEB_ROOT / name).resolve()
        if WEB_ROOT.is_dir() and file.is_file() and file.parent == WEB_ROOT.resolve():
            return _response(200, file.read_bytes(), _CONTENT_TYPES.get(file.suffix, "text/plain"))
        return _json(404, {"error": {"code": "not_found", "message": f"nothing at {path}"}})

    # -- the aiohttp app on HEALTH_PORT ----------------------------------------------------
    async def _start_health_app(self) -> None:
        state = self.state

        async def health(_: web.Request) -> web.Response:
            return web.json_response(state.health())

        async def ready(_: web.Request) -> web.Response:
            status, body = state.readiness()
            return web.json_response(body, status=status)

        async def metrics(_: web.Request) -> web.Response:
            return web.Response(
                body=state.metrics.exposition(), content_type="text/plain", charset="utf-8"
            )

        app = web.Application()
        app.router.add_get("/health", health)
        app.router.add_get("/ready", ready)
        app.router.add_get("/metrics", metrics)
        self._health = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._health.setup()
        site = web.TCPSite(self._health, self.settings.host, self.settings.health_port)
        try:
            await site.start()
        except OSError as exc:
            raise StartupError(
                f"cannot listen on HEALTH_PORT {self.settings.health_port}: {exc.strerror}"
            ) from exc
        self.health_port = self._health.addresses[0][1]
        log.info(
            "Health check endpoint available at http://%s:%d/health (also /ready, /metrics)",
            self.settings.host,
            self.health_port,
        )

    async def _watch_loop_lag(self, interval: float = 0.1) -> None:
        loop = asyncio.get_running_loop()
        metrics = self.state.metrics
        worst = 0.0
        for tick in range(1, 1 << 62):
            before = loop.time()
            await asyncio.sleep(interval)
            lag = max(0.0, loop.time() - before - interval)
            metrics.loop_lag.observe(lag)
            worst = max(worst, lag)
            if tick % 50 == 0:
                metrics.loop_lag_max.set(worst)
                worst = 0.0

    # -- sessions --------------------------------------------------------------------------
    def _recorder(self, session_id: str) -> SessionRecorder | None:
        if self.settings.record_dir is None:
            return None
        header = {**self.state.identity(), "overrides": self.overrides}
        return SessionRecorder(self.settings.record_dir, session_id, header)

    async def _open_session(self, client: ClientSession, connection: ServerConnection) -> None:
        """Make the client's stage sessions and attach them; close with 1011 if a stage refuses.

        A graph of inline-safe stages opens in microseconds, right here on the event loop. On
        a loaded server a round trip through the worker threads takes a few turns of the loop
        (hundreds of milliseconds each at twice capacity): sessions opened one after another
        that way kept newcomers waiting seconds for their first answer.
        """
        assert self.graph is not None
        graph = self.graph
        try:
            if graph.inline_safe:
                graph_session = graph.open_session(client.id)
            else:
                async with self._opening:
                    if connection.state is State.CLOSED:
                        return  # the client left while it waited: make nothing
                    loop = asyncio.get_running_loop()
                    graph_session = await loop.run_in_executor(
                        self.pool, graph.open_session, client.id
                    )
        except Exception:
            log.exception("the session could not be opened", extra={"session": client.id})
            await connection.close(1011, "the session could not be opened")
            return
        client.attach(graph_session)

    async def _handle(self, connection: ServerConnection) -> None:
        assert self.graph is not None
        session_id = uuid.uuid4().hex[:12]
        state, metrics = self.state, self.state.metrics
        state.sessions += 1
        metrics.sessions.inc()
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
                self.policy,
                recorder=self._recorder(session_id),
            )
            # Messages are read while the stage sessions are made (see service.session).
            opening = asyncio.create_task(self._open_session(client, connection))
            if self.policy.idle_timeout > 0:
                watchdog = asyncio.create_task(client.watch_idle())
            with contextlib.suppress(ConnectionClosed):
                async for message in connection:
                    await client.on_message(message)
        finally:
            if watchdog is not None:
                watchdog.cancel()
            # A landmarker being made on a worker cannot be stopped: wait for it, so that
            # client.close() closes it rather than the garbage collector.
            if opening is not None:
                await asyncio.gather(opening, return_exceptions=True)
            if client is not None:
                await client.close()
            state.sessions -= 1
            metrics.sessions.dec()
            log.info(
                "Client disconnected", extra={"session": session_id, "code": connection.close_code}
            )
